/*
 * detection_rules.h - the detection rules routes (issue 20; docs/alerts.md "Detection rules"):
 * /api/v1/alerts/rules (list, create), /alerts/rules/{id} (get, new version), its versions,
 * and /alerts/detection-settings (the organization's time zone), in detection_rules.c.
 */
#ifndef ADB_HTTP_DETECTION_RULES_H
#define ADB_HTTP_DETECTION_RULES_H

#include "http.h"

enum MHD_Result adb_http_rules_list(adb_http_request *req);
enum MHD_Result adb_http_rules_create(adb_http_request *req);
enum MHD_Result adb_http_rules_get(adb_http_request *req);
enum MHD_Result adb_http_rules_update(adb_http_request *req);
enum MHD_Result adb_http_rules_versions(adb_http_request *req);
enum MHD_Result adb_http_detect_settings_get(adb_http_request *req);
enum MHD_Result adb_http_detect_settings_put(adb_http_request *req);

#endif
