/*
 * http.h - what route handlers see: the request, the shared state and the
 * response helpers (internal to the HTTP front).
 */
#ifndef ADB_HTTP_H
#define ADB_HTTP_H

#include <jansson.h>
#include <microhttpd.h>
#include <stdbool.h>
#include "auditdb.h"

#define ADB_REQUEST_ID_MAX 65

/* State shared by every request; lives as long as the server. */
typedef struct adb_http_state {
    adb_pool *pool;
    bool embedded;
    const adb_migration_set *migrations;
    double started_ms;
} adb_http_state;

/* One request; freed when the response completes. */
typedef struct adb_http_request {
    struct MHD_Connection *conn;
    adb_http_state *state;
    char *method, *path;        /* owned */
    char request_id[ADB_REQUEST_ID_MAX];
    double started_ms;
    unsigned status;
    bool has_body;
} adb_http_request;

/* Runs the route matching req (routes.c). */
enum MHD_Result adb_http_dispatch(adb_http_request *req);

/* Queues body as the JSON response (takes the reference to body). */
enum MHD_Result adb_http_send_json(adb_http_request *req, unsigned status, json_t *body);

/* Queues {"error":{"code","message","details","requestId"}}; takes details
 * (NULL: {}). */
enum MHD_Result adb_http_send_error(adb_http_request *req, unsigned status, const char *code,
                                    const char *message, json_t *details);

/* Current UTC time as 2026-01-02T03:04:05.678Z. */
void adb_http_iso_now(char out[40]);

#endif
