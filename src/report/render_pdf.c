/*
 * render_pdf.c - the document as a PDF with cairo's PDF surface
 * (docs/reports.md, "Renderings"): a title page with the figures and the
 * log checkpoints read, one bar or line chart per chart with axes, ticks,
 * labels and a legend, the tables across as many pages as they take (the
 * header repeated), and an appendix with each figure's query and events.
 *
 * Text is drawn with cairo's "toy" font API (DejaVu Sans through
 * fontconfig): reports are left-to-right tables of ids, labels and numbers
 * that need no shaping, so pango is not worth its dependencies; a text too
 * wide for its cell is cut with an ellipsis (the whole text is in the JSON,
 * CSV and XML renderings). Every string passes adb__pdf_text first: cairo
 * puts a context in an error state for ever on a string that is not UTF-8.
 *
 * Deterministic: the PDF's creation and modification dates come from the
 * document's generatedAt (else period.end), never from the clock, so that
 * the same document and the same fonts give the same bytes.
 */
#include "render_formats.h"
#include "render_escape.h"
#include "../core/util.h"

#include <cairo-pdf.h>
#include <cairo.h>
#include <fontconfig/fontconfig.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A4 in points, margins, the body's bottom and the footer's line */
#define PAGE_W 595.28
#define PAGE_H 841.89
#define MARGIN 50.0
#define CONTENT_W (PAGE_W - 2 * MARGIN)
#define BODY_BOTTOM (PAGE_H - 56.0)
#define FOOTER_Y (PAGE_H - 30.0)
#define ROW_H 14.0
#define CELL_PAD 4.0
#define CHART_H 250.0
#define SANS "DejaVu Sans"
#define MONO "DejaVu Sans Mono"
/* bytes of a text measured at most: wider than any cell at the smallest font */
#define TEXT_CAP 600
/* rows sampled to size a table's columns */
#define WIDTH_SAMPLE 200
/* bytes of a wrapped text read, lines of it shown */
#define WRAP_CAP 8192
#define QUERY_LINES 30

static const double palette[][3] = {
    { 0.16, 0.38, 0.66 }, { 0.89, 0.47, 0.12 }, { 0.20, 0.60, 0.32 },
    { 0.75, 0.20, 0.22 }, { 0.50, 0.36, 0.68 }, { 0.45, 0.45, 0.45 },
};
#define NPALETTE (sizeof palette / sizeof palette[0])

typedef struct pdf {
    cairo_t *cr;
    const adb__rdoc *d;
    double y;         /* where the next block starts on the page */
    int page;
    adb__buf text;    /* scratch: the sanitized text being drawn */
} pdf;

static cairo_status_t write_out(void *closure, const unsigned char *data, unsigned int length)
{
    adb__buf *out = closure;
    adb__buf_put(out, data, length);
    return out->oom ? CAIRO_STATUS_NO_MEMORY : CAIRO_STATUS_SUCCESS;
}

static void font(pdf *p, const char *family, bool bold, double size)
{
    cairo_select_font_face(p->cr, family, CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(p->cr, size);
}

static void gray(pdf *p, double g)
{
    cairo_set_source_rgb(p->cr, g, g, g);
}

/* s (n bytes) made drawable in p->text (valid UTF-8, no controls, at most
 * TEXT_CAP bytes cut at a character's start); returns p->text.p. */
static const char *clean(pdf *p, const char *s, size_t n)
{
    size_t cut = n;
    if (cut > TEXT_CAP) {
        cut = TEXT_CAP;
        while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
            cut--;
    }
    p->text.len = 0;
    adb__pdf_text(&p->text, s, cut);
    if (cut < n)
        adb__buf_puts(&p->text, "\xE2\x80\xA6"); /* … */
    return p->text.p ? p->text.p : "";
}

static double width_of(pdf *p, const char *s)
{
    cairo_text_extents_t e;
    cairo_text_extents(p->cr, s, &e);
    return e.x_advance;
}

/* Cuts p->text (clean()'s) so that it fits in w points, with an ellipsis
 * when cut (the longest prefix that fits, found by bisection); returns it. */
static const char *fit(pdf *p, double w)
{
    char probe[3 * TEXT_CAP + 16];
    if (!adb__buf_room(&p->text, 4)) /* room for the ellipsis after any cut */
        return "";
    char *s = p->text.p;
    if (width_of(p, s) <= w)
        return s;
    /* the characters' starts: cairo must never see a cut character */
    size_t starts[3 * TEXT_CAP + 16], nstarts = 0, len = strlen(s);
    for (size_t i = 0; i < len && nstarts < sizeof starts / sizeof starts[0]; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            starts[nstarts++] = i;
    size_t lo = 0, hi = nstarts; /* keeping lo characters fits; hi does not (all) */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2, cut = starts[mid];
        memcpy(probe, s, cut);
        memcpy(probe + cut, "\xE2\x80\xA6", 4);
        if (width_of(p, probe) <= w)
            lo = mid;
        else
            hi = mid;
    }
    if (lo == 0) {
        s[0] = '\0';
        return s;
    }
    lo = starts[lo];
    memcpy(s + lo, "\xE2\x80\xA6", 4); /* within the room made above */
    return s;
}

/* Draws s at (x, baseline y) within w points: left, or right-aligned. */
static void draw_text(pdf *p, const char *s, size_t n, double x, double y, double w, bool right)
{
    clean(p, s, n);
    const char *t = fit(p, w);
    if (right)
        x += w - width_of(p, t);
    cairo_move_to(p->cr, x, y);
    cairo_show_text(p->cr, t);
}

/* A number right-aligned within w points: never cut (a cut number would be
 * another number); a smaller size when it does not fit at the current one. */
static void draw_number(pdf *p, const char *s, size_t n, double x, double y, double w, double size)
{
    const char *t = clean(p, s, n);
    double tw = width_of(p, t);
    if (tw > w && tw > 0) {
        cairo_set_font_size(p->cr, size * w / tw);
        tw = width_of(p, t);
    }
    cairo_move_to(p->cr, x + w - tw, y);
    cairo_show_text(p->cr, t);
    cairo_set_font_size(p->cr, size);
}

static void draw_str(pdf *p, const char *s, double x, double y, double w, bool right)
{
    draw_text(p, s, strlen(s), x, y, w, right);
}

static void footer(pdf *p)
{
    char num[32];
    font(p, SANS, false, 7.5);
    gray(p, 0.45);
    cairo_move_to(p->cr, MARGIN, FOOTER_Y - 8);
    cairo_line_to(p->cr, PAGE_W - MARGIN, FOOTER_Y - 8);
    cairo_set_line_width(p->cr, 0.4);
    cairo_stroke(p->cr);
    adb__fmt(num, sizeof num, "page %d", p->page);
    adb__buf line = { 0 };
    adb__buf_puts(&line, p->d->title);
    adb__buf_puts(&line, " \xC2\xB7 ");
    adb__buf_puts(&line, p->d->org);
    if (line.p)
        draw_text(p, line.p, line.len, MARGIN, FOOTER_Y, CONTENT_W - 60, false);
    adb__buf_free(&line);
    draw_str(p, num, PAGE_W - MARGIN - 60, FOOTER_Y, 60, true);
}

static void new_page(pdf *p)
{
    footer(p);
    cairo_show_page(p->cr);
    p->page++;
    p->y = MARGIN;
}

/* Room for h more points on this page, else a new page. */
static void need(pdf *p, double h)
{
    if (p->y + h > BODY_BOTTOM)
        new_page(p);
}

static void heading(pdf *p, const char *s, double size)
{
    need(p, size * 2 + ROW_H * 2); /* never a heading alone at a page's foot */
    font(p, SANS, true, size);
    gray(p, 0.1);
    draw_str(p, s, MARGIN, p->y + size, CONTENT_W, false);
    p->y += size * 1.8;
}

/* ---- tables ---- */

typedef struct table {
    const char *title;
    size_t ncols, nrows;
    const char *const *headers; /* ncols; or NULL with head(): from json */
    const json_t *json_headers;
    double w[64];               /* column widths */
    bool right[64];             /* numbers: right-aligned */
    bool mono[64];              /* ids and hashes: monospace */
    /* the text of a cell (row, col): into tmp for a number */
    const char *(*cell)(const void *ud, size_t row, size_t col, char tmp[ADB_RDOC_NUM_MAX], size_t *n);
    const void *ud;
} table;

static void header_row(pdf *p, const table *t)
{
    double x = MARGIN;
    cairo_set_source_rgb(p->cr, 0.88, 0.90, 0.93);
    cairo_rectangle(p->cr, MARGIN, p->y, CONTENT_W, ROW_H + 2);
    cairo_fill(p->cr);
    font(p, SANS, true, 8);
    gray(p, 0.1);
    for (size_t c = 0; c < t->ncols; c++) {
        const json_t *h = t->json_headers ? json_array_get(t->json_headers, c) : NULL;
        const char *s = h ? json_string_value(h) : t->headers[c];
        size_t n = h ? json_string_length(h) : strlen(s);
        draw_text(p, s, n, x + CELL_PAD, p->y + 10.5, t->w[c] - 2 * CELL_PAD, t->right[c]);
        x += t->w[c];
    }
    p->y += ROW_H + 2;
}

static void draw_table(pdf *p, const table *t)
{
    char tmp[ADB_RDOC_NUM_MAX];
    size_t n;

    if (t->title)
        heading(p, t->title, 11);
    need(p, 2 * ROW_H + 4);
    header_row(p, t);
    if (t->nrows == 0) {
        font(p, SANS, false, 8);
        gray(p, 0.4);
        draw_str(p, "(no rows)", MARGIN + CELL_PAD, p->y + 10, CONTENT_W, false);
        p->y += ROW_H;
    }
    for (size_t r = 0; r < t->nrows; r++) {
        if (p->y + ROW_H > BODY_BOTTOM) {
            new_page(p);
            if (t->title) {
                font(p, SANS, true, 9);
                gray(p, 0.35);
                adb__buf cont = { 0 };
                adb__buf_puts(&cont, t->title);
                adb__buf_puts(&cont, " (continued)");
                if (cont.p)
                    draw_text(p, cont.p, cont.len, MARGIN, p->y + 9, CONTENT_W, false);
                adb__buf_free(&cont);
                p->y += 15;
            }
            header_row(p, t);
        }
        if (r % 2) {
            cairo_set_source_rgb(p->cr, 0.965, 0.97, 0.975);
            cairo_rectangle(p->cr, MARGIN, p->y, CONTENT_W, ROW_H);
            cairo_fill(p->cr);
        }
        double x = MARGIN;
        gray(p, 0.1);
        for (size_t c = 0; c < t->ncols; c++) {
            const char *s = t->cell(t->ud, r, c, tmp, &n);
            double size = t->mono[c] ? 7.5 : 8;
            font(p, t->mono[c] ? MONO : SANS, false, size);
            if (t->right[c])
                draw_number(p, s, n, x + CELL_PAD, p->y + 10, t->w[c] - 2 * CELL_PAD, size);
            else
                draw_text(p, s, n, x + CELL_PAD, p->y + 10, t->w[c] - 2 * CELL_PAD, false);
            x += t->w[c];
        }
        p->y += ROW_H;
    }
    cairo_set_line_width(p->cr, 0.5);
    gray(p, 0.6);
    cairo_move_to(p->cr, MARGIN, p->y);
    cairo_line_to(p->cr, PAGE_W - MARGIN, p->y);
    cairo_stroke(p->cr);
    p->y += 16;
}

/* Column widths from the header's and the sampled cells' natural widths
 * (each at least 36 points, a text column at most half the page): number
 * columns keep theirs, so that a number is never shrunk while there is
 * room, and the text columns share the rest in proportion. */
static void size_columns(pdf *p, table *t)
{
    char tmp[ADB_RDOC_NUM_MAX];
    size_t n;
    double want[64], nums = 0, texts = 0;

    for (size_t c = 0; c < t->ncols; c++) {
        const json_t *h = t->json_headers ? json_array_get(t->json_headers, c) : NULL;
        font(p, SANS, true, 8);
        want[c] = width_of(p, clean(p, h ? json_string_value(h) : t->headers[c],
                                    h ? json_string_length(h) : strlen(t->headers[c])));
        for (size_t r = 0; r < t->nrows && r < WIDTH_SAMPLE; r++) {
            const char *s = t->cell(t->ud, r, c, tmp, &n);
            font(p, t->mono[c] ? MONO : SANS, false, t->mono[c] ? 7.5 : 8);
            double w = width_of(p, clean(p, s, n < 120 ? n : 120));
            if (w > want[c])
                want[c] = w;
        }
        want[c] += 2 * CELL_PAD;
        if (want[c] < 36)
            want[c] = 36;
        if (!t->right[c] && want[c] > CONTENT_W / 2)
            want[c] = CONTENT_W / 2;
        if (t->right[c])
            nums += want[c];
        else
            texts += want[c];
    }
    /* numbers as wide as they need when they leave the text columns 30% */
    double num_scale = nums > 0 && (texts == 0 || nums > CONTENT_W * 0.7) ? CONTENT_W * (texts ? 0.7 : 1) / nums : 1;
    double text_scale = texts > 0 ? (CONTENT_W - nums * num_scale) / texts : 1;
    for (size_t c = 0; c < t->ncols; c++)
        t->w[c] = want[c] * (t->right[c] ? num_scale : text_scale);
}

/* the document's tables: cells from json */
static const char *json_cell(const void *ud, size_t row, size_t col, char tmp[ADB_RDOC_NUM_MAX], size_t *n)
{
    const json_t *v = json_array_get(json_array_get(json_object_get(ud, "rows"), row), col);
    return adb__rdoc_scalar(v, tmp, n);
}

static void doc_tables(pdf *p)
{
    size_t i, r;
    json_t *t;

    json_array_foreach(p->d->tables, i, t) {
        json_t *cols = json_object_get(t, "columns"), *rows = json_object_get(t, "rows");
        table tb = { .title = json_string_value(json_object_get(t, "title")),
                     .ncols = json_array_size(cols), .nrows = json_array_size(rows),
                     .json_headers = cols, .cell = json_cell, .ud = t };
        if (tb.ncols > 64) { /* more would not be readable: the first 64 (all in CSV, XML) */
            tb.ncols = 64;
        }
        for (size_t c = 0; c < tb.ncols; c++) {
            bool numbers = false, other = false;
            for (r = 0; r < tb.nrows && r < WIDTH_SAMPLE; r++) {
                json_t *v = json_array_get(json_array_get(rows, r), c);
                numbers |= json_is_number(v);
                other |= json_is_string(v);
            }
            tb.right[c] = numbers && !other;
        }
        size_columns(p, &tb);
        draw_table(p, &tb);
    }
}

/* the figures table: label, value, events listed */
static const char *figure_cell(const void *ud, size_t row, size_t col, char tmp[ADB_RDOC_NUM_MAX], size_t *n)
{
    const json_t *f = json_array_get(ud, row);
    if (col == 0)
        return adb__rdoc_str(f, "label", n);
    if (col == 1)
        return adb__rdoc_scalar(json_object_get(f, "value"), tmp, n);
    json_t *ev = json_object_get(f, "events");
    if (!json_is_array(ev)) {
        *n = 0;
        return "";
    }
    adb__fmt(tmp, ADB_RDOC_NUM_MAX, "%zu listed (A.%zu)", json_array_size(ev), row + 1);
    *n = strlen(tmp);
    return tmp;
}

static const char *checkpoint_cell(const void *ud, size_t row, size_t col, char tmp[ADB_RDOC_NUM_MAX], size_t *n)
{
    const json_t *cp = json_array_get(ud, row);
    if (col == 1)
        return adb__rdoc_scalar(json_object_get(cp, "treeSize"), tmp, n);
    return adb__rdoc_str(cp, col == 0 ? "origin" : "rootHash", n);
}

/* ---- the title page ---- */

static void key_value(pdf *p, const char *key, const char *value)
{
    if (!value)
        return;
    font(p, SANS, false, 9);
    gray(p, 0.4);
    draw_str(p, key, MARGIN, p->y + 10, 110, false);
    gray(p, 0.1);
    draw_str(p, value, MARGIN + 115, p->y + 10, CONTENT_W - 115, false);
    p->y += 15;
}

static void title_page(pdf *p)
{
    const adb__rdoc *d = p->d;

    font(p, SANS, false, 9);
    gray(p, 0.45);
    draw_str(p, "auditdb compliance report", MARGIN, p->y + 9, CONTENT_W, false);
    p->y += 30;
    font(p, SANS, true, 22);
    gray(p, 0.05);
    draw_str(p, d->title, MARGIN, p->y + 22, CONTENT_W, false);
    p->y += 44;
    key_value(p, "Report type", d->report_type);
    key_value(p, "Organization", d->org);
    key_value(p, "Period start", d->period_start);
    key_value(p, "Period end", d->period_end);
    key_value(p, "Generated at", d->generated_at);
    p->y += 8;
    cairo_set_line_width(p->cr, 0.8);
    gray(p, 0.7);
    cairo_move_to(p->cr, MARGIN, p->y);
    cairo_line_to(p->cr, PAGE_W - MARGIN, p->y);
    cairo_stroke(p->cr);
    p->y += 18;

    static const char *const fig_heads[] = { "Figure", "Value", "Events" };
    table ft = { .title = "Figures", .ncols = 3, .nrows = json_array_size(d->figures),
                 .headers = fig_heads, .cell = figure_cell, .ud = d->figures,
                 .right = { false, true, false } };
    size_columns(p, &ft);
    draw_table(p, &ft);

    if (json_array_size(d->checkpoints) > 0) {
        static const char *const cp_heads[] = { "Log (origin)", "Tree size", "Root hash" };
        table ct = { .title = "Log checkpoints read", .ncols = 3,
                     .nrows = json_array_size(d->checkpoints), .headers = cp_heads,
                     .cell = checkpoint_cell, .ud = d->checkpoints,
                     .right = { false, true, false }, .mono = { false, false, true } };
        size_columns(p, &ct);
        draw_table(p, &ct);
    }
}

/* ---- charts ---- */

/* A "nice" step (1, 2 or 5 times a power of ten) near range/target. */
static long double nice_step(long double range, int target)
{
    long double raw = range / target, mag = powl(10.0L, floorl(log10l(raw))), f = raw / mag;
    return (f < 1.5L ? 1 : f < 3.5L ? 2 : f < 7.5L ? 5 : 10) * mag;
}

static void chart(pdf *p, const json_t *ch)
{
    const json_t *labels = json_object_get(ch, "labels"), *series = json_object_get(ch, "series");
    size_t nl = json_array_size(labels), ns = json_array_size(series), i, k;
    bool bars = !strcmp(json_string_value(json_object_get(ch, "kind")), "bar");
    char tick[48];

    need(p, CHART_H + 30);
    font(p, SANS, true, 11);
    gray(p, 0.1);
    draw_text(p, json_string_value(json_object_get(ch, "title")),
              json_string_length(json_object_get(ch, "title")), MARGIN, p->y + 11, CONTENT_W, false);
    p->y += 20;
    double px = MARGIN + 62, pw = CONTENT_W - 66, py = p->y + 6, ph = CHART_H - 70;

    cairo_set_line_width(p->cr, 0.6);
    if (nl == 0 || ns == 0) {
        gray(p, 0.6);
        cairo_rectangle(p->cr, px, py, pw, ph);
        cairo_stroke(p->cr);
        font(p, SANS, false, 9);
        gray(p, 0.4);
        draw_str(p, "(no data in this chart)", px + pw / 2 - 50, py + ph / 2, 120, false);
        p->y += CHART_H;
        return;
    }
    /* the value axis: from min(0, values) to max(0, values), in nice steps */
    long double lo = 0, hi = 0;
    for (k = 0; k < ns; k++)
        for (i = 0; i < nl; i++) {
            long double v = json_number_value(json_array_get(json_object_get(json_array_get(series, k), "values"), i));
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
    if (hi == lo)
        hi = lo + 1;
    long double step = nice_step(hi - lo, 5);
    lo = floorl(lo / step) * step;
    hi = ceill(hi / step) * step;
#define Y_OF(v) (py + ph - (double)(((long double)(v) - lo) / (hi - lo)) * ph)
    font(p, SANS, false, 7);
    for (long double t = lo; t <= hi + step / 2; t += step) {
        double y = Y_OF(t);
        gray(p, t == 0 ? 0.35 : 0.85);
        cairo_move_to(p->cr, px, y);
        cairo_line_to(p->cr, px + pw, y);
        cairo_stroke(p->cr);
        gray(p, 0.3);
        snprintf(tick, sizeof tick, "%.6Lg", fabsl(t) < step / 1e6L ? 0.0L : t);
        draw_str(p, tick, MARGIN, y + 2.5, 58, true);
        if (step <= 0 || (hi - lo) / step > 40) /* never more than ~40 ticks */
            break;
    }
    gray(p, 0.3);
    cairo_move_to(p->cr, px, py);
    cairo_line_to(p->cr, px, py + ph);
    cairo_line_to(p->cr, px + pw, py + ph);
    cairo_stroke(p->cr);

    /* the labels axis: every k-th label so that they do not overlap */
    double slot = pw / nl, widest = 0;
    for (i = 0; i < nl; i++) {
        double w = width_of(p, clean(p, json_string_value(json_array_get(labels, i)),
                                     json_string_length(json_array_get(labels, i))));
        widest = w > widest ? w : widest;
        if (widest > 120) {
            widest = 120;
            break;
        }
    }
    size_t every = (size_t)ceil((widest + 6) / slot);
    every = every < 1 ? 1 : every;
    for (i = 0; i < nl; i += every) {
        const json_t *l = json_array_get(labels, i);
        double cx = px + slot * (i + 0.5), w = slot * every - 4;
        clean(p, json_string_value(l), json_string_length(l));
        const char *t = fit(p, w);
        double tw = width_of(p, t);
        gray(p, 0.3);
        cairo_move_to(p->cr, cx - tw / 2, py + ph + 11);
        cairo_show_text(p->cr, t);
        cairo_move_to(p->cr, cx, py + ph);
        cairo_line_to(p->cr, cx, py + ph + 3);
        cairo_stroke(p->cr);
    }

    /* the series */
    double base = Y_OF(0);
    for (k = 0; k < ns; k++) {
        const double *c = palette[k % NPALETTE];
        const json_t *vals = json_object_get(json_array_get(series, k), "values");
        cairo_set_source_rgb(p->cr, c[0], c[1], c[2]);
        if (bars) {
            double gw = slot * 0.8, bw = gw / ns;
            for (i = 0; i < nl; i++) {
                double y = Y_OF(json_number_value(json_array_get(vals, i)));
                double x = px + slot * i + slot * 0.1 + bw * k;
                cairo_rectangle(p->cr, x, y < base ? y : base, bw > 1.2 ? bw - 0.6 : bw, fabs(base - y));
            }
            cairo_fill(p->cr);
        } else {
            cairo_set_line_width(p->cr, 1.4);
            for (i = 0; i < nl; i++) {
                double x = px + slot * (i + 0.5), y = Y_OF(json_number_value(json_array_get(vals, i)));
                if (i == 0)
                    cairo_move_to(p->cr, x, y);
                else
                    cairo_line_to(p->cr, x, y);
            }
            cairo_stroke(p->cr);
            if (nl <= 60)
                for (i = 0; i < nl; i++) {
                    cairo_new_sub_path(p->cr);
                    cairo_arc(p->cr, px + slot * (i + 0.5),
                              Y_OF(json_number_value(json_array_get(vals, i))), 1.8, 0, 2 * M_PI);
                }
            cairo_fill(p->cr);
            cairo_set_line_width(p->cr, 0.6);
        }
    }
#undef Y_OF
    /* the legend */
    double lx = px, ly = py + ph + 24;
    font(p, SANS, false, 8);
    for (k = 0; k < ns; k++) {
        const json_t *name = json_object_get(json_array_get(series, k), "name");
        const double *c = palette[k % NPALETTE];
        clean(p, json_string_value(name), json_string_length(name));
        const char *t = fit(p, 150);
        double w = width_of(p, t) + 22;
        if (lx + w > px + pw) {
            lx = px;
            ly += 12;
            if (ly > py + ph + 24 + 24) /* three lines of legend at most */
                break;
        }
        cairo_set_source_rgb(p->cr, c[0], c[1], c[2]);
        cairo_rectangle(p->cr, lx, ly - 7, 9, 9);
        cairo_fill(p->cr);
        gray(p, 0.2);
        cairo_move_to(p->cr, lx + 12, ly);
        cairo_show_text(p->cr, t);
        lx += w;
    }
    p->y += CHART_H;
}

/* ---- the appendix: queries and events ---- */

/* Draws s (monospace) wrapped at the content's width, its line ends kept:
 * QUERY_LINES lines of its first WRAP_CAP bytes at most, then a note. */
static void wrapped_mono(pdf *p, const char *s, size_t n)
{
    font(p, MONO, false, 7);
    double cw = width_of(p, "M");
    size_t per_line = (size_t)((CONTENT_W - 12) / (cw > 0 ? cw : 4.2)), lines = 0, off = 0;
    bool cut = n > WRAP_CAP;
    adb__buf seg = { 0 };

    if (cut)
        n = WRAP_CAP;
    while (off < n && lines < QUERY_LINES) {
        const char *nl = memchr(s + off, '\n', n - off);
        size_t end = nl ? (size_t)(nl - s) : n, i = 0;
        seg.len = 0;
        adb__pdf_text(&seg, s + off, end - off);
        do { /* the segment's lines: at most per_line characters, broken at a space */
            size_t start = i, chars = 0, brk = 0;
            while (i < seg.len && chars < per_line) {
                size_t len = adb__utf8_seq(seg.p + i, seg.len - i);
                if (seg.p[i] == ' ')
                    brk = i + 1;
                i += len ? len : 1;
                chars++;
            }
            if (i < seg.len && brk > start)
                i = brk;
            need(p, 10);
            font(p, MONO, false, 7);
            gray(p, 0.15);
            if (seg.p)
                draw_text(p, seg.p + start, i - start, MARGIN + 12, p->y + 8, CONTENT_W - 12, false);
            p->y += 9.5;
            lines++;
        } while (i < seg.len && lines < QUERY_LINES);
        cut |= i < seg.len;
        off = end + 1;
    }
    cut |= off < n;
    adb__buf_free(&seg);
    if (cut) {
        font(p, SANS, false, 7);
        gray(p, 0.45);
        draw_str(p, "(cut here; the whole text is in the JSON, CSV and XML renderings)", MARGIN + 12,
                 p->y + 8, CONTENT_W - 12, false);
        p->y += 9.5;
    }
}

static void appendix(pdf *p)
{
    size_t i, k;
    json_t *f, *e;
    char head[32];

    if (json_array_size(p->d->figures) == 0)
        return;
    new_page(p);
    heading(p, "Appendix A: the query and events of each figure", 14);
    json_array_foreach(p->d->figures, i, f) {
        size_t n;
        const char *label = adb__rdoc_str(f, "label", &n);
        need(p, 40);
        font(p, SANS, true, 9);
        gray(p, 0.1);
        adb__fmt(head, sizeof head, "A.%zu", i + 1);
        draw_str(p, head, MARGIN, p->y + 9, 30, false);
        draw_text(p, label, n, MARGIN + 30, p->y + 9, CONTENT_W - 30, false);
        p->y += 14;
        const char *q = adb__rdoc_str(f, "query", &n);
        if (n)
            wrapped_mono(p, q, n);
        json_t *events = json_object_get(f, "events");
        if (json_is_array(events)) {
            font(p, SANS, false, 8);
            gray(p, 0.35);
            need(p, 12);
            draw_str(p, json_array_size(events) ? "events:" : "events: none", MARGIN + 12,
                     p->y + 8, CONTENT_W - 12, false);
            p->y += 11;
            json_array_foreach(events, k, e) {
                need(p, 10);
                font(p, MONO, false, 7);
                gray(p, 0.15);
                draw_text(p, json_string_value(e), json_string_length(e), MARGIN + 24, p->y + 8,
                          CONTENT_W - 24, false);
                p->y += 9.5;
            }
        }
        p->y += 8;
    }
}

/* the provenance members other than the checkpoints (on the title page) */
static void provenance(pdf *p)
{
    const char *key;
    json_t *v;
    bool any = false;

    if (!p->d->provenance)
        return;
    json_object_foreach((json_t *)p->d->provenance, key, v) {
        if (!strcmp(key, "checkpoints"))
            continue;
        if (!any) {
            p->y += 6;
            heading(p, "Provenance", 14);
            any = true;
        }
        need(p, 24);
        font(p, SANS, true, 9);
        gray(p, 0.1);
        draw_str(p, key, MARGIN, p->y + 9, CONTENT_W, false);
        p->y += 13;
        if (json_is_string(v) || json_is_number(v) || json_is_null(v)) {
            char tmp[ADB_RDOC_NUM_MAX];
            size_t n;
            const char *s = adb__rdoc_scalar(v, tmp, &n);
            wrapped_mono(p, s, n);
        } else {
            char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
            if (s)
                wrapped_mono(p, s, strlen(s));
            free(s);
        }
        p->y += 4;
    }
}

/* The PDF date of the document: generatedAt, else period.end, as cairo's
 * metadata wants it ("YYYY-MM-DDThh:mm:ss" and Z or an offset); the epoch
 * when neither reads as one (never the clock). */
static void pdf_date(const adb__rdoc *d, char out[32])
{
    const char *cands[] = { d->generated_at, d->period_end };
    for (size_t c = 0; c < 2; c++) {
        const char *s = cands[c];
        if (!s || strlen(s) < 19)
            continue;
        bool ok = true;
        for (int i = 0; i < 19 && ok; i++)
            ok = (i == 4 || i == 7) ? s[i] == '-' : i == 10 ? (s[i] == 'T' || s[i] == ' ')
               : (i == 13 || i == 16) ? s[i] == ':' : (s[i] >= '0' && s[i] <= '9');
        if (!ok)
            continue;
        const char *z = s + 19;
        if (*z == '.')
            for (z++; *z >= '0' && *z <= '9'; z++)
                ;
        char zone[8] = "Z";
        if ((*z == '+' || *z == '-') && strlen(z) == 6 && z[3] == ':')
            memcpy(zone, z, 7);
        else if (strcmp(z, "Z") != 0 && strcmp(z, "z") != 0)
            continue;
        adb__fmt(out, 32, "%.10sT%.8s%s", s, s + 11, zone);
        return;
    }
    adb__fmt(out, 32, "1970-01-01T00:00:00Z");
}

/* cairo's font caches and fontconfig's configuration live as long as the
 * process; released at its exit so that leak checkers (the ASan test build)
 * see nothing left, registered by the first PDF drawn. */
static void release_font_caches(void)
{
    cairo_debug_reset_static_data();
    FcFini();
}

static void register_release(void)
{
    atexit(release_font_caches);
}

adb_status adb__render_pdf(const adb__rdoc *d, adb__buf *out, char *err, size_t errlen)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, register_release);

    char date[32];
    size_t i;
    json_t *ch;
    pdf p = { .d = d, .y = MARGIN, .page = 1 };

    cairo_surface_t *s = cairo_pdf_surface_create_for_stream(write_out, out, PAGE_W, PAGE_H);
    cairo_pdf_surface_restrict_to_version(s, CAIRO_PDF_VERSION_1_5);
    pdf_date(d, date);
    cairo_pdf_surface_set_metadata(s, CAIRO_PDF_METADATA_CREATE_DATE, date);
    cairo_pdf_surface_set_metadata(s, CAIRO_PDF_METADATA_MOD_DATE, date);
    cairo_pdf_surface_set_metadata(s, CAIRO_PDF_METADATA_CREATOR, "auditdb");
    p.text.len = 0;
    cairo_pdf_surface_set_metadata(s, CAIRO_PDF_METADATA_TITLE, clean(&p, d->title, strlen(d->title)));
    cairo_pdf_surface_set_metadata(s, CAIRO_PDF_METADATA_SUBJECT, clean(&p, d->org, strlen(d->org)));
    p.cr = cairo_create(s);

    title_page(&p);
    json_array_foreach(d->charts, i, ch) {
        if (i == 0) {
            p.y += 6;
            need(&p, CHART_H + 60); /* the heading with its first chart */
            heading(&p, "Charts", 14);
        }
        chart(&p, ch);
    }
    if (json_array_size(d->tables) > 0) {
        p.y += 6;
        heading(&p, "Tables", 14);
    }
    doc_tables(&p);
    provenance(&p);
    appendix(&p);
    footer(&p);
    cairo_show_page(p.cr);

    cairo_status_t cst = cairo_status(p.cr);
    cairo_destroy(p.cr);
    cairo_surface_finish(s);
    if (cst == CAIRO_STATUS_SUCCESS)
        cst = cairo_surface_status(s);
    cairo_surface_destroy(s);
    adb__buf_free(&p.text);
    if (cst != CAIRO_STATUS_SUCCESS) {
        adb__fmt(err, errlen, "could not draw the PDF: %s", cairo_status_to_string(cst));
        return cst == CAIRO_STATUS_NO_MEMORY ? ADB_ERR_NOMEM : ADB_ERR_INTERNAL;
    }
    return ADB_OK;
}
