/*
 * sched_store.c - scheduled reports and executions as the tenant
 * (sched_store.h). Rows become the client's shapes in SQL
 * (jsonb_build_object), top-level nulls dropped in C (optional members are
 * absent, not null). The next run is adb_report_next_run's (migration 0031).
 */
#include "sched_store.h"
#include "template_store.h"
#include "../delivery/delivery.h"
#include "../core/adb_internal.h"
#include "../monitor/config_change.h"
#include "../core/util.h"

#include <stdlib.h>
#include <string.h>

#define ISO(col) "to_char((" col ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

#define SCHED_JSON                                                                                 \
    "jsonb_build_object('id', s.id, 'name', s.name, 'description', s.description,"                \
    " 'organizationId', s.organization_id, 'templateId', s.template_id,"                          \
    " 'reportType', s.report_type, 'criteria', s.criteria, 'format', s.format,"                   \
    " 'schedule', s.schedule, 'delivery', s.delivery, 'export', s.export,"                        \
    " 'notifications', nullif(s.notification, '{}'::jsonb), 'enabled', s.enabled = 'true',"       \
    " 'createdAt', " ISO("s.created_at") ", 'updatedAt', " ISO("s.updated_at") ","                \
    " 'createdBy', s.created_by, 'updatedBy', coalesce(s.updated_by, s.created_by),"              \
    " 'lastRun', " ISO("s.last_run") ", 'nextRun', " ISO("s.next_run") ","                        \
    " 'executionCount', s.execution_count, 'successCount', s.success_count,"                      \
    " 'failureCount', s.failure_count, 'runId', s.run_id, 'tags', s.tags,"                        \
    " 'metadata', s.metadata, 'version', s.version)::text"

#define EXEC_JSON                                                                                  \
    "jsonb_build_object('id', e.id, 'scheduledReportId', e.scheduled_report_id,"                  \
    " 'status', e.status, 'trigger', e.trigger,"                                                  \
    " 'scheduledTime', " ISO("e.scheduled_time") ","                                              \
    " 'executionTime', " ISO("CASE WHEN e.started_at IS NOT NULL THEN e.execution_time END") ","  \
    " 'duration', e.duration, 'reportId', e.report_id, 'recordsProcessed', e.records_processed,"  \
    " 'exportResult', CASE WHEN e.export_result IS NOT NULL THEN jsonb_build_object("             \
    "   'exportId', e.report_id, 'format', s.format, 'recordCount', coalesce(e.records_processed, 0)," \
    "   'dataSize', coalesce((e.export_result->>'size')::bigint, 0),"                             \
    "   'exportTimestamp', " ISO("e.finished_at") ", 'status', 'completed',"                      \
    "   'metadata', jsonb_build_object('checksum', e.export_result->>'sha256')) END,"             \
    " 'integrityReport', e.integrity_report, 'deliveryId', e.delivery_id,"                        \
    " 'error', CASE WHEN e.error IS NOT NULL THEN e.error::jsonb END,"                            \
    " 'metadata', jsonb_strip_nulls(jsonb_build_object('attempts', e.attempts,"                   \
    "   'cancelRequested', e.cancel_requested, 'finishedAt', " ISO("e.finished_at") ","           \
    "   'filename', e.export_result->>'filename', 'deliveryAttempts', e.delivery_attempts)))::text"

static const char *const report_types[] = { "HIPAA_AUDIT_TRAIL", "GDPR_PROCESSING_ACTIVITIES",
                                             "GENERAL_COMPLIANCE", "INTEGRITY_VERIFICATION",
                                             "CUSTOM_REPORT", NULL };
static const char *const formats[] = { "json", "csv", "xml", "pdf", "xlsx", NULL };

static bool one_of(const char *v, const char *const *set)
{
    for (int i = 0; v && set[i]; i++)
        if (!strcmp(v, set[i]))
            return true;
    return false;
}

static PGresult *exec(PGconn *c, const char *sql, int n, const char *const *p)
{
    PGresult *r = PQexecParams(c, sql, n, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK) {
        PQclear(r);
        return NULL;
    }
    return r;
}

static bool commit(adb *h, PGconn *c)
{
    PGresult *r = PQexec(c, "COMMIT");
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK && !strcmp(PQcmdStatus(r), "COMMIT");
    PQclear(r);
    if (!ok)
        PQclear(PQexec(c, "ROLLBACK"));
    adb_pool_release(adb__tenant_pool(h), c);   /* the transaction has ended */
    return ok;
}

/* A jsonb text as an object without its top-level nulls. */
static json_t *obj_of(const char *text)
{
    json_t *o = json_loads(text, 0, NULL);
    const char *k;
    json_t *v;
    void *tmp;

    json_object_foreach_safe(o, tmp, k, v)
        if (json_is_null(v))
            json_object_del(o, k);
    return o;
}

static json_t *read_sched(PGconn *c, const char *org, const char *id, adb_status *st)
{
    const char *p[] = { org, id };
    PGresult *r = exec(c, "SELECT " SCHED_JSON " FROM scheduled_reports s"
                          " WHERE s.organization_id = $1 AND s.id = $2 AND s.is_deleted = 'false'",
                       2, p);
    json_t *o = NULL;
    *st = !r ? ADB_ERR_DB_QUERY : PQntuples(r) != 1 ? ADB_ERR_NOT_FOUND : ADB_OK;
    if (*st == ADB_OK && !(o = obj_of(PQgetvalue(r, 0, 0))))
        *st = ADB_ERR_NOMEM;
    PQclear(r);
    return o;
}

static bool str_member(const json_t *b, const char *k, size_t max, bool required, const char **out,
                       adb__sched_error *e)
{
    json_t *v = json_object_get(b, k);
    *out = NULL;
    if (!v || json_is_null(v)) {
        if (required)
            adb__sched_fail(e, k, "REQUIRED", "%s is required", k);
        return !required;
    }
    if (!json_is_string(v) || (required && !json_string_length(v)) || json_string_length(v) > max) {
        adb__sched_fail(e, k, "INVALID_VALUE", "%s must be a string of %s%zu characters", k,
                        required ? "1 to " : "at most ", max);
        return false;
    }
    *out = json_string_value(v);
    return true;
}

static bool obj_member(const json_t *b, const char *k, bool required, adb__sched_error *e)
{
    json_t *v = json_object_get(b, k);
    if (!v || json_is_null(v)) {
        if (required)
            adb__sched_fail(e, k, "REQUIRED", "%s is required", k);
        return !required;
    }
    if (!json_is_object(v)) {
        adb__sched_fail(e, k, "INVALID_TYPE", "%s must be an object", k);
        return false;
    }
    return true;
}

static bool delivery_ok(const json_t *d, adb__sched_error *e)
{
    json_t *ds = json_object_get(d, "destinations");
    size_t i;
    json_t *v;

    if (json_is_string(ds) && !strcmp(json_string_value(ds), "default"))
        return true;
    if (!json_is_array(ds) || json_array_size(ds) > 50) {
        adb__sched_fail(e, "delivery.destinations", "INVALID_VALUE",
                        "destinations must be \"default\" or an array of at most 50 destination ids");
        return false;
    }
    json_array_foreach(ds, i, v)
        if (!json_is_string(v) || !json_string_length(v) || json_string_length(v) > 64) {
            adb__sched_fail(e, "delivery.destinations", "INVALID_VALUE",
                            "each destination id is a non-empty string");
            return false;
        }
    return true;
}

static bool tags_ok(const json_t *t, adb__sched_error *e)
{
    size_t i;
    json_t *v;
    if (!t || json_is_null(t))
        return true;
    if (!json_is_array(t) || json_array_size(t) > 50) {
        adb__sched_fail(e, "tags", "INVALID_VALUE", "tags must be an array of at most 50 strings");
        return false;
    }
    json_array_foreach(t, i, v)
        if (!json_is_string(v) || json_string_length(v) > 100) {
            adb__sched_fail(e, "tags", "INVALID_VALUE", "each tag is a string of at most 100 characters");
            return false;
        }
    return true;
}

/* The checks of a create (full) or update (partial) body; *sched the
 * normalized schedule when the body has one. */
static bool body_ok(const json_t *b, bool full, json_t **sched, adb__sched_error *e)
{
    static const char *const known[] = { "name", "description", "templateId", "reportType",
                                         "criteria", "format", "schedule", "delivery", "export",
                                         "notifications", "createdBy", "updatedBy", "runId", "tags",
                                         "metadata", "organizationId", "enabled", NULL };
    const char *k, *s;
    json_t *v;

    *sched = NULL;
    json_object_foreach((json_t *)b, k, v)
        if (!one_of(k, known)) {
            char f[96];
            adb__fmt(f, sizeof(f), "%.60s", k);
            adb__sched_fail(e, f, "UNKNOWN_FIELD", "a scheduled report has no member %.60s", k);
            return false;
        }
    if (!str_member(b, "name", 255, full, &s, e) || !str_member(b, "description", 1000, false, &s, e) ||
        !str_member(b, "templateId", 255, false, &s, e) || !str_member(b, "runId", 255, false, &s, e))
        return false;
    if (!str_member(b, "reportType", 64, full, &s, e))
        return false;
    if (s && !one_of(s, report_types)) {
        adb__sched_fail(e, "reportType", "INVALID_VALUE",
                        "reportType must be HIPAA_AUDIT_TRAIL, GDPR_PROCESSING_ACTIVITIES, "
                        "GENERAL_COMPLIANCE, INTEGRITY_VERIFICATION or CUSTOM_REPORT");
        return false;
    }
    if (!str_member(b, "format", 16, full, &s, e))
        return false;
    if (s && !one_of(s, formats)) {
        adb__sched_fail(e, "format", "UNSUPPORTED_FORMAT", "format must be json, csv, xml, pdf or xlsx");
        return false;
    }
    if (!obj_member(b, "criteria", full, e) || !obj_member(b, "delivery", full, e) ||
        !obj_member(b, "export", full, e) || !obj_member(b, "notifications", false, e) ||
        !obj_member(b, "metadata", false, e) || !obj_member(b, "schedule", full, e))
        return false;
    static const char *const comps[] = { "none", "gzip", "zip", NULL };
    static const char *const comp_at[][2] = { { "delivery", "delivery.compression" },
                                              { "export", "export.compression" } };
    for (size_t ci = 0; ci < 2; ci++) {
        json_t *o = json_object_get(b, comp_at[ci][0]);
        json_t *cv = json_is_object(o) ? json_object_get(o, "compression") : NULL;
        if (cv && !json_is_null(cv) && (!json_is_string(cv) || !one_of(json_string_value(cv), comps))) {
            bool bz = json_is_string(cv) && !strcmp(json_string_value(cv), "bzip2");
            adb__sched_fail(e, comp_at[ci][1], bz ? "UNSUPPORTED_COMPRESSION" : "INVALID_VALUE",
                            "compression must be none, gzip or zip%s",
                            bz ? " (bzip2 is not written by this server)" : "");
            return false;
        }
    }
    if ((v = json_object_get(b, "metadata")) && json_is_object(v) &&
        (v = json_object_get(v, "overlapPolicy")) && !json_is_null(v)) {
        static const char *const policies[] = { "skip", "queue", "replace", NULL };
        if (!json_is_string(v) || !one_of(json_string_value(v), policies)) {
            adb__sched_fail(e, "metadata.overlapPolicy", "INVALID_VALUE",
                            "overlapPolicy must be skip, queue or replace");
            return false;
        }
    }
    if ((v = json_object_get(b, "delivery")) && json_is_object(v) && !delivery_ok(v, e))
        return false;
    if (!tags_ok(json_object_get(b, "tags"), e))
        return false;
    if ((v = json_object_get(b, "enabled")) && !json_is_boolean(v)) {
        adb__sched_fail(e, "enabled", "INVALID_TYPE", "enabled must be true or false");
        return false;
    }
    if ((v = json_object_get(b, "schedule")) && json_is_object(v) && !(*sched = adb__schedule_check(v, e)))
        return false;
    return true;
}

/* Checks in the database what the body's checks cannot: the time zone, the
 * dates' order, a run left. false with e set (or *st on a database error). */
static bool sched_db_ok(PGconn *c, const json_t *sched, adb__sched_error *e, adb_status *st)
{
    char *text = json_dumps(sched, JSON_COMPACT);
    const char *p[] = { text, json_string_value(json_object_get(sched, "timezone")) };
    PGresult *r = exec(c,
                       "SELECT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = $2),"
                       " coalesce(($1::jsonb->>'startDate')::timestamptz < ($1::jsonb->>'endDate')::timestamptz, true)",
                       2, p);
    bool ok = false;
    *st = ADB_OK;
    if (!r)
        *st = ADB_ERR_DB_QUERY;
    else if (PQgetvalue(r, 0, 0)[0] != 't')
        adb__sched_fail(e, "schedule.timezone", "INVALID_VALUE",
                        "timezone is not a time zone this database knows (pg_timezone_names)");
    else if (PQgetvalue(r, 0, 1)[0] != 't')
        adb__sched_fail(e, "schedule.endDate", "INVALID_VALUE", "endDate must be after startDate");
    else
        ok = true;
    PQclear(r);
    free(text);
    return ok;
}

/* The configuration history row of schedule id going from prev to next
 * (NULL: none), without what changes by itself (runs, counts, times);
 * ADB_OK or a database error (the caller rolls back). */
static adb_status record(PGconn *c, adb__config_change_rec *rec, const char *org, const char *id,
                         const json_t *prev, const json_t *next, const char *who, const char *why)
{
    static const char *const drop[] = { "lastRun", "nextRun", "executionCount", "successCount",
                                        "failureCount", "createdAt", "updatedAt", "updatedBy",
                                        "version", "executionHistory", NULL };
    char fld[256], err[ADB_ERRMSG_MAX];
    json_t *a = adb__config_doc_without(prev, drop), *b = adb__config_doc_without(next, drop);

    adb__fmt(fld, sizeof(fld), "scheduled_report.%.230s", id);
    adb_status st = adb__config_change_json_tx(c, rec, org, fld, a, b, who, why, err, sizeof(err));
    json_decref(a);
    json_decref(b);
    return st == ADB_OK ? ADB_OK : ADB_ERR_DB_QUERY;
}

static void notify(PGconn *c)
{
    PQclear(PQexec(c, "NOTIFY " ADB_REPORTS_NOTIFY));
}

static char *dump_or_null(const json_t *b, const char *k)
{
    json_t *v = json_object_get(b, k);
    return v && !json_is_null(v) ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
}

static adb_status adb__sched_create_checked(adb *h, const char *org, const json_t *body,
                                            const char *who, json_t *sched, json_t **out,
                                            adb__sched_error *e);

adb_status adb__sched_create(adb *h, const char *org, const json_t *body, const char *who,
                             json_t **out, adb__sched_error *e)
{
    adb_status st;
    json_t *sched = NULL;

    *out = NULL;
    if (!json_is_object(body)) {
        adb__sched_fail(e, "", "INVALID_JSON", "the body must be a JSON object");
        return ADB_ERR_INVALID;
    }
    /* a template's defaults fill what the body leaves out */
    json_t *merged = NULL;
    const char *tid = json_string_value(json_object_get(body, "templateId"));
    if (tid) {
        json_t *t = NULL;
        static const char *const map[][2] = {
            { "reportType", "reportType" }, { "format", "defaultFormat" },
            { "criteria", "defaultCriteria" }, { "export", "defaultExport" },
            { "delivery", "defaultDelivery" }, { "notifications", "defaultNotifications" },
            { "tags", "tags" },
        };
        st = adb__template_get(h, org, tid, &t);
        if (st == ADB_ERR_NOT_FOUND) {
            adb__sched_fail(e, "templateId", "NOT_FOUND", "no such report template");
            return ADB_ERR_INVALID;
        }
        if (st != ADB_OK)
            return st;
        merged = json_deep_copy(body);
        for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
            if (!json_object_get(merged, map[i][0]) && json_object_get(t, map[i][1]))
                json_object_set(merged, map[i][0], json_object_get(t, map[i][1]));
        json_decref(t);
        body = merged;
    }
    if (!body_ok(body, true, &sched, e)) {
        json_decref(merged);
        return ADB_ERR_INVALID;
    }
    st = adb__sched_create_checked(h, org, body, who, sched, out, e);
    json_decref(merged);
    return st;
}

static adb_status adb__sched_create_checked(adb *h, const char *org, const json_t *body,
                                            const char *who, json_t *sched, json_t **out,
                                            adb__sched_error *e)
{
    char err[ADB_ERRMSG_MAX], id[64];
    adb_status st;
    const char *oid = json_string_value(json_object_get(body, "organizationId"));
    if (oid && strcmp(oid, org)) {
        json_decref(sched);
        adb__sched_fail(e, "organizationId", "FORBIDDEN", "organizationId is not this key's organization");
        return ADB_ERR_INVALID;
    }
    PGconn *c = adb_tenant_begin(h, org, &st, err, sizeof(err));
    if (!c) {
        json_decref(sched);
        return st;
    }
    if (!sched_db_ok(c, sched, e, &st)) {
        adb_tenant_end(h, c, false);
        json_decref(sched);
        return st == ADB_OK ? ADB_ERR_INVALID : st;
    }
    adb__queue_new_id("report-", id, sizeof(id));
    char *crit = dump_or_null(body, "criteria"), *sch = json_dumps(sched, JSON_COMPACT),
         *del = dump_or_null(body, "delivery"), *exp = dump_or_null(body, "export"),
         *noti = dump_or_null(body, "notifications"), *tags = dump_or_null(body, "tags"),
         *meta = dump_or_null(body, "metadata");
    const json_t *en = json_object_get(body, "enabled");
    const char *p[] = { id, json_string_value(json_object_get(body, "name")),
                        json_string_value(json_object_get(body, "description")), org,
                        json_string_value(json_object_get(body, "templateId")),
                        json_string_value(json_object_get(body, "reportType")), crit,
                        json_string_value(json_object_get(body, "format")), sch, del, exp, noti,
                        en && json_is_false(en) ? "false" : "true",
                        json_string_value(json_object_get(body, "runId")), tags, meta, who };
    PGresult *r = exec(c,
                       "INSERT INTO scheduled_reports (id, name, description, organization_id,"
                       " template_id, report_type, criteria, format, schedule, delivery, export,"
                       " notification, enabled, run_id, tags, metadata, created_by, updated_by, next_run)"
                       " VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9::jsonb, $10::jsonb, $11::jsonb,"
                       " coalesce($12::jsonb, '{}'), $13, $14, coalesce($15::jsonb, '[]'), $16::jsonb,"
                       " $17, $17, adb_report_next_run($9::jsonb, now()))"
                       " RETURNING next_run IS NULL",
                       17, p);
    free(crit); free(sch); free(del); free(exp); free(noti); free(tags); free(meta);
    json_decref(sched);
    st = ADB_OK;
    if (!r) {
        st = ADB_ERR_DB_QUERY;
    } else if (PQgetvalue(r, 0, 0)[0] == 't') {
        adb__sched_fail(e, "schedule.endDate", "INVALID_VALUE", "the schedule has no run left: endDate is past");
        st = ADB_ERR_INVALID;
    }
    PQclear(r);
    if (st == ADB_OK && json_string_value(json_object_get(body, "templateId"))) {
        const char *pt[] = { org, json_string_value(json_object_get(body, "templateId")) };
        PGresult *t = exec(c, "UPDATE report_templates SET usage_count = usage_count + 1"
                              " WHERE organization_id = $1 AND id = $2 AND is_deleted = 'false'", 2, pt);
        if (!t) {
            st = ADB_ERR_DB_QUERY;
        } else if (strcmp(PQcmdTuples(t), "1")) {
            adb__sched_fail(e, "templateId", "NOT_FOUND", "no such report template");
            st = ADB_ERR_INVALID;
        }
        PQclear(t);
    }
    json_t *o = st == ADB_OK ? read_sched(c, org, id, &st) : NULL;
    adb__config_change_rec cc = { 0 };
    if (st == ADB_OK)
        st = record(c, &cc, org, id, NULL, o, who, NULL);
    if (st == ADB_OK)
        notify(c);
    if (st != ADB_OK) {
        adb_tenant_end(h, c, false);
        adb__config_change_rec_done(h, &cc, false);
        json_decref(o);
        return st;
    }
    bool committed = commit(h, c);
    adb__config_change_rec_done(h, &cc, committed);
    if (!committed) {
        json_decref(o);
        return ADB_ERR_DB_QUERY;
    }
    *out = o;
    return ADB_OK;
}

adb_status adb__sched_get(adb *h, const char *org, const char *id, json_t **out)
{
    char err[ADB_ERRMSG_MAX];
    adb_status st;
    PGconn *c = adb_tenant_begin(h, org, &st, err, sizeof(err));

    *out = NULL;
    if (!c)
        return st;
    *out = read_sched(c, org, id, &st);
    adb_tenant_end(h, c, false);
    return st;
}

static json_t *pagination(long long total, long long limit, long long offset)
{
    return json_pack("{s:I,s:I,s:I,s:b,s:b}", "total", (json_int_t)total, "limit", (json_int_t)limit,
                     "offset", (json_int_t)offset, "hasNext", offset + limit < total, "hasPrevious",
                     offset > 0);
}

adb_status adb__sched_list(adb *h, const char *org, const adb__sched_query *q, json_t **out)
{
    static const struct { const char *api, *sql; } sorts[] = {
        { "name", "s.name" }, { "created_at", "s.created_at" }, { "updated_at", "s.updated_at" },
        { "last_run", "s.last_run" }, { "next_run", "s.next_run" },
        { "execution_count", "s.execution_count" },
    };
    const char *sort = "s.created_at";
    char err[ADB_ERRMSG_MAX], lim[24], off[24], sql[2048];
    adb_status st;

    *out = NULL;
    for (size_t i = 0; q->sort_by && i < sizeof(sorts) / sizeof(sorts[0]); i++)
        if (!strcmp(q->sort_by, sorts[i].api))
            sort = sorts[i].sql;
    adb__fmt(lim, sizeof(lim), "%lld", q->limit);
    adb__fmt(off, sizeof(off), "%lld", q->offset);
    static const char *const ranges[] = { "created_at", "updated_at", "last_run", "next_run" };
    const char *range = "created_at";
    for (size_t i = 0; q->range_by && i < sizeof(ranges) / sizeof(ranges[0]); i++)
        if (!strcmp(q->range_by, ranges[i]))
            range = ranges[i];
    const char *p[] = { org, q->enabled < 0 ? NULL : q->enabled ? "true" : "false", q->report_types,
                        q->search, q->created_by, q->tags, q->start, q->end, lim, off };
    char where[1024];
    adb__fmt(where, sizeof(where),
             " FROM scheduled_reports s WHERE s.organization_id = $1 AND s.is_deleted = 'false'"
             " AND ($2::text IS NULL OR s.enabled = $2)"
             " AND ($3::jsonb IS NULL OR $3::jsonb ? s.report_type)"
             " AND ($4::text IS NULL OR strpos(lower(s.name), lower($4)) > 0)"
             " AND ($5::jsonb IS NULL OR $5::jsonb ? s.created_by)"
             " AND ($6::jsonb IS NULL OR (jsonb_typeof(s.tags) = 'array' AND s.tags ?| ARRAY(SELECT"
             " jsonb_array_elements_text($6::jsonb))))"
             " AND ($7::timestamptz IS NULL OR s.%s >= $7::timestamptz)"
             " AND ($8::timestamptz IS NULL OR s.%s <= $8::timestamptz)", range, range);
    adb__fmt(sql, sizeof(sql), "SELECT " SCHED_JSON "%s ORDER BY %s %s NULLS LAST, s.id %s"
             " LIMIT $9::bigint OFFSET $10::bigint", where, sort, q->asc ? "ASC" : "DESC",
             q->asc ? "ASC" : "DESC");
    PGconn *c = adb_tenant_begin(h, org, &st, err, sizeof(err));
    if (!c)
        return st;
    char tsql[2048];
    adb__fmt(tsql, sizeof(tsql),
             "SELECT count(*), count(*) FILTER (WHERE s.enabled = 'true'),"
             " count(*) FILTER (WHERE s.enabled = 'true' AND s.next_run IS NOT NULL),"
             " coalesce((SELECT jsonb_object_agg(report_type, n)::text FROM"
             "  (SELECT report_type, count(*) AS n FROM scheduled_reports"
             "   WHERE organization_id = $1 AND is_deleted = 'false' GROUP BY 1) g), '{}')%s", where);
    PGresult *r = exec(c, sql, 10, p);
    PGresult *t = r ? exec(c, tsql, 8, p) : NULL;
    adb_tenant_end(h, c, false);
    if (!r || !t) {
        PQclear(r);
        PQclear(t);
        return ADB_ERR_DB_QUERY;
    }
    json_t *data = json_array();
    for (int i = 0; i < PQntuples(r); i++)
        json_array_append_new(data, obj_of(PQgetvalue(r, i, 0)));
    long long total = atoll(PQgetvalue(t, 0, 0)), en = atoll(PQgetvalue(t, 0, 1));
    *out = json_pack("{s:o,s:o,s:{s:I,s:I,s:I,s:o,s:I}}", "data", data, "pagination",
                     pagination(total, q->limit, q->offset), "summary", "totalReports",
                     (json_int_t)total, "enabledReports", (json_int_t)en, "disabledReports",
                     (json_int_t)(total - en), "reportsByType", json_loads(PQgetvalue(t, 0, 3), 0, NULL),
                     "upcomingExecutions", (json_int_t)atoll(PQgetvalue(t, 0, 2)));
    PQclear(r);
    PQclear(t);
    return *out ? ADB_OK : ADB_ERR_NOMEM;
}

adb_status adb__sched_update(adb *h, const char *org, const char *id, const json_t *body,
                             const char *who, json_t **out, adb__sched_error *e)
{
    char err[ADB_ERRMSG_MAX];
    adb_status st;
    json_t *sched = NULL;

    *out = NULL;
    if (!json_is_object(body)) {
        adb__sched_fail(e, "", "INVALID_JSON", "the body must be a JSON object");
        return ADB_ERR_INVALID;
    }
    if (!body_ok(body, false, &sched, e))
        return ADB_ERR_INVALID;
    PGconn *c = adb_tenant_begin(h, org, &st, err, sizeof(err));
    if (!c) {
        json_decref(sched);
        return st;
    }
    if (sched && !sched_db_ok(c, sched, e, &st)) {
        adb_tenant_end(h, c, false);
        json_decref(sched);
        return st == ADB_OK ? ADB_ERR_INVALID : st;
    }
    json_t *before = read_sched(c, org, id, &st); /* for the configuration history */
    if (!before) {
        adb_tenant_end(h, c, false);
        json_decref(sched);
        return st == ADB_OK ? ADB_ERR_NOMEM : st;
    }
    char *crit = dump_or_null(body, "criteria"), *sch = sched ? json_dumps(sched, JSON_COMPACT) : NULL,
         *del = dump_or_null(body, "delivery"), *exp = dump_or_null(body, "export"),
         *noti = dump_or_null(body, "notifications"), *tags = dump_or_null(body, "tags"),
         *meta = dump_or_null(body, "metadata");
    json_decref(sched);
    const char *p[] = { org, id, json_string_value(json_object_get(body, "name")),
                        json_string_value(json_object_get(body, "description")),
                        json_string_value(json_object_get(body, "templateId")),
                        json_string_value(json_object_get(body, "reportType")), crit,
                        json_string_value(json_object_get(body, "format")), sch, del, exp, noti,
                        json_string_value(json_object_get(body, "runId")), tags, meta, who };
    /* a new schedule starts from now: the time before is not "missed" */
    PGresult *r = exec(c,
                       "UPDATE scheduled_reports SET name = coalesce($3, name),"
                       " description = coalesce($4, description), template_id = coalesce($5, template_id),"
                       " report_type = coalesce($6, report_type), criteria = coalesce($7::jsonb, criteria),"
                       " format = coalesce($8, format), schedule = coalesce($9::jsonb, schedule),"
                       " delivery = coalesce($10::jsonb, delivery), export = coalesce($11::jsonb, export),"
                       " notification = coalesce($12::jsonb, notification), run_id = coalesce($13, run_id),"
                       " tags = coalesce($14::jsonb, tags), metadata = coalesce($15::jsonb, metadata),"
                       " next_run = CASE WHEN $9::jsonb IS NULL THEN next_run"
                       "  ELSE adb_report_next_run($9::jsonb, now()) END,"
                       " version = version + 1, updated_by = $16, updated_at = now()"
                       " WHERE organization_id = $1 AND id = $2 AND is_deleted = 'false'",
                       16, p);
    free(crit); free(sch); free(del); free(exp); free(noti); free(tags); free(meta);
    st = !r ? ADB_ERR_DB_QUERY : strcmp(PQcmdTuples(r), "1") ? ADB_ERR_NOT_FOUND : ADB_OK;
    PQclear(r);
    json_t *o = st == ADB_OK ? read_sched(c, org, id, &st) : NULL;
    adb__config_change_rec cc = { 0 };
    if (st == ADB_OK)
        st = record(c, &cc, org, id, before, o, who, NULL);
    json_decref(before);
    if (st == ADB_OK)
        notify(c);
    if (st != ADB_OK) {
        adb_tenant_end(h, c, false);
        adb__config_change_rec_done(h, &cc, false);
        json_decref(o);
        return st;
    }
    bool committed = commit(h, c);
    adb__config_change_rec_done(h, &cc, committed);
    if (!committed) {
        json_decref(o);
        return ADB_ERR_DB_QUERY;
    }
    *out = o;
    return ADB_OK;
}

/* One statement as the tenant changing schedule id, recorded as changed by
 * who for why; ADB_ERR_NOT_FOUND when it touched no row. */
static adb_status exec_one(adb *h, const char *org, const char *sql, int n, const char *const *p,
                           json_t **out, const char *id, const char *who, const char *why)
{
    char err[ADB_ERRMSG_MAX];
    adb__config_change_rec cc = { 0 };
    adb_status st;
    PGconn *c = adb_tenant_begin(h, org, &st, err, sizeof(err));

    if (!c)
        return st;
    json_t *before = read_sched(c, org, id, &st), *o = NULL;
    PGresult *r = before ? exec(c, sql, n, p) : NULL;
    if (before)
        st = !r ? ADB_ERR_DB_QUERY : strcmp(PQcmdTuples(r), "0") ? ADB_OK : ADB_ERR_NOT_FOUND;
    else if (st == ADB_OK)
        st = ADB_ERR_NOMEM;
    PQclear(r);
    if (st == ADB_OK) {
        /* deleted: read_sched no longer sees it */
        json_t *now = read_sched(c, org, id, &st);
        if (st == ADB_ERR_NOT_FOUND && !out)
            st = ADB_OK;
        if (st == ADB_OK)
            st = record(c, &cc, org, id, before, now, who, why);
        if (out)
            o = now;
        else
            json_decref(now);
    }
    json_decref(before);
    if (st == ADB_OK)
        notify(c);
    if (st != ADB_OK) {
        adb_tenant_end(h, c, false);
        adb__config_change_rec_done(h, &cc, false);
        json_decref(o);
        return st;
    }
    bool committed = commit(h, c);
    adb__config_change_rec_done(h, &cc, committed);
    if (!committed) {
        json_decref(o);
        return ADB_ERR_DB_QUERY;
    }
    if (out)
        *out = o;
    return ADB_OK;
}

adb_status adb__sched_delete(adb *h, const char *org, const char *id, const char *who)
{
    const char *p[] = { org, id };
    return exec_one(h, org,
                    "UPDATE scheduled_reports SET is_deleted = 'true', enabled = 'false', next_run = NULL,"
                    " updated_at = now() WHERE organization_id = $1 AND id = $2 AND is_deleted = 'false'",
                    2, p, NULL, id, who, "deleted");
}

adb_status adb__sched_set_enabled(adb *h, const char *org, const char *id, bool on, const char *who,
                                  json_t **out)
{
    const char *p[] = { org, id, on ? "true" : "false", who };
    *out = NULL;
    /* enabled again: from now on (the disabled time is not missed) */
    return exec_one(h, org,
                    "UPDATE scheduled_reports SET enabled = $3::text, updated_by = $4, updated_at = now(),"
                    " next_run = CASE WHEN $3::text = 'true' AND enabled = 'false'"
                    "  THEN adb_report_next_run(schedule, now()) ELSE next_run END"
                    " WHERE organization_id = $1 AND id = $2 AND is_deleted = 'false'",
                    4, p, out, id, who, on ? "enabled" : "disabled");
}

static json_t *read_exec(PGconn *c, const char *org, const char *id, const char *eid, adb_status *st)
{
    const char *p[] = { org, id, eid };
    PGresult *r = exec(c, "SELECT " EXEC_JSON " FROM report_executions e"
                          " JOIN scheduled_reports s ON s.id = e.scheduled_report_id"
                          " WHERE e.organization_id = $1 AND e.scheduled_report_id = $2 AND e.id = $3"
                          " AND s.is_deleted = 'false'",
                       3, p);
    json_t *o = NULL;
    *st = !r ? ADB_ERR_DB_QUERY : PQntuples(r) != 1 ? ADB_ERR_NOT_FOUND : ADB_OK;
    if (*st == ADB_OK)
        o = obj_of(PQgetvalue(r, 0, 0));
    PQclear(r);
    return o;
}

adb_status adb__sched_execute(adb *h, const char *org, const char *id, json_t **out)
{
    char err[ADB_ERRMSG_MAX], eid[64];
    adb_status st;
    PGconn *c = adb_tenant_begin(h, org, &st, err, sizeof(err));

    *out = NULL;
    if (!c)
        return st;
    adb__queue_new_id("execution-", eid, sizeof(eid));
    const char *p[] = { org, id, eid };
    PGresult *r = exec(c,
                       "INSERT INTO report_executions (id, scheduled_report_id, organization_id, run_id,"
                       " scheduled_time, execution_time, status, trigger, report_config_id)"
                       " SELECT $3, s.id, s.organization_id, $3, clock_timestamp(), now(), 'pending',"
                       " 'manual', s.id FROM scheduled_reports s"
                       " WHERE s.organization_id = $1 AND s.id = $2 AND s.is_deleted = 'false'",
                       3, p);
    st = !r ? ADB_ERR_DB_QUERY : strcmp(PQcmdTuples(r), "1") ? ADB_ERR_NOT_FOUND : ADB_OK;
    PQclear(r);
    json_t *o = st == ADB_OK ? read_exec(c, org, id, eid, &st) : NULL;
    if (st == ADB_OK)
        notify(c);
    if (st != ADB_OK) {
        adb_tenant_end(h, c, false);
        return st;
    }
    if (!commit(h, c)) {
        json_decref(o);
        return ADB_ERR_DB_QUERY;
    }
    *out = o;
    return ADB_OK;
}

adb_status adb__sched_executions(adb *h, const char *org, const char *id, long long limit,
                                 long long offset, const char *status, json_t **out)
{
    char err[ADB_ERRMSG_MAX], lim[24], off[24];
    adb_status st;
    PGconn *c = adb_tenant_begin(h, org, &st, err, sizeof(err));

    *out = NULL;
    if (!c)
        return st;
    json_t *s = read_sched(c, org, id, &st);
    if (!s) {
        adb_tenant_end(h, c, false);
        return st;
    }
    adb__fmt(lim, sizeof(lim), "%lld", limit);
    adb__fmt(off, sizeof(off), "%lld", offset);
    const char *p[] = { org, id, status, lim, off };
    PGresult *r = exec(c, "SELECT " EXEC_JSON " FROM report_executions e"
                          " JOIN scheduled_reports s ON s.id = e.scheduled_report_id"
                          " WHERE e.organization_id = $1 AND e.scheduled_report_id = $2"
                          " AND ($3::text IS NULL OR e.status = $3)"
                          " ORDER BY e.scheduled_time DESC, e.id DESC LIMIT $4::bigint OFFSET $5::bigint",
                       5, p);
    PGresult *t = r ? exec(c, "SELECT count(*) FILTER (WHERE $3::text IS NULL OR status = $3),"
                              " count(*) FILTER (WHERE status IN ('completed', 'failed')),"
                              " count(*) FILTER (WHERE status = 'completed'),"
                              " coalesce(avg(duration) FILTER (WHERE duration IS NOT NULL), 0)"
                              " FROM report_executions WHERE organization_id = $1 AND scheduled_report_id = $2",
                           3, p) : NULL;
    adb_tenant_end(h, c, false);
    if (!r || !t) {
        json_decref(s);
        PQclear(r);
        PQclear(t);
        return ADB_ERR_DB_QUERY;
    }
    json_t *data = json_array();
    for (int i = 0; i < PQntuples(r); i++)
        json_array_append_new(data, obj_of(PQgetvalue(r, i, 0)));
    long long total = atoll(PQgetvalue(t, 0, 0)), ended = atoll(PQgetvalue(t, 0, 1)),
              done = atoll(PQgetvalue(t, 0, 2));
    json_t *summary = json_pack("{s:I,s:f,s:f}", "totalExecutions", (json_int_t)total, "successRate",
                                ended ? 100.0 * (double)done / (double)ended : 0.0, "averageDuration",
                                atof(PQgetvalue(t, 0, 3)));
    if (json_object_get(s, "lastRun"))
        json_object_set(summary, "lastRun", json_object_get(s, "lastRun"));
    if (json_object_get(s, "nextRun"))
        json_object_set(summary, "nextRun", json_object_get(s, "nextRun"));
    *out = json_pack("{s:o,s:o,s:o}", "data", data, "pagination", pagination(total, limit, offset),
                     "summary", summary);
    json_decref(s);
    PQclear(r);
    PQclear(t);
    return ADB_OK;
}

adb_status adb__sched_execution_get(adb *h, const char *org, const char *id, const char *eid,
                                    json_t **out)
{
    char err[ADB_ERRMSG_MAX];
    adb_status st;
    PGconn *c = adb_tenant_begin(h, org, &st, err, sizeof(err));

    *out = NULL;
    if (!c)
        return st;
    *out = read_exec(c, org, id, eid, &st);
    adb_tenant_end(h, c, false);
    return st;
}

adb_status adb__sched_execution_cancel(adb *h, const char *org, const char *id, const char *eid,
                                       json_t **out)
{
    char err[ADB_ERRMSG_MAX];
    adb_status st;
    PGconn *c = adb_tenant_begin(h, org, &st, err, sizeof(err));

    *out = NULL;
    if (!c)
        return st;
    const char *p[] = { org, id, eid };
    PGresult *r = exec(c,
                       "UPDATE report_executions SET cancel_requested = true,"
                       " status = CASE WHEN status = 'pending' THEN 'cancelled' ELSE status END,"
                       " finished_at = CASE WHEN status = 'pending' THEN now() END,"
                       " error_code = CASE WHEN status = 'pending' THEN 'CANCELLED' END,"
                       " error = CASE WHEN status = 'pending'"
                       "  THEN '{\"code\":\"CANCELLED\",\"message\":\"cancelled on request\"}' END"
                       " WHERE organization_id = $1 AND scheduled_report_id = $2 AND id = $3"
                       " AND status IN ('pending', 'running') RETURNING id",
                       3, p);
    bool hit = r && PQntuples(r) == 1;
    PQclear(r);
    json_t *o = r ? read_exec(c, org, id, eid, &st) : NULL;
    if (!r)
        st = ADB_ERR_DB_QUERY;
    else if (st == ADB_OK && !hit)
        st = ADB_ERR_INVALID;   /* it has ended */
    if (st == ADB_OK)
        notify(c);
    if (st != ADB_OK || !commit(h, c)) {
        if (st != ADB_OK)
            adb_tenant_end(h, c, false);
        else
            st = ADB_ERR_DB_QUERY;
        json_decref(o);
        return st;
    }
    *out = o;
    return ADB_OK;
}

adb_status adb__sched_execution_artifact(adb *h, const char *org, const char *id, const char *eid,
                                         unsigned char **data, size_t *len, char ctype[128],
                                         char filename[160])
{
    char err[ADB_ERRMSG_MAX];
    adb_status st;
    PGconn *c = adb_tenant_begin(h, org, &st, err, sizeof(err));

    *data = NULL;
    *len = 0;
    if (!c)
        return st;
    const char *p[] = { org, id, eid };
    /* binary result: the artifact's bytes as stored */
    PGresult *r = PQexecParams(c,
                               "SELECT c.artifact, coalesce(c.content_type, 'application/octet-stream'),"
                               " coalesce(c.filename, e.id) FROM report_executions e"
                               " JOIN compliance_reports c ON c.id = e.report_id"
                               " WHERE e.organization_id = $1 AND e.scheduled_report_id = $2 AND e.id = $3"
                               /* the report's own end: an execution whose delivery failed
                                * still has its signed artifact to fetch by hand */
                               " AND c.status = 'completed' AND c.artifact IS NOT NULL",
                               3, NULL, p, NULL, NULL, 1);
    adb_tenant_end(h, c, false);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        return ADB_ERR_DB_QUERY;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        return ADB_ERR_NOT_FOUND;
    }
    *len = (size_t)PQgetlength(r, 0, 0);
    *data = malloc(*len ? *len : 1);
    if (!*data) {
        PQclear(r);
        return ADB_ERR_NOMEM;
    }
    memcpy(*data, PQgetvalue(r, 0, 0), *len);
    adb__fmt(ctype, 128, "%.*s", PQgetlength(r, 0, 1), PQgetvalue(r, 0, 1));
    adb__fmt(filename, 160, "%.*s", PQgetlength(r, 0, 2), PQgetvalue(r, 0, 2));
    PQclear(r);
    return ADB_OK;
}

adb_status adb__sched_upcoming(adb *h, const char *org, long long limit, json_t **out)
{
    char err[ADB_ERRMSG_MAX], lim[24];
    adb_status st;
    PGconn *c = adb_tenant_begin(h, org, &st, err, sizeof(err));

    *out = NULL;
    if (!c)
        return st;
    adb__fmt(lim, sizeof(lim), "%lld", limit);
    const char *p[] = { org, lim };
    PGresult *r = exec(c,
                       "SELECT coalesce(jsonb_agg(jsonb_build_object('reportId', id, 'reportName', name,"
                       " 'nextExecution', " ISO("next_run") ", 'frequency', schedule->>'frequency')"
                       " ORDER BY next_run, id), '[]')::text FROM (SELECT * FROM scheduled_reports"
                       " WHERE organization_id = $1 AND is_deleted = 'false' AND enabled = 'true'"
                       " AND next_run IS NOT NULL ORDER BY next_run, id LIMIT $2::bigint) s",
                       2, p);
    adb_tenant_end(h, c, false);
    if (!r)
        return ADB_ERR_DB_QUERY;
    *out = json_loads(PQgetvalue(r, 0, 0), 0, NULL);
    PQclear(r);
    return *out ? ADB_OK : ADB_ERR_NOMEM;
}
