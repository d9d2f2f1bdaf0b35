/*
 * dsr.c - data-subject requests as records: open, advance, extend, read and
 * list the rows of data_subject_request as the tenant (dsr.h).
 */
#include "dsr.h"
#include "../core/adb_internal.h"
#include "../core/util.h"
#include "../event/event_id.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

static const char *const gdpr_kinds[] = { "access", "portability", "erasure", "pseudonymization",
                                          "rectification", "restriction", "objection", NULL };
static const char *const hipaa_kinds[] = { "hipaa_accounting", "hipaa_access", NULL };
static const char *const statuses[] = { "received", "in_progress", "completed", "refused",
                                        "extended", NULL };

static bool in_list(const char *const *l, const char *s)
{
    for (; s && *l; l++)
        if (!strcmp(*l, s))
            return true;
    return false;
}

bool adb__dsr_kind_valid(const char *kind)
{
    return in_list(gdpr_kinds, kind) || in_list(hipaa_kinds, kind);
}

bool adb__dsr_kind_hipaa(const char *kind)
{
    return in_list(hipaa_kinds, kind);
}

bool adb__dsr_status_valid(const char *status)
{
    return in_list(statuses, status);
}

/* A database failure as a status, its message in err (no values: the
 * statement's parameters are never part of PQresultErrorMessage). */
static adb_status db_error(PGconn *c, PGresult *r, const char *what, char *err, size_t errlen)
{
    adb__fmt(err, errlen, "could not %s: %s", what,
             r ? PQresultErrorMessage(r) : PQerrorMessage(c));
    adb__oneline(err);
    return PQstatus(c) == CONNECTION_OK ? ADB_ERR_DB_QUERY : ADB_ERR_DB_CONNECT;
}

static bool id_ok(const char *id, char out[ADB_DSR_ID_LEN + 1])
{
    return id && adb__event_id_parse(id, strlen(id), out);
}

static bool new_id(char out[ADB_DSR_ID_LEN + 1])
{
    unsigned char b[16];
    char hex[33];

    if (!adb__event_random(b, sizeof(b)))
        return false;
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 9562 variant */
    adb__hex(b, sizeof(b), hex);
    adb__fmt(out, ADB_DSR_ID_LEN + 1, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12,
             hex + 16, hex + 20);
    return true;
}

static bool text_ok(const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    return n > 0 && n <= max && adb__utf8_valid(s, n);
}

adb_status adb__dsr_open_on(PGconn *c, const adb__keys *k, const char *org, const char *kind,
                            const char *subject, const char *handled_by, const char *basis,
                            char out_id[ADB_DSR_ID_LEN + 1], char *err, size_t errlen)
{
    unsigned char idx[ADB_SUBJECT_INDEX_LEN];
    char idx_hex[2 * ADB_SUBJECT_INDEX_LEN + 1];
    unsigned char *enc = NULL;
    size_t enclen = 0;
    char *enc_hex = NULL;
    const char *due;
    PGresult *r;
    adb_status st;

    out_id[0] = '\0';
    if (!adb__dsr_kind_valid(kind)) {
        adb__fmt(err, errlen, "unknown request kind");
        return ADB_ERR_INVALID;
    }
    if (!text_ok(subject, ADB_SUBJECT_MAX)) {
        adb__fmt(err, errlen, "the subject id must be 1 to %d bytes of UTF-8", ADB_SUBJECT_MAX);
        return ADB_ERR_INVALID;
    }
    if ((basis && !text_ok(basis, ADB_DSR_REASON_MAX)) ||
        (handled_by && !text_ok(handled_by, 255))) {
        adb__fmt(err, errlen, "basis or handler too long or not UTF-8");
        return ADB_ERR_INVALID;
    }
    if (!adb__subject_index(k, org, subject, idx) ||
        !(enc = adb__subject_seal(k, org, subject, &enclen)) ||
        !(enc_hex = malloc(2 * enclen + 1)) || !new_id(out_id)) {
        free(enc);
        adb__fmt(err, errlen, "could not seal the subject id (out of memory or no randomness)");
        out_id[0] = '\0';
        return ADB_ERR_INTERNAL;
    }
    adb__hex(idx, sizeof(idx), idx_hex);
    adb__hex(enc, enclen, enc_hex);
    free(enc);
    due = !strcmp(kind, "hipaa_accounting") ? "60 days"
          : !strcmp(kind, "hipaa_access")   ? "30 days"
                                            : "1 month";
    const char *p[] = { out_id, org, kind, idx_hex, enc_hex, due, handled_by, basis };
    r = PQexecParams(c,
                     "INSERT INTO data_subject_request (id, organization_id, kind, subject_index,"
                     " subject_enc, due_at, handled_by, basis, fee_status)"
                     " SELECT $1::uuid, $2, $3, decode($4, 'hex'), decode($5, 'hex'),"
                     " now() + $6::interval, $7, $8,"
                     " CASE WHEN $3 <> 'hipaa_accounting' THEN NULL"
                     "      WHEN EXISTS (SELECT 1 FROM data_subject_request o"
                     "                    WHERE o.organization_id = $2 AND o.kind = $3"
                     "                      AND o.subject_index = decode($4, 'hex')"
                     "                      AND o.received_at > now() - interval '12 months')"
                     "      THEN 'chargeable' ELSE 'free' END",
                     8, NULL, p, NULL, NULL, 0);
    free(enc_hex);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        st = db_error(c, r, "record the request", err, errlen);
        out_id[0] = '\0';
    } else {
        st = ADB_OK;
    }
    PQclear(r);
    return st;
}

/* Runs fn in a tenant transaction of org, committed when it returns ADB_OK. */
#define IN_TENANT(h, org, err, errlen, call)                                                 \
    do {                                                                                     \
        adb_status st_;                                                                      \
        PGconn *c = adb_tenant_begin((h), (org), &st_, (err), (errlen));                     \
        if (!c)                                                                              \
            return st_;                                                                      \
        st_ = (call);                                                                        \
        adb_tenant_end((h), c, st_ == ADB_OK);                                               \
        return st_;                                                                          \
    } while (0)

adb_status adb__dsr_open(adb *h, const char *org, const char *kind, const char *subject,
                         const char *handled_by, const char *basis,
                         char out_id[ADB_DSR_ID_LEN + 1], char *err, size_t errlen)
{
    IN_TENANT(h, org, err, errlen,
              adb__dsr_open_on(c, adb__db_keys(h), org, kind, subject, handled_by, basis, out_id,
                               err, errlen));
}

/* The state of request id for update (locked): status and kind; NOT_FOUND. */
static adb_status lock_request(PGconn *c, const char *org, const char *id, char status[16],
                               char kind[24], bool *extended, char *err, size_t errlen)
{
    const char *p[] = { id, org };
    PGresult *r = PQexecParams(c,
                               "SELECT status, kind, extended_until IS NOT NULL"
                               " FROM data_subject_request WHERE id = $1::uuid"
                               " AND organization_id = $2 FOR UPDATE",
                               2, NULL, p, NULL, NULL, 0);
    adb_status st = ADB_OK;

    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        st = db_error(c, r, "read the request", err, errlen);
    else if (PQntuples(r) != 1) {
        adb__fmt(err, errlen, "no request %s", id);
        st = ADB_ERR_NOT_FOUND;
    } else {
        adb__fmt(status, 16, "%s", PQgetvalue(r, 0, 0));
        adb__fmt(kind, 24, "%s", PQgetvalue(r, 0, 1));
        *extended = !strcmp(PQgetvalue(r, 0, 2), "t");
    }
    PQclear(r);
    return st;
}

static bool is_final(const char *status)
{
    return !strcmp(status, "completed") || !strcmp(status, "refused");
}

adb_status adb__dsr_set_status_on(PGconn *c, const char *org, const char *id, const char *status,
                                  const char *outcome_json, const char *handled_by, char *err,
                                  size_t errlen)
{
    char uid[ADB_DSR_ID_LEN + 1], cur[16], kind[24];
    bool extended;
    adb_status st;

    if (!id_ok(id, uid)) {
        adb__fmt(err, errlen, "no request %.64s", id ? id : "");
        return ADB_ERR_NOT_FOUND;
    }
    if (!status || (strcmp(status, "in_progress") && !is_final(status))) {
        adb__fmt(err, errlen, "status must be in_progress, completed or refused (extend a "
                 "request to make it extended)");
        return ADB_ERR_INVALID;
    }
    if (outcome_json && strlen(outcome_json) > ADB_DSR_OUTCOME_MAX) {
        adb__fmt(err, errlen, "the outcome is longer than %d bytes", ADB_DSR_OUTCOME_MAX);
        return ADB_ERR_INVALID;
    }
    if ((st = lock_request(c, org, uid, cur, kind, &extended, err, errlen)) != ADB_OK)
        return st;
    if (is_final(cur)) {
        adb__fmt(err, errlen, "request %s is %s already: a closed request does not change", uid, cur);
        return ADB_ERR_INVALID;
    }
    if (!strcmp(cur, "in_progress") && !strcmp(status, "in_progress")) {
        adb__fmt(err, errlen, "request %s is in_progress already", uid);
        return ADB_ERR_INVALID;
    }
    const char *p[] = { uid, org, status, outcome_json, handled_by };
    PGresult *r = PQexecParams(c,
                               "UPDATE data_subject_request SET status = $3,"
                               " outcome = coalesce($4::jsonb, outcome),"
                               " handled_by = coalesce($5, handled_by),"
                               " completed_at = CASE WHEN $3 IN ('completed', 'refused')"
                               "                     THEN now() END"
                               " WHERE id = $1::uuid AND organization_id = $2",
                               5, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        /* a bad outcome text is the caller's (invalid JSON): say so */
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        if (state && !strncmp(state, "22", 2)) {
            adb__fmt(err, errlen, "the outcome is not valid JSON");
            st = ADB_ERR_INVALID;
        } else {
            st = db_error(c, r, "update the request", err, errlen);
        }
    }
    PQclear(r);
    return st;
}

adb_status adb__dsr_set_status(adb *h, const char *org, const char *id, const char *status,
                               const char *outcome_json, const char *handled_by, char *err,
                               size_t errlen)
{
    IN_TENANT(h, org, err, errlen,
              adb__dsr_set_status_on(c, org, id, status, outcome_json, handled_by, err, errlen));
}

adb_status adb__dsr_finish_on(PGconn *c, const char *org, const char *id, const char *status,
                              const char *outcome_json, const char *handled_by, char *err,
                              size_t errlen)
{
    if (!status || !is_final(status)) {
        adb__fmt(err, errlen, "a request finishes completed or refused");
        return ADB_ERR_INVALID;
    }
    return adb__dsr_set_status_on(c, org, id, status, outcome_json, handled_by, err, errlen);
}

adb_status adb__dsr_finish(adb *h, const char *org, const char *id, const char *status,
                           const char *outcome_json, const char *handled_by, char *err,
                           size_t errlen)
{
    IN_TENANT(h, org, err, errlen,
              adb__dsr_finish_on(c, org, id, status, outcome_json, handled_by, err, errlen));
}

static adb_status extend_on(PGconn *c, const char *org, const char *id, int amount,
                            const char *reason, const char *handled_by, char *err, size_t errlen)
{
    char uid[ADB_DSR_ID_LEN + 1], cur[16], kind[24], amt[16];
    bool extended, hipaa;
    adb_status st;

    if (!id_ok(id, uid)) {
        adb__fmt(err, errlen, "no request %.64s", id ? id : "");
        return ADB_ERR_NOT_FOUND;
    }
    if (!text_ok(reason, ADB_DSR_REASON_MAX)) {
        adb__fmt(err, errlen, "an extension needs a reason of 1 to %d characters",
                 ADB_DSR_REASON_MAX);
        return ADB_ERR_INVALID;
    }
    if ((st = lock_request(c, org, uid, cur, kind, &extended, err, errlen)) != ADB_OK)
        return st;
    hipaa = adb__dsr_kind_hipaa(kind);
    if (is_final(cur)) {
        adb__fmt(err, errlen, "request %s is %s: a closed request is not extended", uid, cur);
        return ADB_ERR_INVALID;
    }
    if (hipaa && (amount < 1 || amount > 30)) {
        adb__fmt(err, errlen, "a HIPAA request is extended by 1 to 30 days");
        return ADB_ERR_INVALID;
    }
    if (!hipaa && (amount < 1 || amount > 2)) {
        adb__fmt(err, errlen, "a GDPR request is extended by 1 or 2 months in all (Art. 12(3))");
        return ADB_ERR_INVALID;
    }
    if (hipaa && extended) {
        adb__fmt(err, errlen, "request %s was extended already: HIPAA allows one extension", uid);
        return ADB_ERR_INVALID;
    }
    adb__fmt(amt, sizeof(amt), "%d %s", amount, hipaa ? "days" : "months");
    const char *p[] = { uid, org, amt, reason, handled_by };
    PGresult *r = PQexecParams(c,
                               "UPDATE data_subject_request SET status = 'extended',"
                               " extended_until = due_at + $3::interval, extension_reason = $4,"
                               " handled_by = coalesce($5, handled_by)"
                               " WHERE id = $1::uuid AND organization_id = $2"
                               " AND (extended_until IS NULL OR extended_until < due_at + $3::interval)",
                               5, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        st = db_error(c, r, "extend the request", err, errlen);
    else if (strcmp(PQcmdTuples(r), "1") != 0) {
        adb__fmt(err, errlen, "request %s is extended to that date or later already", uid);
        st = ADB_ERR_INVALID;
    }
    PQclear(r);
    return st;
}

adb_status adb__dsr_extend(adb *h, const char *org, const char *id, int amount, const char *reason,
                           const char *handled_by, char *err, size_t errlen)
{
    IN_TENANT(h, org, err, errlen, extend_on(c, org, id, amount, reason, handled_by, err, errlen));
}

#define DSR_COLUMNS                                                                          \
    "id::text, kind, status,"                                                                \
    " to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"           \
    " to_char(due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"                \
    " coalesce(to_char(extended_until AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), ''),"\
    " coalesce(to_char(completed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), ''),"  \
    " coalesce(fee_status, ''),"                                                             \
    " status NOT IN ('completed', 'refused') AND coalesce(extended_until, due_at) < now(),"  \
    " encode(subject_enc, 'hex'), extension_reason, handled_by, outcome::text, basis"

static char *dup_or_null(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : adb__strdup(PQgetvalue(r, row, col));
}

static bool fill(const adb__keys *k, const char *org, const PGresult *r, int row, adb__dsr *d)
{
    memset(d, 0, sizeof(*d));
    adb__fmt(d->id, sizeof(d->id), "%s", PQgetvalue(r, row, 0));
    adb__fmt(d->kind, sizeof(d->kind), "%s", PQgetvalue(r, row, 1));
    adb__fmt(d->status, sizeof(d->status), "%s", PQgetvalue(r, row, 2));
    adb__fmt(d->received_at, sizeof(d->received_at), "%s", PQgetvalue(r, row, 3));
    adb__fmt(d->due_at, sizeof(d->due_at), "%s", PQgetvalue(r, row, 4));
    adb__fmt(d->extended_until, sizeof(d->extended_until), "%s", PQgetvalue(r, row, 5));
    adb__fmt(d->completed_at, sizeof(d->completed_at), "%s", PQgetvalue(r, row, 6));
    adb__fmt(d->fee_status, sizeof(d->fee_status), "%s", PQgetvalue(r, row, 7));
    d->overdue = !strcmp(PQgetvalue(r, row, 8), "t");
    if (!PQgetisnull(r, row, 9)) {
        const char *hex = PQgetvalue(r, row, 9);
        size_t n = strlen(hex) / 2;
        unsigned char *raw = malloc(n ? n : 1);
        if (!raw)
            return false;
        for (size_t i = 0; i < n; i++)
            raw[i] = (unsigned char)(adb__hexval(hex[2 * i]) << 4 | adb__hexval(hex[2 * i + 1]));
        d->subject = adb__subject_open(k, org, raw, n); /* NULL: not ours (tampered) */
        free(raw);
    }
    d->extension_reason = dup_or_null(r, row, 10);
    d->handled_by = dup_or_null(r, row, 11);
    d->outcome = dup_or_null(r, row, 12);
    d->basis = dup_or_null(r, row, 13);
    return true;
}

adb_status adb__dsr_get_on(PGconn *c, const adb__keys *k, const char *org, const char *id,
                           adb__dsr *out, char *err, size_t errlen)
{
    char uid[ADB_DSR_ID_LEN + 1];
    adb_status st = ADB_OK;

    memset(out, 0, sizeof(*out));
    if (!id_ok(id, uid)) {
        adb__fmt(err, errlen, "no request %.64s", id ? id : "");
        return ADB_ERR_NOT_FOUND;
    }
    const char *p[] = { uid, org };
    PGresult *r = PQexecParams(c,
                               "SELECT " DSR_COLUMNS " FROM data_subject_request"
                               " WHERE id = $1::uuid AND organization_id = $2",
                               2, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        st = db_error(c, r, "read the request", err, errlen);
    else if (PQntuples(r) != 1) {
        adb__fmt(err, errlen, "no request %s", uid);
        st = ADB_ERR_NOT_FOUND;
    } else if (!fill(k, org, r, 0, out)) {
        adb__fmt(err, errlen, "out of memory");
        st = ADB_ERR_NOMEM;
    }
    PQclear(r);
    return st;
}

adb_status adb__dsr_get(adb *h, const char *org, const char *id, adb__dsr *out, char *err,
                        size_t errlen)
{
    memset(out, 0, sizeof(*out));
    IN_TENANT(h, org, err, errlen, adb__dsr_get_on(c, adb__db_keys(h), org, id, out, err, errlen));
}

static adb_status list_on(PGconn *c, const adb__keys *k, const char *org, const adb__dsr_filter *f,
                          adb__dsr **out, size_t *n, long long *total, char *err, size_t errlen)
{
    char idx_hex[2 * ADB_SUBJECT_INDEX_LEN + 1], lim[24], off[24];
    const char *family = f->family;
    adb_status st = ADB_OK;
    PGresult *r;

    if (f->subject && !adb__subject_index_hex(k, org, f->subject, idx_hex)) {
        adb__fmt(err, errlen, "the subject id must be 1 to %d bytes", ADB_SUBJECT_MAX);
        return ADB_ERR_INVALID;
    }
    if (f->limit < 1 || f->limit > ADB_DSR_LIST_MAX || f->offset < 0) {
        adb__fmt(err, errlen, "limit must be 1 to %d and offset not negative", ADB_DSR_LIST_MAX);
        return ADB_ERR_INVALID;
    }
    adb__fmt(lim, sizeof(lim), "%lld", f->limit);
    adb__fmt(off, sizeof(off), "%lld", f->offset);
    const char *p[] = { org, family, f->kind, f->status, f->subject ? idx_hex : NULL,
                        f->overdue_only ? "t" : "f", lim, off };
#define DSR_WHERE                                                                            \
    " FROM data_subject_request WHERE organization_id = $1"                                  \
    " AND ($2::text IS NULL OR (kind LIKE 'hipaa\\_%') = ($2 = 'hipaa'))"                     \
    " AND ($3::text IS NULL OR kind = $3) AND ($4::text IS NULL OR status = $4)"             \
    " AND ($5::text IS NULL OR subject_index = decode($5, 'hex'))"                           \
    " AND (NOT $6::boolean OR (status NOT IN ('completed', 'refused')"                      \
    "      AND coalesce(extended_until, due_at) < now()))"
    r = PQexecParams(c,
                     "SELECT " DSR_COLUMNS ", count(*) OVER ()" DSR_WHERE
                     " ORDER BY received_at DESC, id DESC LIMIT $7::bigint OFFSET $8::bigint",
                     8, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        st = db_error(c, r, "list requests", err, errlen);
        PQclear(r);
        return st;
    }
    int rows = PQntuples(r);
    if (total)
        *total = rows ? strtoll(PQgetvalue(r, 0, 14), NULL, 10) : 0;
    if (rows == 0 && total && f->offset > 0) {
        /* past the end: the total still counts */
        PGresult *cr = PQexecParams(c, "SELECT count(*)" DSR_WHERE, 6, NULL, p, NULL, NULL, 0);
        if (PQresultStatus(cr) == PGRES_TUPLES_OK && PQntuples(cr) == 1)
            *total = strtoll(PQgetvalue(cr, 0, 0), NULL, 10);
        PQclear(cr);
    }
#undef DSR_WHERE
    *out = calloc((size_t)rows + 1, sizeof(**out));
    if (!*out) {
        PQclear(r);
        adb__fmt(err, errlen, "out of memory");
        return ADB_ERR_NOMEM;
    }
    for (int i = 0; i < rows; i++) {
        if (!fill(k, org, r, i, &(*out)[i])) {
            adb__dsr_free(*out, (size_t)i + 1);
            *out = NULL;
            PQclear(r);
            adb__fmt(err, errlen, "out of memory");
            return ADB_ERR_NOMEM;
        }
    }
    *n = (size_t)rows;
    PQclear(r);
    return ADB_OK;
}

adb_status adb__dsr_list(adb *h, const char *org, const adb__dsr_filter *f, adb__dsr **out,
                         size_t *n, long long *total, char *err, size_t errlen)
{
    *out = NULL;
    *n = 0;
    if (total)
        *total = 0;
    IN_TENANT(h, org, err, errlen, list_on(c, adb__db_keys(h), org, f, out, n, total, err, errlen));
}

adb_status adb__dsr_forget_subject_on(PGconn *c, const adb__keys *k, const char *org,
                                      const char *subject, long long *count, char *err,
                                      size_t errlen)
{
    char idx_hex[2 * ADB_SUBJECT_INDEX_LEN + 1];
    adb_status st = ADB_OK;

    *count = 0;
    if (!adb__subject_index_hex(k, org, subject, idx_hex)) {
        adb__fmt(err, errlen, "the subject id must be 1 to %d bytes", ADB_SUBJECT_MAX);
        return ADB_ERR_INVALID;
    }
    const char *p[] = { org, idx_hex };
    PGresult *r = PQexecParams(c,
                               "UPDATE data_subject_request SET subject_enc = NULL"
                               " WHERE organization_id = $1 AND subject_index = decode($2, 'hex')"
                               " AND subject_enc IS NOT NULL",
                               2, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        st = db_error(c, r, "forget the subject of requests", err, errlen);
    else
        *count = strtoll(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return st;
}

static json_t *str_or_null(const char *s)
{
    return s && *s ? json_string(s) : json_null();
}

json_t *adb__dsr_json(const adb__dsr *d)
{
    json_t *outcome = d->outcome ? json_loads(d->outcome, JSON_DECODE_ANY, NULL) : NULL;

    return json_pack("{s:s, s:s, s:s, s:o, s:s, s:s, s:o, s:o, s:s, s:b, s:o, s:o, s:o, s:o, s:o}",
                     "id", d->id, "kind", d->kind, "status", d->status, "subjectId",
                     str_or_null(d->subject), "receivedAt", d->received_at, "dueAt", d->due_at,
                     "extendedUntil", str_or_null(d->extended_until), "extensionReason",
                     str_or_null(d->extension_reason), "effectiveDueAt",
                     d->extended_until[0] ? d->extended_until : d->due_at, "overdue", d->overdue,
                     "handledBy", str_or_null(d->handled_by), "completedAt",
                     str_or_null(d->completed_at), "outcome", outcome ? outcome : json_null(),
                     "basis", str_or_null(d->basis), "feeStatus", str_or_null(d->fee_status));
}

void adb__dsr_clear(adb__dsr *d)
{
    if (!d)
        return;
    if (d->subject) {
        OPENSSL_cleanse(d->subject, strlen(d->subject));
        free(d->subject);
    }
    free(d->extension_reason);
    free(d->handled_by);
    free(d->outcome);
    free(d->basis);
    memset(d, 0, sizeof(*d));
}

void adb__dsr_free(adb__dsr *d, size_t n)
{
    if (!d)
        return;
    for (size_t i = 0; i < n; i++)
        adb__dsr_clear(&d[i]);
    free(d);
}
