/*
 * health_history.h - the recent health checks of this process, in memory:
 * a ring of the last ADB_HEALTH_HISTORY_MAX results, one per component
 * checked, for /api/v1/health/history and /metrics (docs/api.md, "Health
 * service"). Lost at restart; each instance keeps its own.
 */
#ifndef ADB_HTTP_HEALTH_HISTORY_H
#define ADB_HTTP_HEALTH_HISTORY_H

#include <jansson.h>
#include <stddef.h>

#define ADB_HEALTH_HISTORY_MAX 1024

typedef struct adb_http_health_history adb_http_health_history;

typedef struct adb_health_sample {
    double at_ms;          /* wall clock, Unix milliseconds */
    char component[16];    /* "database", "redis", "audit" */
    char status[12];       /* healthy, degraded, unhealthy */
    double response_ms;    /* how long the check took */
} adb_health_sample;

/* NULL when out of memory; free with adb_http_health_history_free. */
adb_http_health_history *adb_http_health_history_new(void);
void adb_http_health_history_free(adb_http_health_history *h);

/* Records one result (h may be NULL: nothing is recorded). */
void adb_http_health_record(adb_http_health_history *h, const char *component, const char *status,
                            double response_ms);

/* Copies the samples, oldest first, into a new array (*n of them; free()
 * it). NULL with *n = 0 when there are none or out of memory. */
adb_health_sample *adb_http_health_samples(adb_http_health_history *h, size_t *n);

#endif
