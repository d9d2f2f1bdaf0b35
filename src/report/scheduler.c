/*
 * scheduler.c - the report scheduler thread every `auditdb serve` runs
 * (docs/reports.md, "Exactly once"). On the owner's connection (fixed
 * statements) one thread claims due schedules: the
 * schedule row locked FOR UPDATE SKIP LOCKED, one execution row per due
 * instant inserted (unique on schedule and instant), next_run advanced by
 * adb_report_next_run, all in one transaction; RUNNERS threads each start
 * one unfinished execution at a time (pending, or running with a lapsed
 * lease: its worker died) and run it. A NOTIFY on auditdb_reports (a new
 * schedule, an execute, a claim) wakes them; else they look every tick.
 */
#include "schedule.h"
#include "../core/clock.h"
#include "../db/notify.h"
#include "../core/util.h"
#include "../delivery/delivery.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* an instant due more than this long ago was missed (the scheduler was not
 * running): it is caught up or skipped, never run as if on time */
#define GRACE_MS 300000
/* missed instants looked at per claim: the catch-up maximum is 100 */
#define MISSED_MAX 101

/* executions run on threads of their own, so that a long report never holds
 * back the claim of another schedule's instant (which would then be missed) */
#define RUNNERS 2

typedef struct sthread {
    struct adb__scheduler *s;
    pthread_t tid;
    bool started;
    bool runner;           /* runs executions; else claims due schedules */
    char claimer[128];     /* host:pid/tN: the fence of its claims */
} sthread;

struct adb__scheduler {
    adb *h;
    char *conninfo;
    int tick_ms, lease_ms, timeout_ms;
    atomic_bool stopping;
    int stop_pipe[2];
    sthread th[1 + RUNNERS];
};

/* the real clock; in a test build moved by AUDITDB_REPORT_CLOCK_FILE (src/core/clock.h:
 * a test moves a stopped serve three days ahead) */
int64_t adb__report_now_ms(void)
{
    return adb__clock_ms("AUDITDB_REPORT_CLOCK_FILE");
}

/* ms since the epoch as a timestamptz parameter */
static void ts_param(int64_t ms, char out[40])
{
    adb__fmt(out, 40, "%lld.%03d", (long long)(ms / 1000), (int)(ms % 1000));
}

static PGresult *q(PGconn *c, const char *sql, int n, const char *const *p)
{
    return PQexecParams(c, sql, n, NULL, p, NULL, NULL, 0);
}

static bool cmd_ok(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    return ok;
}

static bool stopping_cb(void *ud)
{
    return atomic_load(&((struct adb__scheduler *)ud)->stopping);
}

/* Claims one execution nobody works: pending (never started) or running with
 * a lapsed lease (its scheduler died), oldest instant first, not while another
 * execution of the same schedule runs under a live lease. 1: claimed into id,
 * 0: none, -1: the database. */
static int claim_execution(struct adb__scheduler *s, const char *claimer, PGconn *c, char id[256])
{
    char now[40], until[40];
    int64_t t = adb__report_now_ms();

    ts_param(t, now);
    ts_param(t + s->lease_ms, until);
    const char *p[] = { claimer, now, until };
    PGresult *r = q(c,
                    "UPDATE report_executions e SET status = 'running', claimed_by = $1,"
                    " lease_until = to_timestamp($3::double precision), attempts = e.attempts + 1,"
                    " started_at = coalesce(e.started_at, now()), execution_time = now()"
                    " WHERE e.id = (SELECT x.id FROM report_executions x"
                    "  WHERE x.status IN ('pending', 'running')"
                    "  AND (x.lease_until IS NULL OR x.lease_until < to_timestamp($2::double precision))"
                    "  AND NOT EXISTS (SELECT 1 FROM report_executions y"
                    "   WHERE y.scheduled_report_id = x.scheduled_report_id AND y.id <> x.id"
                    "   AND y.status = 'running' AND y.lease_until >= to_timestamp($2::double precision))"
                    "  ORDER BY x.scheduled_time LIMIT 1 FOR UPDATE SKIP LOCKED)"
                    " RETURNING e.id",
                    3, p);
    int rc = PQresultStatus(r) != PGRES_TUPLES_OK ? -1 : PQntuples(r) == 1 ? 1 : 0;
    if (rc == 1)
        adb__fmt(id, 256, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return rc;
}

/* Claims one due schedule and writes its executions and next run in one
 * transaction. 1: claimed, 0: none due, -1: the database. */
static int claim_schedule(PGconn *c)
{
    char now[40];
    int64_t t = adb__report_now_ms();
    int rc = -1;
    PGresult *r = NULL, *due = NULL;

    ts_param(t, now);
    if (!cmd_ok(c, "BEGIN"))
        return -1;
    const char *p1[] = { now };
    r = q(c,
          "SELECT id, organization_id, schedule, next_run,"
          " (EXTRACT(EPOCH FROM next_run) * 1000)::bigint,"
          " EXISTS (SELECT 1 FROM report_executions e WHERE e.scheduled_report_id = s.id"
          "  AND e.status IN ('pending', 'running')),"
          " coalesce(s.metadata->>'overlapPolicy', 'skip'),"
          " (SELECT count(*) FROM report_executions e WHERE e.scheduled_report_id = s.id"
          "  AND e.status = 'pending')"
          " FROM scheduled_reports s WHERE enabled = 'true' AND is_deleted = 'false'"
          " AND next_run <= to_timestamp($1::double precision)"
          " ORDER BY next_run LIMIT 1 FOR UPDATE SKIP LOCKED",
          1, p1);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        goto out;
    if (PQntuples(r) == 0) {
        rc = 0;
        goto out;
    }
    const char *sid = PQgetvalue(r, 0, 0), *org = PQgetvalue(r, 0, 1), *sched = PQgetvalue(r, 0, 2);
    char sid_copy[256];
    adb__fmt(sid_copy, sizeof(sid_copy), "%s", sid);
    bool busy = PQgetvalue(r, 0, 5)[0] == 't';
    /* the overlap policy (metadata.overlapPolicy, checked by the API): skip, queue, replace */
    char policy[16];
    adb__fmt(policy, sizeof(policy), "%s", PQgetvalue(r, 0, 6));
    bool waiting = strtoll(PQgetvalue(r, 0, 7), NULL, 10) > 0;
    json_t *sj = json_loads(sched, 0, NULL);
    bool catch_up = json_is_true(json_object_get(sj, "catchUpMissedRuns"));
    long long max_missed = json_integer_value(json_object_get(sj, "maxMissedRuns"));
    bool once = !strcmp(json_string_value(json_object_get(sj, "frequency")) ? json_string_value(json_object_get(sj, "frequency")) : "", "once");
    json_decref(sj);
    /* the instants due: from next_run (included) to now, the newest MISSED_MAX */
    char cap[16];
    adb__fmt(cap, sizeof(cap), "%d", MISSED_MAX);
    const char *p2[] = { sched, PQgetvalue(r, 0, 3), now, cap };
    due = q(c,
            "SELECT t, (EXTRACT(EPOCH FROM t) * 1000)::bigint FROM adb_report_due_instants($1::jsonb,"
            " $2::timestamptz - interval '1 microsecond', to_timestamp($3::double precision), $4::int) t",
            4, p2);
    if (PQresultStatus(due) != PGRES_TUPLES_OK) {
        /* a schedule PostgreSQL cannot compute (edited by hand: an unknown
         * zone, a malformed member) would be picked first at every tick and
         * hold every other schedule back: it is parked (next_run NULL, the
         * reason in metadata) until an update gives it a schedule again */
        const char *state = PQresultErrorField(due, PG_DIAG_SQLSTATE);
        if (state && (!strncmp(state, "22", 2) || !strcmp(state, "P0001"))) {
            char why[300];
            adb__fmt(why, sizeof(why), "%s", PQresultErrorField(due, PG_DIAG_MESSAGE_PRIMARY)
                                                 ? PQresultErrorField(due, PG_DIAG_MESSAGE_PRIMARY) : "");
            adb__oneline(why);
            PQclear(PQexec(c, "ROLLBACK"));
            const char *pp[] = { sid_copy, why };
            PQclear(q(c,
                      "UPDATE scheduled_reports SET next_run = NULL, metadata = coalesce(metadata, '{}')"
                      " || jsonb_build_object('schedulerError', $2::text) WHERE id = $1",
                      2, pp));
            rc = -2;
        }
        goto out;
    }
    int n = PQntuples(due);
    /* newest first: the newest is on time when within the grace, the rest missed */
    int missed_rank = 0;
    for (int i = n - 1; i >= 0; i--) {
        long long at = atoll(PQgetvalue(due, i, 1));
        const char *trigger = "scheduled", *status = "pending", *code = NULL, *msg = NULL;
        if (i == n - 1 && t - at <= GRACE_MS) {
            if (busy && !strcmp(policy, "replace")) {
                /* the running execution is asked to stop at its next step and a
                 * waiting one is superseded: this instant runs once they end */
                const char *pr[] = { sid };
                PGresult *sup = q(c,
                                  "UPDATE report_executions SET cancel_requested = true,"
                                  " status = CASE WHEN status = 'pending' THEN 'cancelled' ELSE status END,"
                                  " finished_at = CASE WHEN status = 'pending' THEN now() END,"
                                  " error_code = CASE WHEN status = 'pending' THEN 'SUPERSEDED' END,"
                                  " error = CASE WHEN status = 'pending' THEN '{\"code\":\"SUPERSEDED\","
                                  "\"message\":\"replaced by a newer instant (overlapPolicy replace)\"}' END"
                                  " WHERE scheduled_report_id = $1 AND status IN ('pending', 'running')",
                                  1, pr);
                bool sok = PQresultStatus(sup) == PGRES_COMMAND_OK;
                PQclear(sup);
                if (!sok)
                    goto out;
            } else if (busy && !strcmp(policy, "queue") && !waiting) {
                /* pending: claim_execution runs it once the running one ends */
            } else if (busy) {
                status = "skipped";
                code = "OVERLAP";
                msg = !strcmp(policy, "queue")
                          ? "an execution of this schedule was already waiting (overlapPolicy queue holds one)"
                          : "the previous execution of this schedule was still running";
            }
        } else {
            missed_rank++;
            if (catch_up && missed_rank <= max_missed) {
                trigger = "catchup";
            } else {
                status = "skipped";
                code = "MISSED";
                msg = catch_up ? "missed while no scheduler ran, beyond the catch-up maximum"
                               : "missed while no scheduler ran (catch-up is off)";
            }
            /* catch-ups after an overlap wait for it: claim_execution runs one at a time */
        }
        char eid[64];
        adb__queue_new_id("execution-", eid, sizeof(eid));
        json_t *err = code ? json_pack("{s:s,s:s}", "code", code, "message", msg) : NULL;
        char *errs = err ? json_dumps(err, JSON_COMPACT) : NULL;
        json_decref(err);
        const char *p3[] = { eid, sid, org, PQgetvalue(due, i, 0), status, trigger, code, errs };
        PGresult *ins = q(c,
                          "INSERT INTO report_executions (id, scheduled_report_id, organization_id,"
                          " run_id, scheduled_time, execution_time, status, trigger, error_code, error,"
                          " finished_at, report_config_id)"
                          " VALUES ($1::text, $2::text, $3::text, $1::text, $4::timestamptz, now(), $5::text,"
                          " $6::text, $7::text, $8::text, CASE WHEN $5::text = 'skipped' THEN now() END,"
                          " $2::text)"
                          " ON CONFLICT (scheduled_report_id, scheduled_time) DO NOTHING",
                          8, p3);
        free(errs);
        bool ok = PQresultStatus(ins) == PGRES_COMMAND_OK;
        PQclear(ins);
        if (!ok)
            goto out;
    }
    const char *p4[] = { sid, now, once ? "t" : "f", n > 0 ? PQgetvalue(due, n - 1, 0) : NULL };
    PGresult *u = q(c,
                    "UPDATE scheduled_reports SET"
                    " next_run = CASE WHEN $3 THEN NULL"
                    "  ELSE adb_report_next_run(schedule, to_timestamp($2::double precision)) END,"
                    " last_run = coalesce($4::timestamptz, last_run), updated_at = updated_at"
                    " WHERE id = $1",
                    4, p4);
    bool ok = PQresultStatus(u) == PGRES_COMMAND_OK;
    PQclear(u);
    if (!ok)
        goto out;
    /* the runners (of every serve) wake at the commit */
    rc = cmd_ok(c, "NOTIFY " ADB_REPORTS_NOTIFY) && cmd_ok(c, "COMMIT") ? 1 : -1;
out:
    PQclear(r);
    PQclear(due);
    if (rc == -1 || rc == 0)
        PQclear(PQexec(c, rc == 0 ? "COMMIT" : "ROLLBACK"));
    return rc == -2 ? 1 : rc;
}

static PGconn *connect_listen(struct adb__scheduler *s)
{
    PGconn *c = PQconnectdb(s->conninfo);
    if (PQstatus(c) != CONNECTION_OK) {
        PQfinish(c);
        return NULL;
    }
    if (!cmd_ok(c, "SET application_name = 'auditdb report scheduler'; LISTEN " ADB_REPORTS_NOTIFY)) {
        PQfinish(c);
        return NULL;
    }
    return c;
}

static void *thread_main(void *arg)
{
    sthread *t = arg;
    struct adb__scheduler *s = t->s;
    PGconn *c = NULL;
    long backoff = 200;

    while (!atomic_load(&s->stopping)) {
        if (!c || PQstatus(c) != CONNECTION_OK) {
            PQfinish(c);
            if (!(c = connect_listen(s))) {
                struct pollfd pf = { .fd = s->stop_pipe[0], .events = POLLIN };
                poll(&pf, 1, (int)backoff);
                backoff = backoff < 5000 ? backoff * 2 : 5000;
                continue;
            }
            backoff = 200;
        }
        int got;
        if (t->runner) {
            char id[256];
            if ((got = claim_execution(s, t->claimer, c, id)) == 1) {
                (void)adb__execution_run(s->h, c, id, t->claimer, s->lease_ms, s->timeout_ms, stopping_cb, s);
                continue;
            }
        } else if ((got = claim_schedule(c)) == 1) {
            continue;
        }
        adb__pg_wait_notify(c, s->stop_pipe[0], got < 0 ? 500 : s->tick_ms);
    }
    PQfinish(c);
    return NULL;
}

adb__scheduler *adb__scheduler_start(adb *h, const char *owner_conninfo, int tick_ms, int lease_ms,
                                     int timeout_ms, char *err, size_t errlen)
{
    struct adb__scheduler *s = calloc(1, sizeof(*s));
    char host[64] = "";

    if (!s || !(s->conninfo = strdup(owner_conninfo))) {
        adb__fmt(err, errlen, "out of memory");
        if (s)
            free(s);
        return NULL;
    }
    s->h = h;
    s->tick_ms = tick_ms > 0 ? tick_ms : 1000;
    s->lease_ms = lease_ms > 0 ? lease_ms : 60000;
    s->timeout_ms = timeout_ms;
    gethostname(host, sizeof(host) - 1);
    s->stop_pipe[0] = s->stop_pipe[1] = -1;
    if (pipe2(s->stop_pipe, O_CLOEXEC) != 0) {
        adb__fmt(err, errlen, "could not start the report scheduler: %s", strerror(errno));
        adb__scheduler_stop(s);
        return NULL;
    }
    for (int i = 0; i < 1 + RUNNERS; i++) {
        sthread *t = &s->th[i];
        t->s = s;
        t->runner = i > 0;
        adb__fmt(t->claimer, sizeof(t->claimer), "%s:%d/t%d", host, (int)getpid(), i);
        if (pthread_create(&t->tid, NULL, thread_main, t) != 0) {
            adb__fmt(err, errlen, "could not start the report scheduler's thread %d", i);
            adb__scheduler_stop(s);
            return NULL;
        }
        t->started = true;
    }
    return s;
}

void adb__scheduler_stop(adb__scheduler *s)
{
    if (!s)
        return;
    atomic_store(&s->stopping, true);
    if (s->stop_pipe[1] >= 0 && write(s->stop_pipe[1], "x", 1) < 0) {
        /* the thread sees stopping at its next wake-up */
    }
    for (int i = 0; i < 1 + RUNNERS; i++)
        if (s->th[i].started)
            pthread_join(s->th[i].tid, NULL);
    if (s->stop_pipe[0] >= 0)
        close(s->stop_pipe[0]);
    if (s->stop_pipe[1] >= 0)
        close(s->stop_pipe[1]);
    free(s->conninfo);
    free(s);
}

adb_status adb__scheduler_run_one(adb *h, PGconn *c, const char *eid, int lease_ms)
{
    char claimer[128], host[64] = "", until[40];
    int64_t t = adb__report_now_ms() + (lease_ms > 0 ? lease_ms : 60000);

    gethostname(host, sizeof(host) - 1);
    adb__fmt(claimer, sizeof(claimer), "%s:%d/cli", host, (int)getpid());
    ts_param(t, until);
    const char *p[] = { eid, claimer, until };
    PGresult *r = q(c,
                    "UPDATE report_executions SET status = 'running', claimed_by = $2,"
                    " lease_until = to_timestamp($3::double precision), attempts = attempts + 1,"
                    " started_at = coalesce(started_at, now()), execution_time = now()"
                    " WHERE id = $1 AND status = 'pending' RETURNING id",
                    3, p);
    bool mine = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    adb_status st = PQresultStatus(r) == PGRES_TUPLES_OK ? ADB_OK : ADB_ERR_DB_QUERY;
    PQclear(r);
    if (!mine)
        return st == ADB_OK ? ADB_ERR_BUSY : st;
    return adb__execution_run(h, c, eid, claimer, lease_ms > 0 ? lease_ms : 60000, 0, NULL, NULL);
}
