/*
 * server.c - libmicrohttpd setup, per-request context, request ids, JSON
 * responses and the access log. Route handlers live in routes.c.
 */
#include "server.h"
#include "http.h"
#include "body_coding.h"
#include "health_history.h"
#include "conns.h"
#include "acceptor.h"
#include "totals.h"
#include "../log/tile_cache.h"
#include "metrics.h"
#include "ratelimit.h"
#include "selfaudit.h"
#include "workers.h"
#include "pull.h"
#include "export_worker.h"
#include "../core/util.h"
#include "../monitor/errors.h"

#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <microhttpd.h>
#include <netdb.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

/*
 * Threads. libmicrohttpd runs on the acceptor's thread (acceptor.c, which
 * relays each client to it) and only reads and writes: once a request is whole, its connection is suspended and the
 * request handed to a worker pool (workers.c; opts.threads workers for reads,
 * as many for writes), whose handlers may wait on PostgreSQL or on the
 * writer's COMMIT. The worker keeps the response on the request and resumes
 * the connection; the polling thread then queues it. So a request waiting
 * for the database never holds up the other connections of the polling
 * thread, and creates waiting for a slow fsync never hold up page reads.
 */

/* libmicrohttpd's memory per connection, for the request line, headers and
 * its bookkeeping: well above what this server accepts (ADB_HTTP_HEAD_MAX,
 * ADB_HTTP_TARGET_MAX, ADB_HTTP_HEADERS_MAX), so that a head over those
 * limits reaches the access handler and gets the API's JSON answer. At its
 * own limit libmicrohttpd answers in HTML, or closes the connection, or
 * waits (docs/http.md, Limits). */
#define MHD_MEMORY_PER_CONNECTION (128 * 1024)
/* Default total of request bodies buffered at once (AUDITDB_HTTP_BODY_BUDGET). */
#define BODY_BUDGET_DEFAULT ((size_t)256 << 20)
#define PER_IP_CONNECTIONS 256

struct adb_server {
    struct MHD_Daemon *daemon;
    adb_server_options opts;
    adb_http_state state;
    char address[300];
    pthread_mutex_t log_mu;
    adb_http_workers *reads, *writes;
    adb_http_acceptor *acceptor;
    adb_http_workers *probes; /* /health, /ready, /live: never queued behind database calls */
};

#define PROBE_THREADS 2
#define PUMP_THREADS 4

/* The probes of load balancers and orchestrators answer within a second
 * whatever the database does (adb_pool_ping is bounded), so they must not
 * wait for a worker that is itself waiting for the database. */
static bool is_probe(const char *method, const char *path)
{
    /* the health service's checks are bounded the same way (health_api.c) */
    if (!strncmp(path, "/api/v1/health", 14) && (path[14] == '\0' || path[14] == '/'))
        return true;
    return !strcmp(method, "GET") &&
           (!strcmp(path, "/health") || !strcmp(path, "/ready") || !strcmp(path, "/live"));
}

/* Accepts a caller's X-Request-Id when it is short and plain, else makes one. */
static void request_id(struct MHD_Connection *conn, char out[ADB_REQUEST_ID_MAX])
{
    const char *given = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
    unsigned char rnd[12];

    if (given) {
        size_t n = strlen(given);
        bool plain = n > 0 && n < ADB_REQUEST_ID_MAX;
        for (size_t i = 0; plain && i < n; i++) {
            char c = given[i];
            plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
        }
        if (plain) {
            memcpy(out, given, n + 1);
            return;
        }
    }
    if (RAND_bytes(rnd, sizeof(rnd)) != 1)
        memset(rnd, 0, sizeof(rnd));
    adb__hex(rnd, sizeof(rnd), out);
}

/* Keeps resp as the request's response (the polling thread queues it). */
static enum MHD_Result keep_response(adb_http_request *req, unsigned status, struct MHD_Response *resp)
{
    if (req->resp)
        MHD_destroy_response(req->resp);
    req->resp = resp;
    req->status = status;
    return MHD_YES;
}

/* In the polling thread: queues the response the handler made. */
static enum MHD_Result deliver(adb_http_request *req)
{
    enum MHD_Result r = MHD_NO; /* no response: the connection is closed */

    if (req->resp) {
        r = MHD_queue_response(req->conn, req->status, req->resp);
        MHD_destroy_response(req->resp);
        req->resp = NULL;
    }
    return r;
}

static void add_header(void *resp, const char *name, const char *value)
{
    MHD_add_response_header(resp, name, value);
}

/* Headers every response of an authenticated, rate-limited request carries. */
static void add_common(adb_http_request *req, struct MHD_Response *resp)
{
    if (req->rl_checked)
        adb_ratelimit_headers(&req->rl, add_header, resp);
}

void adb_http_security_event(adb_http_request *req, const char *type, const char *severity,
                             const char *description)
{
    if (req->state->selfaudit)
        adb_selfaudit_security(req->state->selfaudit, type, severity, req->who.organization_id,
                               req->who.key_id, req->ip, req->request_id, description);
}

enum MHD_Result adb_http_send_json(adb_http_request *req, unsigned status, json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT);
    struct MHD_Response *resp;

    json_decref(body);
    if (!text)
        text = strdup("{\"error\":{\"code\":\"INTERNAL_ERROR\",\"message\":\"out of memory\"}}");
    if (!text)
        return MHD_NO;
    req->resp_bytes = strlen(text); /* api_access_log.response_bytes (bytes_sent) */
    resp = MHD_create_response_from_buffer(req->resp_bytes, text, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "application/json");
    MHD_add_response_header(resp, "X-Request-Id", req->request_id);
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    add_common(req, resp);
    return keep_response(req, status, resp);
}

enum MHD_Result adb_http_send_text(adb_http_request *req, unsigned status, char *text, size_t len,
                                   const char *content_type)
{
    struct MHD_Response *resp;

    if (!text)
        return adb_http_send_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "INTERNAL_ERROR",
                                   "out of memory", NULL);
    req->resp_bytes = len; /* api_access_log.response_bytes (bytes_sent) */
    resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", content_type);
    MHD_add_response_header(resp, "X-Request-Id", req->request_id);
    MHD_add_response_header(resp, "Cache-Control",
                            req->cache_control ? req->cache_control : "no-store");
    for (int i = 0; i < 2; i++)
        if (req->extra_header[i] && req->extra_value[i])
            MHD_add_response_header(resp, req->extra_header[i], req->extra_value[i]);
    add_common(req, resp);
    return keep_response(req, status, resp);
}

void adb_http_resume(adb_http_state *st, struct MHD_Connection *conn)
{
    struct adb_http_acceptor *acc = st->acceptor; /* runs libmicrohttpd: wake it */
    MHD_resume_connection(conn);
    adb_http_acceptor_wake(acc);
}

enum MHD_Result adb_http_keep_response(adb_http_request *req, unsigned status,
                                       struct MHD_Response *resp)
{
    MHD_add_response_header(resp, "X-Request-Id", req->request_id);
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    for (int i = 0; i < 2; i++)
        if (req->extra_header[i] && req->extra_value[i])
            MHD_add_response_header(resp, req->extra_header[i], req->extra_value[i]);
    add_common(req, resp);
    return keep_response(req, status, resp);
}

const char *adb_http_arg(adb_http_request *req, const char *name)
{
    return adb_http_target_arg(&req->target, name);
}

char *adb_http_arg_list(adb_http_request *req, const char *name)
{
    json_t *a = json_array();
    char *out = NULL;

    for (int i = 0; i < req->target.nparams; i++) {
        if (strcmp(req->target.name[i], name) != 0)
            continue;
        for (const char *s = req->target.value[i]; *s;) {
            const char *e = strchr(s, ',');
            size_t n = e ? (size_t)(e - s) : strlen(s);
            if (n)
                json_array_append_new(a, json_stringn(s, n));
            s += n + (e != NULL);
        }
    }
    if (json_array_size(a))
        out = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    return out;
}

const char *adb_http_header(adb_http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

/* A 5xx answer is the service's own failure (docs/monitoring.md, "Errors"):
 * the route's pattern, the status and code, never the request's values. */
static void record_5xx(adb_http_request *req, unsigned status, const char *code)
{
    char what[200];

    if (status < 500)
        return;
    adb__fmt(what, sizeof(what), "%s %s answered %u %s", req->method ? req->method : "-",
             req->route ? adb_http_route_pattern(req->route) : "(no route)", status, code);
    adb__error_record(req->state ? req->state->db : NULL, &(adb__error_report){
        .category = "HTTP_ERROR", .severity = status == 503 ? "MEDIUM" : "HIGH",
        .code = status == 503 ? "HTTP_503" : "HTTP_5XX", .component = "http",
        .operation = "answer", .message = what,
        .org = req->authenticated ? req->who.organization_id : NULL,
        .request_id = req->request_id, .retryable = status == 503 });
}

enum MHD_Result adb_http_send_retry(adb_http_request *req, unsigned status, const char *code,
                                    const char *message, int retry_after_ms)
{
    json_t *err = json_pack("{s:s, s:s, s:{s:i}, s:s}", "code", code, "message", message,
                            "details", "retryAfterMs", retry_after_ms, "requestId", req->request_id);
    json_t *body = json_pack("{s:o}", "error", err);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL; /* every 503 leaked its body */
    struct MHD_Response *resp;
    char secs[16];

    json_decref(body);
    record_5xx(req, status, code);
    if (!text)
        return MHD_NO;
    req->resp_bytes = strlen(text); /* api_access_log.response_bytes (bytes_sent) */
    resp = MHD_create_response_from_buffer(req->resp_bytes, text, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(text);
        return MHD_NO;
    }
    adb__fmt(secs, sizeof(secs), "%d", retry_after_ms <= 1000 ? 1 : (retry_after_ms + 999) / 1000);
    MHD_add_response_header(resp, "Content-Type", "application/json");
    MHD_add_response_header(resp, "X-Request-Id", req->request_id);
    MHD_add_response_header(resp, "Retry-After", secs);
    add_common(req, resp);
    req->error_code = code;
    return keep_response(req, status, resp);
}

enum MHD_Result adb_http_send_error(adb_http_request *req, unsigned status, const char *code,
                                    const char *message, json_t *details)
{
    json_t *err = json_pack("{s:s, s:s, s:o, s:s}", "code", code, "message", message, "details",
                            details ? details : json_object(), "requestId", req->request_id);
    req->error_code = code;
    record_5xx(req, status, code);
    return adb_http_send_json(req, status, json_pack("{s:o}", "error", err));
}

enum MHD_Result adb_http_send_invalid(adb_http_request *req, const char *field, const char *code,
                                      const char *message)
{
    return adb_http_send_error(req, MHD_HTTP_BAD_REQUEST, "VALIDATION_ERROR", message,
                               json_pack("{s:[{s:s, s:s, s:s}]}", "errors", "code", code, "field",
                                         field, "message", message));
}

enum MHD_Result adb_http_send_unavailable(adb_http_request *req)
{
    return adb_http_send_retry(req, MHD_HTTP_SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE",
                               "the database is unavailable: retry later", 1000);
}

void adb_http_iso_now(char out[40])
{
    struct timespec ts;
    struct tm tm;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 40 - n, ".%03ldZ", ts.tv_nsec / 1000000L);
}

static void log_request(adb_server *s, adb_http_request *req)
{
    char ts[40];
    json_t *line;
    char *text;

    if (!s->opts.access_log)
        return;
    adb_http_iso_now(ts);
    /* method, path and status only: never headers, bodies or query strings;
     * and a matched route's pattern, not the path, so that no path parameter
     * (an event or archive id) reaches the log (docs/http.md) */
    const char *pattern = req->route ? adb_http_route_pattern(req->route) : NULL;
    line = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:f, s:f}", "ts", ts, "level", "info",
                     "requestId", req->request_id, "method", req->method ? req->method : "",
                     "path", pattern ? pattern : req->target.log_path ? req->target.log_path : "",
                     "status", (int)req->status, "durationMs", adb__now_ms() - req->started_ms,
                     "dbMs", req->db_ms);
    if (line && req->error_code)
        json_object_set_new(line, "errorCode", json_string(req->error_code));
    if (line && req->who.organization_id[0]) {
        json_object_set_new(line, "organizationId", json_string(req->who.organization_id));
        json_object_set_new(line, "apiKey", json_string(req->who.key_id));
    }
    text = line ? json_dumps(line, JSON_COMPACT) : NULL;
    json_decref(line);
    if (!text)
        return;
    pthread_mutex_lock(&s->log_mu);
    fprintf(s->opts.access_log, "%s\n", text);
    fflush(s->opts.access_log);
    pthread_mutex_unlock(&s->log_mu);
    free(text);
}

/* ---- the body budget ------------------------------------------------------ */

/* Reserves n more bytes of the bodies' budget for req; false when the
 * budget has no room now (the caller answers 503: it will have room). */
static bool budget_take(adb_http_request *req, size_t n)
{
    adb_http_state *st = req->state;
    size_t held = atomic_load(&st->body_held);

    do {
        if (held > st->body_budget || n > st->body_budget - held)
            return false;
    } while (!atomic_compare_exchange_weak(&st->body_held, &held, held + n));
    req->body_reserved += n;
    return true;
}

static void budget_release(adb_http_request *req)
{
    if (req->body_reserved)
        atomic_fetch_sub(&req->state->body_held, req->body_reserved);
    req->body_reserved = 0;
}

static enum MHD_Result send_busy(adb_http_request *req)
{
    return adb_http_send_retry(req, MHD_HTTP_SERVICE_UNAVAILABLE, "SERVER_BUSY",
                               "the server is receiving as many request bodies as it buffers at "
                               "once: retry shortly", 1000);
}

static enum MHD_Result send_too_large(adb_http_request *req)
{
    char msg[128];
    adb__fmt(msg, sizeof(msg), "request body larger than %zu bytes", req->state->max_body);
    return adb_http_send_error(req, MHD_HTTP_CONTENT_TOO_LARGE, "PAYLOAD_TOO_LARGE", msg,
                               json_pack("{s:I}", "limitBytes", (json_int_t)req->state->max_body));
}

/* Appends n bytes (as sent, or as decoded) to req's body, growing it within
 * max_body and the budget; false, with too_large or body_busy set, when it
 * may not grow (the rest is drained, then refused). A decoder calls it for
 * each piece it inflates, so the limits hold for the decoded size. */
static bool body_take(void *ud, const char *data, size_t n)
{
    adb_http_request *req = ud;
    adb_http_state *st = req->state;

    if (req->body_len + n > st->max_body) {
        req->too_large = true;
        return false;
    }
    if (req->body_len + n + 1 > req->body_cap) { /* chunked or decoded: grows as it comes */
        size_t ncap = req->body_cap ? req->body_cap : 4096;
        while (ncap < req->body_len + n + 1)
            ncap *= 2;
        if (ncap > st->max_body + 1)
            ncap = st->max_body + 1;
        if (!budget_take(req, ncap - req->body_cap)) {
            req->body_busy = true;
            return false;
        }
        char *nb = realloc(req->body, ncap);
        if (!nb) {
            req->body_busy = true;
            return false;
        }
        req->body = nb;
        req->body_cap = ncap;
    }
    memcpy(req->body + req->body_len, data, n);
    req->body_len += n;
    req->body[req->body_len] = '\0';
    return true;
}

/* Content-Encoding of a body about to be read (docs/http.md, "Compressed
 * request bodies"): a decoder for gzip or deflate, nothing for identity.
 * True when an answer was made instead: 415 for a coding not decoded here
 * (naming it, with Accept-Encoding saying which are), 503 when the budget
 * has no room for a decoder. */
static bool start_decoder(adb_http_request *req, const char *value)
{
    adb_http_coding coding;
    char bad[80], msg[200];

    if (!adb_http_coding_parse(value, &coding, bad, sizeof(bad))) {
        adb__utf8_repair(bad);
        adb__fmt(msg, sizeof(msg), "Content-Encoding \"%s\" is not supported: send the body as "
                 "gzip, deflate or without a Content-Encoding", bad);
        adb_http_send_error(req, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "UNSUPPORTED_CONTENT_ENCODING", msg,
                            json_pack("{s:s, s:[s, s, s]}", "contentEncoding", bad, "supported",
                                      "gzip", "deflate", "identity"));
        if (req->resp) /* RFC 9110 15.5.16: say which codings are accepted */
            MHD_add_response_header(req->resp, "Accept-Encoding", "gzip, deflate");
        return true;
    }
    if (coding == ADB_CODING_IDENTITY)
        return false;
    if (!budget_take(req, ADB_HTTP_DECODER_MEMORY)) {
        send_busy(req);
        return true;
    }
    if (!(req->decoder = adb_http_decoder_new(coding))) {
        adb_http_send_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", "out of memory", NULL);
        return true;
    }
    return false;
}

static enum MHD_Result send_bad_encoding(adb_http_request *req)
{
    const char *ce = adb_http_header(req, "Content-Encoding");
    char coding[80];

    adb__fmt(coding, sizeof(coding), "%.64s", ce ? ce : "");
    adb__utf8_repair(coding);
    return adb_http_send_error(req, MHD_HTTP_BAD_REQUEST, "INVALID_CONTENT_ENCODING",
                               adb_http_decoder_error(req->decoder),
                               json_pack("{s:s, s:s}", "contentEncoding", coding, "field", "body"));
}

/* ---- callbacks ------------------------------------------------------------ */

/* What a connection carries (its socket context): its entry in the
 * connection table and the request in progress on it. libmicrohttpd does
 * not always say when a request it refused itself ends (a head over its
 * memory limit), so the next request line, or the connection's end, frees
 * what it left. */
typedef struct conn_ctx {
    struct adb_http_conn *entry;
    adb_http_request *req;
} conn_ctx;

static void request_free(adb_http_request *req)
{
    budget_release(req);
    adb_http_decoder_free(req->decoder);
    free(req->method);
    free(req->body);
    adb_http_target_free(&req->target);
    for (int i = 0; i < ADB_HTTP_MAX_PARAMS; i++)
        free(req->param[i]);
    for (int i = 0; i < 2; i++)
        free(req->extra_value[i]);
    if (req->resp)
        MHD_destroy_response(req->resp);
    free(req);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    adb_server *s = cls;
    adb_http_request *req = *con_cls;

    (void)toe;
    if (!req)
        return;
    const union MHD_ConnectionInfo *fdi = req->status ? NULL : MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (fdi && adb_http_acceptor_take_note(s->acceptor, fdi->connect_fd, &req->status, &req->error_code,
                                           req->request_id))
        ; /* refused by acceptor.c during its body (broken chunked framing) */
    else if (!req->status) { /* refused by libmicrohttpd itself (docs/http.md, Limits) */
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_HTTP_STATUS);
        req->status = ci ? ci->http_status : 0;
        if (req->status)
            req->error_code = "PROTOCOL_ERROR";
    }
    /* a head never completed and never answered (cut at the head deadline,
     * or the client went away) is no request to count */
    if (req->head_done || req->status) {
        log_request(s, req);
        adb_http_metrics_request(s->state.metrics, req->method ? req->method : "",
                                 adb_http_route_pattern(req->route), req->status,
                                 adb__now_ms() - req->started_ms);
    }
    if (s->state.selfaudit && req->status && req->method) {
        adb_sa_access a = {
            .org = req->who.organization_id, .key_id = req->who.key_id,
            .request_id = req->request_id, .method = req->method, .path = req->target.log_path,
            .ip = req->ip, .user_agent = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "User-Agent"),
            .error_code = req->error_code, .body = req->body,
            .body_end = req->body ? req->body + req->body_len : NULL, .status = (int)req->status,
            .ms = (int)(adb__now_ms() - req->started_ms), .request_bytes = (int)req->body_len,
            .response_bytes = (int)req->resp_bytes,
        };
        adb_selfaudit_access(s->state.selfaudit, &a);
    }
    if (req->status) { /* for /api/v1/health/alive's lastActivity */
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        atomic_store(&s->state.last_activity_ms, (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000);
    }
    adb_http_conn_busy(s->state.conns, req->conn_entry, false);
    bool big = req->body_cap >= (1u << 20);
    if (req->ctx)
        req->ctx->req = NULL;
    request_free(req);
    *con_cls = NULL;
    /* a large body's parse left free memory in the heaps: give it back */
    if (big)
        malloc_trim(0);
}

static void refused_here(void *ud, unsigned status, const char *code, const char *request_id);

static void connection_event(void *cls, struct MHD_Connection *conn, void **socket_context,
                             enum MHD_ConnectionNotificationCode toe)
{
    adb_server *s = cls;

    adb_http_metrics_connection(s->state.metrics, toe == MHD_CONNECTION_NOTIFY_STARTED ? 1 : -1);
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *fd = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        const union MHD_ConnectionInfo *pa = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        conn_ctx *ctx = calloc(1, sizeof(*ctx));
        if (ctx && fd)
            ctx->entry = adb_http_conn_opened(s->state.conns, fd->connect_fd, pa ? pa->client_addr : NULL);
        *socket_context = ctx;
    } else {
        conn_ctx *ctx = *socket_context;
        const union MHD_ConnectionInfo *fd = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        unsigned status;
        const char *code;
        char rid[ADB_REQUEST_ID_MAX];
        if (fd && adb_http_acceptor_take_note(s->acceptor, fd->connect_fd, &status, &code, rid)) {
            adb_http_request *req = ctx ? ctx->req : NULL;
            if (req && req->head_done) { /* never reported complete: logged here */
                req->status = status;
                req->error_code = code;
                adb__fmt(req->request_id, sizeof(req->request_id), "%s", rid);
                log_request(s, req);
                adb_http_metrics_request(s->state.metrics, req->method ? req->method : "",
                                         adb_http_route_pattern(req->route), status,
                                         adb__now_ms() - req->started_ms);
            } else
                refused_here(s, status, code, rid);
        }
        if (ctx) {
            if (ctx->req) /* never reported complete */
                request_free(ctx->req);
            adb_http_conn_closed(s->state.conns, ctx->entry);
            free(ctx);
        }
        *socket_context = NULL;
    }
}

/* The request line is in (libmicrohttpd's URI log callback, before it
 * decodes anything): the request starts here, with the target as sent. */
static void *request_begins(void *cls, const char *uri, struct MHD_Connection *conn)
{
    adb_server *s = cls;
    adb_http_request *req = calloc(1, sizeof(*req));
    const union MHD_ConnectionInfo *sc;

    if (!req)
        return NULL;
    req->conn = conn;
    req->state = &s->state;
    req->started_ms = adb__now_ms();
    if (!adb_http_target_parse(&req->target, uri ? uri : "")) {
        adb_http_target_free(&req->target);
        free(req);
        return NULL;
    }
    req->path = req->target.path;
    sc = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    conn_ctx *ctx = sc ? sc->socket_context : NULL;
    if (ctx) {
        if (ctx->req) /* the previous request ended unreported */
            request_free(ctx->req);
        ctx->req = req;
        req->ctx = ctx;
        req->conn_entry = ctx->entry;
    }
    return req;
}

static enum MHD_Result count_content_length(void *cls, enum MHD_ValueKind kind, const char *key,
                                           const char *value)
{
    (void)kind;
    (void)value;
    if (!strcasecmp(key, "Content-Length"))
        ++*(int *)cls;
    return MHD_YES;
}

/* Answers what the head alone shows to be malformed or too large, before
 * anything else (docs/http.md, Limits); true when an answer was queued.
 * *expects_body: a body follows. */
static bool protocol_error(adb_http_request *req, bool *expects_body)
{
    struct MHD_Connection *conn = req->conn;
    const union MHD_ConnectionInfo *hs = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    int nheaders = MHD_get_connection_values(conn, MHD_HEADER_KIND, NULL, NULL);
    const char *te = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Transfer-Encoding");
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
    char msg[160];
    long long declared = 0;

    *expects_body = false;
    if (req->target.raw_len > ADB_HTTP_TARGET_MAX) {
        adb__fmt(msg, sizeof(msg), "the request target is longer than %d bytes", ADB_HTTP_TARGET_MAX);
        adb_http_send_error(req, MHD_HTTP_URI_TOO_LONG, "URI_TOO_LONG", msg, NULL);
        return true;
    }
    if ((hs && hs->header_size > ADB_HTTP_HEAD_MAX) || nheaders > ADB_HTTP_HEADERS_MAX) {
        adb__fmt(msg, sizeof(msg), "the request head is larger than %d bytes or has more than %d "
                 "header fields", ADB_HTTP_HEAD_MAX, ADB_HTTP_HEADERS_MAX);
        adb_http_send_error(req, MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE, "HEADERS_TOO_LARGE", msg, NULL);
        return true;
    }
    if (te) {
        /* only chunked is understood (RFC 9112 6.1: 501 for any other) */
        size_t n = strlen(te);
        while (n && (te[n - 1] == ' ' || te[n - 1] == '\t'))
            n--;
        if (n != 7 || strncasecmp(te, "chunked", 7) != 0) {
            json_t *d = adb__utf8_valid(te, strlen(te)) && strlen(te) <= 200
                            ? json_pack("{s:s}", "transferEncoding", te) : NULL;
            adb_http_send_error(req, MHD_HTTP_NOT_IMPLEMENTED, "UNSUPPORTED_TRANSFER_ENCODING",
                                "Transfer-Encoding must be chunked (or absent, with Content-Length)", d);
            return true;
        }
        if (cl) { /* a length said two ways is how requests are smuggled */
            adb_http_send_error(req, MHD_HTTP_BAD_REQUEST, "BAD_REQUEST",
                                "a request may not have both Transfer-Encoding and Content-Length", NULL);
            return true;
        }
        *expects_body = true;
    }
    if (cl) {
        int ncl = 0;
        MHD_get_connection_values(conn, MHD_HEADER_KIND, count_content_length, &ncl);
        if (ncl > 1) {
            adb_http_send_error(req, MHD_HTTP_BAD_REQUEST, "BAD_REQUEST",
                                "Content-Length given more than once", NULL);
            return true;
        }
        if (adb__parse_int(cl, 0, INT64_MAX, &declared) && (unsigned long long)declared > req->state->max_body) {
            req->too_large = true;
            send_too_large(req);
            return true;
        }
        *expects_body = declared > 0;
    }
    return false;
}

static enum MHD_Result access_handler(void *cls, struct MHD_Connection *conn, const char *url,
                                      const char *method, const char *version,
                                      const char *upload_data, size_t *upload_data_size,
                                      void **con_cls)
{
    adb_server *s = cls;
    adb_http_request *req = *con_cls;

    (void)url; /* decoded by libmicrohttpd and cut at a NUL: req->target instead */
    (void)version;
    if (!req) /* out of memory when the request began */
        return MHD_NO;
    if (!req->head_done) {
        /* the whole head is in: nothing of a body has been read yet */
        bool expects_body;
        req->head_done = true;
        adb_http_conn_busy(s->state.conns, req->conn_entry, true);
        if (!(req->method = strdup(method)))
            return MHD_NO;
        request_id(conn, req->request_id);
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        if (ci && ci->client_addr) {
            const struct sockaddr *sa = ci->client_addr;
            if (sa->sa_family == AF_INET)
                inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, req->ip, sizeof(req->ip));
            else if (sa->sa_family == AF_INET6)
                inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, req->ip, sizeof(req->ip));
        }
        if (protocol_error(req, &expects_body))
            return deliver(req); /* libmicrohttpd discards any body and closes */
        if (!expects_body)
            return MHD_YES; /* checked with the rest once complete */
        /* A body follows: the key and the route are checked before a byte
         * of it is read (a worker, since the key may need the database);
         * a refusal is answered at once and the body never buffered. */
        req->head_job = true;
        MHD_suspend_connection(conn);
        adb_http_workers_submit(is_probe(req->method, req->path) ? s->probes : s->reads, req);
        return MHD_YES;
    }
    if (req->head_job) { /* resumed after the head check, still before the body */
        req->head_job = false;
        if (req->resp)
            return deliver(req);
        const char *ce = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Encoding");
        if (ce && start_decoder(req, ce))
            return deliver(req);
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        long long declared;
        /* an encoded body's decoded size is not known: it grows as it is decoded */
        if (!req->decoder && cl && adb__parse_int(cl, 1, INT64_MAX, &declared)) {
            /* the body's whole size, held from now until the answer */
            if (!budget_take(req, (size_t)declared)) {
                send_busy(req);
                return deliver(req);
            }
            if (!(req->body = malloc((size_t)declared + 1)))
                return MHD_NO;
            req->body_cap = (size_t)declared + 1;
        }
        return MHD_YES; /* now libmicrohttpd reads the body (100 Continue if asked) */
    }
    if (*upload_data_size > 0) {
        /* the body, bounded: past max_body, or past the budget, it is
         * drained and refused; an encoded one is decoded as it comes */
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (req->too_large || req->body_busy || req->body_bad)
            return MHD_YES;
        if (!req->decoder)
            (void)body_take(req, upload_data, n);
        else if (adb_http_decoder_feed(req->decoder, upload_data, n, body_take, req) < 0)
            req->body_bad = true;
        return MHD_YES;
    }
    if (req->dispatched) /* resumed: the worker's response (none: the connection is closed) */
        return deliver(req);
    req->dispatched = true;
    if (req->too_large) {
        send_too_large(req);
        return deliver(req);
    }
    if (req->body_busy) {
        send_busy(req);
        return deliver(req);
    }
    if (req->decoder && (req->body_bad || !adb_http_decoder_finish(req->decoder))) {
        send_bad_encoding(req);
        return deliver(req);
    }
    /* suspended first: the worker may resume it before this returns */
    MHD_suspend_connection(conn);
    bool read = !strcmp(req->method, "GET") || !strcmp(req->method, "HEAD");
    adb_http_workers_submit(is_probe(req->method, req->path) ? s->probes : read ? s->reads : s->writes,
                            req);
    return MHD_YES;
}

/* In a worker: the head check or the handler, then the connection goes
 * back to its polling thread (req belongs to that thread from then on). */
static void run_request(adb_http_request *req)
{
    adb_thread_db_reset();
    if (req->head_job) {
        (void)adb_http_check_head(req, true); /* an answer, if any, is in req->resp */
        req->db_ms += adb_thread_db_ms();
        adb_http_resume(req->state, req->conn);
        return;
    }
    (void)adb_http_dispatch(req); /* MHD_NO: no response was made, and deliver() closes */
    req->db_ms += adb_thread_db_ms();
    void (*after)(void *) = req->after;
    void *arg = req->after_arg;
    adb_http_resume(req->state, req->conn); /* the acceptor's thread may free req from here on */
    if (after)
        after(arg);
}

/* Splits "host:port" / "[v6]:port" and resolves it. */
static bool resolve_listen(const char *listen, struct sockaddr_storage *ss, socklen_t *len,
                           char *errbuf, size_t errlen)
{
    char host[256], port[16];
    const char *colon;
    struct addrinfo hints, *res = NULL;
    int rc;

    if (listen[0] == '[') {
        const char *close = strchr(listen, ']');
        if (!close || close[1] != ':' || (size_t)(close - listen - 1) >= sizeof(host))
            goto bad;
        memcpy(host, listen + 1, (size_t)(close - listen - 1));
        host[close - listen - 1] = '\0';
        colon = close + 1;
    } else {
        colon = strrchr(listen, ':');
        if (!colon || (size_t)(colon - listen) >= sizeof(host))
            goto bad;
        memcpy(host, listen, (size_t)(colon - listen));
        host[colon - listen] = '\0';
    }
    long long p;
    if (!adb__parse_int(colon + 1, 0, 65535, &p))
        goto bad;
    adb__fmt(port, sizeof(port), "%lld", p);
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
    if (rc != 0) {
        adb__fmt(errbuf, errlen, "could not resolve AUDITDB_LISTEN host \"%s\": %s", host,
                 gai_strerror(rc));
        return false;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return true;
bad:
    adb__fmt(errbuf, errlen, "invalid AUDITDB_LISTEN \"%s\" (expected host:port, e.g. "
             "127.0.0.1:8080 or [::1]:8080)", listen);
    return false;
}

/* A listening socket bound to ss; -1 with errbuf set. *port: the port bound. */
static int listen_on(const struct sockaddr_storage *ss, socklen_t len, unsigned *port,
                     const char *listen_text, char *errbuf, size_t errlen)
{
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
    struct sockaddr_storage bound;
    socklen_t blen = sizeof(bound);

    if (fd < 0)
        goto err;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (ss->ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, (const struct sockaddr *)ss, len) != 0 || listen(fd, 4096) != 0 ||
        getsockname(fd, (struct sockaddr *)&bound, &blen) != 0)
        goto err;
    *port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                              : ((struct sockaddr_in *)&bound)->sin_port);
    return fd;
err:
    adb__fmt(errbuf, errlen, "could not listen on %s: %s", listen_text, strerror(errno));
    if (fd >= 0)
        close(fd);
    return -1;
}

/* acceptor.c refused a first head: its access log line and metrics. */
static void refused_here(void *ud, unsigned status, const char *code, const char *request_id)
{
    adb_server *s = ud;
    adb_http_request req = { .status = status, .error_code = code, .started_ms = adb__now_ms() };

    adb__fmt(req.request_id, sizeof(req.request_id), "%s", request_id);
    log_request(s, &req);
    adb_http_metrics_request(s->state.metrics, "", NULL, status, 0);
}

adb_server *adb_server_start(const adb_server_options *o, char *errbuf, size_t errlen)
{
    adb_server *s;
    struct sockaddr_storage ss;
    socklen_t sslen;
    int lfd = -1;

    if (!resolve_listen(o->listen, &ss, &sslen, errbuf, errlen))
        return NULL;
    s = calloc(1, sizeof(*s));
    if (!s) {
        adb__fmt(errbuf, errlen, "out of memory");
        return NULL;
    }
    s->opts = *o;
    s->state.pool = o->pool;
    s->state.db = o->db;
    s->state.max_body = o->max_body ? o->max_body : 10u << 20;
    s->state.max_bulk = o->max_bulk ? o->max_bulk : 1000;
    s->state.body_budget = o->body_budget ? o->body_budget : BODY_BUDGET_DEFAULT;
    if (s->state.body_budget < s->state.max_body) /* else a largest body could never be taken */
        s->state.body_budget = s->state.max_body;
    atomic_init(&s->state.body_held, 0);
    /* Bodies (up to max_body) are malloc()ed: from this size on always as
     * their own mappings, given back to the system when freed. (glibc's
     * default threshold rises to the size of the last large block freed, so
     * that 9 MiB bodies came from the heap, which kept them afterwards.) */
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
    /* Setting the threshold also fixes the trim threshold at its default
     * (128 KiB): every request's freed parse trees, answers and batches
     * then gave their heap pages back and faulted them in again on the next
     * request, with a TLB shootdown each time (perf: a sixth of serve's CPU
     * under bulk ingestion). Keep up to 16 MiB of free heap per arena;
     * mapped blocks (bodies) still go back when freed. */
    mallopt(M_TRIM_THRESHOLD, 16 * 1024 * 1024);
    s->state.ratelimit = adb_ratelimit_new(o->rate_limit_rps, o->rate_limit_burst, o->redis_url);
    s->state.selfaudit = o->db ? adb_selfaudit_start(o->db) : NULL;
    s->state.embedded = o->embedded;
    s->state.home = o->home;
    s->state.migrations = o->migrations;
    s->state.stats_max_events = o->stats_max_events > 0 ? o->stats_max_events : 1000000;
    /* answers written as they are read (pull.c), and the export worker */
    s->state.pumps = adb_http_pumps_start(PUMP_THREADS);
    s->state.exports = o->db ? adb_http_exports_start(o->db) : NULL;
    s->state.started_ms = adb__now_ms();
    pthread_mutex_init(&s->log_mu, NULL);
    atomic_init(&s->state.last_activity_ms, 0);
    if (!(s->state.metrics = adb_http_metrics_new()) || !(s->state.health = adb_http_health_history_new()) ||
        !(s->state.totals = adb_http_totals_new(o->total_ttl_s * 1000.0)) ||
        !(s->state.tiles = adb__tile_cache_new(1024))) {
        adb__fmt(errbuf, errlen, "out of memory");
        goto fail;
    }
    /* the listening socket, for acceptor.c */
    unsigned port = 0;
    lfd = listen_on(&ss, sslen, &port, o->listen, errbuf, errlen);
    if (lfd < 0)
        goto fail;
    unsigned max_conns = (unsigned)(o->max_connections > 0 ? o->max_connections : 1000);
    adb_http_conns_options co = {
        .max = (int)max_conns, .per_ip_max = PER_IP_CONNECTIONS,
        .head_timeout_ms = (o->head_timeout_s > 0 ? o->head_timeout_s : 10) * 1000,
    };
    if (!(s->state.conns = adb_http_conns_start(&co))) {
        adb__fmt(errbuf, errlen, "out of memory");
        goto fail;
    }
    int nw = o->threads > 0 ? o->threads : 8;
    if (!(s->reads = adb_http_workers_start(nw, "adb-read", run_request)) ||
        /* twice as many for writes: they wait on the writer's COMMIT,
         * and their number bounds the events in flight (docs/http.md) */
        !(s->writes = adb_http_workers_start(2 * nw, "adb-write", run_request)) ||
        !(s->probes = adb_http_workers_start(PROBE_THREADS, "adb-probe", run_request))) {
        adb__fmt(errbuf, errlen, "could not start the HTTP worker threads");
        goto fail;
    }
    s->daemon = MHD_start_daemon(
        MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | /* run by acceptor.c's thread */
            MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC, /* connections come from acceptor.c */
        0, NULL, NULL, access_handler, s,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)(o->connection_timeout_s > 0 ? o->connection_timeout_s : 30),
        MHD_OPTION_CONNECTION_LIMIT, max_conns, /* conns.c sheds idle ones before this */
        MHD_OPTION_NOTIFY_COMPLETED, completed, s,
        MHD_OPTION_NOTIFY_CONNECTION, connection_event, s,
        MHD_OPTION_URI_LOG_CALLBACK, request_begins, s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)MHD_MEMORY_PER_CONNECTION,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)PER_IP_CONNECTIONS, /* one address cannot take them all */
        MHD_OPTION_END);
    if (!s->daemon) {
        adb__fmt(errbuf, errlen, "could not start libmicrohttpd: %s",
                 errno ? strerror(errno) : "it refused to start");
        goto fail;
    }
    adb_http_acceptor_options ao = {
        /* the inactivity timeout too, where it is the shorter (libmicrohttpd
         * applies it once it has the connection) */
        .listen_fd = lfd, .daemon = s->daemon,
        .head_timeout_ms = o->connection_timeout_s > 0 && o->connection_timeout_s * 1000 < co.head_timeout_ms
                               ? o->connection_timeout_s * 1000 : co.head_timeout_ms,
        .max_body = s->state.max_body, .max_pending = 4 * (int)max_conns, .refused = refused_here, .refused_ud = s,
        .conns = s->state.conns,
    };
    if (!(s->acceptor = adb_http_acceptor_start(&ao))) {
        adb__fmt(errbuf, errlen, "could not start the HTTP acceptor thread");
        MHD_stop_daemon(s->daemon);
        goto fail;
    }
    lfd = -1; /* the acceptor's now */
    s->state.acceptor = s->acceptor;
    {
        char host[INET6_ADDRSTRLEN] = "?";
        if (ss.ss_family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host, sizeof(host));
        else if (ss.ss_family == AF_INET6)
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, host, sizeof(host));
        adb__fmt(s->address, sizeof(s->address), ss.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u",
                 host, port);
    }
    return s;

fail:
    if (lfd >= 0)
        close(lfd);
    adb_http_conns_stop(s->state.conns);
    adb_http_workers_stop(s->reads);
    adb_http_workers_stop(s->writes);
    adb_http_workers_stop(s->probes);
    pthread_mutex_destroy(&s->log_mu);
    adb_http_metrics_free(s->state.metrics);
    adb_http_health_history_free(s->state.health);
    adb_http_totals_free(s->state.totals);
    adb__tile_cache_free(s->state.tiles);
    adb_ratelimit_free(s->state.ratelimit);
    adb_http_exports_stop(s->state.exports);
    adb_http_pumps_free(s->state.pumps);
    adb_selfaudit_stop(s->state.selfaudit);
    free(s);
    return NULL;
}

const char *adb_server_address(const adb_server *s)
{
    return s->address;
}

void adb_server_stop(adb_server *s)
{
    if (!s)
        return;
    /* stop accepting, let the requests in flight finish (bounded), then stop */
    adb_http_acceptor_quiesce(s->acceptor);
    double deadline = adb__now_ms() + 10000;
    while (adb__now_ms() < deadline) {
        const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
        if (!di || di->num_connections == 0)
            break;
        adb__sleep_ms(20);
    }
    /* run what is queued: every suspended connection is resumed */
    adb_http_pumps_stop(s->state.pumps); /* streams resumed; later reads end them */
    adb_http_workers_stop(s->reads);
    adb_http_workers_stop(s->writes);
    adb_http_workers_stop(s->probes);
    adb_http_acceptor_stop(s->acceptor); /* it ran libmicrohttpd: stopped before it */
    s->acceptor = s->state.acceptor = NULL; /* MHD_stop_daemon's close notices must not reach it */
    MHD_stop_daemon(s->daemon);
    adb_http_pumps_free(s->state.pumps);
    adb_http_exports_stop(s->state.exports);
    adb_http_conns_stop(s->state.conns);
    adb_selfaudit_stop(s->state.selfaudit); /* writes what the last requests queued */
    adb_ratelimit_free(s->state.ratelimit);
    pthread_mutex_destroy(&s->log_mu);
    adb_http_metrics_free(s->state.metrics);
    adb_http_health_history_free(s->state.health);
    adb_http_totals_free(s->state.totals);
    adb__tile_cache_free(s->state.tiles);
    free(s);
}
