/*
 * archive_ops.c - operations on one archive: verify (checksums, then every
 * row's hash, signature and chain link), restore (the rows back into
 * audit_log and the archive removed, in one transaction) and export (the
 * JSON Lines as stored).
 */
#include "archive.h"
#include "../integrity/commit.h"
#include "../integrity/erasure_records.h"
#include "../core/adb_internal.h"
#include "../core/buf.h"
#include "../core/util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* ---- verify ------------------------------------------------------------- */

typedef struct vctx {
    adb__archive_problem_fn fn;
    void *ud;
    long long problems;
    size_t reported;              /* reader problems already passed on */
} vctx;

static void report(vctx *x, const char *kind, int64_t seq, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void report(vctx *x, const char *kind, int64_t seq, const char *fmt, ...)
{
    char msg[640];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    x->problems++;
    if (x->fn)
        x->fn(x->ud, kind, seq, msg);
}

/* Passes on the checks of the reader that failed since the last call. */
static void reader_problems(vctx *x, const adb__archive_reader *rd)
{
    const char *const *msgs;
    size_t n = adb__archive_problems(rd, &msgs);

    for (; x->reported < n; x->reported++)
        report(x, "archive_mismatch", 0, "%s", msgs[x->reported]);
}

/* An archived v3 row whose commitment key is gone: recomputed with the
 * commitments of the event's signed erasure records (docs/integrity.md
 * section 8); an archived row stored before v3 whose content no longer
 * gives its hash or link: its residual record vouches for it (section 8b).
 * Each record used is named as a "lawful_erasure" (not a problem), one not
 * signed with K_sig is "erasure_record_invalid". 1, 0, -1 as
 * adb__row_recompute. */
static int with_erasures(adb *db, PGconn *c, vctx *x, const char *const *v, int64_t seq,
                         adb__row_expect *e)
{
    const adb__keys *k = adb__db_keys(db);
    const char *eid = v[ADB_COL_EVENT_ID], *org = v[ADB_COL_ORGANIZATION_ID];
    adb__erasure_set es;
    int rc;

    if (!c || !eid || !org)
        return 1;
    if (adb__erasure_set_load(c, &k->sig_hmac, org, eid, &es) < 0)
        return -1;
    if (es.n == 0)
        return 1;
    for (int i = 0; i < es.n; i++)
        if (!es.valid[i])
            report(x, "erasure_record_invalid", seq, "event %s (seq %" PRId64 "): the erasure "
                   "record of field \"%.60s\" is not signed by this server", eid, seq,
                   adb__erasure_set_record(&es, i).field);
    char original[65];
    bool v3 = v[ADB_COL_HASH_ALGORITHM] && !strcmp(v[ADB_COL_HASH_ALGORITHM], ADB_HASH_ALG_C14N);
    if (v3) {
        rc = adb__row_recompute_erased(k, v, es.erased, es.nvalid, e);
    } else { /* stored before v3: a residual record (docs/integrity.md 8b) */
        rc = 1;
        if (adb__erasure_set_residual(&es, v[ADB_COL_HASH], e->content, original) > 0)
            adb__row_expect_residual(k, v, original, e);
        else
            original[0] = '\0';
    }
    if (rc == 1 && v[ADB_COL_HASH] && !strcmp(e->hash, v[ADB_COL_HASH]) && x->fn &&
        (v3 || original[0]))
        for (int i = 0; i < es.n; i++)
            if (adb__erasure_set_names(&es, i, v3 ? NULL : original)) {
                adb__erasure_record rec = adb__erasure_set_record(&es, i);
                char msg[640];
                snprintf(msg, sizeof(msg), "event %s (seq %" PRId64 "): %s erased by request %s "
                         "(%s)", eid, seq, rec.field, rec.request_id, rec.legal_basis);
                x->fn(x->ud, "lawful_erasure", seq, msg); /* named, not a problem */
            }
    adb__erasure_set_free(&es);
    return rc;
}

adb_status adb__archive_verify(adb *db, const char *id, adb__archive_problem_fn on_problem,
                               void *ud, long long *rows, long long *problems, char *err,
                               size_t errlen)
{
    vctx x = { on_problem, ud, 0, 0 };
    adb_status st;
    PGconn *c = adb_pool_acquire(adb__pool(db), &st, err, errlen);
    adb__archive_reader *rd;
    const char *v[ADB__ROW_NCOLS];
    bool have_prev = false;
    int64_t prev_seq = 0;
    char prev_chain[65] = "";
    int rc;

    *rows = 0;
    *problems = 0;
    if (!c)
        return st;
    rd = adb__archive_open_ex(c, id, true, &st, err, errlen);
    if (!rd) {
        adb_pool_release(adb__pool(db), c);
        if (st != ADB_ERR_INVALID)
            return st;
        report(&x, "unreadable", 0, "%s", err); /* the metadata or payload cannot be read */
        *problems = x.problems;
        return ADB_OK;
    }
    const adb__archive_info *in = adb__archive_reader_info(rd);
    reader_problems(&x, rd);
    while ((rc = adb__archive_next(rd, v)) == 1) {
        int64_t seq = strtoll(v[ADB_COL_CHAIN_SEQ], NULL, 10);
        const char *prev = v[ADB_COL_PREV_CHAIN_HASH] ? v[ADB_COL_PREV_CHAIN_HASH] : "";
        const char *chain = v[ADB_COL_CHAIN_HASH] ? v[ADB_COL_CHAIN_HASH] : "";
        const char *eid = v[ADB_COL_ID] ? v[ADB_COL_ID] : "-";
        (*rows)++;
        if (!in->stub) {
            adb__row_expect e;
            int ok = adb__row_recompute(adb__db_keys(db), v, &e);
            const char *hash = v[ADB_COL_HASH] ? v[ADB_COL_HASH] : "";
            const char *sig = v[ADB_COL_SIGNATURE] ? v[ADB_COL_SIGNATURE] : "";
            bool v3 = v[ADB_COL_HASH_ALGORITHM] &&
                      !strcmp(v[ADB_COL_HASH_ALGORITHM], ADB_HASH_ALG_C14N);
            if (ok == 1 && (e.key_erased || (!v3 && (strcmp(e.hash, hash) ||
                                                     strcmp(e.link, chain)))))
                ok = with_erasures(db, c, &x, v, seq, &e);
            if (ok < 0) {
                adb__fmt(err, errlen, "out of memory");
                adb__archive_close(rd);
                adb_pool_release(adb__pool(db), c);
                return ADB_ERR_NOMEM;
            }
            if (ok == 0)
                report(&x, "unreadable", seq, "event %s (seq %" PRId64 "): %s", eid, seq, e.why);
            if (ok && strcmp(e.hash, hash) != 0)
                report(&x, "hash_mismatch", seq, "event %s (seq %" PRId64 "): content changed: its "
                       "hash is %s, it stores %s", eid, seq, e.hash, hash);
            if (ok && strcmp(e.signature, sig) != 0)
                report(&x, "signature_invalid", seq, "event %s (seq %" PRId64 "): signature does "
                       "not match its hash", eid, seq);
            if (ok && strcmp(e.link, chain) != 0)
                report(&x, "chain_link_mismatch", seq, "event %s (seq %" PRId64 "): chain link "
                       "does not match its content, position or predecessor", eid, seq);
        }
        if (have_prev && seq == prev_seq + 1 && strcmp(prev, prev_chain) != 0)
            report(&x, "chain_break", seq, "position %" PRId64 " does not link to position %" PRId64
                   " (expected %s, found %s)", seq, prev_seq, prev_chain, prev);
        else if (seq == 1 && strcmp(prev, adb__chain_genesis) != 0)
            report(&x, "chain_break", seq, "position 1 does not start the chain");
        have_prev = true;
        prev_seq = seq;
        adb__fmt(prev_chain, sizeof(prev_chain), "%s", chain);
        reader_problems(&x, rd);
    }
    if (rc < 0)
        report(&x, "unreadable", 0, "%s", adb__archive_error(rd));
    reader_problems(&x, rd);
    adb__archive_close(rd);
    adb_pool_release(adb__pool(db), c);
    *problems = x.problems;
    return ADB_OK;
}

/* ---- restore ------------------------------------------------------------ */

typedef struct months {
    char (*m)[8];
    size_t n, cap;
} months;

static bool add_month(months *ms, const char *ts)
{
    for (size_t i = 0; i < ms->n; i++)
        if (!strncmp(ms->m[i], ts, 7))
            return true;
    if (ms->n == ms->cap) {
        size_t cap = ms->cap ? ms->cap * 2 : 4;
        char (*p)[8] = realloc(ms->m, cap * sizeof(*p));
        if (!p)
            return false;
        ms->m = p;
        ms->cap = cap;
    }
    adb__fmt(ms->m[ms->n++], 8, "%.7s", ts);
    return true;
}

static adb_status sql_ok(PGresult *r, ExecStatusType want, const char *what, char *err,
                         size_t errlen)
{
    adb_status st = ADB_OK;

    if (PQresultStatus(r) != want) {
        adb__fmt(err, errlen, "could not %s: %s", what, PQresultErrorMessage(r));
        adb__oneline(err);
        st = ADB_ERR_DB_QUERY;
    }
    PQclear(r);
    return st;
}

/* First pass: every check of the archive, and the months its rows need. */
static adb_status restore_check(PGconn *c, const char *id, months *ms, char *err, size_t errlen)
{
    adb_status st;
    adb__archive_reader *rd = adb__archive_open_ex(c, id, false, &st, err, errlen);
    const char *v[ADB__ROW_NCOLS];
    int rc;

    if (!rd)
        return st;
    if (adb__archive_reader_info(rd)->stub) {
        adb__fmt(err, errlen, "archive %s is the stub of deleted events: nothing to restore", id);
        adb__archive_close(rd);
        return ADB_ERR_INVALID;
    }
    while ((rc = adb__archive_next(rd, v)) == 1) {
        if (!v[ADB_COL_TIMESTAMP] || strlen(v[ADB_COL_TIMESTAMP]) < 7 ||
            !add_month(ms, v[ADB_COL_TIMESTAMP])) {
            adb__fmt(err, errlen, "archive %s: an event without a timestamp, or out of memory", id);
            st = ADB_ERR_INVALID;
            break;
        }
    }
    if (st == ADB_OK && rc < 0) {
        adb__fmt(err, errlen, "%s", adb__archive_error(rd));
        st = ADB_ERR_INVALID;
    }
    adb__archive_close(rd);
    return st;
}

/* Second pass: the rows into audit_log with COPY. */
static adb_status restore_copy(PGconn *c, const char *id, long long *rows, char *err, size_t errlen)
{
    adb__archive_reader *rd;
    adb__buf line = { 0 };
    const char *v[ADB__ROW_NCOLS];
    adb_status st = ADB_OK;
    PGresult *r;
    int rc;

    if (!(rd = adb__archive_open(c, id, err, errlen)))
        return ADB_ERR_INVALID;
    adb__buf_puts(&line, "COPY audit_log (");
    for (int i = 0; i < ADB__ROW_NCOLS; i++)
        adb__buf_printf(&line, "%s\"%s\"", i ? ", " : "", adb__row_names[i]);
    adb__buf_puts(&line, ") FROM STDIN");
    r = line.oom ? NULL : PQexec(c, line.p);
    if (PQresultStatus(r) != PGRES_COPY_IN) {
        st = sql_ok(r, PGRES_COPY_IN, "restore events", err, errlen);
        adb__archive_close(rd);
        adb__buf_free(&line);
        return st == ADB_OK ? ADB_ERR_NOMEM : st;
    }
    PQclear(r);
    while ((rc = adb__archive_next(rd, v)) == 1) {
        line.len = 0;
        for (int i = 0; i < ADB__ROW_NCOLS; i++) {
            if (i)
                adb__buf_put(&line, "\t", 1);
            adb__buf_copy_value(&line, v[i]);
        }
        adb__buf_put(&line, "\n", 1);
        if (line.oom || PQputCopyData(c, line.p, (int)line.len) != 1)
            break;
        (*rows)++;
    }
    if (rc == 1 || rc < 0) { /* stopped early: abort the COPY */
        adb__fmt(err, errlen, "%s", rc < 0 ? adb__archive_error(rd) : "could not send events");
        PQputCopyEnd(c, "restore aborted");
        st = ADB_ERR_INVALID;
    } else {
        PQputCopyEnd(c, NULL);
    }
    while ((r = PQgetResult(c)) != NULL) {
        if (st == ADB_OK)
            st = sql_ok(r, PGRES_COMMAND_OK, "restore events", err, errlen);
        else
            PQclear(r);
    }
    adb__buf_free(&line);
    adb__archive_close(rd);
    return st;
}

adb_status adb__archive_restore(adb *db, const char *id, long long *rows, char *err,
                                size_t errlen)
{
    adb_status st;
    PGconn *c = adb_pool_acquire(adb__pool(db), &st, err, errlen);
    months ms = { 0 };
    const char *p[] = { id };
    PGresult *r;

    *rows = 0;
    if (!c)
        return st;
    if ((st = sql_ok(PQexec(c, "BEGIN"), PGRES_COMMAND_OK, "begin", err, errlen)) != ADB_OK)
        goto out;
    r = PQexecParams(c, "SELECT 1 FROM archive_storage WHERE id = $1 FOR UPDATE", 1, NULL, p, NULL,
                     NULL, 0);
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 0) {
        PQclear(r);
        adb__fmt(err, errlen, "no archive %s", id);
        st = ADB_ERR_NOT_FOUND;
        goto out;
    }
    if ((st = sql_ok(r, PGRES_TUPLES_OK, "lock the archive", err, errlen)) != ADB_OK ||
        (st = restore_check(c, id, &ms, err, errlen)) != ADB_OK)
        goto out;
    for (size_t i = 0; i < ms.n; i++) {
        char day[16];
        const char *mp[] = { day };
        adb__fmt(day, sizeof(day), "%s-01", ms.m[i]);
        r = PQexecParams(c, "SELECT auditdb_ensure_partition($1::date)", 1, NULL, mp, NULL, NULL, 0);
        if ((st = sql_ok(r, PGRES_TUPLES_OK, "create a partition", err, errlen)) != ADB_OK)
            goto out;
    }
    if ((st = restore_copy(c, id, rows, err, errlen)) != ADB_OK)
        goto out;
    r = PQexecParams(c, "DELETE FROM archive_storage WHERE id = $1", 1, NULL, p, NULL, NULL, 0);
    if ((st = sql_ok(r, PGRES_COMMAND_OK, "remove the archive", err, errlen)) != ADB_OK)
        goto out;
    r = PQexec(c, "COMMIT");
    if (PQresultStatus(r) == PGRES_COMMAND_OK && strcmp(PQcmdStatus(r), "COMMIT") != 0) {
        PQclear(r);
        adb__fmt(err, errlen, "could not restore archive %s: the transaction was rolled back", id);
        st = ADB_ERR_DB_QUERY;
        goto out;
    }
    st = sql_ok(r, PGRES_COMMAND_OK, "commit the restore", err, errlen);
out:
    if (PQtransactionStatus(c) != PQTRANS_IDLE)
        PQclear(PQexec(c, "ROLLBACK"));
    if (st != ADB_OK)
        *rows = 0;
    free(ms.m);
    adb_pool_release(adb__pool(db), c);
    return st;
}

/* ---- export ------------------------------------------------------------- */

adb_status adb__archive_export(adb *db, const char *id, FILE *out, long long *rows, char *err,
                               size_t errlen)
{
    adb_status st;
    PGconn *c = adb_pool_acquire(adb__pool(db), &st, err, errlen);
    adb__archive_reader *rd;
    const char *line;
    size_t len;
    int rc;

    *rows = 0;
    if (!c)
        return st;
    if (!(rd = adb__archive_open_ex(c, id, false, &st, err, errlen))) {
        adb_pool_release(adb__pool(db), c);
        return st;
    }
    while ((rc = adb__archive_next_line(rd, &line, &len)) == 1) {
        if (fwrite(line, 1, len, out) != len || fputc('\n', out) == EOF) {
            adb__fmt(err, errlen, "could not write archive %s: %s", id, strerror(errno));
            st = ADB_ERR_IO;
            break;
        }
        (*rows)++;
    }
    if (st == ADB_OK && rc < 0) {
        adb__fmt(err, errlen, "%s", adb__archive_error(rd));
        st = ADB_ERR_INVALID;
    }
    adb__archive_close(rd);
    if (st == ADB_OK) {
        const char *p[] = { id };
        st = sql_ok(PQexecParams(c, "UPDATE archive_storage SET retrieved_count = retrieved_count + 1,"
                                    " last_retrieved_at = now() WHERE id = $1",
                                 1, NULL, p, NULL, NULL, 0),
                    PGRES_COMMAND_OK, "count the retrieval", err, errlen);
    }
    adb_pool_release(adb__pool(db), c);
    return st;
}
