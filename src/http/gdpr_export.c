/*
 * gdpr_export.c - POST /api/v1/compliance/gdpr/export and /export/stream:
 * everything the organization holds about one data subject (GDPR Art. 15
 * access, Art. 20 portability) as JSON, NDJSON, CSV or XML, written as the
 * client reads it in constant memory (pull.c): the Art. 15(1) answers
 * first, then the consultations of the subject's data, then the subject's
 * events (live ones by keyset pages, then archived ones, archive by
 * archive), in NDJSON each with its inclusion receipt. Every statement runs
 * as the tenant. The export is itself an audit event of the organization,
 * written before the first byte (docs/gdpr.md).
 */
#include "gdpr_export.h"
#include "http.h"
#include "export_format.h"
#include "pull.h"
#include "../compliance/dsr.h"
#include "../compliance/subject_key.h"
#include "../core/adb_internal.h"
#include "../core/util.h"
#include "../event/event.h"
#include "../lifecycle/archive.h"
#include "../log/receipt.h"

#include <inttypes.h>
#include <stdio.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#define GX_BATCH 1000         /* events or consultations of one piece (about 1 MB of JSON) */
#define GX_SUBJECT_MAX 255    /* bytes of a data subject id (the event field's limit) */
#define GX_LIST_MAX 1000      /* distinct values one Art. 15 answer lists */

typedef enum gx_phase { GX_HEAD, GX_CONSULT_ARCHIVES, GX_CONSULT, GX_LIVE, GX_ARCHIVES, GX_END, GX_DONE } gx_phase;

typedef struct gx_src {
    adb *db;
    char org[256], subject[GX_SUBJECT_MAX + 1], id[64], consulters[8];
    char dsr[ADB_DSR_ID_LEN + 1], handler[64]; /* the data-subject request, its handler */
    char upto[ADB_TS_TEXT_MAX], from[ADB_TS_TEXT_MAX]; /* from: "" none */
    char *categories;     /* a PostgreSQL text[] literal of the classifications kept; NULL: all */
    adb_http_fmt fmt;
    bool personal;        /* includePersonalData: the events themselves */
    json_t *head;         /* the Art. 15 answers and the export's own members */
    gx_phase phase;
    bool have_last;
    char last_ts[ADB_TS_TEXT_MAX], last_id[24];
    long long consultations, archived;
    PGresult *archives;   /* the organization's archive ids */
    int next_archive;
    adb__archive_reader *ar;
    json_t *purposes;     /* the organization's action -> [purpose, legal basis], for archived consultations */
    size_t bytes;         /* written so far (JSON: dataSize) */
} gx_src;

/* An export that did not reach its end (the client went away, a write or
 * the database failed): its request stays open, in progress, and says so,
 * so that whoever handles it knows the subject has not received the export. */
static void gx_interrupted(gx_src *s)
{
    char outcome[320], err[256];
    adb__fmt(outcome, sizeof(outcome), "{\"exportId\":\"%s\",\"interrupted\":true,"
             "\"reason\":\"the export ended before the whole document was sent; the subject "
             "has not received it\"}", s->id);
    if (adb__dsr_set_status(s->db, s->org, s->dsr, "in_progress", outcome, s->handler, err,
                            sizeof(err)) != ADB_OK) {
        /* the database failing too: the request stays as it was, received and open */
    }
}

static void gx_free(void *ctx)
{
    gx_src *s = ctx;
    if (!s)
        return;
    if (s->dsr[0] && s->phase != GX_DONE)
        gx_interrupted(s);
    json_decref(s->head);
    json_decref(s->fmt.fields);
    PQclear(s->archives);
    adb__archive_close(s->ar);
    json_decref(s->purposes);
    free(s->categories);
    free(s);
}

/* ---- the subject's rows --------------------------------------------------- */

/* The condition on audit_log naming the subject's events, with $1 the
 * organization, $2 the subject, $3 the upper time, $4 the lower ('' none),
 * $5 the classifications (NULL: all). */
#define GX_WHERE(who)                                                                            \
    " WHERE organization_id = $1 AND " who " = $2 AND \"timestamp\" <= $3::timestamptz"         \
    " AND ($4 = '' OR \"timestamp\" >= nullif($4, '')::timestamptz)"                            \
    " AND ($5::text[] IS NULL OR data_classification = ANY ($5::text[]))"

/* Both branches (the subject acting; the subject's records acted on by
 * another), each walking its own index in time order. */
#define GX_SUBJECT_ROWS(cols, keyset)                                                            \
    "(SELECT " cols " FROM audit_log" GX_WHERE("principal_id") keyset                           \
    " ORDER BY \"timestamp\", id LIMIT $8::int)"                                                \
    " UNION ALL (SELECT " cols " FROM audit_log" GX_WHERE("target_resource_id")                 \
    " AND principal_id IS DISTINCT FROM $2" keyset " ORDER BY \"timestamp\", id LIMIT $8::int)"
#define GX_KEYSET                                                                                \
    " AND ($6 = '' OR (\"timestamp\" >= nullif($6, '')::timestamptz AND (\"timestamp\", id) >"  \
    " (nullif($6, '')::timestamptz, nullif($7, '')::bigint)))"

/* $9: extra (NULL: not used by sql). */
static PGresult *gx_exec9(PGconn *c, const gx_src *s, const char *sql, const char *last_ts,
                          const char *last_id, int limit, const char *extra)
{
    char lim[16];
    adb__fmt(lim, sizeof(lim), "%d", limit);
    const char *p[] = { s->org, s->subject, s->upto, s->from, s->categories, last_ts, last_id, lim, extra };
    PGresult *r = PQexecParams(c, sql, extra ? 9 : 8, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        return NULL;
    }
    return r;
}

static PGresult *gx_exec(PGconn *c, const gx_src *s, const char *sql, const char *last_ts,
                         const char *last_id, int limit)
{
    return gx_exec9(c, s, sql, last_ts, last_id, limit, NULL);
}

/* ---- the Art. 15(1) answers ---------------------------------------------- */

static bool gx_archived_match(const gx_src *s, const char *const *a);

/* The subject's archived events summed by what the answers group them by
 * (action, classification, policy, disclosure recipient, source), as the
 * JSON array the aggregates read with jsonb_to_recordset: distinct
 * combinations only, so its size does not grow with the events. NULL on
 * an archive that cannot be read. Caller frees. */
static char *gx_archived_summary(PGconn *c, const gx_src *s)
{
    json_t *m = json_object();
    char err[256];
    bool ok = true;
    for (int i = 0; ok && i < PQntuples(s->archives); i++) {
        adb__archive_reader *ar = adb__archive_open(c, PQgetvalue(s->archives, i, 0), err, sizeof(err));
        const char *a[ADB__ROW_NCOLS];
        int k;
        if (!ar) {
            ok = false;
            break;
        }
        while ((k = adb__archive_next(ar, a)) == 1) {
            if (!gx_archived_match(s, a))
                continue;
            json_t *d = a[ADB_COL_DETAILS] ? json_loads(a[ADB_COL_DETAILS], 0, NULL) : NULL;
            json_t *rj = json_object_get(json_object_get(d, "disclosure"), "recipient");
            const char *recipient = json_is_object(rj) ? json_string_value(json_object_get(rj, "name"))
                                                       : json_string_value(rj);
            const char *src = a[ADB_COL_PRINCIPAL_ID] && !strcmp(a[ADB_COL_PRINCIPAL_ID], s->subject)
                                  ? "the data subject" : json_string_value(json_object_get(d, "source"));
            if (!src)
                src = "the organization's systems";
            adb__buf key = { 0 };
            adb__buf_printf(&key, "%s\x1f%s\x1f%s\x1f%s\x1f%s", a[ADB_COL_ACTION] ? a[ADB_COL_ACTION] : "",
                            a[ADB_COL_DATA_CLASSIFICATION] ? a[ADB_COL_DATA_CLASSIFICATION] : "",
                            a[ADB_COL_RETENTION_POLICY] ? a[ADB_COL_RETENTION_POLICY] : "",
                            recipient ? recipient : "", src);
            json_t *row = key.oom ? NULL : json_object_get(m, key.p);
            if (!key.oom && !row) {
                row = json_pack("{s:s?, s:s?, s:s?, s:s?, s:s, s:I, s:s?}", "action", a[ADB_COL_ACTION],
                                "data_classification", a[ADB_COL_DATA_CLASSIFICATION],
                                "retention_policy", a[ADB_COL_RETENTION_POLICY], "recipient", recipient,
                                "source", src, "n", (json_int_t)0, "ts", a[ADB_COL_TIMESTAMP]);
                json_object_set_new(m, key.p, row);
            }
            if (row) {
                json_t *n = json_object_get(row, "n");
                json_integer_set(n, json_integer_value(n) + 1);
                json_object_set_new(row, "ts", json_string(a[ADB_COL_TIMESTAMP])); /* chain order: the latest */
            }
            adb__buf_free(&key);
            json_decref(d);
        }
        ok = k == 0;
        adb__archive_close(ar);
    }
    json_t *arr = json_array();
    const char *k;
    json_t *v;
    json_object_foreach(m, k, v)
        json_array_append(arr, v);
    char *text = ok ? json_dumps(arr, JSON_COMPACT) : NULL;
    json_decref(arr);
    json_decref(m);
    return text;
}

/* One aggregate over the subject's live events (both branches), as an array
 * of objects: rows of r, column i named names[i] (NULL values: null;
 * columns named with a leading '#' are numbers). NULL on a database error. */
static json_t *gx_rows(PGconn *c, const gx_src *s, const char *archived, const char *select,
                       const char *group, const char *const *names, int n)
{
    adb__buf q = { 0 };
    /* every row counts: the branches' limit is the largest; archived
     * events come summed ($9, gx_archived_summary) */
    adb__buf_printf(&q, "SELECT %s FROM (SELECT action, data_classification, retention_policy,"
                    /* a name, or {name, address} (docs/hipaa.md, disclosure events) */
                    " CASE jsonb_typeof(details -> 'disclosure' -> 'recipient')"
                    "  WHEN 'object' THEN details -> 'disclosure' -> 'recipient' ->> 'name'"
                    "  WHEN 'string' THEN details -> 'disclosure' ->> 'recipient' END AS recipient,"
                    " CASE WHEN principal_id = $2 THEN 'the data subject'"
                    "  ELSE coalesce(details ->> 'source', 'the organization''s systems') END AS source,"
                    " 1::bigint AS n, \"timestamp\" AS ts"
                    " FROM (" GX_SUBJECT_ROWS("*", GX_KEYSET) ") b"
                    " UNION ALL SELECT action, data_classification, retention_policy, recipient, source, n, ts"
                    " FROM jsonb_to_recordset($9::jsonb) AS x(action text, data_classification text,"
                    "  retention_policy text, recipient text, source text, n bigint, ts timestamptz)"
                    ") e %s LIMIT %d", select, group, GX_LIST_MAX);
    PGresult *r = q.oom ? NULL : gx_exec9(c, s, q.p, "", "", 2147483647, archived);
    adb__buf_free(&q);
    if (!r)
        return NULL;
    json_t *a = json_array();
    for (int i = 0; i < PQntuples(r); i++) {
        json_t *o = json_object();
        for (int k = 0; k < n; k++) {
            const char *name = names[k][0] == '#' ? names[k] + 1 : names[k];
            if (PQgetisnull(r, i, k))
                json_object_set_new(o, name, json_null());
            else if (names[k][0] == '#')
                json_object_set_new(o, name, json_integer(strtoll(PQgetvalue(r, i, k), NULL, 10)));
            else
                json_object_set_new(o, name, json_string(PQgetvalue(r, i, k)));
        }
        json_array_append_new(a, o);
    }
    PQclear(r);
    return a;
}

/* The head: the export's members and the Art. 15(1)(a)-(h) answers, read
 * as the tenant in one transaction. false when the database failed. */
static bool gx_head(gx_src *s, const char *request_type, const char *subject_type,
                    const char *format, const char *now)
{
    adb_status st;
    char err[256];
    PGconn *c = adb_tenant_begin(s->db, s->org, &st, err, sizeof(err));
    if (!c)
        return false;
    /* the archives that may hold the subject's events: those the subject
     * index names and the unindexed ones (docs/archive.md, "Subject index") */
    PGresult *ar = adb__archive_ids_for_subject(c, adb__db_keys(s->db), s->org, s->subject);
    if (!ar) {
        adb_tenant_end(s->db, c, false);
        return false;
    }
    s->archives = ar;
    char *archived = gx_archived_summary(c, s);
    if (!archived) {
        adb_tenant_end(s->db, c, false);
        return false;
    }
    static const char *const pn[] = { "action", "purpose", "legalBasis", "#events" };
    static const char *const cn[] = { "category", "#events" };
    static const char *const rn[] = { "recipient", "#disclosures", "lastDisclosure" };
    static const char *const sn[] = { "retentionPolicy", "category", "policy", "#retentionDays",
                                      "#archiveAfterDays", "#events" };
    static const char *const on[] = { "source", "#events" };
    json_t *purposes = gx_rows(c, s, archived,
        "e.action, p.purpose, p.legal_basis, sum(e.n)",
        "LEFT JOIN gdpr_action_purpose p ON p.organization_id = $1 AND p.action = e.action"
        " GROUP BY e.action, p.purpose, p.legal_basis ORDER BY e.action", pn, 4);
    json_t *cats = gx_rows(c, s, archived, "coalesce(e.data_classification, 'INTERNAL'), sum(e.n)",
                           "GROUP BY 1 ORDER BY 1", cn, 2);
    json_t *recips = gx_rows(c, s, archived,
        "e.recipient, sum(e.n),"
        " to_char(max(e.ts) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')",
        "WHERE e.recipient IS NOT NULL GROUP BY 1 ORDER BY 1", rn, 3);
    /* deliveries that carried the subject's data (the deliver call named the
     * subject in payload.metadata: its blind index kept in delivery_logs,
     * docs/delivery.md "Data subjects"): the destination is the recipient */
    char six[2 * ADB_SUBJECT_INDEX_LEN + 1];
    if (recips && adb__subject_index_hex(adb__db_keys(s->db), s->org, s->subject, six)) {
        const char *dp[] = { s->org, six };
        PGresult *dr = PQexecParams(c,
            "SELECT d.label || ' (' || d.type || ' destination)', count(*),"
            " to_char(max(l.delivered_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
            " FROM delivery_logs l JOIN delivery_destinations d ON d.id = l.destination_id"
            " WHERE l.organization_id = $1 AND l.status = 'delivered'"
            " AND l.details -> 'dataSubjects' ? $2 GROUP BY 1 ORDER BY 1",
            2, NULL, dp, NULL, NULL, 0);
        if (PQresultStatus(dr) == PGRES_TUPLES_OK) {
            for (int i = 0; i < PQntuples(dr); i++)
                json_array_append_new(recips, json_pack("{s:s, s:I, s:s, s:s}",
                    "recipient", PQgetvalue(dr, i, 0),
                    "disclosures", (json_int_t)strtoll(PQgetvalue(dr, i, 1), NULL, 10),
                    "lastDisclosure", PQgetvalue(dr, i, 2), "via", "delivery"));
        } else {
            json_decref(recips);
            recips = NULL;
        }
        PQclear(dr);
    }
    json_t *storage = gx_rows(c, s, archived,
        "e.retention_policy, e.data_classification, r.policy_name, r.retention_days,"
        " r.archive_after_days, sum(e.n)",
        "LEFT JOIN LATERAL auditdb_retention_policy_for(e.retention_policy, e.data_classification) r"
        " ON true GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2", sn, 6);
    json_t *sources = gx_rows(c, s, archived, "e.source, sum(e.n)",
        "GROUP BY 1 ORDER BY 1", on, 2);
    free(archived);
    const char *pp[] = { s->org };
    PGresult *pol = PQexecParams(c, "SELECT consulters FROM gdpr_export_policy WHERE organization_id = $1",
                                 1, NULL, pp, NULL, NULL, 0);
    bool ok = purposes && cats && recips && storage && sources && PQresultStatus(pol) == PGRES_TUPLES_OK;
    adb__fmt(s->consulters, sizeof(s->consulters), "%s",
             ok && PQntuples(pol) == 1 ? PQgetvalue(pol, 0, 0) : "roles");
    PQclear(pol);
    adb_tenant_end(s->db, c, ok);
    if (!ok) {
        json_decref(purposes);
        json_decref(cats);
        json_decref(recips);
        json_decref(storage);
        json_decref(sources);
        return false;
    }
    /* actions without a declared purpose say so rather than guess */
    size_t i;
    json_t *v;
    json_array_foreach(purposes, i, v)
        if (json_is_null(json_object_get(v, "purpose")))
            json_object_set_new(v, "purpose", json_string("not declared by the organization"));
    json_t *categories = json_array();
    json_array_foreach(cats, i, v)
        json_array_append(categories, json_object_get(v, "category"));
    s->head = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
                        "recordType", "header", "exportId", s->id, "dataSubjectId", s->subject,
                        "dataSubjectType", subject_type, "organizationId", s->org,
                        "requestType", request_type, "format", format, "exportTimestamp", now);
    json_t *art15 = json_pack(
        "{s:o, s:o, s:o, s:{s:o, s:s}, s:{s:o, s:s}, s:o, s:{s:b, s:s}, s:{s:s, s:s}}",
        "purposes", purposes, "categories", cats, "recipients", recips,
        "storagePeriod", "policies", storage, "note",
        "events are kept for the retention period of their policy (retentionDays), then deleted;"
        " a policy's archiveAfterDays moves them to archives first",
        "source", "sources", sources, "note",
        "events whose principal is the data subject were collected from them; the others were "
        "recorded by the organization's systems",
        "rights", json_pack("[s, s, s, s]", "rectification (Art. 16)", "erasure (Art. 17)",
                            "restriction of processing (Art. 18)", "objection (Art. 21)"),
        "automatedDecisionMaking", "recorded", 0, "note",
        "no automated decision-making, including profiling, is recorded for these events",
        "complaint", "right", "to lodge a complaint with a supervisory authority (Art. 77)",
        "note", "the supervisory authority of the data subject's habitual residence, place of "
        "work or place of the alleged infringement");
    json_object_set_new(art15, "transfers", json_string(
        "recipients in third countries, if any, are named among the recipients above"));
    json_object_set_new(s->head, "article15", art15);
    json_object_set_new(s->head, "consultationsShown", json_string(s->consulters));
    json_object_set_new(s->head, "metadata",
                        json_pack("{s:b, s:o, s:[s]}", "encryption", 0, "categories", categories,
                                  "sources", "audit_log"));
    return s->head != NULL;
}

/* ---- writing ------------------------------------------------------------- */

/* A JSON value as XML elements (members by name, array items as <item>). */
static void gx_xml(adb__buf *out, const char *name, json_t *v)
{
    adb__buf_printf(out, "<%s>", name);
    if (json_is_object(v)) {
        const char *k;
        json_t *m;
        json_object_foreach(v, k, m)
            if (strcmp(k, "recordType"))
                gx_xml(out, k, m);
    } else if (json_is_array(v)) {
        size_t i;
        json_t *m;
        json_array_foreach(v, i, m)
            gx_xml(out, "item", m);
    } else if (!json_is_null(v)) {
        char *t = json_is_string(v) ? NULL : json_dumps(v, JSON_ENCODE_ANY);
        const char *text = t ? t : json_string_value(v);
        adb_http_xml_text(out, text, strlen(text));
        free(t);
    }
    adb__buf_printf(out, "</%s>", name);
}

/* One CSV line of the sections before the events: section, key, value
 * (JSON text when not a string), the event columns left empty. */
static void gx_csv(adb__buf *out, const char *section, const char *key, json_t *v)
{
    adb_http_csv_cell(out, section, strlen(section));
    adb__buf_puts(out, ",");
    adb_http_csv_cell(out, key, strlen(key));
    adb__buf_puts(out, ",");
    char *t = json_is_string(v) ? NULL : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    const char *text = t ? t : json_string_value(v);
    if (text)
        adb_http_csv_cell(out, text, strlen(text));
    free(t);
    adb__buf_puts(out, "\r\n");
}

static void gx_put_json(adb__buf *out, json_t *v)
{
    char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!t) {
        out->oom = true;
        return;
    }
    adb__buf_puts(out, t);
    free(t);
}

static void gx_write_head(gx_src *s, adb__buf *out)
{
    const char *k;
    json_t *v;

    switch (s->fmt.kind) {
    case ADB_FMT_NDJSON:
        gx_put_json(out, s->head);
        adb__buf_puts(out, "\n");
        break;
    case ADB_FMT_JSON: /* the object left open: consultations and events follow */
        adb__buf_puts(out, "{");
        json_object_foreach(s->head, k, v) {
            if (!strcmp(k, "recordType"))
                continue;
            adb__buf_json_string(out, k, strlen(k));
            adb__buf_puts(out, ":");
            gx_put_json(out, v);
            adb__buf_puts(out, ",");
        }
        adb__buf_puts(out, "\"status\":\"completed\",\"consultations\":[");
        break;
    case ADB_FMT_CSV:
        adb__buf_puts(out, "section,key,value,");
        adb_http_fmt_csv_header(&s->fmt, out);
        adb__buf_puts(out, "\r\n");
        json_object_foreach(s->head, k, v) {
            if (!strcmp(k, "recordType"))
                continue;
            if (!strcmp(k, "article15")) {
                const char *k2;
                json_t *v2;
                json_object_foreach(v, k2, v2)
                    gx_csv(out, "article15", k2, v2);
            } else {
                gx_csv(out, "export", k, v);
            }
        }
        break;
    case ADB_FMT_XML:
        adb__buf_puts(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<gdprExport exportId=\"");
        adb_http_xml_text(out, s->id, strlen(s->id));
        adb__buf_puts(out, "\">\n");
        json_object_foreach(s->head, k, v)
            if (strcmp(k, "recordType") && strcmp(k, "exportId")) {
                adb__buf_puts(out, "  ");
                gx_xml(out, k, v);
                adb__buf_puts(out, "\n");
            }
        adb__buf_puts(out, "  <consultations>\n");
        break;
    }
}

/* A consultation's values, in this order (NULL for NULL). */
enum { K_ID, K_TS, K_ACTION, K_PRINCIPAL, K_ROLE, K_PURPOSE, K_BASIS, K_STATUS, K_TTYPE, K_N };

/* A consultation: who is shown by the organization's policy (docs/gdpr.md). */
static void gx_write_consultation(gx_src *s, const char *const v[K_N], adb__buf *out)
{
    const char *who = NULL;
    if (!strcmp(s->consulters, "names"))
        who = v[K_PRINCIPAL] ? v[K_PRINCIPAL] : "";
    else if (!strcmp(s->consulters, "roles"))
        who = v[K_ROLE] ? v[K_ROLE] : "not recorded";
    json_t *o = json_pack("{s:s, s:s?, s:s, s:s?, s:s*, s:s?, s:s?}", "recordType", "consultation",
                          "eventId", v[K_ID], "date", v[K_TS], "action", v[K_ACTION], "purpose",
                          v[K_PURPOSE], "legalBasis", v[K_BASIS], "resourceType", v[K_TTYPE]);
    if (!o) {
        out->oom = true;
        return;
    }
    if (!json_object_get(o, "purpose"))
        json_object_set_new(o, "purpose", json_string("not recorded"));
    json_object_set_new(o, "consultedBy", who ? json_string(who) : json_null());
    json_object_set_new(o, "status", json_string(v[K_STATUS] ? v[K_STATUS] : ""));
    switch (s->fmt.kind) {
    case ADB_FMT_NDJSON:
        gx_put_json(out, o);
        adb__buf_puts(out, "\n");
        break;
    case ADB_FMT_JSON:
        json_object_del(o, "recordType");
        if (s->consultations > 0)
            adb__buf_puts(out, ",");
        gx_put_json(out, o);
        break;
    case ADB_FMT_CSV:
        json_object_del(o, "recordType");
        gx_csv(out, "consultation", v[K_TS], o);
        break;
    case ADB_FMT_XML:
        json_object_del(o, "recordType");
        adb__buf_puts(out, "    ");
        gx_xml(out, "consultation", o);
        adb__buf_puts(out, "\n");
        break;
    }
    s->consultations++;
    json_decref(o);
}

/* The consultations: events whose target is the subject, by another
 * principal, with the purpose the map (else the event's details.purpose)
 * gives. One page; 1 more may follow, 0 the last, -1 failed. */
static int gx_consult_page(gx_src *s, adb__buf *out)
{
    adb_status st;
    char err[256];
    PGconn *c = adb_tenant_begin(s->db, s->org, &st, err, sizeof(err));
    if (!c)
        return -1;
    PGresult *r = gx_exec(c, s,
        "SELECT e.event_id::text,"
        " to_char(e.\"timestamp\" AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"
        " e.action, e.principal_id, e.details ->> 'principalRole',"
        " coalesce(e.details ->> 'purpose', e.details -> 'disclosure' ->> 'purpose', p.purpose),"
        " p.legal_basis, e.status,"
        " e.target_resource_type, e.\"timestamp\", e.id"
        " FROM audit_log e LEFT JOIN gdpr_action_purpose p"
        "   ON p.organization_id = $1 AND p.action = e.action"
        " WHERE e.organization_id = $1 AND e.target_resource_id = $2"
        "   AND e.principal_id IS DISTINCT FROM $2 AND e.\"timestamp\" <= $3::timestamptz"
        "   AND ($4 = '' OR e.\"timestamp\" >= nullif($4, '')::timestamptz)"
        "   AND ($5::text[] IS NULL OR e.data_classification = ANY ($5::text[]))"
        "   AND ($6 = '' OR (e.\"timestamp\" >= nullif($6, '')::timestamptz AND (e.\"timestamp\", e.id) >"
        "        (nullif($6, '')::timestamptz, nullif($7, '')::bigint)))"
        " ORDER BY e.\"timestamp\", e.id LIMIT $8::int",
        s->have_last ? s->last_ts : "", s->have_last ? s->last_id : "", GX_BATCH);
    adb_tenant_end(s->db, c, r != NULL);
    if (!r)
        return -1;
    int rows = PQntuples(r);
    for (int i = 0; i < rows; i++) {
        const char *v[K_N];
        for (int k = 0; k < K_N; k++)
            v[k] = PQgetisnull(r, i, k) ? NULL : PQgetvalue(r, i, k);
        gx_write_consultation(s, v, out);
    }
    if (rows > 0) {
        s->have_last = true;
        adb__fmt(s->last_ts, sizeof(s->last_ts), "%s", PQgetvalue(r, rows - 1, 9));
        adb__fmt(s->last_id, sizeof(s->last_id), "%s", PQgetvalue(r, rows - 1, 10));
    }
    PQclear(r);
    return rows == GX_BATCH ? 1 : 0;
}

/* What jsonb's ->> gives for v: a string's value, NULL for null or missing,
 * else the JSON text. malloc()ed. */
static char *gx_text(const json_t *v)
{
    if (!v || json_is_null(v))
        return NULL;
    if (json_is_string(v))
        return strdup(json_string_value(v));
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

/* The next row of the subject's archives (s->archives), archive after
 * archive, the reader kept open in s between calls: 1 a row in a, 0 all
 * read, -1 an archive could not be read. */
static int gx_archive_row(gx_src *s, PGconn *c, const char *a[ADB__ROW_NCOLS])
{
    char err[256];
    for (;;) {
        if (!s->ar) {
            if (s->next_archive >= PQntuples(s->archives))
                return 0;
            s->ar = adb__archive_open(c, PQgetvalue(s->archives, s->next_archive++, 0), err,
                                      sizeof(err));
            if (!s->ar)
                return -1;
        }
        int k = adb__archive_next(s->ar, a);
        if (k > 0)
            return 1;
        adb__archive_close(s->ar);
        s->ar = NULL;
        if (k < 0)
            return -1;
    }
}

/* The archived consultations, archive by archive, as gx_consult_page gives
 * the live ones (the same members, the same purpose map); the reader stays
 * open between pieces and is left closed and rewound for the events. */
static int gx_consult_archive_page(gx_src *s, adb__buf *out)
{
    adb_status st;
    char err[256];
    int written = 0, rc = 1;
    PGconn *c = adb_tenant_begin(s->db, s->org, &st, err, sizeof(err));
    if (!c)
        return -1;
    if (!s->purposes) {
        const char *pp[] = { s->org };
        PGresult *r = PQexecParams(c, "SELECT action, purpose, legal_basis FROM gdpr_action_purpose"
                                      " WHERE organization_id = $1", 1, NULL, pp, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK || !(s->purposes = json_object())) {
            PQclear(r);
            adb_tenant_end(s->db, c, false);
            return -1;
        }
        for (int i = 0; i < PQntuples(r); i++)
            json_object_set_new(s->purposes, PQgetvalue(r, i, 0),
                                json_pack("[s?, s?]", PQgetisnull(r, i, 1) ? NULL : PQgetvalue(r, i, 1),
                                          PQgetisnull(r, i, 2) ? NULL : PQgetvalue(r, i, 2)));
        PQclear(r);
    }
    while (written < GX_BATCH) {
        const char *a[ADB__ROW_NCOLS];
        int k = gx_archive_row(s, c, a);
        if (k <= 0) {
            if (k == 0)
                s->next_archive = 0; /* the archives again, for the events */
            rc = k;
            break;
        }
        const char *t = a[ADB_COL_TARGET_RESOURCE_ID], *p = a[ADB_COL_PRINCIPAL_ID];
        int64_t us;
        if (!t || strcmp(t, s->subject) || (p && !strcmp(p, s->subject)) || !gx_archived_match(s, a) ||
            !adb__timestamp_parse(a[ADB_COL_TIMESTAMP], strlen(a[ADB_COL_TIMESTAMP]), &us))
            continue;
        char date[ADB_TS_TEXT_MAX];
        adb__timestamp_format(us, date);
        json_t *d = a[ADB_COL_DETAILS] ? json_loads(a[ADB_COL_DETAILS], JSON_DECODE_ANY, NULL) : NULL;
        json_t *map = a[ADB_COL_ACTION] ? json_object_get(s->purposes, a[ADB_COL_ACTION]) : NULL;
        char *role = gx_text(json_object_get(d, "principalRole"));
        char *purpose = gx_text(json_object_get(d, "purpose"));
        if (!purpose)
            purpose = gx_text(json_object_get(json_object_get(d, "disclosure"), "purpose"));
        const char *v[K_N] = {
            a[ADB_COL_EVENT_ID], date, a[ADB_COL_ACTION], p, role,
            purpose ? purpose : json_string_value(json_array_get(map, 0)),
            json_string_value(json_array_get(map, 1)), a[ADB_COL_STATUS], a[ADB_COL_TARGET_RESOURCE_TYPE],
        };
        gx_write_consultation(s, v, out);
        free(role);
        free(purpose);
        json_decref(d);
        written++;
    }
    adb_tenant_end(s->db, c, rc >= 0);
    return rc;
}

static bool uuid_bytes(const char *u, uint8_t out[16])
{
    size_t o = 0;
    for (size_t i = 0; u && u[i] && o < 32; i++) {
        if (u[i] == '-')
            continue;
        int v = adb__hexval(u[i]);
        if (v < 0)
            return false;
        out[o / 2] = (uint8_t)(o % 2 ? out[o / 2] | v : v << 4);
        o++;
    }
    return o == 32;
}

/* The organization's newest checkpoints, read once per piece, from which
 * each event's receipt takes its checkpoint as GET .../proof does
 * (src/http/proofs.c, docs/proofs.md): of the newest GX_CHECKPOINTS covering
 * it, the most cosigned (the newest of those). The checkpoints covering an
 * event are a prefix of the newest ones (sizes only grow), so one list
 * serves every event of the piece. */
#define GX_CHECKPOINTS 16     /* as CHECKPOINT_CANDIDATES in proofs.c */
typedef struct gx_cps {
    PGresult *r;          /* note, tree_size, cosignatures, newest first; NULL: none read */
    int n;
    uint64_t size[GX_CHECKPOINTS];
    int cosigs[GX_CHECKPOINTS];
    bool witnessed;       /* the organization has a cosigned checkpoint at all */
} gx_cps;

static void gx_checkpoints(PGconn *c, const char *org, gx_cps *cps)
{
    char lim[8];
    adb__fmt(lim, sizeof(lim), "%d", GX_CHECKPOINTS);
    const char *p[] = { org, lim };
    memset(cps, 0, sizeof(*cps));
    PGresult *r = PQexecParams(c, "SELECT note, tree_size, cosignatures,"
                                  " EXISTS (SELECT 1 FROM log_checkpoint WHERE organization_id = $1"
                                  "         AND cosignatures > 0)"
                                  " FROM log_checkpoint WHERE organization_id = $1"
                                  " ORDER BY tree_size DESC LIMIT $2::int", 2, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        return; /* no receipts in this piece: each event says not yet */
    }
    cps->r = r;
    cps->n = PQntuples(r) < GX_CHECKPOINTS ? PQntuples(r) : GX_CHECKPOINTS;
    for (int i = 0; i < cps->n; i++) {
        cps->size[i] = (uint64_t)strtoull(PQgetvalue(r, i, 1), NULL, 10);
        cps->cosigs[i] = (int)strtol(PQgetvalue(r, i, 2), NULL, 10);
    }
    cps->witnessed = cps->n > 0 && PQgetvalue(r, 0, 3)[0] == 't';
}

/* The checkpoint (row of cps->r) to prove leaf index under; -1 none covers
 * it yet, -2 none of those covering it is cosigned while the organization's
 * checkpoints are witnessed (the proof route's 409). */
static int gx_pick(const gx_cps *cps, uint64_t index)
{
    int best = -1;
    for (int i = 0; i < cps->n; i++)
        if (cps->size[i] > index && (best < 0 || cps->cosigs[i] > cps->cosigs[best]))
            best = i;
    if (best >= 0 && cps->witnessed && cps->cosigs[best] == 0)
        return -2;
    return best;
}

/* One event line of NDJSON: {"recordType":"event","event":{...},"receipt":...}
 * with the event's tlog-proof receipt under the checkpoint gx_pick chooses
 * of cps (cps NULL: none). */
static void gx_ndjson_event(gx_src *s, PGconn *c, const char *const *v, const gx_cps *cps,
                            adb__buf *out)
{
    adb__buf_puts(out, "{\"recordType\":\"event\",\"event\":");
    s->fmt.kind = ADB_FMT_JSON;
    long long n = s->fmt.count;
    s->fmt.count = 0; /* no separating comma */
    adb_http_fmt_values(&s->fmt, v, out);
    s->fmt.count = n + 1;
    s->fmt.kind = ADB_FMT_NDJSON;
    const char *seq = v[17], *uuid = v[ADB_EXPORT_NCOLS - 1];
    long long sq = seq ? strtoll(seq, NULL, 10) : 0;
    uint8_t id16[16];
    char *receipt = NULL, err[256];
    size_t rlen = 0;
    int k = c && cps && cps->r && sq >= 1 ? gx_pick(cps, (uint64_t)(sq - 1)) : -1;
    if (k >= 0 && uuid_bytes(uuid, id16) &&
        adb__receipt_build(c, s->org, (uint64_t)(sq - 1), id16, PQgetvalue(cps->r, k, 0),
                           (size_t)PQgetlength(cps->r, k, 0), &receipt, &rlen, err,
                           sizeof(err)) == ADB_OK) {
        adb__buf_puts(out, ",\"receipt\":");
        adb__buf_json_string(out, receipt, rlen);
    } else if (k == -2) {
        adb__buf_puts(out, ",\"receipt\":null,\"receiptStatus\":\"not yet in a cosigned checkpoint\"");
    } else {
        adb__buf_puts(out, ",\"receipt\":null,\"receiptStatus\":\"not yet in a signed checkpoint\"");
    }
    free(receipt);
    adb__buf_puts(out, "}\n");
}

static void gx_event(gx_src *s, PGconn *c, const char *const *v, const gx_cps *cps, adb__buf *out)
{
    if (s->fmt.kind == ADB_FMT_NDJSON) {
        gx_ndjson_event(s, c, v, cps, out);
        return;
    }
    if (s->fmt.kind == ADB_FMT_CSV)
        adb__buf_puts(out, "event,,,");
    adb_http_fmt_values(&s->fmt, v, out);
}

/* One keyset page of the subject's live events. */
static int gx_live_page(gx_src *s, adb__buf *out)
{
    adb_status st;
    char err[256];
    PGconn *c = adb_tenant_begin(s->db, s->org, &st, err, sizeof(err));
    if (!c)
        return -1;
    PGresult *r = gx_exec(c, s,
        "SELECT * FROM (" GX_SUBJECT_ROWS(ADB_EXPORT_COLUMNS, GX_KEYSET) ") e"
        " ORDER BY 2, 1 LIMIT $8::int",
        s->have_last ? s->last_ts : "", s->have_last ? s->last_id : "", GX_BATCH);
    if (!r) {
        adb_tenant_end(s->db, c, false);
        return -1;
    }
    gx_cps cps = { 0 };
    if (s->fmt.kind == ADB_FMT_NDJSON)
        gx_checkpoints(c, s->org, &cps);
    int rows = PQntuples(r);
    for (int i = 0; i < rows; i++) {
        const char *v[ADB_EXPORT_NCOLS];
        for (int k = 0; k < ADB_EXPORT_NCOLS; k++)
            v[k] = PQgetisnull(r, i, k) ? NULL : PQgetvalue(r, i, k);
        gx_event(s, c, v, &cps, out);
    }
    PQclear(cps.r);
    adb_tenant_end(s->db, c, true);
    if (rows > 0) {
        s->have_last = true;
        adb__fmt(s->last_ts, sizeof(s->last_ts), "%s", PQgetvalue(r, rows - 1, ADB_EXPORT_COL_TS));
        adb__fmt(s->last_id, sizeof(s->last_id), "%s", PQgetvalue(r, rows - 1, ADB_EXPORT_COL_ID));
    }
    PQclear(r);
    return rows == GX_BATCH ? 1 : 0;
}

/* Whether an archived row (archive.h's columns) is the subject's, in the window. */
static bool gx_archived_match(const gx_src *s, const char *const *a)
{
    const char *p = a[ADB_COL_PRINCIPAL_ID], *t = a[ADB_COL_TARGET_RESOURCE_ID];
    const char *ts = a[ADB_COL_TIMESTAMP], *cl = a[ADB_COL_DATA_CLASSIFICATION];
    int64_t us, lim;
    if (!(p && !strcmp(p, s->subject)) && !(t && !strcmp(t, s->subject)))
        return false;
    if (!ts || !adb__timestamp_parse(ts, strlen(ts), &us))
        return false;
    if (adb__timestamp_parse(s->upto, strlen(s->upto), &lim) && us > lim)
        return false;
    if (s->from[0] && adb__timestamp_parse(s->from, strlen(s->from), &lim) && us < lim)
        return false;
    if (s->categories) { /* {A,B}: a name between braces or commas */
        size_t n = cl ? strlen(cl) : 0;
        const char *f = cl ? strstr(s->categories, cl) : NULL;
        for (; f; f = strstr(f + 1, cl))
            if ((f[-1] == '{' || f[-1] == ',') && (f[n] == '}' || f[n] == ','))
                return true;
        return false;
    }
    return true;
}

/* Up to GX_BATCH of the subject's archived events, archive by archive;
 * the reader stays open between pieces. Receipts as for live events. */
static int gx_archive_page(gx_src *s, adb__buf *out)
{
    adb_status st;
    char err[256];
    int written = 0;
    PGconn *c = adb_tenant_begin(s->db, s->org, &st, err, sizeof(err));
    if (!c)
        return -1;
    gx_cps cps = { 0 };
    if (s->fmt.kind == ADB_FMT_NDJSON)
        gx_checkpoints(c, s->org, &cps);
    int rc = 1;
    while (written < GX_BATCH) {
        const char *a[ADB__ROW_NCOLS];
        int k = gx_archive_row(s, c, a);
        if (k <= 0) {
            rc = k;
            break;
        }
        if (!gx_archived_match(s, a))
            continue;
        json_t *d = a[ADB_COL_DETAILS] ? json_loads(a[ADB_COL_DETAILS], 0, NULL) : NULL;
        json_t *sc = json_object_get(d, "sessionContext");
        char *sct = sc ? json_dumps(sc, JSON_COMPACT) : NULL;
        const char *v[ADB_EXPORT_NCOLS] = {
            a[ADB_COL_ID], a[ADB_COL_TIMESTAMP], a[ADB_COL_ACTION], a[ADB_COL_STATUS],
            a[ADB_COL_PRINCIPAL_ID], a[ADB_COL_ORGANIZATION_ID], a[ADB_COL_TARGET_RESOURCE_TYPE],
            a[ADB_COL_TARGET_RESOURCE_ID], a[ADB_COL_OUTCOME_DESCRIPTION], a[ADB_COL_CORRELATION_ID],
            a[ADB_COL_DATA_CLASSIFICATION], a[ADB_COL_RETENTION_POLICY], a[ADB_COL_EVENT_VERSION],
            a[ADB_COL_HASH_ALGORITHM], a[ADB_COL_HASH], a[ADB_COL_SIGNATURE], a[ADB_COL_DETAILS],
            a[ADB_COL_CHAIN_SEQ], a[ADB_COL_PREV_CHAIN_HASH], a[ADB_COL_CHAIN_HASH], a[ADB_COL_TTL],
            NULL, sct, a[ADB_COL_EVENT_ID],
        };
        gx_event(s, c, v, &cps, out);
        free(sct);
        json_decref(d);
        s->archived++;
        written++;
    }
    PQclear(cps.r);
    adb_tenant_end(s->db, c, rc >= 0);
    return rc;
}

/* before: out's length when this piece began (s->bytes counts the pieces before it). */
static void gx_write_end(gx_src *s, adb__buf *out, size_t before)
{
    long long events = s->fmt.count;
    switch (s->fmt.kind) {
    case ADB_FMT_NDJSON:
        adb__buf_printf(out, "{\"recordType\":\"trailer\",\"exportId\":\"%s\",\"recordCount\":%lld,"
                             "\"consultationCount\":%lld,\"archivedCount\":%lld}\n",
                        s->id, events, s->consultations, s->archived);
        break;
    case ADB_FMT_JSON:
        if (s->personal)
            adb_http_fmt_end(&s->fmt, out); /* "]" */
        else
            adb__buf_puts(out, "\"events\":[]");
        adb__buf_printf(out, ",\"recordCount\":%lld,\"consultationCount\":%lld,\"archivedCount\":%lld,"
                             "\"dataSize\":", events, s->consultations, s->archived);
        {   /* the document's whole size, these digits and the end included */
            size_t size = s->bytes + (out->len - before) + 2, digits = 1;
            for (;;) {
                char d[24];
                size_t n = (size_t)snprintf(d, sizeof(d), "%zu", size + digits);
                if (n == digits)
                    break;
                digits = n;
            }
            adb__buf_printf(out, "%zu}\n", size + digits);
        }
        break;
    case ADB_FMT_CSV: {
        char n[24];
        adb__fmt(n, sizeof(n), "%lld", events);
        json_t *j = json_string(n);
        gx_csv(out, "export", "recordCount", j);
        json_decref(j);
        break;
    }
    case ADB_FMT_XML:
        if (s->personal)
            adb_http_fmt_end(&s->fmt, out);
        else
            adb__buf_puts(out, "<auditEvents>\n</auditEvents>\n");
        adb__buf_printf(out, "  <recordCount>%lld</recordCount>\n</gdprExport>\n", events);
        break;
    }
}

/* The pull source: the phases in order, one piece at a time. */
static int gx_fill(void *ctx, adb__buf *out)
{
    gx_src *s = ctx;
    size_t before = out->len;
    int rc;

    for (;;) {
        switch (s->phase) {
        case GX_HEAD:
            gx_write_head(s, out);
            s->phase = GX_CONSULT_ARCHIVES;
            break;
        case GX_CONSULT_ARCHIVES: /* archived first: the older, mostly */
            rc = gx_consult_archive_page(s, out);
            if (rc < 0)
                return -1;
            if (rc == 0)
                s->phase = GX_CONSULT;
            break;
        case GX_CONSULT:
            rc = gx_consult_page(s, out);
            if (rc < 0)
                return -1;
            if (rc == 0) {
                s->have_last = false;
                if (s->fmt.kind == ADB_FMT_JSON)
                    adb__buf_puts(out, "],");
                else if (s->fmt.kind == ADB_FMT_XML)
                    adb__buf_puts(out, "  </consultations>\n");
                if (s->personal && s->fmt.kind != ADB_FMT_NDJSON)
                    adb_http_fmt_begin(&s->fmt, out); /* embedded: the events' member or element */
                s->phase = s->personal ? GX_LIVE : GX_END;
            }
            break;
        case GX_LIVE:
            rc = gx_live_page(s, out);
            if (rc < 0)
                return -1;
            if (rc == 0)
                s->phase = GX_ARCHIVES;
            break;
        case GX_ARCHIVES:
            rc = gx_archive_page(s, out);
            if (rc < 0)
                return -1;
            if (rc == 0)
                s->phase = GX_END;
            break;
        case GX_END:
            gx_write_end(s, out, before);
            {   /* the request is answered: completed, with what was sent */
                char outcome[256], err[256];
                adb__fmt(outcome, sizeof(outcome), "{\"exportId\":\"%s\",\"recordCount\":%lld,"
                         "\"consultationCount\":%lld,\"archivedCount\":%lld}", s->id, s->fmt.count,
                         s->consultations, s->archived);
                if (adb__dsr_finish(s->db, s->org, s->dsr, "completed", outcome, s->handler, err,
                                    sizeof(err)) != ADB_OK)
                    return -1; /* cut: the client sees the export did not end */
            }
            s->phase = GX_DONE;
            s->bytes += out->len - before;
            return 0;
        case GX_DONE:
            return 0;
        }
        if (out->oom)
            return -1;
        if (out->len - before > 0) {
            s->bytes += out->len - before;
            return 1;
        }
    }
}

/* ---- the request ------------------------------------------------------- */

/* A dateRange bound: an ISO 8601 time into out (the canonical text). */
static bool member_time(adb_http_request *req, json_t *range, const char *name, char *out,
                        int64_t *us, enum MHD_Result *res)
{
    json_t *v = json_object_get(range, name);
    char field[32], msg[128];
    adb__fmt(field, sizeof(field), "dateRange.%s", name);
    if (!v)
        return true;
    const char *t = json_string_value(v);
    if (!t || !adb__timestamp_parse(t, strlen(t), us)) {
        adb__fmt(msg, sizeof(msg), "%s must be an ISO 8601 date-time", field);
        *res = adb_http_send_invalid(req, field, "INVALID_FORMAT", msg);
        return false;
    }
    adb__timestamp_format(*us, out);
    return true;
}

/* The export's own audit event, committed before the first byte. */
static bool gx_record(const gx_src *s, const adb_gdpr_export_args *a, const char *now)
{
    const char *request_type = a->request_type, *format = a->format;
    json_t *e = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s, s:s, s:s}}",
                          "timestamp", now, "action", "gdpr.export", "status", "success",
                          "principalId", a->principal, "organizationId", s->org,
                          "targetResourceType", "DataSubject", "targetResourceId", s->subject,
                          "dataClassification", "CONFIDENTIAL", "outcomeDescription",
                          !strcmp(request_type, "portability")
                              ? "data subject export (GDPR Art. 20 portability)"
                              : "data subject export (GDPR Art. 15 access)",
                          "details", "exportId", s->id, "dataSubjectRequestId", s->dsr,
                          "requestType", request_type, "format", format,
                          "requestId", a->request_id ? a->request_id : "", "principalRole", a->role ? a->role : "",
                          "purpose", "answering a data subject request");
    char *text = e ? json_dumps(e, JSON_COMPACT) : NULL;
    json_decref(e);
    if (!text)
        return false;
    adb_log_options lo = { .organization_id = s->org };
    adb_log_result res;
    adb_status st = adb_log_json(s->db, text, strlen(text), &lo, &res);
    free(text);
    return st == ADB_OK;
}

void *adb_gdpr_export_begin(adb *db, const adb_gdpr_export_args *a, const char **id)
{
    gx_src *s = calloc(1, sizeof(*s));
    int64_t now_us = adb__now_us(), to_us = now_us;
    char now[ADB_TS_TEXT_MAX], stamp[ADB_TS_TEXT_MAX], err[256];
    unsigned char b[16];
    char hex[33];

    if (!s)
        return NULL;
    s->db = db;
    adb__fmt(s->org, sizeof(s->org), "%s", a->org);
    adb__fmt(s->subject, sizeof(s->subject), "%s", a->subject);
    s->personal = a->personal;
    adb__timestamp_format(now_us, now);
    adb__fmt(s->from, sizeof(s->from), "%s", a->from ? a->from : "");
    /* the window ends just before the export's own event (its time is now) */
    if (a->to && adb__timestamp_parse(a->to, strlen(a->to), &to_us) && to_us < now_us)
        adb__timestamp_format(to_us, s->upto);
    else
        adb__timestamp_format(now_us - 1, s->upto);
    if (a->categories && !(s->categories = strdup(a->categories)))
        goto fail;
    if (!adb_http_fmt_parse(a->format, &s->fmt.kind))
        goto fail;
    s->fmt.metadata = a->metadata;
    s->fmt.headers = true;
    s->fmt.embedded = true;
    if (RAND_bytes(b, sizeof(b)) != 1)
        goto fail;
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    adb__hex(b, 16, hex);
    adb__fmt(s->id, sizeof(s->id), "gdpr-%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12,
             hex + 16, hex + 20);
    adb__fmt(stamp, sizeof(stamp), "%s", now);
    if (strlen(stamp) == 27) { /* the client's form: milliseconds (docs/api.md, "Times") */
        stamp[23] = 'Z';
        stamp[24] = '\0';
    }
    if (!gx_head(s, a->request_type, a->subject_type, a->format, stamp))
        goto fail;
    /* a data-subject request record (src/compliance/dsr.c), finished when the export ends */
    adb__fmt(s->handler, sizeof(s->handler), "%s", a->handler);
    if (adb__dsr_open(s->db, s->org, a->request_type, s->subject, s->handler, NULL, s->dsr, err,
                      sizeof(err)) != ADB_OK)
        goto fail;
    json_object_set_new(s->head, "dataSubjectRequestId", json_string(s->dsr));
    /* recorded before anything is answered: no export leaves unrecorded */
    if (!gx_record(s, a, now))
        goto fail;
    *id = s->id;
    return s;
fail:
    gx_free(s);
    return NULL;
}

int adb_gdpr_export_fill(void *ctx, adb__buf *out)
{
    return gx_fill(ctx, out);
}

void adb_gdpr_export_free(void *ctx)
{
    gx_free(ctx);
}

static enum MHD_Result gx_request(adb_http_request *req, const char *default_format)
{
    static const char *const known[] = {
        "organizationId", "dataSubjectId", "principalId", "dataSubjectType", "requestType",
        "format", "includeMetadata", "includePersonalData", "includePseudonymizedData",
        "dateRange", "categories", "encryption", "deliveryMethod", "recipientEmail", NULL };
    enum MHD_Result res = MHD_NO;
    const char *subject = NULL, *subject_type = "user", *request_type = "access";
    const char *format = default_format, *delivery = "download", *org = NULL;
    bool metadata = true, personal = true, pseudo = false;
    json_t *v;
    char msg[200], from[ADB_TS_TEXT_MAX] = "", to[ADB_TS_TEXT_MAX] = "";
    char *categories = NULL;

    json_t *body = adb_http_body_object(req, known, "the body must be a JSON object: "
                                        "{\"dataSubjectId\":\"...\", \"format\":\"json\"|\"csv\"|"
                                        "\"xml\"|\"ndjson\", ...}", &res);
    if (!body)
        return res;
    if (!adb_http_member_str(req, body, "organizationId", NULL, 255, &org, &res))
        goto out;
    if (org && strcmp(org, req->who.organization_id)) {
        adb_http_security_event(req, "cross_tenant_probe", "MEDIUM",
                                "a GDPR export named another organization");
        res = adb_http_send_error(req, MHD_HTTP_FORBIDDEN, "FORBIDDEN",
                                  "organizationId names another organization than the key's",
                                  json_pack("{s:s}", "field", "organizationId"));
        goto out;
    }
    const char *subject_field = json_object_get(body, "dataSubjectId") ? "dataSubjectId" : "principalId";
    if (!adb_http_member_str(req, body, subject_field, NULL, GX_SUBJECT_MAX, &subject, &res))
        goto out;
    if (!subject || !subject[0]) {
        res = adb_http_send_invalid(req, "dataSubjectId", subject ? "EMPTY_VALUE" : "REQUIRED",
                      "dataSubjectId is required: the data subject's id as events name it "
                      "(principalId or targetResourceId)");
        goto out;
    }
    if (!adb_http_member_str(req, body, "dataSubjectType", "user,customer,employee,contact,patient", 0, &subject_type, &res) ||
        !adb_http_member_str(req, body, "requestType", "access,portability", 0, &request_type, &res) ||
        !adb_http_member_str(req, body, "format", "json,ndjson,csv,xml", 0, &format, &res) ||
        !adb_http_member_str(req, body, "deliveryMethod", "download,email,secure_link", 0, &delivery, &res) ||
        !adb_http_member_bool(req, body, "includeMetadata", metadata, &metadata, &res) ||
        !adb_http_member_bool(req, body, "includePersonalData", personal, &personal, &res) ||
        !adb_http_member_bool(req, body, "includePseudonymizedData", pseudo, &pseudo, &res))
        goto out;
    if (strcmp(delivery, "download") || json_object_get(body, "recipientEmail")) {
        res = adb_http_send_invalid(req, strcmp(delivery, "download") ? "deliveryMethod" : "recipientEmail",
                      "UNSUPPORTED_DELIVERY",
                      "this server delivers exports in the answer only (deliveryMethod \"download\")");
        goto out;
    }
    v = json_object_get(body, "encryption");
    if (v && (!json_is_object(v) || !json_is_boolean(json_object_get(v, "enabled")))) {
        res = adb_http_send_invalid(req, "encryption.enabled", "INVALID_TYPE", "encryption must be {\"enabled\": boolean}");
        goto out;
    }
    if (v && json_is_true(json_object_get(v, "enabled"))) {
        res = adb_http_send_invalid(req, "encryption.enabled", "UNSUPPORTED_ENCRYPTION",
                      "encrypted exports are not written by this server: the answer travels over TLS");
        goto out;
    }
    int64_t from_us = 0, to_us = 0;
    v = json_object_get(body, "dateRange");
    if (v && !json_is_object(v)) {
        res = adb_http_send_invalid(req, "dateRange", "INVALID_TYPE", "dateRange must be {\"startDate\": ..., \"endDate\": ...}");
        goto out;
    }
    if (v && (!member_time(req, v, "startDate", from, &from_us, &res) ||
              !member_time(req, v, "endDate", to, &to_us, &res)))
        goto out;
    if (from[0] && to[0] && from_us > to_us) {
        res = adb_http_send_invalid(req, "dateRange.startDate", "INVALID_VALUE", "dateRange.startDate must not be after endDate");
        goto out;
    }
    if ((v = json_object_get(body, "categories"))) {
        static const char *const cls[] = { "PUBLIC", "INTERNAL", "CONFIDENTIAL", "PHI" };
        adb__buf lit = { 0 };
        size_t i;
        json_t *c;
        bool ok = json_is_array(v) && json_array_size(v) > 0 && json_array_size(v) <= 4;
        adb__buf_puts(&lit, "{");
        json_array_foreach(v, i, c) {
            bool known_cls = false;
            for (size_t k = 0; k < 4 && ok; k++)
                known_cls |= json_is_string(c) && !strcmp(json_string_value(c), cls[k]);
            ok = ok && known_cls;
            if (ok)
                adb__buf_printf(&lit, "%s%s", i ? "," : "", json_string_value(c));
        }
        adb__buf_puts(&lit, "}");
        if (!ok || lit.oom) {
            adb__buf_free(&lit);
            res = adb_http_send_invalid(req, "categories", "INVALID_VALUE",
                          "categories must be a non-empty array of PUBLIC, INTERNAL, CONFIDENTIAL, PHI");
            goto out;
        }
        categories = lit.p; /* taken */
    }
    char handler[64];
    adb__fmt(handler, sizeof(handler), "key:%s", req->who.key_id);
    adb_gdpr_export_args a = {
        .org = req->who.organization_id, .subject = subject, .subject_type = subject_type,
        .request_type = request_type, .format = format, .from = from[0] ? from : NULL,
        .to = to[0] ? to : NULL, .categories = categories, .metadata = metadata,
        .personal = personal, .principal = req->who.key_id, .role = req->who.role,
        .request_id = req->request_id, .handler = handler,
    };
    const char *id = NULL;
    void *s = adb_gdpr_export_begin(req->state->db, &a, &id);
    if (!s) {
        res = adb_http_send_retry(req, MHD_HTTP_SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE",
                                  "the database is unavailable: retry later", 1000);
        goto out;
    }
    adb__fmt(msg, sizeof(msg), "GDPR export %s (%s, %s)", id, request_type, format);
    adb_http_security_event(req, "gdpr_export", "LOW", msg);
    char disposition[160];
    adb__fmt(disposition, sizeof(disposition), "attachment; filename=\"%s.%s\"", id, format);
    req->extra_header[0] = "X-Export-Id";
    req->extra_value[0] = strdup(id);
    adb_http_fmt_kind kind = ADB_FMT_JSON;
    adb_http_fmt_parse(format, &kind);
    int rc = adb_http_send_pull(req, MHD_HTTP_OK, MHD_SIZE_UNKNOWN, adb_http_fmt_type(kind),
                                disposition, gx_fill, s, gx_free);
    /* the pull owns s, also on failure */
    res = rc < 0 ? adb_http_pull_refused(req, rc) : MHD_YES;
out:
    free(categories);
    json_decref(body);
    return res;
}

enum MHD_Result adb_http_gdpr_export(adb_http_request *req)
{
    return gx_request(req, "json");
}

enum MHD_Result adb_http_gdpr_export_stream(adb_http_request *req)
{
    return gx_request(req, "ndjson");
}
