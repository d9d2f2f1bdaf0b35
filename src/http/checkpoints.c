/*
 * checkpoints.c - the verifiable log's signed checkpoints over HTTP
 * (docs/checkpoints.md): GET /api/v1/audit/log/checkpoint answers the caller's
 * organization's latest checkpoint as its signed note (text/plain; the
 * newest with a witness's cosignature, else the newest), read as the tenant
 * from log_checkpoint; GET /api/v1/audit/log/vkey the log key's verifier key.
 * Both need audit.log:read; what they answer is public to whoever holds it.
 */
#include "http.h"
#include "../core/adb_internal.h"
#include "../core/util.h"

#include <stdlib.h>
#include <string.h>

static enum MHD_Result no_log(adb_http_request *req)
{
    return adb_http_send_error(req, MHD_HTTP_NOT_FOUND, "NOT_FOUND",
                               "this server keeps no verifiable log", NULL);
}

enum MHD_Result adb_http_log_checkpoint(adb_http_request *req)
{
    adb_status st;
    const char *p[] = { req->who.organization_id };
    PGresult *r;
    char *text;

    if (!adb__db_log_signer(req->state->db))
        return no_log(req);
    r = adb_tenant_query(req->state->db, req->who.organization_id,
                         "SELECT note FROM log_checkpoint WHERE organization_id = $1"
                         " ORDER BY (cosignatures > 0) DESC, tree_size DESC LIMIT 1",
                         1, p, ADB_PLAN_AUTO, NULL, 0, NULL, &st);
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        return adb_http_send_retry(req, MHD_HTTP_SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE",
                                   "the database is unavailable: retry later", 1000);
    }
    if (PQntuples(r) == 0) {
        PQclear(r);
        return adb_http_send_error(req, MHD_HTTP_NOT_FOUND, "NOT_FOUND",
                                   "the log has signed no checkpoint of this organization yet",
                                   NULL);
    }
    text = strndup(PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0));
    size_t len = (size_t)PQgetlength(r, 0, 0);
    PQclear(r);
    if (!text)
        return MHD_NO;
    return adb_http_send_text(req, MHD_HTTP_OK, text, len, "text/plain; charset=utf-8");
}

enum MHD_Result adb_http_log_vkey(adb_http_request *req)
{
    const adb__note_signer *s = adb__db_log_signer(req->state->db);
    adb__note_verifier v;
    char vkey[ADB_NOTE_VKEY_MAX];
    char *text;

    if (!s)
        return no_log(req);
    adb__note_signer_verifier(s, &v);
    if (!adb__note_vkey_format(&v, vkey, sizeof(vkey)) || !(text = adb__aprintf("%s\n", vkey)))
        return MHD_NO;
    return adb_http_send_text(req, MHD_HTTP_OK, text, strlen(text), "text/plain; charset=utf-8");
}
