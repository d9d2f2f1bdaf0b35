/*
 * export.c - the export routes: POST /api/v1/audit/events/export queues a
 * job (export_worker.c writes it), and /exports/{id}/status, /download and
 * /cancel. Every statement runs as the tenant: another organization's
 * export answers exactly like a missing one (and is recorded as a probe).
 * Requests, downloads and cancels are recorded as security events
 * (audit_export_requested, audit_export_downloaded, audit_export_cancelled:
 * docs/exports.md).
 */
#include "http.h"
#include "event_filter.h"
#include "export_format.h"
#include "export_worker.h"
#include "pull.h"
#include "../core/util.h"
#include "../event/event.h"

#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT_ID_MAX 64
#define EXPORT_INLINE_WAIT_MS 1000 /* the POST waits this long for a small export */
#define EXPORT_COLUMNS                                                                          \
    "id, state, format, compression, record_count, data_size, chunk_count, checksum, error,"   \
    " estimated_count,"                                                                         \
    " to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"            \
    " to_char(finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"           \
    " to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"            \
    " cancel_requested"
enum { X_ID, X_STATE, X_FORMAT, X_COMP, X_RECORDS, X_SIZE, X_CHUNKS, X_SUM, X_ERROR, X_EST,
       X_CREATED, X_FINISHED, X_EXPIRES, X_CANCEL };

/* One statement as the tenant; NULL when the database failed. */
static PGresult *tenant(adb_http_request *req, const char *sql, int n, const char *const *p)
{
    adb_status st;
    PGresult *r = adb_tenant_query(req->state->db, req->who.organization_id, sql, n, p,
                                   ADB_PLAN_AUTO, NULL, 0, NULL, &st);
    if (r && PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        return NULL;
    }
    return r;
}

static const char *col(PGresult *r, int c)
{
    return PQgetisnull(r, 0, c) ? NULL : PQgetvalue(r, 0, c);
}

/* The client's status of a stored state: its four, with a cancelled or
 * expired export a failed one that says so (docs/exports.md). */
static const char *client_status(const char *state)
{
    if (!strcmp(state, "cancelled") || !strcmp(state, "expired"))
        return "failed";
    return state;
}

/* The export object: the client's ExportResult and status members in one. */
static json_t *export_json(PGresult *r)
{
    const char *state = col(r, X_STATE);
    long long records = strtoll(col(r, X_RECORDS), NULL, 10);
    long long est = col(r, X_EST) ? strtoll(col(r, X_EST), NULL, 10) : 0;
    bool completed = !strcmp(state, "completed");
    double progress = completed ? 100 : !strcmp(state, "processing") && est > 0
                          ? (records >= est ? 99 : 99.0 * (double)records / (double)est) : 0;
    char links[3][160];
    const char *id = col(r, X_ID);
    int chunks = (int)strtol(col(r, X_CHUNKS), NULL, 10);

    adb__fmt(links[0], sizeof(links[0]), "/api/v1/audit/events/exports/%s/status", id);
    adb__fmt(links[1], sizeof(links[1]), "/api/v1/audit/events/exports/%s/download", id);
    adb__fmt(links[2], sizeof(links[2]), "/api/v1/audit/events/exports/%s/cancel", id);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:f, s:{s:s, s:b, s:i}, s:{s:s, s:s, s:s}}",
                          "id", id, "exportId", id, "format", col(r, X_FORMAT), "status",
                          client_status(state), "recordCount", (json_int_t)records, "dataSize",
                          (json_int_t)strtoll(col(r, X_SIZE), NULL, 10), "exportTimestamp",
                          col(r, X_CREATED), "progress", progress, "metadata", "compression",
                          col(r, X_COMP), "encryption", 0, "chunks",
                          chunks > 0 ? chunks : 1, "links",
                          "status", links[0], "download", links[1], "cancel", links[2]);
    if (!o)
        return NULL;
    json_object_set_new(o, "state", json_string(state));
    json_object_set_new(o, "createdAt", json_string(col(r, X_CREATED)));
    if (col(r, X_SUM)) {
        json_object_set_new(json_object_get(o, "metadata"), "checksum", json_string(col(r, X_SUM)));
        json_object_set_new(o, "checksum", json_string(col(r, X_SUM)));
    }
    if (est > 0)
        json_object_set_new(json_object_get(o, "metadata"), "estimatedRecords", json_integer(est));
    if (col(r, X_FINISHED))
        json_object_set_new(o, completed ? "completedAt" : "finishedAt", json_string(col(r, X_FINISHED)));
    if (col(r, X_EXPIRES))
        json_object_set_new(o, "expiresAt", json_string(col(r, X_EXPIRES)));
    if (!strcmp(state, "cancelled"))
        json_object_set_new(o, "cancelled", json_true());
    if (col(r, X_CANCEL)[0] == 't')
        json_object_set_new(o, "cancelRequested", json_true());
    if (col(r, X_ERROR))
        json_object_set_new(o, "error", json_string(col(r, X_ERROR)));
    else if (!strcmp(state, "expired"))
        json_object_set_new(o, "error", json_string("the export expired: its file was deleted"));
    return o;
}

/* ---- POST /api/v1/audit/events/export ------------------------------------- */

/* A random export id: export-<UUID v4>. */
static bool new_id(char out[EXPORT_ID_MAX])
{
    unsigned char b[16];
    char hex[33];

    if (RAND_bytes(b, sizeof(b)) != 1)
        return false;
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    adb__hex(b, 16, hex);
    adb__fmt(out, EXPORT_ID_MAX, "export-%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12,
             hex + 16, hex + 20);
    return true;
}

/* The planner's estimate of the rows f matches, for progress; 0 without one. */
static long long estimate(adb_http_request *req, const adb_http_filter *f)
{
    adb_http_sql q = { .n = 0 };
    PGresult *er = NULL;
    adb_status st;
    long long n = 0;

    adb__buf_puts(&q.text, "EXPLAIN (FORMAT JSON) SELECT 1 FROM audit_log WHERE organization_id = $1");
    adb_http_sql_param(&q, req->who.organization_id);
    adb_http_filter_where(f, &q);
    PGresult *r = q.text.oom ? NULL
                             : adb_tenant_query(req->state->db, req->who.organization_id, "SELECT 1", 0,
                                                (const char *const *)q.param, ADB_PLAN_CUSTOM,
                                                q.text.p, q.n, &er, &st);
    if (er && PQresultStatus(er) == PGRES_TUPLES_OK) {
        const char *rows = strstr(PQgetvalue(er, 0, 0), "\"Plan Rows\": ");
        if (rows)
            n = strtoll(rows + 13, NULL, 10);
    }
    PQclear(er);
    PQclear(r);
    adb_http_sql_free(&q);
    return n;
}

enum MHD_Result adb_http_exports_create(adb_http_request *req)
{
    static const char *const known[] = { "format", "filter", "includeMetadata", "compression",
                                         "encryption", "chunkSize", "includeHeaders",
                                         "customFields", NULL };
    enum MHD_Result res = MHD_NO;
    adb_http_filter f;
    adb_http_filter_error fe;
    bool metadata, headers;
    json_t *v, *fields = NULL;
    char msg[200];

    adb_http_filter_init(&f);
    json_t *body = adb_http_body_object(
        req, known, "the body must be a JSON object: {\"format\":\"json\"|\"csv\"|\"xml\", ...}", &res);
    if (!body)
        return res;
    const char *format = json_string_value(json_object_get(body, "format"));
    adb_http_fmt_kind kind;
    if (!format) {
        res = adb_http_send_invalid(req, "format", "REQUIRED", "format is required: json, csv or xml");
        goto out;
    }
    if (!adb_http_fmt_parse(format, &kind) || kind == ADB_FMT_NDJSON) {
        bool other = !strcmp(format, "pdf") || !strcmp(format, "parquet") || !strcmp(format, "avro");
        res = adb_http_send_invalid(req, "format", other ? "UNSUPPORTED_FORMAT" : "INVALID_VALUE",
                      "format must be json, csv or xml (pdf, parquet and avro are not written by this server)");
        goto out;
    }
    v = json_object_get(body, "compression");
    const char *comp = v ? json_string_value(v) : "gzip";
    if (!comp || (strcmp(comp, "gzip") && strcmp(comp, "none"))) {
        bool other = comp && (!strcmp(comp, "zip") || !strcmp(comp, "bzip2"));
        res = adb_http_send_invalid(req, "compression", other ? "UNSUPPORTED_COMPRESSION" : "INVALID_VALUE",
                      "compression must be gzip or none (zip and bzip2 are not written by this server)");
        goto out;
    }
    v = json_object_get(body, "encryption");
    if (v && (!json_is_object(v) || !json_is_boolean(json_object_get(v, "enabled")))) {
        res = adb_http_send_invalid(req, "encryption.enabled", "INVALID_TYPE", "encryption must be {\"enabled\": boolean}");
        goto out;
    }
    if (v && json_is_true(json_object_get(v, "enabled"))) {
        res = adb_http_send_invalid(req, "encryption.enabled", "UNSUPPORTED_ENCRYPTION",
                      "encrypted exports are not written by this server: download over TLS");
        goto out;
    }
    v = json_object_get(body, "chunkSize");
    if (v && (!json_is_integer(v) || json_integer_value(v) < 100 || json_integer_value(v) > 100000)) {
        res = adb_http_send_invalid(req, "chunkSize", "INVALID_VALUE", "chunkSize must be an integer from 100 to 100000");
        goto out;
    }
    if (!adb_http_member_bool(req, body, "includeMetadata", true, &metadata, &res) ||
        !adb_http_member_bool(req, body, "includeHeaders", true, &headers, &res))
        goto out;
    if ((v = json_object_get(body, "customFields"))) {
        const char *bad = NULL;
        if (!json_is_array(v) || !(fields = adb_http_fmt_fields(v, &bad))) {
            adb__fmt(msg, sizeof(msg), "customFields must name event members this server writes%s%.64s%s",
                     bad ? " (not \"" : "", bad ? bad : "", bad ? "\")" : "");
            adb__utf8_repair(msg);
            res = adb_http_send_invalid(req, "customFields", "INVALID_VALUE", msg);
            goto out;
        }
    }
    if (!adb_http_filter_from_json(&f, json_object_get(body, "filter"), "filter",
                                   req->who.organization_id, &fe)) {
        res = adb_http_filter_refused(req, &fe);
        goto out;
    }

    char id[EXPORT_ID_MAX], est[24];
    if (!new_id(id)) {
        res = adb_http_send_unavailable(req);
        goto out;
    }
    adb__fmt(est, sizeof(est), "%lld", estimate(req, &f));
    json_t *opts = json_pack("{s:b, s:b}", "includeMetadata", metadata, "includeHeaders", headers);
    if (fields)
        json_object_set(opts, "customFields", fields);
    if (json_object_get(body, "chunkSize"))
        json_object_set(opts, "chunkSize", json_object_get(body, "chunkSize"));
    json_t *fj = adb_http_filter_to_json(&f);
    char *opts_text = json_dumps(opts, JSON_COMPACT), *filter_text = json_dumps(fj, JSON_COMPACT);
    json_decref(opts);
    json_decref(fj);
    const char *p[] = { id, req->who.organization_id, req->who.key_id, req->request_id, format, comp,
                        opts_text, filter_text, est };
    PGresult *r = opts_text && filter_text
                      ? tenant(req, "INSERT INTO audit_export (id, organization_id, requested_by,"
                                    " request_id, format, compression, options, filter, estimated_count)"
                                    " VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb, $9::bigint)"
                                    " RETURNING " EXPORT_COLUMNS, 9, p)
                      : NULL;
    free(opts_text);
    free(filter_text);
    if (!r || PQntuples(r) != 1) {
        PQclear(r);
        res = adb_http_send_unavailable(req);
        goto out;
    }
    adb_http_exports_wake(req->state->exports);
    adb__fmt(msg, sizeof(msg), "export %s requested: %s, %s", id, format, comp);
    adb_http_security_event(req, "audit_export_requested", "LOW", msg);
    /* a small export is written in well under a second: answered completed,
     * so that a client may download at once; a larger one is answered
     * pending and runs on (docs/exports.md) */
    unsigned status = MHD_HTTP_ACCEPTED;
    (void)adb_http_exports_wait(req->state->exports, id, EXPORT_INLINE_WAIT_MS);
    {   /* read again whatever the wait says: the job may have ended before it began */
        const char *ip[] = { id };
        PGresult *done = tenant(req, "SELECT " EXPORT_COLUMNS " FROM audit_export WHERE id = $1", 1, ip);
        if (done && PQntuples(done) == 1 && !strcmp(col(done, X_STATE), "completed")) {
            PQclear(r);
            r = done;
            status = MHD_HTTP_OK;
        } else {
            PQclear(done);
        }
    }
    json_t *answer = export_json(r);
    PQclear(r);
    res = adb_http_send_json(req, status, answer);
out:
    json_decref(fields);
    json_decref(body);
    adb_http_filter_free(&f);
    return res;
}

/* ---- the job's own routes ------------------------------------------------- */

/* The caller's export named by the path, or NULL with the answer queued
 * (404 for a malformed, missing or another organization's id). */
static PGresult *find(adb_http_request *req, enum MHD_Result *res)
{
    const char *id = req->param[0];
    bool shaped = id && strlen(id) < EXPORT_ID_MAX && !strncmp(id, "export-", 7);
    PGresult *r = NULL;

    if (shaped) {
        const char *p[] = { id };
        if (!(r = tenant(req, "SELECT " EXPORT_COLUMNS " FROM audit_export WHERE id = $1", 1, p))) {
            *res = adb_http_send_unavailable(req);
            return NULL;
        }
        if (PQntuples(r) == 1)
            return r;
        PQclear(r);
        /* another organization's: answered as missing, recorded as a probe */
        adb_status st;
        PGconn *c = adb_pool_acquire(req->state->pool, &st, NULL, 0);
        if (c) {
            const char *q[] = { id, req->who.organization_id };
            PGresult *o = PQexecParams(c, "SELECT 1 FROM audit_export WHERE id = $1 AND organization_id <> $2",
                                       2, NULL, q, NULL, NULL, 0);
            if (PQresultStatus(o) == PGRES_TUPLES_OK && PQntuples(o) > 0)
                adb_http_security_event(req, "cross_tenant_probe", "MEDIUM",
                                        "asked for an export of another organization");
            PQclear(o);
            adb_pool_release(req->state->pool, c);
        }
    }
    *res = adb_http_send_error(req, MHD_HTTP_NOT_FOUND, "NOT_FOUND", "no such export",
                               json_pack("{s:s}", "id", shaped ? id : ""));
    return NULL;
}

enum MHD_Result adb_http_exports_status(adb_http_request *req)
{
    enum MHD_Result res;
    PGresult *r = find(req, &res);

    if (!r)
        return res;
    json_t *o = export_json(r);
    PQclear(r);
    return adb_http_send_json(req, MHD_HTTP_OK, o);
}

/* Deletes a cancelled export's chunks (the owner's: the tenant may not
 * delete); on failure the worker's expiry removes them later. */
static void discard_file(adb_http_request *req, const char *id)
{
    adb_status st;
    PGconn *c = adb_pool_acquire(req->state->pool, &st, NULL, 0);
    if (!c)
        return;
    const char *p[] = { id, req->who.organization_id };
    PQclear(PQexecParams(c, "DELETE FROM audit_export_chunk WHERE export_id = $1 AND organization_id = $2"
                            " AND EXISTS (SELECT 1 FROM audit_export WHERE id = $1 AND state = 'cancelled')",
                         2, NULL, p, NULL, NULL, 0));
    adb_pool_release(req->state->pool, c);
}

enum MHD_Result adb_http_exports_cancel(adb_http_request *req)
{
    enum MHD_Result res;
    PGresult *r = find(req, &res);

    if (!r)
        return res;
    const char *state = col(r, X_STATE);
    if (!strcmp(state, "failed") || !strcmp(state, "expired") || !strcmp(state, "cancelled")) {
        /* nothing runs and no file is kept: cancelling again changes nothing */
        json_t *o = export_json(r);
        PQclear(r);
        return adb_http_send_json(req, MHD_HTTP_OK, o);
    }
    bool completed = !strcmp(state, "completed");
    const char *p[] = { req->param[0] };
    PQclear(r);
    /* a pending job ends at once, a running one at its next chunk (the
     * worker looks); a completed one's file is discarded now, before it
     * would expire (the ledger row stays) */
    r = tenant(req, "UPDATE audit_export SET cancel_requested = true,"
                    " state = CASE WHEN state IN ('pending', 'completed') THEN 'cancelled' ELSE state END,"
                    " error = CASE WHEN state = 'pending' THEN 'cancelled before it started'"
                    " WHEN state = 'completed' THEN 'cancelled after it completed: its file was discarded'"
                    " ELSE error END,"
                    " finished_at = CASE WHEN state = 'pending' THEN now() ELSE finished_at END"
                    " WHERE id = $1 RETURNING " EXPORT_COLUMNS, 1, p);
    if (!r || PQntuples(r) != 1) {
        PQclear(r);
        return adb_http_send_unavailable(req);
    }
    if (completed)
        discard_file(req, req->param[0]);
    char msg[128];
    adb__fmt(msg, sizeof(msg), "export %s cancelled", req->param[0]);
    adb_http_security_event(req, "audit_export_cancelled", "LOW", msg);
    json_t *o = export_json(r);
    bool running = !strcmp(col(r, X_STATE), "processing");
    PQclear(r);
    return adb_http_send_json(req, running ? MHD_HTTP_ACCEPTED : MHD_HTTP_OK, o);
}

/* The file's chunks, one a piece, read as the tenant. */
typedef struct download_src {
    adb *db;
    char org[256], id[EXPORT_ID_MAX];
    int next, chunks;
} download_src;

static int download_fill(void *ctx, adb__buf *out)
{
    download_src *d = ctx;
    char seq[16];
    adb_status st;

    if (d->next >= d->chunks)
        return 0;
    adb__fmt(seq, sizeof(seq), "%d", d->next);
    const char *p[] = { d->id, seq };
    PGresult *r = adb_tenant_query(d->db, d->org, "SELECT data FROM audit_export_chunk"
                                                  " WHERE export_id = $1 AND seq = $2::int",
                                   2, p, ADB_PLAN_GENERIC, NULL, 0, NULL, &st);
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        PQclear(r);
        return -1;
    }
    size_t n = 0;
    unsigned char *bytes = PQunescapeBytea((const unsigned char *)PQgetvalue(r, 0, 0), &n);
    PQclear(r);
    if (!bytes)
        return -1;
    adb__buf_put(out, bytes, n);
    PQfreemem(bytes);
    d->next++;
    return d->next < d->chunks ? 1 : 0;
}

enum MHD_Result adb_http_exports_download(adb_http_request *req)
{
    enum MHD_Result res;
    const char *want = adb_http_arg(req, "format");
    PGresult *r = find(req, &res);
    char msg[200];

    if (!r)
        return res;
    const char *state = col(r, X_STATE), *format = col(r, X_FORMAT);
    if (strcmp(state, "completed") != 0) {
        bool gone = !strcmp(state, "expired");
        bool ended = gone || !strcmp(state, "failed") || !strcmp(state, "cancelled");
        json_t *o = export_json(r);
        PQclear(r);
        return adb_http_send_error(req, gone ? MHD_HTTP_GONE : MHD_HTTP_CONFLICT,
                                   gone ? "EXPORT_EXPIRED" : ended ? "EXPORT_FAILED" : "EXPORT_NOT_READY",
                                   gone ? "the export expired: its file was deleted"
                                   : ended ? "the export did not complete: there is no file"
                                           : "the export is not written yet: ask its status",
                                   o);
    }
    /* Without format: the export's own. Another format is refused, not
     * converted: the file is written once, its checksum and size are the
     * ledger's, and it cannot be turned into another format exactly (CSV
     * cells are text with formula guards, XML replaces what it cannot
     * carry), while reading the events again would not be the export
     * (events written, archived or erased since). The 400 names the
     * export's format, for the client's downloadExport(id, format). */
    if (want && strcmp(want, format) != 0) {
        adb__fmt(msg, sizeof(msg), "this export was written as %s: ask for format=%s (or none), or export again",
                 format, format);
        json_t *details = json_pack("{s:[{s:s, s:s, s:s}], s:s}", "errors", "code", "FORMAT_MISMATCH",
                                    "field", "format", "message", msg, "exportFormat", format);
        PQclear(r);
        return adb_http_send_error(req, MHD_HTTP_BAD_REQUEST, "VALIDATION_ERROR", msg, details);
    }
    download_src *d = calloc(1, sizeof(*d));
    if (!d) {
        PQclear(r);
        return MHD_NO;
    }
    d->db = req->state->db;
    adb__fmt(d->org, sizeof(d->org), "%s", req->who.organization_id);
    adb__fmt(d->id, sizeof(d->id), "%s", col(r, X_ID));
    d->chunks = (int)strtol(col(r, X_CHUNKS), NULL, 10);
    bool gz = !strcmp(col(r, X_COMP), "gzip");
    adb_http_fmt_kind kind = ADB_FMT_JSON;
    adb_http_fmt_parse(format, &kind);
    char disposition[160];
    adb__fmt(disposition, sizeof(disposition), "attachment; filename=\"%s.%s%s\"", d->id, format,
             gz ? ".gz" : "");
    uint64_t size = (uint64_t)strtoll(col(r, X_SIZE), NULL, 10);
    if (col(r, X_SUM)) {
        req->extra_header[0] = "X-Checksum-SHA256";
        req->extra_value[0] = strdup(col(r, X_SUM));
    }
    adb__fmt(msg, sizeof(msg), "export %s downloaded", d->id);
    PQclear(r);
    req->resp_bytes = (size_t)size;
    int rc = adb_http_send_pull(req, MHD_HTTP_OK, size, gz ? "application/gzip" : adb_http_fmt_type(kind),
                                disposition, download_fill, d, free);
    if (rc < 0)
        return adb_http_pull_refused(req, rc);
    adb_http_security_event(req, "audit_export_downloaded", "LOW", msg);
    return MHD_YES;
}
