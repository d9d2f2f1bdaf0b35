/*
 * tenant_proof.c - the tenant setting's proof (see tenant_proof.h).
 */
#include "tenant_proof.h"
#include "adb_internal.h"
#include "util.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>

adb_status adb__tenant_key_load(PGconn *c, adb__tenant_key *out, char *errbuf, size_t errlen)
{
    /* binary result: the secret never exists as text on this side */
    PGresult *r = PQexecParams(c, "SELECT secret FROM auditdb_tenant_secret", 0, NULL, NULL, NULL,
                               NULL, 1);
    adb_status st = ADB_OK;

    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        adb__fmt(errbuf, errlen, "could not read the tenant secret: %s (run auditdb migrate)",
                 PQresultErrorMessage(r));
        adb__oneline(errbuf);
        st = ADB_ERR_DB_QUERY;
    } else if (PQntuples(r) != 1 || PQgetisnull(r, 0, 0) || PQgetlength(r, 0, 0) != 32) {
        adb__fmt(errbuf, errlen, "auditdb_tenant_secret must hold one secret of 32 bytes"
                 " (docs/auth.md, \"Tenant proof\")");
        st = ADB_ERR_INVALID;
    } else if (!adb__hmac_key_init(&out->k, (const unsigned char *)PQgetvalue(r, 0, 0), 32)) {
        adb__fmt(errbuf, errlen, "could not prepare the tenant secret");
        st = ADB_ERR_INVALID;
    } else {
        out->loaded = true;
    }
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
        OPENSSL_cleanse(PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0));
    PQclear(r);
    return st;
}

bool adb__tenant_proof(const adb__tenant_key *k, PGconn *conn, const char *org, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char mac[32];
    char msg[1100]; /* organization_id is varchar(255): at most 1020 bytes of UTF-8 */
    int pid = PQbackendPID(conn);
    int n;

    out[0] = '\0';
    if (!k->loaded || pid <= 0 || !org)
        return false;
    n = snprintf(msg, sizeof(msg), "%s\n%d", org, pid);
    if (n < 0 || (size_t)n >= sizeof(msg) || !adb__hmac_sha256(&k->k, msg, (size_t)n, mac))
        return false;
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hex[mac[i] >> 4];
        out[2 * i + 1] = hex[mac[i] & 15];
    }
    out[64] = '\0';
    OPENSSL_cleanse(mac, sizeof(mac));
    return true;
}

void adb__tenant_key_wipe(adb__tenant_key *k)
{
    OPENSSL_cleanse(k, sizeof(*k));
}
