/*
 * heads.c - chain-head cache, reservation turns and the database check.
 * See heads.h for the protocol and docs/writer.md for why it is safe.
 */
#include "heads.h"
#include "../core/buf.h"
#include "../core/util.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"

typedef struct entry {
    char *org;
    int64_t seq;
    char hash[65];
    bool valid;
    uint64_t epoch; /* bumped whenever the entry stops being trustworthy */
} entry;

struct adb__heads {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    entry *e; /* sorted by org (strcmp) */
    size_t n, cap;
    uint64_t next_ticket, turn;
    int locked_pending;
};

adb__heads *adb__heads_new(void)
{
    adb__heads *hs = calloc(1, sizeof(*hs));

    if (!hs)
        return NULL;
    pthread_mutex_init(&hs->mu, NULL);
    pthread_cond_init(&hs->cv, NULL);
    hs->next_ticket = hs->turn = 1;
    return hs;
}

void adb__heads_free(adb__heads *hs)
{
    if (!hs)
        return;
    for (size_t i = 0; i < hs->n; i++)
        free(hs->e[i].org);
    free(hs->e);
    pthread_cond_destroy(&hs->cv);
    pthread_mutex_destroy(&hs->mu);
    free(hs);
}

/* The entry of org, or where it would go (*found false). */
static size_t search(const adb__heads *hs, const char *org, bool *found)
{
    size_t lo = 0, hi = hs->n;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(hs->e[mid].org, org);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

/* The entry of org, created invalid when missing; NULL when out of memory. */
static entry *get(adb__heads *hs, const char *org)
{
    bool found;
    size_t at = search(hs, org, &found);

    if (found)
        return &hs->e[at];
    if (hs->n == hs->cap) {
        size_t cap = hs->cap ? hs->cap * 2 : 64;
        entry *ne = realloc(hs->e, cap * sizeof(*ne));
        if (!ne)
            return NULL;
        hs->e = ne;
        hs->cap = cap;
    }
    char *copy = strdup(org);
    if (!copy)
        return NULL;
    memmove(&hs->e[at + 1], &hs->e[at], (hs->n - at) * sizeof(*hs->e));
    hs->n++;
    hs->e[at] = (entry){ .org = copy };
    return &hs->e[at];
}

static entry *find(adb__heads *hs, const char *org)
{
    bool found;
    size_t at = search(hs, org, &found);
    return found ? &hs->e[at] : NULL;
}

/* {"org1","org2",...} of h[]. */
static bool org_array(adb__buf *b, const adb__head *h, size_t n)
{
    adb__buf_puts(b, "{");
    for (size_t i = 0; i < n; i++) {
        if (i)
            adb__buf_puts(b, ",");
        adb__buf_array_elem(b, h[i].org, strlen(h[i].org));
    }
    adb__buf_puts(b, "}");
    return !b->oom;
}

static void pg_error(PGconn *c, PGresult *r, char *err, size_t errlen)
{
    const char *m = r ? PQresultErrorMessage(r) : NULL;
    adb__fmt(err, errlen, "%s", m && *m ? m : PQerrorMessage(c));
    adb__oneline(err);
}

bool adb__writer_pipeline(adb_pool *p, PGconn *c, int n, const adb_pool_stmt *stmts,
                          PGresult **res, char *err, size_t errlen)
{
    PGresult *bad = NULL;

    for (int i = 0; i < n; i++)
        res[i] = NULL;
    if (adb_pool_pipeline(p, c, n, stmts, res))
        return true;
    for (int i = 0; i < n && !bad; i++)
        if (res[i] && PQresultStatus(res[i]) != PGRES_COMMAND_OK &&
            PQresultStatus(res[i]) != PGRES_TUPLES_OK)
            bad = res[i];
    pg_error(c, bad, err, errlen);
    for (int i = 0; i < n; i++) {
        PQclear(res[i]);
        res[i] = NULL;
    }
    return false;
}

bool adb__writer_durable(adb_pool *p, PGconn *c, bool local, char *err, size_t errlen)
{
    /* synchronous_commit is set back to on explicitly: a connection's
     * default may have been changed (ALTER ROLE ... SET) */
    const adb_pool_stmt st[] = {
        { "BEGIN", 0, NULL, false },
        { local ? "SELECT set_config('synchronous_commit', 'local', true),"
                  " pg_logical_emit_message(true, 'auditdb', 'durable')"
                : "SELECT set_config('synchronous_commit', 'on', true),"
                  " pg_logical_emit_message(true, 'auditdb', 'durable')", 0, NULL, true },
        { "COMMIT", 0, NULL, false },
    };
    PGresult *res[3];

    if (!adb__writer_pipeline(p, c, 3, st, res, err, errlen)) {
        if (PQstatus(c) == CONNECTION_OK && PQpipelineStatus(c) == PQ_PIPELINE_OFF &&
            PQtransactionStatus(c) != PQTRANS_IDLE)
            PQclear(PQexec(c, "ROLLBACK"));
        return false;
    }
    for (int i = 0; i < 3; i++)
        PQclear(res[i]);
    return true;
}

/* Reads the committed heads of the orgs whose entries are not valid. */
static bool load(adb__heads *hs, PGconn *c, adb__head *h, size_t n, char *err, size_t errlen)
{
    adb__buf b = { 0 };
    size_t missing = 0;
    bool ok = false;

    adb__buf_puts(&b, "{");
    for (size_t i = 0; i < n; i++) {
        entry *e = get(hs, h[i].org);
        if (!e) {
            adb__fmt(err, errlen, "out of memory");
            goto out;
        }
        if (e->valid)
            continue;
        if (missing++)
            adb__buf_puts(&b, ",");
        adb__buf_array_elem(&b, h[i].org, strlen(h[i].org));
        e->seq = 0; /* no row yet: the chain starts here */
        memcpy(e->hash, ZERO_HASH, 65);
    }
    adb__buf_puts(&b, "}");
    if (b.oom) {
        adb__fmt(err, errlen, "out of memory");
        goto out;
    }
    if (missing > 0) {
        const char *p[] = { b.p };
        PGresult *r = PQexecParams(c,
                                   "SELECT organization_id, last_seq, last_chain_hash"
                                   " FROM audit_chain_head WHERE organization_id = ANY($1::text[])",
                                   1, NULL, p, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            pg_error(c, r, err, errlen);
            PQclear(r);
            goto out;
        }
        for (int k = 0; k < PQntuples(r); k++) {
            entry *e = find(hs, PQgetvalue(r, k, 0));
            if (e && !e->valid) {
                e->seq = strtoll(PQgetvalue(r, k, 1), NULL, 10);
                adb__fmt(e->hash, sizeof(e->hash), "%s", PQgetvalue(r, k, 2));
            }
        }
        PQclear(r);
        for (size_t i = 0; i < n; i++)
            find(hs, h[i].org)->valid = true;
    }
    ok = true;
out:
    free(b.p);
    return ok;
}

bool adb__heads_reserve_begin(adb__heads *hs, PGconn *c, bool locked, adb__head *h, size_t n,
                              char *err, size_t errlen)
{
    pthread_mutex_lock(&hs->mu);
    if (locked) {
        for (size_t i = 0; i < n; i++) {
            entry *e = get(hs, h[i].org);
            if (!e) {
                pthread_mutex_unlock(&hs->mu);
                adb__fmt(err, errlen, "out of memory");
                return false;
            }
            e->valid = false;
            h[i].epoch = ++e->epoch;
            h[i].base_seq = h[i].seq = 0;
            h[i].base_hash[0] = h[i].hash[0] = '\0';
        }
        return true;
    }
    while (hs->locked_pending > 0)
        pthread_cond_wait(&hs->cv, &hs->mu);
    if (!load(hs, c, h, n, err, errlen)) {
        pthread_mutex_unlock(&hs->mu);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        const entry *e = find(hs, h[i].org);
        h[i].base_seq = h[i].seq = e->seq;
        memcpy(h[i].base_hash, e->hash, 65);
        memcpy(h[i].hash, e->hash, 65);
        h[i].epoch = e->epoch;
    }
    return true;
}

uint64_t adb__heads_reserve_end(adb__heads *hs, bool locked, adb__head *h, size_t n)
{
    if (locked) {
        hs->locked_pending++;
    } else {
        for (size_t i = 0; i < n; i++) {
            entry *e = find(hs, h[i].org);
            e->seq = h[i].seq;
            memcpy(e->hash, h[i].hash, 65);
        }
    }
    uint64_t t = hs->next_ticket++;
    pthread_mutex_unlock(&hs->mu);
    return t;
}

void adb__heads_wait_turn(adb__heads *hs, uint64_t ticket)
{
    pthread_mutex_lock(&hs->mu);
    while (hs->turn != ticket)
        pthread_cond_wait(&hs->cv, &hs->mu);
    pthread_mutex_unlock(&hs->mu);
}

static void forget_locked(adb__heads *hs, const adb__head *h, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        entry *e = find(hs, h[i].org);
        if (e && e->epoch == h[i].epoch) {
            e->valid = false;
            e->epoch++;
        }
    }
}

void adb__heads_pass_turn(adb__heads *hs, uint64_t ticket, bool locked, bool ok,
                          const adb__head *h, size_t n)
{
    pthread_mutex_lock(&hs->mu);
    if (ok && locked) {
        for (size_t i = 0; i < n; i++) {
            entry *e = find(hs, h[i].org);
            if (e && e->epoch == h[i].epoch) {
                e->seq = h[i].seq;
                memcpy(e->hash, h[i].hash, 65);
                e->valid = true;
            }
        }
    } else if (!ok) {
        forget_locked(hs, h, n);
    }
    if (locked)
        hs->locked_pending--;
    if (hs->turn == ticket)
        hs->turn++;
    pthread_cond_broadcast(&hs->cv);
    pthread_mutex_unlock(&hs->mu);
}

void adb__heads_forget(adb__heads *hs, const adb__head *h, size_t n)
{
    pthread_mutex_lock(&hs->mu);
    forget_locked(hs, h, n);
    pthread_mutex_unlock(&hs->mu);
}

bool adb__heads_lock(adb_pool *pool, PGconn *c, bool locked, adb__head *h, size_t n,
                     bool *conflict, char *err, size_t errlen)
{
    adb__buf all = { 0 };
    PGresult *r = NULL;
    bool ok = false;

    *conflict = false;
    if (!org_array(&all, h, n)) {
        adb__fmt(err, errlen, "out of memory");
        goto out;
    }
    /* Every head row exists after the INSERT. Rows another transaction
     * inserted and has not committed yet are waited for there: a SELECT
     * would simply not see them. Both in one round trip. */
    const char *p[] = { all.p };
    const adb_pool_stmt st[] = {
        { "INSERT INTO audit_chain_head (organization_id, last_seq, last_chain_hash)"
          " SELECT o, 0, repeat('0', 64) FROM unnest($1::text[]) o"
          " ON CONFLICT (organization_id) DO NOTHING", 1, p, true },
        { "SELECT organization_id, last_seq, last_chain_hash FROM audit_chain_head"
          " WHERE organization_id = ANY($1::text[])"
          " ORDER BY organization_id COLLATE \"C\" FOR UPDATE", 1, p, true },
        /* under those locks, in a snapshot of its own: each head stands on
         * the position it names and nothing lies beyond it (heads_check) */
        { ADB__HEADS_CHECK_SQL, 1, p, true },
    };
    PGresult *res[3];
    if (!adb__writer_pipeline(pool, c, 3, st, res, err, errlen))
        goto out;
    PQclear(res[0]);
    PQclear(res[2]);
    r = res[1];
    if ((size_t)PQntuples(r) != n) {
        *conflict = !locked;
        adb__fmt(err, errlen, "chain heads: %d rows for %zu organizations", PQntuples(r), n);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const char *org = PQgetvalue(r, (int)i, 0);
        int64_t seq = strtoll(PQgetvalue(r, (int)i, 1), NULL, 10);
        const char *hash = PQgetvalue(r, (int)i, 2);
        if (strcmp(org, h[i].org) != 0) {
            adb__fmt(err, errlen, "chain heads came back out of order");
            goto out;
        }
        if (locked) {
            h[i].base_seq = h[i].seq = seq;
            adb__fmt(h[i].base_hash, sizeof(h[i].base_hash), "%s", hash);
            memcpy(h[i].hash, h[i].base_hash, 65);
        } else if (seq != h[i].base_seq || strcmp(hash, h[i].base_hash) != 0) {
            *conflict = true;
            adb__fmt(err, errlen, "chain head of %s moved (another writer appended)", org);
            goto out;
        }
    }
    ok = true;
out:
    PQclear(r);
    free(all.p);
    return ok;
}

bool adb__heads_store(adb_pool *pool, PGconn *c, const adb__head *h, size_t n, char *err,
                      size_t errlen)
{
    adb__buf orgs = { 0 }, seqs = { 0 }, hashes = { 0 }, firsts = { 0 };
    bool ok = false;

    adb__buf_puts(&seqs, "{");
    adb__buf_puts(&hashes, "{");
    adb__buf_puts(&firsts, "{");
    for (size_t i = 0; i < n; i++) {
        adb__buf_printf(&seqs, "%s%" PRId64, i ? "," : "", h[i].seq);
        adb__buf_printf(&hashes, "%s%s", i ? "," : "", h[i].hash);
        adb__buf_printf(&firsts, "%s%" PRId64, i ? "," : "", h[i].base_seq + 1);
    }
    adb__buf_puts(&seqs, "}");
    adb__buf_puts(&hashes, "}");
    adb__buf_puts(&firsts, "}");
    if (!org_array(&orgs, h, n) || seqs.oom || hashes.oom || firsts.oom) {
        adb__fmt(err, errlen, "out of memory");
        goto out;
    }
    const char *p[] = { orgs.p, seqs.p, hashes.p }, *pp[] = { orgs.p, firsts.p, seqs.p, hashes.p };
    const adb_pool_stmt st[] = {
        { "UPDATE audit_chain_head h SET last_seq = u.seq,"
          " last_chain_hash = u.hash, updated_at = now()"
          " FROM unnest($1::text[], $2::bigint[], $3::text[]) AS u(org, seq, hash)"
          " WHERE h.organization_id = u.org", 3, p, true },
        /* under the head locks and after auditdb_check_chain_heads: these
         * ranges start right after the last one */
        { "INSERT INTO audit_chain_position (organization_id, first_seq, last_seq, last_chain_hash)"
          " SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[])"
          " AS u(org, first_seq, last_seq, hash) WHERE last_seq >= first_seq", 4, pp, true },
    };
    PGresult *res[2];
    if (!adb__writer_pipeline(pool, c, 2, st, res, err, errlen))
        goto out;
    ok = atoi(PQcmdTuples(res[0])) == (int)n;
    if (!ok)
        adb__fmt(err, errlen, "chain heads: %s of %zu updated", PQcmdTuples(res[0]), n);
    PQclear(res[0]);
    PQclear(res[1]);
out:
    free(orgs.p);
    free(seqs.p);
    free(hashes.p);
    free(firsts.p);
    return ok;
}
