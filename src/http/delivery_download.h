/*
 * delivery_download.h - the route that serves download links
 * (delivery_download.c; docs/delivery.md, "Download links").
 */
#ifndef ADB_HTTP_DELIVERY_DOWNLOAD_H
#define ADB_HTTP_DELIVERY_DOWNLOAD_H

#include "http.h"

/* GET /api/v1/delivery/downloads/{id}?expires=..&signature=..: no key; the
 * signature is the authority. */
enum MHD_Result adb_http_delivery_download(adb_http_request *req);

#endif
