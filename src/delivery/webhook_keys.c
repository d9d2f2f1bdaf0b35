/*
 * webhook_keys.c - the signing keys of a webhook destination, in
 * webhook_secrets (docs/delivery.md, "Secrets").
 *
 * Each webhook destination has a primary pair: a v1 secret (32 random bytes,
 * shown once as whsec_ + base64, algorithm HMAC-SHA256) and a v1a Ed25519 key
 * (the private key never leaves the service; its public key is shown as
 * whpk_ + base64, algorithm Ed25519). secret_key holds each sealed (secret.c,
 * field "webhook-secret:<id>"), base64. A rotation makes a new primary pair
 * and leaves the old one active until expires_at (the grace period), so that
 * deliveries carry both signatures meanwhile; after it the old key's
 * secret_key is destroyed and is_active is false.
 */
#include "destination.h"
#include "secret.h"
#include "../core/adb_internal.h"
#include "../core/util.h"
#include "../monitor/config_change.h"
#include "../core/buf.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

static void b64(const unsigned char *in, size_t n, char *out)
{
    EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

static void new_id(char out[40])
{
    unsigned char r[12];
    char hex[25];
    if (RAND_bytes(r, sizeof(r)) != 1)
        memset(r, 0, sizeof(r)); /* never reached: RAND_bytes fails only without entropy */
    adb__hex(r, sizeof(r), hex);
    adb__fmt(out, 40, "wsk_%s", hex);
}

static bool insert_key(PGconn *c, const char *org, int id, const char *key_id, const char *alg,
                       const char *sealed, const char *who)
{
    char idtext[16];
    adb__fmt(idtext, sizeof(idtext), "%d", id);
    const char *p[] = { key_id, idtext, sealed, alg, who, org };
    PGresult *r = PQexecParams(c,
                               "INSERT INTO webhook_secrets (id, destination_id, secret_key,"
                               " algorithm, is_active, is_primary, created_by, organization_id)"
                               " VALUES ($1, $2::int, $3, $4, 'true', 'true', $5, $6)",
                               6, NULL, p, NULL, NULL, 0);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    return ok;
}

adb_status adb__webhook_keys_make(adb *h, PGconn *c, const char *org, int id, int grace_h,
                                  const char *who, json_t **out)
{
    const adb__keys *k = adb__db_keys(h);
    unsigned char secret[32], priv[32], pub[32];
    size_t plen = sizeof(priv), publen = sizeof(pub);
    char sid[40], kid[40], field[80], *sealed_s = NULL, *sealed_k = NULL;
    char whsec[6 + 45], whpk[5 + 45], idtext[16], grace[16];
    EVP_PKEY *pk = NULL;
    adb_status st = ADB_ERR_INTERNAL;

    *out = NULL;
    adb__fmt(idtext, sizeof(idtext), "%d", id);
    adb__fmt(grace, sizeof(grace), "%d", grace_h);
    /* the current keys become the previous ones, active for the grace period at
     * most (an older rotation's keys keep an earlier end) */
    const char *p[] = { org, idtext, grace };
    PGresult *r = PQexecParams(c,
                               "UPDATE webhook_secrets SET is_primary = 'false',"
                               " rotated_at = coalesce(rotated_at, now()),"
                               " expires_at = least(coalesce(expires_at, 'infinity'),"
                               "                    now() + make_interval(hours => $3::int))"
                               " WHERE organization_id = $1 AND destination_id = $2::int"
                               " AND is_active = 'true'",
                               3, NULL, p, NULL, NULL, 0);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    /* keys past their time: destroyed */
    r = ok ? PQexecParams(c,
                          "UPDATE webhook_secrets SET is_active = 'false', secret_key = ''"
                          " WHERE organization_id = $1 AND destination_id = $2::int"
                          " AND is_active = 'true' AND expires_at <= now()",
                          2, NULL, p, NULL, NULL, 0)
           : NULL;
    ok = ok && PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok)
        return ADB_ERR_DB_QUERY;

    new_id(sid);
    new_id(kid);
    if (RAND_bytes(secret, sizeof(secret)) != 1 ||
        !(pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")) ||
        EVP_PKEY_get_raw_private_key(pk, priv, &plen) != 1 ||
        EVP_PKEY_get_raw_public_key(pk, pub, &publen) != 1 || plen != 32 || publen != 32)
        goto out;
    adb__fmt(field, sizeof(field), "webhook-secret:%s", sid);
    if (!adb__dest_seal_blob(k, org, id, field, secret, sizeof(secret), &sealed_s))
        goto out;
    adb__fmt(field, sizeof(field), "webhook-secret:%s", kid);
    if (!adb__dest_seal_blob(k, org, id, field, priv, plen, &sealed_k))
        goto out;
    st = ADB_ERR_DB_QUERY;
    if (!insert_key(c, org, id, sid, "HMAC-SHA256", sealed_s, who) ||
        !insert_key(c, org, id, kid, "Ed25519", sealed_k, who))
        goto out;
    memcpy(whsec, "whsec_", 6);
    b64(secret, sizeof(secret), whsec + 6);
    memcpy(whpk, "whpk_", 5);
    b64(pub, publen, whpk + 5);
    *out = json_pack("{s:s, s:s, s:s, s:s}", "secret", whsec, "publicKey", whpk, "secretId", sid,
                     "keyId", kid);
    OPENSSL_cleanse(whsec, sizeof(whsec));
    st = *out ? ADB_OK : ADB_ERR_NOMEM;
out:
    OPENSSL_cleanse(secret, sizeof(secret));
    OPENSSL_cleanse(priv, sizeof(priv));
    EVP_PKEY_free(pk);
    free(sealed_s);
    free(sealed_k);
    return st;
}

adb_status adb__webhook_keys_active(adb *h, PGconn *c, const char *org, int dest_id,
                                    int64_t now_ms, adb__signing_key **out, size_t *n)
{
    adb_status st = adb__webhook_keys_load(h, c, org, dest_id, now_ms, true, out, n);
    return st == ADB_ERR_CONFIG ? ADB_ERR_INTERNAL : st;
}

adb_status adb__webhook_keys_use(PGconn *c, const char *const *ids, const int *uses, size_t n)
{
    if (n == 0)
        return ADB_OK;
    adb__buf a = { 0 }, u = { 0 };
    adb__buf_puts(&a, "{");
    adb__buf_puts(&u, "{");
    for (size_t i = 0; i < n; i++) {
        if (i) {
            adb__buf_puts(&a, ",");
            adb__buf_puts(&u, ",");
        }
        adb__buf_array_elem(&a, ids[i], strlen(ids[i]));
        adb__buf_printf(&u, "%d", uses[i]);
    }
    adb__buf_puts(&a, "}");
    adb__buf_puts(&u, "}");
    adb_status st = ADB_ERR_NOMEM;
    if (!a.oom && !u.oom) {
        const char *p[] = { a.p, u.p };
        PGresult *r = PQexecParams(c,
            "UPDATE webhook_secrets w SET usage_count = w.usage_count + x.n, last_used_at = now()"
            " FROM unnest($1::text[], $2::int[]) AS x(id, n) WHERE w.id = x.id",
            2, NULL, p, NULL, NULL, 0);
        st = PQresultStatus(r) == PGRES_COMMAND_OK ? ADB_OK : ADB_ERR_DB_QUERY;
        PQclear(r);
    }
    adb__buf_free(&a);
    adb__buf_free(&u);
    return st;
}

adb_status adb__webhook_keys_load(adb *h, PGconn *c, const char *org, int dest_id, int64_t now_ms,
                                  bool count, adb__signing_key **out, size_t *n)
{
    char idtext[16], now[32];
    adb__fmt(idtext, sizeof(idtext), "%d", dest_id);
    adb__fmt(now, sizeof(now), "%lld", (long long)now_ms);
    const char *p[] = { org, idtext, now };
    PGresult *r = PQexecParams(c, count ?
                               "UPDATE webhook_secrets SET usage_count = usage_count + 1,"
                               " last_used_at = now()"
                               " WHERE organization_id = $1 AND destination_id = $2::int"
                               " AND is_active = 'true' AND secret_key <> ''"
                               " AND (expires_at IS NULL OR expires_at > to_timestamp($3::bigint / 1000.0))"
                               " RETURNING id, algorithm, is_primary = 'true', secret_key, created_at,"
                               " coalesce(round(extract(epoch FROM expires_at) * 1000)::bigint, 0)"
                               :
                               "SELECT id, algorithm, is_primary = 'true', secret_key, created_at,"
                               " coalesce(round(extract(epoch FROM expires_at) * 1000)::bigint, 0)"
                               " FROM webhook_secrets"
                               " WHERE organization_id = $1 AND destination_id = $2::int"
                               " AND is_active = 'true' AND secret_key <> ''"
                               " AND (expires_at IS NULL OR expires_at > to_timestamp($3::bigint / 1000.0))",
                               3, NULL, p, NULL, NULL, 0);
    adb_status st = ADB_OK;
    size_t rows, got = 0;

    *out = NULL;
    *n = 0;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        return ADB_ERR_DB_QUERY;
    }
    rows = (size_t)PQntuples(r);
    adb__signing_key *k = rows ? calloc(rows, sizeof(*k)) : NULL;
    if (rows && !k)
        st = ADB_ERR_NOMEM;
    /* primary first (RETURNING has no ORDER BY) */
    for (int pass = 0; pass < 2 && st == ADB_OK; pass++)
        for (size_t i = 0; i < rows && st == ADB_OK; i++) {
            bool primary = !strcmp(PQgetvalue(r, (int)i, 2), "t");
            if (primary != (pass == 0))
                continue;
            adb__signing_key *x = &k[got];
            char field[80];
            adb__fmt(x->id, sizeof(x->id), "%s", PQgetvalue(r, (int)i, 0));
            x->ed25519 = !strcmp(PQgetvalue(r, (int)i, 1), "Ed25519");
            x->primary = primary;
            x->expires_ms = strtoll(PQgetvalue(r, (int)i, 5), NULL, 10);
            adb__fmt(field, sizeof(field), "webhook-secret:%s", x->id);
            if (!adb__dest_open_blob(adb__db_keys(h), org, dest_id, field, PQgetvalue(r, (int)i, 3),
                                     x->key, sizeof(x->key), &x->key_len))
                st = ADB_ERR_CONFIG; /* sealed for another row, or changed */
            else
                got++;
        }
    PQclear(r);
    if (st != ADB_OK) {
        adb__webhook_keys_free(k, rows);
        return st;
    }
    *out = k;
    *n = got;
    return ADB_OK;
}

void adb__webhook_keys_free(adb__signing_key *k, size_t n)
{
    if (!k)
        return;
    OPENSSL_cleanse(k, n * sizeof(*k));
    free(k);
}

adb_status adb__webhook_keys_rotate(adb *h, const char *org, int id, int grace_h, const char *who,
                                    json_t **out, adb__dest_error *e)
{
    char err[ADB_ERRMSG_MAX], idtext[16];
    adb_status st;
    PGconn *c = adb_tenant_begin(h, org, &st, err, sizeof(err));

    *out = NULL;
    if (!c)
        return st;
    adb__fmt(idtext, sizeof(idtext), "%d", id);
    const char *p[] = { org, idtext };
    PGresult *r = PQexecParams(c,
                               "SELECT type FROM delivery_destinations WHERE organization_id = $1"
                               " AND id = $2::int AND deleted_at IS NULL FOR UPDATE",
                               2, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        st = ADB_ERR_DB_QUERY;
    else if (PQntuples(r) != 1)
        st = ADB_ERR_NOT_FOUND;
    else if (strcmp(PQgetvalue(r, 0, 0), "webhook") != 0) {
        adb__dest_fail(e, "type", "INVALID_VALUE",
                       "only a webhook destination has signing secrets (this one is %s)",
                       PQgetvalue(r, 0, 0));
        st = ADB_ERR_INVALID;
    } else {
        json_t *keys = NULL;
        st = adb__webhook_keys_make(h, c, org, id, grace_h, who, &keys);
        if (st == ADB_OK) {
            char gtext[16];
            adb__fmt(gtext, sizeof(gtext), "%d", grace_h);
            PGresult *t = PQexecParams(c,
                             "SELECT " ADB_DEST_TS("now()") ", " ADB_DEST_TS(
                                 "(now() + make_interval(hours => $1::int))"),
                             1, NULL, (const char *[]){ gtext }, NULL, NULL, 0);
            if (PQresultStatus(t) == PGRES_TUPLES_OK && PQntuples(t) == 1) {
                json_object_set_new(keys, "destinationId", json_string(idtext));
                json_object_set_new(keys, "rotatedAt", json_string(PQgetvalue(t, 0, 0)));
                json_object_set_new(keys, "previousExpiresAt", json_string(PQgetvalue(t, 0, 1)));
                json_object_set_new(keys, "gracePeriodHours", json_integer(grace_h));
                *out = keys;
            } else {
                json_decref(keys);
                st = ADB_ERR_DB_QUERY;
            }
            PQclear(t);
        }
    }
    PQclear(r);
    /* the configuration history: that a key was made, never the key (docs/monitoring.md) */
    adb__config_change_rec cc = { 0 };
    char fld[48];
    adb__fmt(fld, sizeof(fld), "webhook_secret.%d", id);
    json_t *made = json_pack("{s:s, s:i}", "destinationId", idtext, "gracePeriodHours", grace_h);
    if (st == ADB_OK)
        st = made ? adb__config_change_json_tx(c, &cc, org, fld, NULL, made, who,
                                               "webhook signing secret rotated", err, sizeof(err))
                  : ADB_ERR_NOMEM;
    json_decref(made);
    if (st == ADB_OK)
        st = adb__dest_commit(h, c) ? ADB_OK : ADB_ERR_DB_QUERY;
    else
        adb_tenant_end(h, c, false);
    adb__config_change_rec_done(h, &cc, st == ADB_OK);
    if (st != ADB_OK && *out) {
        json_decref(*out);
        *out = NULL;
    }
    return st;
}
