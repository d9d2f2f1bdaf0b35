/*
 * render_formats.h - the renderers of a checked document (render_doc.h):
 * render_csv.c, render_xml.c and render_pdf.c, each appending its bytes to
 * out (out->oom set when memory ran out). Internal to src/report/; the
 * entry point is adb__report_render (render.c).
 */
#ifndef ADB_REPORT_RENDER_FORMATS_H
#define ADB_REPORT_RENDER_FORMATS_H

#include "render_doc.h"
#include "../core/buf.h"

void adb__render_csv(const adb__rdoc *d, adb__buf *out);
void adb__render_xml(const adb__rdoc *d, adb__buf *out);

/* The PDF needs cairo, which can fail on its own (a font, a surface): then
 * ADB_ERR_INTERNAL with cairo's reason in err and nothing appended. */
adb_status adb__render_pdf(const adb__rdoc *d, adb__buf *out, char *err, size_t errlen);

/* The workbook (render_xlsx.c): ADB_ERR_INVALID when a sheet would pass
 * Excel's row limit or the ZIP 4 GiB, ADB_ERR_NOMEM; nothing appended then. */
adb_status adb__render_xlsx(const adb__rdoc *d, adb__buf *out, char *err, size_t errlen);

#endif
