/*
 * cmd_rules.c - `auditdb alerts rules list|show|set|enable|disable|versions`: an
 * organization's detection rules (docs/alerts.md, "Detection rules"), the same
 * store as /api/v1/alerts/rules (detect/rule_store.h): every change a new
 * version, recorded in the configuration history with the CLI's actor.
 */
#include "cli.h"
#include "../core/util.h"
#include "../detect/rule_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RULE_FILE_MAX (256 * 1024)

static const char list_usage[] =
    "usage: auditdb alerts rules list [--org ID] [--json]\n"
    "The organization's current detection rules (default organization \"default\").\n";
static const char show_usage[] =
    "usage: auditdb alerts rules show ID [--org ID] [--json]\n"
    "One rule's current version with its definition.\n";
static const char set_usage[] =
    "usage: auditdb alerts rules set ID --file DEFINITION.json [--org ID] [--reason TEXT]\n"
    "Creates the rule (version 1) or makes the file its next version (docs/alerts.md for the\n"
    "definition). Exit: 0 done, 1 refused (the member at fault named), 2 usage, 3 database.\n";
static const char enable_usage[] =
    "usage: auditdb alerts rules enable|disable ID [--org ID] [--reason TEXT]\n"
    "A new version of the rule with the flag changed, the definition kept.\n";
static const char versions_usage[] =
    "usage: auditdb alerts rules versions ID [--org ID] [--json]\n"
    "Every version of a rule, newest first.\n";

typedef struct opts {
    const char *org, *id, *file, *reason;
    bool json;
} opts;

static int parse(int argc, char **argv, bool need_id, bool file_ok, opts *o)
{
    o->org = "default";
    for (int k = 1; k < argc; k++) {
        const char *a = argv[k], *v = k + 1 < argc ? argv[k + 1] : NULL;
        if (!strcmp(a, "--json"))
            o->json = true;
        else if (v && !strcmp(a, "--org"))
            o->org = argv[++k];
        else if (v && !strcmp(a, "--reason"))
            o->reason = argv[++k];
        else if (v && file_ok && !strcmp(a, "--file"))
            o->file = argv[++k];
        else if (a[0] != '-' && need_id && !o->id)
            o->id = a;
        else {
            cli_error("unexpected argument \"%s\"; run \"auditdb alerts rules %s --help\"", a, argv[0]);
            return EXIT_USAGE;
        }
    }
    if (need_id && !o->id) {
        cli_error("the rule id is missing; run \"auditdb alerts rules %s --help\"", argv[0]);
        return EXIT_USAGE;
    }
    if (file_ok && !o->file) {
        cli_error("--file is required");
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

static int status_exit(adb_status st, const opts *o, const adb__rule_error *e)
{
    if (st == ADB_ERR_NOT_FOUND)
        cli_error("organization \"%s\" has no detection rule \"%s\"", o->org, o->id ? o->id : "");
    else if (st == ADB_ERR_INVALID && e)
        cli_error("%s: %s", e->field, e->message);
    else
        cli_error("%s", adb_strerror(st));
    return st == ADB_ERR_NOT_FOUND || st == ADB_ERR_INVALID ? EXIT_FAILURE_ : EXIT_DB;
}

static void print_rule(const json_t *r)
{
    printf("%-24s v%-4lld %-8s %-9s %s\n", json_string_value(json_object_get(r, "id")),
           (long long)json_integer_value(json_object_get(r, "version")),
           json_is_true(json_object_get(r, "enabled")) ? "enabled" : "disabled",
           json_string_value(json_object_get(json_object_get(r, "definition"), "severity")),
           json_string_value(json_object_get(json_object_get(r, "definition"), "title")));
}

typedef enum { OP_LIST, OP_SHOW, OP_SET, OP_ENABLE, OP_DISABLE, OP_VERSIONS } op_kind;

static int run(op_kind op, int argc, char **argv)
{
    opts o = { 0 };
    cli_db db = { 0 };
    adb *h = NULL;
    json_t *out = NULL, *def = NULL;
    adb__rule_error e = { 0 };
    adb_status st;
    char who[128];
    int rc = parse(argc, argv, op != OP_LIST, op == OP_SET, &o);

    if (rc != EXIT_OK)
        return rc;
    if (op == OP_SET) {
        json_error_t je;
        if (!(def = json_load_file(o.file, JSON_REJECT_DUPLICATES, &je)) || !json_is_object(def)) {
            cli_error("%s: not a JSON object (%s, line %d)", o.file, je.text, je.line);
            json_decref(def);
            return EXIT_USAGE;
        }
    }
    if ((rc = cli_adb_open(&db, &h)) != EXIT_OK) {
        json_decref(def);
        cli_db_close(&db);
        return rc;
    }
    cli_actor(who, sizeof(who));
    switch (op) {
    case OP_LIST: st = adb__rules_list(h, o.org, &out); break;
    case OP_SHOW: st = adb__rules_get(h, o.org, o.id, &out); break;
    case OP_VERSIONS: st = adb__rules_versions(h, o.org, o.id, &out); break;
    case OP_SET:
        st = adb__rules_get(h, o.org, o.id, &out);
        json_decref(out);
        out = NULL;
        if (st == ADB_OK || st == ADB_ERR_NOT_FOUND)
            st = adb__rules_set(h, o.org, o.id, st == ADB_ERR_NOT_FOUND, def, -1, o.reason, who,
                                &out, &e);
        break;
    default:
        st = adb__rules_set(h, o.org, o.id, false, NULL, op == OP_ENABLE, o.reason, who, &out, &e);
        break;
    }
    if (st != ADB_OK) {
        rc = status_exit(st, &o, &e);
    } else if (o.json) {
        cli_print_json(out, JSON_INDENT(2));
    } else if (json_is_array(out)) {
        for (size_t i = 0; i < json_array_size(out); i++)
            print_rule(json_array_get(out, i));
    } else {
        print_rule(out);
        if (op == OP_SHOW)
            cli_print_json(json_object_get(out, "definition"), JSON_INDENT(2));
    }
    json_decref(out);
    json_decref(def);
    adb_close(h);
    cli_db_close(&db);
    return rc;
}

static int run_list(int argc, char **argv) { return run(OP_LIST, argc, argv); }
static int run_show(int argc, char **argv) { return run(OP_SHOW, argc, argv); }
static int run_set(int argc, char **argv) { return run(OP_SET, argc, argv); }
static int run_enable(int argc, char **argv) { return run(OP_ENABLE, argc, argv); }
static int run_disable(int argc, char **argv) { return run(OP_DISABLE, argc, argv); }
static int run_versions(int argc, char **argv) { return run(OP_VERSIONS, argc, argv); }

int adb_cmd_alerts_rules(int argc, char **argv)
{
    static const cli_sub subs[] = {
        { "list", "the current detection rules", list_usage, run_list },
        { "show", "one rule and its definition", show_usage, run_show },
        { "set", "create a rule or make a file its next version", set_usage, run_set },
        { "enable", "a new version, enabled", enable_usage, run_enable },
        { "disable", "a new version, disabled", enable_usage, run_disable },
        { "versions", "every version of a rule", versions_usage, run_versions },
        { NULL, NULL, NULL, NULL },
    };
    return cli_dispatch("alerts rules", "Detection rules of an organization (docs/alerts.md).", subs,
                        argc, argv);
}
