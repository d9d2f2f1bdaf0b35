/*
 * delivery_destinations.c - the destinations of smart-logs' client delivery
 * service (docs/delivery.md, "Destinations"): /api/v1/delivery/destinations
 * list and create, /{id} get, update (PUT, PATCH) and delete, /{id}/validate,
 * /{id}/test and /{id}/secrets/rotate. Every call is a transaction as the
 * caller's organization (src/delivery/dest_store.c): another organization's
 * destination answers 404 exactly like a missing one.
 */
#include "delivery_routes.h"
#include "../delivery/destination.h"
#include "../delivery/delivery.h"
#include "../core/adb_internal.h"
#include "../core/util.h"

#include <limits.h>
#include <string.h>

#define LIST_DEFAULT 50
#define OFFSET_MAX 1000000000

/* the transports (dqueue, dtrans) answer the test route; until they are
 * linked in, the route says so instead of pretending */
#pragma weak adb__transport_probe

static void who_of(adb_http_request *req, char out[40])
{
    adb__fmt(out, 40, "apikey:%s", req->who.key_id);
}

static enum MHD_Result not_found(adb_http_request *req)
{
    return adb_http_send_error(req, MHD_HTTP_NOT_FOUND, "NOT_FOUND", "no such destination",
                               json_pack("{s:s}", "id", req->param[0] ? req->param[0] : ""));
}

/* The {id} of the path; false (after answering 404) when it cannot be one. */
static bool dest_id(adb_http_request *req, int *id, enum MHD_Result *res)
{
    long long v;
    if (!req->param[0] || !adb__parse_int(req->param[0], 1, INT_MAX, &v)) {
        *res = not_found(req);
        return false;
    }
    *id = (int)v;
    return true;
}

/* A refusal of the store as an answer. */
static enum MHD_Result refused(adb_http_request *req, adb_status st, const adb__dest_error *e)
{
    if (st == ADB_ERR_NOT_FOUND)
        return not_found(req);
    if (st != ADB_ERR_INVALID || !e)
        return adb_http_send_unavailable(req);
    if (!strcmp(e->code, "FORBIDDEN")) {
        adb_http_security_event(req, "cross_tenant_probe", "MEDIUM",
                                "a destination for another organization was sent with this key");
        return adb_http_send_error(req, MHD_HTTP_FORBIDDEN, "FORBIDDEN", e->message,
                                   json_pack("{s:s}", "field", e->field));
    }
    if (!strcmp(e->code, "CONFLICT"))
        return adb_http_send_error(req, MHD_HTTP_CONFLICT, "CONFLICT", e->message,
                                   json_pack("{s:s}", "field", e->field));
    return adb_http_send_invalid(req, e->field, e->code, e->message);
}

/* The body as JSON (any value: the store checks it); NULL after a 400. */
static json_t *body_json(adb_http_request *req, bool optional, enum MHD_Result *res)
{
    json_error_t je;
    json_t *body;

    if (!req->body_len && optional)
        return json_object();
    body = req->body_len ? json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &je) : NULL;
    if (!json_is_object(body)) {
        json_decref(body);
        *res = adb_http_send_invalid(req, "", "INVALID_JSON", "the body must be a JSON object");
        return NULL;
    }
    return body;
}

/* ---- GET /api/v1/delivery/destinations ----------------------------------- */

enum MHD_Result adb_http_delivery_dest_list(adb_http_request *req)
{
    adb__dest_query q = { .disabled = -1, .limit = LIST_DEFAULT };
    const char *a;
    json_t *out = NULL;

    if ((a = adb_http_arg(req, "type")) && !adb__dest_type_valid(a))
        return adb_http_send_invalid(req, "type", "INVALID_VALUE",
                                     "type must be email, webhook, storage, sftp or download");
    q.type = a;
    if ((a = adb_http_arg(req, "disabled"))) {
        if (strcmp(a, "true") && strcmp(a, "false"))
            return adb_http_send_invalid(req, "disabled", "INVALID_VALUE", "disabled must be true or false");
        q.disabled = !strcmp(a, "true");
    }
    if ((a = adb_http_arg(req, "limit")) && !adb__parse_int(a, 1, ADB_DEST_LIST_MAX, &q.limit))
        return adb_http_send_invalid(req, "limit", "INVALID_VALUE", "limit must be an integer from 1 to 1000");
    if ((a = adb_http_arg(req, "offset")) && !adb__parse_int(a, 0, OFFSET_MAX, &q.offset))
        return adb_http_send_invalid(req, "offset", "INVALID_VALUE", "offset must be a nonnegative integer");
    if ((a = adb_http_arg(req, "sortBy"))) {
        if (strcmp(a, "createdAt") && strcmp(a, "updatedAt") && strcmp(a, "label") && strcmp(a, "type"))
            return adb_http_send_invalid(req, "sortBy", "INVALID_VALUE",
                                         "sortBy must be createdAt, updatedAt, label or type");
        q.sort_by = a;
    }
    if ((a = adb_http_arg(req, "sortOrder"))) {
        if (strcmp(a, "asc") && strcmp(a, "desc"))
            return adb_http_send_invalid(req, "sortOrder", "INVALID_VALUE", "sortOrder must be asc or desc");
        q.desc = !strcmp(a, "desc");
    }
    adb_status st = adb__dest_list(req->state->db, req->who.organization_id, &q, &out);
    return st == ADB_OK ? adb_http_send_json(req, MHD_HTTP_OK, out) : adb_http_send_unavailable(req);
}

/* ---- POST /api/v1/delivery/destinations ---------------------------------- */

enum MHD_Result adb_http_delivery_dest_create(adb_http_request *req)
{
    enum MHD_Result res;
    adb__dest_error e = { 0 };
    char who[40];
    json_t *out = NULL, *body = body_json(req, false, &res);

    if (!body)
        return res;
    who_of(req, who);
    adb_status st = adb__dest_create(req->state->db, req->who.organization_id, body, who, &out, &e);
    json_decref(body);
    return st == ADB_OK ? adb_http_send_json(req, MHD_HTTP_CREATED, out) : refused(req, st, &e);
}

/* ---- /api/v1/delivery/destinations/{id} ---------------------------------- */

enum MHD_Result adb_http_delivery_dest_get(adb_http_request *req)
{
    enum MHD_Result res;
    json_t *out = NULL;
    int id;

    if (!dest_id(req, &id, &res))
        return res;
    adb_status st = adb__dest_get(req->state->db, req->who.organization_id, id, &out);
    return st == ADB_OK ? adb_http_send_json(req, MHD_HTTP_OK, out) : refused(req, st, NULL);
}

enum MHD_Result adb_http_delivery_dest_update(adb_http_request *req)
{
    enum MHD_Result res;
    adb__dest_error e = { 0 };
    char who[40];
    json_t *out = NULL, *body;
    int id;

    if (!dest_id(req, &id, &res) || !(body = body_json(req, false, &res)))
        return res;
    who_of(req, who);
    /* disabled: true/false goes the way of POST .../disable and .../enable
     * (breaker.c): a transition, held or released items, the alert and the
     * organization's audit event; the rest of the body is the update */
    json_t *dv = json_object_get(body, "disabled");
    int want = json_is_boolean(dv) ? json_is_true(dv) : -1;
    if (want >= 0)
        json_object_del(body, "disabled");
    adb_status st = adb__dest_update(req->state->db, req->who.organization_id, id, body,
                                     !strcmp(req->method, "PATCH"), who, &out, &e);
    json_decref(body);
    if (st == ADB_OK && want >= 0) {
        char err[128], why[96];
        adb_pool *pool = adb__pool(req->state->db);
        PGconn *c = adb_pool_acquire(pool, &st, err, sizeof(err));
        if (c) {
            adb__fmt(why, sizeof(why), "disabled by %s (destination update)", who);
            st = want ? adb__health_disable(req->state->db, c, req->who.organization_id, id, why, who,
                                            adb__delivery_now_ms())
                      : adb__health_enable(req->state->db, c, req->who.organization_id, id, who,
                                           adb__delivery_now_ms(), NULL);
            adb_pool_release(pool, c);
        }
        json_decref(out);
        out = NULL;
        if (st == ADB_OK)
            st = adb__dest_get(req->state->db, req->who.organization_id, id, &out);
    }
    return st == ADB_OK ? adb_http_send_json(req, MHD_HTTP_OK, out) : refused(req, st, &e);
}

enum MHD_Result adb_http_delivery_dest_delete(adb_http_request *req)
{
    enum MHD_Result res;
    int id;

    char who[40];

    if (!dest_id(req, &id, &res))
        return res;
    who_of(req, who);
    adb_status st = adb__dest_delete(req->state->db, req->who.organization_id, id, who);
    if (st != ADB_OK)
        return refused(req, st, NULL);
    return adb_http_send_text(req, MHD_HTTP_NO_CONTENT, strdup(""), 0, "application/json");
}

/* ---- POST .../{id}/validate ------------------------------------------------ */

enum MHD_Result adb_http_delivery_dest_validate(adb_http_request *req)
{
    enum MHD_Result res;
    json_t *out = NULL;
    int id;

    if (!dest_id(req, &id, &res))
        return res;
    adb_status st = adb__dest_validate(req->state->db, req->who.organization_id, id, &out);
    return st == ADB_OK ? adb_http_send_json(req, MHD_HTTP_OK, out) : refused(req, st, NULL);
}

/* ---- POST .../{id}/test ------------------------------------------------------ */

enum MHD_Result adb_http_delivery_dest_test(adb_http_request *req)
{
    enum MHD_Result res;
    adb *h = req->state->db;
    char err[ADB_ERRMSG_MAX];
    adb_status st;
    adb__dest d;
    int id;

    if (!dest_id(req, &id, &res))
        return res;
    PGconn *c = adb_tenant_begin(h, req->who.organization_id, &st, err, sizeof(err));
    if (!c)
        return adb_http_send_unavailable(req);
    st = adb__dest_load(h, c, req->who.organization_id, id, &d);
    adb_tenant_end(h, c, false);
    if (st == ADB_ERR_INTERNAL)
        return adb_http_send_json(req, MHD_HTTP_OK,
                                  json_pack("{s:b, s:s}", "success", 0, "error",
                                            "the destination's sealed secrets do not open"));
    if (st != ADB_OK)
        return refused(req, st, NULL);
    json_t *out;
    if (!adb__transport_probe) {
        out = json_pack("{s:b, s:s, s:{s:s}}", "success", 0, "error",
                        "no transport is built in for this destination type yet: nothing was tried",
                        "details", "type", d.type);
    } else {
        adb__attempt a;
        memset(&a, 0, sizeof(a));
        a.retry_after_s = -1;
        st = adb__transport_probe(h, &d, &a);
        out = json_pack("{s:b, s:f}", "success", st == ADB_OK && a.ok, "responseTime", a.elapsed_ms);
        if (a.http_status)
            json_object_set_new(out, "statusCode", json_integer(a.http_status));
        if (!(st == ADB_OK && a.ok))
            json_object_set_new(out, "error", json_string(a.error[0] ? a.error
                                                                     : adb_strerror(st)));
        json_object_set_new(out, "details", json_pack("{s:s}", "type", d.type));
        if (a.reference[0])
            json_object_set_new(json_object_get(out, "details"), "reference",
                                json_string(a.reference));
    }
    adb__dest_free(&d);
    return adb_http_send_json(req, MHD_HTTP_OK, out);
}

/* ---- POST .../{id}/secrets/rotate ------------------------------------------ */

enum MHD_Result adb_http_delivery_dest_rotate(adb_http_request *req)
{
    static const char *const known[] = { "gracePeriodHours", NULL };
    enum MHD_Result res;
    adb__dest_error e = { 0 };
    char who[40];
    json_t *out = NULL, *body;
    const char *key;
    json_t *v;
    int id, grace = ADB_DEST_GRACE_DEFAULT_H;

    if (!dest_id(req, &id, &res) || !(body = body_json(req, true, &res)))
        return res;
    json_object_foreach(body, key, v) {
        if (strcmp(key, known[0]) != 0) {
            json_decref(body);
            return adb_http_send_invalid(req, "gracePeriodHours", "UNKNOWN_FIELD",
                                         "the body takes only gracePeriodHours");
        }
    }
    v = json_object_get(body, "gracePeriodHours");
    if (v && (!json_is_integer(v) || json_integer_value(v) < 0 ||
              json_integer_value(v) > ADB_DEST_GRACE_MAX_H)) {
        json_decref(body);
        return adb_http_send_invalid(req, "gracePeriodHours", "INVALID_VALUE",
                                     "gracePeriodHours must be an integer from 0 to 720");
    }
    if (v)
        grace = (int)json_integer_value(v);
    json_decref(body);
    who_of(req, who);
    adb_status st = adb__webhook_keys_rotate(req->state->db, req->who.organization_id, id, grace,
                                             who, &out, &e);
    return st == ADB_OK ? adb_http_send_json(req, MHD_HTTP_OK, out) : refused(req, st, &e);
}
