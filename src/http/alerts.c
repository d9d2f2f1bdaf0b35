/*
 * alerts.c - the organization's alerts in smart-logs' client's shapes
 * (services/metrics.ts; docs/alerts.md "API and CLI"):
 *   GET  /api/v1/alerts                    PaginatedAlerts (alerts:read)
 *   GET  /api/v1/alerts/statistics         AlertStatistics (alerts:read)
 *   GET  /api/v1/alerts/{id}               Alert; 404 unless the tenant's (alerts:read)
 *   POST /api/v1/alerts/{id}/acknowledge   AlertActionResponse (alerts:manage)
 *   POST /api/v1/alerts/{id}/resolve       body {resolution} (alerts:manage)
 *   POST /api/v1/alerts/{id}/dismiss       body {reason}, optional (alerts:manage)
 *   GET  /api/v1/operator/alerts[/{id}]    the same, of "_process" (operator.alerts:read)
 * Everything is read and changed as the tenant (row-level security); the
 * operator reads the service's own alerts as the tenant "_process".
 */
#include "http.h"
#include "alerts_routes.h"
#include "../alert/alert.h"
#include "../core/buf.h"
#include "../core/util.h"
#include "../event/event.h"

#include <stdlib.h>
#include <string.h>

#define LIMIT_DEFAULT 50
#define LIMIT_MAX 1000
#define LIST_VALUES_MAX 50
#define SEARCH_MAX 200
#define NOTES_MAX 2000

static const char *const severities[] = { "INFO", "LOW", "MEDIUM", "HIGH", "CRITICAL", NULL };
static const char *const types[] = { "SECURITY", "COMPLIANCE", "PERFORMANCE", "SYSTEM",
                                     "METRICS", "DELIVERY", "CUSTOM", NULL };
static const char *const statuses[] = { "active", "acknowledged", "resolved", "dismissed", NULL };
/* the client's AlertCategory of each type (summary.alertsByCategory) */
static const char *const categories[] = { "performance", "security", "compliance", "system",
                                          "data_quality", "availability", "capacity", "custom",
                                          NULL };

/* A comma-separated (or repeated, joined by the router) parameter as a
 * PostgreSQL text[] literal's elements in a JSON array text; each value one
 * of allowed (NULL: any of at most 255 bytes). NULL when absent; *bad after
 * the 400 naming the field. */
static char *list_arg(adb_http_request *req, const char *name, const char *const *allowed,
                      bool *bad, enum MHD_Result *res)
{
    const char *v = adb_http_arg(req, name);
    json_t *a;
    char *out = NULL, msg[200];

    if (*bad || !v)
        return NULL;
    a = json_array();
    for (const char *s = v; a && *s;) {
        size_t n = strcspn(s, ",");
        bool ok = n > 0 && n <= 255;
        for (size_t i = 0; ok && allowed; i++) {
            if (!allowed[i]) {
                ok = false;
                break;
            }
            if (strlen(allowed[i]) == n && !strncmp(allowed[i], s, n))
                break;
        }
        if (!ok || json_array_size(a) >= LIST_VALUES_MAX) {
            if (json_array_size(a) >= LIST_VALUES_MAX)
                adb__fmt(msg, sizeof(msg), "%s takes at most %d values", name, LIST_VALUES_MAX);
            else if (allowed == severities)
                adb__fmt(msg, sizeof(msg), "%s values are INFO, LOW, MEDIUM, HIGH, CRITICAL", name);
            else if (allowed == types)
                adb__fmt(msg, sizeof(msg), "%s values are SECURITY, COMPLIANCE, PERFORMANCE, "
                         "SYSTEM, METRICS, DELIVERY, CUSTOM", name);
            else if (allowed == statuses)
                adb__fmt(msg, sizeof(msg), "%s values are active, acknowledged, resolved, "
                         "dismissed", name);
            else
                adb__fmt(msg, sizeof(msg), "%s values are 1 to 255 bytes", name);
            *res = adb_http_send_invalid(req, name, "INVALID_VALUE", msg);
            *bad = true;
            json_decref(a);
            return NULL;
        }
        json_array_append_new(a, json_stringn(s, n));
        s += n + (s[n] == ',');
    }
    if (a && json_array_size(a))
        out = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    return out;
}

static bool one_of(const char *s, const char *const *list)
{
    for (size_t i = 0; s && list[i]; i++)
        if (!strcmp(s, list[i]))
            return true;
    return false;
}

/* A timestamp parameter (RFC 3339) normalized into out; false after the 400. */
static bool time_arg(adb_http_request *req, const char *name, char out[ADB_TS_TEXT_MAX],
                     bool *given, enum MHD_Result *res)
{
    const char *v = adb_http_arg(req, name);
    int64_t us;

    *given = v != NULL;
    if (!v)
        return true;
    if (!adb__timestamp_parse(v, strlen(v), &us)) {
        char msg[120];
        adb__fmt(msg, sizeof(msg), "%s must be an RFC 3339 date-time with an offset", name);
        *res = adb_http_send_invalid(req, name, "INVALID_FORMAT", msg);
        return false;
    }
    adb__timestamp_format(us, out);
    return true;
}

/* The zero-filled counts object of keys with the counts of r's rows (key in
 * column kc, count in column nc) where column fc equals field. */
static json_t *counts(const char *const *keys, const PGresult *r, int fc, const char *field)
{
    json_t *o = json_object();

    for (size_t i = 0; o && keys[i]; i++)
        json_object_set_new(o, keys[i], json_integer(0));
    for (int i = 0; o && r && i < PQntuples(r); i++) {
        if (strcmp(PQgetvalue(r, i, fc), field))
            continue;
        const char *k = PQgetvalue(r, i, 1);
        json_int_t n = json_integer_value(json_object_get(o, k));
        json_object_set_new(o, k, json_integer(n + atoll(PQgetvalue(r, i, 2))));
    }
    return o;
}

/* The WHERE clause of the list and its summary: $1 the organization, then
 * statuses, severities, types, sources, tags, start, end, search. */
#define LIST_WHERE                                                                           \
    " WHERE a.organization_id = $1"                                                          \
    " AND ($2::jsonb IS NULL OR a.status = ANY (ARRAY(SELECT jsonb_array_elements_text($2::jsonb))))"   \
    " AND ($3::jsonb IS NULL OR a.severity = ANY (ARRAY(SELECT jsonb_array_elements_text($3::jsonb))))" \
    " AND ($4::jsonb IS NULL OR a.type = ANY (ARRAY(SELECT jsonb_array_elements_text($4::jsonb))))"     \
    " AND ($5::jsonb IS NULL OR a.source = ANY (ARRAY(SELECT jsonb_array_elements_text($5::jsonb))))"   \
    " AND ($6::jsonb IS NULL OR a.tags @> $6::jsonb)"                                        \
    " AND ($7::timestamptz IS NULL OR a.%s >= $7::timestamptz)"                             \
    " AND ($8::timestamptz IS NULL OR a.%s < $8::timestamptz)"                              \
    " AND ($9::text IS NULL OR strpos(lower(a.title || ' ' || a.description), lower($9)) > 0)"

enum MHD_Result adb_http_alerts_list(adb_http_request *req)
{
    static const char *const range_cols[] = { "created_at", "acknowledged_at", "resolved_at",
                                              "updated_at", NULL };
    static const struct { const char *api, *sql; } sorts[] = {
        { "created_at", "a.created_at" },
        { "severity", "array_position(ARRAY['INFO','LOW','MEDIUM','HIGH','CRITICAL']::text[],"
                      " a.severity::text)" },
        { "status", "array_position(ARRAY['active','acknowledged','resolved','dismissed']::text[],"
                    " a.status::text)" },
        { "title", "a.title" },
    };
    enum MHD_Result res = MHD_NO;
    bool bad = false, has_start, has_end;
    char start[ADB_TS_TEXT_MAX] = "", end[ADB_TS_TEXT_MAX] = "", lim[24], off[24];
    long long limit = LIMIT_DEFAULT, offset = 0;
    const char *range = "created_at", *sort = "a.created_at", *dir = "DESC", *v;
    char *st_l = NULL, *sev_l = NULL, *type_l = NULL, *src_l = NULL, *tag_l = NULL;
    adb_status dbst;
    char err[256];

    st_l = list_arg(req, "status", statuses, &bad, &res);
    sev_l = list_arg(req, "severity", severities, &bad, &res);
    type_l = list_arg(req, "type", types, &bad, &res);
    src_l = list_arg(req, "source", NULL, &bad, &res);
    tag_l = list_arg(req, "tags", NULL, &bad, &res);
    if (bad)
        goto out;
    if ((v = adb_http_arg(req, "rangeBy"))) {
        if (!one_of(v, range_cols)) {
            res = adb_http_send_invalid(req, "rangeBy", "INVALID_VALUE", "rangeBy is created_at, "
                                        "acknowledged_at, resolved_at or updated_at");
            goto out;
        }
        range = v;
    }
    if (!time_arg(req, "startDate", start, &has_start, &res) ||
        !time_arg(req, "endDate", end, &has_end, &res))
        goto out;
    if (has_start && has_end && strcmp(start, end) > 0) {
        res = adb_http_send_invalid(req, "endDate", "INVALID_VALUE", "endDate is before startDate");
        goto out;
    }
    const char *search = adb_http_arg(req, "search");
    if (search && (!*search || strlen(search) > SEARCH_MAX)) {
        res = adb_http_send_invalid(req, "search", "INVALID_VALUE", "search is 1 to 200 bytes");
        goto out;
    }
    if ((v = adb_http_arg(req, "limit")) && !adb__parse_int(v, 1, LIMIT_MAX, &limit)) {
        res = adb_http_send_invalid(req, "limit", "INVALID_VALUE", "limit is an integer from 1 to 1000");
        goto out;
    }
    if ((v = adb_http_arg(req, "offset")) && !adb__parse_int(v, 0, 1000000, &offset)) {
        res = adb_http_send_invalid(req, "offset", "INVALID_VALUE", "offset is an integer from 0 to 1000000");
        goto out;
    }
    if ((v = adb_http_arg(req, "sortBy"))) {
        size_t i;
        for (i = 0; i < sizeof(sorts) / sizeof(sorts[0]) && strcmp(sorts[i].api, v); i++)
            ;
        if (i == sizeof(sorts) / sizeof(sorts[0])) {
            res = adb_http_send_invalid(req, "sortBy", "INVALID_VALUE", "sortBy is created_at, "
                                        "severity, status or title");
            goto out;
        }
        sort = sorts[i].sql;
    }
    if ((v = adb_http_arg(req, "sortOrder"))) {
        if (strcmp(v, "asc") && strcmp(v, "desc")) {
            res = adb_http_send_invalid(req, "sortOrder", "INVALID_VALUE", "sortOrder is asc or desc");
            goto out;
        }
        dir = strcmp(v, "asc") ? "DESC" : "ASC";
    }
    adb__fmt(lim, sizeof(lim), "%lld", limit);
    adb__fmt(off, sizeof(off), "%lld", offset);

    const char *p[] = { req->who.organization_id, st_l, sev_l, type_l, src_l, tag_l,
                        has_start ? start : NULL, has_end ? end : NULL, search, lim, off };
    char *page_sql = NULL, *sum_sql = NULL;
    adb__buf b = { 0 };
    /* range and sort are names from the tables above, never the client's text */
    adb__buf_printf(&b, "SELECT " ADB_ALERT_COLUMNS ", count(*) OVER () FROM alerts a" LIST_WHERE
                    " ORDER BY %s %s, a.id %s LIMIT $10::bigint OFFSET $11::bigint",
                    range, range, sort, dir, dir);
    page_sql = adb__buf_take(&b, NULL);
    adb__buf_printf(&b, "SELECT x.f, x.k, count(*) FROM alerts a CROSS JOIN LATERAL"
                    " (VALUES ('severity', a.severity::text), ('type', a.type::text),"
                    " ('status', a.status::text)) AS x(f, k)" LIST_WHERE " GROUP BY 1, 2",
                    range, range);
    sum_sql = adb__buf_take(&b, NULL);
    PGconn *c = page_sql && sum_sql ? adb_tenant_begin(req->state->db, req->who.organization_id,
                                                       &dbst, err, sizeof(err)) : NULL;
    PGresult *r = c ? PQexecParams(c, page_sql, 11, NULL, p, NULL, NULL, 0) : NULL;
    PGresult *s = c ? PQexecParams(c, sum_sql, 9, NULL, p, NULL, NULL, 0) : NULL;
    free(page_sql);
    free(sum_sql);
    if (c)
        adb_tenant_end(req->state->db, c, true);
    if (!r || !s || PQresultStatus(r) != PGRES_TUPLES_OK || PQresultStatus(s) != PGRES_TUPLES_OK) {
        PQclear(r);
        PQclear(s);
        res = adb_http_send_unavailable(req);
        goto out;
    }
    long long total = 0;
    json_t *data = json_array();
    for (int i = 0; data && i < PQntuples(r); i++) {
        json_array_append_new(data, adb__alert_row_json(r, i));
        total = atoll(PQgetvalue(r, i, PQnfields(r) - 1));
    }
    if (PQntuples(r) == 0 && offset > 0) {
        /* past the end: the total from the summary */
        for (int i = 0; i < PQntuples(s); i++)
            if (!strcmp(PQgetvalue(s, i, 0), "status"))
                total += atoll(PQgetvalue(s, i, 2));
    }
    json_t *by_status = counts(statuses, s, 0, "status");
    json_t *by_sev = counts(severities, s, 0, "severity");
    json_t *by_type = counts(types, s, 0, "type");
    json_t *by_cat = counts(categories, NULL, 0, "");
    static const char *const type_cat[][2] = {
        { "SECURITY", "security" }, { "COMPLIANCE", "compliance" },
        { "PERFORMANCE", "performance" }, { "SYSTEM", "system" }, { "METRICS", "capacity" },
        { "DELIVERY", "availability" }, { "CUSTOM", "custom" },
    };
    for (size_t i = 0; i < sizeof(type_cat) / sizeof(type_cat[0]); i++) {
        json_int_t n = json_integer_value(json_object_get(by_type, type_cat[i][0]));
        json_int_t had = json_integer_value(json_object_get(by_cat, type_cat[i][1]));
        json_object_set_new(by_cat, type_cat[i][1], json_integer(had + n));
    }
    json_int_t all = 0;
    const char *k;
    json_t *n;
    json_object_foreach(by_status, k, n)
        all += json_integer_value(n);
    json_t *summary = json_pack("{s:I, s:I, s:I, s:O, s:O, s:O, s:O}", "totalAlerts", all,
                                "activeAlerts", json_integer_value(json_object_get(by_status, "active")),
                                "criticalAlerts", json_integer_value(json_object_get(by_sev, "CRITICAL")),
                                "alertsBySeverity", by_sev, "alertsByCategory", by_cat,
                                "alertsByStatus", by_status, "alertsByType", by_type);
    json_decref(by_status);
    json_decref(by_sev);
    json_decref(by_type);
    json_decref(by_cat);
    PQclear(r);
    PQclear(s);
    json_t *pagination = json_pack("{s:I, s:I, s:I, s:b, s:b}", "total", (json_int_t)total,
                                   "limit", (json_int_t)limit, "offset", (json_int_t)offset,
                                   "hasNext", offset + limit < total, "hasPrevious", offset > 0);
    res = adb_http_send_json(req, MHD_HTTP_OK, json_pack("{s:o, s:o, s:o}", "data", data,
                                                         "pagination", pagination, "summary",
                                                         summary));
out:
    free(st_l);
    free(sev_l);
    free(type_l);
    free(src_l);
    free(tag_l);
    return res;
}

/* An alert id as this service makes them, or a legacy one: 1..255 bytes of
 * [A-Za-z0-9_.-]. */
static bool id_ok(const char *id)
{
    size_t n = id ? strlen(id) : 0;

    if (n == 0 || n > 255)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = id[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '_' || ch == '.'))
            return false;
    }
    return true;
}

static enum MHD_Result not_found(adb_http_request *req)
{
    return adb_http_send_error(req, MHD_HTTP_NOT_FOUND, "NOT_FOUND",
                               "no such alert in the organization", NULL);
}

enum MHD_Result adb_http_alerts_get(adb_http_request *req)
{
    const char *id = req->param[0];
    adb_status st;

    if (!id_ok(id))
        return not_found(req);
    const char *p[] = { id, req->who.organization_id };
    PGresult *r = adb_tenant_query(req->state->db, req->who.organization_id,
                                   "SELECT " ADB_ALERT_COLUMNS " FROM alerts a WHERE a.id = $1"
                                   " AND a.organization_id = $2",
                                   2, p, ADB_PLAN_AUTO, NULL, 0, NULL, &st);
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        return adb_http_send_unavailable(req);
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        return not_found(req);
    }
    json_t *a = adb__alert_row_json(r, 0);
    PQclear(r);
    return adb_http_send_json(req, MHD_HTTP_OK, a);
}

enum MHD_Result adb_http_alerts_statistics(adb_http_request *req)
{
    adb_status st;
    char err[256];
    const char *p[] = { req->who.organization_id };
    PGconn *c = adb_tenant_begin(req->state->db, req->who.organization_id, &st, err, sizeof(err));
    PGresult *r = c ? PQexecParams(c,
                                   "SELECT x.f, x.k, count(*) FROM alerts a CROSS JOIN LATERAL"
                                   " (VALUES ('severity', a.severity::text), ('type', a.type::text),"
                                   " ('status', a.status::text), ('source', a.source::text)) AS x(f, k)"
                                   " WHERE a.organization_id = $1 GROUP BY 1, 2",
                                   1, NULL, p, NULL, NULL, 0) : NULL;
    /* the last 30 days, one period a day (UTC), days without alerts included */
    PGresult *t = c ? PQexecParams(c,
                                   "SELECT to_char(d, 'YYYY-MM-DD'),"
                                   " (SELECT count(*) FROM alerts a WHERE a.organization_id = $1"
                                   "   AND a.created_at >= d AND a.created_at < d + interval '1 day'),"
                                   " (SELECT count(*) FROM alerts a WHERE a.organization_id = $1"
                                   "   AND a.resolved_at >= d AND a.resolved_at < d + interval '1 day')"
                                   " FROM generate_series(date_trunc('day', now() AT TIME ZONE 'UTC')"
                                   "   - interval '29 days', date_trunc('day', now() AT TIME ZONE 'UTC'),"
                                   "   interval '1 day') AS g(d0), LATERAL (SELECT d0 AT TIME ZONE 'UTC') AS z(d)"
                                   " ORDER BY 1",
                                   1, NULL, p, NULL, NULL, 0) : NULL;
    if (c)
        adb_tenant_end(req->state->db, c, true);
    if (!r || !t || PQresultStatus(r) != PGRES_TUPLES_OK || PQresultStatus(t) != PGRES_TUPLES_OK) {
        PQclear(r);
        PQclear(t);
        return adb_http_send_unavailable(req);
    }
    json_t *by_status = counts(statuses, r, 0, "status");
    json_t *by_source = json_object();
    for (int i = 0; i < PQntuples(r); i++)
        if (!strcmp(PQgetvalue(r, i, 0), "source"))
            json_object_set_new(by_source, PQgetvalue(r, i, 1),
                                json_integer(atoll(PQgetvalue(r, i, 2))));
    json_t *trends = json_array();
    for (int i = 0; i < PQntuples(t); i++)
        json_array_append_new(trends, json_pack("{s:s, s:I, s:I}", "period", PQgetvalue(t, i, 0),
                                                "created", (json_int_t)atoll(PQgetvalue(t, i, 1)),
                                                "resolved", (json_int_t)atoll(PQgetvalue(t, i, 2))));
    json_int_t total = 0;
    const char *k;
    json_t *n;
    json_object_foreach(by_status, k, n)
        total += json_integer_value(n);
    json_t *out = json_pack("{s:I, s:I, s:I, s:I, s:I, s:o, s:o, s:o, s:o}", "total", total,
                            "active", json_integer_value(json_object_get(by_status, "active")),
                            "acknowledged", json_integer_value(json_object_get(by_status, "acknowledged")),
                            "resolved", json_integer_value(json_object_get(by_status, "resolved")),
                            "dismissed", json_integer_value(json_object_get(by_status, "dismissed")),
                            "bySeverity", counts(severities, r, 0, "severity"),
                            "byType", counts(types, r, 0, "type"), "bySource", by_source,
                            "trends", trends);
    json_decref(by_status);
    PQclear(r);
    PQclear(t);
    return adb_http_send_json(req, MHD_HTTP_OK, out);
}

/* The three actions: the body's optional or required text member, then
 * adb__alert_act. */
static enum MHD_Result act(adb_http_request *req, adb__alert_action a, const char *member,
                           bool required)
{
    const char *const known[] = { member, a == ADB_ALERT_ACK ? "acknowledgedBy" : NULL, NULL };
    enum MHD_Result res = MHD_NO;
    json_t *body = NULL;
    const char *notes = NULL, *id = req->param[0];
    bool changed = false;
    char err[300], msg[200];

    if (req->body_len || required) {
        if (!(body = adb_http_body_object(req, known, required ? "the body must be a JSON object"
                                          " with resolution" : NULL, &res)))
            return res;
        json_t *v = json_object_get(body, member);
        if (v && !json_is_null(v)) {
            notes = json_string_value(v);
            if (!notes || !*notes || strlen(notes) > NOTES_MAX) {
                adb__fmt(msg, sizeof(msg), "%s must be a string of 1 to %d bytes", member, NOTES_MAX);
                res = adb_http_send_invalid(req, member, "INVALID_VALUE", msg);
                goto out;
            }
        } else if (required) {
            adb__fmt(msg, sizeof(msg), "%s is required", member);
            res = adb_http_send_invalid(req, member, "REQUIRED", msg);
            goto out;
        }
        json_t *by = json_object_get(body, "acknowledgedBy");
        if (by && !json_is_null(by) && (!json_is_string(by) || strlen(json_string_value(by)) > 255)) {
            res = adb_http_send_invalid(req, "acknowledgedBy", "INVALID_VALUE",
                                        "acknowledgedBy must be a string of at most 255 bytes");
            goto out;
        }
    }
    if (!id_ok(id)) {
        res = not_found(req);
        goto out;
    }
    adb_status st = adb__alert_act(req->state->db, req->who.organization_id, id, a,
                                   req->who.key_id[0] ? req->who.key_id : "unknown", notes,
                                   &changed, err, sizeof(err));
    if (st == ADB_ERR_NOT_FOUND)
        res = not_found(req);
    else if (st == ADB_ERR_INVALID)
        res = adb_http_send_error(req, MHD_HTTP_CONFLICT, "INVALID_STATE", err, NULL);
    else if (st != ADB_OK)
        res = adb_http_send_unavailable(req);
    else {
        static const char *const done[] = { "acknowledged", "resolved", "dismissed" };
        adb__fmt(msg, sizeof(msg), changed ? "alert %s" : "alert was already %s", done[a]);
        res = adb_http_send_json(req, MHD_HTTP_OK, json_pack("{s:b, s:s, s:b}", "success", 1,
                                                             "message", msg, "changed", changed));
    }
out:
    json_decref(body);
    return res;
}

enum MHD_Result adb_http_alerts_acknowledge(adb_http_request *req)
{
    return act(req, ADB_ALERT_ACK, "notes", false);
}

enum MHD_Result adb_http_alerts_resolve(adb_http_request *req)
{
    return act(req, ADB_ALERT_RESOLVE, "resolution", true);
}

enum MHD_Result adb_http_alerts_dismiss(adb_http_request *req)
{
    return act(req, ADB_ALERT_DISMISS, "reason", false);
}

/* ---- the service's own alerts, for operators --------------------------------- */

/* An operator key has no organization: it reads as "_process", whose alerts
 * the checkpointer, the error monitor and the database monitor raise. */
static void as_process(adb_http_request *req)
{
    adb__fmt(req->who.organization_id, sizeof(req->who.organization_id), "%s", "_process");
}

enum MHD_Result adb_http_operator_alerts_list(adb_http_request *req)
{
    as_process(req);
    return adb_http_alerts_list(req);
}

enum MHD_Result adb_http_operator_alerts_get(adb_http_request *req)
{
    as_process(req);
    return adb_http_alerts_get(req);
}
