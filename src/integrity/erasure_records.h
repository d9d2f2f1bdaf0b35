/*
 * erasure_records.h - the signed erasure records of one event (table
 * audit_erasure), read and checked once for everyone who recomputes an
 * erased row: verify (live rows) and archive verify.
 */
#ifndef ADB_ERASURE_RECORDS_H
#define ADB_ERASURE_RECORDS_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#include "commit.h"

typedef struct adb__erasure_set {
    PGresult *res;          /* the rows, in order (owned) */
    int n;                  /* how many */
    bool *valid;            /* per row: signed by this server, for this organization,
                               with a commitment of 64 hex digits */
    adb__erased *erased;    /* the valid v3 rows' fields and commitments, in row order
                               (residual records are not among them) */
    size_t nvalid;
} adb__erasure_set;

/* Reads event eid's erasure records on c and checks each with the signing
 * key sig_key and the event's organization org. 1 when read (n 0: none, or
 * the table unreadable: the hash check says the rest), -1 out of memory. */
int adb__erasure_set_load(PGconn *c, const adb__hmac_key *sig_key, const char *org,
                          const char *eid, adb__erasure_set *s);

/* Row i as a record (its strings borrowed from s). */
adb__erasure_record adb__erasure_set_record(const adb__erasure_set *s, int i);

/* Row i's stored signature (what a forged record is compared with). */
const char *adb__erasure_set_signature(const adb__erasure_set *s, int i);

/* An event stored before v3 (docs/integrity.md 8b): whether a valid residual
 * record says its present content (content: the SHA-256 of its canonical
 * form now) is what a lawful erasure left of the event whose stored hash is
 * stored_hash. The number of valid residual records of that erasure history
 * (0: none matches), original set to the content hash the chain link covers. */
int adb__erasure_set_residual(const adb__erasure_set *s, const char *stored_hash,
                              const char *content, char original[65]);

/* Whether valid record i is one to name for the event: with residual_original
 * NULL a v3 record, else a residual record of that original content. */
bool adb__erasure_set_names(const adb__erasure_set *s, int i, const char *residual_original);

void adb__erasure_set_free(adb__erasure_set *s);

#endif
