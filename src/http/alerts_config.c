/*
 * alerts_config.c - the organization's alert configuration and silences
 * (docs/alerts.md "Silences", "API and CLI"):
 *   GET  /api/v1/alerts/config                  AlertsConfiguration + notification (alerts:read)
 *   POST /api/v1/alerts/config                  members given replace the stored ones (alerts:manage)
 *   GET  /api/v1/alerts/silences                the silences, in force first (alerts:read)
 *   POST /api/v1/alerts/silences                {reason, matchers, startsAt?, endsAt} (alerts:manage)
 *   GET  /api/v1/alerts/silences/{id}           one silence (alerts:read)
 *   DELETE /api/v1/alerts/silences/{id}         expire it now (alerts:manage)
 * Each change is a configuration change (config_change_event, then its audit
 * event); a silence's change also has a config_change_event row in its
 * transaction, and its own audit event (alert.silence.*) instead of
 * config.change.
 */
#include "http.h"
#include "alerts_routes.h"
#include "../alert/alert.h"
#include "../core/adb_internal.h"
#include "../core/util.h"
#include "../event/event.h"
#include "../monitor/config_change.h"

#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#define REASON_MAX 2000
#define SILENCE_DAYS_MAX 366

/* ---- configuration ------------------------------------------------------ */

/* The stored configuration of org on c (NULL: none stored; *dberr on failure). */
static json_t *stored_config(PGconn *c, const char *org, bool lock, bool *dberr)
{
    const char *p[] = { org };
    PGresult *r = PQexecParams(c, lock ? "SELECT config::text FROM alert_config WHERE"
                                         " organization_id = $1 FOR UPDATE"
                                       : "SELECT config::text FROM alert_config WHERE"
                                         " organization_id = $1",
                               1, NULL, p, NULL, NULL, 0);
    json_t *cfg = NULL;

    *dberr = PQresultStatus(r) != PGRES_TUPLES_OK;
    if (!*dberr && PQntuples(r) == 1)
        cfg = json_loads(PQgetvalue(r, 0, 0), 0, NULL);
    PQclear(r);
    return cfg;
}

enum MHD_Result adb_http_alerts_config_get(adb_http_request *req)
{
    adb_status st;
    bool dberr;
    char err[256];
    PGconn *c = adb_tenant_begin(req->state->db, req->who.organization_id, &st, err, sizeof(err));

    if (!c)
        return adb_http_send_unavailable(req);
    json_t *stored = stored_config(c, req->who.organization_id, false, &dberr);
    adb_tenant_end(req->state->db, c, true);
    if (dberr)
        return adb_http_send_unavailable(req);
    json_t *cfg = adb__alert_config_merge(stored, NULL);
    json_decref(stored);
    return adb_http_send_json(req, MHD_HTTP_OK, cfg);
}

/* Do the time zones and destination ids of cfg exist? false after the 400. */
static bool config_refs_ok(adb_http_request *req, PGconn *c, json_t *cfg, enum MHD_Result *res,
                           bool *dberr)
{
    size_t i;
    json_t *v;

    *dberr = false;
    json_array_foreach(json_object_get(cfg, "suppressionWindows"), i, v) {
        const char *p[] = { json_string_value(json_object_get(v, "timezone")) };
        PGresult *r = PQexecParams(c, "SELECT 1 FROM pg_timezone_names WHERE name = $1", 1, NULL,
                                   p, NULL, NULL, 0);
        int n = PQresultStatus(r) == PGRES_TUPLES_OK ? PQntuples(r) : -1;
        PQclear(r);
        if (n < 0) {
            *dberr = true;
            return false;
        }
        if (n == 0) {
            char f[64];
            adb__fmt(f, sizeof(f), "suppressionWindows[%zu]", i);
            *res = adb_http_send_invalid(req, f, "INVALID_VALUE", "timezone is not a time zone "
                                         "PostgreSQL knows (an IANA name such as Europe/Lisbon)");
            return false;
        }
    }
    json_t *d = json_object_get(json_object_get(cfg, "notification"), "destinations");
    json_array_foreach(d, i, v) {
        char idt[24];
        if (json_is_string(v))
            adb__fmt(idt, sizeof(idt), "%s", json_string_value(v));
        else
            adb__fmt(idt, sizeof(idt), "%lld", (long long)json_integer_value(v));
        const char *p[] = { req->who.organization_id, idt };
        PGresult *r = PQexecParams(c, "SELECT type FROM delivery_destinations WHERE"
                                      " organization_id = $1 AND id = $2::int AND deleted_at IS NULL",
                                   2, NULL, p, NULL, NULL, 0);
        int n = PQresultStatus(r) == PGRES_TUPLES_OK ? PQntuples(r) : -1;
        bool kind_ok = n == 1 && (!strcmp(PQgetvalue(r, 0, 0), "webhook") ||
                                  !strcmp(PQgetvalue(r, 0, 0), "email"));
        PQclear(r);
        if (n < 0) {
            *dberr = true;
            return false;
        }
        if (!kind_ok) {
            char msg[160];
            adb__fmt(msg, sizeof(msg), n ? "destination %s is not a webhook or email destination"
                                         : "no destination %s in the organization", idt);
            *res = adb_http_send_invalid(req, "notification.destinations", "INVALID_VALUE", msg);
            return false;
        }
    }
    return true;
}

enum MHD_Result adb_http_alerts_config_post(adb_http_request *req)
{
    static const char *const known[] = { "failureRateThreshold", "consecutiveFailureThreshold",
                                         "queueBacklogThreshold", "responseTimeThreshold",
                                         "debounceWindow", "escalationDelay", "suppressionWindows",
                                         "notification", NULL };
    enum MHD_Result res = MHD_NO;
    json_t *body = adb_http_body_object(req, known, NULL, &res), *stored = NULL, *cfg = NULL;
    char field[64], msg[200], err[256];
    char *prev = NULL, *next = NULL;
    adb_status st;
    bool dberr = false;
    PGconn *c = NULL;

    if (!body)
        return res;
    c = adb_tenant_begin(req->state->db, req->who.organization_id, &st, err, sizeof(err));
    if (!c)
        goto unavailable;
    stored = stored_config(c, req->who.organization_id, true, &dberr);
    if (dberr)
        goto unavailable;
    cfg = adb__alert_config_merge(stored, body);
    if (!cfg)
        goto unavailable;
    if (!adb__alert_config_check(cfg, field, msg, sizeof(msg))) {
        res = adb_http_send_invalid(req, field, "INVALID_VALUE", msg);
        goto out;
    }
    if (!config_refs_ok(req, c, cfg, &res, &dberr)) {
        if (dberr)
            goto unavailable;
        goto out;
    }
    prev = stored ? json_dumps(stored, JSON_COMPACT | JSON_SORT_KEYS) : strdup("null");
    next = json_dumps(cfg, JSON_COMPACT | JSON_SORT_KEYS);
    if (!prev || !next)
        goto unavailable;
    if (stored && !strcmp(prev, next)) {
        adb_tenant_end(req->state->db, c, true);
        c = NULL;
        res = adb_http_send_json(req, MHD_HTTP_OK, json_pack("{s:b, s:s, s:b}", "success", 1,
                                 "message", "alert configuration unchanged", "changed", 0));
        goto out;
    }
    const char *p[] = { req->who.organization_id, next, req->who.key_id };
    PGresult *r = PQexecParams(c, "INSERT INTO alert_config (organization_id, config, updated_by,"
                                  " updated_at) VALUES ($1, $2::jsonb, $3, now())"
                                  " ON CONFLICT (organization_id) DO UPDATE SET config = $2::jsonb,"
                                  " updated_by = $3, updated_at = now()",
                               3, NULL, p, NULL, NULL, 0);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    adb__config_change ch = { .org = req->who.organization_id, .field = "alert_config",
                              .previous_json = prev, .new_json = next,
                              .changed_by = req->who.key_id[0] ? req->who.key_id : "unknown" };
    if (!ok || adb__config_change_tx(c, &ch, err, sizeof(err)) != ADB_OK)
        goto unavailable;
    r = PQexec(c, "COMMIT");
    ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    adb_tenant_end(req->state->db, c, false);
    c = NULL;
    if (!ok)
        goto unavailable;
    adb__config_change_announce(req->state->db, &ch);
    res = adb_http_send_json(req, MHD_HTTP_OK, json_pack("{s:b, s:s, s:b}", "success", 1,
                             "message", "alert configuration saved", "changed", 1));
    goto out;
unavailable:
    res = adb_http_send_unavailable(req);
out:
    if (c)
        adb_tenant_end(req->state->db, c, false);
    free(prev);
    free(next);
    json_decref(cfg);
    json_decref(stored);
    json_decref(body);
    return res;
}

/* ---- silences ------------------------------------------------------------- */

#define SILENCE_COLUMNS                                                                       \
    "s.id, s.created_by, s.reason, s.matchers::text, " ADB__TS("s.starts_at") ", "            \
    ADB__TS("s.ends_at") ", s.expired_by, " ADB__TS("s.created_at") ","                       \
    " CASE WHEN s.ends_at <= $2::timestamptz THEN 'expired' WHEN s.starts_at > $2::timestamptz" \
    " THEN 'pending' ELSE 'active' END"

static json_t *silence_json(const PGresult *r, int i)
{
    json_t *m = json_loads(PQgetvalue(r, i, 3), 0, NULL);
    json_t *o = json_pack("{s:s, s:s, s:s, s:o, s:s, s:s, s:s, s:s}", "id", PQgetvalue(r, i, 0),
                          "createdBy", PQgetvalue(r, i, 1), "reason", PQgetvalue(r, i, 2),
                          "matchers", m ? m : json_object(), "startsAt", PQgetvalue(r, i, 4),
                          "endsAt", PQgetvalue(r, i, 5), "createdAt", PQgetvalue(r, i, 7),
                          "status", PQgetvalue(r, i, 8));
    if (o && !PQgetisnull(r, i, 6))
        json_object_set_new(o, "expiredBy", json_string(PQgetvalue(r, i, 6)));
    return o;
}

static void now_text(char out[ADB_TS_TEXT_MAX])
{
    adb__timestamp_format(adb__alert_now_ms() * 1000, out);
}

enum MHD_Result adb_http_alerts_silences_list(adb_http_request *req)
{
    const char *state = adb_http_arg(req, "status");
    char now[ADB_TS_TEXT_MAX];
    adb_status st;

    if (state && strcmp(state, "active") && strcmp(state, "pending") && strcmp(state, "expired"))
        return adb_http_send_invalid(req, "status", "INVALID_VALUE",
                                     "status is active, pending or expired");
    now_text(now);
    const char *p[] = { req->who.organization_id, now, state };
    PGresult *r = adb_tenant_query(req->state->db, req->who.organization_id,
                                   "SELECT * FROM (SELECT " SILENCE_COLUMNS " FROM alert_silences s"
                                   " WHERE s.organization_id = $1) x(id, cb, r, m, sa, ea, eb, ca, st)"
                                   " WHERE $3::text IS NULL OR st = $3::text"
                                   " ORDER BY st = 'expired', ea DESC, id LIMIT 1000",
                                   3, p, ADB_PLAN_AUTO, NULL, 0, NULL, &st);
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        return adb_http_send_unavailable(req);
    }
    json_t *arr = json_array();
    for (int i = 0; arr && i < PQntuples(r); i++)
        json_array_append_new(arr, silence_json(r, i));
    PQclear(r);
    return adb_http_send_json(req, MHD_HTTP_OK, json_pack("{s:o}", "silences", arr));
}

static bool silence_id_ok(const char *id)
{
    if (!id || strncmp(id, "silence-", 8) || strlen(id) != 40)
        return false;
    for (const char *s = id + 8; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return false;
    return true;
}

static enum MHD_Result silence_not_found(adb_http_request *req)
{
    return adb_http_send_error(req, MHD_HTTP_NOT_FOUND, "NOT_FOUND",
                               "no such silence in the organization", NULL);
}

enum MHD_Result adb_http_alerts_silences_get(adb_http_request *req)
{
    char now[ADB_TS_TEXT_MAX];
    adb_status st;

    if (!silence_id_ok(req->param[0]))
        return silence_not_found(req);
    now_text(now);
    const char *p[] = { req->who.organization_id, now, req->param[0] };
    PGresult *r = adb_tenant_query(req->state->db, req->who.organization_id,
                                   "SELECT " SILENCE_COLUMNS " FROM alert_silences s"
                                   " WHERE s.organization_id = $1 AND s.id = $3",
                                   3, p, ADB_PLAN_AUTO, NULL, 0, NULL, &st);
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        return adb_http_send_unavailable(req);
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        return silence_not_found(req);
    }
    json_t *o = silence_json(r, 0);
    PQclear(r);
    return adb_http_send_json(req, MHD_HTTP_OK, o);
}

/* The audit event of a silence's change, after its commit. */
static void silence_event(adb_http_request *req, const char *action, const char *id,
                          json_t *details)
{
    char ts[ADB_TS_TEXT_MAX];
    adb_log_options lo = { .organization_id = req->who.organization_id };
    adb_log_result lr;

    adb__timestamp_format(adb__now_us(), ts);
    json_t *ev = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:O}", "timestamp", ts,
                           "action", action, "status", "success", "principalId",
                           req->who.key_id[0] ? req->who.key_id : "unknown", "organizationId",
                           req->who.organization_id, "targetResourceType", "AlertSilence",
                           "targetResourceId", id, "dataClassification", "INTERNAL", "details",
                           details);
    char *text = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
    json_decref(ev);
    if (text)
        (void)adb_log_json(req->state->db, text, strlen(text), &lo, &lr);
    free(text);
}

/* Runs sql (a write of one silence, answering one row) in a transaction as
 * the tenant with the configuration history row of silence id going from
 * prev to next; the result (tuples) once committed, else NULL. The row is
 * not announced: the silence's own audit event is. */
static PGresult *silence_write(adb_http_request *req, const char *sql, int n,
                               const char *const *p, const char *id, const json_t *prev,
                               const json_t *(*next)(const PGresult *r, json_t **own))
{
    char err[ADB_ERRMSG_MAX], by[40], fld[64];
    adb__config_change_rec cc = { 0 };
    adb_status st;
    PGconn *c = adb_tenant_begin(req->state->db, req->who.organization_id, &st, err, sizeof(err));
    PGresult *r = c ? PQexecParams(c, sql, n, NULL, p, NULL, NULL, 0) : NULL;
    json_t *own = NULL;

    if (r && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
        const json_t *after = next(r, &own);
        adb__fmt(by, sizeof(by), "apikey:%s", req->who.key_id[0] ? req->who.key_id : "unknown");
        adb__fmt(fld, sizeof(fld), "alert_silence.%s", id);
        st = !after ? ADB_OK /* nothing changed */
             : adb__config_change_json_tx(c, &cc, req->who.organization_id, fld, prev, after,
                                          by, NULL, err, sizeof(err));
    } else {
        st = ADB_ERR_DB_QUERY;
    }
    json_decref(own);
    if (st != ADB_OK || !adb__tenant_commit(req->state->db, c)) {
        if (st != ADB_OK)
            adb_tenant_end(req->state->db, c, false);
        PQclear(r);
        r = NULL;
    }
    adb__config_change_rec_done(NULL, &cc, false);
    return r;
}

/* the created silence's document (its row is the INSERT's answer) */
static const json_t *silence_made(const PGresult *r, json_t **own)
{
    json_t *m = json_loads(PQgetvalue(r, 0, 1), 0, NULL);
    *own = json_pack("{s:s, s:o, s:s, s:s}", "reason", PQgetvalue(r, 0, 0), "matchers",
                     m ? m : json_object(), "startsAt", PQgetvalue(r, 0, 2), "endsAt",
                     PQgetvalue(r, 0, 3));
    return *own;
}

/* an expired silence's new end, or NULL when it had ended already */
static const json_t *silence_ended(const PGresult *r, json_t **own)
{
    if (strcmp(PQgetvalue(r, 0, 1), "1") != 0)
        return NULL;
    *own = json_pack("{s:s, s:s}", "endsAt", PQgetvalue(r, 0, 3), "expiredBy",
                     PQgetvalue(r, 0, 4));
    return *own;
}

enum MHD_Result adb_http_alerts_silences_create(adb_http_request *req)
{
    static const char *const known[] = { "reason", "matchers", "startsAt", "endsAt", NULL };
    static const char *const mkeys[] = { "ruleId", "type", "severity", "source", "dedupKey", NULL };
    enum MHD_Result res = MHD_NO;
    json_t *body = adb_http_body_object(req, known, NULL, &res);
    int64_t now_ms = adb__alert_now_ms(), start_us = now_ms * 1000, end_us = 0;
    char start[ADB_TS_TEXT_MAX], end[ADB_TS_TEXT_MAX], id[48], hex[33];
    char *mt = NULL;
    const char *k;
    json_t *v;

    if (!body)
        return res;
    const char *reason = json_string_value(json_object_get(body, "reason"));
    if (!reason || !*reason || strlen(reason) > REASON_MAX) {
        res = adb_http_send_invalid(req, "reason", json_object_get(body, "reason") ? "INVALID_VALUE"
                                    : "REQUIRED", "reason is a string of 1 to 2000 bytes");
        goto out;
    }
    json_t *m = json_object_get(body, "matchers");
    if (m && !json_is_object(m)) {
        res = adb_http_send_invalid(req, "matchers", "INVALID_VALUE", "matchers is an object of "
                                    "ruleId, type, severity, source, dedupKey");
        goto out;
    }
    json_object_foreach(m, k, v) {
        bool ok = false;
        char f[80];
        for (size_t i = 0; mkeys[i] && !ok; i++)
            ok = !strcmp(k, mkeys[i]);
        adb__fmt(f, sizeof(f), "matchers.%.64s", k);
        if (!ok || !json_is_string(v) || !json_string_length(v) || json_string_length(v) > 500) {
            res = adb_http_send_invalid(req, f, "INVALID_VALUE", ok ? "a matcher is a string of 1 "
                                        "to 500 bytes" : "matchers are ruleId, type, severity, "
                                        "source, dedupKey");
            goto out;
        }
        if ((!strcmp(k, "type") && !adb__alert_type_known(json_string_value(v))) ||
            (!strcmp(k, "severity") && !adb__alert_severity_known(json_string_value(v)))) {
            res = adb_http_send_invalid(req, f, "INVALID_VALUE", "not one of the client's alert "
                                        "types or severities");
            goto out;
        }
    }
    const char *sa = json_string_value(json_object_get(body, "startsAt"));
    const char *ea = json_string_value(json_object_get(body, "endsAt"));
    if ((json_object_get(body, "startsAt") && !sa) || (sa && !adb__timestamp_parse(sa, strlen(sa), &start_us))) {
        res = adb_http_send_invalid(req, "startsAt", "INVALID_FORMAT", "startsAt is an RFC 3339 date-time with an offset");
        goto out;
    }
    if (!ea || !adb__timestamp_parse(ea, strlen(ea), &end_us)) {
        res = adb_http_send_invalid(req, "endsAt", ea ? "INVALID_FORMAT" : "REQUIRED",
                                    "endsAt is an RFC 3339 date-time with an offset");
        goto out;
    }
    if (end_us <= start_us || end_us <= now_ms * 1000) {
        res = adb_http_send_invalid(req, "endsAt", "INVALID_VALUE", "endsAt is after startsAt and in the future");
        goto out;
    }
    if (end_us - start_us > (int64_t)SILENCE_DAYS_MAX * 86400 * 1000000) {
        res = adb_http_send_invalid(req, "endsAt", "INVALID_VALUE", "a silence lasts at most 366 days");
        goto out;
    }
    adb__timestamp_format(start_us, start);
    adb__timestamp_format(end_us, end);
    unsigned char rnd[16];
    if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
        res = adb_http_send_unavailable(req);
        goto out;
    }
    adb__hex(rnd, sizeof(rnd), hex);
    adb__fmt(id, sizeof(id), "silence-%s", hex);
    mt = json_dumps(m ? m : json_object(), JSON_COMPACT | JSON_SORT_KEYS);
    const char *p[] = { id, req->who.organization_id, req->who.key_id[0] ? req->who.key_id : "unknown",
                        reason, mt ? mt : "{}", start, end };
    PGresult *r = silence_write(req,
                                "INSERT INTO alert_silences (id, organization_id, created_by,"
                                " reason, matchers, starts_at, ends_at) VALUES ($1, $2, $3, $4,"
                                " $5::jsonb, $6::timestamptz, $7::timestamptz)"
                                " RETURNING reason, matchers::text, " ADB__TS("starts_at") ", "
                                ADB__TS("ends_at"),
                                7, p, id, NULL, silence_made);
    bool ok = r != NULL;
    PQclear(r);
    if (!ok) {
        res = adb_http_send_unavailable(req);
        goto out;
    }
    json_t *d = json_pack("{s:s, s:s, s:s, s:s}", "reason", reason, "matchers", mt ? mt : "{}",
                          "startsAt", start, "endsAt", end);
    silence_event(req, "alert.silence.create", id, d);
    json_decref(d);
    json_t *o = json_pack("{s:s, s:s, s:s, s:O, s:s, s:s, s:s}", "id", id, "createdBy", p[2],
                          "reason", reason, "matchers", m ? m : json_object(), "startsAt", start,
                          "endsAt", end, "status", start_us > now_ms * 1000 ? "pending" : "active");
    res = adb_http_send_json(req, MHD_HTTP_CREATED, o);
out:
    free(mt);
    json_decref(body);
    return res;
}

enum MHD_Result adb_http_alerts_silences_expire(adb_http_request *req)
{
    char now[ADB_TS_TEXT_MAX];

    if (!silence_id_ok(req->param[0]))
        return silence_not_found(req);
    now_text(now);
    /* ends now, unless it ended already (a second call changes nothing) */
    const char *p[] = { req->who.organization_id, now, req->param[0],
                        req->who.key_id[0] ? req->who.key_id : "unknown" };
    /* the end before, for the configuration history */
    char was[ADB_TS_TEXT_MAX] = "";
    adb_status st;
    const char *wp[] = { req->who.organization_id, req->param[0] };
    PGresult *w = adb_tenant_query(req->state->db, req->who.organization_id,
                                   "SELECT " ADB__TS("ends_at") " FROM alert_silences"
                                   " WHERE organization_id = $1 AND id = $2",
                                   2, wp, ADB_PLAN_AUTO, NULL, 0, NULL, &st);
    if (w && PQresultStatus(w) == PGRES_TUPLES_OK && PQntuples(w) == 1)
        adb__fmt(was, sizeof(was), "%s", PQgetvalue(w, 0, 0));
    PQclear(w);
    json_t *prev = json_pack("{s:s}", "endsAt", was);
    PGresult *r = silence_write(req,
                                "WITH s AS (SELECT id, ends_at <= $2::timestamptz AS ended"
                                " FROM alert_silences WHERE organization_id = $1 AND id = $3"
                                " FOR UPDATE), u AS (UPDATE alert_silences a SET ends_at = $2::timestamptz,"
                                " starts_at = least(a.starts_at, $2::timestamptz - interval '1 microsecond'),"
                                " expired_by = $4, updated_at = now() FROM s WHERE a.id = s.id"
                                " AND NOT s.ended RETURNING a.id) SELECT (SELECT count(*) FROM s),"
                                " (SELECT count(*) FROM u), $3, " ADB__TS("$2::timestamptz") ", $4",
                                4, p, req->param[0], prev, silence_ended);
    json_decref(prev);
    if (!r)
        return adb_http_send_unavailable(req);
    bool found = !strcmp(PQgetvalue(r, 0, 0), "1"), changed = !strcmp(PQgetvalue(r, 0, 1), "1");
    PQclear(r);
    if (!found)
        return silence_not_found(req);
    if (changed) {
        json_t *d = json_pack("{s:s}", "endsAt", now);
        silence_event(req, "alert.silence.expire", req->param[0], d);
        json_decref(d);
    }
    return adb_http_send_json(req, MHD_HTTP_OK, json_pack("{s:b, s:s, s:b}", "success", 1,
                              "message", changed ? "silence expired" : "silence had expired already",
                              "changed", changed));
}
