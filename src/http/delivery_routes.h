/*
 * delivery_routes.h - the delivery service's routes (docs/delivery.md), as
 * smart-logs' client delivery service calls them. One block per file.
 */
#ifndef ADB_HTTP_DELIVERY_ROUTES_H
#define ADB_HTTP_DELIVERY_ROUTES_H

#include "http.h"

/* destinations (delivery_destinations.c) */
enum MHD_Result adb_http_delivery_dest_list(adb_http_request *req);
enum MHD_Result adb_http_delivery_dest_create(adb_http_request *req);
enum MHD_Result adb_http_delivery_dest_get(adb_http_request *req);
enum MHD_Result adb_http_delivery_dest_update(adb_http_request *req);
enum MHD_Result adb_http_delivery_dest_delete(adb_http_request *req);
enum MHD_Result adb_http_delivery_dest_validate(adb_http_request *req);
enum MHD_Result adb_http_delivery_dest_test(adb_http_request *req);
enum MHD_Result adb_http_delivery_dest_rotate(adb_http_request *req);

/* deliveries, metrics and the delivery health (delivery_deliveries.c, docs/delivery.md) */
enum MHD_Result adb_http_deliveries_create(adb_http_request *req);
enum MHD_Result adb_http_deliveries_list(adb_http_request *req);
enum MHD_Result adb_http_deliveries_get(adb_http_request *req);
enum MHD_Result adb_http_deliveries_retry(adb_http_request *req);
enum MHD_Result adb_http_delivery_metrics(adb_http_request *req);
enum MHD_Result adb_http_delivery_health(adb_http_request *req);
/* health and the circuit breaker (delivery_health.c) */
enum MHD_Result adb_http_delivery_health_get(adb_http_request *req);
enum MHD_Result adb_http_delivery_enable(adb_http_request *req);
enum MHD_Result adb_http_delivery_disable(adb_http_request *req);
/* download links: no key, the signed URL is the authority (delivery_download.c) */
enum MHD_Result adb_http_delivery_download(adb_http_request *req);
enum MHD_Result adb_http_delivery_download_revoke(adb_http_request *req);

#endif
