/*
 * writer.c - batches, one transaction each, acknowledged after COMMIT.
 */
#include "writer.h"
#include "growth.h"
#include "heads.h"
#include "outcome.h"
#include "../core/buf.h"
#include "../core/util.h"
#include "../monitor/errors.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STATEMENT_TIMEOUT_MS 30000
#define MAX_KNOWN_MONTHS 512
#define LINGER_MS 4      /* longest wait for a fuller batch */
#define LINGER_BATCH 500 /* events a batch gathers while another is written */
#define OUTCOME_BUDGET_MS 5000 /* how long a lost COMMIT's outcome is sought */

/* Why a batch was not stored, for process() to decide what comes next. */
typedef struct batch_error {
    char msg[ADB_ERRMSG_MAX];
    bool conn_lost;    /* the connection broke: nothing stored */
    bool conflict;     /* a chain head moved under a speculative batch: write it locked */
    bool no_partition; /* a month's partition is gone (maintenance dropped it) */
    bool refused;      /* PostgreSQL refused a row for what it holds (refused_sqlstate) */
    long refused_at;   /* that row's index in jobs[] when PostgreSQL named it, else -1 */
    char column[64];   /* the column PostgreSQL named, if any */
    bool unknown;      /* the connection broke during COMMIT and the outcome stayed unknown */
    bool stale;        /* conn_lost before the batch's transaction began: the connection was
                        * dead when lent (the server restarted since its last use) */
} batch_error;

struct adb__writer {
    adb_pool *pool;
    const adb__keys *keys;
    adb__writer_options o;
    pthread_mutex_t mu;
    pthread_cond_t not_empty;
    adb__job *ring;
    size_t head, count;
    bool stopping;
    pthread_t *threads;
    int nthreads;
    int active; /* writer threads inside a batch */
    /* months known to have a partition (year * 12 + month - 1) */
    pthread_mutex_t months_mu;
    int months[MAX_KNOWN_MONTHS];
    int nmonths;
    /* figures */
    adb__heads *heads; /* chain-head cache and turns (heads.h) */
    adb__growth *growth; /* rows stored per partition, when to analyze it (growth.h) */
    long long events_written, batches, duplicates, failed, busy, conflicts;
    int last_batch;
    long long batch_le[ADB_WRITER_BATCH_NBOUNDS], batch_events;
    double rate_eps; /* recent events per second, for Retry-After */
    /* who else sees every committed batch (adb__writer_observe), under mu */
    adb__writer_observer observer;
    void *observer_ctx;
    int observing; /* calls in progress */
    pthread_cond_t observed; /* signalled when observing drops to 0 */
};

/* ---- tickets ------------------------------------------------------------ */

void adb__ticket_init(adb__ticket *t, size_t n)
{
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cv, NULL);
    t->remaining = n;
}

void adb__ticket_wait(adb__ticket *t)
{
    double t0 = adb__now_ms();

    pthread_mutex_lock(&t->mu);
    while (t->remaining > 0)
        pthread_cond_wait(&t->cv, &t->mu);
    pthread_mutex_unlock(&t->mu);
    adb__db_wait_add(adb__now_ms() - t0);
}

void adb__ticket_destroy(adb__ticket *t)
{
    pthread_cond_destroy(&t->cv);
    pthread_mutex_destroy(&t->mu);
}

static void ticket_done(adb__ticket *t)
{
    pthread_mutex_lock(&t->mu);
    if (--t->remaining == 0)
        pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

/* ---- helpers ------------------------------------------------------------ */

/* A text[] literal element: double-quoted, with " and \ escaped. */
static void sb_array_elem(adb__buf *b, const char *s)
{
    adb__buf_array_elem(b, s, strlen(s));
}

static void pg_message(PGconn *c, PGresult *r, char *out, size_t len)
{
    const char *m = r ? PQresultErrorMessage(r) : NULL;
    if (!m || !*m)
        m = PQerrorMessage(c);
    adb__fmt(out, len, "%s", m);
    adb__oneline(out);
}

static bool ok_result(PGresult *r, ExecStatusType want)
{
    return r && PQresultStatus(r) == want;
}

/* Appends a non-negative integer in decimal (no printf on the hot path). */
static void put_int(adb__buf *b, int64_t v)
{
    char t[24];
    int n = 0;

    do {
        t[sizeof(t) - 1 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0 && n < (int)sizeof(t));
    adb__buf_put(b, t + sizeof(t) - n, (size_t)n);
}

/* ---- partitions --------------------------------------------------------- */

static int month_of(int64_t us)
{
    return adb__month_index(us);
}

static bool month_known(adb__writer *w, int month)
{
    bool known = false;

    pthread_mutex_lock(&w->months_mu);
    for (int i = 0; i < w->nmonths && !known; i++)
        known = w->months[i] == month;
    pthread_mutex_unlock(&w->months_mu);
    return known;
}

/* Forgets every known month: a partition was dropped under us (maintenance
 * drops emptied months), so the next batch asks the database again. */
static void forget_months(adb__writer *w)
{
    pthread_mutex_lock(&w->months_mu);
    w->nmonths = 0;
    pthread_mutex_unlock(&w->months_mu);
}

/* Makes sure every month of the batch has its partition (auditdb_ensure_partition,
 * in its own short transaction: it takes a brief lock on audit_log). */
static bool ensure_partitions(adb__writer *w, PGconn *c, adb__job *jobs, size_t n, char *err,
                              size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        int month = month_of(jobs[i].ev->ts_us);
        char day[16];
        if (month_known(w, month))
            continue;
        adb__fmt(day, sizeof(day), "%04d-%02d-01", month / 12, month % 12 + 1);
        const char *params[] = { day };
        PGresult *r = PQexecParams(c, "SELECT auditdb_ensure_partition($1::date)", 1, NULL, params,
                                   NULL, NULL, 0);
        if (!ok_result(r, PGRES_TUPLES_OK)) {
            pg_message(c, r, err, errlen);
            PQclear(r);
            return false;
        }
        PQclear(r);
        pthread_mutex_lock(&w->months_mu);
        if (w->nmonths < MAX_KNOWN_MONTHS)
            w->months[w->nmonths++] = month;
        pthread_mutex_unlock(&w->months_mu);
    }
    return true;
}

/* ---- one batch ---------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static adb__head *find_head(adb__head *heads, size_t n, const char *org)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(heads[mid].org, org);
        if (c == 0)
            return &heads[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Gives every stored (non-duplicate) event its chain position and link,
 * advancing the heads. */
static void link_events(adb__writer *w, adb__job *jobs, size_t n, const bool *dup,
                        adb__head *heads, size_t norgs)
{
    for (size_t i = 0; i < n; i++) {
        adb__event *ev = jobs[i].ev;
        if (dup[i])
            continue;
        adb__head *h = find_head(heads, norgs, ev->f[ADB_F_ORGANIZATION_ID]);
        ev->chain_seq = ++h->seq;
        memcpy(ev->prev_chain_hash, h->hash, 65);
        adb__chain_link(w->keys, ev->f[ADB_F_ORGANIZATION_ID], ev->chain_seq, ev->prev_chain_hash,
                        ev->content_hash, ev->chain_hash);
        memcpy(h->hash, ev->chain_hash, 65);
        /* an event without a drawn id (a legacy import, whose hash cannot
         * cover one) gets the id derived from its link (docs/integrity.md) */
        if (!ev->event_id[0])
            adb__event_id_derive(ev->ts_us, ev->chain_hash, ev->event_id);
    }
}

/* The stored events of a committed batch to the tree's integrator: each
 * one's organization, position and entry (public id, content hash). */
static void hand_over(adb__writer *w, adb__job *jobs, size_t n, const bool *dup)
{
    adb__tree_leaf stack[64], *l = n <= 64 ? stack : malloc(n * sizeof(*l));
    size_t k = 0;

    if (!l)
        return; /* the integrator's scan reads them back */
    for (size_t i = 0; i < n; i++) {
        const adb__event *ev = jobs[i].ev;
        if (dup[i] || !ev->chain_seq)
            continue;
        adb__tree_leaf *t = &l[k];
        t->org = ev->f[ADB_F_ORGANIZATION_ID];
        t->seq = ev->chain_seq;
        if (!adb__tree_entry_from_text(ev->event_id, ev->content_hash, t->entry))
            continue;
        k++;
    }
    if (k > 0)
        w->o.on_commit(w->o.on_commit_ctx, l, k);
    if (l != stack)
        free(l);
}

/* The stored events of a committed batch to the observer (the detection
 * engine): the events themselves, read while the caller still waits. */
static void show_observer(adb__writer_observer obs, void *ctx, adb__job *jobs, size_t n,
                          const bool *dup)
{
    const adb__event *stack[64], **evs = n <= 64 ? stack : malloc(n * sizeof(*evs));
    size_t k = 0;

    if (!evs)
        return; /* the observer reads them back from the table */
    for (size_t i = 0; i < n; i++)
        if (!dup[i] && jobs[i].ev->chain_seq)
            evs[k++] = jobs[i].ev;
    if (k > 0)
        obs(ctx, evs, k);
    if (evs != stack)
        free(evs);
}

void adb__writer_observe(adb__writer *w, adb__writer_observer fn, void *ctx)
{
    pthread_mutex_lock(&w->mu);
    w->observer = fn;
    w->observer_ctx = ctx;
    while (!fn && w->observing > 0) /* none may run on a ctx about to go */
        pthread_cond_wait(&w->observed, &w->mu);
    pthread_mutex_unlock(&w->mu);
}

/* Errors that a row's content causes, and that writing it again can never
 * cure: data exceptions (22), integrity violations (23) other than a unique
 * key (ids and chain positions are ours, not the client's), a trigger's
 * RAISE (P0) and program limits such as an index row too large (54). Every
 * other error (connection, timeouts, resources, locks, permissions) is the
 * server's: the whole batch fails as "not stored, retry". */
static bool refused_sqlstate(const char *state)
{
    if (!state || strlen(state) != 5)
        return false;
    if (!strncmp(state, "22", 2) || !strncmp(state, "P0", 2) || !strncmp(state, "54", 2))
        return true;
    return !strncmp(state, "23", 2) && strcmp(state, "23505") != 0;
}

/* Fills be from a failed result: a missing partition, or a refused row
 * (which one, when a COPY line is named: the n-th stored job). */
static void classify(batch_error *be, const PGresult *r, size_t n, const bool *dup)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *primary = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *context = r ? PQresultErrorField(r, PG_DIAG_CONTEXT) : NULL;
    const char *column = r ? PQresultErrorField(r, PG_DIAG_COLUMN_NAME) : NULL;

    if (state && !strcmp(state, "23514") && primary && strstr(primary, "no partition of relation")) {
        be->no_partition = true;
        return;
    }
    if (!refused_sqlstate(state))
        return;
    be->refused = true;
    adb__fmt(be->column, sizeof(be->column), "%s", column ? column : "");
    /* only the line number is read from the context (it also quotes the
     * row, which goes nowhere) */
    const char *at = context ? strstr(context, "COPY audit_log, line ") : NULL;
    long line = at ? strtol(at + strlen("COPY audit_log, line "), NULL, 10) : 0;
    for (size_t i = 0, k = 0; line > 0 && i < n; i++) {
        if (dup && dup[i])
            continue;
        if ((long)++k == line) {
            be->refused_at = (long)i;
            break;
        }
    }
}

/* COPY data is sent in pieces of about this size as the rows are written:
 * the buffer stays below the allocator's mapping threshold and is not
 * regrown, copied and unmapped for every batch (a batch is up to 2,000 rows
 * of about 650 bytes). */
#define COPY_PIECE (64 * 1024)

static void put_row(adb__buf *b, const adb__event *ev)
{
    static const adb_event_field cols[] = {
        ADB_F_TTL, ADB_F_PRINCIPAL_ID, ADB_F_ORGANIZATION_ID, ADB_F_ACTION,
        ADB_F_TARGET_RESOURCE_TYPE, ADB_F_TARGET_RESOURCE_ID, ADB_F_STATUS,
        ADB_F_OUTCOME_DESCRIPTION };
    static const adb_event_field cols2[] = { ADB_F_EVENT_VERSION, ADB_F_CORRELATION_ID,
                                             ADB_F_DATA_CLASSIFICATION, ADB_F_RETENTION_POLICY };

    put_int(b, ev->id);
    adb__buf_put(b, "\t", 1);
    adb__buf_puts(b, ev->ts_text);
    for (size_t k = 0; k < sizeof(cols) / sizeof(cols[0]); k++) {
        adb__buf_put(b, "\t", 1);
        adb__buf_copy_value(b, ev->f[cols[k]]);
    }
    adb__buf_put(b, "\t", 1);
    adb__buf_copy_value(b, ev->hash);
    adb__buf_put(b, "\t", 1);
    adb__buf_copy_value(b, ev->f[ADB_F_HASH_ALGORITHM]);
    adb__buf_put(b, "\t", 1);
    adb__buf_copy_value(b, ev->signature);
    for (size_t k = 0; k < sizeof(cols2) / sizeof(cols2[0]); k++) {
        adb__buf_put(b, "\t", 1);
        adb__buf_copy_value(b, ev->f[cols2[k]]);
    }
    adb__buf_put(b, "\t", 1);
    adb__buf_copy_value(b, ev->details);
    adb__buf_put(b, "\t", 1);
    put_int(b, ev->chain_seq);
    adb__buf_put(b, "\t", 1);
    adb__buf_puts(b, ev->prev_chain_hash);
    adb__buf_put(b, "\t", 1);
    adb__buf_puts(b, ev->chain_hash);
    adb__buf_put(b, "\t", 1);
    adb__buf_puts(b, ev->event_id);
    adb__buf_put(b, "\t", 1);
    if (ev->has_commit_key) {
        char *hex = adb__buf_room(b, 64);
        if (hex) {
            adb__hex(ev->commit_key, 32, hex);
            b->len += 64;
        }
    } else {
        adb__buf_put(b, "\\N", 2);
    }
    adb__buf_put(b, "\n", 1);
}

/* COPYs the stored events of the batch into audit_log. */
static bool copy_rows(PGconn *c, adb__job *jobs, size_t n, const bool *dup, batch_error *be)
{
    char *err = be->msg;
    size_t errlen = sizeof(be->msg);
    adb__buf b = { 0 };
    PGresult *r = NULL;
    bool ok = false, any = false;

    for (size_t i = 0; i < n && !any; i++)
        any = !dup[i];
    if (!any)
        return true;
    r = PQexec(c, "COPY audit_log (id, \"timestamp\", ttl, principal_id, organization_id,"
                  " action, target_resource_type, target_resource_id, status,"
                  " outcome_description, hash, hash_algorithm, signature, event_version,"
                  " correlation_id, data_classification, retention_policy, details,"
                  " chain_seq, prev_chain_hash, chain_hash, event_id, commit_key) FROM STDIN");
    if (!ok_result(r, PGRES_COPY_IN)) {
        pg_message(c, r, err, errlen);
        goto out;
    }
    PQclear(r);
    r = NULL;
    for (size_t i = 0; i < n; i++) {
        if (dup[i])
            continue;
        put_row(&b, jobs[i].ev);
        if (b.oom)
            break;
        if (b.len >= COPY_PIECE) {
            if (PQputCopyData(c, b.p, (int)b.len) != 1) {
                pg_message(c, NULL, err, errlen);
                goto out;
            }
            b.len = 0;
        }
    }
    if (b.oom) {
        adb__fmt(err, errlen, "out of memory");
        /* ends the COPY with an error: nothing of it is stored */
        if (PQputCopyEnd(c, "out of memory") == 1)
            while ((r = PQgetResult(c)) != NULL)
                PQclear(r);
        goto out;
    }
    if (b.len > 0 && PQputCopyData(c, b.p, (int)b.len) != 1) {
        pg_message(c, NULL, err, errlen);
        goto out;
    }
    if (PQputCopyEnd(c, NULL) != 1) {
        pg_message(c, NULL, err, errlen);
        goto out;
    }
    r = PQgetResult(c);
    ok = ok_result(r, PGRES_COMMAND_OK);
    if (!ok) {
        pg_message(c, r, err, errlen);
        classify(be, r, n, dup);
    }
    PQclear(r);
    r = NULL;
    while ((r = PQgetResult(c)) != NULL)
        PQclear(r);
out:
    PQclear(r);
    free(b.p);
    return ok;
}

/* After the connection broke during COMMIT: true when the batch was stored
 * after all; false with be->unknown set when that could not be learned
 * within OUTCOME_BUDGET_MS (else it was not stored). */
static bool commit_went_through(adb__writer *w, PGconn *c, const adb__job *jobs, size_t n,
                                const bool *dup, batch_error *be)
{
    const adb__event *probe = NULL;
    char why[ADB_ERRMSG_MAX];

    for (size_t i = 0; i < n && !probe; i++)
        if (!dup[i])
            probe = jobs[i].ev;
    switch (adb__commit_outcome(w->pool, PQbackendPID(c), probe, OUTCOME_BUDGET_MS, why,
                                sizeof(why))) {
    case ADB_OUTCOME_COMMITTED:
        return true;
    case ADB_OUTCOME_ABORTED:
        return false;
    case ADB_OUTCOME_UNKNOWN:
        break;
    }
    char lost[ADB_ERRMSG_MAX];
    adb__fmt(lost, sizeof(lost), "%s", be->msg);
    be->unknown = true;
    adb__fmt(be->msg, sizeof(be->msg), "the connection broke during COMMIT (%.300s) and the "
             "outcome could not be learned: %.300s", lost, why);
    return false;
}

/*
 * Writes jobs[0..n) in one transaction. Returns true when committed (each
 * job's result is then filled); false with be filled when nothing was stored
 * (or, be->unknown, when the connection broke during COMMIT and whether it
 * was stored could not be learned: see outcome.h).
 *
 * Chain heads (heads.h): a speculative batch takes its organizations' heads
 * from the in-process cache, links and COPYs its rows while earlier batches
 * are still writing, and at its turn checks under the database row lock that
 * the heads are where it started. A locked batch reads the heads under that
 * lock at its turn and only then links and COPYs.
 */
static bool write_batch(adb__writer *w, PGconn *c, adb__job *jobs, size_t n, bool locked,
                        batch_error *be)
{
    char *err = be->msg;
    size_t errlen = sizeof(be->msg);
    bool *conflict = &be->conflict;
    PGresult *r = NULL;
    adb__buf arr1 = { 0 }, arr2 = { 0 }, arr3 = { 0 }, arr4 = { 0 };
    const char **orgs = NULL;
    adb__head *heads = NULL;
    bool *dup = NULL;
    size_t norgs = 0;
    bool ok = false, have_ticket = false, passed = false, before_begin = false;
    uint64_t ticket = 0;
    char nbuf[32];

    memset(be, 0, sizeof(*be));
    be->refused_at = -1;
    if (!ensure_partitions(w, c, jobs, n, err, errlen)) {
        be->conn_lost = be->stale = PQstatus(c) != CONNECTION_OK;
        goto out;
    }
    /* the transaction, its bounded waits and the ids, in order: one round trip */
    adb__fmt(nbuf, sizeof(nbuf), "%zu", n);
    const char *p_n[] = { nbuf };
    const adb_pool_stmt begin[] = {
        { "BEGIN", 0, NULL, false },
        /* bounded waits for callers; and one plan for every batch (left to
         * PostgreSQL, the head lock and the ids were planned anew for each
         * batch: 0.08 ms of each create, pg_stat_statements) */
        { "SELECT set_config('statement_timeout', '30000', true),"
          " set_config('plan_cache_mode', 'force_generic_plan', true)", 0, NULL, true },
        { "SELECT nextval('audit_log_id_seq') FROM generate_series(1, $1::int)", 1, p_n, true },
        { ADB__WRITER_TAKES_POSITIONS_SQL, 0, NULL, true },
    };
    PGresult *begun[4];
    if (!adb__writer_pipeline(w->pool, c, 4, begin, begun, err, errlen)) {
        before_begin = true;
        goto fail;
    }
    PQclear(begun[0]);
    PQclear(begun[1]);
    PQclear(begun[3]);
    r = begun[2];
    if ((size_t)PQntuples(r) != n) {
        adb__fmt(err, errlen, "the id sequence gave %d ids for %zu events", PQntuples(r), n);
        goto fail;
    }
    for (size_t i = 0; i < n; i++)
        jobs[i].ev->id = strtoll(PQgetvalue(r, (int)i, 0), NULL, 10);
    PQclear(r);
    r = NULL;

    /* idempotency keys: a key already taken marks its job as a duplicate */
    dup = calloc(n, sizeof(*dup));
    if (!dup)
        goto nomem;
    size_t nkeys = 0;
    adb__buf_puts(&arr1, "{");
    adb__buf_puts(&arr2, "{");
    adb__buf_puts(&arr3, "{");
    adb__buf_puts(&arr4, "{");
    for (size_t i = 0; i < n; i++) {
        adb__event *ev = jobs[i].ev;
        if (!ev->idempotency_key)
            continue;
        if (nkeys++) {
            adb__buf_puts(&arr1, ",");
            adb__buf_puts(&arr2, ",");
            adb__buf_puts(&arr3, ",");
            adb__buf_puts(&arr4, ",");
        }
        sb_array_elem(&arr1, ev->f[ADB_F_ORGANIZATION_ID]);
        sb_array_elem(&arr2, ev->idempotency_key);
        adb__fmt(nbuf, sizeof(nbuf), "%" PRId64, ev->id);
        adb__buf_puts(&arr3, nbuf);
        sb_array_elem(&arr4, ev->ts_text);
    }
    adb__buf_puts(&arr1, "}");
    adb__buf_puts(&arr2, "}");
    adb__buf_puts(&arr3, "}");
    adb__buf_puts(&arr4, "}");
    if (arr1.oom || arr2.oom || arr3.oom || arr4.oom)
        goto nomem;
    if (nkeys > 0) {
        const char *p[] = { arr1.p, arr2.p, arr3.p, arr4.p };
        r = PQexecParams(c,
                         "INSERT INTO audit_idempotency (organization_id, idempotency_key, event_id,"
                         " event_timestamp) SELECT * FROM unnest($1::text[], $2::text[],"
                         " $3::bigint[], $4::timestamptz[]) ON CONFLICT DO NOTHING"
                         " RETURNING event_id",
                         4, NULL, p, NULL, NULL, 0);
        if (!ok_result(r, PGRES_TUPLES_OK))
            goto pgfail;
        /* a keyed job whose id did not come back lost to an earlier event */
        for (size_t i = 0; i < n; i++) {
            if (!jobs[i].ev->idempotency_key)
                continue;
            bool won = false;
            for (int k = 0; k < PQntuples(r) && !won; k++)
                won = strtoll(PQgetvalue(r, k, 0), NULL, 10) == jobs[i].ev->id;
            dup[i] = !won;
        }
        PQclear(r);
        r = NULL;
        for (size_t i = 0; i < n; i++) {
            if (!dup[i])
                continue;
            const char *p2[] = { jobs[i].ev->f[ADB_F_ORGANIZATION_ID], jobs[i].ev->idempotency_key };
            r = PQexecParams(c,
                             "SELECT i.event_id, to_char(i.event_timestamp AT TIME ZONE 'UTC',"
                             " 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), l.hash, l.chain_seq, l.event_id"
                             " FROM audit_idempotency i LEFT JOIN audit_log l"
                             " ON l.id = i.event_id AND l.\"timestamp\" = i.event_timestamp"
                             " WHERE i.organization_id = $1 AND i.idempotency_key = $2",
                             2, NULL, p2, NULL, NULL, 0);
            if (!ok_result(r, PGRES_TUPLES_OK) || PQntuples(r) != 1)
                goto pgfail;
            adb_log_result *res = jobs[i].res;
            res->duplicate = true;
            res->id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
            adb__fmt(res->timestamp, sizeof(res->timestamp), "%s", PQgetvalue(r, 0, 1));
            adb__fmt(res->hash, sizeof(res->hash), "%s", PQgetvalue(r, 0, 2));
            res->chain_seq = PQgetisnull(r, 0, 3) ? 0 : strtoll(PQgetvalue(r, 0, 3), NULL, 10);
            adb__fmt(res->event_id, sizeof(res->event_id), "%s", PQgetvalue(r, 0, 4));
            PQclear(r);
            r = NULL;
        }
    }

    /* the organizations of the stored events, sorted (the lock order) */
    orgs = calloc(n, sizeof(*orgs));
    if (!orgs)
        goto nomem;
    for (size_t i = 0; i < n; i++)
        if (!dup[i])
            orgs[norgs++] = jobs[i].ev->f[ADB_F_ORGANIZATION_ID];
    qsort(orgs, norgs, sizeof(*orgs), cmp_str);
    size_t u = 0;
    for (size_t i = 0; i < norgs; i++)
        if (u == 0 || strcmp(orgs[u - 1], orgs[i]) != 0)
            orgs[u++] = orgs[i];
    norgs = u;
    if (norgs > 0) {
        heads = calloc(norgs, sizeof(*heads));
        if (!heads)
            goto nomem;
        for (size_t i = 0; i < norgs; i++)
            heads[i].org = orgs[i];
        if (!adb__heads_reserve_begin(w->heads, c, locked, heads, norgs, err, errlen))
            goto fail;
        if (!locked)
            link_events(w, jobs, n, dup, heads, norgs);
        ticket = adb__heads_reserve_end(w->heads, locked, heads, norgs);
        have_ticket = true;
        if (!locked && !copy_rows(c, jobs, n, dup, be))
            goto fail;
        adb__heads_wait_turn(w->heads, ticket);
        if (!adb__heads_lock(w->pool, c, locked, heads, norgs, conflict, err, errlen))
            goto fail;
        if (locked) {
            link_events(w, jobs, n, dup, heads, norgs);
            if (!copy_rows(c, jobs, n, dup, be))
                goto fail;
        }
        if (!adb__heads_store(w->pool, c, heads, norgs, err, errlen))
            goto fail;
        adb__heads_pass_turn(w->heads, ticket, locked, true, heads, norgs);
        have_ticket = false;
        passed = true;
    }
    r = PQexec(c, "COMMIT");
    if (!ok_result(r, PGRES_COMMAND_OK) && PQstatus(c) != CONNECTION_OK) {
        /* the answer was lost, not necessarily the COMMIT: ask */
        pg_message(c, r, err, errlen);
        PQclear(r);
        r = NULL;
        adb__heads_forget(w->heads, heads, norgs); /* reloaded from what was stored */
        passed = false;
        if (!commit_went_through(w, c, jobs, n, dup, be))
            goto fail;
    } else if (!ok_result(r, PGRES_COMMAND_OK)) {
        goto pgfail;
    }
    PQclear(r);
    r = NULL;

    for (size_t i = 0; i < n; i++) {
        adb_log_result *res = jobs[i].res;
        adb__event *ev = jobs[i].ev;
        res->status = ADB_OK;
        adb__fmt(res->organization_id, sizeof(res->organization_id), "%s", ev->f[ADB_F_ORGANIZATION_ID]);
        if (dup[i])
            continue;
        res->id = ev->id;
        memcpy(res->event_id, ev->event_id, sizeof(res->event_id));
        memcpy(res->timestamp, ev->ts_text, sizeof(ev->ts_text));
        memcpy(res->hash, ev->hash, 65);
        res->chain_seq = ev->chain_seq;
    }
    if (w->o.on_commit)
        hand_over(w, jobs, n, dup);
    pthread_mutex_lock(&w->mu);
    adb__writer_observer obs = w->observer;
    void *obs_ctx = w->observer_ctx;
    w->observing += obs != NULL;
    pthread_mutex_unlock(&w->mu);
    if (obs) {
        show_observer(obs, obs_ctx, jobs, n, dup);
        pthread_mutex_lock(&w->mu);
        if (--w->observing == 0)
            pthread_cond_broadcast(&w->observed);
        pthread_mutex_unlock(&w->mu);
    }
    ok = true;
    pthread_mutex_lock(&w->mu);
    for (size_t i = 0; i < n; i++) {
        if (dup[i])
            w->duplicates++;
        else
            w->events_written++;
    }
    w->batches++;
    w->last_batch = (int)n;
    w->batch_events += (long long)n;
    static const int bounds[ADB_WRITER_BATCH_NBOUNDS] = ADB_WRITER_BATCH_BOUNDS;
    for (int b = 0; b < ADB_WRITER_BATCH_NBOUNDS; b++)
        if ((int)n <= bounds[b])
            w->batch_le[b]++;
    pthread_mutex_unlock(&w->mu);
    goto out;

nomem:
    adb__fmt(err, errlen, "out of memory");
    goto fail;
pgfail:
    pg_message(c, r, err, errlen);
    classify(be, r, n, dup);
fail:
    PQclear(r);
    r = NULL;
    if (have_ticket) { /* later batches wait for this turn; they built on it */
        adb__heads_wait_turn(w->heads, ticket);
        adb__heads_pass_turn(w->heads, ticket, locked, false, heads, norgs);
    } else if (passed) { /* COMMIT failed: later batches built on heads never stored */
        adb__heads_forget(w->heads, heads, norgs);
    }
    /* a pipeline that broke off leaves the connection unusable: as lost */
    be->conn_lost = PQstatus(c) != CONNECTION_OK || PQpipelineStatus(c) != PQ_PIPELINE_OFF;
    be->stale = be->conn_lost && before_begin;
    if (!be->conn_lost)
        PQclear(PQexec(c, "ROLLBACK"));
out:
    PQclear(r);
    free(arr1.p);
    free(arr2.p);
    free(arr3.p);
    free(arr4.p);
    free(orgs);
    free(heads);
    free(dup);
    return ok;
}

static void fail_jobs(adb__job *jobs, size_t n, adb_status st, const char *msg, int retry_ms)
{
    for (size_t i = 0; i < n; i++) {
        jobs[i].res->status = st;
        jobs[i].res->retry_after_ms = retry_ms;
        adb__fmt(jobs[i].res->message, sizeof(jobs[i].res->message), "%s", msg);
    }
}

/* A refused event: a 4xx for it alone (adb_log_result ERR_INVALID), with
 * the column PostgreSQL named when it named one. */
static void refuse_job(adb__job *job, const batch_error *be)
{
    const char *field = "";
    adb_log_result *res = job->res;

    for (int f = 0; f < ADB_F__COUNT && be->column[0]; f++)
        if (!strcmp(adb__event_fields[f].column, be->column))
            field = adb__event_fields[f].api_name;
    if (!field[0] && be->column[0])
        field = be->column;
    res->status = ADB_ERR_INVALID;
    res->retry_after_ms = 0;
    res->errors.count = 0;
    adb__errors_add(&res->errors, "REFUSED_BY_DATABASE", field,
                    "the database refused the event: %.200s", be->msg);
    adb__fmt(res->message, sizeof(res->message), "the database refused the event: %s", be->msg);
}

/* Fails jobs whose batch was not stored for the server's reasons (503 with
 * Retry-After), or whose outcome is unknown (distinct: they may be stored). */
static void fail_batch(adb__job *jobs, size_t n, const batch_error *be)
{
    char msg[ADB_ERRMSG_MAX];

    if (be->unknown) {
        fail_jobs(jobs, n, ADB_ERR_OUTCOME_UNKNOWN, be->msg, 0);
        return;
    }
    /* the service's own failure (docs/monitoring.md): counts only, never the database's text */
    char what[96];
    adb__fmt(what, sizeof(what), "%s a batch of %zu event(s)",
             be->conn_lost ? "the connection was lost during" : "could not commit", n);
    adb__error_record(NULL, &(adb__error_report){ .category = "DATABASE_ERROR", .severity = "HIGH",
        .code = be->conn_lost ? "PG_CONN_LOST" : "WRITER_COMMIT", .component = "writer",
        .operation = "commit", .message = what, .retryable = true });
    adb__fmt(msg, sizeof(msg), "%s: %s",
             be->conn_lost ? "database connection lost" : "could not store the event", be->msg);
    fail_jobs(jobs, n, be->conn_lost ? ADB_ERR_DB_CONNECT : ADB_ERR_DB_QUERY, msg, 1000);
}

/* One batch, written speculatively first; again in locked mode when a chain
 * head moved, and once more when a month's partition had been dropped under
 * us (the cache of known months is then forgotten). */
static bool attempt(adb__writer *w, PGconn *c, adb__job *jobs, size_t n, bool locked,
                    batch_error *be)
{
    bool stored = write_batch(w, c, jobs, n, locked, be);

    if (!stored && be->conflict) {
        pthread_mutex_lock(&w->mu);
        w->conflicts++;
        pthread_mutex_unlock(&w->mu);
        stored = write_batch(w, c, jobs, n, true, be);
    }
    if (!stored && be->no_partition && !be->conn_lost) {
        forget_months(w);
        stored = write_batch(w, c, jobs, n, true, be);
    }
    return stored;
}

/*
 * Stores jobs[0..n), isolating the rows PostgreSQL refuses so that each
 * fails alone and costs the others one more transaction, not one each:
 * when PostgreSQL names the refused row (its COPY line), that job fails and
 * the rest is written again at once; when it does not, the batch is split
 * in halves. Any other failure fails the whole batch as "not stored".
 */
static void store(adb__writer *w, PGconn *c, adb__job *jobs, size_t n, bool locked,
                  bool *stale)
{
    batch_error be;

    while (n > 0) {
        if (attempt(w, c, jobs, n, locked, &be))
            return;
        if (stale && be.stale) { /* nothing begun: the caller tries a fresh connection */
            *stale = true;
            return;
        }
        stale = NULL;
        locked = true; /* what follows is rewriting: no speculation */
        if (!be.refused || be.conn_lost || be.unknown) {
            fail_batch(jobs, n, &be);
            return;
        }
        if (be.refused_at >= 0) {
            size_t k = (size_t)be.refused_at;
            refuse_job(&jobs[k], &be);
            /* the refused job leaves the batch (order kept: ids and chain
             * positions of the rest stay in submission order) */
            adb__job gone = jobs[k];
            memmove(&jobs[k], &jobs[k + 1], (n - k - 1) * sizeof(*jobs));
            jobs[n - 1] = gone;
            n--;
            continue;
        }
        if (n == 1) {
            refuse_job(&jobs[0], &be);
            return;
        }
        store(w, c, jobs, n / 2, true, NULL);
        jobs += n / 2;
        n -= n / 2;
    }
}

/* Writes a batch (store()), then signals every job's ticket. */
static void process(adb__writer *w, adb__job *jobs, size_t n)
{
    char err[ADB_ERRMSG_MAX];
    adb_status st = ADB_OK;
    PGconn *c = adb_pool_acquire(w->pool, &st, err, sizeof(err));

    bool stale = false;

    if (c)
        store(w, c, jobs, n, false, &stale);
    if (stale) {
        /* the lent connection was dead before the batch began (PostgreSQL
         * restarted since it was last used, within the pool's idle check):
         * nothing was sent that could have been stored, so once more on a
         * fresh one (the pool closes the broken one) */
        adb_pool_release(w->pool, c);
        if ((c = adb_pool_acquire(w->pool, &st, err, sizeof(err))))
            store(w, c, jobs, n, false, NULL);
    }
    if (!c)
        fail_jobs(jobs, n, st == ADB_ERR_BUSY ? ADB_ERR_BUSY : ADB_ERR_DB_CONNECT, err, 1000);
    else
        adb_pool_release(w->pool, c);
    size_t failed = 0;
    for (size_t i = 0; i < n; i++)
        failed += jobs[i].res->status != ADB_OK;
    if (failed) {
        pthread_mutex_lock(&w->mu);
        w->failed += (long long)failed;
        pthread_mutex_unlock(&w->mu);
    }
    /* rows stored per partition, for growth.h: counted before the tickets
     * are signalled (the jobs belong to their callers after that) */
    for (size_t i = 0; i < n; i++) {
        int month = month_of(jobs[i].ev->ts_us);
        size_t k = i;
        if (jobs[i].res->status != ADB_OK || jobs[i].res->duplicate)
            continue;
        while (k + 1 < n && month_of(jobs[k + 1].ev->ts_us) == month &&
               jobs[k + 1].res->status == ADB_OK && !jobs[k + 1].res->duplicate)
            k++;
        adb__growth_add(w->growth, month, (long long)(k - i + 1));
        i = k;
    }
    for (size_t i = 0; i < n; i++)
        ticket_done(jobs[i].ticket);
}

static size_t linger_target(const adb__writer *w)
{
    size_t t = (size_t)w->o.batch_max / 4;
    return t > LINGER_BATCH ? LINGER_BATCH : t;
}

static void *writer_main(void *arg)
{
    adb__writer *w = arg;
    adb__job *batch = calloc((size_t)w->o.batch_max, sizeof(*batch));

    if (!batch)
        return NULL;
    for (;;) {
        size_t n = 0;
        pthread_mutex_lock(&w->mu);
        while (w->count == 0 && !w->stopping)
            pthread_cond_wait(&w->not_empty, &w->mu);
        if (w->count == 0 && w->stopping) {
            pthread_mutex_unlock(&w->mu);
            break;
        }
        /* While another writer is busy, gather a batch worth its round trips
         * (at most LINGER_MS): small batches cost more than they save. */
        if (w->active > 0 && w->count < linger_target(w)) {
            struct timespec until;
            clock_gettime(CLOCK_MONOTONIC, &until);
            until.tv_nsec += LINGER_MS * 1000000L;
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
            while (w->count < linger_target(w) && !w->stopping &&
                   pthread_cond_timedwait(&w->not_empty, &w->mu, &until) == 0)
                ;
        }
        w->active++;
        while (w->count > 0 && n < (size_t)w->o.batch_max) {
            batch[n++] = w->ring[w->head];
            w->head = (w->head + 1) % (size_t)w->o.queue_max;
            w->count--;
        }
        pthread_mutex_unlock(&w->mu);
        double t0 = adb__now_ms();
        process(w, batch, n);
        double ms = adb__now_ms() - t0;
        pthread_mutex_lock(&w->mu);
        w->active--;
        if (ms > 0) {
            double eps = (double)n * 1000.0 / ms * w->nthreads;
            w->rate_eps = w->rate_eps > 0 ? 0.8 * w->rate_eps + 0.2 * eps : eps;
        }
        pthread_mutex_unlock(&w->mu);
    }
    free(batch);
    return NULL;
}

adb__writer *adb__writer_start(adb_pool *pool, const adb__keys *keys, const adb__writer_options *o,
                               char *errbuf, size_t errlen)
{
    adb__writer *w = calloc(1, sizeof(*w));

    if (!w || o->threads < 1 || o->batch_max < 1 || o->queue_max < o->batch_max) {
        free(w);
        adb__fmt(errbuf, errlen, w ? "invalid writer options" : "out of memory");
        return NULL;
    }
    w->pool = pool;
    w->keys = keys;
    w->o = *o;
    w->ring = calloc((size_t)o->queue_max, sizeof(*w->ring));
    w->threads = calloc((size_t)o->threads, sizeof(*w->threads));
    w->heads = adb__heads_new();
    w->growth = adb__growth_start(o->analyze_pool ? o->analyze_pool : pool);
    if (!w->ring || !w->threads || !w->heads || !w->growth) {
        adb__heads_free(w->heads);
        adb__growth_stop(w->growth);
        free(w->ring);
        free(w->threads);
        free(w);
        adb__fmt(errbuf, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&w->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->not_empty, &ca);
    pthread_cond_init(&w->observed, NULL);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&w->months_mu, NULL);
    for (int i = 0; i < o->threads; i++) {
        if (pthread_create(&w->threads[i], NULL, writer_main, w) != 0) {
            adb__fmt(errbuf, errlen, "could not start a writer thread: %s", strerror(errno));
            w->nthreads = i;
            adb__writer_stop(w);
            return NULL;
        }
    }
    w->nthreads = o->threads;
    return w;
}

adb_status adb__writer_submit(adb__writer *w, adb__job *jobs, size_t n, int *retry_after_ms)
{
    pthread_mutex_lock(&w->mu);
    if (w->stopping) {
        pthread_mutex_unlock(&w->mu);
        return ADB_ERR_INVALID;
    }
    if (w->count + n > (size_t)w->o.queue_max) {
        double rate = w->rate_eps > 1 ? w->rate_eps : 1000;
        int ms = (int)((double)(w->count + n) * 1000.0 / rate);
        *retry_after_ms = ms < 100 ? 100 : ms > 30000 ? 30000 : ms;
        w->busy++;
        pthread_mutex_unlock(&w->mu);
        return ADB_ERR_BUSY;
    }
    for (size_t i = 0; i < n; i++)
        w->ring[(w->head + w->count + i) % (size_t)w->o.queue_max] = jobs[i];
    w->count += n;
    pthread_cond_broadcast(&w->not_empty);
    pthread_mutex_unlock(&w->mu);
    return ADB_OK;
}

void adb__writer_stop(adb__writer *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stopping = true;
    pthread_cond_broadcast(&w->not_empty);
    pthread_mutex_unlock(&w->mu);
    for (int i = 0; i < w->nthreads; i++)
        pthread_join(w->threads[i], NULL);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->not_empty);
    pthread_cond_destroy(&w->observed);
    pthread_mutex_destroy(&w->months_mu);
    adb__heads_free(w->heads);
    adb__growth_stop(w->growth);
    free(w->ring);
    free(w->threads);
    free(w);
}

void adb__writer_stats(adb__writer *w, adb_writer_stats *out)
{
    pthread_mutex_lock(&w->mu);
    out->events_written = w->events_written;
    out->batches = w->batches;
    out->duplicates = w->duplicates;
    out->failed = w->failed;
    out->busy_rejections = w->busy;
    out->chain_conflicts = w->conflicts;
    out->queue_depth = (int)w->count;
    out->queue_max = w->o.queue_max;
    out->last_batch_size = w->last_batch;
    memcpy(out->batch_le, w->batch_le, sizeof(out->batch_le));
    out->batch_events = w->batch_events;
    pthread_mutex_unlock(&w->mu);
}
