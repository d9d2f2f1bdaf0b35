/*
 * tiles.h - an organization's Merkle tree as stored in PostgreSQL (C2SP
 * tlog-tiles, docs/log.md): the tlog-tiles path encoding, and the tree's
 * head, roots, proofs and entries, all computed from the stored tiles alone
 * (never from audit_log rows), so archived and deleted events stay provable.
 *
 * Leaf i of an organization's tree is its event at chain position i + 1. Its
 * entry (48 bytes) is the event's public id (16 raw UUID bytes) followed by
 * the 32 raw bytes of its content hash; the leaf hash is SHA-256(0x00 ||
 * entry). Tile (L, N) holds the hashes of the subtrees of 256^L leaves
 * number N*256 .. N*256+width-1; entry bundle N the entries of leaves
 * N*256 .. N*256+width-1.
 *
 * Every function takes a connection: the owner's (sees every organization)
 * or a tenant connection (row-level security shows only its organization;
 * another organization's tree is ADB_ERR_NOT_FOUND there). Status: ADB_OK,
 * ADB_ERR_NOT_FOUND (no tree, or an index or size beyond the integrated
 * tree, or a tile missing), ADB_ERR_INVALID (bad arguments),
 * ADB_ERR_DB_QUERY; err says why.
 */
#ifndef ADB_LOG_TILES_H
#define ADB_LOG_TILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <libpq-fe.h>

#include "merkle.h"

#define ADB_TILE_HEIGHT 8
#define ADB_TILE_WIDTH 256
#define ADB_TREE_ENTRY 48
#define ADB_TILE_MAX_LEVEL 63
/* the longest index path: 7 elements of "x123/" */
#define ADB_TILE_PATH_MAX 40

/* ---- tlog-tiles paths ------------------------------------------------------ */

/* Index n as tlog-tiles path elements ("x001/x234/067" for 1234067) into out
 * (ADB_TILE_PATH_MAX bytes). */
void adb__tile_index_path(uint64_t n, char out[ADB_TILE_PATH_MAX]);

/* Parses what follows ".../tile/<L>/" or ".../tile/entries/": "<N>" or
 * "<N>.p/<W>" with N in the canonical element form (no "x000" leading
 * element) and W 1..255 without leading zeros. *width = 0 for a full tile.
 * False when s is anything else. */
bool adb__tile_parse_index(const char *s, uint64_t *index, unsigned *width);

/* Parses a level "0".."63" (no leading zeros). */
bool adb__tile_parse_level(const char *s, unsigned *level);

/* The width of the partial tile at level for a tree of size leaves:
 * floor(size / 256^level) mod 256 (0: no partial tile at that level). */
unsigned adb__tile_partial_width(uint64_t size, unsigned level);

/* ---- the tree (COORD.md "tree") -------------------------------------------- */

/* entry = event_id || content_hash (48 bytes). */
void adb__tree_entry_make(const uint8_t event_id[16], const uint8_t content_hash[32],
                          uint8_t entry[48]);

/* The same from text: a UUID ("8-4-4-4-12" hex, either case) and 64 hex
 * digits. False when either is malformed. */
bool adb__tree_entry_from_text(const char *event_id, const char *content_hash_hex,
                               uint8_t entry[48]);

/* The integrated size and root (the root the integrator stored with it). */
adb_status adb__tree_head(PGconn *c, const char *org, uint64_t *size, uint8_t root[32], char *err,
                          size_t errlen);

/* The root of the first size leaves (size <= the head's; 0: SHA-256 of nothing). */
adb_status adb__tree_root_at(PGconn *c, const char *org, uint64_t size, uint8_t root[32],
                             char *err, size_t errlen);

/* The inclusion proof of leaf index in the tree of size leaves (size <= the
 * head's); proof holds ADB_MERKLE_MAX_PROOF hashes, *n is set. */
adb_status adb__tree_inclusion_proof(PGconn *c, const char *org, uint64_t index, uint64_t size,
                                     adb__mhash *proof, size_t *n, char *err, size_t errlen);

/* The consistency proof from size1 to size2 (size1 <= size2 <= the head's). */
adb_status adb__tree_consistency_proof(PGconn *c, const char *org, uint64_t size1, uint64_t size2,
                                       adb__mhash *proof, size_t *n, char *err, size_t errlen);

/* The 48-byte entry of leaf index (from its entry bundle). */
adb_status adb__tree_entry(PGconn *c, const char *org, uint64_t index, uint8_t entry[48], char *err,
                           size_t errlen);

/* ---- tiles as served -------------------------------------------------------- */

/* Tile (level, index) at width (0: the full tile) as tlog-tiles serves it:
 * width*32 bytes (256*32 full) into a malloc()ed *out the caller frees.
 * A partial width is served from the stored (possibly wider) tile by
 * cutting: ADB_ERR_NOT_FOUND when fewer hashes are stored, or when a full
 * tile is asked and the stored one is partial. */
adb_status adb__tree_tile(PGconn *c, const char *org, unsigned level, uint64_t index,
                          unsigned width, uint8_t **out, size_t *outlen, char *err, size_t errlen);

/* Entry bundle index at width (0: full): each entry prefixed with its length
 * as a big-endian uint16 (50 bytes an entry), malloc()ed into *out. */
adb_status adb__tree_entry_bundle(PGconn *c, const char *org, uint64_t index, unsigned width,
                                  uint8_t **out, size_t *outlen, char *err, size_t errlen);

/* ---- for the integrator ----------------------------------------------------- */

/* A subtree getter over the stored tiles (merkle.h's adb__merkle_get_fn): a
 * subtree at a level that is not a multiple of 8 is computed from the tile
 * below. Holds a few tiles between calls; adb__tile_reader_done frees them. */
typedef struct adb__tile_reader adb__tile_reader;

adb__tile_reader *adb__tile_reader_new(PGconn *c, const char *org);
/* Gives r tile (level, index) of width hashes (copied), so that it is not
 * read; with c NULL a reader reads nothing and a tile not given is
 * ADB_ERR_NOT_FOUND. At most 16 tiles are held (the oldest given goes
 * first). False when out of memory or width is not 1..256. */
bool adb__tile_reader_put(adb__tile_reader *r, unsigned level, uint64_t index,
                          const uint8_t *hashes, unsigned width);
adb_status adb__tile_reader_get(void *reader, unsigned level, uint64_t index, uint8_t out[32]);
/* The message of the last failure ("" if none). */
const char *adb__tile_reader_error(const adb__tile_reader *r);
void adb__tile_reader_done(adb__tile_reader *r);

#endif
