/*
 * common.c - error printing, exit codes and database opening shared by the
 * subcommands.
 */
#include "cli.h"
#include "../core/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pwd.h>
#include <unistd.h>

void cli_error(const char *fmt, ...)
{
    va_list ap;

    fputs("auditdb: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int cli_exit_code(adb_status st)
{
    switch (st) {
    case ADB_OK:
        return EXIT_OK;
    case ADB_ERR_DB_CONNECT:
    case ADB_ERR_PG_MISSING:
    case ADB_ERR_PG_START:
    case ADB_ERR_LOCKED:
    case ADB_ERR_TIMEOUT:
        return EXIT_DB;
    case ADB_ERR_CHECKSUM:
    case ADB_ERR_SCHEMA_NEWER:
        return EXIT_INTEGRITY;
    case ADB_ERR_INVALID:
    case ADB_ERR_CONFIG:
        return EXIT_USAGE;
    default:
        return EXIT_FAILURE_;
    }
}

bool cli_wants_help(const cli_command *cmd, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(cmd->usage, stdout);
            return true;
        }
    }
    return false;
}

/* set by a command that only reads; NULL for one that may create the database */
static const char *reading;

void cli_reading(const char *what)
{
    reading = what;
}

int cli_db_open(cli_db *db, adb_embedded_mode mode)
{
    adb_status st;

    memset(db, 0, sizeof(*db));
    if ((st = adb_config_load(&db->cfg)) != ADB_OK) {
        cli_error("%s", db->cfg.errmsg);
        return cli_exit_code(st);
    }
    if (db->cfg.db_url) {
        db->conninfo = db->cfg.db_url;
        return EXIT_OK;
    }
    db->emb = adb_embedded_new(db->cfg.home, db->cfg.pg_bindir, db->cfg.pg_user);
    if (!db->emb) {
        cli_error("out of memory");
        return EXIT_FAILURE_;
    }
    /* a reader run from the wrong folder must not make an empty cluster there
     * and report on it as if it were the real one */
    if (reading && !adb_embedded_exists(db->emb)) {
        cli_error("no database in AUDITDB_HOME \"%s\": \"%s\" only reads and does not create "
                  "one; set AUDITDB_HOME to the folder that auditdb serve uses (it prints it on "
                  "start), or AUDIT_DB_URL", db->cfg.home, reading);
        return EXIT_DB;
    }
    if ((st = adb_embedded_acquire(db->emb, mode)) != ADB_OK ||
        (st = adb_embedded_start(db->emb)) != ADB_OK) {
        cli_error("%s", adb_embedded_errmsg(db->emb));
        return cli_exit_code(st);
    }
    db->conninfo = adb_embedded_conninfo(db->emb);
    return EXIT_OK;
}

void cli_db_close(cli_db *db)
{
    adb_embedded_free(db->emb);
    db->emb = NULL;
    adb_config_free(&db->cfg);
}

/* Notices (e.g. "already exists, skipping") are not errors: keep stderr for
 * what matters. */
static void quiet_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

PGconn *cli_db_connect(cli_db *db)
{
    const char *keys[] = { "connect_timeout", "application_name", "dbname", NULL };
    const char *vals[] = { "5", "auditdb-cli", db->conninfo, NULL };
    PGconn *c = PQconnectdbParams(keys, vals, 1);

    if (PQstatus(c) != CONNECTION_OK) {
        const char *m = PQerrorMessage(c);
        size_t n = strlen(m);
        while (n > 0 && m[n - 1] == '\n')
            n--;
        cli_error("could not connect to the database: %.*s", (int)n, m);
        PQfinish(c);
        return NULL;
    }
    PQsetNoticeProcessor(c, quiet_notice, NULL);
    return c;
}

int cli_migrations(adb_migration_set *set)
{
    const char *dir = getenv("AUDITDB_MIGRATIONS_DIR");
    char err[ADB_ERRMSG_MAX];
    adb_status st;

    if (!dir || !*dir) {
        adb_migrations_builtin(set);
        return EXIT_OK;
    }
    if ((st = adb_migrations_load_dir(dir, set, err, sizeof(err))) != ADB_OK) {
        cli_error("%s", err);
        return cli_exit_code(st);
    }
    return EXIT_OK;
}

bool cli_tty(void)
{
    return isatty(2) == 1;
}

int cli_adb_open(cli_db *db, adb **out)
{
    return cli_adb_open_tree(db, out, false);
}

int cli_adb_open_tree(cli_db *db, adb **out, bool tree)
{
    adb_migration_set set;
    char err[ADB_ERRMSG_MAX];
    int rc, applied = 0;
    adb_options o;
    PGconn *c;
    adb_status st;

    *out = NULL;
    if ((rc = cli_db_open(db, ADB_EMBEDDED_OWNER_OR_GUEST)) != EXIT_OK)
        return rc;
    if ((rc = cli_migrations(&set)) != EXIT_OK)
        return rc;
    if (!(c = cli_db_connect(db))) {
        adb_migrations_free(&set);
        return EXIT_DB;
    }
    st = adb_migrate_up(c, &set, NULL, NULL, &applied, err, sizeof(err));
    PQfinish(c);
    adb_migrations_free(&set);
    if (st != ADB_OK) {
        cli_error("%s", err);
        return cli_exit_code(st);
    }
    adb_options_default(&o);
    o.conninfo = db->conninfo;
    o.home = db->cfg.home;
    o.master_key = db->cfg.master_key;
    o.checkpoint_dir = db->cfg.checkpoint_dir; /* what the log signed, outside the database */
    o.pool_min = 1;
    o.pool_max = db->cfg.pool_max;
    o.no_tree = !tree;
    if ((st = adb_open(&o, out, err, sizeof(err))) != ADB_OK) {
        cli_error("%s", err);
        return cli_exit_code(st);
    }
    return EXIT_OK;
}

static void sub_usage(FILE *f, const char *cmd, const char *intro, const cli_sub *subs)
{
    fprintf(f, "usage: auditdb %s SUBCOMMAND [ARGS...]\n\n%s\n\nsubcommands:\n", cmd, intro);
    for (const cli_sub *s = subs; s->name; s++)
        fprintf(f, "  %-13s %s\n", s->name, s->summary);
    fprintf(f, "\nRun \"auditdb %s SUBCOMMAND --help\" for its options.\n", cmd);
    for (const cli_sub *s = subs; s->name; s++)
        fprintf(f, "\n%s", s->usage);
}

int cli_dispatch(const char *cmd, const char *intro, const cli_sub *subs, int argc, char **argv)
{
    if (argc < 2) {
        sub_usage(stderr, cmd, intro, subs);
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        sub_usage(stdout, cmd, intro, subs);
        return EXIT_OK;
    }
    for (const cli_sub *s = subs; s->name; s++) {
        if (strcmp(s->name, argv[1]) != 0)
            continue;
        for (int i = 2; i < argc; i++)
            if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
                fputs(s->usage, stdout);
                return EXIT_OK;
            }
        return s->run(argc - 1, argv + 1);
    }
    cli_error("unknown %s subcommand \"%s\"; run \"auditdb %s --help\"", cmd, argv[1], cmd);
    return EXIT_USAGE;
}

void cli_actor(char *out, size_t cap)
{
    struct passwd pw, *res = NULL;
    char buf[1024];

    if (getpwuid_r(getuid(), &pw, buf, sizeof(buf), &res) == 0 && res && res->pw_name)
        adb__fmt(out, cap, "cli:%s", res->pw_name);
    else
        adb__fmt(out, cap, "cli:uid-%lu", (unsigned long)getuid());
}

void cli_print_json(const json_t *j, size_t flags)
{
    char *s = j ? json_dumps(j, flags) : NULL;
    printf("%s\n", s ? s : "null");
    free(s);
}
