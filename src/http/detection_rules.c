/*
 * detection_rules.c - /api/v1/alerts/rules and /alerts/detection-settings
 * (detection_rules.h) over src/detect/rule_store.c. Every change is a new
 * version of the rule (the previous ones stay, listed by .../versions), a
 * config_change_event row and an audit event.
 */
#include "detection_rules.h"
#include "../detect/rule_store.h"
#include "../core/util.h"

#include <string.h>

static enum MHD_Result answer(adb_http_request *req, adb_status st, json_t *out, unsigned ok,
                              const adb__rule_error *e)
{
    if (st == ADB_OK)
        return adb_http_send_json(req, ok, out);
    if (st == ADB_ERR_NOT_FOUND)
        return adb_http_send_error(req, MHD_HTTP_NOT_FOUND, "NOT_FOUND", "no such detection rule",
                                   json_pack("{s:s}", "id", req->param[0] ? req->param[0] : ""));
    if (st == ADB_ERR_INVALID && e && strcmp(e->code, "RULE_EXISTS") == 0)
        return adb_http_send_error(req, MHD_HTTP_CONFLICT, "RULE_EXISTS", e->message,
                                   json_pack("{s:s}", "field", e->field));
    if (st == ADB_ERR_INVALID && e)
        return adb_http_send_invalid(req, e->field, e->code, e->message);
    return adb_http_send_unavailable(req);
}

static void who_of(adb_http_request *req, char *who, size_t len)
{
    adb__fmt(who, len, "apikey:%s", req->who.key_id);
}

enum MHD_Result adb_http_rules_list(adb_http_request *req)
{
    json_t *rules = NULL;
    adb_status st = adb__rules_list(req->state->db, req->who.organization_id, &rules);
    return answer(req, st, st == ADB_OK ? json_pack("{s:o}", "rules", rules) : NULL, MHD_HTTP_OK,
                  NULL);
}

enum MHD_Result adb_http_rules_get(adb_http_request *req)
{
    json_t *out = NULL;
    adb_status st = adb__rules_get(req->state->db, req->who.organization_id, req->param[0], &out);
    return answer(req, st, out, MHD_HTTP_OK, NULL);
}

enum MHD_Result adb_http_rules_versions(adb_http_request *req)
{
    json_t *v = NULL;
    adb_status st = adb__rules_versions(req->state->db, req->who.organization_id, req->param[0], &v);
    return answer(req, st, st == ADB_OK ? json_pack("{s:s, s:o}", "id", req->param[0], "versions", v)
                                        : NULL, MHD_HTTP_OK, NULL);
}

/* POST {id, definition, enabled?, reason?} or PUT {definition?, enabled?, reason?} */
static enum MHD_Result set(adb_http_request *req, bool create)
{
    static const char *const known_post[] = { "id", "definition", "enabled", "reason", NULL };
    static const char *const known_put[] = { "definition", "enabled", "reason", NULL };
    enum MHD_Result res;
    adb__rule_error e = { 0 };
    const char *id = create ? NULL : req->param[0], *reason = NULL;
    char who[64];
    json_t *out = NULL, *def, *en;
    json_t *body = adb_http_body_object(req, create ? known_post : known_put,
                                        create ? "{\"id\": \"...\", \"definition\": {...}}"
                                               : "{\"definition\": {...}, \"enabled\": true}",
                                        &res);
    if (!body)
        return res;
    if (create && !adb_http_member_str(req, body, "id", NULL, 64, &id, &res)) {
        json_decref(body);
        return res;
    }
    if (!adb_http_member_str(req, body, "reason", NULL, 250, &reason, &res)) {
        json_decref(body);
        return res;
    }
    def = json_object_get(body, "definition");
    if (def && !json_is_object(def)) {
        json_decref(body);
        return adb_http_send_invalid(req, "definition", "INVALID_TYPE",
                                     "definition must be a JSON object (docs/alerts.md)");
    }
    en = json_object_get(body, "enabled");
    if (en && !json_is_boolean(en)) {
        json_decref(body);
        return adb_http_send_invalid(req, "enabled", "INVALID_TYPE", "enabled must be true or false");
    }
    if (!create && !def && !en) {
        json_decref(body);
        return adb_http_send_invalid(req, "definition", "REQUIRED_FIELD_MISSING",
                                     "give a definition, enabled, or both");
    }
    if (create && !id) {
        json_decref(body);
        return adb_http_send_invalid(req, "id", "REQUIRED_FIELD_MISSING", "a new rule needs its id");
    }
    who_of(req, who, sizeof(who));
    adb_status st = adb__rules_set(req->state->db, req->who.organization_id, id, create, def,
                                   en ? json_is_true(en) : -1, reason, who, &out, &e);
    json_decref(body);
    return answer(req, st, out, create ? MHD_HTTP_CREATED : MHD_HTTP_OK, &e);
}

enum MHD_Result adb_http_rules_create(adb_http_request *req) { return set(req, true); }
enum MHD_Result adb_http_rules_update(adb_http_request *req) { return set(req, false); }

enum MHD_Result adb_http_detect_settings_get(adb_http_request *req)
{
    json_t *out = NULL;
    adb_status st = adb__detect_settings_get(req->state->db, req->who.organization_id, &out);
    return answer(req, st, out, MHD_HTTP_OK, NULL);
}

enum MHD_Result adb_http_detect_settings_put(adb_http_request *req)
{
    static const char *const known[] = { "timezone", NULL };
    enum MHD_Result res;
    adb__rule_error e = { 0 };
    const char *tz = NULL;
    char who[64];
    json_t *out = NULL;
    json_t *body = adb_http_body_object(req, known, "{\"timezone\": \"Europe/Berlin\"}", &res);
    if (!body)
        return res;
    if (!adb_http_member_str(req, body, "timezone", NULL, 63, &tz, &res)) {
        json_decref(body);
        return res;
    }
    if (!tz) {
        json_decref(body);
        return adb_http_send_invalid(req, "timezone", "REQUIRED_FIELD_MISSING",
                                     "timezone is required");
    }
    who_of(req, who, sizeof(who));
    adb_status st = adb__detect_settings_set(req->state->db, req->who.organization_id, tz, who,
                                             &out, &e);
    json_decref(body);
    return answer(req, st, out, MHD_HTTP_OK, &e);
}
