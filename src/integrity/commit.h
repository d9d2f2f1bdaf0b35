/*
 * commit.h - commitments to an event's personal data (sha256-c14n-v3) and
 * the signed records of their lawful erasure (internal).
 *
 * Definitions: docs/integrity.md, sections 2b and 8. A v3 hash covers, for
 * each personal-data field, a commitment HMAC(field key, value) instead of
 * the value, so that erasing the value and its key later leaves the hash,
 * the chain link and the Merkle leaf as they were.
 */
#ifndef ADB_INTEGRITY_COMMIT_H
#define ADB_INTEGRITY_COMMIT_H

#include <stdbool.h>
#include <stddef.h>
#include "../core/buf.h"
#include "../core/digest.h"
#include "../event/event.h"

#define ADB_COMMIT_KEY_BYTES 32

/* The commitment of one erased field, from a verified erasure record. */
typedef struct adb__erased {
    const char *field;    /* "principalId", "details.ip", ... (not owned) */
    char commitment[65];  /* lowercase hex */
} adb__erased;

/* Where the keys and erased commitments of a v3 event come from, and what
 * building its commitments found. */
typedef struct adb__commit_src {
    const unsigned char *event_key; /* commit_key: 32 bytes, NULL when gone */
    const adb_json *field_keys;     /* commit_field_keys: object field -> key hex, or null
                                       for a field erased; NULL: none */
    const adb__erased *erased;      /* commitments of erased fields (verified records) */
    size_t nerased;
    /* out */
    int keyless;                    /* fields with a value but no key to check it */
    char keyless_field[96];         /* the first of them */
    int recorded;                   /* commitments taken from erasure records */
    int unrecorded;                 /* fields marked erased (null in field_keys) without a
                                       record in erased */
    char unrecorded_field[96];      /* the first of them */
} adb__commit_src;

/* The personal-data fields of an event that v3 commits to (besides every
 * top-level member of details, named "details.<name>"). */
extern const adb_event_field adb__committed_fields[3];

/* Field key: HMAC-SHA256(event key, "adb-commit-key-v1\n" id "\n" field). */
bool adb__commit_field_key(const adb__hmac_key *event_key, const char *event_id,
                           const char *field, size_t field_len, unsigned char out[32]);

/* Commitment: HMAC-SHA256(field key, "adb-commit-v1\n" id "\n" field "\n" value),
 * value being the canonical JSON of the field's value; lowercase hex. */
bool adb__commitment(const unsigned char field_key[32], const char *event_id, const char *field,
                     size_t field_len, const char *value_json, size_t value_len, char out[65]);

/* Appends the member "commitments":{...} of ev's v3 canonical form to b:
 * a commitment for every committed field that has a value (its key from
 * src->event_key or src->field_keys; none: counted in src->keyless and
 * left out) and one for every erased field src->erased names that has no
 * value; sorted by field name bytes. false when out of memory. */
bool adb__commitments_write(adb__buf *b, const adb__event *ev, adb__commit_src *src);

/* An erasure record (table audit_erasure, migration 0022), as text.
 * A residual record (migration 0039; an event stored before v3, whose hash
 * covers its values: docs/integrity.md section 8b) has original_content and
 * original_hash, and its commitment is the SHA-256 of the event's canonical
 * form after the erasure (the residual content). */
typedef struct adb__erasure_record {
    const char *organization_id, *event_id, *field, *commitment;
    const char *request_id, *legal_basis, *reason; /* reason may be NULL */
    const char *erased_at;  /* UTC, six fraction digits: 2026-12-07T09:05:03.120000Z */
    const char *original_content; /* residual records: the content hash the chain link
                                     covers; NULL for a v3 record */
    const char *original_hash;    /* residual records: the stored hash */
} adb__erasure_record;

/* The record's signature: HMAC-SHA256(K_sig, canonical JSON of the record:
 * type "adb-erasure-v1", or "adb-erasure-residual-v1" with originalContent
 * and originalHash), lowercase hex. false when out of memory. */
bool adb__erasure_sign(const adb__hmac_key *sig_key, const adb__erasure_record *rec,
                       char out[65]);

#endif
