/*
 * tile_cache.h - full tiles of the upper levels of organizations' trees kept
 * in memory, so that a receipt reads from the database only the tiles that
 * are not (docs/proofs.md, "Speed"). Only full tiles (256 hashes) of level 1
 * and above are kept: they never change (audit_tree_tile's trigger lets a
 * tile only grow, and a full one not at all), and there are few of them
 * (a 10-million-leaf tree has 152 full tiles at level 1, none above). Level 0
 * tiles (one per 256 events) are read per receipt. A cache belongs to one
 * database (serve keeps one in its state). Thread-safe.
 */
#ifndef ADB_LOG_TILE_CACHE_H
#define ADB_LOG_TILE_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tiles.h"
#include "../core/cache_stats.h"

typedef struct adb__tile_cache adb__tile_cache;

/* A cache of at most slots tiles (8 KiB each); NULL when out of memory. */
adb__tile_cache *adb__tile_cache_new(size_t slots);
void adb__tile_cache_free(adb__tile_cache *tc);

/* Tile (level, index) of org into out (ADB_TILE_WIDTH * 32 bytes) and its
 * width into *width: true when held. */
bool adb__tile_cache_get(adb__tile_cache *tc, const char *org, unsigned level, uint64_t index,
                         uint8_t *out, unsigned *width);

/* Keeps the tile (width hashes) unless it is a full tile of level 0, or a
 * wider one of it is held. */
void adb__tile_cache_put(adb__tile_cache *tc, const char *org, unsigned level, uint64_t index,
                         const uint8_t *hashes, unsigned width);

/* The tiles held for org as three PostgreSQL array literals of as many
 * elements: levels ("{1,0}"), indexes ("{7,390}") and widths ("{256,12}"),
 * each into a buffer of cap bytes (NUL-terminated; "{}" when none). Stops
 * before a buffer would overflow. */
void adb__tile_cache_list(adb__tile_cache *tc, const char *org, char *levels, char *indexes,
                          char *widths, size_t cap);

/* Lookups, hits, evictions and size since the cache was made. */
void adb__tile_cache_stats(adb__tile_cache *tc, adb__cache_stats *out);

#endif
