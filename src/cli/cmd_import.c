/*
 * cmd_import.c - `auditdb import FILE|-`: NDJSON or a JSON array of events,
 * validated and written through the same writer as the API, in batches.
 * Rejected events are reported with their line (or element) and reasons;
 * nothing of a rejected event is stored.
 */
#include "cli.h"
#include "../core/util.h"
#include "../event/json.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IMPORT_MAX_BYTES ((size_t)1 << 30)
#define IMPORT_BATCH 1000

typedef struct imp {
    adb *h;
    adb_log_options lo;
    FILE *rejects;
    bool quiet;
    /* the pending batch */
    char *text[IMPORT_BATCH];
    size_t len[IMPORT_BATCH];
    long long where[IMPORT_BATCH]; /* line or element number */
    size_t n;
    adb_log_result res[IMPORT_BATCH];
    /* totals */
    long long total, stored, duplicates, rejected;
    bool array;
    size_t done_bytes, all_bytes;
    double t0;
    int failed_db;
} imp;

static void report(imp *m, long long where, const char *text, size_t len, const adb_log_result *r)
{
    const char *unit = m->array ? "element" : "line";

    m->rejected++;
    for (int i = 0; i < r->errors.count; i++)
        fprintf(stderr, "%s %lld: %s%s%s: %s\n", unit, where, r->errors.e[i].code,
                r->errors.e[i].field[0] ? " " : "", r->errors.e[i].field, r->errors.e[i].message);
    if (r->errors.count == 0)
        fprintf(stderr, "%s %lld: %s: %s\n", unit, where, adb_status_name(r->status),
                r->message[0] ? r->message : adb_strerror(r->status));
    if (m->rejects) {
        json_t *errs = json_array();
        for (int i = 0; i < r->errors.count; i++)
            json_array_append_new(errs, json_pack("{s:s, s:s, s:s}", "code", r->errors.e[i].code,
                                                  "field", r->errors.e[i].field, "message",
                                                  r->errors.e[i].message));
        json_t *line = json_pack("{s:I, s:s%, s:o}", m->array ? "element" : "line",
                                 (json_int_t)where, "input", text, len, "errors", errs);
        char *s = line ? json_dumps(line, JSON_COMPACT) : NULL;
        if (s)
            fprintf(m->rejects, "%s\n", s);
        free(s);
        json_decref(line);
    }
}

static void progress(imp *m, bool final)
{
    double secs = (adb__now_ms() - m->t0) / 1000.0;

    if (m->quiet || !cli_tty())
        return;
    fprintf(stderr, "\r\033[Kimporting: %lld events", m->total);
    if (m->all_bytes)
        fprintf(stderr, " (%.0f%%)", 100.0 * (double)m->done_bytes / (double)m->all_bytes);
    if (secs > 0)
        fprintf(stderr, ", %.0f events/s", (double)m->stored / secs);
    if (final)
        fputs("\r\033[K", stderr);
}

static void flush(imp *m)
{
    if (m->n == 0)
        return;
    adb_log_batch_json(m->h, (const char *const *)m->text, m->len, m->n, &m->lo, m->res);
    for (size_t i = 0; i < m->n; i++) {
        adb_log_result *r = &m->res[i];
        if (r->status == ADB_OK) {
            m->stored += !r->duplicate;
            m->duplicates += r->duplicate;
        } else {
            if (r->status == ADB_ERR_DB_CONNECT || r->status == ADB_ERR_BUSY)
                m->failed_db++;
            report(m, m->where[i], m->text[i], m->len[i], r);
        }
        free(m->text[i]);
    }
    m->n = 0;
    progress(m, false);
}

static bool add(imp *m, const char *text, size_t len, long long where)
{
    if (!(m->text[m->n] = malloc(len + 1)))
        return false;
    memcpy(m->text[m->n], text, len);
    m->text[m->n][len] = '\0';
    m->len[m->n] = len;
    m->where[m->n] = where;
    m->n++;
    m->total++;
    if (m->n == IMPORT_BATCH)
        flush(m);
    return true;
}

/* A JSON array: each element, written back canonically, is one event. */
static bool import_array(imp *m, const char *data, size_t len)
{
    adb_json_error je;
    adb_json_limits lim = { .max_depth = 32, .max_items = 50000000, .max_nodes = 500000000 };
    adb_json_doc *doc = adb__json_parse(data, len, &lim, &je);
    const adb_json *root;

    if (!doc) {
        cli_error("the file is not a valid JSON array: %s at byte %zu", je.message, je.offset);
        return false;
    }
    root = adb__json_root(doc);
    for (size_t i = 0; i < root->count; i++) {
        char *buf = NULL;
        size_t blen = 0, cap = 0;
        if (!adb__json_write_canonical(root->items[i], &buf, &blen, &cap) ||
            !add(m, buf, blen, (long long)i + 1)) {
            free(buf);
            adb__json_free(doc);
            cli_error("out of memory");
            return false;
        }
        free(buf);
        m->done_bytes = len * (i + 1) / (root->count ? root->count : 1);
    }
    adb__json_free(doc);
    return true;
}

/* NDJSON: one event per non-empty line. */
static bool import_lines(imp *m, const char *data, size_t len)
{
    long long lineno = 0;

    for (size_t pos = 0; pos < len;) {
        const char *nl = memchr(data + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - data) : len;
        size_t s = pos, e = end;
        lineno++;
        while (s < e && (data[s] == ' ' || data[s] == '\t' || data[s] == '\r'))
            s++;
        while (e > s && (data[e - 1] == ' ' || data[e - 1] == '\t' || data[e - 1] == '\r'))
            e--;
        if (e > s && !add(m, data + s, e - s, lineno)) {
            cli_error("out of memory");
            return false;
        }
        pos = end + 1;
        m->done_bytes = pos;
    }
    return true;
}

/* FILE, or standard input for "-", whole (bounded by IMPORT_MAX_BYTES). */
static char *read_all(const char *path, size_t *len)
{
    return strcmp(path, "-") == 0 ? adb__read_stream(stdin, IMPORT_MAX_BYTES, len)
                                  : adb__read_file(path, IMPORT_MAX_BYTES, len);
}

int cmd_import(int argc, char **argv)
{
    imp *m = calloc(1, sizeof(*m));
    const char *path = NULL, *rejects = NULL;
    cli_db db;
    char *data = NULL;
    size_t len = 0;
    int rc;

    if (!m)
        return EXIT_FAILURE_;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--org") && i + 1 < argc)
            m->lo.organization_id = argv[++i];
        else if (!strcmp(argv[i], "--preset") && i + 1 < argc)
            m->lo.preset = argv[++i];
        else if (!strcmp(argv[i], "--rejects") && i + 1 < argc)
            rejects = argv[++i];
        else if (!strcmp(argv[i], "--legacy"))
            m->lo.allow_legacy_hash = true;
        else if (!strcmp(argv[i], "--quiet"))
            m->quiet = true;
        else if (!path && (argv[i][0] != '-' || !strcmp(argv[i], "-")))
            path = argv[i];
        else {
            cli_error("unknown argument \"%s\"; run \"auditdb import --help\"", argv[i]);
            free(m);
            return EXIT_USAGE;
        }
    }
    if (!path) {
        cli_error("missing FILE (a path, or - for standard input)");
        free(m);
        return EXIT_USAGE;
    }
    if (!(data = read_all(path, &len))) {
        cli_error("could not read \"%s\": %s", path, errno == EFBIG ? "larger than 1 GiB" : strerror(errno));
        free(m);
        return EXIT_FAILURE_;
    }
    if (rejects && !(m->rejects = fopen(rejects, "w"))) {
        cli_error("could not create \"%s\": %s", rejects, strerror(errno));
        free(data);
        free(m);
        return EXIT_FAILURE_;
    }
    if ((rc = cli_adb_open(&db, &m->h)) != EXIT_OK)
        goto out;
    m->t0 = adb__now_ms();
    m->all_bytes = len;
    size_t first = 0;
    while (first < len && (data[first] == ' ' || data[first] == '\n' || data[first] == '\t' ||
                           data[first] == '\r'))
        first++;
    m->array = first < len && data[first] == '[';
    bool ok = m->array ? import_array(m, data, len) : import_lines(m, data, len);
    flush(m);
    progress(m, true);
    double secs = (adb__now_ms() - m->t0) / 1000.0;
    printf("imported %lld of %lld event(s) in %.2f s (%.0f events/s): %lld rejected, %lld "
           "already present (idempotency key)\n", m->stored, m->total, secs,
           secs > 0 ? (double)m->stored / secs : 0.0, m->rejected, m->duplicates);
    rc = !ok ? EXIT_FAILURE_ : m->failed_db ? EXIT_DB : m->rejected ? EXIT_FAILURE_ : EXIT_OK;
out:
    for (size_t i = 0; i < m->n; i++)
        free(m->text[i]);
    adb_close(m->h);
    cli_db_close(&db);
    if (m->rejects)
        fclose(m->rejects);
    free(data);
    free(m);
    return rc;
}
