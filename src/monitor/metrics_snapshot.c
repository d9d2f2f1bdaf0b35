/*
 * metrics_snapshot.c - the snapshot round (metrics_snapshot.h): figures of
 * the period since the last snapshot, process-wide, written in one
 * transaction; the retention applied in the same one.
 */
#include "metrics_snapshot.h"
#include "metrics_host.h"
#include "../core/ticker.h"
#include "../core/util.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* pg_advisory_xact_lock key of the round: one instance at a time */
#define SNAPSHOT_LOCK "27413180558893238"

struct adb__metrics_snapshots {
    adb *db;
    int retention_days;
    adb__ticker *ticker;
};

static bool run(PGconn *c, const char *sql, int n, const char *const *p, char *errbuf, size_t errlen)
{
    PGresult *r = PQexecParams(c, sql, n, NULL, p, NULL, NULL, 0);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok)
        adb__fmt(errbuf, errlen, "metrics snapshot failed: %s", adb__oneline(PQerrorMessage(c)));
    PQclear(r);
    return ok;
}

adb_status adb__metrics_snapshot_round(adb *db, int retention_days, char *errbuf, size_t errlen)
{
    adb_status st;
    adb_pool *pool = adb_get_pool(db);
    PGconn *c = adb_pool_acquire(pool, &st, errbuf, errlen);
    adb__host_sample hs;
    char sys[512], days[16];

    if (!c)
        return st;
    adb__host_sample_now(&hs);
    adb__fmt(sys, sizeof(sys),
             "{\"cpuPercentage\": %.3f, \"memoryPercentage\": %.3f, \"memoryUsed\": %llu,"
             " \"loadAverage\": %.3f, \"residentBytes\": %llu, \"cores\": %d}",
             hs.cpu_percentage, hs.mem.percentage, (unsigned long long)hs.mem.used, hs.load.one,
             (unsigned long long)hs.rss_bytes, hs.cores);
    adb__fmt(days, sizeof(days), "%d", retention_days);

    bool ok = run(c, "BEGIN", 0, NULL, errbuf, errlen) &&
              run(c, "SELECT pg_advisory_xact_lock(" SNAPSHOT_LOCK ")", 0, NULL, errbuf, errlen);
    /* the period: from the last snapshot (at most a day back) to now */
    PGresult *per = ok ? PQexec(c, "SELECT greatest(coalesce(max(taken_at), now() - interval '1 minute'),"
                                   " now() - interval '1 day'), now() FROM metrics_snapshots") : NULL;
    if (ok && (PQresultStatus(per) != PGRES_TUPLES_OK || PQntuples(per) != 1)) {
        adb__fmt(errbuf, errlen, "metrics snapshot failed: %s", adb__oneline(PQerrorMessage(c)));
        ok = false;
    }
    const char *p[] = { ok ? PQgetvalue(per, 0, 0) : NULL, ok ? PQgetvalue(per, 0, 1) : NULL, sys, days };
    ok = ok &&
         run(c,
             "INSERT INTO metrics_snapshots (period_start, taken_at, figures)"
             " SELECT $1::timestamptz, $2::timestamptz, $3::jsonb || jsonb_build_object("
             "   'requests', count(*), 'serverErrors', count(*) FILTER (WHERE l.status_code >= 500),"
             "   'connections', (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()))"
             " FROM api_access_log l WHERE l.created_at >= $1::timestamptz AND l.created_at < $2::timestamptz",
             3, p, errbuf, errlen) &&
         /* retention */
         run(c, "DELETE FROM metrics_snapshots WHERE taken_at < now() - make_interval(days => $1::int)", 1, p + 3,
             errbuf, errlen) &&
         run(c, "COMMIT", 0, NULL, errbuf, errlen);
    PQclear(per);
    if (!ok)
        PQclear(PQexec(c, "ROLLBACK"));
    adb_pool_release(pool, c);
    return ok ? ADB_OK : ADB_ERR_DB_QUERY;
}

static void tick(void *arg)
{
    adb__metrics_snapshots *s = arg;
    char err[512];

    /* a failed round is retried at the next tick; the period then covers both */
    (void)adb__metrics_snapshot_round(s->db, s->retention_days, err, sizeof(err));
}

adb__metrics_snapshots *adb__metrics_snapshots_start(adb *db, int interval_s, int retention_days)
{
    adb__metrics_snapshots *s;

    if (interval_s <= 0 || !(s = calloc(1, sizeof(*s))))
        return NULL;
    s->db = db;
    s->retention_days = retention_days;
    if (!(s->ticker = adb__ticker_start(interval_s, tick, s))) {
        free(s);
        return NULL;
    }
    return s;
}

void adb__metrics_snapshots_stop(adb__metrics_snapshots *s)
{
    if (!s)
        return;
    adb__ticker_stop(s->ticker);
    free(s);
}
