/*
 * db_routes.h - the database monitoring routes under /api/v1/db (db_monitor.c;
 * docs/monitoring.md, "Database monitoring"): operator keys only
 * (operator.db:read), process-wide figures, no tenant's data.
 */
#ifndef ADB_HTTP_DB_ROUTES_H
#define ADB_HTTP_DB_ROUTES_H

#include "http.h"

enum MHD_Result adb_http_db_performance(adb_http_request *req);
enum MHD_Result adb_http_db_slow_queries(adb_http_request *req);
enum MHD_Result adb_http_db_indexes(adb_http_request *req);
enum MHD_Result adb_http_db_tables(adb_http_request *req);
enum MHD_Result adb_http_db_suggestions(adb_http_request *req);

#endif
