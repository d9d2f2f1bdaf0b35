/*
 * cmd_maintenance.c - `auditdb maintenance run [--now T]`: one round of
 * what the scheduler of `auditdb serve` does daily, at a chosen clock.
 */
#include "cli.h"
#include "../core/util.h"
#include "../event/event.h"

#include <stdio.h>
#include <string.h>

int cmd_maintenance(int argc, char **argv)
{
    cli_db db;
    adb *h = NULL;
    char err[ADB_ERRMSG_MAX];
    int64_t now = adb__now_us();
    int rc, created = 0;
    long long deleted = 0;
    adb_status st;

    if (argc < 2 || strcmp(argv[1], "run") != 0) {
        cli_error("usage: auditdb maintenance run [--now T]");
        return EXIT_USAGE;
    }
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--now") && i + 1 < argc) {
            i++;
            if (!adb__timestamp_parse(argv[i], strlen(argv[i]), &now)) {
                cli_error("invalid --now \"%s\" (expected RFC 3339, e.g. 2030-01-01T00:00:00Z)", argv[i]);
                return EXIT_USAGE;
            }
        } else {
            cli_error("unknown argument \"%s\"; usage: auditdb maintenance run [--now T]", argv[i]);
            return EXIT_USAGE;
        }
    }
    if ((rc = cli_adb_open(&db, &h)) != EXIT_OK)
        goto out;
    if ((st = adb_partitions_ensure(h, now, 6, &created, err, sizeof(err))) != ADB_OK ||
        (st = adb_security_retention(h, now, &deleted, err, sizeof(err))) != ADB_OK) {
        cli_error("%s", err);
        rc = cli_exit_code(st);
        goto out;
    }
    printf("partitions: %d created; security tables: %lld expired row(s) deleted\n", created, deleted);
out:
    adb_close(h);
    cli_db_close(&db);
    return rc;
}
