/*
 * metrics_series.c - the metrics over time: GET /api/v1/metrics/{type}/historical
 * and POST /api/v1/metrics/{type}/export (csv, json): an organization's
 * series computed from its own rows (audit, performance, usage), the
 * process's from the snapshots of migration 0038 (type system, operators
 * only, on literal routes of its own); and POST /api/v1/metrics/query:
 * a custom query over a fixed catalogue of metric names, dimensions and
 * aggregations, each turned into SQL from this file's tables with every value
 * a parameter: nothing of the client's becomes SQL text.
 */
#include "metrics_api.h"
#include "../core/buf.h"
#include "../core/util.h"

#include <stdlib.h>
#include <string.h>

#define POINTS_MAX 1000
#define GROUPS_MAX 1000
#define QUERY_METRICS_MAX 10
#define FILTER_VALUES_MAX 100

/* ---- the series ---------------------------------------------------------- */

static const char *unit_len(const char *g, int64_t *s)
{
    static const struct { const char *n; int64_t s; } u[] = {
        { "hour", 3600 }, { "day", 86400 }, { "week", 7 * 86400 }, { "month", 28 * 86400 } };
    for (size_t i = 0; i < sizeof(u) / sizeof(u[0]); i++)
        if (!strcmp(g, u[i].n)) {
            *s = u[i].s;
            return u[i].n;
        }
    return NULL;
}

static bool is_kind(const char *t)
{
    return t && (!strcmp(t, "audit") || !strcmp(t, "performance") || !strcmp(t, "usage"));
}

/* The process-wide series over r by unit from the snapshots: an array of
 * points, each figure the mean of the bucket's snapshots (the largest for
 * *Max, the sum for the period counts: requests, serverErrors). NULL on a
 * database failure. */
static json_t *system_series(PGconn *c, const mx_range *r, const char *unit)
{
    const char *p[] = { r->start, r->end, unit };
    PGresult *res = mx_exec(c,
        "SELECT " MX_ISO("date_trunc($3, s.taken_at, 'UTC')") ", f.key,"
        " CASE WHEN f.key IN ('requests', 'serverErrors') THEN sum(f.value::float8)"
        "  WHEN f.key LIKE '%Max' THEN max(f.value::float8) ELSE avg(f.value::float8) END,"
        " count(*)"
        " FROM metrics_snapshots s, jsonb_each_text(s.figures) f"
        " WHERE s.taken_at > $1::timestamptz AND s.taken_at <= $2::timestamptz"
        " AND jsonb_typeof(s.figures->f.key) = 'number'"
        " GROUP BY date_trunc($3, s.taken_at, 'UTC'), f.key ORDER BY 1, 2", 3, p);
    if (!res)
        return NULL;
    json_t *a = json_array(), *pt = NULL;
    const char *prev = "";
    for (int i = 0; i < PQntuples(res); i++) {
        const char *b = PQgetvalue(res, i, 0);
        if (strcmp(b, prev)) {
            if (json_array_size(a) >= POINTS_MAX)
                break;
            pt = json_pack("{s:s, s:o}", "timestamp", b, "snapshots", mx_num(res, i, 3));
            json_array_append_new(a, pt);
            prev = b;
        }
        json_object_set_new(pt, PQgetvalue(res, i, 1), json_real(mx_dbl(res, i, 2)));
    }
    PQclear(res);
    return a;
}

/* A tenant's series computed from its rows: events by their own time
 * (late and backdated ones included), requests by the time they were
 * answered. NULL on a database failure. */
json_t *mx_tenant_series(PGconn *c, const char *org, const char *kind, const mx_range *r, const char *unit)
{
    const char *p[] = { org, r->start, r->end, unit };
    const char *sql = !strcmp(kind, "audit")
        ? "SELECT " MX_ISO("date_trunc($4, \"timestamp\", 'UTC')") ", count(*),"
          " count(*) FILTER (WHERE status = 'failure')"
          " FROM audit_log WHERE organization_id = $1 AND \"timestamp\" >= $2::timestamptz"
          " AND \"timestamp\" < $3::timestamptz GROUP BY 1 ORDER BY 1 LIMIT 1000"
        : !strcmp(kind, "performance")
        ? "SELECT " MX_ISO("date_trunc($4, created_at, 'UTC')") ", count(*),"
          " count(*) FILTER (WHERE status_code >= 400), count(*) FILTER (WHERE status_code >= 500),"
          " coalesce(avg(response_time_ms), 0)::float8, coalesce(max(response_time_ms), 0),"
          " coalesce(percentile_cont(0.95) WITHIN GROUP (ORDER BY response_time_ms), 0)"
          " FROM api_access_log WHERE organization_id = $1 AND created_at >= $2::timestamptz"
          " AND created_at < $3::timestamptz GROUP BY 1 ORDER BY 1 LIMIT 1000"
        : "SELECT " MX_ISO("date_trunc($4, created_at, 'UTC')") ", count(*),"
          " coalesce(sum(coalesce(request_bytes, 0) + coalesce(response_bytes, 0)), 0),"
          " count(DISTINCT api_key_id)"
          " FROM api_access_log WHERE organization_id = $1 AND created_at >= $2::timestamptz"
          " AND created_at < $3::timestamptz GROUP BY 1 ORDER BY 1 LIMIT 1000";
    static const char *const audit_cols[] = { "eventsProcessed", "failures", NULL };
    static const char *const perf_cols[] = { "requests", "failed", "criticalErrors", "averageResponseTime",
                                             "maxResponseTime", "p95ResponseTime", NULL };
    static const char *const usage_cols[] = { "requests", "dataTransferred", "uniqueUsers", NULL };
    const char *const *cols = !strcmp(kind, "audit") ? audit_cols : !strcmp(kind, "performance") ? perf_cols
                                                                                                 : usage_cols;
    PGresult *res = mx_exec(c, sql, 4, p);
    if (!res)
        return NULL;
    json_t *a = json_array();
    for (int i = 0; i < PQntuples(res); i++) {
        json_t *pt = json_pack("{s:s}", "timestamp", PQgetvalue(res, i, 0));
        for (int k = 0; cols[k]; k++)
            json_object_set_new(pt, cols[k], mx_num(res, i, k + 1));
        json_array_append_new(a, pt);
    }
    PQclear(res);
    return a;
}

/* The series for req: the tenant's (kind) or the process's (system). */
static json_t *series_for(adb_http_request *req, const char *kind, const mx_range *r, const char *unit)
{
    adb_status st;
    char err[256];
    json_t *a;

    if (!strcmp(kind, "system")) {
        PGconn *c = adb_pool_acquire(req->state->pool, &st, err, sizeof(err));
        if (!c)
            return NULL;
        a = system_series(c, r, unit);
        adb_pool_release(req->state->pool, c);
        return a;
    }
    PGconn *c = mx_tenant_begin(req);
    if (!c)
        return NULL;
    a = mx_tenant_series(c, req->who.organization_id, kind, r, unit);
    adb_tenant_end(req->state->db, c, a != NULL);
    return a;
}

static enum MHD_Result historical(adb_http_request *req, const char *kind)
{
    mx_range r;
    enum MHD_Result res;
    int64_t len;
    const char *g = adb_http_arg(req, "granularity");
    const char *unit = unit_len(g ? g : "hour", &len);

    if (!mx_range_from_query(req, 86400, &r, &res))
        return res;
    if (!unit)
        return adb_http_send_invalid(req, "granularity", "INVALID_VALUE", "granularity is hour, day, week or month");
    if ((r.end_us - r.start_us) / 1000000 / len >= POINTS_MAX)
        return adb_http_send_invalid(req, "granularity", "TOO_MANY_POINTS",
                                     "at most 1000 points: a coarser granularity or a shorter range");
    json_t *a = series_for(req, kind, &r, unit);
    return a ? adb_http_send_json(req, MHD_HTTP_OK, a) : mx_failed(req);
}

enum MHD_Result adb_http_metrics_historical(adb_http_request *req)
{
    const char *t = req->param[0];
    if (!is_kind(t))
        return adb_http_send_error(req, MHD_HTTP_NOT_FOUND, "NOT_FOUND",
                                   "no such metrics type: audit, performance or usage (system: operators)",
                                   json_pack("{s:s}", "type", t ? t : ""));
    enum MHD_Result res;
    if (!mx_kind_enabled(req, t, &res))
        return res;
    return historical(req, t);
}

enum MHD_Result adb_http_metrics_system_historical(adb_http_request *req)
{
    return historical(req, "system");
}

/* ---- exports ------------------------------------------------------------- */

static void csv_cell(adb__buf *b, json_t *v)
{
    char n[64];
    if (json_is_integer(v))
        adb__fmt(n, sizeof(n), "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        adb__fmt(n, sizeof(n), "%.6g", json_real_value(v));
    else
        n[0] = '\0';
    adb__buf_puts(b, n);
}

static enum MHD_Result export_series(adb_http_request *req, const char *kind)
{
    static const char *const known[] = { "timeRange", "format", "granularity", NULL };
    enum MHD_Result res = MHD_NO;
    mx_range r;
    int64_t len;
    json_error_t je;

    json_t *body = req->body_len ? json_loadb(req->body, req->body_len, 0, &je) : json_object();
    if (!json_is_object(body)) {
        json_decref(body);
        return adb_http_send_invalid(req, "", "INVALID_JSON",
                                     "the body is {\"timeRange\": {\"startDate\", \"endDate\"}, \"format\": \"csv\"|\"json\"}");
    }
    const char *k;
    json_t *v;
    json_object_foreach(body, k, v) {
        bool ok = false;
        for (int i = 0; known[i]; i++)
            ok = ok || !strcmp(k, known[i]);
        if (!ok) {
            char msg[128], field[80];
            adb__fmt(field, sizeof(field), "%.64s", k);
            adb__utf8_repair(field);
            adb__fmt(msg, sizeof(msg), "unknown member \"%s\"", field);
            json_decref(body);
            return adb_http_send_invalid(req, field, "UNKNOWN_FIELD", msg);
        }
    }
    json_t *f = json_object_get(body, "format"), *g = json_object_get(body, "granularity");
    const char *format = f ? json_string_value(f) : "csv";
    if (!format || (strcmp(format, "csv") && strcmp(format, "json"))) {
        bool xlsx = format && !strcmp(format, "xlsx");
        json_decref(body);
        return adb_http_send_invalid(req, "format", xlsx ? "UNSUPPORTED_FORMAT" : "INVALID_VALUE",
                                     xlsx ? "xlsx is not produced: ask for csv (which spreadsheets open) or json"
                                          : "format is csv or json");
    }
    const char *unit = unit_len(g ? (json_string_value(g) ? json_string_value(g) : "") : "hour", &len);
    if (!unit) {
        json_decref(body);
        return adb_http_send_invalid(req, "granularity", "INVALID_VALUE", "granularity is hour, day, week or month");
    }
    if (!mx_range_from_json(req, json_object_get(body, "timeRange"), "timeRange", 86400, &r, &res)) {
        json_decref(body);
        return res;
    }
    bool csv = !strcmp(format, "csv");
    json_decref(body);
    if ((r.end_us - r.start_us) / 1000000 / len >= POINTS_MAX)
        return adb_http_send_invalid(req, "granularity", "TOO_MANY_POINTS",
                                     "at most 1000 points: a coarser granularity or a shorter range");
    json_t *a = series_for(req, kind, &r, unit);
    if (!a)
        return mx_failed(req);

    char name[160];
    adb__fmt(name, sizeof(name), "attachment; filename=\"metrics-%s-%.10s.%s\"", kind, r.start, csv ? "csv" : "json");
    req->extra_header[0] = "Content-Disposition";
    free(req->extra_value[0]);
    req->extra_value[0] = adb__strdup(name);
    if (!csv)
        return adb_http_send_json(req, MHD_HTTP_OK, json_pack("{s:s, s:{s:s, s:s}, s:s, s:o}", "type", kind,
                                                              "timeRange", "startDate", r.start, "endDate", r.end,
                                                              "granularity", unit, "data", a));
    /* the columns: timestamp, then every figure's name sorted */
    json_t *cols = json_object();
    size_t i;
    json_t *pt;
    json_array_foreach(a, i, pt) {
        json_object_foreach(pt, k, v)
            if (strcmp(k, "timestamp"))
                json_object_set_new(cols, k, json_true());
    }
    const char **names = calloc(json_object_size(cols) + 1, sizeof(*names));
    size_t n = 0;
    json_object_foreach(cols, k, v)
        if (names)
            names[n++] = k;
    for (size_t x = 1; x < n; x++) /* insertion sort: a few dozen names */
        for (size_t y = x; y > 0 && strcmp(names[y - 1], names[y]) > 0; y--) {
            const char *t = names[y];
            names[y] = names[y - 1];
            names[y - 1] = t;
        }
    adb__buf b = { 0 };
    adb__buf_puts(&b, "timestamp");
    for (size_t x = 0; x < n; x++) {
        adb__buf_puts(&b, ",");
        adb__buf_puts(&b, names[x]); /* our own figure names: letters only */
    }
    adb__buf_puts(&b, "\r\n");
    json_array_foreach(a, i, pt) {
        adb__buf_puts(&b, json_string_value(json_object_get(pt, "timestamp")));
        for (size_t x = 0; x < n; x++) {
            adb__buf_puts(&b, ",");
            csv_cell(&b, json_object_get(pt, names[x]));
        }
        adb__buf_puts(&b, "\r\n");
    }
    free(names);
    json_decref(cols);
    json_decref(a);
    if (b.oom || !names) {
        adb__buf_free(&b);
        return mx_failed(req);
    }
    return adb_http_send_text(req, MHD_HTTP_OK, b.p, b.len, "text/csv; charset=utf-8");
}

enum MHD_Result adb_http_metrics_export(adb_http_request *req)
{
    const char *t = req->param[0];
    if (!is_kind(t))
        return adb_http_send_error(req, MHD_HTTP_NOT_FOUND, "NOT_FOUND",
                                   "no such metrics type: audit, performance or usage (system: operators)",
                                   json_pack("{s:s}", "type", t ? t : ""));
    enum MHD_Result res;
    if (!mx_kind_enabled(req, t, &res))
        return res;
    return export_series(req, t);
}

enum MHD_Result adb_http_metrics_system_export(adb_http_request *req)
{
    return export_series(req, "system");
}

/* ---- POST /api/v1/metrics/query ----------------------------------------- */

typedef struct dim {
    const char *name;  /* as the client names it */
    const char *expr;  /* SQL: a column of the family's table */
} dim;

typedef struct family {
    const char *table, *time;
    dim dims[6];
} family;

static const family events_f = { "audit_log", "\"timestamp\"", {
    { "action", "action" }, { "status", "status" }, { "principalId", "principal_id" },
    { "resourceType", "target_resource_type" }, { "dataClassification", "data_classification" }, { NULL, NULL } } };
static const family requests_f = { "api_access_log", "created_at", {
    { "method", "method" }, { "path", "path" }, { "statusCode", "status_code::text" },
    { "errorCode", "error_code" }, { "apiKeyId", "api_key_id" }, { NULL, NULL } } };
static const family reports_f = { "compliance_reports", "created_at", {
    { "reportType", "report_type" }, { "status", "status" }, { "format", "format" }, { NULL, NULL } } };
static const family alerts_f = { "alerts", "created_at", {
    { "severity", "severity" }, { "type", "type" }, { "status", "status" }, { "source", "source" },
    { NULL, NULL } } };

/* The catalogue (docs/monitoring.md, "Custom query"). */
static const struct metric {
    const char *name;
    const family *fam;
    const char *value;     /* SQL of the value aggregated; NULL: rows counted */
    const char *where;     /* an extra condition, or NULL */
    const char *def_agg;
    const char *description;
} catalogue[] = {
    { "events.count", &events_f, NULL, NULL, "count", "events stored (by event time)" },
    { "events.failures", &events_f, NULL, "status = 'failure'", "count", "events whose status is failure" },
    { "requests.count", &requests_f, NULL, NULL, "count", "API requests answered" },
    { "requests.errors", &requests_f, NULL, "status_code >= 400", "count", "API requests answered 4xx or 5xx" },
    { "requests.responseTime", &requests_f, "response_time_ms", NULL, "avg", "milliseconds to answer" },
    { "requests.bytes", &requests_f, "coalesce(request_bytes, 0) + coalesce(response_bytes, 0)", NULL, "sum",
      "bytes received and sent" },
    { "reports.count", &reports_f, NULL, NULL, "count", "compliance reports generated or attempted" },
    { "alerts.count", &alerts_f, NULL, NULL, "count", "alerts raised" },
    { NULL, NULL, NULL, NULL, NULL, NULL },
};

static const struct metric *metric_named(const char *n)
{
    for (const struct metric *m = catalogue; m->name; m++)
        if (!strcmp(m->name, n))
            return m;
    return NULL;
}

static const dim *dim_named(const family *f, const char *n)
{
    for (const dim *d = f->dims; d->name; d++)
        if (!strcmp(d->name, n))
            return d;
    return NULL;
}

static const char *time_unit(const char *n)
{
    static const char *const u[] = { "minute", "hour", "day", "week", "month", NULL };
    for (int i = 0; u[i]; i++)
        if (!strcmp(n, u[i]))
            return u[i];
    return NULL;
}

/* A PostgreSQL text[] literal of the strings of v (a string or an array of
 * them): every element quoted, '"' and '\' escaped. NULL when v is not that. */
static char *text_array(const json_t *v)
{
    adb__buf b = { 0 };
    size_t i;
    json_t *x;
    json_t *one = json_is_string(v) ? json_pack("[O]", v) : NULL;
    const json_t *arr = one ? one : v;

    if (!json_is_array(arr) || json_array_size(arr) == 0 || json_array_size(arr) > FILTER_VALUES_MAX) {
        json_decref(one);
        return NULL;
    }
    adb__buf_puts(&b, "{");
    json_array_foreach(arr, i, x) {
        const char *s = json_string_value(x);
        if (!s || json_string_length(x) > 255 || strlen(s) != json_string_length(x)) {
            adb__buf_free(&b);
            json_decref(one);
            return NULL;
        }
        adb__buf_puts(&b, i ? ",\"" : "\"");
        for (; *s; s++) {
            char ch[3] = { '\\', *s, 0 };
            adb__buf_puts(&b, (*s == '"' || *s == '\\') ? ch : ch + 1);
        }
        adb__buf_puts(&b, "\"");
    }
    adb__buf_puts(&b, "}");
    json_decref(one);
    if (b.oom) {
        adb__buf_free(&b);
        return NULL;
    }
    return b.p;
}

static enum MHD_Result bad(adb_http_request *req, json_t *body, const char *field, const char *code, const char *msg)
{
    json_decref(body);
    return adb_http_send_invalid(req, field, code, msg);
}

enum MHD_Result adb_http_metrics_query(adb_http_request *req)
{
    json_error_t je;
    enum MHD_Result res = MHD_NO;
    mx_range r;
    char field[160];
    json_t *body = req->body_len ? json_loadb(req->body, req->body_len, 0, &je) : NULL;

    if (!json_is_object(body))
        return bad(req, body, "", "INVALID_JSON",
                   "the body is {\"metrics\": [names], \"filters\"?, \"timeRange\"?, \"groupBy\"?, \"aggregation\"?}");
    const char *k;
    json_t *v;
    json_object_foreach(body, k, v) {
        if (strcmp(k, "metrics") && strcmp(k, "filters") && strcmp(k, "timeRange") && strcmp(k, "groupBy") &&
            strcmp(k, "aggregation")) {
            adb__fmt(field, sizeof(field), "%.64s", k);
            adb__utf8_repair(field);
            return bad(req, body, field, "UNKNOWN_FIELD", "unknown member");
        }
    }
    json_t *ms = json_object_get(body, "metrics"), *filters = json_object_get(body, "filters");
    json_t *groups = json_object_get(body, "groupBy"), *aggj = json_object_get(body, "aggregation");
    if (!json_is_array(ms) || json_array_size(ms) == 0 || json_array_size(ms) > QUERY_METRICS_MAX)
        return bad(req, body, "metrics", "INVALID_VALUE", "metrics is an array of 1 to 10 names of the catalogue");
    if (filters && !json_is_object(filters))
        return bad(req, body, "filters", "INVALID_TYPE", "filters is an object {dimension: value or [values]}");
    if (groups && (!json_is_array(groups) || json_array_size(groups) > 2))
        return bad(req, body, "groupBy", "INVALID_VALUE", "groupBy is an array of at most 2 dimensions or time units");
    const char *agg = aggj ? json_string_value(aggj) : NULL;
    if (aggj && (!agg || (strcmp(agg, "sum") && strcmp(agg, "avg") && strcmp(agg, "min") && strcmp(agg, "max") &&
                          strcmp(agg, "count"))))
        return bad(req, body, "aggregation", "INVALID_VALUE", "aggregation is sum, avg, min, max or count");
    if (!mx_range_from_json(req, json_object_get(body, "timeRange"), "timeRange", 86400, &r, &res)) {
        json_decref(body);
        return res;
    }
    /* every name checked before anything runs */
    size_t i, j;
    json_t *x;
    json_array_foreach(ms, i, x) {
        const struct metric *m = json_is_string(x) ? metric_named(json_string_value(x)) : NULL;
        adb__fmt(field, sizeof(field), "metrics[%zu]", i);
        if (!m) {
            json_t *names = json_array();
            for (const struct metric *c = catalogue; c->name; c++)
                json_array_append_new(names, json_string(c->name));
            json_decref(body);
            return adb_http_send_error(req, MHD_HTTP_BAD_REQUEST, "VALIDATION_ERROR", "unknown metric",
                                       json_pack("{s:[{s:s, s:s, s:s}], s:o}", "errors", "code", "UNKNOWN_METRIC",
                                                 "field", field, "message", "not in the catalogue", "catalogue", names));
        }
        if (agg && !m->value && strcmp(agg, "count") && strcmp(agg, "sum"))
            return bad(req, body, "aggregation", "INVALID_VALUE", "a count metric aggregates with count or sum only");
        json_array_foreach(groups, j, v) {
            const char *g = json_string_value(v);
            adb__fmt(field, sizeof(field), "groupBy[%zu]", j);
            if (!g || (!dim_named(m->fam, g) && !time_unit(g)))
                return bad(req, body, field, "UNKNOWN_DIMENSION",
                           "not a dimension of every metric asked for, nor minute, hour, day, week or month");
        }
        json_object_foreach(filters, k, v) {
            adb__fmt(field, sizeof(field), "filters.%.64s", k);
            adb__utf8_repair(field);
            if (!dim_named(m->fam, k))
                return bad(req, body, field, "UNKNOWN_DIMENSION", "not a dimension of every metric asked for");
        }
    }

    const char *org = req->who.organization_id;
    PGconn *c = mx_tenant_begin(req);
    if (!c) {
        json_decref(body);
        return mx_failed(req);
    }
    json_t *results = json_array();
    bool ok = true;
    json_array_foreach(ms, i, x) {
        const struct metric *m = metric_named(json_string_value(x));
        const char *a = agg ? agg : m->def_agg;
        const char *p[16] = { org, r.start, r.end };
        char *owned[16] = { 0 };
        int np = 3;
        adb__buf q = { 0 };
        adb__buf_puts(&q, "SELECT ");
        json_array_foreach(groups, j, v) {
            const char *g = json_string_value(v);
            const dim *d = dim_named(m->fam, g);
            if (d) {
                adb__buf_printf(&q, "coalesce(%s, ''), ", d->expr);
            } else {
                p[np] = time_unit(g);
                adb__buf_printf(&q, MX_ISO("date_trunc($%d, %s, 'UTC')") ", ", ++np, m->fam->time);
            }
        }
        if (!m->value)
            adb__buf_puts(&q, "count(*)");
        else if (!strcmp(a, "count"))
            adb__buf_printf(&q, "count(%s)", m->value);
        else
            adb__buf_printf(&q, "%s(%s)::float8", a, m->value);
        adb__buf_printf(&q, " FROM %s WHERE organization_id = $1 AND %s >= $2::timestamptz AND %s < $3::timestamptz",
                        m->fam->table, m->fam->time, m->fam->time);
        if (m->where)
            adb__buf_printf(&q, " AND %s", m->where);
        json_object_foreach(filters, k, v) {
            const dim *d = dim_named(m->fam, k);
            char *arr = text_array(v);
            if (!arr) {
                adb__buf_free(&q);
                for (int z = 0; z < 16; z++)
                    free(owned[z]);
                adb_tenant_end(req->state->db, c, false);
                json_decref(results);
                adb__fmt(field, sizeof(field), "filters.%.64s", k);
                adb__utf8_repair(field);
                return bad(req, body, field, "INVALID_VALUE", "a string or an array of 1 to 100 strings of at most 255 bytes");
            }
            owned[np] = arr;
            p[np] = arr;
            adb__buf_printf(&q, " AND %s = ANY ($%d::text[])", d->expr, ++np);
        }
        size_t ng = json_array_size(groups);
        if (ng) {
            adb__buf_puts(&q, " GROUP BY 1");
            if (ng > 1)
                adb__buf_puts(&q, ", 2");
            adb__buf_printf(&q, " ORDER BY %zu DESC NULLS LAST, 1 LIMIT %d", ng + 1, GROUPS_MAX + 1);
        }
        PGresult *res2 = q.oom ? NULL : mx_exec(c, q.p, np, p);
        adb__buf_free(&q);
        for (int z = 0; z < 16; z++)
            free(owned[z]);
        if (!res2) {
            ok = false;
            break;
        }
        json_t *data = json_array();
        int rows = PQntuples(res2);
        for (int row = 0; row < rows && row < GROUPS_MAX; row++) {
            json_t *grp = json_object();
            for (size_t gi = 0; gi < ng; gi++)
                json_object_set_new(grp, json_string_value(json_array_get(groups, gi)),
                                    json_string(PQgetvalue(res2, row, (int)gi)));
            json_array_append_new(data, json_pack("{s:o, s:o}", "group", grp, "value",
                                                  PQgetisnull(res2, row, (int)ng) ? json_null()
                                                                                 : mx_num(res2, row, (int)ng)));
        }
        json_array_append_new(results, json_pack("{s:s, s:s, s:o, s:o, s:b}", "metric", m->name, "aggregation",
                                                 m->value || !strcmp(a, "count") ? a : "count", "groupBy",
                                                 groups ? json_incref(groups) : json_array(), "data", data, "truncated",
                                                 rows > GROUPS_MAX));
        PQclear(res2);
    }
    adb_tenant_end(req->state->db, c, ok);
    json_decref(body);
    if (!ok) {
        json_decref(results);
        return mx_failed(req);
    }
    char ts[40];
    adb_http_iso_now(ts);
    return adb_http_send_json(req, MHD_HTTP_OK, json_pack("{s:s, s:{s:s, s:s}, s:o}", "timestamp", ts,
                                                          "timeRange", "startDate", r.start, "endDate", r.end,
                                                          "results", results));
}

bool mx_metric_value(PGconn *c, const char *org, const char *name, const mx_range *r, double *out)
{
    const struct metric *m = metric_named(name);
    if (!m)
        return false;
    adb__buf q = { 0 };
    /* a count, or the metric's own aggregation; nothing of the caller's becomes SQL */
    if (!m->value)
        adb__buf_puts(&q, "SELECT count(*)::float8");
    else
        adb__buf_printf(&q, "SELECT coalesce(%s(%s), 0)::float8", m->def_agg, m->value);
    adb__buf_printf(&q, " FROM %s WHERE organization_id = $1 AND %s >= $2::timestamptz AND %s < $3::timestamptz",
                    m->fam->table, m->fam->time, m->fam->time);
    if (m->where)
        adb__buf_printf(&q, " AND %s", m->where);
    const char *p[] = { org, r->start, r->end };
    PGresult *res = q.oom ? NULL : mx_exec(c, q.p, 3, p);
    adb__buf_free(&q);
    if (!res)
        return false;
    bool ok = PQntuples(res) == 1;
    if (ok)
        *out = mx_dbl(res, 0, 0);
    PQclear(res);
    return ok;
}

/* The catalogue, for GET /metrics/config's enabledMetrics and the docs. */
json_t *mx_catalogue_json(void);
json_t *mx_catalogue_json(void)
{
    json_t *a = json_array();
    for (const struct metric *m = catalogue; m->name; m++) {
        json_t *dims = json_array();
        for (const dim *d = m->fam->dims; d->name; d++)
            json_array_append_new(dims, json_string(d->name));
        json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:o}", "name", m->name, "description", m->description,
                                           "defaultAggregation", m->def_agg, "dimensions", dims));
    }
    return a;
}
