/*
 * test_report_render_db.c - real documents rendered: a HIPAA audit trail
 * generated from events by adb__report_generate (rgen's generate.c) is
 * rendered as CSV, XML and PDF, and every figure's value is found in each,
 * the PDF's through poppler's pdftotext (-layout) and checked by qpdf; a
 * report generated as PDF carries exactly the bytes adb__report_render
 * gives for its document (one renderer, deterministic).
 */
#include "tdb.h"
#include "core/buf.h"
#include "core/util.h"
#include "log/integrator.h"
#include "core/adb_internal.h"
#include "report/report.h"

#include <jansson.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char ci[512], home[320], tmp[256];
static adb *db;

static void with_log(adb_options *o)
{
    o->log_name = "render.test/log";
    o->log_key = "0a1b2c3d4e5f60718293a4b5c6d7e8f90112233445566778899aabbccddeeff0";
    o->home = home;
    o->checkpoint_dir = home;
}

static bool logev(const char *ts, const char *action, const char *status, const char *who,
                  const char *cls, const char *patient)
{
    char ev[768];
    adb_log_result res;
    adb_log_options lo = { .organization_id = "org-render" };
    snprintf(ev, sizeof(ev),
             "{\"timestamp\":\"%s\",\"action\":\"%s\",\"status\":\"%s\",\"principalId\":\"%s\","
             "\"dataClassification\":\"%s\",\"targetResourceType\":\"Patient\","
             "\"targetResourceId\":\"%s\"}",
             ts, action, status, who, cls, patient);
    return adb_log_json(db, ev, strlen(ev), &lo, &res) == ADB_OK;
}

static adb_status generate(const char *fmt, adb__report_result *r)
{
    char field[128], err[256];
    json_t *crit = json_loads("{\"dateRange\":{\"startDate\":\"2026-11-01T00:00:00Z\","
                              "\"endDate\":\"2026-11-30T23:59:59Z\"}}", 0, NULL);
    adb__report_request rq = { .org = "org-render", .type = "HIPAA_AUDIT_TRAIL", .criteria = crit,
                               .format = fmt, .generated_by = "test" };
    adb_status st = adb__report_generate(db, &rq, r, field, sizeof field, err, sizeof err);
    if (st != ADB_OK)
        printf("# generate %s: %s (%s)\n", fmt, err, field);
    json_decref(crit);
    return st;
}

static bool contains(const adb__buf *b, const char *needle)
{
    return b->p && memmem(b->p, b->len, needle, strlen(needle)) != NULL;
}

/* The text of the PDF in b by pdftotext -layout (caller frees), NULL on failure. */
static char *pdf_text(const adb__buf *b)
{
    char pdf[300], cmd[700];
    snprintf(pdf, sizeof pdf, "%s/real.pdf", tmp);
    FILE *f = fopen(pdf, "wb");
    if (!f || fwrite(b->p, 1, b->len, f) != b->len) {
        if (f)
            fclose(f);
        return NULL;
    }
    fclose(f);
    snprintf(cmd, sizeof cmd, "qpdf --check '%s' >/dev/null 2>&1", pdf);
    if (system(cmd) != 0) {
        printf("# qpdf --check failed on %s\n", pdf);
        return NULL;
    }
    snprintf(cmd, sizeof cmd, "pdftotext -layout '%s' -", pdf);
    FILE *p = popen(cmd, "r");
    if (!p)
        return NULL;
    size_t len;
    char *text = adb__read_stream(p, 64 << 20, &len);
    if (pclose(p) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

/* Whether a line of text starts (after spaces) with label and shows value after it. */
static bool line_shows(const char *text, const char *label, const char *value)
{
    for (const char *l = text; l && *l;) {
        const char *end = strchr(l, '\n');
        size_t n = end ? (size_t)(end - l) : strlen(l);
        while (n && *l == ' ')
            l++, n--;
        if (n > strlen(label) && !strncmp(l, label, strlen(label))) {
            const char *v = l + strlen(label);
            size_t rest = n - strlen(label);
            while (rest && *v == ' ')
                v++, rest--;
            if (rest >= strlen(value) && !strncmp(v, value, strlen(value)) &&
                (rest == strlen(value) || v[strlen(value)] == ' '))
                return true;
        }
        l = end ? end + 1 : NULL;
    }
    return false;
}

static void real_document_in_every_format(void)
{
    REQUIRE(logev("2026-11-02T10:00:00Z", "record.read", "success", "u1", "PHI", "p1"));
    REQUIRE(logev("2026-11-03T10:00:00Z", "record.view", "success", "u1", "PHI", "p2"));
    REQUIRE(logev("2026-11-04T10:00:00Z", "record.update", "success", "=u2", "PHI", "<p2>"));
    REQUIRE(logev("2026-11-05T10:00:00Z", "record.read", "failure", "u3", "PHI", "p1"));
    REQUIRE(logev("2026-11-06T10:00:00Z", "break-glass.access", "success", "u4", "PHI", "p3"));
    REQUIRE(logev("2026-11-07T10:00:00Z", "login", "success", "u1", "INTERNAL", "x"));
    REQUIRE(adb__integrator_sync(adb__db_integrator(db), 20000));

    adb__report_result r = { 0 };
    REQUIRE(generate("json", &r) == ADB_OK);
    json_t *figs = json_object_get(r.doc, "figures");
    CHECK(json_array_size(figs) > 3);

    adb__buf csv = { 0 }, xml = { 0 }, pdf = { 0 };
    const char *ct;
    char err[256];
    CHECK_MSG(adb__report_render(r.doc, "csv", &csv, &ct, err, sizeof err) == ADB_OK, "%s", err);
    CHECK_MSG(adb__report_render(r.doc, "xml", &xml, &ct, err, sizeof err) == ADB_OK, "%s", err);
    CHECK_MSG(adb__report_render(r.doc, "pdf", &pdf, &ct, err, sizeof err) == ADB_OK, "%s", err);
    adb__buf js = { 0 };
    CHECK(adb__report_render(r.doc, "json", &js, &ct, err, sizeof err) == ADB_OK);
    CHECK_MSG(js.len == r.artifact_len && !memcmp(js.p, r.artifact, js.len),
              "the json rendering is not generate's artifact");
    char *text = pdf_text(&pdf);
    CHECK(text != NULL);

    size_t i;
    json_t *f;
    json_array_foreach(figs, i, f) {
        const char *id = json_string_value(json_object_get(f, "id"));
        const char *label = json_string_value(json_object_get(f, "label"));
        char v[64], want[512];
        snprintf(v, sizeof v, "%lld", (long long)json_integer_value(json_object_get(f, "value")));
        REQUIRE(json_is_integer(json_object_get(f, "value")) && id && label);
        snprintf(want, sizeof want, "\r\n%s,%s,%s,", id, label, v);
        CHECK_MSG(contains(&csv, want), "csv: %s = %s", id, v);
        snprintf(want, sizeof want, "<figure id=\"%s\" value=\"%s\">", id, v);
        CHECK_MSG(contains(&xml, want), "xml: %s = %s", id, v);
        CHECK_MSG(text && line_shows(text, label, v), "pdf text: %s = %s", label, v);
    }
    /* the hostile principal from the events is a CSV text cell, guarded */
    CHECK(contains(&csv, "\r\n\"'=u2\","));
    CHECK(contains(&xml, "&lt;p2&gt;"));
    free(text);
    adb__buf_free(&csv);
    adb__buf_free(&xml);
    adb__buf_free(&js);

    /* generated as PDF: the same renderer's bytes for the document it stored */
    adb__report_result rp = { 0 };
    if (generate("pdf", &rp) == ADB_OK) {
        adb__buf again = { 0 };
        CHECK(!strcmp(rp.content_type, "application/pdf"));
        CHECK(adb__report_render(rp.doc, "pdf", &again, &ct, err, sizeof err) == ADB_OK);
        CHECK_MSG(again.len == rp.artifact_len && !memcmp(again.p, rp.artifact, again.len),
                  "the generated PDF is not the rendering of its document");
        adb__buf_free(&again);
    } else {
        CHECK_MSG(false, "a PDF report could not be generated");
    }
    adb__report_result_free(&rp);
    adb__buf_free(&pdf);
    adb__report_result_free(&r);
}

int main(void)
{
    const char *t = getenv("TEST_TMP");
    snprintf(tmp, sizeof tmp, "%s", t ? t : "/tmp");
    snprintf(home, sizeof(home), "%s/rrender-home", tmp);
    mkdir(home, 0700);
    if (!t_migrated_db("t_report_render_db", ci, sizeof(ci))) {
        printf("not ok - database\n");
        return 1;
    }
    db = t_open(ci, with_log);
    if (!db) {
        printf("not ok - open\n");
        return 1;
    }
    PGconn *su = PQconnectdb(ci);
    PQclear(PQexec(su, "INSERT INTO organization (id, name, created_at) VALUES ('org-render', 'r', now())"));
    PQfinish(su);
    RUN(real_document_in_every_format);
    adb_close(db);
    return t_done();
}
