/*
 * hipaa_read.c - a patient's accounting of disclosures read from the
 * organization's events and suspensions as the tenant, and the audit event
 * that records each reading (hipaa.h; docs/hipaa.md). Used by the HTTP
 * route and `auditdb hipaa accounting`.
 */
#include "hipaa.h"
#include "subject_key.h"
#include "../core/adb_internal.h"
#include "../core/util.h"
#include "../event/event.h"
#include "../integrity/row.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define RKEY_MAX 512

static const char *val(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

/* A disclosure with its order (timestamp, then row id); owned: its strings
 * are malloc()ed (an archived one). */
typedef struct item {
    adb__disclosure d;
    long long id;
    bool owned;
} item;

typedef struct items {
    item *v;
    size_t n, cap;
} items;

static bool items_add(items *l, const item *it)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        item *v = realloc(l->v, cap * sizeof(*v));
        if (!v)
            return false;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = *it;
    return true;
}

static void item_clear(item *it)
{
    if (!it->owned)
        return;
    const char *f[] = { it->d.event_id, it->d.date, it->d.recipient_name, it->d.recipient_address,
                        it->d.description, it->d.purpose, it->d.basis };
    for (size_t k = 0; k < sizeof(f) / sizeof(f[0]); k++)
        free((char *)f[k]);
}

static void items_free(items *l)
{
    for (size_t i = 0; i < l->n; i++)
        item_clear(&l->v[i]);
    free(l->v);
}

static int item_cmp(const void *a, const void *b)
{
    const item *x = a, *y = b;
    int c = strcmp(x->d.date, y->d.date);
    return c ? c : (x->id > y->id) - (x->id < y->id);
}

/* What jsonb's ->> gives for v: a string's value, NULL for null or missing,
 * else the JSON text. malloc()ed. */
static char *text_of(const json_t *v)
{
    if (!v || json_is_null(v))
        return NULL;
    if (json_is_string(v))
        return strdup(json_string_value(v));
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* An archived event of the patient: kept when it is a disclosure as the live
 * query defines one (PHI, success, details.disclosure an object). */
static adb_status archived_disclosure(void *ctx, const char *const *a, const char *date)
{
    items *l = ctx;
    const char *cl = a[ADB_COL_DATA_CLASSIFICATION], *stt = a[ADB_COL_STATUS];
    if (!cl || strcmp(cl, "PHI") || !stt || strcmp(stt, "success") || !a[ADB_COL_DETAILS])
        return ADB_OK;
    json_t *det = json_loads(a[ADB_COL_DETAILS], JSON_DECODE_ANY, NULL);
    json_t *dis = json_object_get(det, "disclosure");
    if (!json_is_object(dis)) {
        json_decref(det);
        return ADB_OK;
    }
    if (l->n >= ADB_HIPAA_DISCLOSURES_MAX) {
        json_decref(det);
        return ADB_ERR_BUSY;
    }
    json_t *rj = json_object_get(dis, "recipient");
    item it = { .owned = true };
    char *desc = text_of(json_object_get(dis, "description"));
    if (!desc)
        desc = dup_or_null(a[ADB_COL_OUTCOME_DESCRIPTION] ? a[ADB_COL_OUTCOME_DESCRIPTION]
                                                          : a[ADB_COL_ACTION]);
    it.d = (adb__disclosure){
        dup_or_null(a[ADB_COL_EVENT_ID]), strdup(date),
        json_is_object(rj) ? text_of(json_object_get(rj, "name"))
        : json_is_string(rj) ? strdup(json_string_value(rj)) : NULL,
        json_is_object(rj) ? text_of(json_object_get(rj, "address")) : NULL,
        desc, text_of(json_object_get(dis, "purpose")), text_of(json_object_get(dis, "basis")),
    };
    it.id = a[ADB_COL_ID] ? strtoll(a[ADB_COL_ID], NULL, 10) : 0;
    json_decref(det);
    bool oom = !it.d.date || (a[ADB_COL_EVENT_ID] && !it.d.event_id);
    if (oom || !items_add(l, &it)) {
        item_clear(&it);
        return ADB_ERR_NOMEM;
    }
    return ADB_OK;
}

adb_status adb__hipaa_accounting_read(adb *h, const char *org, const char *patient,
                                      const char *start, const char *end, json_t **entries,
                                      adb__hipaa_counts *counts, char *err, size_t errlen)
{
    char idx[2 * ADB_SUBJECT_INDEX_LEN + 1], lim[24];
    adb_status st = ADB_OK;
    PGresult *sr = NULL, *dr = NULL;
    adb__disclosure *d = NULL;
    char **keys = NULL;
    int n = 0, ns = 0;
    items all = { 0 };
    int64_t start_us, end_us;

    *entries = NULL;
    memset(counts, 0, sizeof(*counts));
    if (!adb__subject_index_hex(adb__db_keys(h), org, patient, idx)) {
        adb__fmt(err, errlen, "the patient id must be 1 to %d bytes", ADB_SUBJECT_MAX);
        return ADB_ERR_INVALID;
    }
    if (!adb__timestamp_parse(start, strlen(start), &start_us) ||
        !adb__timestamp_parse(end, strlen(end), &end_us)) {
        adb__fmt(err, errlen, "the period must be RFC 3339 timestamps");
        return ADB_ERR_INVALID;
    }
    adb__fmt(lim, sizeof(lim), "%d", ADB_HIPAA_DISCLOSURES_MAX + 1);
    /* the suspensions in force now, of this patient or of every patient */
    const char *sp[] = { org, idx };
    sr = adb_tenant_query(h, org,
                          "SELECT recipient FROM hipaa_disclosure_suspension"
                          " WHERE organization_id = $1 AND starts_at <= now()"
                          " AND ends_at > now() AND (subject_index IS NULL"
                          " OR subject_index = decode($2, 'hex'))",
                          2, sp, ADB_PLAN_AUTO, NULL, 0, NULL, &st);
    if (!sr || PQresultStatus(sr) != PGRES_TUPLES_OK)
        goto db_failed;
    const char *dp[] = { org, patient, start, end, lim };
    dr = adb_tenant_query(h, org,
                          "SELECT event_id::text,"
                          " to_char(timestamp AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"
                          " CASE jsonb_typeof(details->'disclosure'->'recipient')"
                          "   WHEN 'string' THEN details->'disclosure'->>'recipient'"
                          "   ELSE details->'disclosure'->'recipient'->>'name' END,"
                          " CASE WHEN jsonb_typeof(details->'disclosure'->'recipient') = 'object'"
                          "   THEN details->'disclosure'->'recipient'->>'address' END,"
                          " coalesce(details->'disclosure'->>'description', outcome_description, action),"
                          " details->'disclosure'->>'purpose', details->'disclosure'->>'basis', id"
                          " FROM audit_log WHERE organization_id = $1"
                          " AND target_resource_type = 'Patient' AND target_resource_id = $2"
                          " AND timestamp >= $3::timestamptz AND timestamp <= $4::timestamptz"
                          " AND data_classification = 'PHI' AND status = 'success'"
                          " AND jsonb_typeof(details->'disclosure') = 'object'"
                          " ORDER BY timestamp, id LIMIT $5::bigint",
                          5, dp, ADB_PLAN_CUSTOM, NULL, 0, NULL, &st);
    if (!dr || PQresultStatus(dr) != PGRES_TUPLES_OK)
        goto db_failed;
    n = PQntuples(dr);
    if (n > ADB_HIPAA_DISCLOSURES_MAX)
        goto too_many;
    for (int i = 0; i < n; i++) {
        item it = { { val(dr, i, 0), val(dr, i, 1), val(dr, i, 2), val(dr, i, 3), val(dr, i, 4),
                      val(dr, i, 5), val(dr, i, 6) }, strtoll(PQgetvalue(dr, i, 7), NULL, 10), false };
        if (!items_add(&all, &it))
            goto oom;
    }
    /* the archived ones, as the live ones (docs/hipaa.md, "Archived events") */
    st = adb__hipaa_archived_each(h, org, patient, start_us, end_us, archived_disclosure, &all, err,
                                  errlen);
    if (st == ADB_ERR_BUSY)
        goto too_many;
    if (st == ADB_ERR_NOMEM)
        goto oom;
    if (st != ADB_OK) {
        adb__fmt(err, errlen, "could not read the archived disclosures");
        goto out;
    }
    if (all.n)
        qsort(all.v, all.n, sizeof(*all.v), item_cmp);
    n = (int)all.n;
    ns = PQntuples(sr);
    d = calloc((size_t)n + 1, sizeof(*d));
    keys = calloc((size_t)ns + 1, sizeof(*keys));
    if (!d || !keys)
        goto oom;
    for (int i = 0; i < n; i++)
        d[i] = all.v[i].d;
    for (int i = 0; i < ns; i++) {
        if (!(keys[i] = malloc(RKEY_MAX)))
            goto oom;
        adb__hipaa_recipient_key(PQgetvalue(sr, i, 0), keys[i], RKEY_MAX);
    }
    if (!(*entries = adb__hipaa_accounting(d, (size_t)n, (const char *const *)keys, (size_t)ns,
                                           counts)))
        goto oom;
    st = ADB_OK;
    goto out;
too_many:
    adb__fmt(err, errlen, "the period holds more than %d disclosures: ask for shorter "
             "periods", ADB_HIPAA_DISCLOSURES_MAX);
    st = ADB_ERR_BUSY;
    goto out;
oom:
    adb__fmt(err, errlen, "out of memory");
    st = ADB_ERR_NOMEM;
    goto out;
db_failed:
    adb__fmt(err, errlen, "could not read the disclosures: the database is unavailable");
    if (st == ADB_OK)
        st = ADB_ERR_DB_QUERY;
out:
    for (int i = 0; keys && i < ns; i++)
        free(keys[i]);
    free(keys);
    free(d);
    items_free(&all);
    PQclear(dr);
    PQclear(sr);
    return st;
}

adb_status adb__hipaa_record_reading(adb *h, const char *org, const char *principal,
                                     const char *action, const char *patient, const char *start,
                                     const char *end, json_t *extra)
{
    char ts[ADB_TS_TEXT_MAX];
    adb_log_options lo = { .organization_id = org };
    adb_log_result res;

    adb__timestamp_format(adb__now_us(), ts);
    json_t *details = json_pack("{s:s, s:s}", "startDate", start, "endDate", end);
    if (details && extra)
        json_object_update(details, extra);
    json_t *ev = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o*}", "timestamp", ts, "action",
                           action, "status", "success", "principalId", principal,
                           "targetResourceType", "Patient", "targetResourceId", patient,
                           "dataClassification", "PHI", "details", details);
    char *text = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
    json_decref(ev);
    if (!text)
        return ADB_ERR_NOMEM;
    adb_status st = adb_log_json(h, text, strlen(text), &lo, &res);
    free(text);
    return st;
}
