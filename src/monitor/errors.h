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

#endif
