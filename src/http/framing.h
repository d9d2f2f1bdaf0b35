/*
 * framing.h - where HTTP/1.1 messages begin and end in a byte stream, for
 * the relay in acceptor.c: every request head checked (the same rules as
 * the first one), every chunked body's framing checked, and the answers
 * coming back counted, so that an error answer made by the relay goes
 * after the answers to the requests before it (docs/http.md, step 0).
 *
 * Pure parsing, incremental: the caller hands the bytes not yet passed,
 * from the first one, and gets back how many may pass.
 */
#ifndef ADB_HTTP_FRAMING_H
#define ADB_HTTP_FRAMING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A chunked body, byte by byte (chunk data in bulk). */
typedef struct adb_http_chunks {
    int st;
    uint64_t left;  /* data bytes left in this chunk */
    uint64_t total; /* data bytes so far */
    size_t line;    /* bytes of the current size or trailer line */
    int digits;     /* significant hex digits of the size */
} adb_http_chunks;

/* Scans b[0,n) of a chunked body. Returns the bytes consumed; *end: 1 when
 * the body (trailers and blank line included) ended there, 0 when all of
 * b was consumed and more must come, or the status of a framing error at
 * the returned offset (400; 413 for a size above max_total) with *message. */
size_t adb_http_chunks_scan(adb_http_chunks *c, const char *b, size_t n, uint64_t max_total,
                            int *end, const char **message);

/* Checks a request head at b (the whole of what has come): 0 when it is
 * complete and well formed (*len: its length, with the blank line), -1
 * when more must come, else the status to answer with *code and *message
 * (400, 413, 414, 431, 505). */
int adb_http_head_check(const char *b, size_t n, size_t *len, const char **code, const char **message);

/* The requests of one connection, client to server. */
typedef struct adb_http_reqframe {
    int st;
    uint64_t left;     /* body bytes left (Content-Length) */
    adb_http_chunks ch;
    size_t scanned;    /* bytes of the coming head already searched for its end */
    uint64_t max_body;
    bool is_head;      /* the head just passed is a HEAD request */
    bool in_request;   /* a head passed and its body is not complete */
    int status;        /* the error found */
    const char *code, *message;
} adb_http_reqframe;

enum { ADB_FR_MORE, ADB_FR_HEAD, ADB_FR_ERROR };

/* Scans b[0,n), the bytes not passed yet. Returns how many may pass, with
 * ADB_FR_HEAD (a whole, well-formed head ends there: f->is_head tells
 * whether it is a HEAD request), ADB_FR_MORE (the rest is an incomplete
 * head or line: keep it) or ADB_FR_ERROR (the bytes from there are
 * malformed: f->status, code, message; f->in_request tells whether the
 * request they belong to had its head passed already). */
size_t adb_http_reqframe_scan(adb_http_reqframe *f, const char *b, size_t n, int *event);

/* The request stream ended with a request incomplete: true (and f->status
 * set) when something of a request had come. pending: bytes kept unpassed. */
bool adb_http_reqframe_eof(adb_http_reqframe *f, size_t pending);

/* The answers of one connection, server to client. */
typedef struct adb_http_respframe {
    int st;
    uint64_t left;
    adb_http_chunks ch;
    char head[2048]; /* the head being read */
    size_t hlen;
} adb_http_respframe;

/* Some answer is part way through. */
#define ADB_HTTP_RESP_PARTIAL(f) ((f)->hlen > 0 || (f)->st != 0)

/* Scans b[0,n) (all of it is passed on); *done: answers completed in it.
 * is_head(ud) is asked when a final answer begins: whether it answers a
 * HEAD request (then it has no body). Returns false when the stream can no
 * longer be followed (an answer without a length: it ends at the close). */
bool adb_http_respframe_scan(adb_http_respframe *f, const char *b, size_t n, unsigned *done,
                             bool (*is_head)(void *), void *ud);

#endif
