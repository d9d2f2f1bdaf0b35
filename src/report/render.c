/*
 * render.c - adb__report_render (report.h): the document checked once
 * (render_doc.c), then written by the renderer of the format asked for.
 * JSON is the source: its rendering is the document's own compact bytes.
 */
#include "report.h"
#include "render_doc.h"
#include "render_formats.h"
#include "../core/util.h"

#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name, *content_type;
} formats[] = {
    { "json", "application/json" },
    { "csv", "text/csv; charset=utf-8" },
    { "xml", "application/xml; charset=utf-8" },
    { "pdf", "application/pdf" },
    { "xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" },
};

adb_status adb__report_render(const json_t *doc, const char *fmt, adb__buf *out,
                              const char **content_type, char *err, size_t errlen)
{
    size_t i, start = out->len;
    adb__rdoc d;
    adb_status st;

    *content_type = NULL;
    for (i = 0; fmt && i < sizeof formats / sizeof formats[0]; i++)
        if (!strcmp(fmt, formats[i].name))
            break;
    if (!fmt || i == sizeof formats / sizeof formats[0]) {
        adb__fmt(err, errlen, "format: unknown report format \"%.32s\" (expected json, csv, xml, pdf or xlsx)",
                 fmt ? fmt : "");
        return ADB_ERR_INVALID;
    }
    if ((st = adb__rdoc_read(doc, &d, err, errlen)))
        return st;
    if (!strcmp(fmt, "pdf") && d.table_rows > ADB_REPORT_PDF_MAX_ROWS) {
        adb__fmt(err, errlen, "tables: %zu rows in all; a PDF report holds at most %d (use csv, xml or json)",
                 d.table_rows, ADB_REPORT_PDF_MAX_ROWS);
        return ADB_ERR_INVALID;
    }
    switch (fmt[0]) {
    case 'j': {
        char *s = json_dumps(doc, JSON_COMPACT);
        if (s)
            adb__buf_puts(out, s);
        else
            out->oom = true;
        free(s);
        break;
    }
    case 'c': adb__render_csv(&d, out); break;
    case 'x':
        if (!strcmp(fmt, "xlsx")) {
            if ((st = adb__render_xlsx(&d, out, err, errlen)))
                goto fail;
        } else {
            adb__render_xml(&d, out);
        }
        break;
    default:
        if ((st = adb__render_pdf(&d, out, err, errlen)))
            goto fail;
    }
    if (out->oom) {
        adb__fmt(err, errlen, "out of memory rendering the report as %s", fmt);
        st = ADB_ERR_NOMEM;
        goto fail;
    }
    *content_type = formats[i].content_type;
    return ADB_OK;
fail:
    out->len = start; /* nothing half-written */
    if (out->p)
        out->p[start] = '\0';
    return st;
}
