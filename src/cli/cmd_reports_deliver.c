/*
 * cmd_reports_deliver.c - `auditdb reports deliver`: hands a file to the
 * delivery queue as a report artifact, through adb__report_deliver
 * (src/report/deliver.c; docs/reports.md "Delivery of artifacts"), in one
 * transaction as the organization. The operator's way to send a report
 * again by hand, and the tests' way to drive report delivery to the real
 * peers without generating a report. The delivery threads of a running
 * `auditdb serve` deliver it; `auditdb deliveries show ID` follows it.
 *
 * adb_cmd_reports_deliver is a subcommand of `auditdb reports` (the
 * dispatcher is cmd_reports.c).
 */
#include "cli.h"
#include "../core/util.h"
#include "../report/report.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FILE_MAX (256LL * 1024 * 1024)

const char cli_reports_deliver_usage[] =
    "usage: auditdb reports deliver --file PATH [--org ID] [--destinations default|ID,ID...]\n"
    "                               [--execution EXECUTION-ID] [--report REPORT-ID]\n"
    "                               [--filename NAME] [--content-type TYPE]\n"
    "                               [--compression none|gzip|zip]\n"
    "\n"
    "Queues the bytes of PATH as a report artifact to destinations of organization ID\n"
    "(default \"default\"): \"default\" (the default; the organization's enabled destinations\n"
    "flagged default) or destination ids. One delivery, one queue item per destination, each\n"
    "carrying the exact bytes; the delivery threads of `auditdb serve` send them (webhook POST,\n"
    "email attachment, S3 or SFTP file, download link).\n"
    "\n"
    "  --execution  a report execution of the organization: the delivery is recorded in it\n"
    "               (delivery_id) and every attempt in its delivery_attempts; an execution is\n"
    "               delivered once (again: the same delivery is printed)\n"
    "  --report     the compliance report's id (payload metadata reportId)\n"
    "  --filename   the file name (default: PATH's last component)\n"
    "  --content-type  default from the extension: .json .csv .xml .pdf .xlsx, else\n"
    "               application/octet-stream\n"
    "  --compression  the file sent packed as gzip (NAME.gz) or zip (NAME.zip, one entry);\n"
    "               the bytes inside are PATH's (payload metadata artifactSha256)\n"
    "\n"
    "Prints the delivery id. Exit: 0 queued, 1 refused (unknown destination, none default,\n"
    "bad file), 2 usage error, 3 database unavailable.\n";

static const char *type_of(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot)
        return "application/octet-stream";
    if (!strcmp(dot, ".json"))
        return "application/json";
    if (!strcmp(dot, ".csv"))
        return "text/csv; charset=utf-8";
    if (!strcmp(dot, ".xml"))
        return "application/xml";
    if (!strcmp(dot, ".pdf"))
        return "application/pdf";
    if (!strcmp(dot, ".xlsx"))
        return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
    return "application/octet-stream";
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *b = NULL;
    size_t cap = 0, n = 0;
    if (!f)
        return NULL;
    for (;;) {
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 65536;
            unsigned char *t = (long long)nc > FILE_MAX + 1 ? NULL : realloc(b, nc);
            if (!t) {
                free(b);
                fclose(f);
                return NULL;
            }
            b = t;
            cap = nc;
        }
        size_t got = fread(b + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    bool bad = ferror(f) || (long long)n > FILE_MAX;
    fclose(f);
    if (bad) {
        free(b);
        return NULL;
    }
    *len = n;
    return b;
}

int adb_cmd_reports_deliver(int argc, char **argv)
{
    const char *org = "default", *file = NULL, *dests = "default", *exec = NULL, *report = NULL,
               *fname = NULL, *ctype = NULL, *comp = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(cli_reports_deliver_usage, stdout);
            return EXIT_OK;
        }
        const char **dst = !strcmp(a, "--org") ? &org : !strcmp(a, "--file") ? &file
                         : !strcmp(a, "--destinations") ? &dests : !strcmp(a, "--execution") ? &exec
                         : !strcmp(a, "--report") ? &report : !strcmp(a, "--filename") ? &fname
                         : !strcmp(a, "--content-type") ? &ctype
                         : !strcmp(a, "--compression") ? &comp : NULL;
        if (!dst || !v) {
            cli_error("%s \"%s\"; run \"auditdb reports deliver --help\"",
                      dst ? "missing value after" : "unknown argument", a);
            return EXIT_USAGE;
        }
        *dst = v;
        i++;
    }
    if (!file) {
        cli_error("reports deliver needs --file PATH");
        return EXIT_USAGE;
    }
    if (!fname) {
        fname = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
    }
    if (!fname[0] || strlen(fname) >= sizeof(((adb__report_result *)0)->filename) ||
        (report && strlen(report) >= sizeof(((adb__report_result *)0)->report_id))) {
        cli_error("--filename must be 1 to 127 bytes and --report at most 63");
        return EXIT_USAGE;
    }
    /* the destinations as the client's DeliveryConfig */
    json_t *delivery;
    if (!strcmp(dests, "default")) {
        delivery = json_pack("{s:s}", "destinations", "default");
    } else {
        json_t *ids = json_array();
        char *copy = strdup(dests), *save = NULL;
        for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t; t = strtok_r(NULL, ",", &save))
            json_array_append_new(ids, json_string(t));
        free(copy);
        delivery = json_pack("{s:o}", "destinations", ids);
    }
    if (comp && delivery) /* checked by adb__report_deliver (delivery.compression) */
        json_object_set_new(delivery, "compression", json_string(comp));

    adb__report_result r;
    memset(&r, 0, sizeof(r));
    if (!(r.artifact = slurp(file, &r.artifact_len))) {
        cli_error("could not read %s (at most 256 MiB)", file);
        json_decref(delivery);
        return EXIT_FAILURE_;
    }
    adb__fmt(r.filename, sizeof(r.filename), "%s", fname);
    if (report)
        adb__fmt(r.report_id, sizeof(r.report_id), "%s", report);
    r.content_type = ctype ? ctype : type_of(fname);
    adb__sha256_hex(r.artifact, r.artifact_len, r.sha256_hex);

    cli_db db;
    adb *h = NULL;
    adb_status st;
    PGconn *c = NULL;
    int rc = cli_adb_open(&db, &h);
    if (rc != EXIT_OK)
        goto out;
    if (!(c = adb_tenant_begin(h, org, &st, NULL, 0))) {
        cli_error("database unavailable");
        rc = EXIT_DB;
        goto out;
    }
    char did[64], err[256];
    st = adb__report_deliver(c, org, delivery, exec, &r, did, err, sizeof(err));
    adb_tenant_end(h, c, st == ADB_OK);
    if (st == ADB_OK) {
        printf("%s\n", did);
        rc = EXIT_OK;
    } else {
        cli_error("%s", err[0] ? err : "the delivery could not be queued");
        rc = st == ADB_ERR_DB_QUERY || st == ADB_ERR_DB_CONNECT ? EXIT_DB : EXIT_FAILURE_;
    }
out:
    if (h)
        adb_close(h);
    cli_db_close(&db);
    free(r.artifact);
    json_decref(delivery);
    return rc;
}
