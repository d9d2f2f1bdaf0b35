/*
 * target.h - the request target (path and query string) as the client sent
 * it, percent-decoded once and checked; routing and handlers read only this.
 *
 * A parameter may come more than once only where the route takes a list
 * that way (the client's repeated `tags=a&tags=b`); the routes say which
 * (adb_http_target_join_repeats).
 *
 * libmicrohttpd hands the access handler a path already decoded into a C
 * string, so "%00" cut it short ("/events%00/bulk" was routed as "/events"),
 * and it keeps the first of repeated query parameters. The raw target comes
 * from its URI log callback instead, before any decoding.
 */
#ifndef ADB_HTTP_TARGET_H
#define ADB_HTTP_TARGET_H

#include <stdbool.h>
#include <stddef.h>

#define ADB_HTTP_MAX_QUERY 32   /* query parameters in one request */
#define ADB_HTTP_TARGET_MAX 8192 /* bytes of the request target (414 beyond) */

/* A problem with the target: a 400 naming field. */
typedef struct adb_http_target_problem {
    const char *code;   /* INVALID_ENCODING, INVALID_CHARACTER, DUPLICATE_PARAMETER,
                           TOO_MANY_PARAMETERS; NULL: none */
    char field[80];     /* "path" or the parameter's name, valid UTF-8 */
    char message[200];
} adb_http_target_problem;

typedef struct adb_http_target {
    char *path;         /* decoded, NUL-terminated; owned. Has no NUL inside
                           unless path_problem says so */
    char *log_path;     /* the raw path with control and non-ASCII bytes
                           escaped: safe for the access log; owned */
    size_t raw_len;     /* bytes of the raw target (path and query) */
    int nparams;
    char *name[ADB_HTTP_MAX_QUERY], *value[ADB_HTTP_MAX_QUERY]; /* decoded; owned */
    adb_http_target_problem path_problem;  /* a bad escape or a NUL in the path */
    bool path_utf8;                        /* the decoded path is valid UTF-8 */
    adb_http_target_problem query_problem; /* the first one of the query string */
} adb_http_target;

/* Decodes raw ("/path?query", as received) into t (zeroed by the caller).
 * Problems are recorded in t, not returned; false only when out of memory. */
bool adb_http_target_parse(adb_http_target *t, const char *raw);

/* Once the route is known: each parameter given more than once whose name
 * may_repeat(name, ctx) allows has its values joined, comma-separated, into
 * its first occurrence (later ones removed, empty values left out); the
 * first repeated one it does not allow is recorded as t->query_problem
 * (DUPLICATE_PARAMETER) unless a problem is recorded already. False only
 * when out of memory. */
bool adb_http_target_join_repeats(adb_http_target *t, bool (*may_repeat)(const char *name, void *ctx),
                                  void *ctx);

/* Releases what t owns; accepts a zeroed t. */
void adb_http_target_free(adb_http_target *t);

/* The decoded value of query parameter name (valid UTF-8, no NUL, "" when
 * given without '='), or NULL when absent. Only meaningful when the query
 * string had no problem. */
const char *adb_http_target_arg(const adb_http_target *t, const char *name);

#endif
