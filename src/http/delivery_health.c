/*
 * delivery_health.c - a destination's health and breaker (docs/delivery.md,
 * "Health and breakers"):
 *   GET  /api/v1/delivery/destinations/{id}/health   (delivery:read)
 *   POST /api/v1/delivery/destinations/{id}/enable   (delivery:manage)
 *   POST /api/v1/delivery/destinations/{id}/disable  (delivery:manage)
 * The health is read as the tenant (row-level security); enable and disable
 * run on the owner's connection with statements that name the caller's
 * organization, since they write the transition log the tenant may only read.
 */
#include "delivery_routes.h"
#include "../core/adb_internal.h"
#include "../core/util.h"
#include "../delivery/delivery.h"

#include <string.h>

#define REASON_MAX 500

/* The {id} of the path as a destination id; 0 after answering 400. */
static int path_id(adb_http_request *req, enum MHD_Result *res)
{
    long long id;
    if (!req->param[0] || !adb__parse_int(req->param[0], 1, 2147483647, &id)) {
        *res = adb_http_send_invalid(req, "id", "INVALID_VALUE",
                                     "the destination id must be a positive integer");
        return 0;
    }
    return (int)id;
}

static enum MHD_Result not_found(adb_http_request *req)
{
    return adb_http_send_error(req, MHD_HTTP_NOT_FOUND, "NOT_FOUND",
                               "no such delivery destination", NULL);
}

enum MHD_Result adb_http_delivery_health_get(adb_http_request *req)
{
    enum MHD_Result res = MHD_NO;
    adb_status st;
    json_t *h = NULL;
    int id = path_id(req, &res);

    if (!id)
        return res;
    PGconn *c = adb_tenant_begin(req->state->db, req->who.organization_id, &st, NULL, 0);
    if (!c)
        return adb_http_send_unavailable(req);
    st = adb__health_json(c, req->who.organization_id, id, &h);
    adb_tenant_end(req->state->db, c, st == ADB_OK);
    if (st == ADB_ERR_NOT_FOUND)
        return not_found(req);
    if (st != ADB_OK)
        return adb_http_send_unavailable(req);
    return adb_http_send_json(req, MHD_HTTP_OK, h);
}

/* The body of enable/disable: empty, or an object with an optional
 * "reason" string. *reason NULL when absent; false after answering 400. */
static bool body_reason(adb_http_request *req, json_t **body, const char **reason,
                        enum MHD_Result *res)
{
    json_error_t je;
    const char *key;
    json_t *v;

    *body = NULL;
    *reason = NULL;
    if (!req->body_len)
        return true;
    *body = json_loadb(req->body, req->body_len, 0, &je);
    if (!json_is_object(*body)) {
        *res = adb_http_send_invalid(req, "", "INVALID_JSON", "the body must be a JSON object");
        return false;
    }
    json_object_foreach(*body, key, v) {
        if (strcmp(key, "reason") != 0) {
            char field[80], msg[120];
            adb__fmt(field, sizeof(field), "%.64s", key);
            adb__utf8_repair(field);
            adb__fmt(msg, sizeof(msg), "unknown member \"%s\"", field);
            *res = adb_http_send_invalid(req, field, "UNKNOWN_FIELD", msg);
            return false;
        }
        *reason = json_string_value(v);
        if (!*reason || !**reason || strlen(*reason) > REASON_MAX) {
            *res = adb_http_send_invalid(req, "reason", "INVALID_VALUE",
                                         "reason must be a string of 1 to 500 bytes");
            return false;
        }
    }
    return true;
}

/* enable or disable, then the health as it is now */
static enum MHD_Result change(adb_http_request *req, bool enable)
{
    enum MHD_Result res = MHD_NO;
    adb_status st;
    json_t *body = NULL, *h = NULL;
    const char *reason = NULL;
    long long released = 0;
    char err[128], why[REASON_MAX + 128];
    int id = path_id(req, &res);

    if (!id)
        return res;
    if (!body_reason(req, &body, &reason, &res)) {
        json_decref(body);
        return res;
    }
    adb_pool *pool = adb__pool(req->state->db);
    PGconn *c = adb_pool_acquire(pool, &st, err, sizeof(err));
    if (!c) {
        json_decref(body);
        return adb_http_send_unavailable(req);
    }
    const char *org = req->who.organization_id, *by = req->who.key_id;
    if (enable) {
        st = adb__health_enable(req->state->db, c, org, id, by, adb__delivery_now_ms(), &released);
    } else {
        adb__fmt(why, sizeof(why), "disabled by %s%s%s", by, reason ? ": " : "",
                 reason ? reason : "");
        st = adb__health_disable(req->state->db, c, org, id, why, by, adb__delivery_now_ms());
    }
    json_decref(body);
    if (st == ADB_OK)
        st = adb__health_json(c, org, id, &h);
    adb_pool_release(pool, c);
    if (st == ADB_ERR_NOT_FOUND)
        return not_found(req);
    if (st != ADB_OK)
        return adb_http_send_unavailable(req);
    char idt[16];
    adb__fmt(idt, sizeof(idt), "%d", id);
    json_t *o = json_pack("{s:s, s:b, s:o}", "destinationId", idt, "disabled", !enable, "health", h);
    if (o && enable)
        json_object_set_new(o, "releasedDeliveries", json_integer(released));
    return adb_http_send_json(req, MHD_HTTP_OK, o);
}

enum MHD_Result adb_http_delivery_enable(adb_http_request *req)
{
    return change(req, true);
}

enum MHD_Result adb_http_delivery_disable(adb_http_request *req)
{
    return change(req, false);
}
