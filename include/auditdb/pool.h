/*
 * pool.h - a thread-safe pool of libpq connections.
 *
 * Keeps at least AUDIT_DB_POOL_MIN connections open and at most
 * AUDIT_DB_POOL_MAX. A connection idle for longer than the health interval is
 * checked with a round trip before it is handed out, and replaced if the
 * server went away (after a restart, say). Connecting never hangs: libpq's
 * connect_timeout bounds it, and waiting for a free connection is bounded by
 * the pool's timeout.
 */
#ifndef AUDITDB_POOL_H
#define AUDITDB_POOL_H

#include <libpq-fe.h>
#include <stdbool.h>
#include "status.h"

typedef struct adb_pool adb_pool;

typedef struct adb_pool_options {
    int min;              /* connections opened at start and kept */
    int max;              /* upper bound */
    int acquire_timeout_ms; /* wait for a free connection */
    int connect_timeout_s;  /* libpq connect_timeout unless conninfo sets one */
    int health_idle_ms;   /* idle time after which a connection is checked */
    int stall_ms;         /* a call running this long makes the watchdog ask whether the
                             server still answers (0: no watchdog) */
    int probe_timeout_ms; /* a server silent this long is frozen: calls on it are cut */
} adb_pool_options;

typedef struct adb_pool_stats {
    int open;       /* connections open */
    int idle;       /* of which idle */
    int max;
    long long acquired;     /* acquisitions since start */
    long long reconnects;   /* broken connections replaced */
    long long timeouts;     /* acquisitions that timed out */
    long long cut;          /* calls cut off because the server stopped answering */
    bool unreachable;       /* the server is silent: acquisitions fail at once */
} adb_pool_stats;

/* Sets the defaults: min 2, max 10, 5000 ms, 5 s, 5000 ms, stall 1000 ms,
 * probe 2000 ms. */
void adb_pool_options_default(adb_pool_options *o);

/* Opens a pool on conninfo (a key=value string or a postgresql:// URI),
 * connecting opts->min connections. On failure *out is NULL and errbuf holds
 * the reason. The pool is freed with adb_pool_close(). */
ADB_WUR adb_status adb_pool_open(const char *conninfo, const adb_pool_options *opts,
                                 adb_pool **out, char *errbuf, size_t errlen);

/* Hands out a healthy connection, waiting at most the acquire timeout.
 * Returns NULL on failure with *st set (ERR_DB_CONNECT, ERR_BUSY) and
 * the reason in errbuf (may be NULL). Give it back with adb_pool_release(). */
PGconn *adb_pool_acquire(adb_pool *p, adb_status *st, char *errbuf, size_t errlen);

/* Returns a connection. A broken connection, or one left inside a transaction,
 * is closed rather than reused. */
void adb_pool_release(adb_pool *p, PGconn *conn);

/* The calling thread's time on the database since adb_thread_db_reset(), in
 * ms: waiting for and holding pooled connections, and waiting for the
 * writer to commit what the thread submitted. */
double adb_thread_db_ms(void);
void adb_thread_db_reset(void);

/* Round trip to the server on the pool's own health connection; answers
 * within 800 ms whatever the server does (a silent server is down). Fills
 * latency_ms. */
ADB_WUR adb_status adb_pool_ping(adb_pool *p, double *latency_ms, char *errbuf, size_t errlen);

void adb_pool_get_stats(adb_pool *p, adb_pool_stats *out);

/* Runs sql with text parameters on conn, a connection of p, as a prepared
 * statement: prepared on that connection the first time (named after the
 * SHA-256 of the text), executed by name afterwards, so repeated queries are
 * not planned again. Falls back to PQexecParams when the connection's
 * statement cache is full. The caller PQclear()s the result. */
PGresult *adb_pool_exec(adb_pool *p, PGconn *conn, const char *sql, int nparams,
                        const char *const *params);

/* One statement of a pipeline: prepared (like adb_pool_exec) when
 * prepare is set, else sent with PQsendQueryParams. */
typedef struct adb_pool_stmt {
    const char *sql;
    int nparams;
    const char *const *params;
    bool prepare;
} adb_pool_stmt;

/* Sends n statements in one libpq pipeline (one round trip) on conn, a
 * connection of p, and collects each statement's result into results[i]
 * (caller PQclear()s them; NULL when the statement was skipped after an
 * earlier error). Returns true when every statement succeeded. After a
 * failure inside an explicit transaction, the caller rolls back. */
bool adb_pool_pipeline(adb_pool *p, PGconn *conn, int n, const adb_pool_stmt *stmts,
                       PGresult **results);

/* Closes every connection and frees p. Connections still acquired are closed
 * when released... they must all be released first. Accepts NULL. */
void adb_pool_close(adb_pool *p);

#endif
