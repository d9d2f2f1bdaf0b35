/*
 * dlq.c - the dead-letter queue of archival jobs (archive_dlq_event): a
 * failed job is recorded with its reason and counts, retried once its
 * backoff has passed, and its fifth failure raises an alert. The rules live
 * in SQL (migrations/0009_archives.sql) so that they hold for any caller.
 */
#include "lifecycle.h"
#include "../core/util.h"

#include <string.h>

static adb_status query(adb__lc *lc, const char *sql, int n, const char *const *p, PGresult **out,
                        const char *what, char *err, size_t errlen)
{
    PGresult *r = PQexecParams(lc->c, sql, n, NULL, p, NULL, NULL, 0);

    if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK) {
        adb__fmt(err, errlen, "could not %s: %s", what, PQresultErrorMessage(r));
        adb__oneline(err);
        PQclear(r);
        return ADB_ERR_DB_QUERY;
    }
    if (out)
        *out = r;
    else
        PQclear(r);
    return ADB_OK;
}

adb_status adb__dlq_due(adb__lc *lc, const char *job, bool *due, char *err, size_t errlen)
{
    const char *p[] = { job, lc->now };
    PGresult *r = NULL;
    adb_status st = query(lc, "SELECT auditdb_archive_retry_due($1, $2::timestamptz)", 2, p, &r,
                          "read the dead-letter queue", err, errlen);

    if (st == ADB_OK)
        *due = !strcmp(PQgetvalue(r, 0, 0), "t");
    PQclear(r);
    return st;
}

adb_status adb__dlq_failed(adb__lc *lc, const char *job, const char *action, const char *org,
                           const char *details_json, const char *reason, char *err,
                           size_t errlen)
{
    const char *p[] = { job, action, reason, org, details_json ? details_json : "{}", lc->now };

    return query(lc, "SELECT auditdb_archive_failed($1, $2, $3, $4, $5::jsonb, $6::timestamptz)",
                 6, p, NULL, "record a failed job in the dead-letter queue", err, errlen);
}

adb_status adb__dlq_cleared(adb__lc *lc, const char *job, char *err, size_t errlen)
{
    const char *p[] = { job };

    return query(lc, "DELETE FROM archive_dlq_event WHERE original_job_id = $1", 1, p, NULL,
                 "clear a job from the dead-letter queue", err, errlen);
}
