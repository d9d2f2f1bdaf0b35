/*
 * db_monitor.c - GET /api/v1/db/performance, /slow-queries, /indexes,
 * /tables, /suggestions: the database monitor's figures (src/monitor/dbmon.h)
 * for operators. Each reads on one of the owner's connections, as it is
 * asked; the summary adds the last round's findings (the alerts of _process).
 * Statement texts are pg_stat_statements' normalized ones, scrubbed again.
 */
#include "db_routes.h"
#include "../monitor/dbmon.h"
#include "../core/util.h"

#include <string.h>
#include <time.h>

/* An integer query parameter from min to max (def when absent); false with
 * the 400 naming it queued in *res. */
static bool int_arg(adb_http_request *req, const char *name, long long min, long long max,
                    long long def, long long *out, enum MHD_Result *res)
{
    const char *v = adb_http_arg(req, name);
    char msg[160];

    *out = def;
    if (!v)
        return true;
    if (!adb__parse_int(v, min, max, out)) {
        adb__fmt(msg, sizeof(msg), "%s must be an integer from %lld to %lld", name, min, max);
        *res = adb_http_send_invalid(req, name, "INVALID_VALUE", msg);
        return false;
    }
    return true;
}

typedef json_t *(*reader)(adb_http_request *req, PGconn *c, const adb__dbmon_caps *caps,
                          const adb__dbmon_opts *o, long long limit, char *err, size_t errlen);

/* Runs fn on an owner's connection and answers its JSON (200), 503 when no
 * connection, 500 when the database refused a statement. */
static enum MHD_Result answer(adb_http_request *req, reader fn, const adb__dbmon_opts *o,
                              long long limit)
{
    adb_status st;
    char err[512];
    PGconn *c = adb_pool_acquire(req->state->pool, &st, err, sizeof(err));
    if (!c)
        return adb_http_send_unavailable(req);
    adb__dbmon_caps caps;
    adb__dbmon_caps_read(c, &caps);
    json_t *body = fn(req, c, &caps, o, limit, err, sizeof(err));
    adb_pool_release(req->state->pool, c);
    if (!body)
        return adb_http_send_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "DATABASE_ERROR",
                                   "the database monitor could not read its figures", NULL);
    return adb_http_send_json(req, MHD_HTTP_OK, body);
}

static json_t *with_caps(json_t *body, const adb__dbmon_caps *caps)
{
    if (body)
        json_object_set_new(body, "capabilities", adb__dbmon_caps_json(caps));
    return body;
}

static long long count_member(const json_t *a, const char *member)
{
    long long n = 0;
    size_t i;
    json_t *e;
    json_array_foreach(a, i, e) {
        json_t *v = json_object_get(e, member);
        n += json_is_true(v) || json_is_string(v);
    }
    return n;
}

static json_t *read_performance(adb_http_request *req, PGconn *c, const adb__dbmon_caps *caps,
                                const adb__dbmon_opts *o, long long limit, char *err, size_t errlen)
{
    json_t *db = NULL, *tables = NULL, *indexes = NULL, *slow = NULL, *found = NULL, *out = NULL;
    (void)limit;
    (void)req;
    if (!(db = adb__dbmon_database(c, err, errlen)) || !(tables = adb__dbmon_tables(c, err, errlen)) ||
        !(indexes = adb__dbmon_indexes(c, err, errlen)) ||
        !(slow = adb__dbmon_slow_queries(c, caps, o->slow_ms, ADB_DBMON_LIST_MAX, err, errlen)) ||
        !(found = adb__dbmon_findings(db, tables, indexes, slow, NULL, o)))
        goto out;
    long long dead = 0, bloat = 0, due = count_member(tables, "autovacuumDue");
    size_t i;
    json_t *e;
    json_array_foreach(tables, i, e) {
        dead += (long long)json_integer_value(json_object_get(e, "deadTuples"));
        bloat += (long long)json_integer_value(json_object_get(e, "bloatBytesEstimate"));
    }
    adb__dbmon_figures f;
    adb__dbmon_figures_get(req->state->db, &f);
    json_t *last = json_pack("{s:I, s:I, s:f, s:o, s:I, s:I, s:I, s:o}", "rounds", (json_int_t)f.rounds,
                             "failures", (json_int_t)f.round_failures, "durationMs", f.last_round_ms,
                             "at", json_null(), "intervalSeconds", (json_int_t)o->interval_s,
                             "alertsRaised", (json_int_t)f.alerts_raised,
                             "alertsResolved", (json_int_t)f.alerts_resolved,
                             "findings", adb__dbmon_last_findings(req->state->db));
    if (last && f.last_round_at_ms > 0) {
        char ts[40];
        time_t s = (time_t)(f.last_round_at_ms / 1000);
        struct tm tm;
        gmtime_r(&s, &tm);
        strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
        size_t n = strlen(ts);
        adb__fmt(ts + n, sizeof(ts) - n, ".%03dZ", (int)(f.last_round_at_ms % 1000));
        json_object_set_new(last, "at", json_string(ts));
    }
    out = json_pack("{s:O, s:{s:I, s:I}, s:{s:I, s:I, s:I}, s:{s:I, s:I, s:I, s:I},"
                    " s:I, s:O, s:s, s:o}",
                    "database", db,
                    "slowQueries", "count", (json_int_t)json_array_size(slow), "thresholdMs",
                    (json_int_t)o->slow_ms,
                    "indexes", "total", (json_int_t)json_array_size(indexes), "unused",
                    (json_int_t)count_member(indexes, "unused"), "duplicate",
                    (json_int_t)count_member(indexes, "duplicateOf"),
                    "tables", "total", (json_int_t)json_array_size(tables), "autovacuumDue",
                    (json_int_t)due, "deadTuples", (json_int_t)dead, "bloatBytesEstimate",
                    (json_int_t)bloat,
                    "suggestions", (json_int_t)f.suggestions,
                    "findings", found,
                    "organizationOfAlerts", ADB_PROCESS_ORG,
                    "lastRound", last ? last : json_null());
out:
    json_decref(db);
    json_decref(tables);
    json_decref(indexes);
    json_decref(slow);
    json_decref(found);
    return with_caps(out, caps);
}

static json_t *read_slow(adb_http_request *req, PGconn *c, const adb__dbmon_caps *caps,
                         const adb__dbmon_opts *o, long long limit, char *err, size_t errlen)
{
    (void)req;
    json_t *a = adb__dbmon_slow_queries(c, caps, o->slow_ms, (int)limit, err, errlen);
    return with_caps(a ? json_pack("{s:o, s:I}", "slowQueries", a, "thresholdMs",
                                   (json_int_t)o->slow_ms) : NULL, caps);
}

/* ?only=unused|duplicate|all */
static json_t *read_indexes(adb_http_request *req, PGconn *c, const adb__dbmon_caps *caps,
                            const adb__dbmon_opts *o, long long limit, char *err, size_t errlen)
{
    (void)o;
    const char *only = adb_http_arg(req, "only");
    json_t *a = adb__dbmon_indexes(c, err, errlen), *kept = json_array();
    if (!a || !kept) {
        json_decref(a);
        json_decref(kept);
        return NULL;
    }
    size_t i;
    json_t *e;
    json_array_foreach(a, i, e) {
        if (only && !strcmp(only, "unused") && !json_is_true(json_object_get(e, "unused")))
            continue;
        if (only && !strcmp(only, "duplicate") && !json_is_string(json_object_get(e, "duplicateOf")))
            continue;
        if ((long long)json_array_size(kept) < limit)
            json_array_append(kept, e);
    }
    json_t *out = json_pack("{s:o, s:I}", "indexes", kept, "total", (json_int_t)json_array_size(a));
    json_decref(a);
    return with_caps(out, caps);
}

static json_t *read_tables(adb_http_request *req, PGconn *c, const adb__dbmon_caps *caps,
                           const adb__dbmon_opts *o, long long limit, char *err, size_t errlen)
{
    (void)req;
    (void)o;
    json_t *a = adb__dbmon_tables(c, err, errlen);
    if (!a)
        return NULL;
    size_t total = json_array_size(a);
    while ((long long)json_array_size(a) > limit)
        json_array_remove(a, json_array_size(a) - 1);
    return with_caps(json_pack("{s:o, s:I}", "tables", a, "total", (json_int_t)total), caps);
}

static json_t *read_suggestions(adb_http_request *req, PGconn *c, const adb__dbmon_caps *caps,
                                const adb__dbmon_opts *o, long long limit, char *err, size_t errlen)
{
    (void)req;
    (void)limit;
    json_t *a = adb__dbmon_suggestions(c, caps, o, err, errlen);
    return with_caps(a ? json_pack("{s:o, s:I, s:f}", "suggestions", a, "minCalls",
                                   (json_int_t)o->suggest_min_calls, "maxCostShare",
                                   o->suggest_gain) : NULL, caps);
}

enum MHD_Result adb_http_db_performance(adb_http_request *req)
{
    adb__dbmon_opts o;
    adb__dbmon_get_opts(&o);
    return answer(req, read_performance, &o, 0);
}

enum MHD_Result adb_http_db_slow_queries(adb_http_request *req)
{
    adb__dbmon_opts o;
    enum MHD_Result res;
    long long limit, ms;
    adb__dbmon_get_opts(&o);
    if (!int_arg(req, "limit", 1, ADB_DBMON_LIST_MAX, 50, &limit, &res) ||
        !int_arg(req, "thresholdMs", 0, 3600000, o.slow_ms, &ms, &res))
        return res;
    o.slow_ms = (int)ms;
    return answer(req, read_slow, &o, limit);
}

enum MHD_Result adb_http_db_indexes(adb_http_request *req)
{
    adb__dbmon_opts o;
    enum MHD_Result res;
    long long limit;
    const char *only = adb_http_arg(req, "only");
    adb__dbmon_get_opts(&o);
    if (only && strcmp(only, "unused") && strcmp(only, "duplicate") && strcmp(only, "all"))
        return adb_http_send_invalid(req, "only", "INVALID_VALUE",
                                     "only must be one of unused, duplicate, all");
    if (!int_arg(req, "limit", 1, 5000, ADB_DBMON_LIST_MAX, &limit, &res))
        return res;
    return answer(req, read_indexes, &o, limit);
}

enum MHD_Result adb_http_db_tables(adb_http_request *req)
{
    adb__dbmon_opts o;
    enum MHD_Result res;
    long long limit;
    adb__dbmon_get_opts(&o);
    if (!int_arg(req, "limit", 1, 5000, ADB_DBMON_LIST_MAX, &limit, &res))
        return res;
    return answer(req, read_tables, &o, limit);
}

enum MHD_Result adb_http_db_suggestions(adb_http_request *req)
{
    adb__dbmon_opts o;
    enum MHD_Result res;
    long long calls;
    adb__dbmon_get_opts(&o);
    if (!int_arg(req, "minCalls", 1, 1000000000, o.suggest_min_calls, &calls, &res))
        return res;
    o.suggest_min_calls = (int)calls;
    return answer(req, read_suggestions, &o, 0);
}
