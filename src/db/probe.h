/*
 * probe.h - "does the server still answer?", asked with a deadline.
 *
 * libpq's blocking calls wait as long as the server is silent: a PostgreSQL
 * stopped by SIGSTOP, or a network partition without a reset, holds them for
 * as long as it lasts, and on a unix socket no TCP keepalive applies. The
 * probe uses libpq's asynchronous API with poll(), so it returns by its
 * deadline whatever the server does. The pool's watchdog and its health
 * check (pool.c) each keep one probe connection.
 */
#ifndef ADB_DB_PROBE_H
#define ADB_DB_PROBE_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

typedef enum adb__probe_result {
    ADB_PROBE_ANSWERED, /* the server answered (an error it sends counts: it is alive) */
    ADB_PROBE_SILENT,   /* nothing came back by the deadline */
    ADB_PROBE_FAILED,   /* refused or broken at once: the server is down, not frozen */
} adb__probe_result;

/* Runs SELECT 1 on *conn (connecting it when NULL, or again once when it
 * broke), by deadline_ms (adb__now_ms() clock). A connection that did not
 * answer is closed and *conn set to NULL. err says why when not ANSWERED. */
adb__probe_result adb__probe(PGconn **conn, const char *conninfo, int connect_timeout_s,
                             double deadline_ms, char *err, size_t errlen);

/* Connects like the pool (application_name, connect_timeout, TCP keepalives
 * and tcp_user_timeout as defaults the conninfo may override) without
 * waiting past deadline_ms, nor after *give_up (may be NULL) became true.
 * NULL on failure with err set; *silent tells whether it gave up waiting. */
PGconn *adb__connect_by(const char *conninfo, int connect_timeout_s, double deadline_ms,
                        const bool *give_up, int *silent, char *err, size_t errlen);

#endif
