/*
 * acceptor.h - accepts client connections, relays each to libmicrohttpd
 * through a socketpair (MHD_add_connection with the client's real
 * address), and runs libmicrohttpd on the same thread.
 *
 * libmicrohttpd answers malformed requests itself, before any callback and
 * with no hook to replace the answer, in fixed HTML bodies (a version other
 * than HTTP/1.x, a header line without ':', a bad Content-Length, broken
 * chunked framing), closes the connection (a request line without a
 * version), or, for heads near its memory limit, closes or leaves the
 * client waiting. So no byte reaches it unchecked: every request head, and
 * the framing of every chunked body, is checked here (framing.c) as it
 * passes, and an error is answered here in the API's JSON error shape,
 * after the answers to the requests before it, then the connection closed
 * without resetting that answer. A connection whose first head is not
 * complete within the head deadline is closed; one that never sends
 * anything costs a descriptor, not a socketpair or libmicrohttpd's
 * per-connection memory (docs/http.md, step 0).
 */
#ifndef ADB_HTTP_ACCEPTOR_H
#define ADB_HTTP_ACCEPTOR_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct adb_http_acceptor adb_http_acceptor;

/* Called (on the acceptor's thread) for each head refused here. */
typedef void (*adb_http_refused_fn)(void *ud, unsigned status, const char *code,
                                    const char *request_id);

typedef struct adb_http_acceptor_options {
    int listen_fd;          /* listening, taken: closed by adb_http_acceptor_stop */
    struct MHD_Daemon *daemon;
    int head_timeout_ms;
    size_t max_body;        /* a chunked body above this is refused (413) as it comes */
    int max_pending;        /* connections whose first head is not in yet */
    adb_http_refused_fn refused;
    void *refused_ud;
    struct adb_http_conns *conns; /* counts the connections closed here (conns.h) */
} adb_http_acceptor_options;

/* Starts the acceptor's thread; NULL when it cannot. */
adb_http_acceptor *adb_http_acceptor_start(const adb_http_acceptor_options *o);

/* libmicrohttpd runs on the acceptor's thread: a worker that resumed a
 * connection wakes it with this (any thread). */
void adb_http_acceptor_wake(adb_http_acceptor *a);

/* Stops accepting: closes the listening socket, the connections whose
 * first head had not come, and each relayed one once it is idle (no
 * request in flight). Relaying goes on for the others. */
void adb_http_acceptor_quiesce(adb_http_acceptor *a);

/* A request on libmicrohttpd's connection fd was refused here while its
 * body came (broken chunked framing): its status, code and the request id
 * of the answer sent, once; false when there is none. */
bool adb_http_acceptor_take_note(adb_http_acceptor *a, int fd, unsigned *status, const char **code,
                                 char rid[65]);

/* Stops the thread and closes every connection left (after libmicrohttpd
 * has stopped). */
void adb_http_acceptor_stop(adb_http_acceptor *a);

#endif
