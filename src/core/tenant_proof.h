/*
 * tenant_proof.h - the proof that goes with the tenant setting (internal;
 * docs/auth.md, "Tenant proof").
 *
 * Row-level security admits a tenant's rows only when the transaction's
 * auditdb.tenant_proof is HMAC-SHA256(secret, organization id "\n" backend
 * pid) in hex (migration 0016, auditdb_tenant()). The secret is read once
 * through the owner's pool and kept here; the request login cannot read it,
 * so a statement that changes auditdb.organization_id sees no rows.
 */
#ifndef ADB_TENANT_PROOF_H
#define ADB_TENANT_PROOF_H

#include "auditdb.h"
#include "digest.h"

#include <libpq-fe.h>
#include <stdbool.h>

typedef struct adb__tenant_key {
    adb__hmac_key k;
    bool loaded;
} adb__tenant_key;

/* Reads the secret from auditdb_tenant_secret on c (the owner's connection). */
adb_status adb__tenant_key_load(PGconn *c, adb__tenant_key *out, char *errbuf, size_t errlen);

/* The proof of org on conn's backend, 64 hex digits; false if none can be made. */
bool adb__tenant_proof(const adb__tenant_key *k, PGconn *conn, const char *org, char out[65]);

/* Forgets the secret. */
void adb__tenant_key_wipe(adb__tenant_key *k);

#endif
