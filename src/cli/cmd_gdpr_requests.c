/*
 * cmd_gdpr_requests.c - `auditdb gdpr requests`: data-subject requests as
 * records (src/compliance/dsr.h; docs/gdpr.md "Requests").
 */
#include "gdpr.h"
#include "../compliance/dsr.h"
#include "../core/util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char cli_gdpr_requests_usage[] =
    "usage: auditdb gdpr requests list [--org ID] [--kind K] [--status S] [--subject ID]\n"
    "                                  [--overdue] [--limit N] [--offset N] [--json]\n"
    "       auditdb gdpr requests show ID [--org ID]\n"
    "       auditdb gdpr requests open --kind K --subject ID [--basis TEXT] [--org ID]\n"
    "       auditdb gdpr requests extend ID (--months N | --days N) --reason TEXT [--org ID]\n"
    "       auditdb gdpr requests status ID in_progress|completed|refused [--outcome JSON]\n"
    "                                    [--org ID]\n"
    "\n"
    "Requests of data subjects (GDPR: access, portability, erasure, pseudonymization,\n"
    "rectification, restriction, objection; due one month after receipt, extended by up to\n"
    "two months in all with a reason) and of patients (HIPAA: hipaa_accounting due in 60\n"
    "days, hipaa_access in 30, one extension of up to 30 days with a reason). The subject id\n"
    "is stored only encrypted and as a keyed blind index. --org defaults to \"default\".\n"
    "\n"
    "  list     newest first (--limit default 50, at most 1000); --overdue: open and past due\n"
    "  show     one request as JSON\n"
    "  open     record a request received now; prints its id\n"
    "  extend   GDPR: --months 1 or 2 (the extension in all); HIPAA: --days 1..30, once\n"
    "  status   move it to in_progress, or close it completed or refused\n"
    "\n"
    "Exit: 0 done, 1 unknown request or refused change, 2 usage error, 3 database unavailable.\n";

#define REQ_USAGE "run \"auditdb gdpr requests --help\""

static int fail(adb_status st, const char *err)
{
    cli_error("%s", err);
    if (st == ADB_ERR_NOT_FOUND || st == ADB_ERR_INVALID)
        return EXIT_FAILURE_;
    return cli_exit_code(st);
}

static int do_list(adb *h, const char *org, const adb__dsr_filter *f, bool as_json)
{
    adb__dsr *d = NULL;
    size_t n = 0;
    long long total = 0;
    char err[ADB_ERRMSG_MAX];
    adb_status st = adb__dsr_list(h, org, f, &d, &n, &total, err, sizeof(err));

    if (st != ADB_OK)
        return fail(st, err);
    if (as_json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, adb__dsr_json(&d[i]));
        json_t *o = json_pack("{s:o, s:I}", "requests", arr, "total", (json_int_t)total);
        cli_print_json(o, JSON_COMPACT);
        json_decref(o);
    } else {
        printf("%-36s %-17s %-11s %-10s %-10s %s\n", "request", "kind", "status", "received",
               "due", "overdue");
        for (size_t i = 0; i < n; i++)
            printf("%-36s %-17s %-11s %-10.10s %-10.10s %s\n", d[i].id, d[i].kind, d[i].status,
                   d[i].received_at, d[i].extended_until[0] ? d[i].extended_until : d[i].due_at,
                   d[i].overdue ? "yes" : "no");
        printf("%zu of %lld request(s)\n", n, total);
    }
    adb__dsr_free(d, n);
    return EXIT_OK;
}

static int do_show(adb *h, const char *org, const char *id)
{
    adb__dsr d;
    char err[ADB_ERRMSG_MAX];
    adb_status st = adb__dsr_get(h, org, id, &d, err, sizeof(err));

    if (st != ADB_OK)
        return fail(st, err);
    json_t *j = adb__dsr_json(&d);
    cli_print_json(j, JSON_INDENT(2));
    json_decref(j);
    adb__dsr_clear(&d);
    return EXIT_OK;
}

int cmd_gdpr_requests(int argc, char **argv)
{
    const char *sub = argc > 1 ? argv[1] : "", *org = "default", *id = NULL, *kind = NULL;
    const char *status = NULL, *subject = NULL, *basis = NULL, *reason = NULL, *outcome = NULL;
    long long months = 0, days = 0;
    adb__dsr_filter f = { .limit = 50 };
    bool as_json = false;
    char err[ADB_ERRMSG_MAX], who[300];
    bool list = !strcmp(sub, "list"), show = !strcmp(sub, "show"), open = !strcmp(sub, "open");
    bool extend = !strcmp(sub, "extend"), set = !strcmp(sub, "status");
    cli_db db;
    adb *h = NULL;
    adb_status st;
    int rc;

    if (!list && !show && !open && !extend && !set) {
        cli_error("unknown requests command \"%s\"; " REQ_USAGE, sub);
        return EXIT_USAGE;
    }
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--org") && v) {
            org = v;
            i++;
        } else if ((list || open) && !strcmp(a, "--kind") && v) {
            kind = v;
            i++;
        } else if (list && !strcmp(a, "--status") && v) {
            f.status = v;
            i++;
        } else if ((list || open) && !strcmp(a, "--subject") && v) {
            subject = v;
            i++;
        } else if (list && !strcmp(a, "--overdue")) {
            f.overdue_only = true;
        } else if (list && !strcmp(a, "--json")) {
            as_json = true;
        } else if (list && !strcmp(a, "--limit") && v) {
            if (!adb__parse_int(v, 1, ADB_DSR_LIST_MAX, &f.limit)) {
                cli_error("--limit must be 1 to %d", ADB_DSR_LIST_MAX);
                return EXIT_USAGE;
            }
            i++;
        } else if (list && !strcmp(a, "--offset") && v) {
            if (!adb__parse_int(v, 0, 1000000000, &f.offset)) {
                cli_error("--offset must be a number of rows, 0 or more");
                return EXIT_USAGE;
            }
            i++;
        } else if (open && !strcmp(a, "--basis") && v) {
            basis = v;
            i++;
        } else if (extend && !strcmp(a, "--months") && v) {
            if (!adb__parse_int(v, 1, 2, &months)) {
                cli_error("--months must be 1 or 2 (GDPR Art. 12(3): two further months at most)");
                return EXIT_USAGE;
            }
            i++;
        } else if (extend && !strcmp(a, "--days") && v) {
            if (!adb__parse_int(v, 1, 30, &days)) {
                cli_error("--days must be 1 to 30 (HIPAA: one extension of 30 days at most)");
                return EXIT_USAGE;
            }
            i++;
        } else if (extend && !strcmp(a, "--reason") && v) {
            reason = v;
            i++;
        } else if (set && !strcmp(a, "--outcome") && v) {
            outcome = v;
            i++;
        } else if ((show || extend || set) && !id && a[0] != '-') {
            id = a;
        } else if (set && id && !status && a[0] != '-') {
            status = a;
        } else {
            cli_error("unknown argument \"%s\"; " REQ_USAGE, a);
            return EXIT_USAGE;
        }
    }
    if ((show || extend || set) && !id) {
        cli_error("requests %s needs a request id; " REQ_USAGE, sub);
        return EXIT_USAGE;
    }
    if (kind && !adb__dsr_kind_valid(kind)) {
        cli_error("unknown kind \"%s\" (access, portability, erasure, pseudonymization, "
                  "rectification, restriction, objection, hipaa_accounting, hipaa_access)", kind);
        return EXIT_USAGE;
    }
    if (f.status && !adb__dsr_status_valid(f.status)) {
        cli_error("unknown status \"%s\" (received, in_progress, completed, refused, extended)",
                  f.status);
        return EXIT_USAGE;
    }
    if (open && (!kind || !subject)) {
        cli_error("requests open needs --kind and --subject; " REQ_USAGE);
        return EXIT_USAGE;
    }
    if (extend && (!reason || (months > 0) == (days > 0))) {
        cli_error("requests extend needs --reason and one of --months (GDPR) or --days (HIPAA)");
        return EXIT_USAGE;
    }
    if (set && (!status || (strcmp(status, "in_progress") && strcmp(status, "completed") &&
                            strcmp(status, "refused")))) {
        cli_error("requests status needs in_progress, completed or refused; " REQ_USAGE);
        return EXIT_USAGE;
    }
    if (outcome) {
        json_t *j = json_loads(outcome, JSON_DECODE_ANY, NULL);
        if (!j) {
            cli_error("--outcome is not valid JSON");
            return EXIT_USAGE;
        }
        json_decref(j);
    }
    f.kind = kind;
    f.subject = list ? subject : NULL;
    if (list || show)
        cli_reading(list ? "gdpr requests list" : "gdpr requests show");
    cli_actor(who, sizeof(who));
    if ((rc = cli_adb_open(&db, &h)) != EXIT_OK)
        goto out;
    if (list) {
        rc = do_list(h, org, &f, as_json);
    } else if (show) {
        rc = do_show(h, org, id);
    } else if (open) {
        char nid[ADB_DSR_ID_LEN + 1];
        st = adb__dsr_open(h, org, kind, subject, who, basis, nid, err, sizeof(err));
        rc = st == ADB_OK ? EXIT_OK : fail(st, err);
        if (st == ADB_OK)
            printf("%s\n", nid);
    } else if (extend) {
        adb__dsr d;
        /* months for GDPR kinds, days for HIPAA's: the flag must fit the request */
        st = adb__dsr_get(h, org, id, &d, err, sizeof(err));
        if (st == ADB_OK && adb__dsr_kind_hipaa(d.kind) != (days > 0)) {
            adb__fmt(err, sizeof(err), "request %s is a %s request: extend it with %s", d.id,
                     adb__dsr_kind_hipaa(d.kind) ? "HIPAA" : "GDPR",
                     adb__dsr_kind_hipaa(d.kind) ? "--days" : "--months");
            st = ADB_ERR_INVALID;
        }
        adb__dsr_clear(&d);
        if (st == ADB_OK)
            st = adb__dsr_extend(h, org, id, (int)(days > 0 ? days : months), reason, who, err,
                                 sizeof(err));
        rc = st == ADB_OK ? do_show(h, org, id) : fail(st, err);
    } else {
        st = adb__dsr_set_status(h, org, id, status, outcome, who, err, sizeof(err));
        rc = st == ADB_OK ? do_show(h, org, id) : fail(st, err);
    }
out:
    adb_close(h);
    cli_db_close(&db);
    return rc;
}
