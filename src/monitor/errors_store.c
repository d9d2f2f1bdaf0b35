/*
 * errors_store.c - error_log and error_aggregation as the operator reads
 * them, and the resolution of an aggregation (errors_store.h).
 */
#include "errors_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"

#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

/* the filters: $1..$9, NULL for "any" */
#define ERR_FILTER                                                                          \
    " ($1::text IS NULL OR category = $1) AND ($2::text IS NULL OR severity = $2)"          \
    " AND ($3::text IS NULL OR component = $3) AND ($4::text IS NULL OR code = $4)"         \
    " AND ($5::text IS NULL OR operation = $5)"

#define AGG_JSON                                                                            \
    "json_build_object('aggregationKey', aggregation_key, 'category', category,"           \
    " 'severity', severity, 'code', code, 'component', component, 'operation', operation," \
    " 'messagePattern', message_pattern, 'count', count,"                                   \
    " 'errorRate', error_rate::numeric, 'trend', trend,"                                    \
    " 'firstOccurrence', " TS("first_occurrence") ","                                       \
    " 'lastOccurrence', " TS("last_occurrence") ","                                         \
    " 'affectedComponents', affected_components, 'samples', samples,"                       \
    " 'fingerprintVersion', fingerprint_version,"                                           \
    " 'status', CASE WHEN resolved_at IS NULL THEN 'open' ELSE 'resolved' END,"             \
    " 'resolvedAt', " TS("resolved_at") ", 'resolvedBy', resolved_by,"                      \
    " 'resolutionNotes', resolution_notes, 'regressionCount', regression_count,"            \
    " 'lastRegressionAt', " TS("last_regression_at") ")"

static adb_status result_json(PGresult *r, json_t **out, char *err, size_t errlen)
{
    json_error_t je;

    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        adb__fmt(err, errlen, "could not read the errors: %s", PQresultErrorMessage(r));
        adb__oneline(err);
        return ADB_ERR_DB_QUERY;
    }
    if (!(*out = json_loads(PQgetvalue(r, 0, 0), 0, &je))) {
        adb__fmt(err, errlen, "could not read the errors: %s", je.text);
        return ADB_ERR_INTERNAL;
    }
    return ADB_OK;
}

static void page(const adb__errors_query *q, char lim[24], char off[24])
{
    long long l = q->limit > 0 && q->limit <= ADB_ERRORS_LIMIT_MAX ? q->limit : 50;
    adb__fmt(lim, 24, "%lld", l);
    adb__fmt(off, 24, "%lld", q->offset > 0 ? q->offset : 0);
}

adb_status adb__errors_list(PGconn *c, const adb__errors_query *q, json_t **out, char *err,
                            size_t errlen)
{
    char lim[24], off[24], cap[24];
    adb_status st;

    page(q, lim, off);
    adb__fmt(cap, sizeof(cap), "%d", ADB_ERRORS_TOTAL_CAP);
    const char *p[] = { q->category, q->severity, q->component, q->code, q->operation,
                        q->aggregation_key, q->org, q->since, q->until, lim, off, cap };
    PGresult *r = PQexecParams(
        c,
        "WITH m AS (SELECT * FROM error_log WHERE" ERR_FILTER
        "   AND ($6::text IS NULL OR aggregation_key = $6)"
        "   AND ($7::text IS NULL OR organization_id = $7)"
        "   AND ($8::timestamptz IS NULL OR \"timestamp\" >= $8::timestamptz)"
        "   AND ($9::timestamptz IS NULL OR \"timestamp\" < $9::timestamptz)),"
        " t AS (SELECT count(*) AS n FROM (SELECT 1 FROM m LIMIT $12::int) x),"
        " pg AS (SELECT * FROM m ORDER BY \"timestamp\" DESC, id LIMIT $10::int OFFSET $11::int)"
        " SELECT json_build_object('errors', coalesce((SELECT json_agg(json_build_object("
        "   'id', id, 'timestamp', " TS("\"timestamp\"") ", 'category', category,"
        "   'severity', severity, 'code', code, 'message', message, 'component', component,"
        "   'operation', operation, 'correlationId', correlation_id, 'requestId', request_id,"
        "   'organizationId', organization_id, 'retryable', retryable = 'true',"
        "   'aggregationKey', aggregation_key, 'fingerprintVersion', fingerprint_version)"
        "   ORDER BY \"timestamp\" DESC, id) FROM pg), '[]'::json),"
        " 'pagination', json_build_object('total', (SELECT n FROM t), 'limit', $10::int,"
        "   'offset', $11::int, 'hasNext', (SELECT n FROM t) > $10::int + $11::int,"
        "   'hasPrevious', $11::int > 0, 'totalCapped', (SELECT n FROM t) >= $12::int))",
        12, NULL, p, NULL, NULL, 0);
    st = result_json(r, out, err, errlen);
    PQclear(r);
    return st;
}

adb_status adb__error_aggregations_list(PGconn *c, const adb__errors_query *q, json_t **out,
                                        char *err, size_t errlen)
{
    char lim[24], off[24], sql[4096];
    const char *col = "last_occurrence";
    adb_status st;

    page(q, lim, off);
    if (q->sort && strcmp(q->sort, "count") == 0)
        col = "count";
    else if (q->sort && strcmp(q->sort, "firstOccurrence") == 0)
        col = "first_occurrence";
    /* the sort column and direction come from the fixed list above, never from the caller */
    adb__fmt(sql, sizeof(sql),
             "WITH m AS (SELECT * FROM error_aggregation WHERE" ERR_FILTER
             "   AND ($6::text IS NULL OR ($6 = 'open') = (resolved_at IS NULL))),"
             " pg AS (SELECT * FROM m ORDER BY %s %s, aggregation_key"
             "        LIMIT $7::int OFFSET $8::int)"
             " SELECT json_build_object('aggregations', coalesce((SELECT json_agg(" AGG_JSON
             "   ORDER BY %s %s, aggregation_key) FROM pg), '[]'::json),"
             " 'pagination', json_build_object('total', (SELECT count(*) FROM m),"
             "   'limit', $7::int, 'offset', $8::int,"
             "   'hasNext', (SELECT count(*) FROM m) > $7::int + $8::int,"
             "   'hasPrevious', $8::int > 0, 'totalCapped', false))",
             col, q->ascending ? "ASC" : "DESC", col, q->ascending ? "ASC" : "DESC");
    const char *p[] = { q->category, q->severity, q->component, q->code, q->operation,
                        q->status, lim, off };
    PGresult *r = PQexecParams(c, sql, 8, NULL, p, NULL, NULL, 0);
    st = result_json(r, out, err, errlen);
    PQclear(r);
    return st;
}

adb_status adb__error_aggregation_resolve(PGconn *c, const char *key, const char *by,
                                          const char *notes, json_t **out, bool *changed,
                                          char *err, size_t errlen)
{
    const char *p[] = { key, by, notes };
    json_error_t je;
    adb_status st = ADB_OK;

    *changed = false;
    if (out)
        *out = NULL;
    /* one statement: the update (when still open) and the row as it is after it */
    PGresult *r = PQexecParams(
        c,
        "WITH u AS (UPDATE error_aggregation SET resolved_at = now(), resolved_by = $2,"
        "   resolution_notes = $3, updated_at = now()"
        "   WHERE aggregation_key = $1 AND resolved_at IS NULL RETURNING *)"
        " SELECT (SELECT count(*) FROM u) > 0, (SELECT " AGG_JSON " FROM u)::text,"
        "  (SELECT " AGG_JSON " FROM error_aggregation WHERE aggregation_key = $1)::text",
        3, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        adb__fmt(err, errlen, "could not resolve the aggregation: %s", PQresultErrorMessage(r));
        adb__oneline(err);
        PQclear(r);
        return ADB_ERR_DB_QUERY;
    }
    *changed = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    const char *row = *changed ? PQgetvalue(r, 0, 1) : PQgetvalue(r, 0, 2);
    if (PQgetisnull(r, 0, *changed ? 1 : 2)) {
        adb__fmt(err, errlen, "no error aggregation has the key %s", key);
        st = ADB_ERR_NOT_FOUND;
    } else if (out && !(*out = json_loads(row, 0, &je))) {
        adb__fmt(err, errlen, "could not read the aggregation: %s", je.text);
        st = ADB_ERR_INTERNAL;
    }
    PQclear(r);
    return st;
}
