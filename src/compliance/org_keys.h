/*
 * org_keys.h - the per-organization keys of pseudonymization and erasure
 * (internal; docs/gdpr.md, "Pseudonymization").
 *
 * Every key is dsr's adb__org_key (src/compliance/subject_key.h): HKDF-SHA256
 * of the root k->subject (HKDF of the master key, info "auditdb subject v1")
 * with info "auditdb subject <purpose> v1\n<org>": two organizations never
 * share a key, so the same subject gets unrelated pseudonyms and blind
 * indexes in each. The blind index is dsr's adb__subject_index (purpose
 * "index"), so pseudonym_mapping, legal_hold and data_subject_request index a
 * subject alike.
 */
#ifndef ADB_COMPLIANCE_ORG_KEYS_H
#define ADB_COMPLIANCE_ORG_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include "../integrity/integrity.h"
#include "subject_key.h"

/* purposes */
#define ADB_ORGKEY_HASH "pseudonym-hash" /* HMAC key of the hash strategy */
#define ADB_ORGKEY_MAPPING "pseudonym-mapping" /* AES-256-GCM key of pseudonym_mapping.original_id */
#define ADB_ORGKEY_PSEUDONYM "pseudonym-enc" /* AES-256-GCM key of the encryption strategy */

/* HMAC-SHA256(key(org, purpose), value). */
bool adb__org_hmac(const adb__keys *k, const char *org, const char *purpose, const char *value,
                   unsigned char out[32]);

/* The blind index of an identifier in org: adb__subject_index. */
bool adb__org_index(const adb__keys *k, const char *org, const char *value, unsigned char out[32]);

/* AES-256-GCM under key(org, purpose), aad bound: nonce(12) || ciphertext ||
 * tag(16), malloc()ed into *out (*outlen bytes). */
bool adb__org_seal(const adb__keys *k, const char *org, const char *purpose, const char *aad,
                   const void *plain, size_t len, unsigned char **out, size_t *outlen);

/* Opens what adb__org_seal made: the plain text malloc()ed and NUL-terminated
 * into *out; false when it does not authenticate (or out of memory). */
bool adb__org_open(const adb__keys *k, const char *org, const char *purpose, const char *aad,
                   const unsigned char *in, size_t len, char **out);

#endif
