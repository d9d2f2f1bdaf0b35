/*
 * receipt.h - receipts of auditdb events: c2sp.org/tlog-proof@v1 proofs that
 * an event is leaf chain_seq - 1 of its organization's tree, under a signed
 * (and cosigned) checkpoint; built from the stored tree, verified offline
 * against a policy of keys (docs/proofs.md).
 *
 *   c2sp.org/tlog-proof@v1
 *   extra <base64 of the 48-byte entry: event UUID || content hash>
 *   index <leaf index>
 *   <inclusion proof, one base64 hash a line, leaf's sibling first>
 *   <empty line>
 *   <the checkpoint note, verbatim>
 *
 * Nothing here prints, logs or exits. Verification checks every node of the
 * inclusion proof (RFC 9162 2.1.3.2), the log's signature and the witnesses'
 * cosignatures (adb__note_verify: a known key's bad signature fails the
 * whole receipt).
 */
#ifndef ADB_LOG_RECEIPT_H
#define ADB_LOG_RECEIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <libpq-fe.h>

#include "merkle.h"
#include "note.h"

#define ADB_RECEIPT_HEADER "c2sp.org/tlog-proof@v1"
/* The longest receipt accepted: the lines before the note (header, extra of
 * any length up to a 48-byte entry's, index, 64 proof hashes) and a note. */
#define ADB_RECEIPT_MAX (4096 + ADB_NOTE_MAX_LEN)
/* Hashes of an inclusion proof (a tree of up to 2^64 leaves). */
#define ADB_RECEIPT_MAX_PROOF 64

/* A parsed receipt; note points into the caller's text, which must outlive it. */
typedef struct adb__receipt {
    bool has_extra;
    uint8_t extra[48]; /* the entry when extra_len == 48 */
    size_t extra_len;
    uint64_t index;
    adb__mhash proof[ADB_RECEIPT_MAX_PROOF];
    size_t nproof;
    const char *note; /* the checkpoint, from its first line to the end */
    size_t note_len;
} adb__receipt;

/* The receipt text: header, extra (the entry), index, proof, empty line, the
 * checkpoint note (note_len bytes, copied as given). malloc()ed and
 * NUL-terminated (caller frees), length in *outlen; NULL when out of memory
 * or n > ADB_RECEIPT_MAX_PROOF. */
char *adb__receipt_format(const uint8_t entry[48], uint64_t index, const adb__mhash *proof,
                          size_t n, const char *note, size_t note_len, size_t *outlen);

/* Parses text (len bytes) strictly as tlog-proof@v1: the header line; an
 * optional "extra " line (canonical base64, at most 48 bytes decoded); "index
 * N" (decimal without leading zeroes, below 2^63); proof lines (canonical
 * base64 of 32 bytes each, at most ADB_RECEIPT_MAX_PROOF); the first empty
 * line; the rest is the note (not checked here). ADB_ERR_INVALID with the
 * reason in err. */
adb_status adb__receipt_parse(const char *text, size_t len, adb__receipt *r, char *err,
                              size_t errlen) ADB_WUR;

/* Whom a verifier trusts: the log's key (type ADB_NOTE_ED25519), witnesses'
 * keys (type ADB_NOTE_COSIG_V1) of which quorum must have cosigned, and
 * optionally one organization (NULL: any of the log's). Borrowed: they must
 * outlive the verifier. */
typedef struct adb__receipt_policy {
    const adb__note_verifier *log;
    const adb__note_verifier *witnesses;
    size_t nwitnesses;
    size_t quorum;
    const char *org;
} adb__receipt_policy;

/* What a valid receipt proves. */
typedef struct adb__receipt_result {
    char event_id[37];     /* the entry's UUID, lowercase text */
    uint8_t entry[48];     /* event UUID || content hash */
    char content_hash[65]; /* lowercase hex */
    uint64_t index;
    uint64_t size;         /* the checkpoint's tree size */
    uint8_t root[32];
    char origin[ADB_NOTE_MAX_ORIGIN + 1];
    size_t cosigned;       /* witnesses of the policy whose cosignature verified */
    uint64_t cosigned_at;  /* the earliest of their cosignature times (0: none) */
} adb__receipt_result;

/* A verifier: a policy and a small cache of checkpoint notes already
 * verified (a batch of receipts under one checkpoint costs one signature
 * check per key, not one per receipt). */
typedef struct adb__receipt_verifier adb__receipt_verifier;

/* A verifier for p (copied; its keys borrowed). cache: notes remembered (0:
 * none, every receipt checks its signatures). NULL when out of memory. */
adb__receipt_verifier *adb__receipt_verifier_new(const adb__receipt_policy *p, size_t cache);
void adb__receipt_verifier_free(adb__receipt_verifier *v);

/* Verifies one receipt (text, len bytes): parse, the checkpoint's log
 * signature, the origin (`<log key name>/<org>`, the policy's org when
 * given), the witnesses' cosignatures against the quorum, the 48-byte entry
 * in extra, index < size and the inclusion proof from SHA-256(0x00 || entry)
 * to the checkpoint's root. ADB_OK with *out filled (out may be NULL), or
 * ADB_ERR_INVALID with the reason in err. */
adb_status adb__receipt_verify(adb__receipt_verifier *v, const char *text, size_t len,
                               adb__receipt_result *out, char *err, size_t errlen) ADB_WUR;

/* Checks that the event object the API answers (GET
 * /api/v1/audit/events/{id}, JSON text of len bytes) is the event the
 * receipt's entry names: its id is the entry's UUID, and its content hash
 * (recomputed from its canonical form, docs/integrity.md section 1, for
 * sha256-c14n-v1/v2 and legacy SHA-256 events; the stated `hash` for other
 * algorithms) is the entry's. *recomputed tells whether the hash was
 * recomputed (may be NULL). ADB_OK, or ADB_ERR_INVALID with the reason. */
adb_status adb__receipt_event_check(const char *json, size_t len, const adb__receipt_result *r,
                                    bool *recomputed, char *err, size_t errlen) ADB_WUR;

/* Builds the receipt of leaf index of org's tree under the checkpoint note
 * (note_len bytes; its body gives the size): the entry and the inclusion
 * proof read from the tree on c (a tenant or the owner's connection). The
 * entry's UUID must be event_id (16 raw bytes; NULL: not checked).
 * ADB_ERR_NOT_FOUND when the checkpoint does not cover index (or the tree
 * does not hold it), ADB_ERR_INTERNAL when the tree's entry names another
 * event (the tree and the chain disagree), ADB_ERR_INVALID for a checkpoint
 * that does not parse, or a database error; err says why. *out malloc()ed (caller frees), length in *outlen. */
adb_status adb__receipt_build(PGconn *c, const char *org, uint64_t index,
                              const uint8_t *event_id, const char *note, size_t note_len,
                              char **out, size_t *outlen, char *err, size_t errlen) ADB_WUR;

#endif
