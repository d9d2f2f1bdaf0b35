/*
 * workers.h - a pool of threads that run whole requests' handlers.
 *
 * The server keeps two: one for reads (GET, HEAD) and one for writes, so
 * that requests waiting for the writer's COMMIT (an fsync can take hundreds
 * of milliseconds when the disk is busy) never leave a page request without
 * a thread. server.c explains the hand-off with libmicrohttpd.
 */
#ifndef ADB_HTTP_WORKERS_H
#define ADB_HTTP_WORKERS_H

#include "http.h"

typedef struct adb_http_workers adb_http_workers;

/* Starts n threads, each calling run(req) for the requests submitted, oldest
 * first. Returns NULL (and starts nothing) when no thread could start. */
adb_http_workers *adb_http_workers_start(int n, const char *name, void (*run)(adb_http_request *req));

/* Queues req (linked through req->next_job; the queue is as long as there
 * are connections with a request in flight). */
void adb_http_workers_submit(adb_http_workers *w, adb_http_request *req);

/* Runs what is queued, then joins the threads and frees w. Accepts NULL. */
void adb_http_workers_stop(adb_http_workers *w);

#endif
