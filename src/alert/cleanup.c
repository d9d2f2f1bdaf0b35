/*
 * cleanup.c - alerts closed long ago removed (docs/alerts.md "Alerts"): the
 * seed's cleanupResolvedAlerts, in the maintenance round. Only resolved and
 * dismissed alerts whose closing instant is more than the retention (90 days)
 * before now go; open ones stay whatever their age. The audit events of their
 * changes stay in the trail.
 */
#include "alert.h"

#include "../core/util.h"
#include "../event/event.h"

#include <stdlib.h>
#include <string.h>

#define BATCH 5000

adb_status adb__alert_cleanup(PGconn *c, int64_t now_us, int days, long long *deleted, char *err,
                              size_t errlen)
{
    char now[ADB_TS_TEXT_MAX], d[16], lim[16];

    *deleted = 0;
    adb__timestamp_format(now_us, now);
    adb__fmt(d, sizeof(d), "%d", days > 0 ? days : ADB_ALERT_RETENTION_DAYS);
    adb__fmt(lim, sizeof(lim), "%d", BATCH);
    const char *p[] = { now, d, lim };
    for (;;) {
        PGresult *r = PQexecParams(c,
                                   "DELETE FROM alerts WHERE id IN (SELECT id FROM alerts"
                                   " WHERE status IN ('resolved', 'dismissed')"
                                   " AND coalesce(resolved_at, dismissed_at) < $1::timestamptz"
                                   "     - $2::int * interval '1 day' LIMIT $3::int)",
                                   3, NULL, p, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            adb__fmt(err, errlen, "could not remove old alerts: %s", PQresultErrorMessage(r));
            adb__oneline(err);
            PQclear(r);
            return ADB_ERR_DB_QUERY;
        }
        long long n = strtoll(PQcmdTuples(r), NULL, 10);
        PQclear(r);
        *deleted += n;
        if (n < BATCH)
            return ADB_OK;
    }
}
