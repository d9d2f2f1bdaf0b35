/*
 * sched_routes.h - the HTTP handlers of scheduled reports
 * (scheduled_reports.c) and report templates (report_templates.c);
 * docs/reports.md, "API and CLI".
 */
#ifndef ADB_HTTP_SCHED_ROUTES_H
#define ADB_HTTP_SCHED_ROUTES_H

#include "http.h"

enum MHD_Result adb_http_sched_list(adb_http_request *req);
enum MHD_Result adb_http_sched_create(adb_http_request *req);
enum MHD_Result adb_http_sched_upcoming(adb_http_request *req);
enum MHD_Result adb_http_sched_get(adb_http_request *req);
enum MHD_Result adb_http_sched_update(adb_http_request *req);
enum MHD_Result adb_http_sched_delete(adb_http_request *req);
enum MHD_Result adb_http_sched_execute(adb_http_request *req);
enum MHD_Result adb_http_sched_executions(adb_http_request *req);
enum MHD_Result adb_http_sched_execution_get(adb_http_request *req);
enum MHD_Result adb_http_sched_execution_cancel(adb_http_request *req);
enum MHD_Result adb_http_sched_execution_download(adb_http_request *req);
enum MHD_Result adb_http_sched_enable(adb_http_request *req);
enum MHD_Result adb_http_sched_disable(adb_http_request *req);

enum MHD_Result adb_http_templates_list(adb_http_request *req);
enum MHD_Result adb_http_templates_create(adb_http_request *req);
enum MHD_Result adb_http_templates_get(adb_http_request *req);
enum MHD_Result adb_http_templates_update(adb_http_request *req);
enum MHD_Result adb_http_templates_delete(adb_http_request *req);

#endif
