/*
 * routes.c - the route table of the HTTP API, authentication and permission
 * checks, and the operations handlers (/health, /ready, /live).
 * Every route is one row: method, path pattern ({name} matches one segment),
 * handler, and the permission it needs (resource, action; NULL: public).
 */
#include "http.h"
#include "../core/util.h"

#include <string.h>

typedef enum MHD_Result (*route_fn)(adb_http_request *req);

typedef struct route {
    const char *method;
    const char *pattern;
    route_fn fn;
    const char *resource; /* NULL: no authentication */
    const char *action;
    const char *summary;
} route;

/* ---- operations --------------------------------------------------------- */

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

static enum MHD_Result health(adb_http_request *req, bool detailed)
{
    char ts[40];
    bool up;
    json_t *checks = json_object();

    json_object_set_new(checks, "database", database_check(req->state, &up));
    if (detailed && req->state->db) {
        adb_writer_stats ws;
        adb_writer_get_stats(req->state->db, &ws);
        json_object_set_new(checks, "writer",
                            json_pack("{s:s, s:i, s:i, s:I, s:I, s:I, s:I}", "status",
                                      ws.queue_depth < ws.queue_max ? "up" : "saturated",
                                      "queueDepth", ws.queue_depth, "queueMax", ws.queue_max,
                                      "eventsWritten", (json_int_t)ws.events_written,
                                      "batches", (json_int_t)ws.batches,
                                      "failed", (json_int_t)ws.failed,
                                      "busyRejections", (json_int_t)ws.busy_rejections));
    }
    adb_http_iso_now(ts);
    return adb_http_send_json(
        req, up ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE,
        json_pack("{s:s, s:s, s:s, s:f, s:o}", "status", up ? "healthy" : "unhealthy",
                  "timestamp", ts, "version", adb_version(), "uptimeSeconds",
                  (adb__now_ms() - req->state->started_ms) / 1000.0, "checks", checks));
}

static enum MHD_Result handle_health(adb_http_request *req) { return health(req, false); }
static enum MHD_Result handle_health_detailed(adb_http_request *req) { return health(req, true); }

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

/* ---- the table ---------------------------------------------------------- */

static const route routes[] = {
    { "GET", "/health", handle_health, NULL, NULL, "service and database health" },
    { "GET", "/health/detailed", handle_health_detailed, NULL, NULL, "health with writer and pool figures" },
    { "GET", "/ready", handle_ready, NULL, NULL, "ready: database reachable, schema current" },
    { "GET", "/live", handle_live, NULL, NULL, "the process is alive" },
    { "POST", "/api/v1/audit/events", adb_http_events_create, "audit.events", "create", "store one event" },
    { "POST", "/api/v1/audit/events/bulk", adb_http_events_bulk, "audit.events", "create", "store many events" },
    { "GET", "/api/v1/audit/events", adb_http_events_list, "audit.events", "read", "list events" },
    { "GET", "/api/v1/audit/events/{id}", adb_http_events_get, "audit.events", "read", "one event" },
    { "POST", "/api/v1/audit/events/{id}/verify", adb_http_events_verify, "audit.events", "verify", "verify one event" },
    { NULL, NULL, NULL, NULL, NULL, NULL },
};

/* Matches path against pattern, capturing {name} segments into req->param. */
static bool match(const char *pattern, const char *path, adb_http_request *req, bool capture)
{
    int np = 0;

    while (*pattern && *path) {
        if (*pattern == '{') {
            const char *pend = strchr(pattern, '}');
            const char *seg_end = strchr(path, '/');
            size_t n = seg_end ? (size_t)(seg_end - path) : strlen(path);
            if (!pend || n == 0 || np >= ADB_HTTP_MAX_PARAMS)
                return false;
            if (capture) {
                free(req->param[np]);
                req->param[np] = strndup(path, n);
            }
            np++;
            pattern = pend + 1;
            path += n;
            continue;
        }
        if (*pattern != *path)
            return false;
        pattern++;
        path++;
    }
    return *pattern == '\0' && *path == '\0';
}

/* The presented key: X-API-Key, else Authorization: Bearer. */
static const char *presented_key(adb_http_request *req)
{
    const char *k = adb_http_header(req, "X-API-Key");
    const char *auth;

    if (k && *k)
        return k;
    auth = adb_http_header(req, "Authorization");
    if (auth && strncasecmp(auth, "Bearer ", 7) == 0) {
        auth += 7;
        while (*auth == ' ')
            auth++;
        return *auth ? auth : NULL;
    }
    return NULL;
}

static enum MHD_Result authorize(adb_http_request *req, const route *r, bool *ok)
{
    char err[ADB_ERRMSG_MAX];
    const char *key = presented_key(req);
    adb_status st;

    *ok = false;
    if (!key)
        return adb_http_send_error(req, MHD_HTTP_UNAUTHORIZED, "UNAUTHORIZED",
                                   "missing API key: send X-API-Key or Authorization: Bearer", NULL);
    st = adb_key_authenticate(req->state->db, key, &req->who, err, sizeof(err));
    if (st == ADB_ERR_NOT_FOUND)
        return adb_http_send_error(req, MHD_HTTP_UNAUTHORIZED, "UNAUTHORIZED", "invalid API key", NULL);
    if (st != ADB_OK)
        return adb_http_send_retry(req, MHD_HTTP_SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE",
                                   "could not check the API key: database unavailable", 1000);
    req->authenticated = true;
    st = adb_permission_check(req->state->db, &req->who, r->resource, r->action, err, sizeof(err));
    if (st == ADB_ERR_NOT_FOUND)
        return adb_http_send_error(req, MHD_HTTP_FORBIDDEN, "FORBIDDEN", err,
                                   json_pack("{s:s}", "required", r->resource));
    if (st != ADB_OK)
        return adb_http_send_retry(req, MHD_HTTP_SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE",
                                   "could not check permissions: database unavailable", 1000);
    *ok = true;
    return MHD_YES;
}

enum MHD_Result adb_http_dispatch(adb_http_request *req)
{
    bool path_known = false;
    const route *found = NULL;

    for (const route *r = routes; r->pattern && !found; r++) {
        if (!match(r->pattern, req->path, req, false))
            continue;
        path_known = true;
        if (strcmp(r->method, req->method) == 0 ||
            (strcmp(r->method, "GET") == 0 && strcmp(req->method, "HEAD") == 0))
            found = r;
    }
    /* a literal route wins over a pattern: /events/bulk is not /events/{id} */
    if (found && strchr(found->pattern, '{')) {
        for (const route *r = routes; r->pattern; r++)
            if (!strchr(r->pattern, '{') && !strcmp(r->pattern, req->path) &&
                !strcmp(r->method, req->method))
                found = r;
    }
    if (!found) {
        if (path_known)
            return adb_http_send_error(req, MHD_HTTP_METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED",
                                       "method not allowed on this path",
                                       json_pack("{s:s}", "method", req->method));
        return adb_http_send_error(req, MHD_HTTP_NOT_FOUND, "NOT_FOUND", "no such endpoint",
                                   json_pack("{s:s}", "path", req->path));
    }
    req->route = found;
    match(found->pattern, req->path, req, true);
    if (found->resource) {
        bool ok;
        enum MHD_Result r = authorize(req, found, &ok);
        if (!ok)
            return r;
    }
    if (req->body_len > 0 && strcmp(found->method, "POST") != 0)
        return adb_http_send_error(req, MHD_HTTP_BAD_REQUEST, "BODY_NOT_ALLOWED",
                                   "this endpoint takes no request body", NULL);
    return found->fn(req);
}

/* For the OpenAPI check: "METHOD PATTERN" of every route, one per line. */
size_t adb_http_routes_list(char *out, size_t len)
{
    size_t used = 0;
    for (const route *r = routes; r->pattern; r++) {
        int n = snprintf(out + used, used < len ? len - used : 0, "%s %s\n", r->method, r->pattern);
        if (n > 0)
            used += (size_t)n;
    }
    return used;
}
