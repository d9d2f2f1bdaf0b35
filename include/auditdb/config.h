/*
 * config.h - configuration from the environment.
 *
 * Every setting is a row of the table in src/core/config.c (name, default,
 * whether it is a secret, help text). adb_config_load() reads the environment
 * once; the strings it holds are owned by the adb_config and released by
 * adb_config_free().
 */
#ifndef AUDITDB_CONFIG_H
#define AUDITDB_CONFIG_H

#include <stdbool.h>
#include "status.h"

typedef struct adb_config {
    char *db_url;          /* AUDIT_DB_URL; NULL: embedded PostgreSQL */
    char *api_url;         /* AUDIT_DB_API_URL; NULL: db_url (or embedded) as auditdb_api */
    char *writer_url;      /* AUDIT_DB_WRITER_URL; NULL: ... as auditdb_writer */
    char *redis_url;       /* REDIS_URL; NULL: single node */
    int pool_min;          /* AUDIT_DB_POOL_MIN */
    int pool_max;          /* AUDIT_DB_POOL_MAX */
    int pool_timeout_ms;   /* AUDITDB_POOL_TIMEOUT_MS: wait for a free connection */
    char *home;            /* AUDITDB_HOME (absolute after load) */
    char *listen;          /* AUDITDB_LISTEN, host:port */
    char *pg_bindir;       /* AUDITDB_PG_BINDIR; NULL: search */
    char *pg_user;         /* AUDITDB_PG_USER; used when running as root */
    char *master_key;      /* AUDITDB_MASTER_KEY (secret, never logged) */
    char *log_name;        /* AUDITDB_LOG_NAME: key name, checkpoint origin prefix */
    char *log_key;         /* AUDITDB_LOG_KEY (secret, never logged); NULL: home/log.key */
    char *checkpoint_dir;  /* AUDITDB_CHECKPOINT_DIR; NULL: home/checkpoints */
    int checkpoint_interval_ms; /* AUDITDB_CHECKPOINT_INTERVAL_MS */
    int log_alert_after;   /* AUDITDB_LOG_ALERT_AFTER: failures in a row before an alert row */
    char *witnesses;       /* AUDITDB_WITNESSES: URL=vkey,...; NULL: none */
    int rate_limit_rps;    /* AUDITDB_RATE_LIMIT_RPS, 0: none */
    int rate_limit_burst;  /* AUDITDB_RATE_LIMIT_BURST */
    int max_body_bytes;    /* AUDITDB_MAX_BODY_BYTES */
    int http_timeout_s;    /* AUDITDB_HTTP_TIMEOUT_S */
    int http_head_timeout_s; /* AUDITDB_HTTP_HEAD_TIMEOUT_S */
    int http_body_budget;  /* AUDITDB_HTTP_BODY_BUDGET_BYTES */
    int total_ttl_s;       /* AUDITDB_TOTAL_ESTIMATE_TTL_S */
    int key_usage_flush_s; /* AUDITDB_KEY_USAGE_FLUSH_S */
    int stats_max_events;  /* AUDITDB_STATS_MAX_EVENTS */
    int metrics_snapshot_s;     /* AUDITDB_METRICS_SNAPSHOT_S, 0: none */
    int metrics_retention_days; /* AUDITDB_METRICS_RETENTION_DAYS */
    int metrics_threshold_s;    /* AUDITDB_METRICS_THRESHOLD_S, 0: none */
    int metrics_threshold_window_s; /* AUDITDB_METRICS_THRESHOLD_WINDOW_S */
    int delivery_threads;  /* AUDITDB_DELIVERY_THREADS */
    int delivery_lease_ms; /* AUDITDB_DELIVERY_LEASE_MS */
    int delivery_poll_ms;  /* AUDITDB_DELIVERY_POLL_MS */
    bool report_scheduler; /* AUDITDB_REPORT_SCHEDULER */
    int report_tick_ms;    /* AUDITDB_REPORT_TICK_MS */
    int report_lease_ms;   /* AUDITDB_REPORT_LEASE_MS */
    int report_timeout_ms; /* AUDITDB_REPORT_TIMEOUT_MS */
    int alert_tick_ms;     /* AUDITDB_ALERT_TICK_MS */
    bool tree;             /* AUDITDB_TREE */
    bool detect;           /* AUDITDB_DETECT */
    int detect_interval_ms; /* AUDITDB_DETECT_INTERVAL_MS */
    int detect_lateness_s; /* AUDITDB_DETECT_LATENESS_S */
    int detect_max_groups; /* AUDITDB_DETECT_MAX_GROUPS */
    bool monitoring;       /* AUDIT_MONITORING_ENABLED */
    int slow_query_ms;     /* AUDIT_SLOW_QUERY_THRESHOLD */
    int dbmon_interval_s;  /* AUDITDB_DBMON_INTERVAL_S */
    bool gdpr;             /* AUDIT_GDPR_ENABLED */
    bool hipaa;            /* AUDIT_HIPAA_ENABLED */
    char errmsg[ADB_ERRMSG_MAX];
} adb_config;

/* One row of the settings table, for help text and documentation. */
typedef struct adb_config_key {
    const char *name;
    const char *default_value; /* NULL: unset */
    bool secret;
    const char *help;
} adb_config_key;

/* Fills cfg from the environment. On error cfg->errmsg names the variable
 * at fault. Always call adb_config_free() afterwards. */
ADB_WUR adb_status adb_config_load(adb_config *cfg);

/* Releases the strings held by cfg (not cfg itself). Accepts a zeroed cfg. */
void adb_config_free(adb_config *cfg);

/* The settings table, terminated by a row whose name is NULL. */
const adb_config_key *adb_config_keys(void);

#endif
