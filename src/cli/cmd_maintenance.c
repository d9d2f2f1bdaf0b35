/*
 * cmd_maintenance.c - `auditdb maintenance run [--now T] [--max-rows N]`:
 * one round of what the scheduler of `auditdb serve` does daily, at a
 * chosen clock: partitions, retention of the security tables, retention
 * and archival of audit events.
 */
#include "cli.h"
#include "../core/util.h"
#include "../event/event.h"

#include <stdio.h>
#include <string.h>

#define MAINTENANCE_USAGE "usage: auditdb maintenance run [--now T] [--max-rows N]"

static void on_failure(void *ud, const char *job, const char *reason)
{
    (void)ud;
    cli_error("job %s failed (recorded in archive_dlq_event, retried later): %s", job, reason);
}

/* Parses --now T and --max-rows N from argv[from..]; EXIT_OK or a usage error. */
int cli_maintenance_options(int argc, char **argv, int from, bool max_rows, const char *usage,
                            adb_maintenance_options *o)
{
    adb_maintenance_options_default(o);
    o->now_us = adb__now_us();
    for (int i = from; i < argc; i++) {
        long long n;
        if (!strcmp(argv[i], "--now") && i + 1 < argc) {
            i++;
            if (!adb__timestamp_parse(argv[i], strlen(argv[i]), &o->now_us)) {
                cli_error("invalid --now \"%s\" (expected RFC 3339, e.g. 2030-01-01T00:00:00Z)", argv[i]);
                return EXIT_USAGE;
            }
        } else if (max_rows && !strcmp(argv[i], "--max-rows") && i + 1 < argc) {
            if (!adb__parse_int(argv[++i], 1, 10000000, &n)) {
                cli_error("invalid --max-rows \"%s\" (expected 1 to 10000000)", argv[i]);
                return EXIT_USAGE;
            }
            o->archive_max_rows = (int)n;
        } else {
            cli_error("unknown argument \"%s\"; %s", argv[i], usage);
            return EXIT_USAGE;
        }
    }
    o->on_failure = on_failure;
    return EXIT_OK;
}

int cmd_maintenance(int argc, char **argv)
{
    cli_db db;
    adb *h = NULL;
    char err[ADB_ERRMSG_MAX];
    adb_maintenance_options o;
    adb_maintenance_report rep;
    int rc;
    adb_status st;

    if (argc < 2 || strcmp(argv[1], "run") != 0) {
        cli_error(MAINTENANCE_USAGE);
        return EXIT_USAGE;
    }
    if ((rc = cli_maintenance_options(argc, argv, 2, true, MAINTENANCE_USAGE, &o)) != EXIT_OK)
        return rc;
    if ((rc = cli_adb_open(&db, &h)) != EXIT_OK)
        goto out;
    if ((st = adb_maintenance_run(h, &o, &rep, err, sizeof(err))) != ADB_OK) {
        cli_error("%s", err);
        rc = cli_exit_code(st);
        goto out;
    }
    printf("partitions: %d created, %d dropped; security tables: %lld expired row(s) deleted\n",
           rep.partitions_created, rep.partitions_dropped, rep.security_deleted);
    printf("audit events: %lld archived into %d archive(s); %lld past retention deleted (%d stub(s)); "
           "%d archive(s) past retention replaced by stubs (%lld events)\n",
           rep.events_archived, rep.archives_created, rep.events_expired, rep.stubs_created,
           rep.archives_expired, rep.archived_events_expired);
    printf("alerts: %lld resolved or dismissed more than 90 days ago deleted\n", rep.alerts_deleted);
    if (rep.archives_indexed)
        printf("archives: %d older or rewritten archive(s) given their subject index\n",
               rep.archives_indexed);
    if (rep.failures || rep.deferred)
        printf("jobs: %d failed, %d waiting for their retry (archive_dlq_event)\n", rep.failures,
               rep.deferred);
    rc = rep.failures ? EXIT_FAILURE_ : EXIT_OK;
out:
    adb_close(h);
    cli_db_close(&db);
    return rc;
}
