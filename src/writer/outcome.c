/*
 * outcome.c - the outcome of a COMMIT whose answer was lost (outcome.h).
 *
 * 1. The old backend must be gone: a backend that was merely cut off (the
 *    pool's watchdog abandons connections to a frozen server), or is still
 *    working, may commit after we looked. pg_terminate_backend(pid, timeout)
 *    ends it and waits for it to exit; after a server restart it is gone.
 * 2. Then the batch committed exactly when one of its rows is in audit_log
 *    with its id, timestamp and chain hash: a batch's rows commit together,
 *    and the chain hash (keyed, over the content and the position) is this
 *    event's alone.
 *
 * txid_status() of the batch's transaction was not used: after a crash
 * restart, transaction ids that left no WAL behind are handed out again, so
 * the status of "our" id could be another transaction's. Rows cannot be
 * mistaken for another batch's.
 */
#include "outcome.h"
#include "heads.h"
#include "../core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RETRY_MS 200
#define TERMINATE_WAIT_MS "1000"

static void pause_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* One attempt on a fresh pooled connection. */
static adb__outcome ask(PGconn *c, int old_pid, const adb__event *ev, char *err, size_t errlen)
{
    char pid[16], id[24];
    PGresult *r;
    adb__outcome out = ADB_OUTCOME_UNKNOWN;

    adb__fmt(pid, sizeof(pid), "%d", old_pid);
    const char *p1[] = { pid };
    /* false: still there after the wait (NULL row: already gone) */
    r = PQexecParams(c, "SELECT coalesce(bool_and(pg_terminate_backend(pid, " TERMINATE_WAIT_MS ")), true)"
                        " FROM pg_stat_activity WHERE pid = $1::int AND pid <> pg_backend_pid()",
                     1, NULL, p1, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || strcmp(PQgetvalue(r, 0, 0), "t") != 0) {
        adb__fmt(err, errlen, "the backend of the broken connection could not be ended: %s",
                 PQresultStatus(r) == PGRES_TUPLES_OK ? "it is still running" : PQerrorMessage(c));
        adb__oneline(err);
        PQclear(r);
        return ADB_OUTCOME_UNKNOWN;
    }
    PQclear(r);
    if (!ev)
        return ADB_OUTCOME_COMMITTED;
    adb__fmt(id, sizeof(id), "%lld", (long long)ev->id);
    const char *p2[] = { id, ev->ts_text, ev->chain_hash };
    r = PQexecParams(c, "SELECT count(*) FROM audit_log"
                        " WHERE id = $1::bigint AND \"timestamp\" = $2::timestamptz AND chain_hash = $3",
                     3, NULL, p2, NULL, NULL, 0);
    if (PQresultStatus(r) == PGRES_TUPLES_OK)
        out = strcmp(PQgetvalue(r, 0, 0), "0") != 0 ? ADB_OUTCOME_COMMITTED : ADB_OUTCOME_ABORTED;
    else {
        adb__fmt(err, errlen, "could not look the batch up: %s", PQerrorMessage(c));
        adb__oneline(err);
    }
    PQclear(r);
    return out;
}

adb__outcome adb__commit_outcome(adb_pool *pool, int old_pid, const adb__event *ev, int budget_ms,
                                 char *err, size_t errlen)
{
    double deadline = adb__now_ms() + budget_ms;
    adb__outcome out = ADB_OUTCOME_UNKNOWN;

    adb__fmt(err, errlen, "the database could not be reached");
    while (out == ADB_OUTCOME_UNKNOWN && adb__now_ms() < deadline) {
        adb_status st;
        PGconn *c = adb_pool_acquire(pool, &st, err, errlen);
        if (c) {
            out = ask(c, old_pid, ev, err, errlen);
            /* what is seen committed is flushed to this server's disk
             * before it is called stored (a COMMIT cut off in its standby
             * wait had flushed it; docs/writer.md, "Durability") */
            if (out == ADB_OUTCOME_COMMITTED && ev && !adb__writer_durable(pool, c, true, err, errlen))
                out = ADB_OUTCOME_UNKNOWN;
            adb_pool_release(pool, c);
        }
        if (out == ADB_OUTCOME_UNKNOWN && adb__now_ms() + RETRY_MS < deadline)
            pause_ms(RETRY_MS);
        else if (out == ADB_OUTCOME_UNKNOWN)
            break;
    }
    return out;
}
