/*
 * partitions.h - the monthly partitions of audit_log (audit_log_YYYY_MM).
 *
 * The current month and the next ones (6 by default) always exist: the
 * maintenance scheduler of `auditdb serve` makes them on start and daily,
 * one instance at a time (advisory lock). An event for a month without a
 * partition still gets one on demand from the writer, within the accepted
 * time window.
 */
#ifndef AUDITDB_PARTITIONS_H
#define AUDITDB_PARTITIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "log.h"

typedef struct adb_partition_info {
    char name[64];         /* audit_log_2026_11 */
    char range_from[40];   /* 2026-11-01T00:00:00Z */
    char range_to[40];
    long long rows;        /* exact count */
    long long bytes;       /* table, indexes and TOAST */
} adb_partition_info;

/* Makes the partitions of the month holding now_us and the `ahead` months
 * after it (those missing). *created counts the new ones. */
ADB_WUR adb_status adb_partitions_ensure(adb *db, int64_t now_us, int ahead, int *created,
                                         char *errbuf, size_t errlen);

/* Makes the partition of one month ("YYYY-MM"). */
ADB_WUR adb_status adb_partitions_create_month(adb *db, const char *month, char name[64],
                                               char *errbuf, size_t errlen);

/* Every partition, oldest first; *out malloc()ed, caller frees. */
ADB_WUR adb_status adb_partitions_list(adb *db, adb_partition_info **out, size_t *n,
                                       char *errbuf, size_t errlen);

/* Refreshes the planner's statistics of every partition. */
ADB_WUR adb_status adb_partitions_analyze(adb *db, int *analyzed, char *errbuf, size_t errlen);

/* Deletes rows of the security tables (api_access_log, auth_audit_log,
 * rate_limit_violations, security_events, user_sessions, compliance_reports,
 * error_log) older than their data_retention_policies row allows, as of
 * now_us. *deleted gets the total. */
ADB_WUR adb_status adb_security_retention(adb *db, int64_t now_us, long long *deleted,
                                          char *errbuf, size_t errlen);

/* The maintenance scheduler: a thread that runs a maintenance round
 * (maintenance.h: partitions, retention of the security tables, retention
 * and archival of audit events) at once and then every interval_s seconds,
 * with `ahead` months of partitions, under an advisory lock so that one of
 * several instances does it. Stopped by adb_close(), between jobs. */
ADB_WUR adb_status adb_maintenance_start(adb *db, int interval_s, int ahead, char *errbuf,
                                         size_t errlen);

#endif
