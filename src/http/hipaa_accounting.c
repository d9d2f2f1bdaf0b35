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
#include "../integrity/row.h"

#include <stdlib.h>

#include <string.h>

#define PATIENT_MAX 255 /* targetResourceId's limit */
#define ACCESS_LIMIT_DEFAULT 100
#define ACCESS_LIMIT_MAX 1000
#define ACCESS_OFFSET_MAX 1000000

#define TS_SQL(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

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
        *res = adb_http_send_invalid(req, "patient", "REQUIRED", "patient is required: the patient's id "
                       "(the events' targetResourceId with targetResourceType Patient)");
        return false;
    }
    if (strlen(patient) > PATIENT_MAX) {
        *res = adb_http_send_invalid(req, "patient", "INVALID_VALUE", "patient must be at most 255 bytes");
        return false;
    }
    adb__fmt(p->patient, sizeof(p->patient), "%s", patient);
    p->start_us = floor_us;
    p->end_us = now;
    if ((a = adb_http_arg(req, "startDate")) && !adb__timestamp_parse(a, strlen(a), &p->start_us)) {
        *res = adb_http_send_invalid(req, "startDate", "INVALID_FORMAT", "startDate must be RFC 3339 with an offset");
        return false;
    }
    if ((a = adb_http_arg(req, "endDate")) && !adb__timestamp_parse(a, strlen(a), &p->end_us)) {
        *res = adb_http_send_invalid(req, "endDate", "INVALID_FORMAT", "endDate must be RFC 3339 with an offset");
        return false;
    }
    if (p->start_us < floor_us) {
        *res = adb_http_send_invalid(req, "startDate", "INVALID_VALUE",
                       "startDate must be within the six years before now (164.528(a)(1))");
        return false;
    }
    if (p->end_us < p->start_us) {
        *res = adb_http_send_invalid(req, "endDate", "INVALID_VALUE", "endDate must not be before startDate");
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
            return adb_http_send_invalid(req, "requestId", "INVALID_VALUE",
                           "requestId must name one of the organization's hipaa_accounting requests");
        }
        if (st != ADB_OK)
            return adb_http_send_unavailable(req);
        bool same = request.subject && !strcmp(request.subject, p.patient);
        request_json = same ? adb__dsr_json(&request) : NULL;
        adb__dsr_clear(&request);
        if (!same)
            return adb_http_send_invalid(req, "requestId", "INVALID_VALUE",
                           "requestId names a request of another patient");
    }
    json_t *entries = NULL;
    adb__hipaa_counts counts;
    st = adb__hipaa_accounting_read(req->state->db, org, p.patient, p.start, p.end, &entries,
                                    &counts, err, sizeof(err));
    if (st != ADB_OK) {
        json_decref(request_json);
        if (st == ADB_ERR_BUSY)
            return adb_http_send_invalid(req, "startDate", "TOO_MANY", "the period holds more than 100000 "
                           "disclosures: ask for shorter periods (startDate, endDate)");
        if (st == ADB_ERR_NOMEM)
            return adb_http_send_error(req, MHD_HTTP_SERVICE_UNAVAILABLE, "SERVER_BUSY",
                                       "out of memory: retry later", NULL);
        return adb_http_send_unavailable(req);
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

/* One access as the report lists it; the archived ones' strings malloc()ed. */
enum { AC_ID, AC_DATE, AC_PRINCIPAL, AC_ACTION, AC_STATUS, AC_CLASS, AC_IP, AC_N };
typedef struct access_row {
    char *v[AC_N];
    long long id;
} access_row;

typedef struct accesses {
    access_row *v;
    size_t n, cap;
} accesses;

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static adb_status archived_access(void *ctx, const char *const *a, const char *date)
{
    accesses *l = ctx;
    if (l->n >= ADB_HIPAA_DISCLOSURES_MAX)
        return ADB_ERR_BUSY;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        access_row *v = realloc(l->v, cap * sizeof(*v));
        if (!v)
            return ADB_ERR_NOMEM;
        l->v = v;
        l->cap = cap;
    }
    json_t *d = a[ADB_COL_DETAILS] ? json_loads(a[ADB_COL_DETAILS], JSON_DECODE_ANY, NULL) : NULL;
    json_t *ip = json_object_get(json_object_get(d, "sessionContext"), "ipAddress");
    access_row *x = &l->v[l->n++];
    *x = (access_row){ { dup_or_null(a[ADB_COL_EVENT_ID]), strdup(date), dup_or_null(a[ADB_COL_PRINCIPAL_ID]),
                     dup_or_null(a[ADB_COL_ACTION]), dup_or_null(a[ADB_COL_STATUS]),
                     dup_or_null(a[ADB_COL_DATA_CLASSIFICATION]),
                     json_is_string(ip) ? strdup(json_string_value(ip))
                     : ip && !json_is_null(ip) ? json_dumps(ip, JSON_COMPACT | JSON_ENCODE_ANY) : NULL },
                   a[ADB_COL_ID] ? strtoll(a[ADB_COL_ID], NULL, 10) : 0 };
    json_decref(d);
    return x->v[AC_DATE] && x->v[AC_ACTION] && x->v[AC_STATUS] ? ADB_OK : ADB_ERR_NOMEM;
}

static void accesses_free(accesses *l)
{
    for (size_t i = 0; i < l->n; i++)
        for (int k = 0; k < AC_N; k++)
            free(l->v[i].v[k]);
    free(l->v);
}

/* Newest first: timestamp, then row id, descending. */
static int access_cmp_desc(const void *a, const void *b)
{
    const access_row *x = a, *y = b;
    int c = strcmp(y->v[AC_DATE], x->v[AC_DATE]);
    return c ? c : (y->id > x->id) - (y->id < x->id);
}

static json_t *access_json(const char *const v[AC_N])
{
    return json_pack("{s:s?, s:s, s:s*, s:s, s:s, s:s*, s:s*}", "eventId", v[AC_ID], "date",
                     v[AC_DATE], "principalId", v[AC_PRINCIPAL], "action", v[AC_ACTION], "status",
                     v[AC_STATUS], "dataClassification", v[AC_CLASS], "ipAddress", v[AC_IP]);
}

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
        return adb_http_send_invalid(req, "limit", "INVALID_VALUE", "limit must be an integer from 1 to 1000");
    if ((a = adb_http_arg(req, "offset")) && !adb__parse_int(a, 0, ACCESS_OFFSET_MAX, &offset))
        return adb_http_send_invalid(req, "offset", "INVALID_VALUE", "offset must be an integer from 0 to 1000000");
    /* the archived accesses (docs/hipaa.md, "Archived events"), merged by date with the live */
    accesses arch = { 0 };
    char aerr[ADB_ERRMSG_MAX];
    st = adb__hipaa_archived_each(req->state->db, req->who.organization_id, p.patient, p.start_us,
                                  p.end_us, archived_access, &arch, aerr, sizeof(aerr));
    if (st != ADB_OK) {
        accesses_free(&arch);
        if (st == ADB_ERR_BUSY)
            return adb_http_send_invalid(req, "startDate", "TOO_MANY", "the period holds more than 100000 archived "
                           "accesses: ask for shorter periods (startDate, endDate)");
        if (st == ADB_ERR_NOMEM)
            return adb_http_send_error(req, MHD_HTTP_SERVICE_UNAVAILABLE, "SERVER_BUSY",
                                       "out of memory: retry later", NULL);
        return adb_http_send_unavailable(req);
    }
    if (arch.n)
        qsort(arch.v, arch.n, sizeof(*arch.v), access_cmp_desc);
    /* with archived ones, the live ones up to the page's end, merged here */
    char lim[24], off[24];
    adb__fmt(lim, sizeof(lim), "%lld", arch.n ? offset + limit : limit);
    adb__fmt(off, sizeof(off), "%lld", arch.n ? 0 : offset);
    const char *qp[] = { req->who.organization_id, p.patient, p.start, p.end, lim, off };
    PGresult *cr = NULL;
    PGresult *r = adb_tenant_query(req->state->db, req->who.organization_id,
                                   "SELECT event_id::text, " TS_SQL("timestamp") ", principal_id,"
                                   " action, status, data_classification,"
                                   " details->'sessionContext'->>'ipAddress', id"
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
        accesses_free(&arch);
        return adb_http_send_unavailable(req);
    }
    long long total = strtoll(PQgetvalue(cr, 0, 0), NULL, 10) + (long long)arch.n;
    PQclear(cr);
    json_t *arr = json_array();
    int live = PQntuples(r), rows = 0;
    size_t ai = 0;
    long long pos = arch.n ? 0 : offset; /* the merged position of the next row */
    for (int li = 0; arr && (li < live || ai < arch.n) && rows < limit; pos++) {
        const char *v[AC_N];
        bool from_live = li < live;
        if (from_live && ai < arch.n) {
            access_row l = { .id = strtoll(PQgetvalue(r, li, 7), NULL, 10) };
            l.v[AC_DATE] = PQgetvalue(r, li, 1);
            from_live = access_cmp_desc(&l, &arch.v[ai]) <= 0;
        }
        if (from_live) {
            for (int k = 0; k < AC_N; k++)
                v[k] = val(r, li, k);
            li++;
        } else {
            for (int k = 0; k < AC_N; k++)
                v[k] = arch.v[ai].v[k];
            ai++;
        }
        if (pos < offset)
            continue;
        json_array_append_new(arr, access_json(v));
        rows++;
    }
    PQclear(r);
    accesses_free(&arch);
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
