/*
 * config_changes.c - GET /api/v1/config/changes: the organization's
 * configuration history (docs/monitoring.md, "Configuration changes"), read
 * as the tenant: row-level security keeps every other organization's rows
 * and the process-wide ones out. Permission config.changes:read.
 */
#include "monitor_routes.h"
#include "../monitor/config_history.h"

#include <string.h>

enum MHD_Result adb_http_config_changes(adb_http_request *req)
{
    adb__config_changes_query q = { .org = req->who.organization_id };
    enum MHD_Result res = MHD_NO;
    char since[40], until[40], err[256];
    adb_status st;
    json_t *out = NULL;

    if (!adb_http_monitor_page(req, ADB_CONFIG_CHANGES_LIMIT_MAX, &q.limit, &q.offset, since,
                               until, &res))
        return res;
    q.field = adb_http_arg(req, "field");
    q.changed_by = adb_http_arg(req, "changedBy");
    if (q.field && strlen(q.field) > 255)
        return adb_http_send_invalid(req, "field", "EXCEEDS_MAX_LENGTH",
                                     "field must have at most 255 characters");
    if (q.changed_by && strlen(q.changed_by) > 255)
        return adb_http_send_invalid(req, "changedBy", "EXCEEDS_MAX_LENGTH",
                                     "changedBy must have at most 255 characters");
    q.since = since[0] ? since : NULL;
    q.until = until[0] ? until : NULL;
    PGconn *c = adb_tenant_begin(req->state->db, q.org, &st, err, sizeof(err));
    if (!c)
        return adb_http_send_unavailable(req);
    st = adb__config_changes_list(c, &q, &out, err, sizeof(err));
    adb_tenant_end(req->state->db, c, false);
    if (st != ADB_OK)
        return adb_http_send_unavailable(req);
    return adb_http_send_json(req, MHD_HTTP_OK, out);
}
