/*
 * report_templates.c - /api/v1/compliance/templates as smart-logs' client
 * compliance service calls it (list, create, get, update, delete;
 * docs/reports.md, "Templates"), over src/report/template_store.c.
 */
#include "sched_routes.h"
#include "../report/template_store.h"
#include "../core/util.h"

#include <string.h>

static enum MHD_Result answer(adb_http_request *req, adb_status st, json_t *out, unsigned ok,
                              const adb__sched_error *e)
{
    if (st == ADB_OK)
        return adb_http_send_json(req, ok, out);
    if (st == ADB_ERR_NOT_FOUND)
        return adb_http_send_error(req, MHD_HTTP_NOT_FOUND, "NOT_FOUND", "no such report template",
                                   json_pack("{s:s}", "id", req->param[0] ? req->param[0] : ""));
    if (st == ADB_ERR_INVALID && e)
        return adb_http_send_invalid(req, e->field, e->code, e->message);
    return adb_http_send_unavailable(req);
}

static json_t *body_of(adb_http_request *req)
{
    json_error_t je;
    return req->body_len ? json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &je) : NULL;
}

enum MHD_Result adb_http_templates_list(adb_http_request *req)
{
    json_t *out = NULL;
    adb_status st = adb__template_list(req->state->db, req->who.organization_id, &out);
    return answer(req, st, out, MHD_HTTP_OK, NULL);
}

enum MHD_Result adb_http_templates_create(adb_http_request *req)
{
    adb__sched_error e = { 0 };
    char who[40];
    json_t *out = NULL, *body = body_of(req);
    adb__fmt(who, sizeof(who), "apikey:%s", req->who.key_id);
    adb_status st = adb__template_create(req->state->db, req->who.organization_id, body, who, &out, &e);
    json_decref(body);
    return answer(req, st, out, MHD_HTTP_CREATED, &e);
}

enum MHD_Result adb_http_templates_get(adb_http_request *req)
{
    json_t *out = NULL;
    adb_status st = adb__template_get(req->state->db, req->who.organization_id, req->param[0], &out);
    return answer(req, st, out, MHD_HTTP_OK, NULL);
}

enum MHD_Result adb_http_templates_update(adb_http_request *req)
{
    adb__sched_error e = { 0 };
    char who[40];
    json_t *out = NULL, *body = body_of(req);
    adb__fmt(who, sizeof(who), "apikey:%s", req->who.key_id);
    adb_status st = adb__template_update(req->state->db, req->who.organization_id, req->param[0], body,
                                         who, &out, &e);
    json_decref(body);
    return answer(req, st, out, MHD_HTTP_OK, &e);
}

enum MHD_Result adb_http_templates_delete(adb_http_request *req)
{
    char who[40];
    adb__fmt(who, sizeof(who), "apikey:%s", req->who.key_id);
    adb_status st = adb__template_delete(req->state->db, req->who.organization_id, req->param[0], who);
    if (st != ADB_OK)
        return answer(req, st, NULL, 0, NULL);
    return adb_http_send_text(req, MHD_HTTP_NO_CONTENT, strdup(""), 0, "application/json");
}
