/*
 * gdpr_apply.c - pseudonymization and erasure of one subject's events, live
 * and archived, in one transaction (gdpr.h; docs/gdpr.md).
 */
#include "gdpr.h"
#include "dsr.h"
#include "hold.h"
#include "org_keys.h"
#include "redact.h"
#include "../integrity/erasure_records.h"
#include "../core/adb_internal.h"
#include "../core/buf.h"
#include "../core/util.h"
#include "../integrity/commit.h"
#include "../lifecycle/archive.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

typedef struct ctx {
    adb *db;
    PGconn *c;
    const adb__keys *k;
    const adb__gdpr_op *op;
    adb__gdpr_result *res;
    adb__holds holds;
    unsigned char subject_index[32];
    char erased_at[40];
    char start[40], end[40]; /* the op's bounds as UTC text, "" when open */
    /* erasure: the events pseudonymized earlier for this subject (found by
     * their records' requests, whose blind index is the subject's) */
    char **prior;
    size_t nprior;
    char *prior_array; /* the same as a uuid[] literal */
    char *err;
    size_t errlen;
    /* the last retention rule looked up */
    char rule_key[160];
    bool rule_keep;
    char rule_basis[256];
} ctx;

static adb_status db_error(ctx *x, PGresult *r, const char *what)
{
    adb__fmt(x->err, x->errlen, "%s: %s", what, PQresultErrorMessage(r));
    adb__oneline(x->err);
    PQclear(r);
    return PQstatus(x->c) == CONNECTION_OK ? ADB_ERR_DB_QUERY : ADB_ERR_DB_CONNECT;
}

static adb_status exec_ok(ctx *x, const char *sql)
{
    PGresult *r = PQexec(x->c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        return db_error(x, r, sql);
    PQclear(r);
    return ADB_OK;
}

static void fail(ctx *x, const char *eid, const char *why)
{
    adb__gdpr_result *res = x->res;
    if (res->failed < ADB_GDPR_MAX_FAILURES) {
        adb__fmt(res->failures[res->failed].event_id, 37, "%s", eid ? eid : "");
        adb__fmt(res->failures[res->failed].why, 200, "%s", why);
    }
    res->failed++;
}

static void affected(ctx *x, const char *field)
{
    const char *name = !strncmp(field, "details.", 8) ? "details.*" : field;
    for (int i = 0; i < x->res->naffected; i++)
        if (!strcmp(x->res->affected[i], name))
            return;
    if (x->res->naffected < 8)
        adb__fmt(x->res->affected[x->res->naffected++], 32, "%s", name);
}

/* Whether the event's retention policy forbids deleting its personal data
 * (erasure_rule 'pseudonymize', migration 0028), and its basis. */
static adb_status keep_rule(ctx *x, const char *policy, const char *classification, bool *keep,
                            const char **basis)
{
    char key[160];
    adb__fmt(key, sizeof(key), "%s\n%s", policy ? policy : "", classification ? classification : "");
    if (x->rule_key[0] && !strcmp(key, x->rule_key)) {
        *keep = x->rule_keep;
        *basis = x->rule_basis;
        return ADB_OK;
    }
    const char *p[] = { policy, classification };
    PGresult *r = PQexecParams(x->c, "SELECT p.erasure_rule, p.erasure_basis"
                                     " FROM auditdb_retention_policy_for($1, $2) rp"
                                     " JOIN audit_retention_policy p ON p.policy_name = rp.policy_name",
                               2, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return db_error(x, r, "audit_retention_policy");
    x->rule_keep = PQntuples(r) == 1 && !strcmp(PQgetvalue(r, 0, 0), "pseudonymize");
    adb__fmt(x->rule_basis, sizeof(x->rule_basis), "%s",
             x->rule_keep && !PQgetisnull(r, 0, 1) ? PQgetvalue(r, 0, 1)
                                                   : "GDPR Art. 17(3)(b): legal obligation");
    PQclear(r);
    adb__fmt(x->rule_key, sizeof(x->rule_key), "%s", key);
    *keep = x->rule_keep;
    *basis = x->rule_basis;
    return ADB_OK;
}

static bool is_subject(ctx *x, const char *v)
{
    return v && !strcmp(v, x->op->subject);
}

static bool is_prior(ctx *x, const char *event_id)
{
    for (size_t i = 0; event_id && i < x->nprior; i++)
        if (!strcmp(x->prior[i], event_id))
            return true;
    return false;
}

/* Erasure: the events whose values an earlier pseudonymization of this
 * subject replaced (they no longer carry its id, and still carry its other
 * personal data). */
static adb_status load_prior(ctx *x)
{
    char idx[67];
    adb__bytea_hex(x->subject_index, idx);
    const char *p[] = { x->op->org, idx };
    PGresult *r = PQexecParams(x->c, "SELECT DISTINCT e.event_id::text FROM audit_erasure e"
                                     " JOIN data_subject_request q ON q.id::text = e.request_id"
                                     " WHERE e.organization_id = $1 AND q.organization_id = $1"
                                     " AND q.kind = 'pseudonymization'"
                                     " AND q.subject_index = $2::bytea",
                               2, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return db_error(x, r, "audit_erasure");
    int n = PQntuples(r);
    adb__buf b = { 0 };
    x->prior = calloc((size_t)n + 1, sizeof(*x->prior));
    adb__buf_put(&b, "{", 1);
    for (int i = 0; x->prior && i < n; i++) {
        if (!(x->prior[i] = strdup(PQgetvalue(r, i, 0))))
            break;
        x->nprior++;
        if (i)
            adb__buf_put(&b, ",", 1);
        adb__buf_puts(&b, PQgetvalue(r, i, 0));
    }
    adb__buf_put(&b, "}", 1);
    PQclear(r);
    x->prior_array = b.oom ? NULL : strndup(b.p, b.len);
    adb__buf_free(&b);
    if (!x->prior || x->nprior != (size_t)n || !x->prior_array)
        return ADB_ERR_NOMEM;
    return ADB_OK;
}

/* A row of the subject within the op's time bounds? (archived rows; the
 * live query filters itself) */
static bool in_scope(ctx *x, const char *const v[ADB__ROW_NCOLS])
{
    const char *ts = v[ADB_COL_TIMESTAMP];
    if (!is_subject(x, v[ADB_COL_PRINCIPAL_ID]) && !is_subject(x, v[ADB_COL_TARGET_RESOURCE_ID]) &&
        !is_prior(x, v[ADB_COL_EVENT_ID]))
        return false;
    /* both texts are UTC with six fraction digits (the bounds normalized by
     * the database in run()): they compare as text */
    if (!ts)
        return false;
    if (x->start[0] && strcmp(ts, x->start) < 0)
        return false;
    if (x->end[0] && strcmp(ts, x->end) >= 0)
        return false;
    return true;
}

/* What to do with one row: the fields to erase and the basis. *n = 0: none. */
typedef struct plan {
    const char *fields[4];
    size_t n;
    bool pseudonymize;
    const char *basis;
} plan;

static adb_status plan_row(ctx *x, const char *const v[ADB__ROW_NCOLS], plan *pl)
{
    const adb__gdpr_op *op = x->op;
    bool keep = false;
    const char *rule_basis = NULL;
    adb_status st;

    memset(pl, 0, sizeof(*pl));
    if (op->erase && (st = keep_rule(x, v[ADB_COL_RETENTION_POLICY],
                                     v[ADB_COL_DATA_CLASSIFICATION], &keep, &rule_basis)) != ADB_OK)
        return st;
    pl->pseudonymize = !op->erase || keep;
    if (pl->pseudonymize) {
        bool want_p = true, want_t = true;
        if (!op->erase && op->fields) {
            want_p = want_t = false;
            for (size_t i = 0; i < op->nfields; i++) {
                want_p |= !strcmp(op->fields[i], "principalId");
                want_t |= !strcmp(op->fields[i], "targetResourceId");
            }
        }
        if (want_p && is_subject(x, v[ADB_COL_PRINCIPAL_ID]))
            pl->fields[pl->n++] = "principalId";
        if (want_t && is_subject(x, v[ADB_COL_TARGET_RESOURCE_ID]))
            pl->fields[pl->n++] = "targetResourceId";
        pl->basis = op->erase ? rule_basis
                              : op->legal_basis ? op->legal_basis
                                                : "GDPR Art. 4(5): pseudonymization";
    } else {
        if (is_subject(x, v[ADB_COL_PRINCIPAL_ID]))
            pl->fields[pl->n++] = "principalId";
        if (is_subject(x, v[ADB_COL_TARGET_RESOURCE_ID]))
            pl->fields[pl->n++] = "targetResourceId";
        pl->fields[pl->n++] = "outcomeDescription";
        pl->fields[pl->n++] = "details.*";
        pl->basis = op->legal_basis ? op->legal_basis : "GDPR Art. 17(1)";
    }
    return ADB_OK;
}

/* Refuses the request when a hold covers the row. */
static bool held(ctx *x, const char *const v[ADB__ROW_NCOLS])
{
    const adb__hold *h = adb__holds_match(&x->holds, x->k, x->op->org, x->subject_index,
                                          v[ADB_COL_PRINCIPAL_ID], v[ADB_COL_ACTION],
                                          v[ADB_COL_DATA_CLASSIFICATION]);
    if (!h)
        return false;
    adb__fmt(x->res->hold_id, sizeof(x->res->hold_id), "%s", h->id);
    adb__fmt(x->res->hold_reason, sizeof(x->res->hold_reason), "%s", h->reason);
    adb__fmt(x->res->hold_event, sizeof(x->res->hold_event), "%s",
             v[ADB_COL_EVENT_ID] ? v[ADB_COL_EVENT_ID] : "");
    return true;
}

/* adb__redact with, for an event stored before v3, its erasure records (a
 * residual record vouches for an erasure made before: docs/integrity.md 8b). */
static int redact_row(ctx *x, const char *const *v, const plan *pl, adb__redaction *rd,
                      char *why, size_t whylen)
{
    const char *alg = v[ADB_COL_HASH_ALGORITHM], *eid = v[ADB_COL_EVENT_ID];
    bool pre = !alg || strcmp(alg, ADB_HASH_ALG_C14N) != 0;
    adb__erasure_set es;

    memset(&es, 0, sizeof(es));
    if (pre && eid && adb__erasure_set_load(x->c, &x->k->sig_hmac, x->op->org, eid, &es) < 0)
        return -1;
    int rc = adb__redact(x->k, v, pl->fields, pl->n, pre ? &es : NULL, rd, why, whylen);
    adb__erasure_set_free(&es);
    return rc;
}

/* The signed erasure records of one redacted row. */
static adb_status write_records(ctx *x, const char *const v[ADB__ROW_NCOLS],
                                const adb__redaction *rd, const plan *pl)
{
    char reason[ADB_PSEUDONYM_MAX + 64];
    const char *why = x->op->reason;

    if (pl->pseudonymize) {
        if (!strcmp(x->res->strategy, "encryption"))
            adb__fmt(reason, sizeof(reason), "pseudonymized (encryption; the pseudonym is in "
                     "pseudonym_mapping)");
        else
            adb__fmt(reason, sizeof(reason), "pseudonymized as %s (%s)", x->res->pseudonym,
                     x->res->strategy);
        why = reason;
    }
    for (size_t i = 0; i < rd->nrec; i++) {
        adb__erasure_record rec = {
            .organization_id = x->op->org, .event_id = v[ADB_COL_EVENT_ID],
            .field = rd->rec[i].field, .commitment = rd->rec[i].commitment,
            .request_id = x->op->request_id, .legal_basis = pl->basis, .reason = why,
            .erased_at = x->erased_at,
            .original_content = rd->residual ? rd->original_content : NULL,
            .original_hash = rd->residual ? rd->original_hash : NULL,
        };
        char sig[65];
        if (!adb__erasure_sign(&x->k->sig_hmac, &rec, sig))
            return ADB_ERR_NOMEM;
        const char *p[] = { rec.organization_id, rec.event_id, rec.field, rec.commitment,
                            rec.request_id, rec.legal_basis, rec.reason, rec.erased_at, sig,
                            rec.original_content, rec.original_hash };
        PGresult *r = PQexecParams(x->c, "INSERT INTO audit_erasure (organization_id, event_id,"
                                         " field, commitment, request_id, legal_basis, reason,"
                                         " erased_at, signature, original_content, original_hash)"
                                         " VALUES ($1, $2::uuid, $3, $4, $5, $6, $7,"
                                         " $8::timestamptz, $9, $10, $11)",
                                   11, NULL, p, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            return db_error(x, r, "audit_erasure");
        PQclear(r);
        x->res->records++;
        affected(x, rec.field);
    }
    if (pl->pseudonymize)
        x->res->pseudonymized++;
    else
        x->res->erased++;
    return ADB_OK;
}

/* A text[] literal of the details members to drop. */
static char *text_array(const adb__redaction *rd)
{
    adb__buf b = { 0 };
    adb__buf_put(&b, "{", 1);
    for (size_t i = 0; i < rd->ndrop; i++) {
        if (i)
            adb__buf_put(&b, ",", 1);
        adb__buf_put(&b, "\"", 1);
        for (const char *s = rd->drop[i]; *s; s++) {
            if (*s == '"' || *s == '\\')
                adb__buf_put(&b, "\\", 1);
            adb__buf_put(&b, s, 1);
        }
        adb__buf_put(&b, "\"", 1);
    }
    adb__buf_put(&b, "}", 1);
    if (b.oom) {
        adb__buf_free(&b);
        return NULL;
    }
    char *s = strndup(b.p, b.len);
    adb__buf_free(&b);
    return s;
}

/* ---- live rows ---------------------------------------------------------- */

static adb_status live(ctx *x)
{
    const adb__gdpr_op *op = x->op;
    const char *p[] = { op->org, op->subject, op->start, op->end,
                        x->prior_array ? x->prior_array : "{}" };
    PGresult *r = PQexecParams(x->c, "SELECT " ADB__ROW_COLUMNS " FROM audit_log"
                                     " WHERE organization_id = $1"
                                     " AND (principal_id = $2 OR target_resource_id = $2"
                                     "      OR event_id = ANY ($5::uuid[]))"
                                     " AND ($3::timestamptz IS NULL OR \"timestamp\" >= $3::timestamptz)"
                                     " AND ($4::timestamptz IS NULL OR \"timestamp\" < $4::timestamptz)"
                                     " ORDER BY chain_seq FOR UPDATE",
                               5, NULL, p, NULL, NULL, 0);
    adb_status st = ADB_OK;

    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return db_error(x, r, "audit_log");
    int n = PQntuples(r);
    /* holds first: a held event refuses the whole request */
    for (int i = 0; i < n; i++) {
        const char *v[ADB__ROW_NCOLS];
        for (int j = 0; j < ADB__ROW_NCOLS; j++)
            v[j] = PQgetisnull(r, i, j) ? NULL : PQgetvalue(r, i, j);
        if (held(x, v)) {
            PQclear(r);
            return ADB_ERR_BUSY;
        }
    }
    for (int i = 0; i < n && st == ADB_OK; i++) {
        const char *v[ADB__ROW_NCOLS];
        plan pl;
        adb__redaction rd;
        char why[240];
        for (int j = 0; j < ADB__ROW_NCOLS; j++)
            v[j] = PQgetisnull(r, i, j) ? NULL : PQgetvalue(r, i, j);
        x->res->events++;
        if ((st = plan_row(x, v, &pl)) != ADB_OK)
            break;
        int rc = redact_row(x, v, &pl, &rd, why, sizeof(why));
        if (rc < 0) {
            st = ADB_ERR_NOMEM;
            break;
        }
        if (rc == 0) {
            fail(x, v[ADB_COL_EVENT_ID], why);
            continue;
        }
        if (rd.nrec == 0) {
            adb__redaction_free(&rd);
            continue;
        }
        char *drop = text_array(&rd);
        if (!drop) {
            adb__redaction_free(&rd);
            st = ADB_ERR_NOMEM;
            break;
        }
        const char *up[] = { op->org, v[ADB_COL_ID], v[ADB_COL_TIMESTAMP],
                             rd.principal ? "t" : "f", rd.target ? "t" : "f",
                             rd.outcome ? "t" : "f", drop, rd.field_keys };
        PGresult *u = PQexecParams(x->c,
            "UPDATE audit_log SET"
            " principal_id = CASE WHEN $4::boolean THEN NULL ELSE principal_id END,"
            " target_resource_id = CASE WHEN $5::boolean THEN NULL ELSE target_resource_id END,"
            " outcome_description = CASE WHEN $6::boolean THEN NULL ELSE outcome_description END,"
            " details = CASE WHEN details IS NULL THEN NULL ELSE details - $7::text[] END,"
            " commit_key = NULL, commit_field_keys = $8::jsonb"
            " WHERE organization_id = $1 AND id = $2::bigint AND \"timestamp\" = $3::timestamptz",
            8, NULL, up, NULL, NULL, 0);
        free(drop);
        if (PQresultStatus(u) != PGRES_COMMAND_OK || atoi(PQcmdTuples(u)) != 1) {
            adb__redaction_free(&rd);
            if (PQresultStatus(u) == PGRES_COMMAND_OK) {
                PQclear(u);
                adb__fmt(x->err, x->errlen, "event %s vanished during the erasure",
                         v[ADB_COL_EVENT_ID]);
                st = ADB_ERR_INTERNAL;
            } else {
                st = db_error(x, u, "audit_log");
            }
            break;
        }
        PQclear(u);
        st = write_records(x, v, &rd, &pl);
        adb__redaction_free(&rd);
    }
    PQclear(r);
    return st;
}

/* ---- archived rows ------------------------------------------------------ */

typedef struct rowcopy {
    char *v[ADB__ROW_NCOLS];
} rowcopy;

static void rows_free(rowcopy *rows, size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (int j = 0; j < ADB__ROW_NCOLS; j++)
            free(rows[i].v[j]);
    free(rows);
}

/* The text PostgreSQL prints for a redacted row's details and field keys
 * (archives store exactly that text). */
static adb_status pg_texts(ctx *x, rowcopy *row, const adb__redaction *rd)
{
    char *drop = text_array(rd);
    if (!drop)
        return ADB_ERR_NOMEM;
    const char *p[] = { row->v[ADB_COL_DETAILS], drop, rd->field_keys };
    PGresult *r = PQexecParams(x->c, "SELECT ($1::jsonb - $2::text[])::text, $3::jsonb::text",
                               3, NULL, p, NULL, NULL, 0);
    free(drop);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return db_error(x, r, "redacting an archived row");
    char *d = PQgetisnull(r, 0, 0) ? NULL : strdup(PQgetvalue(r, 0, 0));
    char *f = PQgetisnull(r, 0, 1) ? NULL : strdup(PQgetvalue(r, 0, 1)); /* before v3: none */
    bool f_lost = !f && !PQgetisnull(r, 0, 1);
    PQclear(r);
    if ((!d && row->v[ADB_COL_DETAILS]) || f_lost) {
        free(d);
        free(f);
        return ADB_ERR_NOMEM;
    }
    free(row->v[ADB_COL_DETAILS]);
    row->v[ADB_COL_DETAILS] = d;
    free(row->v[ADB_COL_COMMIT_FIELD_KEYS]);
    row->v[ADB_COL_COMMIT_FIELD_KEYS] = f;
    free(row->v[ADB_COL_COMMIT_KEY]);
    row->v[ADB_COL_COMMIT_KEY] = NULL;
    if (rd->principal) {
        free(row->v[ADB_COL_PRINCIPAL_ID]);
        row->v[ADB_COL_PRINCIPAL_ID] = NULL;
    }
    if (rd->target) {
        free(row->v[ADB_COL_TARGET_RESOURCE_ID]);
        row->v[ADB_COL_TARGET_RESOURCE_ID] = NULL;
    }
    if (rd->outcome) {
        free(row->v[ADB_COL_OUTCOME_DESCRIPTION]);
        row->v[ADB_COL_OUTCOME_DESCRIPTION] = NULL;
    }
    return ADB_OK;
}

/* The number member of a JSON object, or -1. */
static int json_int(const adb_json *o, const char *name)
{
    const adb_json *v = o ? adb__json_get(o, name) : NULL;
    return v && v->type == ADB_JSON_NUMBER ? atoi(v->str) : -1;
}

/* Rewrites archive id with the rows given (same positions, same created_at
 * and policy). */
static adb_status rewrite_archive(ctx *x, const char *id, rowcopy *rows, size_t n)
{
    adb__archive_builder *b = adb__archive_builder_new(false);
    adb__archive_built built;
    adb_status st = ADB_OK;
    char berr[256];

    if (!b)
        return ADB_ERR_NOMEM;
    for (size_t i = 0; i < n; i++)
        if (!adb__archive_builder_add(b, (const char *const *)rows[i].v, berr, sizeof(berr))) {
            adb__fmt(x->err, x->errlen, "archive %s: %s", id, berr);
            adb__archive_builder_free(b);
            return ADB_ERR_INTERNAL;
        }
    if (!adb__archive_builder_finish(b, &built, berr, sizeof(berr))) {
        adb__fmt(x->err, x->errlen, "archive %s: %s", id, berr);
        adb__archive_builder_free(b);
        return ADB_ERR_INTERNAL;
    }
    adb__archive_builder_free(b);
    /* what the old metadata says besides the figures */
    const char *ip[] = { id };
    PGresult *r = PQexecParams(x->c, "SELECT metadata::text FROM archive_storage WHERE id = $1",
                               1, NULL, ip, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        adb__archive_built_free(&built);
        return db_error(x, r, "archive_storage");
    }
    adb_json_error je;
    adb_json_doc *md = adb__json_parse(PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0), NULL, &je);
    PQclear(r);
    const adb_json *m = md ? adb__json_root(md) : NULL;
    const adb_json *pol = m ? adb__json_get(m, "policy") : NULL;
    const adb_json *pname = pol ? adb__json_get(pol, "name") : NULL;
    const adb_json *created = m ? adb__json_get(m, "createdAt") : NULL;
    adb__archive_meta_extra ex = {
        .policy_name = pname && pname->type == ADB_JSON_STRING ? pname->str : NULL,
        .archive_after_days = pol ? json_int(pol, "archiveAfterDays") : -1,
        .retention_days = pol ? json_int(pol, "retentionDays") : -1,
        .created_at = created && created->type == ADB_JSON_STRING ? created->str : x->erased_at,
    };
    char *meta = adb__archive_metadata_json(&built, &ex);
    adb__json_free(md);
    if (!meta) {
        adb__archive_built_free(&built);
        return ADB_ERR_NOMEM;
    }
    const char *up[] = { id, meta, (const char *)built.payload };
    int lens[] = { 0, 0, (int)built.payload_len };
    int fmts[] = { 0, 0, 1 };
    r = PQexecParams(x->c, "UPDATE archive_storage SET metadata = $2::jsonb, payload = $3::bytea"
                           " WHERE id = $1",
                     3, NULL, up, lens, fmts, 0);
    free(meta);
    adb__archive_built_free(&built);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        return db_error(x, r, "archive_storage");
    PQclear(r);
    x->res->archives_rewritten++;
    return st;
}

static adb_status one_archive(ctx *x, const char *id)
{
    const char *ip[] = { id };
    PGresult *r = PQexecParams(x->c, "SELECT deleted_at IS NOT NULL FROM archive_storage"
                                     " WHERE id = $1 FOR UPDATE",
                               1, NULL, ip, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return db_error(x, r, "archive_storage");
    bool stub = PQntuples(r) != 1 || !strcmp(PQgetvalue(r, 0, 0), "t");
    PQclear(r);
    if (stub)
        return ADB_OK;
    adb_status st;
    adb__archive_reader *rd = adb__archive_open_ex(x->c, id, false, &st, x->err, x->errlen);
    if (!rd)
        return st;
    rowcopy *rows = NULL;
    size_t n = 0, cap = 0, hits = 0;
    const char *v[ADB__ROW_NCOLS];
    int rc;
    st = ADB_OK;
    while ((rc = adb__archive_next(rd, v)) == 1) {
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 256;
            rowcopy *nr = realloc(rows, nc * sizeof(*nr));
            if (!nr) {
                st = ADB_ERR_NOMEM;
                break;
            }
            rows = nr;
            cap = nc;
        }
        memset(&rows[n], 0, sizeof(rows[n]));
        for (int j = 0; j < ADB__ROW_NCOLS; j++)
            if (v[j] && !(rows[n].v[j] = strdup(v[j])))
                st = ADB_ERR_NOMEM;
        n++;
        if (st != ADB_OK)
            break;
        if (in_scope(x, v))
            hits++;
    }
    if (st == ADB_OK && rc < 0) {
        adb__fmt(x->err, x->errlen, "archive %s: %s (an erasure rewrites only archives that "
                 "verify)", id, adb__archive_error(rd));
        st = ADB_ERR_INVALID;
    }
    adb__archive_close(rd);
    if (st != ADB_OK || hits == 0) {
        rows_free(rows, n);
        return st;
    }
    for (size_t i = 0; i < n; i++)
        if (in_scope(x, (const char *const *)rows[i].v) && held(x, (const char *const *)rows[i].v)) {
            rows_free(rows, n);
            return ADB_ERR_BUSY;
        }
    size_t changed = 0;
    for (size_t i = 0; i < n && st == ADB_OK; i++) {
        const char *const *rv = (const char *const *)rows[i].v;
        plan pl;
        adb__redaction red;
        char why[240];
        if (!in_scope(x, rv))
            continue;
        x->res->events++;
        x->res->archived++;
        if ((st = plan_row(x, rv, &pl)) != ADB_OK)
            break;
        int k = redact_row(x, rv, &pl, &red, why, sizeof(why));
        if (k < 0) {
            st = ADB_ERR_NOMEM;
            break;
        }
        if (k == 0) {
            fail(x, rv[ADB_COL_EVENT_ID], why);
            continue;
        }
        if (red.nrec) {
            st = write_records(x, rv, &red, &pl);
            if (st == ADB_OK)
                st = pg_texts(x, &rows[i], &red);
            changed++;
        }
        adb__redaction_free(&red);
    }
    if (st == ADB_OK && changed)
        st = rewrite_archive(x, id, rows, n);
    rows_free(rows, n);
    return st;
}

static adb_status archives(ctx *x)
{
    char **ids = NULL;
    size_t n = 0;
    adb_status st = adb__archive_ids(x->c, x->op->org, &ids, &n, x->err, x->errlen);

    for (size_t i = 0; st == ADB_OK && i < n; i++)
        st = one_archive(x, ids[i]);
    adb__archive_ids_free(ids, n);
    return st;
}

/* ---- the operation ------------------------------------------------------ */

static adb_status run(ctx *x)
{
    const adb__gdpr_op *op = x->op;
    adb__gdpr_result *res = x->res;
    adb_status st;
#define UTC_TEXT(e) "to_char((" e ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
    const char *bp[] = { op->start, op->end };
    PGresult *r = PQexecParams(x->c, "SELECT " UTC_TEXT("now()") ", " UTC_TEXT("$1::timestamptz")
                                     ", " UTC_TEXT("$2::timestamptz"),
                               2, NULL, bp, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        adb_status bad = db_error(x, r, "the time bounds");
        return bad == ADB_ERR_DB_QUERY ? ADB_ERR_INVALID : bad;
    }
    adb__fmt(x->erased_at, sizeof(x->erased_at), "%s", PQgetvalue(r, 0, 0));
    adb__fmt(x->start, sizeof(x->start), "%s", PQgetvalue(r, 0, 1));
    adb__fmt(x->end, sizeof(x->end), "%s", PQgetvalue(r, 0, 2));
    PQclear(r);
    if ((st = adb__holds_load(x->c, op->org, &x->holds, x->err, x->errlen)) != ADB_OK)
        return st;
    if (!op->erase) {
        st = adb__pseudonym_get_or_create(x->c, x->k, op->org, op->strategy, op->subject,
                                          op->request_id, res->pseudonym, res->strategy,
                                          &res->created, x->err, x->errlen);
    } else {
        /* kept events get the hash pseudonym; no mapping stays */
        adb__fmt(res->strategy, sizeof(res->strategy), "hash");
        if (!adb__pseudonym_make(x->k, op->org, ADB_PSN_HASH, op->subject, res->pseudonym)) {
            adb__fmt(x->err, x->errlen, "could not make a pseudonym");
            st = ADB_ERR_INTERNAL;
        }
    }
    if (st == ADB_OK && op->erase)
        st = load_prior(x);
    if (st == ADB_OK)
        st = live(x);
    if (st == ADB_OK)
        st = archives(x);
    if (st == ADB_OK && op->erase) {
        st = adb__pseudonym_forget(x->c, x->k, op->org, op->subject, &res->mapping_deleted,
                                   x->err, x->errlen);
        /* the subject's requests keep their blind index only (dsr.c) */
        if (st == ADB_OK)
            st = adb__dsr_forget_subject_on(x->c, x->k, op->org, op->subject,
                                            &res->requests_forgotten, x->err, x->errlen);
        /* finished export files may hold the values: expired with their chunks */
        const char *p[] = { op->org };
        if (st == ADB_OK) {
            r = PQexecParams(x->c, "WITH e AS (UPDATE audit_export SET state = 'expired',"
                                   " finished_at = coalesce(finished_at, now())"
                                   " WHERE organization_id = $1 AND state = 'completed' RETURNING id)"
                                   " SELECT count(*) FROM e",
                             1, NULL, p, NULL, NULL, 0);
            if (PQresultStatus(r) != PGRES_TUPLES_OK)
                st = db_error(x, r, "audit_export");
            else {
                res->exports_expired = atoll(PQgetvalue(r, 0, 0));
                PQclear(r);
            }
        }
        if (st == ADB_OK) {
            r = PQexecParams(x->c, "DELETE FROM audit_export_chunk c USING audit_export e"
                                   " WHERE c.export_id = e.id AND e.organization_id = $1"
                                   " AND e.state = 'expired'",
                             1, NULL, p, NULL, NULL, 0);
            if (PQresultStatus(r) != PGRES_COMMAND_OK)
                st = db_error(x, r, "audit_export_chunk");
            else
                PQclear(r);
        }
    }
    if (st == ADB_OK && res->pseudonymized && op->erase)
        adb__fmt(res->basis, sizeof(res->basis), "%s", x->rule_basis);
    return st;
}

adb_status adb__gdpr_apply(adb *db, const adb__gdpr_op *op, adb__gdpr_result *res, char *err,
                           size_t errlen)
{
    ctx x = { .db = db, .k = adb__db_keys(db), .op = op, .res = res, .err = err,
              .errlen = errlen };
    adb_status st;

    memset(res, 0, sizeof(*res));
    if (!op->org || !op->subject || !*op->subject || strlen(op->subject) > ADB_PSN_SUBJECT_MAX ||
        !op->request_id || !*op->request_id) {
        adb__fmt(err, errlen, "organization, subject (1 to %d bytes) and request id are required",
                 ADB_PSN_SUBJECT_MAX);
        return ADB_ERR_INVALID;
    }
    if (!adb__org_index(x.k, op->org, op->subject, x.subject_index)) {
        adb__fmt(err, errlen, "could not derive the organization's keys");
        return ADB_ERR_INTERNAL;
    }
    if (!(x.c = adb_pool_acquire(adb__pool(db), &st, err, errlen)))
        return st;
    st = exec_ok(&x, "BEGIN");
    if (st == ADB_OK)
        st = run(&x);
    if (st == ADB_OK)
        st = exec_ok(&x, "COMMIT");
    else
        PQclear(PQexec(x.c, "ROLLBACK"));
    adb__holds_free(&x.holds);
    for (size_t i = 0; i < x.nprior; i++)
        free(x.prior[i]);
    free(x.prior);
    free(x.prior_array);
    adb_pool_release(adb__pool(db), x.c);
    if (st == ADB_ERR_BUSY)
        adb__fmt(err, errlen, "legal hold %s covers event %s: %s", res->hold_id, res->hold_event,
                 res->hold_reason);
    return st;
}
