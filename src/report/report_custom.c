/*
 * report_custom.c - custom reports (CUSTOM_REPORT) in the client's
 * CustomReport shape, from saved or given criteria: a saved template
 * (templateId: report_templates.default_criteria under the given criteria)
 * and the given template's filters (field, operator, value) over a fixed
 * list of event fields, its aggregations (count, distinct, and sum, avg,
 * min, max of processingLatency) grouped by a field, and with
 * includeRawData the matching events' fields up to maxRecords (at most
 * 10,000). Every value is a query parameter; field names map to columns
 * through the table below and nothing else. docs/reports.md.
 */
#include "report_types.h"
#include "../core/util.h"
#include "../event/event.h"

#include <stdlib.h>
#include <string.h>

#define CUSTOM_FILTERS_MAX 20
#define CUSTOM_AGGS_MAX 10
#define CUSTOM_ROWS_MAX 10000
#define CUSTOM_VALUE_MAX 1000

typedef struct field_map {
    const char *name, *column;
    bool time, number;
} field_map;

static const field_map fields[] = {
    { "id", "event_id::text", false, false },
    { "eventId", "event_id::text", false, false },
    { "timestamp", "to_char(\"timestamp\" AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')",
      true, false },
    { "principalId", "principal_id", false, false },
    { "action", "action", false, false },
    { "targetResourceType", "target_resource_type", false, false },
    { "targetResourceId", "target_resource_id", false, false },
    { "status", "status", false, false },
    { "dataClassification", "data_classification", false, false },
    { "outcomeDescription", "outcome_description", false, false },
    { "correlationId", "correlation_id", false, false },
    { "processingLatency", "processing_latency", false, true },
};

static const field_map *field_of(const char *name)
{
    for (size_t i = 0; name && i < sizeof(fields) / sizeof(fields[0]); i++)
        if (!strcmp(fields[i].name, name))
            return &fields[i];
    return NULL;
}

/* The column to compare (timestamps as timestamptz, not as their text). */
static const char *cmp_column(const field_map *f)
{
    return f->time ? "\"timestamp\"" : f->column;
}

typedef struct params {
    const char *v[8 + CUSTOM_FILTERS_MAX];
    char *owned[CUSTOM_FILTERS_MAX];
    int n, nowned;
} params;

static int add_param(params *p, char *owned)
{
    p->owned[p->nowned++] = owned;
    p->v[p->n] = owned;
    return ++p->n;
}

static adb_status bad(adb__report_ctx *x, const char *field, const char *why)
{
    adb__fmt(x->field, x->fieldlen, "%s", field);
    adb__fmt(x->err, x->errlen, "%s", why);
    return ADB_ERR_INVALID;
}

/* A filter's value as text (strings, numbers, booleans). */
static char *scalar_text(const json_t *v)
{
    if (json_is_string(v))
        return json_string_length(v) <= CUSTOM_VALUE_MAX ? strdup(json_string_value(v)) : NULL;
    if (json_is_integer(v))
        return adb__aprintf("%lld", (long long)json_integer_value(v));
    if (json_is_real(v))
        return adb__aprintf("%.17g", json_real_value(v));
    if (json_is_boolean(v))
        return strdup(json_is_true(v) ? "true" : "false");
    return NULL;
}

/* The template's filters as SQL over placeholders $9...; appended to w. */
static adb_status filters_sql(adb__report_ctx *x, const json_t *filters, params *p, adb__buf *w)
{
    char fname[64];
    if (!filters)
        return ADB_OK;
    if (!json_is_array(filters) || json_array_size(filters) > CUSTOM_FILTERS_MAX)
        return bad(x, "template.filters", "filters must be an array of at most 20 filters");
    for (size_t i = 0; i < json_array_size(filters); i++) {
        const json_t *f = json_array_get(filters, i);
        const field_map *fm = field_of(json_string_value(json_object_get(f, "field")));
        const char *op = json_string_value(json_object_get(f, "operator"));
        const json_t *val = json_object_get(f, "value");
        adb__fmt(fname, sizeof(fname), "template.filters[%zu].field", i);
        if (!fm)
            return bad(x, fname, "field must be one of id, timestamp, principalId, action, "
                                 "targetResourceType, targetResourceId, status, "
                                 "dataClassification, outcomeDescription, correlationId, "
                                 "processingLatency");
        adb__fmt(fname, sizeof(fname), "template.filters[%zu].value", i);
        const char *col = cmp_column(fm);
        const char *cast = fm->time ? "::timestamptz" : fm->number ? "::integer" : "::text";
        if (!op) {
            adb__fmt(fname, sizeof(fname), "template.filters[%zu].operator", i);
            return bad(x, fname, "operator is required");
        }
        if (!strcmp(op, "in") || !strcmp(op, "nin")) {
            if (!json_is_array(val) || json_array_size(val) > 100)
                return bad(x, fname, "in and nin take an array of at most 100 values");
            adb__buf lit = { 0 };
            adb__buf_puts(&lit, "{");
            for (size_t k = 0; k < json_array_size(val); k++) {
                char *t = scalar_text(json_array_get(val, k));
                if (!t) {
                    adb__buf_free(&lit);
                    return bad(x, fname, "each value must be a string of at most 1000 bytes, a "
                                         "number or a boolean");
                }
                if (k)
                    adb__buf_puts(&lit, ",");
                adb__buf_array_elem(&lit, t, strlen(t));
                free(t);
            }
            adb__buf_puts(&lit, "}");
            int k = add_param(p, adb__buf_take(&lit, NULL));
            adb__buf_printf(w, " AND %s %s ($%d%s[])", col, !strcmp(op, "in") ? "= ANY" : "<> ALL",
                            k, cast);
            continue;
        }
        char *t = scalar_text(val);
        if (!t)
            return bad(x, fname, "value must be a string of at most 1000 bytes, a number or a "
                                 "boolean");
        if (fm->time) {
            int64_t us;
            if (!adb__timestamp_parse(t, strlen(t), &us)) {
                free(t);
                return bad(x, fname, "a timestamp filter's value must be RFC 3339");
            }
        }
        if (fm->number) {
            long long nn;
            if (!adb__parse_int(t, -2147483647LL, 2147483647LL, &nn)) {
                free(t);
                return bad(x, fname, "processingLatency compares with an integer");
            }
        }
        int k = add_param(p, t);
        if (!strcmp(op, "eq"))
            adb__buf_printf(w, " AND %s = $%d%s", col, k, cast);
        else if (!strcmp(op, "ne"))
            adb__buf_printf(w, " AND %s IS DISTINCT FROM $%d%s", col, k, cast);
        else if (!strcmp(op, "gt") || !strcmp(op, "gte") || !strcmp(op, "lt") ||
                 !strcmp(op, "lte"))
            adb__buf_printf(w, " AND %s %s $%d%s", col,
                            !strcmp(op, "gt") ? ">" : !strcmp(op, "gte") ? ">="
                            : !strcmp(op, "lt") ? "<" : "<=",
                            k, cast);
        else if (!strcmp(op, "contains") && !fm->time && !fm->number)
            adb__buf_printf(w, " AND strpos(%s, $%d::text) > 0", col, k);
        else if (!strcmp(op, "regex") && !fm->time && !fm->number)
            adb__buf_printf(w, " AND %s ~ $%d::text", col, k);
        else {
            adb__fmt(fname, sizeof(fname), "template.filters[%zu].operator", i);
            return bad(x, fname, "operator must be eq, ne, gt, gte, lt, lte, in, nin, contains "
                                 "or regex (contains and regex on text fields)");
        }
    }
    return w->oom ? ADB_ERR_NOMEM : ADB_OK;
}

/* Criteria: the saved template's default criteria under the given ones. */
static adb_status saved_criteria(adb__report_ctx *x, const char *tid, json_t **merged,
                                 char **tname)
{
    const char *p[] = { tid, x->rq->org };
    PGresult *r = PQexecParams(x->c,
                               "SELECT default_criteria::text, name FROM report_templates"
                               " WHERE id = $1 AND organization_id = $2",
                               2, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        adb__rq_db_error(x->c, "read the template", x->err, x->errlen);
        return ADB_ERR_DB_QUERY;
    }
    if (PQntuples(r) == 0) {
        PQclear(r);
        adb__fmt(x->field, x->fieldlen, "templateId");
        adb__fmt(x->err, x->errlen, "no such template of the organization");
        return ADB_ERR_NOT_FOUND;
    }
    json_t *saved = PQgetisnull(r, 0, 0) ? json_object() : json_loads(PQgetvalue(r, 0, 0), 0, NULL);
    *tname = strdup(PQgetvalue(r, 0, 1));
    PQclear(r);
    if (!json_is_object(saved)) {
        json_decref(saved);
        saved = json_object();
    }
    const json_t *given = x->rq->criteria ? x->rq->criteria
                                          : json_object_get(x->rq->custom, "criteria");
    json_object_update(saved, (json_t *)given); /* the given criteria win */
    *merged = saved;
    return ADB_OK;
}

adb_status adb__report_custom(adb__report_ctx *x)
{
    const json_t *cp = x->rq->custom;
    const char *name = json_string_value(json_object_get(cp, "name"));
    const json_t *tid = json_object_get(cp, "templateId");
    const json_t *tpl = json_object_get(cp, "template");
    const json_t *raw = json_object_get(cp, "includeRawData");
    const json_t *maxr = json_object_get(cp, "maxRecords");
    params p = { .n = 8 };
    adb__buf w = { 0 }, q = { 0 };
    adb_status st = ADB_OK;
    char *tname = NULL;
    json_t *merged = NULL;
    PGresult *r = NULL;

    if (!name || !*name || strlen(name) > 255)
        return bad(x, "name", "name must be a string of 1 to 255 bytes");
    if (tid && !json_is_null(tid) && (!json_is_string(tid) || json_string_length(tid) > 255))
        return bad(x, "templateId", "templateId must be a string");
    if (tpl && !json_is_null(tpl) && !json_is_object(tpl))
        return bad(x, "template", "template must be an object");
    if (raw && !json_is_boolean(raw))
        return bad(x, "includeRawData", "includeRawData must be a boolean");
    long long max_rows = 1000;
    if (maxr && (!json_is_integer(maxr) || json_integer_value(maxr) < 1 ||
                 json_integer_value(maxr) > 1000000))
        return bad(x, "maxRecords", "maxRecords must be an integer from 1 to 1000000");
    if (maxr)
        max_rows = json_integer_value(maxr) > CUSTOM_ROWS_MAX ? CUSTOM_ROWS_MAX
                                                              : json_integer_value(maxr);
    if (json_is_string(tid)) {
        if ((st = saved_criteria(x, json_string_value(tid), &merged, &tname)) != ADB_OK)
            return st;
        adb__rq_base_free(&x->base);
        if ((st = adb__rq_base_init(&x->base, x->rq->org, merged, x->field, x->fieldlen, x->err,
                                    x->errlen)) != ADB_OK)
            goto out;
        json_object_set(x->doc, "criteria", merged);
    }
    for (int k = 0; k < 8; k++)
        p.v[k] = x->base.params[k];
    if ((st = filters_sql(x, json_object_get(tpl, "filters"), &p, &w)) != ADB_OK)
        goto out;
    const char *where = w.p ? w.p : "";

    /* the count of matching events: the report's figure */
    adb__buf_printf(&q, "SELECT count(*) FROM audit_log WHERE %s%s", ADB_REPORT_BASE, where);
    r = PQexecParams(x->c, q.p, p.n, NULL, p.v, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        adb__rq_db_error(x->c, "count the custom report's events (a regex may be invalid)",
                         x->err, x->errlen);
        st = ADB_ERR_DB_QUERY;
        goto out;
    }
    long long total = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    r = NULL;
    x->records = total;
    json_t *pa = json_array();
    for (int k = 0; k < p.n; k++)
        json_array_append_new(pa, p.v[k] ? json_string(p.v[k]) : json_null());
    json_t *fig = json_pack("{s:s, s:s, s:I, s:s, s:o}", "id", "totalEvents", "label",
                            "Events matching the criteria and filters", "value",
                            (json_int_t)total, "query", q.p, "parameters", pa);
    if (total <= ADB_REPORT_SMALL_COUNT && total > 0) {
        q.len = 0;
        adb__buf_printf(&q, "SELECT event_id::text FROM audit_log WHERE %s%s"
                            " ORDER BY \"timestamp\", id LIMIT 26", ADB_REPORT_BASE, where);
        r = PQexecParams(x->c, q.p, p.n, NULL, p.v, NULL, NULL, 0);
        json_t *ev = json_array();
        for (int i = 0; PQresultStatus(r) == PGRES_TUPLES_OK && i < PQntuples(r); i++)
            json_array_append_new(ev, json_string(PQgetvalue(r, i, 0)));
        json_object_set_new(fig, "events", ev);
        PQclear(r);
        r = NULL;
    } else if (total == 0) {
        json_object_set_new(fig, "events", json_array());
    }
    json_array_append_new(x->figures, fig);
    if (adb__report_step(x, 50, "figures")) {
        st = ADB_ERR_BUSY;
        goto out;
    }

    /* aggregations */
    json_t *aggs = json_object_get(tpl, "aggregations");
    json_t *aggo = json_object();
    if (aggs && (!json_is_array(aggs) || json_array_size(aggs) > CUSTOM_AGGS_MAX)) {
        json_decref(aggo);
        st = bad(x, "template.aggregations", "aggregations must be an array of at most 10");
        goto out;
    }
    for (size_t i = 0; i < json_array_size(aggs); i++) {
        const json_t *a = json_array_get(aggs, i);
        const char *op = json_string_value(json_object_get(a, "operation"));
        const field_map *fm = field_of(json_string_value(json_object_get(a, "field")));
        const char *gb = json_string_value(json_object_get(a, "groupBy"));
        const field_map *gm = gb ? field_of(gb) : NULL;
        char fname[64];
        adb__fmt(fname, sizeof(fname), "template.aggregations[%zu]", i);
        bool numeric_op = op && (!strcmp(op, "sum") || !strcmp(op, "avg") || !strcmp(op, "min") ||
                                 !strcmp(op, "max"));
        if (!fm || !op || (strcmp(op, "count") && strcmp(op, "distinct") && !numeric_op) ||
            (numeric_op && !fm->number) || (gb && !gm)) {
            json_decref(aggo);
            st = bad(x, fname, "an aggregation is a known field, count or distinct (sum, avg, "
                               "min, max of processingLatency), and an optional known groupBy");
            goto out;
        }
        char expr[300];
        if (!strcmp(op, "count"))
            adb__fmt(expr, sizeof(expr), "count(%s)", fm->column);
        else if (!strcmp(op, "distinct"))
            adb__fmt(expr, sizeof(expr), "count(DISTINCT %s)", fm->column);
        else
            adb__fmt(expr, sizeof(expr), "coalesce(round(%s(%s)::numeric, 3)::text, '')", op,
                     fm->column);
        q.len = 0;
        if (gm)
            adb__buf_printf(&q, "SELECT coalesce((%s)::text, ''), %s FROM audit_log WHERE %s%s"
                                " GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1000",
                            gm->column, expr, ADB_REPORT_BASE, where);
        else
            adb__buf_printf(&q, "SELECT 'all', %s FROM audit_log WHERE %s%s", expr,
                            ADB_REPORT_BASE, where);
        r = PQexecParams(x->c, q.p, p.n, NULL, p.v, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            json_decref(aggo);
            adb__rq_db_error(x->c, "aggregate the custom report", x->err, x->errlen);
            st = ADB_ERR_DB_QUERY;
            goto out;
        }
        char key[160];
        adb__fmt(key, sizeof(key), "%s(%s)%s%s", op, fm->name, gm ? " by " : "", gm ? gm->name : "");
        json_t *obj = json_object(), *rows = json_array();
        for (int k = 0; k < PQntuples(r); k++) {
            const char *vv = PQgetvalue(r, k, 1);
            json_t *num = *vv ? json_real(strtod(vv, NULL)) : json_null();
            if (*vv && strspn(vv, "-0123456789") == strlen(vv))
                num = (json_decref(num), json_integer(strtoll(vv, NULL, 10)));
            json_object_set(obj, PQgetvalue(r, k, 0), num);
            json_array_append_new(rows, json_pack("[s, o]", PQgetvalue(r, k, 0), num));
        }
        PQclear(r);
        r = NULL;
        json_object_set_new(aggo, key, obj);
        json_array_append_new(x->tables,
                              json_pack("{s:s, s:s, s:[s, s], s:o, s:s}", "id", key, "title", key,
                                        "columns", gm ? gm->name : "scope", op, "rows", rows,
                                        "query", q.p));
    }
    json_object_set_new(x->doc, "aggregations", aggo);

    /* the raw rows */
    json_t *data = json_array();
    if (json_is_true(raw)) {
        const json_t *tf = json_object_get(tpl, "fields");
        const field_map *cols[16];
        size_t nc = 0;
        for (size_t i = 0; i < json_array_size(tf) && nc < 16; i++) {
            const field_map *fm =
                field_of(json_string_value(json_object_get(json_array_get(tf, i), "name")));
            if (fm)
                cols[nc++] = fm;
        }
        if (!nc) /* the default columns */
            for (size_t i = 1; i < 9; i++)
                cols[nc++] = &fields[i];
        q.len = 0;
        adb__buf_puts(&q, "SELECT ");
        for (size_t i = 0; i < nc; i++)
            adb__buf_printf(&q, "%s(%s)::text", i ? ", " : "", cols[i]->column);
        adb__buf_printf(&q, " FROM audit_log WHERE %s%s ORDER BY \"timestamp\", id LIMIT %lld",
                        ADB_REPORT_BASE, where, max_rows);
        r = PQexecParams(x->c, q.p, p.n, NULL, p.v, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            json_decref(data);
            adb__rq_db_error(x->c, "read the custom report's rows", x->err, x->errlen);
            st = ADB_ERR_DB_QUERY;
            goto out;
        }
        json_t *tcols = json_array(), *trows = json_array();
        for (size_t i = 0; i < nc; i++)
            json_array_append_new(tcols, json_string(cols[i]->name));
        for (int k = 0; k < PQntuples(r); k++) {
            json_t *o = json_object(), *row = json_array();
            for (size_t i = 0; i < nc; i++) {
                json_t *vv = PQgetisnull(r, k, (int)i) ? json_null()
                                                       : json_string(PQgetvalue(r, k, (int)i));
                json_object_set(o, cols[i]->name, vv);
                json_array_append_new(row, json_is_null(vv) ? json_string("") : json_incref(vv));
                json_decref(vv);
            }
            json_array_append_new(data, o);
            json_array_append_new(trows, row);
        }
        PQclear(r);
        r = NULL;
        json_array_append_new(x->tables, json_pack("{s:s, s:s, s:o, s:o, s:s}", "id", "data",
                                                   "title", "Matching events", "columns", tcols,
                                                   "rows", trows, "query", q.p));
    }
    json_object_set_new(x->doc, "data", data);
    json_object_set_new(x->doc, "name", json_string(name));
    json_object_set_new(x->doc, "reportType", json_string("CUSTOM_REPORT"));
    json_object_set_new(x->doc, "type", json_string("custom"));
    if (json_is_string(tid))
        json_object_set_new(x->doc, "templateId", json_incref((json_t *)tid));
    if (tname)
        json_object_set_new(x->doc, "templateName", json_string(tname));
    json_t *params_ = json_object_get(cp, "parameters");
    if (json_is_object(params_))
        json_object_set(x->doc, "parameters", params_);
    json_object_set_new(x->doc, "summary",
                        json_pack("{s:I, s:I, s:b}", "totalEvents", (json_int_t)total,
                                  "rowsIncluded", (json_int_t)json_array_size(data), "truncated",
                                  json_is_true(raw) && total > (long long)json_array_size(data)));
    json_object_set_new(x->doc, "title", json_string(name));
    if (adb__rq_chart(x->c, &x->base, 8, "eventsPerDay", "Events per day (UTC), criteria only",
                      "line", "events",
                      "SELECT to_char(date_trunc('day', \"timestamp\" AT TIME ZONE 'UTC'),"
                      " 'YYYY-MM-DD'), count(*) FROM audit_log WHERE " ADB_REPORT_BASE
                      " GROUP BY 1 ORDER BY 1",
                      x->charts, x->err, x->errlen) != ADB_OK)
        st = ADB_ERR_DB_QUERY;
out:
    PQclear(r);
    for (int k = 0; k < p.nowned; k++)
        free(p.owned[k]);
    adb__buf_free(&w);
    adb__buf_free(&q);
    free(tname);
    json_decref(merged);
    return st;
}
