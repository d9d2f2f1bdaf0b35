/*
 * server.h - the HTTP front of `auditdb serve` (libmicrohttpd).
 *
 * Requests are dispatched through the route table in routes.c. The server
 * owns nothing it is given: the pool and the state outlive it.
 */
#ifndef ADB_HTTP_SERVER_H
#define ADB_HTTP_SERVER_H

#include <stdbool.h>
#include <stdio.h>
#include "auditdb.h"

typedef struct adb_server adb_server;

typedef struct adb_server_options {
    const char *listen;       /* "host:port" */
    int threads;              /* handler threads per worker pool (reads, writes); 0: 8 */
    int connection_timeout_s; /* idle connections are closed after this */
    int head_timeout_s;       /* a request head must be complete this long after the
                                 connection opened or its last answer; 0: 10 */
    int max_connections;
    size_t body_budget;       /* request bodies buffered at once, in bytes; 0: 256 MiB
                                 (at least max_body) */
    adb_pool *pool;
    adb *db;                  /* the library handle (writer, keys, roles) */
    size_t max_body;          /* bytes; 0: 10 MiB */
    size_t max_bulk;          /* events per bulk request; 0: 1000 */
    double rate_limit_rps;    /* per API key; 0: none */
    int rate_limit_burst;
    const char *redis_url;    /* shared rate limits; NULL: local */
    bool embedded;            /* database mode, for /health */
    const char *home;         /* AUDITDB_HOME, whose disk /health/detailed reports; may be NULL */
    const adb_migration_set *migrations; /* for /ready */
    FILE *access_log;         /* one JSON line per request; NULL: none */
    int total_ttl_s;          /* estimated totals reused this long; 0: 30 (totals.h) */
    int stats_max_events;     /* most events a statistics request counts; 0: 1,000,000 */
} adb_server_options;

/* Starts listening. On failure returns NULL with the reason in errbuf. */
adb_server *adb_server_start(const adb_server_options *o, char *errbuf, size_t errlen);

/* The address actually bound ("127.0.0.1:8080"), owned by s. */
const char *adb_server_address(const adb_server *s);

/* Stops accepting, finishes requests in flight and frees s. Accepts NULL. */
void adb_server_stop(adb_server *s);

#endif
