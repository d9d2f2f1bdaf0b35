/*
 * render_doc.h - the document as the renderers read it (render_doc.c): the
 * members of report.h's contract, checked once before any byte is written,
 * so that every rendering either carries the whole document or refuses it
 * with the member at fault. Internal to src/report/.
 */
#ifndef ADB_REPORT_RENDER_DOC_H
#define ADB_REPORT_RENDER_DOC_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "auditdb.h"

/* A PDF draws at most this many table rows in all (render_pdf.c): beyond,
 * the document is refused rather than cut (CSV, XML and JSON have no cap). */
#define ADB_REPORT_PDF_MAX_ROWS 200000

/* Borrowed views into the document (valid while it lives). An absent array
 * is NULL, which jansson's array functions (json_array_foreach, _size) read
 * as empty. */
typedef struct adb__rdoc {
    const char *title, *org, *period_start, *period_end;
    const char *generated_at;     /* NULL when the document has none */
    const char *report_type;      /* "reportType" or "type" when a string; else NULL */
    const json_t *figures;        /* [{id, label, value, query?, events?}] */
    const json_t *tables;         /* [{id, title, columns, rows}] */
    const json_t *charts;         /* [{id, title, kind, labels, series}] */
    const json_t *checkpoints;    /* provenance.checkpoints: [{origin, treeSize, rootHash}] */
    const json_t *provenance;     /* the object, or NULL */
    size_t table_rows;            /* rows of all tables */
} adb__rdoc;

/* Checks doc against report.h's contract and fills d. ADB_ERR_INVALID with
 * the member and why in err (e.g. "tables[1].rows[7]: 3 cells for 4
 * columns"); the arrays it reads are owned by doc. */
adb_status adb__rdoc_read(const json_t *doc, adb__rdoc *d, char *err, size_t errlen);

/* The text a rendering shows for a scalar member: a string as it is (n
 * bytes, may hold NUL), an integer in decimal, a real in the shortest form
 * that reads back as the same double, null as "". tmp (32 bytes) holds the
 * number's text; the result points into v or tmp. */
#define ADB_RDOC_NUM_MAX 32
const char *adb__rdoc_scalar(const json_t *v, char tmp[ADB_RDOC_NUM_MAX], size_t *n);

/* The string member key of o, or "" when absent (checked by adb__rdoc_read). */
const char *adb__rdoc_str(const json_t *o, const char *key, size_t *n);

#endif
