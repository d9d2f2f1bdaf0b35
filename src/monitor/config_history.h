/*
 * config_history.h - reading config_change_event (docs/monitoring.md,
 * "Configuration changes"): GET /api/v1/config/changes runs it as the tenant
 * (row-level security keeps it to its organization), `auditdb config
 * changes` as the owner.
 */
#ifndef ADB_MONITOR_CONFIG_HISTORY_H
#define ADB_MONITOR_CONFIG_HISTORY_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "auditdb.h"

#define ADB_CONFIG_CHANGES_LIMIT_MAX 1000

typedef struct adb__config_changes_query {
    const char *org;          /* the organization (required unless process_wide) */
    bool process_wide;        /* the rows without an organization instead (owner only) */
    const char *field;        /* exact field, or a prefix when it ends in '*'; NULL: any */
    const char *changed_by;   /* NULL: any */
    const char *since, *until; /* RFC 3339 or NULL */
    long long limit, offset;
} adb__config_changes_query;

/* {"changes":[...], "pagination":{total, limit, offset, hasNext, hasPrevious}}, newest
 * first, into *out (the caller decrefs). */
adb_status adb__config_changes_list(PGconn *c, const adb__config_changes_query *q, json_t **out,
                                    char *err, size_t errlen);

#endif
