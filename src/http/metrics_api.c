/*
 * metrics_api.c - GET /api/v1/metrics/system (the host and the process:
 * operators only), /metrics/audit, /metrics/performance, /metrics/usage and
 * /metrics/dashboard (the calling organization's own figures, read as the
 * tenant), in the shapes of smart-logs' client (docs/monitoring.md,
 * "Metrics"). Every figure is computed from what is stored or read from
 * /proc at the time of the request; none is made up.
 */
#include "metrics_api.h"
#include "../core/util.h"
#include "../event/event.h"
#include "../monitor/metrics_host.h"
#include "metrics.h"

#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define DAY_S 86400
#define BREAKDOWN_MAX 1000   /* keys of one eventsBy* object */
#define ENDPOINTS_MAX 50     /* endpointUsage rows */
#define TIMELINE_MAX 2000    /* timeline points (a day by the minute: 1440) */
#define NET_MAX 16

/* ---- shared helpers (metrics_api.h) ------------------------------------- */

void mx_iso_us(int64_t us, char out[48])
{
    time_t s = (time_t)(us / 1000000);
    struct tm tm;
    gmtime_r(&s, &tm);
    size_t n = strftime(out, 48, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 48 - n, ".%03dZ", (int)((us % 1000000) / 1000));
}

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static bool range_set(adb_http_request *req, const char *a, const char *b, const char *fa,
                      const char *fb, int64_t default_s, mx_range *r, enum MHD_Result *res)
{
    int64_t end = now_us();

    r->end_us = end;
    r->start_us = end - default_s * 1000000;
    if (a && !adb__timestamp_parse(a, strlen(a), &r->start_us)) {
        *res = adb_http_send_invalid(req, fa, "INVALID_FORMAT", "must be an RFC 3339 date-time with an offset");
        return false;
    }
    if (b && !adb__timestamp_parse(b, strlen(b), &r->end_us)) {
        *res = adb_http_send_invalid(req, fb, "INVALID_FORMAT", "must be an RFC 3339 date-time with an offset");
        return false;
    }
    if (a && !b && r->start_us > r->end_us) /* a start in the future: an empty range at it */
        r->end_us = r->start_us;
    if (!a && b)
        r->start_us = r->end_us - default_s * 1000000;
    if (r->start_us > r->end_us) {
        *res = adb_http_send_invalid(req, fb, "INVALID_VALUE", "must not be before startDate");
        return false;
    }
    if (r->end_us - r->start_us > (int64_t)MX_RANGE_MAX_DAYS * DAY_S * 1000000) {
        *res = adb_http_send_invalid(req, fb, "RANGE_TOO_LONG", "the range covers at most 400 days");
        return false;
    }
    mx_iso_us(r->start_us, r->start);
    mx_iso_us(r->end_us, r->end);
    return true;
}

bool mx_range_from_query(adb_http_request *req, int64_t default_s, mx_range *r,
                         enum MHD_Result *res)
{
    const char *a = adb_http_arg(req, "startDate"), *b = adb_http_arg(req, "endDate");
    const char *tr = adb_http_arg(req, "timeRange");
    char sa[48], sb[48];

    if (tr && strcmp(tr, "[object Object]") != 0) {
        const char *slash = strchr(tr, '/');
        size_t na = slash ? (size_t)(slash - tr) : 0;
        if (a || b) {
            *res = adb_http_send_invalid(req, "timeRange", "CONFLICT", "give timeRange or startDate/endDate, not both");
            return false;
        }
        if (!slash || na == 0 || na >= sizeof(sa) || strlen(slash + 1) >= sizeof(sb) || !slash[1]) {
            *res = adb_http_send_invalid(req, "timeRange", "INVALID_FORMAT",
                                         "timeRange is an ISO 8601 interval \"start/end\" of RFC 3339 date-times");
            return false;
        }
        memcpy(sa, tr, na);
        sa[na] = '\0';
        adb__fmt(sb, sizeof(sb), "%s", slash + 1);
        return range_set(req, sa, sb, "timeRange", "timeRange", default_s, r, res);
    }
    return range_set(req, a, b, "startDate", "endDate", default_s, r, res);
}

bool mx_range_from_json(adb_http_request *req, const json_t *o, const char *member,
                        int64_t default_s, mx_range *r, enum MHD_Result *res)
{
    char fa[64], fb[64];

    adb__fmt(fa, sizeof(fa), "%s.startDate", member);
    adb__fmt(fb, sizeof(fb), "%s.endDate", member);
    if (!o)
        return range_set(req, NULL, NULL, fa, fb, default_s, r, res);
    const json_t *a = json_object_get(o, "startDate"), *b = json_object_get(o, "endDate");
    if (!json_is_object(o) || !json_is_string(a) || !json_is_string(b) || json_object_size(o) != 2) {
        *res = adb_http_send_invalid(req, member, "INVALID_TYPE",
                                     "must be {\"startDate\": date-time, \"endDate\": date-time}");
        return false;
    }
    return range_set(req, json_string_value(a), json_string_value(b), fa, fb, default_s, r, res);
}

bool mx_bool_arg(adb_http_request *req, const char *name, bool def, bool *out, enum MHD_Result *res)
{
    const char *v = adb_http_arg(req, name);

    *out = def;
    if (!v)
        return true;
    if (!strcmp(v, "true") || !strcmp(v, "false")) {
        *out = v[0] == 't';
        return true;
    }
    *res = adb_http_send_invalid(req, name, "INVALID_VALUE", "must be true or false");
    return false;
}

/* whether this thread's last failed statement was cut by statement_timeout */
static _Thread_local bool canceled;

PGconn *mx_tenant_begin_as(adb *db, const char *org)
{
    adb_status st;
    char err[256], ms[24];
    long long v;
    const char *env = getenv("AUDITDB_METRICS_TIMEOUT_MS");

    canceled = false;
    if (!env || !*env || !adb__parse_int(env, 1, 3600000, &v))
        v = 15000; /* the configuration table's default; serve refused a bad value at start */
    adb__fmt(ms, sizeof(ms), "%lld", v);
    PGconn *c = adb_tenant_begin(db, org, &st, err, sizeof(err));
    const char *p[] = { ms };
    PGresult *r = c ? mx_exec(c, "SELECT set_config('statement_timeout', $1, true)", 1, p) : NULL;
    if (c && !r) {
        adb_tenant_end(db, c, false);
        return NULL;
    }
    PQclear(r);
    return c;
}

PGconn *mx_tenant_begin(adb_http_request *req)
{
    return mx_tenant_begin_as(req->state->db, req->who.organization_id);
}

enum MHD_Result mx_failed(adb_http_request *req)
{
    if (!canceled)
        return adb_http_send_unavailable(req);
    canceled = false;
    return adb_http_send_error(req, MHD_HTTP_BAD_REQUEST, "VALIDATION_ERROR",
                               "the figures of this range take too long to compute: narrow it",
                               json_pack("{s:[{s:s, s:s, s:s}]}", "errors", "code", "RANGE_TOO_COSTLY", "field",
                                         "timeRange", "message", "narrow the range (AUDITDB_METRICS_TIMEOUT_MS)"));
}

PGresult *mx_exec(PGconn *c, const char *sql, int n, const char *const *params)
{
    canceled = false;
    PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK) {
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        if (state && !strcmp(state, "57014"))
            canceled = true;
        PQclear(r);
        return NULL;
    }
    return r;
}

json_t *mx_num(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col))
        return json_integer(0);
    const char *v = PQgetvalue(r, row, col);
    if (strpbrk(v, ".eE"))
        return json_real(strtod(v, NULL));
    return json_integer(strtoll(v, NULL, 10));
}

double mx_dbl(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? 0.0 : strtod(PQgetvalue(r, row, col), NULL);
}

/* A granularity's date_trunc unit and its shortest length in seconds; NULL
 * when unknown. */
static const char *unit_of(const char *g, const char *const *allowed, int64_t *len_s)
{
    static const struct { const char *name; int64_t s; } u[] = {
        { "minute", 60 }, { "hour", 3600 }, { "day", DAY_S }, { "week", 7 * DAY_S },
        { "month", 28 * DAY_S },
    };
    for (int i = 0; allowed[i]; i++)
        if (!strcmp(g, allowed[i]))
            for (size_t j = 0; j < sizeof(u) / sizeof(u[0]); j++)
                if (!strcmp(g, u[j].name)) {
                    *len_s = u[j].s;
                    return u[j].name;
                }
    return NULL;
}

/* A comma list from the query of at most 100 values of at most 255 bytes,
 * or NULL when absent. False with the 400 queued. */
static bool list_arg(adb_http_request *req, const char *name, const char **out, enum MHD_Result *res)
{
    const char *v = adb_http_arg(req, name);
    int n = 0;

    *out = NULL;
    if (!v || !*v)
        return true;
    for (const char *p = v; *p;) {
        const char *c = strchr(p, ',');
        size_t len = c ? (size_t)(c - p) : strlen(p);
        if (len > 255 || ++n > 100) {
            *res = adb_http_send_invalid(req, name, "TOO_MANY_VALUES", "at most 100 values of at most 255 bytes");
            return false;
        }
        p = c ? c + 1 : p + len;
    }
    *out = v;
    return true;
}

/* organizationIds may name the caller's own organization only. */
static bool own_orgs(adb_http_request *req, enum MHD_Result *res)
{
    const char *v = adb_http_arg(req, "organizationIds"), *own = req->who.organization_id;
    size_t on = strlen(own);

    for (const char *p = v; p && *p;) {
        const char *c = strchr(p, ',');
        size_t len = c ? (size_t)(c - p) : strlen(p);
        if (len && (len != on || strncmp(p, own, on))) {
            *res = adb_http_send_error(req, MHD_HTTP_FORBIDDEN, "FORBIDDEN",
                                       "organizationIds may only name the key's own organization",
                                       json_pack("{s:[{s:s, s:s, s:s}]}", "errors", "code", "FORBIDDEN",
                                                 "field", "organizationIds", "message",
                                                 "may only name the key's own organization"));
            return false;
        }
        p = c ? c + 1 : p + len;
    }
    return true;
}

static json_t *range_json(const mx_range *r)
{
    return json_pack("{s:s, s:s}", "startDate", r->start, "endDate", r->end);
}

static double range_s(const mx_range *r)
{
    double s = (double)(r->end_us - r->start_us) / 1e6;
    return s > 0 ? s : 0;
}

/* ---- GET /api/v1/metrics/system (operators) ---------------------------- */

static json_t *database_figures(adb_http_request *req, bool *ok)
{
    adb_status st;
    char err[256];
    PGconn *c = adb_pool_acquire(req->state->pool, &st, err, sizeof(err));
    json_t *o = NULL;

    *ok = false;
    if (!c)
        return NULL;
    PGresult *r = mx_exec(c,
        "SELECT (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()),"
        " (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state = 'active'"
        "   AND pid <> pg_backend_pid()),"
        " d.deadlocks,"
        " CASE WHEN d.blks_hit + d.blks_read > 0 THEN 100.0 * d.blks_hit / (d.blks_hit + d.blks_read) ELSE 100 END,"
        " (SELECT CASE WHEN sum(coalesce(idx_scan, 0) + seq_scan) > 0"
        "   THEN 100.0 * sum(coalesce(idx_scan, 0)) / sum(coalesce(idx_scan, 0) + seq_scan) ELSE 0 END"
        "   FROM pg_stat_user_tables),"
        " (SELECT coalesce(sum(pg_table_size(c.oid)), 0) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        "   WHERE n.nspname = 'public' AND c.relkind = 'r'),"
        " (SELECT coalesce(sum(pg_relation_size(c.oid)), 0) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        "   WHERE n.nspname = 'public' AND c.relkind = 'i'),"
        " EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements')"
        " FROM pg_stat_database d WHERE d.datname = current_database()", 0, NULL);
    if (r && PQntuples(r) == 1) {
        o = json_pack("{s:o, s:o, s:f, s:i, s:o, s:o, s:o, s:o, s:o}",
                      "connectionCount", mx_num(r, 0, 0), "activeQueries", mx_num(r, 0, 1),
                      "averageQueryTime", 0.0, "slowQueries", 0, "deadlocks", mx_num(r, 0, 2),
                      "cacheHitRatio", mx_num(r, 0, 3), "indexUsage", mx_num(r, 0, 4),
                      "tableSize", mx_num(r, 0, 5), "indexSize", mx_num(r, 0, 6));
        bool pss = !strcmp(PQgetvalue(r, 0, 7), "t");
        json_object_set_new(o, "queryStatistics", json_string("unavailable"));
        if (pss) {
            /* pg_stat_statements (dbmon's): mean time over every statement, and
             * the normalized statements slower on average than the threshold */
            char thr[32];
            long long ms;
            const char *env = getenv("AUDIT_SLOW_QUERY_THRESHOLD");
            if (!env || !adb__parse_int(env, 0, 3600000, &ms))
                ms = 1000;
            adb__fmt(thr, sizeof(thr), "%lld", ms);
            const char *p[] = { thr };
            PGresult *q = mx_exec(c, "SELECT coalesce(sum(total_exec_time) / nullif(sum(calls), 0), 0),"
                                     " count(*) FILTER (WHERE mean_exec_time > $1::float8)"
                                     " FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database"
                                     " WHERE datname = current_database())", 1, p);
            if (q && PQntuples(q) == 1) {
                json_object_set_new(o, "averageQueryTime", json_real(mx_dbl(q, 0, 0)));
                json_object_set_new(o, "slowQueries", mx_num(q, 0, 1));
                json_object_set_new(o, "queryStatistics", json_string("pg_stat_statements"));
            }
            PQclear(q); /* failed (the library not preloaded): "unavailable" stays */
        }
        *ok = true;
    }
    PQclear(r);
    adb_pool_release(req->state->pool, c);
    return o;
}

/* The whole API since serve started (api_access_log, every organization). */
static json_t *api_figures(adb_http_request *req, bool *ok)
{
    adb_status st;
    char err[256], since[48];
    adb_http_recent rec;
    double up = (adb__now_ms() - req->state->started_ms) / 1000.0;
    PGconn *c = adb_pool_acquire(req->state->pool, &st, err, sizeof(err));
    json_t *o = NULL;

    *ok = false;
    if (!c)
        return NULL;
    adb_http_metrics_recent(req->state->metrics, up, &rec);
    mx_iso_us((int64_t)(req->state->started_ms * 1000.0), since);
    const char *p[] = { since };
    PGresult *r = mx_exec(c,
        "SELECT count(*), count(*) FILTER (WHERE status_code >= 500),"
        " percentile_cont(0.5) WITHIN GROUP (ORDER BY response_time_ms) FILTER (WHERE created_at > now() - interval '1 hour'),"
        " percentile_cont(0.9) WITHIN GROUP (ORDER BY response_time_ms) FILTER (WHERE created_at > now() - interval '1 hour'),"
        " percentile_cont(0.95) WITHIN GROUP (ORDER BY response_time_ms) FILTER (WHERE created_at > now() - interval '1 hour'),"
        " percentile_cont(0.99) WITHIN GROUP (ORDER BY response_time_ms) FILTER (WHERE created_at > now() - interval '1 hour')"
        " FROM api_access_log WHERE created_at >= $1::timestamptz", 1, p);
    if (r && PQntuples(r) == 1) {
        o = json_pack("{s:f, s:f, s:f, s:I, s:o, s:o, s:{s:f, s:f, s:f, s:f}}",
                      "requestsPerSecond", rec.requests_per_s, "averageResponseTime", rec.avg_ms,
                      "errorRate", rec.error_rate * 100.0, "activeConnections", (json_int_t)rec.connections,
                      "totalRequests", mx_num(r, 0, 0), "totalErrors", mx_num(r, 0, 1),
                      "responseTimePercentiles", "p50", mx_dbl(r, 0, 2), "p90", mx_dbl(r, 0, 3),
                      "p95", mx_dbl(r, 0, 4), "p99", mx_dbl(r, 0, 5));
        *ok = true;
    }
    PQclear(r);
    adb_pool_release(req->state->pool, c);
    return o;
}

enum MHD_Result adb_http_metrics_system(adb_http_request *req)
{
    adb__host_sample s;
    struct utsname un;
    char host[256] = "", ts[40];
    adb__host_procs procs;
    bool dbok, apiok;

    adb__host_sample_now(&s);
    adb__host_processes(&procs);
    if (uname(&un) != 0)
        memset(&un, 0, sizeof(un));
    if (gethostname(host, sizeof(host) - 1) != 0)
        host[0] = '\0';
    adb__utf8_repair(host);

    json_t *db = database_figures(req, &dbok);
    json_t *api = api_figures(req, &apiok);
    if (!dbok || !apiok) {
        json_decref(db);
        json_decref(api);
        return mx_failed(req);
    }
    json_t *mem = json_pack("{s:I, s:I, s:I, s:f, s:I, s:I, s:I}", "total", (json_int_t)s.mem.total,
                            "used", (json_int_t)s.mem.used, "free", (json_int_t)s.mem.free,
                            "percentage", s.mem.percentage, "buffers", (json_int_t)s.mem.buffers,
                            "cached", (json_int_t)s.mem.cached, "available", (json_int_t)s.mem.available);
    json_t *cpu = json_pack("{s:f, s:i, s:{s:f, s:f, s:f}, s:{s:I, s:I, s:I, s:I}}",
                            "percentage", s.cpu_percentage, "cores", s.cores, "loadAverage", "oneMinute",
                            s.load.one, "fiveMinutes", s.load.five, "fifteenMinutes", s.load.fifteen,
                            "processes", "total", (json_int_t)procs.total, "running",
                            (json_int_t)procs.running, "sleeping", (json_int_t)procs.sleeping, "zombie",
                            (json_int_t)procs.zombie);
    json_t *disks = json_array();
    adb__host_disk d;
    const char *where = req->state->home ? req->state->home : "/";
    if (adb__host_disk_read(where, &d))
        json_array_append_new(disks, json_pack("{s:I, s:I, s:I, s:f, s:s, s:I, s:I, s:I}",
                                               "total", (json_int_t)d.total, "used", (json_int_t)d.used,
                                               "free", (json_int_t)d.free, "percentage", d.percentage,
                                               "mountPoint", where, "inodesTotal", (json_int_t)d.inodes_total,
                                               "inodesUsed", (json_int_t)d.inodes_used, "inodesFree",
                                               (json_int_t)d.inodes_free));
    json_t *nets = json_array();
    size_t len;
    char *dev = adb__read_file("/proc/net/dev", 256 * 1024, &len);
    adb__host_net n[NET_MAX];
    int nn = dev ? adb__host_netdev_parse(dev, n, NET_MAX) : 0;
    free(dev);
    for (int i = 0; i < nn; i++) {
        adb__utf8_repair(n[i].name);
        json_array_append_new(nets, json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s}",
                                              "bytesReceived", (json_int_t)n[i].rx_bytes, "bytesSent",
                                              (json_int_t)n[i].tx_bytes, "packetsReceived",
                                              (json_int_t)n[i].rx_packets, "packetsSent", (json_int_t)n[i].tx_packets,
                                              "errorsReceived", (json_int_t)n[i].rx_errs, "errorsSent",
                                              (json_int_t)n[i].tx_errs, "droppedReceived", (json_int_t)n[i].rx_drop,
                                              "droppedSent", (json_int_t)n[i].tx_drop, "interface", n[i].name));
    }
    adb_http_iso_now(ts);
    return adb_http_send_json(req, MHD_HTTP_OK, json_pack(
        "{s:s, s:f, s:{s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:{s:I}}, s:o,"
        " s:o, s:o}",
        "timestamp", ts, "uptime", (adb__now_ms() - req->state->started_ms) / 1000.0,
        "server", "hostname", host, "platform", "linux", "architecture", un.machine,
        "runtime", "auditdb " ADB_VERSION_STRING " (C)", "memoryUsage", mem, "cpuUsage", cpu,
        "diskUsage", disks, "networkMetrics", nets, "process", "residentBytes", (json_int_t)s.rss_bytes,
        "database", db,
        "cache", mx_cache_figures(req),
        "api", api));
}

/* ---- GET /api/v1/metrics/audit ----------------------------------------- */

/* the events' filters of /metrics/audit: $4 principals, $5 actions, $6 resource types */
#define EVENT_WHERE " organization_id = $1 AND \"timestamp\" >= $2::timestamptz AND \"timestamp\" < $3::timestamptz" \
    " AND ($4::text IS NULL OR principal_id = ANY (string_to_array($4, ',')))" \
    " AND ($5::text IS NULL OR action = ANY (string_to_array($5, ',')))" \
    " AND ($6::text IS NULL OR target_resource_type = ANY (string_to_array($6, ',')))"

/* Events counted, and by status, action, resource type and classification
 * when breakdown (one scan). */
static json_t *events_figures(PGconn *c, const char *const p[6], bool breakdown)
{
    json_t *by[4] = { json_object(), json_object(), json_object(), json_object() };
    static const char *names[4] = { "eventsByStatus", "eventsByAction", "eventsByResourceType",
                                    "eventsByDataClassification" };
    PGresult *r = mx_exec(c, breakdown
        ? "SELECT CASE WHEN GROUPING(status) = 0 THEN 0 WHEN GROUPING(action) = 0 THEN 1"
          " WHEN GROUPING(target_resource_type) = 0 THEN 2 WHEN GROUPING(data_classification) = 0 THEN 3"
          " ELSE 4 END, coalesce(status, action, target_resource_type, data_classification, 'unknown'), count(*)"
          " FROM audit_log WHERE" EVENT_WHERE
          " GROUP BY GROUPING SETS ((status), (action), (target_resource_type), (data_classification), ())"
          " ORDER BY 1, 3 DESC, 2"
        : "SELECT 4, '', count(*) FROM audit_log WHERE" EVENT_WHERE, 6, p);
    json_t *o = NULL;
    long long total = 0;
    if (r) {
        for (int i = 0; i < PQntuples(r); i++) {
            int k = atoi(PQgetvalue(r, i, 0));
            if (k == 4)
                total = strtoll(PQgetvalue(r, i, 2), NULL, 10);
            else if (k >= 0 && k < 4 && json_object_size(by[k]) < BREAKDOWN_MAX)
                json_object_set_new(by[k], PQgetvalue(r, i, 1), mx_num(r, i, 2));
        }
        o = json_pack("{s:I}", "eventsProcessed", (json_int_t)total);
        for (int k = 0; k < 4; k++)
            json_object_set(o, names[k], by[k]);
    }
    for (int k = 0; k < 4; k++)
        json_decref(by[k]);
    PQclear(r);
    return o;
}

/* The integrity verifications of the tenant (adb_metrics_verifications, 0038). */
static json_t *verification_figures(PGconn *c, const mx_range *rg)
{
    const char *p[] = { rg->start, rg->end };
    PGresult *r = mx_exec(c, "SELECT status, sum(n) FROM adb_metrics_verifications($1::timestamptz,"
                             " $2::timestamptz, 'millennium') GROUP BY 1 ORDER BY 1", 2, p);
    if (!r)
        return NULL;
    long long total = 0, passed = 0;
    json_t *reasons = json_object();
    for (int i = 0; i < PQntuples(r); i++) {
        long long n = strtoll(PQgetvalue(r, i, 1), NULL, 10);
        total += n;
        if (!strcmp(PQgetvalue(r, i, 0), "success"))
            passed += n;
        else
            json_object_set_new(reasons, PQgetvalue(r, i, 0), json_integer(n));
    }
    PQclear(r);
    /* the mean duration of the verifications that recorded one (0041) */
    double mean_ms = 0;
    r = mx_exec(c, "SELECT mean_ms FROM adb_metrics_verification_time($1::timestamptz, $2::timestamptz)", 2, p);
    if (!r) {
        json_decref(reasons);
        return NULL;
    }
    if (PQntuples(r) == 1)
        mean_ms = strtod(PQgetvalue(r, 0, 0), NULL);
    PQclear(r);
    return json_pack("{s:I, s:I, s:I, s:f, s:f, s:o}", "total", (json_int_t)total, "passed",
                     (json_int_t)passed, "failed", (json_int_t)(total - passed),
                     "averageTime", mean_ms, "successRate", total ? passed * 100.0 / total : 100.0,
                     "failureReasons", reasons);
}

static json_t *report_figures(PGconn *c, const mx_range *rg)
{
    const char *p[] = { rg->start, rg->end };
    PGresult *r = mx_exec(c,
        "SELECT g, k, n, ms, sz FROM ("
        " SELECT CASE WHEN GROUPING(report_type) = 0 THEN 't' WHEN GROUPING(format) = 0 THEN 'f' ELSE 'a' END g,"
        "  coalesce(report_type, format, '') k, count(*) n,"
        "  count(*) FILTER (WHERE status = 'failed') f,"
        "  avg(extract(epoch FROM completed_at - created_at) * 1000) FILTER (WHERE status = 'completed') ms,"
        "  coalesce(sum(octet_length(artifact)), 0) sz"
        " FROM compliance_reports WHERE created_at >= $1::timestamptz AND created_at < $2::timestamptz"
        " GROUP BY GROUPING SETS ((report_type), (format), ())) x"
        " UNION ALL SELECT 'x', '', count(*) FILTER (WHERE status = 'failed'),"
        "  count(*) FILTER (WHERE status = 'completed'), 0 FROM compliance_reports"
        "  WHERE created_at >= $1::timestamptz AND created_at < $2::timestamptz"
        " UNION ALL SELECT 's', '', count(*), 0, 0 FROM scheduled_reports WHERE enabled::text IN ('true', 't') AND is_deleted <> 'true'",
        2, p);
    if (!r)
        return NULL;
    json_t *bytype = json_object(), *byformat = json_object();
    long long all = 0, failed = 0, completed = 0, scheduled = 0;
    double ms = 0, size = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        const char *g = PQgetvalue(r, i, 0);
        if (*g == 't')
            json_object_set_new(bytype, PQgetvalue(r, i, 1), mx_num(r, i, 2));
        else if (*g == 'f')
            json_object_set_new(byformat, PQgetvalue(r, i, 1), mx_num(r, i, 2));
        else if (*g == 'a')
            all = strtoll(PQgetvalue(r, i, 2), NULL, 10), ms = mx_dbl(r, i, 3), size = mx_dbl(r, i, 4);
        else if (*g == 'x')
            failed = strtoll(PQgetvalue(r, i, 2), NULL, 10), completed = (long long)mx_dbl(r, i, 3);
        else if (*g == 's')
            scheduled = strtoll(PQgetvalue(r, i, 2), NULL, 10);
    }
    PQclear(r);
    (void)all;
    return json_pack("{s:I, s:I, s:I, s:f, s:o, s:o, s:f, s:f}", "generated", (json_int_t)completed,
                     "scheduled", (json_int_t)scheduled, "failed", (json_int_t)failed,
                     "averageGenerationTime", ms, "reportsByType", bytype, "reportsByFormat", byformat,
                     "totalSize", size, "averageSize", completed ? size / (double)completed : 0.0);
}

/* The tenant's answered requests in the range (api_access_log): errors. */
static json_t *error_figures(PGconn *c, const mx_range *rg)
{
    const char *p[] = { rg->start, rg->end };
    PGresult *r = mx_exec(c,
        "SELECT CASE WHEN GROUPING(error_code) = 0 THEN 't' WHEN GROUPING(path) = 0 THEN 'e'"
        "  WHEN GROUPING(status_code) = 0 THEN 's' ELSE 'a' END,"
        " coalesce(error_code, path, status_code::text, ''), count(*) FILTER (WHERE status_code >= 400),"
        " count(*), count(*) FILTER (WHERE status_code >= 500)"
        " FROM api_access_log WHERE created_at >= $1::timestamptz AND created_at < $2::timestamptz"
        " GROUP BY GROUPING SETS ((error_code), (path), (status_code), ())"
        " ORDER BY 1, 3 DESC, 2", 2, p);
    if (!r)
        return NULL;
    json_t *t = json_object(), *e = json_object(), *s = json_object();
    long long errors = 0, all = 0, critical = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        const char *g = PQgetvalue(r, i, 0);
        long long n = strtoll(PQgetvalue(r, i, 2), NULL, 10);
        if (*g == 'a') {
            errors = n;
            all = strtoll(PQgetvalue(r, i, 3), NULL, 10);
            critical = strtoll(PQgetvalue(r, i, 4), NULL, 10);
        } else if (n > 0) {
            json_t *into = *g == 't' ? t : *g == 'e' ? e : s;
            if (*g == 't' && PQgetisnull(r, i, 1))
                continue;
            if (json_object_size(into) < BREAKDOWN_MAX)
                json_object_set_new(into, PQgetvalue(r, i, 1), json_integer(n));
        }
    }
    PQclear(r);
    return json_pack("{s:I, s:f, s:o, s:o, s:o, s:I, s:I}", "total", (json_int_t)errors, "rate",
                     all ? errors * 100.0 / (double)all : 0.0, "byType", t, "byEndpoint", e,
                     "byStatusCode", s, "criticalErrors", (json_int_t)critical, "recoverableErrors",
                     (json_int_t)(errors - critical));
}

/* The time from a write's arrival to its answer (acknowledged after COMMIT):
 * the events routes' POSTs in api_access_log. */
#define WRITE_PATHS " method = 'POST' AND (path = '/api/v1/audit/events' OR path = '/api/v1/audit/events/bulk')"

static json_t *latency_figures(PGconn *c, const mx_range *rg)
{
    const char *p[] = { rg->start, rg->end };
    PGresult *r = mx_exec(c,
        "SELECT coalesce(avg(response_time_ms), 0),"
        " coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY response_time_ms), 0),"
        " coalesce(percentile_cont(0.9) WITHIN GROUP (ORDER BY response_time_ms), 0),"
        " coalesce(percentile_cont(0.95) WITHIN GROUP (ORDER BY response_time_ms), 0),"
        " coalesce(percentile_cont(0.99) WITHIN GROUP (ORDER BY response_time_ms), 0),"
        " coalesce(min(response_time_ms), 0), coalesce(max(response_time_ms), 0),"
        " coalesce(stddev_pop(response_time_ms), 0)"
        " FROM api_access_log WHERE created_at >= $1::timestamptz AND created_at < $2::timestamptz AND"
        WRITE_PATHS, 2, p);
    if (!r || PQntuples(r) != 1) {
        PQclear(r);
        return NULL;
    }
    json_t *o = json_pack("{s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f}", "average", mx_dbl(r, 0, 0),
                          "median", mx_dbl(r, 0, 1), "p50", mx_dbl(r, 0, 1), "p90", mx_dbl(r, 0, 2),
                          "p95", mx_dbl(r, 0, 3), "p99", mx_dbl(r, 0, 4), "min", mx_dbl(r, 0, 5),
                          "max", mx_dbl(r, 0, 6), "standardDeviation", mx_dbl(r, 0, 7));
    PQclear(r);
    return o;
}

/* eventsPerSecond over the range, the busiest second, per minute. */
static json_t *throughput_figures(PGconn *c, const char *const p[6], long long events, const mx_range *rg)
{
    PGresult *r = mx_exec(c, "SELECT coalesce(max(n), 0) FROM (SELECT count(*) n FROM audit_log WHERE"
                             EVENT_WHERE " GROUP BY date_trunc('second', \"timestamp\")) x", 6, p);
    if (!r)
        return NULL;
    double s = range_s(rg);
    json_t *o = json_pack("{s:f, s:f, s:f}", "eventsPerSecond", s > 0 ? events / s : 0.0,
                          "peakEventsPerSecond", mx_dbl(r, 0, 0), "averageEventsPerMinute",
                          s > 0 ? events * 60.0 / s : 0.0);
    PQclear(r);
    return o;
}

static json_t *timeline(PGconn *c, const char *const p[6], const char *unit)
{
    const char *q[] = { p[0], p[1], p[2], p[3], p[4], p[5], unit };
    PGresult *r = mx_exec(c,
        "WITH b AS (SELECT generate_series(date_trunc($7, $2::timestamptz, 'UTC'), $3::timestamptz,"
        "   ('1 ' || $7)::interval) b),"
        " e AS (SELECT date_trunc($7, \"timestamp\", 'UTC') b, count(*) n FROM audit_log WHERE" EVENT_WHERE
        "   GROUP BY 1),"
        " a AS (SELECT date_trunc($7, created_at, 'UTC') b,"
        "   avg(response_time_ms) FILTER (WHERE" WRITE_PATHS ") lat,"
        "   count(*) FILTER (WHERE status_code >= 400) errs FROM api_access_log"
        "   WHERE created_at >= $2::timestamptz AND created_at < $3::timestamptz GROUP BY 1),"
        " v AS (SELECT bucket b, sum(n) n FROM adb_metrics_verifications($2::timestamptz, $3::timestamptz, $7)"
        "   GROUP BY 1)"
        " SELECT " MX_ISO("b.b") ", coalesce(e.n, 0), coalesce(a.lat, 0), coalesce(a.errs, 0), coalesce(v.n, 0)"
        " FROM b LEFT JOIN e USING (b) LEFT JOIN a USING (b) LEFT JOIN v USING (b)"
        " WHERE b.b < $3::timestamptz OR b.b = date_trunc($7, $2::timestamptz, 'UTC') ORDER BY b.b", 7, q);
    if (!r)
        return NULL;
    json_t *a = json_array();
    for (int i = 0; i < PQntuples(r) && i < TIMELINE_MAX; i++)
        json_array_append_new(a, json_pack("{s:s, s:o, s:f, s:o, s:o}", "timestamp", PQgetvalue(r, i, 0),
                                           "eventsProcessed", mx_num(r, i, 1), "averageLatency",
                                           mx_dbl(r, i, 2), "errorCount", mx_num(r, i, 3),
                                           "verificationCount", mx_num(r, i, 4)));
    PQclear(r);
    return a;
}

json_t *mx_audit_figures(PGconn *c, const char *org, const mx_range *rg, bool breakdown)
{
    const char *p[6] = { org, rg->start, rg->end, NULL, NULL, NULL };
    return events_figures(c, p, breakdown);
}

enum MHD_Result adb_http_metrics_audit(adb_http_request *req)
{
    static const char *const units[] = { "minute", "hour", "day", "week", "month", NULL };
    enum MHD_Result res = MHD_NO;
    mx_range rg;
    bool breakdown, with_timeline;
    const char *principals, *actions, *rtypes, *g = adb_http_arg(req, "granularity");
    int64_t unit_s = 0;
    const char *unit = unit_of(g ? g : "hour", units, &unit_s);

    if (!mx_kind_enabled(req, "audit", &res) || !mx_range_from_query(req, DAY_S, &rg, &res) ||
        !own_orgs(req, &res) || !mx_bool_arg(req, "includeBreakdown", true, &breakdown, &res) ||
        !mx_bool_arg(req, "includeTimeline", true, &with_timeline, &res) ||
        !list_arg(req, "principalIds", &principals, &res) || !list_arg(req, "actions", &actions, &res) ||
        !list_arg(req, "resourceTypes", &rtypes, &res))
        return res;
    if (!unit)
        return adb_http_send_invalid(req, "granularity", "INVALID_VALUE",
                                     "granularity is minute, hour, day, week or month");
    if (with_timeline && (rg.end_us - rg.start_us) / 1000000 / unit_s >= TIMELINE_MAX)
        return adb_http_send_invalid(req, "granularity", "TOO_MANY_POINTS",
                                     "the timeline has at most 2000 points: a coarser granularity or a shorter range");

    const char *org = req->who.organization_id;
    const char *p[6] = { org, rg.start, rg.end, principals, actions, rtypes };
    PGconn *c = mx_tenant_begin(req);
    if (!c)
        return mx_failed(req);
    json_t *ev = events_figures(c, p, breakdown);
    json_t *lat = ev ? latency_figures(c, &rg) : NULL;
    json_t *ver = lat ? verification_figures(c, &rg) : NULL;
    json_t *rep = ver ? report_figures(c, &rg) : NULL;
    json_t *errs = rep ? error_figures(c, &rg) : NULL;
    json_t *thr = errs ? throughput_figures(c, p, json_integer_value(json_object_get(ev, "eventsProcessed")), &rg) : NULL;
    json_t *tl = thr && with_timeline ? timeline(c, p, unit) : NULL;
    bool ok = thr && (!with_timeline || tl);
    adb_tenant_end(req->state->db, c, ok);
    if (!ok) {
        json_decref(ev), json_decref(lat), json_decref(ver), json_decref(rep), json_decref(errs);
        json_decref(thr), json_decref(tl);
        return mx_failed(req);
    }
    char ts[40];
    adb_http_iso_now(ts);
    json_t *o = json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:s}", "timestamp", ts, "timeRange",
                          range_json(&rg), "processingLatency", lat, "integrityVerifications", ver,
                          "complianceReports", rep, "errorRates", errs, "throughput", thr,
                          "granularity", unit);
    json_object_update(o, ev);
    json_decref(ev);
    json_object_set_new(o, "eventsByOrganization", json_pack("{s:O}", org, json_object_get(o, "eventsProcessed")));
    if (tl)
        json_object_set_new(o, "timeline", tl);
    return adb_http_send_json(req, MHD_HTTP_OK, o);
}

/* ---- GET /api/v1/metrics/performance (the tenant's requests) ------------ */

json_t *mx_request_figures(PGconn *c, const char *org, const mx_range *rg)
{
    const char *p[] = { rg->start, rg->end, org };
    PGresult *r = mx_exec(c,
        "SELECT count(*), count(*) FILTER (WHERE status_code < 400), count(*) FILTER (WHERE status_code >= 400),"
        " coalesce(avg(response_time_ms), 0),"
        " coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY response_time_ms), 0),"
        " coalesce(percentile_cont(0.9) WITHIN GROUP (ORDER BY response_time_ms), 0),"
        " coalesce(percentile_cont(0.95) WITHIN GROUP (ORDER BY response_time_ms), 0),"
        " coalesce(percentile_cont(0.99) WITHIN GROUP (ORDER BY response_time_ms), 0),"
        " coalesce(max(response_time_ms), 0),"
        " coalesce(sum(coalesce(request_bytes, 0) + coalesce(response_bytes, 0)), 0),"
        " count(*) FILTER (WHERE status_code = 429),"
        " (SELECT coalesce(max(n), 0) FROM (SELECT count(*) n FROM api_access_log WHERE created_at >= $1::timestamptz"
        "   AND created_at < $2::timestamptz GROUP BY date_trunc('second', created_at)) x),"
        " (SELECT count(*) FROM audit_log WHERE organization_id = $3 AND \"timestamp\" >= $1::timestamptz"
        "   AND \"timestamp\" < $2::timestamptz)"
        " FROM api_access_log WHERE created_at >= $1::timestamptz AND created_at < $2::timestamptz", 3, p);
    if (!r || PQntuples(r) != 1) {
        PQclear(r);
        return NULL;
    }
    double s = range_s(rg);
    double n = mx_dbl(r, 0, 0);
    json_t *o = json_pack(
        "{s:{s:o, s:o, s:o, s:f, s:f, s:{s:f, s:f, s:f, s:f}},"
        " s:{s:f, s:f, s:f, s:o},"
        " s:{s:f, s:f, s:f, s:f, s:f},"
        " s:{s:i, s:i, s:i, s:i}, s:{s:i, s:o, s:i, s:o}}",
        "requests", "total", mx_num(r, 0, 0), "successful", mx_num(r, 0, 1), "failed", mx_num(r, 0, 2),
        "rate", s > 0 ? n / s : 0.0, "averageResponseTime", mx_dbl(r, 0, 3), "responseTimePercentiles",
        "p50", mx_dbl(r, 0, 4), "p90", mx_dbl(r, 0, 5), "p95", mx_dbl(r, 0, 6), "p99", mx_dbl(r, 0, 7),
        "throughput", "requestsPerSecond", s > 0 ? n / s : 0.0, "bytesPerSecond",
        s > 0 ? mx_dbl(r, 0, 9) / s : 0.0, "eventsPerSecond", s > 0 ? mx_dbl(r, 0, 12) / s : 0.0,
        "peakThroughput", mx_num(r, 0, 11),
        "latency", "average", mx_dbl(r, 0, 3), "median", mx_dbl(r, 0, 4), "p95", mx_dbl(r, 0, 6), "p99",
        mx_dbl(r, 0, 7), "max", mx_dbl(r, 0, 8),
        /* the host's and the whole process's: not a tenant's (GET /metrics/system) */
        "resources", "cpuUtilization", 0, "memoryUtilization", 0, "diskUtilization", 0, "networkUtilization", 0,
        "concurrency", "activeConnections", 0, "maxConcurrentRequests", mx_num(r, 0, 11), "queuedRequests", 0,
        "rejectedRequests", mx_num(r, 0, 10));
    PQclear(r);
    return o;
}

enum MHD_Result adb_http_metrics_performance(adb_http_request *req)
{
    mx_range rg;
    enum MHD_Result res = MHD_NO;
    char ts[40];
    const char *org = req->who.organization_id;

    if (!mx_kind_enabled(req, "performance", &res) || !mx_range_from_query(req, 3600, &rg, &res))
        return res;
    PGconn *c = mx_tenant_begin(req);
    if (!c)
        return mx_failed(req);
    json_t *o = mx_request_figures(c, org, &rg);
    adb_tenant_end(req->state->db, c, o != NULL);
    if (!o)
        return mx_failed(req);
    adb_http_iso_now(ts);
    json_object_set_new(o, "timestamp", json_string(ts));
    json_object_set_new(o, "timeRange", range_json(&rg));
    /* zeros, not the tenant's: process-wide figures are the operators' (GET /api/v1/metrics/system) */
    json_object_set_new(o, "withheld", json_pack("[s, s, s]", "resources", "concurrency.activeConnections",
                                                 "concurrency.queuedRequests"));
    return adb_http_send_json(req, MHD_HTTP_OK, o);
}

/* ---- GET /api/v1/metrics/usage (the tenant's API usage) ----------------- */

/* The features: request paths by prefix. */
#define FEATURE_CASE "CASE WHEN path LIKE '/api/v1/audit/events%' THEN 'events'" \
    " WHEN path LIKE '/api/v1/audit/log%' THEN 'verifiable-log'" \
    " WHEN path LIKE '/api/v1/compliance/reports%' OR path LIKE '/api/v1/scheduled-reports%'" \
    "  OR path LIKE '/api/v1/compliance/templates%' THEN 'reports'" \
    " WHEN path LIKE '/api/v1/compliance/gdpr%' OR path LIKE '/api/v1/compliance/hipaa%' THEN 'privacy'" \
    " WHEN path LIKE '/api/v1/delivery%' THEN 'delivery'" \
    " WHEN path LIKE '/api/v1/presets%' OR path LIKE '/api/v1/audit-presets%' THEN 'presets'" \
    " WHEN path LIKE '/api/v1/metrics%' THEN 'metrics'" \
    " WHEN path LIKE '/api/v1/alerts%' THEN 'alerts'" \
    " WHEN path LIKE '/api/v1/health%' THEN 'health'" \
    " ELSE 'other' END"

enum MHD_Result adb_http_metrics_usage(adb_http_request *req)
{
    static const char *const units[] = { "hour", "day", "week", "month", NULL };
    mx_range rg;
    enum MHD_Result res = MHD_NO;
    bool details;
    const char *g = adb_http_arg(req, "granularity");
    int64_t unit_s;

    if (!mx_kind_enabled(req, "usage", &res) || !mx_range_from_query(req, DAY_S, &rg, &res) ||
        !own_orgs(req, &res) || !mx_bool_arg(req, "includeDetails", false, &details, &res))
        return res;
    if (!unit_of(g ? g : "day", units, &unit_s))
        return adb_http_send_invalid(req, "granularity", "INVALID_VALUE", "granularity is hour, day, week or month");

    char ts[40], mid[48];
    const char *org = req->who.organization_id;
    mx_iso_us(rg.start_us + (rg.end_us - rg.start_us) / 2, mid);
    const char *p[] = { rg.start, rg.end, org, mid };
    const char *pf[] = { rg.start, rg.end, mid };
    PGconn *c = mx_tenant_begin(req);
    if (!c)
        return mx_failed(req);
    /* totals and storage */
    PGresult *t = mx_exec(c,
        "SELECT count(*), count(DISTINCT api_key_id), count(*) FILTER (WHERE status_code < 400),"
        " count(*) FILTER (WHERE status_code >= 400), coalesce(avg(response_time_ms), 0),"
        " coalesce(sum(coalesce(request_bytes, 0) + coalesce(response_bytes, 0)), 0),"
        " coalesce(sum(response_time_ms), 0) / 3600000.0,"
        /* storage: of each audit_log partition holding the organization's events, its whole
         * size (heap, TOAST, indexes) times the organization's share of its rows */
        " (SELECT coalesce(sum(x.n::float8 * pg_total_relation_size(x.p) / greatest(c.reltuples, x.n::float8)), 0)"
        "   FROM (SELECT tableoid p, count(*) n FROM audit_log WHERE organization_id = $3 GROUP BY 1) x"
        "   JOIN pg_class c ON c.oid = x.p)"
        " FROM api_access_log WHERE created_at >= $1::timestamptz AND created_at < $2::timestamptz"
        " AND $4::text IS NOT NULL", 4, p);
    /* endpoints */
    PGresult *e = t ? mx_exec(c,
        "SELECT path, method, count(*), avg(response_time_ms),"
        " 100.0 * count(*) FILTER (WHERE status_code >= 400) / count(*),"
        " coalesce(sum(coalesce(request_bytes, 0) + coalesce(response_bytes, 0)), 0), count(DISTINCT api_key_id)"
        " FROM api_access_log WHERE created_at >= $1::timestamptz AND created_at < $2::timestamptz"
        " GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2 LIMIT " "50", 2, p) : NULL;
    /* features: adoption among the keys active in the range; retention: of the
     * keys using a feature in the first half, the share using it in the second */
    PGresult *f = e ? mx_exec(c,
        "WITH x AS (SELECT " FEATURE_CASE " feature, api_key_id k, created_at < $3::timestamptz first_half"
        "  FROM api_access_log WHERE created_at >= $1::timestamptz AND created_at < $2::timestamptz),"
        " keys AS (SELECT count(DISTINCT k) n FROM x)"
        " SELECT feature, count(*), count(DISTINCT k),"
        "  100.0 * count(DISTINCT k) / greatest((SELECT n FROM keys), 1),"
        "  (SELECT CASE WHEN count(*) = 0 THEN 0 ELSE 100.0 * count(*) FILTER (WHERE y.late) / count(*) END"
        "   FROM (SELECT k, bool_or(NOT first_half) late FROM x x2 WHERE x2.feature = x.feature"
        "         GROUP BY k HAVING bool_or(first_half)) y)"
        " FROM x GROUP BY feature ORDER BY 2 DESC, 1", 3, pf) : NULL;
    /* sessions: a key's requests with less than 30 minutes between them */
    PGresult *s = f ? mx_exec(c,
        "WITH r AS (SELECT api_key_id k, created_at t, CASE WHEN created_at - lag(created_at) OVER w"
        "   < interval '30 minutes' THEN 0 ELSE 1 END starts"
        "  FROM api_access_log WHERE created_at >= $1::timestamptz AND created_at < $2::timestamptz"
        "  AND api_key_id IS NOT NULL WINDOW w AS (PARTITION BY api_key_id ORDER BY created_at)),"
        " s AS (SELECT k, sum(starts) OVER (PARTITION BY k ORDER BY t) sid, t FROM r),"
        " ss AS (SELECT k, sid, extract(epoch FROM max(t) - min(t)) d, count(*) n FROM s GROUP BY k, sid)"
        " SELECT count(*), coalesce(avg(d), 0), coalesce(avg(n), 0),"
        "  CASE WHEN count(*) > 0 THEN 100.0 * count(*) FILTER (WHERE n = 1) / count(*) ELSE 0 END,"
        "  CASE WHEN count(DISTINCT k) > 0 THEN 100.0 * (SELECT count(*) FROM (SELECT k FROM ss GROUP BY k"
        "   HAVING count(*) > 1) m) / count(DISTINCT k) ELSE 0 END FROM ss", 2, p) : NULL;
    bool ok = s && PQntuples(t) == 1 && PQntuples(s) == 1;
    adb_tenant_end(req->state->db, c, ok);
    if (!ok) {
        PQclear(t), PQclear(e), PQclear(f), PQclear(s);
        return mx_failed(req);
    }
    json_t *eps = json_array(), *feats = json_array();
    for (int i = 0; i < PQntuples(e) && i < ENDPOINTS_MAX; i++)
        json_array_append_new(eps, json_pack("{s:s, s:s, s:o, s:f, s:f, s:o, s:o}", "endpoint", PQgetvalue(e, i, 0),
                                             "method", PQgetvalue(e, i, 1), "requestCount", mx_num(e, i, 2),
                                             "averageResponseTime", mx_dbl(e, i, 3), "errorRate", mx_dbl(e, i, 4),
                                             "dataTransferred", mx_num(e, i, 5), "uniqueUsers", mx_num(e, i, 6)));
    for (int i = 0; i < PQntuples(f); i++) {
        double users = mx_dbl(f, i, 2);
        json_array_append_new(feats, json_pack("{s:s, s:o, s:o, s:f, s:f, s:f}", "feature", PQgetvalue(f, i, 0),
                                               "usageCount", mx_num(f, i, 1), "uniqueUsers", mx_num(f, i, 2),
                                               "averageUsagePerUser", users > 0 ? mx_dbl(f, i, 1) / users : 0.0,
                                               "adoptionRate", mx_dbl(f, i, 3), "retentionRate", mx_dbl(f, i, 4)));
    }
    adb_http_iso_now(ts);
    json_t *o = json_pack(
        "{s:s, s:o, s:o, s:o, s:i, s:o,"
        " s:{s:o, s:o, s:o, s:f, s:o}, s:o,"
        " s:{s:f, s:f, s:f, s:f},"
        " s:{s:f, s:o, s:f}, s:s}",
        "timestamp", ts, "timeRange", range_json(&rg), "totalRequests", mx_num(t, 0, 0), "uniqueUsers",
        mx_num(t, 0, 1), "uniqueOrganizations", mx_dbl(t, 0, 0) > 0 ? 1 : 0, "dataTransferred", mx_num(t, 0, 5),
        "apiUsage", "totalCalls", mx_num(t, 0, 0), "successfulCalls", mx_num(t, 0, 2), "failedCalls",
        mx_num(t, 0, 3), "averageResponseTime", mx_dbl(t, 0, 4), "endpointUsage", eps,
        "featureUsage", feats,
        "userBehavior", "averageSessionDuration", mx_dbl(s, 0, 1), "averageRequestsPerSession", mx_dbl(s, 0, 2),
        "bounceRate", mx_dbl(s, 0, 3), "returnUserRate", mx_dbl(s, 0, 4),
        "resourceConsumption", "storageUsed", mx_dbl(t, 0, 7), "bandwidthUsed", mx_num(t, 0, 5),
        "computeHours", mx_dbl(t, 0, 6), "granularity", g ? g : "day");
    PQclear(t), PQclear(e), PQclear(f), PQclear(s);
    return adb_http_send_json(req, MHD_HTTP_OK, o);
}

/* ---- GET /api/v1/metrics/dashboard -------------------------------------- */

/* The organization's alerts (seed columns only): open ones by severity and
 * the five newest in the client's Alert shape. */
static json_t *alert_figures(PGconn *c, const char *org)
{
    const char *p[] = { org };
    PGresult *n = mx_exec(c, "SELECT count(*), count(*) FILTER (WHERE severity = 'CRITICAL'),"
                             " count(*) FILTER (WHERE severity = 'HIGH') FROM alerts"
                             " WHERE organization_id = $1 AND status IN ('active', 'acknowledged')", 1, p);
    PGresult *r = n ? mx_exec(c,
        "SELECT id, organization_id, title, description, severity, status, type, source, " MX_ISO("created_at") ","
        " " MX_ISO("acknowledged_at") ", " MX_ISO("resolved_at") ", acknowledged = 'true', acknowledged_by,"
        " resolved = 'true', resolved_by, resolution_notes, correlation_id, tags::text, metadata::text"
        " FROM alerts WHERE organization_id = $1 ORDER BY created_at DESC, id LIMIT 5", 1, p) : NULL;
    if (!r) {
        PQclear(n);
        return NULL;
    }
    json_t *recent = json_array();
    for (int i = 0; i < PQntuples(r); i++) {
        json_t *a = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:b}", "id", PQgetvalue(r, i, 0),
                              "organizationId", PQgetvalue(r, i, 1), "title", PQgetvalue(r, i, 2),
                              "description", PQgetvalue(r, i, 3), "severity", PQgetvalue(r, i, 4), "status",
                              PQgetvalue(r, i, 5), "type", PQgetvalue(r, i, 6), "source", PQgetvalue(r, i, 7),
                              "createdAt", PQgetvalue(r, i, 8), "acknowledged", !strcmp(PQgetvalue(r, i, 11), "t"),
                              "resolved", !strcmp(PQgetvalue(r, i, 13), "t"));
        static const struct { int col; const char *name; } opt[] = {
            { 9, "acknowledgedAt" }, { 10, "resolvedAt" }, { 12, "acknowledgedBy" }, { 14, "resolvedBy" },
            { 15, "resolutionNotes" }, { 16, "correlationId" },
        };
        for (size_t k = 0; k < sizeof(opt) / sizeof(opt[0]); k++)
            if (!PQgetisnull(r, i, opt[k].col))
                json_object_set_new(a, opt[k].name, json_string(PQgetvalue(r, i, opt[k].col)));
        json_t *tags = json_loads(PQgetvalue(r, i, 17), 0, NULL);
        json_object_set_new(a, "tags", json_is_array(tags) ? tags : json_array());
        if (!json_is_array(tags))
            json_decref(tags);
        json_t *md = json_loads(PQgetvalue(r, i, 18), 0, NULL);
        if (json_is_object(md))
            json_object_set_new(a, "metadata", md);
        else
            json_decref(md);
        json_array_append_new(recent, a);
    }
    json_t *o = json_pack("{s:o, s:o, s:o, s:o}", "total", mx_num(n, 0, 0), "critical", mx_num(n, 0, 1),
                          "high", mx_num(n, 0, 2), "recent", recent);
    PQclear(n);
    PQclear(r);
    return o;
}

/* The change in percent from before to now (0 when before is 0 and now too;
 * 100 when only now has some). */
static double growth(double before, double now)
{
    if (before == 0)
        return now == 0 ? 0 : 100;
    return (now - before) * 100.0 / before;
}

enum MHD_Result adb_http_metrics_dashboard(adb_http_request *req)
{
    char ts[40];
    const char *org = req->who.organization_id;
    mx_range now, before;
    int64_t end = 0;
    enum MHD_Result res;

    if (!mx_range_from_query(req, DAY_S, &now, &res))
        return res;
    end = now.start_us;
    before.end_us = end;
    before.start_us = end - (now.end_us - now.start_us);
    mx_iso_us(before.start_us, before.start);
    mx_iso_us(before.end_us, before.end);
    PGconn *c = mx_tenant_begin(req);
    if (!c)
        return mx_failed(req);
    json_t *ev = mx_audit_figures(c, org, &now, true);
    json_t *ev0 = ev ? mx_audit_figures(c, org, &before, false) : NULL;
    json_t *perf = ev0 ? mx_request_figures(c, org, &now) : NULL;
    json_t *perf0 = perf ? mx_request_figures(c, org, &before) : NULL;
    json_t *al = perf0 ? alert_figures(c, org) : NULL;
    adb_tenant_end(req->state->db, c, al != NULL);
    if (!al) {
        json_decref(ev), json_decref(ev0), json_decref(perf), json_decref(perf0);
        return mx_failed(req);
    }
    adb_http_iso_now(ts);
    json_t *rq = json_object_get(perf, "requests"), *rq0 = json_object_get(perf0, "requests");
    double rate = json_number_value(json_object_get(rq, "total")) > 0
                      ? json_number_value(json_object_get(rq, "failed")) * 100.0 /
                            json_number_value(json_object_get(rq, "total")) : 0;
    double rate0 = json_number_value(json_object_get(rq0, "total")) > 0
                       ? json_number_value(json_object_get(rq0, "failed")) * 100.0 /
                             json_number_value(json_object_get(rq0, "total")) : 0;
    json_t *trends = json_pack(
        "{s:f, s:f, s:f}", "eventsGrowth",
        growth(json_number_value(json_object_get(ev0, "eventsProcessed")),
               json_number_value(json_object_get(ev, "eventsProcessed"))),
        "performanceTrend",
        growth(json_number_value(json_object_get(rq0, "averageResponseTime")),
               json_number_value(json_object_get(rq, "averageResponseTime"))),
        "errorRateTrend", rate - rate0);
    json_object_set_new(ev, "timestamp", json_string(ts));
    json_object_set_new(ev, "timeRange", range_json(&now));
    json_object_set_new(perf, "timestamp", json_string(ts));
    json_object_del(perf, "resources");
    json_object_del(perf, "concurrency");
    json_decref(ev0);
    json_decref(perf0);
    return adb_http_send_json(req, MHD_HTTP_OK, json_pack(
        "{s:{s:s}, s:o, s:o, s:o, s:o, s:s}", "system", "timestamp", ts, "audit", ev, "performance", perf,
        "alerts", al, "trends", trends, "timestamp", ts));
}
