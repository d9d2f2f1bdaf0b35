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
    adb__erased *erased;    /* the valid rows' fields and commitments, in row order */
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

void adb__erasure_set_free(adb__erasure_set *s);

#endif
