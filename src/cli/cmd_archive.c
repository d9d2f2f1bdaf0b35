/*
 * cmd_archive.c - `auditdb archive list|show|verify|restore|export`: the
 * archives of audit events (docs/archive.md).
 */
#include "cli.h"
#include "../core/util.h"
#include "../lifecycle/archive.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ARCHIVE_USAGE                                                                        \
    "usage: auditdb archive list [--org ID] [--json] | show ID | verify ID | restore ID |"  \
    " export ID [--output FILE]"

/* The metadata member path a.b as text ("-" when absent). */
static const char *meta_text(json_t *m, const char *a, const char *b, char *buf, size_t len)
{
    json_t *v = json_object_get(m, a);

    if (b)
        v = json_object_get(v, b);
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v)) {
        adb__fmt(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return buf;
    }
    return "-";
}

static json_t *entry_json(const adb__archive_entry *e)
{
    return json_pack("{s:s, s:s, s:s, s:I, s:b, s:o*}", "id", e->id, "organizationId",
                     e->organization_id, "createdAt", e->created_at, "retrievedCount",
                     (json_int_t)e->retrieved_count, "deleted", e->deleted, "metadata",
                     json_loads(e->metadata, 0, NULL));
}

static int do_list(adb *h, const char *org, bool as_json)
{
    adb__archive_entry *e = NULL;
    size_t n = 0;
    char err[ADB_ERRMSG_MAX];
    adb_status st = adb__archive_list(h, org, &e, &n, err, sizeof(err));

    if (st != ADB_OK) {
        cli_error("%s", err);
        return cli_exit_code(st);
    }
    if (as_json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, entry_json(&e[i]));
        cli_print_json(arr, JSON_COMPACT);
        json_decref(arr);
    } else {
        long long records = 0;
        printf("%-40s %-16s %-21s %8s %-10s %-10s %-12s %-14s %10s %s\n", "archive", "organization",
               "positions", "records", "from", "to", "class", "policy", "bytes", "state");
        for (size_t i = 0; i < n; i++) {
            json_t *m = json_loads(e[i].metadata, 0, NULL);
            char b[8][32], pos[72];
            adb__fmt(pos, sizeof(pos), "%s..%s", meta_text(m, "chain", "firstSeq", b[0], 32),
                     meta_text(m, "chain", "lastSeq", b[1], 32));
            printf("%-40s %-16s %-21s %8s %-10.10s %-10.10s %-12s %-14s %10s %s\n", e[i].id,
                   e[i].organization_id, pos, meta_text(m, "recordCount", NULL, b[2], 32),
                   meta_text(m, "dateRange", "start", b[3], 32),
                   meta_text(m, "dateRange", "end", b[4], 32),
                   meta_text(m, "dataClassification", NULL, b[5], 32),
                   meta_text(m, "retentionPolicy", NULL, b[6], 32),
                   meta_text(m, "compressedSize", NULL, b[7], 32),
                   e[i].deleted ? "deleted" : "archived");
            json_t *rc = json_object_get(m, "recordCount");
            records += json_is_integer(rc) ? (long long)json_integer_value(rc) : 0;
            json_decref(m);
        }
        printf("%zu archive(s), %lld record(s)\n", n, records);
    }
    adb__archive_entries_free(e, n);
    return EXIT_OK;
}

static int do_show(adb *h, const char *id)
{
    adb__archive_entry e;
    char err[ADB_ERRMSG_MAX];
    adb_status st = adb__archive_get(h, id, &e, err, sizeof(err));

    if (st != ADB_OK) {
        cli_error("%s", err);
        return st == ADB_ERR_NOT_FOUND ? EXIT_FAILURE_ : cli_exit_code(st);
    }
    json_t *j = entry_json(&e);
    cli_print_json(j, JSON_INDENT(2));
    json_decref(j);
    free(e.metadata);
    return EXIT_OK;
}

static void on_problem(void *ud, const char *kind, int64_t seq, const char *message)
{
    const char *id = ud;
    (void)seq;
    printf("%s: %s: %s\n", id, kind, message);
}

static int do_verify(adb *h, const char *id)
{
    long long rows = 0, problems = 0;
    char err[ADB_ERRMSG_MAX];
    adb_status st = adb__archive_verify(h, id, on_problem, (void *)id, &rows, &problems, err,
                                        sizeof(err));

    if (st != ADB_OK) {
        cli_error("%s", err);
        return st == ADB_ERR_NOT_FOUND ? EXIT_FAILURE_ : cli_exit_code(st);
    }
    if (problems) {
        printf("archive %s: %lld row(s) read, %lld problem(s): TAMPERING DETECTED\n", id, rows,
               problems);
        return EXIT_INTEGRITY;
    }
    printf("archive %s: %lld row(s) verified: checksums, hashes, signatures and chain links intact\n",
           id, rows);
    return EXIT_OK;
}

static int do_restore(adb *h, const char *id)
{
    long long rows = 0;
    char err[ADB_ERRMSG_MAX];
    adb_status st = adb__archive_restore(h, id, &rows, err, sizeof(err));

    if (st != ADB_OK) {
        cli_error("%s", err);
        return st == ADB_ERR_NOT_FOUND || st == ADB_ERR_INVALID ? EXIT_FAILURE_ : cli_exit_code(st);
    }
    printf("restored %lld event(s) from archive %s; the archive is removed\n", rows, id);
    return EXIT_OK;
}

/* Exports to stdout, or to FILE through FILE.tmp renamed at the end, so
 * that FILE is never half-written. */
static int do_export(adb *h, const char *id, const char *path)
{
    long long rows = 0;
    char err[ADB_ERRMSG_MAX];
    char *tmp = path ? adb__aprintf("%s.tmp", path) : NULL;
    FILE *f = path ? (tmp ? fopen(tmp, "w") : NULL) : stdout;
    adb_status st;

    if (!f) {
        cli_error("could not write %s: %s", tmp ? tmp : path, strerror(tmp ? errno : ENOMEM));
        free(tmp);
        return EXIT_FAILURE_;
    }
    st = adb__archive_export(h, id, f, &rows, err, sizeof(err));
    if (fflush(f) != 0 && st == ADB_OK) {
        adb__fmt(err, sizeof(err), "could not write %s: %s", path ? tmp : "standard output",
                 strerror(errno));
        st = ADB_ERR_IO;
    }
    if (path) {
        if (fclose(f) != 0 && st == ADB_OK) {
            adb__fmt(err, sizeof(err), "could not write %s: %s", tmp, strerror(errno));
            st = ADB_ERR_IO;
        }
        if (st == ADB_OK && rename(tmp, path) != 0) {
            adb__fmt(err, sizeof(err), "could not rename %s to %s: %s", tmp, path, strerror(errno));
            st = ADB_ERR_IO;
        }
        if (st != ADB_OK)
            unlink(tmp);
    }
    free(tmp);
    if (st != ADB_OK) {
        cli_error("%s", err);
        return st == ADB_ERR_NOT_FOUND || st == ADB_ERR_INVALID ? EXIT_FAILURE_ : cli_exit_code(st);
    }
    if (path)
        fprintf(stderr, "exported %lld event(s) of archive %s to %s\n", rows, id, path);
    return EXIT_OK;
}

int cmd_archive(int argc, char **argv)
{
    const char *sub = argc > 1 ? argv[1] : "", *id = NULL, *org = NULL, *output = NULL;
    bool as_json = false, list = !strcmp(sub, "list");
    cli_db db;
    adb *h = NULL;
    int rc;

    if (!list && strcmp(sub, "show") && strcmp(sub, "verify") && strcmp(sub, "restore") &&
        strcmp(sub, "export")) {
        cli_error(ARCHIVE_USAGE);
        return EXIT_USAGE;
    }
    for (int i = 2; i < argc; i++) {
        if (list && !strcmp(argv[i], "--org") && i + 1 < argc)
            org = argv[++i];
        else if (list && !strcmp(argv[i], "--json"))
            as_json = true;
        else if (!strcmp(sub, "export") && !strcmp(argv[i], "--output") && i + 1 < argc)
            output = argv[++i];
        else if (!list && !id && argv[i][0] != '-')
            id = argv[i];
        else {
            cli_error("unknown argument \"%s\"; run \"auditdb archive --help\"", argv[i]);
            return EXIT_USAGE;
        }
    }
    if (!list && !id) {
        cli_error("archive %s needs an archive id; " ARCHIVE_USAGE, sub);
        return EXIT_USAGE;
    }
    if (strcmp(sub, "restore") != 0)
        cli_reading(list ? "archive list" : !strcmp(sub, "show") ? "archive show" :
                    !strcmp(sub, "verify") ? "archive verify" : "archive export");
    if ((rc = cli_adb_open(&db, &h)) != EXIT_OK)
        goto out;
    if (list)
        rc = do_list(h, org, as_json);
    else if (!strcmp(sub, "show"))
        rc = do_show(h, id);
    else if (!strcmp(sub, "verify"))
        rc = do_verify(h, id);
    else if (!strcmp(sub, "restore"))
        rc = do_restore(h, id);
    else
        rc = do_export(h, id, output);
out:
    adb_close(h);
    cli_db_close(&db);
    return rc;
}
