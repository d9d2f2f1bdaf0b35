/*
 * maintenance.h - one round of the data lifecycle (docs/lifecycle.md,
 * docs/archive.md): partitions ahead, retention of the security tables,
 * retention and archival of audit events by audit_retention_policy, and
 * expired or emptied partitions dropped. `auditdb serve` runs a round at
 * start and daily (adb_maintenance_start); `auditdb maintenance run` runs one
 * at a chosen clock. Rounds of several processes are serialized by an
 * advisory lock.
 */
#ifndef AUDITDB_MAINTENANCE_H
#define AUDITDB_MAINTENANCE_H

#include <stdbool.h>
#include <stdint.h>
#include "log.h"

typedef struct adb_maintenance_options {
    int64_t now_us;          /* the clock: microseconds since 1970 UTC; 0: now */
    int ahead;               /* months of partitions to keep ready after the current one */
    int archive_max_rows;    /* rows of one archive; 0: 100000 */
    bool wait;               /* wait (up to 60 s) for a round of another process; false: skip */
    /* called for each job that failed (it is in archive_dlq_event); may be NULL */
    void (*on_failure)(void *ud, const char *job, const char *reason);
    /* asked between jobs: true stops the round early (scheduler shutdown); may be NULL */
    bool (*should_stop)(void *ud);
    void *ud;
} adb_maintenance_options;

typedef struct adb_maintenance_report {
    bool skipped;                 /* another process held the lock (wait false) */
    int partitions_created;
    long long security_deleted;   /* rows of the security tables */
    long long events_archived;    /* live events moved into archives */
    int archives_created;
    long long events_expired;     /* live events past retention, deleted (stubs keep positions) */
    int stubs_created;
    int archives_expired;         /* archives past retention, replaced by stubs */
    long long archived_events_expired;
    int partitions_dropped;       /* expired or emptied monthly partitions */
    int failures;                 /* jobs that failed this round (dead-letter queue) */
    int deferred;                 /* failed jobs whose retry is not due yet */
    long long alerts_deleted;     /* resolved or dismissed more than 90 days ago (docs/alerts.md) */
    int archives_indexed;         /* older or rewritten archives given their subject index */
} adb_maintenance_report;

void adb_maintenance_options_default(adb_maintenance_options *o);

/* Runs one round. Jobs that fail are recorded and counted, not fatal;
 * a failure of the round itself (lock, listing, connection) is returned. */
ADB_WUR adb_status adb_maintenance_run(adb *db, const adb_maintenance_options *o,
                                       adb_maintenance_report *rep, char *errbuf, size_t errlen);

/* Only the partition step of a round: drops the monthly partitions whose
 * events have all passed their retention (their chain positions kept in
 * stubs) and the empty ones older than the shortest policy, under the same
 * lock. */
ADB_WUR adb_status adb_partitions_drop_expired(adb *db, const adb_maintenance_options *o,
                                               adb_maintenance_report *rep, char *errbuf,
                                               size_t errlen);

#endif
