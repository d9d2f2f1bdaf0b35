/*
 * keys.c - the server's master key and the keys derived from it.
 *
 * The master key comes from AUDITDB_MASTER_KEY or from $AUDITDB_HOME/master.key
 * (32 random bytes as hex, mode 0600, created on first use). It never leaves
 * this file except as HKDF-derived keys; nothing here logs it. The database
 * must never read it: the embedded PostgreSQL gets neither auditdb's
 * environment nor access to the home (src/db/confine.c), and serve refuses a
 * server that can open the file (src/cli/keyprobe.c); docs/integrity.md, Keys.
 */
#include "integrity.h"
#include "../core/key_file.h"
#include "../core/util.h"

#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <string.h>

#define MASTER_MIN 32

bool adb__keys_hkdf(const unsigned char *ikm, size_t len, const char *info, unsigned char *out,
                    size_t outlen)
{
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    OSSL_PARAM params[5];
    bool ok;

    EVP_KDF_free(kdf);
    if (!ctx)
        return false;
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, len);
    params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)"auditdb", 7);
    params[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, strlen(info));
    params[4] = OSSL_PARAM_construct_end();
    ok = EVP_KDF_derive(ctx, out, outlen, params) == 1;
    EVP_KDF_CTX_free(ctx);
    return ok;
}

bool adb__keys_derive(const unsigned char *ikm, size_t len, adb__keys *k)
{
    unsigned char fp[16];

    if (!adb__keys_hkdf(ikm, len, "auditdb signature v1", k->sig, sizeof(k->sig)) ||
        !adb__keys_hkdf(ikm, len, "auditdb chain v1", k->chain, sizeof(k->chain)) ||
        !adb__keys_hkdf(ikm, len, "auditdb subject v1", k->subject, sizeof(k->subject)) ||
        !adb__keys_hkdf(ikm, len, "auditdb fingerprint v1", fp, sizeof(fp)) ||
        !adb__hmac_key_init(&k->sig_hmac, k->sig, sizeof(k->sig)) ||
        !adb__hmac_key_init(&k->chain_hmac, k->chain, sizeof(k->chain)))
        return false;
    adb__hex(fp, sizeof(fp), k->fingerprint);
    return true;
}

void adb__keys_wipe(adb__keys *k)
{
    OPENSSL_cleanse(k, sizeof(*k));
}

adb_status adb__keys_load(const char *master_key, const char *home, adb__keys *k, char *errbuf,
                          size_t errlen)
{
    char path[4096];
    char *text;
    size_t len;
    adb_status st;

    if (master_key) {
        if (strlen(master_key) < MASTER_MIN) {
            adb__fmt(errbuf, errlen, "AUDITDB_MASTER_KEY is too short: it needs at least %d "
                     "characters (e.g. 64 hex digits from \"openssl rand -hex 32\")", MASTER_MIN);
            return ADB_ERR_CONFIG;
        }
        if (!adb__keys_derive((const unsigned char *)master_key, strlen(master_key), k)) {
            adb__fmt(errbuf, errlen, "could not derive keys (HKDF unavailable)");
            return ADB_ERR_INTERNAL;
        }
        return ADB_OK;
    }
    if (!adb__mkdir_p(home, 0755)) {
        adb__fmt(errbuf, errlen, "could not create AUDITDB_HOME \"%s\": %s", home, strerror(errno));
        return ADB_ERR_IO;
    }
    adb__fmt(path, sizeof(path), "%s/master.key", home);
    if ((st = adb__key_file_read(path, "master key", ADB_KEY_FILE_CREATE, &text, &len, errbuf,
                                 errlen)) != ADB_OK)
        return st;
    if (len < MASTER_MIN) {
        OPENSSL_cleanse(text, len);
        free(text);
        adb__fmt(errbuf, errlen, "the master key file \"%s\" holds fewer than %d characters", path,
                 MASTER_MIN);
        return ADB_ERR_CONFIG;
    }
    bool ok = adb__keys_derive((unsigned char *)text, len, k);
    OPENSSL_cleanse(text, len);
    free(text);
    if (!ok) {
        adb__fmt(errbuf, errlen, "could not derive keys (HKDF unavailable)");
        return ADB_ERR_INTERNAL;
    }
    return ADB_OK;
}
