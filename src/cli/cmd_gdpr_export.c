/*
 * cmd_gdpr_export.c - `auditdb gdpr export`: the GDPR export of one data
 * subject (src/http/gdpr_export.h; docs/gdpr.md "Export") written to a file
 * or stdout, exactly as the HTTP route writes it: the same document, the
 * same data-subject request, the same audit event (principal "cli:<user>").
 */
#include "gdpr.h"
#include "../core/util.h"
#include "../event/event.h"
#include "../http/gdpr_export.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char cli_gdpr_export_usage[] =
    "usage: auditdb gdpr export --subject ID [--org ID] [--format json|ndjson|csv|xml]\n"
    "                           [--request-type access|portability] [--subject-type TYPE]\n"
    "                           [--from TIME] [--to TIME] [--categories C[,C...]]\n"
    "                           [--no-metadata] [--no-events] [--output FILE]\n"
    "\n"
    "Everything the organization holds about a data subject (GDPR Art. 15 access, Art. 20\n"
    "portability): the Art. 15(1) answers, the consultations of the subject's data, then the\n"
    "subject's events, archived ones included (in ndjson each with its receipt for\n"
    "`auditdb verify-proof`). The export is recorded as an audit event and as a data-subject\n"
    "request. --org defaults to \"default\"; --format to json; --output to stdout (a file is\n"
    "removed again when the export fails). --categories: PUBLIC, INTERNAL, CONFIDENTIAL, PHI.\n"
    "\n"
    "Exit: 0 written, 1 the export failed, 2 usage error, 3 database unavailable.\n";

#define EXPORT_USAGE "run \"auditdb gdpr export --help\""

/* A time argument in canonical form into out; false when it is not one. */
static bool parse_time(const char *s, char out[ADB_TS_TEXT_MAX])
{
    int64_t us;
    if (!adb__timestamp_parse(s, strlen(s), &us))
        return false;
    adb__timestamp_format(us, out);
    return true;
}

/* "A,B" -> "{A,B}" when every name is a classification; false otherwise. */
static bool parse_categories(const char *s, char *out, size_t cap)
{
    static const char *const cls[] = { "PUBLIC", "INTERNAL", "CONFIDENTIAL", "PHI" };
    size_t o = 0;
    out[o++] = '{';
    for (const char *p = s; *p;) {
        size_t n = strcspn(p, ",");
        bool known = false;
        for (size_t k = 0; k < 4; k++)
            known |= strlen(cls[k]) == n && !strncmp(cls[k], p, n);
        if (!known || o + n + 2 >= cap)
            return false;
        if (o > 1)
            out[o++] = ',';
        memcpy(out + o, p, n);
        o += n;
        p += n + (p[n] == ',');
    }
    out[o++] = '}';
    out[o] = '\0';
    return o > 2;
}

int cmd_gdpr_export(int argc, char **argv)
{
    const char *org = "default", *subject = NULL, *format = "json", *rtype = "access";
    const char *stype = "user", *output = NULL;
    char from[ADB_TS_TEXT_MAX] = "", to[ADB_TS_TEXT_MAX] = "", cats[64] = "";
    bool metadata = true, personal = true;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool takes = strcmp(a, "--no-metadata") && strcmp(a, "--no-events");
        if (takes && !v) {
            cli_error("%s needs a value; " EXPORT_USAGE, a);
            return EXIT_USAGE;
        }
        if (!strcmp(a, "--org"))
            org = v;
        else if (!strcmp(a, "--subject"))
            subject = v;
        else if (!strcmp(a, "--format"))
            format = v;
        else if (!strcmp(a, "--request-type"))
            rtype = v;
        else if (!strcmp(a, "--subject-type"))
            stype = v;
        else if (!strcmp(a, "--output"))
            output = v;
        else if (!strcmp(a, "--from") || !strcmp(a, "--to")) {
            if (!parse_time(v, a[2] == 'f' ? from : to)) {
                cli_error("%s must be an ISO 8601 date-time, not \"%s\"", a, v);
                return EXIT_USAGE;
            }
        } else if (!strcmp(a, "--categories")) {
            if (!parse_categories(v, cats, sizeof(cats))) {
                cli_error("--categories must name PUBLIC, INTERNAL, CONFIDENTIAL or PHI, comma-separated");
                return EXIT_USAGE;
            }
        } else if (!strcmp(a, "--no-metadata")) {
            metadata = false;
            continue;
        } else if (!strcmp(a, "--no-events")) {
            personal = false;
            continue;
        } else {
            cli_error("unknown option \"%s\"; " EXPORT_USAGE, a);
            return EXIT_USAGE;
        }
        i++;
    }
    if (!subject || !subject[0] || strlen(subject) > 255) {
        cli_error("--subject is required: the data subject's id as events name it (at most 255 bytes)");
        return EXIT_USAGE;
    }
    if (strcmp(format, "json") && strcmp(format, "ndjson") && strcmp(format, "csv") && strcmp(format, "xml")) {
        cli_error("--format must be json, ndjson, csv or xml");
        return EXIT_USAGE;
    }
    if (strcmp(rtype, "access") && strcmp(rtype, "portability")) {
        cli_error("--request-type must be access or portability");
        return EXIT_USAGE;
    }
    if (from[0] && to[0] && strcmp(from, to) > 0) {
        cli_error("--from must not be after --to");
        return EXIT_USAGE;
    }

    cli_db db;
    adb *h = NULL;
    int rc = cli_adb_open(&db, &h);
    if (rc != EXIT_OK) {
        cli_db_close(&db);
        return rc;
    }
    FILE *f = output ? fopen(output, "wb") : stdout;
    char who[300];
    cli_actor(who, sizeof(who));
    adb_gdpr_export_args a = {
        .org = org, .subject = subject, .subject_type = stype, .request_type = rtype,
        .format = format, .from = from[0] ? from : NULL, .to = to[0] ? to : NULL,
        .categories = cats[0] ? cats : NULL, .metadata = metadata, .personal = personal,
        .principal = who, .role = "operator", .request_id = "", .handler = who,
    };
    const char *id = NULL;
    void *x = NULL;
    if (!f) {
        cli_error("could not write \"%s\"", output);
        rc = EXIT_FAILURE_;
    } else if (!(x = adb_gdpr_export_begin(h, &a, &id))) {
        cli_error("could not begin the export: the database is unavailable");
        rc = EXIT_DB;
    } else {
        adb__buf out = { 0 };
        int k;
        do {
            k = adb_gdpr_export_fill(x, &out);
            if (k >= 0 && out.len && fwrite(out.p, 1, out.len, f) != out.len)
                k = -1;
            out.len = 0;
        } while (k == 1);
        adb__buf_free(&out);
        if (k < 0 || fflush(f) != 0) {
            cli_error("the export %s failed before its end%s", id, output ? ": the file was removed" : "");
            rc = EXIT_FAILURE_;
        } else if (output) {
            fprintf(stderr, "export %s written to %s\n", id, output);
        }
    }
    adb_gdpr_export_free(x);
    if (f && f != stdout && fclose(f) != 0)
        rc = EXIT_FAILURE_;
    if (output && f && rc != EXIT_OK)
        unlink(output);
    adb_close(h);
    cli_db_close(&db);
    return rc;
}
