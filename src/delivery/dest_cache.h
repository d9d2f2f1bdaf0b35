/*
 * dest_cache.h - a delivery thread's copies of the destinations it delivers
 * to (dest_cache.c; docs/delivery.md "Throughput"): the destination with its
 * secrets opened and a webhook's signing keys, kept while the destination's
 * version (ADB_DEST_VERSION_SQL, read with the breaker's row at every
 * attempt) is unchanged, and the keys' uses counted in memory and written
 * at most every second. Internal to src/delivery/; one per thread, no lock.
 */
#ifndef ADB_DELIVERY_DEST_CACHE_H
#define ADB_DELIVERY_DEST_CACHE_H

#include "delivery.h"

#define ADB_DCACHE_MAX 16       /* destinations per thread */
#define ADB_DCACHE_KEYS_MAX 16  /* signing keys used per attempt */

typedef struct adb__dcache_entry {
    bool used;
    char org[256];
    int id;
    char version[40];
    adb__dest dest;               /* secrets opened (owned) */
    adb__signing_key *keys;       /* a webhook's active keys (owned, wiped on free) */
    size_t nkeys;
    int *uses;                    /* per key: uses not yet written */
    int64_t touched_ms;
    /* successes of a closed breaker not yet recorded in destination_health */
    int ok_n;
    int ok_ms[100];               /* their response times, the last 100 */
    int64_t ok_since_ms;          /* the first of them */
} adb__dcache_entry;

typedef struct adb__dest_cache {
    adb__dcache_entry e[ADB_DCACHE_MAX];
    int64_t flushed_ms;
} adb__dest_cache;

/* The entry of (org, id) when there is one, else NULL. */
adb__dcache_entry *adb__dcache_find(adb__dest_cache *dc, const char *org, int id);
/* Loads (org, id) into the cache (replacing its entry, or the least recently
 * used one; their uses written first), secrets opened, a webhook's keys read
 * without counting. ADB_ERR_NOT_FOUND: no such destination (or deleted);
 * ADB_ERR_CONFIG: its sealed secrets or keys do not open; ADB_ERR_DB_QUERY. */
adb_status adb__dcache_load(adb__dest_cache *dc, adb *h, PGconn *c, const char *org, int id,
                            int64_t now_ms, adb__dcache_entry **out);
/* Forgets (org, id) (its uses written first). */
void adb__dcache_drop(adb__dest_cache *dc, PGconn *c, const char *org, int id);
/* The entry's keys active at now_ms copied into out (at most max), each
 * counted as one use; how many. The caller wipes out after use. */
size_t adb__dcache_keys(adb__dcache_entry *e, int64_t now_ms, adb__signing_key *out, size_t max);
/* Writes the counted uses (usage_count, last_used_at) when force or a second
 * has passed since the last write: one statement. */
void adb__dcache_flush(adb__dest_cache *dc, PGconn *c, int64_t now_ms, bool force);
/* A success to e's destination while its breaker was closed: kept, and
 * recorded with the others once 250 ms have passed since the first (or by
 * adb__dcache_health_flush). */
void adb__dcache_success(adb__dcache_entry *e, int ms, int64_t now_ms);
/* Records e's kept successes now (adb__health_record_successes). */
void adb__dcache_health_flush(adb__dcache_entry *e, adb *h, PGconn *c, int64_t now_ms);
/* Records every entry's kept successes older than 250 ms (all when force). */
void adb__dcache_health_due(adb__dest_cache *dc, adb *h, PGconn *c, int64_t now_ms, bool force);
/* Writes the uses (c may be NULL: they are lost) and frees everything. */
void adb__dcache_clear(adb__dest_cache *dc, PGconn *c);

#endif
