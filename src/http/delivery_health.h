/*
 * delivery_health.h - the routes of destination health (delivery_health.c).
 */
#ifndef ADB_HTTP_DELIVERY_HEALTH_H
#define ADB_HTTP_DELIVERY_HEALTH_H

#include "http.h"

enum MHD_Result adb_http_delivery_health_get(adb_http_request *req);
enum MHD_Result adb_http_delivery_enable(adb_http_request *req);
enum MHD_Result adb_http_delivery_disable(adb_http_request *req);

#endif
