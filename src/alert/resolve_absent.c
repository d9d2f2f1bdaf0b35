/*
 * resolve_absent.c - a raiser that looks at a condition again and does not
 * find it resolves its alert (docs/alerts.md "Alerts"; migration 0041's
 * auditdb_alert_resolve_absent): database monitoring's findings that are
 * gone, metrics thresholds no longer crossed.
 */
#include "alert.h"

#include "../core/util.h"
#include "../event/event.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

adb_status adb__alert_resolve_absent(PGconn *c, const char *org, const char *source,
                                     const json_t *prefixes, const json_t *keys, const char *by,
                                     const char *reason, int *resolved, char *err, size_t errlen)
{
    char now[ADB_TS_TEXT_MAX];

    if (resolved)
        *resolved = 0;
    if (!org || !source || !by || !reason || !json_is_array(prefixes) || !json_is_array(keys)) {
        adb__fmt(err, errlen, "resolve_absent: a required argument is missing");
        return ADB_ERR_INVALID;
    }
    if (json_array_size(prefixes) == 0)
        return ADB_OK; /* nothing was looked at */
    char *pj = json_dumps(prefixes, JSON_COMPACT), *kj = json_dumps(keys, JSON_COMPACT);
    if (!pj || !kj) {
        free(pj), free(kj);
        adb__fmt(err, errlen, "out of memory");
        return ADB_ERR_NOMEM;
    }
    adb__timestamp_format(adb__alert_now_ms() * 1000, now);
    const char *p[] = { org, source, pj, kj, by, reason, now };
    PGresult *r = PQexecParams(c, "SELECT auditdb_alert_resolve_absent($1, $2, $3::jsonb, $4::jsonb,"
                                  " $5, $6, $7::timestamptz)", 7, NULL, p, NULL, NULL, 0);
    free(pj), free(kj);
    adb_status st = ADB_OK;
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        adb__fmt(err, errlen, "could not resolve the alerts no longer found: %s",
                 PQresultErrorMessage(r));
        adb__oneline(err);
        st = ADB_ERR_DB_QUERY;
    } else if (resolved)
        *resolved = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    return st;
}
