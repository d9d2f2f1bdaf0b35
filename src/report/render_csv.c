/*
 * render_csv.c - the document as CSV (RFC 4180, CRLF line ends): blocks
 * separated by an empty line, each opened by a "section" line, so that a
 * spreadsheet shows the report top to bottom and a program can split it:
 *
 *   section,report          then key,value lines (title, organizationId, ...)
 *   section,figures         then id,label,value,query,events (events: ids joined by spaces)
 *   section,table,ID,TITLE  then the columns line and the rows
 *   section,chart,ID,TITLE,KIND  then label,SERIES... and one line per label
 *   section,provenance      then key,value lines (other members as compact JSON)
 *   section,checkpoints     then origin,treeSize,rootHash lines
 *
 * Text goes through adb__csv_cell (formula injection, render_escape.h);
 * numbers are written bare with adb__rdoc_scalar's text, the same as XML's
 * and the PDF's.
 */
#include "render_formats.h"
#include "render_escape.h"

#include <stdlib.h>
#include <string.h>

static void text(adb__buf *out, const char *s)
{
    adb__csv_cell(out, s, strlen(s));
}

/* A cell from a scalar member: text escaped, a number bare, null empty. */
static void cell(adb__buf *out, const json_t *v)
{
    char tmp[ADB_RDOC_NUM_MAX];
    size_t n;
    const char *s = adb__rdoc_scalar(v, tmp, &n);

    if (json_is_string(v))
        adb__csv_cell(out, s, n);
    else
        adb__buf_put(out, s, n);
}

static void kv(adb__buf *out, const char *key, const char *value)
{
    if (!value)
        return;
    text(out, key);
    adb__buf_put(out, ",", 1);
    text(out, value);
    adb__buf_puts(out, "\r\n");
}

static void figures(adb__buf *out, const adb__rdoc *d)
{
    size_t i, k;
    json_t *f, *e;

    adb__buf_puts(out, "\r\nsection,figures\r\nid,label,value,query,events\r\n");
    json_array_foreach(d->figures, i, f) {
        cell(out, json_object_get(f, "id"));
        adb__buf_put(out, ",", 1);
        cell(out, json_object_get(f, "label"));
        adb__buf_put(out, ",", 1);
        cell(out, json_object_get(f, "value"));
        adb__buf_put(out, ",", 1);
        cell(out, json_object_get(f, "query"));
        adb__buf_put(out, ",", 1);
        adb__buf events = { 0 };
        json_array_foreach(json_object_get(f, "events"), k, e) {
            if (k)
                adb__buf_put(&events, " ", 1);
            adb__buf_put(&events, json_string_value(e), json_string_length(e));
        }
        if (events.len)
            adb__csv_cell(out, events.p, events.len);
        out->oom |= events.oom;
        adb__buf_free(&events);
        adb__buf_puts(out, "\r\n");
    }
}

static void tables(adb__buf *out, const adb__rdoc *d)
{
    size_t i, c, r;
    json_t *t, *v, *row;

    json_array_foreach(d->tables, i, t) {
        adb__buf_puts(out, "\r\nsection,table,");
        cell(out, json_object_get(t, "id"));
        adb__buf_put(out, ",", 1);
        cell(out, json_object_get(t, "title"));
        adb__buf_puts(out, "\r\n");
        json_array_foreach(json_object_get(t, "columns"), c, v) {
            if (c)
                adb__buf_put(out, ",", 1);
            cell(out, v);
        }
        adb__buf_puts(out, "\r\n");
        json_array_foreach(json_object_get(t, "rows"), r, row) {
            json_array_foreach(row, c, v) {
                if (c)
                    adb__buf_put(out, ",", 1);
                cell(out, v);
            }
            adb__buf_puts(out, "\r\n");
        }
    }
}

static void charts(adb__buf *out, const adb__rdoc *d)
{
    size_t i, k, j;
    json_t *ch, *se, *label;

    json_array_foreach(d->charts, i, ch) {
        json_t *series = json_object_get(ch, "series");
        adb__buf_puts(out, "\r\nsection,chart,");
        cell(out, json_object_get(ch, "id"));
        adb__buf_put(out, ",", 1);
        cell(out, json_object_get(ch, "title"));
        adb__buf_put(out, ",", 1);
        cell(out, json_object_get(ch, "kind"));
        adb__buf_puts(out, "\r\nlabel");
        json_array_foreach(series, k, se) {
            adb__buf_put(out, ",", 1);
            cell(out, json_object_get(se, "name"));
        }
        adb__buf_puts(out, "\r\n");
        json_array_foreach(json_object_get(ch, "labels"), j, label) {
            cell(out, label);
            json_array_foreach(series, k, se) {
                adb__buf_put(out, ",", 1);
                cell(out, json_array_get(json_object_get(se, "values"), j));
            }
            adb__buf_puts(out, "\r\n");
        }
    }
}

static void provenance(adb__buf *out, const adb__rdoc *d)
{
    const char *key;
    json_t *v, *cp;
    size_t i;

    if (d->provenance) {
        adb__buf_puts(out, "\r\nsection,provenance\r\n");
        json_object_foreach((json_t *)d->provenance, key, v) {
            if (!strcmp(key, "checkpoints"))
                continue;
            text(out, key);
            adb__buf_put(out, ",", 1);
            if (json_is_string(v) || json_is_number(v) || json_is_null(v)) {
                cell(out, v);
            } else {
                char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
                if (!s)
                    out->oom = true;
                else
                    text(out, s);
                free(s);
            }
            adb__buf_puts(out, "\r\n");
        }
    }
    if (json_array_size(d->checkpoints) == 0)
        return;
    adb__buf_puts(out, "\r\nsection,checkpoints\r\norigin,treeSize,rootHash\r\n");
    json_array_foreach(d->checkpoints, i, cp) {
        cell(out, json_object_get(cp, "origin"));
        adb__buf_put(out, ",", 1);
        cell(out, json_object_get(cp, "treeSize"));
        adb__buf_put(out, ",", 1);
        cell(out, json_object_get(cp, "rootHash"));
        adb__buf_puts(out, "\r\n");
    }
}

void adb__render_csv(const adb__rdoc *d, adb__buf *out)
{
    adb__buf_puts(out, "section,report\r\n");
    kv(out, "title", d->title);
    kv(out, "reportType", d->report_type);
    kv(out, "organizationId", d->org);
    kv(out, "periodStart", d->period_start);
    kv(out, "periodEnd", d->period_end);
    kv(out, "generatedAt", d->generated_at);
    figures(out, d);
    tables(out, d);
    charts(out, d);
    provenance(out, d);
}
