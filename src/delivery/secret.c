/*
 * secret.c - a destination's secret fields, sealed (docs/delivery.md,
 * "Secrets").
 *
 * The secret fields of a destination's config (SMTP password and API key,
 * webhook headers that carry credentials, S3 secret keys and tokens, SFTP
 * password and private key) never reach the database in clear: they are
 * taken out of config, which keeps the marker {"sealed": true} in their
 * place, and sealed together as one JSON array [[path, value], ...] with
 * AES-256-GCM under the organization's "delivery-secret" key (org_keys.h,
 * derived from the master key, which the database cannot read). The
 * additional data binds the organization, the destination id and the field
 * ("config", or "webhook-secret:<id>" for a webhook signing key), so a sealed
 * value copied to another row, organization or field does not open.
 */
#include "delivery.h"
#include "secret.h"
#include "../compliance/org_keys.h"
#include "../core/adb_internal.h"
#include "../core/util.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

/* Whether a name (header or storage config key) says it carries a credential. */
bool adb__dest_secret_name(const char *name)
{
    static const char *const words[] = { "secret", "password", "passwd", "token", "credential",
                                         "privatekey", "private_key", "accountkey", "apikey",
                                         "api-key", "api_key", "connectionstring", "authorization",
                                         "cookie", "signature", "sas", "passphrase", NULL };
    char low[128];
    size_t i;

    for (i = 0; name[i] && i < sizeof(low) - 1; i++)
        low[i] = (char)tolower((unsigned char)name[i]);
    low[i] = '\0';
    for (int w = 0; words[w]; w++)
        if (strstr(low, words[w]))
            return true;
    return false;
}

static void add_path(json_t *paths, const char *a, const char *b, const char *c, const char *d)
{
    json_t *p = json_array();
    const char *parts[] = { a, b, c, d };
    for (int i = 0; i < 4 && parts[i]; i++)
        json_array_append_new(p, json_string(parts[i]));
    json_array_append_new(paths, p);
}

json_t *adb__dest_secret_paths(const char *type, const json_t *config)
{
    json_t *paths = json_array();
    const json_t *m = json_object_get(config, type);
    const char *key;
    json_t *v;

    if (!json_is_object(m))
        return paths;
    if (!strcmp(type, "email")) {
        add_path(paths, "email", "smtpConfig", "auth", "pass");
        add_path(paths, "email", "apiKey", NULL, NULL);
    } else if (!strcmp(type, "webhook")) {
        json_object_foreach((json_t *)json_object_get(m, "headers"), key, v)
            if (adb__dest_secret_name(key) || !strcasecmp(key, "x-api-key"))
                add_path(paths, "webhook", "headers", key, NULL);
    } else if (!strcmp(type, "storage")) {
        json_object_foreach((json_t *)json_object_get(m, "config"), key, v)
            if (adb__dest_secret_name(key))
                add_path(paths, "storage", "config", key, NULL);
    } else if (!strcmp(type, "sftp")) {
        add_path(paths, "sftp", "password", NULL, NULL);
        add_path(paths, "sftp", "privateKey", NULL, NULL);
        add_path(paths, "sftp", "passphrase", NULL, NULL);
    }
    return paths;
}

/* The object holding the last part of path in config, and that last part;
 * NULL when the path is not there. */
static json_t *parent_of(json_t *config, const json_t *path, const char **last)
{
    json_t *o = config;
    size_t n = json_array_size(path);

    for (size_t i = 0; i + 1 < n && o; i++)
        o = json_object_get(o, json_string_value(json_array_get(path, i)));
    if (!json_is_object(o) || n == 0)
        return NULL;
    *last = json_string_value(json_array_get(path, n - 1));
    return o;
}

json_t *adb__dest_secret_get(const json_t *config, const json_t *path)
{
    const char *last;
    json_t *o = parent_of((json_t *)config, path, &last);
    return o ? json_object_get(o, last) : NULL;
}

void adb__dest_secret_set(json_t *config, const json_t *path, json_t *value)
{
    const char *last;
    json_t *o = parent_of(config, path, &last);
    if (o)
        json_object_set(o, last, value);
}

void adb__dest_aad(char *out, size_t cap, const char *org, int id, const char *field)
{
    adb__fmt(out, cap, "auditdb delivery-secret v1\n%s\n%d\n%s", org, id, field);
}

bool adb__dest_seal(const adb__keys *k, const char *org, int id, const char *type, json_t *config,
                    unsigned char **sealed, size_t *len)
{
    json_t *paths = adb__dest_secret_paths(type, config), *pairs = json_array(), *path;
    json_t *marker = json_pack("{s:b}", "sealed", 1);
    size_t i;
    bool ok = true;

    *sealed = NULL;
    *len = 0;
    json_array_foreach(paths, i, path) {
        json_t *v = adb__dest_secret_get(config, path);
        if (!json_is_string(v))
            continue;
        json_array_append_new(pairs, json_pack("[O, O]", path, v));
        adb__dest_secret_set(config, path, marker);
    }
    if (json_array_size(pairs)) {
        char aad[600];
        char *text = json_dumps(pairs, JSON_COMPACT);
        adb__dest_aad(aad, sizeof(aad), org, id, "config");
        ok = text && adb__org_seal(k, org, ADB_DELIVERY_SECRET_PURPOSE, aad, text, strlen(text),
                                   sealed, len);
        if (text) {
            OPENSSL_cleanse(text, strlen(text));
            free(text);
        }
    }
    json_decref(marker);
    json_decref(pairs);
    json_decref(paths);
    return ok;
}

bool adb__dest_open(const adb__keys *k, const char *org, int id, json_t *config,
                    const unsigned char *sealed, size_t len)
{
    char aad[600], *text = NULL;
    json_t *pairs, *pair;
    size_t i;

    if (!sealed || !len)
        return true;
    adb__dest_aad(aad, sizeof(aad), org, id, "config");
    if (!adb__org_open(k, org, ADB_DELIVERY_SECRET_PURPOSE, aad, sealed, len, &text))
        return false;
    pairs = json_loads(text, 0, NULL);
    OPENSSL_cleanse(text, strlen(text));
    free(text);
    if (!json_is_array(pairs)) {
        json_decref(pairs);
        return false;
    }
    json_array_foreach(pairs, i, pair)
        adb__dest_secret_set(config, json_array_get(pair, 0), json_array_get(pair, 1));
    json_decref(pairs);
    return true;
}

void adb__dest_mask(const char *type, json_t *config)
{
    json_t *paths = adb__dest_secret_paths(type, config), *path;
    json_t *mask = json_string(ADB_DEST_MASK);
    size_t i;

    json_array_foreach(paths, i, path)
        if (adb__dest_secret_get(config, path))
            adb__dest_secret_set(config, path, mask);
    json_decref(mask);
    json_decref(paths);
}

bool adb__dest_is_mask(const json_t *v)
{
    return (json_is_string(v) && !strcmp(json_string_value(v), ADB_DEST_MASK)) ||
           (json_is_object(v) && json_is_true(json_object_get(v, "sealed")) && json_object_size(v) == 1);
}

void adb__dest_keep_secrets(const char *type, json_t *config, const json_t *old)
{
    json_t *paths = adb__dest_secret_paths(type, config), *path;
    size_t i;

    json_array_foreach(paths, i, path) {
        json_t *v = adb__dest_secret_get(config, path);
        if (v && adb__dest_is_mask(v)) {
            json_t *was = old ? adb__dest_secret_get(old, path) : NULL;
            if (json_is_string(was) && !adb__dest_is_mask(was))
                adb__dest_secret_set(config, path, was);
        }
    }
    json_decref(paths);
}

bool adb__dest_seal_blob(const adb__keys *k, const char *org, int id, const char *field,
                         const unsigned char *raw, size_t n, char **b64)
{
    char aad[600];
    unsigned char *sealed = NULL;
    size_t len = 0;

    *b64 = NULL;
    adb__dest_aad(aad, sizeof(aad), org, id, field);
    if (!adb__org_seal(k, org, ADB_DELIVERY_SECRET_PURPOSE, aad, raw, n, &sealed, &len))
        return false;
    *b64 = malloc(4 * ((len + 2) / 3) + 1);
    if (*b64)
        EVP_EncodeBlock((unsigned char *)*b64, sealed, (int)len);
    free(sealed);
    return *b64 != NULL;
}

bool adb__dest_open_blob(const adb__keys *k, const char *org, int id, const char *field,
                         const char *b64, unsigned char *raw, size_t cap, size_t *n)
{
    char aad[600], *plain = NULL;
    size_t blen = strlen(b64), len;
    unsigned char *bin = malloc(blen / 4 * 3 + 3);
    int got;
    bool ok = false;

    if (!bin)
        return false;
    got = blen % 4 == 0 ? EVP_DecodeBlock(bin, (const unsigned char *)b64, (int)blen) : -1;
    if (got >= 0) {
        len = (size_t)got;
        /* EVP_DecodeBlock counts the padding as zero bytes */
        for (size_t p = blen; p > 0 && b64[p - 1] == '='; p--)
            len--;
        adb__dest_aad(aad, sizeof(aad), org, id, field);
        /* the plain text is raw bytes: its length is the sealed one less nonce and tag */
        if (len >= 28 && len - 28 <= cap &&
            adb__org_open(k, org, ADB_DELIVERY_SECRET_PURPOSE, aad, bin, len, &plain)) {
            memcpy(raw, plain, len - 28);
            *n = len - 28;
            OPENSSL_cleanse(plain, len - 28);
            free(plain);
            ok = true;
        }
    }
    free(bin);
    return ok;
}
