/*
 * alerts_routes.h - the alerts routes (issue 20; docs/alerts.md "API and CLI"):
 * alerts.c (list, statistics, one alert, acknowledge, resolve, dismiss) and
 * alerts_config.c (configuration, silences).
 */
#ifndef ADB_HTTP_ALERTS_ROUTES_H
#define ADB_HTTP_ALERTS_ROUTES_H

#include "http.h"

enum MHD_Result adb_http_alerts_list(adb_http_request *req);
enum MHD_Result adb_http_alerts_statistics(adb_http_request *req);
enum MHD_Result adb_http_alerts_get(adb_http_request *req);
enum MHD_Result adb_http_alerts_acknowledge(adb_http_request *req);
enum MHD_Result adb_http_alerts_resolve(adb_http_request *req);
enum MHD_Result adb_http_alerts_dismiss(adb_http_request *req);
/* the same as the two above, of the service's pseudo-organization "_process",
 * for operator keys (operator.alerts:read): nothing of an organization */
enum MHD_Result adb_http_operator_alerts_list(adb_http_request *req);
enum MHD_Result adb_http_operator_alerts_get(adb_http_request *req);
enum MHD_Result adb_http_alerts_config_get(adb_http_request *req);
enum MHD_Result adb_http_alerts_config_post(adb_http_request *req);
enum MHD_Result adb_http_alerts_silences_list(adb_http_request *req);
enum MHD_Result adb_http_alerts_silences_create(adb_http_request *req);
enum MHD_Result adb_http_alerts_silences_get(adb_http_request *req);
enum MHD_Result adb_http_alerts_silences_expire(adb_http_request *req);

#endif
