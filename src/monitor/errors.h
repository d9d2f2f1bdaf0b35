/*
 * errors.h - the service's own failures (issue 20; docs/monitoring.md,
 * "Errors"): error_log rows with a versioned fingerprint (category, code,
 * component, operation, and the message with numbers and ids stripped)
 * upserted into error_aggregation (count, rate, trend, first and last
 * occurrence, samples). An aggregation resolved earlier that comes back is a
 * regression and raises an alert (alert.h).
 */
#ifndef ADB_MONITOR_ERRORS_H
#define ADB_MONITOR_ERRORS_H

#include <stdbool.h>
#include <stddef.h>

#include "auditdb.h"

typedef struct adb__error_report {
    const char *category;   /* DATABASE_ERROR, DELIVERY_ERROR, INTEGRITY_ERROR, ... */
    const char *severity;   /* LOW MEDIUM HIGH CRITICAL */
    const char *code;       /* a short stable code, e.g. "PG_CONN_LOST" (required) */
    const char *component;  /* "writer", "delivery", "integrator", ... (required) */
    const char *operation;  /* "commit", "deliver", ... (required) */
    const char *message;    /* what failed; never event content, keys or secrets */
    const char *org;        /* the organization concerned, or NULL (process-wide) */
    const char *request_id; /* or NULL */
    bool retryable;
} adb__error_report;

/* Records one failure of the service. Never blocks the caller and never
 * fails it: the report is queued in memory (bounded; dropped and counted
 * when full) and written by a background writer with its own connection.
 * Safe from any thread; a no-op before the handle's monitor starts. */
void adb__error_record(adb *h, const adb__error_report *e);

/* ---- the monitor of serve (errmon; docs/monitoring.md, "Errors") -------- */

/* Process-wide alerts (error regressions; database findings) are raised for
 * this pseudo-organization, which only operators read. */
#define ADB_PROCESS_ORG "_process"
#define ADB_ERRORS_QUEUE_MAX 1024 /* reports queued before new ones are dropped */

/* Starts the background writer of h on its own connection to conninfo (the
 * owner's): from then on adb__error_record queues. adb_close stops it,
 * writing what is queued first. */
adb_status adb__errmon_start(adb *h, const char *conninfo, char *err, size_t errlen);

/* Stops the writer (after writing what is queued) and frees it; the handle's
 * later reports are ignored. Called by adb_close. */
void adb__errmon_stop(adb *h);

/* Waits until everything queued so far is written (or dropped), at most
 * timeout_ms; true when the queue is empty and the writer idle. */
bool adb__errmon_flush(adb *h, int timeout_ms);

typedef struct adb__errmon_stats {
    long long recorded;     /* reports queued */
    long long written;      /* error_log rows committed */
    long long dropped;      /* reports lost: queue full, or a batch the database refused twice */
    long long regressions;  /* resolved aggregations that came back */
    long long alert_failures; /* regressions whose alert could not be raised */
} adb__errmon_stats;

/* The writer's counters (all zero when none runs). */
void adb__errmon_stats_get(adb *h, adb__errmon_stats *out);

#endif
