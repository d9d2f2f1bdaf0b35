/*
 * totals.h - the estimated totals of filtered event lists, kept briefly
 * (internal). A filtered first page's total is the planner's estimate
 * (docs/api.md), and estimating means planning a count over every
 * partition: a few milliseconds, more than the page itself. The estimate
 * only moves with the table's statistics and size, so the same
 * organization asking with the same filters within ADB_HTTP_TOTALS_TTL_MS
 * reuses it. Exact totals are never kept.
 */
#ifndef ADB_HTTP_TOTALS_H
#define ADB_HTTP_TOTALS_H

#include <stdbool.h>

#define ADB_HTTP_TOTALS_TTL_MS 30000.0
#define ADB_HTTP_TOTALS_SLOTS 1024

typedef struct adb_http_totals adb_http_totals;

adb_http_totals *adb_http_totals_new(void);
void adb_http_totals_free(adb_http_totals *t);

/* The estimate kept for organization org and filter fingerprint fp, if it
 * is younger than the TTL. */
bool adb_http_totals_get(adb_http_totals *t, const char *org, const char *fp, long long *total);

/* Keeps an estimate (replacing whatever shared its slot). */
void adb_http_totals_put(adb_http_totals *t, const char *org, const char *fp, long long total);

#endif
