/*
 * events.c - the events API: create (one, bulk), list with filters and a
 * keyset cursor, get by id, verify one. Every query is scoped to the
 * caller's organization; every value goes through parameters. Event JSON is
 * written as text so details keep jsonb's exact numbers (jw.c).
 */
#include "http.h"
#include "totals.h"
#include "event_json.h"
#include "event_ref.h"
#include "jw.h"
#include "metrics.h"
#include "../core/adb_internal.h"
#include "../core/buf.h"
#include "../core/digest.h"
#include "../core/util.h"
#include "../event/event.h"
#include "../event/json.h"

#include <ctype.h>
#include <inttypes.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIST_DEFAULT 50
#define LIST_MAX 1000
/* the deepest offset: 2^53 - 1, the largest integer the client's JavaScript
 * numbers hold exactly (any depth a client can name is answered) */
#define OFFSET_MAX 9007199254740991LL
#define COUNT_CAP 1000
#define FILTER_VALUES_MAX 100

/* The columns an event is rendered from, in this order. The two times come
 * as PostgreSQL prints them (the pool's connections use DateStyle ISO and
 * TimeZone UTC) and are rewritten here in the API's form: to_char() in the
 * statement cost a fifth of a page's execution time. */
#define EVENT_COLUMNS                                                                           \
    "id, \"timestamp\", action,"                                                              \
    " status, principal_id, organization_id, target_resource_type, target_resource_id,"        \
    " outcome_description, correlation_id, data_classification, retention_policy,"            \
    " event_version, hash_algorithm, hash, signature, details::text, chain_seq,"              \
    " prev_chain_hash, chain_hash, ttl, archived_at,"                                          \
    " (details -> 'sessionContext')::text, event_id, commit_key"

enum { E_ID, E_TS, E_ACTION, E_STATUS, E_PRINCIPAL, E_ORG, E_TTYPE, E_TID, E_OUTCOME, E_CORR,
       E_CLASS, E_RET, E_VERSION, E_HALG, E_HASH, E_SIG, E_DETAILS, E_SEQ, E_PREV, E_CHAIN,
       E_TTL, E_ARCHIVED, E_SESSION, E_EID, E_COMMIT_KEY };

/* A time as PostgreSQL printed it, in the API's form ("...T...Z", six
 * digits of fraction, as stored events are hashed); *us gets its
 * microseconds since 1970. NULL stays NULL; a text that does not parse is
 * passed on as printed. */
static const char *api_time(const char *pg, char out[ADB_TS_TEXT_MAX], int64_t *us)
{
    int64_t t;

    if (!pg || !adb__timestamp_parse(pg, strlen(pg), &t))
        return pg;
    adb__timestamp_format(t, out);
    if (us)
        *us = t;
    return out;
}

static const char *val(PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

/* Writes one event object from row of r. */
static void write_event(jw *w, PGresult *r, int row)
{
    char ts[ADB_TS_TEXT_MAX], archived[ADB_TS_TEXT_MAX];
    adb_http_event e = {
        .id = val(r, row, E_EID), .timestamp = api_time(val(r, row, E_TS), ts, NULL),
        .action = val(r, row, E_ACTION),
        .status = val(r, row, E_STATUS), .principal_id = val(r, row, E_PRINCIPAL),
        .organization_id = val(r, row, E_ORG), .target_resource_type = val(r, row, E_TTYPE),
        .target_resource_id = val(r, row, E_TID), .outcome_description = val(r, row, E_OUTCOME),
        .correlation_id = val(r, row, E_CORR), .data_classification = val(r, row, E_CLASS),
        .retention_policy = val(r, row, E_RET), .event_version = val(r, row, E_VERSION),
        .hash_algorithm = val(r, row, E_HALG), .hash = val(r, row, E_HASH),
        .signature = val(r, row, E_SIG), .ttl = val(r, row, E_TTL),
        .archived_at = api_time(val(r, row, E_ARCHIVED), archived, NULL), .details = val(r, row, E_DETAILS),
        .session_context = val(r, row, E_SESSION), .chain_seq = val(r, row, E_SEQ),
        .prev_chain_hash = val(r, row, E_PREV), .chain_hash = val(r, row, E_CHAIN),
        .commit_key = val(r, row, E_COMMIT_KEY),
    };
    adb_http_write_event(w, &e);
}

static enum MHD_Result send_jw(adb_http_request *req, unsigned status, jw *w)
{
    size_t len;
    char *text = jw_take(w, &len);
    return adb_http_send_text(req, status, text, len, "application/json");
}

/* Reads events by id (in the caller's organization) into a result, in one
 * round trip as the tenant; NULL when the database failed. One generic
 * plan: planning a custom plan over every partition for each created event
 * cost more than all the rest of a create (1.7 ms). When the caller knows
 * the events' times (created events: from, to as stored, else NULL), they
 * bound the read, so the plan starts on the partitions that hold them
 * instead of initializing a scan of all thirteen. */
static PGresult *fetch_by_ids(adb_http_request *req, const char *ids_array, const char *from,
                              const char *to)
{
    const char *p[] = { req->who.organization_id, ids_array, from, to };
    adb_status st;
    PGresult *r = adb_tenant_query(req->state->db, req->who.organization_id,
                                   from && to
                                       ? "SELECT " EVENT_COLUMNS " FROM audit_log WHERE organization_id = $1"
                                         " AND id = ANY($2::bigint[]) AND \"timestamp\" BETWEEN"
                                         " $3::timestamptz AND $4::timestamptz ORDER BY id"
                                       : "SELECT " EVENT_COLUMNS " FROM audit_log WHERE organization_id = $1"
                                         " AND id = ANY($2::bigint[]) ORDER BY id",
                                   from && to ? 4 : 2, p, ADB_PLAN_GENERIC, NULL, 0, NULL, &st);
    if (r && PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        return NULL;
    }
    return r;
}

#define FETCH_RETRY_MS 5000

/* The committed events read back for the answer. They are stored whatever
 * happens to this read, so a failed read is tried again (the database may
 * be restarting) instead of answered 503, which would tell the client that
 * nothing was stored. want: the rows expected (0: any answer). NULL after
 * FETCH_RETRY_MS. */
static PGresult *fetch_committed(adb_http_request *req, const char *ids_array, const char *from,
                                 const char *to, int want)
{
    double deadline = adb__now_ms() + FETCH_RETRY_MS;

    for (;;) {
        PGresult *r = fetch_by_ids(req, ids_array, from, to);
        if (r && (want <= 0 || PQntuples(r) == want))
            return r;
        PQclear(r);
        if (adb__now_ms() + 200 > deadline)
            return NULL;
        adb__sleep_ms(200);
    }
}

static enum MHD_Result db_unavailable(adb_http_request *req)
{
    return adb_http_send_retry(req, MHD_HTTP_SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE",
                               "the database is unavailable: retry later", 1000);
}

/* {"errors":[{"code","field","message"}...]} */
static json_t *errors_json(const adb_event_errors *e)
{
    json_t *a = json_array();
    for (int i = 0; i < e->count; i++)
        json_array_append_new(a, json_pack("{s:s, s:s, s:s}", "code", e->e[i].code, "field",
                                           e->e[i].field, "message", e->e[i].message));
    return json_pack("{s:o}", "errors", a);
}

static enum MHD_Result validation_error(adb_http_request *req, const char *field, const char *code,
                                        const char *message)
{
    adb_event_errors e = { 0 };
    adb__errors_add(&e, code, field, "%s", message);
    return adb_http_send_error(req, MHD_HTTP_BAD_REQUEST, "VALIDATION_ERROR", message, errors_json(&e));
}

static const adb_json_limits body_limits = {
    .max_depth = 24, .max_string = 256 * 1024, .max_items = 100000,
    .max_number_len = 100, .max_nodes = 2000000,
};

/* Parses the body; on failure queues the 400 and returns NULL. */
static adb_json_doc *parse_body(adb_http_request *req, enum MHD_Result *r)
{
    adb_json_error je;
    adb_json_doc *doc;

    if (!req->body_len) {
        *r = validation_error(req, "", "INVALID_JSON", "request body is empty: send a JSON object");
        return NULL;
    }
    doc = adb__json_parse(req->body, req->body_len, &body_limits, &je);
    if (!doc) {
        char msg[256];
        adb__fmt(msg, sizeof(msg), "malformed JSON: %s at byte %zu", je.message, je.offset);
        *r = validation_error(req, "", je.code == ADB_JSON_ERR_DUPLICATE_KEY ? "DUPLICATE_KEY" : "INVALID_JSON", msg);
        return NULL;
    }
    if (adb__json_root(doc)->type != ADB_JSON_OBJECT) {
        adb__json_free(doc);
        *r = validation_error(req, "", "INVALID_TYPE", "request body must be a JSON object");
        return NULL;
    }
    return doc;
}

/* Canonical text of v (malloc()ed). */
static char *text_of(const adb_json *v, size_t *len)
{
    char *buf = NULL;
    size_t cap = 0;
    *len = 0;
    if (!adb__json_write_canonical(v, &buf, len, &cap)) {
        free(buf);
        return NULL;
    }
    return buf;
}

#define ADD_MAX 3 /* members a request may add to an event: timestamp, correlationId, eventVersion */

/* obj with string members added (only names it lacks), without copying
 * obj: a new object node whose member arrays point at obj's members and at
 * the added ones, all in one malloc()ed block (*block, freed with free()).
 * Returns obj itself when nothing is added or obj is not an object (the
 * library refuses that), NULL when out of memory. */
static const adb_json *add_members(const adb_json *obj, const char *const *keys,
                                   const char *const *vals, size_t k, void **block)
{
    const char *ks[ADD_MAX], *vs[ADD_MAX];
    size_t add = 0, n, textlen = 0;

    *block = NULL;
    if (!obj || obj->type != ADB_JSON_OBJECT)
        return obj;
    for (size_t i = 0; i < k && add < ADD_MAX; i++)
        if (vals[i] && !adb__json_get(obj, keys[i])) {
            ks[add] = keys[i];
            vs[add++] = vals[i];
            textlen += strlen(vals[i]) + 1;
        }
    if (!add)
        return obj;
    n = obj->count + add;
    struct overlay {
        adb_json node, added[ADD_MAX];
    } *o = malloc(sizeof(*o) + n * (sizeof(char *) + sizeof(size_t) + sizeof(adb_json *)) + textlen);
    if (!o)
        return NULL;
    const char **okeys = (const char **)(o + 1);
    size_t *olens = (size_t *)(okeys + n);
    adb_json **oitems = (adb_json **)(olens + n);
    char *text = (char *)(oitems + n);
    if (obj->count) { /* an empty object may have no arrays */
        memcpy(okeys, obj->keys, obj->count * sizeof(*okeys));
        memcpy(olens, obj->key_lens, obj->count * sizeof(*olens));
        memcpy(oitems, obj->items, obj->count * sizeof(*oitems));
    }
    for (size_t i = 0; i < add; i++) {
        size_t len = strlen(vs[i]);
        memcpy(text, vs[i], len + 1);
        o->added[i] = (adb_json){ .type = ADB_JSON_STRING, .str = text, .len = len };
        text += len + 1;
        okeys[obj->count + i] = ks[i];
        olens[obj->count + i] = strlen(ks[i]);
        oitems[obj->count + i] = &o->added[i];
    }
    o->node = (adb_json){ .type = ADB_JSON_OBJECT, .count = n, .keys = okeys, .key_lens = olens,
                          .items = oitems };
    *block = o;
    return &o->node;
}

/* Options shared by create and bulk: preset, idempotency key. */
static bool read_options(adb_http_request *req, const adb_json *opts, adb_log_options *lo,
                         enum MHD_Result *r)
{
    const adb_json *preset = opts ? adb__json_get(opts, "preset") : NULL;
    const adb_json *ik = opts ? adb__json_get(opts, "idempotencyKey") : NULL;
    const char *hdr = adb_http_header(req, "Idempotency-Key");

    memset(lo, 0, sizeof(*lo));
    lo->organization_id = req->who.organization_id;
    if (opts && opts->type != ADB_JSON_OBJECT) {
        *r = validation_error(req, "options", "INVALID_TYPE", "options must be an object");
        return false;
    }
    if (preset && preset->type != ADB_JSON_NULL) {
        if (preset->type != ADB_JSON_STRING) {
            *r = validation_error(req, "options.preset", "INVALID_TYPE", "options.preset must be a string");
            return false;
        }
        lo->preset = preset->str;
    }
    if (hdr && *hdr) {
        if (strlen(hdr) > 255) {
            *r = validation_error(req, "Idempotency-Key", "EXCEEDS_MAX_LENGTH",
                                  "Idempotency-Key has more than 255 characters");
            return false;
        }
        if (!adb__utf8_valid(hdr, strlen(hdr))) { /* PostgreSQL would refuse it: never a 503 */
            *r = validation_error(req, "Idempotency-Key", "INVALID_ENCODING",
                                  "Idempotency-Key is not valid UTF-8");
            return false;
        }
        lo->idempotency_key = hdr;
    } else if (ik && ik->type == ADB_JSON_STRING) {
        lo->idempotency_key = ik->str;
    }
    return true;
}

/* Maps a refused result to its response. */
static enum MHD_Result refused(adb_http_request *req, const adb_log_result *res)
{
    if (res->status == ADB_ERR_INVALID)
        return adb_http_send_error(req, MHD_HTTP_BAD_REQUEST, "VALIDATION_ERROR",
                                   res->errors.count ? res->errors.e[0].message : "invalid event",
                                   errors_json(&res->errors));
    if (res->status == ADB_ERR_OUTCOME_UNKNOWN) /* may be stored: not a 503 (docs/api.md) */
        return adb_http_send_error(req, MHD_HTTP_GATEWAY_TIMEOUT, "COMMIT_OUTCOME_UNKNOWN",
                                   "the database connection broke while the event was being "
                                   "committed and whether it was stored could not be learned: "
                                   "retry with the same Idempotency-Key, or look the event up",
                                   NULL);
    if (res->status == ADB_ERR_BUSY)
        return adb_http_send_retry(req, MHD_HTTP_SERVICE_UNAVAILABLE, "SERVICE_BUSY",
                                   "the writer is saturated: retry later", res->retry_after_ms);
    return adb_http_send_retry(req, MHD_HTTP_SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE",
                               "the event could not be stored: the database is unavailable",
                               res->retry_after_ms > 0 ? res->retry_after_ms : 1000);
}

/* Writes ev, an event as the writer committed it; false (nothing written)
 * when there is none or memory ran out: the caller reads it back. */
static bool write_committed(jw *w, const adb_event *ev)
{
    adb_http_event e;
    adb_http_committed keep = { .session = NULL };

    if (!ev || !adb_http_event_from_committed(&e, ev, &keep))
        return false;
    adb_http_write_event(w, &e);
    adb_http_committed_free(&keep);
    return true;
}

/* ---- POST /api/v1/audit/events ----------------------------------------- */

enum MHD_Result adb_http_events_create(adb_http_request *req)
{
    enum MHD_Result r = MHD_NO;
    adb_json_doc *doc = parse_body(req, &r);
    const adb_json *root, *event;
    adb_log_options lo;
    adb_log_result res;

    if (!doc)
        return r;
    root = adb__json_root(doc);
    /* smart-logs sends {"eventData":{...},"options":{...}}; a bare event is accepted too */
    event = adb__json_get(root, "eventData");
    if (!event)
        event = root;
    else if (event->type != ADB_JSON_OBJECT) {
        adb__json_free(doc);
        return validation_error(req, "eventData", "INVALID_TYPE", "eventData must be an object");
    }
    if (!read_options(req, event == root ? NULL : adb__json_get(root, "options"), &lo, &r)) {
        adb__json_free(doc);
        return r;
    }
    /* the caller's organization only: naming another is forbidden, not replaced */
    const adb_json *org = adb__json_get(event, "organizationId");
    if (org && org->type == ADB_JSON_STRING && strcmp(org->str, req->who.organization_id) != 0) {
        adb__json_free(doc);
        adb_http_security_event(req, "cross_tenant_probe", "MEDIUM",
                                "an event for another organization was sent with this key");
        return adb_http_send_error(req, MHD_HTTP_FORBIDDEN, "FORBIDDEN",
                                   "the event names another organization than the key's",
                                   json_pack("{s:s, s:s}", "resource", "audit.events", "action", "create"));
    }
    const adb_json *eik = adb__json_get(event, "idempotencyKey");
    if (lo.idempotency_key && eik && eik->type == ADB_JSON_STRING &&
        strcmp(eik->str, lo.idempotency_key) != 0) {
        adb__json_free(doc);
        return validation_error(req, "Idempotency-Key", "INVALID_VALUE",
                                "the Idempotency-Key header and eventData.idempotencyKey differ");
    }
    /* options.correlationId / eventVersion fill the event's own fields; the
     * timestamp defaults to the server clock at receipt. The parsed event
     * goes to the library as it is, with those members added. */
    const adb_json *opts = event == root ? NULL : adb__json_get(root, "options");
    const adb_json *oc = opts ? adb__json_get(opts, "correlationId") : NULL;
    const adb_json *ov = opts ? adb__json_get(opts, "eventVersion") : NULL;
    char ts[ADB_TS_TEXT_MAX];
    adb__timestamp_format(adb__now_us(), ts);
    const char *keys[] = { "correlationId", "eventVersion", "timestamp" };
    const char *vals[] = { oc && oc->type == ADB_JSON_STRING ? oc->str : NULL,
                           ov && ov->type == ADB_JSON_STRING ? ov->str : NULL, ts };
    void *block;
    const adb_json *final = add_members(event, keys, vals, 3, &block);
    adb_event *kept = NULL;
    if (!final) {
        adb__json_free(doc);
        return MHD_NO;
    }
    adb_log_batch_parsed(req->state->db, &final, 1, &lo, 0, &res, &kept);
    free(block);
    adb__json_free(doc); /* lo's texts point into it */
    if (res.status != ADB_OK)
        return refused(req, &res);

    /* the answer: the event as committed; a repeated idempotency key gets
     * the original, which only the database has */
    jw w;
    jw_init(&w);
    if (!write_committed(&w, kept)) {
        char ids[32];
        adb__fmt(ids, sizeof(ids), "{%" PRId64 "}", res.id);
        PGresult *pr = fetch_committed(req, ids, res.timestamp, res.timestamp, 1);
        if (pr) {
            write_event(&w, pr, 0);
        } else { /* stored, but not readable now: what the writer committed */
            char ms[32]; /* the client's form: cut to the millisecond (docs/api.md, "Times") */
            adb__fmt(ms, sizeof(ms), "%s", res.timestamp);
            if (strlen(ms) == 27) {
                ms[23] = 'Z';
                ms[24] = '\0';
            }
            jw_obj(&w);
            jw_kstr(&w, "id", res.event_id);
            jw_kstr(&w, "timestamp", ms);
            jw_kstr(&w, "storedTimestamp", res.timestamp);
            jw_kstr(&w, "organizationId", res.organization_id);
            jw_kstr(&w, "hash", res.hash);
            jw_kint(&w, "chainSeq", (long long)res.chain_seq);
            jw_end_obj(&w);
        }
        PQclear(pr);
    }
    adb_event_free(kept);
    char location[80];
    adb__fmt(location, sizeof(location), "/api/v1/audit/events/%s", res.event_id);
    req->extra_header[0] = "Location";
    req->extra_value[0] = strdup(location);
    if (res.duplicate) {
        req->extra_header[1] = "Idempotent-Replayed";
        req->extra_value[1] = strdup("true");
    }
    return send_jw(req, MHD_HTTP_CREATED, &w);
}

/* ---- POST /api/v1/audit/events/bulk ------------------------------------- */

static bool flag(const adb_json *root, const char *name, bool dflt)
{
    const adb_json *v = adb__json_get(root, name);
    if (!v || v->type == ADB_JSON_NULL)
        return dflt;
    return v->type == ADB_JSON_TRUE;
}

/* The code of a refused item, as the error body of a single create has it. */
static const char *item_code(const adb_log_result *res)
{
    return res->status == ADB_ERR_INVALID ? "VALIDATION_ERROR"
           : res->status == ADB_ERR_BUSY ? "SERVICE_BUSY"
           : res->status == ADB_ERR_OUTCOME_UNKNOWN ? "COMMIT_OUTCOME_UNKNOWN"
                                                    : "SERVICE_UNAVAILABLE";
}

static const char *item_message(const adb_log_result *res)
{
    return res->errors.count ? res->errors.e[0].message
           : res->message[0] ? res->message : adb_strerror(res->status);
}

/* "errors": [{"code","field","message"}...] */
static void write_problems(jw *w, const adb_log_result *res)
{
    jw_key(w, "errors");
    jw_arr(w);
    for (int k = 0; k < res->errors.count; k++) {
        jw_obj(w);
        jw_kstr(w, "code", res->errors.e[k].code);
        jw_kstr(w, "field", res->errors.e[k].field);
        jw_kstr(w, "message", res->errors.e[k].message);
        jw_end_obj(w);
    }
    jw_end_arr(w);
}

/* The client's result item of a refused event: success false, index, the
 * first problem as error, every problem as validationErrors (texts) and as
 * errors (code, field, message). */
static void write_failed_item(jw *w, size_t i, const adb_log_result *res)
{
    jw_obj(w);
    jw_kbool(w, "success", false);
    jw_kint(w, "index", (long long)i);
    jw_kstr(w, "error", item_message(res));
    jw_kstr(w, "code", item_code(res));
    jw_key(w, "validationErrors");
    jw_arr(w);
    for (int k = 0; k < res->errors.count; k++) {
        char text[300];
        adb__fmt(text, sizeof(text), "%s%s%s", res->errors.e[k].field,
                 res->errors.e[k].field[0] ? ": " : "", res->errors.e[k].message);
        jw_str(w, text);
    }
    jw_end_arr(w);
    write_problems(w, res);
    jw_end_obj(w);
}

/* The original server's failed item: index, message, code, the event as
 * sent (canonical text), every problem. */
static void write_failed_original(jw *w, size_t i, const adb_json *input, const adb_log_result *res)
{
    size_t len;
    char *text = text_of(input, &len);

    jw_obj(w);
    jw_kint(w, "index", (long long)i);
    jw_kstr(w, "error", item_message(res));
    jw_kstr(w, "code", item_code(res));
    jw_key(w, "eventData");
    if (text)
        jw_raw(w, text);
    else
        jw_null(w);
    free(text);
    write_problems(w, res);
    jw_end_obj(w);
}

/* 400 VALIDATION_ERROR naming every problem as events[i].field. */
static enum MHD_Result bulk_invalid(adb_http_request *req, const adb_log_result *res, size_t n,
                                    const char *message)
{
    json_t *arr = json_array();

    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < res[i].errors.count; k++) {
            char field[96];
            adb__fmt(field, sizeof(field), "events[%zu].%s", i, res[i].errors.e[k].field);
            json_array_append_new(arr, json_pack("{s:s, s:s, s:s}", "code", res[i].errors.e[k].code,
                                                 "field", field, "message", res[i].errors.e[k].message));
        }
    return adb_http_send_error(req, MHD_HTTP_BAD_REQUEST, "VALIDATION_ERROR", message,
                               json_pack("{s:o}", "errors", arr));
}

/* The answer's requestId, a UUID as the client requires: the request's id
 * (X-Request-Id) when the caller sent one in that form, else a random
 * (version 4) UUID. */
static void bulk_request_id(const adb_http_request *req, char out[37])
{
    const char *id = req->request_id;
    bool uuid = strlen(id) == 36;
    unsigned char b[16];

    for (int i = 0; uuid && i < 36; i++)
        uuid = (i == 8 || i == 13 || i == 18 || i == 23) ? id[i] == '-' : isxdigit((unsigned char)id[i]) != 0;
    if (uuid) {
        for (int i = 0; i <= 36; i++)
            out[i] = (char)tolower((unsigned char)id[i]);
        return;
    }
    if (RAND_bytes(b, sizeof(b)) != 1) /* never seen; still a UUID, unique by the clock */
        for (size_t i = 0; i < sizeof(b); i++)
            b[i] = (unsigned char)(adb__now_us() >> (8 * (i % 8)));
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    char hex[33];
    adb__hex(b, 16, hex);
    adb__fmt(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
}

/* The events of a duplicate (a repeated idempotencyKey): only the database
 * has the original, so those few are read back. NULL when there is none or
 * the read failed (then the item carries what the writer returned). */
static PGresult *fetch_duplicates(adb_http_request *req, const adb_log_result *res, size_t n)
{
    adb__buf idb = { 0 };
    const char *from = NULL, *to = NULL; /* stored timestamps sort as text */
    size_t k = 0;
    PGresult *pr;

    adb__buf_put(&idb, "{", 1);
    for (size_t i = 0; i < n; i++)
        if (res[i].status == ADB_OK && res[i].duplicate) {
            adb__buf_printf(&idb, "%s%" PRId64, k++ ? "," : "", res[i].id);
            if (!from || strcmp(res[i].timestamp, from) < 0)
                from = res[i].timestamp;
            if (!to || strcmp(res[i].timestamp, to) > 0)
                to = res[i].timestamp;
        }
    adb__buf_put(&idb, "}", 1);
    char *ids = adb__buf_take(&idb, NULL);
    pr = k && ids ? fetch_committed(req, ids, from, to, 0) : NULL;
    free(ids);
    return pr;
}

/* A stored event of the answer: as committed, or (a duplicate) as read
 * back, or at least what the writer returned. */
static void write_stored(jw *w, const adb_event *kept, PGresult *dups, const adb_log_result *res)
{
    if (write_committed(w, kept))
        return;
    for (int k = 0; dups && k < PQntuples(dups); k++)
        if (strtoll(PQgetvalue(dups, k, E_ID), NULL, 10) == res->id) {
            write_event(w, dups, k);
            return;
        }
    jw_obj(w);
    jw_kint(w, "id", (long long)res->id);
    jw_kstr(w, "timestamp", res->timestamp);
    jw_kstr(w, "organizationId", res->organization_id);
    jw_kstr(w, "hash", res->hash);
    jw_kint(w, "chainSeq", (long long)res->chain_seq);
    jw_end_obj(w);
}

/* The client's answer (docs/api.md, "Bulk answer"): the counts first, then
 * one result per event in request order. */
static void write_bulk_client(jw *w, adb_http_request *req, size_t n, size_t nok,
                              const adb_log_result *res, adb_event *const *kept, PGresult *dups,
                              bool validate_only)
{
    char rid[37];

    bulk_request_id(req, rid);
    jw_obj(w);
    jw_kstr(w, "requestId", rid);
    jw_kint(w, "total", (long long)n);
    jw_kint(w, "successful", (long long)nok);
    jw_kint(w, "failed", (long long)(n - nok));
    jw_kbool(w, "validateOnly", validate_only);
    jw_key(w, "results");
    jw_arr(w);
    for (size_t i = 0; i < n; i++) {
        if (res[i].status != ADB_OK) {
            write_failed_item(w, i, &res[i]);
            continue;
        }
        jw_obj(w);
        jw_kbool(w, "success", true);
        jw_kint(w, "index", (long long)i);
        if (!validate_only) { /* a valid event not stored has no id: no event */
            jw_key(w, "event");
            write_stored(w, kept[i], dups, &res[i]);
        }
        jw_end_obj(w);
    }
    jw_end_arr(w);
    /* milliseconds from the request's arrival to this answer */
    char ms[32];
    double took = adb__now_ms() - req->started_ms;
    adb__fmt(ms, sizeof(ms), "%.3f", took > 0 ? took : 0.0);
    jw_key(w, "processingTime");
    jw_raw(w, ms);
    jw_end_obj(w);
}

/* The original server's answer: {successful: [...], failed: [...], summary}. */
static void write_bulk_original(jw *w, size_t n, size_t nok, const adb_log_result *res,
                                adb_event *const *kept, PGresult *dups, const adb_json *const *input)
{
    jw_obj(w);
    jw_key(w, "successful");
    jw_arr(w);
    for (size_t i = 0; i < n; i++) {
        if (res[i].status != ADB_OK)
            continue;
        jw_obj(w);
        jw_kbool(w, "success", true);
        jw_kint(w, "index", (long long)i);
        jw_key(w, "eventData");
        if (kept[i] || res[i].id) {
            write_stored(w, kept[i], dups, &res[i]);
        } else { /* validateOnly: the event as sent */
            size_t len;
            char *text = text_of(input[i], &len);
            if (text)
                jw_raw(w, text);
            else
                jw_null(w);
            free(text);
        }
        jw_end_obj(w);
    }
    jw_end_arr(w);
    jw_key(w, "failed");
    jw_arr(w);
    for (size_t i = 0; i < n; i++)
        if (res[i].status != ADB_OK)
            write_failed_original(w, i, input[i], &res[i]);
    jw_end_arr(w);
    jw_key(w, "summary");
    jw_obj(w);
    jw_kint(w, "total", (long long)n);
    jw_kint(w, "successful", (long long)nok);
    jw_kint(w, "failed", (long long)(n - nok));
    jw_end_obj(w);
    jw_end_obj(w);
}

/* The results of a bulk request. Each is about 5.6 KB (mostly room for
 * error entries that are read only up to their count), so 100 of them are
 * above the allocator's mapping threshold: allocating them afresh for every
 * request cost a mapping, a page fault per result and an unmapping with its
 * TLB shootdown, a third of the route's CPU. Each worker thread keeps its
 * own array for requests of up to RESULTS_KEPT events and reuses it; the
 * library fills every member it reads (prepare_parsed), so it is not zeroed.
 * Larger requests get their own array, freed after. */
#define RESULTS_KEPT 128

typedef struct results_cache {
    adb_log_result *res;
    size_t cap;
} results_cache;

static pthread_key_t results_key;
static pthread_once_t results_once = PTHREAD_ONCE_INIT;

static void results_cache_free(void *p)
{
    results_cache *c = p;
    free(c->res);
    free(c);
}

static void results_key_make(void)
{
    if (pthread_key_create(&results_key, results_cache_free) != 0)
        abort(); /* only at the first request: no key means no threads either */
}

/* n results; *own is set when the caller must free them. */
static adb_log_result *results_get(size_t n, bool *own)
{
    results_cache *c;

    *own = false;
    if (n <= RESULTS_KEPT) {
        pthread_once(&results_once, results_key_make);
        if (!(c = pthread_getspecific(results_key))) {
            if (!(c = calloc(1, sizeof(*c))))
                return NULL;
            if (pthread_setspecific(results_key, c) != 0) {
                free(c);
                return NULL;
            }
        }
        if (!c->res && !(c->res = malloc(RESULTS_KEPT * sizeof(*c->res))))
            return NULL;
        return c->res;
    }
    *own = true;
    return malloc(n * sizeof(adb_log_result));
}

enum MHD_Result adb_http_events_bulk(adb_http_request *req)
{
    enum MHD_Result r = MHD_NO;
    adb_json_doc *doc;
    const adb_json *root, *events, **input = NULL;
    adb_log_options lo;
    size_t n, nok = 0;
    adb_log_result *res = NULL;
    adb_event **kept = NULL;
    void **blocks = NULL;
    PGresult *dups = NULL;
    bool continue_on_error, validate_only, original, own_res = false;
    const char *shape = adb_http_arg(req, "shape");

    /* which answer: the client's (default) or the original server's */
    if (shape && strcmp(shape, "client") != 0 && strcmp(shape, "original") != 0)
        return validation_error(req, "shape", "INVALID_VALUE", "shape must be client or original");
    original = shape && !strcmp(shape, "original");
    if (!(doc = parse_body(req, &r)))
        return r;
    root = adb__json_root(doc);
    events = adb__json_get(root, "events");
    if (!events || events->type != ADB_JSON_ARRAY) {
        adb__json_free(doc);
        return validation_error(req, "events", events ? "INVALID_TYPE" : "REQUIRED_FIELD_MISSING",
                                "events must be an array of events");
    }
    n = events->count;
    if (n == 0 || n > req->state->max_bulk) {
        char msg[128];
        adb__fmt(msg, sizeof(msg), "events must hold 1 to %zu events (got %zu)", req->state->max_bulk, n);
        adb__json_free(doc);
        return validation_error(req, "events", "INVALID_VALUE", msg);
    }
    if (adb_http_header(req, "Idempotency-Key")) {
        adb__json_free(doc);
        return validation_error(req, "Idempotency-Key", "INVALID_VALUE",
                                "one Idempotency-Key cannot name many events: put idempotencyKey in each event");
    }
    if (!read_options(req, adb__json_get(root, "options"), &lo, &r)) {
        adb__json_free(doc);
        return r;
    }
    continue_on_error = flag(root, "continueOnError", true);
    validate_only = flag(root, "validateOnly", false);
    lo.idempotency_key = NULL;
    input = calloc(n, sizeof(*input));
    res = results_get(n, &own_res);
    kept = calloc(n, sizeof(*kept));
    blocks = calloc(n, sizeof(*blocks));
    if (!input || !res || !kept || !blocks)
        goto done;
    /* the parsed events, each with the server's clock as its timestamp
     * when it has none: handed to the library as they are */
    char ts[ADB_TS_TEXT_MAX];
    adb__timestamp_format(adb__now_us(), ts);
    static const char *const ts_key[] = { "timestamp" };
    const char *const ts_val[] = { ts };
    for (size_t i = 0; i < n; i++) {
        const adb_json *ev = events->items[i];
        const adb_json *inner = adb__json_get(ev, "eventData");
        const adb_json *org;
        if (inner)
            ev = inner;
        org = adb__json_get(ev, "organizationId");
        if (org && org->type == ADB_JSON_STRING && strcmp(org->str, req->who.organization_id) != 0) {
            adb_http_security_event(req, "cross_tenant_probe", "MEDIUM",
                                    "a bulk request named another organization than the key's");
            r = adb_http_send_error(req, MHD_HTTP_FORBIDDEN, "FORBIDDEN",
                                    "an event names another organization than the key's",
                                    json_pack("{s:s, s:s, s:I}", "resource", "audit.events", "action",
                                              "create", "index", (json_int_t)i));
            goto done;
        }
        if (!(input[i] = add_members(ev, ts_key, ts_val, 1, &blocks[i])))
            goto done;
    }

    unsigned flags = (validate_only ? ADB_LOG_VALIDATE_ONLY : 0) |
                     (continue_on_error ? 0 : ADB_LOG_ALL_OR_NOTHING);
    adb_log_batch_parsed(req->state->db, input, n, &lo, flags, res, kept);
    for (size_t i = 0; i < n; i++)
        nok += res[i].status == ADB_OK;
    bool any_invalid = false;
    for (size_t i = 0; i < n; i++)
        any_invalid |= res[i].status == ADB_ERR_INVALID;
    if (any_invalid && (flags & ADB_LOG_ALL_OR_NOTHING)) { /* the library stored nothing */
        r = bulk_invalid(req, res, n, "continueOnError is false and some events are invalid: "
                                      "nothing was stored");
        goto done;
    }
    if (nok == 0 && !validate_only) {
        for (size_t i = 0; i < n; i++)
            if (res[i].status != ADB_ERR_INVALID) {
                r = refused(req, &res[i]); /* busy or database away: 503 */
                goto done;
            }
        r = bulk_invalid(req, res, n, "no event of the batch is valid: nothing was stored");
        goto done;
    }
    if (!validate_only)
        dups = fetch_duplicates(req, res, n);
    jw w;
    jw_init(&w);
    if (original)
        write_bulk_original(&w, n, nok, res, kept, dups, input);
    else
        write_bulk_client(&w, req, n, nok, res, kept, dups, validate_only);
    r = send_jw(req, validate_only ? MHD_HTTP_OK : MHD_HTTP_CREATED, &w);
done:
    PQclear(dups);
    for (size_t i = 0; i < n; i++) {
        if (kept)
            adb_event_free(kept[i]);
        if (blocks)
            free(blocks[i]);
    }
    free(kept);
    free(blocks);
    free(input);
    if (own_res)
        free(res);
    adb__json_free(doc);
    return r;
}

/* An id that exists in another organization: answered 404 like a missing
 * one, but recorded as a cross-tenant probe. */
static void note_probe(adb_http_request *req, const adb_http_event_ref *ref)
{
    adb_status st;
    PGconn *c = adb_pool_acquire(req->state->pool, &st, NULL, 0);
    char idtext[32];

    if (!c)
        return;
    adb__fmt(idtext, sizeof(idtext), "%" PRId64, ref->id);
    const char *p[] = { ref->uuid[0] ? ref->uuid : idtext, req->who.organization_id, ref->ts };
    PGresult *r = PQexecParams(c, ref->uuid[0]
        ? "SELECT 1 FROM audit_log WHERE event_id = $1::uuid AND organization_id <> $2"
          " AND ($3 = '' OR \"timestamp\" = nullif($3, '')::timestamptz)"
        : "SELECT 1 FROM audit_log WHERE id = $1::bigint AND organization_id <> $2 AND $3 = ''",
        3, NULL, p, NULL, NULL, 0);
    bool other = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0;
    PQclear(r);
    adb_pool_release(req->state->pool, c);
    if (other) {
        char desc[128];
        adb__fmt(desc, sizeof(desc), "asked for event %s of another organization", p[0]);
        adb_http_security_event(req, "cross_tenant_probe", "MEDIUM", desc);
    }
}

/* The same for the other routes of one event (proofs.c). */
void adb_http_events_probe(adb_http_request *req, const adb_http_event_ref *ref)
{
    note_probe(req, ref);
}

static enum MHD_Result bad_event_ref(adb_http_request *req)
{
    return validation_error(req, "id", "INVALID_FORMAT",
                            "id must be an event id: a UUID (or an event's former numeric id)");
}

static enum MHD_Result no_such_event(adb_http_request *req)
{
    /* another organization's id answers exactly like a missing one */
    return adb_http_send_error(req, MHD_HTTP_NOT_FOUND, "NOT_FOUND", "no such event",
                               json_pack("{s:s}", "id", req->param[0]));
}

/* ---- GET /api/v1/audit/events/{id} -------------------------------------- */

enum MHD_Result adb_http_events_get(adb_http_request *req)
{
    adb_http_event_ref ref;
    char ids[32];
    PGresult *pr;

    if (!adb_http_event_ref_parse(req->param[0], &ref))
        return bad_event_ref(req);
    if (ref.uuid[0]) {
        const char *p[] = { req->who.organization_id, ref.uuid, ref.ts };
        adb_status st;
        pr = adb_tenant_query(req->state->db, req->who.organization_id,
                              ref.ts[0] ? "SELECT " EVENT_COLUMNS " FROM audit_log"
                                          " WHERE organization_id = $1 AND event_id = $2::uuid"
                                          " AND \"timestamp\" = $3::timestamptz"
                                        : "SELECT " EVENT_COLUMNS " FROM audit_log"
                                          " WHERE organization_id = $1 AND event_id = $2::uuid",
                              ref.ts[0] ? 3 : 2, p, ADB_PLAN_GENERIC, NULL, 0, NULL, &st);
        if (pr && PQresultStatus(pr) != PGRES_TUPLES_OK) {
            PQclear(pr);
            pr = NULL;
        }
    } else {
        adb__fmt(ids, sizeof(ids), "{%" PRId64 "}", ref.id);
        pr = fetch_by_ids(req, ids, NULL, NULL);
    }
    if (!pr)
        return db_unavailable(req);
    if (PQntuples(pr) == 0) {
        PQclear(pr);
        note_probe(req, &ref);
        return no_such_event(req);
    }
    jw w;
    jw_init(&w);
    write_event(&w, pr, 0);
    PQclear(pr);
    return send_jw(req, MHD_HTTP_OK, &w);
}

/* ---- POST /api/v1/audit/events/{id}/verify ------------------------------ */

enum MHD_Result adb_http_events_verify(adb_http_request *req)
{
    adb_http_event_ref ref;
    int64_t id;
    adb_verify_problem probs[8];
    int n = 0;
    char err[ADB_ERRMSG_MAX], ts[40], event_id[37];
    PGconn *c;
    adb_status st;

    if (!adb_http_event_ref_parse(req->param[0], &ref))
        return bad_event_ref(req);
    st = adb_event_locate(req->state->db, req->param[0], req->who.organization_id, &id, event_id,
                          err, sizeof(err));
    double t0 = adb__now_ms(), took_ms = 0; /* the verification's duration: metrics' averageTime */
    if (st == ADB_OK)
        st = adb_verify_event(req->state->db, id, req->who.organization_id, probs, 8, &n, err,
                              sizeof(err));
    took_ms = adb__now_ms() - t0;
    if (st == ADB_ERR_NOT_FOUND)
        note_probe(req, &ref);
    if (st == ADB_ERR_NOT_FOUND)
        return no_such_event(req);
    if (st != ADB_OK)
        return db_unavailable(req);
    adb_http_iso_now(ts);
    /* the stored hash and algorithm, for the smart-logs fields */
    c = adb_tenant_begin(req->state->db, req->who.organization_id, &st, NULL, 0);
    char idtext[32], stored[65] = "", alg[51] = "", seq[24] = "";
    if (!c)
        return db_unavailable(req);
    adb__fmt(idtext, sizeof(idtext), "%" PRId64, id);
    const char *p[] = { idtext, req->who.organization_id };
    PGresult *hr = PQexecParams(c, "SELECT coalesce(hash, ''), coalesce(hash_algorithm, ''),"
                                   " coalesce(chain_seq::text, '') FROM audit_log"
                                   " WHERE id = $1::bigint AND organization_id = $2",
                                2, NULL, p, NULL, NULL, 0);
    adb_tenant_end(req->state->db, c, true);
    if (PQresultStatus(hr) == PGRES_TUPLES_OK && PQntuples(hr) == 1) {
        adb__fmt(stored, sizeof(stored), "%s", PQgetvalue(hr, 0, 0));
        adb__fmt(alg, sizeof(alg), "%s", PQgetvalue(hr, 0, 1));
        adb__fmt(seq, sizeof(seq), "%s", PQgetvalue(hr, 0, 2));
    }
    PQclear(hr);
    const char *computed = stored;
    bool sig_ok = true, chain_ok = true;
    json_t *problems = json_array();
    for (int i = 0; i < n && i < 8; i++) {
        static const struct { const char *kind, *code; } codes[] = {
            { "hash_mismatch", "HASH_MISMATCH" }, { "signature_invalid", "SIGNATURE_MISMATCH" },
            { "chain_link_mismatch", "CHAIN_LINK_MISMATCH" }, { "chain_break", "CHAIN_PREV_MISMATCH" },
            { "missing_events", "CHAIN_GAP" }, { "duplicate_seq", "CHAIN_GAP" },
            { "unreadable", "HASH_MISMATCH" }, { "archive_mismatch", "CHAIN_PREV_MISMATCH" },
            { "event_id_mismatch", "EVENT_ID_MISMATCH" },
        };
        const char *code = "HASH_MISMATCH";
        for (size_t k = 0; k < sizeof(codes) / sizeof(codes[0]); k++)
            if (!strcmp(codes[k].kind, probs[i].kind))
                code = codes[k].code;
        if (!strcmp(probs[i].kind, "hash_mismatch"))
            computed = probs[i].expected;
        if (!strcmp(probs[i].kind, "signature_invalid"))
            sig_ok = false;
        if (strncmp(probs[i].kind, "chain", 5) == 0 || !strcmp(probs[i].kind, "missing_events") ||
            !strcmp(probs[i].kind, "duplicate_seq"))
            chain_ok = false;
        json_array_append_new(problems, json_pack("{s:s, s:s, s:s}", "code", code, "kind", probs[i].kind,
                                                  "message", probs[i].message));
    }
    json_t *body = json_pack("{s:s, s:b, s:s, s:{s:s, s:s, s:s, s:b, s:b, s:o}, s:b, s:s, s:s, s:s, s:s}",
                             "eventId", event_id, "verified", n == 0, "timestamp", ts,
                             "details", "originalHash", stored, "computedHash", computed,
                             "algorithm", alg, "signatureValid", sig_ok, "chainIntegrity", chain_ok,
                             "problems", problems,
                             "isValid", n == 0, "verificationTimestamp", ts, "hashAlgorithm", alg,
                             "computedHash", computed, "storedHash", stored);
    if (n)
        adb_http_metrics_verify_failures(req->state->metrics, n);
    if (body && seq[0])
        json_object_set_new(json_object_get(body, "details"), "chainSeq", json_integer(strtoll(seq, NULL, 10)));
    /* recorded like a run of auditdb verify */
    c = adb_pool_acquire(req->state->pool, &st, NULL, 0);
    if (c) {
        char took[32];
        adb__fmt(took, sizeof(took), "%.3f", took_ms);
        const char *rp[] = { idtext, n == 0 ? "success" : "tampered", stored, computed, req->who.key_id,
                             event_id, took };
        PQclear(PQexecParams(c, "INSERT INTO audit_integrity_log (audit_log_id, verification_status,"
                                " verification_details, verified_by, hash_verified, expected_hash)"
                                " VALUES ($1::bigint, $2, jsonb_build_object('kind', 'api', 'eventId', $6::text,"
                                " 'durationMs', $7::numeric), 'api key ' || $5, $4, $3)",
                             7, NULL, rp, NULL, NULL, 0));
        adb_pool_release(req->state->pool, c);
    }
    return adb_http_send_json(req, MHD_HTTP_OK, body);
}

/* ---- GET /api/v1/audit/events ------------------------------------------- */

/* A query under construction: SQL text and its parameters. */
typedef struct qb {
    char sql[4096];
    size_t len;
    const char *params[16];
    char *owned[16];
    int n;
} qb;

static void qb_add(qb *q, const char *text)
{
    size_t n = strlen(text);
    if (q->len + n < sizeof(q->sql)) {
        memcpy(q->sql + q->len, text, n + 1);
        q->len += n;
    }
}

/* Adds a parameter; returns its $ number. */
static int qb_param(qb *q, const char *v, bool own)
{
    q->params[q->n] = v;
    q->owned[q->n] = own ? (char *)v : NULL;
    return ++q->n;
}

static void qb_free(qb *q)
{
    for (int i = 0; i < q->n; i++)
        free(q->owned[i]);
}

/* "a,b,c" -> a text[] literal {"a","b","c"}; NULL if an item is longer
 * than 511 bytes or there are more than FILTER_VALUES_MAX. Caller frees. */
static char *csv_to_array(const char *csv, int *count)
{
    adb__buf b = { 0 };
    const char *p = csv;
    int n = 0;

    adb__buf_put(&b, "{", 1);
    while (*p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len > 0) {
            if (len > 511 || ++n > FILTER_VALUES_MAX) {
                adb__buf_free(&b);
                return NULL;
            }
            if (n > 1)
                adb__buf_put(&b, ",", 1);
            adb__buf_array_elem(&b, p, len);
        }
        p = e ? e + 1 : p + len;
    }
    adb__buf_put(&b, "}", 1);
    *count = n;
    return adb__buf_take(&b, NULL);
}

/* The keyset cursor: base64url of
 * "v1.<a|d>.<filter fingerprint>.<timestamp µs>.<id>[.<total>.<e|x>[.<position>]]".
 * It is opaque to clients; the fingerprint ties it to the filters it was
 * made with, the first page's total (exact or estimated) rides along so
 * that deeper pages need not count again, and the position (the rows before
 * the page it starts) so that the page can say its `offset`. */
static const char b64t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void cursor_encode(bool desc, const char *fp, const char *ts_us, const char *id,
                          long long total, bool exact, long long pos, char out[160])
{
    char raw[112];
    size_t n = (size_t)snprintf(raw, sizeof(raw), "v1.%c.%s.%s.%s.%lld.%c.%lld", desc ? 'd' : 'a',
                                fp, ts_us, id, total, exact ? 'e' : 'x', pos);
    if (n >= sizeof(raw))
        n = sizeof(raw) - 1;
    adb__base64url(raw, n, out); /* 112 bytes -> at most 150 characters */
}

static bool cursor_decode(const char *in, bool *desc, char fp[17], long long *ts_us, long long *id,
                          long long *total, bool *exact, long long *position)
{
    char raw[128];
    size_t o = 0, n = strlen(in);
    unsigned v = 0;
    int bits = 0;

    if (n == 0 || n > 150)
        return false;
    for (size_t i = 0; i < n; i++) {
        const char *pos = strchr(b64t, in[i]);
        if (!pos || !in[i])
            return false;
        v = (v << 6) | (unsigned)(pos - b64t);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o + 1 >= sizeof(raw))
                return false;
            raw[o++] = (char)((v >> bits) & 0xff);
        }
    }
    raw[o] = '\0';
    /* v1.<d|a>.<16 hex>.<ts>.<id> */
    if (strncmp(raw, "v1.", 3) != 0 || (raw[3] != 'a' && raw[3] != 'd') || raw[4] != '.' ||
        strlen(raw) < 5 + 16 + 1 || raw[21] != '.')
        return false;
    *desc = raw[3] == 'd';
    memcpy(fp, raw + 5, 16);
    fp[16] = '\0';
    char *ts = raw + 22, *dot = strchr(ts, '.');
    if (!dot)
        return false;
    *dot = '\0';
    char *idp = dot + 1, *rest = strchr(idp, '.');
    *total = -1; /* a cursor from before totals rode along */
    *exact = false;
    *position = -1; /* ...or positions */
    if (rest) {
        *rest++ = '\0';
        char *flag = strchr(rest, '.');
        if (!flag || (flag[1] != 'e' && flag[1] != 'x') || (flag[2] != '\0' && flag[2] != '.'))
            return false;
        *exact = flag[1] == 'e';
        if (flag[2] == '.' && !adb__parse_int(flag + 3, 0, OFFSET_MAX, position))
            return false;
        *flag = '\0';
        if (!adb__parse_int(rest, 0, INT64_MAX, total))
            return false;
    }
    return adb__parse_int(ts, INT64_MIN / 2, INT64_MAX / 2, ts_us) &&
           adb__parse_int(idp, 1, INT64_MAX, id);
}

/* The planner's row estimate in an EXPLAIN (FORMAT JSON) result; 0 without one. */
static long long plan_rows(PGresult *er)
{
    const char *plan = er && PQresultStatus(er) == PGRES_TUPLES_OK ? PQgetvalue(er, 0, 0) : NULL;
    const char *rows = plan ? strstr(plan, "\"Plan Rows\": ") : NULL;
    return rows ? strtoll(rows + 13, NULL, 10) : 0;
}

/* A kept estimate to refresh after the answer (totals.h): everything the
 * EXPLAIN needs, copied out of the request. */
typedef struct estimate_job {
    adb *db;
    adb_http_totals *totals;
    char org[256], fp[17];
    char *sql;
    int n;
    char *params[16];
} estimate_job;

static void estimate_job_free(estimate_job *j)
{
    for (int i = 0; i < j->n; i++)
        free(j->params[i]);
    free(j->sql);
    free(j);
}

/* Run by the worker once the page is on its way (adb_http_request.after). */
static void estimate_refresh(void *arg)
{
    estimate_job *j = arg;
    PGresult *er = NULL;
    adb_status st;
    PGresult *r = adb_tenant_query(j->db, j->org, "SELECT 1", 0, (const char *const *)j->params,
                                   ADB_PLAN_CUSTOM, j->sql, j->n, &er, &st);
    long long est = plan_rows(er);
    if (r && er && PQresultStatus(er) == PGRES_TUPLES_OK) {
        if (est > COUNT_CAP)
            adb_http_totals_put(j->totals, j->org, j->fp, est);
        else /* small now: the next first page counts it exactly */
            adb_http_totals_drop(j->totals, j->org, j->fp);
    } /* else the claim lapses after a TTL and another request tries */
    PQclear(er);
    PQclear(r);
    estimate_job_free(j);
}

/* Leaves the refresh of the kept estimate to after req's answer; when it
 * cannot, the estimate just stays as it is until its claim lapses. */
static void estimate_later(adb_http_request *req, const char *esql, int n, const char *const *params,
                           const char *fp)
{
    estimate_job *j = calloc(1, sizeof(*j));
    if (!j)
        return;
    j->db = req->state->db;
    j->totals = req->state->totals;
    adb__fmt(j->org, sizeof(j->org), "%s", req->who.organization_id);
    adb__fmt(j->fp, sizeof(j->fp), "%s", fp);
    j->sql = strdup(esql);
    bool ok = j->sql != NULL && n <= 16;
    for (int i = 0; ok && i < n; i++, j->n++)
        ok = params[i] == NULL || (j->params[i] = strdup(params[i])) != NULL;
    if (!ok) {
        estimate_job_free(j);
        return;
    }
    req->after = estimate_refresh;
    req->after_arg = j;
}

/* The fraction digits of an RFC 3339 time (0 without a fraction). */
static int fraction_digits(const char *t)
{
    int n = 0;
    if (strlen(t) > 19 && t[19] == '.')
        while (t[20 + n] >= '0' && t[20 + n] <= '9')
            n++;
    return n;
}

/* A fingerprint of the filters, so a cursor cannot be replayed with others. */
static void filter_fingerprint(adb_http_request *req, char out[17])
{
    static const char *const names[] = { "startDate", "endDate", "principalIds", "actions",
                                         "statuses", "dataClassifications", "resourceTypes",
                                         "correlationId", NULL };
    jw w;
    unsigned char h[32];
    char hex[65];

    jw_init(&w);
    jw_arr(&w);
    for (int i = 0; names[i]; i++)
        jw_str(&w, adb_http_arg(req, names[i]) ? adb_http_arg(req, names[i]) : "");
    jw_end_arr(&w);
    size_t len;
    char *text = jw_take(&w, &len);
    if (text && adb__sha256(text, len, h))
        adb__hex(h, 32, hex);
    else
        memset(hex, '0', 64);
    free(text);
    memcpy(out, hex, 16);
    out[16] = '\0';
}

enum MHD_Result adb_http_events_list(adb_http_request *req)
{
    qb q = { .len = 0 };
    long long limit = LIST_DEFAULT, offset = 0, cur_ts = 0, cur_id = 0, cur_total = -1, cur_pos = -1;
    bool cur_exact = false;
    const char *a;
    char num[4][32];
    bool desc = true, cursor = false;
    const char *sort_col = "\"timestamp\""; /* "timestamp": the time order, else a column */
    static const struct { const char *arg, *col; } filters[] = {
        { "principalIds", "principal_id" }, { "actions", "action" }, { "statuses", "status" },
        { "dataClassifications", "data_classification" },
        { "resourceTypes", "target_resource_type" }, { "correlationId", "correlation_id" },
    };
    /* The client's five sort fields (docs/api.md, "Sorting"). organizationId
     * is one value in any list (the caller's organization), so it sorts as
     * its ties do: newest first. */
    static const struct { const char *arg, *col; } sorts[] = {
        { "timestamp", "\"timestamp\"" }, { "organizationId", "\"timestamp\"" },
        { "action", "action" }, { "status", "status" }, { "principalId", "principal_id" },
    };

    if ((a = adb_http_arg(req, "limit")) && !adb__parse_int(a, 1, LIST_MAX, &limit))
        return validation_error(req, "limit", "INVALID_VALUE", "limit must be an integer from 1 to 1000");
    if ((a = adb_http_arg(req, "offset")) && !adb__parse_int(a, 0, OFFSET_MAX, &offset))
        return validation_error(req, "offset", "INVALID_VALUE",
                                "offset must be an integer from 0 to 9007199254740991");
    if ((a = adb_http_arg(req, "organizationIds")) && *a) {
        /* only the caller's own organization may be asked for */
        const char *p = a;
        while (*p) {
            const char *e = strchr(p, ',');
            size_t len = e ? (size_t)(e - p) : strlen(p);
            if (len && (len != strlen(req->who.organization_id) ||
                        strncmp(p, req->who.organization_id, len) != 0)) {
                adb_http_security_event(req, "cross_tenant_probe", "MEDIUM",
                                        "a list asked for another organization's events");
                return adb_http_send_error(req, MHD_HTTP_FORBIDDEN, "FORBIDDEN",
                                           "organizationIds may only name the key's own organization",
                                           json_pack("{s:s, s:s}", "resource", "audit.events",
                                                     "action", "read"));
            }
            p = e ? e + 1 : p + len;
        }
    }
    if ((a = adb_http_arg(req, "sortDirection"))) {
        if (!strcasecmp(a, "asc"))
            desc = false;
        else if (strcasecmp(a, "desc"))
            return validation_error(req, "sortDirection", "INVALID_VALUE", "sortDirection must be asc or desc");
    }
    if ((a = adb_http_arg(req, "sortField"))) {
        sort_col = NULL;
        for (size_t i = 0; i < sizeof(sorts) / sizeof(sorts[0]); i++)
            if (!strcmp(a, sorts[i].arg))
                sort_col = sorts[i].col;
        if (!sort_col)
            return validation_error(req, "sortField", "INVALID_VALUE",
                                    "sortField must be timestamp, status, action, principalId or "
                                    "organizationId");
        if (!strcmp(a, "organizationId"))
            desc = true; /* one organization: its ties' order, newest first */
    }
    bool by_time = !strcmp(sort_col, "\"timestamp\"");
    char fp[17];
    filter_fingerprint(req, fp);
    long long before = offset; /* the rows before this page: a cursor's own position rides in it */
    if ((a = adb_http_arg(req, "cursor"))) {
        bool cdesc;
        char cfp[17];
        if (!by_time)
            return validation_error(req, "cursor", "INVALID_VALUE",
                                    "cursor pages are sorted by timestamp (or organizationId)");
        if (!cursor_decode(a, &cdesc, cfp, &cur_ts, &cur_id, &cur_total, &cur_exact, &cur_pos))
            return validation_error(req, "cursor", "INVALID_FORMAT", "cursor is not one this server gave out");
        if (cdesc != desc || strcmp(cfp, fp) != 0 || offset != 0)
            return validation_error(req, "cursor", "INVALID_VALUE",
                                    "cursor was made for other filters, another direction, or is "
                                    "combined with offset");
        cursor = true;
        before = cur_pos >= 0 ? cur_pos : 0; /* 0: a cursor made before positions rode along */
    }

    qb_add(&q, "FROM audit_log WHERE organization_id = $1");
    qb_param(&q, req->who.organization_id, false);
    static const struct { const char *arg, *op; } dates[] = { { "startDate", ">=" }, { "endDate", "<=" } };
    char bounds[2][ADB_TS_TEXT_MAX];
    int64_t bound_us[2] = { INT64_MIN, INT64_MAX };
    for (int i = 0; i < 2; i++) {
        char clause[96];
        if (!(a = adb_http_arg(req, dates[i].arg)))
            continue;
        if (!adb__timestamp_parse(a, strlen(a), &bound_us[i])) {
            qb_free(&q);
            char msg[128];
            adb__fmt(msg, sizeof(msg), "%s must be RFC 3339 with an offset", dates[i].arg);
            return validation_error(req, dates[i].arg, "INVALID_FORMAT", msg);
        }
        /* An end given to the millisecond or coarser takes in its whole last
         * millisecond: events read back truncated to milliseconds (docs/api.md,
         * "Times"), so an event that reads as the bound is inside it. */
        if (i == 1 && fraction_digits(a) <= 3)
            bound_us[i] += 999;
        adb__timestamp_format(bound_us[i], bounds[i]);
        adb__fmt(clause, sizeof(clause), " AND \"timestamp\" %s $%d::timestamptz", dates[i].op,
                 qb_param(&q, bounds[i], false));
        qb_add(&q, clause);
    }
    if (bound_us[1] < bound_us[0]) {
        qb_free(&q);
        return validation_error(req, "endDate", "INVALID_VALUE", "endDate is before startDate");
    }
    int principals = 0; /* the parameter of principalIds, 0: none */
    for (size_t i = 0; i < sizeof(filters) / sizeof(filters[0]); i++) {
        int count = 0;
        char clause[96], *arr;
        if (!(a = adb_http_arg(req, filters[i].arg)) || !*a)
            continue;
        if (!(arr = csv_to_array(a, &count))) {
            qb_free(&q);
            char msg[128];
            adb__fmt(msg, sizeof(msg), "%s takes at most %d comma-separated values", filters[i].arg,
                     FILTER_VALUES_MAX);
            return validation_error(req, filters[i].arg, "INVALID_VALUE", msg);
        }
        int pn = qb_param(&q, arr, true);
        adb__fmt(clause, sizeof(clause), " AND %s = ANY($%d::text[])", filters[i].col, pn);
        qb_add(&q, clause);
        if (i == 0)
            principals = pn;
    }
    char where_end[4096];
    adb__fmt(where_end, sizeof(where_end), "%s", q.sql); /* without the cursor: for the count */
    int nparams_count = q.n;
    /* No stored event is later than its writer's clock allowed (max_future_s;
     * a day more for clocks apart): saying so lets PostgreSQL leave out the
     * months ahead that the partition manager keeps ready (six of thirteen
     * partitions) when it starts the page's generic plan. */
    char horizon[40];
    adb__timestamp_format(adb__now_us() +
                              ((int64_t)req->state->db->o.max_future_s + 86400) * 1000000,
                          horizon);
    int ph = qb_param(&q, horizon, false);
    {
        char clause[64];
        adb__fmt(clause, sizeof(clause), " AND \"timestamp\" <= $%d::timestamptz", ph);
        qb_add(&q, clause);
    }
    char bound[64] = ""; /* a cursor's time as a bound of its own, for the outer read below */
    if (cursor) {
        char clause[200];
        int64_t back;
        adb__timestamp_format(cur_ts, num[0]);
        if (!adb__timestamp_parse(num[0], strlen(num[0]), &back) || back != cur_ts) {
            qb_free(&q);
            return validation_error(req, "cursor", "INVALID_FORMAT", "cursor is not one this server gave out");
        }
        adb__fmt(num[1], sizeof(num[1]), "%lld", cur_id);
        int p1 = qb_param(&q, num[0], false), p2 = qb_param(&q, num[1], false);
        /* the time alone as well: implied by the row comparison, but only
         * it lets PostgreSQL leave out the partitions newer (older) than
         * the cursor when it starts the plan, as the horizon does above */
        adb__fmt(bound, sizeof(bound), " AND \"timestamp\" %s $%d::timestamptz", desc ? "<=" : ">=", p1);
        adb__fmt(clause, sizeof(clause), "%s AND (\"timestamp\", id) %s ($%d::timestamptz, $%d::bigint)",
                 bound, desc ? "<" : ">", p1, p2);
        qb_add(&q, clause);
    }
    char tail[200], order_by[96];
    adb__fmt(num[2], sizeof(num[2]), "%lld", limit + 1);
    adb__fmt(num[3], sizeof(num[3]), "%lld", cursor ? 0 : offset);
    int pl = qb_param(&q, num[2], false), po = qb_param(&q, num[3], false);
    /* Every order ends in a unique key, (timestamp, id): a page is the same
     * whichever plan reads it, and offset pages neither skip nor repeat. By
     * time, the direction applies to the time and the id. By another field,
     * ascending is the field ascending and, among equal values, newest first;
     * descending is exactly its reverse (ties oldest first). That is the
     * (organization, principal, timestamp DESC, id DESC) index's order read
     * forward or backward: by principal a page reads its own rows only
     * (newest first in both directions needed a sort of every event of the
     * principals on the page: 10,134 rows, 19-44 ms, for one page). */
    const char *dir = desc ? "DESC" : "ASC", *tie = desc ? "ASC" : "DESC";
    bool by_status = !strcmp(sort_col, "status"), by_action = !strcmp(sort_col, "action");
    if (by_time)
        adb__fmt(order_by, sizeof(order_by), "\"timestamp\" %s, id %s", dir, dir);
    else if (by_status) /* the (organization, status, action, timestamp, id) index's order */
        adb__fmt(order_by, sizeof(order_by), "status %s, action %s, \"timestamp\" %s, id %s", dir,
                 dir, tie, tie);
    else
        adb__fmt(order_by, sizeof(order_by), "%s %s, \"timestamp\" %s, id %s", sort_col, dir, tie, tie);
    adb__fmt(tail, sizeof(tail), " ORDER BY %s LIMIT $%d::bigint OFFSET $%d::bigint", order_by, pl, po);
    qb_add(&q, tail);

    char sql[8192], esql[8192];
    bool per_principal = principals && by_time;
    if (per_principal) {
        /* For each principal asked for, the (timestamp, id) of its newest
         * matching rows by the (organization, principal, timestamp, id)
         * index, which includes the action (an index-only scan when the
         * other filters are on indexed columns); then the page's keys from
         * their union, and only the page's rows read from the table: a few
         * short ordered scans, and one plan that suits any values. (A single
         * scan of the organization's rows filtered by principal read tens of
         * thousands of rows for one page; reading every candidate row to
         * check its action, 5 x 333 rows for one page of 51.) */
        char any[48], inner[4096];
        const char *at;
        adb__fmt(any, sizeof(any), " AND principal_id = ANY($%d::text[])", principals);
        at = strstr(q.sql, any);
        const char *order = strstr(q.sql, " ORDER BY ");
        if (!at || !order) {
            qb_free(&q);
            return adb_http_send_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "INTERNAL_SERVER_ERROR",
                                       "could not build the query", NULL);
        }
        adb__fmt(inner, sizeof(inner), "%.*s AND principal_id = p.pid%.*s ORDER BY \"timestamp\" %s,"
                 " id %s LIMIT $%d::bigint + $%d::bigint", (int)(at - q.sql), q.sql,
                 (int)(order - at - strlen(any)), at + strlen(any), desc ? "DESC" : "ASC",
                 desc ? "DESC" : "ASC", pl, po);
        adb__fmt(sql, sizeof(sql), "SELECT " EVENT_COLUMNS " FROM audit_log WHERE organization_id = $1"
                 " AND \"timestamp\" <= $%d::timestamptz%s AND (\"timestamp\", id) IN (SELECT k.ts, k.id"
                 " FROM unnest($%d::text[]) p(pid) CROSS JOIN LATERAL (SELECT \"timestamp\" AS ts, id %s) k"
                 " ORDER BY k.ts %s, k.id %s LIMIT $%d::bigint OFFSET $%d::bigint) ORDER BY %s %s, id %s",
                 ph, bound, principals, inner, dir, dir, pl, po, sort_col, dir, dir);
    } else if (by_action) {
        /* Sorted by action: the (organization, status, action, timestamp,
         * id) index (migration 0023) gives that order within one status.
         * So for each status the organization's matching events have (found
         * by a skip scan of the same index: one short probe per status, and
         * whatever a superuser may have stored, not only the three the API
         * takes; as an array: read as a CTE the same statement took 1.3 s
         * instead of 0.2 at offset 50,000), its first limit + offset keys in
         * the page's order, an index-only scan that stops there; then the
         * page from their union, and its rows by their keys. (One index
         * serves both sorts; an index per field would cost every insert
         * twice: docs/schema.md.) */
        const char *order = strstr(q.sql, " ORDER BY ");
        if (!order) {
            qb_free(&q);
            return adb_http_send_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "INTERNAL_SERVER_ERROR",
                                       "could not build the query", NULL);
        }
        int w = (int)(order - q.sql); /* "FROM audit_log WHERE ..." without the order */
        adb__fmt(sql, sizeof(sql), "SELECT e.* FROM (SELECT k.ts AS k_ts, k.id AS k_id FROM"
                 " unnest(ARRAY(WITH RECURSIVE st(v) AS ((SELECT status %.*s ORDER BY status LIMIT 1)"
                 " UNION ALL SELECT (SELECT status %.*s AND status > st.v ORDER BY status LIMIT 1)"
                 " FROM st WHERE st.v IS NOT NULL) SELECT v FROM st WHERE v IS NOT NULL)) st(v)"
                 " CROSS JOIN LATERAL (SELECT \"timestamp\" AS ts, id, action"
                 " %.*s AND status = st.v ORDER BY action %s, \"timestamp\" %s, id %s LIMIT"
                 " $%d::bigint + $%d::bigint) k ORDER BY k.action %s, k.ts %s,"
                 " k.id %s LIMIT $%d::bigint OFFSET $%d::bigint) k CROSS JOIN LATERAL (SELECT "
                 EVENT_COLUMNS " FROM audit_log WHERE organization_id = $1 AND \"timestamp\" = k.k_ts"
                 " AND id = k.k_id LIMIT 1) e ORDER BY %s",
                 w, q.sql, w, q.sql, w, q.sql, dir, tie, tie, pl, po, dir, tie, tie, pl, po, order_by);
    } else if ((offset > 0 || !by_time) && !cursor) {
        /* An offset is skipped over the keys alone: the inner statement reads
         * only ("timestamp", id) (and the sort column), by an index-only scan
         * of the index that gives the order when the filters allow, and the
         * page's rows are read by their keys: a deep page costs a walk over
         * index entries, not the reading and rendering of every skipped row
         * (docs/api.md, "Offsets"). Sorted by status, the (organization,
         * status, action, timestamp, id) index gives the order. The rows
         * are joined LATERAL, one primary-key probe per key on the one
         * partition that holds it: as `("timestamp", id) IN (...)` the
         * generic plan guessed a tenth of the organization for the keys and
         * hashed them against a scan of all its rows (107 ms for a page of
         * 50 of 101,000 events instead of 2). `LIMIT 1` (a key is one row)
         * keeps PostgreSQL from flattening the LATERAL into that same join. */
        adb__fmt(sql, sizeof(sql), "SELECT e.* FROM (SELECT \"timestamp\" AS k_ts, id AS k_id %s) k"
                 " CROSS JOIN LATERAL (SELECT " EVENT_COLUMNS " FROM audit_log WHERE organization_id = $1"
                 " AND \"timestamp\" = k.k_ts AND id = k.k_id LIMIT 1) e ORDER BY %s", q.sql, order_by);
    } else {
        adb__fmt(sql, sizeof(sql), "SELECT " EVENT_COLUMNS " %s", q.sql);
    }
    /* One round trip: the page, and on a first page the total (a cursor
     * carries the first page's total). Without filters or dates the total
     * is exact and cheap: the positions the organization's chain has
     * reached less those archived or deleted into stubs (docs/api.md);
     * with them, the planner's estimate. */
    bool filtered = nparams_count > 1; /* filters or dates besides the organization */
    if (filtered)
        adb__fmt(esql, sizeof(esql), "EXPLAIN (FORMAT JSON) SELECT 1 %s", where_end);
    else
        adb__fmt(esql, sizeof(esql), "%s",
                 "SELECT h.last_seq - coalesce((SELECT sum((a.metadata->>'recordCount')::bigint)"
                 " FROM archive_storage a WHERE a.organization_id = $1 AND a.payload IS NOT NULL),"
                 " 0) FROM audit_chain_head h WHERE h.organization_id = $1");
    long long kept = 0; /* a filtered first page: an estimate kept from a moment ago */
    bool refresh = false; /* ...stale, and this request refreshes it after its answer */
    bool have_kept = filtered && !cursor &&
                     adb_http_totals_get(req->state->totals, req->who.organization_id, fp, &kept,
                                         &refresh) != ADB_TOTAL_NONE;
    bool want_estimate = (!cursor || cur_total < 0) && !have_kept;
    adb_status st;
    PGresult *er = NULL;
    /* a filtered page is planned for its own values (docs/api.md); an
     * unfiltered or per-principal page has one plan that suits all values;
     * by action always its own (the generic plan of the per-status merge
     * took 135-410 ms where a custom one takes 2-9 ms, planning included) */
    PGresult *pr = adb_tenant_query(req->state->db, req->who.organization_id, sql, q.n, q.params,
                                    (filtered && !per_principal) || by_action ? ADB_PLAN_CUSTOM
                                                                              : ADB_PLAN_GENERIC,
                                    want_estimate ? esql : NULL,
                                    nparams_count, &er, &st);
    if (!pr) {
        qb_free(&q);
        return db_unavailable(req);
    }
    /* total: exact and free when this is the last page; else the planner's
     * estimate, made exact by a capped count when it is small (a page never
     * counts millions of rows) */
    long long total = -1;
    bool exact = true;
    if (PQntuples(pr) <= limit && !cursor && (PQntuples(pr) > 0 || offset == 0)) {
        /* the last page (not one past the end, which knows nothing of how
         * far the end is) */
        total = offset + PQntuples(pr);
    } else if (have_kept) {
        long long seen = PQntuples(pr) ? offset + PQntuples(pr) : 0; /* past the end: nothing */
        total = kept > seen ? kept : seen;
        exact = false;
    } else if (!want_estimate) {
        total = cur_total;
        exact = cur_exact;
    } else if (!filtered && er && PQresultStatus(er) == PGRES_TUPLES_OK) {
        long long seen = PQntuples(pr) ? before + PQntuples(pr) : 0; /* past the end: nothing */
        total = PQntuples(er) == 1 ? strtoll(PQgetvalue(er, 0, 0), NULL, 10) : 0;
        if (total < seen) /* rows stored beside the chain (tampering): at least what was seen */
            total = seen;
    } else {
        long long est = plan_rows(er);
        total = est;
        exact = false;
        if (est > COUNT_CAP)
            adb_http_totals_put(req->state->totals, req->who.organization_id, fp, est);
        if (est <= COUNT_CAP) {
            char csql[8192];
            adb__fmt(csql, sizeof(csql), "SELECT count(*) FROM (SELECT 1 %s LIMIT %d) s", where_end,
                     COUNT_CAP + 1);
            PGresult *cr = adb_tenant_query(req->state->db, req->who.organization_id, csql,
                                            nparams_count, q.params, ADB_PLAN_CUSTOM, NULL, 0,
                                            NULL, &st);
            if (cr && PQresultStatus(cr) == PGRES_TUPLES_OK) {
                total = strtoll(PQgetvalue(cr, 0, 0), NULL, 10);
                exact = total <= COUNT_CAP;
            }
            PQclear(cr);
        }
        /* at least what this request has seen */
        long long seen = PQntuples(pr) ? before + PQntuples(pr) : 0; /* past the end: nothing */
        if (total < seen)
            total = seen;
    }
    PQclear(er);
    if (refresh)
        estimate_later(req, esql, nparams_count, q.params, fp);
    qb_free(&q);
    int rows = PQntuples(pr);
    bool has_next = rows > limit;
    if (has_next)
        rows = (int)limit;
    jw w;
    jw_init(&w);
    jw_obj(&w);
    jw_key(&w, "events");
    jw_arr(&w);
    for (int i = 0; i < rows; i++)
        write_event(&w, pr, i);
    jw_end_arr(&w);
    jw_key(&w, "pagination");
    jw_obj(&w);
    jw_kint(&w, "total", total);
    jw_kbool(&w, "totalExact", exact);
    jw_kint(&w, "limit", limit);
    jw_kint(&w, "offset", before);
    jw_kbool(&w, "hasNext", has_next);
    jw_kbool(&w, "hasPrevious", cursor || offset > 0);
    char cur[160] = "", last_ts[ADB_TS_TEXT_MAX], last_us[24];
    int64_t us = 0;
    if (has_next && rows > 0 && by_time &&
        api_time(PQgetvalue(pr, rows - 1, E_TS), last_ts, &us) == last_ts) {
        adb__fmt(last_us, sizeof(last_us), "%lld", (long long)us);
        cursor_encode(desc, fp, last_us, PQgetvalue(pr, rows - 1, E_ID), total, exact,
                      before + rows, cur);
    }
    if (cur[0]) /* absent on the last page (docs/api.md) */
        jw_kstr(&w, "nextCursor", cur);
    jw_end_obj(&w);
    jw_key(&w, "nextCursor"); /* also at the top level, where our own clients look: null there */
    if (cur[0])
        jw_str(&w, cur);
    else
        jw_null(&w);
    jw_end_obj(&w);
    PQclear(pr);
    return send_jw(req, MHD_HTTP_OK, &w);
}
