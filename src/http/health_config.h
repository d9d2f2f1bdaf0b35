/*
 * health_config.h - the settings of the health checks that an operator may
 * change over PUT /api/v1/health/config (docs/api.md, "The health
 * service"; who: docs/auth.md). Held in memory for the life of the
 * process: a restart goes back to the defaults; each instance has its own.
 */
#ifndef ADB_HTTP_HEALTH_CONFIG_H
#define ADB_HTTP_HEALTH_CONFIG_H

#include <stdbool.h>

#define ADB_HEALTH_NCOMP 3
#define ADB_HEALTH_PROBE_BOUND_MS 800 /* adb_pool_ping's bound (docs/pool.md) */

/* the components checked, in the order health_api.c keeps them */
extern const char *const adb_health_component_names[ADB_HEALTH_NCOMP];

typedef struct adb_health_settings {
    int timeout_ms;                /* the database check fails past it (1-800) */
    int queue_degraded_percent;    /* the writer is degraded from this fill (1-100) */
    int db_latency_degraded_ms;    /* the database is degraded from this latency (0: never) */
    bool enabled[ADB_HEALTH_NCOMP]; /* judged and shown by default (check, detailed) */
} adb_health_settings;

/* A consistent copy of the settings now in force (thread-safe). */
void adb_health_settings_get(adb_health_settings *out);

#endif
