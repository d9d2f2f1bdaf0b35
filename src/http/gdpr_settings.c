/*
 * gdpr_settings.c - GET and PUT /api/v1/compliance/gdpr/settings: what the
 * organization declares for its GDPR exports (docs/gdpr.md, Purposes and
 * Consultations): the map of its actions to purposes of processing (with
 * their legal basis) and who consulted a subject's data is shown in an
 * export ('names', 'roles' or 'hidden'). Read and written as the tenant;
 * a change is recorded as a security event.
 */
#include "http.h"
#include "../monitor/config_change.h"
#include "../core/util.h"

#include <stdlib.h>
#include <string.h>

#define PURPOSES_MAX 1000  /* actions one PUT maps */

/* The settings object, read on c. NULL on a database error. */
static json_t *settings(PGconn *c, const char *org)
{
    const char *p[] = { org };
    PGresult *r = PQexecParams(c, "SELECT action, purpose, legal_basis FROM gdpr_action_purpose"
                                  " WHERE organization_id = $1 ORDER BY action", 1, NULL, p, NULL, NULL, 0);
    PGresult *q = PQexecParams(c, "SELECT consulters FROM gdpr_export_policy WHERE organization_id = $1",
                               1, NULL, p, NULL, NULL, 0);
    json_t *o = NULL;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQresultStatus(q) == PGRES_TUPLES_OK) {
        json_t *purposes = json_object();
        for (int i = 0; i < PQntuples(r); i++)
            json_object_set_new(purposes, PQgetvalue(r, i, 0),
                                json_pack("{s:s, s:s?}", "purpose", PQgetvalue(r, i, 1), "legalBasis",
                                          PQgetisnull(r, i, 2) ? NULL : PQgetvalue(r, i, 2)));
        o = json_pack("{s:s, s:o, s:s}", "organizationId", org, "purposes", purposes, "consultations",
                      PQntuples(q) == 1 ? PQgetvalue(q, 0, 0) : "roles");
    }
    PQclear(r);
    PQclear(q);
    return o;
}

enum MHD_Result adb_http_gdpr_settings_get(adb_http_request *req)
{
    adb_status st;
    char err[256];
    PGconn *c = adb_tenant_begin(req->state->db, req->who.organization_id, &st, err, sizeof(err));
    if (!c)
        return adb_http_send_unavailable(req);
    json_t *o = settings(c, req->who.organization_id);
    adb_tenant_end(req->state->db, c, o != NULL);
    return o ? adb_http_send_json(req, MHD_HTTP_OK, o) : adb_http_send_unavailable(req);
}

/* Checks the body; NULL with the 400 queued, else the field at fault is none. */
static bool check(adb_http_request *req, json_t *body, enum MHD_Result *res)
{
    const char *key;
    json_t *v;
    char msg[200], field[300];

    json_object_foreach(body, key, v) {
        if (strcmp(key, "purposes") && strcmp(key, "consultations")) {
            adb__fmt(msg, sizeof(msg), "unknown member \"%.64s\"", key);
            adb__utf8_repair(msg);
            *res = adb_http_send_invalid(req, key, "UNKNOWN_FIELD", msg);
            return false;
        }
    }
    if ((v = json_object_get(body, "consultations"))) {
        const char *s = json_string_value(v);
        if (!s || (strcmp(s, "names") && strcmp(s, "roles") && strcmp(s, "hidden"))) {
            *res = adb_http_send_invalid(req, "consultations", "INVALID_VALUE", "consultations must be names, roles or hidden");
            return false;
        }
    }
    json_t *p = json_object_get(body, "purposes");
    if (p && (!json_is_object(p) || json_object_size(p) > PURPOSES_MAX)) {
        *res = adb_http_send_invalid(req, "purposes", "INVALID_TYPE",
                       "purposes must be an object of at most 1000 actions: {\"action\": {\"purpose\": ..., \"legalBasis\": ...} or null}");
        return false;
    }
    json_object_foreach(p, key, v) {
        json_t *pu = json_object_get(v, "purpose"), *lb = json_object_get(v, "legalBasis");
        const char *k;
        json_t *m;
        adb__fmt(field, sizeof(field), "purposes.%.255s", key);
        adb__utf8_repair(field);
        bool ok = strlen(key) >= 1 && strlen(key) <= 255;
        if (ok && json_is_object(v)) {
            json_object_foreach(v, k, m)
                ok = ok && (!strcmp(k, "purpose") || !strcmp(k, "legalBasis"));
            ok = ok && json_is_string(pu) && json_string_length(pu) >= 1 && json_string_length(pu) <= 1000 &&
                 (!lb || json_is_null(lb) || (json_is_string(lb) && json_string_length(lb) <= 255));
        } else {
            ok = ok && json_is_null(v);
        }
        if (!ok) {
            *res = adb_http_send_invalid(req, field, "INVALID_VALUE",
                           "each action maps to {\"purpose\": 1 to 1000 characters, \"legalBasis\": at most 255} or null (removed)");
            return false;
        }
    }
    return true;
}

enum MHD_Result adb_http_gdpr_settings_put(adb_http_request *req)
{
    json_error_t je;
    json_t *body = req->body_len ? json_loadb(req->body, req->body_len, 0, &je) : NULL;
    enum MHD_Result res = MHD_NO;
    const char *org = req->who.organization_id, *key;
    json_t *v;
    adb_status st;
    char err[256];

    if (!json_is_object(body)) {
        json_decref(body);
        return adb_http_send_invalid(req, "", "INVALID_JSON",
                       "the body must be a JSON object: {\"purposes\": {...}, \"consultations\": \"names\"|\"roles\"|\"hidden\"}");
    }
    if (!check(req, body, &res)) {
        json_decref(body);
        return res;
    }
    PGconn *c = adb_tenant_begin(req->state->db, org, &st, err, sizeof(err));
    if (!c) {
        json_decref(body);
        return adb_http_send_unavailable(req);
    }
    json_t *before = settings(c, org); /* the configuration history's previous value */
    bool ok = before != NULL;
    json_object_foreach(json_object_get(body, "purposes"), key, v) {
        PGresult *r;
        if (json_is_null(v)) {
            const char *p[] = { org, key };
            r = PQexecParams(c, "DELETE FROM gdpr_action_purpose WHERE organization_id = $1 AND action = $2",
                             2, NULL, p, NULL, NULL, 0);
        } else {
            const char *p[] = { org, key, json_string_value(json_object_get(v, "purpose")),
                                json_string_value(json_object_get(v, "legalBasis")), req->who.key_id };
            r = PQexecParams(c, "INSERT INTO gdpr_action_purpose (organization_id, action, purpose, legal_basis,"
                                " updated_by) VALUES ($1, $2, $3, $4, $5)"
                                " ON CONFLICT (organization_id, action) DO UPDATE SET purpose = $3,"
                                " legal_basis = $4, updated_by = $5, updated_at = now()",
                             5, NULL, p, NULL, NULL, 0);
        }
        ok = ok && PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
    }
    if (ok && (v = json_object_get(body, "consultations"))) {
        const char *p[] = { org, json_string_value(v), req->who.key_id };
        PGresult *r = PQexecParams(c, "INSERT INTO gdpr_export_policy (organization_id, consulters, updated_by)"
                                      " VALUES ($1, $2, $3) ON CONFLICT (organization_id) DO UPDATE"
                                      " SET consulters = $2, updated_by = $3, updated_at = now()",
                                   3, NULL, p, NULL, NULL, 0);
        ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
    }
    json_t *o = ok ? settings(c, org) : NULL;
    adb__config_change_rec cc = { 0 };
    char by[40];
    adb__fmt(by, sizeof(by), "apikey:%s", req->who.key_id);
    if (o && adb__config_change_json_tx(c, &cc, org, "gdpr_settings", before, o, by, NULL, err,
                                        sizeof(err)) != ADB_OK) {
        json_decref(o);
        o = NULL;
    }
    json_decref(before);
    adb_tenant_end(req->state->db, c, o != NULL);
    adb__config_change_rec_done(req->state->db, &cc, o != NULL);
    json_decref(body);
    if (!o)
        return adb_http_send_unavailable(req);
    adb_http_security_event(req, "gdpr_settings_changed", "LOW",
                            "the GDPR export's purposes or consultations policy changed");
    return adb_http_send_json(req, MHD_HTTP_OK, o);
}
