/*
 * metrics_api.h - the client's metrics service under /api/v1/metrics (issue
 * 20; docs/monitoring.md "Metrics"): what its files share. metrics_api.c
 * answers system (operators), audit, performance, usage and dashboard (the
 * tenant's own figures); metrics_series.c the historical series, exports and
 * the custom query over a fixed catalogue; metrics_config.c the
 * organization's configuration.
 */
#ifndef ADB_HTTP_METRICS_API_H
#define ADB_HTTP_METRICS_API_H

#include "http.h"

#include <libpq-fe.h>
#include <stdint.h>

/* An instant as the client's datetime, in SQL: 2026-01-02T03:04:05.678Z */
#define MX_ISO(x) "to_char((" x ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

#define MX_RANGE_MAX_DAYS 400   /* the longest range any metrics request covers */

/* A time range: both ends as text PostgreSQL reads (timestamptz) and in
 * microseconds since the epoch. */
typedef struct mx_range {
    char start[48], end[48];
    int64_t start_us, end_us;
} mx_range;

/* The range of a GET's query: startDate and endDate (RFC 3339), or
 * timeRange as "start/end" (ISO 8601 interval); the client's own encoding of
 * its timeRange object ("[object Object]") carries no dates and means the
 * default: the last default_s seconds. False with the 400 queued in *res
 * (the field at fault named). */
bool mx_range_from_query(adb_http_request *req, int64_t default_s, mx_range *r,
                         enum MHD_Result *res);

/* The same from a body's {"startDate","endDate"} object (member name: the
 * field in the 400), or the default when o is NULL. */
bool mx_range_from_json(adb_http_request *req, const json_t *o, const char *member,
                        int64_t default_s, mx_range *r, enum MHD_Result *res);

/* A query parameter that is "true" or "false" (def when absent). False with
 * the 400 queued otherwise. */
bool mx_bool_arg(adb_http_request *req, const char *name, bool def, bool *out,
                 enum MHD_Result *res);

/* A connection in a transaction reading as the calling organization (adb_tenant_begin)
 * whose statements are cut after AUDITDB_METRICS_TIMEOUT_MS (SET LOCAL
 * statement_timeout): what one metrics request may cost. NULL on failure. */
PGconn *mx_tenant_begin(adb_http_request *req);
/* The same for org of db, off a request (a stream's later pieces). */
PGconn *mx_tenant_begin_as(adb *db, const char *org);

/* The answer when a statement failed: 400 RANGE_TOO_COSTLY naming
 * timeRange when this thread's last statement was cut by the timeout, else
 * 503. */
enum MHD_Result mx_failed(adb_http_request *req);

/* The system answer's `cache` (metrics_cache.c): the process's in-memory
 * caches (API keys, roles, the log's tiles) summed in the client's
 * CacheMetrics, with each cache's own figures under `caches`. New reference. */
json_t *mx_cache_figures(adb_http_request *req);

/* Runs sql with params on c; the result (caller PQclear()s) or NULL on failure. */
PGresult *mx_exec(PGconn *c, const char *sql, int n, const char *const *params);

/* A result's cell as a JSON number (integer unless it has a fraction; 0 when NULL). */
json_t *mx_num(const PGresult *r, int row, int col);

/* A result's cell as a double (0 when NULL). */
double mx_dbl(const PGresult *r, int row, int col);

/* The client's datetime of now, and of an instant in microseconds. */
void mx_iso_us(int64_t us, char out[48]);

/* Parts of the answers the dashboard reuses (metrics_api.c); each takes a
 * connection in the tenant's transaction and returns a new object, NULL on a
 * database failure. */
json_t *mx_audit_figures(PGconn *c, const char *org, const mx_range *r, bool breakdown);
json_t *mx_request_figures(PGconn *c, const char *org, const mx_range *r);

/* The organization's series of kind (audit, performance, usage) over r by
 * unit (date_trunc's), from its rows, on c in the tenant's transaction: an
 * array of at most 1000 points {timestamp, figures...}, oldest first; NULL
 * on a database failure (metrics_series.c). */
json_t *mx_tenant_series(PGconn *c, const char *org, const char *kind, const mx_range *r, const char *unit);

/* The value of the catalogue's metric name over r for org (its default
 * aggregation, no filter), on c in the tenant's transaction: false when the
 * name is unknown or the database failed (metrics_series.c). */
bool mx_metric_value(PGconn *c, const char *org, const char *name, const mx_range *r, double *out);

/* The thresholds' round (metrics_thresholds.c; docs/monitoring.md
 * "Thresholds"): every interval_s seconds, each organization's
 * alertThresholds evaluated over the last window_s seconds; a metric above
 * its threshold raises (or folds into) the alert "metrics-threshold/<name>"
 * of the organization, one no longer above resolves it. 0: none (NULL). */
typedef struct mx_thresholds mx_thresholds;
mx_thresholds *mx_thresholds_start(adb *db, int interval_s, int window_s);
void mx_thresholds_stop(mx_thresholds *t);
/* One round now over the window [now - window_s, now): organizations
 * evaluated, or -1 (why in err). */
int mx_thresholds_round(adb *db, int window_s, char *err, size_t errlen);

/* The live routes (metrics_stream.c): POST /metrics/historical/stream,
 * GET /metrics/stream and /metrics/sse. */
enum MHD_Result adb_http_metrics_historical_stream(adb_http_request *req);
enum MHD_Result adb_http_metrics_live(adb_http_request *req);
/* The client's suppressAlert (its metrics service): POST /alerts/{id}/suppress
 * (alerts_suppress.c). */
enum MHD_Result adb_http_alerts_suppress(adb_http_request *req);

/* Whether the organization's configuration enables kind (audit,
 * performance, usage: enabledMetrics, metrics_config.c); false with the
 * answer queued: 403 METRICS_DISABLED naming it, or 503. */
bool mx_kind_enabled(adb_http_request *req, const char *kind, enum MHD_Result *res);

/* The routes (routes.c). */
enum MHD_Result adb_http_metrics_system(adb_http_request *req);
enum MHD_Result adb_http_metrics_audit(adb_http_request *req);
enum MHD_Result adb_http_metrics_performance(adb_http_request *req);
enum MHD_Result adb_http_metrics_usage(adb_http_request *req);
enum MHD_Result adb_http_metrics_dashboard(adb_http_request *req);
enum MHD_Result adb_http_metrics_historical(adb_http_request *req);
enum MHD_Result adb_http_metrics_system_historical(adb_http_request *req);
enum MHD_Result adb_http_metrics_export(adb_http_request *req);
enum MHD_Result adb_http_metrics_system_export(adb_http_request *req);
enum MHD_Result adb_http_metrics_query(adb_http_request *req);
enum MHD_Result adb_http_metrics_config_get(adb_http_request *req);
enum MHD_Result adb_http_metrics_config_put(adb_http_request *req);

#endif
