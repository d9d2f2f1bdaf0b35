/*
 * test_pool.c - the connection pool: bounds, waiting, unreachable servers,
 * reconnecting after the server restarts, and calls on a frozen server cut
 * off by the watchdog (on private embedded clusters).
 */
#include "t.h"
#include "auditdb.h"
#include "core/util.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

static void acquire_release_and_bound(void)
{
    adb_pool *p = NULL;
    adb_pool_options o;
    char err[ADB_ERRMSG_MAX];
    adb_status st;
    adb_pool_stats s;

    adb_pool_options_default(&o);
    o.min = 1;
    o.max = 2;
    o.acquire_timeout_ms = 200;
    REQUIRE(adb_pool_open(t_admin_conninfo(), &o, &p, err, sizeof(err)) == ADB_OK);
    adb_pool_get_stats(p, &s);
    CHECK(s.open == 1 && s.idle == 1 && s.max == 2);
    PGconn *a = adb_pool_acquire(p, &st, err, sizeof(err));
    PGconn *b = adb_pool_acquire(p, &st, err, sizeof(err));
    CHECK(a && b && a != b);
    double t0 = adb__now_ms();
    PGconn *c = adb_pool_acquire(p, &st, err, sizeof(err));
    double waited = adb__now_ms() - t0;
    CHECK(c == NULL && st == ADB_ERR_BUSY);
    CHECK_MSG(waited >= 150 && waited < 5000, "waited %.0f ms", waited);
    CHECK(strstr(err, "AUDIT_DB_POOL_MAX is 2") != NULL);
    adb_pool_release(p, a);
    c = adb_pool_acquire(p, &st, err, sizeof(err));
    CHECK(c == a);
    /* a connection left inside a transaction is not reused */
    PQclear(PQexec(c, "BEGIN"));
    adb_pool_release(p, c);
    adb_pool_release(p, b);
    adb_pool_get_stats(p, &s);
    CHECK(s.open == 1 && s.timeouts == 1 && s.reconnects == 1);
    adb_pool_close(p);
}

typedef struct waiter {
    adb_pool *p;
    PGconn *got;
} waiter;

static void *wait_for_conn(void *arg)
{
    waiter *w = arg;
    adb_status st;
    w->got = adb_pool_acquire(w->p, &st, NULL, 0);
    return NULL;
}

static void waiter_gets_released_connection(void)
{
    adb_pool *p = NULL;
    adb_pool_options o;
    char err[ADB_ERRMSG_MAX];
    adb_status st;
    pthread_t th;

    adb_pool_options_default(&o);
    o.min = 1;
    o.max = 1;
    o.acquire_timeout_ms = 5000;
    REQUIRE(adb_pool_open(t_admin_conninfo(), &o, &p, err, sizeof(err)) == ADB_OK);
    PGconn *a = adb_pool_acquire(p, &st, err, sizeof(err));
    REQUIRE(a);
    waiter w = { p, NULL };
    pthread_create(&th, NULL, wait_for_conn, &w);
    adb__sleep_ms(100);
    adb_pool_release(p, a);
    pthread_join(th, NULL);
    CHECK(w.got == a);
    adb_pool_release(p, w.got);
    adb_pool_close(p);
}

static void unreachable_fails_fast_and_clearly(void)
{
    adb_pool *p = NULL;
    adb_pool_options o;
    char err[ADB_ERRMSG_MAX];

    adb_pool_options_default(&o);
    o.connect_timeout_s = 2;
    double t0 = adb__now_ms();
    CHECK(adb_pool_open("host=/nonexistent/socketdir port=5432 dbname=x", &o, &p, err,
                        sizeof(err)) == ADB_ERR_DB_CONNECT);
    CHECK(p == NULL);
    CHECK_MSG(strstr(err, "could not connect to the database") != NULL, "%s", err);
    CHECK(strstr(err, "/nonexistent/socketdir") != NULL);
    /* a TCP port nobody listens on */
    CHECK(adb_pool_open("postgresql://127.0.0.1:1/x", &o, &p, err, sizeof(err)) == ADB_ERR_DB_CONNECT);
    CHECK(adb__now_ms() - t0 < 5000);
}

/* A private cluster in a new folder from the template home ("...XXXXXX"),
 * owned and started; NULL (the failure reported) when it cannot start. */
static adb_embedded *own_cluster(char *home)
{
    adb_embedded *e;

    if (!mkdtemp(home) || chmod(home, 0755) != 0) {
        CHECK_MSG(false, "could not make %s", home);
        return NULL;
    }
    e = adb_embedded_new(home, getenv("AUDITDB_PG_BINDIR"), NULL);
    CHECK(e != NULL);
    if (!e)
        return NULL;
    CHECK_MSG(adb_embedded_acquire(e, ADB_EMBEDDED_OWNER) == ADB_OK, "%s", adb_embedded_errmsg(e));
    if (adb_embedded_start(e) != ADB_OK) {
        CHECK_MSG(false, "%s", adb_embedded_errmsg(e));
        adb_embedded_free(e);
        return NULL;
    }
    return e;
}

static void reconnects_after_server_restart(void)
{
    char home[] = "/tmp/adb-pool-XXXXXX";
    adb_embedded *e;
    adb_pool *p = NULL;
    adb_pool_options o;
    char err[ADB_ERRMSG_MAX];
    double ms;

    if (!(e = own_cluster(home)))
        return;
    adb_pool_options_default(&o);
    o.min = 2;
    o.health_idle_ms = 0; /* check every idle connection before lending it */
    CHECK(adb_pool_open(adb_embedded_conninfo(e), &o, &p, err, sizeof(err)) == ADB_OK);
    if (p) {
        CHECK(adb_pool_ping(p, &ms, err, sizeof(err)) == ADB_OK);
        CHECK(adb_embedded_stop(e) == ADB_OK);
        CHECK(adb_pool_ping(p, &ms, err, sizeof(err)) == ADB_ERR_DB_CONNECT);
        CHECK_MSG(strstr(err, "could not connect") != NULL, "%s", err);
        CHECK(adb_embedded_start(e) == ADB_OK);
        CHECK_MSG(adb_pool_ping(p, &ms, err, sizeof(err)) == ADB_OK, "%s", err);
        /* the ping has its own connection; the pooled ones are replaced when lent */
        adb_status ast;
        PGconn *c = adb_pool_acquire(p, &ast, err, sizeof(err));
        CHECK_MSG(c != NULL, "%s", err);
        adb_pool_release(p, c);
        adb_pool_stats s;
        adb_pool_get_stats(p, &s);
        CHECK(s.reconnects >= 1);
        adb_pool_close(p);
    }
    adb_embedded_free(e); /* stops the cluster */
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", home);
    CHECK(system(cmd) == 0);
}

/* A frozen server (SIGSTOP of the postmaster and of the connection's
 * backend): the blocked call is cut off by the watchdog within a bound,
 * acquisitions then fail at once, the health check answers within its
 * 800 ms, and SIGCONT restores service. Without the watchdog the call waits
 * for as long as the server is stopped. */
static void frozen_server_calls_are_cut(void)
{
    char home[] = "/tmp/adb-pool-XXXXXX";
    adb_embedded *e;
    adb_pool *p = NULL;
    adb_pool_options o;
    char err[ADB_ERRMSG_MAX], path[300];
    adb_status st;
    double ms;

    if (!(e = own_cluster(home)))
        return;
    adb_pool_options_default(&o);
    o.min = 1;
    o.max = 2;
    REQUIRE(adb_pool_open(adb_embedded_conninfo(e), &o, &p, err, sizeof(err)) == ADB_OK);
    PGconn *c = adb_pool_acquire(p, &st, err, sizeof(err));
    REQUIRE(c);
    snprintf(path, sizeof(path), "%s/pg/postmaster.pid", home);
    FILE *f = fopen(path, "r");
    int pm = 0;
    REQUIRE(f && fscanf(f, "%d", &pm) == 1);
    fclose(f);
    pid_t frozen[] = { pm, PQbackendPID(c) };
    for (int i = 0; i < 2; i++)
        REQUIRE(kill(frozen[i], SIGSTOP) == 0);

    double t0 = adb__now_ms();
    PGresult *r = PQexec(c, "SELECT 1");
    double took = adb__now_ms() - t0;
    CHECK(PQresultStatus(r) != PGRES_TUPLES_OK && PQstatus(c) != CONNECTION_OK);
    CHECK_MSG(took < 5000, "the call on a frozen server returned after %.0f ms", took);
    PQclear(r);
    adb_pool_release(p, c);
    t0 = adb__now_ms();
    CHECK(adb_pool_acquire(p, &st, err, sizeof(err)) == NULL && st == ADB_ERR_DB_CONNECT);
    CHECK_MSG(adb__now_ms() - t0 < 500, "%s", err);
    t0 = adb__now_ms();
    CHECK(adb_pool_ping(p, &ms, err, sizeof(err)) == ADB_ERR_DB_CONNECT);
    CHECK_MSG(adb__now_ms() - t0 < 1000, "the health check took %.0f ms", adb__now_ms() - t0);
    adb_pool_stats s;
    adb_pool_get_stats(p, &s);
    CHECK(s.cut >= 1 && s.unreachable);

    for (int i = 0; i < 2; i++)
        kill(frozen[i], SIGCONT);
    bool back = false;
    for (int i = 0; i < 50 && !back; i++) {
        back = adb_pool_ping(p, &ms, err, sizeof(err)) == ADB_OK;
        if (!back)
            adb__sleep_ms(100);
    }
    CHECK_MSG(back, "%s", err);
    for (int i = 0; i < 20 && (c = adb_pool_acquire(p, &st, err, sizeof(err))) == NULL; i++)
        adb__sleep_ms(100);
    CHECK_MSG(c != NULL, "%s", err);
    adb_pool_release(p, c);
    adb_pool_close(p);
    adb_embedded_free(e);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", home);
    CHECK(system(cmd) == 0);
}

static void prepared_once_per_connection(void)
{
    adb_pool *p = NULL;
    adb_pool_options o;
    char err[ADB_ERRMSG_MAX];
    adb_status st;

    adb_pool_options_default(&o);
    o.min = 1;
    o.max = 1;
    REQUIRE(adb_pool_open(t_admin_conninfo(), &o, &p, err, sizeof(err)) == ADB_OK);
    PGconn *c = adb_pool_acquire(p, &st, err, sizeof(err));
    REQUIRE(c);
    const char *params[] = { "41" };
    for (int i = 0; i < 3; i++) {
        PGresult *r = adb_pool_exec(p, c, "SELECT $1::int + 1", 1, params);
        CHECK(PQresultStatus(r) == PGRES_TUPLES_OK && !strcmp(PQgetvalue(r, 0, 0), "42"));
        PQclear(r);
    }
    char *n = t_query1(c, "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE 'SELECT $1::int + 1%'");
    CHECK_STR(n, "1");
    free(n);
    /* a statement PostgreSQL refuses reports its error like any query */
    PGresult *r = adb_pool_exec(p, c, "SELECT nosuchcolumn FROM pg_class", 0, NULL);
    CHECK(PQresultStatus(r) == PGRES_FATAL_ERROR);
    CHECK(strstr(PQresultErrorMessage(r), "nosuchcolumn") != NULL);
    PQclear(r);
    adb_pool_release(p, c);
    adb_pool_close(p);
}

/* A pipeline answers each statement, prepares once, and after an error
 * reports it, skips the rest and leaves a connection that works again. */
static void pipeline_results_and_errors(void)
{
    adb_pool *p = NULL;
    adb_pool_options o;
    char err[ADB_ERRMSG_MAX];
    adb_status st;

    adb_pool_options_default(&o);
    o.min = 1;
    o.max = 1;
    REQUIRE(adb_pool_open(t_admin_conninfo(), &o, &p, err, sizeof(err)) == ADB_OK);
    const char *params[] = { "20" };
    for (int round = 0; round < 2; round++) {
        PGconn *c = adb_pool_acquire(p, &st, err, sizeof(err));
        REQUIRE(c);
        adb_pool_stmt ok_stmts[] = {
            { "BEGIN", 0, NULL, false },
            { "SELECT $1::int * 2 + 2", 1, params, true },
            { "SELECT $1::int + 1", 1, params, false },
            { "COMMIT", 0, NULL, false },
        };
        PGresult *res[4];
        CHECK(adb_pool_pipeline(p, c, 4, ok_stmts, res));
        CHECK(res[1] && !strcmp(PQgetvalue(res[1], 0, 0), "42"));
        CHECK(res[2] && !strcmp(PQgetvalue(res[2], 0, 0), "21"));
        for (int i = 0; i < 4; i++)
            PQclear(res[i]);
        CHECK(PQpipelineStatus(c) == PQ_PIPELINE_OFF && PQtransactionStatus(c) == PQTRANS_IDLE);
        adb_pool_release(p, c);
    }
    PGconn *c = adb_pool_acquire(p, &st, err, sizeof(err));
    REQUIRE(c);
    char *n = t_query1(c, "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE 'SELECT $1::int * 2 + 2%'");
    CHECK_STR(n, "1"); /* prepared in the first round only */
    free(n);
    adb_pool_stmt bad[] = {
        { "BEGIN", 0, NULL, false },
        { "SELECT 1 / ($1::int - 20)", 1, params, true },
        { "SELECT 7", 0, NULL, false },
        { "COMMIT", 0, NULL, false },
    };
    PGresult *res[4];
    CHECK(!adb_pool_pipeline(p, c, 4, bad, res));
    CHECK(res[1] && PQresultStatus(res[1]) == PGRES_FATAL_ERROR &&
          strstr(PQresultErrorMessage(res[1]), "division by zero"));
    CHECK(res[2] == NULL && res[3] == NULL); /* skipped after the error */
    for (int i = 0; i < 4; i++)
        PQclear(res[i]);
    CHECK(PQpipelineStatus(c) == PQ_PIPELINE_OFF);
    CHECK(PQtransactionStatus(c) == PQTRANS_INERROR);
    PQclear(PQexec(c, "ROLLBACK"));
    PGresult *r = adb_pool_exec(p, c, "SELECT $1::int + 1", 1, params);
    CHECK(PQresultStatus(r) == PGRES_TUPLES_OK && !strcmp(PQgetvalue(r, 0, 0), "21"));
    PQclear(r);
    adb_pool_release(p, c);
    adb_pool_close(p);
}

int main(void)
{
    RUN(acquire_release_and_bound);
    RUN(waiter_gets_released_connection);
    RUN(unreachable_fails_fast_and_clearly);
    RUN(reconnects_after_server_restart);
    RUN(frozen_server_calls_are_cut);
    RUN(prepared_once_per_connection);
    RUN(pipeline_results_and_errors);
    return t_done();
}
