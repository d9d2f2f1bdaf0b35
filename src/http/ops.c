/*
 * ops.c - operations endpoints: /health, /health/detailed, /ready, /live,
 * /metrics, /api/v1/openapi.json (shapes: docs/api.md).
 */
#include "http.h"
#include "log_health.h"
#include "conns.h"
#include "metrics.h"
#include "ratelimit.h"
#include "../core/util.h"

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <sys/sysinfo.h>

extern const char adb__openapi_json[];
extern const size_t adb__openapi_json_len;

static const char *environment(void)
{
    const char *e = getenv("AUDITDB_ENVIRONMENT");
    return e && *e ? e : "production";
}

static double uptime_s(adb_http_request *req)
{
    return (adb__now_ms() - req->state->started_ms) / 1000.0;
}

static json_t *database_check(adb_http_state *st, bool *up)
{
    char err[ADB_ERRMSG_MAX];
    double latency = 0;
    adb_pool_stats ps;
    adb_status rc = adb_pool_ping(st->pool, &latency, err, sizeof(err));
    json_t *db;

    adb_pool_get_stats(st->pool, &ps);
    *up = rc == ADB_OK;
    db = json_pack("{s:s, s:s, s:{s:i, s:i, s:i, s:I, s:I}}", "status", *up ? "up" : "down",
                   "mode", st->embedded ? "embedded" : "external", "pool", "open", ps.open,
                   "idle", ps.idle, "max", ps.max, "reconnects", (json_int_t)ps.reconnects,
                   "timeouts", (json_int_t)ps.timeouts);
    if (*up)
        json_object_set_new(db, "latencyMs", json_real(latency));
    else
        json_object_set_new(db, "error", json_string(err));
    return db;
}

enum MHD_Result adb_http_ops_health(adb_http_request *req)
{
    char ts[40];
    bool up;
    json_t *db = database_check(req->state, &up);

    adb_http_iso_now(ts);
    return adb_http_send_json(
        req, up ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE,
        json_pack("{s:s, s:s, s:s, s:s, s:f, s:{s:o}}", "status", up ? "healthy" : "unhealthy",
                  "timestamp", ts, "environment", environment(), "version", adb_version(),
                  "uptime", uptime_s(req), "checks", "database", db));
}

/* One entry of checks/services: smart-logs' HealthCheck (details taken; may be NULL). */
static json_t *check(const char *name, const char *status, double ms, const char *message,
                     json_t *details, const char *ts)
{
    json_t *c = json_pack("{s:s, s:s, s:f, s:s}", "name", name, "status", status, "responseTime", ms,
                          "message", message);
    if (details)
        json_object_set_new(c, "details", details);
    json_object_set_new(c, "lastChecked", json_string(ts));
    return c;
}

static json_t *system_figures(adb_http_state *st)
{
    struct sysinfo si;
    struct rusage ru;
    struct statvfs vfs;
    json_t *sys = json_object();
    double total = 0, freeb = 0, cpu_s = 0;
    double load[3] = { 0, 0, 0 };

    if (sysinfo(&si) == 0) {
        total = (double)si.totalram * si.mem_unit;
        freeb = (double)si.freeram * si.mem_unit;
        for (int i = 0; i < 3; i++)
            load[i] = si.loads[i] / 65536.0;
    }
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        cpu_s = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
                ru.ru_stime.tv_usec / 1e6;
    json_object_set_new(sys, "memory", json_pack("{s:f, s:f, s:f}", "used", total - freeb, "total", total,
                                                 "percentage", total > 0 ? 100.0 * (total - freeb) / total : 0.0));
    json_object_set_new(sys, "cpu", json_pack("{s:f, s:[f, f, f]}", "usage", cpu_s, "loadAverage", load[0],
                                              load[1], load[2]));
    if (st->home && statvfs(st->home, &vfs) == 0 && vfs.f_blocks > 0) {
        double dt = (double)vfs.f_blocks * vfs.f_frsize, df = (double)vfs.f_bavail * vfs.f_frsize;
        json_object_set_new(sys, "disk", json_pack("{s:f, s:f, s:f}", "used", dt - df, "total", dt,
                                                   "percentage", 100.0 * (dt - df) / dt));
    }
    return sys;
}

/*
 * The shape of smart-logs' DetailedHealthSchema: checks are the four
 * services (Database, Redis, Authentication, Audit Service), each healthy,
 * degraded or unhealthy; the whole is unhealthy if one is, degraded if one
 * is, and answered 200 only when healthy (503 otherwise), as the original.
 */
enum MHD_Result adb_http_ops_health_detailed(adb_http_request *req)
{
    adb_http_state *st = req->state;
    char ts[40], err[ADB_ERRMSG_MAX], msg[ADB_ERRMSG_MAX + 64];
    bool up;
    double t0 = adb__now_ms(), ms;
    json_t *db = database_check(st, &up);
    json_t *services = json_object(), *checks = json_array();

    adb_http_iso_now(ts);

    /* the database */
    double db_ms = adb__now_ms() - t0;
    json_t *dberr = json_object_get(db, "error");
    json_object_set_new(services, "database",
                        check("Database", up ? "healthy" : "unhealthy", db_ms,
                              up ? "Database connection successful"
                                 : (json_is_string(dberr) ? json_string_value(dberr) : "database unavailable"),
                              json_incref(db), ts));

    /* Redis: only the rate limits use it, and they fall back to per-instance buckets */
    int redis = adb_ratelimit_redis_check(st->ratelimit, &ms, err, sizeof(err));
    if (redis < 0) {
        json_object_set_new(services, "redis", check("Redis", "healthy", 0, "not configured", NULL, ts));
    } else if (redis > 0) {
        json_object_set_new(services, "redis", check("Redis", "healthy", ms, "Redis connection successful",
                                                     json_pack("{s:s}", "use", "rate limits shared by instances"), ts));
    } else {
        adb__fmt(msg, sizeof(msg), "%s; rate limits are kept per instance meanwhile", err);
        json_object_set_new(services, "redis", check("Redis", "degraded", ms, msg, NULL, ts));
    }

    /* authentication: the key table, read as the service reads it */
    long long keys = 0;
    t0 = adb__now_ms();
    adb_status ks = adb_key_count(st->db, &keys, err, sizeof(err));
    ms = adb__now_ms() - t0;
    json_object_set_new(services, "auth",
                        ks == ADB_OK ? check("Authentication", "healthy", ms, "Authentication service operational",
                                             json_pack("{s:I}", "apiKeys", (json_int_t)keys), ts)
                                     : check("Authentication", "unhealthy", ms, err, NULL, ts));

    /* the audit service: the writer that commits events, and the verifiable log after it */
    adb_writer_stats ws;
    adb_writer_get_stats(st->db, &ws);
    bool log_failing = false, full = ws.queue_max > 0 && ws.queue_depth * 5 >= ws.queue_max * 4;
    char log_why[200] = "";
    json_t *log = adb_http_log_health(st->db, true, &log_failing, log_why, sizeof(log_why));
    const char *wstatus = !up ? "unhealthy" : full || log_failing ? "degraded" : "healthy";
    json_object_set_new(services, "audit",
        check("Audit Service", wstatus, 0,
              !up ? "events cannot be committed: database unavailable"
                  : full ? "the writer's queue is over 80 % full"
                  : log_failing ? log_why : "Audit service operational",
              json_pack("{s:i, s:i, s:I, s:I, s:I, s:I, s:I, s:i, s:o}", "queueDepth", ws.queue_depth,
                        "queueMax", ws.queue_max, "eventsWritten", (json_int_t)ws.events_written,
                        "batches", (json_int_t)ws.batches, "failed", (json_int_t)ws.failed,
                        "busyRejections", (json_int_t)ws.busy_rejections, "chainConflicts",
                        (json_int_t)ws.chain_conflicts, "lastBatchSize", ws.last_batch_size,
                        "log", log),
              ts));

    const char *overall = "healthy";
    static const char *const order[] = { "database", "redis", "auth", "audit" };
    for (size_t i = 0; i < 4; i++) {
        json_t *c = json_object_get(services, order[i]);
        const char *cs = json_string_value(json_object_get(c, "status"));
        json_array_append(checks, c);
        if (!strcmp(cs, "unhealthy"))
            overall = "unhealthy";
        else if (!strcmp(cs, "degraded") && strcmp(overall, "unhealthy") != 0)
            overall = "degraded";
    }
    json_decref(db);

    adb_http_recent rec;
    adb_http_metrics_recent(st->metrics, uptime_s(req), &rec);
    return adb_http_send_json(
        req, strcmp(overall, "healthy") == 0 ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE,
        json_pack("{s:s, s:s, s:s, s:s, s:f, s:o, s:o, s:o, s:{s:f, s:f, s:f, s:I}}", "status", overall,
                  "timestamp", ts, "environment", environment(), "version", adb_version(), "uptime",
                  uptime_s(req), "checks", checks, "system", system_figures(st), "services", services,
                  "metrics", "requestsPerSecond", rec.requests_per_s, "averageResponseTime", rec.avg_ms,
                  "errorRate", rec.error_rate, "activeConnections", (json_int_t)rec.connections));
}

/* Ready when the database answers and no migration is pending. Redis is
 * reported but does not decide: without it the rate limits are per instance,
 * and taking every instance out of rotation for that would be worse. */
enum MHD_Result adb_http_ops_ready(adb_http_request *req)
{
    char err[ADB_ERRMSG_MAX] = "", rerr[ADB_ERRMSG_MAX], ts[40];
    adb_status st = ADB_OK;
    int pending = 0;
    double ms;
    bool db_ok = false, mig_ok = false, auth_ok = false;
    PGconn *c = adb_pool_acquire(req->state->pool, &st, err, sizeof(err));

    if (c) {
        db_ok = true;
        st = adb_migrate_check(c, req->state->migrations, &pending, err, sizeof(err));
        adb_pool_release(req->state->pool, c);
        mig_ok = st == ADB_OK && pending == 0;
        if (st == ADB_OK && pending > 0)
            adb__fmt(err, sizeof(err), "%d migration(s) pending", pending);
    }
    if (db_ok) {
        long long keys;
        char kerr[ADB_ERRMSG_MAX];
        auth_ok = adb_key_count(req->state->db, &keys, kerr, sizeof(kerr)) == ADB_OK;
        if (!auth_ok && !err[0])
            adb__fmt(err, sizeof(err), "API keys cannot be read: %s", kerr);
    }
    bool redis_ok = adb_ratelimit_redis_check(req->state->ratelimit, &ms, rerr, sizeof(rerr)) != 0;
    adb_http_iso_now(ts);
    json_t *checks = json_pack("{s:b, s:b, s:b, s:b}", "database", db_ok, "redis", redis_ok, "auth",
                               auth_ok, "migrations", mig_ok);
    if (!db_ok || !mig_ok || !auth_ok)
        return adb_http_send_json(req, MHD_HTTP_SERVICE_UNAVAILABLE,
                                  json_pack("{s:s, s:s, s:s, s:o}", "status", "not_ready", "timestamp",
                                            ts, "reason", err, "checks", checks));
    return adb_http_send_json(req, MHD_HTTP_OK, json_pack("{s:s, s:s, s:o}", "status", "ready",
                                                          "timestamp", ts, "checks", checks));
}

enum MHD_Result adb_http_ops_live(adb_http_request *req)
{
    char ts[40];

    adb_http_iso_now(ts);
    return adb_http_send_json(req, MHD_HTTP_OK,
                              json_pack("{s:s, s:s, s:s, s:s, s:f}", "status", "healthy", "timestamp",
                                        ts, "environment", environment(), "version", adb_version(),
                                        "uptime", uptime_s(req)));
}

enum MHD_Result adb_http_ops_metrics(adb_http_request *req)
{
    size_t len = 0;
    adb_http_conn_stats cs;
    adb_http_conns_counts(req->state->conns, &cs.head_timeouts, &cs.shed);
    char *text = adb_http_metrics_render(req->state->metrics, req->state->db, &cs, &len);
    return adb_http_send_text(req, MHD_HTTP_OK, text, len, "text/plain; version=0.0.4");
}

enum MHD_Result adb_http_ops_openapi(adb_http_request *req)
{
    char *copy = malloc(adb__openapi_json_len + 1);
    if (copy)
        memcpy(copy, adb__openapi_json, adb__openapi_json_len + 1);
    return adb_http_send_text(req, MHD_HTTP_OK, copy, adb__openapi_json_len, "application/json");
}
