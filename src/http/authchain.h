/*
 * authchain.h - the hash chain of auth_audit_log (docs/auth.md): its link
 * hash, which selfaudit.c writes, and its verification (auditdb verify
 * --auth-log).
 *
 * Each row's blockchain_hash is the SHA-256 of the JSON array
 * [previous_hash, created_at, organization_id, api_key_id, event_type,
 * event_status, ip_address, user_agent, request_id, failure_reason] (absent
 * values as ""), previous_hash is the blockchain_hash of the row before in
 * id order (64 zeros for the very first), and signature is
 * HMAC(K_sig, blockchain_hash).
 *
 * Retention redacts rows instead of deleting them (migration 0012: the chain
 * runs across organizations, whose policies differ): a redacted row keeps its
 * id, time, organization, type, status and chain columns, so its links and
 * its signature (of the stored hash) are still checked; its hash cannot be
 * recomputed any more.
 */
#ifndef ADB_AUTHCHAIN_H
#define ADB_AUTHCHAIN_H

#include <stdbool.h>

#include "auditdb.h"

/* The fields after previous_hash, in the order above. */
enum { ADB_AUTHCHAIN_FIELDS = 9 };

/* blockchain_hash of a row (hex, 64 + NUL); false when out of memory. */
bool adb_authchain_hash(const char *prev, const char *const fields[ADB_AUTHCHAIN_FIELDS],
                        char out[65]);

typedef struct adb_authchain_problem {
    long long id;     /* the row */
    const char *kind; /* "link", "hash" or "signature" */
    char expected[65], found[65];
} adb_authchain_problem;

typedef struct adb_authchain_summary {
    long long rows, first_id, last_id, problems;
    /* the first row stored links to a row no longer stored instead of to 64
     * zeros (rows deleted before retention redacted them, or by hand) */
    bool starts_after_removal;
    long long redacted;       /* rows redacted by retention: links and signatures checked, not hashes */
    char last_redacted_at[24]; /* when the last of them (in id order) was redacted */
} adb_authchain_summary;

/* Walks the whole table in id order and recomputes every link, hash and
 * signature; on_problem (may be NULL) gets each broken row. ADB_OK when the
 * walk completed, whatever it found (sum->problems). */
adb_status adb_authchain_verify(adb *db, void (*on_problem)(void *ud, const adb_authchain_problem *p),
                                void *ud, adb_authchain_summary *sum, char *err, size_t errlen);

#endif
