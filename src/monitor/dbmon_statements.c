/*
 * dbmon_statements.c - slow statements: pg_stat_statements' figures for this
 * database, the statements slower on average than AUDIT_SLOW_QUERY_THRESHOLD.
 * Their text is pg_stat_statements' normalized one ($n for every constant),
 * scrubbed once more (dbmon_scrub.c) before anyone sees it.
 */
#include "dbmon.h"
#include "dbmon_sql.h"
#include "../core/util.h"

#include <stdlib.h>
#include <string.h>

json_t *adb__dbmon_json(PGconn *c, const char *what, const char *sql, int n,
                        const char *const *params, char *err, size_t errlen)
{
    PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
    json_t *j = NULL;

    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1 || PQnfields(r) != 1) {
        char e[300];
        adb__fmt(e, sizeof(e), "%s", PQresultErrorMessage(r));
        adb__fmt(err, errlen, "could not read %s: %s", what, adb__oneline(e));
    } else {
        json_error_t je;
        j = json_loads(PQgetisnull(r, 0, 0) ? "null" : PQgetvalue(r, 0, 0), JSON_DECODE_ANY, &je);
        if (!j)
            adb__fmt(err, errlen, "could not read %s: %s", what, je.text);
    }
    PQclear(r);
    return j;
}

json_t *adb__dbmon_slow_queries(PGconn *c, const adb__dbmon_caps *caps, int slow_ms, int limit,
                                char *err, size_t errlen)
{
    char ms[32], lim[32];
    const char *p[] = { ms, lim };

    if (!caps->pss)
        return json_array();
    adb__fmt(ms, sizeof(ms), "%d", slow_ms < 0 ? 0 : slow_ms);
    adb__fmt(lim, sizeof(lim), "%d", limit < 1 ? 1 : limit > ADB_DBMON_LIST_MAX ? ADB_DBMON_LIST_MAX : limit);
    json_t *a = adb__dbmon_json(c, "pg_stat_statements",
        "SELECT coalesce(json_agg(q ORDER BY q.\"meanMs\" DESC, q.\"queryId\"), '[]') FROM ("
        " SELECT s.queryid::text AS \"queryId\", r.rolname AS role, s.calls,"
        "  round(s.total_exec_time::numeric, 3) AS \"totalMs\","
        "  round(s.mean_exec_time::numeric, 3) AS \"meanMs\","
        "  round(s.max_exec_time::numeric, 3) AS \"maxMs\","
        "  round(s.stddev_exec_time::numeric, 3) AS \"stddevMs\","
        "  round(s.total_plan_time::numeric, 3) AS \"planMs\", s.rows,"
        "  s.shared_blks_hit AS \"sharedBlocksHit\", s.shared_blks_read AS \"sharedBlocksRead\","
        "  s.temp_blks_written AS \"tempBlocksWritten\", s.query"
        " FROM pg_stat_statements s LEFT JOIN pg_roles r ON r.oid = s.userid"
        " WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
        "  AND s.mean_exec_time >= $1::float8 AND s.query <> '<insufficient privilege>'"
        " ORDER BY s.mean_exec_time DESC, s.queryid LIMIT $2::int) q",
        2, p, err, errlen);
    if (!a)
        return NULL;
    size_t i;
    json_t *row;
    json_array_foreach(a, i, row) {
        const char *q = json_string_value(json_object_get(row, "query"));
        char *t = adb__strdup(q ? q : "");
        if (!t) {
            json_decref(a);
            adb__fmt(err, errlen, "out of memory");
            return NULL;
        }
        adb__dbmon_scrub(t);
        json_object_set_new(row, "query", json_string(adb__utf8_repair(t)));
        free(t);
    }
    return a;
}
