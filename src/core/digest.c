/*
 * digest.c - SHA-256 and HMAC-SHA256 with OpenSSL's SHA256_* functions and
 * HMAC keys kept as saved SHA-256 states (digest.h says why not EVP).
 */
#define OPENSSL_SUPPRESS_DEPRECATED /* SHA256_*: deprecated in OpenSSL 3, kept for speed */
#include "digest.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <string.h>

_Static_assert(sizeof(SHA256_CTX) <= ADB__SHA256_STATE, "SHA256_CTX does not fit");

bool adb__sha256(const void *data, size_t len, unsigned char out[32])
{
    SHA256_CTX c;

    return SHA256_Init(&c) == 1 && SHA256_Update(&c, data, len) == 1 && SHA256_Final(out, &c) == 1;
}

bool adb__hmac_key_init(adb__hmac_key *k, const unsigned char *key, size_t len)
{
    unsigned char block[64] = { 0 }, pad[64];
    SHA256_CTX c;
    bool ok;

    if (len > 64) {
        if (!adb__sha256(key, len, block))
            return false;
    } else {
        memcpy(block, key, len);
    }
    for (int i = 0; i < 64; i++)
        pad[i] = block[i] ^ 0x36;
    ok = SHA256_Init(&c) == 1 && SHA256_Update(&c, pad, 64) == 1;
    memcpy(k->inner, &c, sizeof(c));
    for (int i = 0; i < 64; i++)
        pad[i] = block[i] ^ 0x5c;
    ok = ok && SHA256_Init(&c) == 1 && SHA256_Update(&c, pad, 64) == 1;
    memcpy(k->outer, &c, sizeof(c));
    OPENSSL_cleanse(block, sizeof(block));
    OPENSSL_cleanse(pad, sizeof(pad));
    OPENSSL_cleanse(&c, sizeof(c));
    return ok;
}

bool adb__hmac_sha256(const adb__hmac_key *k, const void *msg, size_t len, unsigned char out[32])
{
    SHA256_CTX c;
    unsigned char inner[32];
    bool ok;

    memcpy(&c, k->inner, sizeof(c));
    ok = SHA256_Update(&c, msg, len) == 1 && SHA256_Final(inner, &c) == 1;
    memcpy(&c, k->outer, sizeof(c));
    ok = ok && SHA256_Update(&c, inner, 32) == 1 && SHA256_Final(out, &c) == 1;
    OPENSSL_cleanse(&c, sizeof(c));
    return ok;
}
