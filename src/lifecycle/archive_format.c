/*
 * archive_format.c - writing an archive (docs/archive.md): rows in chain
 * order become JSON Lines, compressed as one zstd frame while both SHA-256
 * checksums (original and compressed bytes) are computed; then the
 * metadata, and the archive_storage row.
 */
#include "archive.h"
#include "../core/buf.h"
#include "../core/util.h"
#include "../event/event.h"

#include <inttypes.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

/* zstd level 1: on archive lines (bench/README.md, "Archival") it is about
 * twice as fast as level 3 and compresses as well or better (hex hashes
 * and signatures are most of the entropy, and level 3's larger search
 * finds little more in them). */
#define ZSTD_LEVEL 1

/* Lines are checksummed and compressed in batches of about this many
 * bytes rather than one by one (fewer calls, same bytes). */
#define STAGE_BYTES (256u * 1024)

/* The columns a stub keeps per position. */
static const adb__row_col stub_cols[] = { ADB_COL_ORGANIZATION_ID, ADB_COL_CHAIN_SEQ,
                                          ADB_COL_PREV_CHAIN_HASH, ADB_COL_CHAIN_HASH };

struct adb__archive_builder {
    bool stub, failed;
    ZSTD_CCtx *z;
    EVP_MD_CTX *sha;
    char *stage;                   /* lines not yet checksummed and compressed */
    size_t stage_len, stage_cap;
    unsigned char *out;            /* the compressed frame so far */
    size_t out_len, out_cap;
    long long rows, original_size;
    char *org, *policy, *cls;      /* the group, from the first row */
    int64_t first_seq, last_seq;
    char first_prev[65], last_chain[65];
    char date_start[40], date_end[40];
    json_t *subjects;              /* the distinct principal and target ids (not of stubs) */
    bool subjects_lost;            /* out of memory collecting them: the archive goes unindexed */
};

adb__archive_builder *adb__archive_builder_new(bool stub)
{
    adb__archive_builder *b = calloc(1, sizeof(*b));

    if (!b)
        return NULL;
    b->stub = stub;
    b->z = ZSTD_createCCtx();
    b->sha = EVP_MD_CTX_new();
    if (!b->z || !b->sha || EVP_DigestInit_ex(b->sha, EVP_sha256(), NULL) != 1 ||
        ZSTD_isError(ZSTD_CCtx_setParameter(b->z, ZSTD_c_compressionLevel, ZSTD_LEVEL)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(b->z, ZSTD_c_checksumFlag, 1))) {
        adb__archive_builder_free(b);
        return NULL;
    }
    return b;
}

void adb__archive_builder_free(adb__archive_builder *b)
{
    if (!b)
        return;
    ZSTD_freeCCtx(b->z);
    EVP_MD_CTX_free(b->sha);
    free(b->stage);
    free(b->out);
    free(b->org);
    free(b->policy);
    free(b->cls);
    json_decref(b->subjects);
    free(b);
}

long long adb__archive_builder_rows(const adb__archive_builder *b)
{
    return b->rows;
}

/* Makes room for at least n more compressed bytes. */
static bool out_reserve(adb__archive_builder *b, size_t n)
{
    if (b->out_len + n <= b->out_cap)
        return true;
    size_t cap = b->out_cap ? b->out_cap : 64 * 1024;
    while (cap < b->out_len + n) {
        if (cap > SIZE_MAX / 2)
            return false;
        cap *= 2;
    }
    unsigned char *p = realloc(b->out, cap);
    if (!p)
        return false;
    b->out = p;
    b->out_cap = cap;
    return true;
}

/* Feeds data[0..len) to the frame (mode ZSTD_e_continue) or ends it
 * (ZSTD_e_end, len 0). */
static bool compress(adb__archive_builder *b, const void *data, size_t len, ZSTD_EndDirective mode,
                     char *err, size_t errlen)
{
    ZSTD_inBuffer in = { data, len, 0 };
    size_t left;

    do {
        if (!out_reserve(b, ZSTD_CStreamOutSize())) {
            adb__fmt(err, errlen, "out of memory compressing an archive");
            return false;
        }
        ZSTD_outBuffer o = { b->out + b->out_len, b->out_cap - b->out_len, 0 };
        left = ZSTD_compressStream2(b->z, &o, &in, mode);
        if (ZSTD_isError(left)) {
            adb__fmt(err, errlen, "zstd compression failed: %s", ZSTD_getErrorName(left));
            return false;
        }
        b->out_len += o.pos;
    } while (mode == ZSTD_e_end ? left != 0 : in.pos < in.size);
    return true;
}

static bool same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

/* Makes room for n more bytes in the stage; false when out of memory. */
static bool stage_reserve(adb__archive_builder *b, size_t n)
{
    if (n <= b->stage_cap - b->stage_len)
        return true;
    if (n > SIZE_MAX / 2 - b->stage_len)
        return false;
    size_t cap = b->stage_cap ? b->stage_cap : STAGE_BYTES + 64 * 1024;
    while (cap - b->stage_len < n)
        cap *= 2;
    char *p = realloc(b->stage, cap);
    if (!p)
        return false;
    b->stage = p;
    b->stage_cap = cap;
    return true;
}

/* Appends s as a JSON string, escaped as docs/integrity.md says (the same
 * bytes as adb__json_write_string): \" \\ \b \f \n \r \t, other bytes below
 * 0x20 as \u00xx, everything else raw. Room for the worst case (6 bytes a
 * byte, 2 quotes) must have been reserved. */
static char *put_json_string(char *o, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;

    *o++ = '"';
    while (i < n) {
        size_t e = i;
        while (e < n && u[e] >= 0x20 && u[e] != '"' && u[e] != '\\')
            e++;
        memcpy(o, s + i, e - i);
        o += e - i;
        if (e == n)
            break;
        *o++ = '\\';
        switch (u[e]) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '\b': *o++ = 'b'; break;
        case '\f': *o++ = 'f'; break;
        case '\n': *o++ = 'n'; break;
        case '\r': *o++ = 'r'; break;
        case '\t': *o++ = 't'; break;
        default:
            memcpy(o, "u00", 3);
            o[3] = hex[u[e] >> 4];
            o[4] = hex[u[e] & 0xf];
            o += 5;
        }
        i = e + 1;
    }
    *o++ = '"';
    return o;
}

/* Appends one line (the members cols[0..ncols) of v, in that order, then
 * "}\n") to the stage; false when out of memory. */
static bool stage_line(adb__archive_builder *b, const char *const v[ADB__ROW_NCOLS],
                       const adb__row_col *cols, size_t ncols)
{
    size_t need = 2, len[ADB__ROW_NCOLS];

    for (size_t i = 0; i < ncols; i++) {
        const char *x = v[cols[i]];
        len[i] = x ? strlen(x) : 0;
        if (len[i] > (SIZE_MAX / 2 - need) / 8)
            return false;
        need += 4 + strlen(adb__row_names[cols[i]]) + (x ? len[i] * 6 + 2 : 4);
    }
    if (!stage_reserve(b, need))
        return false;
    char *o = b->stage + b->stage_len;
    for (size_t i = 0; i < ncols; i++) {
        const char *name = adb__row_names[cols[i]], *x = v[cols[i]];
        size_t nl = strlen(name); /* names need no escaping */
        *o++ = i == 0 ? '{' : ',';
        *o++ = '"';
        memcpy(o, name, nl);
        o += nl;
        *o++ = '"';
        *o++ = ':';
        if (x) {
            o = put_json_string(o, x, len[i]);
        } else {
            memcpy(o, "null", 4);
            o += 4;
        }
    }
    *o++ = '}';
    *o++ = '\n';
    b->stage_len = (size_t)(o - b->stage);
    return true;
}

/* Checksums and compresses what the stage holds, and empties it. */
static bool stage_flush(adb__archive_builder *b, char *err, size_t errlen)
{
    if (b->stage_len == 0)
        return true;
    if (EVP_DigestUpdate(b->sha, b->stage, b->stage_len) != 1) {
        adb__fmt(err, errlen, "could not checksum an archive");
        return false;
    }
    if (!compress(b, b->stage, b->stage_len, ZSTD_e_continue, err, errlen))
        return false;
    b->stage_len = 0;
    return true;
}

static const adb__row_col all_cols[ADB__ROW_NCOLS] = {
    ADB_COL_ID, ADB_COL_TIMESTAMP, ADB_COL_TTL, ADB_COL_PRINCIPAL_ID, ADB_COL_ORGANIZATION_ID,
    ADB_COL_ACTION, ADB_COL_TARGET_RESOURCE_TYPE, ADB_COL_TARGET_RESOURCE_ID, ADB_COL_STATUS,
    ADB_COL_OUTCOME_DESCRIPTION, ADB_COL_HASH, ADB_COL_HASH_ALGORITHM, ADB_COL_SIGNATURE,
    ADB_COL_EVENT_VERSION, ADB_COL_CORRELATION_ID, ADB_COL_DATA_CLASSIFICATION,
    ADB_COL_RETENTION_POLICY, ADB_COL_DETAILS, ADB_COL_CHAIN_SEQ, ADB_COL_PREV_CHAIN_HASH,
    ADB_COL_CHAIN_HASH, ADB_COL_EVENT_ID, ADB_COL_COMMIT_KEY, ADB_COL_COMMIT_FIELD_KEYS,
};

/* Adds id (NULL or "": nothing) to the builder's distinct subjects; false
 * when out of memory. */
static bool add_subject(adb__archive_builder *b, const char *id)
{
    if (!id || !*id)
        return true;
    if (!b->subjects && !(b->subjects = json_object()))
        return false;
    return json_object_get(b->subjects, id) || json_object_set_new(b->subjects, id, json_null()) == 0;
}

bool adb__archive_builder_add(adb__archive_builder *b, const char *const v[ADB__ROW_NCOLS],
                              char *err, size_t errlen)
{
    const char *org = v[ADB_COL_ORGANIZATION_ID], *seqtext = v[ADB_COL_CHAIN_SEQ];
    const char *ts = v[ADB_COL_TIMESTAMP];
    long long seq;

    if (b->failed) {
        adb__fmt(err, errlen, "archive builder used after a failure");
        return false;
    }
    if (!org || !seqtext || !adb__parse_int(seqtext, 1, INT64_MAX, &seq) || !ts ||
        strlen(ts) >= sizeof(b->date_start)) {
        adb__fmt(err, errlen, "event %s has no organization, chain position or timestamp",
                 v[ADB_COL_ID] ? v[ADB_COL_ID] : "?");
        return false;
    }
    if (b->rows == 0) {
        b->org = adb__strdup(org);
        b->policy = adb__strdup(v[ADB_COL_RETENTION_POLICY]);
        b->cls = adb__strdup(v[ADB_COL_DATA_CLASSIFICATION]);
        if (!b->org || (v[ADB_COL_RETENTION_POLICY] && !b->policy) ||
            (v[ADB_COL_DATA_CLASSIFICATION] && !b->cls)) {
            adb__fmt(err, errlen, "out of memory");
            b->failed = true;
            return false;
        }
        b->first_seq = seq;
        adb__fmt(b->first_prev, sizeof(b->first_prev), "%s",
                 v[ADB_COL_PREV_CHAIN_HASH] ? v[ADB_COL_PREV_CHAIN_HASH] : "");
        adb__fmt(b->date_start, sizeof(b->date_start), "%s", ts);
        adb__fmt(b->date_end, sizeof(b->date_end), "%s", ts);
    } else {
        if (strcmp(org, b->org) || !same(v[ADB_COL_RETENTION_POLICY], b->policy) ||
            !same(v[ADB_COL_DATA_CLASSIFICATION], b->cls)) {
            adb__fmt(err, errlen, "event %s belongs to another archive group",
                     v[ADB_COL_ID] ? v[ADB_COL_ID] : "?");
            return false;
        }
        if (seq <= b->last_seq) {
            adb__fmt(err, errlen, "event %s is out of chain order (position %lld after %" PRId64 ")",
                     v[ADB_COL_ID] ? v[ADB_COL_ID] : "?", seq, b->last_seq);
            return false;
        }
        if (strcmp(ts, b->date_start) < 0)
            adb__fmt(b->date_start, sizeof(b->date_start), "%s", ts);
        if (strcmp(ts, b->date_end) > 0)
            adb__fmt(b->date_end, sizeof(b->date_end), "%s", ts);
    }
    b->last_seq = seq;
    adb__fmt(b->last_chain, sizeof(b->last_chain), "%s",
             v[ADB_COL_CHAIN_HASH] ? v[ADB_COL_CHAIN_HASH] : "");

    size_t before = b->stage_len;
    if (!(b->stub ? stage_line(b, v, stub_cols, sizeof(stub_cols) / sizeof(stub_cols[0]))
                  : stage_line(b, v, all_cols, ADB__ROW_NCOLS))) {
        adb__fmt(err, errlen, "out of memory writing an archive line");
        b->failed = true;
        return false;
    }
    size_t line_len = b->stage_len - before;
    if (!b->stub && !b->subjects_lost) /* for the subject index (archive_subjects.c) */
        b->subjects_lost = !add_subject(b, v[ADB_COL_PRINCIPAL_ID]) ||
                           !add_subject(b, v[ADB_COL_TARGET_RESOURCE_ID]);
    if (b->stage_len >= STAGE_BYTES && !stage_flush(b, err, errlen)) {
        b->failed = true;
        return false;
    }
    b->original_size += (long long)line_len;
    b->rows++;
    return true;
}

bool adb__archive_builder_finish(adb__archive_builder *b, adb__archive_built *out, char *err,
                                 size_t errlen)
{
    unsigned char md[32];
    unsigned int mdlen = 0;

    memset(out, 0, sizeof(*out));
    if (b->failed || b->rows == 0) {
        adb__fmt(err, errlen, b->failed ? "archive builder used after a failure" : "an archive needs rows");
        return false;
    }
    if (!stage_flush(b, err, errlen) || !compress(b, NULL, 0, ZSTD_e_end, err, errlen))
        return false;
    if (EVP_DigestFinal_ex(b->sha, md, &mdlen) != 1 || mdlen != 32) {
        adb__fmt(err, errlen, "could not checksum an archive");
        return false;
    }
    b->failed = true; /* finished: no more rows */
    adb__hex(md, 32, out->original_sha);
    adb__sha256_hex(b->out, b->out_len, out->compressed_sha);
    out->payload = b->out;
    out->payload_len = b->out_len;
    b->out = NULL;
    b->out_len = b->out_cap = 0;
    out->organization_id = b->org;
    out->retention_policy = b->policy;
    out->data_classification = b->cls;
    b->org = b->policy = b->cls = NULL;
    out->rows = b->rows;
    out->original_size = b->original_size;
    out->first_seq = b->first_seq;
    out->last_seq = b->last_seq;
    memcpy(out->first_prev, b->first_prev, sizeof(out->first_prev));
    memcpy(out->last_chain, b->last_chain, sizeof(out->last_chain));
    memcpy(out->date_start, b->date_start, sizeof(out->date_start));
    memcpy(out->date_end, b->date_end, sizeof(out->date_end));
    out->stub = b->stub;
    if (!b->stub && !b->subjects_lost) {
        out->subjects = b->subjects ? b->subjects : json_object();
        b->subjects = NULL;
    }
    return true;
}

void adb__archive_built_free(adb__archive_built *a)
{
    if (!a)
        return;
    free(a->payload);
    free(a->organization_id);
    free(a->retention_policy);
    free(a->data_classification);
    json_decref(a->subjects);
    memset(a, 0, sizeof(*a));
}

/* ---- metadata ----------------------------------------------------------- */

static void key(adb__buf *m, const char *name)
{
    adb__buf_json_string(m, name, strlen(name));
    adb__buf_put(m, ":", 1);
}

static void str_or_null(adb__buf *m, const char *s)
{
    if (s)
        adb__buf_json_string(m, s, strlen(s));
    else
        adb__buf_puts(m, "null");
}

static void int_or_null(adb__buf *m, int n)
{
    if (n < 0)
        adb__buf_puts(m, "null");
    else
        adb__buf_printf(m, "%d", n);
}

char *adb__archive_metadata_json(const adb__archive_built *a, const adb__archive_meta_extra *x)
{
    adb__buf m = { 0 };
    double ratio = a->original_size ? (double)a->payload_len / (double)a->original_size : 0;

    adb__buf_puts(&m, "{\"format\":\"" ADB__ARCHIVE_FORMAT "\",\"compression\":\"zstd\",");
    key(&m, "organizationId");
    str_or_null(&m, a->organization_id);
    adb__buf_printf(&m, ",\"recordCount\":%lld,\"dateRange\":{\"start\":", a->rows);
    str_or_null(&m, a->date_start);
    adb__buf_puts(&m, ",\"end\":");
    str_or_null(&m, a->date_end);
    adb__buf_puts(&m, "},\"retentionPolicy\":");
    str_or_null(&m, a->retention_policy);
    adb__buf_puts(&m, ",\"dataClassification\":");
    str_or_null(&m, a->data_classification);
    adb__buf_puts(&m, ",\"policy\":");
    if (x->policy_name) {
        adb__buf_puts(&m, "{\"name\":");
        str_or_null(&m, x->policy_name);
        adb__buf_puts(&m, ",\"archiveAfterDays\":");
        int_or_null(&m, x->archive_after_days);
        adb__buf_puts(&m, ",\"retentionDays\":");
        int_or_null(&m, x->retention_days);
        adb__buf_puts(&m, "}");
    } else {
        adb__buf_puts(&m, "null");
    }
    adb__buf_printf(&m, ",\"checksums\":{\"originalSha256\":\"%s\",\"compressedSha256\":\"%s\"}",
                    a->original_sha, a->compressed_sha);
    adb__buf_printf(&m, ",\"originalSize\":%lld,\"compressedSize\":%zu,\"compressionRatio\":%.4f",
                    a->original_size, a->payload_len, ratio);
    adb__buf_printf(&m, ",\"chain\":{\"firstSeq\":%" PRId64 ",\"lastSeq\":%" PRId64
                        ",\"seqs\":%lld,\"firstPrevChainHash\":",
                    a->first_seq, a->last_seq, a->rows);
    str_or_null(&m, a->first_prev);
    adb__buf_puts(&m, ",\"lastChainHash\":");
    str_or_null(&m, a->last_chain);
    adb__buf_puts(&m, "},\"createdAt\":");
    str_or_null(&m, x->created_at);
    adb__buf_printf(&m, ",\"deleted\":%s", a->stub ? "true" : "false");
    if (a->stub) {
        adb__buf_puts(&m, ",\"deletedAt\":");
        str_or_null(&m, x->deleted_at);
    }
    if (x->replaced_original_sha && x->replaced_compressed_sha) {
        adb__buf_printf(&m, ",\"replaced\":{\"originalSha256\":\"%s\",\"compressedSha256\":\"%s\","
                            "\"originalSize\":%lld}",
                        x->replaced_original_sha, x->replaced_compressed_sha, x->replaced_size);
    }
    adb__buf_puts(&m, "}");
    return adb__buf_take(&m, NULL);
}

bool adb__archive_new_id(char id[64])
{
    unsigned char rnd[16];
    char hex[33];

    if (RAND_bytes(rnd, sizeof(rnd)) != 1)
        return false;
    adb__hex(rnd, sizeof(rnd), hex);
    return adb__fmt(id, 64, "archive-%s", hex);
}

adb_status adb__archive_insert(PGconn *c, const adb__archive_built *a,
                               const adb__archive_meta_extra *x, char id[64], char *err,
                               size_t errlen)
{
    char first[32];
    char *meta = adb__archive_metadata_json(a, x);
    const char *note = a->stub ? ADB__ARCHIVE_FORMAT " stub: chain positions of deleted events, "
                                 "zstd JSON Lines in payload"
                               : ADB__ARCHIVE_FORMAT ": zstd JSON Lines in payload";
    adb_status st = ADB_OK;

    if (!meta) {
        adb__fmt(err, errlen, "out of memory");
        return ADB_ERR_NOMEM;
    }
    if (a->payload_len > ADB__ARCHIVE_MAX_PAYLOAD) {
        free(meta);
        adb__fmt(err, errlen, "the archive of %s (positions %" PRId64 "..%" PRId64 ") would hold "
                              "%zu compressed bytes, more than %u", a->organization_id,
                 a->first_seq, a->last_seq, a->payload_len, ADB__ARCHIVE_MAX_PAYLOAD);
        return ADB_ERR_INVALID;
    }
    if (!adb__archive_new_id(id)) {
        free(meta);
        adb__fmt(err, errlen, "could not make an archive id: no random bytes");
        return ADB_ERR_INTERNAL;
    }
    adb__fmt(first, sizeof(first), "%" PRId64, a->first_seq);
    const char *p[] = { id, meta, note, x->created_at, a->organization_id,
                        (const char *)a->payload, first, x->deleted_at };
    int lens[] = { 0, 0, 0, 0, 0, (int)a->payload_len, 0, 0 };
    int fmts[] = { 0, 0, 0, 0, 0, 1, 0, 0 };
    PGresult *r = PQexecParams(c,
                               "INSERT INTO archive_storage (id, metadata, data, created_at,"
                               " organization_id, payload, first_seq, deleted_at)"
                               " VALUES ($1, $2::jsonb, $3, $4::timestamptz, $5, $6::bytea,"
                               " $7::bigint, $8::timestamptz)",
                               8, NULL, p, lens, fmts, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        adb__fmt(err, errlen, "could not store the archive of %s (positions %" PRId64 "..%" PRId64
                              "): %s", a->organization_id, a->first_seq, a->last_seq,
                 PQresultErrorMessage(r));
        adb__oneline(err);
        st = ADB_ERR_DB_QUERY;
    }
    PQclear(r);
    free(meta);
    return st;
}
