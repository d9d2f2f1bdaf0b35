/*
 * presets_apply.c - a preset applied to a context (docs/presets.md,
 * "Validate and apply"): POST /api/v1/audit-presets/{name}/validate
 * answers whether the event the context makes would be accepted, storing
 * nothing; .../apply stores it through the library exactly as an event sent
 * with options.preset (adb_log_json with the preset named), so ingestion
 * and this route share one path; .../stats reads the usage counted on it.
 */
#include "presets.h"
#include "event_json.h"
#include "jw.h"
#include "../core/adb_internal.h"
#include "../core/preset_usage.h"
#include "../core/util.h"
#include "../event/event.h"

#include <stdlib.h>
#include <string.h>

static const char *const classifications[] = { "PUBLIC", "INTERNAL", "CONFIDENTIAL", "PHI", NULL };
static const char *const statuses[] = { "attempt", "success", "failure", NULL };

/* The preset as the caller sees it (PRESET_ONE): NULL with *ret queued
 * when it is not there or the database failed. */
static PGresult *visible_preset(adb_http_request *req, enum MHD_Result *ret)
{
    const char *p[] = { req->who.organization_id, req->param[0] };
    PGconn *c = preset_begin(req);
    PGresult *r = c ? preset_exec(c, PRESET_ONE, 2, p) : NULL;

    preset_rollback(req, c);
    if (!r || PQntuples(r) == 0) {
        *ret = r ? preset_not_found(req, req->param[0]) : preset_unavailable(req);
        PQclear(r);
        return NULL;
    }
    return r;
}

/* Checks the client's PresetContext; problems go to errors. */
static void check_context(const json_t *ctx, json_t *errors)
{
    json_t *s, *o;

    preset_member(ctx, "", "principalId", JSON_STRING, true, 1, 255, NULL, errors);
    preset_member(ctx, "", "organizationId", JSON_STRING, true, 1, 255, NULL, errors);
    preset_member(ctx, "", "targetResourceId", JSON_STRING, false, 0, 0, NULL, errors);
    preset_member(ctx, "", "correlationId", JSON_STRING, false, 0, 0, NULL, errors);
    preset_member(ctx, "", "outcomeDescription", JSON_STRING, false, 0, 0, NULL, errors);
    preset_member(ctx, "", "fieldValues", JSON_OBJECT, false, 0, 0, NULL, errors);
    preset_member(ctx, "", "customDetails", JSON_OBJECT, false, 0, 0, NULL, errors);
    if ((s = preset_member(ctx, "", "sessionContext", JSON_OBJECT, false, 0, 0, NULL, errors))) {
        preset_member(s, "sessionContext", "sessionId", JSON_STRING, true, 1, 0, NULL, errors);
        preset_member(s, "sessionContext", "ipAddress", JSON_STRING, true, 0, 0, NULL, errors);
        preset_member(s, "sessionContext", "userAgent", JSON_STRING, true, 1, 0, NULL, errors);
        preset_member(s, "sessionContext", "geolocation", JSON_STRING, false, 0, 0, NULL, errors);
    }
    if ((o = preset_member(ctx, "", "overrides", JSON_OBJECT, false, 0, 0, NULL, errors))) {
        preset_member(o, "overrides", "action", JSON_STRING, false, 1, 0, NULL, errors);
        preset_member(o, "overrides", "targetResourceType", JSON_STRING, false, 1, 0, NULL, errors);
        preset_member(o, "overrides", "dataClassification", JSON_STRING, false, 1, 0, classifications, errors);
        preset_member(o, "overrides", "status", JSON_STRING, false, 1, 0, statuses, errors);
    }
}

static void copy_string(json_t *to, const char *to_name, const json_t *from, const char *name)
{
    json_t *v = json_object_get(from, name);
    if (json_is_string(v))
        json_object_set(to, to_name, v);
}

/* The event the context makes with the preset (spec): the context's
 * members, the overrides, the template's action, and details made of the
 * template's defaultDetails, then fieldValues, then customDetails. What the
 * event leaves out the library fills from the preset's default_values. */
static char *event_text(const json_t *ctx, const json_t *spec, size_t *len)
{
    const json_t *t = json_object_get(spec, "template"), *o = json_object_get(ctx, "overrides");
    const json_t *dv = json_object_get(t, "defaultValues");
    json_t *ev = json_object(), *details = json_object();
    char now[40], *text;

    adb_http_iso_now(now);
    json_object_set_new(ev, "timestamp", json_string(now));
    copy_string(ev, "action", t, "action");
    static const char *const own[] = { "principalId", "organizationId", "targetResourceId",
                                       "correlationId", "outcomeDescription", NULL };
    for (const char *const *k = own; *k; k++)
        copy_string(ev, *k, ctx, *k);
    if (json_is_object(json_object_get(ctx, "sessionContext")))
        json_object_set(ev, "sessionContext", json_object_get(ctx, "sessionContext"));
    static const char *const over[] = { "action", "targetResourceType", "dataClassification",
                                        "status", NULL };
    for (const char *const *k = over; *k; k++)
        copy_string(ev, *k, o, *k);
    /* an event needs a status: the preset's, else the application succeeded */
    if (!json_object_get(ev, "status") && !json_object_get(t, "status") &&
        !json_object_get(dv, "status"))
        json_object_set_new(ev, "status", json_string("success"));
    if (json_is_object(json_object_get(t, "defaultDetails")))
        json_object_update(details, json_object_get(t, "defaultDetails"));
    if (json_is_object(json_object_get(ctx, "fieldValues")))
        json_object_update(details, json_object_get(ctx, "fieldValues"));
    if (json_is_object(json_object_get(ctx, "customDetails")))
        json_object_update(details, json_object_get(ctx, "customDetails"));
    if (json_object_size(details))
        json_object_set(ev, "details", details);
    json_decref(details);
    text = json_dumps(ev, JSON_COMPACT);
    json_decref(ev);
    *len = text ? strlen(text) : 0;
    return text;
}

/* The library's validation problems as [{field, code, message, severity}]. */
static json_t *problems(const adb_event_errors *e)
{
    json_t *a = json_array();
    for (int i = 0; i < e->count; i++)
        json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:s}", "field", e->e[i].field, "code",
                                           e->e[i].code, "message", e->e[i].message, "severity",
                                           "error"));
    return a;
}

/* The body (a PresetContext) checked, and the preset's row and document:
 * false after queuing an answer. */
typedef struct applying {
    json_t *ctx, *spec;
    PGresult *row;
    char *event;
    size_t len;
} applying;

static void applying_free(applying *a)
{
    json_decref(a->ctx);
    json_decref(a->spec);
    PQclear(a->row);
    free(a->event);
}

static bool prepare(adb_http_request *req, applying *a, enum MHD_Result *ret)
{
    json_t *errors;

    memset(a, 0, sizeof(*a));
    if (!(a->ctx = preset_body(req, ret)))
        return false;
    errors = json_array();
    check_context(a->ctx, errors);
    if (json_array_size(errors)) {
        *ret = preset_invalid(req, errors);
        return false;
    }
    json_decref(errors);
    if (!(a->row = visible_preset(req, ret)))
        return false;
    a->spec = json_loads(PQgetvalue(a->row, 0, 2), 0, NULL);
    if (!(a->event = event_text(a->ctx, a->spec, &a->len))) {
        *ret = MHD_NO;
        return false;
    }
    return true;
}

/* ---- POST /api/v1/audit-presets/{name}/validate ------------------------- */

enum MHD_Result adb_http_presets_validate(adb_http_request *req)
{
    applying a;
    enum MHD_Result ret;
    adb_log_result res;

    if (!prepare(req, &a, &ret)) {
        applying_free(&a);
        return ret;
    }
    adb_log_options lo = { .organization_id = req->who.organization_id,
                           .preset = PQgetvalue(a.row, 0, 0) };
    adb_status st = json_is_false(json_object_get(a.spec, "enabled"))
                        ? ADB_ERR_INVALID
                        : adb_validate_json(req->state->db, a.event, a.len, &lo, &res);
    if (json_is_false(json_object_get(a.spec, "enabled"))) {
        memset(&res, 0, sizeof(res));
        res.errors.count = 1;
        adb__fmt(res.errors.e[0].code, sizeof(res.errors.e[0].code), "PRESET_DISABLED");
        adb__fmt(res.errors.e[0].field, sizeof(res.errors.e[0].field), "preset");
        adb__fmt(res.errors.e[0].message, sizeof(res.errors.e[0].message), "the preset is disabled");
    }
    applying_free(&a);
    if (st != ADB_OK && st != ADB_ERR_INVALID)
        return st == ADB_ERR_NOMEM ? MHD_NO : preset_unavailable(req);
    json_t *msgs = json_array();
    for (int i = 0; i < res.errors.count; i++) {
        char m[300];
        adb__fmt(m, sizeof(m), "%s%s%s", res.errors.e[i].field, res.errors.e[i].field[0] ? ": " : "",
                 res.errors.e[i].message);
        json_array_append_new(msgs, json_string(m));
    }
    return adb_http_send_json(req, MHD_HTTP_OK,
                              json_pack("{s:b, s:o, s:[], s:o}", "isValid", st == ADB_OK, "errors",
                                        msgs, "warnings", "validationErrors", problems(&res.errors)));
}

/* ---- POST /api/v1/audit-presets/{name}/apply ---------------------------- */

#define EVENT_COLUMNS                                                                    \
    "id, \"timestamp\", action, status, principal_id, organization_id,"                  \
    " target_resource_type, target_resource_id, outcome_description, correlation_id,"   \
    " data_classification, retention_policy, event_version, hash_algorithm, hash,"      \
    " signature, details::text, chain_seq, prev_chain_hash, chain_hash, ttl,"            \
    " (details -> 'sessionContext')::text, event_id, commit_key"

/* The stored event, as the event routes write it; NULL when it could not
 * be read back (it is stored all the same). */
static json_t *stored_event(adb_http_request *req, const adb_log_result *res)
{
    char id[24];
    adb__fmt(id, sizeof(id), "%lld", (long long)res->id);
    const char *p[] = { req->who.organization_id, id, res->timestamp };
    PGconn *c = preset_begin(req);
    PGresult *r = c ? preset_exec(c, "SELECT " EVENT_COLUMNS " FROM audit_log WHERE organization_id = $1"
                                     " AND id = $2::bigint AND \"timestamp\" = $3::timestamptz", 3, p)
                    : NULL;
    json_t *out = NULL;

    preset_rollback(req, c);
    if (r && PQntuples(r) == 1) {
        char ts[ADB_TS_TEXT_MAX];
        int64_t us;
        const char *pg = PQgetvalue(r, 0, 1);
        if (adb__timestamp_parse(pg, strlen(pg), &us))
            adb__timestamp_format(us, ts);
        else
            adb__fmt(ts, sizeof(ts), "%s", pg);
        adb_http_event e = {
            .id = preset_val(r, 0, 22), .timestamp = ts, .action = preset_val(r, 0, 2),
            .status = preset_val(r, 0, 3), .principal_id = preset_val(r, 0, 4),
            .organization_id = preset_val(r, 0, 5), .target_resource_type = preset_val(r, 0, 6),
            .target_resource_id = preset_val(r, 0, 7), .outcome_description = preset_val(r, 0, 8),
            .correlation_id = preset_val(r, 0, 9), .data_classification = preset_val(r, 0, 10),
            .retention_policy = preset_val(r, 0, 11), .event_version = preset_val(r, 0, 12),
            .hash_algorithm = preset_val(r, 0, 13), .hash = preset_val(r, 0, 14),
            .signature = preset_val(r, 0, 15), .details = preset_val(r, 0, 16),
            .chain_seq = preset_val(r, 0, 17), .prev_chain_hash = preset_val(r, 0, 18),
            .chain_hash = preset_val(r, 0, 19), .ttl = preset_val(r, 0, 20),
            .session_context = preset_val(r, 0, 21), .commit_key = preset_val(r, 0, 23),
        };
        jw w;
        jw_init(&w);
        adb_http_write_event(&w, &e);
        size_t len;
        char *text = jw_take(&w, &len);
        out = text ? json_loadb(text, len, 0, NULL) : NULL;
        free(text);
    }
    PQclear(r);
    return out;
}

enum MHD_Result adb_http_presets_apply(adb_http_request *req)
{
    double t0 = adb__now_ms(), t1;
    applying a;
    enum MHD_Result ret;
    adb_log_result res;
    char name[300], version[16];

    if (!prepare(req, &a, &ret)) {
        applying_free(&a);
        return ret;
    }
    adb__fmt(name, sizeof(name), "%s", PQgetvalue(a.row, 0, 0));
    adb__fmt(version, sizeof(version), "%s", PQgetvalue(a.row, 0, 3));
    if (json_is_false(json_object_get(a.spec, "enabled"))) {
        applying_free(&a);
        return adb_http_send_error(req, MHD_HTTP_CONFLICT, "PRESET_DISABLED",
                                   "the preset is disabled: enable it to apply it",
                                   json_pack("{s:s, s:s}", "name", name, "field", "enabled"));
    }
    t1 = adb__now_ms();
    /* the library's own path: as an event sent with options.preset */
    adb_log_options lo = { .organization_id = req->who.organization_id, .preset = name };
    adb_status st = adb_log_json(req->state->db, a.event, a.len, &lo, &res);
    const char *principal = json_string_value(json_object_get(a.ctx, "principalId"));
    adb__preset_usage_note(adb__db_preset_usage(req->state->db), req->who.organization_id, name,
                           principal, 0, 0, adb__now_ms() - t0);
    applying_free(&a);
    if (st == ADB_ERR_INVALID) {
        const char *first = res.errors.count ? res.errors.e[0].message : "invalid event";
        return adb_http_send_error(req, MHD_HTTP_BAD_REQUEST, "VALIDATION_ERROR", first,
                                   json_pack("{s:o, s:b, s:o}", "errors", problems(&res.errors),
                                             "success", 0, "validationErrors", problems(&res.errors)));
    }
    if (st == ADB_ERR_BUSY)
        return adb_http_send_retry(req, MHD_HTTP_SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE",
                                   res.message[0] ? res.message : "busy: retry later",
                                   res.retry_after_ms > 0 ? res.retry_after_ms : 1000);
    if (st != ADB_OK)
        return adb_http_send_retry(req, MHD_HTTP_SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE",
                                   "the event was not stored: retry later",
                                   res.retry_after_ms > 0 ? res.retry_after_ms : 1000);
    json_t *out = json_pack("{s:b, s:{s:s, s:s, s:f, s:f}}", "success", 1, "metadata", "presetName",
                            name, "presetVersion", version, "applicationTime", adb__now_ms() - t0,
                            "validationTime", t1 - t0);
    json_t *ev = stored_event(req, &res);
    if (ev)
        json_object_set_new(out, "auditEvent", ev);
    return adb_http_send_json(req, MHD_HTTP_CREATED, out);
}

/* ---- GET /api/v1/audit-presets/{name}/stats ----------------------------- */

#define UTC_MS(col) "to_char(" col ", 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

enum MHD_Result adb_http_presets_stats(adb_http_request *req)
{
    static const char *const periods[] = { "hour", "day", "week", "month", "year", NULL };
    const char *period = adb_http_arg(req, "period"), *a;
    long long limit = 10;
    enum MHD_Result ret;
    PGresult *row;

    if (!period)
        period = "month";
    bool known = false;
    for (const char *const *p = periods; *p; p++)
        known = known || !strcmp(*p, period);
    if (!known)
        return preset_field_error(req, "period", "INVALID_VALUE",
                                  "period must be one of hour, day, week, month, year");
    if ((a = adb_http_arg(req, "limit")) && !adb__parse_int(a, 1, 1000, &limit))
        return preset_field_error(req, "limit", "INVALID_VALUE", "limit must be an integer from 1 to 1000");
    /* what was counted in memory goes to the table first: the answer is current */
    (void)adb__preset_usage_flush(adb__db_preset_usage(req->state->db), adb__pool(req->state->db));
    if (!(row = visible_preset(req, &ret)))
        return ret;
    char name[300], lim[24];
    adb__fmt(name, sizeof(name), "%s", PQgetvalue(row, 0, 0));
    PQclear(row);
    adb__fmt(lim, sizeof(lim), "%lld", limit);
    const char *p[] = { req->who.organization_id, name, period, lim };
    PGconn *c = preset_begin(req);
    PGresult *tot = c ? preset_exec(c, "SELECT coalesce(sum(uses), 0), coalesce(sum(failures), 0),"
                                       " coalesce(sum(timed), 0), coalesce(sum(time_ms), 0), "
                                       PRESET_TS("max(last_used) FILTER (WHERE uses > 0)")
                                       " FROM audit_preset_usage WHERE organization_id = $1 AND name = $2",
                                    2, p) : NULL;
    PGresult *per = tot ? preset_exec(c, "SELECT " UTC_MS("date_trunc($3, period_start AT TIME ZONE 'UTC')")
                                         ", sum(uses) FROM audit_preset_usage WHERE organization_id = $1"
                                         " AND name = $2 GROUP BY 1 HAVING sum(uses) > 0"
                                         " ORDER BY 1 DESC LIMIT $4::bigint", 4, p) : NULL;
    PGresult *users = per ? preset_exec(c, "SELECT principal_id, sum(uses), " PRESET_TS("max(last_used)")
                                           " FROM audit_preset_usage WHERE organization_id = $1"
                                           " AND name = $2 AND uses > 0 GROUP BY 1"
                                           " ORDER BY 2 DESC, 1 LIMIT $3::bigint",
                                        3, (const char *[]){ p[0], p[1], lim }) : NULL;
    preset_rollback(req, c);
    if (!users) {
        PQclear(tot);
        PQclear(per);
        return preset_unavailable(req);
    }
    long long uses = atoll(PQgetvalue(tot, 0, 0)), fails = atoll(PQgetvalue(tot, 0, 1));
    long long timed = atoll(PQgetvalue(tot, 0, 2));
    double ms = atof(PQgetvalue(tot, 0, 3));
    json_t *by_period = json_array(), *by_user = json_array(), *by_org = json_array();
    for (int i = 0; i < PQntuples(per); i++)
        json_array_append_new(by_period, json_pack("{s:s, s:I}", "period", PQgetvalue(per, i, 0), "count",
                                                   (json_int_t)atoll(PQgetvalue(per, i, 1))));
    for (int i = 0; i < PQntuples(users); i++)
        json_array_append_new(by_user, json_pack("{s:s, s:I, s:s}", "userId", PQgetvalue(users, i, 0),
                                                 "count", (json_int_t)atoll(PQgetvalue(users, i, 1)),
                                                 "lastUsed", PQgetvalue(users, i, 2)));
    if (uses > 0) /* a key sees its own organization's usage only */
        json_array_append_new(by_org, json_pack("{s:s, s:I, s:s}", "organizationId",
                                                req->who.organization_id, "count", (json_int_t)uses,
                                                "lastUsed", PQgetvalue(tot, 0, 4)));
    json_t *out = json_pack("{s:s, s:I, s:o, s:o, s:o, s:f, s:f, s:s, s:I}", "presetName", name,
                            "totalUsage", (json_int_t)uses, "usageByPeriod", by_period, "usageByUser",
                            by_user, "usageByOrganization", by_org, "errorRate",
                            uses + fails ? 100.0 * (double)fails / (double)(uses + fails) : 0.0,
                            "averageApplicationTime", timed ? ms / (double)timed : 0.0, "period",
                            period, "failures", (json_int_t)fails);
    if (preset_val(tot, 0, 4))
        json_object_set_new(out, "lastUsed", json_string(PQgetvalue(tot, 0, 4)));
    PQclear(tot);
    PQclear(per);
    PQclear(users);
    return adb_http_send_json(req, MHD_HTTP_OK, out);
}
