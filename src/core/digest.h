/*
 * digest.h - SHA-256 and HMAC-SHA256 on the hot path (internal).
 *
 * OpenSSL 3's one-shot helpers (EVP_Digest, HMAC) look the algorithm up on
 * every call; here the digest is fetched once and each thread reuses one
 * EVP_MD_CTX, and HMAC keys are kept as their two padded blocks. Same
 * results as HMAC(3), a fraction of the cost per event.
 */
#ifndef ADB_DIGEST_H
#define ADB_DIGEST_H

#include <stdbool.h>
#include <stddef.h>

/* An HMAC-SHA256 key prepared once: key XOR ipad and key XOR opad blocks. */
typedef struct adb__hmac_key {
    unsigned char ipad[64], opad[64];
} adb__hmac_key;

/* Prepares k from a key of len bytes (hashed first when longer than 64). */
bool adb__hmac_key_init(adb__hmac_key *k, const unsigned char *key, size_t len);

/* SHA-256 of data into out; false if OpenSSL failed. */
bool adb__sha256(const void *data, size_t len, unsigned char out[32]);

/* HMAC-SHA256 of msg under k into out. */
bool adb__hmac_sha256(const adb__hmac_key *k, const void *msg, size_t len, unsigned char out[32]);

#endif
