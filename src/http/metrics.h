/*
 * metrics.h - request counters and latency histograms for /metrics
 * (Prometheus text format), kept per route pattern and status.
 */
#ifndef ADB_HTTP_METRICS_H
#define ADB_HTTP_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include "auditdb.h"

typedef struct adb_http_metrics adb_http_metrics;

adb_http_metrics *adb_http_metrics_new(void);
void adb_http_metrics_free(adb_http_metrics *m);

/* Counts one finished request (route: its pattern, or NULL when none matched). */
void adb_http_metrics_request(adb_http_metrics *m, const char *method, const char *route,
                              unsigned status, double ms);

/* An open client connection (+1) or a closed one (-1). */
void adb_http_metrics_connection(adb_http_metrics *m, int delta);

/* The last minute (or the uptime, when shorter) of finished requests. */
typedef struct adb_http_recent {
    double requests_per_s;
    double avg_ms;          /* mean time to answer */
    double error_rate;      /* the share answered 5xx, 0..1 */
    long long connections;  /* open now */
} adb_http_recent;

void adb_http_metrics_recent(adb_http_metrics *m, double uptime_s, adb_http_recent *out);

/* Counts verification problems found through the API. */
void adb_http_metrics_verify_failures(adb_http_metrics *m, long long n);

/* Connections closed by the server to keep room for clients (conns.h). */
typedef struct adb_http_conn_stats {
    uint64_t head_timeouts; /* no complete request head within the head deadline */
    uint64_t shed;          /* closed near a connection limit, waiting longest for a head */
} adb_http_conn_stats;

/* The Prometheus text (malloc()ed), with the writer and pool figures of db
 * and the connection figures cs. */
char *adb_http_metrics_render(adb_http_metrics *m, adb *db, const adb_http_conn_stats *cs,
                              size_t *len);

#endif
