/*
 * lifecycle.c - an alert's states after it opened (docs/alerts.md "Alerts"):
 * acknowledge, resolve, dismiss, as the tenant; each real change is an audit
 * event of the organization logged after the commit; a call that finds the
 * alert already in that state answers success and changes nothing. Also the
 * outbox of the state changes made inside other transactions (raise.c's
 * openings, hold-open resolutions), logged here after their commit.
 */
#include "alert.h"

#include "../core/adb_internal.h"
#include "../core/util.h"
#include "../event/event.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name, *action, *to, *from;  /* from: states it applies to */
} acts[] = {
    [ADB_ALERT_ACK] = { "acknowledge", "alert.acknowledge", "acknowledged", "active" },
    [ADB_ALERT_RESOLVE] = { "resolve", "alert.resolve", "resolved", "active,acknowledged" },
    [ADB_ALERT_DISMISS] = { "dismiss", "alert.dismiss", "dismissed", "active,acknowledged" },
};

const char *adb__alert_action_name(adb__alert_action a)
{
    return acts[a].name;
}

/* Logs one audit event of org about alert id (after a commit). */
static adb_status audit(adb *h, const char *org, const char *action, const char *principal,
                        const char *id, json_t *details, const char *idem)
{
    char ts[ADB_TS_TEXT_MAX];
    adb_log_options lo = { .organization_id = org, .idempotency_key = idem };
    adb_log_result res;

    adb__timestamp_format(adb__now_us(), ts);
    json_t *ev = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:O}", "timestamp", ts,
                           "action", action, "status", "success", "principalId", principal,
                           "organizationId", org, "targetResourceType", "Alert",
                           "targetResourceId", id, "dataClassification", "INTERNAL", "details",
                           details);
    char *text = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
    json_decref(ev);
    if (!text)
        return ADB_ERR_NOMEM;
    adb_status st = adb_log_json(h, text, strlen(text), &lo, &res);
    free(text);
    return st;
}

/* Logs outbox row oid of org (its event) and deletes the row as the tenant;
 * a failure leaves the row for serve's alert thread (the same idempotency
 * key: logged once). */
static void log_now(adb *h, const char *org, const char *oid, const char *action,
                    const char *principal, const char *id, json_t *details)
{
    char idem[64];
    adb_status st;

    adb__fmt(idem, sizeof(idem), "alert-outbox-%s", oid);
    if (audit(h, org, action, principal, id, details, idem) != ADB_OK)
        return;
    const char *p[] = { oid };
    PQclear(adb_tenant_query(h, org, "DELETE FROM alert_audit_outbox WHERE id = $1::bigint", 1, p,
                             ADB_PLAN_AUTO, NULL, 0, NULL, &st));
}

adb_status adb__alert_act(adb *h, const char *org, const char *id, adb__alert_action a,
                          const char *by, const char *notes, bool *changed, char *err,
                          size_t errlen)
{
    char now[ADB_TS_TEXT_MAX], from[16] = "", oid[24] = "";
    json_t *d = NULL;
    char *dt = NULL;
    adb_status st;

    *changed = false;
    PGconn *c = adb_tenant_begin(h, org, &st, err, errlen);
    if (!c)
        return st;
    adb__timestamp_format(adb__alert_now_ms() * 1000, now);
    const char *p[] = { id, org, by, now, notes };
    /* the row locked first: its state before, then the change when it applies */
    PGresult *r = PQexecParams(c, "SELECT status FROM alerts WHERE id = $1 AND organization_id = $2"
                               " FOR UPDATE", 2, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        adb__fmt(err, errlen, "could not read the alert: %s", PQresultErrorMessage(r));
        st = ADB_ERR_DB_QUERY;
        goto fail;
    }
    if (PQntuples(r) == 0) {
        adb__fmt(err, errlen, "no alert %s in the organization", id);
        st = ADB_ERR_NOT_FOUND;
        goto fail;
    }
    adb__fmt(from, sizeof(from), "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    r = NULL;
    if (!strcmp(from, acts[a].to)) {
        adb_tenant_end(h, c, true);
        return ADB_OK; /* already so: success, nothing changed, no second event */
    }
    bool applies = false;
    for (const char *s = acts[a].from; *s;) {
        size_t n = strcspn(s, ",");
        if (strlen(from) == n && !strncmp(s, from, n))
            applies = true;
        s += n + (s[n] == ',');
    }
    if (!applies) {
        adb__fmt(err, errlen, "the alert is %s: it cannot be %s", from,
                 a == ADB_ALERT_ACK ? "acknowledged" : acts[a].to);
        st = ADB_ERR_INVALID;
        goto fail;
    }
    static const char *const sql[] = {
        [ADB_ALERT_ACK] = "UPDATE alerts SET status = 'acknowledged', acknowledged = 'true',"
                          " acknowledged_at = $4::timestamptz, acknowledged_by = $3,"
                          " updated_at = $4::timestamptz WHERE id = $1 AND organization_id = $2",
        [ADB_ALERT_RESOLVE] = "UPDATE alerts SET status = 'resolved', resolved = 'true',"
                              " resolved_at = $4::timestamptz, resolved_by = $3,"
                              " resolution_notes = $5, updated_at = $4::timestamptz"
                              " WHERE id = $1 AND organization_id = $2",
        [ADB_ALERT_DISMISS] = "UPDATE alerts SET status = 'dismissed', dismissed_at = $4::timestamptz,"
                              " dismissed_by = $3, resolution_notes = coalesce($5, resolution_notes),"
                              " updated_at = $4::timestamptz WHERE id = $1 AND organization_id = $2",
    };
    r = PQexecParams(c, sql[a], a == ADB_ALERT_ACK ? 4 : 5, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK || strcmp(PQcmdTuples(r), "1") != 0) {
        adb__fmt(err, errlen, "could not %s the alert: %s", acts[a].name, PQresultErrorMessage(r));
        st = ADB_ERR_DB_QUERY;
        goto fail;
    }
    PQclear(r);
    /* its audit event's outbox row, in the same transaction: never lost */
    d = json_pack("{s:s, s:s, s:s}", "from", from, "to", acts[a].to, "by", by);
    if (d && notes)
        json_object_set_new(d, a == ADB_ALERT_RESOLVE ? "resolution"
                               : a == ADB_ALERT_DISMISS ? "reason" : "notes", json_string(notes));
    dt = d ? json_dumps(d, JSON_COMPACT) : NULL;
    const char *po[] = { org, id, acts[a].action, dt ? dt : "{}", now };
    r = PQexecParams(c, "INSERT INTO alert_audit_outbox (organization_id, alert_id, action, details,"
                     " at) VALUES ($1, $2, $3, $4::jsonb, $5::timestamptz) RETURNING id",
                     5, NULL, po, NULL, NULL, 0);
    if (!dt || PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        adb__fmt(err, errlen, "could not record the alert's audit event: %s",
                 PQresultErrorMessage(r));
        st = ADB_ERR_DB_QUERY;
        goto fail;
    }
    adb__fmt(oid, sizeof(oid), "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    r = PQexec(c, "COMMIT");
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        adb__fmt(err, errlen, "could not commit the alert's change: %s", PQresultErrorMessage(r));
        st = ADB_ERR_DB_QUERY;
        goto fail;
    }
    PQclear(r);
    adb_pool_release(adb__tenant_pool(h), c);
    *changed = true;
    log_now(h, org, oid, acts[a].action, by, id, d);
    json_decref(d);
    free(dt);
    return ADB_OK;
fail:
    PQclear(r);
    json_decref(d);
    free(dt);
    adb__oneline(err);
    adb_tenant_end(h, c, false);
    return st;
}

adb_status adb__alert_outbox_drain(adb *h, PGconn *c, int max, int *logged, char *err,
                                   size_t errlen)
{
    char lim[16];
    adb_status st = ADB_OK;

    *logged = 0;
    adb__fmt(lim, sizeof(lim), "%d", max > 0 ? max : 100);
    const char *p[] = { lim };
    PGresult *r = PQexecParams(c,
                               "SELECT id, organization_id, alert_id, action, details::text,"
                               " to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
                               " FROM alert_audit_outbox ORDER BY id LIMIT $1::int",
                               1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        adb__fmt(err, errlen, "could not read the alerts' outbox: %s", PQresultErrorMessage(r));
        adb__oneline(err);
        PQclear(r);
        return ADB_ERR_DB_QUERY;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        char idem[64];
        json_t *d = json_loads(PQgetvalue(r, i, 4), 0, NULL);
        if (!json_is_object(d)) {
            json_decref(d);
            d = json_object();
        }
        json_object_set_new(d, "at", json_string(PQgetvalue(r, i, 5)));
        adb__fmt(idem, sizeof(idem), "alert-outbox-%s", PQgetvalue(r, i, 0));
        st = audit(h, PQgetvalue(r, i, 1), PQgetvalue(r, i, 3), ADB_ALERT_PRINCIPAL,
                   PQgetvalue(r, i, 2), d, idem);
        json_decref(d);
        if (st != ADB_OK && st != ADB_ERR_INVALID) {
            adb__fmt(err, errlen, "could not log an alert's audit event: %s", adb_strerror(st));
            break;
        }
        /* ADB_ERR_INVALID: an event that can never be logged (an organization id the
         * event model refuses) is dropped rather than blocking the outbox */
        st = ADB_OK;
        const char *pd[] = { PQgetvalue(r, i, 0) };
        PGresult *x = PQexecParams(c, "DELETE FROM alert_audit_outbox WHERE id = $1::bigint", 1,
                                   NULL, pd, NULL, NULL, 0);
        bool ok = PQresultStatus(x) == PGRES_COMMAND_OK;
        PQclear(x);
        if (!ok) {
            adb__fmt(err, errlen, "could not clear the alerts' outbox");
            st = ADB_ERR_DB_QUERY;
            break;
        }
        (*logged)++;
    }
    PQclear(r);
    return st;
}
