/*
 * render_xml.c - the document as XML 1.0 (UTF-8): free text in elements,
 * names in attributes, every value through adb__xml_text (render_escape.h),
 * numbers in adb__rdoc_scalar's text, the same as CSV's and the PDF's:
 *
 *   <report organizationId= reportType= generatedAt=>
 *     <title/> <period start= end=/>
 *     <figures><figure id= value=><label/><query/><events><event/></events></figure></figures>
 *     <tables><table id=><title/><columns><column/></columns>
 *       <row><cell column=>...</cell></row></table></tables>
 *     <charts><chart id= kind=><title/><labels><label/></labels>
 *       <series name=><value label=>N</value></series></chart></charts>
 *     <provenance><checkpoint origin= treeSize= rootHash=/><member name=>...</member></provenance>
 *   </report>
 *
 * A null table cell is an empty <cell> with nil="true".
 */
#include "render_formats.h"
#include "render_escape.h"

#include <stdlib.h>
#include <string.h>

/* name="value" (a leading space) from a scalar; nothing when v is absent. */
static void attr(adb__buf *out, const char *name, const json_t *v)
{
    char tmp[ADB_RDOC_NUM_MAX];
    size_t n;

    if (!v)
        return;
    const char *s = adb__rdoc_scalar(v, tmp, &n);
    adb__buf_printf(out, " %s=\"", name);
    adb__xml_text(out, s, n);
    adb__buf_put(out, "\"", 1);
}

static void attr_str(adb__buf *out, const char *name, const char *s)
{
    if (!s)
        return;
    adb__buf_printf(out, " %s=\"", name);
    adb__xml_text(out, s, strlen(s));
    adb__buf_put(out, "\"", 1);
}

/* <name>text</name> from a scalar (nothing when absent). */
static void elem(adb__buf *out, const char *name, const json_t *v)
{
    char tmp[ADB_RDOC_NUM_MAX];
    size_t n;

    if (!v)
        return;
    const char *s = adb__rdoc_scalar(v, tmp, &n);
    adb__buf_printf(out, "<%s>", name);
    adb__xml_text(out, s, n);
    adb__buf_printf(out, "</%s>", name);
}

static void figures(adb__buf *out, const adb__rdoc *d)
{
    size_t i, k;
    json_t *f, *e;

    adb__buf_puts(out, "  <figures>\n");
    json_array_foreach(d->figures, i, f) {
        adb__buf_puts(out, "    <figure");
        attr(out, "id", json_object_get(f, "id"));
        attr(out, "value", json_object_get(f, "value"));
        adb__buf_puts(out, ">");
        elem(out, "label", json_object_get(f, "label"));
        elem(out, "query", json_object_get(f, "query"));
        json_t *events = json_object_get(f, "events");
        if (json_is_array(events)) {
            adb__buf_puts(out, "<events>");
            json_array_foreach(events, k, e)
                elem(out, "event", e);
            adb__buf_puts(out, "</events>");
        }
        adb__buf_puts(out, "</figure>\n");
    }
    adb__buf_puts(out, "  </figures>\n");
}

static void tables(adb__buf *out, const adb__rdoc *d)
{
    size_t i, c, r;
    json_t *t, *v, *row;

    adb__buf_puts(out, "  <tables>\n");
    json_array_foreach(d->tables, i, t) {
        json_t *cols = json_object_get(t, "columns");
        adb__buf_puts(out, "    <table");
        attr(out, "id", json_object_get(t, "id"));
        adb__buf_puts(out, ">");
        elem(out, "title", json_object_get(t, "title"));
        adb__buf_puts(out, "<columns>");
        json_array_foreach(cols, c, v)
            elem(out, "column", v);
        adb__buf_puts(out, "</columns>\n");
        json_array_foreach(json_object_get(t, "rows"), r, row) {
            adb__buf_puts(out, "      <row>");
            json_array_foreach(row, c, v) {
                adb__buf_puts(out, "<cell");
                attr(out, "column", json_array_get(cols, c));
                if (json_is_null(v)) {
                    adb__buf_puts(out, " nil=\"true\"/>");
                    continue;
                }
                adb__buf_puts(out, ">");
                char tmp[ADB_RDOC_NUM_MAX];
                size_t n;
                const char *s = adb__rdoc_scalar(v, tmp, &n);
                adb__xml_text(out, s, n);
                adb__buf_puts(out, "</cell>");
            }
            adb__buf_puts(out, "</row>\n");
        }
        adb__buf_puts(out, "    </table>\n");
    }
    adb__buf_puts(out, "  </tables>\n");
}

static void charts(adb__buf *out, const adb__rdoc *d)
{
    size_t i, k, j;
    json_t *ch, *se, *v;

    adb__buf_puts(out, "  <charts>\n");
    json_array_foreach(d->charts, i, ch) {
        json_t *labels = json_object_get(ch, "labels");
        adb__buf_puts(out, "    <chart");
        attr(out, "id", json_object_get(ch, "id"));
        attr(out, "kind", json_object_get(ch, "kind"));
        adb__buf_puts(out, ">");
        elem(out, "title", json_object_get(ch, "title"));
        adb__buf_puts(out, "<labels>");
        json_array_foreach(labels, j, v)
            elem(out, "label", v);
        adb__buf_puts(out, "</labels>\n");
        json_array_foreach(json_object_get(ch, "series"), k, se) {
            adb__buf_puts(out, "      <series");
            attr(out, "name", json_object_get(se, "name"));
            adb__buf_puts(out, ">");
            json_array_foreach(json_object_get(se, "values"), j, v) {
                adb__buf_puts(out, "<value");
                attr(out, "label", json_array_get(labels, j));
                adb__buf_puts(out, ">");
                char tmp[ADB_RDOC_NUM_MAX];
                size_t n;
                const char *s = adb__rdoc_scalar(v, tmp, &n);
                adb__buf_put(out, s, n);
                adb__buf_puts(out, "</value>");
            }
            adb__buf_puts(out, "</series>\n");
        }
        adb__buf_puts(out, "    </chart>\n");
    }
    adb__buf_puts(out, "  </charts>\n");
}

static void provenance(adb__buf *out, const adb__rdoc *d)
{
    size_t i;
    json_t *cp, *v;
    const char *key;

    adb__buf_puts(out, "  <provenance>\n");
    json_array_foreach(d->checkpoints, i, cp) {
        adb__buf_puts(out, "    <checkpoint");
        attr(out, "origin", json_object_get(cp, "origin"));
        attr(out, "treeSize", json_object_get(cp, "treeSize"));
        attr(out, "rootHash", json_object_get(cp, "rootHash"));
        adb__buf_puts(out, "/>\n");
    }
    if (d->provenance)
        json_object_foreach((json_t *)d->provenance, key, v) {
            if (!strcmp(key, "checkpoints"))
                continue;
            adb__buf_puts(out, "    <member");
            attr_str(out, "name", key);
            adb__buf_puts(out, ">");
            if (json_is_string(v) || json_is_number(v) || json_is_null(v)) {
                char tmp[ADB_RDOC_NUM_MAX];
                size_t n;
                const char *s = adb__rdoc_scalar(v, tmp, &n);
                adb__xml_text(out, s, n);
            } else {
                char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
                if (s)
                    adb__xml_text(out, s, strlen(s));
                else
                    out->oom = true;
                free(s);
            }
            adb__buf_puts(out, "</member>\n");
        }
    adb__buf_puts(out, "  </provenance>\n");
}

void adb__render_xml(const adb__rdoc *d, adb__buf *out)
{
    adb__buf_puts(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<report");
    attr_str(out, "organizationId", d->org);
    attr_str(out, "reportType", d->report_type);
    attr_str(out, "generatedAt", d->generated_at);
    adb__buf_puts(out, ">\n  ");
    adb__buf_puts(out, "<title>");
    adb__xml_text(out, d->title, strlen(d->title));
    adb__buf_puts(out, "</title>\n  <period");
    attr_str(out, "start", d->period_start);
    attr_str(out, "end", d->period_end);
    adb__buf_puts(out, "/>\n");
    figures(out, d);
    tables(out, d);
    charts(out, d);
    provenance(out, d);
    adb__buf_puts(out, "</report>\n");
}
