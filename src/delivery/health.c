/*
 * health.c - a destination's health as the client reads it: smart-logs'
 * DestinationHealth shape (GET /api/v1/delivery/destinations/{id}/health,
 * auditdb deliveries health), from destination_health and the latest
 * transitions (docs/delivery.md, "Health and breakers").
 */
#include "delivery.h"
#include "../core/util.h"

#include <stdlib.h>
#include <string.h>

#define ISO(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
#define TRANSITIONS_SHOWN 20

static json_t *str_or_null(const PGresult *r, int col)
{
    return PQgetisnull(r, 0, col) ? NULL : json_string(PQgetvalue(r, 0, col));
}

static void set_opt(json_t *o, const char *name, json_t *v)
{
    if (v)
        json_object_set_new(o, name, v);
}

static json_t *int_or_null(const PGresult *r, int col)
{
    return PQgetisnull(r, 0, col) ? NULL
                                  : json_integer(strtoll(PQgetvalue(r, 0, col), NULL, 10));
}

adb_status adb__health_json(PGconn *c, const char *org, int id, json_t **out)
{
    char idt[16];
    const char *p[2] = { idt, org };

    *out = NULL;
    adb__fmt(idt, sizeof(idt), "%d", id);
    PGresult *r = PQexecParams(c,
        "SELECT d.id, CASE WHEN d.disabled = 'true' THEN 'disabled'"
        " ELSE coalesce(h.status, 'healthy') END,"
        " " ISO("coalesce(h.last_check_at, d.created_at)") ", coalesce(h.consecutive_failures, 0),"
        " coalesce(h.total_failures, 0), coalesce(h.total_deliveries, 0),"
        " coalesce(h.success_rate, '0'), h.average_response_time, " ISO("h.last_failure_at") ","
        " " ISO("h.last_success_at") ", " ISO("coalesce(h.disabled_at, d.disabled_at)") ","
        " h.disabled_reason, coalesce(h.circuit_breaker_state, 'closed'),"
        " " ISO("h.circuit_breaker_opened_at") ", coalesce(h.metadata, '{}')::text,"
        " h.p95_response_time, h.p99_response_time, " ISO("h.failing_since") ","
        " " ISO("h.window_started_at") ", coalesce(h.window_total, 0),"
        " coalesce(h.window_failures, 0), d.config::text"
        " FROM delivery_destinations d LEFT JOIN destination_health h"
        " ON h.destination_id = d.id AND h.organization_id = d.organization_id"
        " WHERE d.id = $1::int AND d.organization_id = $2 AND d.deleted_at IS NULL",
        2, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        return ADB_ERR_DB_QUERY;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        return ADB_ERR_NOT_FOUND;
    }
    json_t *h = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:s}",
                          "destinationId", PQgetvalue(r, 0, 0), "status", PQgetvalue(r, 0, 1),
                          "lastCheckAt", PQgetvalue(r, 0, 2), "consecutiveFailures",
                          (json_int_t)strtoll(PQgetvalue(r, 0, 3), NULL, 10), "totalFailures",
                          (json_int_t)strtoll(PQgetvalue(r, 0, 4), NULL, 10), "totalDeliveries",
                          (json_int_t)strtoll(PQgetvalue(r, 0, 5), NULL, 10), "successRate",
                          PQgetvalue(r, 0, 6), "circuitBreakerState", PQgetvalue(r, 0, 12));
    json_t *meta = json_loads(PQgetvalue(r, 0, 14), 0, NULL);
    json_t *config = json_loads(PQgetvalue(r, 0, 21), 0, NULL);
    if (!json_is_object(meta)) {
        json_decref(meta);
        meta = json_object();
    }
    if (!h || !meta) {
        json_decref(h);
        json_decref(meta);
        json_decref(config);
        PQclear(r);
        return ADB_ERR_NOMEM;
    }
    set_opt(h, "averageResponseTime", int_or_null(r, 7));
    set_opt(h, "lastFailureAt", str_or_null(r, 8));
    set_opt(h, "lastSuccessAt", str_or_null(r, 9));
    set_opt(h, "disabledAt", str_or_null(r, 10));
    set_opt(h, "disabledReason", str_or_null(r, 11));
    set_opt(h, "circuitBreakerOpenedAt", str_or_null(r, 13));

    /* metadata: what the seed's columns do not hold (the samples stay inside) */
    json_object_del(meta, "responseTimesMs");
    set_opt(meta, "p95ResponseTime", int_or_null(r, 15));
    set_opt(meta, "p99ResponseTime", int_or_null(r, 16));
    set_opt(meta, "failingSince", str_or_null(r, 17));
    json_t *win = json_pack("{s:I, s:I}", "attempts",
                            (json_int_t)strtoll(PQgetvalue(r, 0, 19), NULL, 10), "failures",
                            (json_int_t)strtoll(PQgetvalue(r, 0, 20), NULL, 10));
    if (win)
        set_opt(win, "startedAt", str_or_null(r, 18));
    set_opt(meta, "window", win);
    adb__breaker_config cfg;
    adb__breaker_config_of(config, &cfg);
    json_decref(config);
    set_opt(meta, "circuitBreaker",
            json_pack("{s:i, s:i, s:i, s:i, s:i, s:i}", "failureRateThreshold",
                      cfg.failure_rate_pct, "windowSeconds", cfg.window_s, "minimumVolume",
                      cfg.min_volume, "cooldownSeconds", cfg.cooldown_s, "probeTimeoutSeconds",
                      cfg.probe_timeout_s, "disableAfterSeconds", cfg.disable_after_s));
    PQclear(r);

    /* the latest transitions, newest first */
    r = PQexecParams(c,
                     "SELECT " ISO("at") ", from_state, to_state, reason"
                     " FROM destination_health_transition"
                     " WHERE destination_id = $1::int AND organization_id = $2"
                     " ORDER BY at DESC, id DESC LIMIT 20",
                     2, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        json_decref(meta);
        json_decref(h);
        return ADB_ERR_DB_QUERY;
    }
    json_t *tr = json_array();
    for (int i = 0; tr && i < PQntuples(r) && i < TRANSITIONS_SHOWN; i++)
        json_array_append_new(tr, json_pack("{s:s, s:s, s:s, s:s}", "at", PQgetvalue(r, i, 0),
                                            "from", PQgetvalue(r, i, 1), "to",
                                            PQgetvalue(r, i, 2), "reason", PQgetvalue(r, i, 3)));
    PQclear(r);
    set_opt(meta, "transitions", tr);
    json_object_set_new(h, "metadata", meta);
    *out = h;
    return ADB_OK;
}
