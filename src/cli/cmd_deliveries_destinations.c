/*
 * cmd_deliveries_destinations.c - `auditdb deliveries destinations`: the
 * destinations of an organization, as the API manages them
 * (src/delivery/destination.h; docs/delivery.md "Destinations").
 */
#include "deliveries.h"
#include "../delivery/destination.h"
#include "../core/util.h"

#include <jansson.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char cli_deliveries_destinations_usage[] =
    "usage: auditdb deliveries destinations list [--org ID] [--type T] [--disabled true|false]\n"
    "                                            [--limit N] [--offset N] [--json]\n"
    "       auditdb deliveries destinations show ID [--org ID]\n"
    "       auditdb deliveries destinations create (--json DOC | --file FILE) [--org ID]\n"
    "       auditdb deliveries destinations update ID (--json DOC | --file FILE) [--merge]\n"
    "                                              [--org ID]\n"
    "       auditdb deliveries destinations delete ID [--org ID]\n"
    "       auditdb deliveries destinations rotate-secret ID [--grace-hours N] [--org ID]\n"
    "\n"
    "Destinations (email, webhook, storage, sftp, download) of organization ID (default\n"
    "\"default\"). DOC is the API's body (docs/delivery.md), FILE a file holding it or - for\n"
    "stdin. Secret fields are sealed and print as ********; a webhook's signing secret\n"
    "(whsec_...) and public key (whpk_...) print once, on create and rotate-secret.\n"
    "\n"
    "  list           oldest first (--limit default 50, at most 1000)\n"
    "  show           one destination as JSON\n"
    "  create         checks the config and the addresses it names (AUDITDB_DELIVERY_ALLOW)\n"
    "  update         a partial update; --merge: config is a JSON merge patch; a secret\n"
    "                 field given as ******** keeps its value\n"
    "  delete         the destination is gone, its secrets destroyed, its waiting items\n"
    "                 cancelled; its delivery records stay\n"
    "  rotate-secret  a new webhook signing pair; the old one signs too for --grace-hours\n"
    "                 (default 24, at most 720; 0 ends it now)\n"
    "\n"
    "Exit: 0 done, 1 unknown destination or refused input, 2 usage error, 3 database\n"
    "unavailable.\n";

#define DEST_USAGE "run \"auditdb deliveries destinations --help\""

static int fail(adb_status st, const adb__dest_error *e, int id)
{
    if (st == ADB_ERR_NOT_FOUND) {
        cli_error("no destination %d in this organization", id);
        return EXIT_FAILURE_;
    }
    if (st == ADB_ERR_INVALID && e) {
        cli_error("%s%s%s", e->field[0] ? e->field : "", e->field[0] ? ": " : "", e->message);
        return EXIT_FAILURE_;
    }
    cli_error("%s", adb_strerror(st));
    return cli_exit_code(st);
}

/* The body of --json or --file; NULL after printing why. */
static json_t *load_doc(const char *doc, const char *file)
{
    json_error_t je;
    json_t *j;

    if (doc)
        j = json_loads(doc, JSON_REJECT_DUPLICATES, &je);
    else if (!strcmp(file, "-"))
        j = json_loadf(stdin, JSON_REJECT_DUPLICATES, &je);
    else
        j = json_load_file(file, JSON_REJECT_DUPLICATES, &je);
    if (!j)
        cli_error("the destination document is not JSON: %s (line %d)", je.text, je.line);
    else if (!json_is_object(j)) {
        cli_error("the destination document must be a JSON object");
        json_decref(j);
        j = NULL;
    }
    return j;
}

int cmd_deliveries_destinations(int argc, char **argv)
{
    const char *sub = argc > 1 ? argv[1] : "", *org = "default", *doc = NULL, *file = NULL;
    bool list = !strcmp(sub, "list"), show = !strcmp(sub, "show"), create = !strcmp(sub, "create");
    bool update = !strcmp(sub, "update"), del = !strcmp(sub, "delete");
    bool rotate = !strcmp(sub, "rotate-secret"), merge = false, as_json = false;
    adb__dest_query q = { .disabled = -1, .limit = 50 };
    long long id = 0, grace = ADB_DEST_GRACE_DEFAULT_H;
    char who[300];
    adb__dest_error e = { 0 };
    json_t *out = NULL, *body = NULL;
    cli_db db;
    adb *h = NULL;
    adb_status st;
    int rc;

    if (!list && !show && !create && !update && !del && !rotate) {
        cli_error("unknown destinations command \"%s\"; " DEST_USAGE, sub);
        return EXIT_USAGE;
    }
    bool takes_id = show || update || del || rotate;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--org") && v) {
            org = v;
            i++;
        } else if (list && !strcmp(a, "--type") && v) {
            if (!adb__dest_type_valid(v)) {
                cli_error("--type must be email, webhook, storage, sftp or download");
                return EXIT_USAGE;
            }
            q.type = v;
            i++;
        } else if (list && !strcmp(a, "--disabled") && v) {
            if (strcmp(v, "true") && strcmp(v, "false")) {
                cli_error("--disabled must be true or false");
                return EXIT_USAGE;
            }
            q.disabled = !strcmp(v, "true");
            i++;
        } else if (list && !strcmp(a, "--limit") && v) {
            if (!adb__parse_int(v, 1, ADB_DEST_LIST_MAX, &q.limit)) {
                cli_error("--limit must be 1 to %d", ADB_DEST_LIST_MAX);
                return EXIT_USAGE;
            }
            i++;
        } else if (list && !strcmp(a, "--offset") && v) {
            if (!adb__parse_int(v, 0, 1000000000, &q.offset)) {
                cli_error("--offset must be a number of rows, 0 or more");
                return EXIT_USAGE;
            }
            i++;
        } else if (list && !strcmp(a, "--json")) {
            as_json = true;
        } else if ((create || update) && !strcmp(a, "--json") && v && !doc && !file) {
            doc = v;
            i++;
        } else if ((create || update) && !strcmp(a, "--file") && v && !doc && !file) {
            file = v;
            i++;
        } else if (update && !strcmp(a, "--merge")) {
            merge = true;
        } else if (rotate && !strcmp(a, "--grace-hours") && v) {
            if (!adb__parse_int(v, 0, ADB_DEST_GRACE_MAX_H, &grace)) {
                cli_error("--grace-hours must be 0 to %d", ADB_DEST_GRACE_MAX_H);
                return EXIT_USAGE;
            }
            i++;
        } else if (takes_id && !id && a[0] != '-') {
            if (!adb__parse_int(a, 1, INT_MAX, &id)) {
                cli_error("a destination id is a positive integer, not \"%s\"", a);
                return EXIT_USAGE;
            }
        } else {
            cli_error("unknown argument \"%s\"; " DEST_USAGE, a);
            return EXIT_USAGE;
        }
    }
    if (takes_id && !id) {
        cli_error("destinations %s needs a destination id; " DEST_USAGE, sub);
        return EXIT_USAGE;
    }
    if ((create || update) && !doc && !file) {
        cli_error("destinations %s needs --json DOC or --file FILE; " DEST_USAGE, sub);
        return EXIT_USAGE;
    }
    if ((create || update) && !(body = load_doc(doc, file)))
        return EXIT_USAGE;
    if (list || show)
        cli_reading(list ? "deliveries destinations list" : "deliveries destinations show");
    cli_actor(who, sizeof(who));
    if ((rc = cli_adb_open(&db, &h)) != EXIT_OK)
        goto out;
    if (list)
        st = adb__dest_list(h, org, &q, &out);
    else if (show)
        st = adb__dest_get(h, org, (int)id, &out);
    else if (create)
        st = adb__dest_create(h, org, body, who, &out, &e);
    else if (update)
        st = adb__dest_update(h, org, (int)id, body, merge, who, &out, &e);
    else if (del)
        st = adb__dest_delete(h, org, (int)id, who);
    else
        st = adb__webhook_keys_rotate(h, org, (int)id, (int)grace, who, &out, &e);
    if (st != ADB_OK) {
        rc = fail(st, &e, (int)id);
    } else if (list && !as_json) {
        json_t *data = json_object_get(out, "data"), *d;
        size_t i;
        printf("%-8s %-9s %-8s %s\n", "id", "type", "disabled", "label");
        json_array_foreach(data, i, d)
            printf("%-8s %-9s %-8s %s\n", json_string_value(json_object_get(d, "id")),
                   json_string_value(json_object_get(d, "type")),
                   json_is_true(json_object_get(d, "disabled")) ? "yes" : "no",
                   json_string_value(json_object_get(d, "label")));
        printf("%zu of %lld destination(s)\n", json_array_size(data),
               (long long)json_integer_value(json_object_get(json_object_get(out, "pagination"),
                                                             "total")));
        rc = EXIT_OK;
    } else if (del) {
        printf("destination %lld deleted\n", id);
        rc = EXIT_OK;
    } else {
        cli_print_json(out, JSON_INDENT(2));
        rc = EXIT_OK;
    }
out:
    json_decref(out);
    json_decref(body);
    adb_close(h);
    cli_db_close(&db);
    return rc;
}
