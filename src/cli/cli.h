/*
 * cli.h - shared pieces of the auditdb command line: the command table,
 * exit codes, error printing and opening the database.
 */
#ifndef ADB_CLI_H
#define ADB_CLI_H

#include <signal.h>
#include <stdbool.h>
#include <jansson.h>
#include "auditdb.h"

/* Exit codes (docs/cli.md). */
enum {
    EXIT_OK = 0,
    EXIT_FAILURE_ = 1,  /* the command failed */
    EXIT_USAGE = 2,     /* bad command line */
    EXIT_DB = 3,        /* database unreachable, not startable, or owned elsewhere */
    EXIT_INTEGRITY = 4  /* refused: changed migration, newer schema, tampering */
};

typedef struct cli_command {
    const char *name;
    const char *summary;
    const char *usage; /* full --help text */
    int (*run)(int argc, char **argv);
} cli_command;

/* Prints "auditdb: <message>" on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Maps a library status to an exit code. */
int cli_exit_code(adb_status st);

/* true when argv holds -h or --help (then prints usage of cmd). */
bool cli_wants_help(const cli_command *cmd, int argc, char **argv);

/* The database a command works on: AUDIT_DB_URL, or the embedded cluster. */
typedef struct cli_db {
    adb_config cfg;
    adb_embedded *emb;  /* NULL with AUDIT_DB_URL */
    const char *conninfo;
} cli_db;

/* Declares that this invocation only reads (verify, keys list, ...; what names
 * it in messages): cli_db_open() then refuses, exit 3, when AUDITDB_HOME holds
 * no database, instead of creating an empty one. */
void cli_reading(const char *what);

/* Loads the configuration and makes the database reachable (starting the
 * embedded cluster if needed). Prints the error and returns an exit code
 * other than EXIT_OK on failure; call cli_db_close() in every case. */
int cli_db_open(cli_db *db, adb_embedded_mode mode);
void cli_db_close(cli_db *db);

/* A single connection to db; prints and returns NULL on failure. */
PGconn *cli_db_connect(cli_db *db);

/* The migrations to use: AUDITDB_MIGRATIONS_DIR (development) or built in. */
int cli_migrations(adb_migration_set *set);

/* Opens db (cli_db_open), applies pending migrations and opens the library
 * handle on it. Prints and returns an exit code on failure; on success the
 * caller closes *out with adb_close() before cli_db_close(). */
int cli_adb_open(cli_db *db, adb **out);
/* The same with the trees' integrator on when tree (docs/log.md): for the
 * commands that write events (import); the others leave the trees to serve. */
int cli_adb_open_tree(cli_db *db, adb **out, bool tree);

/* Refuses (prints, returns EXIT_INTEGRITY) when the database server can read
 * $AUDITDB_HOME/master.key, admin.key or log.key through SQL. */
int cli_key_probe(cli_db *db);

/* Waits for one of sigs (blocked in every thread) and returns it; meanwhile
 * restarts the embedded postmaster (emb, when not NULL) whenever it dies. */
int cli_supervise(const sigset_t *sigs, adb_embedded *emb);

/* true when stderr is a terminal (progress bars). */
bool cli_tty(void);

/* Reads --now T (and --max-rows N when max_rows) from argv[from..] into o
 * (defaults first; failures of jobs reported on stderr). Prints and returns
 * EXIT_USAGE on a bad argument. */
int cli_maintenance_options(int argc, char **argv, int from, bool max_rows, const char *usage,
                            adb_maintenance_options *o);

/* A command made of subcommands (auditdb gdpr, auditdb deliveries): one row
 * per subcommand, ended by a row of NULLs. Each run() gets argv from its own
 * name on; its usage is printed by `auditdb CMD --help` and `CMD SUB --help`. */
typedef struct cli_sub {
    const char *name;
    const char *summary;
    const char *usage;
    int (*run)(int argc, char **argv);
} cli_sub;
/* Runs the subcommand argv[1] of cmd (intro: the command's one-line purpose). */
int cli_dispatch(const char *cmd, const char *intro, const cli_sub *subs, int argc, char **argv);
/* Who acts from the command line, for records: "cli:<user name>" ("cli:uid-N" without one). */
void cli_actor(char *out, size_t cap);
/* j on stdout as json_dumps(j, flags) and a newline ("null" for NULL). */
void cli_print_json(const json_t *j, size_t flags);

int cmd_serve(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_verify_proof(int argc, char **argv);
/* verify-proof --report: a compliance report's note and artifact (cmd_verify_report.c) */
int cli_verify_report(int argc, char **argv);
int cmd_keys(int argc, char **argv);
int cmd_partitions(int argc, char **argv);
int cmd_maintenance(int argc, char **argv);
int cmd_archive(int argc, char **argv);
int cmd_migrate(int argc, char **argv);
int cmd_db(int argc, char **argv);
/* `auditdb db optimize` (cmd_db_optimize.c; docs/monitoring.md, "Index suggestions") */
int adb_cmd_db_optimize(int argc, char **argv);
int cmd_log(int argc, char **argv);

/* The log key's verifier key text into out (cmd_log.c); an exit code, the
 * error printed unless EXIT_OK. Never creates the key. */
int cli_log_vkey(const char *hex, const char *home, const char *log_name, char *out, size_t cap);
int cmd_witness(int argc, char **argv);
int cmd_gdpr(int argc, char **argv); /* cmd_gdpr.c: the dispatcher of gdpr.h */
int cmd_hipaa(int argc, char **argv); /* cmd_hipaa.c */
int cmd_deliveries(int argc, char **argv); /* cmd_deliveries.c: the dispatcher of deliveries.h */
int cmd_reports(int argc, char **argv); /* cmd_reports.c: the `reports` dispatcher */
int cmd_errors(int argc, char **argv); /* cmd_errors.c: `errors list|aggregations|resolve` */
int cmd_config(int argc, char **argv); /* cmd_config_changes.c: `config changes` */
int cmd_alerts(int argc, char **argv); /* cmd_alerts.c: the `alerts` dispatcher (docs/alerts.md) */
/* cmd_reports_render.c: `auditdb reports render` (a subcommand of `auditdb reports`) */
extern const char cli_reports_render_usage[];
int adb_cmd_reports_render(int argc, char **argv);
/* `reports schedules ...` and `reports templates ...` (cmd_reports_schedules.c) */
int adb_cmd_reports_schedules(int argc, char **argv);
int adb_cmd_reports_templates(int argc, char **argv);
extern const char adb_cmd_reports_schedules_usage[];
extern const char adb_cmd_reports_templates_usage[];

/* `auditdb reports deliver` (cmd_reports_deliver.c), a subcommand of `auditdb reports` */
extern const char cli_reports_deliver_usage[];
int adb_cmd_reports_deliver(int argc, char **argv);
/* `auditdb alerts rules ...` (cmd_rules.c); the alerts dispatcher calls it with argv from "rules" on */
int adb_cmd_alerts_rules(int argc, char **argv);

extern const cli_command cli_commands[];

#endif
