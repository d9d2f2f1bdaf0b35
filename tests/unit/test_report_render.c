/*
 * test_report_render.c - the report renderings (src/report/render*.c,
 * docs/reports.md "Renderings") from fixture documents: the golden fixture
 * (tests/golden/reports/hipaa_fixture.json) and hostile ones built here (XML
 * specials, CSV formulas, control characters, long texts, 0 and 10,000 rows,
 * empty charts, huge and negative numbers); every format either renders the
 * whole document or refuses it naming the member, and the same document
 * always gives the same bytes.
 */
#include "t.h"
#include "core/buf.h"
#include "core/util.h"
#include "report/report.h"
#include "report/render_doc.h"
#include "report/render_escape.h"

#include <jansson.h>
#include <math.h>
#include <stdint.h>

static const char *const FORMATS[] = { "json", "csv", "xml", "pdf" };
#define NFORMATS (sizeof FORMATS / sizeof FORMATS[0])

static json_t *fixture(void)
{
    json_error_t e;
    json_t *doc = json_load_file("tests/golden/reports/hipaa_fixture.json", 0, &e);
    if (!doc)
        printf("# fixture: %s\n", e.text);
    return doc;
}

/* Renders doc as fmt; the bytes (caller frees the buffer) or status. */
static adb_status render(const json_t *doc, const char *fmt, adb__buf *out, char *err, size_t errlen)
{
    const char *ctype = NULL;
    memset(out, 0, sizeof *out);
    adb_status st = adb__report_render(doc, fmt, out, &ctype, err, errlen);
    if (st == ADB_OK && !ctype)
        printf("# no content type for %s\n", fmt);
    return st;
}

/* A minimal valid document (caller decrefs). */
static json_t *minimal(void)
{
    return json_pack("{s:s, s:s, s:s, s:{s:s, s:s}}", "title", "T", "organizationId", "org-1",
                     "generatedAt", "2026-12-01T06:00:00.000Z", "period", "start",
                     "2026-11-01T00:00:00.000Z", "end", "2026-12-01T00:00:00.000Z");
}

static bool contains(const adb__buf *b, const char *needle)
{
    return b->p && memmem(b->p, b->len, needle, strlen(needle)) != NULL;
}

static void json_is_the_documents_compact_bytes(void)
{
    json_t *doc = fixture();
    REQUIRE(doc);
    adb__buf out;
    char err[256];
    REQUIRE(render(doc, "json", &out, err, sizeof err) == ADB_OK);
    char *want = json_dumps(doc, JSON_COMPACT);
    CHECK(want && out.len == strlen(want) && !memcmp(out.p, want, out.len));
    json_t *back = json_loadb(out.p, out.len, 0, NULL);
    CHECK(back && json_equal(back, doc));
    json_decref(back);
    free(want);
    adb__buf_free(&out);
    json_decref(doc);
}

static void every_format_is_deterministic(void)
{
    json_t *doc = fixture();
    REQUIRE(doc);
    for (size_t i = 0; i < NFORMATS; i++) {
        adb__buf a, b;
        char err[256];
        adb_status sa = render(doc, FORMATS[i], &a, err, sizeof err);
        CHECK_MSG(sa == ADB_OK, "%s: %s", FORMATS[i], err);
        adb_status sb = render(doc, FORMATS[i], &b, err, sizeof err);
        CHECK_MSG(sa == ADB_OK && sb == ADB_OK && a.len == b.len && a.len > 0 &&
                      !memcmp(a.p, b.p, a.len),
                  "%s: two renderings differ", FORMATS[i]);
        adb__buf_free(&a);
        adb__buf_free(&b);
    }
    json_decref(doc);
}

static void unknown_format_refused(void)
{
    json_t *doc = minimal();
    adb__buf out;
    char err[256] = "";
    const char *bad[] = { "html", "", "PDF", "pdf ", NULL };
    for (int i = 0; bad[i]; i++) {
        CHECK_MSG(render(doc, bad[i], &out, err, sizeof err) == ADB_ERR_INVALID, "%s", bad[i]);
        CHECK(out.len == 0);
        CHECK(strstr(err, "format") != NULL);
        adb__buf_free(&out);
    }
    const char *ctype = "x";
    memset(&out, 0, sizeof out);
    CHECK(adb__report_render(doc, NULL, &out, &ctype, err, sizeof err) == ADB_ERR_INVALID);
    CHECK(ctype == NULL);
    json_decref(doc);
}

/* Each broken document is refused by every format, naming the member. */
static void malformed_documents_name_the_member(void)
{
    static const struct { const char *patch, *member; } cases[] = {
        { "{\"title\": 5}", "title" },
        { "{\"organizationId\": null}", "organizationId" },
        { "{\"period\": \"2026\"}", "period" },
        { "{\"period\": {\"start\": \"a\"}}", "period.end" },
        { "{\"figures\": {}}", "figures" },
        { "{\"figures\": [{\"id\": \"a\", \"label\": \"b\", \"value\": \"12\"}]}", "figures[0].value" },
        { "{\"figures\": [{\"id\": \"a\", \"label\": \"b\", \"value\": 1, \"events\": [1]}]}", "figures[0].events[0]" },
        { "{\"tables\": [{\"id\": \"t\", \"title\": \"T\", \"columns\": [], \"rows\": []}]}", "tables[0].columns" },
        { "{\"tables\": [{\"id\": \"t\", \"title\": \"T\", \"columns\": [\"a\", \"b\"], \"rows\": [[1, 2], [3]]}]}", "tables[0].rows[1]" },
        { "{\"tables\": [{\"id\": \"t\", \"title\": \"T\", \"columns\": [\"a\"], \"rows\": [[true]]}]}", "tables[0].rows[0][0]" },
        { "{\"charts\": [{\"id\": \"c\", \"title\": \"C\", \"kind\": \"pie\", \"labels\": [], \"series\": []}]}", "charts[0].kind" },
        { "{\"charts\": [{\"id\": \"c\", \"title\": \"C\", \"kind\": \"bar\", \"labels\": [\"x\"], \"series\": [{\"name\": \"s\", \"values\": [1, 2]}]}]}", "charts[0].series[0].values" },
        { "{\"provenance\": {\"checkpoints\": [{\"origin\": \"o\", \"treeSize\": \"9\", \"rootHash\": \"r\"}]}}", "provenance.checkpoints[0].treeSize" },
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        json_t *doc = minimal(), *patch = json_loads(cases[c].patch, 0, NULL);
        REQUIRE(patch);
        json_object_update(doc, patch);
        for (size_t i = 0; i < NFORMATS; i++) {
            adb__buf out;
            char err[256] = "";
            adb_status st = render(doc, FORMATS[i], &out, err, sizeof err);
            CHECK_MSG(st == ADB_ERR_INVALID && out.len == 0, "%s %s: %d", FORMATS[i], cases[c].patch, st);
            CHECK_MSG(!strncmp(err, cases[c].member, strlen(cases[c].member)) &&
                          err[strlen(cases[c].member)] == ':',
                      "%s: \"%s\" does not start with %s", FORMATS[i], err, cases[c].member);
            adb__buf_free(&out);
        }
        json_decref(patch);
        json_decref(doc);
    }
    json_t *arr = json_array();
    adb__buf out;
    char err[256];
    CHECK(render(arr, "csv", &out, err, sizeof err) == ADB_ERR_INVALID);
    adb__buf_free(&out);
    json_decref(arr);
}

static void csv_cells_resist_formulas(void)
{
    static const struct { const char *in; size_t n; const char *want; } cases[] = {
        { "plain", 5, "plain" },
        { "=1+2", 4, "\"'=1+2\"" },
        { "+cmd|' /C calc'!A0", 18, "\"'+cmd|' /C calc'!A0\"" },
        { "-2", 2, "\"'-2\"" },
        { "@SUM(A1)", 8, "\"'@SUM(A1)\"" },
        { "\tx", 2, "\"'\tx\"" },
        { "\rx", 2, "\"'\rx\"" },
        { "\0x", 2, "\"'\xEF\xBF\xBDx\"" },
        { "a,b", 3, "\"a,b\"" },
        { "say \"hi\"", 8, "\"say \"\"hi\"\"\"" },
        { "two\nlines", 9, "\"two\nlines\"" },
        { "bell\a", 5, "bell\xEF\xBF\xBD" },
        { "x=1", 3, "x=1" },
        { "", 0, "" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        adb__buf b = { 0 };
        adb__csv_cell(&b, cases[i].in, cases[i].n);
        CHECK_MSG(b.len == strlen(cases[i].want) && (!b.len || !memcmp(b.p, cases[i].want, b.len)),
                  "case %zu: got [%s]", i, b.p ? b.p : "");
        adb__buf_free(&b);
    }
}

static void csv_of_the_fixture(void)
{
    json_t *doc = fixture();
    REQUIRE(doc);
    adb__buf out;
    char err[256];
    REQUIRE(render(doc, "csv", &out, err, sizeof err) == ADB_OK);
    CHECK(!strncmp(out.p, "section,report\r\ntitle,HIPAA audit trail\r\n", 41));
    CHECK(contains(&out, "\r\nphiAccesses,PHI accesses,48213,"));
    CHECK(contains(&out, "\r\ncomplianceScore,Compliance score (%),97.25,"));
    CHECK(contains(&out, "\r\n\"'=cmd|' /C calc'!A0\",attacker,1,0\r\n"));
    CHECK(contains(&out, "\r\n<script>&amp;,x,0,-2\r\n")); /* a number is bare, even negative */
    CHECK(contains(&out, "\r\nsection,chart,dailyAccesses,PHI accesses per day,bar\r\nlabel,reads,modifications\r\n2026-11-01,1500,100\r\n"));
    CHECK(contains(&out, "\r\nauditdb.example/org-fixture,1204331,"));
    CHECK(contains(&out, "0193a1b2-0000-7000-8000-000000000001 0193a1b2-0000-7000-8000-000000000002"));
    /* every line ends CRLF; no bare LF outside quotes in this fixture */
    for (size_t i = 0; i < out.len; i++)
        if (out.p[i] == '\n' && (i == 0 || out.p[i - 1] != '\r')) {
            CHECK_MSG(false, "bare LF at %zu", i);
            break;
        }
    adb__buf_free(&out);
    json_decref(doc);
}

static void numbers_read_back_the_same(void)
{
    const double reals[] = { 0.1, 97.25, -0.0, 1e300, -1e-300, 123456789.125, 2.0 / 3.0, 1e21 };
    char tmp[ADB_RDOC_NUM_MAX];
    size_t n;
    for (size_t i = 0; i < sizeof reals / sizeof reals[0]; i++) {
        json_t *v = json_real(reals[i]);
        const char *s = adb__rdoc_scalar(v, tmp, &n);
        CHECK_MSG(strtod(s, NULL) == reals[i] && n == strlen(s), "%.17g -> %s", reals[i], s);
        json_decref(v);
    }
    json_t *v = json_real(0.1);
    CHECK_STR(adb__rdoc_scalar(v, tmp, &n), "0.1");
    json_decref(v);
    v = json_integer(INT64_MIN);
    CHECK_STR(adb__rdoc_scalar(v, tmp, &n), "-9223372036854775808");
    json_decref(v);
    v = json_integer(INT64_MAX);
    CHECK_STR(adb__rdoc_scalar(v, tmp, &n), "9223372036854775807");
    json_decref(v);
}


static void xml_text_escapes(void)
{
    static const struct { const char *in; size_t n; const char *want; } cases[] = {
        { "a<b>&c", 6, "a&lt;b&gt;&amp;c" },
        { "\"'", 2, "&quot;&apos;" },
        { "t\tn\nr\r", 6, "t&#9;n&#10;r&#13;" },
        { "\0\a\x1b", 3, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD" },
        { "\xEF\xBF\xBE\xEF\xBF\xBF", 6, "\xEF\xBF\xBD\xEF\xBF\xBD" },
        { "\xC3\xA9\xF0\x9F\x98\x80", 6, "\xC3\xA9\xF0\x9F\x98\x80" },
        { "\xFF\xC3", 2, "\xEF\xBF\xBD\xEF\xBF\xBD" },
        { "]]>", 3, "]]&gt;" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        adb__buf b = { 0 };
        adb__xml_text(&b, cases[i].in, cases[i].n);
        CHECK_MSG(b.len == strlen(cases[i].want) && (!b.len || !memcmp(b.p, cases[i].want, b.len)),
                  "case %zu: got [%s]", i, b.p ? b.p : "");
        adb__buf_free(&b);
    }
}

static void pdf_text_is_what_cairo_takes(void)
{
    static const struct { const char *in; size_t n; const char *want; } cases[] = {
        { "plain", 5, "plain" },
        { "a\tb", 3, "a b" },
        { "\0\n\x7f", 3, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD" },
        { "\xC2\x85", 2, "\xEF\xBF\xBD" },                         /* C1 */
        { "\xC2\xA0", 2, "\xC2\xA0" },                             /* NBSP stays */
        { "\xEF\xB7\x90\xEF\xBF\xBE", 6, "\xEF\xBF\xBD\xEF\xBF\xBD" }, /* U+FDD0, U+FFFE */
        { "\xF0\x9F\xBF\xBF", 4, "\xEF\xBF\xBD" },                 /* U+1FFFF */
        { "\xED\xA0\x80", 3, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD" }, /* a surrogate: not UTF-8 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        adb__buf b = { 0 };
        adb__pdf_text(&b, cases[i].in, cases[i].n);
        CHECK_MSG(b.p && !strcmp(b.p, cases[i].want), "case %zu: got [%s]", i, b.p ? b.p : "");
        adb__buf_free(&b);
    }
}

static void xml_of_the_fixture(void)
{
    json_t *doc = fixture();
    REQUIRE(doc);
    adb__buf out;
    char err[256];
    REQUIRE(render(doc, "xml", &out, err, sizeof err) == ADB_OK);
    CHECK(!strncmp(out.p, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<report organizationId=\"org-fixture\"", 75));
    CHECK(contains(&out, "<figure id=\"phiAccesses\" value=\"48213\"><label>PHI accesses</label>"));
    CHECK(contains(&out, "<figure id=\"complianceScore\" value=\"97.25\">"));
    CHECK(contains(&out, "<cell column=\"principalId\">&lt;script&gt;&amp;amp;</cell>"));
    CHECK(contains(&out, "<cell column=\"modifications\">-2</cell>"));
    CHECK(contains(&out, "<value label=\"2026-11-01\">1500</value>"));
    CHECK(contains(&out, "<checkpoint origin=\"auditdb.example/org-fixture\" treeSize=\"1204331\""));
    CHECK(contains(&out, "<member name=\"previousCheckpoint\">{&quot;treeSize&quot;:1150000}</member>"));
    CHECK(out.len > 0 && !strcmp(out.p + out.len - 10, "</report>\n"));
    adb__buf_free(&out);
    json_decref(doc);
}

static void pdf_of_the_fixture(void)
{
    json_t *doc = fixture();
    REQUIRE(doc);
    adb__buf out;
    char err[256];
    const char *ctype = NULL;
    memset(&out, 0, sizeof out);
    REQUIRE(adb__report_render(doc, "pdf", &out, &ctype, err, sizeof err) == ADB_OK);
    CHECK_STR(ctype, "application/pdf");
    CHECK(out.len > 1000 && !memcmp(out.p, "%PDF-1.5", 8));
    CHECK(contains(&out, "%%EOF"));
    CHECK(contains(&out, "/CreationDate (20261201060000Z)"));
    CHECK(!contains(&out, "D:2")); /* no date of cairo's own (the clock) */
    adb__buf_free(&out);
    json_decref(doc);
}

/* A document of one table of n rows, one chart per kind with values from vals. */
static json_t *sized(size_t n, const double *vals, size_t nvals)
{
    json_t *doc = minimal(), *rows = json_array(), *labels = json_array(), *values = json_array();
    for (size_t i = 0; i < n; i++) {
        char id[32];
        snprintf(id, sizeof id, "row-%05zu", i);
        json_array_append_new(rows, json_pack("[s, I, f, n]", id, (json_int_t)i - 5000, i * 0.25));
    }
    for (size_t i = 0; i < nvals; i++) {
        char l[32];
        snprintf(l, sizeof l, "d%zu", i);
        json_array_append_new(labels, json_string(l));
        json_array_append_new(values, json_real(vals[i]));
    }
    json_object_set_new(doc, "tables", json_pack("[{s:s, s:s, s:[s, s, s, s], s:o}]", "id", "t",
                                                 "title", "Rows", "columns", "id", "n", "q", "nil", "rows", rows));
    json_object_set_new(doc, "charts", json_pack("[{s:s, s:s, s:s, s:O, s:[{s:s, s:O}]}, {s:s, s:s, s:s, s:O, s:[{s:s, s:O}]}]",
                                                 "id", "b", "title", "B", "kind", "bar", "labels", labels, "series", "name", "s", "values", values,
                                                 "id", "l", "title", "L", "kind", "line", "labels", labels, "series", "name", "s", "values", values));
    json_decref(labels);
    json_decref(values);
    return doc;
}

static void zero_and_ten_thousand_rows(void)
{
    const double vals[] = { 1e300, -1e300, 0, -5, 1e-300, -0.0, 9007199254740993.0 };
    const size_t sizes[] = { 0, 10000 };
    for (size_t k = 0; k < 2; k++) {
        json_t *doc = sized(sizes[k], vals, k ? 7 : 0);
        for (size_t i = 0; i < NFORMATS; i++) {
            adb__buf out;
            char err[256] = "";
            adb_status st = render(doc, FORMATS[i], &out, err, sizeof err);
            CHECK_MSG(st == ADB_OK && out.len > 0, "%zu rows, %s: %s", sizes[k], FORMATS[i], err);
            if (st == ADB_OK && !strcmp(FORMATS[i], "csv") && sizes[k]) {
                CHECK(contains(&out, "\r\nrow-09999,4999,2499.75,\r\n"));
                CHECK(contains(&out, "\r\nrow-00000,-5000,0,\r\n")); /* a negative number bare */
            }
            if (st == ADB_OK && !strcmp(FORMATS[i], "xml") && sizes[k]) {
                CHECK(contains(&out, "<cell column=\"nil\" nil=\"true\"/>"));
                CHECK(contains(&out, "<value label=\"d0\">1e+300</value><value label=\"d1\">-1e+300</value>"));
            }
            adb__buf_free(&out);
        }
        json_decref(doc);
    }
}

static void pdf_row_cap_refuses_rather_than_cuts(void)
{
    json_t *doc = sized(ADB_REPORT_PDF_MAX_ROWS + 1, NULL, 0);
    adb__buf out;
    char err[256] = "";
    CHECK(render(doc, "pdf", &out, err, sizeof err) == ADB_ERR_INVALID);
    CHECK(out.len == 0);
    CHECK_MSG(!strncmp(err, "tables:", 7), "%s", err);
    adb__buf_free(&out);
    CHECK(render(doc, "csv", &out, err, sizeof err) == ADB_OK); /* no cap in CSV */
    adb__buf_free(&out);
    json_decref(doc);
}

static void appends_and_keeps_what_was_there(void)
{
    json_t *doc = minimal();
    adb__buf out = { 0 };
    const char *ctype;
    char err[256];
    adb__buf_puts(&out, "PREFIX");
    CHECK(adb__report_render(doc, "csv", &out, &ctype, err, sizeof err) == ADB_OK);
    CHECK(!strncmp(out.p, "PREFIXsection,report\r\n", 22));
    size_t len = out.len;
    json_object_set_new(doc, "figures", json_string("x"));
    CHECK(adb__report_render(doc, "pdf", &out, &ctype, err, sizeof err) == ADB_ERR_INVALID);
    CHECK(out.len == len && out.p[len] == '\0');
    adb__buf_free(&out);
    json_decref(doc);
}

static void nul_in_a_member_refused_in_a_cell_kept(void)
{
    json_t *doc = minimal();
    json_object_set_new(doc, "title", json_stringn("a\0b", 3));
    adb__buf out;
    char err[256] = "";
    CHECK(render(doc, "xml", &out, err, sizeof err) == ADB_ERR_INVALID);
    CHECK_MSG(strstr(err, "title: holds a NUL") != NULL, "%s", err);
    adb__buf_free(&out);
    json_object_set_new(doc, "title", json_string("t"));
    json_object_set_new(doc, "tables", json_pack("[{s:s, s:s, s:[s], s:[[o]]}]", "id", "t", "title", "T",
                                                 "columns", "c", "rows", json_stringn("=x\0y", 4)));
    for (size_t i = 0; i < NFORMATS; i++) {
        CHECK_MSG(render(doc, FORMATS[i], &out, err, sizeof err) == ADB_OK, "%s: %s", FORMATS[i], err);
        if (!strcmp(FORMATS[i], "csv"))
            CHECK(contains(&out, "\r\n\"'=x\xEF\xBF\xBDy\"\r\n"));
        if (!strcmp(FORMATS[i], "xml"))
            CHECK(contains(&out, "<cell column=\"c\">=x\xEF\xBF\xBDy</cell>"));
        adb__buf_free(&out);
    }
    json_decref(doc);
}

/* Wide and long: 100 columns (the PDF draws 64), a chart of 10,000 labels and
 * long label texts, a 100 KB title: every format renders. */
static void wide_tables_and_long_charts(void)
{
    json_t *doc = minimal(), *cols = json_array(), *row = json_array(), *labels = json_array(),
           *vals = json_array();
    char name[64];
    for (int c = 0; c < 100; c++) {
        snprintf(name, sizeof name, "column number %d with a long name", c);
        json_array_append_new(cols, json_string(name));
        json_array_append_new(row, json_integer(c * 1000003LL));
    }
    for (int i = 0; i < 10000; i++) {
        snprintf(name, sizeof name, "2026-11-%02d a long label %d", i % 30 + 1, i);
        json_array_append_new(labels, json_string(name));
        json_array_append_new(vals, json_real((i % 17) - 8.5));
    }
    char *title = malloc(100001);
    REQUIRE(title);
    memset(title, 'W', 100000);
    title[100000] = '\0';
    json_object_set_new(doc, "title", json_string(title));
    free(title);
    json_object_set_new(doc, "tables", json_pack("[{s:s, s:s, s:o, s:[o]}]", "id", "w", "title", "Wide",
                                                 "columns", cols, "rows", row));
    json_object_set_new(doc, "charts", json_pack("[{s:s, s:s, s:s, s:o, s:[{s:s, s:o}]}]", "id", "c",
                                                 "title", "Long", "kind", "line", "labels", labels,
                                                 "series", "name", "s", "values", vals));
    for (size_t i = 0; i < NFORMATS; i++) {
        adb__buf out;
        char err[256] = "";
        CHECK_MSG(render(doc, FORMATS[i], &out, err, sizeof err) == ADB_OK, "%s: %s", FORMATS[i], err);
        adb__buf_free(&out);
    }
    json_decref(doc);
}

int main(void)
{
    RUN(json_is_the_documents_compact_bytes);
    RUN(every_format_is_deterministic);
    RUN(unknown_format_refused);
    RUN(malformed_documents_name_the_member);
    RUN(csv_cells_resist_formulas);
    RUN(csv_of_the_fixture);
    RUN(numbers_read_back_the_same);
    RUN(xml_text_escapes);
    RUN(pdf_text_is_what_cairo_takes);
    RUN(xml_of_the_fixture);
    RUN(pdf_of_the_fixture);
    RUN(zero_and_ten_thousand_rows);
    RUN(pdf_row_cap_refuses_rather_than_cuts);
    RUN(appends_and_keeps_what_was_there);
    RUN(nul_in_a_member_refused_in_a_cell_kept);
    RUN(wide_tables_and_long_charts);
    return t_done();
}
