/*
 * metrics_cache.c - the `cache` of GET /api/v1/metrics/system (docs/monitoring.md
 * "Where each figure comes from"): auditdb's caches are in the process's
 * memory (no shared cache: REDIS_URL carries rate limits, not cached data),
 * so the figures are theirs, counted since serve started: the API keys'
 * and the roles' caches (src/auth/auth.c) and the upper tiles of the log's
 * trees (src/log/tile_cache.c).
 */
#include "metrics_api.h"
#include "../core/adb_internal.h"
#include "../log/tile_cache.h"

static double pct(long long part, long long whole)
{
    return whole > 0 ? (double)part * 100.0 / (double)whole : 0.0;
}

static json_t *one(const adb__cache_stats *s)
{
    long long n = s->hits + s->misses;
    return json_pack("{s:f, s:f, s:f, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "hitRate", pct(s->hits, n),
                     "missRate", pct(s->misses, n), "evictionRate", pct(s->evictions, n),
                     "memoryUsage", (json_int_t)s->bytes, "keyCount", (json_int_t)s->entries,
                     "capacity", (json_int_t)s->capacity, "totalRequests", (json_int_t)n,
                     "totalHits", (json_int_t)s->hits, "totalMisses", (json_int_t)s->misses,
                     "evictions", (json_int_t)s->evictions);
}

json_t *mx_cache_figures(adb_http_request *req)
{
    adb__cache_stats k, r, t, all = { 0 };
    adb__auth_cache_stats(req->state->db, &k, &r);
    adb__tile_cache_stats(req->state->tiles, &t);
    const adb__cache_stats *each[] = { &k, &r, &t };
    for (size_t i = 0; i < 3; i++) {
        all.hits += each[i]->hits, all.misses += each[i]->misses, all.evictions += each[i]->evictions;
        all.entries += each[i]->entries, all.capacity += each[i]->capacity, all.bytes += each[i]->bytes;
    }
    json_t *o = one(&all);
    if (o) {
        json_object_set_new(o, "backend", json_string("memory"));
        json_object_set_new(o, "caches", json_pack("{s:o, s:o, s:o}", "apiKeys", one(&k), "roles", one(&r),
                                                   "logTiles", one(&t)));
    }
    return o;
}
