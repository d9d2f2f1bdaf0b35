/*
 * selfaudit.h - auditdb audits itself: api_access_log for every request,
 * auth_audit_log (hash-chained) for every authentication attempt,
 * rate_limit_violations (one row per key and minute), and security_events
 * for repeated bad keys from one address, cross-tenant probes and rate abuse.
 * Requests only append to a bounded in-memory queue (refusals of the rate
 * limit: a bounded table of counts); a background thread writes batches, so
 * no request waits for this. When the queue is full, records are dropped and
 * counted (auditdb_selfaudit_dropped_total).
 */
#ifndef ADB_HTTP_SELFAUDIT_H
#define ADB_HTTP_SELFAUDIT_H

#include <stdbool.h>
#include "auditdb.h"

typedef struct adb_selfaudit adb_selfaudit;

typedef struct adb_sa_access {
    const char *org, *key_id, *request_id, *method, *path, *ip, *user_agent, *error_code;
    const char *body, *body_end; /* hashed, never stored */
    int status, ms, request_bytes;
    int response_bytes; /* the response body's size */
} adb_sa_access;

adb_selfaudit *adb_selfaudit_start(adb *db);
/* Writes what is queued, stops the thread, frees sa. */
void adb_selfaudit_stop(adb_selfaudit *sa);

void adb_selfaudit_access(adb_selfaudit *sa, const adb_sa_access *a);
/* One authentication attempt; a failure also feeds the bad-key detector. */
void adb_selfaudit_auth(adb_selfaudit *sa, bool ok, const char *org, const char *key_id,
                        const char *ip, const char *user_agent, const char *request_id,
                        const char *failure_reason);
/* One rate-limit refusal: counted in memory, written as one row per key and
 * minute (rate_limit_violations.request_count), whatever their number. */
void adb_selfaudit_rate(adb_selfaudit *sa, const char *org, const char *key_id, const char *ip,
                        const char *path, const char *method, int limit);
void adb_selfaudit_security(adb_selfaudit *sa, const char *type, const char *severity,
                            const char *org, const char *key_id, const char *ip,
                            const char *request_id, const char *description);

long long adb_selfaudit_dropped(adb_selfaudit *sa);

#endif
