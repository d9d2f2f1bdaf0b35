/*
 * preset_usage.c - preset applications counted in memory and added to
 * audit_preset_usage in batches (docs/presets.md, "Usage").
 *
 * A write per event would add a statement and a hot row lock to ingestion;
 * instead each (organization, preset, principal, hour) has one pending
 * entry here, and one INSERT ... SELECT FROM unnest() ... ON CONFLICT adds
 * them all. A crash loses at most one interval of counts, never an event.
 */
#include "preset_usage.h"
#include "ticker.h"
#include "buf.h"
#include "util.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PENDING_MAX 100000

typedef struct entry {
    char *org, *name, *principal;
    long long hour;       /* Unix seconds of the hour's start */
    long long uses, failures, timed;
    double time_ms;
    long long last;       /* Unix seconds of the latest use */
} entry;

struct adb__preset_usage {
    pthread_mutex_t mu;
    entry *pending;
    size_t n, cap;
    unsigned *index;      /* open addressing over pending: i + 1, 0 = free */
    size_t nslots;
    adb__ticker *ticker; /* the periodic flush, once started */
    adb_pool *pool;
};

adb__preset_usage *adb__preset_usage_new(void)
{
    adb__preset_usage *u = calloc(1, sizeof(*u));

    if (!u)
        return NULL;
    pthread_mutex_init(&u->mu, NULL);
    return u;
}

static size_t hash_str(size_t h, const char *s)
{
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return (h ^ 0xff) * 16777619u; /* a separator: ("ab","c") differs from ("a","bc") */
}

static size_t hash_of(const entry *e)
{
    size_t h = hash_str(hash_str(hash_str(2166136261u, e->org), e->name), e->principal);
    return (h ^ (size_t)e->hour) * 16777619u;
}

static bool same(const entry *a, const entry *b)
{
    return a->hour == b->hour && !strcmp(a->org, b->org) && !strcmp(a->name, b->name) &&
           !strcmp(a->principal, b->principal);
}

static size_t slot_of(const adb__preset_usage *u, const entry *e)
{
    size_t s = hash_of(e) & (u->nslots - 1);
    while (u->index[s] && !same(&u->pending[u->index[s] - 1], e))
        s = (s + 1) & (u->nslots - 1);
    return s;
}

static bool grow(adb__preset_usage *u)
{
    size_t cap = u->cap ? u->cap * 2 : 16, nslots = cap * 2;
    entry *p = realloc(u->pending, cap * sizeof(*p));
    unsigned *idx = calloc(nslots, sizeof(*idx));

    if (p)
        u->pending = p;
    if (!p || !idx) {
        free(idx);
        return false;
    }
    free(u->index);
    u->index = idx;
    u->nslots = nslots;
    u->cap = cap;
    for (size_t i = 0; i < u->n; i++)
        u->index[slot_of(u, &u->pending[i])] = (unsigned)i + 1;
    return true;
}

static void entry_free(entry *e)
{
    free(e->org);
    free(e->name);
    free(e->principal);
}

/* Adds e's counts to its pending entry (a copy is made for a new one); the
 * caller holds u->mu. */
static void add(adb__preset_usage *u, const entry *e)
{
    size_t s;

    if (u->nslots && u->index[s = slot_of(u, e)]) {
        entry *p = &u->pending[u->index[s] - 1];
        p->uses += e->uses;
        p->failures += e->failures;
        p->timed += e->timed;
        p->time_ms += e->time_ms;
        if (e->last > p->last)
            p->last = e->last;
        return;
    }
    if (u->n >= PENDING_MAX || (u->n == u->cap && !grow(u)))
        return;
    entry c = *e;
    c.org = strdup(e->org);
    c.name = strdup(e->name);
    c.principal = strdup(e->principal);
    if (!c.org || !c.name || !c.principal) {
        entry_free(&c);
        return;
    }
    u->pending[u->n] = c;
    u->index[slot_of(u, &c)] = (unsigned)++u->n;
}

void adb__preset_usage_note(adb__preset_usage *u, const char *org, const char *name,
                            const char *principal, int uses, int failures, double ms)
{
    long long now = (long long)time(NULL);

    if (!u || !org || !name || !*name)
        return;
    entry e = { (char *)org, (char *)name, (char *)(principal ? principal : ""), now - now % 3600,
                uses, failures, ms >= 0, ms >= 0 ? ms : 0, now };
    pthread_mutex_lock(&u->mu);
    add(u, &e);
    pthread_mutex_unlock(&u->mu);
}

/* The nine array literals of a batch, in the statement's order. */
static bool arrays(const entry *v, size_t n, char *out[9])
{
    adb__buf b[9] = { 0 };
    bool ok = true;

    for (int k = 0; k < 9; k++)
        adb__buf_puts(&b[k], "{");
    for (size_t i = 0; i < n; i++) {
        const char *sep = i ? "," : "";
        for (int k = 0; k < 9; k++)
            adb__buf_puts(&b[k], sep);
        adb__buf_array_elem(&b[0], v[i].org, strlen(v[i].org));
        adb__buf_array_elem(&b[1], v[i].name, strlen(v[i].name));
        adb__buf_array_elem(&b[2], v[i].principal, strlen(v[i].principal));
        adb__buf_printf(&b[3], "%lld", v[i].hour);
        adb__buf_printf(&b[4], "%lld", v[i].uses);
        adb__buf_printf(&b[5], "%lld", v[i].failures);
        adb__buf_printf(&b[6], "%lld", v[i].timed);
        adb__buf_printf(&b[7], "%.3f", v[i].time_ms);
        adb__buf_printf(&b[8], "%lld", v[i].last);
    }
    for (int k = 0; k < 9; k++) {
        adb__buf_puts(&b[k], "}");
        out[k] = adb__buf_take(&b[k], NULL);
        ok = ok && out[k];
    }
    if (!ok)
        for (int k = 0; k < 9; k++) {
            free(out[k]);
            out[k] = NULL;
        }
    return ok;
}

adb_status adb__preset_usage_flush(adb__preset_usage *u, adb_pool *pool)
{
    entry *batch;
    size_t n;
    char *a[9] = { 0 };
    adb_status st = ADB_ERR_NOMEM;
    PGconn *c;

    if (!u || !pool)
        return ADB_OK;
    pthread_mutex_lock(&u->mu);
    batch = u->pending;
    n = u->n;
    u->pending = NULL;
    u->n = u->cap = u->nslots = 0;
    free(u->index);
    u->index = NULL;
    pthread_mutex_unlock(&u->mu);
    if (n == 0) {
        free(batch);
        return ADB_OK;
    }
    if (arrays(batch, n, a) && (c = adb_pool_acquire(pool, &st, NULL, 0)) != NULL) {
        const char *p[9] = { a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8] };
        PGresult *r = PQexecParams(
            c,
            "INSERT INTO audit_preset_usage AS u (organization_id, name, principal_id, period_start,"
            " uses, failures, timed, time_ms, last_used)"
            " SELECT o, nm, pr, to_timestamp(h), us, fa, ti, ms, to_timestamp(la)"
            " FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[],"
            "             $6::bigint[], $7::bigint[], $8::float8[], $9::bigint[])"
            "      AS x(o, nm, pr, h, us, fa, ti, ms, la)"
            " ON CONFLICT (organization_id, name, period_start, principal_id) DO UPDATE SET"
            " uses = u.uses + excluded.uses, failures = u.failures + excluded.failures,"
            " timed = u.timed + excluded.timed, time_ms = u.time_ms + excluded.time_ms,"
            " last_used = greatest(u.last_used, excluded.last_used)",
            9, NULL, p, NULL, NULL, 0);
        st = PQresultStatus(r) == PGRES_COMMAND_OK ? ADB_OK : ADB_ERR_DB_QUERY;
        PQclear(r);
        adb_pool_release(pool, c);
    }
    for (int k = 0; k < 9; k++)
        free(a[k]);
    pthread_mutex_lock(&u->mu);
    for (size_t i = 0; i < n; i++) {
        if (st != ADB_OK) /* keep them for the next flush */
            add(u, &batch[i]);
        entry_free(&batch[i]);
    }
    pthread_mutex_unlock(&u->mu);
    free(batch);
    return st;
}

static void tick(void *arg)
{
    adb__preset_usage *u = arg;

    (void)adb__preset_usage_flush(u, u->pool);
}

adb_status adb__preset_usage_start(adb__preset_usage *u, adb_pool *pool, int interval_s)
{
    if (!u || interval_s <= 0)
        return ADB_ERR_INVALID;
    u->pool = pool;
    if (!(u->ticker = adb__ticker_start(interval_s, tick, u)))
        return ADB_ERR_INTERNAL;
    return ADB_OK;
}

void adb__preset_usage_close(adb__preset_usage *u, adb_pool *pool)
{
    if (!u)
        return;
    adb__ticker_stop(u->ticker);
    (void)adb__preset_usage_flush(u, pool);
    for (size_t i = 0; i < u->n; i++)
        entry_free(&u->pending[i]);
    free(u->pending);
    free(u->index);
    pthread_mutex_destroy(&u->mu);
    free(u);
}
