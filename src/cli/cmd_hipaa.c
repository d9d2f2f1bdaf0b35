/*
 * cmd_hipaa.c - `auditdb hipaa accounting`: a patient's accounting of
 * disclosures (45 CFR 164.528) from the command line, the same as
 * GET /api/v1/compliance/hipaa/accounting (docs/hipaa.md); the reading is an
 * audit event of the organization, recorded before anything is printed.
 */
#include "cli.h"
#include "gdpr.h"
#include "../compliance/hipaa.h"
#include "../core/util.h"
#include "../event/event.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HIPAA_USAGE "usage: auditdb hipaa accounting --patient ID [--org ID] [--from T] [--to T]"

int cmd_hipaa(int argc, char **argv)
{
    const char *org = "default", *patient = NULL, *from = NULL, *to = NULL;
    int64_t now = adb__now_us(), floor_us = adb__hipaa_window_start(now), start = floor_us, end = now;
    char s_text[ADB_TS_TEXT_MAX], e_text[ADB_TS_TEXT_MAX], err[ADB_ERRMSG_MAX], who[300];
    cli_db db;
    adb *h = NULL;
    int rc;

    if (argc < 2 || strcmp(argv[1], "accounting") != 0) {
        cli_error(HIPAA_USAGE);
        return EXIT_USAGE;
    }
    for (int i = 2; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--org") && v)
            org = v;
        else if (!strcmp(argv[i], "--patient") && v)
            patient = v;
        else if (!strcmp(argv[i], "--from") && v)
            from = v;
        else if (!strcmp(argv[i], "--to") && v)
            to = v;
        else {
            cli_error("unknown argument \"%s\"; " HIPAA_USAGE, argv[i]);
            return EXIT_USAGE;
        }
        i++;
    }
    if (!patient || !*patient || strlen(patient) > 255) {
        cli_error("--patient ID is required (1 to 255 bytes); " HIPAA_USAGE);
        return EXIT_USAGE;
    }
    if ((from && !adb__timestamp_parse(from, strlen(from), &start)) ||
        (to && !adb__timestamp_parse(to, strlen(to), &end))) {
        cli_error("--from and --to take RFC 3339 timestamps with an offset");
        return EXIT_USAGE;
    }
    if (start < floor_us) {
        cli_error("--from must be within the six years before now (164.528(a)(1))");
        return EXIT_USAGE;
    }
    if (end > now)
        end = now;
    if (end < start) {
        cli_error("--to must not be before --from");
        return EXIT_USAGE;
    }
    adb__timestamp_format(start, s_text);
    adb__timestamp_format(end, e_text);
    cli_actor(who, sizeof(who));
    if ((rc = cli_adb_open(&db, &h)) != EXIT_OK)
        goto out;
    json_t *entries = NULL;
    adb__hipaa_counts counts;
    adb_status st = adb__hipaa_accounting_read(h, org, patient, s_text, e_text, &entries, &counts,
                                               err, sizeof(err));
    if (st == ADB_OK) {
        json_t *extra = json_pack("{s:I, s:s}", "entries", (json_int_t)counts.entries, "via", "cli");
        st = adb__hipaa_record_reading(h, org, who, "hipaa.accounting.read", patient, s_text,
                                       e_text, extra);
        json_decref(extra);
        if (st != ADB_OK)
            adb__fmt(err, sizeof(err), "could not record the reading of the accounting as an "
                     "audit event: %s", adb_strerror(st));
    }
    if (st != ADB_OK) {
        json_decref(entries);
        cli_error("%s", err);
        rc = st == ADB_ERR_BUSY ? EXIT_FAILURE_ : cli_exit_code(st);
        goto out;
    }
    char gen[ADB_TS_TEXT_MAX];
    adb__timestamp_format(adb__now_us(), gen);
    json_t *o = json_pack("{s:s, s:s, s:{s:s, s:s}, s:s, s:o, s:{s:I, s:I, s:I}}", "organizationId",
                          org, "patientId", patient, "period", "startDate", s_text, "endDate",
                          e_text, "generatedAt", gen, "disclosures", entries, "counts", "entries",
                          (json_int_t)counts.entries, "disclosures", (json_int_t)counts.listed,
                          "excluded", (json_int_t)counts.excluded);
    char *text = o ? json_dumps(o, JSON_INDENT(2)) : NULL;
    printf("%s\n", text ? text : "null");
    free(text);
    json_decref(o);
    rc = EXIT_OK;
out:
    adb_close(h);
    cli_db_close(&db);
    return rc;
}
