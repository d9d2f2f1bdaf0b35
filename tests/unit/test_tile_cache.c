/*
 * test_tile_cache.c - what a receipt's one statement relies on (src/http/
 * proofs.c, docs/proofs.md "Speed"): an inclusion proof of leaf i in a tree
 * of n leaves needs, per tile level L, only the tile holding the leaf
 * (L, i >> (8L+8)) and the tile at the tree's right edge (L, n >> (8L+8)),
 * cut to the width the tree has there: a tile reader given only those (and
 * reading nothing else) makes, for leaves of trees of 1 to 70,000 leaves
 * around the tile boundaries, the proof made from every subtree hash;
 * without the leaf's tile (when it holds another leaf) it fails rather than
 * answer. And the tile cache
 * (src/log/tile_cache.c): full level-0 tiles not kept, a narrower tile never
 * replaces a wider one, organizations apart, its list as array literals.
 */
#include <openssl/rand.h>
#include <stdint.h>

#include "../../src/log/merkle.h"
#include "../../src/log/tile_cache.h"
#include "../../src/log/tiles.h"
#include "t.h"

#define MAXN 70000

static adb__mhash *lv[64];
static uint64_t nlv[64];

static adb_status get(void *ctx, unsigned l, uint64_t index, uint8_t out[32])
{
    (void)ctx;
    if (l >= 64 || index >= nlv[l])
        return ADB_ERR_INVALID;
    memcpy(out, lv[l][index], 32);
    return ADB_OK;
}

/* every perfect subtree of the first n leaves */
static void build(const uint8_t (*leaves)[32], uint64_t n)
{
    for (unsigned l = 0; l < 64; l++)
        nlv[l] = 0;
    memcpy(lv[0], leaves, n * 32);
    nlv[0] = n;
    for (unsigned l = 1; nlv[l - 1] > 1; l++) {
        nlv[l] = nlv[l - 1] / 2;
        for (uint64_t i = 0; i < nlv[l]; i++)
            adb__merkle_node_hash(lv[l - 1][2 * i], lv[l - 1][2 * i + 1], lv[l][i]);
    }
}

/* Gives r tile (L, N) of the tree as stored for size n, cut to width w. */
static bool give(adb__tile_reader *r, unsigned L, uint64_t N, unsigned w)
{
    uint8_t buf[256 * 32];
    unsigned level = 8 * L;
    for (unsigned k = 0; k < w; k++) {
        if (N * 256 + k >= nlv[level])
            return false;
        memcpy(buf + k * 32, lv[level][N * 256 + k], 32);
    }
    return adb__tile_reader_put(r, L, N, buf, w);
}

/* The tiles the statement brings for leaf i of a tree of n leaves; skip
 * (L, N): leave that one out. */
static adb__tile_reader *seeded(uint64_t i, uint64_t n, int skip)
{
    adb__tile_reader *r = adb__tile_reader_new(NULL, "org");
    int k = 0;
    for (unsigned L = 0; L < 7 && r; L++) {
        uint64_t want[2] = { i >> (8 * L + 8), n >> (8 * L + 8) };
        for (int j = 0; j < 2; j++, k++) {
            unsigned need = want[j] < (n >> (8 * L + 8)) ? 256 : (unsigned)((n >> (8 * L)) % 256);
            if (need == 0 || k == skip || (j == 1 && want[1] == want[0]))
                continue;
            if (!give(r, L, want[j], need)) {
                adb__tile_reader_done(r);
                return NULL;
            }
        }
    }
    return r;
}

static void proofs_from_the_tiles_brought(void)
{
    static uint8_t leaves[MAXN][32];
    static const uint64_t sizes[] = { 1, 2, 255, 256, 257, 511, 512, 513, 1000, 65535,
                                      65536, 65537, 65792, 66000, 70000 };
    int checked = 0, refused = 0;

    for (int l = 0; l < 64; l++)
        REQUIRE((lv[l] = malloc(MAXN * 32)));
    REQUIRE(RAND_bytes((uint8_t *)leaves, sizeof(leaves)) == 1);
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        uint64_t n = sizes[s];
        build((const uint8_t (*)[32])leaves, n);
        uint64_t step = n > 3000 ? n / 1500 : 1;
        for (uint64_t i = 0; i < n; i += step) {
            adb__mhash want[ADB_MERKLE_MAX_PROOF], got[ADB_MERKLE_MAX_PROOF];
            size_t nw = 0, ng = 0;
            REQUIRE(adb__merkle_inclusion_proof(get, NULL, i, n, want, &nw) == ADB_OK);
            adb__tile_reader *r = seeded(i, n, -1);
            REQUIRE(r);
            adb_status st = adb__merkle_inclusion_proof(adb__tile_reader_get, r, i, n, got, &ng);
            CHECK_MSG(st == ADB_OK && ng == nw && !memcmp(got, want, nw * 32),
                      "leaf %llu of %llu: %s", (unsigned long long)i, (unsigned long long)n,
                      adb__tile_reader_error(r));
            adb__tile_reader_done(r);
            checked++;
            /* without the leaf's level-0 tile (the first given), no proof, when that
             * tile holds another leaf (else the proof needs nothing of it) */
            uint64_t in_tile = n - (i >> 8) * 256;
            if (in_tile >= 2 && (r = seeded(i, n, 0))) {
                st = adb__merkle_inclusion_proof(adb__tile_reader_get, r, i, n, got, &ng);
                CHECK_MSG(st == ADB_ERR_NOT_FOUND, "leaf %llu of %llu proven without its tile",
                          (unsigned long long)i, (unsigned long long)n);
                refused++;
                adb__tile_reader_done(r);
            }
        }
    }
    for (int l = 0; l < 64; l++)
        free(lv[l]);
    printf("# %d proofs from the tiles a receipt's statement brings, %d refused without the "
           "leaf's tile\n", checked, refused);
}

static void the_cache(void)
{
    adb__tile_cache *tc = adb__tile_cache_new(64);
    uint8_t t[256 * 32], out[256 * 32];
    unsigned w = 0;
    char l[256], x[256], ws[256];

    REQUIRE(tc);
    for (int i = 0; i < (int)sizeof(t); i++)
        t[i] = (uint8_t)i;
    adb__tile_cache_put(tc, "a", 0, 3, t, 256);
    CHECK(!adb__tile_cache_get(tc, "a", 0, 3, out, &w)); /* full level 0: read per receipt */
    adb__tile_cache_put(tc, "a", 0, 4, t, 17);
    CHECK(adb__tile_cache_get(tc, "a", 0, 4, out, &w) && w == 17 && !memcmp(out, t, 17 * 32));
    adb__tile_cache_put(tc, "a", 1, 0, t, 256);
    CHECK(adb__tile_cache_get(tc, "a", 1, 0, out, &w) && w == 256 && !memcmp(out, t, sizeof(t)));
    adb__tile_cache_put(tc, "a", 1, 0, t + 32, 10); /* narrower: the wider stays */
    CHECK(adb__tile_cache_get(tc, "a", 1, 0, out, &w) && w == 256 && !memcmp(out, t, sizeof(t)));
    adb__tile_cache_put(tc, "a", 0, 4, t, 40); /* wider: replaces */
    CHECK(adb__tile_cache_get(tc, "a", 0, 4, out, &w) && w == 40);
    CHECK(!adb__tile_cache_get(tc, "b", 1, 0, out, &w)); /* another organization */
    CHECK(!adb__tile_cache_get(tc, "a", 1, 1, out, &w));
    adb__tile_cache_put(tc, "a", 2, 0, t, 0); /* nothing */
    CHECK(!adb__tile_cache_get(tc, "a", 2, 0, out, &w));
    adb__tile_cache_list(tc, "a", l, x, ws, sizeof(l));
    CHECK((!strcmp(l, "{0,1}") && !strcmp(x, "{4,0}") && !strcmp(ws, "{40,256}")) ||
          (!strcmp(l, "{1,0}") && !strcmp(x, "{0,4}") && !strcmp(ws, "{256,40}")));
    adb__tile_cache_list(tc, "b", l, x, ws, sizeof(l));
    CHECK_STR(l, "{}");
    CHECK_STR(ws, "{}");
    adb__tile_cache_list(tc, "a", l, x, ws, 6); /* too small for both: stops before */
    CHECK(strlen(l) < 6 && l[0] == '{' && l[strlen(l) - 1] == '}');
    adb__tile_cache_free(tc);
}

int main(void)
{
    RUN(proofs_from_the_tiles_brought);
    RUN(the_cache);
    return t_done();
}
