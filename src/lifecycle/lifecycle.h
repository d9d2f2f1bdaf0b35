/*
 * lifecycle.h - the steps of a maintenance round (internal), shared by
 * archive.c, retention.c, dlq.c, partitions.c and maintenance.c.
 *
 * A round works on one connection holding the maintenance advisory lock.
 * Each job (a group of events, an archive, a partition) is one transaction:
 * a job that fails is rolled back, recorded in the dead-letter queue and
 * the round goes on; an error of the round itself is returned.
 */
#ifndef ADB_LIFECYCLE_H
#define ADB_LIFECYCLE_H

#include "archive.h"
#include "../core/adb_internal.h"

typedef struct adb__lc {
    adb *db;
    PGconn *c;
    int64_t now_us;
    char now[40];                 /* now_us as timestamp text */
    int max_rows;
    const adb_maintenance_options *o;
    adb_maintenance_report *rep;
} adb__lc;

/* true when the round should stop between jobs. */
bool adb__lc_stopping(const adb__lc *lc);

/* Runs sql (no result wanted) on lc->c; false with err filled. */
bool adb__lc_exec(adb__lc *lc, const char *sql, char *err, size_t errlen);

/* Rolls back an open transaction of lc->c (if any). */
void adb__lc_rollback(adb__lc *lc);

/* Streams the rows of sql (ADB__ROW_COLUMNS, ordered by organization,
 * retention policy, classification and chain position) into archives
 * (stubs when stub), at most lc->max_rows rows each, and stores them, in
 * the caller's transaction. Adds to *rows and *archives. */
ADB_WUR adb_status adb__lc_rows_into_archives(adb__lc *lc, const char *sql, int nparams,
                                              const char *const *params, bool stub, long long *rows,
                                              int *archives, char *err, size_t errlen);

/* archive.c: the groups (organization, month, retention policy,
 * classification) holding live events past their policy's retention_days
 * or archive_after_days, found in one scan; free with adb__lc_groups_free. */
typedef struct adb__lc_groups {
    PGresult *r;
} adb__lc_groups;
ADB_WUR adb_status adb__lc_due_groups(adb__lc *lc, adb__lc_groups *out, char *err, size_t errlen);
void adb__lc_groups_free(adb__lc_groups *g);

/* archive.c: the live events of those groups whose archive_after_days
 * (archive) or retention_days (!archive: stubs) has passed, month by
 * month, in chunks of at most lc->max_rows events, one transaction each. */
ADB_WUR adb_status adb__lc_move_due(adb__lc *lc, const adb__lc_groups *due, bool archive,
                                    char *err, size_t errlen);

/* archive_subjects.c: indexes the subjects of at most max archives that are
 * not indexed (written before migration 0043, or rewritten since), each in
 * its own transaction; an archive that cannot be read is left unindexed.
 * Adds to *indexed. Nothing without a subject key. */
ADB_WUR adb_status adb__lc_index_archives(adb__lc *lc, int max, int *indexed, char *err,
                                         size_t errlen);

/* retention.c */
ADB_WUR adb_status adb__lc_expire_archives(adb__lc *lc, char *err, size_t errlen);
/* skip_locked: a partition another transaction holds a conflicting lock on
 * is left for the next round (instead of waiting up to 5 s). */
ADB_WUR adb_status adb__lc_drop_expired_partitions(adb__lc *lc, bool skip_locked, char *err,
                                                   size_t errlen);

/* dlq.c: a job named job (action:...) may run now (no failure, or its
 * backoff passed); records a failure (and the alert at the fifth); clears
 * the job after a success. */
ADB_WUR adb_status adb__dlq_due(adb__lc *lc, const char *job, bool *due, char *err, size_t errlen);
ADB_WUR adb_status adb__dlq_failed(adb__lc *lc, const char *job, const char *action,
                                   const char *org, const char *details_json,
                                   const char *reason, char *err, size_t errlen);
ADB_WUR adb_status adb__dlq_cleared(adb__lc *lc, const char *job, char *err, size_t errlen);

/* Runs one job: job_fn in a transaction; on failure rolls back, records it
 * in the dead-letter queue and reports it. Returns the round's status (a
 * failed job is ADB_OK). Skipped while the job's backoff runs. */
typedef adb_status (*adb__lc_job_fn)(adb__lc *lc, void *arg, char *err, size_t errlen);
ADB_WUR adb_status adb__lc_run_job(adb__lc *lc, const char *job, const char *action,
                                   const char *org, const char *details_json,
                                   adb__lc_job_fn fn, void *arg, char *err, size_t errlen);

/* partitions.c */
ADB_WUR adb_status adb__partitions_ensure_on(PGconn *c, int64_t now_us, int ahead, int *created,
                                             char *errbuf, size_t errlen);
ADB_WUR adb_status adb__security_retention_on(PGconn *c, int64_t now_us, long long *deleted,
                                              char *errbuf, size_t errlen);

#endif
