/*
 * merkle.h - RFC 6962 / RFC 9162 Merkle tree math (internal): leaf and node
 * hashes, the root of a range, inclusion and consistency proofs made from any
 * store of subtree hashes, and their verification.
 *
 * Leaves are indexed from 0. A "subtree" (level, index) is the perfect
 * subtree of 2^level leaves starting at leaf index << level; its hash is what
 * tiles store (level 0: the leaf hashes). Proofs hold at most
 * ADB_MERKLE_MAX_PROOF hashes (a tree of up to 2^63 leaves).
 */
#ifndef ADB_MERKLE_H
#define ADB_MERKLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auditdb/status.h"

#define ADB_MERKLE_HASH 32
#define ADB_MERKLE_MAX_PROOF 128

typedef uint8_t adb__mhash[ADB_MERKLE_HASH];

/* SHA-256(0x00 || data). */
void adb__merkle_leaf_hash(const void *data, size_t len, uint8_t out[32]);

/* SHA-256(0x01 || left || right). */
void adb__merkle_node_hash(const uint8_t left[32], const uint8_t right[32], uint8_t out[32]);

/* The root of the tree over n leaf hashes (MTH; SHA-256 of nothing for 0). */
void adb__merkle_root(const adb__mhash *leaves, uint64_t n, uint8_t out[32]);

/* Fills out with the hash of subtree (level, index); ADB_OK, or an error the
 * proof functions pass on (a tile missing, the database gone). */
typedef adb_status (*adb__merkle_get_fn)(void *ctx, unsigned level, uint64_t index,
                                         uint8_t out[32]);

/* The root of the first size leaves, from subtree hashes. */
adb_status adb__merkle_root_from(adb__merkle_get_fn get, void *ctx, uint64_t size, uint8_t out[32]);

/* The inclusion proof of leaf index in the tree of size leaves (RFC 9162
 * 2.1.3.1). ADB_ERR_INVALID when index >= size. */
adb_status adb__merkle_inclusion_proof(adb__merkle_get_fn get, void *ctx, uint64_t index,
                                       uint64_t size, adb__mhash *proof, size_t *n);

/* The consistency proof from size1 to size2 (RFC 9162 2.1.4.1; empty when
 * size1 is 0 or equals size2). ADB_ERR_INVALID when size1 > size2. */
adb_status adb__merkle_consistency_proof(adb__merkle_get_fn get, void *ctx, uint64_t size1,
                                         uint64_t size2, adb__mhash *proof, size_t *n);

/* RFC 9162 2.1.3.2: true when proof links leaf (a leaf hash) at index to root
 * of a tree of size leaves. Every node is checked; a proof too short or too
 * long fails. */
bool adb__merkle_verify_inclusion(const uint8_t leaf[32], uint64_t index, uint64_t size,
                                  const adb__mhash *proof, size_t n, const uint8_t root[32]);

/* RFC 9162 2.1.4.2: true when proof shows the tree of size1 leaves with root1
 * is a prefix of the tree of size2 leaves with root2. size1 == size2 needs an
 * empty proof and equal roots. size1 == 0 always fails, as transparency-dev's
 * verifier does (a proof from the empty tree proves nothing): a first
 * checkpoint is the caller's case. */
bool adb__merkle_verify_consistency(uint64_t size1, uint64_t size2, const uint8_t root1[32],
                                    const uint8_t root2[32], const adb__mhash *proof, size_t n);

/* The same with roots of any length as decoded from a file or a request:
 * equal sizes compare the roots byte for byte; otherwise a root that is not
 * 32 bytes fails. */
bool adb__merkle_verify_consistency_raw(uint64_t size1, uint64_t size2, const uint8_t *root1,
                                        size_t len1, const uint8_t *root2, size_t len2,
                                        const adb__mhash *proof, size_t n);

/* The right edge of a growing tree: hash[k] is the perfect subtree of 2^k
 * leaves ending the tree when bit k of size is set. Appending a leaf reports
 * every subtree it completes to on_node (may be NULL), lowest level first. */
typedef struct adb__merkle_frontier {
    uint64_t size;
    adb__mhash hash[64];
} adb__merkle_frontier;

typedef void (*adb__merkle_node_fn)(void *ctx, unsigned level, uint64_t index, const uint8_t h[32]);

void adb__merkle_frontier_append(adb__merkle_frontier *f, const uint8_t leaf[32],
                                 adb__merkle_node_fn on_node, void *ctx);

/* The root of the tree the frontier ends (SHA-256 of nothing when empty). */
void adb__merkle_frontier_root(const adb__merkle_frontier *f, uint8_t out[32]);

#endif
