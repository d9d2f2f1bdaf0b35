/*
 * probe.c - a round trip with a deadline (probe.h).
 */
#include "probe.h"
#include "../core/util.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <string.h>

#define SLICE_MS 100 /* how often a wait looks at its give_up flag */

/* Waits until fd is ready for events; false when the deadline passed or
 * *give_up (read atomically; may be NULL) was set meanwhile. */
static int wait_fd(int fd, short events, double deadline_ms, const bool *give_up)
{
    for (;;) {
        int ms = (int)(deadline_ms - adb__now_ms());
        if (ms <= 0 || (give_up && __atomic_load_n(give_up, __ATOMIC_RELAXED)))
            return 0;
        if (give_up && ms > SLICE_MS)
            ms = SLICE_MS;
        struct pollfd pfd = { .fd = fd, .events = events };
        int n = poll(&pfd, 1, ms);
        if (n > 0 || (n < 0 && errno != EINTR))
            return 1; /* ready, or an error libpq will report */
    }
}

PGconn *adb__connect_by(const char *conninfo, int connect_timeout_s, double deadline_ms,
                        const bool *give_up, int *silent, char *err, size_t errlen)
{
    char timeout[16];
    /* keywords before dbname are defaults the conninfo may override; the
     * keepalives and tcp_user_timeout end a TCP connection to a host that
     * vanished (they do not apply to unix sockets: the watchdog does) */
    const char *keys[] = { "connect_timeout", "application_name", "keepalives_idle",
                           "keepalives_interval", "keepalives_count", "tcp_user_timeout",
                           "dbname", NULL };
    const char *vals[] = { timeout, "auditdb", "10", "3", "3", "20000", conninfo, NULL };
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;

    *silent = 0;
    adb__fmt(timeout, sizeof(timeout), "%d", connect_timeout_s);
    PGconn *c = PQconnectStartParams(keys, vals, 1);
    if (!c) {
        adb__fmt(err, errlen, "could not connect to the database: out of memory");
        return NULL;
    }
    while (PQstatus(c) != CONNECTION_BAD && st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED) {
        if (!wait_fd(PQsocket(c), st == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline_ms,
                     give_up)) {
            *silent = 1;
            adb__fmt(err, errlen, "could not connect to the database: no answer within the deadline");
            PQfinish(c);
            return NULL;
        }
        st = PQconnectPoll(c);
    }
    if (PQstatus(c) != CONNECTION_OK) {
        adb__fmt(err, errlen, "could not connect to the database: %s", PQerrorMessage(c));
        adb__oneline(err);
        PQfinish(c);
        return NULL;
    }
    return c;
}

/* SELECT 1 on c by the deadline. */
static adb__probe_result round_trip(PGconn *c, double deadline_ms, char *err, size_t errlen)
{
    PGresult *r;
    adb__probe_result out = ADB_PROBE_ANSWERED;

    if (PQsendQuery(c, "SELECT 1") != 1) {
        adb__fmt(err, errlen, "database did not answer: %s", PQerrorMessage(c));
        adb__oneline(err);
        return ADB_PROBE_FAILED;
    }
    while (PQisBusy(c)) {
        if (!wait_fd(PQsocket(c), POLLIN, deadline_ms, NULL)) {
            adb__fmt(err, errlen, "database did not answer in time");
            return ADB_PROBE_SILENT;
        }
        if (PQconsumeInput(c) != 1)
            break;
    }
    while ((r = PQgetResult(c)) != NULL) {
        if (PQresultStatus(r) != PGRES_TUPLES_OK && out == ADB_PROBE_ANSWERED) {
            adb__fmt(err, errlen, "database did not answer: %s", PQerrorMessage(c));
            adb__oneline(err);
            out = PQstatus(c) == CONNECTION_OK ? ADB_PROBE_ANSWERED : ADB_PROBE_FAILED;
        }
        PQclear(r);
        if (PQstatus(c) != CONNECTION_OK)
            break;
    }
    return PQstatus(c) == CONNECTION_OK ? out : ADB_PROBE_FAILED;
}

adb__probe_result adb__probe(PGconn **conn, const char *conninfo, int connect_timeout_s,
                             double deadline_ms, char *err, size_t errlen)
{
    adb__probe_result out = ADB_PROBE_FAILED;

    if (*conn && PQstatus(*conn) != CONNECTION_OK) {
        PQfinish(*conn);
        *conn = NULL;
    }
    /* a connection left over may have broken since (a restart): once more
     * on a new one */
    for (int attempt = 0; attempt < 2; attempt++) {
        bool fresh = *conn == NULL;
        if (fresh) {
            int silent;
            *conn = adb__connect_by(conninfo, connect_timeout_s, deadline_ms, NULL, &silent, err,
                                    errlen);
            if (!*conn)
                return silent ? ADB_PROBE_SILENT : ADB_PROBE_FAILED;
        }
        out = round_trip(*conn, deadline_ms, err, errlen);
        if (out == ADB_PROBE_ANSWERED)
            return out;
        /* a late answer must not be read as the next probe's */
        PQfinish(*conn);
        *conn = NULL;
        if (out == ADB_PROBE_SILENT || fresh)
            return out;
    }
    return out;
}
