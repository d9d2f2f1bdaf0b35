/*
 * cmd_reports_schedules.c - `auditdb reports schedules ...` and `auditdb
 * reports templates ...`: scheduled reports and report templates of an
 * organization as the API manages them (src/report/sched_store.c,
 * template_store.c; docs/reports.md, "API and CLI"). `schedules run`
 * executes a schedule now in this process (a manual execution, one row).
 */
#include "cli.h"
#include "../report/sched_store.h"
#include "../report/template_store.h"
#include "../core/util.h"

#include <jansson.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char adb_cmd_reports_schedules_usage[] =
    "usage: auditdb reports schedules list [--org ID] [--limit N] [--offset N]\n"
    "       auditdb reports schedules show ID [--org ID]\n"
    "       auditdb reports schedules create (--json DOC | --file FILE) [--org ID]\n"
    "       auditdb reports schedules run ID [--org ID]\n"
    "       auditdb reports schedules executions ID [--org ID] [--limit N]\n"
    "       auditdb reports schedules enable|disable|delete ID [--org ID]\n"
    "\n"
    "Scheduled reports of organization ID (default \"default\"). DOC is the body of\n"
    "POST /api/v1/scheduled-reports (docs/reports.md), FILE a file holding it or - for stdin.\n"
    "run executes the schedule now, in this process (a manual execution: generate, deliver,\n"
    "record) and prints the execution; a serve's scheduler runs the scheduled instants.\n"
    "\n"
    "Exit: 0 done, 1 unknown schedule, refused input or a failed execution, 2 usage error,\n"
    "3 database unavailable.\n";

const char adb_cmd_reports_templates_usage[] =
    "usage: auditdb reports templates list [--org ID]\n"
    "       auditdb reports templates show ID [--org ID]\n"
    "       auditdb reports templates create (--json DOC | --file FILE) [--org ID]\n"
    "       auditdb reports templates delete ID [--org ID]\n"
    "\n"
    "Report templates of organization ID (default \"default\"): defaults a scheduled report\n"
    "naming it by templateId starts from. DOC is the body of POST /api/v1/compliance/templates.\n"
    "\n"
    "Exit: 0 done, 1 unknown template or refused input, 2 usage error, 3 database unavailable.\n";

static int fail(adb_status st, const adb__sched_error *e, const char *what, const char *id)
{
    if (st == ADB_ERR_NOT_FOUND) {
        cli_error("no %s \"%s\" in this organization", what, id ? id : "");
        return EXIT_FAILURE_;
    }
    if (st == ADB_ERR_INVALID && e && e->code[0]) {
        cli_error("%s%s%s", e->field, e->field[0] ? ": " : "", e->message);
        return EXIT_FAILURE_;
    }
    cli_error("%s", adb_strerror(st));
    return cli_exit_code(st);
}

static json_t *load_doc(const char *doc, const char *file)
{
    json_error_t je;
    json_t *j = doc ? json_loads(doc, JSON_REJECT_DUPLICATES, &je)
                    : !strcmp(file, "-") ? json_loadf(stdin, JSON_REJECT_DUPLICATES, &je)
                                         : json_load_file(file, JSON_REJECT_DUPLICATES, &je);
    if (!j)
        cli_error("the document is not JSON: %s (line %d)", je.text, je.line);
    else if (!json_is_object(j)) {
        cli_error("the document must be a JSON object");
        json_decref(j);
        j = NULL;
    }
    return j;
}

typedef struct args {
    const char *sub, *org, *id, *doc, *file;
    long long limit, offset;
} args;

/* Parses SUB [ID] [--org ID] [--json DOC | --file FILE] [--limit N] [--offset N];
 * false after printing why. */
static bool parse(int argc, char **argv, bool takes_id, bool takes_doc, bool paged, args *a,
                  const char *help)
{
    for (int i = 2; i < argc; i++) {
        const char *s = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(s, "--org") && v) {
            a->org = argv[++i];
        } else if (takes_doc && !strcmp(s, "--json") && v && !a->file) {
            a->doc = argv[++i];
        } else if (takes_doc && !strcmp(s, "--file") && v && !a->doc) {
            a->file = argv[++i];
        } else if (paged && !strcmp(s, "--limit") && v) {
            if (!adb__parse_int(argv[++i], 1, 1000, &a->limit)) {
                cli_error("--limit must be 1 to 1000");
                return false;
            }
        } else if (paged && !strcmp(s, "--offset") && v) {
            if (!adb__parse_int(argv[++i], 0, 1000000000, &a->offset)) {
                cli_error("--offset must be 0 or more");
                return false;
            }
        } else if (takes_id && !a->id && s[0] != '-' && strlen(s) < 256) {
            a->id = s;
        } else {
            cli_error("unknown argument \"%s\"; run \"%s\"", s, help);
            return false;
        }
    }
    if (takes_id && !a->id) {
        cli_error("%s needs an id; run \"%s\"", a->sub, help);
        return false;
    }
    if (takes_doc && !a->doc && !a->file) {
        cli_error("%s needs --json DOC or --file FILE; run \"%s\"", a->sub, help);
        return false;
    }
    return true;
}

static bool is(const char *s, const char *v)
{
    return !strcmp(s, v);
}

int adb_cmd_reports_schedules(int argc, char **argv)
{
    static const char help[] = "auditdb reports schedules --help";
    args a = { .sub = argc > 1 ? argv[1] : "", .org = "default", .limit = 50 };
    const char *s = a.sub;
    bool list = is(s, "list"), show = is(s, "show"), create = is(s, "create"), run = is(s, "run"),
         execs = is(s, "executions"), en = is(s, "enable"), dis = is(s, "disable"), del = is(s, "delete");
    adb__sched_error e = { 0 };
    json_t *out = NULL, *body = NULL;
    char who[300];
    cli_db db;
    adb *h = NULL;
    adb_status st = ADB_OK;
    int rc;

    if (argc > 1 && (is(s, "--help") || is(s, "-h"))) {
        fputs(adb_cmd_reports_schedules_usage, stdout);
        return EXIT_OK;
    }
    if (!(list || show || create || run || execs || en || dis || del)) {
        cli_error("unknown schedules command \"%s\"; run \"%s\"", s, help);
        return EXIT_USAGE;
    }
    if (!parse(argc, argv, !list && !create, create, list || execs, &a, help))
        return EXIT_USAGE;
    if (create && !(body = load_doc(a.doc, a.file)))
        return EXIT_USAGE;
    if (list || show || execs)
        cli_reading("reports schedules");
    cli_actor(who, sizeof(who));
    if ((rc = cli_adb_open(&db, &h)) != EXIT_OK)
        goto out;
    adb__sched_query q = { .enabled = -1, .limit = a.limit, .offset = a.offset };
    if (list)
        st = adb__sched_list(h, a.org, &q, &out);
    else if (show)
        st = adb__sched_get(h, a.org, a.id, &out);
    else if (create)
        st = adb__sched_create(h, a.org, body, who, &out, &e);
    else if (execs)
        st = adb__sched_executions(h, a.org, a.id, a.limit, 0, NULL, &out);
    else if (en || dis)
        st = adb__sched_set_enabled(h, a.org, a.id, en, who, &out);
    else if (del)
        st = adb__sched_delete(h, a.org, a.id, who);
    else if ((st = adb__sched_execute(h, a.org, a.id, &out)) == ADB_OK) {
        /* run it here; a serve's scheduler may have taken it first: then its end is read */
        char eid[256];
        adb__fmt(eid, sizeof(eid), "%s", json_string_value(json_object_get(out, "id")));
        json_decref(out);
        out = NULL;
        PGconn *c = cli_db_connect(&db);
        if (!c) {
            rc = EXIT_DB;
            goto out;
        }
        adb_status rs = adb__scheduler_run_one(h, c, eid, db.cfg.report_lease_ms);
        PQfinish(c);
        for (int i = 0; i < 600; i++) {
            json_decref(out);
            out = NULL;
            if ((st = adb__sched_execution_get(h, a.org, a.id, eid, &out)) != ADB_OK)
                break;
            const char *status = json_string_value(json_object_get(out, "status"));
            if (rs == ADB_OK || !status || (strcmp(status, "pending") && strcmp(status, "running")))
                break;
            adb__sleep_ms(100);
        }
        if (st == ADB_OK && strcmp(json_string_value(json_object_get(out, "status")), "completed"))
            rc = EXIT_FAILURE_;
    }
    if (st != ADB_OK) {
        rc = fail(st, &e, "scheduled report", a.id);
    } else if (del) {
        printf("deleted %s\n", a.id);
    } else {
        cli_print_json(out, JSON_INDENT(2));
    }
out:
    json_decref(out);
    json_decref(body);
    adb_close(h);
    cli_db_close(&db);
    return rc;
}

int adb_cmd_reports_templates(int argc, char **argv)
{
    static const char help[] = "auditdb reports templates --help";
    args a = { .sub = argc > 1 ? argv[1] : "", .org = "default", .limit = 50 };
    const char *s = a.sub;
    bool list = is(s, "list"), show = is(s, "show"), create = is(s, "create"), del = is(s, "delete");
    adb__sched_error e = { 0 };
    json_t *out = NULL, *body = NULL;
    char who[300];
    cli_db db;
    adb *h = NULL;
    adb_status st;
    int rc;

    if (argc > 1 && (is(s, "--help") || is(s, "-h"))) {
        fputs(adb_cmd_reports_templates_usage, stdout);
        return EXIT_OK;
    }
    if (!(list || show || create || del)) {
        cli_error("unknown templates command \"%s\"; run \"%s\"", s, help);
        return EXIT_USAGE;
    }
    if (!parse(argc, argv, show || del, create, false, &a, help))
        return EXIT_USAGE;
    if (create && !(body = load_doc(a.doc, a.file)))
        return EXIT_USAGE;
    if (list || show)
        cli_reading("reports templates");
    cli_actor(who, sizeof(who));
    if ((rc = cli_adb_open(&db, &h)) != EXIT_OK)
        goto out;
    if (list)
        st = adb__template_list(h, a.org, &out);
    else if (show)
        st = adb__template_get(h, a.org, a.id, &out);
    else if (create)
        st = adb__template_create(h, a.org, body, who, &out, &e);
    else
        st = adb__template_delete(h, a.org, a.id, who);
    if (st != ADB_OK)
        rc = fail(st, &e, "report template", a.id);
    else if (del)
        printf("deleted %s\n", a.id);
    else
        cli_print_json(out, JSON_INDENT(2));
out:
    json_decref(out);
    json_decref(body);
    adb_close(h);
    cli_db_close(&db);
    return rc;
}
