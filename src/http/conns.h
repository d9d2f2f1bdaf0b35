/*
 * conns.h - the open client connections of the HTTP server: a total
 * deadline for each request head, and room kept for new clients by shedding
 * idle connections first.
 *
 * libmicrohttpd's own timeout restarts at every byte, so a client sending
 * one header line every few seconds held its connection for ever, and a
 * thousand sockets that never sent anything filled the connection limit so
 * that nobody else was accepted. Here every connection is "waiting for a
 * head" (from its opening, or from its previous answer, until its request
 * head is complete) or "busy" (head complete, answer not yet sent). A
 * connection waiting longer than the head timeout is shut down; and when the
 * connections (in all, or of one client address) come near their limit, the
 * one that has waited longest for a head is shut down to make room. A busy
 * connection is never shed.
 *
 * Shutting down means shutdown(2) on the socket: libmicrohttpd sees the end
 * of the stream and closes the connection itself, on its own thread. The
 * socket is only touched while the connection is in the table, under its
 * lock, and libmicrohttpd removes it (MHD_CONNECTION_NOTIFY_CLOSED) before
 * it closes the descriptor, so a descriptor number reused by a new socket is
 * never hit.
 */
#ifndef ADB_HTTP_CONNS_H
#define ADB_HTTP_CONNS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct adb_http_conns adb_http_conns;
typedef struct adb_http_conn adb_http_conn;

typedef struct adb_http_conns_options {
    int max;             /* libmicrohttpd's connection limit */
    int per_ip_max;      /* libmicrohttpd's limit per client address */
    int head_timeout_ms; /* a request head must be complete within this */
} adb_http_conns_options;

/* Starts the table and its reaper thread; NULL when out of memory. */
adb_http_conns *adb_http_conns_start(const adb_http_conns_options *o);

/* Stops the reaper and frees the table (every connection closed first). */
void adb_http_conns_stop(adb_http_conns *c);

/* A new connection (socket fd, peer address): recorded as waiting for a
 * head; sheds the longest waiting connection when the table is near a
 * limit. Returns the entry to give back to the calls below (NULL when out of
 * memory: the connection is then just not tracked). */
adb_http_conn *adb_http_conn_opened(adb_http_conns *c, int fd, const struct sockaddr *peer);

/* The connection's request head is complete (busy) or its answer was sent
 * (waiting for the next head, from now). Accept NULL. */
void adb_http_conn_busy(adb_http_conns *c, adb_http_conn *e, bool busy);

/* The connection is closing: removed and freed. Accepts NULL. */
void adb_http_conn_closed(adb_http_conns *c, adb_http_conn *e);

/* Counts a connection closed before libmicrohttpd had it (acceptor.c): its
 * first head late (head_timeout) or closed to make room (not). */
void adb_http_conns_count_closed(adb_http_conns *c, bool head_timeout);

/* Connections shut down for a late head and to make room, since start:
 * kept-alive ones here and first heads in acceptor.c. */
void adb_http_conns_counts(adb_http_conns *c, uint64_t *head_timeouts, uint64_t *shed);

#endif
