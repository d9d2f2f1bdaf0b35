/*
 * deliver.c - a report's artifact handed to the delivery queue (issue 19
 * "Delivery", docs/reports.md "Delivery of artifacts"; the queue is issue
 * 18's, docs/delivery.md).
 *
 * One call is one delivery (a dlv_ id) with one delivery_logs row and one
 * delivery_queue item per destination, all in the caller's transaction: the
 * item's body is the artifact's exact bytes, its content type the
 * artifact's, its payload {type: "report", metadata: {filename, reportId,
 * executionId, scheduledReportId, sha256, size}}. Every transport then sends
 * those bytes: a webhook POSTs them (signed, with the file name in
 * Content-Disposition), email attaches them, S3 and SFTP store them under
 * the file name, a download link serves them. The delivery threads append
 * each attempt to report_executions.delivery_attempts in the statement that
 * ends the attempt (queue.c), so the execution shows what happened to its
 * artifact.
 *
 * "default" means the organization's destinations flagged default
 * (is_default) and not disabled, as for POST /api/v1/delivery/deliveries.
 *
 * An execution is delivered once: each item carries the idempotency key
 * "report-execution:<execution id>", so an execution resumed after a crash
 * that calls this again gets the delivery it made the first time (its id in
 * delivery_id), not a second one.
 */
#include "report.h"
#include "compress.h"
#include "../core/util.h"
#include "../delivery/delivery.h"

#include <stdlib.h>
#include <string.h>

#define DEST_MAX 100

static bool exec_ok(PGresult *r)
{
    return PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
}

/* The destination ids of delivery into ids (n of them); false with why. */
static adb_status destinations(PGconn *c, const char *org, const json_t *delivery, int *ids,
                               size_t *n, char *err, size_t errlen)
{
    const json_t *d = json_object_get(delivery, "destinations");
    *n = 0;
    if (!json_is_object(delivery) || !d) {
        adb__fmt(err, errlen, "delivery.destinations is required: \"default\" or a list of destination ids");
        return ADB_ERR_INVALID;
    }
    if (json_is_string(d)) {
        if (strcmp(json_string_value(d), "default") != 0) {
            adb__fmt(err, errlen, "delivery.destinations must be \"default\" or a list of destination ids");
            return ADB_ERR_INVALID;
        }
        const char *p[] = { org };
        PGresult *r = PQexecParams(c,
            "SELECT id FROM delivery_destinations WHERE organization_id = $1 AND is_default = 'true'"
            " AND disabled = 'false' AND deleted_at IS NULL ORDER BY id LIMIT 100",
            1, NULL, p, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            PQclear(r);
            adb__fmt(err, errlen, "could not read the organization's destinations");
            return ADB_ERR_DB_QUERY;
        }
        for (int i = 0; i < PQntuples(r); i++)
            ids[(*n)++] = atoi(PQgetvalue(r, i, 0));
        PQclear(r);
        if (*n == 0) {
            adb__fmt(err, errlen, "delivery.destinations: the organization has no enabled default destination");
            return ADB_ERR_NOT_FOUND;
        }
        return ADB_OK;
    }
    if (!json_is_array(d) || json_array_size(d) < 1 || json_array_size(d) > DEST_MAX) {
        adb__fmt(err, errlen, "delivery.destinations must be \"default\" or a list of 1 to %d destination ids",
                 DEST_MAX);
        return ADB_ERR_INVALID;
    }
    size_t i;
    json_t *v;
    json_array_foreach(d, i, v) {
        long long id = 0;
        /* the client's ids are strings of digits; an integer is taken too */
        bool ok = json_is_string(v) ? adb__parse_int(json_string_value(v), 1, 2147483647, &id)
                  : json_is_integer(v) && (id = json_integer_value(v)) >= 1 && id <= 2147483647;
        if (!ok) {
            adb__fmt(err, errlen, "delivery.destinations[%zu] is not a destination id", i);
            return ADB_ERR_INVALID;
        }
        for (size_t k = 0; k < *n; k++)
            if (ids[k] == (int)id) {
                adb__fmt(err, errlen, "delivery.destinations[%zu] names destination %lld twice", i, id);
                return ADB_ERR_INVALID;
            }
        char idt[16];
        adb__fmt(idt, sizeof(idt), "%lld", id);
        const char *p[] = { org, idt };
        PGresult *r = PQexecParams(c,
            "SELECT 1 FROM delivery_destinations WHERE organization_id = $1 AND id = $2::int"
            " AND deleted_at IS NULL", 2, NULL, p, NULL, NULL, 0);
        int found = PQresultStatus(r) == PGRES_TUPLES_OK ? PQntuples(r) : -1;
        PQclear(r);
        if (found < 0) {
            adb__fmt(err, errlen, "could not read the organization's destinations");
            return ADB_ERR_DB_QUERY;
        }
        if (found == 0) {
            adb__fmt(err, errlen, "delivery.destinations[%zu]: no destination %lld in the organization", i, id);
            return ADB_ERR_NOT_FOUND;
        }
        ids[(*n)++] = (int)id;
    }
    return ADB_OK;
}

/* The delivery an earlier call made for this execution, if any. */
static adb_status earlier(PGconn *c, const char *org, const char *idem, char delivery_id[64], bool *found)
{
    const char *p[] = { org, idem };
    PGresult *r = PQexecParams(c,
        "SELECT delivery_id FROM delivery_queue WHERE organization_id = $1 AND idempotency_key = $2"
        " AND delivery_id IS NOT NULL ORDER BY created_at LIMIT 1", 2, NULL, p, NULL, NULL, 0);
    *found = false;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        return ADB_ERR_DB_QUERY;
    }
    if (PQntuples(r) == 1) {
        adb__fmt(delivery_id, 64, "%s", PQgetvalue(r, 0, 0));
        *found = true;
    }
    PQclear(r);
    return ADB_OK;
}

static adb_status deliver(PGconn *c, const char *org, const json_t *delivery,
                          const char *execution_id, const adb__report_result *r,
                          const char *packed_from, char delivery_id[64], char *err, size_t errlen);

/* rxlsx: delivery.compression (the client's DeliveryConfig: none, gzip, zip)
 * packs the file that leaves; the artifact inside is the signed one, its
 * SHA-256 in the payload as artifactSha256 (docs/reports.md, "Compression"). */
adb_status adb__report_deliver(PGconn *c, const char *org, const json_t *delivery,
                               const char *execution_id, const adb__report_result *r,
                               char delivery_id[64], char *err, size_t errlen)
{
    const json_t *cv = json_object_get(delivery, "compression");
    const adb__compression *cz = NULL;

    delivery_id[0] = '\0';
    if (cv && !json_is_null(cv)) {
        cz = json_is_string(cv) ? adb__compression_find(json_string_value(cv)) : NULL;
        if (!cz) {
            adb__fmt(err, errlen, "delivery.compression must be none, gzip or zip (bzip2 is not "
                                  "written by this server)");
            return ADB_ERR_INVALID;
        }
    }
    if (!cz || !strcmp(cz->name, "none") || !r)
        return deliver(c, org, delivery, execution_id, r, NULL, delivery_id, err, errlen);
    adb__report_result packed;
    adb__buf b = { 0 };
    memset(&packed, 0, sizeof(packed));
    adb_status st = adb__compress(cz, r->artifact, r->artifact_len, r->filename, NULL, &b);
    if (st != ADB_OK || b.oom) {
        adb__buf_free(&b);
        adb__fmt(err, errlen, "could not compress the artifact (%s)", cz->name);
        return st != ADB_OK ? st : ADB_ERR_NOMEM;
    }
    packed.artifact_len = b.len;
    packed.artifact = (unsigned char *)adb__buf_take(&b, NULL);
    packed.content_type = cz->content_type;
    memcpy(packed.report_id, r->report_id, sizeof(packed.report_id));
    adb__fmt(packed.filename, sizeof(packed.filename), "%.100s%s", r->filename[0] ? r->filename : "report",
             cz->suffix);
    packed.records = r->records;
    if (!packed.artifact) {
        adb__fmt(err, errlen, "out of memory");
        return ADB_ERR_NOMEM;
    }
    adb__sha256_hex(packed.artifact, packed.artifact_len, packed.sha256_hex);
    char inner[65];
    if (r->sha256_hex[0] && strlen(r->sha256_hex) == 64)
        adb__fmt(inner, sizeof(inner), "%s", r->sha256_hex);
    else
        adb__sha256_hex(r->artifact ? r->artifact : (const unsigned char *)"", r->artifact_len, inner);
    st = deliver(c, org, delivery, execution_id, &packed, inner, delivery_id, err, errlen);
    free(packed.artifact);
    return st;
}

static adb_status deliver(PGconn *c, const char *org, const json_t *delivery,
                          const char *execution_id, const adb__report_result *r,
                          const char *packed_from, char delivery_id[64], char *err, size_t errlen)
{
    int ids[DEST_MAX];
    size_t n = 0;
    char idem[160] = "", sha[65], scheduled[256] = "";
    json_t *payload = NULL, *details = NULL;
    char *payload_text = NULL, *details_text = NULL;
    adb_status st;

    delivery_id[0] = '\0';
    err[0] = '\0';
    if (!c || !org || !org[0] || !r) {
        adb__fmt(err, errlen, "no connection, organization or artifact");
        return ADB_ERR_INVALID;
    }
    if (!r->artifact && r->artifact_len) {
        adb__fmt(err, errlen, "the artifact has a length but no bytes");
        return ADB_ERR_INVALID;
    }
    if (execution_id && (!execution_id[0] || strlen(execution_id) > 120)) {
        adb__fmt(err, errlen, "the execution id must be 1 to 120 characters");
        return ADB_ERR_INVALID;
    }
    if ((st = destinations(c, org, delivery, ids, &n, err, errlen)) != ADB_OK)
        return st;

    if (execution_id) {
        bool found;
        adb__fmt(idem, sizeof(idem), "report-execution:%s", execution_id);
        if (earlier(c, org, idem, delivery_id, &found) != ADB_OK) {
            adb__fmt(err, errlen, "could not read the queue");
            return ADB_ERR_DB_QUERY;
        }
        if (found)
            return ADB_OK;   /* delivered once already: the same delivery */
    }

    adb__queue_new_id("dlv_", delivery_id, 64);
    /* the execution learns its delivery now; its schedule names the payload */
    if (execution_id) {
        const char *p[] = { execution_id, org, delivery_id };
        PGresult *q = PQexecParams(c,
            "UPDATE report_executions SET delivery_id = $3,"
            " delivery_attempts = coalesce(delivery_attempts, '[]'::jsonb)"
            " WHERE id = $1 AND organization_id = $2 RETURNING scheduled_report_id",
            3, NULL, p, NULL, NULL, 0);
        if (!exec_ok(q)) {
            adb__fmt(err, errlen, "could not record the delivery in the execution %s", PQresultErrorMessage(q));
            PQclear(q);
            delivery_id[0] = '\0';
            return ADB_ERR_DB_QUERY;
        }
        if (PQntuples(q) == 1)
            adb__fmt(scheduled, sizeof(scheduled), "%s", PQgetvalue(q, 0, 0));
        PQclear(q);
    }

    const unsigned char *bytes = r->artifact ? r->artifact : (const unsigned char *)"";
    if (r->sha256_hex[0] && strlen(r->sha256_hex) == 64)
        adb__fmt(sha, sizeof(sha), "%s", r->sha256_hex);
    else
        adb__sha256_hex(bytes, r->artifact_len, sha);
    const char *ctype = r->content_type && r->content_type[0] ? r->content_type : "application/octet-stream";
    json_t *md = json_pack("{s:s, s:I}", "sha256", sha, "size", (json_int_t)r->artifact_len);
    if (md && r->filename[0])
        json_object_set_new(md, "filename", json_string(r->filename));
    if (md && r->report_id[0])
        json_object_set_new(md, "reportId", json_string(r->report_id));
    if (md && execution_id)
        json_object_set_new(md, "executionId", json_string(execution_id));
    if (md && scheduled[0])
        json_object_set_new(md, "scheduledReportId", json_string(scheduled));
    if (md && packed_from) {
        json_object_set_new(md, "compression", json_string(!strcmp(ctype, "application/zip") ? "zip" : "gzip"));
        json_object_set_new(md, "artifactSha256", json_string(packed_from));
    }
    payload = md ? json_pack("{s:s, s:o}", "type", "report", "metadata", md) : NULL;
    details = json_pack("{s:i, s:s}", "priority", 0, "source", "report");
    if (!payload || !details || !(payload_text = json_dumps(payload, JSON_COMPACT)) ||
        !(details_text = json_dumps(details, JSON_COMPACT))) {
        adb__fmt(err, errlen, "out of memory");
        st = ADB_ERR_NOMEM;
        goto fail;
    }

    for (size_t i = 0; i < n; i++) {
        char idt[16], qid[64];
        bool dup = false;
        adb__fmt(idt, sizeof(idt), "%d", ids[i]);
        const char *p[] = { delivery_id, org, idt, payload_text, execution_id, idem[0] ? idem : NULL,
                            details_text };
        PGresult *q = PQexecParams(c,
            "INSERT INTO delivery_logs (delivery_id, organization_id, destination_id, destinations,"
            " object_details, status, correlation_id, idempotency_key, details)"
            " VALUES ($1, $2, $3::int, jsonb_build_array($3::text), $4::jsonb, 'pending', $5, $6, $7::jsonb)"
            " RETURNING id", 7, NULL, p, NULL, NULL, 0);
        int log_id = PQresultStatus(q) == PGRES_TUPLES_OK && PQntuples(q) == 1 ? atoi(PQgetvalue(q, 0, 0)) : 0;
        PQclear(q);
        if (!log_id) {
            adb__fmt(err, errlen, "could not record the delivery");
            st = ADB_ERR_DB_QUERY;
            goto fail;
        }
        adb__enqueue e = { .org = org, .delivery_id = delivery_id, .correlation_id = execution_id,
                           .idempotency_key = idem[0] ? idem : NULL, .content_type = ctype,
                           .dest_id = ids[i], .log_id = log_id, .priority = 0,
                           .body = bytes, .body_len = r->artifact_len, .payload = payload };
        if (adb__queue_enqueue(c, &e, qid, &dup) != ADB_OK) {
            adb__fmt(err, errlen, "could not queue the artifact");
            st = ADB_ERR_DB_QUERY;
            goto fail;
        }
        if (dup) {
            /* another transaction queued this execution meanwhile: the caller
             * rolls back; its retry finds that delivery */
            adb__fmt(err, errlen, "the execution's artifact was queued by another transaction");
            st = ADB_ERR_BUSY;
            goto fail;
        }
    }
    if (adb__queue_notify(c) != ADB_OK) {
        adb__fmt(err, errlen, "could not wake the delivery threads");
        st = ADB_ERR_DB_QUERY;
        goto fail;
    }
    json_decref(payload);
    json_decref(details);
    free(payload_text);
    free(details_text);
    return ADB_OK;
fail:
    delivery_id[0] = '\0';
    json_decref(payload);
    json_decref(details);
    free(payload_text);
    free(details_text);
    return st;
}
