/*
 * cmd_migrate.c - `auditdb migrate [status]`.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void on_applied(void *ud, const adb_migration *m, double ms)
{
    (void)ud;
    printf("applied %s (%.1f ms)\n", m->name, ms);
    fflush(stdout);
}

static const char *state_name(adb_migration_state s)
{
    switch (s) {
    case ADB_MIGRATION_PENDING: return "pending";
    case ADB_MIGRATION_APPLIED: return "applied";
    case ADB_MIGRATION_CHANGED: return "CHANGED";
    case ADB_MIGRATION_UNKNOWN: return "UNKNOWN";
    }
    return "?";
}

static int show_status(PGconn *c, const adb_migration_set *set)
{
    adb_migration_status *rows = NULL;
    size_t n = 0;
    char err[ADB_ERRMSG_MAX];
    adb_status st = adb_migrate_status(c, set, &rows, &n, err, sizeof(err));
    int bad = 0, pending = 0;

    if (st != ADB_OK) {
        cli_error("%s", err);
        return cli_exit_code(st);
    }
    printf("%-8s %-40s %-8s %s\n", "version", "name", "state", "applied at");
    for (size_t i = 0; i < n; i++) {
        printf("%-8d %-40s %-8s %s\n", rows[i].version, rows[i].name, state_name(rows[i].state),
               rows[i].applied_at[0] ? rows[i].applied_at : "-");
        if (rows[i].state == ADB_MIGRATION_CHANGED || rows[i].state == ADB_MIGRATION_UNKNOWN)
            bad++;
        if (rows[i].state == ADB_MIGRATION_PENDING)
            pending++;
    }
    free(rows);
    printf("%d pending, %d refused\n", pending, bad);
    return bad ? EXIT_INTEGRITY : EXIT_OK;
}

int cmd_migrate(int argc, char **argv)
{
    cli_db db;
    adb_migration_set set;
    PGconn *c = NULL;
    char err[ADB_ERRMSG_MAX];
    int rc, applied = 0;
    bool status = false;

    if (argc > 2 || (argc == 2 && strcmp(argv[1], "status") != 0)) {
        cli_error("unknown argument \"%s\"; usage: auditdb migrate [status]", argv[1]);
        return EXIT_USAGE;
    }
    status = argc == 2;
    if ((rc = cli_migrations(&set)) != EXIT_OK)
        return rc;
    if (status)
        cli_reading("migrate status");
    if ((rc = cli_db_open(&db, ADB_EMBEDDED_OWNER_OR_GUEST)) != EXIT_OK)
        goto out;
    if (!(c = cli_db_connect(&db))) {
        rc = EXIT_DB;
        goto out;
    }
    if (status) {
        rc = show_status(c, &set);
        goto out;
    }
    adb_status st = adb_migrate_up(c, &set, on_applied, NULL, &applied, err, sizeof(err));
    if (st != ADB_OK) {
        cli_error("%s", err);
        rc = cli_exit_code(st);
        goto out;
    }
    printf("database is up to date: %zu migration(s), %d applied now\n", set.count, applied);
    rc = EXIT_OK;
out:
    PQfinish(c);
    cli_db_close(&db);
    adb_migrations_free(&set);
    return rc;
}
