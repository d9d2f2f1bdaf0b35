/*
 * metrics_config.c - GET and PUT /api/v1/metrics/config: the organization's
 * metrics configuration in the client's shape {alertThresholds,
 * retentionPolicies, samplingRates, enabledMetrics} (docs/monitoring.md,
 * "Metrics"), kept in metrics_config (0038) as the tenant. What each member
 * does: enabledMetrics chooses the kinds (audit, performance, usage) the
 * organization's metrics routes answer (a disabled one: 403
 * METRICS_DISABLED); retentionPolicies is {} (the metrics are computed from
 * the rows, kept by the events' and the access log's own retention; the
 * process's snapshots by the operator's AUDITDB_METRICS_RETENTION_DAYS);
 * samplingRates are 1 (every figure is exact: nothing is sampled);
 * alertThresholds are kept per metric name of the query catalogue. A
 * change is a configuration change (config_change_event and its audit
 * event, src/monitor/config_change.h).
 */
#include "metrics_api.h"
#include "../core/util.h"
#include "../monitor/config_change.h"

#include <stdlib.h>
#include <string.h>

json_t *mx_catalogue_json(void); /* metrics_series.c */

static const char *const kinds[] = { "audit", "performance", "usage", NULL };

static bool is_kind(const char *s)
{
    for (int i = 0; kinds[i]; i++)
        if (s && !strcmp(s, kinds[i]))
            return true;
    return false;
}

static bool in_catalogue(const char *name)
{
    json_t *c = mx_catalogue_json();
    size_t i;
    json_t *x;
    bool found = false;
    json_array_foreach(c, i, x)
        found = found || !strcmp(json_string_value(json_object_get(x, "name")), name);
    json_decref(c);
    return found;
}

/* The defaults every organization starts with. */
static json_t *defaults(void)
{
    return json_pack("{s:{}, s:{}, s:{s:i, s:i, s:i}, s:[s, s, s]}", "alertThresholds", "retentionPolicies",
                     "samplingRates", "audit", 1, "performance", 1, "usage", 1,
                     "enabledMetrics", "audit", "performance", "usage");
}

/* The stored configuration over the defaults; NULL on a database failure. */
static json_t *current(PGconn *c, const char *org, char **raw)
{
    const char *p[] = { org };
    PGresult *r = mx_exec(c, "SELECT config::text FROM metrics_config WHERE organization_id = $1", 1, p);
    if (!r)
        return NULL;
    json_t *o = defaults();
    if (raw)
        *raw = NULL;
    if (PQntuples(r) == 1) {
        json_t *stored = json_loads(PQgetvalue(r, 0, 0), 0, NULL);
        if (json_is_object(stored))
            json_object_update(o, stored);
        json_decref(stored);
        if (raw)
            *raw = adb__strdup(PQgetvalue(r, 0, 0));
    }
    PQclear(r);
    return o;
}

static json_t *answer(json_t *cfg)
{
    json_object_set_new(cfg, "catalogue", mx_catalogue_json());
    return cfg;
}

enum MHD_Result adb_http_metrics_config_get(adb_http_request *req)
{
    adb_status st;
    char err[256];
    PGconn *c = adb_tenant_begin(req->state->db, req->who.organization_id, &st, err, sizeof(err));
    if (!c)
        return adb_http_send_unavailable(req);
    json_t *o = current(c, req->who.organization_id, NULL);
    adb_tenant_end(req->state->db, c, o != NULL);
    return o ? adb_http_send_json(req, MHD_HTTP_OK, answer(o)) : adb_http_send_unavailable(req);
}

/* Checks one member of the body; false with the 400 queued. */
static bool check(adb_http_request *req, const char *k, json_t *v, enum MHD_Result *res)
{
    char field[160];
    const char *n;
    json_t *x;
    size_t i;

    if (!strcmp(k, "enabledMetrics")) {
        if (!json_is_array(v) || json_array_size(v) > 3) {
            *res = adb_http_send_invalid(req, k, "INVALID_TYPE", "enabledMetrics is an array of audit, performance, usage");
            return false;
        }
        json_array_foreach(v, i, x) {
            adb__fmt(field, sizeof(field), "enabledMetrics[%zu]", i);
            if (!is_kind(json_string_value(x))) {
                *res = adb_http_send_invalid(req, field, "INVALID_VALUE", "audit, performance or usage");
                return false;
            }
        }
        return true;
    }
    if (!strcmp(k, "retentionPolicies")) {
        if (!json_is_object(v) || json_object_size(v) > 0) {
            n = json_is_object(v) ? json_object_iter_key(json_object_iter(v)) : NULL;
            adb__fmt(field, sizeof(field), n ? "retentionPolicies.%.64s" : "retentionPolicies", n);
            adb__utf8_repair(field);
            *res = adb_http_send_invalid(req, field, "NOT_CONFIGURABLE",
                                         "the metrics are computed from the stored rows, kept as their own retention"
                                         " policies say; the process's snapshots as the operator sets"
                                         " (AUDITDB_METRICS_RETENTION_DAYS): retentionPolicies is {}");
            return false;
        }
        return true;
    }
    if (!strcmp(k, "samplingRates")) {
        if (!json_is_object(v)) {
            *res = adb_http_send_invalid(req, k, "INVALID_TYPE", "samplingRates is {kind: 1}");
            return false;
        }
        json_object_foreach(v, n, x) {
            adb__fmt(field, sizeof(field), "samplingRates.%.64s", n);
            adb__utf8_repair(field);
            if (!is_kind(n)) {
                *res = adb_http_send_invalid(req, field, "UNKNOWN_FIELD", "audit, performance or usage");
                return false;
            }
            if (!json_is_number(x) || json_number_value(x) != 1) {
                *res = adb_http_send_invalid(req, field, "UNSUPPORTED_VALUE",
                                             "every figure is computed exactly from the stored rows: the rate is 1");
                return false;
            }
        }
        return true;
    }
    if (!strcmp(k, "alertThresholds")) {
        if (!json_is_object(v) || json_object_size(v) > 50) {
            *res = adb_http_send_invalid(req, k, "INVALID_TYPE", "alertThresholds is {metric name: number >= 0}");
            return false;
        }
        json_object_foreach(v, n, x) {
            adb__fmt(field, sizeof(field), "alertThresholds.%.64s", n);
            adb__utf8_repair(field);
            if (!in_catalogue(n)) {
                *res = adb_http_send_invalid(req, field, "UNKNOWN_METRIC", "a metric name of the catalogue (GET /metrics/config)");
                return false;
            }
            if (!json_is_number(x) || json_number_value(x) < 0) {
                *res = adb_http_send_invalid(req, field, "INVALID_VALUE", "a number >= 0");
                return false;
            }
        }
        return true;
    }
    adb__fmt(field, sizeof(field), "%.64s", k);
    adb__utf8_repair(field);
    *res = adb_http_send_invalid(req, field, "UNKNOWN_FIELD",
                                 "the members are alertThresholds, retentionPolicies, samplingRates, enabledMetrics");
    return false;
}

enum MHD_Result adb_http_metrics_config_put(adb_http_request *req)
{
    json_error_t je;
    enum MHD_Result res = MHD_NO;
    json_t *body = req->body_len ? json_loadb(req->body, req->body_len, 0, &je) : NULL;
    const char *k;
    json_t *v;

    if (!json_is_object(body)) {
        json_decref(body);
        return adb_http_send_invalid(req, "", "INVALID_JSON",
                                     "the body is a JSON object: {\"alertThresholds\", \"retentionPolicies\","
                                     " \"samplingRates\", \"enabledMetrics\"}, each optional");
    }
    json_object_foreach(body, k, v) {
        if (!check(req, k, v, &res)) {
            json_decref(body);
            return res;
        }
    }
    adb_status st;
    char err[256], *before = NULL;
    const char *org = req->who.organization_id;
    PGconn *c = adb_tenant_begin(req->state->db, org, &st, err, sizeof(err));
    if (!c) {
        json_decref(body);
        return adb_http_send_unavailable(req);
    }
    json_t *cfg = current(c, org, &before);
    bool ok = cfg != NULL;
    char *text = NULL;
    if (ok) {
        json_object_update(cfg, body); /* members given replace the stored ones */
        text = json_dumps(cfg, JSON_COMPACT | JSON_SORT_KEYS);
        const char *p[] = { org, text, req->who.key_id };
        PGresult *r = text ? mx_exec(c, "INSERT INTO metrics_config (organization_id, config, updated_by)"
                                        " VALUES ($1, $2::jsonb, $3) ON CONFLICT (organization_id) DO UPDATE"
                                        " SET config = $2::jsonb, updated_at = now(), updated_by = $3", 3, p) : NULL;
        ok = r != NULL;
        PQclear(r);
    }
    adb__config_change ch = {
        .org = org, .field = "metrics.config", .previous_json = before ? before : "null",
        .new_json = text ? text : "null", .changed_by = req->who.key_id, .reason = NULL,
    };
    ok = ok && adb__config_change_tx(c, &ch, err, sizeof(err)) == ADB_OK;
    adb_tenant_end(req->state->db, c, ok);
    json_decref(body);
    if (ok)
        adb__config_change_announce(req->state->db, &ch);
    free(before);
    free(text);
    if (!ok) {
        json_decref(cfg);
        return adb_http_send_unavailable(req);
    }
    return adb_http_send_json(req, MHD_HTTP_OK, answer(cfg));
}

bool mx_kind_enabled(adb_http_request *req, const char *kind, enum MHD_Result *res)
{
    adb_status st;
    char err[256];
    PGconn *c = adb_tenant_begin(req->state->db, req->who.organization_id, &st, err, sizeof(err));
    if (!c) {
        *res = adb_http_send_unavailable(req);
        return false;
    }
    json_t *cfg = current(c, req->who.organization_id, NULL);
    adb_tenant_end(req->state->db, c, cfg != NULL);
    if (!cfg) {
        *res = adb_http_send_unavailable(req);
        return false;
    }
    bool on = false;
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(cfg, "enabledMetrics"), i, x)
        on = on || !strcmp(json_string_value(x), kind);
    json_decref(cfg);
    if (!on)
        *res = adb_http_send_error(req, MHD_HTTP_FORBIDDEN, "METRICS_DISABLED",
                                   "this kind of metrics is disabled by the organization's configuration"
                                   " (enabledMetrics, PUT /api/v1/metrics/config)",
                                   json_pack("{s:[{s:s, s:s, s:s}]}", "errors", "code", "METRICS_DISABLED",
                                             "field", "type", "message", kind));
    return on;
}
