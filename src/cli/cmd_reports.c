/*
 * cmd_reports.c - `auditdb reports SUBCOMMAND`: the dispatcher of the report
 * commands (docs/reports.md, "API and CLI"), and its own three: generate
 * (one report, as the API does, signed with the log key), show (a report's
 * status, signed note or artifact) and verify (a stored report checked as
 * `auditdb verify-proof --report` does, from its note and artifact).
 */
#include "cli.h"
#include "../core/util.h"
#include "../log/logkey.h"
#include "../log/note.h"
#include "../report/report.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char generate_usage[] =
    "usage: auditdb reports generate --type hipaa|gdpr|integrity|general|custom\n"
    "                                --from TIME --to TIME [--org ID] [--format json|csv|xml|pdf|xlsx]\n"
    "                                [--criteria FILE.json] [--custom FILE.json] [--output FILE]\n"
    "\n"
    "Generates one report from the organization's events, stores it (compliance_reports) with\n"
    "its artifact, SHA-256 and checkpoint, signed with the log key, and writes the artifact to\n"
    "--output (default stdout). --criteria: a ReportCriteria object (its dateRange is replaced\n"
    "by --from/--to when given); --custom: the CustomReportParams of a custom report. The report\n"
    "id and hash go to stderr. --org defaults to \"default\".\n";

static const char show_usage[] =
    "usage: auditdb reports show ID [--org ID] [--note] [--artifact FILE]\n"
    "\n"
    "A report's status as JSON; --note prints its signed note instead; --artifact writes its\n"
    "artifact to FILE (\"-\": stdout).\n";

static const char verify_usage[] =
    "usage: auditdb reports verify ID [--org ID] [--previous]\n"
    "\n"
    "Checks a stored report as `auditdb verify-proof --report` would: its note's signature by\n"
    "the log key, its artifact's SHA-256, its consistency proof; --previous also checks the\n"
    "note of the report it extends. Exit 0 valid, 4 not.\n";

static const struct {
    const char *name, *type;
} types[] = { { "hipaa", "HIPAA_AUDIT_TRAIL" },
              { "gdpr", "GDPR_PROCESSING_ACTIVITIES" },
              { "integrity", "INTEGRITY_VERIFICATION" },
              { "general", "GENERAL_COMPLIANCE" },
              { "custom", "CUSTOM_REPORT" } };

static json_t *load_json(const char *path)
{
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j)
        cli_error("%s: line %d: %s", path, je.line, je.text);
    return j;
}

/* The log key of this configuration (NULL when there is none: unsigned). */
static bool load_signer(cli_db *db, adb__note_signer *s)
{
    char err[ADB_ERRMSG_MAX];
    if (adb__logkey_load(db->cfg.log_key, db->cfg.home, db->cfg.log_name, false, s, err,
                         sizeof(err)) != ADB_OK) {
        cli_error("the log key: %s (the report would be unsigned)", err);
        return false;
    }
    return true;
}

static int reports_generate(int argc, char **argv)
{
    const char *type = NULL, *from = NULL, *to = NULL, *org = "default", *format = "json";
    const char *crit_path = NULL, *custom_path = NULL, *output = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **dst = !strcmp(a, "--type")       ? &type
                           : !strcmp(a, "--from")     ? &from
                           : !strcmp(a, "--to")       ? &to
                           : !strcmp(a, "--org")      ? &org
                           : !strcmp(a, "--format")   ? &format
                           : !strcmp(a, "--criteria") ? &crit_path
                           : !strcmp(a, "--custom")   ? &custom_path
                           : !strcmp(a, "--output")   ? &output
                                                      : NULL;
        if (!dst) {
            cli_error("unknown option \"%s\"\n%s", a, generate_usage);
            return EXIT_USAGE;
        }
        if (i + 1 >= argc) {
            cli_error("%s needs a value", a);
            return EXIT_USAGE;
        }
        *dst = argv[++i];
    }
    const char *full = NULL;
    for (size_t i = 0; type && i < sizeof(types) / sizeof(types[0]); i++)
        if (!strcmp(types[i].name, type) || !strcmp(types[i].type, type))
            full = types[i].type;
    if (!full) {
        cli_error("--type must be hipaa, gdpr, integrity, general or custom\n%s", generate_usage);
        return EXIT_USAGE;
    }
    json_t *custom = custom_path ? load_json(custom_path) : NULL;
    json_t *crit = crit_path ? load_json(crit_path)
                   : json_is_object(json_object_get(custom, "criteria"))
                       ? json_deep_copy(json_object_get(custom, "criteria"))
                       : json_object();
    if (!json_is_object(crit) || (custom_path && !json_is_object(custom))) {
        if (crit && !json_is_object(crit))
            cli_error("--criteria: a JSON object is expected");
        if (custom && !json_is_object(custom))
            cli_error("--custom: a JSON object is expected");
        json_decref(crit);
        json_decref(custom);
        return EXIT_USAGE;
    }
    if (from || to) {
        json_t *dr = json_object_get(crit, "dateRange");
        if (!json_is_object(dr)) {
            dr = json_object();
            json_object_set_new(crit, "dateRange", dr);
        }
        if (from)
            json_object_set_new(dr, "startDate", json_string(from));
        if (to)
            json_object_set_new(dr, "endDate", json_string(to));
    }
    cli_db db;
    adb *h = NULL;
    int rc = cli_adb_open(&db, &h);
    if (rc != EXIT_OK) {
        cli_db_close(&db);
        json_decref(crit);
        json_decref(custom);
        return rc;
    }
    adb__note_signer signer;
    bool signed_ = load_signer(&db, &signer);
    char who[300];
    adb__fmt(who, sizeof(who), "cli:%s", getenv("USER") ? getenv("USER") : "operator");
    adb__report_request rq = { .org = org, .type = full, .criteria = crit, .custom = custom,
                               .format = format, .generated_by = who,
                               .signer = signed_ ? &signer : NULL };
    adb__report_result r;
    char field[128], err[ADB_ERRMSG_MAX];
    adb_status st = adb__report_generate(h, &rq, &r, field, sizeof(field), err, sizeof(err));
    if (st != ADB_OK) {
        if (field[0])
            cli_error("%s: %s", field, err);
        else
            cli_error("%s", err);
        rc = st == ADB_ERR_INVALID ? EXIT_USAGE : cli_exit_code(st);
    } else {
        FILE *f = output ? fopen(output, "wb") : stdout;
        if (!f || fwrite(r.artifact, 1, r.artifact_len, f) != r.artifact_len ||
            (f != stdout ? fclose(f) : fflush(f)) != 0) {
            cli_error("could not write \"%s\": %s", output ? output : "stdout", strerror(errno));
            rc = EXIT_FAILURE_;
        } else {
            fprintf(stderr, "report %s %s, %lld events, sha256 %s%s\n", r.report_id, r.filename,
                    r.records, r.sha256_hex, signed_ ? "" : " (unsigned: no log key)");
        }
        adb__report_result_free(&r);
    }
    if (signed_)
        adb__note_signer_free(&signer);
    json_decref(crit);
    json_decref(custom);
    adb_close(h);
    cli_db_close(&db);
    return rc;
}

/* The row of report id as the tenant org (NULL with a message). */
static PGresult *report_row(adb *h, const char *org, const char *id, int *rc)
{
    adb_status st;
    const char *p[] = { id };
    PGresult *r = adb_tenant_query(
        h, org,
        "SELECT id, report_type, status, format, created_at::text, completed_at::text, error,"
        " report_hash, signed_note, total_records, tree_size, filename, artifact, report_data"
        " FROM compliance_reports WHERE id = $1",
        1, p, ADB_PLAN_AUTO, NULL, 0, NULL, &st);
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
        cli_error("could not read the report: the database is unavailable");
        *rc = EXIT_DB;
        PQclear(r);
        return NULL;
    }
    if (PQntuples(r) == 0) {
        cli_error("no report %s in organization %s", id, org);
        *rc = EXIT_FAILURE_;
        PQclear(r);
        return NULL;
    }
    return r;
}

static unsigned char *artifact_of(PGresult *r, size_t *n)
{
    return PQgetisnull(r, 0, 12) ? NULL
                                 : PQunescapeBytea((const unsigned char *)PQgetvalue(r, 0, 12), n);
}

static int reports_show(int argc, char **argv)
{
    const char *id = NULL, *org = "default", *artifact = NULL;
    bool note = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--org") && i + 1 < argc)
            org = argv[++i];
        else if (!strcmp(argv[i], "--artifact") && i + 1 < argc)
            artifact = argv[++i];
        else if (!strcmp(argv[i], "--note"))
            note = true;
        else if (argv[i][0] != '-' && !id)
            id = argv[i];
        else {
            cli_error("unexpected \"%s\"\n%s", argv[i], show_usage);
            return EXIT_USAGE;
        }
    }
    if (!id) {
        cli_error("%s", show_usage);
        return EXIT_USAGE;
    }
    cli_reading("reports show");
    cli_db db;
    adb *h = NULL;
    int rc = cli_adb_open(&db, &h);
    PGresult *r = rc == EXIT_OK ? report_row(h, org, id, &rc) : NULL;
    if (r && note) {
        if (PQgetisnull(r, 0, 8)) {
            cli_error("report %s has no signed note (%s)", id, PQgetvalue(r, 0, 2));
            rc = EXIT_FAILURE_;
        } else {
            fputs(PQgetvalue(r, 0, 8), stdout);
        }
    } else if (r && artifact) {
        size_t n = 0;
        unsigned char *b = artifact_of(r, &n);
        FILE *f = strcmp(artifact, "-") ? fopen(artifact, "wb") : stdout;
        if (!b) {
            cli_error("report %s has no artifact (%s)", id, PQgetvalue(r, 0, 2));
            rc = EXIT_FAILURE_;
        } else if (!f || fwrite(b, 1, n, f) != n) {
            cli_error("could not write \"%s\"", artifact);
            rc = EXIT_FAILURE_;
        }
        if (f && f != stdout)
            fclose(f);
        PQfreemem(b);
    } else if (r) {
#define V(k) (PQgetisnull(r, 0, k) ? NULL : PQgetvalue(r, 0, k))
        json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s*, s:s*, s:s*, s:s*, s:s*, s:s*}",
                              "id", V(0), "type", V(1), "status", V(2), "format", V(3),
                              "createdAt", V(4), "completedAt", V(5), "error", V(6),
                              "reportHash", V(7), "records", V(9), "treeSize", V(10),
                              "filename", V(11));
#undef V
        char *s = o ? json_dumps(o, JSON_INDENT(2)) : NULL;
        if (s)
            printf("%s\n", s);
        free(s);
        json_decref(o);
    }
    PQclear(r);
    adb_close(h);
    cli_db_close(&db);
    return rc;
}

static bool write_tmp(const char *dir, const char *name, const void *b, size_t n, char *path,
                      size_t cap)
{
    adb__fmt(path, cap, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    bool ok = f && fwrite(b, 1, n, f) == n;
    if (f && fclose(f) != 0)
        ok = false;
    return ok;
}

static int reports_verify(int argc, char **argv)
{
    const char *id = NULL, *org = "default";
    bool previous = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--org") && i + 1 < argc)
            org = argv[++i];
        else if (!strcmp(argv[i], "--previous"))
            previous = true;
        else if (argv[i][0] != '-' && !id)
            id = argv[i];
        else {
            cli_error("unexpected \"%s\"\n%s", argv[i], verify_usage);
            return EXIT_USAGE;
        }
    }
    if (!id) {
        cli_error("%s", verify_usage);
        return EXIT_USAGE;
    }
    cli_reading("reports verify");
    cli_db db;
    adb *h = NULL;
    int rc = cli_adb_open(&db, &h);
    PGresult *r = rc == EXIT_OK ? report_row(h, org, id, &rc) : NULL, *pr = NULL;
    char dir[] = "/tmp/auditdb-report-XXXXXX", npath[600] = "", apath[600] = "", ppath[600] = "";
    char vkey[ADB_NOTE_VKEY_MAX];
    bool made = false;
    if (r && (PQgetisnull(r, 0, 8) || PQgetisnull(r, 0, 12))) {
        cli_error("report %s has no signed note or artifact (%s)", id, PQgetvalue(r, 0, 2));
        rc = EXIT_INTEGRITY;
    } else if (r && cli_log_vkey(db.cfg.log_key, db.cfg.home, db.cfg.log_name, vkey,
                                 sizeof(vkey)) != EXIT_OK) {
        rc = EXIT_FAILURE_;
    } else if (r && !(made = mkdtemp(dir) != NULL)) {
        cli_error("could not make a temporary folder: %s", strerror(errno));
        rc = EXIT_FAILURE_;
    } else if (r) {
        size_t n = 0;
        unsigned char *b = artifact_of(r, &n);
        bool ok = b && write_tmp(dir, "artifact", b, n, apath, sizeof(apath)) &&
                  write_tmp(dir, "report.note", PQgetvalue(r, 0, 8),
                            (size_t)PQgetlength(r, 0, 8), npath, sizeof(npath));
        PQfreemem(b);
        if (ok && previous) {
            /* the report the note names as previous */
            json_t *doc = json_loads(PQgetvalue(r, 0, 13), 0, NULL);
            const char *pid = json_string_value(json_object_get(
                json_object_get(json_object_get(doc, "provenance"), "previous"), "reportId"));
            int prc = EXIT_OK;
            if (pid && (pr = report_row(h, org, pid, &prc)) && !PQgetisnull(pr, 0, 8))
                ok = write_tmp(dir, "previous.note", PQgetvalue(pr, 0, 8),
                               (size_t)PQgetlength(pr, 0, 8), ppath, sizeof(ppath));
            else if (!pid)
                fprintf(stderr, "report %s is the first of its schedule or type\n", id);
            json_decref(doc);
        }
        if (!ok) {
            cli_error("could not write the report to %s", dir);
            rc = EXIT_FAILURE_;
        } else {
            char a0[] = "verify-proof", a1[] = "--report", a3[] = "--artifact", a5[] = "--vkey",
                 a7[] = "--org", a9[] = "--previous";
            char *av[] = { a0, a1, npath, a3, apath, a5, vkey, a7, (char *)org, a9, ppath, NULL };
            int ac = ppath[0] ? 11 : 9;
            rc = cli_verify_report(ac, av);
        }
    }
    if (made) {
        if (apath[0])
            unlink(apath);
        if (npath[0])
            unlink(npath);
        if (ppath[0])
            unlink(ppath);
        rmdir(dir);
    }
    PQclear(pr);
    PQclear(r);
    adb_close(h);
    cli_db_close(&db);
    return rc;
}

static const cli_sub subs[] = {
    { "generate", "generate one report (hipaa, gdpr, integrity, general, custom), stored and signed",
      generate_usage, reports_generate },
    { "show", "a report's status, signed note or artifact", show_usage, reports_show },
    { "verify", "check a stored report's note, artifact and consistency proof", verify_usage,
      reports_verify },
    { "render", "render a report document as json, csv, xml, pdf or xlsx", cli_reports_render_usage,
      adb_cmd_reports_render },
    { "deliver", "queue a report artifact to destinations", cli_reports_deliver_usage,
      adb_cmd_reports_deliver },
    { "schedules", "scheduled reports: list, show, create, run, executions, enable, disable, delete",
      adb_cmd_reports_schedules_usage, adb_cmd_reports_schedules },
    { "templates", "report templates: list, show, create, delete", adb_cmd_reports_templates_usage,
      adb_cmd_reports_templates },
    { NULL, NULL, NULL, NULL },
};

int cmd_reports(int argc, char **argv)
{
    return cli_dispatch("reports", "Compliance reports (docs/reports.md).", subs, argc, argv);
}
