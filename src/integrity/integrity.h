/*
 * integrity.h - keys, canonical form, hashes, signatures and chain links
 * (internal). The exact definitions are in docs/integrity.md; that page and
 * this code must agree (tests/unit/test_integrity.c recomputes its examples).
 */
#ifndef ADB_INTEGRITY_H
#define ADB_INTEGRITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "auditdb.h"
#include "../core/digest.h"
#include "../event/event.h"

/* Keys derived from the master key with HKDF-SHA256. */
typedef struct adb__keys {
    unsigned char sig[32];   /* signature key: info "auditdb signature v1" */
    unsigned char chain[32]; /* chain key: info "auditdb chain v1" */
    unsigned char subject[32]; /* root of the per-organization keys of data subjects: info
                                  "auditdb subject v1" (src/compliance/subject_key.c) */
    char fingerprint[33];    /* 16 bytes of info "auditdb fingerprint v1", hex */
    adb__hmac_key sig_hmac;  /* the two keys prepared for HMAC */
    adb__hmac_key chain_hmac;
} adb__keys;

/* Loads the master key: master_key if given (at least 32 bytes), else the
 * file home/master.key, created with 32 random bytes (hex) and mode 0600 on
 * first use. Refuses a key file readable by group or others. */
ADB_WUR adb_status adb__keys_load(const char *master_key, const char *home, adb__keys *k,
                                  char *errbuf, size_t errlen);

/* Derives the keys from raw master key bytes. */
ADB_WUR bool adb__keys_derive(const unsigned char *ikm, size_t len, adb__keys *k);

/* HKDF-SHA256 (salt "auditdb") of ikm with info (a NUL-terminated text)
 * into out[outlen]; false when HKDF is unavailable. */
ADB_WUR bool adb__keys_hkdf(const unsigned char *ikm, size_t len, const char *info,
                            unsigned char *out, size_t outlen);

/* Wipes k. */
void adb__keys_wipe(adb__keys *k);

/* The canonical form of ev (docs/integrity.md) as a malloc()ed NUL-terminated
 * string; NULL when out of memory. */
char *adb__canonical(const adb__event *ev, size_t *len);

/* The same with the keys and erased commitments of a v3 event given by src
 * (commit.h; what it found is written back into src). adb__canonical takes
 * the event's own key (ev->commit_key). */
struct adb__commit_src;
char *adb__canonical_src(const adb__event *ev, struct adb__commit_src *src, size_t *len);

/* The smart-logs v1 canonical string (8 fields) and its hash. */
char *adb__legacy_canonical(const adb__event *ev, size_t *len);

/* Computes ev->content_hash (canonical form) and, for our algorithm,
 * ev->hash; for a legacy event checks that ev->hash matches the 8-field
 * hash. Then signs: ev->signature = HMAC(sig key, ev->hash). Returns false
 * on a legacy mismatch (reason in errs) or when out of memory. */
bool adb__event_seal(adb__event *ev, const adb__keys *k, adb_event_errors *errs);

/* HMAC-SHA256(sig key, hash hex text), lowercase hex. */
void adb__signature(const adb__keys *k, const char *hash, char out[65]);

/* The chain link: HMAC-SHA256(chain key, "adb-chain-v1\n" org "\n" seq "\n"
 * prev "\n" content_hash), lowercase hex. prev of the first event is 64 '0'. */
void adb__chain_link(const adb__keys *k, const char *org, int64_t seq, const char *prev,
                     const char *content_hash, char out[65]);

/* 64 '0': the prev_chain_hash of an organization's first event. */
extern const char adb__chain_genesis[65];

#endif
