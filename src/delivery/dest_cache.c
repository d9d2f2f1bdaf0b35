/*
 * dest_cache.c - a delivery thread's copies of its destinations (dest_cache.h;
 * docs/delivery.md "Throughput"). Loading a destination opens its sealed
 * secrets (AES-256-GCM under a key derived from the master key) and a
 * webhook's signing keys; doing that, and counting each key's use with an
 * UPDATE of its webhook_secrets row, for every attempt made every thread of
 * every instance queue on those rows. A copy is used while the destination's
 * version, read in the breaker's statement at every attempt, is the one read
 * with the copy; any change to its row or its keys (an update, a rotation, a
 * deletion, a change made by SQL) changes the version, and the next attempt
 * loads it again. The uses are counted here and written at most every second.
 */
#include "dest_cache.h"
#include "../core/util.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>

static void entry_free(adb__dcache_entry *e)
{
    adb__dest_free(&e->dest);
    adb__webhook_keys_free(e->keys, e->nkeys);
    free(e->uses);
    memset(e, 0, sizeof(*e));
}

/* The entry's uses written (c NULL: dropped). */
static void entry_flush(adb__dcache_entry *e, PGconn *c)
{
    const char *ids[ADB_DCACHE_KEYS_MAX];
    int uses[ADB_DCACHE_KEYS_MAX];
    size_t n = 0;
    for (size_t i = 0; i < e->nkeys && n < ADB_DCACHE_KEYS_MAX; i++)
        if (e->uses && e->uses[i] > 0) {
            ids[n] = e->keys[i].id;
            uses[n++] = e->uses[i];
        }
    if (n && c && adb__webhook_keys_use(c, ids, uses, n) != ADB_OK)
        return;   /* kept: written with the next flush */
    for (size_t i = 0; e->uses && i < e->nkeys; i++)
        e->uses[i] = 0;
}

adb__dcache_entry *adb__dcache_find(adb__dest_cache *dc, const char *org, int id)
{
    for (int i = 0; i < ADB_DCACHE_MAX; i++)
        if (dc->e[i].used && dc->e[i].id == id && !strcmp(dc->e[i].org, org))
            return &dc->e[i];
    return NULL;
}

adb_status adb__dcache_load(adb__dest_cache *dc, adb *h, PGconn *c, const char *org, int id,
                            int64_t now_ms, adb__dcache_entry **out)
{
    adb__dcache_entry *e = adb__dcache_find(dc, org, id);
    *out = NULL;
    if (!e) {
        e = &dc->e[0];
        for (int i = 0; i < ADB_DCACHE_MAX; i++) {
            if (!dc->e[i].used) {
                e = &dc->e[i];
                break;
            }
            if (dc->e[i].touched_ms < e->touched_ms)
                e = &dc->e[i];
        }
    }
    if (e->used) {
        adb__dcache_health_flush(e, h, c, now_ms);
        entry_flush(e, c);
    }
    entry_free(e);
    adb_status st = adb__dest_load_v(h, c, org, id, &e->dest, e->version, sizeof(e->version));
    if (st == ADB_OK && !strcmp(e->dest.type, "webhook")) {
        st = adb__webhook_keys_load(h, c, org, id, now_ms, false, &e->keys, &e->nkeys);
        if (st == ADB_OK && e->nkeys && !(e->uses = calloc(e->nkeys, sizeof(int))))
            st = ADB_ERR_NOMEM;
    }
    if (st != ADB_OK) {
        entry_free(e);
        return st;
    }
    e->used = true;
    e->id = id;
    adb__fmt(e->org, sizeof(e->org), "%s", org);
    e->touched_ms = now_ms;
    *out = e;
    return ADB_OK;
}

void adb__dcache_drop(adb__dest_cache *dc, PGconn *c, const char *org, int id)
{
    adb__dcache_entry *e = adb__dcache_find(dc, org, id);
    if (e) {
        entry_flush(e, c);
        entry_free(e);
    }
}

size_t adb__dcache_keys(adb__dcache_entry *e, int64_t now_ms, adb__signing_key *out, size_t max)
{
    size_t n = 0;
    e->touched_ms = now_ms;
    for (size_t i = 0; i < e->nkeys && n < max; i++) {
        if (e->keys[i].expires_ms && e->keys[i].expires_ms <= now_ms)
            continue;   /* its grace period ended since it was read */
        out[n++] = e->keys[i];
        if (e->uses)
            e->uses[i]++;
    }
    return n;
}

void adb__dcache_flush(adb__dest_cache *dc, PGconn *c, int64_t now_ms, bool force)
{
    if (!force && now_ms - dc->flushed_ms < 1000)
        return;
    dc->flushed_ms = now_ms;
    for (int i = 0; i < ADB_DCACHE_MAX; i++)
        if (dc->e[i].used)
            entry_flush(&dc->e[i], c);
}

void adb__dcache_success(adb__dcache_entry *e, int ms, int64_t now_ms)
{
    if (e->ok_n == 0)
        e->ok_since_ms = now_ms;
    if (e->ok_n == 100) {
        memmove(e->ok_ms, e->ok_ms + 1, 99 * sizeof(int));
        e->ok_ms[99] = ms;
    } else {
        e->ok_ms[e->ok_n] = ms;
    }
    e->ok_n++;
}

void adb__dcache_health_flush(adb__dcache_entry *e, adb *h, PGconn *c, int64_t now_ms)
{
    if (e->ok_n == 0)
        return;
    if (e->ok_n > 100) {
        /* more than the samples kept: the oldest ones' times are gone; they
         * count with the average of the kept ones' */
        int extra = e->ok_n - 100, *all = malloc((size_t)e->ok_n * sizeof(int));
        if (all) {
            long long sum = 0;
            for (int i = 0; i < 100; i++)
                sum += e->ok_ms[i];
            for (int i = 0; i < extra; i++)
                all[i] = (int)(sum / 100);
            memcpy(all + extra, e->ok_ms, 100 * sizeof(int));
            (void)adb__health_record_successes(h, c, &e->dest, all, e->ok_n, now_ms);
            free(all);
        }
    } else {
        (void)adb__health_record_successes(h, c, &e->dest, e->ok_ms, e->ok_n, now_ms);
    }
    e->ok_n = 0;
}

void adb__dcache_health_due(adb__dest_cache *dc, adb *h, PGconn *c, int64_t now_ms, bool force)
{
    for (int i = 0; i < ADB_DCACHE_MAX; i++)
        if (dc->e[i].used && dc->e[i].ok_n && (force || now_ms - dc->e[i].ok_since_ms >= 250))
            adb__dcache_health_flush(&dc->e[i], h, c, now_ms);
}

void adb__dcache_clear(adb__dest_cache *dc, PGconn *c)
{
    for (int i = 0; i < ADB_DCACHE_MAX; i++)
        if (dc->e[i].used) {
            entry_flush(&dc->e[i], c);
            entry_free(&dc->e[i]);
        }
}
