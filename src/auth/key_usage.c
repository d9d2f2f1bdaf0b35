/*
 * key_usage.c - last-use times of API keys, kept in memory and written in
 * batches (docs/auth.md, "Last use of a key").
 *
 * A write per authenticated request would double the statements of the
 * busiest path and take a row lock on the key of every request. Instead the
 * time of each key's latest use waits here, one entry per key, and one
 * UPDATE ... FROM unnest() writes them all every interval. A crash loses at
 * most one interval of "last used" times, never an event or an audit row.
 */
#include "key_usage.h"
#include "../core/ticker.h"
#include "../core/util.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define KEY_ID_MAX 24
#define PENDING_MAX 100000 /* distinct keys per interval; beyond, a new key's use waits */

typedef struct use {
    char id[KEY_ID_MAX];
    long long at;  /* Unix seconds of the latest use */
} use;

struct adb__key_usage {
    pthread_mutex_t mu;
    use *pending;     /* one entry per key used since the last flush */
    size_t n, cap;
    unsigned *index;  /* open addressing over pending: i + 1, 0 = free */
    size_t nslots;    /* a power of two, at least 2 * cap */
    adb__ticker *ticker; /* the periodic flush, once started */
    adb_pool *pool;
};

adb__key_usage *adb__key_usage_new(void)
{
    adb__key_usage *u = calloc(1, sizeof(*u));

    if (!u)
        return NULL;
    pthread_mutex_init(&u->mu, NULL);
    return u;
}

static size_t hash_of(const char *id)
{
    size_t h = 2166136261u;
    for (; *id; id++)
        h = (h ^ (unsigned char)*id) * 16777619u;
    return h;
}

/* The slot of id in u->index: its entry's, or the free one where it goes. */
static size_t slot_of(const adb__key_usage *u, const char *id)
{
    size_t s = hash_of(id) & (u->nslots - 1);
    while (u->index[s] && strcmp(u->pending[u->index[s] - 1].id, id) != 0)
        s = (s + 1) & (u->nslots - 1);
    return s;
}

/* Doubles pending and rebuilds the index; false when out of memory. */
static bool grow(adb__key_usage *u)
{
    size_t cap = u->cap ? u->cap * 2 : 16, nslots = cap * 2;
    use *p = realloc(u->pending, cap * sizeof(*p));
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
        u->index[slot_of(u, u->pending[i].id)] = (unsigned)i + 1;
    return true;
}

/* Records (id, at) keeping the later time; the caller holds u->mu. */
static void remember(adb__key_usage *u, const char *id, long long at)
{
    size_t s;

    if (u->nslots) {
        s = slot_of(u, id);
        if (u->index[s]) {
            use *e = &u->pending[u->index[s] - 1];
            if (at > e->at)
                e->at = at;
            return;
        }
    }
    if (u->n >= PENDING_MAX || (u->n == u->cap && !grow(u)))
        return;
    s = slot_of(u, id);
    adb__fmt(u->pending[u->n].id, KEY_ID_MAX, "%s", id);
    u->pending[u->n].at = at;
    u->index[s] = (unsigned)++u->n;
}

void adb__key_usage_note(adb__key_usage *u, const char *key_id)
{
    if (!u || !key_id || !key_id[0] || strlen(key_id) >= KEY_ID_MAX)
        return;
    pthread_mutex_lock(&u->mu);
    remember(u, key_id, (long long)time(NULL));
    pthread_mutex_unlock(&u->mu);
}

/* Builds the two array literals {id,...} and {seconds,...}. Key ids are hex
 * digits (checked by the caller's parser), so they need no quoting. */
static bool arrays(const use *v, size_t n, char **ids, char **ats)
{
    size_t idlen = 3 + n * (KEY_ID_MAX + 1), atlen = 3 + n * 24, io = 0, ao = 0;

    *ids = malloc(idlen);
    *ats = malloc(atlen);
    if (!*ids || !*ats) {
        free(*ids);
        free(*ats);
        return false;
    }
    (*ids)[io++] = '{';
    (*ats)[ao++] = '{';
    for (size_t i = 0; i < n; i++) {
        io += (size_t)snprintf(*ids + io, idlen - io, "%s%s", i ? "," : "", v[i].id);
        ao += (size_t)snprintf(*ats + ao, atlen - ao, "%s%lld", i ? "," : "", v[i].at);
    }
    adb__fmt(*ids + io, idlen - io, "}");
    adb__fmt(*ats + ao, atlen - ao, "}");
    return true;
}

adb_status adb__key_usage_flush(adb__key_usage *u, adb_pool *pool)
{
    use *batch;
    size_t n;
    char *ids, *ats;
    adb_status st;
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
    if (!arrays(batch, n, &ids, &ats)) {
        st = ADB_ERR_NOMEM;
        goto out;
    }
    if ((c = adb_pool_acquire(pool, &st, NULL, 0)) != NULL) {
        const char *p[] = { ids, ats };
        /* last_request is UTC without a time zone (better-auth's column).
         * An update of last_request alone does not NOTIFY auditdb_auth
         * (0014), so a flush does not empty every server's key cache. A row
         * is written only when the time moves forward. */
        PGresult *r = PQexecParams(
            c,
            "UPDATE apikey AS k SET last_request = u.at"
            " FROM (SELECT id, to_timestamp(s) AT TIME ZONE 'UTC' AS at"
            "       FROM unnest($1::text[], $2::bigint[]) AS x(id, s)) AS u"
            " WHERE k.id = u.id AND k.prefix = 'adb'"
            " AND (k.last_request IS NULL OR k.last_request < u.at)",
            2, NULL, p, NULL, NULL, 0);
        st = PQresultStatus(r) == PGRES_COMMAND_OK ? ADB_OK : ADB_ERR_DB_QUERY;
        PQclear(r);
        adb_pool_release(pool, c);
    }
    free(ids);
    free(ats);
out:
    pthread_mutex_lock(&u->mu);
    if (st != ADB_OK) /* keep them for the next flush */
        for (size_t i = 0; i < n; i++)
            remember(u, batch[i].id, batch[i].at);
    pthread_mutex_unlock(&u->mu);
    free(batch);
    return st;
}

static void tick(void *arg)
{
    adb__key_usage *u = arg;

    (void)adb__key_usage_flush(u, u->pool);
}

adb_status adb__key_usage_start(adb__key_usage *u, adb_pool *pool, int interval_s)
{
    if (!u || interval_s <= 0)
        return ADB_ERR_INVALID;
    u->pool = pool;
    if (!(u->ticker = adb__ticker_start(interval_s, tick, u)))
        return ADB_ERR_INTERNAL;
    return ADB_OK;
}

void adb__key_usage_close(adb__key_usage *u, adb_pool *pool)
{
    if (!u)
        return;
    adb__ticker_stop(u->ticker);
    (void)adb__key_usage_flush(u, pool);
    free(u->pending);
    free(u->index);
    pthread_mutex_destroy(&u->mu);
    free(u);
}
