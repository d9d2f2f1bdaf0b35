/*
 * http.h - what route handlers see: the request, the shared state and the
 * response helpers (internal to the HTTP front).
 */
#ifndef ADB_HTTP_H
#define ADB_HTTP_H

#include <jansson.h>
#include <microhttpd.h>
#include <stdatomic.h>
#include <stdbool.h>
#include "auditdb.h"
#include "target.h"
#include "ratelimit.h"

#define ADB_REQUEST_ID_MAX 65
#define ADB_HTTP_MAX_PARAMS 2
/* The request head as this server takes it (docs/http.md, Limits): above
 * these, 431 (or 414 for the target, ADB_HTTP_TARGET_MAX in target.h) in
 * the API's JSON shape. libmicrohttpd's own memory per connection is set
 * well above (server.c), so that these answer first. */
#define ADB_HTTP_HEAD_MAX (32 * 1024)
#define ADB_HTTP_HEADERS_MAX 100

/* State shared by every request; lives as long as the server. */
typedef struct adb_http_state {
    adb *db;                  /* library handle: writer, keys, roles */
    adb_pool *pool;
    bool embedded;
    const char *home;         /* AUDITDB_HOME (disk figures); may be NULL */
    const adb_migration_set *migrations;
    double started_ms;
    size_t max_body;          /* bytes */
    size_t max_bulk;          /* events per bulk request */
    struct adb_http_metrics *metrics;
    struct adb_ratelimit *ratelimit;
    struct adb_selfaudit *selfaudit;
    struct adb_http_pumps *pumps;   /* answers written as they are read (pull.c) */
    struct adb_http_exports *exports; /* the export worker (export_worker.c) */
    struct adb_http_totals *totals; /* filtered lists' estimated totals (totals.c) */
    struct adb_http_conns *conns;   /* open connections (conns.c) */
    struct adb_http_acceptor *acceptor; /* runs libmicrohttpd: woken when a worker resumes one */
    size_t body_budget;             /* bytes of request bodies buffered at once, in all */
    atomic_size_t body_held;        /* ...reserved now */
    struct adb_http_health_history *health; /* recent health checks (health_history.c) */
    struct adb__tile_cache *tiles;  /* upper tiles of the trees, for receipts (log/tile_cache.h) */
    atomic_llong last_activity_ms;  /* Unix ms when a request was last answered (0: none) */
    int stats_max_events;           /* most events a statistics request counts (statistics.c) */
} adb_http_state;

struct route;

/* One request; freed when the response completes. */
typedef struct adb_http_request {
    struct MHD_Connection *conn;
    adb_http_state *state;
    char *method, *path;        /* owned; path decoded (target.path) */
    adb_http_target target;     /* the raw target decoded and checked (target.h) */
    struct adb_http_conn *conn_entry; /* its connection in state->conns */
    struct conn_ctx *ctx;       /* its connection's context (server.c) */
    char request_id[ADB_REQUEST_ID_MAX];
    double started_ms;
    double db_ms;               /* the handler's time on the database (adb_thread_db_ms) */
    unsigned status;
    const struct route *route;  /* matched route, NULL if none */
    char *param[ADB_HTTP_MAX_PARAMS]; /* {id} captures, owned */
    char *body;                 /* owned, NUL-terminated */
    size_t body_len, body_cap;
    size_t resp_bytes;          /* body bytes of the response kept (api_access_log) */
    bool too_large;
    bool head_done;             /* the access handler saw the complete head */
    bool head_checked;          /* route, key, permission and query checked */
    bool head_job;              /* a worker is checking the head (body not read yet) */
    bool body_busy;             /* the body budget was spent: 503 once it is drained */
    struct adb_http_decoder *decoder; /* Content-Encoding gzip/deflate: decodes the body as
                                         it comes (body_coding.h); owned */
    bool body_bad;              /* the encoded body is not valid: 400 once it is drained */
    size_t body_reserved;       /* bytes of state->body_budget held */
    bool authenticated;
    adb_principal who;
    const char *error_code;     /* of an error response, for the access log */
    const char *cache_control;   /* the response's Cache-Control (static); NULL: no-store */
    const char *extra_header[2]; /* added to the response (names static) */
    char *extra_value[2];        /* owned */
    char ip[46];                 /* the client's address */
    bool rl_checked;             /* rl applies: its header fields are sent */
    adb_rl_decision rl;
    /* The response the handler made, queued by the connection's polling
     * thread (server.c): handlers run on the worker pool. */
    struct MHD_Response *resp;   /* owned until queued */
    bool dispatched;             /* handed to a worker pool (once) */
    /* Work the handler leaves for after its answer: the worker runs
     * after(after_arg) once the connection is resumed, when req may be gone
     * already (so after_arg must not point into it; after frees it). */
    void (*after)(void *after_arg);
    void *after_arg;
    struct adb_http_request *next_job; /* the worker queue's link */
} adb_http_request;

/* Checks what the head decides before any body is read: the target, the
 * route (404, 405), the key, the rate limit and the permission (401, 429,
 * 403), the query parameters (400 naming one) and whether the route takes a
 * body. Sets req->head_checked; on a problem the answer is queued and
 * req->resp is set (routes.c). */
enum MHD_Result adb_http_check_head(adb_http_request *req, bool expects_body);

/* Runs the route matching req (routes.c), checking the head first unless
 * that was done already. */
enum MHD_Result adb_http_dispatch(adb_http_request *req);

/* Queues body as the JSON response (takes the reference to body). */
enum MHD_Result adb_http_send_json(adb_http_request *req, unsigned status, json_t *body);

/* Resumes a connection suspended off a worker (pull.c's pumps): every
 * resume of this server goes through here. */
void adb_http_resume(adb_http_state *st, struct MHD_Connection *conn);

/* Keeps resp (taken) as the answer, with the headers every answer carries. */
enum MHD_Result adb_http_keep_response(adb_http_request *req, unsigned status,
                                       struct MHD_Response *resp);

/* Queues text (taken: freed by the server) with a content type. */
enum MHD_Result adb_http_send_text(adb_http_request *req, unsigned status, char *text, size_t len,
                                   const char *content_type);

/* Queues {"error":{"code","message","details","requestId"}}; takes details
 * (NULL: {}). */
enum MHD_Result adb_http_send_error(adb_http_request *req, unsigned status, const char *code,
                                    const char *message, json_t *details);

/* As send_error, with a Retry-After header (seconds, at least 1). */
enum MHD_Result adb_http_send_retry(adb_http_request *req, unsigned status, const char *code,
                                    const char *message, int retry_after_ms);

/* 400 VALIDATION_ERROR with one {code, field, message} in details.errors: the answer to a
 * request that can never succeed as sent. */
enum MHD_Result adb_http_send_invalid(adb_http_request *req, const char *field, const char *code,
                                      const char *message);

/* Optional members of a JSON body (body_members.c); each false with the 400 naming the
 * member queued in *res. A string: one of the comma-separated `allowed` values, or (allowed
 * NULL) any string of at most max bytes; *out left as it is when absent. A boolean: *out def
 * when absent. */
bool adb_http_member_str(adb_http_request *req, json_t *body, const char *name,
                         const char *allowed, size_t max, const char **out,
                         enum MHD_Result *res);
bool adb_http_member_bool(adb_http_request *req, json_t *body, const char *name, bool def,
                          bool *out, enum MHD_Result *res);
/* The request body as a JSON object whose members are all named in known (NULL-terminated);
 * NULL with the 400 queued in *res: INVALID_JSON (usage as its message when given) or
 * UNKNOWN_FIELD naming the member. The caller owns the object. */
json_t *adb_http_body_object(adb_http_request *req, const char *const *known, const char *usage,
                             enum MHD_Result *res);

/* 503 SERVICE_UNAVAILABLE with Retry-After 1: the database did not answer. */
enum MHD_Result adb_http_send_unavailable(adb_http_request *req);

/* Records a security event about this request (cross-tenant probes...). */
void adb_http_security_event(adb_http_request *req, const char *type, const char *severity,
                             const char *description);

/* A query-string argument, or NULL. */
const char *adb_http_arg(adb_http_request *req, const char *name);

/* Every value of a query parameter the client repeats (name=a&name=b) or
 * separates by commas, as a JSON array text the caller frees (NULL: none
 * given); declare it "name[]" in the route's arguments. */
char *adb_http_arg_list(adb_http_request *req, const char *name);

/* A request header, or NULL. */
const char *adb_http_header(adb_http_request *req, const char *name);

/* Current UTC time as 2026-01-02T03:04:05.678Z. */
void adb_http_iso_now(char out[40]);

/* Calls fn for every route: method, pattern, "resource:action" or "none", summary. */
void adb_http_routes_each(void (*fn)(void *ud, const char *method, const char *pattern,
                                     const char *permission, const char *summary), void *ud);

/* The pattern of a matched route (for metrics), NULL for none. */
const char *adb_http_route_pattern(const struct route *r);

/* Handlers (events.c, archives.c, ops.c). */
enum MHD_Result adb_http_ops_health(adb_http_request *req);
enum MHD_Result adb_http_ops_health_detailed(adb_http_request *req);
enum MHD_Result adb_http_ops_ready(adb_http_request *req);
enum MHD_Result adb_http_ops_live(adb_http_request *req);
enum MHD_Result adb_http_ops_metrics(adb_http_request *req);
enum MHD_Result adb_http_ops_openapi(adb_http_request *req);
enum MHD_Result adb_http_events_create(adb_http_request *req);
enum MHD_Result adb_http_events_bulk(adb_http_request *req);
enum MHD_Result adb_http_events_list(adb_http_request *req);
enum MHD_Result adb_http_events_get(adb_http_request *req);
enum MHD_Result adb_http_events_verify(adb_http_request *req);
enum MHD_Result adb_http_events_proof(adb_http_request *req); /* proofs.c */
/* An event id of another organization asked for: recorded as a cross-tenant
 * probe (events.c; the caller answers 404 as for a missing one). */
struct adb_http_event_ref;
void adb_http_events_probe(adb_http_request *req, const struct adb_http_event_ref *ref);
/* A refused event filter (event_filter.h): 403 for another organization
 * (recorded as a cross-tenant probe), else 400 naming the field (stream.c). */
struct adb_http_filter_error;
enum MHD_Result adb_http_filter_refused(adb_http_request *req, const struct adb_http_filter_error *e);
/* The 503 of an answer adb_http_send_pull could not start (pull.h): busy or
 * the database unavailable (stream.c). */
enum MHD_Result adb_http_pull_refused(adb_http_request *req, int rc);
enum MHD_Result adb_http_events_stream(adb_http_request *req);
enum MHD_Result adb_http_events_statistics(adb_http_request *req);
enum MHD_Result adb_http_exports_create(adb_http_request *req);
enum MHD_Result adb_http_exports_status(adb_http_request *req);
enum MHD_Result adb_http_exports_download(adb_http_request *req);
enum MHD_Result adb_http_exports_cancel(adb_http_request *req);
/* GDPR exports and their settings (gdpr_export.c, gdpr_settings.c) */
enum MHD_Result adb_http_gdpr_export(adb_http_request *req);
enum MHD_Result adb_http_gdpr_export_stream(adb_http_request *req);
enum MHD_Result adb_http_gdpr_settings_get(adb_http_request *req);
enum MHD_Result adb_http_gdpr_settings_put(adb_http_request *req);
enum MHD_Result adb_http_archives_list(adb_http_request *req);
enum MHD_Result adb_http_archives_events(adb_http_request *req);
/* the verifiable log's checkpoints (checkpoints.c) */
enum MHD_Result adb_http_log_checkpoint(adb_http_request *req);
enum MHD_Result adb_http_log_vkey(adb_http_request *req);
/* the verifiable log's tree (log_tiles.c, docs/log.md) */
enum MHD_Result adb_http_log_tile(adb_http_request *req);
enum MHD_Result adb_http_log_consistency(adb_http_request *req);
/* the health service under /api/v1/health (health_api.c) */
enum MHD_Result adb_http_health_check(adb_http_request *req);
enum MHD_Result adb_http_health_ready(adb_http_request *req);
enum MHD_Result adb_http_health_alive(adb_http_request *req);
enum MHD_Result adb_http_health_version(adb_http_request *req);
enum MHD_Result adb_http_health_detailed(adb_http_request *req);
enum MHD_Result adb_http_health_run(adb_http_request *req);
enum MHD_Result adb_http_health_status(adb_http_request *req);
enum MHD_Result adb_http_health_component(adb_http_request *req);
enum MHD_Result adb_http_health_dependencies(adb_http_request *req);
enum MHD_Result adb_http_health_dependency(adb_http_request *req);
enum MHD_Result adb_http_health_get_history(adb_http_request *req);
enum MHD_Result adb_http_health_metrics(adb_http_request *req);
enum MHD_Result adb_http_health_cache_reset(adb_http_request *req);
enum MHD_Result adb_http_health_config(adb_http_request *req);
enum MHD_Result adb_http_health_config_put(adb_http_request *req); /* health_config.c */
enum MHD_Result adb_http_health_connectivity(adb_http_request *req);
enum MHD_Result adb_http_health_system(adb_http_request *req);
/* pseudonymization, erasure, reversal, legal holds (gdpr_erase.c, docs/gdpr.md) */
enum MHD_Result adb_http_gdpr_pseudonymize(adb_http_request *req);
enum MHD_Result adb_http_gdpr_erase(adb_http_request *req);
enum MHD_Result adb_http_gdpr_reverse(adb_http_request *req);
enum MHD_Result adb_http_gdpr_hold_create(adb_http_request *req);

#endif
