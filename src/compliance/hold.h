/*
 * hold.h - legal holds (table legal_hold, migration 0027; docs/gdpr.md,
 * "Erasure"): events a hold covers are neither erased nor pseudonymized.
 */
#ifndef ADB_COMPLIANCE_HOLD_H
#define ADB_COMPLIANCE_HOLD_H

#include <libpq-fe.h>
#include <stdbool.h>
#include "auditdb.h"
#include "../integrity/integrity.h"

typedef struct adb__hold {
    char id[64];
    bool principal;          /* scope principal; else subject */
    unsigned char index[32]; /* blind index of the held identifier */
    char *action_pattern;    /* NULL: any (fnmatch pattern) */
    char *classification;    /* NULL: any */
    char *reason;
} adb__hold;

typedef struct adb__holds {
    adb__hold *h;
    size_t n;
} adb__holds;

/* The organization's holds in force now (released_at NULL, until NULL or
 * later), read on c. */
ADB_WUR adb_status adb__holds_load(PGconn *c, const char *org, adb__holds *out, char *err,
                                   size_t errlen);
void adb__holds_free(adb__holds *hs);

/* The hold covering an event of the subject (subject_index) with this
 * principal, action and classification; NULL: none. */
const adb__hold *adb__holds_match(const adb__holds *hs, const adb__keys *k, const char *org,
                                  const unsigned char subject_index[32], const char *principal,
                                  const char *action, const char *classification);

/* Creates a hold; id receives its id. scope "subject" or "principal". */
ADB_WUR adb_status adb__hold_create(PGconn *c, const adb__keys *k, const char *org,
                                    const char *scope, const char *value,
                                    const char *action_pattern, const char *classification,
                                    const char *until, const char *reason,
                                    const char *created_by, char id[64], char *err,
                                    size_t errlen);

/* Releases a hold (released_at = now); ADB_ERR_NOT_FOUND when none in force. */
ADB_WUR adb_status adb__hold_release(PGconn *c, const char *org, const char *id, char *err,
                                     size_t errlen);

#endif
