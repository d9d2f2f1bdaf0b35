/*
 * subject_key.c - per-organization keys derived from the master key for
 * data subjects: the blind index (HMAC-SHA256) and the encryption
 * (AES-256-GCM) of subject ids (subject_key.h; docs/gdpr.md, "Keys").
 */
#include "subject_key.h"
#include "../core/util.h"
#include "../event/event_id.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>

#define ORG_MAX 255
#define PURPOSE_MAX 32
#define NONCE_LEN 12
#define TAG_LEN 16

static bool purpose_ok(const char *p)
{
    size_t n = strlen(p);

    if (n == 0 || n > PURPOSE_MAX)
        return false;
    for (; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_'))
            return false;
    return true;
}

bool adb__org_key(const adb__keys *k, const char *org, const char *purpose,
                  unsigned char out[ADB_ORG_KEY_LEN])
{
    char info[ORG_MAX + PURPOSE_MAX + 40];
    size_t olen = org ? strlen(org) : 0;
    bool ok;

    if (olen == 0 || olen > ORG_MAX || !purpose || !purpose_ok(purpose))
        return false;
    adb__fmt(info, sizeof(info), "auditdb subject %s v1\n%s", purpose, org);
    ok = adb__keys_hkdf(k->subject, sizeof(k->subject), info, out, ADB_ORG_KEY_LEN);
    OPENSSL_cleanse(info, sizeof(info));
    return ok;
}

bool adb__subject_index(const adb__keys *k, const char *org, const char *subject,
                        unsigned char out[ADB_SUBJECT_INDEX_LEN])
{
    unsigned char key[ADB_ORG_KEY_LEN];
    unsigned int len = 0;
    bool ok;

    if (!subject || !*subject || strlen(subject) > ADB_SUBJECT_MAX ||
        !adb__org_key(k, org, "index", key))
        return false;
    ok = HMAC(EVP_sha256(), key, sizeof(key), (const unsigned char *)subject, strlen(subject), out,
              &len) != NULL && len == ADB_SUBJECT_INDEX_LEN;
    OPENSSL_cleanse(key, sizeof(key));
    return ok;
}

bool adb__subject_index_hex(const adb__keys *k, const char *org, const char *subject,
                            char out[2 * ADB_SUBJECT_INDEX_LEN + 1])
{
    unsigned char raw[ADB_SUBJECT_INDEX_LEN];

    if (!adb__subject_index(k, org, subject, raw))
        return false;
    adb__hex(raw, sizeof(raw), out);
    return true;
}

/* The additional data binding a ciphertext to its organization. */
static char *aad_of(const char *org, int *len)
{
    char *a = adb__aprintf("auditdb subject v1\n%s", org);

    *len = a ? (int)strlen(a) : 0;
    return a;
}

unsigned char *adb__subject_seal(const adb__keys *k, const char *org, const char *subject,
                                 size_t *outlen)
{
    unsigned char key[ADB_ORG_KEY_LEN];
    size_t n = subject ? strlen(subject) : 0;
    unsigned char *out = NULL;
    EVP_CIPHER_CTX *ctx = NULL;
    char *aad = NULL;
    int alen, len1 = 0, len2 = 0;
    bool ok = false;

    *outlen = 0;
    if (n == 0 || n > ADB_SUBJECT_MAX || !adb__org_key(k, org, "enc", key))
        return NULL;
    if (!(out = malloc(n + NONCE_LEN + TAG_LEN)) || !(aad = aad_of(org, &alen)) ||
        !(ctx = EVP_CIPHER_CTX_new()))
        goto out;
    if (!adb__event_random(out, NONCE_LEN) ||
        EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, out) != 1 ||
        EVP_EncryptUpdate(ctx, NULL, &len1, (const unsigned char *)aad, alen) != 1 ||
        EVP_EncryptUpdate(ctx, out + NONCE_LEN, &len1, (const unsigned char *)subject, (int)n) != 1 ||
        EVP_EncryptFinal_ex(ctx, out + NONCE_LEN + len1, &len2) != 1 ||
        (size_t)(len1 + len2) != n ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, out + NONCE_LEN + n) != 1)
        goto out;
    *outlen = n + NONCE_LEN + TAG_LEN;
    ok = true;
out:
    OPENSSL_cleanse(key, sizeof(key));
    EVP_CIPHER_CTX_free(ctx);
    free(aad);
    if (!ok) {
        free(out);
        out = NULL;
    }
    return out;
}

char *adb__subject_open(const adb__keys *k, const char *org, const unsigned char *blob, size_t len)
{
    unsigned char key[ADB_ORG_KEY_LEN];
    EVP_CIPHER_CTX *ctx = NULL;
    char *out = NULL, *aad = NULL;
    size_t n;
    int alen, len1 = 0, len2 = 0;
    bool ok = false;

    if (!blob || len <= NONCE_LEN + TAG_LEN || len - NONCE_LEN - TAG_LEN > ADB_SUBJECT_MAX ||
        !adb__org_key(k, org, "enc", key))
        return NULL;
    n = len - NONCE_LEN - TAG_LEN;
    if (!(out = malloc(n + 1)) || !(aad = aad_of(org, &alen)) || !(ctx = EVP_CIPHER_CTX_new()))
        goto out;
    if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, blob) != 1 ||
        EVP_DecryptUpdate(ctx, NULL, &len1, (const unsigned char *)aad, alen) != 1 ||
        EVP_DecryptUpdate(ctx, (unsigned char *)out, &len1, blob + NONCE_LEN, (int)n) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, (void *)(blob + NONCE_LEN + n)) != 1 ||
        EVP_DecryptFinal_ex(ctx, (unsigned char *)out + len1, &len2) != 1 ||
        (size_t)(len1 + len2) != n || memchr(out, '\0', n))
        goto out;
    out[n] = '\0';
    ok = true;
out:
    OPENSSL_cleanse(key, sizeof(key));
    EVP_CIPHER_CTX_free(ctx);
    free(aad);
    if (!ok && out) {
        OPENSSL_cleanse(out, n);
        free(out);
        out = NULL;
    }
    return out;
}
