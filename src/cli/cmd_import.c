/*
 * cmd_import.c - `auditdb import FILE|-`: NDJSON or a JSON array of events,
 * validated and written through the same writer as the API, in batches.
 * Rejected events are reported with their line (or element) and reasons;
 * nothing of a rejected event is stored. NDJSON is streamed (each batch is
 * written as soon as it is read, whatever the input's size); a JSON array is
 * parsed whole, so it is bounded by IMPORT_MAX_BYTES.
 */
#include "cli.h"
#include "../core/buf.h"
#include "../core/util.h"
#include "../event/json.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#define IMPORT_MAX_BYTES ((size_t)1 << 30) /* a JSON array, read whole */
#define IMPORT_MAX_LINE ((size_t)16 << 20) /* one NDJSON line */
#define IMPORT_BATCH 1000
#define IMPORT_IDLE_MS 200 /* a pipe quiet this long: the pending batch is written */

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

/* One NDJSON line (line number lineno), blanks around it dropped; an empty
 * line is skipped. */
static bool import_line(imp *m, const char *text, size_t len, long long lineno)
{
    size_t s = 0, e = len;

    while (s < e && (text[s] == ' ' || text[s] == '\t' || text[s] == '\r'))
        s++;
    while (e > s && (text[e - 1] == ' ' || text[e - 1] == '\t' || text[e - 1] == '\r'))
        e--;
    if (e > s && !add(m, text + s, e - s, lineno)) {
        cli_error("out of memory");
        return false;
    }
    return true;
}

/* A line over IMPORT_MAX_LINE: rejected without being kept. */
static void too_long(imp *m, long long lineno)
{
    adb_log_result r;

    memset(&r, 0, sizeof(r));
    r.status = ADB_ERR_INVALID;
    adb__fmt(r.message, sizeof(r.message), "line longer than %zu MiB", IMPORT_MAX_LINE >> 20);
    m->total++;
    report(m, lineno, "", 0, &r);
}

/* The NDJSON reader's state: the line being assembled from blocks. */
typedef struct lines {
    adb__buf line;
    bool skipping; /* the line passed IMPORT_MAX_LINE: dropped up to its newline */
    bool any;      /* bytes seen since the last newline */
    long long lineno;
} lines;

/* The line in l is complete (a newline, or the end of the input). */
static bool lines_end(imp *m, lines *l)
{
    bool ok = true;

    l->lineno++;
    if (l->skipping)
        too_long(m, l->lineno);
    else
        ok = import_line(m, l->line.p ? l->line.p : "", l->line.len, l->lineno);
    l->line.len = 0;
    l->skipping = l->any = false;
    return ok;
}

/* Feeds n bytes of NDJSON; whole lines are imported as they complete. */
static bool lines_feed(imp *m, lines *l, const char *blk, size_t n)
{
    for (size_t p = 0; p < n;) {
        const char *nl = memchr(blk + p, '\n', n - p);
        size_t take = nl ? (size_t)(nl - (blk + p)) : n - p;
        l->any = true;
        if (!l->skipping && l->line.len + take > IMPORT_MAX_LINE)
            l->skipping = true;
        if (!l->skipping) {
            adb__buf_put(&l->line, blk + p, take);
            if (l->line.oom) {
                cli_error("out of memory");
                return false;
            }
        }
        p += take;
        if (!nl)
            break;
        p++; /* the newline */
        if (!lines_end(m, l))
            return false;
    }
    return true;
}

/*
 * Reads the input in blocks as they come (a pipe is not waited on to fill a
 * block). The first byte that is not a blank decides: '[' is a JSON array,
 * kept whole (up to IMPORT_MAX_BYTES, *data) and imported at its end;
 * anything else is NDJSON, imported line by line as it arrives. While a pipe
 * has nothing to read for IMPORT_IDLE_MS, the pending batch is written.
 */
static bool read_input(imp *m, int fd, const char *path, char **data)
{
    static char blk[1 << 16];
    lines l = { 0 };
    adb__buf arr = { 0 };
    int mode = 0; /* 0: undecided (blanks so far), 1: lines, 2: array */
    bool ok = true;

    for (;;) {
        if (m->n > 0) {
            struct pollfd pfd = { .fd = fd, .events = POLLIN };
            if (poll(&pfd, 1, IMPORT_IDLE_MS) == 0)
                flush(m);
        }
        ssize_t n = read(fd, blk, sizeof(blk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            cli_error("could not read \"%s\": %s", path, strerror(errno));
            ok = false;
            break;
        }
        if (n == 0)
            break;
        m->done_bytes += (size_t)n;
        size_t p = 0;
        while (mode == 0 && p < (size_t)n) {
            char c = blk[p];
            if (c == '\n')
                l.lineno++;
            else if (c != ' ' && c != '\t' && c != '\r')
                mode = c == '[' ? 2 : 1;
            if (mode == 0)
                p++;
        }
        if (mode == 1 && !(ok = lines_feed(m, &l, blk + p, (size_t)n - p)))
            break;
        if (mode == 2) {
            if (arr.len + ((size_t)n - p) > IMPORT_MAX_BYTES) {
                cli_error("could not read \"%s\": a JSON array larger than 1 GiB (NDJSON has no such limit)",
                          path);
                ok = false;
                break;
            }
            adb__buf_put(&arr, blk + p, (size_t)n - p);
            if (arr.oom) {
                cli_error("out of memory");
                ok = false;
                break;
            }
        }
    }
    m->array = mode == 2;
    if (ok && mode == 1 && l.any)
        ok = lines_end(m, &l); /* the last line, without a newline */
    if (ok && mode == 2)
        ok = import_array(m, arr.p, arr.len);
    adb__buf_free(&l.line);
    *data = arr.p; /* freed by the caller */
    return ok;
}

int cmd_import(int argc, char **argv)
{
    imp *m = calloc(1, sizeof(*m));
    const char *path = NULL, *rejects = NULL;
    cli_db db;
    char *data = NULL;
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
    int fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        cli_error("could not read \"%s\": %s", path, strerror(errno));
        free(m);
        return EXIT_FAILURE_;
    }
    if (rejects && !(m->rejects = fopen(rejects, "w"))) {
        cli_error("could not create \"%s\": %s", rejects, strerror(errno));
        if (fd != STDIN_FILENO)
            close(fd);
        free(m);
        return EXIT_FAILURE_;
    }
    if ((rc = cli_adb_open_tree(&db, &m->h, true)) != EXIT_OK)
        goto out;
    m->t0 = adb__now_ms();
    struct stat sb;
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode))
        m->all_bytes = (size_t)sb.st_size;
    bool ok = read_input(m, fd, path, &data);
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
    if (fd != STDIN_FILENO)
        close(fd);
    free(data);
    free(m);
    return rc;
}
