/*
 * archives.c - the archives API: the caller's organization's archives
 * (GET /api/v1/archives) and the events of one archive, read back from its
 * zstd JSON Lines (GET /api/v1/archives/{id}/events). Reads run as the
 * tenant (auditdb_app, row-level security on archive_storage); an archive
 * that fails its checksums answers 500 ARCHIVE_CORRUPT and no event, a stub
 * 410 ARCHIVE_DELETED. Every value goes through parameters.
 */
#include "http.h"
#include "event_json.h"
#include "jw.h"
#include "../core/util.h"
#include "../event/json.h"
#include "../lifecycle/archive.h"

#include <stdlib.h>
#include <string.h>

#define LIST_DEFAULT 50
#define LIST_MAX 1000
#define OFFSET_MAX 100000
#define ARCHIVE_ID_MAX 255

/* Timestamps as the event routes print them. */
#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
/* A metadata member (a '{a,b}' path) as text when it has the expected JSON
 * type, else NULL: a stray value cannot make a wrongly typed answer. */
#define META_NUM(path)                                                                   \
    "CASE WHEN jsonb_typeof(metadata #> '{" path "}') = 'number'"                        \
    " THEN metadata #>> '{" path "}' END"
#define META_STR(path)                                                                   \
    "CASE WHEN jsonb_typeof(metadata #> '{" path "}') = 'string'"                        \
    " THEN metadata #>> '{" path "}' END"

/* The columns an archive object is written from, in this order. */
#define ARCHIVE_COLUMNS                                                                  \
    "id, organization_id, " TS("created_at") ", "                                        \
    META_NUM("recordCount") ", " META_NUM("originalSize") ", "                           \
    META_NUM("compressedSize") ", " META_NUM("compressionRatio") ", "                    \
    META_STR("checksums,originalSha256") ", " META_STR("checksums,compressedSha256") ", " \
    META_STR("retentionPolicy") ", " META_STR("dataClassification") ", "                 \
    META_STR("dateRange,start") ", " META_STR("dateRange,end") ", "                      \
    META_NUM("chain,firstSeq") ", " META_NUM("chain,lastSeq") ", "                       \
    META_STR("chain,firstPrevChainHash") ", " META_STR("chain,lastChainHash") ", "       \
    "retrieved_count, " TS("last_retrieved_at") ", (deleted_at IS NOT NULL)::text, "     \
    TS("deleted_at")

enum { A_ID, A_ORG, A_CREATED, A_RECORDS, A_ORIG_SIZE, A_COMP_SIZE, A_RATIO, A_SUM_ORIG,
       A_SUM_COMP, A_POLICY, A_CLASS, A_START, A_END, A_FIRST_SEQ, A_LAST_SEQ, A_FIRST_PREV,
       A_LAST_CHAIN, A_RETRIEVED, A_LAST_RETRIEVED, A_DELETED, A_DELETED_AT };

static const char *val(PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

static enum MHD_Result send_jw(adb_http_request *req, unsigned status, jw *w)
{
    size_t len;
    char *text = jw_take(w, &len);
    if (!text)
        return MHD_NO;
    return adb_http_send_text(req, status, text, len, "application/json");
}

static enum MHD_Result db_unavailable(adb_http_request *req)
{
    return adb_http_send_retry(req, MHD_HTTP_SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE",
                               "the database is unavailable: retry later", 1000);
}

/* 400 VALIDATION_ERROR naming one query or path parameter. */
static enum MHD_Result validation_error(adb_http_request *req, const char *field, const char *code,
                                        const char *message)
{
    return adb_http_send_error(req, MHD_HTTP_BAD_REQUEST, "VALIDATION_ERROR", message,
                               json_pack("{s:[{s:s, s:s, s:s}]}", "errors", "code", code, "field",
                                         field, "message", message));
}

/* limit and offset as the events list takes them; false after queuing the
 * 400 into *r. */
static bool page_args(adb_http_request *req, long long *limit, long long *offset,
                      enum MHD_Result *r)
{
    const char *a;

    *limit = LIST_DEFAULT;
    *offset = 0;
    if ((a = adb_http_arg(req, "limit")) && !adb__parse_int(a, 1, LIST_MAX, limit)) {
        *r = validation_error(req, "limit", "INVALID_VALUE",
                              "limit must be an integer from 1 to 1000");
        return false;
    }
    if ((a = adb_http_arg(req, "offset")) && !adb__parse_int(a, 0, OFFSET_MAX, offset)) {
        *r = validation_error(req, "offset", "INVALID_VALUE",
                              "offset must be an integer from 0 to 100000");
        return false;
    }
    return true;
}

/* The pagination object of both routes (the events list's shape; archives
 * are counted exactly and have no keyset cursor). */
static void write_pagination(jw *w, long long total, long long limit, long long offset,
                             bool has_next)
{
    jw_key(w, "pagination");
    jw_obj(w);
    jw_kint(w, "total", total);
    jw_kbool(w, "totalExact", true);
    jw_kint(w, "limit", limit);
    jw_kint(w, "offset", offset);
    jw_kbool(w, "hasNext", has_next);
    jw_kbool(w, "hasPrevious", offset > 0);
    jw_end_obj(w);
}

/* ---- GET /api/v1/archives ----------------------------------------------- */

/* Writes one archive object from row of r: the metadata under the API's flat
 * names; a value the archive does not have is left out, never null. */
static void write_archive(jw *w, PGresult *r, int row)
{
    static const struct { const char *name; int col; bool number; } flat[] = {
        { "recordCount", A_RECORDS, true }, { "originalSize", A_ORIG_SIZE, true },
        { "compressedSize", A_COMP_SIZE, true }, { "compressionRatio", A_RATIO, true },
        { "checksumOriginal", A_SUM_ORIG, false }, { "checksumCompressed", A_SUM_COMP, false },
    };

    jw_obj(w);
    jw_kstr(w, "id", PQgetvalue(r, row, A_ID));
    jw_kstr(w, "organizationId", PQgetvalue(r, row, A_ORG));
    jw_kstr(w, "createdAt", PQgetvalue(r, row, A_CREATED));
    for (size_t i = 0; i < sizeof(flat) / sizeof(flat[0]); i++) {
        const char *v = val(r, row, flat[i].col);
        if (!v)
            continue;
        jw_key(w, flat[i].name);
        if (flat[i].number)
            jw_raw(w, v); /* jsonb's own number text: 0.0822 stays 0.0822 */
        else
            jw_str(w, v);
    }
    /* every archive auditdb writes is one zstd frame of JSON Lines (docs/archive.md) */
    jw_kstr(w, "compressionAlgorithm", "zstd");
    jw_kstr(w, "format", "jsonl");
    if (val(r, row, A_POLICY))
        jw_kstr(w, "retentionPolicy", val(r, row, A_POLICY));
    if (val(r, row, A_CLASS))
        jw_kstr(w, "dataClassification", val(r, row, A_CLASS));
    if (val(r, row, A_START) && val(r, row, A_END)) {
        jw_key(w, "dateRange");
        jw_obj(w);
        jw_kstr(w, "start", val(r, row, A_START));
        jw_kstr(w, "end", val(r, row, A_END));
        jw_end_obj(w);
    }
    if (val(r, row, A_FIRST_SEQ) && val(r, row, A_LAST_SEQ) && val(r, row, A_FIRST_PREV) &&
        val(r, row, A_LAST_CHAIN)) {
        jw_key(w, "chainRange");
        jw_obj(w);
        jw_key(w, "firstSeq");
        jw_raw(w, val(r, row, A_FIRST_SEQ));
        jw_key(w, "lastSeq");
        jw_raw(w, val(r, row, A_LAST_SEQ));
        jw_kstr(w, "firstPrevChainHash", val(r, row, A_FIRST_PREV));
        jw_kstr(w, "lastChainHash", val(r, row, A_LAST_CHAIN));
        jw_end_obj(w);
    }
    jw_kint(w, "retrievedCount", strtoll(PQgetvalue(r, row, A_RETRIEVED), NULL, 10));
    if (val(r, row, A_LAST_RETRIEVED))
        jw_kstr(w, "lastRetrievedAt", val(r, row, A_LAST_RETRIEVED));
    jw_kbool(w, "deleted", !strcmp(PQgetvalue(r, row, A_DELETED), "true"));
    if (val(r, row, A_DELETED_AT))
        jw_kstr(w, "deletedAt", val(r, row, A_DELETED_AT));
    jw_end_obj(w);
}

enum MHD_Result adb_http_archives_list(adb_http_request *req)
{
    long long limit, offset;
    enum MHD_Result r;
    char lim[24], off[24];
    adb_status st;
    PGresult *cr = NULL, *pr;

    if (!page_args(req, &limit, &offset, &r))
        return r;
    adb__fmt(lim, sizeof(lim), "%lld", limit + 1); /* one more: is there a next page? */
    adb__fmt(off, sizeof(off), "%lld", offset);
    const char *p[] = { req->who.organization_id, lim, off };
    /* newest first; archives of one round share created_at: the later chain
     * positions first, then the id, so pages never overlap */
    pr = adb_tenant_query(req->state->db, req->who.organization_id,
                          "SELECT " ARCHIVE_COLUMNS " FROM archive_storage"
                          " WHERE organization_id = $1"
                          " ORDER BY created_at DESC, first_seq DESC, id DESC"
                          " LIMIT $2::bigint OFFSET $3::bigint",
                          3, p, ADB_PLAN_AUTO,
                          "SELECT count(*) FROM archive_storage WHERE organization_id = $1", 1, &cr,
                          &st);
    if (!pr || PQresultStatus(pr) != PGRES_TUPLES_OK || !cr ||
        PQresultStatus(cr) != PGRES_TUPLES_OK || PQntuples(cr) != 1) {
        PQclear(pr);
        PQclear(cr);
        return db_unavailable(req);
    }
    long long total = strtoll(PQgetvalue(cr, 0, 0), NULL, 10);
    PQclear(cr);
    int rows = PQntuples(pr);
    bool has_next = rows > limit;
    if (has_next)
        rows = (int)limit;
    jw w;
    jw_init(&w);
    jw_obj(&w);
    jw_key(&w, "archives");
    jw_arr(&w);
    for (int i = 0; i < rows; i++)
        write_archive(&w, pr, i);
    jw_end_arr(&w);
    PQclear(pr);
    write_pagination(&w, total, limit, offset, has_next);
    jw_end_obj(&w);
    return send_jw(req, MHD_HTTP_OK, &w);
}

/* ---- GET /api/v1/archives/{id}/events ----------------------------------- */

/* The text of member key of the JSON object text[0..len) (valid JSON, as
 * jsonb prints it), so that it is sent exactly as the live event routes send
 * (details -> key)::text. false when absent. */
static bool member_text(const char *text, size_t len, const char *key, const char **v,
                        size_t *vlen)
{
    const char *end = text + len, *p = adb__json_skip_ws(text, end);
    size_t klen = strlen(key);

    if (p >= end || *p != '{')
        return false;
    p = adb__json_skip_ws(p + 1, end);
    while (p < end && *p == '"') {
        const char *ks = p + 1, *ke;
        if (!(p = adb__json_skip_string(p, end)))
            return false;
        ke = p - 1;
        p = adb__json_skip_ws(p, end);
        if (p >= end || *p != ':')
            return false;
        p = adb__json_skip_ws(p + 1, end);
        const char *vs = p;
        if (!(p = adb__json_skip_value(p, end)))
            return false;
        if ((size_t)(ke - ks) == klen && !memcmp(ks, key, klen)) {
            *v = vs;
            *vlen = (size_t)(p - vs);
            return true;
        }
        p = adb__json_skip_ws(p, end);
        if (p >= end || *p != ',')
            return false;
        p = adb__json_skip_ws(p + 1, end);
    }
    return false;
}

/* Writes one archived row (v: adb__row_col order) as the event object of
 * GET /api/v1/audit/events/{id} (event_json.c), with archivedAt. false when its details are not a
 * JSON object (the caller answers ARCHIVE_CORRUPT) or out of memory. */
static bool write_archived_event(jw *w, const char *const v[ADB__ROW_NCOLS],
                                 const char *archived_at)
{
    const char *details = v[ADB_COL_DETAILS], *sc = NULL;
    char *session = NULL;
    size_t sclen = 0;

    if (!v[ADB_COL_EVENT_ID])
        return false;
    if (details) {
        /* the details are sent as they are: they must be one JSON object */
        adb_json_error je;
        adb_json_doc *doc = adb__json_parse(details, strlen(details), NULL, &je);
        bool object = doc && adb__json_root(doc)->type == ADB_JSON_OBJECT;
        bool has_sc = object && adb__json_get(adb__json_root(doc), "sessionContext");
        adb__json_free(doc);
        if (!object)
            return false;
        if (has_sc && (!member_text(details, strlen(details), "sessionContext", &sc, &sclen) ||
                       !(session = strndup(sc, sclen))))
            return false;
    }
    adb_http_event e = {
        .id = v[ADB_COL_EVENT_ID], .timestamp = v[ADB_COL_TIMESTAMP], .action = v[ADB_COL_ACTION],
        .status = v[ADB_COL_STATUS], .principal_id = v[ADB_COL_PRINCIPAL_ID],
        .organization_id = v[ADB_COL_ORGANIZATION_ID],
        .target_resource_type = v[ADB_COL_TARGET_RESOURCE_TYPE],
        .target_resource_id = v[ADB_COL_TARGET_RESOURCE_ID],
        .outcome_description = v[ADB_COL_OUTCOME_DESCRIPTION],
        .correlation_id = v[ADB_COL_CORRELATION_ID],
        .data_classification = v[ADB_COL_DATA_CLASSIFICATION],
        .retention_policy = v[ADB_COL_RETENTION_POLICY], .event_version = v[ADB_COL_EVENT_VERSION],
        .hash_algorithm = v[ADB_COL_HASH_ALGORITHM], .hash = v[ADB_COL_HASH],
        .signature = v[ADB_COL_SIGNATURE], .ttl = v[ADB_COL_TTL], .archived_at = archived_at,
        .details = details, .session_context = session,
        .chain_seq = v[ADB_COL_CHAIN_SEQ], /* checked by the reader */
        .prev_chain_hash = v[ADB_COL_PREV_CHAIN_HASH], .chain_hash = v[ADB_COL_CHAIN_HASH],
        .commit_key = v[ADB_COL_COMMIT_KEY],
    };
    adb_http_write_event(w, &e);
    free(session);
    return true;
}

static enum MHD_Result not_found(adb_http_request *req, const char *id)
{
    return adb_http_send_error(req, MHD_HTTP_NOT_FOUND, "NOT_FOUND", "no such archive",
                               json_pack("{s:s}", "id", id));
}

/* An archive that exists in another organization: answered 404 like a
 * missing one, but recorded as a cross-tenant probe (as events.c does). */
static void note_probe(adb_http_request *req, const char *id)
{
    adb_status st;
    PGconn *c = adb_pool_acquire(req->state->pool, &st, NULL, 0);
    const char *p[] = { id, req->who.organization_id };

    if (!c)
        return;
    PGresult *r = PQexecParams(c, "SELECT 1 FROM archive_storage WHERE id = $1"
                                  " AND organization_id IS DISTINCT FROM $2",
                               2, NULL, p, NULL, NULL, 0);
    bool other = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0;
    PQclear(r);
    adb_pool_release(req->state->pool, c);
    if (other)
        adb_http_security_event(req, "cross_tenant_probe", "MEDIUM",
                                "asked for an archive of another organization");
}

/* 500 ARCHIVE_CORRUPT: the archive failed its checks; recorded as a security
 * event, since an archive changes only by tampering or by damage. */
static enum MHD_Result corrupt(adb_http_request *req, const char *id, const char *why)
{
    char desc[400];
    adb__fmt(desc, sizeof(desc),
             "archive %.255s failed its integrity checks when read through the API", id);
    adb_http_security_event(req, "archive_integrity_failure", "HIGH", desc);
    return adb_http_send_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "ARCHIVE_CORRUPT",
                               "the archive failed its integrity checks: no event is served from it",
                               json_pack("{s:s, s:s}", "id", id, "reason", why));
}

enum MHD_Result adb_http_archives_events(adb_http_request *req)
{
    const char *id = req->param[0];
    long long limit, offset;
    enum MHD_Result r;
    char err[ADB_ERRMSG_MAX], created[40], deleted_at[40];
    adb_status st;
    PGconn *c;
    PGresult *pr;
    bool stub;
    adb__archive_reader *rd;

    if (!id || !*id || strlen(id) > ARCHIVE_ID_MAX)
        return validation_error(req, "id", "INVALID_FORMAT", "id must be 1 to 255 characters");
    if (!page_args(req, &limit, &offset, &r))
        return r;

    /* as the tenant: an archive of another organization is not there */
    if (!(c = adb_tenant_begin(req->state->db, req->who.organization_id, &st, NULL, 0)))
        return db_unavailable(req);
    const char *p[] = { id, req->who.organization_id };
    pr = PQexecParams(c, "SELECT " TS("created_at") ", (deleted_at IS NOT NULL)::text, "
                         TS("deleted_at") " FROM archive_storage"
                         " WHERE id = $1 AND organization_id = $2",
                      2, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(pr) != PGRES_TUPLES_OK) {
        PQclear(pr);
        adb_tenant_end(req->state->db, c, false);
        return db_unavailable(req);
    }
    if (PQntuples(pr) == 0) {
        PQclear(pr);
        adb_tenant_end(req->state->db, c, false);
        note_probe(req, id);
        return not_found(req, id);
    }
    adb__fmt(created, sizeof(created), "%s", PQgetvalue(pr, 0, 0));
    stub = !strcmp(PQgetvalue(pr, 0, 1), "true");
    adb__fmt(deleted_at, sizeof(deleted_at), "%s", PQgetvalue(pr, 0, 2));
    PQclear(pr);
    if (stub) {
        adb_tenant_end(req->state->db, c, false);
        return adb_http_send_error(req, MHD_HTTP_GONE, "ARCHIVE_DELETED",
                                   "the archive's events passed their retention and were deleted: "
                                   "only their chain positions are kept",
                                   json_pack("{s:s, s:s}", "id", id, "deletedAt", deleted_at));
    }
    rd = adb__archive_open_ex(c, id, false, &st, err, sizeof(err));
    /* the reader holds the row: the connection goes back before the reading */
    adb_tenant_end(req->state->db, c, true);
    if (!rd) {
        if (st == ADB_ERR_NOT_FOUND) /* restored or gone since the first look */
            return not_found(req, id);
        if (st == ADB_ERR_INVALID)
            return corrupt(req, id, err);
        if (st == ADB_ERR_NOMEM)
            return adb_http_send_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "INTERNAL_SERVER_ERROR",
                                       "out of memory", NULL);
        return db_unavailable(req);
    }
    if (adb__archive_reader_info(rd)->stub) { /* replaced by its stub since the first look */
        adb__archive_close(rd);
        return adb_http_send_error(req, MHD_HTTP_GONE, "ARCHIVE_DELETED",
                                   "the archive's events passed their retention and were deleted: "
                                   "only their chain positions are kept",
                                   json_pack("{s:s}", "id", id));
    }

    /* Every row is read, so that the checks run to the end; only the page's
     * rows are written, and they are sent only once adb__archive_next()
     * returned 0: never a part of an archive that fails. */
    jw w;
    const char *v[ADB__ROW_NCOLS];
    char why[ADB_ERRMSG_MAX] = "";
    long long n = 0;
    int rc;
    jw_init(&w);
    jw_obj(&w);
    jw_kstr(&w, "archiveId", id);
    jw_key(&w, "events");
    jw_arr(&w);
    while ((rc = adb__archive_next(rd, v)) == 1) {
        if (n >= offset && n < offset + limit && !write_archived_event(&w, v, created)) {
            adb__fmt(why, sizeof(why), "archive %s: the row at chain position %s is not an event",
                     id, v[ADB_COL_CHAIN_SEQ]);
            rc = -1;
            break;
        }
        n++;
    }
    if (rc != 0) {
        if (!why[0])
            adb__fmt(why, sizeof(why), "%s", adb__archive_error(rd));
        adb__archive_close(rd);
        jw_free(&w);
        return corrupt(req, id, why);
    }
    adb__archive_close(rd);
    jw_end_arr(&w);
    write_pagination(&w, n, limit, offset, offset + limit < n);
    jw_end_obj(&w);

    /* a retrieval is counted before the events are sent; a page that could
     * not be counted is not sent (HEAD delivers no event: nothing to count) */
    if (!strcmp(req->method, "HEAD"))
        return send_jw(req, MHD_HTTP_OK, &w);
    pr = adb_tenant_query(req->state->db, req->who.organization_id,
                          "UPDATE archive_storage SET retrieved_count = retrieved_count + 1,"
                          " last_retrieved_at = now() WHERE id = $1 AND organization_id = $2",
                          2, p, ADB_PLAN_AUTO, NULL, 0, NULL, &st);
    if (!pr || PQresultStatus(pr) != PGRES_COMMAND_OK) {
        PQclear(pr);
        jw_free(&w);
        return db_unavailable(req);
    }
    PQclear(pr);
    return send_jw(req, MHD_HTTP_OK, &w);
}
