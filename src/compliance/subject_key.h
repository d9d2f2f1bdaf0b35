/*
 * subject_key.h - per-organization keys for data subjects (internal).
 *
 * Every key here is HKDF-SHA256 of the master key's subject root
 * (adb__keys.subject, info "auditdb subject v1") with info
 * "auditdb subject <purpose> v1\n<organization id>", so the same subject in
 * two organizations gives unlinkable values, and nobody without the master
 * key (the database included) can compute or reverse them. docs/gdpr.md,
 * "Requests" and "Keys".
 */
#ifndef ADB_COMPLIANCE_SUBJECT_KEY_H
#define ADB_COMPLIANCE_SUBJECT_KEY_H

#include <stdbool.h>
#include <stddef.h>
#include "../integrity/integrity.h"

#define ADB_ORG_KEY_LEN 32
#define ADB_SUBJECT_INDEX_LEN 32
/* nonce (12) || ciphertext || tag (16) */
#define ADB_SUBJECT_ENC_OVERHEAD 28
/* the longest subject id taken (bytes) */
#define ADB_SUBJECT_MAX 1024

/* The key of org for purpose ("index", "enc", or another helper's own label
 * such as "pseudonym"; letters, digits, '-' and '_') into out. false when
 * org or purpose is empty or too long, or HKDF failed. Wipe out after use. */
ADB_WUR bool adb__org_key(const adb__keys *k, const char *org, const char *purpose,
                          unsigned char out[ADB_ORG_KEY_LEN]);

/* The blind index of subject in org: HMAC-SHA256 under org's "index" key of
 * the subject id's bytes, as given (no case folding). */
ADB_WUR bool adb__subject_index(const adb__keys *k, const char *org, const char *subject,
                                unsigned char out[ADB_SUBJECT_INDEX_LEN]);

/* The same as 64 lowercase hex digits. */
ADB_WUR bool adb__subject_index_hex(const adb__keys *k, const char *org, const char *subject,
                                    char out[2 * ADB_SUBJECT_INDEX_LEN + 1]);

/* AES-256-GCM of subject under org's "enc" key, a random 96-bit nonce and
 * the additional data "auditdb subject v1\n<org>" (so that a ciphertext
 * moved to another organization does not open). Returns a malloc()ed
 * nonce || ciphertext || tag (caller frees) and its length in *outlen; NULL
 * when out of memory or the cipher failed. */
unsigned char *adb__subject_seal(const adb__keys *k, const char *org, const char *subject,
                                 size_t *outlen);

/* Opens what adb__subject_seal made for org: a malloc()ed NUL-terminated
 * subject id (caller frees), or NULL when blob is not one of org's (wrong
 * organization, changed bytes, wrong master key) or out of memory. */
char *adb__subject_open(const adb__keys *k, const char *org, const unsigned char *blob,
                        size_t len);

#endif
