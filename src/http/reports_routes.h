/*
 * reports_routes.h - the HTTP handlers of on-demand compliance reports
 * (reports.c; docs/reports.md, "API and CLI"). Kept out of http.h so that
 * each helper's routes add lines to their own header.
 */
#ifndef ADB_HTTP_REPORTS_ROUTES_H
#define ADB_HTTP_REPORTS_ROUTES_H

#include "http.h"

enum MHD_Result adb_http_reports_hipaa(adb_http_request *req);
enum MHD_Result adb_http_reports_gdpr(adb_http_request *req);
enum MHD_Result adb_http_reports_integrity(adb_http_request *req);
enum MHD_Result adb_http_reports_general(adb_http_request *req);
enum MHD_Result adb_http_reports_custom(adb_http_request *req);
enum MHD_Result adb_http_reports_status(adb_http_request *req);
enum MHD_Result adb_http_reports_download(adb_http_request *req);
enum MHD_Result adb_http_reports_stream(adb_http_request *req);
enum MHD_Result adb_http_reports_cancel(adb_http_request *req);
enum MHD_Result adb_http_reports_history(adb_http_request *req);

#endif
