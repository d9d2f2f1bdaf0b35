/*
 * gdpr_erase.c - pseudonymization, erasure, reversal of pseudonyms and legal
 * holds over HTTP (docs/gdpr.md, "Pseudonymization" and "Erasure"):
 *
 *   POST /api/v1/compliance/gdpr/pseudonymize  the client's pseudonymizeData
 *   POST /api/v1/compliance/gdpr/erase         erasure of one subject (Art. 17)
 *   POST /api/v1/compliance/gdpr/reverse       getOriginalId: explicit grant, audited
 *   POST /api/v1/compliance/gdpr/holds         a legal hold
 *
 * The work is src/compliance/gdpr_apply.c's, one transaction per subject.
 * Each operation is also an audit event of the organization, without the
 * subject's identifier.
 */
#include "http.h"
#include "../monitor/config_change.h"
#include "../compliance/dsr.h"
#include "../compliance/gdpr.h"
#include "../compliance/hold.h"
#include "../compliance/pseudonym.h"
#include "../core/adb_internal.h"
#include "../core/util.h"

#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

static enum MHD_Result failed(adb_http_request *req, adb_status st, const char *err)
{
    if (st == ADB_ERR_DB_CONNECT || st == ADB_ERR_DB_QUERY)
        return adb_http_send_retry(req, MHD_HTTP_SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE",
                                   "the database is unavailable: retry later", 1000);
    if (st == ADB_ERR_INVALID)
        return adb_http_send_invalid(req, "", "INVALID_VALUE", err);
    return adb_http_send_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "INTERNAL_ERROR",
                               "the operation failed; nothing was changed", NULL);
}

static enum MHD_Result held(adb_http_request *req, const adb__gdpr_result *r)
{
    char msg[700];
    adb__fmt(msg, sizeof(msg), "legal hold %s covers event %s of this subject: %s; nothing was "
             "changed", r->hold_id, r->hold_event, r->hold_reason);
    return adb_http_send_error(req, MHD_HTTP_CONFLICT, "LEGAL_HOLD", msg,
                               json_pack("{s:s, s:s, s:s}", "holdId", r->hold_id, "reason",
                                         r->hold_reason, "eventId", r->hold_event));
}

/* "erase-" / "psn-" + 32 hex */
static void new_id(const char *prefix, char out[64])
{
    unsigned char b[16];
    char hex[33];
    if (RAND_bytes(b, sizeof(b)) != 1)
        memset(b, 0, sizeof(b));
    adb__hex(b, sizeof(b), hex);
    adb__fmt(out, 64, "%s%s", prefix, hex);
}

/* An audit event of the caller's organization (never the subject's id). */
static void audit(adb_http_request *req, const char *action, const char *status,
                  const char *target_type, const char *target_id, json_t *details)
{
    char now[40];
    adb_http_iso_now(now);
    json_t *ev = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o}", "timestamp", now, "action",
                           action, "status", status, "principalId", req->who.key_id,
                           "organizationId", req->who.organization_id, "dataClassification",
                           "CONFIDENTIAL", "details", details);
    if (!ev)
        return;
    if (target_type)
        json_object_set_new(ev, "targetResourceType", json_string(target_type));
    if (target_id)
        json_object_set_new(ev, "targetResourceId", json_string(target_id));
    char *text = json_dumps(ev, JSON_COMPACT);
    json_decref(ev);
    if (!text)
        return;
    adb_log_options o = { .organization_id = req->who.organization_id };
    adb_log_result lr;
    (void)adb_log_json(req->state->db, text, strlen(text), &o, &lr);
    free(text);
}

static bool org_ok(adb_http_request *req, json_t *body, enum MHD_Result *res)
{
    json_t *o = json_object_get(body, "organizationId");
    if (!o)
        return true;
    if (!json_is_string(o)) {
        *res = adb_http_send_invalid(req, "organizationId", "INVALID_TYPE", "organizationId must be a string");
        return false;
    }
    if (strcmp(json_string_value(o), req->who.organization_id) != 0) {
        adb_http_security_event(req, "cross_tenant_probe", "MEDIUM",
                                "a GDPR operation named another organization");
        *res = adb_http_send_error(req, MHD_HTTP_FORBIDDEN, "FORBIDDEN",
                                   "organizationId is not the organization of this API key", NULL);
        return false;
    }
    return true;
}

static bool date_range(adb_http_request *req, json_t *body, const char **start, const char **end,
                       enum MHD_Result *res)
{
    json_t *d = json_object_get(body, "dateRange");
    *start = *end = NULL;
    if (!d)
        return true;
    *start = json_string_value(json_object_get(d, "startDate"));
    *end = json_string_value(json_object_get(d, "endDate"));
    if (!json_is_object(d) || !*start || !*end) {
        *res = adb_http_send_invalid(req, "dateRange", "INVALID_TYPE",
                       "dateRange must be {\"startDate\": RFC 3339, \"endDate\": RFC 3339}");
        return false;
    }
    return true;
}

static json_t *failures(const adb__gdpr_result *r)
{
    json_t *a = json_array();
    for (long long i = 0; i < r->failed && i < ADB_GDPR_MAX_FAILURES; i++)
        json_array_append_new(a, json_pack("{s:s, s:s, s:s}", "recordId",
                                           r->failures[i].event_id, "field", "",
                                           "error", r->failures[i].why));
    return a;
}

static json_t *affected(const adb__gdpr_result *r)
{
    json_t *a = json_array();
    for (int i = 0; i < r->naffected; i++)
        json_array_append_new(a, json_string(r->affected[i]));
    return a;
}

/* Closes a data-subject request; a failure leaves it open (listed as due). */
static void finish_request(adb *db, const char *org, const char *id, const char *status,
                           const char *outcome, const char *by, char *err, size_t errlen)
{
    if (adb__dsr_finish(db, org, id, status, outcome, by, err, errlen) != ADB_OK)
        err[0] = '\0';
}

/* ---- POST /api/v1/compliance/gdpr/pseudonymize --------------------------- */

enum MHD_Result adb_http_gdpr_pseudonymize(adb_http_request *req)
{
    json_error_t je;
    json_t *body = req->body_len ? json_loadb(req->body, req->body_len, 0, &je) : NULL;
    enum MHD_Result res = MHD_NO;
    adb__psn_strategy strategy;
    const char *start, *end, *fields[2];
    size_t nfields = 0;
    char op_id[64], now[40], err[ADB_ERRMSG_MAX];
    double t0 = adb__now_ms();

    if (!json_is_object(body)) {
        json_decref(body);
        return adb_http_send_invalid(req, "", "INVALID_JSON", "the body must be a JSON object: {\"dataSubjectIds\":[...],"
                       " \"method\": \"hash\"|\"token\"|\"encryption\", \"fields\": [...]}");
    }
    json_t *ids = json_object_get(body, "dataSubjectIds");
    json_t *fl = json_object_get(body, "fields");
    const char *method = json_string_value(json_object_get(body, "method"));
    if (!org_ok(req, body, &res) || !date_range(req, body, &start, &end, &res))
        goto out;
    if (!json_is_array(ids) || json_array_size(ids) == 0 || json_array_size(ids) > 100) {
        res = adb_http_send_invalid(req, "dataSubjectIds", "INVALID_VALUE", "dataSubjectIds must be an array of 1 to 100 identifiers");
        goto out;
    }
    for (size_t i = 0; i < json_array_size(ids); i++) {
        const char *s = json_string_value(json_array_get(ids, i));
        if (!s || !*s || strlen(s) > ADB_PSN_SUBJECT_MAX) {
            res = adb_http_send_invalid(req, "dataSubjectIds", "INVALID_VALUE", "each data subject id must be a string of 1 to 255 bytes");
            goto out;
        }
    }
    if (!method || !adb__psn_strategy_parse(method, &strategy)) {
        bool mask = method && !strcmp(method, "mask");
        res = adb_http_send_invalid(req, "method", mask ? "UNSUPPORTED_METHOD" : "INVALID_VALUE",
                      mask ? "method mask is not a pseudonymization (it cannot be reversed or linked): use hash, token or encryption"
                           : "method must be hash, token (tokenize) or encryption (encrypt)");
        goto out;
    }
    if (fl && !json_is_array(fl)) {
        res = adb_http_send_invalid(req, "fields", "INVALID_TYPE", "fields must be an array of field names");
        goto out;
    }
    for (size_t i = 0; fl && i < json_array_size(fl); i++) {
        const char *f = json_string_value(json_array_get(fl, i));
        if (!f || (strcmp(f, "principalId") && strcmp(f, "targetResourceId"))) {
            res = adb_http_send_invalid(req, "fields", "INVALID_VALUE", "fields may name principalId and targetResourceId (the fields that hold a subject's identifier)");
            goto out;
        }
        if (nfields < 2)
            fields[nfields++] = f;
    }
    new_id("psn-op-", op_id);
    adb_http_iso_now(now);
    json_t *mapping = json_object(), *errors = json_array(), *aff = json_array(), *reqs = json_object();
    long long total = 0, processed = 0, nfailed = 0;
    for (size_t i = 0; i < json_array_size(ids); i++) {
        const char *subject = json_string_value(json_array_get(ids, i));
        char rq[ADB_DSR_ID_LEN + 1];
        adb_status ost = adb__dsr_open(req->state->db, req->who.organization_id,
                                       "pseudonymization", subject, req->who.key_id,
                                       "GDPR Art. 4(5): pseudonymization", rq, err, sizeof(err));
        if (ost != ADB_OK) {
            json_decref(mapping);
            json_decref(errors);
            json_decref(aff);
            json_decref(reqs);
            res = failed(req, ost, err);
            goto out;
        }
        json_object_set_new(reqs, subject, json_string(rq));
        adb__gdpr_op op = { .org = req->who.organization_id, .subject = subject,
                            .request_id = rq, .erase = false, .strategy = strategy,
                            .fields = nfields ? fields : NULL, .nfields = nfields,
                            .start = start, .end = end };
        adb__gdpr_result r;
        adb_status st = adb__gdpr_apply(req->state->db, &op, &r, err, sizeof(err));
        char ferr[ADB_ERRMSG_MAX];
        if (st != ADB_OK)
            finish_request(req->state->db, req->who.organization_id, rq, "refused",
                                  st == ADB_ERR_BUSY ? "{\"legalHold\":true}" : "{\"failed\":true}",
                                  req->who.key_id, ferr, sizeof(ferr));
        if (st == ADB_ERR_BUSY) {
            json_decref(mapping);
            json_decref(errors);
            json_decref(aff);
            json_decref(reqs);
            res = held(req, &r);
            goto out;
        }
        if (st != ADB_OK) {
            json_decref(mapping);
            json_decref(errors);
            json_decref(aff);
            json_decref(reqs);
            res = failed(req, st, err);
            goto out;
        }
        char oc[256];
        adb__fmt(oc, sizeof(oc), "{\"pseudonymizedRecords\":%lld,\"strategy\":\"%s\"}",
                 r.pseudonymized, r.strategy);
        finish_request(req->state->db, req->who.organization_id, rq, "completed", oc,
                              req->who.key_id, ferr, sizeof(ferr));
        total += r.events;
        processed += r.pseudonymized;
        nfailed += r.failed;
        json_object_set_new(mapping, subject, json_string(r.pseudonym));
        json_array_extend(errors, failures(&r));
        for (int j = 0; j < r.naffected; j++) {
            bool seen = false;
            for (size_t q = 0; q < json_array_size(aff); q++)
                seen |= !strcmp(json_string_value(json_array_get(aff, q)), r.affected[j]);
            if (!seen)
                json_array_append_new(aff, json_string(r.affected[j]));
        }
    }
    audit(req, "gdpr.pseudonymize", "success", "gdpr_operation", op_id,
          json_pack("{s:s, s:s, s:I, s:I}", "operationId", op_id, "method",
                    adb__psn_strategy_name(strategy), "subjects", (json_int_t)json_array_size(ids),
                    "records", (json_int_t)processed));
    /* the client's PseudonymizationResult (requestId, status, method in its names,
     * processingTime, reversible, completedAt) and the operation's own members */
    double took = adb__now_ms() - t0;
    res = adb_http_send_json(req, MHD_HTTP_OK,
                             json_pack("{s:s, s:s, s:f, s:b, s:s, s:s, s:s, s:s,"
                                       " s:{s:I, s:I, s:I, s:o}, s:o, s:o, s:o}",
                                       "requestId", op_id,
                                       "status", processed == 0 && nfailed > 0 ? "failed" : "completed",
                                       "processingTime", took < 0 ? 0.0 : took,
                                       "reversible", 1, "completedAt", now,
                                       "operationId", op_id, "processedAt", now, "method",
                                       strategy == ADB_PSN_TOKEN ? "tokenization"
                                                                 : adb__psn_strategy_name(strategy),
                                       "summary",
                                       "totalRecords", (json_int_t)total, "processedRecords",
                                       (json_int_t)processed, "failedRecords", (json_int_t)nfailed,
                                       "affectedFields", aff, "mapping", mapping, "errors", errors,
                                       "requestIds", reqs));
out:
    json_decref(body);
    return res;
}

/* ---- POST /api/v1/compliance/gdpr/erase --------------------------------- */

enum MHD_Result adb_http_gdpr_erase(adb_http_request *req)
{
    json_error_t je;
    json_t *body = req->body_len ? json_loadb(req->body, req->body_len, 0, &je) : NULL;
    enum MHD_Result res = MHD_NO;
    const char *start, *end;
    char rid[64], now[40], err[ADB_ERRMSG_MAX];

    if (!json_is_object(body)) {
        json_decref(body);
        return adb_http_send_invalid(req, "", "INVALID_JSON", "the body must be a JSON object: {\"dataSubjectId\": \"...\"}");
    }
    const char *subject = json_string_value(json_object_get(body, "dataSubjectId"));
    json_t *jr = json_object_get(body, "requestId");
    const char *basis = json_string_value(json_object_get(body, "legalBasis"));
    const char *reason = json_string_value(json_object_get(body, "reason"));
    if (!org_ok(req, body, &res) || !date_range(req, body, &start, &end, &res))
        goto out;
    if (!subject || !*subject || strlen(subject) > ADB_PSN_SUBJECT_MAX) {
        res = adb_http_send_invalid(req, "dataSubjectId", subject ? "INVALID_VALUE" : "REQUIRED",
                      "dataSubjectId must be a string of 1 to 255 bytes");
        goto out;
    }
    if (jr && (!json_is_string(jr) || json_string_length(jr) != ADB_DSR_ID_LEN)) {
        res = adb_http_send_invalid(req, "requestId", "INVALID_VALUE", "requestId must be the id of an erasure request of this organization (a UUID; GET /api/v1/compliance/gdpr/requests)");
        goto out;
    }
    if ((basis && strlen(basis) > 200) || (reason && strlen(reason) > 500)) {
        res = adb_http_send_invalid(req, basis && strlen(basis) > 200 ? "legalBasis" : "reason", "EXCEEDS_MAX_LENGTH",
                      "legalBasis is at most 200 bytes, reason at most 500");
        goto out;
    }
    /* the data-subject request (dsr.c): the one named, or a new one */
    adb_status st;
    if (jr) {
        adb__dsr d;
        memset(&d, 0, sizeof(d));
        st = adb__dsr_get(req->state->db, req->who.organization_id, json_string_value(jr), &d,
                          err, sizeof(err));
        if (st == ADB_ERR_NOT_FOUND) {
            res = adb_http_send_error(req, MHD_HTTP_NOT_FOUND, "NOT_FOUND", "no such data-subject request in this organization", NULL);
            goto out;
        }
        if (st != ADB_OK) {
            res = failed(req, st, err);
            goto out;
        }
        const char *why = strcmp(d.kind, "erasure") ? "the request is not an erasure request"
                          : !strcmp(d.status, "completed") || !strcmp(d.status, "refused")
                              ? "the request is closed already"
                          : !d.subject || strcmp(d.subject, subject) ? "the request names another data subject"
                                                                     : NULL;
        adb__dsr_clear(&d);
        if (why) {
            res = adb_http_send_invalid(req, "requestId", "INVALID_VALUE", why);
            goto out;
        }
        adb__fmt(rid, sizeof(rid), "%s", json_string_value(jr));
    } else {
        st = adb__dsr_open(req->state->db, req->who.organization_id, "erasure", subject,
                           req->who.key_id, basis ? basis : "GDPR Art. 17(1)", rid, err, sizeof(err));
        if (st != ADB_OK) {
            res = failed(req, st, err);
            goto out;
        }
    }
    adb_http_iso_now(now);
    adb__gdpr_op op = { .org = req->who.organization_id, .subject = subject, .request_id = rid,
                        .erase = true, .legal_basis = basis, .reason = reason, .start = start,
                        .end = end };
    adb__gdpr_result r;
    st = adb__gdpr_apply(req->state->db, &op, &r, err, sizeof(err));
    char outcome[1024], ferr[ADB_ERRMSG_MAX];
    if (st == ADB_ERR_BUSY) {
        json_t *oj = json_pack("{s:s, s:s}", "legalHold", r.hold_id, "reason", r.hold_reason);
        char *ot = oj ? json_dumps(oj, JSON_COMPACT) : NULL;
        json_decref(oj);
        if (adb__dsr_finish(req->state->db, req->who.organization_id, rid, "refused", ot,
                            req->who.key_id, ferr, sizeof(ferr)) != ADB_OK)
            adb__fmt(ferr, sizeof(ferr), "not recorded");
        free(ot);
        audit(req, "gdpr.erasure", "failure", "gdpr_request", rid,
              json_pack("{s:s, s:s}", "requestId", rid, "refusedBy", r.hold_id));
        res = held(req, &r);
        goto out;
    }
    if (st != ADB_OK) {
        res = failed(req, st, err);
        goto out;
    }
    adb__fmt(outcome, sizeof(outcome), "{\"erasedRecords\":%lld,\"pseudonymizedRecords\":%lld,"
             "\"failedRecords\":%lld,\"erasureRecords\":%lld,\"archivesRewritten\":%lld}",
             r.erased, r.pseudonymized, r.failed, r.records, r.archives_rewritten);
    finish_request(req->state->db, req->who.organization_id, rid, "completed", outcome,
                          req->who.key_id, ferr, sizeof(ferr));
    audit(req, "gdpr.erasure", "success", "gdpr_request", rid,
          json_pack("{s:s, s:I, s:I, s:I}", "requestId", rid, "erased", (json_int_t)r.erased,
                    "pseudonymized", (json_int_t)r.pseudonymized, "records",
                    (json_int_t)r.records));
    res = adb_http_send_json(req, MHD_HTTP_OK,
        json_pack("{s:s, s:s, s:s, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o}, s:s?, s:s?, s:o}",
                  "requestId", rid, "processedAt", now, "status", r.failed ? "partial" : "completed",
                  "summary", "totalRecords", (json_int_t)r.events, "erasedRecords",
                  (json_int_t)r.erased, "pseudonymizedRecords", (json_int_t)r.pseudonymized,
                  "failedRecords", (json_int_t)r.failed, "erasureRecords", (json_int_t)r.records,
                  "archivedRecords", (json_int_t)r.archived, "archivesRewritten",
                  (json_int_t)r.archives_rewritten, "requestsForgotten", (json_int_t)r.requests_forgotten,
                  "mappingsDeleted",
                  (json_int_t)r.mapping_deleted, "exportsExpired", (json_int_t)r.exports_expired,
                  "affectedFields", affected(&r), "keptBasis", r.pseudonymized ? r.basis : NULL,
                  "keptPseudonym", r.pseudonymized ? r.pseudonym : NULL, "errors", failures(&r)));
out:
    json_decref(body);
    return res;
}

/* ---- POST /api/v1/compliance/gdpr/reverse ------------------------------- */

enum MHD_Result adb_http_gdpr_reverse(adb_http_request *req)
{
    json_error_t je;
    json_t *body = req->body_len ? json_loadb(req->body, req->body_len, 0, &je) : NULL;
    enum MHD_Result res = MHD_NO;
    char err[ADB_ERRMSG_MAX];
    const char *psn = json_string_value(json_object_get(body, "pseudonymId"));
    const char *reason = json_string_value(json_object_get(body, "reason"));

    if (!json_is_object(body) || !psn || !*psn || strlen(psn) >= ADB_PSEUDONYM_MAX) {
        res = adb_http_send_invalid(req, "pseudonymId", "REQUIRED", "the body must be {\"pseudonymId\": \"psn-...\", \"reason\": \"...\"}");
        goto out;
    }
    if (!reason || !*reason || strlen(reason) > 500) {
        res = adb_http_send_invalid(req, "reason", "REQUIRED", "reason (1 to 500 bytes) is required: a reversal is audited with it");
        goto out;
    }
    /* a right of its own: granted by name only, never by a wildcard */
    adb_status st = adb_permission_check_explicit(req->state->db, &req->who, "compliance.gdpr",
                                                  "reverse", err, sizeof(err));
    if (st != ADB_OK) {
        if (st == ADB_ERR_NOT_FOUND) {
            audit(req, "gdpr.pseudonym.reverse", "failure", "pseudonym", psn,
                  json_pack("{s:s, s:s}", "reason", reason, "refused", "no explicit grant of compliance.gdpr:reverse"));
            res = adb_http_send_error(req, MHD_HTTP_FORBIDDEN, "FORBIDDEN", err, NULL);
        } else {
            res = failed(req, st, err);
        }
        goto out;
    }
    PGconn *c = adb_pool_acquire(adb__pool(req->state->db), &st, err, sizeof(err));
    if (!c) {
        res = failed(req, st, err);
        goto out;
    }
    char *original = NULL;
    st = adb__pseudonym_reverse(c, adb__db_keys(req->state->db), req->who.organization_id, psn,
                                &original, err, sizeof(err));
    adb_pool_release(adb__pool(req->state->db), c);
    if (st == ADB_ERR_NOT_FOUND) {
        res = adb_http_send_error(req, MHD_HTTP_NOT_FOUND, "NOT_FOUND", "no such pseudonym in this organization", NULL);
        goto out;
    }
    if (st != ADB_OK) {
        res = failed(req, st, err);
        goto out;
    }
    audit(req, "gdpr.pseudonym.reverse", "success", "pseudonym", psn,
          json_pack("{s:s}", "reason", reason));
    res = adb_http_send_json(req, MHD_HTTP_OK, json_pack("{s:s, s:s, s:s}", "pseudonymId", psn,
                                                         "originalId", original,
                                                         "organizationId", req->who.organization_id));
    free(original);
out:
    json_decref(body);
    return res;
}

/* ---- POST /api/v1/compliance/gdpr/holds --------------------------------- */

enum MHD_Result adb_http_gdpr_hold_create(adb_http_request *req)
{
    json_error_t je;
    json_t *body = req->body_len ? json_loadb(req->body, req->body_len, 0, &je) : NULL;
    enum MHD_Result res = MHD_NO;
    char err[ADB_ERRMSG_MAX], id[64];
    const char *scope = json_string_value(json_object_get(body, "scope"));
    const char *value = json_string_value(json_object_get(body, "value"));
    const char *action = json_string_value(json_object_get(body, "actionPattern"));
    const char *cls = json_string_value(json_object_get(body, "dataClassification"));
    const char *until = json_string_value(json_object_get(body, "until"));
    const char *reason = json_string_value(json_object_get(body, "reason"));

    if (!json_is_object(body) || !scope || (strcmp(scope, "subject") && strcmp(scope, "principal"))) {
        res = adb_http_send_invalid(req, "scope", "INVALID_VALUE", "scope must be subject or principal");
        goto out;
    }
    if (!value || !*value || strlen(value) > ADB_PSN_SUBJECT_MAX) {
        res = adb_http_send_invalid(req, "value", "REQUIRED", "value (the subject's or principal's id, 1 to 255 bytes) is required");
        goto out;
    }
    if (!reason || !*reason || strlen(reason) > 500) {
        res = adb_http_send_invalid(req, "reason", "REQUIRED", "reason (1 to 500 bytes) is required");
        goto out;
    }
    if ((action && strlen(action) > 255) || (cls && strlen(cls) > 20)) {
        res = adb_http_send_invalid(req, action && strlen(action) > 255 ? "actionPattern" : "dataClassification",
                      "EXCEEDS_MAX_LENGTH", "actionPattern is at most 255 bytes, dataClassification 20");
        goto out;
    }
    adb_status st;
    PGconn *c = adb_pool_acquire(adb__pool(req->state->db), &st, err, sizeof(err));
    if (!c) {
        res = failed(req, st, err);
        goto out;
    }
    PQclear(PQexec(c, "BEGIN"));
    st = adb__hold_create(c, adb__db_keys(req->state->db), req->who.organization_id, scope, value,
                          action, cls, until, reason, req->who.key_id, id, err, sizeof(err));
    /* the configuration history (never the held value); its audit event is gdpr.hold.create */
    adb__config_change_rec cc = { 0 };
    char fld[80], by[40];
    adb__fmt(fld, sizeof(fld), "legal_hold.%s", id);
    adb__fmt(by, sizeof(by), "apikey:%s", req->who.key_id);
    json_t *doc = json_pack("{s:s, s:s, s:s?, s:s?, s:s?, s:s}", "id", id, "scope", scope,
                            "actionPattern", action, "dataClassification", cls, "until", until,
                            "reason", reason);
    if (st == ADB_OK)
        st = doc ? adb__config_change_json_tx(c, &cc, req->who.organization_id, fld, NULL, doc, by,
                                              reason, err, sizeof(err))
                 : ADB_ERR_NOMEM;
    json_decref(doc);
    PGresult *cr = PQexec(c, st == ADB_OK ? "COMMIT" : "ROLLBACK");
    if (st == ADB_OK && PQresultStatus(cr) != PGRES_COMMAND_OK)
        st = ADB_ERR_INTERNAL;
    PQclear(cr);
    adb__config_change_rec_done(NULL, &cc, false);
    adb_pool_release(adb__pool(req->state->db), c);
    if (st == ADB_ERR_DB_QUERY) {
        res = adb_http_send_invalid(req, "until", "INVALID_VALUE", "the hold was refused (until must be an RFC 3339 time)");
        goto out;
    }
    if (st != ADB_OK) {
        res = failed(req, st, err);
        goto out;
    }
    audit(req, "gdpr.hold.create", "success", "legal_hold", id,
          json_pack("{s:s, s:s}", "holdId", id, "scope", scope));
    res = adb_http_send_json(req, MHD_HTTP_CREATED,
                             json_pack("{s:s, s:s, s:s?, s:s?, s:s?, s:s}", "id", id, "scope", scope,
                                       "actionPattern", action, "dataClassification", cls,
                                       "until", until, "reason", reason));
out:
    json_decref(body);
    return res;
}
