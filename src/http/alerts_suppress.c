/*
 * alerts_suppress.c - POST /api/v1/alerts/{id}/suppress {"duration", "reason"}: the
 * client's suppressAlert (smart-logs' services/metrics.ts; docs/alerts.md "Silences"). A
 * silence of `duration` minutes from now whose matchers name the alert's source and
 * deduplication key, and the alert marked silenced by it (notifications leave it out), in one
 * transaction as the tenant; the silence's creation is an audit event of the organization
 * (alert.silence.create), as with POST /api/v1/alerts/silences. Answers the alert.
 */
#include "metrics_api.h"
#include "../alert/alert.h"
#include "../core/util.h"
#include "../event/event.h"

#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#define SUPPRESS_MINUTES_MAX (366 * 24 * 60) /* a silence lasts at most 366 days */
#define REASON_MAX 500

static bool alert_id_ok(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > 255)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.", id[i]))
            return false;
    return true;
}

enum MHD_Result adb_http_alerts_suppress(adb_http_request *req)
{
    static const char *const known[] = { "duration", "reason", NULL };
    enum MHD_Result res = MHD_NO;
    const char *id = req->param[0], *org = req->who.organization_id;
    json_t *body = adb_http_body_object(req, known, "the body is {\"duration\": minutes, \"reason\": text}", &res);
    if (!body)
        return res;
    json_t *dj = json_object_get(body, "duration"), *rj = json_object_get(body, "reason");
    double minutes = json_is_number(dj) ? json_number_value(dj) : -1;
    if (minutes <= 0 || minutes > SUPPRESS_MINUTES_MAX) {
        json_decref(body);
        return adb_http_send_invalid(req, "duration", "INVALID_VALUE",
                                     "duration is a number of minutes above 0 and at most 527040 (366 days)");
    }
    if (!json_is_string(rj) || json_string_length(rj) == 0 || json_string_length(rj) > REASON_MAX ||
        strlen(json_string_value(rj)) != json_string_length(rj)) {
        json_decref(body);
        return adb_http_send_invalid(req, "reason", "INVALID_VALUE", "reason is a text of 1 to 500 bytes");
    }
    if (!alert_id_ok(id)) {
        json_decref(body);
        return adb_http_send_error(req, MHD_HTTP_NOT_FOUND, "NOT_FOUND", "no such alert in the organization", NULL);
    }
    int64_t start_us = adb__alert_now_ms() * 1000, end_us = start_us + (int64_t)(minutes * 60e6);
    char start[ADB_TS_TEXT_MAX], end[ADB_TS_TEXT_MAX], sid[48], hex[33];
    unsigned char rnd[16];
    adb__timestamp_format(start_us, start);
    adb__timestamp_format(end_us, end);
    if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
        json_decref(body);
        return adb_http_send_unavailable(req);
    }
    adb__hex(rnd, sizeof(rnd), hex);
    adb__fmt(sid, sizeof(sid), "silence-%s", hex);

    adb_status st;
    PGconn *c = adb_tenant_begin(req->state->db, org, &st, NULL, 0);
    if (!c) {
        json_decref(body);
        return adb_http_send_unavailable(req);
    }
    const char *p1[] = { id, org };
    PGresult *r = PQexecParams(c, "SELECT dedup_key, source, status FROM alerts WHERE id = $1"
                                  " AND organization_id = $2 FOR UPDATE", 2, NULL, p1, NULL, NULL, 0);
    bool ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    int code = 0; /* 404, 409 */
    char why[160] = "";
    char *mt = NULL;
    if (ok && PQntuples(r) == 0) {
        code = MHD_HTTP_NOT_FOUND;
    } else if (ok && (PQgetisnull(r, 0, 0) || PQgetisnull(r, 0, 1))) {
        code = MHD_HTTP_CONFLICT;
        adb__fmt(why, sizeof(why), "the alert has no deduplication key: silence it by its matchers (POST /api/v1/alerts/silences)");
    } else if (ok && strcmp(PQgetvalue(r, 0, 2), "active") && strcmp(PQgetvalue(r, 0, 2), "acknowledged")) {
        code = MHD_HTTP_CONFLICT;
        adb__fmt(why, sizeof(why), "the alert is %s: nothing to suppress", PQgetvalue(r, 0, 2));
    } else if (ok) {
        json_t *m = json_pack("{s:s, s:s}", "source", PQgetvalue(r, 0, 1), "dedupKey", PQgetvalue(r, 0, 0));
        mt = m ? json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        json_decref(m);
        ok = mt != NULL;
    }
    PQclear(r);
    r = NULL;
    if (ok && !code) {
        const char *p2[] = { sid, org, req->who.key_id[0] ? req->who.key_id : "unknown", json_string_value(rj), mt,
                             start, end };
        r = PQexecParams(c, "INSERT INTO alert_silences (id, organization_id, created_by, reason, matchers,"
                            " starts_at, ends_at) VALUES ($1, $2, $3, $4, $5::jsonb, $6::timestamptz, $7::timestamptz)",
                         7, NULL, p2, NULL, NULL, 0);
        ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        const char *p3[] = { sid, start, id, org };
        r = ok ? PQexecParams(c, "UPDATE alerts SET silenced = true, silence_id = $1, updated_at = $2::timestamptz"
                                 " WHERE id = $3 AND organization_id = $4", 4, NULL, p3, NULL, NULL, 0)
               : NULL;
        ok = ok && PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        r = ok ? PQexecParams(c, "SELECT " ADB_ALERT_COLUMNS " FROM alerts a WHERE a.id = $1 AND a.organization_id = $2",
                              2, NULL, p1, NULL, NULL, 0)
               : NULL;
        ok = ok && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    }
    adb_tenant_end(req->state->db, c, ok && !code);
    if (!ok) {
        PQclear(r);
        free(mt);
        json_decref(body);
        return adb_http_send_unavailable(req);
    }
    if (code) {
        free(mt);
        json_decref(body);
        return code == MHD_HTTP_NOT_FOUND
                   ? adb_http_send_error(req, MHD_HTTP_NOT_FOUND, "NOT_FOUND", "no such alert in the organization", NULL)
                   : adb_http_send_error(req, MHD_HTTP_CONFLICT, "INVALID_STATE", why, NULL);
    }
    json_t *alert = adb__alert_row_json(r, 0);
    PQclear(r);
    /* the silence's creation in the organization's trail (as POST /alerts/silences logs it) */
    char ts[ADB_TS_TEXT_MAX];
    adb__timestamp_format(adb__now_us(), ts);
    json_t *ev = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s}}", "timestamp", ts,
                           "action", "alert.silence.create", "status", "success", "principalId",
                           req->who.key_id[0] ? req->who.key_id : "unknown", "organizationId", org,
                           "targetResourceType", "AlertSilence", "targetResourceId", sid, "dataClassification",
                           "INTERNAL", "details", "reason", json_string_value(rj), "matchers", mt, "startsAt", start,
                           "endsAt", end, "alertId", id);
    char *text = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
    json_decref(ev);
    adb_log_options lo = { .organization_id = org };
    adb_log_result lr;
    if (text)
        (void)adb_log_json(req->state->db, text, strlen(text), &lo, &lr);
    free(text);
    free(mt);
    json_decref(body);
    if (!alert)
        return adb_http_send_unavailable(req);
    return adb_http_send_json(req, MHD_HTTP_OK, alert);
}
