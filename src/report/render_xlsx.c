/*
 * render_xlsx.c - the document as an Office Open XML workbook (ECMA-376,
 * SpreadsheetML), written by us: a ZIP (zip.c, deflated with zlib) of the
 * package's parts, no spreadsheet library. One sheet per part of the
 * document, so that every number is a cell a spreadsheet sums:
 *
 *   "Report"      key, value lines (title, reportType, organizationId, period,
 *                 generatedAt), an empty line, then the figures: id, label,
 *                 value, query, events (ids joined by spaces)
 *   one per table row 1 "table", its id and title; row 2 its columns; then
 *                 its rows (the sheet is named after the title)
 *   one per chart row 1 "chart", its id, title and kind; row 2 "label" and the
 *                 series' names; then one row per label
 *   "Provenance"  origin, treeSize, rootHash per checkpoint, an empty line,
 *                 then the other members as name, value (objects as compact JSON)
 *
 * Text cells are inline strings (t="inlineStr"): never formulas, so a cell
 * starting with "=" is shown as text without the CSV's quote prefix; their
 * text goes through adb__xml_text. Numbers are <v> cells in adb__rdoc_scalar's
 * text, the same as CSV's, XML's and the PDF's. A text longer than a cell
 * holds (32,767 characters) is cut at 32,000 bytes and ends with "…" (the
 * whole text stays in JSON, CSV and XML). Deterministic: the entries' dates
 * come from generatedAt. docs/reports.md, "Renderings".
 */
#include "render_formats.h"
#include "render_escape.h"
#include "zip.h"
#include "../core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAIN_NS "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
#define REL_NS "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
#define XML_DECL "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"

/* a cell's text at most (Excel: 32,767 characters) */
#define CELL_TEXT_MAX 32000
/* rows of a sheet at most (Excel: 1,048,576) */
#define SHEET_ROWS_MAX 1048576
/* the workbook's sheets at most (a document of more tables and charts is refused) */
#define SHEETS_MAX 4096

typedef struct sheet {
    adb__buf x;
    unsigned row, col; /* the current row (1-based) and the next column (0-based) */
} sheet;

static void col_name(unsigned col, char out[8])
{
    char tmp[8];
    int n = 0;
    col++;
    while (col && n < 7) {
        tmp[n++] = (char)('A' + (col - 1) % 26);
        col = (col - 1) / 26;
    }
    for (int i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = '\0';
}

static void sheet_begin(sheet *s)
{
    memset(s, 0, sizeof(*s));
    adb__buf_puts(&s->x, XML_DECL "<worksheet xmlns=\"" MAIN_NS "\"><sheetData>");
}

static void row_begin(sheet *s)
{
    s->row++;
    s->col = 0;
    adb__buf_printf(&s->x, "<row r=\"%u\">", s->row);
}

static void row_end(sheet *s)
{
    adb__buf_puts(&s->x, "</row>");
}

/* An empty row (a separator). */
static void row_skip(sheet *s)
{
    s->row++;
}

/* A number cell: <c r="B7"><v>N</v></c>. */
static void cell_num(sheet *s, const char *t, size_t n)
{
    char c[8];
    col_name(s->col++, c);
    adb__buf_printf(&s->x, "<c r=\"%s%u\"><v>", c, s->row);
    adb__buf_put(&s->x, t, n);
    adb__buf_puts(&s->x, "</v></c>");
}

/* The length of s cut to at most max bytes at a character boundary. */
static size_t utf8_cut(const char *s, size_t n, size_t max)
{
    if (n <= max)
        return n;
    size_t k = max;
    while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
        k--;
    return k;
}

static void cell_text_n(sheet *s, const char *t, size_t n, bool bold)
{
    char c[8];
    col_name(s->col++, c);
    adb__buf_printf(&s->x, "<c r=\"%s%u\" t=\"inlineStr\"%s><is><t xml:space=\"preserve\">", c,
                    s->row, bold ? " s=\"1\"" : "");
    size_t k = utf8_cut(t, n, CELL_TEXT_MAX);
    adb__xml_text(&s->x, t, k);
    if (k < n)
        adb__buf_puts(&s->x, "\xE2\x80\xA6"); /* … */
    adb__buf_puts(&s->x, "</t></is></c>");
}

static void cell_text(sheet *s, const char *t, bool bold)
{
    cell_text_n(s, t ? t : "", t ? strlen(t) : 0, bold);
}

/* A cell from a scalar member: a string as text, a number as a number, null empty. */
static void cell(sheet *s, const json_t *v)
{
    char tmp[ADB_RDOC_NUM_MAX];
    size_t n;

    if (!v || json_is_null(v)) {
        s->col++;
        return;
    }
    const char *t = adb__rdoc_scalar(v, tmp, &n);
    if (json_is_string(v)) {
        cell_text_n(s, t, n, false);
        return;
    }
    cell_num(s, t, n);
}

static void kv(sheet *s, const char *key, const char *value)
{
    if (!value)
        return;
    row_begin(s);
    cell_text(s, key, true);
    cell_text(s, value, false);
    row_end(s);
}

/* The workbook being written: its parts go into the ZIP as they are made. */
typedef struct book {
    adb__zip z;
    adb__buf names;   /* "<sheet .../>" elements of workbook.xml */
    adb__buf used;    /* the sheet names so far, each NUL-terminated */
    unsigned sheets;
} book;

static bool name_used(const book *b, const char *name)
{
    for (size_t off = 0; off < b->used.len; off += strlen(b->used.p + off) + 1)
        if (!strcasecmp(b->used.p + off, name))
            return true;
    return false;
}

/* A sheet name Excel accepts from want: at most 31 characters (26 here, to
 * leave room for " (N)"), none of : \ / ? * [ ] or controls, not starting or
 * ending with ', not "History", unique (case-insensitive) in the workbook. */
static void sheet_name(book *b, const char *want, char out[128])
{
    size_t o = 0, chars = 0;
    const unsigned char *p = (const unsigned char *)(want ? want : "");
    while (*p && chars < 26 && o < 100) {
        size_t len = *p < 0x80 ? 1 : (*p >> 5) == 6 ? 2 : (*p >> 4) == 14 ? 3 : (*p >> 3) == 30 ? 4 : 1;
        bool ok = len > 1;
        for (size_t k = 1; k < len; k++)
            ok = ok && (p[k] & 0xC0) == 0x80;
        if (len > 1 && ok) {
            memcpy(out + o, p, len);
            o += len;
            p += len;
        } else {
            unsigned char ch = *p++;
            out[o++] = ch < 0x20 || ch >= 0x7f || strchr(":\\/?*[]", ch) ? '_' : (char)ch;
        }
        chars++;
    }
    out[o] = '\0';
    while (o && out[o - 1] == ' ')
        out[--o] = '\0';
    if (out[0] == '\'')
        out[0] = '_';
    if (o && out[o - 1] == '\'')
        out[o - 1] = '_';
    if (!o || !strcasecmp(out, "History"))
        memcpy(out + o, "_", 2), o++;
    char base[128];
    memcpy(base, out, o + 1);
    for (unsigned n = 2; name_used(b, out) && n < 10000; n++)
        adb__fmt(out, 128, "%.100s (%u)", base, n);
    adb__buf_put(&b->used, out, strlen(out) + 1);
}

/* Ends sheet s, named after want, and adds it to the workbook. */
static void book_add(book *b, sheet *s, const char *want)
{
    char name[128], part[48];
    adb__buf_puts(&s->x, "</sheetData></worksheet>");
    if (s->x.oom) {
        b->z.st = ADB_ERR_NOMEM;
    } else if (s->row > SHEET_ROWS_MAX || b->sheets >= SHEETS_MAX) {
        b->z.st = ADB_ERR_INVALID;
    } else {
        b->sheets++;
        sheet_name(b, want, name);
        adb__fmt(part, sizeof(part), "xl/worksheets/sheet%u.xml", b->sheets);
        adb__zip_add(&b->z, part, s->x.p, s->x.len);
        adb__buf_printf(&b->names, "<sheet name=\"");
        adb__xml_text(&b->names, name, strlen(name));
        adb__buf_printf(&b->names, "\" sheetId=\"%u\" r:id=\"rId%u\"/>", b->sheets, b->sheets);
    }
    adb__buf_free(&s->x);
}

static void report_sheet(book *b, const adb__rdoc *d)
{
    sheet s;
    size_t i, k;
    json_t *f, *e;

    sheet_begin(&s);
    kv(&s, "title", d->title);
    kv(&s, "reportType", d->report_type);
    kv(&s, "organizationId", d->org);
    kv(&s, "periodStart", d->period_start);
    kv(&s, "periodEnd", d->period_end);
    kv(&s, "generatedAt", d->generated_at);
    row_skip(&s);
    row_begin(&s);
    static const char *const head[] = { "id", "label", "value", "query", "events" };
    for (k = 0; k < 5; k++)
        cell_text(&s, head[k], true);
    row_end(&s);
    json_array_foreach(d->figures, i, f) {
        row_begin(&s);
        cell(&s, json_object_get(f, "id"));
        cell(&s, json_object_get(f, "label"));
        cell(&s, json_object_get(f, "value"));
        cell(&s, json_object_get(f, "query"));
        adb__buf events = { 0 };
        json_array_foreach(json_object_get(f, "events"), k, e) {
            if (k)
                adb__buf_put(&events, " ", 1);
            adb__buf_put(&events, json_string_value(e), json_string_length(e));
        }
        if (events.len)
            cell_text_n(&s, events.p, events.len, false);
        s.x.oom |= events.oom;
        adb__buf_free(&events);
        row_end(&s);
    }
    book_add(b, &s, "Report");
}

static void table_sheets(book *b, const adb__rdoc *d)
{
    size_t i, c, r;
    json_t *t, *v, *row;

    json_array_foreach(d->tables, i, t) {
        sheet s;
        size_t n;
        sheet_begin(&s);
        row_begin(&s);
        cell_text(&s, "table", true);
        cell(&s, json_object_get(t, "id"));
        cell(&s, json_object_get(t, "title"));
        row_end(&s);
        row_begin(&s);
        json_array_foreach(json_object_get(t, "columns"), c, v)
            cell_text_n(&s, json_string_value(v), json_string_length(v), true);
        row_end(&s);
        json_array_foreach(json_object_get(t, "rows"), r, row) {
            row_begin(&s);
            json_array_foreach(row, c, v)
                cell(&s, v);
            row_end(&s);
        }
        const char *title = adb__rdoc_str(t, "title", &n);
        book_add(b, &s, *title ? title : adb__rdoc_str(t, "id", &n));
    }
}

static void chart_sheets(book *b, const adb__rdoc *d)
{
    size_t i, k, j;
    json_t *ch, *se, *v;

    json_array_foreach(d->charts, i, ch) {
        sheet s;
        size_t n;
        json_t *series = json_object_get(ch, "series");
        sheet_begin(&s);
        row_begin(&s);
        cell_text(&s, "chart", true);
        cell(&s, json_object_get(ch, "id"));
        cell(&s, json_object_get(ch, "title"));
        cell(&s, json_object_get(ch, "kind"));
        row_end(&s);
        row_begin(&s);
        cell_text(&s, "label", true);
        json_array_foreach(series, k, se) {
            const char *name = adb__rdoc_str(se, "name", &n);
            cell_text_n(&s, name, n, true);
        }
        row_end(&s);
        json_array_foreach(json_object_get(ch, "labels"), j, v) {
            row_begin(&s);
            cell(&s, v);
            json_array_foreach(series, k, se)
                cell(&s, json_array_get(json_object_get(se, "values"), j));
            row_end(&s);
        }
        const char *title = adb__rdoc_str(ch, "title", &n);
        book_add(b, &s, *title ? title : adb__rdoc_str(ch, "id", &n));
    }
}

static void provenance_sheet(book *b, const adb__rdoc *d)
{
    sheet s;
    size_t i;
    json_t *cp, *v;
    const char *key;

    sheet_begin(&s);
    row_begin(&s);
    cell_text(&s, "origin", true);
    cell_text(&s, "treeSize", true);
    cell_text(&s, "rootHash", true);
    row_end(&s);
    json_array_foreach(d->checkpoints, i, cp) {
        row_begin(&s);
        cell(&s, json_object_get(cp, "origin"));
        cell(&s, json_object_get(cp, "treeSize"));
        cell(&s, json_object_get(cp, "rootHash"));
        row_end(&s);
    }
    if (d->provenance) {
        row_skip(&s);
        json_object_foreach((json_t *)d->provenance, key, v) {
            if (!strcmp(key, "checkpoints"))
                continue;
            row_begin(&s);
            cell_text(&s, key, true);
            if (json_is_string(v) || json_is_number(v) || json_is_null(v)) {
                cell(&s, v);
            } else {
                char *js = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
                if (js)
                    cell_text(&s, js, false);
                else
                    s.x.oom = true;
                free(js);
            }
            row_end(&s);
        }
    }
    book_add(b, &s, "Provenance");
}

static const char styles_xml[] =
    XML_DECL "<styleSheet xmlns=\"" MAIN_NS "\">"
    "<fonts count=\"2\"><font><sz val=\"11\"/><name val=\"Calibri\"/></font>"
    "<font><b/><sz val=\"11\"/><name val=\"Calibri\"/></font></fonts>"
    "<fills count=\"2\"><fill><patternFill patternType=\"none\"/></fill>"
    "<fill><patternFill patternType=\"gray125\"/></fill></fills>"
    "<borders count=\"1\"><border><left/><right/><top/><bottom/><diagonal/></border></borders>"
    "<cellStyleXfs count=\"1\"><xf numFmtId=\"0\" fontId=\"0\" fillId=\"0\" borderId=\"0\"/>"
    "</cellStyleXfs><cellXfs count=\"2\"><xf numFmtId=\"0\" fontId=\"0\" fillId=\"0\""
    " borderId=\"0\" xfId=\"0\"/><xf numFmtId=\"0\" fontId=\"1\" fillId=\"0\" borderId=\"0\""
    " xfId=\"0\" applyFont=\"1\"/></cellXfs><cellStyles count=\"1\"><cellStyle name=\"Normal\""
    " xfId=\"0\" builtinId=\"0\"/></cellStyles></styleSheet>";

static const char rels_xml[] =
    XML_DECL "<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">"
    "<Relationship Id=\"rId1\" Type=\"" REL_NS "/officeDocument\" Target=\"xl/workbook.xml\"/>"
    "</Relationships>";

adb_status adb__render_xlsx(const adb__rdoc *d, adb__buf *out, char *err, size_t errlen)
{
    book b;
    adb__buf part = { 0 };

    memset(&b, 0, sizeof(b));
    adb__zip_init(&b.z, d->generated_at ? d->generated_at : d->period_end);
    /* the sheets first (the workbook lists them), then the package's parts:
     * the order of entries in the ZIP does not matter to OPC readers */
    report_sheet(&b, d);
    table_sheets(&b, d);
    chart_sheets(&b, d);
    provenance_sheet(&b, d);

    adb__buf_puts(&part, XML_DECL "<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/"
                         "content-types\"><Default Extension=\"rels\" ContentType=\"application/"
                         "vnd.openxmlformats-package.relationships+xml\"/><Default Extension="
                         "\"xml\" ContentType=\"application/xml\"/><Override PartName=\"/xl/"
                         "workbook.xml\" ContentType=\"application/vnd.openxmlformats-"
                         "officedocument.spreadsheetml.sheet.main+xml\"/><Override PartName=\"/"
                         "xl/styles.xml\" ContentType=\"application/vnd.openxmlformats-"
                         "officedocument.spreadsheetml.styles+xml\"/>");
    for (unsigned i = 1; i <= b.sheets; i++)
        adb__buf_printf(&part, "<Override PartName=\"/xl/worksheets/sheet%u.xml\" ContentType="
                               "\"application/vnd.openxmlformats-officedocument.spreadsheetml."
                               "worksheet+xml\"/>", i);
    adb__buf_puts(&part, "</Types>");
    if (!part.oom)
        adb__zip_add(&b.z, "[Content_Types].xml", part.p, part.len);
    adb__zip_add(&b.z, "_rels/.rels", rels_xml, sizeof(rels_xml) - 1);

    part.len = 0;
    adb__buf_puts(&part, XML_DECL "<workbook xmlns=\"" MAIN_NS "\" xmlns:r=\"" REL_NS "\"><sheets>");
    adb__buf_put(&part, b.names.p ? b.names.p : "", b.names.len);
    adb__buf_puts(&part, "</sheets></workbook>");
    if (!part.oom)
        adb__zip_add(&b.z, "xl/workbook.xml", part.p, part.len);

    part.len = 0;
    adb__buf_puts(&part, XML_DECL "<Relationships xmlns=\"http://schemas.openxmlformats.org/"
                         "package/2006/relationships\">");
    for (unsigned i = 1; i <= b.sheets; i++)
        adb__buf_printf(&part, "<Relationship Id=\"rId%u\" Type=\"" REL_NS "/worksheet\""
                               " Target=\"worksheets/sheet%u.xml\"/>", i, i);
    adb__buf_printf(&part, "<Relationship Id=\"rId%u\" Type=\"" REL_NS "/styles\""
                           " Target=\"styles.xml\"/></Relationships>", b.sheets + 1);
    if (!part.oom)
        adb__zip_add(&b.z, "xl/_rels/workbook.xml.rels", part.p, part.len);
    adb__zip_add(&b.z, "xl/styles.xml", styles_xml, sizeof(styles_xml) - 1);
    if (part.oom || b.names.oom || b.used.oom)
        b.z.st = ADB_ERR_NOMEM;
    adb__buf_free(&part);
    adb__buf_free(&b.names);
    adb__buf_free(&b.used);
    adb_status st = adb__zip_finish(&b.z, out);
    if (st == ADB_ERR_INVALID)
        adb__fmt(err, errlen, "the workbook is too large for xlsx (a sheet holds at most %d rows,"
                 " an archive 4 GiB; use csv, xml or json)", SHEET_ROWS_MAX);
    else if (st != ADB_OK)
        adb__fmt(err, errlen, "out of memory rendering the report as xlsx");
    return st;
}
