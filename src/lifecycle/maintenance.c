/*
 * maintenance.c - the maintenance round (docs/lifecycle.md, docs/archive.md)
 * and the scheduler thread of `auditdb serve` that runs it daily.
 *
 * A round holds a session advisory lock, so that of several processes on
 * one database one works at a time: partitions ahead, retention of the
 * security tables, expired partitions dropped, live events past retention
 * turned into stubs, archives past retention turned into stubs, due events
 * archived, emptied partitions dropped. Each job is its own transaction; a
 * killed round leaves every finished job done and the others untouched.
 */
#include "lifecycle.h"
#include "../alert/alert.h"
#include "../core/util.h"
#include "../event/event.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAINT_LOCK_KEY "27413180558893159"

void adb_maintenance_options_default(adb_maintenance_options *o)
{
    memset(o, 0, sizeof(*o));
    o->ahead = 6;
    o->archive_max_rows = ADB__ARCHIVE_MAX_ROWS;
    o->wait = true;
}

/* ---- helpers of the steps ----------------------------------------------- */

bool adb__lc_stopping(const adb__lc *lc)
{
    return lc->o->should_stop && lc->o->should_stop(lc->o->ud);
}

bool adb__lc_exec(adb__lc *lc, const char *sql, char *err, size_t errlen)
{
    PGresult *r = PQexec(lc->c, sql);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;

    /* COMMIT of a transaction that failed answers ROLLBACK, not an error */
    if (ok && !strcmp(sql, "COMMIT") && strcmp(PQcmdStatus(r), "COMMIT") != 0) {
        adb__fmt(err, errlen, "the transaction was rolled back");
        ok = false;
    } else if (!ok) {
        adb__fmt(err, errlen, "%s failed: %s", sql, PQresultErrorMessage(r));
        adb__oneline(err);
    }
    PQclear(r);
    return ok;
}

void adb__lc_rollback(adb__lc *lc)
{
    if (PQtransactionStatus(lc->c) != PQTRANS_IDLE)
        PQclear(PQexec(lc->c, "ROLLBACK"));
}

adb_status adb__lc_run_job(adb__lc *lc, const char *job, const char *action, const char *org,
                           const char *details_json, adb__lc_job_fn fn, void *arg, char *err,
                           size_t errlen)
{
    char jerr[ADB_ERRMSG_MAX] = "";
    adb_status st;
    bool due = false;

    if ((st = adb__dlq_due(lc, job, &due, err, errlen)) != ADB_OK)
        return st;
    if (!due) {
        lc->rep->deferred++;
        return ADB_OK;
    }
    if (!adb__lc_exec(lc, "BEGIN", jerr, sizeof(jerr)))
        st = ADB_ERR_DB_QUERY;
    else if ((st = fn(lc, arg, jerr, sizeof(jerr))) == ADB_OK &&
             !adb__lc_exec(lc, "COMMIT", jerr, sizeof(jerr)))
        st = ADB_ERR_DB_QUERY;
    if (st == ADB_OK)
        return adb__dlq_cleared(lc, job, err, errlen);
    adb__lc_rollback(lc);
    if (PQstatus(lc->c) != CONNECTION_OK) { /* nowhere to record it: the round ends */
        adb__fmt(err, errlen, "%s", jerr);
        return st;
    }
    lc->rep->failures++;
    if (lc->o->on_failure)
        lc->o->on_failure(lc->o->ud, job, jerr);
    return adb__dlq_failed(lc, job, action, org, details_json, jerr, err, errlen);
}

/* ---- the round ---------------------------------------------------------- */

static adb_status round_steps(adb__lc *lc, bool partitions_only, char *err, size_t errlen)
{
    adb_status st;

    if (!partitions_only) {
        if ((st = adb__partitions_ensure_on(lc->c, lc->now_us, lc->o->ahead,
                                            &lc->rep->partitions_created, err, errlen)) != ADB_OK ||
            (st = adb__security_retention_on(lc->c, lc->now_us, &lc->rep->security_deleted, err,
                                             errlen)) != ADB_OK ||
            (st = adb__alert_cleanup(lc->c, lc->now_us, 0, &lc->rep->alerts_deleted, err,
                                     errlen)) != ADB_OK)
            return st;
    }
    /* wholly expired months go as partitions before expiry goes row by row */
    if ((st = adb__lc_drop_expired_partitions(lc, false, err, errlen)) != ADB_OK || partitions_only)
        return st;
    /* one scan finds the groups with events due for either; expiry goes
     * first, so archival finds only what expiry left */
    adb__lc_groups due = { 0 };
    if ((st = adb__lc_due_groups(lc, &due, err, errlen)) == ADB_OK &&
        (st = adb__lc_move_due(lc, &due, false, err, errlen)) == ADB_OK &&
        (st = adb__lc_expire_archives(lc, err, errlen)) == ADB_OK)
        st = adb__lc_move_due(lc, &due, true, err, errlen);
    adb__lc_groups_free(&due);
    if (st != ADB_OK)
        return st;
    /* and the months archival emptied (one that autovacuum is busy with is
     * left for the next round) */
    if ((st = adb__lc_drop_expired_partitions(lc, true, err, errlen)) != ADB_OK)
        return st;
    /* archives without a subject index (older, or rewritten): some each round */
    return adb__lc_index_archives(lc, ADB__ARCHIVE_INDEX_PER_ROUND, &lc->rep->archives_indexed,
                                  err, errlen);
}

/* Runs the round on c under the advisory lock (waited for, or tried). */
static adb_status locked_round(adb *db, PGconn *c, const adb_maintenance_options *o,
                               adb_maintenance_report *rep, bool partitions_only, char *err,
                               size_t errlen)
{
    adb__lc lc = { .db = db, .c = c, .o = o, .rep = rep };
    adb_status st;
    PGresult *r;

    lc.now_us = o->now_us ? o->now_us : adb__now_us();
    adb__timestamp_format(lc.now_us, lc.now);
    lc.max_rows = o->archive_max_rows > 0 ? o->archive_max_rows : ADB__ARCHIVE_MAX_ROWS;
    if (o->wait) {
        if (!adb__lc_exec(&lc, "SET lock_timeout = '60s'", err, errlen))
            return ADB_ERR_DB_QUERY;
        r = PQexec(c, "SELECT pg_advisory_lock(" MAINT_LOCK_KEY ")");
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            adb__fmt(err, errlen, "another process is running maintenance (waited 60 s for it): %s",
                     PQresultErrorMessage(r));
            adb__oneline(err);
            PQclear(r);
            PQclear(PQexec(c, "RESET lock_timeout"));
            return ADB_ERR_BUSY;
        }
    } else {
        r = PQexec(c, "SELECT pg_try_advisory_lock(" MAINT_LOCK_KEY ")");
        bool mine = PQresultStatus(r) == PGRES_TUPLES_OK && !strcmp(PQgetvalue(r, 0, 0), "t");
        if (!mine) {
            PQclear(r);
            rep->skipped = true;
            return ADB_OK;
        }
    }
    PQclear(r);
    /* a job waits at most this long for a lock a writer or reader holds;
     * no JIT: the round's statements are estimated costly enough to be
     * compiled (100-600 ms each) but run for less than that; an archive's
     * rows (deleted, then sorted into chain order) and a month's due events
     * are sorted in memory up to 64 MB rather than on disk past 4 MB (the
     * default); bench/README.md, "Archival" */
    if (!adb__lc_exec(&lc, "SET lock_timeout = '30s'", err, errlen) ||
        !adb__lc_exec(&lc, "SET jit = off", err, errlen) ||
        !adb__lc_exec(&lc, "SET work_mem = '64MB'", err, errlen))
        st = ADB_ERR_DB_QUERY;
    else {
        /* archive payloads are zstd already: PostgreSQL's attempt to
         * compress them again costs less with lz4 than with pglz (which
         * tries the whole value); a server built without lz4 refuses the
         * setting and keeps pglz */
        PQclear(PQexec(c, "SET default_toast_compression = 'lz4'"));
        st = round_steps(&lc, partitions_only, err, errlen);
    }
    adb__lc_rollback(&lc);
    PQclear(PQexec(c, "RESET lock_timeout"));
    PQclear(PQexec(c, "RESET jit"));
    PQclear(PQexec(c, "RESET work_mem"));
    PQclear(PQexec(c, "RESET default_toast_compression"));
    PQclear(PQexec(c, "SELECT pg_advisory_unlock(" MAINT_LOCK_KEY ")"));
    return st;
}

static adb_status run(adb *db, const adb_maintenance_options *o, adb_maintenance_report *rep,
                      bool partitions_only, char *errbuf, size_t errlen)
{
    adb_status st;
    PGconn *c;

    memset(rep, 0, sizeof(*rep));
    if (!(c = adb_pool_acquire(db->pool, &st, errbuf, errlen)))
        return st;
    st = locked_round(db, c, o, rep, partitions_only, errbuf, errlen);
    adb_pool_release(db->pool, c);
    return st;
}

adb_status adb_maintenance_run(adb *db, const adb_maintenance_options *o,
                               adb_maintenance_report *rep, char *errbuf, size_t errlen)
{
    return run(db, o, rep, false, errbuf, errlen);
}

adb_status adb_partitions_drop_expired(adb *db, const adb_maintenance_options *o,
                                       adb_maintenance_report *rep, char *errbuf, size_t errlen)
{
    return run(db, o, rep, true, errbuf, errlen);
}

/* ---- the scheduler ------------------------------------------------------ */

/* true once adb_close() asked the thread to stop (its pipe is readable). */
static bool stop_requested(void *ud)
{
    adb *db = ud;
    struct pollfd pfd = { db->maint_pipe[0], POLLIN, 0 };
    return poll(&pfd, 1, 0) != 0;
}

static void *maint_main(void *arg)
{
    adb *db = arg;
    char err[ADB_ERRMSG_MAX];

    for (;;) {
        adb_maintenance_options o;
        adb_maintenance_report rep;
        adb_maintenance_options_default(&o);
        o.ahead = db->maint_ahead;
        o.wait = false; /* another instance's round: skip this one */
        o.should_stop = stop_requested;
        o.ud = db;
        if (adb_maintenance_run(db, &o, &rep, err, sizeof(err)) == ADB_OK && !rep.skipped) {
            pthread_mutex_lock(&db->mu);
            db->maint_runs++;
            db->maint_created += rep.partitions_created;
            pthread_mutex_unlock(&db->mu);
        }
        struct pollfd pfd = { db->maint_pipe[0], POLLIN, 0 };
        if (poll(&pfd, 1, db->maint_interval_s * 1000) != 0)
            break;
    }
    return NULL;
}

adb_status adb_maintenance_start(adb *db, int interval_s, int ahead, char *errbuf, size_t errlen)
{
    if (db->maint_running)
        return ADB_OK;
    db->maint_interval_s = interval_s > 0 ? interval_s : 86400;
    db->maint_ahead = ahead >= 0 ? ahead : 6;
    if (pipe2(db->maint_pipe, O_CLOEXEC) == -1 ||
        pthread_create(&db->maint, NULL, maint_main, db) != 0) {
        adb__fmt(errbuf, errlen, "could not start the maintenance thread: %s", strerror(errno));
        return ADB_ERR_INTERNAL;
    }
    db->maint_running = true;
    return ADB_OK;
}
