/*
 * cmd_config_changes.c - `auditdb config changes`: the configuration history
 * of an organization, or the process-wide one (docs/monitoring.md,
 * "Configuration changes"); the same read as GET /api/v1/config/changes
 * (monitor/config_history.h), on the owner's connection.
 */
#include "cli.h"
#include "../core/util.h"
#include "../event/event.h"
#include "../monitor/config_history.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char changes_usage[] =
    "usage: auditdb config changes [--org ID | --process] [--field F | --field PREFIX*]\n"
    "                              [--changed-by WHO] [--since T] [--until T] [--limit N]\n"
    "                              [--offset N] [--json]\n"
    "\n"
    "config_change_event, newest first: what changed (field), who changed it, why, and the\n"
    "values before and after with secrets masked. --org ID (default \"default\"): that\n"
    "organization's changes; --process: the process-wide ones (no organization).\n"
    "--json: the API's ConfigChangePage.\n"
    "\n"
    "Exit: 0 listed, 2 usage error, 3 database unavailable.\n";

static const char *str(json_t *o, const char *name)
{
    const char *s = json_string_value(json_object_get(o, name));
    return s ? s : "-";
}

static int cmd_config_changes(int argc, char **argv)
{
    adb__config_changes_query q = { .org = "default", .limit = 50 };
    bool as_json = false;
    cli_db db = { 0 };
    char err[ADB_ERRMSG_MAX];
    json_t *out = NULL, *a;
    size_t i;
    int rc;

    for (int k = 1; k < argc; k++) {
        const char *o = argv[k], *v = k + 1 < argc ? argv[k + 1] : NULL;
        long long n;
        if (!strcmp(o, "--json")) {
            as_json = true;
        } else if (!strcmp(o, "--process")) {
            q.process_wide = true;
        } else if (v && !strcmp(o, "--org")) {
            q.org = argv[++k];
        } else if (v && !strcmp(o, "--field")) {
            q.field = argv[++k];
        } else if (v && !strcmp(o, "--changed-by")) {
            q.changed_by = argv[++k];
        } else if (v && !strcmp(o, "--since")) {
            q.since = argv[++k];
        } else if (v && !strcmp(o, "--until")) {
            q.until = argv[++k];
        } else if (v && (!strcmp(o, "--limit") || !strcmp(o, "--offset"))) {
            bool lim = !strcmp(o, "--limit");
            if (!adb__parse_int(v, lim ? 1 : 0, lim ? ADB_CONFIG_CHANGES_LIMIT_MAX : 1000000, &n)) {
                cli_error("%s must be an integer from %d to %d, not \"%s\"", o, lim ? 1 : 0,
                          lim ? ADB_CONFIG_CHANGES_LIMIT_MAX : 1000000, v);
                return EXIT_USAGE;
            }
            *(lim ? &q.limit : &q.offset) = n;
            k++;
        } else {
            cli_error("unexpected argument \"%s\"; run \"auditdb config changes --help\"", o);
            return EXIT_USAGE;
        }
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
    cli_reading("config changes");
    if ((rc = cli_db_open(&db, ADB_EMBEDDED_OWNER_OR_GUEST)) != EXIT_OK)
        return rc;
    PGconn *c = cli_db_connect(&db);
    if (!c) {
        cli_db_close(&db);
        return EXIT_DB;
    }
    adb_status st = adb__config_changes_list(c, &q, &out, err, sizeof(err));
    PQfinish(c);
    cli_db_close(&db);
    if (st != ADB_OK) {
        cli_error("%s", err);
        return cli_exit_code(st);
    }
    if (as_json) {
        cli_print_json(out, JSON_INDENT(2));
    } else {
        json_array_foreach(json_object_get(out, "changes"), i, a) {
            char *prev = json_dumps(json_object_get(a, "previousValue"), JSON_COMPACT | JSON_ENCODE_ANY);
            char *next = json_dumps(json_object_get(a, "newValue"), JSON_COMPACT | JSON_ENCODE_ANY);
            printf("%s  #%lld  %s  by %s%s%s\n    %s -> %s\n", str(a, "timestamp"),
                   (long long)json_integer_value(json_object_get(a, "id")), str(a, "field"),
                   str(a, "changedBy"), json_is_string(json_object_get(a, "reason")) ? ": " : "",
                   json_is_string(json_object_get(a, "reason")) ? str(a, "reason") : "",
                   prev ? prev : "null", next ? next : "null");
            free(prev);
            free(next);
        }
        printf("%zu of %lld change(s)\n", json_array_size(json_object_get(out, "changes")),
               (long long)json_integer_value(json_object_get(json_object_get(out, "pagination"), "total")));
    }
    json_decref(out);
    return EXIT_OK;
}

static const cli_sub subs[] = {
    { "changes", "the configuration history (secrets masked), newest first", changes_usage,
      cmd_config_changes },
    { NULL, NULL, NULL, NULL },
};

int cmd_config(int argc, char **argv)
{
    return cli_dispatch("config", "The service's configuration and its history (docs/monitoring.md).",
                        subs, argc, argv);
}
