/*
 * merkle.c - RFC 6962 / RFC 9162 Merkle tree math: hashes, proofs from any
 * store of subtree hashes, their verification, and the right edge of a
 * growing tree (merkle.h).
 *
 * Proof generation follows the recursive definitions of RFC 9162 2.1.3.1
 * (PATH) and 2.1.4.1 (SUBPROOF) over leaf ranges; the hash of a range that is
 * not a perfect subtree is combined from the perfect subtrees it splits into,
 * which is what a store of tiles holds. Verification follows 2.1.3.2 and
 * 2.1.4.2 step by step and consumes every hash of the proof.
 */
#include "merkle.h"

#include <openssl/evp.h>
#include <string.h>

#include "../core/digest.h"

void adb__merkle_leaf_hash(const void *data, size_t len, uint8_t out[32])
{
    uint8_t buf[1 + 1024];

    if (len < sizeof(buf)) {
        buf[0] = 0x00;
        if (len)
            memcpy(buf + 1, data, len);
        if (adb__sha256(buf, len + 1, out))
            return;
    }
    /* long leaves (and the unlikely failure above): OpenSSL's own way */
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned int olen = 0;
    static const uint8_t zero = 0x00;
    if (!c || !EVP_DigestInit_ex(c, EVP_sha256(), NULL) || !EVP_DigestUpdate(c, &zero, 1) ||
        (len && !EVP_DigestUpdate(c, data, len)) || !EVP_DigestFinal_ex(c, out, &olen))
        memset(out, 0, 32); /* never a valid hash of anything: proofs fail */
    EVP_MD_CTX_free(c);
}

void adb__merkle_node_hash(const uint8_t left[32], const uint8_t right[32], uint8_t out[32])
{
    uint8_t buf[65];

    buf[0] = 0x01;
    memcpy(buf + 1, left, 32);
    memcpy(buf + 33, right, 32);
    if (!adb__sha256(buf, sizeof(buf), out))
        memset(out, 0, 32);
}

static void empty_root(uint8_t out[32])
{
    if (!adb__sha256("", 0, out))
        memset(out, 0, 32);
}

/* The largest power of two below n (n >= 2). */
static uint64_t split_point(uint64_t n)
{
    uint64_t k = 1;
    while (k << 1 < n)
        k <<= 1;
    return k;
}

static void root_of(const adb__mhash *leaves, uint64_t n, uint8_t out[32])
{
    if (n == 1) {
        memcpy(out, leaves[0], 32);
        return;
    }
    uint64_t k = split_point(n);
    uint8_t l[32], r[32];
    root_of(leaves, k, l);
    root_of(leaves + k, n - k, r);
    adb__merkle_node_hash(l, r, out);
}

void adb__merkle_root(const adb__mhash *leaves, uint64_t n, uint8_t out[32])
{
    if (n == 0)
        empty_root(out);
    else
        root_of(leaves, n, out);
}

/* The hash of leaves [start, start + len), len >= 1, where start is a
 * multiple of the largest power of two not above len (true of every range
 * the recursions below ask for): a perfect subtree is read, anything else is
 * split at its largest power of two. */
static adb_status range_hash(adb__merkle_get_fn get, void *ctx, uint64_t start, uint64_t len,
                             uint8_t out[32])
{
    if ((len & (len - 1)) == 0) {
        unsigned level = (unsigned)__builtin_ctzll(len);
        return get(ctx, level, start >> level, out);
    }
    uint64_t k = split_point(len);
    uint8_t l[32], r[32];
    adb_status st = range_hash(get, ctx, start, k, l);
    if (st == ADB_OK)
        st = range_hash(get, ctx, start + k, len - k, r);
    if (st == ADB_OK)
        adb__merkle_node_hash(l, r, out);
    return st;
}

adb_status adb__merkle_root_from(adb__merkle_get_fn get, void *ctx, uint64_t size, uint8_t out[32])
{
    if (size == 0) {
        empty_root(out);
        return ADB_OK;
    }
    return range_hash(get, ctx, 0, size, out);
}

/* PATH(m, D[start:start+n]) appended to proof, innermost first: the
 * recursion goes down first and adds the sibling on the way back. */
static adb_status path(adb__merkle_get_fn get, void *ctx, uint64_t m, uint64_t start, uint64_t n,
                       adb__mhash *proof, size_t *np)
{
    if (n == 1)
        return ADB_OK;
    uint64_t k = split_point(n);
    adb_status st;
    if (m < k) {
        if ((st = path(get, ctx, m, start, k, proof, np)) != ADB_OK)
            return st;
        if (*np >= ADB_MERKLE_MAX_PROOF)
            return ADB_ERR_INVALID;
        return range_hash(get, ctx, start + k, n - k, proof[(*np)++]);
    }
    if ((st = path(get, ctx, m - k, start + k, n - k, proof, np)) != ADB_OK)
        return st;
    if (*np >= ADB_MERKLE_MAX_PROOF)
        return ADB_ERR_INVALID;
    return range_hash(get, ctx, start, k, proof[(*np)++]);
}

adb_status adb__merkle_inclusion_proof(adb__merkle_get_fn get, void *ctx, uint64_t index,
                                       uint64_t size, adb__mhash *proof, size_t *n)
{
    *n = 0;
    if (index >= size)
        return ADB_ERR_INVALID;
    return path(get, ctx, index, 0, size, proof, n);
}

/* SUBPROOF(m, D[start:start+n], b) of RFC 6962 2.1.2, appended to proof. */
static adb_status subproof(adb__merkle_get_fn get, void *ctx, uint64_t m, uint64_t start,
                           uint64_t n, bool whole, adb__mhash *proof, size_t *np)
{
    adb_status st;

    if (m == n) {
        if (whole)
            return ADB_OK;
        if (*np >= ADB_MERKLE_MAX_PROOF)
            return ADB_ERR_INVALID;
        return range_hash(get, ctx, start, n, proof[(*np)++]);
    }
    uint64_t k = split_point(n);
    if (m <= k) {
        if ((st = subproof(get, ctx, m, start, k, whole, proof, np)) != ADB_OK)
            return st;
        if (*np >= ADB_MERKLE_MAX_PROOF)
            return ADB_ERR_INVALID;
        return range_hash(get, ctx, start + k, n - k, proof[(*np)++]);
    }
    if ((st = subproof(get, ctx, m - k, start + k, n - k, false, proof, np)) != ADB_OK)
        return st;
    if (*np >= ADB_MERKLE_MAX_PROOF)
        return ADB_ERR_INVALID;
    return range_hash(get, ctx, start, k, proof[(*np)++]);
}

adb_status adb__merkle_consistency_proof(adb__merkle_get_fn get, void *ctx, uint64_t size1,
                                         uint64_t size2, adb__mhash *proof, size_t *n)
{
    *n = 0;
    if (size1 > size2)
        return ADB_ERR_INVALID;
    if (size1 == 0 || size1 == size2)
        return ADB_OK;
    return subproof(get, ctx, size1, 0, size2, true, proof, n);
}

bool adb__merkle_verify_inclusion(const uint8_t leaf[32], uint64_t index, uint64_t size,
                                  const adb__mhash *proof, size_t n, const uint8_t root[32])
{
    uint64_t fn, sn;
    uint8_t r[32];

    if (index >= size)
        return false;
    fn = index;
    sn = size - 1;
    memcpy(r, leaf, 32);
    for (size_t i = 0; i < n; i++) {
        if (sn == 0)
            return false; /* more hashes than the path has nodes */
        if ((fn & 1) || fn == sn) {
            adb__merkle_node_hash(proof[i], r, r);
            if (!(fn & 1))
                while (!(fn & 1) && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
        } else {
            adb__merkle_node_hash(r, proof[i], r);
        }
        fn >>= 1;
        sn >>= 1;
    }
    return sn == 0 && memcmp(r, root, 32) == 0;
}

bool adb__merkle_verify_consistency(uint64_t size1, uint64_t size2, const uint8_t root1[32],
                                    const uint8_t root2[32], const adb__mhash *proof, size_t n)
{
    uint64_t fn, sn;
    uint8_t fr[32], sr[32];
    size_t i = 0;

    if (size1 > size2 || size1 == 0)
        return false;
    if (size1 == size2)
        return n == 0 && memcmp(root1, root2, 32) == 0;
    if (n == 0)
        return false;
    /* a first tree that is a perfect subtree is its own first node: the
     * proof then starts at the next one */
    bool pow2 = (size1 & (size1 - 1)) == 0;
    if (pow2) {
        memcpy(fr, root1, 32);
        memcpy(sr, root1, 32);
    } else {
        memcpy(fr, proof[0], 32);
        memcpy(sr, proof[0], 32);
        i = 1;
    }
    fn = size1 - 1;
    sn = size2 - 1;
    while (fn & 1) {
        fn >>= 1;
        sn >>= 1;
    }
    for (; i < n; i++) {
        if (sn == 0)
            return false;
        if ((fn & 1) || fn == sn) {
            adb__merkle_node_hash(proof[i], fr, fr);
            adb__merkle_node_hash(proof[i], sr, sr);
            if (!(fn & 1))
                while (!(fn & 1) && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
        } else {
            adb__merkle_node_hash(sr, proof[i], sr);
        }
        fn >>= 1;
        sn >>= 1;
    }
    return sn == 0 && memcmp(fr, root1, 32) == 0 && memcmp(sr, root2, 32) == 0;
}

bool adb__merkle_verify_consistency_raw(uint64_t size1, uint64_t size2, const uint8_t *root1,
                                        size_t len1, const uint8_t *root2, size_t len2,
                                        const adb__mhash *proof, size_t n)
{
    if (size1 > size2 || size1 == 0)
        return false;
    if (size1 == size2)
        return n == 0 && len1 == len2 && memcmp(root1, root2, len1) == 0;
    if (len1 != 32 || len2 != 32)
        return false;
    return adb__merkle_verify_consistency(size1, size2, root1, root2, proof, n);
}

void adb__merkle_frontier_append(adb__merkle_frontier *f, const uint8_t leaf[32],
                                 adb__merkle_node_fn on_node, void *ctx)
{
    uint8_t h[32];
    uint64_t index = f->size;
    unsigned level = 0;

    memcpy(h, leaf, 32);
    if (on_node)
        on_node(ctx, 0, index, h);
    /* carry: each set low bit of size is a left sibling that h completes */
    while (index & 1) {
        adb__merkle_node_hash(f->hash[level], h, h);
        level++;
        index >>= 1;
        if (on_node)
            on_node(ctx, level, index, h);
    }
    memcpy(f->hash[level], h, 32);
    f->size++;
}

void adb__merkle_frontier_root(const adb__merkle_frontier *f, uint8_t out[32])
{
    uint8_t r[32];
    bool have = false;

    if (f->size == 0) {
        empty_root(out);
        return;
    }
    /* from the smallest subtree (rightmost) to the largest */
    for (unsigned k = 0; k < 64; k++) {
        if (!(f->size >> k & 1))
            continue;
        if (!have) {
            memcpy(r, f->hash[k], 32);
            have = true;
        } else {
            adb__merkle_node_hash(f->hash[k], r, r);
        }
    }
    memcpy(out, r, 32);
}
