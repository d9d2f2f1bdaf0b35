/*
 * redact.h - the lawful redaction of one stored event (internal; docs/
 * integrity.md section 8, docs/gdpr.md "Erasure").
 *
 * Works on a row as its 24 strings (src/integrity/row.h), so that a live row
 * and an archived line are redacted by the same code. For each field erased
 * it gives the commitment the hash covers (from the row's keys), the new
 * commit_field_keys (the keys of the fields kept, null for every field
 * erased, now or before) and which values to remove; the caller writes the
 * signed erasure records and the new row.
 */
#ifndef ADB_COMPLIANCE_REDACT_H
#define ADB_COMPLIANCE_REDACT_H

#include <stdbool.h>
#include <stddef.h>
#include "../integrity/row.h"

typedef struct adb__redaction_rec {
    char *field;             /* "principalId", "details.ip", ... */
    char commitment[65];
} adb__redaction_rec;

typedef struct adb__redaction {
    bool principal, target, outcome; /* set these columns NULL */
    char **drop;                     /* details members to remove */
    size_t ndrop;
    char *field_keys;                /* the new commit_field_keys (JSON text); NULL for an
                                        event stored before v3 */
    adb__redaction_rec *rec;         /* one per field erased; before v3 each commitment is
                                        the residual content (docs/integrity.md 8b) */
    size_t nrec;
    bool residual;                   /* stored before v3: residual records */
    char original_content[65];       /* residual: the content hash the chain link covers */
    char original_hash[65];          /* residual: the stored hash */
} adb__redaction;

struct adb__erasure_set;

/* Redacts the fields named (exact names, or "details.*" for every member of
 * details) that have a value in row v. 1: done (out->nrec may be 0: nothing
 * to erase), 0: the row cannot be redacted lawfully (why: does not verify
 * before, a value without its key), -1: out of memory. An event stored before
 * v3 is redacted with residual records; records (may be NULL) are the
 * event's erasure records, which vouch for one erased before. */
int adb__redact(const adb__keys *k, const char *const v[ADB__ROW_NCOLS],
                const char *const *fields, size_t nfields,
                const struct adb__erasure_set *records, adb__redaction *out, char *why,
                size_t whylen);

void adb__redaction_free(adb__redaction *r);

#endif
