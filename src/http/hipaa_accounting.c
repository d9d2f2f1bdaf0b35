/*
 * hipaa_accounting.c - a patient's accounting of disclosures (45 CFR
 * 164.528) and access report over HTTP (docs/hipaa.md):
 *   GET /api/v1/compliance/hipaa/accounting?patient=...
 *   GET /api/v1/compliance/hipaa/access-report?patient=...
 * Both read the organization's events about the patient as the tenant, and
 * each answer is itself an audit event (hipaa.accounting.read,
 * hipaa.access_report.read), committed before the answer is sent: no
 * event, no answer.
 */
#include "compliance.h"
#include "../compliance/dsr.h"
#include "../compliance/hipaa.h"
#include "../core/util.h"
#include "../event/event.h"

#include <string.h>

#define PATIENT_MAX 255 /* targetResourceId's limit */
#define ACCESS_LIMIT_DEFAULT 100
#define ACCESS_LIMIT_MAX 1000
#define ACCESS_OFFSET_MAX 1000000

#define TS_SQL(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

static enum MHD_Result invalid(adb_http_request *req, const char *field, const char *code,
                               const char *message)
{
    return adb_http_send_error(req, MHD_HTTP_BAD_REQUEST, "VALIDATION_ERROR", message,
                               json_pack("{s:[{s:s, s:s, s:s}]}", "errors", "code", code, "field",
                                         field, "message", message));
}

static enum MHD_Result unavailable(adb_http_request *req)
{
    return adb_http_send_retry(req, MHD_HTTP_SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE",
                               "the database is unavailable: retry later", 1000);
}

typedef struct period {
    char patient[PATIENT_MAX + 1];
    int64_t start_us, end_us;
    char start[ADB_TS_TEXT_MAX], end[ADB_TS_TEXT_MAX];
} period;

/* patient, startDate and endDate of the query (defaults: the six years up to
 * now); false after answering 400 naming the parameter. */
static bool period_args(adb_http_request *req, period *p, enum MHD_Result *res)
{
    const char *patient = adb_http_arg(req, "patient"), *a;
    int64_t now = adb__now_us(), floor_us = adb__hipaa_window_start(now);

    if (!patient || !*patient) {
        *res = invalid(req, "patient", "REQUIRED", "patient is required: the patient's id "
                       "(the events' targetResourceId with targetResourceType Patient)");
        return false;
    }
    if (strlen(patient) > PATIENT_MAX) {
        *res = invalid(req, "patient", "INVALID_VALUE", "patient must be at most 255 bytes");
        return false;
    }
    adb__fmt(p->patient, sizeof(p->patient), "%s", patient);
    p->start_us = floor_us;
    p->end_us = now;
    if ((a = adb_http_arg(req, "startDate")) && !adb__timestamp_parse(a, strlen(a), &p->start_us)) {
        *res = invalid(req, "startDate", "INVALID_FORMAT", "startDate must be RFC 3339 with an offset");
        return false;
    }
    if ((a = adb_http_arg(req, "endDate")) && !adb__timestamp_parse(a, strlen(a), &p->end_us)) {
        *res = invalid(req, "endDate", "INVALID_FORMAT", "endDate must be RFC 3339 with an offset");
        return false;
    }
    if (p->start_us < floor_us) {
        *res = invalid(req, "startDate", "INVALID_VALUE",
                       "startDate must be within the six years before now (164.528(a)(1))");
        return false;
    }
    if (p->end_us < p->start_us) {
        *res = invalid(req, "endDate", "INVALID_VALUE", "endDate must not be before startDate");
        return false;
    }
    if (p->end_us > now)
        p->end_us = now;
    adb__timestamp_format(p->start_us, p->start);
    adb__timestamp_format(p->end_us, p->end);
    return true;
}

/* Records that req read what about patient as an audit event of its own
 * organization, and waits for its commit. false: not recorded. */
static bool self_audit(adb_http_request *req, const char *action, const period *p, json_t *extra)
{
    if (extra)
        json_object_set_new(extra, "requestId", json_string(req->request_id));
    return adb__hipaa_record_reading(req->state->db, req->who.organization_id, req->who.key_id,
                                     action, p->patient, p->start, p->end, extra) == ADB_OK;
}

static const char *val(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

/* ---- GET /api/v1/compliance/hipaa/accounting ------------------------------ */

enum MHD_Result adb_http_hipaa_accounting(adb_http_request *req)
{
    period p;
    enum MHD_Result res;
    char err[ADB_ERRMSG_MAX];
    const char *org = req->who.organization_id, *rid = adb_http_arg(req, "requestId");
    adb__dsr request;
    json_t *request_json = NULL;
    adb_status st;

    if (!period_args(req, &p, &res))
        return res;
    if (rid) {
        /* the hipaa_accounting request this answers: the organization's own only */
        st = adb__dsr_get(req->state->db, org, rid, &request, err, sizeof(err));
        if (st == ADB_ERR_NOT_FOUND || (st == ADB_OK && strcmp(request.kind, "hipaa_accounting"))) {
            adb__dsr_clear(&request);
            return invalid(req, "requestId", "INVALID_VALUE",
                           "requestId must name one of the organization's hipaa_accounting requests");
        }
        if (st != ADB_OK)
            return unavailable(req);
        bool same = request.subject && !strcmp(request.subject, p.patient);
        request_json = same ? adb__dsr_json(&request) : NULL;
        adb__dsr_clear(&request);
        if (!same)
            return invalid(req, "requestId", "INVALID_VALUE",
                           "requestId names a request of another patient");
    }
    json_t *entries = NULL;
    adb__hipaa_counts counts;
    st = adb__hipaa_accounting_read(req->state->db, org, p.patient, p.start, p.end, &entries,
                                    &counts, err, sizeof(err));
    if (st != ADB_OK) {
        json_decref(request_json);
        if (st == ADB_ERR_BUSY)
            return invalid(req, "startDate", "TOO_MANY", "the period holds more than 100000 "
                           "disclosures: ask for shorter periods (startDate, endDate)");
        if (st == ADB_ERR_NOMEM)
            return adb_http_send_error(req, MHD_HTTP_SERVICE_UNAVAILABLE, "SERVER_BUSY",
                                       "out of memory: retry later", NULL);
        return unavailable(req);
    }
    json_t *audit = json_pack("{s:I, s:s*}", "entries", (json_int_t)counts.entries,
                              "dataSubjectRequestId", rid);
    bool recorded = self_audit(req, "hipaa.accounting.read", &p, audit);
    json_decref(audit);
    if (!recorded) {
        json_decref(entries);
        json_decref(request_json);
        return adb_http_send_retry(req, MHD_HTTP_SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE",
                                   "could not record the reading of the accounting: retry later",
                                   1000);
    }
    char now[ADB_TS_TEXT_MAX];
    adb__timestamp_format(adb__now_us(), now);
    return adb_http_send_json(req, MHD_HTTP_OK,
                              json_pack("{s:s, s:{s:s, s:s}, s:s, s:o, s:{s:I, s:I, s:I}, s:o}",
                                        "patientId", p.patient, "period", "startDate", p.start,
                                        "endDate", p.end, "generatedAt", now, "disclosures",
                                        entries, "counts", "entries", (json_int_t)counts.entries,
                                        "disclosures", (json_int_t)counts.listed, "excluded",
                                        (json_int_t)counts.excluded, "request",
                                        request_json ? request_json : json_null()));
}

/* ---- GET /api/v1/compliance/hipaa/access-report --------------------------- */

enum MHD_Result adb_http_hipaa_access_report(adb_http_request *req)
{
    period p;
    enum MHD_Result res;
    long long limit = ACCESS_LIMIT_DEFAULT, offset = 0;
    const char *a;
    adb_status st;

    if (!period_args(req, &p, &res))
        return res;
    if ((a = adb_http_arg(req, "limit")) && !adb__parse_int(a, 1, ACCESS_LIMIT_MAX, &limit))
        return invalid(req, "limit", "INVALID_VALUE", "limit must be an integer from 1 to 1000");
    if ((a = adb_http_arg(req, "offset")) && !adb__parse_int(a, 0, ACCESS_OFFSET_MAX, &offset))
        return invalid(req, "offset", "INVALID_VALUE", "offset must be an integer from 0 to 1000000");
    char lim[24], off[24];
    adb__fmt(lim, sizeof(lim), "%lld", limit);
    adb__fmt(off, sizeof(off), "%lld", offset);
    const char *qp[] = { req->who.organization_id, p.patient, p.start, p.end, lim, off };
    PGresult *cr = NULL;
    PGresult *r = adb_tenant_query(req->state->db, req->who.organization_id,
                                   "SELECT event_id::text, " TS_SQL("timestamp") ", principal_id,"
                                   " action, status, data_classification,"
                                   " details->'sessionContext'->>'ipAddress'"
                                   " FROM audit_log WHERE organization_id = $1"
                                   " AND target_resource_type = 'Patient' AND target_resource_id = $2"
                                   " AND timestamp >= $3::timestamptz AND timestamp <= $4::timestamptz"
                                   " ORDER BY timestamp DESC, id DESC"
                                   " LIMIT $5::bigint OFFSET $6::bigint",
                                   6, qp, ADB_PLAN_CUSTOM,
                                   "SELECT count(*) FROM audit_log WHERE organization_id = $1"
                                   " AND target_resource_type = 'Patient' AND target_resource_id = $2"
                                   " AND timestamp >= $3::timestamptz AND timestamp <= $4::timestamptz",
                                   4, &cr, &st);
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK || !cr || PQresultStatus(cr) != PGRES_TUPLES_OK) {
        PQclear(r);
        PQclear(cr);
        return unavailable(req);
    }
    long long total = strtoll(PQgetvalue(cr, 0, 0), NULL, 10);
    PQclear(cr);
    json_t *arr = json_array();
    for (int i = 0; arr && i < PQntuples(r); i++)
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s*, s:s, s:s, s:s*, s:s*}", "eventId",
                                             PQgetvalue(r, i, 0), "date", PQgetvalue(r, i, 1),
                                             "principalId", val(r, i, 2), "action",
                                             PQgetvalue(r, i, 3), "status", PQgetvalue(r, i, 4),
                                             "dataClassification", val(r, i, 5), "ipAddress",
                                             val(r, i, 6)));
    int rows = PQntuples(r);
    PQclear(r);
    json_t *audit = json_pack("{s:I}", "accesses", (json_int_t)total);
    bool recorded = self_audit(req, "hipaa.access_report.read", &p, audit);
    json_decref(audit);
    if (!recorded) {
        json_decref(arr);
        return adb_http_send_retry(req, MHD_HTTP_SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE",
                                   "could not record the reading of the access report: retry later",
                                   1000);
    }
    return adb_http_send_json(req, MHD_HTTP_OK,
                              json_pack("{s:s, s:{s:s, s:s}, s:o, s:{s:I, s:I, s:I, s:b, s:b}}",
                                        "patientId", p.patient, "period", "startDate", p.start,
                                        "endDate", p.end, "accesses", arr, "pagination", "total",
                                        (json_int_t)total, "limit", (json_int_t)limit, "offset",
                                        (json_int_t)offset, "hasNext", offset + rows < total,
                                        "hasPrevious", offset > 0));
}
