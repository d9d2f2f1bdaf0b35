/*
 * notifier.c - serve's alert thread (docs/alerts.md "Notification"): every
 * tick it logs the alerts' outbox as the organizations' audit events and
 * sends notifications through the delivery queue (issue 18) the way
 * Alertmanager groups them:
 *   - a group is an organization's firing alerts (active, not silenced) of
 *     one type and severity;
 *   - its first notification goes group_wait after the group appeared (so
 *     alerts raised together go together);
 *   - then a notification when the group's set of alerts changed, at most
 *     every group_interval;
 *   - and the same again every repeat_interval while it keeps firing;
 *   - nothing while one of the organization's suppressionWindows is in force
 *     (daily HH:MM to HH:MM in its time zone) - the group waits;
 *   - a group with no firing alert left is forgotten (a new one starts with
 *     group_wait again);
 *   - Alertmanager's send_resolved (notification.sendResolved, default
 *     true): alerts that were notified and are now resolved or dismissed go
 *     in one "resolved" notification per group at the next round (outside
 *     the suppression windows), once each (alerts.resolved_notified_at).
 * Each notification is one delivery (one delivery_logs row and one queue item
 * per destination: the organization's webhook and email destinations the
 * configuration names) committed with the group's state, under the state
 * row's lock (FOR UPDATE SKIP LOCKED: two serves never send one twice).
 */
#include "alert.h"

#include "../core/util.h"
#include "../db/notify.h"
#include "../delivery/delivery.h"
#include "../event/event.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEST_MAX 20
#define GROUP_ALERTS_MAX 100 /* alerts listed in one notification (the rest counted) */

struct adb__alerter {
    adb *h;
    char *conninfo;
    int tick_ms;
    int stop_pipe[2];
    atomic_bool stopping;
    pthread_t tid;
    bool started;
};

static bool cmd_ok(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    return ok;
}

static PGresult *q(PGconn *c, const char *sql, int n, const char *const *p)
{
    return PQexecParams(c, sql, n, NULL, p, NULL, NULL, 0);
}

/* The destination ids of org's configuration `dests` ("default" or a list). */
static size_t destinations(PGconn *c, const char *org, const json_t *dests, int *ids)
{
    size_t n = 0;
    PGresult *r;

    if (json_is_string(dests)) {
        const char *p[] = { org };
        r = q(c, "SELECT id FROM delivery_destinations WHERE organization_id = $1"
                 " AND is_default = 'true' AND disabled = 'false' AND deleted_at IS NULL"
                 " AND type IN ('webhook', 'email') ORDER BY id LIMIT 20", 1, p);
    } else {
        char *list = json_dumps(dests, JSON_COMPACT);
        const char *p[] = { org, list ? list : "[]" };
        r = q(c, "SELECT id FROM delivery_destinations WHERE organization_id = $1"
                 " AND id IN (SELECT (jsonb_array_elements_text($2::jsonb))::int)"
                 " AND disabled = 'false' AND deleted_at IS NULL AND type IN ('webhook', 'email')"
                 " ORDER BY id LIMIT 20", 2, p);
        free(list);
    }
    for (int i = 0; PQresultStatus(r) == PGRES_TUPLES_OK && i < PQntuples(r) && n < DEST_MAX; i++)
        ids[n++] = atoi(PQgetvalue(r, i, 0));
    PQclear(r);
    return n;
}

/* Is one of cfg's suppression windows in force at now (text)? */
static bool suppressed(PGconn *c, const json_t *cfg, const char *now)
{
    json_t *w = json_object_get(cfg, "suppressionWindows");
    if (!json_array_size(w))
        return false;
    char *text = json_dumps(w, JSON_COMPACT);
    const char *p[] = { text ? text : "[]", now };
    /* a window from 22:00 to 06:00 holds across midnight */
    PGresult *r = q(c, "SELECT EXISTS (SELECT 1 FROM jsonb_array_elements($1::jsonb) w,"
                       " LATERAL (SELECT ($2::timestamptz AT TIME ZONE (w->>'timezone'))::time AS t,"
                       " (w->>'start')::time AS s, (w->>'end')::time AS e) x"
                       " WHERE CASE WHEN s <= e THEN t >= s AND t < e ELSE t >= s OR t < e END)",
                    2, p);
    bool yes = PQresultStatus(r) == PGRES_TUPLES_OK && !strcmp(PQgetvalue(r, 0, 0), "t");
    PQclear(r);
    free(text);
    return yes;
}

/* The notification document of (org, group) with its firing alerts. */
static char *document(PGconn *c, const char *org, const char *gk, const char *now, int number,
                      size_t *len)
{
    const char *p[] = { org, gk };
    PGresult *r = q(c, "SELECT " ADB_ALERT_COLUMNS ", count(*) OVER () FROM alerts a"
                       " WHERE a.organization_id = $1 AND a.type || '/' || a.severity = $2"
                       " AND a.status = 'active' AND NOT a.silenced"
                       " ORDER BY a.created_at, a.id LIMIT 100", 2, p);
    char *out = NULL;

    if (PQresultStatus(r) == PGRES_TUPLES_OK) {
        json_t *arr = json_array();
        long long total = 0;
        for (int i = 0; arr && i < PQntuples(r); i++) {
            json_t *a = adb__alert_row_json(r, i);
            /* what a receiver needs; never event content */
            json_object_del(a, "metadata");
            json_array_append_new(arr, a);
            total = atoll(PQgetvalue(r, i, PQnfields(r) - 1));
        }
        json_t *doc = json_pack("{s:s, s:s, s:s, s:s, s:i, s:I, s:o}", "type", "alerts",
                                "status", "firing", "organizationId", org, "groupKey", gk,
                                "notification", number, "firing", (json_int_t)total,
                                "alerts", arr);
        json_object_set_new(doc, "sentAt", json_string(now));
        out = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
        json_decref(doc);
    }
    PQclear(r);
    *len = out ? strlen(out) : 0;
    return out;
}

/* One delivery of body to each of the nd destinations ids in c's
 * transaction (a delivery_logs row and a queue item each); false on a
 * failure (the caller rolls back). */
static bool enqueue(PGconn *c, const char *org, const int *ids, size_t nd, const char *body,
                    size_t blen, const json_t *payload, const char *ptext, const char *idem)
{
    char delivery_id[64];
    adb__queue_new_id("dlv_", delivery_id, sizeof(delivery_id));
    for (size_t i = 0; i < nd; i++) {
        char idt[16], qid[64];
        bool dup = false;
        adb__fmt(idt, sizeof(idt), "%d", ids[i]);
        const char *pl[] = { delivery_id, org, idt, ptext, idem };
        PGresult *r = q(c, "INSERT INTO delivery_logs (delivery_id, organization_id, destination_id,"
                           " destinations, object_details, status, idempotency_key, details)"
                           " VALUES ($1, $2, $3::int, jsonb_build_array($3::text), $4::jsonb, 'pending', $5,"
                           " '{\"source\": \"alerts\"}') RETURNING id", 5, pl);
        int log_id = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1
                     ? atoi(PQgetvalue(r, 0, 0)) : 0;
        PQclear(r);
        if (!log_id)
            return false;
        adb__enqueue e = { .org = org, .delivery_id = delivery_id, .idempotency_key = idem,
                           .content_type = "application/json", .dest_id = ids[i],
                           .log_id = log_id, .priority = 1, .body = (const unsigned char *)body,
                           .body_len = blen, .payload = payload };
        if (adb__queue_enqueue(c, &e, qid, &dup) != ADB_OK || dup)
            return false;
    }
    return !nd || adb__queue_notify(c) == ADB_OK;
}

/* The destinations of notification configuration n (none: 0). */
static size_t destinations_of(PGconn *c, const char *org, const json_t *n, int *ids)
{
    const json_t *d = json_object_get(n, "destinations");
    if (json_is_string(d) && !strcmp(json_string_value(d), "none"))
        return 0;
    return destinations(c, org, d, ids);
}

/* Sends one notification of (org, gk) in one transaction, unless another
 * serve holds the group or it is not due any more. 1 sent, 0 not, -1 error. */
static int send_group(adb *h, PGconn *c, const char *org, const char *gk, const char *digest,
                      const json_t *cfg, int64_t now_ms, const char *now)
{
    (void)h;
    json_t *n = json_object_get(cfg, "notification");
    char wait[24], gint[24], rep[24];
    adb__fmt(wait, sizeof(wait), "%lld", (long long)json_integer_value(json_object_get(n, "groupWaitSeconds")));
    adb__fmt(gint, sizeof(gint), "%lld", (long long)json_integer_value(json_object_get(n, "groupIntervalSeconds")));
    adb__fmt(rep, sizeof(rep), "%lld", (long long)json_integer_value(json_object_get(n, "repeatIntervalSeconds")));
    int rc = -1;
    char *body = NULL, *ptext = NULL;
    json_t *payload = NULL;

    if (!cmd_ok(c, "BEGIN"))
        return -1;
    const char *p[] = { org, gk, now, digest, wait, gint, rep };
    PGresult *r = q(c, "INSERT INTO alert_notification_groups (organization_id, group_key,"
                       " first_seen_at) VALUES ($1, $2, $3::timestamptz) ON CONFLICT DO NOTHING",
                    3, p);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok)
        goto out;
    r = q(c, "SELECT notifications FROM alert_notification_groups"
             " WHERE organization_id = $1 AND group_key = $2 AND CASE"
             " WHEN last_notified_at IS NULL"
             "  THEN $3::timestamptz >= first_seen_at + $5::int * interval '1 second'"
             " WHEN last_digest IS DISTINCT FROM $4"
             "  THEN $3::timestamptz >= last_notified_at + $6::int * interval '1 second'"
             " ELSE $3::timestamptz >= last_notified_at + $7::int * interval '1 second' END"
             " FOR UPDATE SKIP LOCKED", 7, p);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        goto out;
    }
    if (PQntuples(r) == 0 || suppressed(c, cfg, now)) {
        PQclear(r);
        rc = 0;
        goto out;
    }
    int number = atoi(PQgetvalue(r, 0, 0)) + 1;
    PQclear(r);
    int ids[DEST_MAX];
    size_t nd = destinations_of(c, org, n, ids);
    size_t blen = 0;
    body = document(c, org, gk, now, number, &blen);
    payload = json_pack("{s:s, s:{s:s, s:i}}", "type", "alert", "metadata", "groupKey", gk,
                        "notification", number);
    ptext = payload ? json_dumps(payload, JSON_COMPACT) : NULL;
    if (!body || !ptext)
        goto out;
    char idem[600];
    adb__fmt(idem, sizeof(idem), "alert-notification:%s:%d", gk, number);
    if (!enqueue(c, org, ids, nd, body, blen, payload, ptext, idem))
        goto out;
    char num[16];
    adb__fmt(num, sizeof(num), "%d", number);
    const char *pu[] = { org, gk, now, digest, num };
    r = q(c, "UPDATE alert_notification_groups SET last_notified_at = $3::timestamptz,"
             " last_digest = $4, notifications = $5::int WHERE organization_id = $1 AND group_key = $2",
          5, pu);
    ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok)
        goto out;
    r = q(c, "UPDATE alerts SET notified_at = $3::timestamptz WHERE organization_id = $1"
             " AND type || '/' || severity = $2 AND status = 'active' AND NOT silenced", 3, pu);
    ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (ok && cmd_ok(c, "COMMIT"))
        rc = 1;
    (void)now_ms;
out:
    if (rc != 1)
        PQclear(PQexec(c, rc == 0 ? "COMMIT" : "ROLLBACK"));
    free(body);
    free(ptext);
    json_decref(payload);
    return rc;
}

/* The "resolved" notification of (org, gk): its alerts notified while firing
 * and resolved or dismissed since, locked (another serve skips them), sent
 * in one delivery per destination and marked, in one transaction. With
 * sendResolved false they are marked without a notification. 1 sent, 0 not,
 * -1 error. */
static int send_resolved(PGconn *c, const char *org, const char *gk, const json_t *cfg,
                         const char *now)
{
    const json_t *n = json_object_get(cfg, "notification");
    bool send = !json_is_false(json_object_get(n, "sendResolved"));
    const char *p[] = { org, gk, now };
    char *body = NULL, *ptext = NULL;
    json_t *payload = NULL, *arr = NULL;
    int rc = -1;

    if (!cmd_ok(c, "BEGIN"))
        return -1;
    if (send && suppressed(c, cfg, now)) {
        rc = 0;
        goto out;
    }
    PGresult *r = q(c, "SELECT " ADB_ALERT_COLUMNS " FROM alerts a WHERE a.organization_id = $1"
                       " AND a.type || '/' || a.severity = $2 AND a.notified_at IS NOT NULL"
                       " AND a.status IN ('resolved', 'dismissed') AND a.resolved_notified_at IS NULL"
                       " ORDER BY a.created_at, a.id LIMIT 100 FOR UPDATE SKIP LOCKED", 2, p);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        goto out;
    }
    if (PQntuples(r) == 0) {
        PQclear(r);
        rc = 0;
        goto out;
    }
    arr = json_array();
    json_t *ids_json = json_array();
    for (int i = 0; arr && ids_json && i < PQntuples(r); i++) {
        json_t *a = adb__alert_row_json(r, i);
        json_object_del(a, "metadata"); /* what a receiver needs; never event content */
        json_array_append_new(arr, a);
        json_array_append_new(ids_json, json_string(PQgetvalue(r, i, 0)));
    }
    PQclear(r);
    char *id_list = ids_json ? json_dumps(ids_json, JSON_COMPACT) : NULL;
    json_decref(ids_json);
    if (!id_list)
        goto out;
    const char *pm[] = { org, id_list, now };
    bool ok = true;
    if (send) {
        int dest[DEST_MAX];
        size_t nd = destinations_of(c, org, n, dest);
        json_t *doc = json_pack("{s:s, s:s, s:s, s:s, s:I, s:O, s:s}", "type", "alerts", "status",
                                "resolved", "organizationId", org, "groupKey", gk, "resolved",
                                (json_int_t)json_array_size(arr), "alerts", arr, "sentAt", now);
        body = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
        json_decref(doc);
        payload = json_pack("{s:s, s:{s:s, s:s}}", "type", "alert", "metadata", "groupKey", gk,
                            "status", "resolved");
        ptext = payload ? json_dumps(payload, JSON_COMPACT) : NULL;
        /* one notification per set of alerts: their ids name it */
        PGresult *h = q(c, "SELECT md5($1)", 1, pm + 1);
        char idem[600];
        adb__fmt(idem, sizeof(idem), "alert-resolved:%s:%s", gk,
                 PQresultStatus(h) == PGRES_TUPLES_OK ? PQgetvalue(h, 0, 0) : "");
        ok = PQresultStatus(h) == PGRES_TUPLES_OK && body && ptext &&
             enqueue(c, org, dest, nd, body, strlen(body), payload, ptext, idem);
        PQclear(h);
    }
    if (ok) {
        r = q(c, "UPDATE alerts SET resolved_notified_at = $3::timestamptz WHERE organization_id = $1"
                 " AND id IN (SELECT jsonb_array_elements_text($2::jsonb))", 3, pm);
        ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
    }
    free(id_list);
    if (ok && cmd_ok(c, "COMMIT"))
        rc = send ? 1 : 0;
out:
    if (rc == -1 || (rc == 0 && PQtransactionStatus(c) != PQTRANS_IDLE))
        PQclear(PQexec(c, rc == 0 ? "COMMIT" : "ROLLBACK"));
    free(body);
    free(ptext);
    json_decref(payload);
    json_decref(arr);
    return rc;
}

/* The resolved notifications due: one per (organization, group). */
static int resolved_round(PGconn *c, const char *now)
{
    int sent = 0;
    PGresult *r = q(c, "SELECT a.organization_id, a.type || '/' || a.severity, c.config::text"
                       " FROM alerts a LEFT JOIN alert_config c ON c.organization_id = a.organization_id"
                       " WHERE a.notified_at IS NOT NULL AND a.status IN ('resolved', 'dismissed')"
                       " AND a.resolved_notified_at IS NULL GROUP BY 1, 2, 3 ORDER BY 1, 2",
                    0, NULL);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        return -1;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        json_t *stored = PQgetisnull(r, i, 2) ? NULL : json_loads(PQgetvalue(r, i, 2), 0, NULL);
        json_t *cfg = adb__alert_config_merge(stored, NULL);
        json_decref(stored);
        if (cfg && send_resolved(c, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), cfg, now) == 1)
            sent++;
        json_decref(cfg);
    }
    PQclear(r);
    return sent;
}

int adb__alert_notify_round(adb *h, PGconn *c, int64_t now_ms)
{
    char now[ADB_TS_TEXT_MAX];
    int sent = 0;

    adb__timestamp_format(now_ms * 1000, now);
    /* groups without a firing alert are forgotten */
    PGresult *r = q(c, "DELETE FROM alert_notification_groups g WHERE NOT EXISTS (SELECT 1"
                       " FROM alerts a WHERE a.organization_id = g.organization_id"
                       " AND a.type || '/' || a.severity = g.group_key AND a.status = 'active'"
                       " AND NOT a.silenced)", 0, NULL);
    PQclear(r);
    r = q(c, "SELECT a.organization_id, a.type || '/' || a.severity,"
             " md5(string_agg(a.id, ',' ORDER BY a.id)), c.config::text"
             " FROM alerts a LEFT JOIN alert_config c ON c.organization_id = a.organization_id"
             " WHERE a.status = 'active' AND NOT a.silenced"
             " GROUP BY 1, 2, 4 ORDER BY 1, 2", 0, NULL);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        return -1;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        json_t *stored = PQgetisnull(r, i, 3) ? NULL : json_loads(PQgetvalue(r, i, 3), 0, NULL);
        json_t *cfg = adb__alert_config_merge(stored, NULL);
        json_decref(stored);
        if (cfg && send_group(h, c, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2),
                              cfg, now_ms, now) == 1)
            sent++;
        json_decref(cfg);
    }
    PQclear(r);
    int resolved = resolved_round(c, now);
    return resolved > 0 ? sent + resolved : sent;
}

static void *thread_main(void *arg)
{
    struct adb__alerter *a = arg;
    PGconn *c = NULL;
    long backoff = 200;
    char err[256];
    int64_t last_thresholds = 0;

    while (!atomic_load(&a->stopping)) {
        if (!c || PQstatus(c) != CONNECTION_OK) {
            PQfinish(c);
            c = PQconnectdb(a->conninfo);
            if (PQstatus(c) != CONNECTION_OK ||
                !cmd_ok(c, "SET application_name = 'auditdb alerts'")) {
                PQfinish(c);
                c = NULL;
                struct pollfd pf = { .fd = a->stop_pipe[0], .events = POLLIN };
                poll(&pf, 1, (int)backoff);
                backoff = backoff < 5000 ? backoff * 2 : 5000;
                continue;
            }
            backoff = 200;
        }
        int logged = 0;
        if (adb__alert_now_ms() - last_thresholds >= (int64_t)a->tick_ms * ADB_ALERT_THRESHOLDS_TICKS) {
            (void)adb__alert_thresholds_round(a->h, c);
            last_thresholds = adb__alert_now_ms();
        }
        (void)adb__alert_outbox_drain(a->h, c, 200, &logged, err, sizeof(err));
        (void)adb__alert_notify_round(a->h, c, adb__alert_now_ms());
        struct pollfd pf = { .fd = a->stop_pipe[0], .events = POLLIN };
        poll(&pf, 1, logged == 200 ? 0 : a->tick_ms);
    }
    PQfinish(c);
    return NULL;
}

adb__alerter *adb__alerter_start(adb *h, const char *owner_conninfo, int tick_ms, char *err,
                                 size_t errlen)
{
    struct adb__alerter *a = calloc(1, sizeof(*a));

    if (!a || !(a->conninfo = strdup(owner_conninfo))) {
        adb__fmt(err, errlen, "out of memory");
        free(a);
        return NULL;
    }
    a->h = h;
    a->tick_ms = tick_ms > 0 ? tick_ms : 1000;
    a->stop_pipe[0] = a->stop_pipe[1] = -1;
    if (pipe2(a->stop_pipe, O_CLOEXEC) != 0 ||
        pthread_create(&a->tid, NULL, thread_main, a) != 0) {
        adb__fmt(err, errlen, "could not start the alert thread: %s", strerror(errno));
        adb__alerter_stop(a);
        return NULL;
    }
    a->started = true;
    return a;
}

void adb__alerter_stop(adb__alerter *a)
{
    if (!a)
        return;
    atomic_store(&a->stopping, true);
    if (a->stop_pipe[1] >= 0 && write(a->stop_pipe[1], "x", 1) < 0) {
        /* the thread sees stopping at its next wake-up */
    }
    if (a->started)
        pthread_join(a->tid, NULL);
    if (a->stop_pipe[0] >= 0)
        close(a->stop_pipe[0]);
    if (a->stop_pipe[1] >= 0)
        close(a->stop_pipe[1]);
    free(a->conninfo);
    free(a);
}
