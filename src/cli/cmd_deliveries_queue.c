/*
 * cmd_deliveries_queue.c - `auditdb deliveries list|show|retry`: an
 * organization's deliveries and their queue items, as the API shows them
 * (src/delivery/deliveries.c; docs/delivery.md "Queue").
 */
#include "deliveries.h"
#include "../delivery/delivery.h"
#include "../core/util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char cli_deliveries_queue_usage[] =
    "usage: auditdb deliveries list [--org ID] [--status S] [--limit N]\n"
    "       auditdb deliveries show DELIVERY-ID [--org ID]\n"
    "       auditdb deliveries retry DELIVERY-ID [--org ID]\n"
    "\n"
    "Deliveries of organization ID (default \"default\"): one line per destination with its\n"
    "status (pending, delivered, failed, retrying), attempts and webhook-id.\n"
    "\n"
    "  list   newest first (--limit default 50, at most 1000; --status filters)\n"
    "  show   one delivery as JSON (the API's DeliveryStatusResponse)\n"
    "  retry  its failed and held destinations queued again, each with the same\n"
    "         webhook-id and bytes; the retry schedule starts over\n"
    "\n"
    "Exit: 0 done, 1 unknown delivery or nothing to retry, 2 usage error, 3 database\n"
    "unavailable.\n";

const char cli_deliveries_show_usage[] =
    "usage: auditdb deliveries show DELIVERY-ID [--org ID]   (see \"auditdb deliveries list --help\")\n";
const char cli_deliveries_retry_usage[] =
    "usage: auditdb deliveries retry DELIVERY-ID [--org ID]  (see \"auditdb deliveries list --help\")\n";

#define QUEUE_USAGE "run \"auditdb deliveries --help\""

int cmd_deliveries_queue(int argc, char **argv)
{
    const char *sub = argv[0], *org = "default", *id = NULL, *status = NULL;
    bool list = !strcmp(sub, "list"), show = !strcmp(sub, "show"), retry = !strcmp(sub, "retry");
    long long limit = 50;
    cli_db db;
    adb *h = NULL;
    adb_status st;
    int rc;
    PGconn *c = NULL;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--org") && v) {
            org = v;
            i++;
        } else if (list && !strcmp(a, "--status") && v) {
            if (strcmp(v, "pending") && strcmp(v, "delivered") && strcmp(v, "failed") && strcmp(v, "retrying")) {
                cli_error("--status must be pending, delivered, failed or retrying");
                return EXIT_USAGE;
            }
            status = v;
            i++;
        } else if (list && !strcmp(a, "--limit") && v) {
            if (!adb__parse_int(v, 1, 1000, &limit)) {
                cli_error("--limit must be 1 to 1000");
                return EXIT_USAGE;
            }
            i++;
        } else if (!list && !id && a[0] != '-' && strlen(a) <= 255) {
            id = a;
        } else {
            cli_error("unknown argument \"%s\"; " QUEUE_USAGE, a);
            return EXIT_USAGE;
        }
    }
    if (!list && !id) {
        cli_error("deliveries %s needs a delivery id; " QUEUE_USAGE, sub);
        return EXIT_USAGE;
    }
    if (!retry)
        cli_reading(list ? "deliveries list" : "deliveries show");
    if ((rc = cli_adb_open(&db, &h)) != EXIT_OK)
        goto out;
    if (!(c = adb_tenant_begin(h, org, &st, NULL, 0))) {
        cli_error("database unavailable");
        rc = EXIT_DB;
        goto out;
    }
    rc = EXIT_OK;
    if (list) {
        char lim[24];
        adb__fmt(lim, sizeof(lim), "%lld", limit);
        const char *p[] = { status, lim };
        PGresult *r = PQexecParams(c,
            "SELECT l.delivery_id, l.destination_id, l.status, jsonb_array_length(l.attempts),"
            " coalesce(q.id, '-'), to_char(l.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
            " coalesce(l.failure_reason, '')"
            " FROM delivery_logs l LEFT JOIN delivery_queue q ON q.delivery_log_id = l.id"
            " WHERE ($1::text IS NULL OR l.status = $1::text)"
            " ORDER BY l.created_at DESC, l.id DESC LIMIT $2::int", 2, NULL, p, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            cli_error("could not list deliveries: the database refused the query");
            rc = EXIT_DB;
        } else {
            printf("%-26s %-6s %-9s %-3s %-26s %-20s %s\n", "delivery", "dest", "status", "try",
                   "webhook-id", "created", "failure");
            for (int i = 0; i < PQntuples(r); i++)
                printf("%-26s %-6s %-9s %-3s %-26s %-20s %s\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
                       PQgetvalue(r, i, 2), PQgetvalue(r, i, 3), PQgetvalue(r, i, 4), PQgetvalue(r, i, 5),
                       PQgetvalue(r, i, 6));
            printf("%d destination row(s)\n", PQntuples(r));
        }
        PQclear(r);
        adb_tenant_end(h, c, false);
        goto out;
    }
    bool dberr;
    json_t *s = adb__delivery_status(c, id, &dberr);
    if (!s) {
        adb_tenant_end(h, c, false);
        if (dberr) {
            cli_error("database unavailable");
            rc = EXIT_DB;
        } else {
            cli_error("no delivery \"%s\" in organization \"%s\"", id, org);
            rc = EXIT_FAILURE_;
        }
        goto out;
    }
    if (show) {
        adb_tenant_end(h, c, false);
    } else {
        int n = adb__delivery_requeue(c, id);
        bool ok = n > 0 && adb__queue_notify(c) == ADB_OK;
        adb_tenant_end(h, c, ok);
        if (n == 0) {
            cli_error("delivery \"%s\" has no failed or held destination to retry", id);
            rc = EXIT_FAILURE_;
        } else if (!ok) {
            cli_error("database unavailable");
            rc = EXIT_DB;
        } else {
            printf("delivery %s: %d destination(s) queued again (same webhook-id)\n", id, n);
        }
        json_decref(s);
        goto out;
    }
    char *text = json_dumps(s, JSON_INDENT(2));
    printf("%s\n", text ? text : "null");
    free(text);
    json_decref(s);
out:
    adb_close(h);
    cli_db_close(&db);
    return rc;
}
