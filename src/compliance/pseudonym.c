/*
 * pseudonym.c - pseudonyms (hash, token, encryption) and pseudonym_mapping.
 * Definitions in pseudonym.h and docs/gdpr.md.
 */
#include "pseudonym.h"
#include "org_keys.h"
#include "../core/util.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

bool adb__psn_strategy_parse(const char *s, adb__psn_strategy *out)
{
    if (!s)
        return false;
    if (!strcmp(s, "hash"))
        *out = ADB_PSN_HASH;
    else if (!strcmp(s, "token") || !strcmp(s, "tokenize") || !strcmp(s, "tokenization"))
        *out = ADB_PSN_TOKEN;
    else if (!strcmp(s, "encryption") || !strcmp(s, "encrypt"))
        *out = ADB_PSN_ENCRYPTION;
    else
        return false;
    return true;
}

const char *adb__psn_strategy_name(adb__psn_strategy s)
{
    return s == ADB_PSN_HASH ? "hash" : s == ADB_PSN_TOKEN ? "token" : "encryption";
}

void adb__bytea_hex(const unsigned char in[32], char out[67])
{
    out[0] = '\\';
    out[1] = 'x';
    adb__hex(in, 32, out + 2);
}

bool adb__pseudonym_make(const adb__keys *k, const char *org, adb__psn_strategy s,
                         const char *original, char out[ADB_PSEUDONYM_MAX])
{
    unsigned char md[32];
    size_t len = strlen(original);

    if (len == 0 || len > ADB_PSN_SUBJECT_MAX)
        return false;
    if (s == ADB_PSN_HASH) {
        if (!adb__org_hmac(k, org, ADB_ORGKEY_HASH, original, md))
            return false;
        memcpy(out, "psn-h-", 6);
        adb__hex(md, 16, out + 6);
        return true;
    }
    if (s == ADB_PSN_TOKEN) {
        if (RAND_bytes(md, 16) != 1)
            return false;
        memcpy(out, "psn-t-", 6);
        adb__hex(md, 16, out + 6);
        return true;
    }
    char aad[300];
    unsigned char *ct;
    size_t n;
    adb__fmt(aad, sizeof(aad), "pseudonym\n%s", org);
    if (!adb__org_seal(k, org, ADB_ORGKEY_PSEUDONYM, aad, original, len, &ct, &n))
        return false;
    memcpy(out, "psn-e-", 6);
    adb__hex(ct, n, out + 6);
    free(ct);
    return true;
}

static adb_status db_error(PGconn *c, PGresult *r, const char *what, char *err, size_t errlen)
{
    adb__fmt(err, errlen, "%s: %s", what, PQerrorMessage(c));
    adb__oneline(err);
    PQclear(r);
    return PQstatus(c) == CONNECTION_OK ? ADB_ERR_DB_QUERY : ADB_ERR_DB_CONNECT;
}

adb_status adb__pseudonym_get_or_create(PGconn *c, const adb__keys *k, const char *org,
                                        adb__psn_strategy s, const char *original,
                                        const char *request_id,
                                        char pseudonym[ADB_PSEUDONYM_MAX],
                                        char out_strategy[16], bool *created, char *err,
                                        size_t errlen)
{
    unsigned char idx[32];
    char idx_hex[67];
    PGresult *r;

    *created = false;
    if (!adb__org_index(k, org, original, idx)) {
        adb__fmt(err, errlen, "could not derive the organization's keys");
        return ADB_ERR_INTERNAL;
    }
    adb__bytea_hex(idx, idx_hex);
    for (int attempt = 0; attempt < 2; attempt++) {
        const char *p[] = { org, idx_hex };
        r = PQexecParams(c, "SELECT pseudonym_id, strategy FROM pseudonym_mapping"
                            " WHERE organization_id = $1 AND original_index = $2::bytea",
                         2, NULL, p, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK)
            return db_error(c, r, "pseudonym_mapping", err, errlen);
        if (PQntuples(r) == 1) {
            adb__fmt(pseudonym, ADB_PSEUDONYM_MAX, "%s", PQgetvalue(r, 0, 0));
            adb__fmt(out_strategy, 16, "%s", PQgetvalue(r, 0, 1));
            PQclear(r);
            return ADB_OK;
        }
        PQclear(r);
        /* a new one: the original sealed under the mapping key, bound to its
         * organization and pseudonym */
        char aad[ADB_PSEUDONYM_MAX + 300];
        unsigned char *ct;
        size_t n;
        if (!adb__pseudonym_make(k, org, s, original, pseudonym)) {
            adb__fmt(err, errlen, "could not make a pseudonym");
            return ADB_ERR_INTERNAL;
        }
        adb__fmt(aad, sizeof(aad), "pseudonym_mapping\n%s\n%s", org, pseudonym);
        if (!adb__org_seal(k, org, ADB_ORGKEY_MAPPING, aad, original, strlen(original), &ct, &n)) {
            adb__fmt(err, errlen, "could not encrypt the original");
            return ADB_ERR_INTERNAL;
        }
        char *b64 = malloc(4 * ((n + 2) / 3) + 1);
        if (!b64) {
            free(ct);
            return ADB_ERR_NOMEM;
        }
        EVP_EncodeBlock((unsigned char *)b64, ct, (int)n);
        free(ct);
        const char *ip[] = { pseudonym, b64, adb__psn_strategy_name(s), org, idx_hex, request_id };
        r = PQexecParams(c, "INSERT INTO pseudonym_mapping (pseudonym_id, original_id, strategy,"
                            " organization_id, original_index, request_id)"
                            " VALUES ($1, $2, $3, $4, $5::bytea, $6)"
                            " ON CONFLICT (organization_id, original_index) DO NOTHING",
                         6, NULL, ip, NULL, NULL, 0);
        free(b64);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            return db_error(c, r, "pseudonym_mapping", err, errlen);
        bool done = atoi(PQcmdTuples(r)) == 1;
        PQclear(r);
        if (done) {
            *created = true;
            adb__fmt(out_strategy, 16, "%s", adb__psn_strategy_name(s));
            return ADB_OK;
        }
        /* another transaction made it first: read theirs */
    }
    adb__fmt(err, errlen, "pseudonym_mapping: could not store the pseudonym");
    return ADB_ERR_INTERNAL;
}

adb_status adb__pseudonym_reverse(PGconn *c, const adb__keys *k, const char *org,
                                  const char *pseudonym, char **original, char *err,
                                  size_t errlen)
{
    const char *p[] = { org, pseudonym };
    PGresult *r = PQexecParams(c, "SELECT original_id FROM pseudonym_mapping"
                                  " WHERE organization_id = $1 AND pseudonym_id = $2",
                               2, NULL, p, NULL, NULL, 0);
    char aad[ADB_PSEUDONYM_MAX + 300];

    *original = NULL;
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return db_error(c, r, "pseudonym_mapping", err, errlen);
    if (PQntuples(r) != 1) {
        PQclear(r);
        adb__fmt(err, errlen, "no such pseudonym in this organization");
        return ADB_ERR_NOT_FOUND;
    }
    const char *b64 = PQgetvalue(r, 0, 0);
    size_t blen = strlen(b64);
    unsigned char *ct = malloc(blen / 4 * 3 + 3);
    int n = ct ? EVP_DecodeBlock(ct, (const unsigned char *)b64, (int)blen) : -1;
    if (n > 0) /* EVP_DecodeBlock counts the padding's bytes too */
        n -= (blen >= 1 && b64[blen - 1] == '=') + (blen >= 2 && b64[blen - 2] == '=');
    PQclear(r);
    adb__fmt(aad, sizeof(aad), "pseudonym_mapping\n%s\n%s", org, pseudonym);
    bool ok = n > 0 && adb__org_open(k, org, ADB_ORGKEY_MAPPING, aad, ct, (size_t)n, original);
    free(ct);
    if (!ok) {
        adb__fmt(err, errlen, "the mapping does not decrypt (changed in the database, or "
                              "another master key)");
        return ADB_ERR_INVALID;
    }
    return ADB_OK;
}

adb_status adb__pseudonym_forget(PGconn *c, const adb__keys *k, const char *org,
                                 const char *original, long long *deleted, char *err,
                                 size_t errlen)
{
    unsigned char idx[32];
    char idx_hex[67];

    *deleted = 0;
    if (!adb__org_index(k, org, original, idx)) {
        adb__fmt(err, errlen, "could not derive the organization's keys");
        return ADB_ERR_INTERNAL;
    }
    adb__bytea_hex(idx, idx_hex);
    const char *p[] = { org, idx_hex };
    PGresult *r = PQexecParams(c, "DELETE FROM pseudonym_mapping"
                                  " WHERE organization_id = $1 AND original_index = $2::bytea",
                               2, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        return db_error(c, r, "pseudonym_mapping", err, errlen);
    *deleted = atoll(PQcmdTuples(r));
    PQclear(r);
    return ADB_OK;
}
