/*
 * config_history.c - the configuration history as its readers see it
 * (config_history.h).
 */
#include "config_history.h"

#include <stdio.h>
#include <string.h>

#include "../core/util.h"

adb_status adb__config_changes_list(PGconn *c, const adb__config_changes_query *q, json_t **out,
                                    char *err, size_t errlen)
{
    char lim[24], off[24], prefix[300];
    const char *exact = NULL, *like = NULL;
    json_error_t je;
    adb_status st = ADB_OK;
    size_t n = q->field ? strlen(q->field) : 0;

    *out = NULL;
    if (n > 0 && q->field[n - 1] == '*') {
        /* a prefix: LIKE with its own wildcards escaped */
        size_t k = 0;
        for (size_t i = 0; i + 1 < n && k + 3 < sizeof(prefix); i++) {
            if (q->field[i] == '%' || q->field[i] == '_' || q->field[i] == '\\')
                prefix[k++] = '\\';
            prefix[k++] = q->field[i];
        }
        prefix[k++] = '%';
        prefix[k] = '\0';
        like = prefix;
    } else if (n > 0) {
        exact = q->field;
    }
    adb__fmt(lim, sizeof(lim), "%lld",
             q->limit > 0 && q->limit <= ADB_CONFIG_CHANGES_LIMIT_MAX ? q->limit : 50);
    adb__fmt(off, sizeof(off), "%lld", q->offset > 0 ? q->offset : 0);
    const char *p[] = { q->process_wide ? NULL : q->org, q->process_wide ? "t" : "f", exact, like,
                        q->changed_by, q->since, q->until, lim, off };
    PGresult *r = PQexecParams(
        c,
        "WITH m AS (SELECT * FROM config_change_event WHERE"
        "   CASE WHEN $2::boolean THEN organization_id IS NULL ELSE organization_id = $1 END"
        "   AND ($3::text IS NULL OR field = $3) AND ($4::text IS NULL OR field LIKE $4)"
        "   AND ($5::text IS NULL OR changed_by = $5)"
        "   AND ($6::timestamptz IS NULL OR \"timestamp\" >= $6::timestamptz)"
        "   AND ($7::timestamptz IS NULL OR \"timestamp\" < $7::timestamptz)),"
        " pg AS (SELECT * FROM m ORDER BY id DESC LIMIT $8::int OFFSET $9::int)"
        " SELECT json_build_object('changes', coalesce((SELECT json_agg(json_build_object("
        "   'id', id, 'timestamp', to_char(\"timestamp\" AT TIME ZONE 'UTC',"
        "     'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), 'organizationId', organization_id,"
        "   'field', field, 'previousValue', previous_value, 'newValue', new_value,"
        "   'changedBy', changed_by, 'reason', reason, 'environment', environment,"
        "   'previousVersion', previous_version, 'newVersion', new_version) ORDER BY id DESC)"
        "   FROM pg), '[]'::json),"
        " 'pagination', json_build_object('total', (SELECT count(*) FROM m), 'limit', $8::int,"
        "   'offset', $9::int, 'hasNext', (SELECT count(*) FROM m) > $8::int + $9::int,"
        "   'hasPrevious', $9::int > 0))",
        9, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        adb__fmt(err, errlen, "could not read the configuration changes: %s",
                 PQresultErrorMessage(r));
        adb__oneline(err);
        st = ADB_ERR_DB_QUERY;
    } else if (!(*out = json_loads(PQgetvalue(r, 0, 0), 0, &je))) {
        adb__fmt(err, errlen, "could not read the configuration changes: %s", je.text);
        st = ADB_ERR_INTERNAL;
    }
    PQclear(r);
    return st;
}
