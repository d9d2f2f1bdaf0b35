/*
 * org_keys.c - per-organization keys, blind indexes and AES-256-GCM
 * (OpenSSL EVP) for pseudonymization and erasure. Nothing here logs.
 */
#include "org_keys.h"
#include "subject_key.h"
#include "../core/util.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

bool adb__org_hmac(const adb__keys *k, const char *org, const char *purpose, const char *value,
                   unsigned char out[32])
{
    unsigned char key[32];
    adb__hmac_key hk;
    bool ok = adb__org_key(k, org, purpose, key) && adb__hmac_key_init(&hk, key, 32) &&
              adb__hmac_sha256(&hk, value, strlen(value), out);

    OPENSSL_cleanse(key, sizeof(key));
    OPENSSL_cleanse(&hk, sizeof(hk));
    return ok;
}

bool adb__org_index(const adb__keys *k, const char *org, const char *value, unsigned char out[32])
{
    return adb__subject_index(k, org, value, out); /* dsr's: the requests' index too */
}

bool adb__org_seal(const adb__keys *k, const char *org, const char *purpose, const char *aad,
                   const void *plain, size_t len, unsigned char **out, size_t *outlen)
{
    unsigned char key[32], *buf = malloc(12 + len + 16);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n = 0, m = 0;
    bool ok = buf && ctx && adb__org_key(k, org, purpose, key) && RAND_bytes(buf, 12) == 1 &&
              EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, buf) == 1 &&
              EVP_EncryptUpdate(ctx, NULL, &n, (const unsigned char *)aad, (int)strlen(aad)) == 1 &&
              EVP_EncryptUpdate(ctx, buf + 12, &n, plain, (int)len) == 1 &&
              EVP_EncryptFinal_ex(ctx, buf + 12 + n, &m) == 1 &&
              EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, buf + 12 + n + m) == 1;

    OPENSSL_cleanse(key, sizeof(key));
    EVP_CIPHER_CTX_free(ctx);
    if (!ok) {
        free(buf);
        return false;
    }
    *out = buf;
    *outlen = 12 + (size_t)(n + m) + 16;
    return true;
}

bool adb__org_open(const adb__keys *k, const char *org, const char *purpose, const char *aad,
                   const unsigned char *in, size_t len, char **out)
{
    unsigned char key[32];
    char *plain;
    EVP_CIPHER_CTX *ctx;
    int n = 0, m = 0;
    bool ok;

    if (len < 28)
        return false;
    if (!(plain = malloc(len - 28 + 1)))
        return false;
    ctx = EVP_CIPHER_CTX_new();
    ok = ctx && adb__org_key(k, org, purpose, key) &&
         EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, in) == 1 &&
         EVP_DecryptUpdate(ctx, NULL, &n, (const unsigned char *)aad, (int)strlen(aad)) == 1 &&
         EVP_DecryptUpdate(ctx, (unsigned char *)plain, &n, in + 12, (int)(len - 28)) == 1 &&
         EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, (void *)(in + len - 16)) == 1 &&
         EVP_DecryptFinal_ex(ctx, (unsigned char *)plain + n, &m) == 1;
    OPENSSL_cleanse(key, sizeof(key));
    EVP_CIPHER_CTX_free(ctx);
    if (!ok) {
        free(plain);
        return false;
    }
    plain[n + m] = '\0';
    *out = plain;
    return true;
}
