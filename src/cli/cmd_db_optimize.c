/*
 * cmd_db_optimize.c - `auditdb db optimize [--apply] [--drop-duplicates]
 * [--json] [--min-calls N]`: the database monitor's findings (docs/monitoring.md,
 * "Index suggestions"), missing indexes with the planner's cost before and
 * after (hypopg), duplicate and unused indexes, tables behind on vacuum.
 * Nothing changes unless told: --apply creates the suggested indexes
 * (CREATE INDEX CONCURRENTLY: writes go on), --drop-duplicates drops the
 * exact duplicates that were never scanned and back no constraint (DROP
 * INDEX CONCURRENTLY). Each statement is built by PostgreSQL's format(%I)
 * from catalog names, never from input.
 */
#include "cli.h"
#include "../monitor/dbmon.h"
#include "../core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: auditdb db optimize [--apply] [--drop-duplicates] [--json] [--min-calls N]\n";

/* Runs one DDL statement (outside a transaction: CONCURRENTLY); prints the
 * outcome. */
static bool run_ddl(PGconn *c, const char *ddl, bool json, json_t *done)
{
    PGresult *r = PQexec(c, ddl);
    bool good = PQresultStatus(r) == PGRES_COMMAND_OK;
    char e[400] = "";
    if (!good) {
        adb__fmt(e, sizeof(e), "%s", PQresultErrorMessage(r));
        adb__oneline(e);
    }
    PQclear(r);
    if (json)
        json_array_append_new(done, json_pack("{s:s, s:b, s:s?}", "statement", ddl, "ok", good,
                                              "error", good ? NULL : e));
    else if (good)
        printf("done: %s\n", ddl);
    else
        cli_error("%s: %s", ddl, e);
    return good;
}

/* DROP INDEX CONCURRENTLY for an index, names quoted by PostgreSQL; NULL on
 * failure. The caller frees. */
static char *drop_ddl(PGconn *c, const char *schema, const char *index)
{
    const char *p[] = { schema, index };
    PGresult *r = PQexecParams(c, "SELECT format('DROP INDEX CONCURRENTLY %I.%I', $1::text, $2::text)",
                               2, NULL, p, NULL, NULL, 0);
    char *s = PQresultStatus(r) == PGRES_TUPLES_OK ? adb__strdup(PQgetvalue(r, 0, 0)) : NULL;
    PQclear(r);
    return s;
}

static void print_report(json_t *caps, json_t *sugg, json_t *indexes, json_t *findings)
{
    size_t i;
    json_t *e;
    json_t *pss = json_object_get(caps, "pgStatStatements"), *hyp = json_object_get(caps, "hypopg");
    if (!json_is_true(json_object_get(pss, "available")))
        printf("note: %s\n", json_string_value(json_object_get(pss, "reason")));
    if (!json_is_true(json_object_get(hyp, "available")))
        printf("note: %s\n", json_string_value(json_object_get(hyp, "reason")));
    printf("missing indexes (%zu), checked with hypothetical indexes:\n", json_array_size(sugg));
    json_array_foreach(sugg, i, e)
        if (json_is_false(json_object_get(e, "checked")))
            printf("  %s\n    not checked: %s; cost %.2f now, %lld calls of %zu statement(s)\n",
                   json_string_value(json_object_get(e, "statement")),
                   json_string_value(json_object_get(e, "reason")),
                   json_number_value(json_object_get(e, "costBefore")),
                   (long long)json_integer_value(json_object_get(e, "calls")),
                   json_array_size(json_object_get(e, "queryIds")));
        else
            printf("  %s\n    cost %.2f -> %.2f (%.1f %% of before), %lld calls of %zu statement(s)\n",
                   json_string_value(json_object_get(e, "statement")),
                   json_number_value(json_object_get(e, "costBefore")),
                   json_number_value(json_object_get(e, "costAfter")),
                   100.0 * json_number_value(json_object_get(e, "gain")),
                   (long long)json_integer_value(json_object_get(e, "calls")),
                   json_array_size(json_object_get(e, "queryIds")));
    size_t ndup = 0;
    json_array_foreach(indexes, i, e)
        if (json_is_string(json_object_get(e, "duplicateOf")))
            ndup++;
    printf("duplicate indexes (%zu):\n", ndup);
    json_array_foreach(indexes, i, e)
        if (json_is_string(json_object_get(e, "duplicateOf")))
            printf("  %s.%s duplicates %s (%lld scans, %lld bytes)\n",
                   json_string_value(json_object_get(e, "schema")),
                   json_string_value(json_object_get(e, "index")),
                   json_string_value(json_object_get(e, "duplicateOf")),
                   (long long)json_integer_value(json_object_get(e, "scans")),
                   (long long)json_integer_value(json_object_get(e, "sizeBytes")));
    printf("findings (%zu):\n", json_array_size(findings));
    json_array_foreach(findings, i, e)
        printf("  %-8s %s\n", json_string_value(json_object_get(e, "severity")),
               json_string_value(json_object_get(e, "title")));
}

int adb_cmd_db_optimize(int argc, char **argv)
{
    bool apply = false, drop = false, json = false;
    adb__dbmon_opts o;
    adb__dbmon_opts_default(&o);

    for (int i = 0; i < argc; i++) {
        long long n;
        if (!strcmp(argv[i], "--apply"))
            apply = true;
        else if (!strcmp(argv[i], "--drop-duplicates"))
            drop = true;
        else if (!strcmp(argv[i], "--json"))
            json = true;
        else if (!strcmp(argv[i], "--min-calls") && i + 1 < argc) {
            if (!adb__parse_int(argv[++i], 1, 1000000000, &n)) {
                cli_error("--min-calls: expected an integer from 1 to 1000000000, not \"%s\"", argv[i]);
                return EXIT_USAGE;
            }
            o.suggest_min_calls = (int)n;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage, stdout);
            return EXIT_OK;
        } else {
            cli_error("unexpected argument \"%s\"; %s", argv[i], usage);
            return EXIT_USAGE;
        }
    }
    if (!apply && !drop)
        cli_reading("db optimize");
    cli_db db;
    int rc = cli_db_open(&db, ADB_EMBEDDED_OWNER_OR_GUEST);
    PGconn *c = NULL;
    json_t *caps_j = NULL, *db_j = NULL, *tables = NULL, *indexes = NULL, *slow = NULL,
           *sugg = NULL, *findings = NULL, *done = json_array();
    char err[512];

    if (rc != EXIT_OK)
        goto out;
    o.slow_ms = db.cfg.slow_query_ms;
    if (!(c = cli_db_connect(&db))) {
        rc = EXIT_DB;
        goto out;
    }
    adb__dbmon_caps caps;
    adb__dbmon_caps_read(c, &caps);
    caps_j = adb__dbmon_caps_json(&caps);
    if (!(db_j = adb__dbmon_database(c, err, sizeof(err))) ||
        !(tables = adb__dbmon_tables(c, err, sizeof(err))) ||
        !(indexes = adb__dbmon_indexes(c, err, sizeof(err))) ||
        !(slow = adb__dbmon_slow_queries(c, &caps, o.slow_ms, 50, err, sizeof(err))) ||
        !(sugg = adb__dbmon_suggestions(c, &caps, &o, err, sizeof(err))) ||
        !(findings = adb__dbmon_findings(db_j, tables, indexes, slow, sugg, &o))) {
        cli_error("%s", err);
        rc = EXIT_FAILURE_;
        goto out;
    }
    if (!json)
        print_report(caps_j, sugg, indexes, findings);
    size_t i;
    json_t *e;
    if (apply) /* the suggestions the planner checked; an unchecked one is the operator's call */
        json_array_foreach(sugg, i, e)
            if (!json_is_false(json_object_get(e, "checked")) &&
                !run_ddl(c, json_string_value(json_object_get(e, "statement")), json, done))
                rc = EXIT_FAILURE_;
    if (drop)
        json_array_foreach(indexes, i, e) {
            if (!json_is_string(json_object_get(e, "duplicateOf")) ||
                json_integer_value(json_object_get(e, "scans")) != 0 ||
                json_is_true(json_object_get(e, "unique")) ||
                json_is_true(json_object_get(e, "constraint")))
                continue;
            char *ddl = drop_ddl(c, json_string_value(json_object_get(e, "schema")),
                                 json_string_value(json_object_get(e, "index")));
            if (!ddl || !run_ddl(c, ddl, json, done))
                rc = EXIT_FAILURE_;
            free(ddl);
        }
    if (json) {
        json_t *all = json_pack("{s:O, s:O, s:O, s:O, s:O}", "capabilities", caps_j,
                                "suggestions", sugg, "indexes", indexes, "findings", findings,
                                "applied", done);
        char *text = all ? json_dumps(all, JSON_INDENT(2)) : NULL;
        if (text)
            printf("%s\n", text);
        free(text);
        json_decref(all);
    } else if (!apply && !drop && json_array_size(sugg)) {
        printf("nothing changed: --apply creates the suggested indexes\n");
    }
out:
    PQfinish(c);
    json_decref(caps_j);
    json_decref(db_j);
    json_decref(tables);
    json_decref(indexes);
    json_decref(slow);
    json_decref(sugg);
    json_decref(findings);
    json_decref(done);
    cli_db_close(&db);
    return rc;
}
