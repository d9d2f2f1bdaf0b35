/*
 * queue.c - the durable delivery queue in delivery_queue (docs/delivery.md,
 * "Queue"). One item per (delivery, destination); its id is the webhook-id
 * (msg_...) of every attempt, its body the exact bytes fixed at enqueue. An
 * item is claimed with FOR UPDATE SKIP LOCKED by setting a fresh claim_id
 * (the fencing token) and a lease; every later change matches that claim id,
 * so a worker whose lease ran out and was re-claimed changes nothing. A
 * crash leaves the item processing with a lease that runs out: claimable
 * again, same id, same bytes.
 */
#include "delivery.h"
#include "../core/util.h"
#include "../monitor/errors.h"

#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void adb__qitem_free(adb__qitem *q)
{
    if (!q)
        return;
    if (q->body)
        PQfreemem(q->body);
    json_decref(q->payload);
    memset(q, 0, sizeof(*q));
}

void adb__queue_new_id(const char *prefix, char *out, size_t outlen)
{
    unsigned char r[16];
    char b[32];
    if (RAND_bytes(r, sizeof(r)) != 1)
        memset(r, 0, sizeof(r)); /* not reached: the RNG is seeded by the OS */
    adb__base64url(r, sizeof(r), b);
    adb__fmt(out, outlen, "%s%s", prefix, b);
}

adb_status adb__queue_enqueue(PGconn *c, const adb__enqueue *e, char id_out[64], bool *dup)
{
    char dest[16], prio[16], log[16];
    const char *body = (const char *)e->body;
    *dup = false;
    adb__queue_new_id("msg_", id_out, 64);
    adb__fmt(dest, sizeof(dest), "%d", e->dest_id);
    adb__fmt(prio, sizeof(prio), "%d", e->priority);
    adb__fmt(log, sizeof(log), "%d", e->log_id);
    char *payload = json_dumps(e->payload, JSON_COMPACT);
    if (!payload)
        return ADB_ERR_NOMEM;
    const char *p[] = { id_out, e->org, dest, payload, prio, e->correlation_id, e->idempotency_key,
                        e->delivery_id, log, body, e->content_type };
    int lens[] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, (int)e->body_len, 0 };
    int fmts[] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0 };
    PGresult *r = PQexecParams(c,
        "INSERT INTO delivery_queue (id, organization_id, destination_id, payload, priority,"
        " scheduled_at, correlation_id, idempotency_key, delivery_id, delivery_log_id, body,"
        " content_type, max_retries)"
        " VALUES ($1, $2, $3::int, $4::jsonb, $5::int, now(), $6, $7, $8, $9::int, $10::bytea, $11, 10)"
        " ON CONFLICT (organization_id, destination_id, idempotency_key)"
        " WHERE idempotency_key IS NOT NULL DO NOTHING",
        11, NULL, p, lens, fmts, 0);
    free(payload);
    adb_status st = PQresultStatus(r) == PGRES_COMMAND_OK ? ADB_OK : ADB_ERR_DB_QUERY;
    if (st == ADB_OK && strcmp(PQcmdTuples(r), "1") != 0)
        *dup = true;
    PQclear(r);
    return st;
}

adb_status adb__queue_notify(PGconn *c)
{
    PGresult *r = PQexec(c, "NOTIFY " ADB_DELIVERY_NOTIFY);
    adb_status st = PQresultStatus(r) == PGRES_COMMAND_OK ? ADB_OK : ADB_ERR_DB_QUERY;
    PQclear(r);
    return st;
}

adb_status adb__queue_claim(PGconn *c, const char *claimer, int64_t now_ms, int lease_ms,
                            adb__qitem *items, int max, int *n)
{
    char now[32], lease[16], lim[16];
    *n = 0;
    adb__fmt(now, sizeof(now), "%lld", (long long)now_ms);
    adb__fmt(lease, sizeof(lease), "%d", lease_ms);
    adb__fmt(lim, sizeof(lim), "%d", max);
    const char *p[] = { claimer, now, lease, lim };
    PGresult *r = PQexecParams(c,
        "UPDATE delivery_queue q SET status = 'processing', claim_id = gen_random_uuid(),"
        " claimed_by = $1, lease_until = clock_timestamp() + make_interval(secs => $3::int / 1000.0),"
        " retry_count = q.retry_count + 1, updated_at = now()"
        " FROM (SELECT id FROM delivery_queue"
        "        WHERE (status = 'pending' AND scheduled_at <= to_timestamp($2::bigint / 1000.0))"
        "           OR (status = 'processing' AND lease_until < clock_timestamp())"
        "        ORDER BY priority DESC, scheduled_at LIMIT $4::int"
        "        FOR UPDATE SKIP LOCKED) s"
        " WHERE q.id = s.id"
        " RETURNING q.id, q.organization_id, q.claim_id, coalesce(q.delivery_id, ''),"
        " q.destination_id, coalesce(q.delivery_log_id, 0), q.retry_count, q.body, q.content_type,"
        " q.payload",
        4, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        return ADB_ERR_DB_QUERY;
    }
    int rows = PQntuples(r);
    for (int i = 0; i < rows && i < max; i++) {
        adb__qitem *q = &items[i];
        long long v;
        memset(q, 0, sizeof(*q));
        adb__fmt(q->id, sizeof(q->id), "%s", PQgetvalue(r, i, 0));
        adb__fmt(q->org, sizeof(q->org), "%s", PQgetvalue(r, i, 1));
        adb__fmt(q->claim_id, sizeof(q->claim_id), "%s", PQgetvalue(r, i, 2));
        adb__fmt(q->delivery_id, sizeof(q->delivery_id), "%s", PQgetvalue(r, i, 3));
        q->dest_id = adb__parse_int(PQgetvalue(r, i, 4), 0, 2147483647, &v) ? (int)v : 0;
        q->log_id = adb__parse_int(PQgetvalue(r, i, 5), 0, 2147483647, &v) ? (int)v : 0;
        q->attempt = adb__parse_int(PQgetvalue(r, i, 6), 0, 2147483647, &v) ? (int)v : 1;
        if (!PQgetisnull(r, i, 7))
            q->body = PQunescapeBytea((const unsigned char *)PQgetvalue(r, i, 7), &q->body_len);
        adb__fmt(q->content_type, sizeof(q->content_type), "%s", PQgetvalue(r, i, 8));
        q->payload = json_loads(PQgetvalue(r, i, 9), 0, NULL);
        (*n)++;
    }
    PQclear(r);
    return ADB_OK;
}

adb_status adb__queue_finish(PGconn *c, const adb__qitem *q, adb__q_end how, const adb__attempt *a,
                             int64_t now_ms, int64_t next_ms, bool *fenced)
{
    static const char *qstatus[] = { "completed", "pending", "failed", "held", "pending" };
    static const char *lstatus[] = { "delivered", "retrying", "failed", "failed", NULL };
    char now[32], next[32], logid[16], uncount[4];
    char *attempt = NULL;

    *fenced = false;
    adb__fmt(now, sizeof(now), "%lld", (long long)now_ms);
    adb__fmt(next, sizeof(next), "%lld", (long long)next_ms);
    adb__fmt(logid, sizeof(logid), "%d", q->log_id);
    /* a deferral (breaker open) was no attempt: it is not counted */
    adb__fmt(uncount, sizeof(uncount), "%d", how == ADB_Q_DEFER ? 1 : 0);
    if (how != ADB_Q_DEFER && a) {
        json_t *j = json_pack("{s:i, s:s, s:s, s:f}", "attempt", q->attempt,
                              "status", a->ok ? "delivered" : "failed",
                              "webhookId", q->id, "ms", a->elapsed_ms);
        if (!j)
            return ADB_ERR_NOMEM;
        char at[40];
        time_t t = (time_t)(now_ms / 1000);
        struct tm tmv;
        gmtime_r(&t, &tmv);
        strftime(at, sizeof(at), "%Y-%m-%dT%H:%M:%S", &tmv);
        adb__fmt(at + strlen(at), sizeof(at) - strlen(at), ".%03dZ", (int)(now_ms % 1000));
        json_object_set_new(j, "at", json_string(at));
        if (a->http_status)
            json_object_set_new(j, "httpStatus", json_integer(a->http_status));
        if (a->error[0])
            json_object_set_new(j, "error", json_string(a->error));
        if (a->reference[0])
            json_object_set_new(j, "reference", json_string(a->reference));
        if (a->retry_after_s >= 0)
            json_object_set_new(j, "retryAfter", json_integer(a->retry_after_s));
        attempt = json_dumps(j, JSON_COMPACT);
        json_decref(j);
        if (!attempt)
            return ADB_ERR_NOMEM;
    }
    /* a report's item: the attempt (or the hold) also goes to its execution's
     * delivery_attempts, in this same statement (src/report/deliver.c) */
    const char *exec_id = NULL;
    char *rx = NULL;
    const json_t *md = json_object_get(q->payload, "metadata");
    if (json_is_string(json_object_get(q->payload, "type")) &&
        !strcmp(json_string_value(json_object_get(q->payload, "type")), "report") &&
        json_is_string(json_object_get(md, "executionId")) && (attempt || how == ADB_Q_HOLD)) {
        json_t *e = attempt ? json_loads(attempt, 0, NULL) : json_pack("{s:s}", "webhookId", q->id);
        if (!e) {
            free(attempt);
            return ADB_ERR_NOMEM;
        }
        exec_id = json_string_value(json_object_get(md, "executionId"));
        json_object_set_new(e, "destinationId", json_integer(q->dest_id));
        json_object_set_new(e, "deliveryId", json_string(q->delivery_id));
        json_object_set_new(e, "itemStatus", json_string(qstatus[how]));
        if (!attempt) {
            char at[40];
            time_t t = (time_t)(now_ms / 1000);
            struct tm tmv;
            gmtime_r(&t, &tmv);
            strftime(at, sizeof(at), "%Y-%m-%dT%H:%M:%SZ", &tmv);
            json_object_set_new(e, "status", json_string("held"));
            json_object_set_new(e, "at", json_string(at));
            json_object_set_new(e, "error", json_string("held: the destination is disabled"));
        }
        rx = json_dumps(e, JSON_COMPACT);
        json_decref(e);
        if (!rx) {
            free(attempt);
            return ADB_ERR_NOMEM;
        }
    }
    char failed_why[64];
    adb__fmt(failed_why, sizeof(failed_why), "a delivery failed for good (HTTP %d)",
             a ? a->http_status : 0);
    if (how == ADB_Q_FAIL) /* failed for good: the service's own failure (docs/monitoring.md) */
        adb__error_record(NULL, &(adb__error_report){ .category = "DELIVERY_ERROR",
            .severity = "MEDIUM", .code = "DELIVERY_FAILED", .component = "delivery",
            .operation = "deliver", .org = q->org, .message = failed_why });
    const char *reason = NULL;
    char held[300];
    if (a && !a->ok && how != ADB_Q_DEFER)
        reason = a->error[0] ? a->error : "failed";
    if (how == ADB_Q_HOLD) {
        adb__fmt(held, sizeof(held), "held: the destination is disabled (%s)", reason ? reason : "");
        reason = held;
    }
    const char *p[] = { q->id, q->claim_id, qstatus[how],
                        how == ADB_Q_RETRY || how == ADB_Q_DEFER ? next : NULL, attempt,
                        lstatus[how], reason, a && a->reference[0] ? a->reference : NULL,
                        uncount, logid, now, exec_id, rx, q->org };
    PGresult *r = PQexecParams(c,
        "WITH q AS (UPDATE delivery_queue SET status = $3::text, claim_id = NULL, lease_until = NULL,"
        "   processed_at = CASE WHEN $3::text IN ('completed', 'failed') THEN to_timestamp($11::bigint / 1000.0)"
        "                  ELSE processed_at END,"
        "   scheduled_at = coalesce(to_timestamp($4::bigint / 1000.0), scheduled_at),"
        "   next_retry_at = to_timestamp($4::bigint / 1000.0),"
        "   retry_count = retry_count - $9::int, updated_at = now()"
        "   WHERE id = $1 AND claim_id = $2::uuid RETURNING 1),"
        " x AS (UPDATE report_executions"
        "   SET delivery_attempts = coalesce(delivery_attempts, '[]'::jsonb) || jsonb_build_array($13::jsonb)"
        "   WHERE $12::text IS NOT NULL AND id = $12::text AND organization_id = $14::text"
        "   AND EXISTS (SELECT 1 FROM q))"
        " UPDATE delivery_logs SET"
        "   attempts = CASE WHEN $5::jsonb IS NULL THEN attempts"
        "              ELSE attempts || jsonb_build_array($5::jsonb) END,"
        "   last_attempt_at = CASE WHEN $5::jsonb IS NULL THEN last_attempt_at"
        "                     ELSE to_timestamp($11::bigint / 1000.0) END,"
        "   status = coalesce($6::text, status),"
        "   delivered_at = CASE WHEN $6::text = 'delivered' THEN to_timestamp($11::bigint / 1000.0)"
        "                  ELSE delivered_at END,"
        "   failure_reason = CASE WHEN $6::text IS NOT NULL THEN $7::text ELSE failure_reason END,"
        "   cross_system_reference = coalesce($8::text, cross_system_reference), updated_at = now()"
        " FROM q"
        " WHERE id = $10::int"
        " RETURNING 1",
        14, NULL, p, NULL, NULL, 0);
    free(attempt);
    free(rx);
    adb_status st = ADB_ERR_DB_QUERY;
    if (PQresultStatus(r) == PGRES_TUPLES_OK) {
        st = ADB_OK;
        *fenced = PQntuples(r) == 1;
    }
    PQclear(r);
    return st;
}
