/*
 * metrics.h - request counters and latency histograms for /metrics
 * (Prometheus text format), kept per route pattern and status.
 */
#ifndef ADB_HTTP_METRICS_H
#define ADB_HTTP_METRICS_H

#include <stddef.h>
#include "auditdb.h"

typedef struct adb_http_metrics adb_http_metrics;

adb_http_metrics *adb_http_metrics_new(void);
void adb_http_metrics_free(adb_http_metrics *m);

/* Counts one finished request (route: its pattern, or NULL when none matched). */
void adb_http_metrics_request(adb_http_metrics *m, const char *method, const char *route,
                              unsigned status, double ms);

/* Counts verification problems found through the API. */
void adb_http_metrics_verify_failures(adb_http_metrics *m, long long n);

/* The Prometheus text (malloc()ed), with the writer and pool figures of db. */
char *adb_http_metrics_render(adb_http_metrics *m, adb *db, size_t *len);

#endif
