/*
 * gdpr.h - pseudonymization and erasure of a data subject's events
 * (internal; docs/gdpr.md, "Pseudonymization" and "Erasure").
 *
 * One operation is one transaction on the owner's connection: the legal
 * holds checked (a hold covering any event refuses the whole request and
 * changes nothing), the subject's live events and archived events redacted
 * (src/compliance/redact.c) with a signed erasure record per field
 * (audit_erasure), the archives holding them rewritten, the mapping written
 * (pseudonymization) or deleted (erasure), the subject's data-subject
 * requests left with their blind index only and the organization's
 * finished export files expired (erasure). The subject's events are those whose
 * principalId or targetResourceId is the subject.
 */
#ifndef ADB_COMPLIANCE_GDPR_H
#define ADB_COMPLIANCE_GDPR_H

#include <stdbool.h>
#include "auditdb.h"
#include "pseudonym.h"

#define ADB_GDPR_MAX_FAILURES 20

typedef struct adb__gdpr_op {
    const char *org, *subject;
    const char *request_id;       /* names the request in every erasure record */
    bool erase;                   /* false: pseudonymize */
    adb__psn_strategy strategy;   /* pseudonymize */
    const char *const *fields;    /* pseudonymize: principalId and/or targetResourceId;
                                     NULL: both */
    size_t nfields;
    const char *legal_basis;      /* NULL: "GDPR Art. 17(1)" or "GDPR Art. 4(5) ..." */
    const char *reason;           /* erase: NULL or the request's reason */
    const char *start, *end;      /* RFC 3339 bounds on timestamp; NULL: open */
} adb__gdpr_op;

typedef struct adb__gdpr_failure {
    char event_id[37];
    char why[200];
} adb__gdpr_failure;

typedef struct adb__gdpr_result {
    long long events;             /* the subject's events found (live and archived) */
    long long erased;             /* events whose values were erased */
    long long pseudonymized;      /* events pseudonymized (kept: legal basis) */
    long long records;            /* erasure records written */
    long long archived;           /* of the events above, in archives */
    long long archives_rewritten;
    long long mapping_deleted;
    long long exports_expired;
    long long requests_forgotten; /* data_subject_request rows whose subject_enc was cleared */
    long long failed;
    adb__gdpr_failure failures[ADB_GDPR_MAX_FAILURES];
    char affected[8][32];         /* field names erased ("details.*" for details members) */
    int naffected;
    char pseudonym[ADB_PSEUDONYM_MAX];
    char strategy[16];
    bool created;                 /* the pseudonym was made by this request */
    char basis[256];              /* the legal basis of the kept events, when any */
    /* refused by a legal hold (ADB_ERR_BUSY) */
    char hold_id[64];
    char hold_reason[512];
    char hold_event[37];
} adb__gdpr_result;

/* Runs op. ADB_OK: done (result filled); ADB_ERR_BUSY: a legal hold covers
 * an event (hold_* filled, nothing changed); ADB_ERR_INVALID: bad op;
 * others: the database. */
ADB_WUR adb_status adb__gdpr_apply(adb *db, const adb__gdpr_op *op, adb__gdpr_result *res,
                                   char *err, size_t errlen);

#endif
