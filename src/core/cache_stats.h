/*
 * cache_stats.h - the figures every in-memory cache of the process keeps
 * (the API keys' and roles' caches of src/auth/auth.c, the log's tile cache
 * of src/log/tile_cache.c), read by GET /api/v1/metrics/system's `cache`.
 */
#ifndef ADB_CORE_CACHE_STATS_H
#define ADB_CORE_CACHE_STATS_H

typedef struct adb__cache_stats {
    long long hits, misses;  /* lookups answered from memory, and not */
    long long evictions;     /* live entries replaced by another */
    long long entries;       /* live entries now */
    long long capacity;      /* entries it can hold */
    long long bytes;         /* memory it holds */
} adb__cache_stats;

#endif
