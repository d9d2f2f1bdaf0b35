/*
 * errors_store.h - reading error_log and error_aggregation, and resolving an
 * aggregation (docs/monitoring.md, "Errors"): shared by the operator's routes
 * (src/http/errors_api.c) and `auditdb errors` (src/cli/cmd_errors.c).
 * Process-wide data: callers run them on the owner's connection.
 */
#ifndef ADB_MONITOR_ERRORS_STORE_H
#define ADB_MONITOR_ERRORS_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "auditdb.h"

#define ADB_ERRORS_LIMIT_MAX 1000
#define ADB_ERRORS_TOTAL_CAP 10000 /* error_log's total is counted up to this */

typedef struct adb__errors_query {
    const char *category, *severity, *component, *code, *operation; /* NULL: any */
    const char *aggregation_key, *org;  /* NULL: any */
    const char *since, *until;          /* RFC 3339 or NULL */
    const char *status;                 /* aggregations: "open", "resolved" or NULL (all) */
    const char *sort;                   /* aggregations: "count", "lastOccurrence",
                                           "firstOccurrence" (NULL: lastOccurrence) */
    bool ascending;
    long long limit, offset;
} adb__errors_query;

/* {"errors":[...], "pagination":{total, limit, offset, hasNext, hasPrevious, totalCapped}},
 * newest first, into *out (the caller decrefs). */
adb_status adb__errors_list(PGconn *c, const adb__errors_query *q, json_t **out, char *err,
                            size_t errlen);

/* {"aggregations":[...], "pagination":{...}} into *out. */
adb_status adb__error_aggregations_list(PGconn *c, const adb__errors_query *q, json_t **out,
                                        char *err, size_t errlen);

/* Marks the aggregation key resolved by `by` (notes may be NULL). Idempotent:
 * an aggregation resolved already is left as it is (*changed false). *out
 * (may be NULL) gets the aggregation as listed. ADB_ERR_NOT_FOUND for an
 * unknown key. */
adb_status adb__error_aggregation_resolve(PGconn *c, const char *key, const char *by,
                                          const char *notes, json_t **out, bool *changed,
                                          char *err, size_t errlen);

#endif
