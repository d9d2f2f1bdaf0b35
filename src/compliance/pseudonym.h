/*
 * pseudonym.h - pseudonyms of data subjects and their mapping (internal;
 * docs/gdpr.md, "Pseudonymization").
 *
 * Strategies (the seed's three): hash = "psn-h-" + 32 hex of HMAC-SHA256 of
 * the identifier under the organization's hash key (deterministic within one
 * organization, keyed, never a bare hash); token = "psn-t-" + 128 random bits
 * in hex; encryption = "psn-e-" + hex of AES-256-GCM (nonce || ciphertext ||
 * tag) of the identifier under the organization's key. pseudonym_mapping
 * (migration 0027) keeps one pseudonym per identifier and organization: the
 * original encrypted, found by its keyed blind index.
 */
#ifndef ADB_COMPLIANCE_PSEUDONYM_H
#define ADB_COMPLIANCE_PSEUDONYM_H

#include <libpq-fe.h>
#include <stdbool.h>
#include "auditdb.h"
#include "../integrity/integrity.h"

#define ADB_PSEUDONYM_MAX 640 /* "psn-e-" + hex of 28 + 256 bytes */
#define ADB_PSN_SUBJECT_MAX 255   /* an identifier: principalId's length */

typedef enum adb__psn_strategy { ADB_PSN_HASH, ADB_PSN_TOKEN, ADB_PSN_ENCRYPTION } adb__psn_strategy;

/* "hash"; "token" or the client's "tokenize"; "encryption" or the client's
 * "encrypt". false for anything else ("mask" included). */
bool adb__psn_strategy_parse(const char *s, adb__psn_strategy *out);
const char *adb__psn_strategy_name(adb__psn_strategy s);

/* A fresh pseudonym of original in org. */
bool adb__pseudonym_make(const adb__keys *k, const char *org, adb__psn_strategy s,
                         const char *original, char out[ADB_PSEUDONYM_MAX]);

/* The pseudonym of original in org from pseudonym_mapping, made and stored
 * (with request_id) when there is none; *created says which. On c (the
 * owner's connection, in the caller's transaction). The strategy of an
 * existing mapping wins: out_strategy names it. */
ADB_WUR adb_status adb__pseudonym_get_or_create(PGconn *c, const adb__keys *k, const char *org,
                                                adb__psn_strategy s, const char *original,
                                                const char *request_id,
                                                char pseudonym[ADB_PSEUDONYM_MAX],
                                                char out_strategy[16], bool *created, char *err,
                                                size_t errlen);

/* getOriginalId: the original of a pseudonym of org (malloc()ed into
 * *original); ADB_ERR_NOT_FOUND when org has no such pseudonym. */
ADB_WUR adb_status adb__pseudonym_reverse(PGconn *c, const adb__keys *k, const char *org,
                                          const char *pseudonym, char **original, char *err,
                                          size_t errlen);

/* Deletes the mapping of original in org (erasure); *deleted rows. */
ADB_WUR adb_status adb__pseudonym_forget(PGconn *c, const adb__keys *k, const char *org,
                                         const char *original, long long *deleted, char *err,
                                         size_t errlen);

/* "\\x" + hex of 32 bytes: a bytea parameter's text. */
void adb__bytea_hex(const unsigned char in[32], char out[67]);

#endif
