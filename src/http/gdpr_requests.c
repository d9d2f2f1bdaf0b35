/*
 * gdpr_requests.c - data-subject requests over HTTP (docs/gdpr.md
 * "Requests", docs/hipaa.md "Requests"): list, open, read, extend and
 * advance the requests of the caller's organization, GDPR ones under
 * /api/v1/compliance/gdpr/requests and HIPAA ones under
 * /api/v1/compliance/hipaa/requests. The records are src/compliance/dsr.c's.
 */
#include "compliance.h"
#include "../compliance/dsr.h"
#include "../core/util.h"

#include <string.h>

#define LIST_DEFAULT 50
#define OFFSET_MAX 1000000

/* Whether req is under the HIPAA prefix (else GDPR). */
static bool hipaa_path(const adb_http_request *req)
{
    return !strncmp(req->path, "/api/v1/compliance/hipaa/", 25);
}

static enum MHD_Result not_found(adb_http_request *req)
{
    /* another organization's (or family's) id answers exactly like a missing one */
    return adb_http_send_error(req, MHD_HTTP_NOT_FOUND, "NOT_FOUND", "no such request",
                               json_pack("{s:s}", "id", req->param[0] ? req->param[0] : ""));
}

/* A library refusal as an answer: 404, 409 (the request's state refuses
 * the change; err says why) or 503. */
static enum MHD_Result refused(adb_http_request *req, adb_status st, const char *err)
{
    if (st == ADB_ERR_NOT_FOUND)
        return not_found(req);
    if (st == ADB_ERR_INVALID)
        return adb_http_send_error(req, MHD_HTTP_CONFLICT, "CONFLICT", err,
                                   json_pack("{s:s}", "id", req->param[0] ? req->param[0] : ""));
    return adb_http_send_unavailable(req);
}

static bool kind_of_family(const char *kind, bool hipaa)
{
    return adb__dsr_kind_valid(kind) && adb__dsr_kind_hipaa(kind) == hipaa;
}

static const char *kinds_text(bool hipaa)
{
    return hipaa ? "kind must be hipaa_accounting or hipaa_access"
                 : "kind must be access, portability, erasure, pseudonymization, rectification, "
                   "restriction or objection";
}

/* One request of the caller's organization and of this path's family as
 * JSON, with status; 404 for any other. */
static enum MHD_Result answer_request(adb_http_request *req, unsigned status, const char *id)
{
    char err[ADB_ERRMSG_MAX];
    adb__dsr d;
    adb_status st = adb__dsr_get(req->state->db, req->who.organization_id, id, &d, err, sizeof(err));

    if (st != ADB_OK)
        return refused(req, st, err);
    if (adb__dsr_kind_hipaa(d.kind) != hipaa_path(req)) {
        adb__dsr_clear(&d);
        return not_found(req);
    }
    json_t *j = adb__dsr_json(&d);
    adb__dsr_clear(&d);
    return j ? adb_http_send_json(req, status, j) : adb_http_send_unavailable(req);
}

/* The family check before a change: 404 unless id is one of this family's. */
static bool in_family(adb_http_request *req, const char *id, enum MHD_Result *res)
{
    char err[ADB_ERRMSG_MAX];
    adb__dsr d;
    adb_status st = adb__dsr_get(req->state->db, req->who.organization_id, id, &d, err, sizeof(err));

    if (st != ADB_OK) {
        *res = refused(req, st, err);
        return false;
    }
    bool ok = adb__dsr_kind_hipaa(d.kind) == hipaa_path(req);
    adb__dsr_clear(&d);
    if (!ok)
        *res = not_found(req);
    return ok;
}

/* ---- GET .../requests ------------------------------------------------------ */

enum MHD_Result adb_http_dsr_list(adb_http_request *req)
{
    bool hipaa = hipaa_path(req);
    adb__dsr_filter f = { .family = hipaa ? "hipaa" : "gdpr", .limit = LIST_DEFAULT };
    const char *a;
    char err[ADB_ERRMSG_MAX];
    adb__dsr *d = NULL;
    size_t n = 0;
    long long total = 0;

    if ((a = adb_http_arg(req, "limit")) && !adb__parse_int(a, 1, ADB_DSR_LIST_MAX, &f.limit))
        return adb_http_send_invalid(req, "limit", "INVALID_VALUE", "limit must be an integer from 1 to 1000");
    if ((a = adb_http_arg(req, "offset")) && !adb__parse_int(a, 0, OFFSET_MAX, &f.offset))
        return adb_http_send_invalid(req, "offset", "INVALID_VALUE", "offset must be an integer from 0 to 1000000");
    if ((f.kind = adb_http_arg(req, "kind")) && !kind_of_family(f.kind, hipaa))
        return adb_http_send_invalid(req, "kind", "INVALID_VALUE", kinds_text(hipaa));
    if ((f.status = adb_http_arg(req, "status")) && !adb__dsr_status_valid(f.status))
        return adb_http_send_invalid(req, "status", "INVALID_VALUE",
                       "status must be received, in_progress, completed, refused or extended");
    if ((a = adb_http_arg(req, "overdue"))) {
        if (strcmp(a, "true") && strcmp(a, "false"))
            return adb_http_send_invalid(req, "overdue", "INVALID_VALUE", "overdue must be true or false");
        f.overdue_only = !strcmp(a, "true");
    }
    if ((f.subject = adb_http_arg(req, "subjectId")) &&
        (!*f.subject || strlen(f.subject) > ADB_SUBJECT_MAX))
        return adb_http_send_invalid(req, "subjectId", "INVALID_VALUE", "subjectId must be 1 to 1024 bytes");
    adb_status st = adb__dsr_list(req->state->db, req->who.organization_id, &f, &d, &n, &total, err,
                                  sizeof(err));
    if (st != ADB_OK)
        return st == ADB_ERR_INVALID ? adb_http_send_invalid(req, "", "INVALID_VALUE", err) : adb_http_send_unavailable(req);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, adb__dsr_json(&d[i]));
    adb__dsr_free(d, n);
    return adb_http_send_json(req, MHD_HTTP_OK,
                              json_pack("{s:o, s:{s:I, s:I, s:I, s:b, s:b}}", "requests", arr,
                                        "pagination", "total", (json_int_t)total, "limit",
                                        (json_int_t)f.limit, "offset", (json_int_t)f.offset,
                                        "hasNext", f.offset + (long long)n < total, "hasPrevious",
                                        f.offset > 0));
}

/* ---- POST .../requests ----------------------------------------------------- */

enum MHD_Result adb_http_dsr_create(adb_http_request *req)
{
    static const char *const known[] = { "kind", "subjectId", "basis", NULL };
    bool hipaa = hipaa_path(req);
    enum MHD_Result res;
    char err[ADB_ERRMSG_MAX], id[ADB_DSR_ID_LEN + 1];
    json_t *body = adb_http_body_object(req, known, NULL, &res);

    if (!body)
        return res;
    json_t *kv = json_object_get(body, "kind"), *sv = json_object_get(body, "subjectId");
    json_t *bv = json_object_get(body, "basis");
    const char *kind = json_string_value(kv), *subject = json_string_value(sv);
    const char *basis = json_string_value(bv);
    if (!kv)
        res = adb_http_send_invalid(req, "kind", "REQUIRED", kinds_text(hipaa));
    else if (!kind || !kind_of_family(kind, hipaa))
        res = adb_http_send_invalid(req, "kind", "INVALID_VALUE", kinds_text(hipaa));
    else if (!sv)
        res = adb_http_send_invalid(req, "subjectId", "REQUIRED", "subjectId is required");
    else if (!subject || !*subject || strlen(subject) > ADB_SUBJECT_MAX)
        res = adb_http_send_invalid(req, "subjectId", "INVALID_VALUE", "subjectId must be a string of 1 to 1024 bytes");
    else if (bv && !json_is_null(bv) && (!basis || !*basis || strlen(basis) > ADB_DSR_REASON_MAX))
        res = adb_http_send_invalid(req, "basis", "INVALID_VALUE", "basis must be a string of 1 to 2000 bytes");
    else {
        adb_status st = adb__dsr_open(req->state->db, req->who.organization_id, kind, subject,
                                      req->who.key_id, basis, id, err, sizeof(err));
        res = st == ADB_OK ? answer_request(req, MHD_HTTP_CREATED, id)
              : st == ADB_ERR_INVALID ? adb_http_send_invalid(req, "", "INVALID_VALUE", err)
                                      : adb_http_send_unavailable(req);
    }
    json_decref(body);
    return res;
}

/* ---- GET .../requests/{id} ------------------------------------------------- */

enum MHD_Result adb_http_dsr_get(adb_http_request *req)
{
    return answer_request(req, MHD_HTTP_OK, req->param[0]);
}

/* ---- PUT .../requests/{id} ------------------------------------------------- */

enum MHD_Result adb_http_dsr_update(adb_http_request *req)
{
    static const char *const known[] = { "status", "outcome", NULL };
    enum MHD_Result res;
    char err[ADB_ERRMSG_MAX];
    json_t *body = adb_http_body_object(req, known, NULL, &res);
    char *outcome = NULL;

    if (!body)
        return res;
    json_t *sv = json_object_get(body, "status"), *ov = json_object_get(body, "outcome");
    const char *status = json_string_value(sv);
    if (!sv)
        res = adb_http_send_invalid(req, "status", "REQUIRED", "status is required: in_progress, completed or refused");
    else if (!status || (strcmp(status, "in_progress") && strcmp(status, "completed") &&
                         strcmp(status, "refused")))
        res = adb_http_send_invalid(req, "status", "INVALID_VALUE",
                      "status must be in_progress, completed or refused (POST .../extend extends)");
    else if (ov && (!(outcome = json_dumps(ov, JSON_COMPACT | JSON_ENCODE_ANY)) ||
                    strlen(outcome) > ADB_DSR_OUTCOME_MAX))
        res = adb_http_send_invalid(req, "outcome", "INVALID_VALUE", "outcome must be JSON of at most 64 KiB");
    else if (in_family(req, req->param[0], &res)) {
        adb_status st = adb__dsr_set_status(req->state->db, req->who.organization_id, req->param[0],
                                            status, outcome, req->who.key_id, err, sizeof(err));
        res = st == ADB_OK ? answer_request(req, MHD_HTTP_OK, req->param[0]) : refused(req, st, err);
    }
    free(outcome);
    json_decref(body);
    return res;
}

/* ---- POST .../requests/{id}/extend ----------------------------------------- */

enum MHD_Result adb_http_dsr_extend(adb_http_request *req)
{
    static const char *const gdpr_known[] = { "months", "reason", NULL };
    static const char *const hipaa_known[] = { "days", "reason", NULL };
    bool hipaa = hipaa_path(req);
    const char *unit = hipaa ? "days" : "months";
    enum MHD_Result res;
    char err[ADB_ERRMSG_MAX];
    json_t *body = adb_http_body_object(req, hipaa ? hipaa_known : gdpr_known, NULL, &res);

    if (!body)
        return res;
    json_t *av = json_object_get(body, unit), *rv = json_object_get(body, "reason");
    const char *reason = json_string_value(rv);
    json_int_t amount = json_is_integer(av) ? json_integer_value(av) : 0;
    if (!av)
        res = adb_http_send_invalid(req, unit, "REQUIRED", hipaa ? "days is required: 1 to 30"
                                                   : "months is required: 1 or 2 (the extension in all)");
    else if (!json_is_integer(av) || amount < 1 || amount > (hipaa ? 30 : 2))
        res = adb_http_send_invalid(req, unit, "INVALID_VALUE",
                      hipaa ? "days must be an integer from 1 to 30 (one extension, 164.528(c)(1)(ii))"
                            : "months must be 1 or 2: the extension in all (Art. 12(3))");
    else if (!rv)
        res = adb_http_send_invalid(req, "reason", "REQUIRED", "an extension needs a reason");
    else if (!reason || !*reason || strlen(reason) > ADB_DSR_REASON_MAX)
        res = adb_http_send_invalid(req, "reason", "INVALID_VALUE", "reason must be a string of 1 to 2000 bytes");
    else if (in_family(req, req->param[0], &res)) {
        adb_status st = adb__dsr_extend(req->state->db, req->who.organization_id, req->param[0],
                                        (int)amount, reason, req->who.key_id, err, sizeof(err));
        res = st == ADB_OK ? answer_request(req, MHD_HTTP_OK, req->param[0]) : refused(req, st, err);
    }
    json_decref(body);
    return res;
}
