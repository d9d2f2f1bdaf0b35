/*
 * pull.h - answers written as the client reads them, in constant memory
 * (internal): the event stream and export downloads. libmicrohttpd asks
 * for bytes on its polling thread; when the buffer is empty the connection
 * is suspended and a pump thread asks the source for the next piece (one
 * batch of rows, one chunk of a file), then resumes it. So a slow client
 * holds a small buffer and its connection, never a thread nor a database
 * connection, and a database wait never holds up a polling thread
 * (docs/http.md, "Answers written as they are read").
 */
#ifndef ADB_HTTP_PULL_H
#define ADB_HTTP_PULL_H

#include <stdint.h>
#include "http.h"
#include "../core/buf.h"

typedef struct adb_http_pumps adb_http_pumps;

/* Answers of this kind open at once, at most: each holds a page or a chunk
 * (a few MB at most), so 1000 connections reading slowly cannot hold GBs. */
#define ADB_HTTP_PULLS_MAX 32

/* The next piece of an answer: appends to out; returns 1 when more may
 * follow, 0 at the end, -1 when the source failed (the answer is cut: the
 * client sees a broken chunked stream or a short body, never a silent end).
 * Runs on a pump thread (the first time on the request's worker). */
typedef int (*adb_http_pull_fill)(void *ctx, adb__buf *out);

adb_http_pumps *adb_http_pumps_start(int threads);
/* Runs what is queued (every suspended connection resumed) and joins the
 * threads; later reads end the answer. p stays valid for them until
 * adb_http_pumps_free, after libmicrohttpd has stopped. */
void adb_http_pumps_stop(adb_http_pumps *p);
void adb_http_pumps_free(adb_http_pumps *p);

/* Answers req with status and the bytes fill makes (size: the exact length
 * when known, else MHD_SIZE_UNKNOWN: chunked). The first piece is made
 * here, so that a source failing at once is answered by the caller: -1 is
 * returned then, and nothing is queued. ctx is the source's, freed with
 * ctx_free when the answer ends (also on -1). disposition: a
 * Content-Disposition value or NULL. Returns 1 when queued; -2 (nothing
 * made, nothing queued, ctx freed) when ADB_HTTP_PULLS_MAX are open: the
 * caller answers 503, retry shortly. */
int adb_http_send_pull(adb_http_request *req, unsigned status, uint64_t size,
                       const char *content_type, const char *disposition,
                       adb_http_pull_fill fill, void *ctx, void (*ctx_free)(void *ctx));

#endif
