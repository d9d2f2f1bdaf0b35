/*
 * report_query.c - the criteria as parameters, figures counted in one scan
 * with their own queries written down, tables and charts from queries
 * (report_query.h; docs/reports.md, "The document").
 */
#include "report_query.h"
#include "../core/util.h"
#include "../event/event.h"

#include <stdlib.h>
#include <string.h>

static const char *const array_names[5] = { "principalIds", "actions", "resourceTypes",
                                            "dataClassifications", "statuses" };

/* A ReportCriteria timestamp: a string that is RFC 3339. */
static bool ts_ok(const json_t *v, char *out, size_t cap, int64_t *us)
{
    if (!json_is_string(v))
        return false;
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (n >= cap || !adb__timestamp_parse(s, n, us))
        return false;
    memcpy(out, s, n + 1);
    return true;
}

static bool allowed_value(size_t k, const char *s)
{
    static const char *const cls[] = { "PUBLIC", "INTERNAL", "CONFIDENTIAL", "PHI", NULL };
    static const char *const sts[] = { "attempt", "success", "failure", NULL };
    const char *const *set = k == 3 ? cls : k == 4 ? sts : NULL;
    if (!set)
        return true;
    for (size_t i = 0; set[i]; i++)
        if (!strcmp(set[i], s))
            return true;
    return false;
}

adb_status adb__rq_base_init(adb__rq_base *b, const char *org, const json_t *criteria, char *field,
                             size_t fieldlen, char *err, size_t errlen)
{
    int64_t s_us, e_us;
    memset(b, 0, sizeof(*b));
    b->org = org;
    if (!json_is_object(criteria)) {
        adb__fmt(field, fieldlen, "criteria");
        adb__fmt(err, errlen, "criteria must be an object with a dateRange");
        return ADB_ERR_INVALID;
    }
    const json_t *dr = json_object_get(criteria, "dateRange");
    if (!json_is_object(dr)) {
        adb__fmt(field, fieldlen, "criteria.dateRange");
        adb__fmt(err, errlen, "criteria.dateRange must be an object with startDate and endDate");
        return ADB_ERR_INVALID;
    }
    if (!ts_ok(json_object_get(dr, "startDate"), b->start, sizeof(b->start), &s_us)) {
        adb__fmt(field, fieldlen, "criteria.dateRange.startDate");
        adb__fmt(err, errlen, "startDate must be an RFC 3339 date-time");
        return ADB_ERR_INVALID;
    }
    if (!ts_ok(json_object_get(dr, "endDate"), b->end, sizeof(b->end), &e_us)) {
        adb__fmt(field, fieldlen, "criteria.dateRange.endDate");
        adb__fmt(err, errlen, "endDate must be an RFC 3339 date-time");
        return ADB_ERR_INVALID;
    }
    if (s_us > e_us) {
        adb__fmt(field, fieldlen, "criteria.dateRange.endDate");
        adb__fmt(err, errlen, "start date must be before or equal to end date");
        return ADB_ERR_INVALID;
    }
    for (size_t k = 0; k < 5; k++) {
        const json_t *a = json_object_get(criteria, array_names[k]);
        if (!a || json_is_null(a))
            continue;
        if (!json_is_array(a) || json_array_size(a) > ADB_REPORT_CRITERIA_MAX) {
            adb__fmt(field, fieldlen, "criteria.%s", array_names[k]);
            adb__fmt(err, errlen, "criteria.%s must be an array of at most %d strings",
                     array_names[k], ADB_REPORT_CRITERIA_MAX);
            adb__rq_base_free(b);
            return ADB_ERR_INVALID;
        }
        adb__buf lit = { 0 };
        adb__buf_puts(&lit, "{");
        for (size_t i = 0; i < json_array_size(a); i++) {
            const json_t *e = json_array_get(a, i);
            const char *s = json_string_value(e);
            if (!s || !*s || json_string_length(e) > 255 || strlen(s) != json_string_length(e) ||
                !allowed_value(k, s)) {
                adb__fmt(field, fieldlen, "criteria.%s[%zu]", array_names[k], i);
                adb__fmt(err, errlen, "criteria.%s[%zu] must be %s", array_names[k], i,
                         k == 3   ? "one of PUBLIC, INTERNAL, CONFIDENTIAL, PHI"
                         : k == 4 ? "one of attempt, success, failure"
                                  : "a string of 1 to 255 bytes");
                adb__buf_free(&lit);
                adb__rq_base_free(b);
                return ADB_ERR_INVALID;
            }
            if (i)
                adb__buf_puts(&lit, ",");
            adb__buf_array_elem(&lit, s, strlen(s));
        }
        adb__buf_puts(&lit, "}");
        if (!(b->arrays[k] = adb__buf_take(&lit, NULL))) {
            adb__fmt(err, errlen, "out of memory");
            adb__rq_base_free(b);
            return ADB_ERR_NOMEM;
        }
    }
    b->params[0] = org;
    b->params[1] = b->start;
    b->params[2] = b->end;
    for (size_t k = 0; k < 5; k++)
        b->params[3 + k] = b->arrays[k];
    return ADB_OK;
}

void adb__rq_base_free(adb__rq_base *b)
{
    for (size_t k = 0; k < 5; k++) {
        free(b->arrays[k]);
        b->arrays[k] = NULL;
    }
}

json_t *adb__rq_base_params(const adb__rq_base *b)
{
    json_t *a = json_array();
    for (size_t k = 0; a && k < 8; k++)
        json_array_append_new(a, b->params[k] ? json_string(b->params[k]) : json_null());
    return a;
}

void adb__rq_db_error(PGconn *c, const char *what, char *err, size_t errlen)
{
    adb__fmt(err, errlen, "could not %s: %s", what,
             PQstatus(c) == CONNECTION_OK ? "the query failed" : "the database is unavailable");
}

adb_status adb__rq_figures(PGconn *c, const adb__rq_base *b, const adb__rq_figure *f, size_t n,
                           json_t *figures, long long *counts, char *err, size_t errlen)
{
    adb__buf q = { 0 };
    adb_status st = ADB_OK;

    adb__buf_puts(&q, "SELECT ");
    for (size_t i = 0; i < n; i++)
        adb__buf_printf(&q, "%scount(*) FILTER (WHERE %s)", i ? ", " : "", f[i].cond);
    adb__buf_puts(&q, " FROM audit_log WHERE " ADB_REPORT_BASE);
    if (q.oom) {
        adb__buf_free(&q);
        adb__fmt(err, errlen, "out of memory");
        return ADB_ERR_NOMEM;
    }
    PGresult *r = PQexecParams(c, q.p, 8, NULL, b->params, NULL, NULL, 0);
    adb__buf_free(&q);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        adb__rq_db_error(c, "count the report's figures", err, errlen);
        PQclear(r);
        return ADB_ERR_DB_QUERY;
    }
    for (size_t i = 0; i < n; i++)
        counts[i] = strtoll(PQgetvalue(r, 0, (int)i), NULL, 10);
    PQclear(r);
    st = adb__rq_figures_counted(c, b, f, n, counts, figures, err, errlen);
    return st;
}

adb_status adb__rq_figures_counted(PGconn *c, const adb__rq_base *b, const adb__rq_figure *f,
                                   size_t n, const long long *counts, json_t *figures, char *err,
                                   size_t errlen)
{
    adb__buf q = { 0 };
    PGresult *r = NULL;
    adb_status st = ADB_OK;
    json_t **events = calloc(n ? n : 1, sizeof(*events));

    if (!events)
        return ADB_ERR_NOMEM;
    bool small = false;
    for (size_t i = 0; i < n; i++) {
        events[i] = json_array();
        if (counts[i] > 0 && counts[i] <= ADB_REPORT_SMALL_COUNT)
            small = true;
    }
    if (small) {
        /* the events of the small figures: each cond a column, rows where one holds */
        adb__buf_puts(&q, "SELECT event_id::text");
        for (size_t i = 0; i < n; i++)
            if (counts[i] > 0 && counts[i] <= ADB_REPORT_SMALL_COUNT)
                adb__buf_printf(&q, ", coalesce((%s), false)", f[i].cond);
        adb__buf_puts(&q, " FROM audit_log WHERE " ADB_REPORT_BASE " AND (false");
        for (size_t i = 0; i < n; i++)
            if (counts[i] > 0 && counts[i] <= ADB_REPORT_SMALL_COUNT)
                adb__buf_printf(&q, " OR (%s)", f[i].cond);
        adb__buf_printf(&q, ") ORDER BY \"timestamp\", id LIMIT %zu",
                        n * ADB_REPORT_SMALL_COUNT + 1);
        if (q.oom) {
            st = ADB_ERR_NOMEM;
            goto out;
        }
        r = PQexecParams(c, q.p, 8, NULL, b->params, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            adb__rq_db_error(c, "name the events of the report's figures", err, errlen);
            st = ADB_ERR_DB_QUERY;
            goto out;
        }
        for (int row = 0; row < PQntuples(r); row++) {
            int col = 1;
            for (size_t i = 0; i < n; i++) {
                if (!(counts[i] > 0 && counts[i] <= ADB_REPORT_SMALL_COUNT))
                    continue;
                if (PQgetvalue(r, row, col)[0] == 't' && !PQgetisnull(r, row, 0))
                    json_array_append_new(events[i], json_string(PQgetvalue(r, row, 0)));
                col++;
            }
        }
    }
    json_t *params = adb__rq_base_params(b);
    for (size_t i = 0; i < n; i++) {
        char *sql = adb__aprintf("SELECT count(*) FROM audit_log WHERE %s AND (%s)",
                                 ADB_REPORT_BASE, f[i].cond);
        json_t *o = json_pack("{s:s, s:s, s:I, s:s*, s:O}", "id", f[i].id, "label", f[i].label,
                              "value", (json_int_t)counts[i], "query", sql, "parameters", params);
        free(sql);
        if (!o) {
            st = ADB_ERR_NOMEM;
            break;
        }
        if (counts[i] <= ADB_REPORT_SMALL_COUNT) {
            json_object_set_new(o, "events", events[i]);
            events[i] = NULL;
        }
        json_array_append_new(figures, o);
    }
    json_decref(params);
out:
    if (st == ADB_ERR_NOMEM)
        adb__fmt(err, errlen, "out of memory");
    for (size_t i = 0; i < n; i++)
        json_decref(events[i]);
    free(events);
    PQclear(r);
    adb__buf_free(&q);
    return st;
}

static bool all_integers(const PGresult *r, int from, int to, int col)
{
    for (int i = from; i < to; i++) {
        const char *s = PQgetvalue(r, i, col);
        if (PQgetisnull(r, i, col) || !*s)
            return false;
        for (const char *p = s + (*s == '-'); *p; p++)
            if (*p < '0' || *p > '9')
                return false;
        if (strlen(s) > 15)
            return false;
    }
    return true;
}

adb_status adb__rq_table(PGconn *c, const adb__rq_base *b, int nparams, const char *id,
                         const char *title,
                         const char *const *columns, size_t ncol, const char *sql, json_t *tables,
                         json_t **out_rows, char *err, size_t errlen)
{
    static const int ident[16] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
    PGresult *r = PQexecParams(c, sql, nparams, NULL, b->params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQnfields(r) != (int)ncol || ncol > 16) {
        adb__rq_db_error(c, "read a report table", err, errlen);
        PQclear(r);
        return ADB_ERR_DB_QUERY;
    }
    adb_status st = adb__rq_table_from(r, 0, PQntuples(r), ident, id, title, columns, ncol, sql,
                                       tables, out_rows, err, errlen);
    PQclear(r);
    return st;
}

adb_status adb__rq_table_from(const PGresult *r, int from, int to, const int *cols,
                              const char *id, const char *title, const char *const *columns,
                              size_t ncol, const char *sql, json_t *tables, json_t **out_rows,
                              char *err, size_t errlen)
{
    if (to - from > ADB_REPORT_TABLE_ROWS)
        to = from + ADB_REPORT_TABLE_ROWS;
    bool num[16] = { 0 };
    for (size_t k = 0; k < ncol && k < 16; k++)
        num[k] = all_integers(r, from, to, cols[k]);
    json_t *jcols = json_array(), *rows = json_array();
    for (size_t k = 0; k < ncol; k++)
        json_array_append_new(jcols, json_string(columns[k]));
    for (int i = from; i < to; i++) {
        json_t *row = json_array();
        for (size_t k = 0; k < ncol; k++) {
            const char *v = PQgetisnull(r, i, cols[k]) ? "" : PQgetvalue(r, i, cols[k]);
            json_array_append_new(row, k < 16 && num[k] ? json_integer(strtoll(v, NULL, 10))
                                                        : json_string(v));
        }
        json_array_append_new(rows, row);
    }
    json_t *t = json_pack("{s:s, s:s, s:o, s:O, s:s}", "id", id, "title", title, "columns", jcols,
                          "rows", rows, "query", sql);
    if (!t) {
        json_decref(rows);
        adb__fmt(err, errlen, "out of memory");
        return ADB_ERR_NOMEM;
    }
    json_array_append_new(tables, t);
    if (out_rows)
        *out_rows = rows;
    else
        json_decref(rows);
    return ADB_OK;
}

adb_status adb__rq_chart(PGconn *c, const adb__rq_base *b, int nparams, const char *id,
                         const char *title,
                         const char *kind, const char *series_name, const char *sql,
                         json_t *charts, char *err, size_t errlen)
{
    PGresult *r = PQexecParams(c, sql, nparams, NULL, b->params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQnfields(r) != 2) {
        adb__rq_db_error(c, "read a report chart", err, errlen);
        PQclear(r);
        return ADB_ERR_DB_QUERY;
    }
    adb_status st = adb__rq_chart_from(r, 0, PQntuples(r), 0, 1, id, title, kind, series_name,
                                       sql, charts, err, errlen);
    PQclear(r);
    return st;
}

adb_status adb__rq_chart_from(const PGresult *r, int from, int to, int label_col, int value_col,
                              const char *id, const char *title, const char *kind,
                              const char *series_name, const char *sql, json_t *charts,
                              char *err, size_t errlen)
{
    json_t *labels = json_array(), *values = json_array();
    for (int i = from; i < to && i - from < ADB_REPORT_TABLE_ROWS; i++) {
        json_array_append_new(labels, json_string(PQgetisnull(r, i, label_col) ? "" : PQgetvalue(r, i, label_col)));
        json_array_append_new(values, json_integer(strtoll(PQgetvalue(r, i, value_col), NULL, 10)));
    }
    json_t *ch = json_pack("{s:s, s:s, s:s, s:o, s:[{s:s, s:o}], s:s}", "id", id, "title", title,
                           "kind", kind, "labels", labels, "series", "name", series_name,
                           "values", values, "query", sql);
    if (!ch) {
        adb__fmt(err, errlen, "out of memory");
        return ADB_ERR_NOMEM;
    }
    json_array_append_new(charts, ch);
    return ADB_OK;
}

long long adb__rq_figure_value(const json_t *figures, const char *id)
{
    const json_t *f = adb__rq_find_figure(figures, id);
    return f ? (long long)json_integer_value(json_object_get(f, "value")) : 0;
}

const json_t *adb__rq_find_figure(const json_t *figures, const char *id)
{
    for (size_t i = 0; i < json_array_size(figures); i++) {
        const json_t *f = json_array_get(figures, i);
        const char *fid = json_string_value(json_object_get(f, "id"));
        if (fid && !strcmp(fid, id))
            return f;
    }
    return NULL;
}
