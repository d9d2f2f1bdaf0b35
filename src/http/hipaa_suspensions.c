/*
 * hipaa_suspensions.c - temporary suspensions of a patient's right to an
 * accounting of disclosures to a health oversight agency or a law
 * enforcement official (45 CFR 164.528(a)(2); docs/hipaa.md "Suspensions"):
 *   GET  /api/v1/compliance/hipaa/suspensions   (compliance.hipaa:read)
 *   POST /api/v1/compliance/hipaa/suspensions   (compliance.hipaa:manage)
 * A written statement sets its end date; an oral one lasts 30 days at most.
 */
#include "compliance.h"
#include "../compliance/subject_key.h"
#include "../core/adb_internal.h"
#include "../core/util.h"
#include "../event/event.h"
#include "../event/event_id.h"

#include <string.h>

#define TEXT_MAX 2000
#define DAY_US (86400LL * 1000000)
#define SUSPENSION_YEARS_MAX 10

#define SUSP_COLUMNS                                                                         \
    "id::text, recipient, agency_type, statement, statement_by, reason,"                     \
    " subject_index IS NOT NULL,"                                                            \
    " to_char(starts_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"             \
    " to_char(ends_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"               \
    " starts_at <= now() AND ends_at > now(), created_by,"                                   \
    " to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

static json_t *row_json(const PGresult *r, int i)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:b, s:s, s:s, s:b, s:o, s:s}", "id",
                     PQgetvalue(r, i, 0), "recipient", PQgetvalue(r, i, 1), "agencyType",
                     PQgetvalue(r, i, 2), "statement", PQgetvalue(r, i, 3), "statementBy",
                     PQgetvalue(r, i, 4), "reason",
                     PQgetisnull(r, i, 5) ? json_null() : json_string(PQgetvalue(r, i, 5)),
                     "onePatient", !strcmp(PQgetvalue(r, i, 6), "t"), "startsAt",
                     PQgetvalue(r, i, 7), "endsAt", PQgetvalue(r, i, 8), "active",
                     !strcmp(PQgetvalue(r, i, 9), "t"), "createdBy",
                     PQgetisnull(r, i, 10) ? json_null() : json_string(PQgetvalue(r, i, 10)),
                     "createdAt", PQgetvalue(r, i, 11));
}

enum MHD_Result adb_http_hipaa_suspensions_list(adb_http_request *req)
{
    const char *active = adb_http_arg(req, "active");
    adb_status st;

    if (active && strcmp(active, "true") && strcmp(active, "false"))
        return adb_http_send_invalid(req, "active", "INVALID_VALUE", "active must be true or false");
    const char *p[] = { req->who.organization_id, active ? active : NULL };
    PGresult *r = adb_tenant_query(req->state->db, req->who.organization_id,
                                   "SELECT " SUSP_COLUMNS " FROM hipaa_disclosure_suspension"
                                   " WHERE organization_id = $1 AND ($2::boolean IS NULL"
                                   " OR (starts_at <= now() AND ends_at > now()) = $2::boolean)"
                                   " ORDER BY ends_at DESC, id LIMIT 1000",
                                   2, p, ADB_PLAN_AUTO, NULL, 0, NULL, &st);
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        return adb_http_send_unavailable(req);
    }
    json_t *arr = json_array();
    for (int i = 0; arr && i < PQntuples(r); i++)
        json_array_append_new(arr, row_json(r, i));
    PQclear(r);
    return adb_http_send_json(req, MHD_HTTP_OK, json_pack("{s:o}", "suspensions", arr));
}

/* A member that must be a string of 1..max bytes when present (required:
 * also when absent); its value or NULL. *bad after answering 400. */
static const char *text_member(adb_http_request *req, json_t *body, const char *name, bool required,
                               size_t max, bool *bad, enum MHD_Result *res)
{
    json_t *v = json_object_get(body, name);
    const char *s = json_string_value(v);
    char msg[160];

    if (*bad || (!required && (!v || json_is_null(v))))
        return NULL;
    if (!v) {
        adb__fmt(msg, sizeof(msg), "%s is required", name);
        *res = adb_http_send_invalid(req, name, "REQUIRED", msg);
        *bad = true;
        return NULL;
    }
    if (!s || !*s || strlen(s) > max) {
        adb__fmt(msg, sizeof(msg), "%s must be a string of 1 to %zu bytes", name, max);
        *res = adb_http_send_invalid(req, name, "INVALID_VALUE", msg);
        *bad = true;
        return NULL;
    }
    return s;
}

enum MHD_Result adb_http_hipaa_suspensions_create(adb_http_request *req)
{
    static const char *const known[] = { "recipient", "agencyType", "statement", "statementBy",
                                         "reason", "patientId", "startsAt", "endsAt", NULL };
    enum MHD_Result res = MHD_NO;
    json_t *body = adb_http_body_object(req, known, NULL, &res);
    bool bad = false;
    char id[ADB_EVENT_ID_LEN + 1], idx[2 * ADB_SUBJECT_INDEX_LEN + 1];
    char start[ADB_TS_TEXT_MAX], end[ADB_TS_TEXT_MAX];
    int64_t now = adb__now_us(), start_us = now, end_us;
    adb_status st;

    if (!body)
        return res;
    const char *recipient = text_member(req, body, "recipient", true, 255, &bad, &res);
    const char *agency = text_member(req, body, "agencyType", true, 32, &bad, &res);
    const char *statement = text_member(req, body, "statement", true, 16, &bad, &res);
    const char *by = text_member(req, body, "statementBy", true, 255, &bad, &res);
    const char *reason = text_member(req, body, "reason", false, TEXT_MAX, &bad, &res);
    const char *patient = text_member(req, body, "patientId", false, 255, &bad, &res);
    const char *starts = text_member(req, body, "startsAt", false, 64, &bad, &res);
    const char *ends = text_member(req, body, "endsAt", true, 64, &bad, &res);
    if (bad)
        goto out;
    if (strcmp(agency, "health_oversight") && strcmp(agency, "law_enforcement")) {
        res = adb_http_send_invalid(req, "agencyType", "INVALID_VALUE",
                      "agencyType must be health_oversight or law_enforcement (164.512(d), (f))");
        goto out;
    }
    if (strcmp(statement, "written") && strcmp(statement, "oral")) {
        res = adb_http_send_invalid(req, "statement", "INVALID_VALUE", "statement must be written or oral");
        goto out;
    }
    if (!strcmp(statement, "written") && !reason) {
        res = adb_http_send_invalid(req, "reason", "REQUIRED", "a written statement says why an accounting would "
                      "impede the agency's activities (164.528(a)(2)(i)): reason is required");
        goto out;
    }
    if (starts && !adb__timestamp_parse(starts, strlen(starts), &start_us)) {
        res = adb_http_send_invalid(req, "startsAt", "INVALID_FORMAT", "startsAt must be RFC 3339 with an offset");
        goto out;
    }
    if (!adb__timestamp_parse(ends, strlen(ends), &end_us)) {
        res = adb_http_send_invalid(req, "endsAt", "INVALID_FORMAT", "endsAt must be RFC 3339 with an offset");
        goto out;
    }
    if (end_us <= start_us || end_us <= now) {
        res = adb_http_send_invalid(req, "endsAt", "INVALID_VALUE", "endsAt must be after startsAt and in the future");
        goto out;
    }
    if (start_us > now + 365 * DAY_US || end_us - start_us > SUSPENSION_YEARS_MAX * 366 * DAY_US) {
        res = adb_http_send_invalid(req, "endsAt", "INVALID_VALUE", "a suspension starts within a year and lasts "
                      "at most ten years");
        goto out;
    }
    if (!strcmp(statement, "oral") && end_us - start_us > 30 * DAY_US) {
        res = adb_http_send_invalid(req, "endsAt", "INVALID_VALUE", "an oral statement suspends for 30 days at "
                      "most unless a written statement follows (164.528(a)(2)(ii))");
        goto out;
    }
    if ((patient && !adb__subject_index_hex(adb__db_keys(req->state->db), req->who.organization_id,
                                            patient, idx)) ||
        !adb__event_id_new(now, id)) {
        res = adb_http_send_unavailable(req);
        goto out;
    }
    adb__timestamp_format(start_us, start);
    adb__timestamp_format(end_us, end);
    const char *p[] = { id, req->who.organization_id, recipient, agency, statement, by, reason,
                        patient ? idx : NULL, start, end, req->who.key_id };
    PGresult *r = adb_tenant_query(req->state->db, req->who.organization_id,
                                   "INSERT INTO hipaa_disclosure_suspension (id, organization_id,"
                                   " recipient, agency_type, statement, statement_by, reason,"
                                   " subject_index, starts_at, ends_at, created_by)"
                                   " VALUES ($1::uuid, $2, $3, $4, $5, $6, $7, decode($8, 'hex'),"
                                   " $9::timestamptz, $10::timestamptz, $11)"
                                   " RETURNING " SUSP_COLUMNS,
                                   11, p, ADB_PLAN_AUTO, NULL, 0, NULL, &st);
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        PQclear(r);
        res = adb_http_send_unavailable(req);
        goto out;
    }
    res = adb_http_send_json(req, MHD_HTTP_CREATED, row_json(r, 0));
    PQclear(r);
out:
    json_decref(body);
    return res;
}
