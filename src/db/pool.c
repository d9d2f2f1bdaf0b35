/*
 * pool.c - a bounded, thread-safe pool of libpq connections.
 *
 * Slots hold either an idle connection, a connection lent out, or nothing.
 * acquire() prefers an idle connection, opens a new one while under max, or
 * waits (bounded) on a condition variable. A connection idle for longer than
 * health_idle_ms is checked with a round trip before it is lent, so the first
 * request after a server restart gets a fresh connection instead of an error.
 * Connecting happens outside the lock.
 *
 * A watchdog thread bounds every call on a lent connection, whatever it is:
 * when a call has run for stall_ms it asks the server on its own connection
 * (probe.h); if the server stays silent for probe_timeout_ms, it is frozen
 * (SIGSTOP, a partition without reset), so the watchdog shuts down the
 * sockets of the connections lent before it asked - the blocked libpq call
 * returns "connection lost" at once - and acquisitions fail at once until
 * the server answers again. Long calls on a server that answers are left
 * alone: what is bounded is silence, not work. docs/pool.md.
 */
#include "auditdb.h"
#include "probe.h"
#include "../core/util.h"
#include "../monitor/errors.h"
#include "logging.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef enum { SLOT_EMPTY, SLOT_IDLE, SLOT_BUSY, SLOT_CONNECTING } slot_state;

#define PREPARED_MAX 64

typedef struct slot {
    PGconn *conn;
    slot_state state;
    double idle_since;
    double lent_at;                  /* when lent (BUSY); the watchdog's clock */
    int sock;                        /* a dup() of conn's socket, for the watchdog: libpq
                                        may close its own descriptor at any time, and the
                                        number could then name another file */
    int nprepared;                   /* statements prepared on conn */
    char prepared[PREPARED_MAX][24]; /* their names */
} slot;

struct adb_pool {
    char *conninfo;
    adb_pool_options opts;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    slot *slots;
    long long acquired, reconnects, timeouts, cut;
    char last_error[ADB_ERRMSG_MAX];
    /* the watchdog (stall_ms > 0) */
    pthread_t watchdog;
    bool watching, stopping;
    pthread_cond_t wd_cv;
    bool unreachable;             /* the server is silent: acquisitions fail at once */
    char unreachable_msg[ADB_ERRMSG_MAX];
    PGconn *wd_conn;              /* the watchdog's probe connection */
    pthread_mutex_t ping_mu;      /* the health check's connection */
    PGconn *ping_conn;
};

#define WATCH_TICK_MS 250
#define PING_BUDGET_MS 800

void adb_pool_options_default(adb_pool_options *o)
{
    o->min = 2;
    o->max = 10;
    o->acquire_timeout_ms = 5000;
    o->connect_timeout_s = 5;
    o->health_idle_ms = 5000;
    o->stall_ms = 1000;
    o->probe_timeout_ms = 2000;
}

/* Connects outside the lock. On failure returns NULL and fills errbuf. */
static PGconn *connect_one(adb_pool *p, char *errbuf, size_t errlen)
{
    int silent;
    /* bounded by connect_timeout; by the same span here, whatever libpq
     * counts (it restarts its timer per host and address) */
    PGconn *c = adb__connect_by(p->conninfo, p->opts.connect_timeout_s,
                                adb__now_ms() + p->opts.connect_timeout_s * 1000.0,
                                &p->unreachable, &silent, errbuf, errlen);

    if (!c) {
        if (silent && __atomic_load_n(&p->unreachable, __ATOMIC_RELAXED))
            adb__fmt(errbuf, errlen, "could not connect to the database: it does not answer");
        adb__error_record(NULL, &(adb__error_report){ .category = "DATABASE_ERROR",
            .severity = "CRITICAL", .code = "PG_CONNECT", .component = "pool",
            .operation = "connect", .message = "a pool connection could not be opened",
            .retryable = true });
        return NULL;
    }
    /* times printed one way whatever the server's defaults: the event
     * pages read them as ISO in UTC (src/http/events.c) */
    PGresult *r = PQexec(c, "SET DateStyle = ISO; SET TimeZone = 'UTC'");
    bool set = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!set) {
        adb__fmt(errbuf, errlen, "could not set the connection's DateStyle and TimeZone: %s", PQerrorMessage(c));
        adb__oneline(errbuf);
        PQfinish(c);
        return NULL;
    }
    /* privacy: what this login may set of the server's logging, so that no
     * statement, parameter value or row reaches the server log (logging.h);
     * a failure leaves the connection usable */
    (void)adb__pg_logging_session(c); /* best effort: the rest is the server's (docs/embedded.md) */
    return c;
}

/* true when c answers a round trip. */
static bool alive(PGconn *c)
{
    PGresult *r;
    bool ok;

    if (PQstatus(c) != CONNECTION_OK)
        return false;
    r = PQexec(c, "");
    ok = r && PQresultStatus(r) == PGRES_EMPTY_QUERY;
    PQclear(r);
    return ok;
}

static void set_last_error(adb_pool *p, const char *msg)
{
    pthread_mutex_lock(&p->mu);
    adb__fmt(p->last_error, sizeof(p->last_error), "%s", msg);
    pthread_mutex_unlock(&p->mu);
}

/* Puts c into s (under p->mu), with the watchdog's copy of its socket. */
static void slot_attach(slot *s, PGconn *c)
{
    s->conn = c;
    s->nprepared = 0;
    s->sock = c && PQsocket(c) >= 0 ? dup(PQsocket(c)) : -1;
}

/* Takes s's connection out (under p->mu); the caller PQfinish()es it. */
static PGconn *slot_detach(slot *s)
{
    PGconn *c = s->conn;

    if (s->sock >= 0)
        close(s->sock);
    s->sock = -1;
    s->conn = NULL;
    s->nprepared = 0;
    return c;
}

/* ---- the watchdog --------------------------------------------------------- */

/* true when a lent connection has been in use for longer than stall_ms. */
static bool stalled(const adb_pool *p, double now)
{
    for (int i = 0; i < p->opts.max; i++) {
        const slot *s = &p->slots[i];
        if (s->state == SLOT_BUSY && s->conn && now - s->lent_at > p->opts.stall_ms)
            return true;
    }
    return false;
}

/* Cuts the connections lent before `before`: shutdown() makes the blocked
 * libpq call see the connection end (its owner then closes it). Under p->mu,
 * which every close of a slot's connection holds, so the descriptor is still
 * the connection's. */
static void cut_stalled(adb_pool *p, double before)
{
    for (int i = 0; i < p->opts.max; i++) {
        slot *s = &p->slots[i];
        if (s->state == SLOT_BUSY && s->sock >= 0 && s->lent_at <= before) {
            shutdown(s->sock, SHUT_RDWR);
            p->cut++;
        }
    }
}

static void *watchdog_main(void *arg)
{
    adb_pool *p = arg;
    char err[ADB_ERRMSG_MAX];

    pthread_mutex_lock(&p->mu);
    while (!p->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += WATCH_TICK_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&p->wd_cv, &p->mu, &until);
        if (p->stopping || (!__atomic_load_n(&p->unreachable, __ATOMIC_RELAXED) && !stalled(p, adb__now_ms())))
            continue;
        pthread_mutex_unlock(&p->mu);
        double asked = adb__now_ms();
        adb__probe_result pr = adb__probe(&p->wd_conn, p->conninfo, p->opts.connect_timeout_s,
                                          asked + p->opts.probe_timeout_ms, err, sizeof(err));
        pthread_mutex_lock(&p->mu);
        if (pr == ADB_PROBE_SILENT) {
            __atomic_store_n(&p->unreachable, true, __ATOMIC_RELAXED); /* connect_one reads it */
            adb__fmt(p->unreachable_msg, sizeof(p->unreachable_msg),
                     "the database does not answer (silent for %d ms): calls on it were cut off",
                     p->opts.probe_timeout_ms);
            adb__fmt(p->last_error, sizeof(p->last_error), "%s", p->unreachable_msg);
            cut_stalled(p, asked);
        } else {
            /* answering, or down (which calls see for themselves) */
            __atomic_store_n(&p->unreachable, false, __ATOMIC_RELAXED);
        }
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

adb_status adb_pool_open(const char *conninfo, const adb_pool_options *opts, adb_pool **out,
                         char *errbuf, size_t errlen)
{
    adb_pool *p;
    adb_pool_options o;

    *out = NULL;
    if (opts)
        o = *opts;
    else
        adb_pool_options_default(&o);
    if (o.max < 1 || o.min < 0 || o.min > o.max) {
        adb__fmt(errbuf, errlen, "invalid pool size: min %d, max %d", o.min, o.max);
        return ADB_ERR_INVALID;
    }
    p = calloc(1, sizeof(*p));
    if (!p || !(p->conninfo = strdup(conninfo)) ||
        !(p->slots = calloc((size_t)o.max, sizeof(slot)))) {
        if (p)
            free(p->conninfo);
        free(p);
        adb__fmt(errbuf, errlen, "out of memory");
        return ADB_ERR_NOMEM;
    }
    p->opts = o;
    for (int i = 0; i < o.max; i++)
        p->slots[i].sock = -1;
    pthread_mutex_init(&p->mu, NULL);
    pthread_mutex_init(&p->ping_mu, NULL);
    {
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&p->cv, &ca);
        pthread_cond_init(&p->wd_cv, &ca);
        pthread_condattr_destroy(&ca);
    }
    for (int i = 0; i < o.min; i++) {
        PGconn *c = connect_one(p, errbuf, errlen);
        if (!c) {
            adb_pool_close(p);
            return ADB_ERR_DB_CONNECT;
        }
        slot_attach(&p->slots[i], c);
        p->slots[i].state = SLOT_IDLE;
        p->slots[i].idle_since = adb__now_ms();
    }
    /* a pool with min 0 still proves the database is reachable */
    if (o.min == 0) {
        PGconn *c = connect_one(p, errbuf, errlen);
        if (!c) {
            adb_pool_close(p);
            return ADB_ERR_DB_CONNECT;
        }
        PQfinish(c);
    }
    if (o.stall_ms > 0 && o.probe_timeout_ms > 0)
        p->watching = pthread_create(&p->watchdog, NULL, watchdog_main, p) == 0;
    *out = p;
    return ADB_OK;
}

static int find_slot(adb_pool *p, slot_state state)
{
    for (int i = 0; i < p->opts.max; i++)
        if (p->slots[i].state == state)
            return i;
    return -1;
}

/*
 * Time on the database, per thread: from asking for a connection to giving
 * the last one back, plus waits for the writer's commit (adb__db_wait_add).
 * The HTTP server reads it per request (its access log's dbMs).
 */
static _Thread_local double db_ms, db_since;
static _Thread_local int db_held;

double adb_thread_db_ms(void)
{
    return db_ms + (db_held > 0 ? adb__now_ms() - db_since : 0);
}

void adb_thread_db_reset(void)
{
    db_ms = 0;
    if (db_held > 0)
        db_since = adb__now_ms();
}

void adb__db_wait_add(double ms)
{
    if (db_held == 0)
        db_ms += ms;
}

static PGconn *acquire(adb_pool *p, adb_status *st, char *errbuf, size_t errlen);

PGconn *adb_pool_acquire(adb_pool *p, adb_status *st, char *errbuf, size_t errlen)
{
    double t0 = adb__now_ms();
    PGconn *c = acquire(p, st, errbuf, errlen);

    if (c && db_held++ == 0)
        db_since = t0;
    else if (!c && db_held == 0)
        db_ms += adb__now_ms() - t0;
    return c;
}

static PGconn *acquire(adb_pool *p, adb_status *st, char *errbuf, size_t errlen)
{
    struct timespec deadline;
    char localerr[ADB_ERRMSG_MAX];

    if (!errbuf) {
        errbuf = localerr;
        errlen = sizeof(localerr);
    }
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += p->opts.acquire_timeout_ms / 1000;
    deadline.tv_nsec += (long)(p->opts.acquire_timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }

    pthread_mutex_lock(&p->mu);
    for (;;) {
        if (__atomic_load_n(&p->unreachable, __ATOMIC_RELAXED)) { /* frozen: no call would come back */
            adb__fmt(errbuf, errlen, "%s", p->unreachable_msg);
            pthread_mutex_unlock(&p->mu);
            *st = ADB_ERR_DB_CONNECT;
            return NULL;
        }
        int i = find_slot(p, SLOT_IDLE);
        if (i >= 0) {
            slot *s = &p->slots[i];
            bool check = adb__now_ms() - s->idle_since > p->opts.health_idle_ms;
            s->state = SLOT_BUSY;
            s->lent_at = adb__now_ms();
            p->acquired++;
            pthread_mutex_unlock(&p->mu);
            if (!check || alive(s->conn))
                return s->conn;
            /* the server went away (restart, failover): replace it (taken
             * out of the slot first: the watchdog reads it under the lock) */
            pthread_mutex_lock(&p->mu);
            PGconn *dead = slot_detach(s);
            pthread_mutex_unlock(&p->mu);
            PQfinish(dead);
            PGconn *fresh = connect_one(p, errbuf, errlen);
            pthread_mutex_lock(&p->mu);
            slot_attach(s, fresh);
            s->lent_at = adb__now_ms();
            p->reconnects++;
            if (s->conn) {
                pthread_mutex_unlock(&p->mu);
                return s->conn;
            }
            s->state = SLOT_EMPTY;
            adb__fmt(p->last_error, sizeof(p->last_error), "%s", errbuf);
            pthread_cond_signal(&p->cv);
            pthread_mutex_unlock(&p->mu);
            *st = ADB_ERR_DB_CONNECT;
            return NULL;
        }
        i = find_slot(p, SLOT_EMPTY);
        if (i >= 0) {
            slot *s = &p->slots[i];
            s->state = SLOT_CONNECTING;
            pthread_mutex_unlock(&p->mu);
            PGconn *c = connect_one(p, errbuf, errlen);
            pthread_mutex_lock(&p->mu);
            if (c) {
                slot_attach(s, c);
                s->state = SLOT_BUSY;
                s->lent_at = adb__now_ms();
                p->acquired++;
                pthread_mutex_unlock(&p->mu);
                return c;
            }
            s->state = SLOT_EMPTY;
            adb__fmt(p->last_error, sizeof(p->last_error), "%s", errbuf);
            pthread_cond_signal(&p->cv);
            pthread_mutex_unlock(&p->mu);
            *st = ADB_ERR_DB_CONNECT;
            return NULL;
        }
        if (pthread_cond_timedwait(&p->cv, &p->mu, &deadline) == ETIMEDOUT) {
            p->timeouts++;
            pthread_mutex_unlock(&p->mu);
            adb__fmt(errbuf, errlen, "no database connection became free within %d ms "
                     "(AUDIT_DB_POOL_MAX is %d)", p->opts.acquire_timeout_ms, p->opts.max);
            *st = ADB_ERR_BUSY;
            return NULL;
        }
    }
}

void adb_pool_release(adb_pool *p, PGconn *conn)
{
    bool reuse;

    if (!conn)
        return;
    if (db_held > 0 && --db_held == 0)
        db_ms += adb__now_ms() - db_since;
    reuse = PQstatus(conn) == CONNECTION_OK && PQtransactionStatus(conn) == PQTRANS_IDLE &&
            PQpipelineStatus(conn) == PQ_PIPELINE_OFF;
    pthread_mutex_lock(&p->mu);
    for (int i = 0; i < p->opts.max; i++) {
        slot *s = &p->slots[i];
        if (s->conn != conn)
            continue;
        if (reuse) {
            s->state = SLOT_IDLE;
            s->idle_since = adb__now_ms();
        } else {
            PQfinish(slot_detach(s));
            s->state = SLOT_EMPTY;
            p->reconnects++;
        }
        break;
    }
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

adb_status adb_pool_ping(adb_pool *p, double *latency_ms, char *errbuf, size_t errlen)
{
    double t0 = adb__now_ms(), deadline = t0 + PING_BUDGET_MS;
    struct timespec until;
    char localerr[ADB_ERRMSG_MAX];

    if (!errbuf) {
        errbuf = localerr;
        errlen = sizeof(localerr);
    }
    /* one check at a time on the health connection; a caller that cannot
     * have it within the budget is answered "silent" (the one ahead is
     * still waiting for the server) */
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += PING_BUDGET_MS * 1000000L;
    until.tv_sec += until.tv_nsec / 1000000000L;
    until.tv_nsec %= 1000000000L;
    if (pthread_mutex_timedlock(&p->ping_mu, &until) != 0) {
        adb__fmt(errbuf, errlen, "database did not answer within %d ms", PING_BUDGET_MS);
        set_last_error(p, errbuf);
        return ADB_ERR_DB_CONNECT;
    }
    adb__probe_result pr = adb__probe(&p->ping_conn, p->conninfo, p->opts.connect_timeout_s,
                                      deadline, errbuf, errlen);
    pthread_mutex_unlock(&p->ping_mu);
    adb__db_wait_add(adb__now_ms() - t0); /* the thread's time on the database */
    if (latency_ms)
        *latency_ms = adb__now_ms() - t0;
    if (pr == ADB_PROBE_ANSWERED)
        return ADB_OK;
    if (pr == ADB_PROBE_SILENT)
        adb__fmt(errbuf, errlen, "database did not answer within %d ms", PING_BUDGET_MS);
    set_last_error(p, errbuf);
    return ADB_ERR_DB_CONNECT;
}

void adb_pool_get_stats(adb_pool *p, adb_pool_stats *out)
{
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&p->mu);
    for (int i = 0; i < p->opts.max; i++) {
        if (p->slots[i].state == SLOT_IDLE || p->slots[i].state == SLOT_BUSY)
            out->open++;
        if (p->slots[i].state == SLOT_IDLE)
            out->idle++;
    }
    out->max = p->opts.max;
    out->acquired = p->acquired;
    out->reconnects = p->reconnects;
    out->timeouts = p->timeouts;
    out->cut = p->cut;
    out->unreachable = __atomic_load_n(&p->unreachable, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&p->mu);
}

void adb_pool_close(adb_pool *p)
{
    if (!p)
        return;
    if (p->watching) {
        pthread_mutex_lock(&p->mu);
        p->stopping = true;
        pthread_cond_signal(&p->wd_cv);
        pthread_mutex_unlock(&p->mu);
        pthread_join(p->watchdog, NULL);
    }
    if (p->wd_conn)
        PQfinish(p->wd_conn);
    if (p->ping_conn)
        PQfinish(p->ping_conn);
    for (int i = 0; i < p->opts.max; i++)
        if (p->slots[i].conn)
            PQfinish(slot_detach(&p->slots[i]));
    pthread_cond_destroy(&p->cv);
    pthread_cond_destroy(&p->wd_cv);
    pthread_mutex_destroy(&p->mu);
    pthread_mutex_destroy(&p->ping_mu);
    free(p->slots);
    free(p->conninfo);
    free(p);
}

/* The slot lent out with conn (its fields need no lock: it is the caller's
 * alone), the statement name of sql, and whether it is prepared there. */
static slot *statement_of(adb_pool *p, PGconn *conn, const char *sql, char name[24], bool *known)
{
    char hex[65];
    slot *s = NULL;

    adb__sha256_hex(sql, strlen(sql), hex);
    adb__fmt(name, 24, "adbq_%.16s", hex);
    pthread_mutex_lock(&p->mu);
    for (int i = 0; i < p->opts.max && !s; i++)
        if (p->slots[i].conn == conn)
            s = &p->slots[i];
    pthread_mutex_unlock(&p->mu);
    *known = false;
    for (int i = 0; s && i < s->nprepared && !*known; i++)
        *known = strcmp(s->prepared[i], name) == 0;
    return s;
}

PGresult *adb_pool_exec(adb_pool *p, PGconn *conn, const char *sql, int nparams,
                        const char *const *params)
{
    char name[24];
    bool known;
    slot *s = statement_of(p, conn, sql, name, &known);

    if (!s)
        return PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
    if (!known) {
        if (s->nprepared >= PREPARED_MAX)
            return PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
        PGresult *r = PQprepare(conn, name, sql, nparams, NULL);
        bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        if (!ok) {
            /* the error belongs to the caller: report it as the query's */
            return r;
        }
        PQclear(r);
        adb__fmt(s->prepared[s->nprepared++], sizeof(s->prepared[0]), "%s", name);
    }
    return PQexecPrepared(conn, name, nparams, params, NULL, NULL, 0);
}

bool adb_pool_pipeline(adb_pool *p, PGconn *conn, int n, const adb_pool_stmt *stmts,
                       PGresult **results)
{
    enum { MAXN = 16 };
    char names[MAXN][24];
    bool prepared_now[MAXN] = { false }, sent_ok = true, all_ok = true;
    slot *slots[MAXN] = { NULL };

    if (n > MAXN || PQenterPipelineMode(conn) != 1)
        return false;
    for (int i = 0; i < n; i++)
        results[i] = NULL;
    for (int i = 0; i < n && sent_ok; i++) {
        const adb_pool_stmt *st = &stmts[i];
        bool known = false;
        slots[i] = st->prepare ? statement_of(p, conn, st->sql, names[i], &known) : NULL;
        if (slots[i] && !known && slots[i]->nprepared >= PREPARED_MAX)
            slots[i] = NULL;
        if (!slots[i]) {
            sent_ok = PQsendQueryParams(conn, st->sql, st->nparams, NULL, st->params, NULL, NULL,
                                        0) == 1;
            continue;
        }
        if (!known) {
            for (int k = 0; k < i && !known; k++) /* the same text twice in one pipeline */
                known = prepared_now[k] && strcmp(names[k], names[i]) == 0;
            if (!known) {
                sent_ok = PQsendPrepare(conn, names[i], st->sql, st->nparams, NULL) == 1;
                prepared_now[i] = sent_ok;
            }
        }
        sent_ok = sent_ok && PQsendQueryPrepared(conn, names[i], st->nparams, st->params, NULL,
                                                 NULL, 0) == 1;
    }
    if (!sent_ok || PQpipelineSync(conn) != 1) {
        /* the connection is unusable now: the pool drops it on release */
        return false;
    }
    /* results: per statement (a Prepare first when one was sent), each
     * followed by NULL; then the sync */
    for (int i = 0; i < n; i++) {
        for (int part = prepared_now[i] ? 0 : 1; part < 2; part++) {
            PGresult *r = PQgetResult(conn);
            PGresult *extra;
            while ((extra = PQgetResult(conn)) != NULL) /* up to the NULL that ends it */
                PQclear(extra);
            ExecStatusType es = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
            bool ok = es == PGRES_COMMAND_OK || es == PGRES_TUPLES_OK;
            if (part == 0) {
                if (ok && slots[i]->nprepared < PREPARED_MAX)
                    adb__fmt(slots[i]->prepared[slots[i]->nprepared++], 24, "%s", names[i]);
                if (!ok) { /* the statement's result is the Prepare's error */
                    results[i] = r;
                    all_ok = false;
                    r = PQgetResult(conn); /* the skipped execution */
                    while ((extra = PQgetResult(conn)) != NULL)
                        PQclear(extra);
                    PQclear(r);
                    break;
                }
                PQclear(r);
                continue;
            }
            if (es == PGRES_PIPELINE_ABORTED) {
                PQclear(r);
                r = NULL;
            }
            results[i] = r;
            all_ok = all_ok && ok;
        }
    }
    PGresult *sync = PQgetResult(conn);
    bool synced = sync && PQresultStatus(sync) == PGRES_PIPELINE_SYNC;
    PQclear(sync);
    if (synced)
        PQexitPipelineMode(conn);
    return all_ok && synced;
}
