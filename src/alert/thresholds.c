/*
 * thresholds.c - the client's alert configuration thresholds evaluated
 * (docs/alerts.md "Configuration"): every ADB_ALERT_THRESHOLDS_TICKS ticks
 * of the alert thread (30 s by default) each organization's delivery
 * destinations and queue are held against its failureRateThreshold,
 * consecutiveFailureThreshold, queueBacklogThreshold and
 * responseTimeThreshold; a breach raises (or folds into) a DELIVERY alert
 * through adb__alert_raise, one per (threshold, destination), source
 * auditdb-thresholds; an open one whose breach ended is resolved by
 * "auditdb" in the round that finds it so. A threshold of 0 is off. And
 * escalationDelay (minutes): an alert still active (not acknowledged, not
 * silenced) that long after it opened goes one severity up, once, with its
 * alert.escalated audit event (through the outbox).
 */
#include "alert.h"

#include "../core/util.h"
#include "../event/event.h"

#include <stdlib.h>
#include <string.h>

#define ORGS_MAX 1000  /* organizations weighed in one round */
#define DESTS_MAX 1000 /* destinations of one organization weighed in one round */
#define MIN_DELIVERIES 10 /* a failure rate is weighed from this many deliveries */

static double num(const json_t *cfg, const char *k)
{
    const json_t *v = json_object_get(cfg, k);
    return json_is_number(v) ? json_number_value(v) : 0;
}

/* Raises one breach of org (dedup key "threshold/<what>[/<dest>]") and
 * adds its key to keys (the breaches of this round). */
static bool breach(PGconn *c, const char *org, const char *what, int dest, const char *severity,
                   const char *title, const char *desc, double value, double threshold,
                   json_t *keys)
{
    char key[96], err[256];

    if (dest > 0)
        adb__fmt(key, sizeof(key), "threshold/%s/%d", what, dest);
    else
        adb__fmt(key, sizeof(key), "threshold/%s", what);
    json_t *m = json_pack("{s:s, s:s, s:f, s:f}", "kind", "threshold", "threshold", what, "value",
                          value, "limit", threshold);
    if (m && dest > 0)
        json_object_set_new(m, "destinationId", json_integer(dest));
    char *meta = m ? json_dumps(m, JSON_COMPACT) : NULL;
    json_decref(m);
    if (!meta)
        return false;
    adb__alert_trigger t = { .org = org, .source = ADB_ALERT_THRESHOLDS_SOURCE, .dedup_key = key,
                             .severity = severity, .type = "DELIVERY", .title = title,
                             .description = desc, .metadata_json = meta };
    bool ok = adb__alert_raise(c, &t, NULL, NULL, err, sizeof(err)) == ADB_OK;
    free(meta);
    if (ok)
        json_array_append_new(keys, json_string(key));
    return ok;
}

/* Resolves org's open threshold alerts whose key is not in keys: their
 * breach ended (by "auditdb", with its alert.resolve event). */
static bool settle(adb *h, PGconn *c, const char *org, const json_t *keys)
{
    char *list = json_dumps(keys, JSON_COMPACT), err[256];
    const char *p[] = { org, list ? list : "[]" };
    PGresult *r = list ? PQexecParams(c, "SELECT id FROM alerts WHERE organization_id = $1"
                                         " AND source = '" ADB_ALERT_THRESHOLDS_SOURCE "'"
                                         " AND status IN ('active', 'acknowledged')"
                                         " AND NOT $2::jsonb ? dedup_key ORDER BY id LIMIT 1000",
                                      2, NULL, p, NULL, NULL, 0)
                       : NULL;
    bool ok = PQresultStatus(r) == PGRES_TUPLES_OK;

    free(list);
    for (int i = 0; ok && i < PQntuples(r); i++) {
        bool changed = false;
        adb_status st = adb__alert_act(h, org, PQgetvalue(r, i, 0), ADB_ALERT_RESOLVE, "auditdb",
                                       "the threshold is no longer breached", &changed, err,
                                       sizeof(err));
        /* acted on meanwhile (dismissed, resolved by a person): nothing to do */
        ok = st == ADB_OK || st == ADB_ERR_INVALID || st == ADB_ERR_NOT_FOUND;
    }
    PQclear(r);
    return ok;
}

/* The breaches of one organization under cfg (merged configuration). */
static bool weigh(PGconn *c, const char *org, const json_t *cfg, json_t *keys)
{
    double rate_t = num(cfg, "failureRateThreshold"), consec_t = num(cfg, "consecutiveFailureThreshold");
    double backlog_t = num(cfg, "queueBacklogThreshold"), resp_t = num(cfg, "responseTimeThreshold");
    char lim[16], desc[400], title[160];
    const char *p[] = { org, lim };
    bool ok = true;

    adb__fmt(lim, sizeof(lim), "%d", DESTS_MAX);
    PGresult *r = PQexecParams(c,
                               "SELECT d.id, coalesce(h.consecutive_failures, 0),"
                               " coalesce(h.total_failures, 0), coalesce(h.total_deliveries, 0),"
                               " h.average_response_time"
                               " FROM delivery_destinations d LEFT JOIN destination_health h"
                               " ON h.destination_id = d.id WHERE d.organization_id = $1"
                               " AND d.deleted_at IS NULL AND d.disabled = 'false'"
                               " ORDER BY d.id LIMIT $2::int",
                               2, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        return false;
    }
    for (int i = 0; ok && i < PQntuples(r); i++) {
        int id = atoi(PQgetvalue(r, i, 0));
        double consec = atof(PQgetvalue(r, i, 1)), fails = atof(PQgetvalue(r, i, 2));
        double total = atof(PQgetvalue(r, i, 3));
        if (consec_t > 0 && consec >= consec_t) {
            adb__fmt(title, sizeof(title), "destination %d failed %.0f deliveries in a row", id, consec);
            adb__fmt(desc, sizeof(desc), "%.0f consecutive failed deliveries to destination %d"
                     " (consecutiveFailureThreshold %.0f)", consec, id, consec_t);
            ok = breach(c, org, "consecutive-failures", id, "HIGH", title, desc, consec, consec_t, keys);
        }
        double rate = total > 0 ? fails * 100.0 / total : 0;
        if (ok && rate_t > 0 && total >= MIN_DELIVERIES && rate >= rate_t) {
            adb__fmt(title, sizeof(title), "destination %d fails %.1f%% of its deliveries", id, rate);
            adb__fmt(desc, sizeof(desc), "%.0f of %.0f deliveries to destination %d failed: %.1f%%"
                     " (failureRateThreshold %.1f%%)", fails, total, id, rate, rate_t);
            ok = breach(c, org, "failure-rate", id, "MEDIUM", title, desc, rate, rate_t, keys);
        }
        if (ok && resp_t > 0 && !PQgetisnull(r, i, 4) && atof(PQgetvalue(r, i, 4)) >= resp_t) {
            double ms = atof(PQgetvalue(r, i, 4));
            adb__fmt(title, sizeof(title), "destination %d answers in %.0f ms on average", id, ms);
            adb__fmt(desc, sizeof(desc), "the average response time of destination %d is %.0f ms"
                     " (responseTimeThreshold %.0f ms)", id, ms, resp_t);
            ok = breach(c, org, "response-time", id, "LOW", title, desc, ms, resp_t, keys);
        }
    }
    PQclear(r);
    if (!ok || backlog_t <= 0)
        return ok;
    r = PQexecParams(c, "SELECT count(*) FROM delivery_queue WHERE organization_id = $1"
                        " AND status IN ('pending', 'processing')", 1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        return false;
    }
    double backlog = atof(PQgetvalue(r, 0, 0));
    PQclear(r);
    if (backlog >= backlog_t) {
        adb__fmt(title, sizeof(title), "%.0f deliveries wait in the queue", backlog);
        adb__fmt(desc, sizeof(desc), "%.0f deliveries of the organization are pending or in progress"
                 " (queueBacklogThreshold %.0f)", backlog, backlog_t);
        ok = breach(c, org, "queue-backlog", 0, "MEDIUM", title, desc, backlog, backlog_t, keys);
    }
    return ok;
}

/* Escalates org's alerts active for delay minutes at now (one statement:
 * the alerts and their outbox rows). */
static bool escalate(PGconn *c, const char *org, double delay, const char *now)
{
    char d[32];
    adb__fmt(d, sizeof(d), "%.3f", delay);
    const char *p[] = { org, d, now };
    PGresult *r = PQexecParams(c,
        "WITH e AS (UPDATE alerts a SET severity = CASE a.severity WHEN 'INFO' THEN 'LOW'"
        "  WHEN 'LOW' THEN 'MEDIUM' WHEN 'MEDIUM' THEN 'HIGH' ELSE 'CRITICAL' END,"
        "  metadata = coalesce(a.metadata, '{}') || jsonb_build_object('escalatedAt', $3::text,"
        "  'escalatedFrom', a.severity), updated_at = $3::timestamptz"
        "  WHERE a.organization_id = $1 AND a.status = 'active' AND NOT a.silenced"
        "  AND a.severity <> 'CRITICAL' AND NOT coalesce(a.metadata, '{}') ? 'escalatedAt'"
        "  AND a.created_at <= $3::timestamptz - $2::float8 * interval '1 minute'"
        "  RETURNING a.id, a.severity, a.metadata->>'escalatedFrom' AS was)"
        " INSERT INTO alert_audit_outbox (organization_id, alert_id, action, details, at)"
        " SELECT $1, e.id, 'alert.escalated', jsonb_build_object('by', 'auditdb', 'from', e.was,"
        "  'to', e.severity, 'escalationDelayMinutes', $2::float8), $3::timestamptz FROM e",
        3, NULL, p, NULL, NULL, 0);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    return ok;
}

/* The escalations due: every organization with an active alert that may go up. */
static bool escalations(PGconn *c)
{
    char now[ADB_TS_TEXT_MAX];
    adb__timestamp_format(adb__alert_now_ms() * 1000, now);
    PGresult *r = PQexecParams(c,
                               "SELECT o.org, c.config::text FROM (SELECT DISTINCT organization_id AS org"
                               " FROM alerts WHERE status = 'active' AND NOT silenced"
                               " AND severity <> 'CRITICAL') o LEFT JOIN alert_config c"
                               " ON c.organization_id = o.org ORDER BY o.org LIMIT 1000",
                               0, NULL, NULL, NULL, NULL, 0);
    bool ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    for (int i = 0; ok && i < PQntuples(r); i++) {
        json_t *stored = PQgetisnull(r, i, 1) ? NULL : json_loads(PQgetvalue(r, i, 1), 0, NULL);
        json_t *cfg = adb__alert_config_merge(stored, NULL);
        json_decref(stored);
        double delay = cfg ? num(cfg, "escalationDelay") : 0;
        if (delay > 0)
            ok = escalate(c, PQgetvalue(r, i, 0), delay, now);
        json_decref(cfg);
    }
    PQclear(r);
    return ok;
}

int adb__alert_thresholds_round(adb *h, PGconn *c)
{
    char lim[16];
    int raised = 0;

    adb__fmt(lim, sizeof(lim), "%d", ORGS_MAX);
    const char *p[] = { lim };
    /* the organizations with something to weigh (destinations or queued
     * deliveries) or a threshold alert open to settle */
    PGresult *r = PQexecParams(c,
                               "SELECT o.org, c.config::text FROM (SELECT organization_id AS org"
                               " FROM delivery_destinations WHERE deleted_at IS NULL"
                               " UNION SELECT organization_id FROM delivery_queue"
                               " WHERE status IN ('pending', 'processing')"
                               " UNION SELECT organization_id FROM alerts WHERE source = '"
                               ADB_ALERT_THRESHOLDS_SOURCE "' AND status IN ('active', 'acknowledged')) o"
                               " LEFT JOIN alert_config c ON c.organization_id = o.org"
                               " ORDER BY o.org LIMIT $1::int",
                               1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        return -1;
    }
    bool ok = true;
    for (int i = 0; ok && i < PQntuples(r); i++) {
        json_t *stored = PQgetisnull(r, i, 1) ? NULL : json_loads(PQgetvalue(r, i, 1), 0, NULL);
        json_t *cfg = adb__alert_config_merge(stored, NULL), *keys = json_array();
        json_decref(stored);
        ok = cfg && keys && weigh(c, PQgetvalue(r, i, 0), cfg, keys) &&
             settle(h, c, PQgetvalue(r, i, 0), keys);
        raised += (int)json_array_size(keys);
        json_decref(cfg);
        json_decref(keys);
    }
    PQclear(r);
    if (ok)
        ok = escalations(c);
    return ok ? raised : -1;
}
