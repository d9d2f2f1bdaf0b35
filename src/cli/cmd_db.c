/*
 * cmd_db.c - `auditdb db status|start|stop|psql`: operating the embedded
 * cluster by hand.
 */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int db_status(void)
{
    adb_config cfg;
    adb_embedded *e;
    adb_status st;
    int rc;

    if ((st = adb_config_load(&cfg)) != ADB_OK) {
        cli_error("%s", cfg.errmsg);
        adb_config_free(&cfg);
        return cli_exit_code(st);
    }
    if (cfg.db_url) {
        cli_db db = { .conninfo = cfg.db_url };
        PGconn *c = cli_db_connect(&db);
        printf("database: external (AUDIT_DB_URL)\nstatus:   %s\n", c ? "accepting connections" : "unreachable");
        rc = c ? EXIT_OK : EXIT_DB;
        PQfinish(c);
        adb_config_free(&cfg);
        return rc;
    }
    e = adb_embedded_new(cfg.home, cfg.pg_bindir, cfg.pg_user);
    if (!e) {
        adb_config_free(&cfg);
        return EXIT_FAILURE_;
    }
    pid_t pm = adb_embedded_postmaster_pid(e);
    pid_t owner = adb_embedded_owner_pid(e);
    bool up = pm && adb_embedded_running(e);
    printf("database: embedded\nhome:     %s\ndata:     %s\nlog:      %s\n", cfg.home,
           adb_embedded_datadir(e), adb_embedded_logfile(e));
    if (up)
        printf("status:   running (postmaster pid %ld)\n", (long)pm);
    else if (pm)
        printf("status:   starting or stuck (postmaster pid %ld, not accepting)\n", (long)pm);
    else
        printf("status:   stopped\n");
    if (owner)
        printf("owner:    auditdb pid %ld\n", (long)owner);
    rc = up ? EXIT_OK : EXIT_DB;
    adb_embedded_free(e);
    adb_config_free(&cfg);
    return rc;
}

static int db_start(void)
{
    cli_db db;
    int rc = cli_db_open(&db, ADB_EMBEDDED_OWNER_OR_GUEST);

    if (rc == EXIT_OK && !db.emb) {
        cli_error("AUDIT_DB_URL is set: auditdb does not start or stop that server");
        rc = EXIT_USAGE;
    } else if (rc == EXIT_OK && adb_embedded_is_guest(db.emb)) {
        printf("embedded PostgreSQL already running, owned by auditdb pid %ld\n",
               (long)adb_embedded_owner_pid(db.emb));
    } else if (rc == EXIT_OK) {
        adb_status st = adb_embedded_detach(db.emb);
        if (st != ADB_OK) {
            cli_error("%s", adb_embedded_errmsg(db.emb));
            rc = cli_exit_code(st);
        } else {
            printf("embedded PostgreSQL running (postmaster pid %ld)\nconninfo: %s\n",
                   (long)adb_embedded_postmaster_pid(db.emb), db.conninfo);
        }
    }
    cli_db_close(&db);
    return rc;
}

static int db_stop(void)
{
    adb_config cfg;
    adb_embedded *e = NULL;
    adb_status st;
    int rc = EXIT_OK;

    if ((st = adb_config_load(&cfg)) != ADB_OK) {
        cli_error("%s", cfg.errmsg);
        rc = cli_exit_code(st);
        goto out;
    }
    if (cfg.db_url) {
        cli_error("AUDIT_DB_URL is set: auditdb does not start or stop that server");
        rc = EXIT_USAGE;
        goto out;
    }
    if (!(e = adb_embedded_new(cfg.home, cfg.pg_bindir, cfg.pg_user))) {
        rc = EXIT_FAILURE_;
        goto out;
    }
    if ((st = adb_embedded_acquire(e, ADB_EMBEDDED_OWNER)) != ADB_OK ||
        (st = adb_embedded_stop(e)) != ADB_OK) {
        cli_error("%s", adb_embedded_errmsg(e));
        rc = cli_exit_code(st);
        goto out;
    }
    printf("embedded PostgreSQL stopped\n");
out:
    adb_embedded_free(e);
    adb_config_free(&cfg);
    return rc;
}

static int db_psql(int argc, char **argv)
{
    cli_db db;
    int rc = cli_db_open(&db, ADB_EMBEDDED_OWNER_OR_GUEST);
    char **args;
    pid_t pid;
    int status;

    if (rc != EXIT_OK)
        goto out;
    args = calloc((size_t)argc + 3, sizeof(char *));
    if (!args) {
        rc = EXIT_FAILURE_;
        goto out;
    }
    args[0] = "psql";
    args[1] = (char *)db.conninfo;
    for (int i = 0; i < argc; i++)
        args[i + 2] = argv[i];
    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        execvp("psql", args);
        cli_error("could not run psql: %s (install the Debian package postgresql-client)",
                  strerror(errno));
        _exit(127);
    }
    free(args);
    if (pid < 0) {
        cli_error("fork: %s", strerror(errno));
        rc = EXIT_FAILURE_;
        goto out;
    }
    while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
        ;
    rc = WIFEXITED(status) ? WEXITSTATUS(status) : EXIT_FAILURE_;
out:
    cli_db_close(&db);
    return rc;
}

int cmd_db(int argc, char **argv)
{
    if (argc < 2) {
        cli_error("missing subcommand; usage: auditdb db status|start|stop|psql|optimize");
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "psql") == 0)
        return db_psql(argc - 2, argv + 2);
    if (strcmp(argv[1], "optimize") == 0) /* cmd_db_optimize.c */
        return adb_cmd_db_optimize(argc - 2, argv + 2);
    if (argc > 2) {
        cli_error("unexpected argument \"%s\"", argv[2]);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "status") == 0)
        return db_status();
    if (strcmp(argv[1], "start") == 0)
        return db_start();
    if (strcmp(argv[1], "stop") == 0)
        return db_stop();
    cli_error("unknown subcommand \"%s\"; usage: auditdb db status|start|stop|psql|optimize", argv[1]);
    return EXIT_USAGE;
}
