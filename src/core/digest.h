/*
 * digest.h - SHA-256 and HMAC-SHA256 on the hot path (internal).
 *
 * OpenSSL 3.0's EVP interface costs far more per call than the hashing of a
 * short message (its digest init, update and final each go through the
 * provider): an HMAC of 80 bytes took 4.3 us through EVP against 0.6 us with
 * SHA-256's own functions from a saved state (measured on the project's
 * machine, same run). So these use OpenSSL's SHA256_* functions (deprecated
 * in OpenSSL 3, still provided) and keep HMAC keys as the SHA-256 states
 * after their padded key blocks, so that an HMAC costs the message's blocks
 * and one more. Same results as HMAC(3); every event's hash, signature,
 * chain link and commitments go through here.
 */
#ifndef ADB_DIGEST_H
#define ADB_DIGEST_H

#include <stdbool.h>
#include <stddef.h>

#define ADB__SHA256_STATE 128 /* room for a SHA256_CTX (112 bytes; digest.c checks) */

/* An HMAC-SHA256 key prepared once: the SHA-256 states after absorbing
 * key XOR ipad and key XOR opad. Key material: wipe it when done. */
typedef struct adb__hmac_key {
    _Alignas(16) unsigned char inner[ADB__SHA256_STATE];
    _Alignas(16) unsigned char outer[ADB__SHA256_STATE];
} adb__hmac_key;

/* Prepares k from a key of len bytes (hashed first when longer than 64). */
bool adb__hmac_key_init(adb__hmac_key *k, const unsigned char *key, size_t len);

/* SHA-256 of data into out; false if OpenSSL failed. */
bool adb__sha256(const void *data, size_t len, unsigned char out[32]);

/* HMAC-SHA256 of msg under k into out. */
bool adb__hmac_sha256(const adb__hmac_key *k, const void *msg, size_t len, unsigned char out[32]);

#endif
