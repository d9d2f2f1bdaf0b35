/*
 * deliveries.c - a delivery as its organization sees it (docs/delivery.md,
 * "Queue"): the DeliveryStatusResponse of smart-logs' client built from its
 * delivery_logs rows, and the replay of its failed or held items. Shared by
 * the HTTP routes (src/http/delivery_deliveries.c) and the CLI
 * (src/cli/cmd_deliveries_queue.c); both run it as the tenant.
 */
#include "delivery.h"
#include "../core/util.h"

#include <stdlib.h>
#include <string.h>

#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/* ---- one delivery's status (DeliveryStatusResponse) ---------------------- */

/* The status of delivery id as the tenant sees it on c; NULL when it has no
 * row (missing or another organization's) or on a database error (*dberr). */
json_t *adb__delivery_status(PGconn *c, const char *id, bool *dberr)
{
    const char *p[] = { id };
    *dberr = false;
    PGresult *r = PQexecParams(c,
        "SELECT l.destination_id::text, l.status, jsonb_array_length(l.attempts), " TS("l.last_attempt_at") ","
        " " TS("l.delivered_at") ", l.failure_reason, l.cross_system_reference, " TS("l.created_at") ","
        " " TS("l.updated_at") ", l.object_details::text, l.id::text, coalesce(q.status, '')"
        " FROM delivery_logs l LEFT JOIN delivery_queue q ON q.delivery_log_id = l.id"
        " WHERE l.delivery_id = $1 ORDER BY l.id", 1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        *dberr = true;
        PQclear(r);
        return NULL;
    }
    int n = PQntuples(r);
    if (n == 0) {
        PQclear(r);
        return NULL;
    }
    json_t *dests = json_array(), *meta = NULL;
    bool open_ = false, started = false, all_ok = true;
    const char *created = PQgetvalue(r, 0, 7), *updated = PQgetvalue(r, 0, 8);
    for (int i = 0; i < n; i++) {
        const char *st = PQgetvalue(r, i, 1);
        json_t *d = json_pack("{s:s, s:s, s:i}", "destinationId", PQgetvalue(r, i, 0), "status", st,
                              "attempts", atoi(PQgetvalue(r, i, 2)));
        if (!PQgetisnull(r, i, 3))
            json_object_set_new(d, "lastAttemptAt", json_string(PQgetvalue(r, i, 3)));
        if (!PQgetisnull(r, i, 4))
            json_object_set_new(d, "deliveredAt", json_string(PQgetvalue(r, i, 4)));
        if (!PQgetisnull(r, i, 5))
            json_object_set_new(d, "failureReason", json_string(PQgetvalue(r, i, 5)));
        if (!PQgetisnull(r, i, 6))
            json_object_set_new(d, "crossSystemReference", json_string(PQgetvalue(r, i, 6)));
        json_array_append_new(dests, d);
        if (!strcmp(st, "pending") || !strcmp(st, "retrying"))
            open_ = true;
        if (strcmp(st, "delivered"))
            all_ok = false;
        if (atoi(PQgetvalue(r, i, 2)) > 0 || !strcmp(PQgetvalue(r, i, 11), "processing"))
            started = true;
        if (strcmp(PQgetvalue(r, i, 7), created) < 0)
            created = PQgetvalue(r, i, 7);
        if (strcmp(PQgetvalue(r, i, 8), updated) > 0)
            updated = PQgetvalue(r, i, 8);
        if (!meta) {
            json_t *od = json_loads(PQgetvalue(r, i, 9), 0, NULL);
            meta = json_incref(json_object_get(od, "metadata"));
            json_decref(od);
        }
    }
    json_t *out = json_pack("{s:s, s:s, s:o, s:s, s:s, s:o}", "deliveryId", id, "status",
                            open_ ? (started ? "processing" : "queued") : all_ok ? "completed" : "failed",
                            "destinations", dests, "createdAt", created, "updatedAt", updated,
                            "metadata", json_is_object(meta) ? meta : json_object());
    if (!json_is_object(meta))
        json_decref(meta);
    PQclear(r);
    return out;
}

int adb__delivery_requeue(PGconn *c, const char *id)
{
    const char *p[] = { id };
    PGresult *r = PQexecParams(c,
        "WITH q AS (UPDATE delivery_queue SET status = 'pending', scheduled_at = now(), next_retry_at = NULL,"
        "   retry_count = 0, processed_at = NULL, updated_at = now()"
        "   WHERE delivery_id = $1 AND status IN ('failed', 'held') RETURNING delivery_log_id)"
        " UPDATE delivery_logs l SET status = 'retrying', updated_at = now() FROM q"
        " WHERE l.id = q.delivery_log_id RETURNING l.id", 1, NULL, p, NULL, NULL, 0);
    int n = PQresultStatus(r) == PGRES_TUPLES_OK ? PQntuples(r) : -1;
    PQclear(r);
    return n;
}
