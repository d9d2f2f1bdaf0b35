/*
 * routes.c - the route table of the HTTP API and the operations handlers
 * (/health, /ready, /live). Every route is one row: method, path, handler.
 */
#include "http.h"
#include "../core/util.h"

#include <string.h>

typedef enum MHD_Result (*route_fn)(adb_http_request *req);

typedef struct route {
    const char *method;
    const char *path;
    route_fn fn;
    const char *summary;
} route;

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

static enum MHD_Result handle_health(adb_http_request *req)
{
    char ts[40];
    bool up;
    json_t *db = database_check(req->state, &up);

    adb_http_iso_now(ts);
    return adb_http_send_json(
        req, up ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE,
        json_pack("{s:s, s:s, s:s, s:f, s:{s:o}}", "status", up ? "healthy" : "unhealthy",
                  "timestamp", ts, "version", adb_version(), "uptimeSeconds",
                  (adb__now_ms() - req->state->started_ms) / 1000.0, "checks", "database", db));
}

static enum MHD_Result handle_ready(adb_http_request *req)
{
    char err[ADB_ERRMSG_MAX] = "";
    adb_status st = ADB_OK;
    int pending = 0;
    PGconn *c = adb_pool_acquire(req->state->pool, &st, err, sizeof(err));

    if (c) {
        st = adb_migrate_check(c, req->state->migrations, &pending, err, sizeof(err));
        adb_pool_release(req->state->pool, c);
        if (st == ADB_OK && pending > 0) {
            adb__fmt(err, sizeof(err), "%d migration(s) pending", pending);
            st = ADB_ERR_MIGRATION;
        }
    }
    if (st != ADB_OK)
        return adb_http_send_json(req, MHD_HTTP_SERVICE_UNAVAILABLE,
                                  json_pack("{s:s, s:s}", "status", "not ready", "reason", err));
    return adb_http_send_json(req, MHD_HTTP_OK, json_pack("{s:s}", "status", "ready"));
}

static enum MHD_Result handle_live(adb_http_request *req)
{
    return adb_http_send_json(req, MHD_HTTP_OK, json_pack("{s:s}", "status", "alive"));
}

static const route routes[] = {
    { "GET", "/health", handle_health, "service and database health" },
    { "GET", "/ready", handle_ready, "ready to serve: database reachable, schema current" },
    { "GET", "/live", handle_live, "the process is alive" },
    { NULL, NULL, NULL, NULL },
};

enum MHD_Result adb_http_dispatch(adb_http_request *req)
{
    bool path_known = false;

    for (const route *r = routes; r->path; r++) {
        if (strcmp(r->path, req->path) != 0)
            continue;
        path_known = true;
        if (strcmp(r->method, req->method) == 0 ||
            (strcmp(r->method, "GET") == 0 && strcmp(req->method, "HEAD") == 0)) {
            if (req->has_body)
                return adb_http_send_error(req, MHD_HTTP_BAD_REQUEST, "BODY_NOT_ALLOWED",
                                           "this endpoint takes no request body", NULL);
            return r->fn(req);
        }
    }
    if (path_known)
        return adb_http_send_error(req, MHD_HTTP_METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED",
                                   "method not allowed on this path",
                                   json_pack("{s:s}", "method", req->method));
    return adb_http_send_error(req, MHD_HTTP_NOT_FOUND, "NOT_FOUND", "no such endpoint",
                               json_pack("{s:s}", "path", req->path));
}
