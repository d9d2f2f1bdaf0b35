/*
 * tile_cache.c - upper full tiles of organizations' trees in memory
 * (tile_cache.h): a direct-mapped table under one mutex.
 */
#include "tile_cache.h"

#include "../core/util.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ORG_MAX 256

typedef struct slot {
    bool used;
    char org[ORG_MAX];
    unsigned level;
    uint64_t index;
    unsigned width;
    uint8_t *hashes; /* ADB_TILE_WIDTH * 32 */
} slot;

struct adb__tile_cache {
    pthread_mutex_t mu;
    slot *s;
    size_t n;
    long long hits, misses, evictions; /* adb__tile_cache_stats */
};

adb__tile_cache *adb__tile_cache_new(size_t slots)
{
    adb__tile_cache *tc = calloc(1, sizeof(*tc));

    if (!tc || !slots || !(tc->s = calloc(slots, sizeof(*tc->s)))) {
        free(tc);
        return NULL;
    }
    tc->n = slots;
    pthread_mutex_init(&tc->mu, NULL);
    return tc;
}

void adb__tile_cache_free(adb__tile_cache *tc)
{
    if (!tc)
        return;
    for (size_t i = 0; i < tc->n; i++)
        free(tc->s[i].hashes);
    free(tc->s);
    pthread_mutex_destroy(&tc->mu);
    free(tc);
}

static size_t slot_of(const adb__tile_cache *tc, const char *org, unsigned level, uint64_t index)
{
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = org; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211ULL;
    h = (h ^ level) * 1099511628211ULL;
    h = (h ^ index) * 1099511628211ULL;
    return (size_t)(h % tc->n);
}

bool adb__tile_cache_get(adb__tile_cache *tc, const char *org, unsigned level, uint64_t index,
                         uint8_t *out, unsigned *width)
{
    bool hit = false;

    if (!tc || strlen(org) >= ORG_MAX)
        return false;
    pthread_mutex_lock(&tc->mu);
    slot *s = &tc->s[slot_of(tc, org, level, index)];
    if (s->used && s->level == level && s->index == index && !strcmp(s->org, org)) {
        memcpy(out, s->hashes, (size_t)s->width * 32);
        *width = s->width;
        hit = true;
    }
    if (hit)
        tc->hits++;
    else
        tc->misses++;
    pthread_mutex_unlock(&tc->mu);
    return hit;
}

void adb__tile_cache_put(adb__tile_cache *tc, const char *org, unsigned level, uint64_t index,
                         const uint8_t *hashes, unsigned width)
{
    if (!tc || (level == 0 && width == ADB_TILE_WIDTH) || width == 0 || width > ADB_TILE_WIDTH ||
        strlen(org) >= ORG_MAX)
        return;
    pthread_mutex_lock(&tc->mu);
    slot *s = &tc->s[slot_of(tc, org, level, index)];
    if (s->used && s->level == level && s->index == index && !strcmp(s->org, org) &&
        s->width >= width) {
        pthread_mutex_unlock(&tc->mu);
        return;
    }
    if (!s->hashes)
        s->hashes = malloc((size_t)ADB_TILE_WIDTH * 32);
    if (s->hashes) {
        if (s->used && (s->level != level || s->index != index || strcmp(s->org, org) != 0))
            tc->evictions++;
        memcpy(s->hashes, hashes, (size_t)width * 32);
        s->width = width;
        memcpy(s->org, org, strlen(org) + 1);
        s->level = level;
        s->index = index;
        s->used = true;
    }
    pthread_mutex_unlock(&tc->mu);
}

void adb__tile_cache_list(adb__tile_cache *tc, const char *org, char *levels, char *indexes,
                          char *widths, size_t cap)
{
    size_t ol = 0, oi = 0, ow = 0;

    if (cap < 3)
        return;
    levels[ol++] = indexes[oi++] = widths[ow++] = '{';
    if (tc) {
        pthread_mutex_lock(&tc->mu);
        for (size_t i = 0; i < tc->n; i++) {
            const slot *s = &tc->s[i];
            char l[16], x[32], w[16];
            if (!s->used || strcmp(s->org, org) != 0)
                continue;
            const char *sep = ol > 1 ? "," : "";
            int kl = snprintf(l, sizeof(l), "%s%u", sep, s->level);
            int kx = snprintf(x, sizeof(x), "%s%" PRIu64, sep, s->index);
            int kw = snprintf(w, sizeof(w), "%s%u", sep, s->width);
            if (kl < 0 || kx < 0 || kw < 0 || ol + (size_t)kl + 2 > cap ||
                oi + (size_t)kx + 2 > cap || ow + (size_t)kw + 2 > cap)
                break;
            memcpy(levels + ol, l, (size_t)kl);
            ol += (size_t)kl;
            memcpy(indexes + oi, x, (size_t)kx);
            oi += (size_t)kx;
            memcpy(widths + ow, w, (size_t)kw);
            ow += (size_t)kw;
        }
        pthread_mutex_unlock(&tc->mu);
    }
    levels[ol++] = indexes[oi++] = widths[ow++] = '}';
    levels[ol] = indexes[oi] = widths[ow] = '\0';
}

void adb__tile_cache_stats(adb__tile_cache *tc, adb__cache_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (!tc)
        return;
    pthread_mutex_lock(&tc->mu);
    out->hits = tc->hits;
    out->misses = tc->misses;
    out->evictions = tc->evictions;
    out->capacity = (long long)tc->n;
    out->bytes = (long long)(sizeof(*tc) + tc->n * sizeof(slot));
    for (size_t i = 0; i < tc->n; i++) {
        out->entries += tc->s[i].used;
        if (tc->s[i].hashes)
            out->bytes += (long long)ADB_TILE_WIDTH * 32;
    }
    pthread_mutex_unlock(&tc->mu);
}
