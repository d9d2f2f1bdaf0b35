/*
 * archive_reader.c - reading a stored archive (docs/archive.md): the zstd
 * frame is decompressed as the rows are read, so memory stays at one chunk
 * and one line whatever the archive's size; both checksums, the sizes, the
 * record count and the chain positions are compared with the metadata.
 */
#include "archive.h"
#include "../core/buf.h"
#include "../core/util.h"
#include "../event/json.h"

#include <inttypes.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#define MAX_PROBLEMS 32

struct adb__archive_reader {
    PGresult *res;                 /* the archive_storage row: metadata and payload */
    adb__archive_info info;
    bool lenient;
    /* decompression */
    ZSTD_DCtx *z;
    ZSTD_inBuffer in;
    unsigned char *chunk;
    size_t chunk_cap, chunk_pos, chunk_len;
    bool frame_done;
    /* what was read */
    EVP_MD_CTX *sha;
    long long size, rows;
    int64_t prev_seq;
    char prev_chain[65];
    adb__buf line;
    adb_json_doc *doc;
    bool ended, failed;
    bool raw;                      /* read by lines: rows not parsed */
    char derived_id[37];           /* the id of a row archived before ids existed */
    char err[ADB_ERRMSG_MAX];
    char *problems[MAX_PROBLEMS];
    size_t nproblems;
};

static void fail(adb__archive_reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(adb__archive_reader *r, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(r->err, sizeof(r->err), fmt, ap);
    va_end(ap);
    r->failed = true;
}

/* A check that failed: fatal for a strict reader, recorded by a lenient one.
 * Returns false when reading must stop. */
static bool problem(adb__archive_reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool problem(adb__archive_reader *r, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (!r->lenient) {
        fail(r, "archive %s: %s", r->info.id, msg);
        return false;
    }
    if (r->nproblems < MAX_PROBLEMS) {
        char *m = adb__strdup(msg);
        if (m)
            r->problems[r->nproblems++] = m;
    }
    return true;
}

/* ---- metadata ----------------------------------------------------------- */

static const adb_json *member(const adb_json *o, const char *path1, const char *path2)
{
    const adb_json *v = adb__json_get(o, path1);
    return path2 ? adb__json_get(v, path2) : v;
}

static bool meta_int(const adb_json *o, const char *a, const char *b, long long *out)
{
    const adb_json *v = member(o, a, b);
    return v && v->type == ADB_JSON_NUMBER && adb__parse_int(v->str, 0, INT64_MAX, out);
}

static bool meta_str(const adb_json *o, const char *a, const char *b, char *out, size_t len,
                     bool nullable, bool *present)
{
    const adb_json *v = member(o, a, b);

    if (present)
        *present = v && v->type == ADB_JSON_STRING;
    if (v && v->type == ADB_JSON_STRING)
        return adb__fmt(out, len, "%s", v->str);
    out[0] = '\0';
    return nullable && v && v->type == ADB_JSON_NULL;
}

/* Reads what the reader needs from the metadata; false with the reason. */
static bool read_metadata(adb__archive_reader *r, const char *text)
{
    adb__archive_info *in = &r->info;
    adb_json_error je;
    adb_json_doc *doc = adb__json_parse(text, strlen(text), NULL, &je);
    const adb_json *m = doc ? adb__json_root(doc) : NULL;
    char format[64], compression[32];
    long long first, last;
    const char *bad = NULL;

    if (!m || m->type != ADB_JSON_OBJECT) {
        fail(r, "archive %s: metadata is not a JSON object%s%s", in->id, doc ? "" : ": ",
             doc ? "" : je.message);
        adb__json_free(doc);
        return false;
    }
    const adb_json *del = adb__json_get(m, "deleted");
    if (!meta_str(m, "format", NULL, format, sizeof(format), false, NULL))
        bad = "format";
    else if (strcmp(format, ADB__ARCHIVE_FORMAT) != 0) {
        fail(r, "archive %s has format \"%s\", not " ADB__ARCHIVE_FORMAT, in->id, format);
        adb__json_free(doc);
        return false;
    } else if (!meta_str(m, "compression", NULL, compression, sizeof(compression), false, NULL) ||
               strcmp(compression, "zstd") != 0)
        bad = "compression (zstd)";
    else if (!meta_str(m, "organizationId", NULL, in->organization_id, sizeof(in->organization_id),
                       false, NULL))
        bad = "organizationId";
    else if (!meta_int(m, "recordCount", NULL, &in->record_count))
        bad = "recordCount";
    else if (!meta_int(m, "originalSize", NULL, &in->original_size))
        bad = "originalSize";
    else if (!meta_int(m, "compressedSize", NULL, &in->compressed_size))
        bad = "compressedSize";
    else if (!meta_str(m, "checksums", "originalSha256", in->original_sha, sizeof(in->original_sha),
                       false, NULL))
        bad = "checksums.originalSha256";
    else if (!meta_str(m, "checksums", "compressedSha256", in->compressed_sha,
                       sizeof(in->compressed_sha), false, NULL))
        bad = "checksums.compressedSha256";
    else if (!meta_int(m, "chain", "firstSeq", &first) || !meta_int(m, "chain", "lastSeq", &last))
        bad = "chain.firstSeq and chain.lastSeq";
    else if (!meta_str(m, "chain", "firstPrevChainHash", in->first_prev, sizeof(in->first_prev),
                       false, NULL) ||
             !meta_str(m, "chain", "lastChainHash", in->last_chain, sizeof(in->last_chain), false,
                       NULL))
        bad = "chain.firstPrevChainHash and chain.lastChainHash";
    else if (!meta_str(m, "dateRange", "start", in->date_start, sizeof(in->date_start), false, NULL) ||
             !meta_str(m, "dateRange", "end", in->date_end, sizeof(in->date_end), false, NULL))
        bad = "dateRange";
    else if (!meta_str(m, "retentionPolicy", NULL, in->retention_policy,
                       sizeof(in->retention_policy), true, &in->has_policy) ||
             !meta_str(m, "dataClassification", NULL, in->data_classification,
                       sizeof(in->data_classification), true, &in->has_classification))
        bad = "retentionPolicy and dataClassification";
    else if (!del || (del->type != ADB_JSON_TRUE && del->type != ADB_JSON_FALSE))
        bad = "deleted";
    in->stub = del && del->type == ADB_JSON_TRUE;
    adb__json_free(doc);
    if (bad) {
        fail(r, "archive %s: metadata lacks a valid %s", in->id, bad);
        return false;
    }
    in->first_seq = first;
    in->last_seq = last;
    return true;
}

/* ---- opening ------------------------------------------------------------ */

static adb__archive_reader *open_reader(PGconn *c, const char *id, bool lenient, adb_status *st,
                                        char *err, size_t errlen)
{
    adb__archive_reader *r = calloc(1, sizeof(*r));
    const char *p[] = { id };
    unsigned char md[32];
    char got[65];

    *st = ADB_ERR_NOMEM;
    if (!r) {
        adb__fmt(err, errlen, "out of memory");
        return NULL;
    }
    r->lenient = lenient;
    adb__fmt(r->info.id, sizeof(r->info.id), "%s", id);
    /* binary results: the payload as its bytes (text columns come as text) */
    r->res = PQexecParams(c, "SELECT organization_id, first_seq::text, metadata::text, payload,"
                             " (deleted_at IS NOT NULL)::text FROM archive_storage WHERE id = $1",
                          1, NULL, p, NULL, NULL, 1);
    *st = ADB_ERR_DB_QUERY;
    if (PQresultStatus(r->res) != PGRES_TUPLES_OK) {
        adb__fmt(err, errlen, "could not read archive %s: %s", id, PQresultErrorMessage(r->res));
        adb__oneline(err);
        goto fail;
    }
    *st = ADB_ERR_NOT_FOUND;
    if (PQntuples(r->res) != 1) {
        adb__fmt(err, errlen, "no archive %s", id);
        goto fail;
    }
    *st = ADB_ERR_INVALID;
    if (PQgetisnull(r->res, 0, 3)) {
        adb__fmt(err, errlen, "archive %s has no payload (not written by auditdb)", id);
        goto fail;
    }
    if (!read_metadata(r, PQgetvalue(r->res, 0, 2))) {
        adb__fmt(err, errlen, "%s", r->err);
        goto fail;
    }
    r->in.src = PQgetvalue(r->res, 0, 3);
    r->in.size = (size_t)PQgetlength(r->res, 0, 3);
    r->chunk_cap = ZSTD_DStreamOutSize();
    r->z = ZSTD_createDCtx();
    r->sha = EVP_MD_CTX_new();
    r->chunk = malloc(r->chunk_cap);
    if (!r->z || !r->sha || !r->chunk || EVP_DigestInit_ex(r->sha, EVP_sha256(), NULL) != 1) {
        *st = ADB_ERR_NOMEM;
        adb__fmt(err, errlen, "out of memory");
        goto fail;
    }

    /* what can be checked before reading */
    const adb__archive_info *in = &r->info;
    const char *col_org = PQgetisnull(r->res, 0, 0) ? "" : PQgetvalue(r->res, 0, 0);
    const char *col_first = PQgetisnull(r->res, 0, 1) ? "" : PQgetvalue(r->res, 0, 1);
    char first[32];
    bool ok = true;
    if (!adb__sha256(r->in.src, r->in.size, md)) {
        adb__fmt(err, errlen, "could not checksum archive %s", id);
        goto fail;
    }
    adb__hex(md, 32, got);
    adb__fmt(first, sizeof(first), "%" PRId64, in->first_seq);
    if (strcmp(got, in->compressed_sha) != 0)
        ok = problem(r, "the compressed payload's checksum is %s, the metadata says %s "
                        "(payload or metadata changed)", got, in->compressed_sha);
    if (ok && (long long)r->in.size != in->compressed_size)
        ok = problem(r, "the compressed payload has %zu bytes, the metadata says %lld",
                     r->in.size, in->compressed_size);
    if (ok && strcmp(col_org, in->organization_id) != 0)
        ok = problem(r, "its organization_id column (%s) differs from the metadata's (%s)",
                     col_org, in->organization_id);
    if (ok && strcmp(col_first, first) != 0)
        ok = problem(r, "its first_seq column (%s) differs from the metadata's chain.firstSeq (%s)",
                     col_first, first);
    if (ok && (strcmp(PQgetvalue(r->res, 0, 4), "true") == 0) != in->stub)
        ok = problem(r, "its deleted_at column and the metadata's deleted flag disagree");
    if (!ok) {
        adb__fmt(err, errlen, "%s", r->err);
        goto fail;
    }
    *st = ADB_OK;
    return r;
fail:
    adb__archive_close(r);
    return NULL;
}

adb__archive_reader *adb__archive_open(PGconn *c, const char *id, char *err, size_t errlen)
{
    adb_status st;
    return open_reader(c, id, false, &st, err, errlen);
}

adb__archive_reader *adb__archive_open_ex(PGconn *c, const char *id, bool lenient,
                                          adb_status *st, char *err, size_t errlen)
{
    return open_reader(c, id, lenient, st, err, errlen);
}

void adb__archive_close(adb__archive_reader *r)
{
    if (!r)
        return;
    PQclear(r->res);
    ZSTD_freeDCtx(r->z);
    EVP_MD_CTX_free(r->sha);
    free(r->chunk);
    adb__buf_free(&r->line);
    adb__json_free(r->doc);
    for (size_t i = 0; i < r->nproblems; i++)
        free(r->problems[i]);
    free(r);
}

const adb__archive_info *adb__archive_reader_info(const adb__archive_reader *r)
{
    return &r->info;
}

const char *adb__archive_error(const adb__archive_reader *r)
{
    return r->err;
}

size_t adb__archive_problems(const adb__archive_reader *r, const char *const **msgs)
{
    *msgs = (const char *const *)r->problems;
    return r->nproblems;
}

/* ---- lines -------------------------------------------------------------- */

/* Decompresses the next chunk: 1, 0 at the end of the frame, -1 on error. */
static int refill(adb__archive_reader *r)
{
    while (!r->frame_done) {
        ZSTD_outBuffer out = { r->chunk, r->chunk_cap, 0 };
        size_t ret = ZSTD_decompressStream(r->z, &out, &r->in);
        if (ZSTD_isError(ret)) {
            fail(r, "archive %s: the payload is not a valid zstd frame: %s", r->info.id,
                 ZSTD_getErrorName(ret));
            return -1;
        }
        if (ret == 0) {
            r->frame_done = true;
            if (r->in.pos != r->in.size) {
                fail(r, "archive %s: %zu bytes follow the zstd frame", r->info.id,
                     r->in.size - r->in.pos);
                return -1;
            }
        } else if (out.pos == 0 && r->in.pos == r->in.size) {
            fail(r, "archive %s: the zstd frame is truncated", r->info.id);
            return -1;
        }
        if (out.pos > 0) {
            if (EVP_DigestUpdate(r->sha, r->chunk, out.pos) != 1) {
                fail(r, "archive %s: could not checksum the payload", r->info.id);
                return -1;
            }
            r->size += (long long)out.pos;
            r->chunk_pos = 0;
            r->chunk_len = out.pos;
            return 1;
        }
    }
    return 0;
}

/* The checks that need the whole archive: 0 passed (or recorded), -1. */
static int finish(adb__archive_reader *r)
{
    const adb__archive_info *in = &r->info;
    unsigned char md[32];
    unsigned int mdlen = 0;
    char got[65];
    bool ok = true;

    r->ended = true;
    if (EVP_DigestFinal_ex(r->sha, md, &mdlen) != 1 || mdlen != 32) {
        fail(r, "archive %s: could not checksum the payload", in->id);
        return -1;
    }
    adb__hex(md, 32, got);
    if (strcmp(got, in->original_sha) != 0)
        ok = problem(r, "the decompressed JSON Lines' checksum is %s, the metadata says %s "
                        "(content or metadata changed)", got, in->original_sha);
    if (ok && r->size != in->original_size)
        ok = problem(r, "the JSON Lines have %lld bytes, the metadata says %lld", r->size,
                     in->original_size);
    if (ok && r->rows != in->record_count)
        ok = problem(r, "it holds %lld rows, the metadata says %lld", r->rows, in->record_count);
    if (ok && !r->raw && r->rows > 0 && r->prev_seq != in->last_seq)
        ok = problem(r, "its last chain position is %" PRId64 ", the metadata says %" PRId64,
                     r->prev_seq, in->last_seq);
    if (ok && !r->raw && r->rows > 0 && strcmp(r->prev_chain, in->last_chain) != 0)
        ok = problem(r, "its last chain link is %s, the metadata says %s", r->prev_chain,
                     in->last_chain);
    return ok ? 0 : -1;
}

/* The next line: 1, 0 at the end, -1 on error. */
static int read_line(adb__archive_reader *r, const char **line, size_t *len)
{
    if (r->failed)
        return -1;
    if (r->ended)
        return 0;
    r->line.len = 0;
    for (;;) {
        if (r->chunk_pos == r->chunk_len) {
            int rc = refill(r);
            if (rc < 0)
                return -1;
            if (rc == 0) {
                if (r->line.len > 0) {
                    fail(r, "archive %s: the JSON Lines end inside a line", r->info.id);
                    return -1;
                }
                return finish(r);
            }
        }
        unsigned char *s = r->chunk + r->chunk_pos;
        size_t avail = r->chunk_len - r->chunk_pos;
        unsigned char *nl = memchr(s, '\n', avail);
        size_t take = nl ? (size_t)(nl - s) : avail;
        if (r->line.len + take > ADB__ARCHIVE_MAX_LINE) {
            fail(r, "archive %s: line %lld is longer than %u bytes", r->info.id, r->rows + 1,
                 ADB__ARCHIVE_MAX_LINE);
            return -1;
        }
        r->chunk_pos += take + (nl ? 1 : 0);
        if (nl && r->line.len == 0) { /* the whole line is in the chunk */
            *nl = '\0';
            *line = (const char *)s;
            *len = take;
            r->rows++;
            return 1;
        }
        adb__buf_put(&r->line, s, take);
        if (r->line.oom) {
            fail(r, "out of memory reading archive %s", r->info.id);
            return -1;
        }
        if (nl) {
            *line = r->line.p;
            *len = r->line.len;
            r->rows++;
            return 1;
        }
    }
}

int adb__archive_next_line(adb__archive_reader *r, const char **line, size_t *len)
{
    r->raw = true;
    return read_line(r, line, len);
}

/* ---- rows --------------------------------------------------------------- */

static int column_index(const char *name)
{
    for (int i = 0; i < ADB__ROW_NCOLS; i++)
        if (!strcmp(adb__row_names[i], name))
            return i;
    return -1;
}

int adb__archive_next(adb__archive_reader *r, const char *v[ADB__ROW_NCOLS])
{
    adb_json_limits lim = { .max_depth = 2, .max_string = ADB__ARCHIVE_MAX_LINE, .max_items = 64 };
    const adb__archive_info *in = &r->info;
    const char *line;
    size_t len;
    adb_json_error je;
    int rc = read_line(r, &line, &len);
    long long seq;

    if (rc <= 0)
        return rc;
    adb__json_free(r->doc);
    r->doc = adb__json_parse(line, len, &lim, &je);
    const adb_json *o = r->doc ? adb__json_root(r->doc) : NULL;
    if (!o || o->type != ADB_JSON_OBJECT) {
        fail(r, "archive %s: line %lld is not a JSON object%s%s", in->id, r->rows,
             r->doc ? "" : ": ", r->doc ? "" : je.message);
        return -1;
    }
    size_t want = in->stub ? 4 : ADB__ROW_NCOLS;
    for (int i = 0; i < ADB__ROW_NCOLS; i++)
        v[i] = NULL;
    for (size_t k = 0; k < o->count; k++) {
        int col = column_index(o->keys[k]);
        const adb_json *val = o->items[k];
        if (col < 0 || (val->type != ADB_JSON_STRING && val->type != ADB_JSON_NULL)) {
            fail(r, "archive %s: line %lld: member \"%s\" is %s", in->id, r->rows, o->keys[k],
                 col < 0 ? "not a column" : "neither a string nor null");
            return -1;
        }
        v[col] = val->type == ADB_JSON_STRING ? val->str : NULL;
    }
    /* an archive written before events had ids (migration 0017) lacks
     * event_id: the row gets the id derived from it, as live rows did; one
     * written before commitments (0022) lacks commit_key and
     * commit_field_keys: its rows had none (NULL) */
    bool has_eid = adb__json_get(o, "event_id") != NULL;
    size_t got = o->count;
    if (!in->stub) {
        bool ck = adb__json_get(o, "commit_key") != NULL;
        bool fk = adb__json_get(o, "commit_field_keys") != NULL;
        if (ck != fk) {
            fail(r, "archive %s: line %lld has only one of commit_key and commit_field_keys",
                 in->id, r->rows);
            return -1;
        }
        if (!ck) /* before 0022 */
            got += 2;
        if (!has_eid && !ck) /* before 0017 */
            got += 1;
    }
    bool old_row = !in->stub && !has_eid;
    if (got != want) {
        fail(r, "archive %s: line %lld has %zu members, a%s line has %zu", in->id, r->rows,
             o->count, in->stub ? " stub" : "n archive", want);
        return -1;
    }
    if (!v[ADB_COL_CHAIN_SEQ] || !adb__parse_int(v[ADB_COL_CHAIN_SEQ], 1, INT64_MAX, &seq)) {
        fail(r, "archive %s: line %lld has no valid chain_seq", in->id, r->rows);
        return -1;
    }
    int64_t ts_us;
    if (old_row && v[ADB_COL_TIMESTAMP] &&
        adb__timestamp_parse(v[ADB_COL_TIMESTAMP], strlen(v[ADB_COL_TIMESTAMP]), &ts_us)) {
        adb__event_id_derive(ts_us, v[ADB_COL_CHAIN_HASH], r->derived_id);
        v[ADB_COL_EVENT_ID] = r->derived_id;
    }
    const char *org = v[ADB_COL_ORGANIZATION_ID] ? v[ADB_COL_ORGANIZATION_ID] : "";
    const char *prev = v[ADB_COL_PREV_CHAIN_HASH] ? v[ADB_COL_PREV_CHAIN_HASH] : "";
    if (strcmp(org, in->organization_id) != 0 &&
        !problem(r, "the row at position %lld belongs to organization %s, the archive to %s", seq,
                 org, in->organization_id))
        return -1;
    if (r->rows == 1) {
        if (seq != in->first_seq &&
            !problem(r, "its first chain position is %lld, the metadata says %" PRId64, seq,
                     in->first_seq))
            return -1;
        if (strcmp(prev, in->first_prev) != 0 &&
            !problem(r, "its first row links to %s, the metadata says %s", prev, in->first_prev))
            return -1;
    } else if (seq <= r->prev_seq &&
               !problem(r, "chain position %lld follows %" PRId64 ": rows out of chain order", seq,
                        r->prev_seq)) {
        return -1;
    }
    r->prev_seq = seq;
    adb__fmt(r->prev_chain, sizeof(r->prev_chain), "%s",
             v[ADB_COL_CHAIN_HASH] ? v[ADB_COL_CHAIN_HASH] : "");
    return 1;
}

/* ---- an organization's archives ---------------------------------------- */

void adb__archive_ids_free(char **ids, size_t n)
{
    if (!ids)
        return;
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
}

adb_status adb__archive_ids(PGconn *c, const char *organization_id, char ***ids, size_t *n,
                            char *err, size_t errlen)
{
    const char *p[] = { organization_id };
    PGresult *r = PQexecParams(c, "SELECT id FROM archive_storage WHERE organization_id = $1"
                                  " AND payload IS NOT NULL ORDER BY first_seq",
                               1, NULL, p, NULL, NULL, 0);

    *ids = NULL;
    *n = 0;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        adb__fmt(err, errlen, "could not list the archives of %s: %s", organization_id,
                 PQresultErrorMessage(r));
        adb__oneline(err);
        PQclear(r);
        return ADB_ERR_DB_QUERY;
    }
    *ids = calloc((size_t)PQntuples(r) + 1, sizeof(**ids));
    if (!*ids) {
        PQclear(r);
        adb__fmt(err, errlen, "out of memory");
        return ADB_ERR_NOMEM;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        if (!((*ids)[i] = adb__strdup(PQgetvalue(r, i, 0)))) {
            adb__archive_ids_free(*ids, (size_t)i);
            *ids = NULL;
            PQclear(r);
            adb__fmt(err, errlen, "out of memory");
            return ADB_ERR_NOMEM;
        }
    }
    *n = (size_t)PQntuples(r);
    PQclear(r);
    return ADB_OK;
}
