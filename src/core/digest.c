/*
 * digest.c - SHA-256 and HMAC-SHA256 with the digest fetched once and one
 * EVP_MD_CTX per thread (freed when the thread exits).
 */
#include "digest.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <string.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_key_t ctx_key;
static EVP_MD *sha256_md;

static void free_ctx(void *p)
{
    EVP_MD_CTX_free(p);
}

static void init_once(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
    pthread_key_create(&ctx_key, free_ctx);
}

static EVP_MD_CTX *thread_ctx(void)
{
    EVP_MD_CTX *c;

    pthread_once(&once, init_once);
    if (!sha256_md)
        return NULL;
    c = pthread_getspecific(ctx_key);
    if (!c && (c = EVP_MD_CTX_new()) != NULL && pthread_setspecific(ctx_key, c) != 0) {
        EVP_MD_CTX_free(c);
        c = NULL;
    }
    return c;
}

bool adb__sha256(const void *data, size_t len, unsigned char out[32])
{
    EVP_MD_CTX *c = thread_ctx();
    unsigned int n = 0;

    return c && EVP_DigestInit_ex(c, sha256_md, NULL) == 1 && EVP_DigestUpdate(c, data, len) == 1 &&
           EVP_DigestFinal_ex(c, out, &n) == 1 && n == 32;
}

bool adb__hmac_key_init(adb__hmac_key *k, const unsigned char *key, size_t len)
{
    unsigned char block[64] = { 0 };

    if (len > 64) {
        if (!adb__sha256(key, len, block))
            return false;
    } else {
        memcpy(block, key, len);
    }
    for (int i = 0; i < 64; i++) {
        k->ipad[i] = block[i] ^ 0x36;
        k->opad[i] = block[i] ^ 0x5c;
    }
    OPENSSL_cleanse(block, sizeof(block));
    return true;
}

bool adb__hmac_sha256(const adb__hmac_key *k, const void *msg, size_t len, unsigned char out[32])
{
    EVP_MD_CTX *c = thread_ctx();
    unsigned char inner[32];
    unsigned int n = 0;

    return c && EVP_DigestInit_ex(c, sha256_md, NULL) == 1 &&
           EVP_DigestUpdate(c, k->ipad, 64) == 1 && EVP_DigestUpdate(c, msg, len) == 1 &&
           EVP_DigestFinal_ex(c, inner, &n) == 1 && EVP_DigestInit_ex(c, sha256_md, NULL) == 1 &&
           EVP_DigestUpdate(c, k->opad, 64) == 1 && EVP_DigestUpdate(c, inner, 32) == 1 &&
           EVP_DigestFinal_ex(c, out, &n) == 1 && n == 32;
}
