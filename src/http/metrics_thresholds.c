/*
 * metrics_thresholds.c - the organizations' metrics alertThresholds
 * evaluated (docs/monitoring.md "Thresholds"): every interval, for each
 * organization with thresholds (or with an open threshold alert), each
 * metric of the catalogue it names is computed as the tenant over the last
 * window (AUDITDB_METRICS_THRESHOLD_WINDOW_S; metrics_series.c's catalogue: its default aggregation, no
 * filter); one above its threshold raises the organization's alert
 * "metrics-threshold/<name>" through adb__alert_raise (type METRICS, source
 * auditdb-metrics), one that is no longer above (or whose threshold was
 * removed) resolves it, in one transaction of the owner per organization.
 */
#include "metrics_api.h"
#include "../alert/alert.h"
#include "../core/ticker.h"
#include "../core/util.h"
#include "../event/event.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define THRESHOLD_SOURCE "auditdb-metrics"
#define THRESHOLD_KEY "metrics-threshold/"
#define ORGS_MAX 10000 /* organizations a round looks at */

struct mx_thresholds {
    adb *db;
    int interval_s, window_s;
    adb__ticker *ticker;
    bool failing; /* the last round failed: said once, not every round */
};

/* The metrics above their thresholds for org over r, as triggers raised and
 * the rest resolved on the owner's connection o, in one transaction. */
static bool evaluate_org(adb *db, PGconn *o, const char *org, const json_t *thresholds, const mx_range *r,
                         int window_s, char *err, size_t errlen)
{
    /* the values, as the tenant */
    json_t *crossed = json_array(), *values = json_object();
    PGconn *c = mx_tenant_begin_as(db, org);
    bool ok = c != NULL;
    const char *name;
    json_t *t;
    json_object_foreach((json_t *)thresholds, name, t) {
        double v = 0;
        if (!ok || !json_is_number(t))
            continue;
        if (!mx_metric_value(c, org, name, r, &v)) {
            ok = false;
            break;
        }
        if (v > json_number_value(t))
            json_object_set_new(values, name, json_real(v));
    }
    if (c)
        adb_tenant_end(db, c, ok);
    if (!ok) {
        adb__fmt(err, errlen, "could not compute the metrics of an organization");
        json_decref(crossed), json_decref(values);
        return false;
    }
    /* raised and resolved together */
    PGresult *b = PQexec(o, "BEGIN");
    ok = PQresultStatus(b) == PGRES_COMMAND_OK;
    PQclear(b);
    json_t *v;
    json_object_foreach(values, name, v) {
        char key[160], title[200], desc[400];
        double th = json_number_value(json_object_get(thresholds, name));
        adb__fmt(key, sizeof(key), THRESHOLD_KEY "%s", name);
        adb__fmt(title, sizeof(title), "metric %s above its threshold", name);
        adb__fmt(desc, sizeof(desc), "%s was %.6g over the last %d seconds; its threshold (alertThresholds) is %.6g",
                 name, json_real_value(v), window_s, th);
        json_t *meta = json_pack("{s:s, s:f, s:O, s:i, s:s, s:s}", "metric", name, "value", json_real_value(v),
                                 "threshold", json_object_get(thresholds, name), "windowSeconds", window_s,
                                 "startDate", r->start, "endDate", r->end);
        char *mt = meta ? json_dumps(meta, JSON_COMPACT) : NULL;
        json_decref(meta);
        adb__alert_trigger tr = {
            .org = org, .source = THRESHOLD_SOURCE, .dedup_key = key, .severity = "MEDIUM", .type = "METRICS",
            .title = title, .description = desc, .metadata_json = mt, .at_ms = adb__alert_now_ms(),
        };
        if (ok && (!mt || adb__alert_raise(o, &tr, NULL, NULL, err, errlen) != ADB_OK))
            ok = false;
        free(mt);
        json_array_append_new(crossed, json_string(key));
    }
    json_t *prefixes = json_pack("[s]", THRESHOLD_KEY);
    if (ok && adb__alert_resolve_absent(o, org, THRESHOLD_SOURCE, prefixes, crossed, THRESHOLD_SOURCE,
                                        "the metric is no longer above its threshold (or the threshold was removed)",
                                        NULL, err, errlen) != ADB_OK)
        ok = false;
    json_decref(prefixes);
    b = PQexec(o, ok ? "COMMIT" : "ROLLBACK");
    if (ok && PQresultStatus(b) != PGRES_COMMAND_OK) {
        adb__fmt(err, errlen, "could not commit: %s", PQresultErrorMessage(b));
        adb__oneline(err);
        ok = false;
    }
    PQclear(b);
    json_decref(crossed), json_decref(values);
    return ok;
}

int mx_thresholds_round(adb *db, int window_s, char *err, size_t errlen)
{
    adb_status st;
    adb_pool *pool = adb_get_pool(db);
    PGconn *o = adb_pool_acquire(pool, &st, err, errlen);
    if (!o)
        return -1;
    /* the organizations with thresholds, and those with an open threshold alert (removed thresholds) */
    PGresult *r = PQexec(o, "SELECT organization_id, coalesce(config->'alertThresholds', '{}')::text"
                            " FROM metrics_config WHERE config->'alertThresholds' <> '{}'"
                            " UNION SELECT DISTINCT organization_id, '{}' FROM alerts"
                            "  WHERE source = '" THRESHOLD_SOURCE "' AND status IN ('active', 'acknowledged')"
                            "  AND organization_id NOT IN (SELECT organization_id FROM metrics_config"
                            "   WHERE config->'alertThresholds' <> '{}')"
                            " ORDER BY 1 LIMIT " "10000");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        adb__fmt(err, errlen, "could not read the thresholds: %s", PQresultErrorMessage(r));
        adb__oneline(err);
        PQclear(r);
        adb_pool_release(pool, o);
        return -1;
    }
    mx_range rg;
    rg.end_us = adb__now_us();
    rg.start_us = rg.end_us - (int64_t)window_s * 1000000;
    mx_iso_us(rg.start_us, rg.start);
    mx_iso_us(rg.end_us, rg.end);
    int n = 0, failed = 0;
    for (int i = 0; i < PQntuples(r) && i < ORGS_MAX; i++) {
        json_t *th = json_loads(PQgetvalue(r, i, 1), 0, NULL);
        if (json_is_object(th) && evaluate_org(db, o, PQgetvalue(r, i, 0), th, &rg, window_s, err, errlen))
            n++;
        else
            failed++;
        json_decref(th);
    }
    PQclear(r);
    adb_pool_release(pool, o);
    return failed ? -1 : n;
}

static void tick(void *arg)
{
    mx_thresholds *t = arg;
    char err[256] = "";
    /* a failure is said once (never a value: the reason is ours or the database's); the next round tries again */
    if (mx_thresholds_round(t->db, t->window_s, err, sizeof(err)) < 0) {
        if (!t->failing)
            adb__json_log_line(stderr, "metrics-thresholds", "error", NULL, "round_failed", err);
        t->failing = true;
    } else if (t->failing) {
        adb__json_log_line(stderr, "metrics-thresholds", "info", NULL, "round_ok", "threshold rounds succeed again");
        t->failing = false;
    }
}

mx_thresholds *mx_thresholds_start(adb *db, int interval_s, int window_s)
{
    if (interval_s <= 0)
        return NULL;
    mx_thresholds *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->db = db;
    t->interval_s = interval_s;
    t->window_s = window_s > 0 ? window_s : 300;
    if (!(t->ticker = adb__ticker_start(interval_s, tick, t))) {
        free(t);
        return NULL;
    }
    return t;
}

void mx_thresholds_stop(mx_thresholds *t)
{
    if (!t)
        return;
    adb__ticker_stop(t->ticker);
    free(t);
}
