/*
 * delivery_deliveries.c - the deliveries routes as smart-logs' client calls
 * them (docs/delivery.md, "Queue"): POST /api/v1/delivery/deliveries
 * (DeliveryRequest -> DeliveryResponse: one queue item and one delivery_logs
 * row per destination, in one tenant transaction, NOTIFY at commit), GET the
 * list (PaginatedDeliveries), GET /{id} (DeliveryStatusResponse), POST
 * /{id}/retry (failed or held items queued again with the same webhook-id),
 * GET /api/v1/delivery/metrics (DeliveryMetrics) and /api/v1/delivery/health.
 * Everything runs as the tenant: another organization's delivery is 404.
 */
#include "delivery_routes.h"
#include "../core/util.h"
#include "../event/event.h"
#include "../delivery/delivery.h"
#include "../compliance/subject_key.h"
#include "../core/adb_internal.h"

#include <string.h>

#define DESTS_MAX 100
#define TAGS_MAX 50
#define STR_MAX 255
#define LIST_DEFAULT 50
#define LIST_MAX 1000
#define OFFSET_MAX 100000
#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

static const char *const payload_types[] = { "report", "export", "data", "custom", NULL };
static const char *const dest_statuses[] = { "pending", "delivered", "failed", "retrying", NULL };

static bool one_of(const char *s, const char *const *set)
{
    for (int i = 0; s && set[i]; i++)
        if (!strcmp(s, set[i]))
            return true;
    return false;
}

static PGconn *begin(adb_http_request *req)
{
    adb_status st;
    return adb_tenant_begin(req->state->db, req->who.organization_id, &st, NULL, 0);
}

static enum MHD_Result unknown_member(adb_http_request *req, const json_t *obj, const char *prefix,
                                      const char *const *known, bool *bad)
{
    const char *key;
    json_t *v;
    char field[128], msg[200];
    *bad = false;
    json_object_foreach((json_t *)obj, key, v) {
        if (one_of(key, known))
            continue;
        adb__fmt(field, sizeof(field), "%s%.64s", prefix, key);
        adb__utf8_repair(field);
        adb__fmt(msg, sizeof(msg), "unknown member \"%s\"", field);
        *bad = true;
        return adb_http_send_invalid(req, field, "UNKNOWN_FIELD", msg);
    }
    return MHD_YES;
}

/* DeliveryResponse of delivery id from its status */
static json_t *delivery_response(json_t *status)
{
    json_t *dests = json_array(), *d;
    size_t i;
    json_array_foreach(json_object_get(status, "destinations"), i, d)
        json_array_append_new(dests, json_pack("{s:O, s:O}", "destinationId",
                                               json_object_get(d, "destinationId"), "status",
                                               json_object_get(d, "status")));
    return json_pack("{s:O, s:O, s:o, s:O}", "deliveryId", json_object_get(status, "deliveryId"),
                     "status", json_object_get(status, "status"), "destinations", dests, "queuedAt",
                     json_object_get(status, "createdAt"));
}

/* A delivery id asked for that this organization has not: 404, and a probe
 * recorded when another organization has it. */
static enum MHD_Result not_found(adb_http_request *req, const char *id)
{
    adb_status st;
    PGconn *c = adb_pool_acquire(req->state->pool, &st, NULL, 0);
    if (c) {
        const char *q[] = { id, req->who.organization_id };
        PGresult *o = PQexecParams(c, "SELECT 1 FROM delivery_logs WHERE delivery_id = $1"
                                      " AND organization_id <> $2 LIMIT 1", 2, NULL, q, NULL, NULL, 0);
        if (PQresultStatus(o) == PGRES_TUPLES_OK && PQntuples(o) > 0)
            adb_http_security_event(req, "cross_tenant_probe", "MEDIUM",
                                    "asked for a delivery of another organization");
        PQclear(o);
        adb_pool_release(req->state->pool, c);
    }
    return adb_http_send_error(req, MHD_HTTP_NOT_FOUND, "NOT_FOUND", "no such delivery",
                               json_pack("{s:s}", "field", "id"));
}

/* ---- POST /api/v1/delivery/deliveries ------------------------------------ */

typedef struct dest_ref {
    int id;
    char field[32];
} dest_ref;

/* the exact bytes every destination of the delivery is sent */
static char *webhook_body(const char *delivery_id, const char *org, const json_t *payload, size_t *len)
{
    char now[40], type[64];
    adb_http_iso_now(now);
    adb__fmt(type, sizeof(type), "delivery.%s", json_string_value(json_object_get(payload, "type")));
    json_t *b = json_pack("{s:s, s:s, s:s, s:s, s:O, s:O}", "type", type, "timestamp", now,
                          "deliveryId", delivery_id, "organizationId", org, "data",
                          json_object_get(payload, "data") ? json_object_get(payload, "data") : json_null(),
                          "metadata", json_object_get(payload, "metadata"));
    char *s = b ? json_dumps(b, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(b);
    *len = s ? strlen(s) : 0;
    return s;
}

/* the delivery already queued under idempotency key k, as its response */
static json_t *existing(PGconn *c, const char *k)
{
    const char *p[] = { k };
    bool dberr;
    PGresult *r = PQexecParams(c, "SELECT delivery_id FROM delivery_queue WHERE idempotency_key = $1"
                                  " AND delivery_id IS NOT NULL LIMIT 1", 1, NULL, p, NULL, NULL, 0);
    json_t *out = NULL;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
        json_t *st = adb__delivery_status(c, PQgetvalue(r, 0, 0), &dberr);
        if (st)
            out = delivery_response(st);
        json_decref(st);
    }
    PQclear(r);
    return out;
}

enum MHD_Result adb_http_deliveries_create(adb_http_request *req)
{
    static const char *const known[] = { "organizationId", "destinations", "payload", "options", NULL };
    static const char *const known_payload[] = { "type", "data", "metadata", NULL };
    static const char *const known_options[] = { "priority", "idempotencyKey", "correlationId", "tags", NULL };
    json_error_t je;
    json_t *body = req->body_len ? json_loadb(req->body, req->body_len, 0, &je) : NULL;
    enum MHD_Result res = MHD_NO;
    dest_ref refs[DESTS_MAX];
    size_t nrefs = 0;
    bool use_default = false, bad;
    char *wbody = NULL, msg[200];
    PGconn *c = NULL;
    json_t *v, *payload, *options, *descriptor = NULL, *resp = NULL;
    const char *idem = NULL, *corr = NULL;
    long long priority = 0;

    if (!json_is_object(body)) {
        res = adb_http_send_invalid(req, "", "INVALID_JSON", "the body must be a JSON object (DeliveryRequest)");
        goto out;
    }
    if ((res = unknown_member(req, body, "", known, &bad)), bad)
        goto out;
    if ((v = json_object_get(body, "organizationId"))) {
        if (!json_is_string(v)) {
            res = adb_http_send_invalid(req, "organizationId", "INVALID_TYPE", "organizationId must be a string");
            goto out;
        }
        if (strcmp(json_string_value(v), req->who.organization_id)) {
            adb_http_security_event(req, "cross_tenant_probe", "MEDIUM",
                                    "a delivery request named another organization");
            res = adb_http_send_error(req, MHD_HTTP_FORBIDDEN, "FORBIDDEN",
                                      "organizationId must be the API key's organization",
                                      json_pack("{s:s}", "field", "organizationId"));
            goto out;
        }
    }
    v = json_object_get(body, "destinations");
    if (json_is_string(v) && !strcmp(json_string_value(v), "default")) {
        use_default = true;
    } else if (json_is_array(v) && json_array_size(v) >= 1 && json_array_size(v) <= DESTS_MAX) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) {
            long long id;
            adb__fmt(refs[nrefs].field, sizeof(refs[nrefs].field), "destinations[%zu]", i);
            if (!json_is_string(e) || !adb__parse_int(json_string_value(e), 1, 2147483647, &id)) {
                res = adb_http_send_invalid(req, refs[nrefs].field, "INVALID_VALUE",
                                            "a destination is named by its id, a string of digits");
                goto out;
            }
            for (size_t j = 0; j < nrefs; j++)
                if (refs[j].id == id) {
                    res = adb_http_send_invalid(req, refs[nrefs].field, "DUPLICATE",
                                                "a destination is named twice");
                    goto out;
                }
            refs[nrefs++].id = (int)id;
        }
    } else {
        res = adb_http_send_invalid(req, "destinations", v ? "INVALID_VALUE" : "REQUIRED",
                                    "destinations must be \"default\" or a list of 1 to 100 destination ids");
        goto out;
    }
    payload = json_object_get(body, "payload");
    if (!json_is_object(payload)) {
        res = adb_http_send_invalid(req, "payload", payload ? "INVALID_TYPE" : "REQUIRED",
                                    "payload must be an object {type, data, metadata}");
        goto out;
    }
    if ((res = unknown_member(req, payload, "payload.", known_payload, &bad)), bad)
        goto out;
    if (!one_of(json_string_value(json_object_get(payload, "type")), payload_types)) {
        res = adb_http_send_invalid(req, "payload.type", json_object_get(payload, "type") ? "INVALID_VALUE" : "REQUIRED",
                                    "payload.type must be report, export, data or custom");
        goto out;
    }
    if ((v = json_object_get(payload, "metadata")) && !json_is_object(v)) {
        res = adb_http_send_invalid(req, "payload.metadata", "INVALID_TYPE", "payload.metadata must be an object");
        goto out;
    }
    if (!v)
        json_object_set_new(payload, "metadata", json_object());
    options = json_object_get(body, "options");
    if (options && !json_is_object(options)) {
        res = adb_http_send_invalid(req, "options", "INVALID_TYPE", "options must be an object");
        goto out;
    }
    if (options) {
        if ((res = unknown_member(req, options, "options.", known_options, &bad)), bad)
            goto out;
        if ((v = json_object_get(options, "priority"))) {
            if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 10) {
                res = adb_http_send_invalid(req, "options.priority", "INVALID_VALUE",
                                            "options.priority must be an integer from 0 to 10");
                goto out;
            }
            priority = json_integer_value(v);
        }
        const char *names[] = { "idempotencyKey", "correlationId" };
        const char **dst[] = { &idem, &corr };
        for (int i = 0; i < 2; i++) {
            char field[40];
            adb__fmt(field, sizeof(field), "options.%s", names[i]);
            if ((v = json_object_get(options, names[i]))) {
                if (!json_is_string(v) || json_string_length(v) < 1 || json_string_length(v) > STR_MAX ||
                    strlen(json_string_value(v)) != json_string_length(v)) {
                    adb__fmt(msg, sizeof(msg), "%s must be a string of 1 to 255 characters", field);
                    res = adb_http_send_invalid(req, field, "INVALID_VALUE", msg);
                    goto out;
                }
                *dst[i] = json_string_value(v);
            }
        }
        if ((v = json_object_get(options, "tags"))) {
            size_t i;
            json_t *t;
            bool ok = json_is_array(v) && json_array_size(v) <= TAGS_MAX;
            json_array_foreach(v, i, t)
                ok = ok && json_is_string(t) && json_string_length(t) <= 100;
            if (!ok) {
                res = adb_http_send_invalid(req, "options.tags", "INVALID_VALUE",
                                            "options.tags must be a list of at most 50 strings of at most 100 characters");
                goto out;
            }
        }
    }

    if (!(c = begin(req))) {
        res = adb_http_send_unavailable(req);
        goto out;
    }
    if (idem && (resp = existing(c, idem))) {
        adb_tenant_end(req->state->db, c, false);
        c = NULL;
        res = adb_http_send_json(req, MHD_HTTP_OK, resp);
        resp = NULL;
        goto out;
    }
    /* the destinations, as the tenant sees them */
    PGresult *r;
    if (use_default) {
        r = PQexec(c, "SELECT id FROM delivery_destinations WHERE is_default = 'true' AND disabled = 'false'"
                      " ORDER BY id LIMIT 100");
        if (PQresultStatus(r) == PGRES_TUPLES_OK) {
            for (int i = 0; i < PQntuples(r); i++) {
                refs[nrefs].id = atoi(PQgetvalue(r, i, 0));
                adb__fmt(refs[nrefs].field, sizeof(refs[nrefs].field), "destinations");
                nrefs++;
            }
        }
        bool ok = PQresultStatus(r) == PGRES_TUPLES_OK;
        PQclear(r);
        if (!ok) {
            res = adb_http_send_unavailable(req);
            goto out;
        }
        if (nrefs == 0) {
            res = adb_http_send_invalid(req, "destinations", "NO_DEFAULT_DESTINATION",
                                        "the organization has no enabled default destination");
            goto out;
        }
    } else {
        for (size_t i = 0; i < nrefs; i++) {
            char ids[16];
            adb__fmt(ids, sizeof(ids), "%d", refs[i].id);
            const char *p[] = { ids };
            r = PQexecParams(c, "SELECT 1 FROM delivery_destinations WHERE id = $1::int", 1, NULL, p, NULL, NULL, 0);
            int st = PQresultStatus(r) != PGRES_TUPLES_OK ? -1 : PQntuples(r);
            PQclear(r);
            if (st < 0) {
                res = adb_http_send_unavailable(req);
                goto out;
            }
            if (st == 0) {
                res = adb_http_send_error(req, MHD_HTTP_NOT_FOUND, "DESTINATION_NOT_FOUND",
                                          "no such destination", json_pack("{s:s}", "field", refs[i].field));
                goto out;
            }
        }
    }

    char delivery_id[64];
    size_t wlen;
    adb__queue_new_id("dlv_", delivery_id, sizeof(delivery_id));
    if (!(wbody = webhook_body(delivery_id, req->who.organization_id, payload, &wlen)) ||
        !(descriptor = json_pack("{s:O, s:O}", "type", json_object_get(payload, "type"), "metadata",
                                 json_object_get(payload, "metadata")))) {
        res = adb_http_send_unavailable(req);
        goto out;
    }
    json_t *details = json_pack("{s:I}", "priority", (json_int_t)priority);
    if (options && json_object_get(options, "tags"))
        json_object_set(details, "tags", json_object_get(options, "tags"));
    /* the data subjects the delivery carries data of, as blind indexes: the
     * recipients of a GDPR export (docs/delivery.md "Data subjects") */
    json_t *md = json_object_get(payload, "metadata"), *subs = json_array();
    json_t *one = json_object_get(md, "dataSubjectId"), *many = json_object_get(md, "dataSubjectIds");
    size_t si;
    json_t *sv;
    char six[2 * ADB_SUBJECT_INDEX_LEN + 1];
    if (json_is_string(one) && adb__subject_index_hex(adb__db_keys(req->state->db),
            req->who.organization_id, json_string_value(one), six))
        json_array_append_new(subs, json_string(six));
    json_array_foreach(json_is_array(many) ? many : NULL, si, sv)
        if (si < 1000 && json_is_string(sv) && adb__subject_index_hex(adb__db_keys(req->state->db),
                req->who.organization_id, json_string_value(sv), six))
            json_array_append_new(subs, json_string(six));
    if (json_array_size(subs))
        json_object_set(details, "dataSubjects", subs);
    json_decref(subs);
    char *details_text = json_dumps(details, JSON_COMPACT), *desc_text = json_dumps(descriptor, JSON_COMPACT);
    json_decref(details);
    bool dup = false, ok = details_text && desc_text;
    for (size_t i = 0; ok && i < nrefs && !dup; i++) {
        char ids[16], qid[64];
        adb__fmt(ids, sizeof(ids), "%d", refs[i].id);
        const char *p[] = { delivery_id, req->who.organization_id, ids, desc_text, corr, idem, details_text };
        r = PQexecParams(c, "INSERT INTO delivery_logs (delivery_id, organization_id, destination_id,"
                            " destinations, object_details, status, correlation_id, idempotency_key, details)"
                            " VALUES ($1, $2, $3::int, jsonb_build_array($3::text), $4::jsonb, 'pending', $5, $6,"
                            " $7::jsonb) RETURNING id", 7, NULL, p, NULL, NULL, 0);
        ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
        int log_id = ok ? atoi(PQgetvalue(r, 0, 0)) : 0;
        PQclear(r);
        adb__enqueue e = { .org = req->who.organization_id, .delivery_id = delivery_id,
                           .correlation_id = corr, .idempotency_key = idem, .content_type = "application/json",
                           .dest_id = refs[i].id, .log_id = log_id, .priority = (int)priority,
                           .body = (const unsigned char *)wbody, .body_len = wlen, .payload = descriptor };
        ok = ok && adb__queue_enqueue(c, &e, qid, &dup) == ADB_OK;
    }
    free(details_text);
    free(desc_text);
    if (ok && !dup)
        ok = adb__queue_notify(c) == ADB_OK;
    if (!ok || dup) {
        adb_tenant_end(req->state->db, c, false);
        c = NULL;
        if (dup && (c = begin(req)) && (resp = existing(c, idem))) {
            res = adb_http_send_json(req, MHD_HTTP_OK, resp);
            resp = NULL;
        } else {
            res = adb_http_send_unavailable(req);
        }
        goto out;
    }
    bool dberr;
    json_t *st = adb__delivery_status(c, delivery_id, &dberr);
    adb_tenant_end(req->state->db, c, st != NULL);
    c = NULL;
    if (!st) {
        res = adb_http_send_unavailable(req);
        goto out;
    }
    resp = delivery_response(st);
    json_decref(st);
    /* each destination's log row id (DeliveryResponse.deliveryLogId) */
    res = adb_http_send_json(req, MHD_HTTP_ACCEPTED, resp);
    resp = NULL;
out:
    if (c)
        adb_tenant_end(req->state->db, c, false);
    json_decref(resp);
    json_decref(descriptor);
    free(wbody);
    json_decref(body);
    return res;
}

/* ---- GET /api/v1/delivery/deliveries/{id} -------------------------------- */

enum MHD_Result adb_http_deliveries_get(adb_http_request *req)
{
    const char *id = req->param[0];
    bool dberr;
    if (strlen(id) > STR_MAX)
        return not_found(req, id);
    PGconn *c = begin(req);
    if (!c)
        return adb_http_send_unavailable(req);
    json_t *st = adb__delivery_status(c, id, &dberr);
    adb_tenant_end(req->state->db, c, false);
    if (!st)
        return dberr ? adb_http_send_unavailable(req) : not_found(req, id);
    return adb_http_send_json(req, MHD_HTTP_OK, st);
}

/* ---- POST /api/v1/delivery/deliveries/{id}/retry ------------------------- */

enum MHD_Result adb_http_deliveries_retry(adb_http_request *req)
{
    const char *id = req->param[0];
    bool dberr;
    if (strlen(id) > STR_MAX)
        return not_found(req, id);
    PGconn *c = begin(req);
    if (!c)
        return adb_http_send_unavailable(req);
    json_t *st = adb__delivery_status(c, id, &dberr);
    if (!st) {
        adb_tenant_end(req->state->db, c, false);
        return dberr ? adb_http_send_unavailable(req) : not_found(req, id);
    }
    json_decref(st);
    /* failed and held items go again, each with its webhook-id and bytes;
     * the schedule starts over */
    int n = adb__delivery_requeue(c, id);
    if (n > 0 && adb__queue_notify(c) != ADB_OK)
        n = -1;
    if (n < 0) {
        adb_tenant_end(req->state->db, c, false);
        return adb_http_send_unavailable(req);
    }
    if (n == 0) {
        adb_tenant_end(req->state->db, c, false);
        return adb_http_send_error(req, MHD_HTTP_CONFLICT, "NOTHING_TO_RETRY",
                                   "the delivery has no failed or held destination",
                                   json_pack("{s:s}", "field", "id"));
    }
    st = adb__delivery_status(c, id, &dberr);
    adb_tenant_end(req->state->db, c, st != NULL);
    if (!st)
        return adb_http_send_unavailable(req);
    json_t *resp = delivery_response(st);
    json_decref(st);
    char msg[200];
    adb__fmt(msg, sizeof(msg), "delivery %.64s: %d destination(s) queued again", id, n);
    adb_http_security_event(req, "delivery_retried", "LOW", msg);
    return adb_http_send_json(req, MHD_HTTP_OK, resp);
}

/* ---- GET /api/v1/delivery/deliveries -------------------------------------- */

static bool time_arg(adb_http_request *req, const char *name, const char **out, enum MHD_Result *res)
{
    int64_t us;
    char msg[120];
    *out = adb_http_arg(req, name);
    if (*out && !adb__timestamp_parse(*out, strlen(*out), &us)) {
        adb__fmt(msg, sizeof(msg), "%s must be an ISO 8601 date-time", name);
        *res = adb_http_send_invalid(req, name, "INVALID_VALUE", msg);
        return false;
    }
    return true;
}

enum MHD_Result adb_http_deliveries_list(adb_http_request *req)
{
    const char *a, *dest = NULL, *status, *start, *end, *sort = "createdAt", *order = "desc";
    long long limit = LIST_DEFAULT, offset = 0, id;
    enum MHD_Result res;
    char lim[24], off[24];

    if ((dest = adb_http_arg(req, "destinationId")) && !adb__parse_int(dest, 1, 2147483647, &id))
        return adb_http_send_invalid(req, "destinationId", "INVALID_VALUE", "destinationId must be a destination id");
    if ((status = adb_http_arg(req, "status")) && !one_of(status, dest_statuses))
        return adb_http_send_invalid(req, "status", "INVALID_VALUE",
                                     "status must be pending, delivered, failed or retrying");
    if (!time_arg(req, "startDate", &start, &res) || !time_arg(req, "endDate", &end, &res))
        return res;
    if ((a = adb_http_arg(req, "limit")) && !adb__parse_int(a, 1, LIST_MAX, &limit))
        return adb_http_send_invalid(req, "limit", "INVALID_VALUE", "limit must be an integer from 1 to 1000");
    if ((a = adb_http_arg(req, "offset")) && !adb__parse_int(a, 0, OFFSET_MAX, &offset))
        return adb_http_send_invalid(req, "offset", "INVALID_VALUE", "offset must be an integer from 0 to 100000");
    if ((a = adb_http_arg(req, "sortBy"))) {
        if (strcmp(a, "createdAt") && strcmp(a, "updatedAt") && strcmp(a, "status"))
            return adb_http_send_invalid(req, "sortBy", "INVALID_VALUE", "sortBy must be createdAt, updatedAt or status");
        sort = a;
    }
    if ((a = adb_http_arg(req, "sortOrder"))) {
        if (strcmp(a, "asc") && strcmp(a, "desc"))
            return adb_http_send_invalid(req, "sortOrder", "INVALID_VALUE", "sortOrder must be asc or desc");
        order = a;
    }
    adb__fmt(lim, sizeof(lim), "%lld", limit);
    adb__fmt(off, sizeof(off), "%lld", offset);
    /* the ORDER BY is one of six fixed texts, never the client's */
    char sql[1024];
    const char *col = !strcmp(sort, "updatedAt") ? "max(updated_at)" : !strcmp(sort, "status") ? "min(status)"
                                                                                                : "min(created_at)";
    adb__fmt(sql, sizeof(sql),
             "SELECT delivery_id, count(*) OVER () FROM delivery_logs"
             " WHERE ($1::int IS NULL OR destination_id = $1::int) AND ($2::text IS NULL OR status = $2::text)"
             " AND created_at >= coalesce($3::timestamptz, '-infinity')"
             " AND created_at <= coalesce($4::timestamptz, 'infinity')"
             " GROUP BY delivery_id ORDER BY %s %s, delivery_id %s LIMIT $5::int OFFSET $6::int",
             col, !strcmp(order, "asc") ? "ASC" : "DESC", !strcmp(order, "asc") ? "ASC" : "DESC");
    PGconn *c = begin(req);
    if (!c)
        return adb_http_send_unavailable(req);
    const char *p[] = { dest, status, start, end, lim, off };
    PGresult *r = PQexecParams(c, sql, 6, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        adb_tenant_end(req->state->db, c, false);
        return adb_http_send_unavailable(req);
    }
    long long total = PQntuples(r) ? atoll(PQgetvalue(r, 0, 1)) : 0;
    json_t *data = json_array();
    bool ok = true;
    for (int i = 0; i < PQntuples(r) && ok; i++) {
        bool dberr;
        json_t *st = adb__delivery_status(c, PQgetvalue(r, i, 0), &dberr);
        ok = !dberr;
        if (st)
            json_array_append_new(data, st);
    }
    int rows = PQntuples(r);
    PQclear(r);
    adb_tenant_end(req->state->db, c, false);
    if (!ok) {
        json_decref(data);
        return adb_http_send_unavailable(req);
    }
    if (rows == 0 && offset > 0) {
        /* past the end: the total is counted again for an honest answer */
        total = -1;
    }
    json_t *pag = json_pack("{s:I, s:I, s:b, s:b}", "limit", (json_int_t)limit, "offset", (json_int_t)offset,
                            "hasNext", total >= 0 && offset + rows < total, "hasPrevious", offset > 0);
    if (total >= 0)
        json_object_set_new(pag, "total", json_integer(total));
    return adb_http_send_json(req, MHD_HTTP_OK, json_pack("{s:o, s:o}", "data", data, "pagination", pag));
}

/* ---- GET /api/v1/delivery/metrics ----------------------------------------- */

enum MHD_Result adb_http_delivery_metrics(adb_http_request *req)
{
    static const char *const types[] = { "email", "webhook", "storage", "sftp", "download", NULL };
    const char *type, *start, *end, *g;
    enum MHD_Result res;
    if ((type = adb_http_arg(req, "destinationType")) && !one_of(type, types))
        return adb_http_send_invalid(req, "destinationType", "INVALID_VALUE",
                                     "destinationType must be email, webhook, storage, sftp or download");
    if (!time_arg(req, "startDate", &start, &res) || !time_arg(req, "endDate", &end, &res))
        return res;
    if ((g = adb_http_arg(req, "granularity")) && strcmp(g, "hour") && strcmp(g, "day") &&
        strcmp(g, "week") && strcmp(g, "month"))
        return adb_http_send_invalid(req, "granularity", "INVALID_VALUE",
                                     "granularity must be hour, day, week or month");
    PGconn *c = begin(req);
    if (!c)
        return adb_http_send_unavailable(req);
    const char *p[] = { type, start, end };
    PGresult *r = PQexecParams(c,
        "SELECT d.type, count(*), count(*) FILTER (WHERE l.status = 'delivered'),"
        " count(*) FILTER (WHERE l.status = 'failed'),"
        " coalesce(avg(extract(epoch FROM l.delivered_at - l.created_at) * 1000)"
        "          FILTER (WHERE l.status = 'delivered'), 0),"
        " " TS("coalesce($2::timestamptz, min(l.created_at), now())") ","
        " " TS("coalesce($3::timestamptz, now())")
        " FROM delivery_logs l JOIN delivery_destinations d ON d.id = l.destination_id"
        " WHERE ($1::text IS NULL OR d.type = $1::text)"
        " AND l.created_at >= coalesce($2::timestamptz, '-infinity')"
        " AND l.created_at <= coalesce($3::timestamptz, 'infinity')"
        " GROUP BY GROUPING SETS ((d.type), ()) ORDER BY d.type NULLS FIRST", 3, NULL, p, NULL, NULL, 0);
    adb_tenant_end(req->state->db, c, false);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        return adb_http_send_unavailable(req);
    }
    json_t *by_type = json_object(), *out = NULL;
    char rate[16], ts0[40] = "", ts1[40] = "";
    long long tot = 0, okc = 0, failc = 0;
    double avg = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        long long n = atoll(PQgetvalue(r, i, 1)), s = atoll(PQgetvalue(r, i, 2)), f = atoll(PQgetvalue(r, i, 3));
        double ms = atof(PQgetvalue(r, i, 4));
        adb__fmt(rate, sizeof(rate), "%.2f", n ? 100.0 * (double)s / (double)n : 0.0);
        if (PQgetisnull(r, i, 0)) {
            tot = n;
            okc = s;
            failc = f;
            avg = ms;
            adb__fmt(ts0, sizeof(ts0), "%s", PQgetvalue(r, i, 5));
            adb__fmt(ts1, sizeof(ts1), "%s", PQgetvalue(r, i, 6));
        } else {
            json_object_set_new(by_type, PQgetvalue(r, i, 0),
                                json_pack("{s:I, s:I, s:I, s:s, s:f}", "total", (json_int_t)n, "successful",
                                          (json_int_t)s, "failed", (json_int_t)f, "successRate", rate,
                                          "averageTime", ms));
        }
    }
    PQclear(r);
    if (!ts0[0]) {
        char now[40];
        adb_http_iso_now(now);
        adb__fmt(ts0, sizeof(ts0), "%s", start ? start : now);
        adb__fmt(ts1, sizeof(ts1), "%s", end ? end : now);
    }
    adb__fmt(rate, sizeof(rate), "%.2f", tot ? 100.0 * (double)okc / (double)tot : 0.0);
    json_t *by_org = json_object();
    json_object_set_new(by_org, req->who.organization_id,
                        json_pack("{s:I, s:I, s:I, s:s}", "total", (json_int_t)tot, "successful", (json_int_t)okc,
                                  "failed", (json_int_t)failc, "successRate", rate));
    out = json_pack("{s:I, s:I, s:I, s:s, s:f, s:o, s:o, s:{s:s, s:s}}", "totalDeliveries", (json_int_t)tot,
                    "successfulDeliveries", (json_int_t)okc, "failedDeliveries", (json_int_t)failc,
                    "successRate", rate, "averageDeliveryTime", avg, "byDestinationType", by_type,
                    "byOrganization", by_org, "timeRange", "start", ts0, "end", ts1);
    return adb_http_send_json(req, MHD_HTTP_OK, out);
}

/* ---- GET /api/v1/delivery/health ------------------------------------------ */

enum MHD_Result adb_http_delivery_health(adb_http_request *req)
{
    char now[40];
    PGconn *c = begin(req);
    if (!c)
        return adb_http_send_unavailable(req);
    PGresult *r = PQexec(c, "SELECT count(*) FILTER (WHERE status = 'pending' AND scheduled_at <= now()),"
                            " count(*) FILTER (WHERE status = 'processing'),"
                            " count(*) FILTER (WHERE status = 'held'),"
                            " coalesce(extract(epoch FROM now() - min(scheduled_at) FILTER"
                            "   (WHERE status = 'pending' AND scheduled_at <= now())) * 1000, 0)::bigint"
                            " FROM delivery_queue");
    adb_tenant_end(req->state->db, c, false);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        return adb_http_send_unavailable(req);
    }
    int threads = adb__delivery_threads_running();
    long long oldest = atoll(PQgetvalue(r, 0, 3));
    /* degraded: nothing delivers here, or a due item waits over a minute */
    const char *status = threads > 0 && oldest < 60000 ? "healthy" : "degraded";
    adb_http_iso_now(now);
    json_t *out = json_pack("{s:s, s:s, s:s, s:{s:i, s:I, s:I, s:I, s:I}}", "status", status,
                            "version", adb_version(), "timestamp", now, "details",
                            "deliveryThreads", threads,
                            "due", (json_int_t)atoll(PQgetvalue(r, 0, 0)),
                            "processing", (json_int_t)atoll(PQgetvalue(r, 0, 1)),
                            "held", (json_int_t)atoll(PQgetvalue(r, 0, 2)),
                            "oldestDueMs", (json_int_t)oldest);
    PQclear(r);
    return adb_http_send_json(req, MHD_HTTP_OK, out);
}
