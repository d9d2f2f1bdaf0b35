/*
 * render_doc.c - reads and checks the document for the renderers
 * (render_doc.h): one pass over report.h's members before any rendering
 * writes, and the one text of a number shared by CSV, XML and PDF.
 */
#include "render_doc.h"
#include "../core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static adb_status bad(char *err, size_t errlen, const char *path, const char *why)
{
    adb__fmt(err, errlen, "%s: %s", path, why);
    return ADB_ERR_INVALID;
}

/* The string member key of o into *out: required or not. */
static adb_status want_str(const json_t *o, const char *key, bool required, const char *at,
                           const char **out, char *err, size_t errlen)
{
    char path[160];
    json_t *v = json_object_get(o, key);

    *out = NULL;
    adb__fmt(path, sizeof path, "%s%s%s", at, *at ? "." : "", key);
    if (!v || json_is_null(v))
        return required ? bad(err, errlen, path, "required (a string)") : ADB_OK;
    if (!json_is_string(v))
        return bad(err, errlen, path, "expected a string");
    if (strlen(json_string_value(v)) != json_string_length(v))
        return bad(err, errlen, path, "holds a NUL character");
    *out = json_string_value(v);
    return ADB_OK;
}

/* The array member key of o (absent or null: NULL, which reads as empty). */
static adb_status want_array(const json_t *o, const char *key, const char *at, const json_t **out,
                             char *err, size_t errlen)
{
    char path[160];
    json_t *v = json_object_get(o, key);

    adb__fmt(path, sizeof path, "%s%s%s", at, *at ? "." : "", key);
    *out = NULL;
    if (!v || json_is_null(v))
        return ADB_OK; /* jansson's array functions read NULL as empty */
    if (!json_is_array(v))
        return bad(err, errlen, path, "expected an array");
    *out = v;
    return ADB_OK;
}

static adb_status read_figures(const json_t *figs, char *err, size_t errlen)
{
    size_t i, k;
    json_t *f, *e;
    char at[64];
    const char *s;
    adb_status st;

    json_array_foreach(figs, i, f) {
        adb__fmt(at, sizeof at, "figures[%zu]", i);
        if (!json_is_object(f))
            return bad(err, errlen, at, "expected an object");
        if ((st = want_str(f, "id", true, at, &s, err, errlen)) ||
            (st = want_str(f, "label", true, at, &s, err, errlen)) ||
            (st = want_str(f, "query", false, at, &s, err, errlen)))
            return st;
        if (!json_is_number(json_object_get(f, "value"))) {
            adb__fmt(at, sizeof at, "figures[%zu].value", i);
            return bad(err, errlen, at, "required (a number)");
        }
        const json_t *events;
        if ((st = want_array(f, "events", at, &events, err, errlen)))
            return st;
        json_array_foreach(events, k, e)
            if (!json_is_string(e)) {
                adb__fmt(at, sizeof at, "figures[%zu].events[%zu]", i, k);
                return bad(err, errlen, at, "expected a string (an event id)");
            }
    }
    return ADB_OK;
}

static adb_status read_tables(const json_t *tables, size_t *nrows, char *err, size_t errlen)
{
    size_t i, k, r, c;
    json_t *t, *v, *row, *cell;
    char at[96];
    const char *s;
    adb_status st;

    *nrows = 0;
    json_array_foreach(tables, i, t) {
        adb__fmt(at, sizeof at, "tables[%zu]", i);
        if (!json_is_object(t))
            return bad(err, errlen, at, "expected an object");
        if ((st = want_str(t, "id", true, at, &s, err, errlen)) ||
            (st = want_str(t, "title", true, at, &s, err, errlen)))
            return st;
        json_t *cols = json_object_get(t, "columns"), *rows = json_object_get(t, "rows");
        if (!json_is_array(cols) || json_array_size(cols) == 0) {
            adb__fmt(at, sizeof at, "tables[%zu].columns", i);
            return bad(err, errlen, at, "required (an array of at least one column name)");
        }
        json_array_foreach(cols, k, v)
            if (!json_is_string(v)) {
                adb__fmt(at, sizeof at, "tables[%zu].columns[%zu]", i, k);
                return bad(err, errlen, at, "expected a string");
            }
        if (!json_is_array(rows)) {
            adb__fmt(at, sizeof at, "tables[%zu].rows", i);
            return bad(err, errlen, at, "required (an array of rows)");
        }
        json_array_foreach(rows, r, row) {
            adb__fmt(at, sizeof at, "tables[%zu].rows[%zu]", i, r);
            if (!json_is_array(row))
                return bad(err, errlen, at, "expected an array of cells");
            if (json_array_size(row) != json_array_size(cols)) {
                char why[96];
                adb__fmt(why, sizeof why, "%zu cells for %zu columns", json_array_size(row),
                         json_array_size(cols));
                return bad(err, errlen, at, why);
            }
            json_array_foreach(row, c, cell)
                if (!json_is_string(cell) && !json_is_number(cell) && !json_is_null(cell)) {
                    adb__fmt(at, sizeof at, "tables[%zu].rows[%zu][%zu]", i, r, c);
                    return bad(err, errlen, at, "expected a string, a number or null");
                }
        }
        *nrows += json_array_size(rows);
    }
    return ADB_OK;
}

static adb_status read_charts(const json_t *charts, char *err, size_t errlen)
{
    size_t i, k, j;
    json_t *ch, *v, *se;
    char at[96];
    const char *s;
    adb_status st;

    json_array_foreach(charts, i, ch) {
        adb__fmt(at, sizeof at, "charts[%zu]", i);
        if (!json_is_object(ch))
            return bad(err, errlen, at, "expected an object");
        if ((st = want_str(ch, "id", true, at, &s, err, errlen)) ||
            (st = want_str(ch, "title", true, at, &s, err, errlen)) ||
            (st = want_str(ch, "kind", true, at, &s, err, errlen)))
            return st;
        if (strcmp(s, "bar") && strcmp(s, "line")) {
            adb__fmt(at, sizeof at, "charts[%zu].kind", i);
            return bad(err, errlen, at, "expected \"bar\" or \"line\"");
        }
        json_t *labels = json_object_get(ch, "labels"), *series = json_object_get(ch, "series");
        if (!json_is_array(labels)) {
            adb__fmt(at, sizeof at, "charts[%zu].labels", i);
            return bad(err, errlen, at, "required (an array of strings)");
        }
        json_array_foreach(labels, k, v)
            if (!json_is_string(v)) {
                adb__fmt(at, sizeof at, "charts[%zu].labels[%zu]", i, k);
                return bad(err, errlen, at, "expected a string");
            }
        if (!json_is_array(series)) {
            adb__fmt(at, sizeof at, "charts[%zu].series", i);
            return bad(err, errlen, at, "required (an array of series)");
        }
        json_array_foreach(series, k, se) {
            adb__fmt(at, sizeof at, "charts[%zu].series[%zu]", i, k);
            if (!json_is_object(se))
                return bad(err, errlen, at, "expected an object");
            if ((st = want_str(se, "name", true, at, &s, err, errlen)))
                return st;
            json_t *vals = json_object_get(se, "values");
            adb__fmt(at, sizeof at, "charts[%zu].series[%zu].values", i, k);
            if (!json_is_array(vals))
                return bad(err, errlen, at, "required (an array of numbers)");
            if (json_array_size(vals) != json_array_size(labels)) {
                char why[96];
                adb__fmt(why, sizeof why, "%zu values for %zu labels", json_array_size(vals),
                         json_array_size(labels));
                return bad(err, errlen, at, why);
            }
            json_array_foreach(vals, j, v)
                if (!json_is_number(v)) {
                    adb__fmt(at, sizeof at, "charts[%zu].series[%zu].values[%zu]", i, k, j);
                    return bad(err, errlen, at, "expected a number");
                }
        }
    }
    return ADB_OK;
}

static adb_status read_checkpoints(const json_t *cps, char *err, size_t errlen)
{
    size_t i;
    json_t *cp;
    char at[64];
    const char *s;
    adb_status st;

    json_array_foreach(cps, i, cp) {
        adb__fmt(at, sizeof at, "provenance.checkpoints[%zu]", i);
        if (!json_is_object(cp))
            return bad(err, errlen, at, "expected an object");
        if ((st = want_str(cp, "origin", true, at, &s, err, errlen)) ||
            (st = want_str(cp, "rootHash", true, at, &s, err, errlen)))
            return st;
        if (!json_is_integer(json_object_get(cp, "treeSize"))) {
            adb__fmt(at, sizeof at, "provenance.checkpoints[%zu].treeSize", i);
            return bad(err, errlen, at, "required (an integer)");
        }
    }
    return ADB_OK;
}

adb_status adb__rdoc_read(const json_t *doc, adb__rdoc *d, char *err, size_t errlen)
{
    adb_status st;
    const char *s;

    memset(d, 0, sizeof *d);
    if (!json_is_object(doc))
        return bad(err, errlen, "document", "expected a JSON object");
    if ((st = want_str(doc, "title", true, "", &d->title, err, errlen)) ||
        (st = want_str(doc, "organizationId", true, "", &d->org, err, errlen)) ||
        (st = want_str(doc, "generatedAt", false, "", &d->generated_at, err, errlen)))
        return st;
    json_t *period = json_object_get(doc, "period");
    if (!json_is_object(period))
        return bad(err, errlen, "period", "required (an object with start and end)");
    if ((st = want_str(period, "start", true, "period", &d->period_start, err, errlen)) ||
        (st = want_str(period, "end", true, "period", &d->period_end, err, errlen)))
        return st;
    if (want_str(doc, "reportType", false, "", &s, err, errlen) == ADB_OK && s)
        d->report_type = s;
    else if (want_str(doc, "type", false, "", &s, err, errlen) == ADB_OK && s)
        d->report_type = s;
    if ((st = want_array(doc, "figures", "", &d->figures, err, errlen)) ||
        (st = want_array(doc, "tables", "", &d->tables, err, errlen)) ||
        (st = want_array(doc, "charts", "", &d->charts, err, errlen)))
        return st;
    json_t *prov = json_object_get(doc, "provenance");
    if (prov && !json_is_null(prov) && !json_is_object(prov))
        return bad(err, errlen, "provenance", "expected an object");
    d->provenance = json_is_object(prov) ? prov : NULL;
    if ((st = want_array(d->provenance, "checkpoints", "provenance", &d->checkpoints, err, errlen)))
        return st;
    if ((st = read_figures(d->figures, err, errlen)) ||
        (st = read_tables(d->tables, &d->table_rows, err, errlen)) ||
        (st = read_charts(d->charts, err, errlen)) ||
        (st = read_checkpoints(d->checkpoints, err, errlen)))
        return st;
    return ADB_OK;
}

const char *adb__rdoc_scalar(const json_t *v, char tmp[ADB_RDOC_NUM_MAX], size_t *n)
{
    if (json_is_string(v)) {
        *n = json_string_length(v);
        return json_string_value(v);
    }
    tmp[0] = '\0';
    if (json_is_integer(v)) {
        snprintf(tmp, ADB_RDOC_NUM_MAX, "%lld", (long long)json_integer_value(v));
    } else if (json_is_real(v)) {
        double x = json_real_value(v);
        for (int p = 1; p <= 17; p++) { /* the shortest text that reads back as x */
            snprintf(tmp, ADB_RDOC_NUM_MAX, "%.*g", p, x);
            if (strtod(tmp, NULL) == x)
                break;
        }
    }
    *n = strlen(tmp);
    return tmp;
}

const char *adb__rdoc_str(const json_t *o, const char *key, size_t *n)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v)) {
        *n = 0;
        return "";
    }
    *n = json_string_length(v);
    return json_string_value(v);
}
