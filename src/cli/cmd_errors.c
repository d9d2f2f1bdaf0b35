/*
 * cmd_errors.c - `auditdb errors list|aggregations|resolve`: the service's
 * own failures, process-wide (docs/monitoring.md, "Errors"); the same reads
 * as GET /api/v1/errors and /api/v1/errors/aggregations (monitor/
 * errors_store.h), on the owner's connection.
 */
#include "cli.h"
#include "../core/util.h"
#include "../event/event.h"
#include "../monitor/errors_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char list_usage[] =
    "usage: auditdb errors list [--category C] [--severity S] [--component C] [--code C]\n"
    "                           [--operation O] [--key KEY] [--org ID] [--since T] [--until T]\n"
    "                           [--limit N] [--offset N] [--json]\n"
    "\n"
    "error_log: the service's own failures, newest first (time, severity, code, component/\n"
    "operation, the aggregation key, the message). --json: the API's ErrorLogPage.\n"
    "\n"
    "Exit: 0 listed, 2 usage error, 3 database unavailable.\n";

static const char aggregations_usage[] =
    "usage: auditdb errors aggregations [--status open|resolved|all] [--sort count|lastOccurrence|\n"
    "                                   firstOccurrence] [--asc] [--category C] [--severity S]\n"
    "                                   [--component C] [--code C] [--limit N] [--offset N] [--json]\n"
    "\n"
    "error_aggregation: one line per fingerprint (key, count, rate per minute, trend, last\n"
    "occurrence, status, regressions, the message pattern). --json: the API's document.\n"
    "\n"
    "Exit: 0 listed, 2 usage error, 3 database unavailable.\n";

static const char resolve_usage[] =
    "usage: auditdb errors resolve KEY [--notes TEXT]\n"
    "\n"
    "Marks the aggregation KEY resolved (by cli:<user>). Its next occurrence is a regression:\n"
    "the aggregation opens again and an alert of the process pseudo-organization \"_process\"\n"
    "is raised. Resolving a resolved aggregation changes nothing.\n"
    "\n"
    "Exit: 0 resolved (or already), 1 unknown key, 2 usage error, 3 database unavailable.\n";

static const char *str(json_t *o, const char *name)
{
    const char *s = json_string_value(json_object_get(o, name));
    return s ? s : "-";
}

/* one option with a value; false (after the message) when it is missing */
static bool opt(int argc, char **argv, int *i, const char *name, const char **out)
{
    if (strcmp(argv[*i], name) != 0)
        return false;
    if (*i + 1 >= argc) {
        cli_error("%s needs a value", name);
        exit(EXIT_USAGE);
    }
    *out = argv[++*i];
    return true;
}

static bool num(int argc, char **argv, int *i, const char *name, long long lo, long long hi,
                long long *out)
{
    const char *v;
    if (!opt(argc, argv, i, name, &v))
        return false;
    if (!adb__parse_int(v, lo, hi, out)) {
        cli_error("%s must be an integer from %lld to %lld, not \"%s\"", name, lo, hi, v);
        exit(EXIT_USAGE);
    }
    return true;
}

static int run(const char *sub, adb__errors_query *q, const char *key, const char *notes,
               bool as_json)
{
    cli_db db = { 0 };
    char err[ADB_ERRMSG_MAX], who[128];
    json_t *out = NULL, *a;
    bool changed = false;
    adb_status st;
    size_t i;
    int rc;

    if (strcmp(sub, "resolve") != 0)
        cli_reading(strcmp(sub, "list") == 0 ? "errors list" : "errors aggregations");
    if ((rc = cli_db_open(&db, ADB_EMBEDDED_OWNER_OR_GUEST)) != EXIT_OK)
        return rc;
    PGconn *c = cli_db_connect(&db);
    if (!c) {
        cli_db_close(&db);
        return EXIT_DB;
    }
    if (!strcmp(sub, "list")) {
        st = adb__errors_list(c, q, &out, err, sizeof(err));
    } else if (!strcmp(sub, "aggregations")) {
        st = adb__error_aggregations_list(c, q, &out, err, sizeof(err));
    } else {
        cli_actor(who, sizeof(who));
        st = adb__error_aggregation_resolve(c, key, who, notes, &out, &changed, err, sizeof(err));
    }
    PQfinish(c);
    cli_db_close(&db);
    if (st != ADB_OK) {
        cli_error("%s", err);
        json_decref(out);
        return st == ADB_ERR_NOT_FOUND ? EXIT_FAILURE_ : cli_exit_code(st);
    }
    if (as_json) {
        cli_print_json(out, JSON_INDENT(2));
    } else if (!strcmp(sub, "list")) {
        json_array_foreach(json_object_get(out, "errors"), i, a)
            printf("%s  %-8s %-20s %s/%s  %s  %s\n", str(a, "timestamp"), str(a, "severity"),
                   str(a, "code"), str(a, "component"), str(a, "operation"),
                   str(a, "aggregationKey"), str(a, "message"));
        json_t *pg = json_object_get(out, "pagination");
        printf("%zu of %lld%s error(s)\n", json_array_size(json_object_get(out, "errors")),
               (long long)json_integer_value(json_object_get(pg, "total")),
               json_is_true(json_object_get(pg, "totalCapped")) ? "+" : "");
    } else if (!strcmp(sub, "aggregations")) {
        json_array_foreach(json_object_get(out, "aggregations"), i, a)
            printf("%s  %6lld  %8.2f/min  %-10s  last %s  %-8s  regressions %lld  %s %s/%s: %s\n",
                   str(a, "aggregationKey"), (long long)json_integer_value(json_object_get(a, "count")),
                   json_number_value(json_object_get(a, "errorRate")), str(a, "trend"),
                   str(a, "lastOccurrence"), str(a, "status"),
                   (long long)json_integer_value(json_object_get(a, "regressionCount")),
                   str(a, "code"), str(a, "component"), str(a, "operation"),
                   str(a, "messagePattern"));
        printf("%zu of %lld aggregation(s)\n",
               json_array_size(json_object_get(out, "aggregations")),
               (long long)json_integer_value(json_object_get(json_object_get(out, "pagination"), "total")));
    } else {
        printf("%s %s (%s %s, by %s)\n", key, changed ? "resolved" : "was resolved already",
               str(out, "code"), str(out, "component"), str(out, "resolvedBy"));
    }
    json_decref(out);
    return EXIT_OK;
}

static int cmd_errors_sub(int argc, char **argv)
{
    const char *sub = argv[0], *key = NULL, *notes = NULL, *v;
    adb__errors_query q = { .limit = 50 };
    bool as_json = false, list = !strcmp(sub, "list"), aggs = !strcmp(sub, "aggregations");

    for (int i = 1; i < argc; i++) {
        if ((list || aggs) &&
            (opt(argc, argv, &i, "--category", &q.category) ||
             opt(argc, argv, &i, "--severity", &q.severity) ||
             opt(argc, argv, &i, "--component", &q.component) ||
             opt(argc, argv, &i, "--code", &q.code) ||
             opt(argc, argv, &i, "--operation", &q.operation) ||
             num(argc, argv, &i, "--limit", 1, ADB_ERRORS_LIMIT_MAX, &q.limit) ||
             num(argc, argv, &i, "--offset", 0, 1000000, &q.offset)))
            continue;
        if (list && (opt(argc, argv, &i, "--key", &q.aggregation_key) ||
                     opt(argc, argv, &i, "--org", &q.org) ||
                     opt(argc, argv, &i, "--since", &q.since) ||
                     opt(argc, argv, &i, "--until", &q.until)))
            continue;
        if (aggs && opt(argc, argv, &i, "--status", &v)) {
            if (strcmp(v, "open") && strcmp(v, "resolved") && strcmp(v, "all")) {
                cli_error("--status is open, resolved or all, not \"%s\"", v);
                return EXIT_USAGE;
            }
            q.status = strcmp(v, "all") ? v : NULL;
            continue;
        }
        if (aggs && opt(argc, argv, &i, "--sort", &q.sort)) {
            if (strcmp(q.sort, "count") && strcmp(q.sort, "lastOccurrence") &&
                strcmp(q.sort, "firstOccurrence")) {
                cli_error("--sort is count, lastOccurrence or firstOccurrence, not \"%s\"", q.sort);
                return EXIT_USAGE;
            }
            continue;
        }
        if (aggs && !strcmp(argv[i], "--asc")) {
            q.ascending = true;
            continue;
        }
        if ((list || aggs) && !strcmp(argv[i], "--json")) {
            as_json = true;
            continue;
        }
        if (!list && !aggs && opt(argc, argv, &i, "--notes", &notes)) {
            if (strlen(notes) > 2000) {
                cli_error("--notes must have at most 2000 bytes");
                return EXIT_USAGE;
            }
            continue;
        }
        if (!list && !aggs && !key && argv[i][0] != '-') {
            key = argv[i];
            continue;
        }
        cli_error("unexpected argument \"%s\"; run \"auditdb errors %s --help\"", argv[i], sub);
        return EXIT_USAGE;
    }
    const char *times[2] = { q.since, q.until };
    for (int t = 0; t < 2; t++) {
        int64_t us;
        if (times[t] && !adb__timestamp_parse(times[t], strlen(times[t]), &us)) {
            cli_error("%s must be an RFC 3339 date-time with an offset, not \"%s\"",
                      t ? "--until" : "--since", times[t]);
            return EXIT_USAGE;
        }
    }
    if (!list && !aggs && (!key || strlen(key) >= 40)) {
        cli_error("resolve needs an aggregation key (v1-...); run \"auditdb errors aggregations\"");
        return EXIT_USAGE;
    }
    return run(sub, &q, key, notes, as_json);
}

static const cli_sub subs[] = {
    { "list", "error_log: the service's own failures, newest first", list_usage, cmd_errors_sub },
    { "aggregations", "the failures grouped by fingerprint: count, rate, trend, resolution",
      aggregations_usage, cmd_errors_sub },
    { "resolve", "resolve an aggregation: its next occurrence raises a regression alert",
      resolve_usage, cmd_errors_sub },
    { NULL, NULL, NULL, NULL },
};

int cmd_errors(int argc, char **argv)
{
    return cli_dispatch("errors", "The service's own failures and their fingerprints (docs/monitoring.md, \"Errors\").",
                        subs, argc, argv);
}
