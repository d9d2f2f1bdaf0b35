/*
 * cmd_partitions.c - `auditdb partitions list|create|analyze|drop-expired`.
 */
#include "cli.h"
#include "../core/util.h"
#include "../event/event.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PARTITIONS_USAGE                                                                     \
    "usage: auditdb partitions list | create [--month YYYY-MM | --ahead N] | analyze |"      \
    " drop-expired [--now T]"

/* `partitions drop-expired [--now T]`: the partition step of a maintenance round. */
static int drop_expired(int argc, char **argv)
{
    cli_db db;
    adb *h = NULL;
    char err[ADB_ERRMSG_MAX];
    adb_maintenance_options o;
    adb_maintenance_report rep;
    adb_status st;
    int rc;

    if ((rc = cli_maintenance_options(argc, argv, 2, false, PARTITIONS_USAGE, &o)) != EXIT_OK)
        return rc;
    if ((rc = cli_adb_open(&db, &h)) != EXIT_OK)
        goto out;
    if ((st = adb_partitions_drop_expired(h, &o, &rep, err, sizeof(err))) != ADB_OK) {
        cli_error("%s", err);
        rc = cli_exit_code(st);
        goto out;
    }
    printf("dropped %d expired partition(s): %lld event(s) deleted, their chain positions kept in "
           "%d stub(s)\n", rep.partitions_dropped, rep.events_expired, rep.stubs_created);
    rc = rep.failures ? EXIT_FAILURE_ : EXIT_OK;
out:
    adb_close(h);
    cli_db_close(&db);
    return rc;
}

int cmd_partitions(int argc, char **argv)
{
    cli_db db;
    adb *h = NULL;
    char err[ADB_ERRMSG_MAX];
    adb_status st = ADB_OK;
    int rc;
    const char *month = NULL;
    long long ahead = 6;

    if (argc < 2 || (strcmp(argv[1], "list") && strcmp(argv[1], "create") && strcmp(argv[1], "analyze") &&
                     strcmp(argv[1], "drop-expired"))) {
        cli_error(PARTITIONS_USAGE);
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "drop-expired"))
        return drop_expired(argc, argv);
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[1], "create") && !strcmp(argv[i], "--month") && i + 1 < argc)
            month = argv[++i];
        else if (!strcmp(argv[1], "create") && !strcmp(argv[i], "--ahead") && i + 1 < argc) {
            if (!adb__parse_int(argv[++i], 0, 120, &ahead)) {
                cli_error("invalid --ahead \"%s\" (expected 0 to 120 months)", argv[i]);
                return EXIT_USAGE;
            }
        } else {
            cli_error("unknown argument \"%s\"; run \"auditdb partitions --help\"", argv[i]);
            return EXIT_USAGE;
        }
    }
    if (!strcmp(argv[1], "list"))
        cli_reading("partitions list");
    if ((rc = cli_adb_open(&db, &h)) != EXIT_OK)
        goto out;
    if (!strcmp(argv[1], "list")) {
        adb_partition_info *p = NULL;
        size_t n = 0;
        if ((st = adb_partitions_list(h, &p, &n, err, sizeof(err))) == ADB_OK) {
            long long rows = 0, bytes = 0;
            printf("%-20s %-22s %-22s %12s %12s\n", "partition", "from", "to", "rows", "bytes");
            for (size_t i = 0; i < n; i++) {
                printf("%-20s %-22s %-22s %12lld %12lld\n", p[i].name, p[i].range_from,
                       p[i].range_to, p[i].rows, p[i].bytes);
                rows += p[i].rows;
                bytes += p[i].bytes;
            }
            printf("%zu partition(s), %lld rows, %lld bytes\n", n, rows, bytes);
        }
        free(p);
    } else if (!strcmp(argv[1], "create")) {
        char name[64];
        int created = 0;
        if (month && (st = adb_partitions_create_month(h, month, name, err, sizeof(err))) == ADB_OK)
            printf("partition %s ready\n", name);
        else if (!month && (st = adb_partitions_ensure(h, adb__now_us(), (int)ahead, &created, err,
                                                       sizeof(err))) == ADB_OK)
            printf("the current month and the next %lld are ready (%d created)\n", ahead, created);
    } else {
        int n = 0;
        if ((st = adb_partitions_analyze(h, &n, err, sizeof(err))) == ADB_OK)
            printf("analyzed %d partition(s)\n", n);
    }
    if (st != ADB_OK) {
        cli_error("%s", err);
        rc = st == ADB_ERR_INVALID ? EXIT_USAGE : cli_exit_code(st);
    }
out:
    adb_close(h);
    cli_db_close(&db);
    return rc;
}
