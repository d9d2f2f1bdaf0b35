/*
 * scheduled_reports.c - /api/v1/scheduled-reports as smart-logs' client
 * scheduled reports service calls it (13 calls; docs/reports.md, "API and
 * CLI"): list, create, upcoming, get, update, delete, execute, executions
 * (list, one, cancel, download), enable, disable. Each call one transaction
 * as the caller's organization (src/report/sched_store.c): another
 * organization's schedule answers 404 exactly like a missing one.
 */
#include "sched_routes.h"
#include "../report/sched_store.h"
#include "../core/util.h"
#include "../event/event.h"

#include <stdlib.h>
#include <string.h>

#define LIST_DEFAULT 50
#define LIST_MAX 1000
#define OFFSET_MAX 1000000000

static void who_of(adb_http_request *req, char out[40])
{
    adb__fmt(out, 40, "apikey:%s", req->who.key_id);
}

static enum MHD_Result not_found(adb_http_request *req, const char *what)
{
    return adb_http_send_error(req, MHD_HTTP_NOT_FOUND, "NOT_FOUND", what,
                               json_pack("{s:s}", "id", req->param[0] ? req->param[0] : ""));
}

static enum MHD_Result answer(adb_http_request *req, adb_status st, json_t *out, unsigned ok_status,
                              const adb__sched_error *e, const char *missing)
{
    if (st == ADB_OK)
        return adb_http_send_json(req, ok_status, out);
    json_decref(out);
    if (st == ADB_ERR_NOT_FOUND)
        return not_found(req, missing);
    if (st == ADB_ERR_INVALID && e && e->code[0]) {
        if (!strcmp(e->code, "FORBIDDEN"))
            return adb_http_send_error(req, MHD_HTTP_FORBIDDEN, "FORBIDDEN", e->message,
                                       json_pack("{s:s}", "field", e->field));
        if (!strcmp(e->code, "NOT_FOUND"))
            return adb_http_send_error(req, MHD_HTTP_NOT_FOUND, "NOT_FOUND", e->message,
                                       json_pack("{s:s}", "field", e->field));
        return adb_http_send_invalid(req, e->field, e->code, e->message);
    }
    return adb_http_send_unavailable(req);
}

/* The body as a JSON object; NULL after a 400. */
static json_t *body_json(adb_http_request *req, enum MHD_Result *res)
{
    json_error_t je;
    json_t *body = req->body_len ? json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &je)
                                 : NULL;
    if (!json_is_object(body)) {
        json_decref(body);
        *res = adb_http_send_invalid(req, "", "INVALID_JSON", "the body must be a JSON object");
        return NULL;
    }
    return body;
}

static bool page_args(adb_http_request *req, long long *limit, long long *offset, enum MHD_Result *res)
{
    const char *a;
    *limit = LIST_DEFAULT;
    *offset = 0;
    if ((a = adb_http_arg(req, "limit")) && !adb__parse_int(a, 1, LIST_MAX, limit)) {
        *res = adb_http_send_invalid(req, "limit", "INVALID_VALUE", "limit must be an integer from 1 to 1000");
        return false;
    }
    if ((a = adb_http_arg(req, "offset")) && !adb__parse_int(a, 0, OFFSET_MAX, offset)) {
        *res = adb_http_send_invalid(req, "offset", "INVALID_VALUE", "offset must be a nonnegative integer");
        return false;
    }
    return true;
}

enum MHD_Result adb_http_sched_list(adb_http_request *req)
{
    adb__sched_query q = { .enabled = -1 };
    enum MHD_Result res;
    const char *a;
    json_t *out = NULL;

    if (!page_args(req, &q.limit, &q.offset, &res))
        return res;
    if ((a = adb_http_arg(req, "enabled"))) {
        if (strcmp(a, "true") && strcmp(a, "false"))
            return adb_http_send_invalid(req, "enabled", "INVALID_VALUE", "enabled must be true or false");
        q.enabled = !strcmp(a, "true");
    }
    if ((a = adb_http_arg(req, "rangeBy"))) {
        if (strcmp(a, "created_at") && strcmp(a, "updated_at") && strcmp(a, "last_run") &&
            strcmp(a, "next_run"))
            return adb_http_send_invalid(req, "rangeBy", "INVALID_VALUE",
                                         "rangeBy must be created_at, updated_at, last_run or next_run");
        q.range_by = a;
    }
    static const char *const bounds[] = { "startDate", "endDate" };
    for (size_t i = 0; i < 2; i++) {
        int64_t us;
        if ((a = adb_http_arg(req, bounds[i])) && !adb__timestamp_parse(a, strlen(a), &us))
            return adb_http_send_invalid(req, bounds[i], "INVALID_VALUE",
                                         "an ISO 8601 date and time, e.g. 2026-01-02T03:04:05Z");
        *(i ? &q.end : &q.start) = a;
    }
    if ((a = adb_http_arg(req, "search")) && strlen(a) > 255)
        return adb_http_send_invalid(req, "search", "INVALID_VALUE", "search has at most 255 characters");
    q.search = a;
    if ((a = adb_http_arg(req, "sortBy"))) {
        static const char *const sorts[] = { "name", "created_at", "updated_at", "last_run",
                                             "next_run", "execution_count" };
        bool ok = false;
        for (size_t i = 0; i < sizeof(sorts) / sizeof(sorts[0]); i++)
            ok = ok || !strcmp(a, sorts[i]);
        if (!ok)
            return adb_http_send_invalid(req, "sortBy", "INVALID_VALUE",
                                         "sortBy must be name, created_at, updated_at, last_run, "
                                         "next_run or execution_count");
        q.sort_by = a;
    }
    if ((a = adb_http_arg(req, "sortOrder"))) {
        if (strcmp(a, "asc") && strcmp(a, "desc"))
            return adb_http_send_invalid(req, "sortOrder", "INVALID_VALUE", "sortOrder must be asc or desc");
        q.asc = !strcmp(a, "asc");
    }
    char *types = adb_http_arg_list(req, "reportType"), *by = adb_http_arg_list(req, "createdBy"),
         *tags = adb_http_arg_list(req, "tags");
    q.report_types = types;
    q.created_by = by;
    q.tags = tags;
    adb_status st = adb__sched_list(req->state->db, req->who.organization_id, &q, &out);
    free(types);
    free(by);
    free(tags);
    return answer(req, st, out, MHD_HTTP_OK, NULL, "");
}

enum MHD_Result adb_http_sched_create(adb_http_request *req)
{
    enum MHD_Result res;
    adb__sched_error e = { 0 };
    char who[40];
    json_t *out = NULL, *body = body_json(req, &res);

    if (!body)
        return res;
    who_of(req, who);
    adb_status st = adb__sched_create(req->state->db, req->who.organization_id, body, who, &out, &e);
    json_decref(body);
    return answer(req, st, out, MHD_HTTP_CREATED, &e, "");
}

enum MHD_Result adb_http_sched_upcoming(adb_http_request *req)
{
    long long limit = LIST_DEFAULT;
    const char *a;
    json_t *out = NULL;

    if ((a = adb_http_arg(req, "limit")) && !adb__parse_int(a, 1, LIST_MAX, &limit))
        return adb_http_send_invalid(req, "limit", "INVALID_VALUE", "limit must be an integer from 1 to 1000");
    if ((a = adb_http_arg(req, "organizationId")) && strcmp(a, req->who.organization_id))
        return adb_http_send_error(req, MHD_HTTP_FORBIDDEN, "FORBIDDEN",
                                   "organizationId is not this key's organization",
                                   json_pack("{s:s}", "field", "organizationId"));
    adb_status st = adb__sched_upcoming(req->state->db, req->who.organization_id, limit, &out);
    return answer(req, st, out, MHD_HTTP_OK, NULL, "");
}

enum MHD_Result adb_http_sched_get(adb_http_request *req)
{
    json_t *out = NULL;
    adb_status st = adb__sched_get(req->state->db, req->who.organization_id, req->param[0], &out);
    return answer(req, st, out, MHD_HTTP_OK, NULL, "no such scheduled report");
}

enum MHD_Result adb_http_sched_update(adb_http_request *req)
{
    enum MHD_Result res;
    adb__sched_error e = { 0 };
    char who[40];
    json_t *out = NULL, *body = body_json(req, &res);

    if (!body)
        return res;
    who_of(req, who);
    adb_status st = adb__sched_update(req->state->db, req->who.organization_id, req->param[0], body,
                                      who, &out, &e);
    json_decref(body);
    return answer(req, st, out, MHD_HTTP_OK, &e, "no such scheduled report");
}

enum MHD_Result adb_http_sched_delete(adb_http_request *req)
{
    char who[40];
    who_of(req, who);
    adb_status st = adb__sched_delete(req->state->db, req->who.organization_id, req->param[0], who);
    if (st != ADB_OK)
        return answer(req, st, NULL, 0, NULL, "no such scheduled report");
    return adb_http_send_text(req, MHD_HTTP_NO_CONTENT, strdup(""), 0, "application/json");
}

enum MHD_Result adb_http_sched_execute(adb_http_request *req)
{
    json_t *out = NULL;
    adb_status st = adb__sched_execute(req->state->db, req->who.organization_id, req->param[0], &out);
    return answer(req, st, out, MHD_HTTP_ACCEPTED, NULL, "no such scheduled report");
}

enum MHD_Result adb_http_sched_executions(adb_http_request *req)
{
    static const char *const statuses[] = { "pending", "running", "completed", "failed",
                                            "cancelled", "skipped", "timeout", NULL };
    long long limit, offset;
    enum MHD_Result res;
    const char *status = adb_http_arg(req, "status");
    json_t *out = NULL;

    if (!page_args(req, &limit, &offset, &res))
        return res;
    if (status) {
        bool ok = false;
        for (int i = 0; statuses[i]; i++)
            ok = ok || !strcmp(status, statuses[i]);
        if (!ok)
            return adb_http_send_invalid(req, "status", "INVALID_VALUE",
                                         "status must be pending, running, completed, failed, "
                                         "cancelled, skipped or timeout");
    }
    adb_status st = adb__sched_executions(req->state->db, req->who.organization_id, req->param[0],
                                          limit, offset, status, &out);
    return answer(req, st, out, MHD_HTTP_OK, NULL, "no such scheduled report");
}

enum MHD_Result adb_http_sched_execution_get(adb_http_request *req)
{
    json_t *out = NULL;
    adb_status st = adb__sched_execution_get(req->state->db, req->who.organization_id, req->param[0],
                                             req->param[1], &out);
    return answer(req, st, out, MHD_HTTP_OK, NULL, "no such execution");
}

enum MHD_Result adb_http_sched_execution_cancel(adb_http_request *req)
{
    json_t *out = NULL;
    adb_status st = adb__sched_execution_cancel(req->state->db, req->who.organization_id,
                                                req->param[0], req->param[1], &out);
    if (st == ADB_ERR_INVALID)
        return adb_http_send_error(req, MHD_HTTP_CONFLICT, "CONFLICT",
                                   "the execution has ended: nothing to cancel",
                                   json_pack("{s:s}", "id", req->param[1]));
    return answer(req, st, out, MHD_HTTP_OK, NULL, "no such execution");
}

enum MHD_Result adb_http_sched_execution_download(adb_http_request *req)
{
    unsigned char *data = NULL;
    size_t len = 0;
    char ctype[128], fname[160];
    const char *fmt = adb_http_arg(req, "format");

    adb_status st = adb__sched_execution_artifact(req->state->db, req->who.organization_id,
                                                  req->param[0], req->param[1], &data, &len, ctype,
                                                  fname);
    if (st == ADB_ERR_NOT_FOUND)
        return adb_http_send_error(req, MHD_HTTP_NOT_FOUND, "NOT_FOUND",
                                   "no execution with a completed report",
                                   json_pack("{s:s}", "id", req->param[1]));
    if (st != ADB_OK)
        return adb_http_send_unavailable(req);
    /* the artifact is the signed bytes in the schedule's format: no other */
    const char *dot = strrchr(fname, '.');
    if (fmt && (!dot || strcmp(dot + 1, fmt))) {
        free(data);
        return adb_http_send_invalid(req, "format", "FORMAT_MISMATCH",
                                     "the execution's artifact is in the schedule's format only "
                                     "(GET /api/v1/compliance/reports/{reportId}/download renders others)");
    }
    req->extra_header[0] = "Content-Disposition";
    req->extra_value[0] = adb__aprintf("attachment; filename=\"%s\"", fname);
    return adb_http_send_text(req, MHD_HTTP_OK, (char *)data, len, ctype);
}

static enum MHD_Result set_enabled(adb_http_request *req, bool on)
{
    char who[40];
    json_t *out = NULL;
    who_of(req, who);
    adb_status st = adb__sched_set_enabled(req->state->db, req->who.organization_id, req->param[0], on,
                                           who, &out);
    return answer(req, st, out, MHD_HTTP_OK, NULL, "no such scheduled report");
}

enum MHD_Result adb_http_sched_enable(adb_http_request *req)
{
    return set_enabled(req, true);
}

enum MHD_Result adb_http_sched_disable(adb_http_request *req)
{
    return set_enabled(req, false);
}
