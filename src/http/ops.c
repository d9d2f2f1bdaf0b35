/*
 * ops.c - operations endpoints: /health, /health/detailed, /ready, /live,
 * /metrics, /api/v1/openapi.json (shapes: docs/api.md).
 */
#include "http.h"
#include "metrics.h"
#include "../core/util.h"

#include <stdlib.h>
#include <string.h>
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

enum MHD_Result adb_http_ops_health_detailed(adb_http_request *req)
{
    char ts[40];
    bool up;
    json_t *db = database_check(req->state, &up);
    adb_writer_stats ws;
    struct sysinfo si;
    json_t *checks = json_array();

    adb_http_iso_now(ts);
    adb_writer_get_stats(req->state->db, &ws);
    bool writer_ok = ws.queue_depth < ws.queue_max;
    json_array_append_new(checks, json_pack("{s:s, s:s, s:O, s:s}", "name", "database", "status",
                                            up ? "OK" : "CRITICAL", "details", db, "lastChecked", ts));
    json_array_append_new(checks,
                          json_pack("{s:s, s:s, s:{s:i, s:i, s:I, s:I, s:I, s:I, s:i}, s:s}", "name",
                                    "writer", "status", writer_ok ? "OK" : "WARNING", "details",
                                    "queueDepth", ws.queue_depth, "queueMax", ws.queue_max,
                                    "eventsWritten", (json_int_t)ws.events_written, "batches",
                                    (json_int_t)ws.batches, "failed", (json_int_t)ws.failed,
                                    "busyRejections", (json_int_t)ws.busy_rejections,
                                    "lastBatchSize", ws.last_batch_size, "lastChecked", ts));
    json_array_append_new(checks, json_pack("{s:s, s:s, s:s, s:s}", "name", "redis", "status", "OK",
                                            "message", getenv("REDIS_URL") ? "configured" : "not configured",
                                            "lastChecked", ts));
    json_t *system = json_object();
    if (sysinfo(&si) == 0) {
        double total = (double)si.totalram * si.mem_unit, freeb = (double)si.freeram * si.mem_unit;
        json_object_set_new(system, "memory", json_pack("{s:f, s:f, s:f}", "used", total - freeb,
                                                        "total", total, "percentage",
                                                        total > 0 ? 100.0 * (total - freeb) / total : 0.0));
        json_object_set_new(system, "cpu", json_pack("{s:[f, f, f]}", "loadAverage",
                                                     si.loads[0] / 65536.0, si.loads[1] / 65536.0,
                                                     si.loads[2] / 65536.0));
    }
    json_decref(db);
    return adb_http_send_json(
        req, up ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE,
        json_pack("{s:s, s:s, s:s, s:s, s:f, s:o, s:o, s:{s:s, s:s, s:s}}", "status",
                  up ? "healthy" : "unhealthy", "timestamp", ts, "environment", environment(),
                  "version", adb_version(), "uptime", uptime_s(req), "checks", checks, "system",
                  system, "services", "database", up ? "healthy" : "unhealthy", "writer",
                  writer_ok ? "healthy" : "degraded", "redis",
                  getenv("REDIS_URL") ? "configured" : "not configured"));
}

enum MHD_Result adb_http_ops_ready(adb_http_request *req)
{
    char err[ADB_ERRMSG_MAX] = "", ts[40];
    adb_status st = ADB_OK;
    int pending = 0;
    bool db_ok = false, mig_ok = false;
    PGconn *c = adb_pool_acquire(req->state->pool, &st, err, sizeof(err));

    if (c) {
        db_ok = true;
        st = adb_migrate_check(c, req->state->migrations, &pending, err, sizeof(err));
        adb_pool_release(req->state->pool, c);
        mig_ok = st == ADB_OK && pending == 0;
        if (st == ADB_OK && pending > 0)
            adb__fmt(err, sizeof(err), "%d migration(s) pending", pending);
    }
    adb_http_iso_now(ts);
    json_t *checks = json_pack("{s:b, s:b, s:b, s:b}", "database", db_ok, "redis", true, "auth",
                               db_ok, "migrations", mig_ok);
    if (!db_ok || !mig_ok)
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
    char *text = adb_http_metrics_render(req->state->metrics, req->state->db, &len);
    return adb_http_send_text(req, MHD_HTTP_OK, text, len, "text/plain; version=0.0.4");
}

enum MHD_Result adb_http_ops_openapi(adb_http_request *req)
{
    char *copy = malloc(adb__openapi_json_len + 1);
    if (copy)
        memcpy(copy, adb__openapi_json, adb__openapi_json_len + 1);
    return adb_http_send_text(req, MHD_HTTP_OK, copy, adb__openapi_json_len, "application/json");
}
