/*
 * dsr.h - data-subject requests as records (internal; issue 17 item 4;
 * docs/gdpr.md "Requests", docs/hipaa.md "Requests").
 *
 * A request of a data subject (GDPR Art. 15-22) or a patient (HIPAA
 * 164.524 access, 164.528 accounting) is one row of data_subject_request:
 * received, due (GDPR one month, HIPAA accounting 60 days, HIPAA access 30
 * days), extended once or more with a reason (GDPR up to two months in all,
 * HIPAA one extension of at most 30 days), status, who handled it, outcome.
 * The subject id is stored only as a keyed blind index and AES-256-GCM
 * ciphertext under the organization's keys (subject_key.h).
 *
 * Every function works as the tenant org (row-level security applies): the
 * _on variants on a connection inside a tenant transaction the caller opened
 * (adb_tenant_begin; so an erasure can open, work and close its request in
 * one transaction), the others open and commit their own.
 *
 * Errors: ADB_ERR_INVALID for a bad argument or a change the request's state
 * refuses (message in err: "request ... is completed"), ADB_ERR_NOT_FOUND
 * for an id unknown in org (another organization's included), database
 * statuses otherwise.
 */
#ifndef ADB_COMPLIANCE_DSR_H
#define ADB_COMPLIANCE_DSR_H

#include <libpq-fe.h>
#include <stdbool.h>
#include "auditdb.h"
#include "subject_key.h"

#define ADB_DSR_ID_LEN 36
#define ADB_DSR_REASON_MAX 2000  /* extension reason, basis: characters at most */
#define ADB_DSR_OUTCOME_MAX 65536
#define ADB_DSR_LIST_MAX 1000    /* rows per page at most */

typedef struct adb__dsr {
    char id[ADB_DSR_ID_LEN + 1];
    char kind[24];
    char status[16];
    char received_at[40];     /* RFC 3339 UTC with microseconds */
    char due_at[40];
    char extended_until[40];  /* "" when never extended */
    char completed_at[40];    /* "" while open */
    char fee_status[16];      /* "free" / "chargeable" for hipaa_accounting; else "" */
    bool overdue;             /* open and past its (extended) due date */
    char *subject;            /* the subject id, decrypted; NULL once erased */
    char *extension_reason;   /* NULL when none; the same for the three below */
    char *handled_by;
    char *outcome;            /* JSON text */
    char *basis;
} adb__dsr;

/* Filters of adb__dsr_list (NULL: any). family "gdpr" (every GDPR kind) or
 * "hipaa" (hipaa_*). */
typedef struct adb__dsr_filter {
    const char *family;
    const char *kind;
    const char *status;
    const char *subject;      /* matched through its blind index */
    bool overdue_only;
    long long limit;          /* 1..ADB_DSR_LIST_MAX */
    long long offset;
} adb__dsr_filter;

/* kind is one of access, portability, erasure, pseudonymization,
 * rectification, restriction, objection (GDPR), hipaa_accounting,
 * hipaa_access (HIPAA). */
bool adb__dsr_kind_valid(const char *kind);
bool adb__dsr_kind_hipaa(const char *kind);
/* status is one of received, in_progress, completed, refused, extended. */
bool adb__dsr_status_valid(const char *status);

/* Opens a request of kind for subject in org, received now, status
 * "received", due as its kind says; handled_by (the API key id or CLI user)
 * and basis (e.g. "GDPR Art. 15") may be NULL. A hipaa_accounting request is
 * "free" unless the same patient had one in the 12 months before, then
 * "chargeable" (164.528(c)(2)). The new id goes to out_id. */
ADB_WUR adb_status adb__dsr_open_on(PGconn *c, const adb__keys *k, const char *org,
                                    const char *kind, const char *subject, const char *handled_by,
                                    const char *basis, char out_id[ADB_DSR_ID_LEN + 1], char *err,
                                    size_t errlen);
ADB_WUR adb_status adb__dsr_open(adb *h, const char *org, const char *kind, const char *subject,
                                 const char *handled_by, const char *basis,
                                 char out_id[ADB_DSR_ID_LEN + 1], char *err, size_t errlen);

/* Moves request id to status: received/extended -> in_progress, completed,
 * refused; in_progress -> completed, refused. completed and refused are
 * final (completed_at set). outcome_json (a JSON value; NULL keeps the
 * stored one) and handled_by (NULL keeps it) are written with it. */
ADB_WUR adb_status adb__dsr_set_status_on(PGconn *c, const char *org, const char *id,
                                          const char *status, const char *outcome_json,
                                          const char *handled_by, char *err, size_t errlen);
ADB_WUR adb_status adb__dsr_set_status(adb *h, const char *org, const char *id, const char *status,
                                       const char *outcome_json, const char *handled_by,
                                       char *err, size_t errlen);

/* adb__dsr_set_status to "completed" or "refused" (COORD's name). */
ADB_WUR adb_status adb__dsr_finish_on(PGconn *c, const char *org, const char *id,
                                      const char *status, const char *outcome_json,
                                      const char *handled_by, char *err, size_t errlen);
ADB_WUR adb_status adb__dsr_finish(adb *h, const char *org, const char *id, const char *status,
                                   const char *outcome_json, const char *handled_by, char *err,
                                   size_t errlen);

/* Extends an open request with a reason (1..ADB_DSR_REASON_MAX characters).
 * GDPR kinds: amount is the extension in months from the original due date,
 * 1 or 2 (Art. 12(3)); a later call may lengthen it up to 2. HIPAA kinds:
 * amount is days, 1..30, once (164.528(c)(1)(ii), 164.524(b)(2)(iii)).
 * Status becomes "extended". */
ADB_WUR adb_status adb__dsr_extend(adb *h, const char *org, const char *id, int amount,
                                   const char *reason, const char *handled_by, char *err,
                                   size_t errlen);

/* One request of org (subject decrypted). Free with adb__dsr_clear(). */
ADB_WUR adb_status adb__dsr_get_on(PGconn *c, const adb__keys *k, const char *org,
                                   const char *id, adb__dsr *out, char *err, size_t errlen);
ADB_WUR adb_status adb__dsr_get(adb *h, const char *org, const char *id, adb__dsr *out, char *err,
                                size_t errlen);

/* A page of org's requests, newest first, and the number matching in
 * *total (may be NULL). *out is malloc()ed: adb__dsr_free(*out, *n). */
ADB_WUR adb_status adb__dsr_list(adb *h, const char *org, const adb__dsr_filter *f, adb__dsr **out,
                                 size_t *n, long long *total, char *err, size_t errlen);

/* Erasure: NULLs subject_enc of every request of subject in org (the blind
 * index stays: it cannot be reversed without the key). *count: rows. */
ADB_WUR adb_status adb__dsr_forget_subject_on(PGconn *c, const adb__keys *k, const char *org,
                                              const char *subject, long long *count, char *err,
                                              size_t errlen);

/* The request as the API and the CLI show it (docs/gdpr.md, "Requests"):
 * {"id","kind","status","subjectId" (null once erased),"receivedAt","dueAt",
 * "extendedUntil","extensionReason","effectiveDueAt","overdue","handledBy",
 * "completedAt","outcome","basis","feeStatus"}; absent values are null.
 * A new reference (caller decrefs), NULL when out of memory. */
struct json_t;
struct json_t *adb__dsr_json(const adb__dsr *d);

void adb__dsr_clear(adb__dsr *d);
void adb__dsr_free(adb__dsr *d, size_t n);

#endif
