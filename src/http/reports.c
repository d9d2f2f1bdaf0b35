/*
 * reports.c - on-demand compliance reports over HTTP in the client's
 * shapes (docs/reports.md, "API and CLI"): POST /api/v1/compliance/reports/
 * {hipaa,gdpr,integrity,general,custom} generate one (the document as the
 * answer), GET .../{id}/status, /download and /stream serve the stored
 * artifact (the bytes whose SHA-256 the signed note names), POST
 * .../{id}/cancel, GET .../history/{organizationId}. Everything is read and
 * written as the caller's organization.
 */
#include "reports_routes.h"
#include "../core/util.h"
#include "../report/report.h"
#include "../report/report_store.h"
#include "../report/compress.h"
#include "../report/async.h"
#include "../event/event.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define REPORT_ID_MAX 64

static json_t *body_object(adb_http_request *req, const char *const *known, enum MHD_Result *res)
{
    json_error_t je;
    json_t *body = req->body_len ? json_loadb(req->body, req->body_len, 0, &je) : NULL;
    const char *key;
    json_t *v;
    char msg[200];

    if (!json_is_object(body)) {
        json_decref(body);
        *res = adb_http_send_invalid(req, "", "INVALID_JSON", "the body must be a JSON object");
        return NULL;
    }
    json_object_foreach(body, key, v) {
        bool ok = false;
        for (int i = 0; known[i] && !ok; i++)
            ok = !strcmp(key, known[i]);
        if (!ok) {
            char field[80];
            adb__fmt(field, sizeof(field), "%.64s", key);
            adb__utf8_repair(field);
            adb__fmt(msg, sizeof(msg), "unknown member \"%s\"", field);
            *res = adb_http_send_invalid(req, field, "UNKNOWN_FIELD", msg);
            json_decref(body);
            return NULL;
        }
    }
    return body;
}

/* The answer to a generate call that failed. */
static enum MHD_Result generate_failed(adb_http_request *req, adb_status st, const char *field,
                                       const char *err)
{
    if (st == ADB_ERR_INVALID)
        return adb_http_send_invalid(req, field, "INVALID_VALUE", err);
    if (st == ADB_ERR_NOT_FOUND)
        return adb_http_send_error(req, MHD_HTTP_NOT_FOUND, "NOT_FOUND", err, NULL);
    if (st == ADB_ERR_BUSY)
        return adb_http_send_error(req, MHD_HTTP_CONFLICT, "CANCELLED", err, NULL);
    if (st == ADB_ERR_DB_CONNECT || st == ADB_ERR_DB_QUERY)
        return adb_http_send_unavailable(req);
    return adb_http_send_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", err, NULL);
}

/* RFC 7240: a Prefer header naming respond-async (any case, among other preferences). */
static bool prefers_async(adb_http_request *req)
{
    const char *p = adb_http_header(req, "Prefer");
    while (p && *p) {
        p += strspn(p, " \t,");
        size_t n = strcspn(p, ",;= \t");
        if (n == 13 && !strncasecmp(p, "respond-async", 13))
            return true;
        p += strcspn(p, ",");
    }
    return false;
}

/* A JSON answer with the extra headers (Location, X-Report-Id...): sent as
 * text, since adb_http_send_json does not add them. Takes o. */
static enum MHD_Result send_json_headers(adb_http_request *req, unsigned status, json_t *o)
{
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!text)
        return MHD_NO;
    return adb_http_send_text(req, status, text, strlen(text), "application/json");
}

/* The 202 of a report generated in the background: where to follow it. */
static enum MHD_Result accepted(adb_http_request *req, const char *id, const char *type)
{
    char *status_url = adb__aprintf("/api/v1/compliance/reports/%s/status", id);
    char *download_url = adb__aprintf("/api/v1/compliance/reports/%s/download", id);
    json_t *o = json_pack("{s:s, s:s, s:s, s:i, s:s*, s:s*}", "id", id, "type", type, "status",
                          "processing", "progress", 0, "statusUrl", status_url, "downloadUrl",
                          download_url);
    req->extra_header[0] = "Location";
    req->extra_value[0] = status_url;
    req->extra_header[1] = "Preference-Applied";
    req->extra_value[1] = strdup("respond-async");
    free(download_url);
    return send_json_headers(req, MHD_HTTP_ACCEPTED, o);
}

static enum MHD_Result generate(adb_http_request *req, const char *type)
{
    static const char *const known[] = { "criteria", "format", NULL };
    static const char *const known_custom[] = { "name", "templateId", "template", "criteria",
                                                "parameters", "format", "includeRawData",
                                                "maxRecords", NULL };
    bool custom = !strcmp(type, "CUSTOM_REPORT");
    enum MHD_Result res;
    json_t *body = body_object(req, custom ? known_custom : known, &res);
    if (!body)
        return res;
    json_t *crit = json_object_get(body, "criteria"), *fv = json_object_get(body, "format");
    if (!crit) {
        json_decref(body);
        return adb_http_send_invalid(req, "criteria", "REQUIRED",
                                     "criteria is required, with a dateRange");
    }
    if (fv && !json_is_string(fv)) {
        json_decref(body);
        return adb_http_send_invalid(req, "format", "INVALID_VALUE",
                                     "format must be one of json, csv, xml, pdf, xlsx");
    }
    adb__report_request rq = {
        .org = req->who.organization_id, .type = type, .criteria = crit,
        .custom = custom ? body : NULL, .format = fv ? json_string_value(fv) : "json",
        .generated_by = req->who.key_id,
    };
    adb__report_result r;
    char field[128] = "", err[ADB_ERRMSG_MAX] = "";
    if (prefers_async(req)) {
        char id[64];
        adb_status ast = adb__report_async_submit(req->state->db, &rq, id, field, sizeof(field),
                                                  err, sizeof(err));
        json_decref(body);
        if (ast == ADB_ERR_BUSY)
            return adb_http_send_retry(req, MHD_HTTP_SERVICE_UNAVAILABLE, "REPORTS_BUSY", err,
                                       5000);
        if (ast != ADB_OK)
            return generate_failed(req, ast, field, err);
        return accepted(req, id, type);
    }
    adb_status st = adb__report_generate(req->state->db, &rq, &r, field, sizeof(field), err,
                                         sizeof(err));
    json_decref(body);
    if (st != ADB_OK)
        return generate_failed(req, st, field, err);
    json_t *doc = json_incref(r.doc);
    req->extra_header[0] = "X-Report-Id";
    req->extra_value[0] = strdup(r.report_id);
    req->extra_header[1] = "X-Report-SHA256";
    req->extra_value[1] = strdup(r.sha256_hex);
    adb__report_result_free(&r);
    return send_json_headers(req, MHD_HTTP_OK, doc);
}

enum MHD_Result adb_http_reports_hipaa(adb_http_request *req)
{
    return generate(req, "HIPAA_AUDIT_TRAIL");
}

enum MHD_Result adb_http_reports_gdpr(adb_http_request *req)
{
    return generate(req, "GDPR_PROCESSING_ACTIVITIES");
}

enum MHD_Result adb_http_reports_integrity(adb_http_request *req)
{
    return generate(req, "INTEGRITY_VERIFICATION");
}

enum MHD_Result adb_http_reports_general(adb_http_request *req)
{
    return generate(req, "GENERAL_COMPLIANCE");
}

enum MHD_Result adb_http_reports_custom(adb_http_request *req)
{
    return generate(req, "CUSTOM_REPORT");
}

/* A report id from the path: what ids look like (else it is no report). */
static bool id_ok(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n >= REPORT_ID_MAX)
        return false;
    return strspn(id, "0123456789abcdefABCDEF-") == n;
}

static enum MHD_Result not_found(adb_http_request *req)
{
    return adb_http_send_error(req, MHD_HTTP_NOT_FOUND, "NOT_FOUND", "no such report", NULL);
}

/* The client's status word for a row's. */
static const char *client_status(const char *s)
{
    return !strcmp(s, "running") ? "processing" : s;
}

enum MHD_Result adb_http_reports_status(adb_http_request *req)
{
    const char *id = req->param[0];
    adb_status st;
    if (!id_ok(id))
        return not_found(req);
    const char *p[] = { id };
    PGresult *r = adb_tenant_query(
        req->state->db, req->who.organization_id,
        "SELECT id, report_type, status, format,"
        " to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"
        " to_char(completed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"
        " error, report_hash, signed_note, total_records, tree_size, filename,"
        " octet_length(artifact), content_type, progress, progress_step,"
        " to_char(progress_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"
        /* a straight line through the start and the last progress written */
        " CASE WHEN status = 'running' AND progress > 0 AND progress_at IS NOT NULL"
        "  THEN to_char((created_at + (progress_at - created_at) * (100.0 / progress)::float8)"
        "   AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') END"
        " FROM compliance_reports WHERE id = $1",
        1, p, ADB_PLAN_AUTO, NULL, 0, NULL, &st);
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        return adb_http_send_unavailable(req);
    }
    if (PQntuples(r) == 0) {
        PQclear(r);
        return not_found(req);
    }
#define V(k) (PQgetisnull(r, 0, k) ? NULL : PQgetvalue(r, 0, k))
    const char *status = PQgetvalue(r, 0, 2);
    bool done = !strcmp(status, "completed");
    /* the progress the generator wrote between its steps (0..100; 100 once completed) */
    int progress = done ? 100 : (int)strtol(PQgetvalue(r, 0, 14), NULL, 10);
    json_t *o = json_pack("{s:s, s:s, s:s, s:i, s:s*, s:s*, s:s, s:s, s:s*, s:s*}", "id", V(0),
                          "type", V(1), "status", client_status(status), "progress", progress,
                          "step", V(15), "progressAt", V(16), "format", V(3), "createdAt", V(4),
                          "completedAt", V(5), "error", V(6));
    if (o && V(17))
        json_object_set_new(o, "estimatedCompletion", json_string(V(17)));
    if (o && done) {
        json_object_set_new(o, "reportHash", json_string(V(7)));
        json_object_set_new(o, "signedNote", V(8) ? json_string(V(8)) : json_null());
        json_object_set_new(o, "records", json_integer(strtoll(PQgetvalue(r, 0, 9), NULL, 10)));
        json_object_set_new(o, "treeSize", json_integer(strtoll(PQgetvalue(r, 0, 10), NULL, 10)));
        json_object_set_new(o, "filename", json_string(PQgetvalue(r, 0, 11)));
        json_object_set_new(o, "size", json_integer(strtoll(PQgetvalue(r, 0, 12), NULL, 10)));
        json_object_set_new(o, "contentType", json_string(V(13) ? V(13) : ""));
    }
#undef V
    PQclear(r);
    if (!o)
        return MHD_NO;
    return adb_http_send_json(req, MHD_HTTP_OK, o);
}

/* download and stream: the stored artifact, or the stored document rendered
 * in another format (then not the signed bytes: X-Report-Rendering says so). */
static enum MHD_Result serve_artifact(adb_http_request *req, bool stream)
{
    const char *id = req->param[0];
    const char *want = adb_http_arg(req, "format");
    const char *comp = adb_http_arg(req, "compression");
    adb_status st;
    if (!id_ok(id))
        return not_found(req);
    if (want && strcmp(want, "json") && strcmp(want, "csv") && strcmp(want, "xml") &&
        strcmp(want, "pdf") && strcmp(want, "xlsx"))
        return adb_http_send_invalid(req, "format", "INVALID_VALUE",
                                     "format must be one of json, csv, xml, pdf, xlsx");
    const adb__compression *cz = adb__compression_find(comp ? comp : "none");
    if (!cz)
        return adb_http_send_invalid(req, "compression",
                                     comp && !strcmp(comp, "bzip2") ? "UNSUPPORTED_COMPRESSION"
                                                                    : "INVALID_VALUE",
                                     "compression must be none, gzip or zip (bzip2 is not "
                                     "written by this server)");
    const char *p[] = { id };
    PGresult *r = adb_tenant_query(req->state->db, req->who.organization_id,
                                   "SELECT status, format, artifact, content_type, filename,"
                                   " report_hash, report_data::text FROM compliance_reports"
                                   " WHERE id = $1",
                                   1, p, ADB_PLAN_AUTO, NULL, 0, NULL, &st);
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        return adb_http_send_unavailable(req);
    }
    if (PQntuples(r) == 0) {
        PQclear(r);
        return not_found(req);
    }
    if (strcmp(PQgetvalue(r, 0, 0), "completed") || PQgetisnull(r, 0, 2)) {
        char msg[96];
        adb__fmt(msg, sizeof(msg), "the report is %s: nothing to download",
                 client_status(PQgetvalue(r, 0, 0)));
        PQclear(r);
        return adb_http_send_error(req, MHD_HTTP_CONFLICT, "REPORT_NOT_READY", msg, NULL);
    }
    char *bytes = NULL;
    size_t len = 0;
    const char *ctype;
    char fname[160];
    adb__fmt(fname, sizeof(fname), "%s", PQgetvalue(r, 0, 4));
    if (!want || !strcmp(want, PQgetvalue(r, 0, 1))) {
        /* the stored bytes (text format 'hex' of bytea decoded) */
        size_t n;
        unsigned char *raw = PQunescapeBytea((const unsigned char *)PQgetvalue(r, 0, 2), &n);
        if (!raw) {
            PQclear(r);
            return MHD_NO;
        }
        bytes = malloc(n + 1);
        if (bytes) {
            memcpy(bytes, raw, n);
            bytes[n] = '\0';
        }
        len = n;
        PQfreemem(raw);
        ctype = strcmp(PQgetvalue(r, 0, 3), "application/pdf") == 0 ? "application/pdf"
                : !strncmp(PQgetvalue(r, 0, 3), "text/csv", 8)    ? "text/csv; charset=utf-8"
                : !strncmp(PQgetvalue(r, 0, 3), "application/xml", 15)
                    ? "application/xml; charset=utf-8"
                : !strncmp(PQgetvalue(r, 0, 3), "application/vnd.openxmlformats", 30)
                    ? "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
                    : "application/json";
        req->extra_header[1] = "X-Report-SHA256";
        req->extra_value[1] = strdup(PQgetvalue(r, 0, 5));
    } else {
        json_t *doc = json_loads(PQgetvalue(r, 0, 6), 0, NULL);
        adb__buf b = { 0 };
        char err[ADB_ERRMSG_MAX];
        if (!strcmp(want, "json")) {
            char *s = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
            if (s)
                adb__buf_puts(&b, s);
            free(s);
            ctype = "application/json";
            st = s ? ADB_OK : ADB_ERR_NOMEM;
        } else {
            st = doc ? adb__report_render(doc, want, &b, &ctype, err, sizeof(err))
                     : ADB_ERR_INTERNAL;
        }
        json_decref(doc);
        if (st != ADB_OK || b.oom) {
            adb__buf_free(&b);
            PQclear(r);
            return adb_http_send_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "INTERNAL_ERROR",
                                       "the report could not be rendered in that format", NULL);
        }
        len = b.len;
        bytes = adb__buf_take(&b, NULL);
        if (!bytes)
            bytes = strdup("");
        char *dot = strrchr(fname, '.');
        if (dot && (size_t)(dot - fname) + 1 + strlen(want) < sizeof(fname))
            memcpy(dot + 1, want, strlen(want) + 1);
        req->extra_header[1] = "X-Report-Rendering";
        req->extra_value[1] = strdup("derived: not the signed artifact");
    }
    PQclear(r);
    if (!bytes)
        return MHD_NO;
    if (strcmp(cz->name, "none")) {
        /* the artifact's bytes inside, unchanged: X-Report-SHA256 names them */
        adb__buf zb = { 0 };
        if (adb__compress(cz, bytes, len, fname, NULL, &zb) != ADB_OK || zb.oom) {
            adb__buf_free(&zb);
            free(bytes);
            return adb_http_send_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "INTERNAL_ERROR",
                                       "the report could not be compressed", NULL);
        }
        free(bytes);
        len = zb.len;
        bytes = adb__buf_take(&zb, NULL);
        if (!bytes)
            return MHD_NO;
        size_t fl = strlen(fname);
        if (fl + strlen(cz->suffix) < sizeof(fname))
            memcpy(fname + fl, cz->suffix, strlen(cz->suffix) + 1);
        ctype = cz->content_type;
    }
    req->extra_header[0] = "Content-Disposition";
    req->extra_value[0] = adb__aprintf("attachment; filename=\"%s\"", fname);
    return adb_http_send_text(req, MHD_HTTP_OK, bytes, len,
                              stream ? "application/octet-stream" : ctype);
}

enum MHD_Result adb_http_reports_download(adb_http_request *req)
{
    return serve_artifact(req, false);
}

enum MHD_Result adb_http_reports_stream(adb_http_request *req)
{
    return serve_artifact(req, true);
}

enum MHD_Result adb_http_reports_cancel(adb_http_request *req)
{
    const char *id = req->param[0];
    char status[16] = "", err[ADB_ERRMSG_MAX];
    if (!id_ok(id))
        return not_found(req);
    adb_status st = adb__report_cancel(req->state->db, req->who.organization_id, id, status, err,
                                       sizeof(err));
    if (st == ADB_ERR_NOT_FOUND)
        return not_found(req);
    if (st == ADB_ERR_BUSY) {
        char msg[96];
        adb__fmt(msg, sizeof(msg), "the report has already ended: %s", client_status(status));
        return adb_http_send_error(req, MHD_HTTP_CONFLICT, "REPORT_ENDED", msg, NULL);
    }
    if (st != ADB_OK)
        return adb_http_send_unavailable(req);
    return adb_http_send_json(req, MHD_HTTP_OK,
                              json_pack("{s:s, s:s}", "id", id, "status", "cancelled"));
}

/* reportType as the client names it (hipaa, gdpr, custom) or as stored. */
static const char *type_of(const char *t)
{
    if (!t)
        return NULL;
    if (!strcmp(t, "hipaa"))
        return "HIPAA_AUDIT_TRAIL";
    if (!strcmp(t, "gdpr"))
        return "GDPR_PROCESSING_ACTIVITIES";
    if (!strcmp(t, "custom"))
        return "CUSTOM_REPORT";
    if (!strcmp(t, "integrity"))
        return "INTEGRITY_VERIFICATION";
    if (!strcmp(t, "general"))
        return "GENERAL_COMPLIANCE";
    static const char *const full[] = { "HIPAA_AUDIT_TRAIL", "GDPR_PROCESSING_ACTIVITIES",
                                        "CUSTOM_REPORT", "INTEGRITY_VERIFICATION",
                                        "GENERAL_COMPLIANCE" };
    for (size_t i = 0; i < 5; i++)
        if (!strcmp(t, full[i]))
            return full[i];
    return "";
}

enum MHD_Result adb_http_reports_history(adb_http_request *req)
{
    const char *org = req->param[0];
    long long limit = 50, offset = 0;
    const char *ls = adb_http_arg(req, "limit"), *os = adb_http_arg(req, "offset");
    const char *ts = adb_http_arg(req, "reportType");
    const char *from = adb_http_arg(req, "startDate"), *to = adb_http_arg(req, "endDate");
    adb_status st;

    if (!org || strcmp(org, req->who.organization_id))
        return adb_http_send_error(req, MHD_HTTP_FORBIDDEN, "FORBIDDEN",
                                   "a key reads its own organization's reports only", NULL);
    if (ls && !adb__parse_int(ls, 1, 1000, &limit))
        return adb_http_send_invalid(req, "limit", "INVALID_VALUE",
                                     "limit must be an integer from 1 to 1000");
    if (os && !adb__parse_int(os, 0, 100000000, &offset))
        return adb_http_send_invalid(req, "offset", "INVALID_VALUE",
                                     "offset must be an integer from 0 to 100000000");
    const char *type = type_of(ts);
    if (type && !*type)
        return adb_http_send_invalid(req, "reportType", "INVALID_VALUE",
                                     "reportType must be hipaa, gdpr, custom, integrity or "
                                     "general");
    int64_t us;
    if (from && !adb__timestamp_parse(from, strlen(from), &us))
        return adb_http_send_invalid(req, "startDate", "INVALID_VALUE",
                                     "startDate must be an RFC 3339 date-time");
    if (to && !adb__timestamp_parse(to, strlen(to), &us))
        return adb_http_send_invalid(req, "endDate", "INVALID_VALUE",
                                     "endDate must be an RFC 3339 date-time");
    char lim[24], off[24];
    adb__fmt(lim, sizeof(lim), "%lld", limit + 1);
    adb__fmt(off, sizeof(off), "%lld", offset);
    const char *p[] = { org, type, from, to, lim, off };
    PGresult *total = NULL;
    PGresult *r = adb_tenant_query(
        req->state->db, org,
        "SELECT id, report_type, coalesce(report_data->>'title', report_data->>'name', report_type),"
        " to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), status,"
        " coalesce(octet_length(artifact), 0), format FROM compliance_reports"
        " WHERE organization_id = $1 AND ($2::text IS NULL OR report_type = $2)"
        " AND ($3::timestamptz IS NULL OR created_at >= $3::timestamptz)"
        " AND ($4::timestamptz IS NULL OR created_at <= $4::timestamptz)"
        " ORDER BY created_at DESC, id DESC LIMIT $5::bigint OFFSET $6::bigint",
        6, p, ADB_PLAN_CUSTOM,
        "SELECT count(*) FROM compliance_reports WHERE organization_id = $1"
        " AND ($2::text IS NULL OR report_type = $2)"
        " AND ($3::timestamptz IS NULL OR created_at >= $3::timestamptz)"
        " AND ($4::timestamptz IS NULL OR created_at <= $4::timestamptz)",
        4, &total, &st);
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK || !total ||
        PQresultStatus(total) != PGRES_TUPLES_OK) {
        PQclear(r);
        PQclear(total);
        return adb_http_send_unavailable(req);
    }
    json_t *reports = json_array();
    int n = PQntuples(r);
    bool more = n > limit;
    for (int i = 0; i < n && i < limit; i++)
        json_array_append_new(
            reports, json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s}", "id", PQgetvalue(r, i, 0),
                               "type", PQgetvalue(r, i, 1), "name", PQgetvalue(r, i, 2),
                               "generatedAt", PQgetvalue(r, i, 3), "status",
                               client_status(PQgetvalue(r, i, 4)), "size",
                               (json_int_t)strtoll(PQgetvalue(r, i, 5), NULL, 10), "format",
                               PQgetvalue(r, i, 6)));
    long long tot = strtoll(PQgetvalue(total, 0, 0), NULL, 10);
    PQclear(r);
    PQclear(total);
    return adb_http_send_json(
        req, MHD_HTTP_OK,
        json_pack("{s:o, s:{s:I, s:I, s:I, s:b, s:b}}", "reports", reports, "pagination",
                  "total", (json_int_t)tot, "limit", (json_int_t)limit, "offset",
                  (json_int_t)offset, "hasNext", more, "hasPrevious", offset > 0));
}
