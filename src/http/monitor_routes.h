/*
 * monitor_routes.h - the errors and configuration-history routes (issue 20;
 * docs/monitoring.md): errors_api.c (operator only) and config_changes.c
 * (the tenant's).
 */
#ifndef ADB_HTTP_MONITOR_ROUTES_H
#define ADB_HTTP_MONITOR_ROUTES_H

#include "http.h"

enum MHD_Result adb_http_errors_list(adb_http_request *req);
enum MHD_Result adb_http_errors_aggregations(adb_http_request *req);
enum MHD_Result adb_http_errors_resolve(adb_http_request *req);
enum MHD_Result adb_http_config_changes(adb_http_request *req);

/* Shared by both files: limit (1..max), offset, and RFC 3339 startDate/endDate
 * normalized into since/until (empty when absent); false after the 400. */
bool adb_http_monitor_page(adb_http_request *req, long long max, long long *limit,
                           long long *offset, char since[40], char until[40],
                           enum MHD_Result *res);

#endif
