/*
 * totals.h - the estimated totals of filtered event lists, kept briefly
 * (internal). A filtered first page's total is the planner's estimate
 * (docs/api.md), and estimating means planning a count over every
 * partition: a few milliseconds, more than the page itself. The estimate
 * only moves with the table's statistics and size, so the same
 * organization asking with the same filters reuses it: fresh for the TTL,
 * then, up to ADB_HTTP_TOTALS_STALE_TTLS times the TTL, served as it is
 * while one request refreshes it once its answer is on its way. Exact
 * totals are never kept.
 */
#ifndef ADB_HTTP_TOTALS_H
#define ADB_HTTP_TOTALS_H

#include <stdbool.h>

#define ADB_HTTP_TOTALS_TTL_MS 30000.0 /* when the server is given none */
#define ADB_HTTP_TOTALS_STALE_TTLS 10
#define ADB_HTTP_TOTALS_SLOTS 1024

typedef struct adb_http_totals adb_http_totals;

/* A table whose estimates are fresh for ttl_ms (0: the default). */
adb_http_totals *adb_http_totals_new(double ttl_ms);
void adb_http_totals_free(adb_http_totals *t);

typedef enum adb_http_total_state {
    ADB_TOTAL_NONE,  /* nothing kept (or too old): estimate now */
    ADB_TOTAL_FRESH, /* *total is the estimate */
    ADB_TOTAL_STALE  /* *total may be served; *refresh: this caller refreshes it */
} adb_http_total_state;

/* The estimate kept for organization org and filter fingerprint fp. When it
 * is stale, *refresh is true for one caller at a time (another may try once
 * a refresh has been pending for a TTL), which then puts a new one. */
adb_http_total_state adb_http_totals_get(adb_http_totals *t, const char *org, const char *fp,
                                         long long *total, bool *refresh);

/* Keeps an estimate (replacing whatever shared its slot). */
void adb_http_totals_put(adb_http_totals *t, const char *org, const char *fp, long long total);

/* Forgets the estimate of org and fp (a refresh found it small: a count is due). */
void adb_http_totals_drop(adb_http_totals *t, const char *org, const char *fp);

#endif
