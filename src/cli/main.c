/*
 * main.c - the auditdb command: a table of subcommands, --help and
 * --version. Each subcommand lives in its own cmd_*.c file.
 */
#include "cli.h"
#include "../http/http.h"

#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>

static int cmd_version(int argc, char **argv);
static int cmd_routes(int argc, char **argv);
static int cmd_help(int argc, char **argv);

const cli_command cli_commands[] = {
    { "serve", "run the HTTP API (starts the embedded database unless AUDIT_DB_URL is set)",
      "usage: auditdb serve [--listen HOST:PORT] [--threads N] [--no-migrate]\n"
      "\n"
      "Starts the database (the embedded cluster under AUDITDB_HOME unless AUDIT_DB_URL is\n"
      "set), applies pending migrations, and serves HTTP on AUDITDB_LISTEN (default\n"
      "127.0.0.1:8080) until SIGINT or SIGTERM. One JSON line per request goes to stderr.\n"
      "\n"
      "  --listen HOST:PORT  listen address (overrides AUDITDB_LISTEN)\n"
      "  --threads N         request handler threads per pool, reads and writes (default 8)\n"
      "  --no-migrate        do not apply pending migrations (still refuses a changed one)\n",
      cmd_serve },
    { "migrate", "apply pending schema migrations, or show their status",
      "usage: auditdb migrate [status]\n"
      "\n"
      "  auditdb migrate         apply every pending migration, each in its own transaction\n"
      "  auditdb migrate status  list migrations: applied, pending, changed or unknown\n"
      "\n"
      "Concurrent runs are safe (an advisory lock serializes them). A migration whose file\n"
      "changed after it was applied is refused (exit 4).\n",
      cmd_migrate },
    { "import", "import events from NDJSON or a JSON array (FILE or - for stdin)",
      "usage: auditdb import [--org ID] [--preset NAME] [--legacy] [--rejects FILE] [--quiet] FILE|-\n"
      "\n"
      "Validates every event and writes the valid ones through the same batched writer as the\n"
      "API (hash, signature, chain). Each rejected line (or array element) is reported on stderr\n"
      "with its reasons, and nothing of it is stored. A line's \"idempotencyKey\" makes a re-run\n"
      "skip events already imported.\n"
      "\n"
      "  --org ID        every event belongs to organization ID (others are rejected)\n"
      "  --preset NAME   apply an audit preset before validation\n"
      "  --legacy        accept smart-logs events with hashAlgorithm SHA-256 and their hash\n"
      "  --rejects FILE  also write rejected events with reasons to FILE (NDJSON)\n"
      "  --quiet         no progress bar\n"
      "\n"
      "Exit: 0 all imported, 1 some rejected, 3 database unavailable.\n",
      cmd_import },
    { "verify", "recompute every hash, signature and chain link; exit 4 on tampering",
      "usage: auditdb verify [--org ID] [--from T] [--to T] [--event ID] [--json] [--no-record]\n"
      "                      [--log-vkey KEY]\n"
      "       auditdb verify --auth-log [--json]\n"
      "\n"
      "Streams events in chain order and recomputes each one's canonical form, hash, signature\n"
      "and chain link, checks that chain positions run without gaps or repeats, and names every\n"
      "broken event and what is wrong. Without --from/--to each chain is also held to its Merkle\n"
      "tree and to the checkpoints the log signed (the file under AUDITDB_CHECKPOINT_DIR, checked\n"
      "with --log-vkey KEY or the log key's own): tail truncated, history re-signed, fork.\n"
      "Results go to audit_integrity_log.\n"
      "\n"
      "  --org ID      only this organization\n"
      "  --from T      only events at or after T (RFC 3339)\n"
      "  --to T        only events at or before T\n"
      "  --event ID    verify one event and its link to its predecessor\n"
      "  --json        one JSON object on stdout\n"
      "  --no-record   do not write audit_integrity_log\n"
      "  --auth-log    instead, the hash chain of auth_audit_log (every authentication attempt):\n"
      "                each row's link, hash and signature\n"
      "\n"
      "Exit: 0 intact, 4 tampering found, 1 or 3 when verification could not run.\n",
      cmd_verify },
    { "verify-proof", "check event receipts (tlog-proof) offline against the log's and witnesses' keys",
      "usage: auditdb verify-proof RECEIPT... --vkey VKEY [--witness VKEY]... [--quorum N]\n"
      "                            [--org ID] [--event EVENT.json] [--quiet]\n"
      "\n"
      "Checks receipts (c2sp.org/tlog-proof@v1, what GET /api/v1/audit/events/{id}/proof\n"
      "answers) without a database: the checkpoint's signature by the log key, the witnesses'\n"
      "cosignatures against the quorum, and every node of the inclusion proof from the\n"
      "event's entry (its id and content hash) to the checkpoint's root. RECEIPT - reads stdin.\n"
      "A key is its verifier key text (name+keyid+base64) or @FILE holding it.\n"
      "\n"
      "  --vkey VKEY       the log's verifier key (GET /api/v1/audit/log/vkey)\n"
      "  --witness VKEY    a witness's cosignature verifier key (repeatable)\n"
      "  --quorum N        cosignatures needed of the witnesses named (default: all of them)\n"
      "  --org ID          the checkpoint must be organization ID's\n"
      "  --event FILE      the event object (GET /api/v1/audit/events/{id}): the receipt must\n"
      "                    name it, and its hash is recomputed from its canonical form\n"
      "  --quiet           print nothing for valid receipts\n"
      "\n"
      "       auditdb verify-proof --report NOTE --artifact FILE --vkey VKEY\n"
      "                            [--previous NOTE] [--org ID] [--quiet]\n"
      "A compliance report (GET /api/v1/compliance/reports/{id}/status: signedNote, and\n"
      "/download: the artifact): the note's signature by the log key, the artifact's SHA-256,\n"
      "the consistency proof from the previous report's checkpoint, and with --previous that\n"
      "report's note names the checkpoint this one extends (docs/reports.md).\n"
      "\n"
      "Exit: 0 every receipt valid, 4 one is not (the reason on stderr), 2 usage error,\n"
      "1 a file could not be read.\n",
      cmd_verify_proof },
    { "keys", "create, list, revoke, rotate API keys and change their role",
      "usage: auditdb keys create --org ID --role ROLE [--name NAME]\n"
      "       auditdb keys create --role operator [--name NAME]\n"
      "       auditdb keys list [--org ID]\n"
      "       auditdb keys revoke KEY-ID\n"
      "       auditdb keys rotate KEY-ID\n"
      "       auditdb keys set-role KEY-ID ROLE\n"
      "\n"
      "A key belongs to one organization and one role (admin, auditor, ingest, viewer, or a\n"
      "role of the organization's own). create makes the organization with its default roles\n"
      "if it does not exist, and prints the key once: only a hash of its secret is stored.\n"
      "An operator key (--role operator, no --org) belongs to no organization: it reads the\n"
      "process-wide /metrics and /health/detailed, and no organization's data.\n"
      "KEY-ID is the public part shown by list (adb_<16 hex digits>).\n"
      "rotate makes a key of the same organization, role and name and revokes KEY-ID, in one\n"
      "transaction; set-role gives KEY-ID another role of its organization. Every change is a\n"
      "row of the configuration history and an audit event of the key's organization.\n",
      cmd_keys },
    { "partitions", "list, create, analyze and drop the monthly partitions of audit_log",
      "usage: auditdb partitions list\n"
      "       auditdb partitions create [--month YYYY-MM | --ahead N]\n"
      "       auditdb partitions analyze\n"
      "       auditdb partitions drop-expired [--now T]\n"
      "\n"
      "  list          every partition: its range (UTC), rows and size\n"
      "  create        the current month and the next N (default 6), or one month\n"
      "  analyze       refresh the planner's statistics of every partition\n"
      "  drop-expired  drop each month whose events have all passed their retention\n"
      "                (audit_retention_policy), keeping their chain positions in stubs, and\n"
      "                the empty months older than the shortest policy; --now sets the clock\n"
      "\n"
      "auditdb serve keeps the current month and the next 6 ready by itself (on start and daily,\n"
      "one instance at a time), and the writer makes a missing month on demand.\n",
      cmd_partitions },
    { "maintenance", "run one round of the scheduled maintenance (partitions, retention, archival)",
      "usage: auditdb maintenance run [--now T] [--max-rows N]\n"
      "\n"
      "Does what auditdb serve's scheduler does daily, one process at a time:\n"
      "  - makes the current month's partition and the next six;\n"
      "  - deletes rows of the security tables (api_access_log, auth_audit_log,\n"
      "    rate_limit_violations, security_events, user_sessions, compliance_reports, error_log)\n"
      "    older than their data_retention_policies row allows;\n"
      "  - audit events past their policy's retention_days are deleted (months wholly expired\n"
      "    as partitions); archives past it are replaced by stubs keeping the chain positions;\n"
      "  - audit events past archive_after_days move into archives (docs/archive.md);\n"
      "  - emptied months older than the shortest policy are dropped.\n"
      "A job that fails is recorded in archive_dlq_event and retried with backoff.\n"
      "\n"
      "  --now T        the clock (RFC 3339); default now\n"
      "  --max-rows N   events per archive (default 100000)\n"
      "\n"
      "Exit: 0 done, 1 some job failed, 3 database unavailable.\n",
      cmd_maintenance },
    { "archive", "list, show, verify, restore and export archives of audit events",
      "usage: auditdb archive list [--org ID] [--json]\n"
      "       auditdb archive show ID\n"
      "       auditdb archive verify ID\n"
      "       auditdb archive restore ID\n"
      "       auditdb archive export ID [--output FILE]\n"
      "\n"
      "  list     every archive (of one organization): positions, records, dates, state\n"
      "  show     one archive's metadata (JSON)\n"
      "  verify   recompute both checksums, then each event's hash, signature and chain link\n"
      "           and the links between consecutive positions; names what is wrong\n"
      "  restore  put the events back into audit_log (same ids, hashes and positions) and\n"
      "           remove the archive, in one transaction\n"
      "  export   the archive's JSON Lines (docs/archive.md) on stdout or into FILE\n"
      "\n"
      "Exit: 0 done, 1 failed (unknown archive, stub, bad checksum), 4 tampering found.\n",
      cmd_archive },
    { "db", "operate the embedded PostgreSQL cluster (status, start, stop, psql, optimize)",
      "usage: auditdb db status|start|stop|psql [PSQL ARGS...]\n"
      "       auditdb db optimize [--apply] [--drop-duplicates] [--json] [--min-calls N]\n"
      "\n"
      "  status  show the cluster under AUDITDB_HOME: running or not, its pid and owner\n"
      "  start   start it and leave it running (for psql, backups, several commands)\n"
      "  stop    stop it (refused while an auditdb process owns it)\n"
      "  psql    open psql on the auditdb database (extra arguments go to psql)\n"
      "  optimize  the database monitor's findings: missing indexes with the planner's cost\n"
      "          before and after (hypopg), duplicate and unused indexes, vacuum lag; changes\n"
      "          nothing unless --apply (CREATE INDEX CONCURRENTLY the suggestions) or\n"
      "          --drop-duplicates (DROP INDEX CONCURRENTLY unused exact duplicates)\n"
      "\n"
      "With AUDIT_DB_URL set, status checks that server and psql connects to it.\n",
      cmd_db },
    { "witness", "run a C2SP tlog-witness that cosigns auditdb's checkpoints (no database)",
      "usage: auditdb witness --state DIR --key FILE --name NAME --log [ORIGIN_PREFIX=]VKEY...\n"
      "                       [--listen HOST:PORT]\n"
      "       auditdb witness --key FILE --name NAME --print-vkey\n"
      "\n"
      "Serves POST /add-checkpoint (c2sp.org/tlog-witness): checks each checkpoint's log\n"
      "signature and its consistency proof from the latest checkpoint it cosigned for that\n"
      "origin, keeps that checkpoint in DIR (one file per origin, written atomically before\n"
      "answering) and answers an Ed25519 cosignature (tlog-cosignature/v1). See docs/witness.md.\n"
      "\n"
      "  --listen HOST:PORT  listen address (default 127.0.0.1:8081)\n"
      "  --state DIR         the latest cosigned checkpoint of each origin (made 0700 if absent;\n"
      "                      one witness per directory)\n"
      "  --key FILE          the witness's Ed25519 key (64 hex digits; made with mode 0600 if absent)\n"
      "  --name NAME         the witness's key name, e.g. witness.example.org/w1\n"
      "  --log [P=]VKEY      follow the log whose note verifier key is VKEY (`auditdb log vkey`\n"
      "                      on the log's host) for the origins starting with P when P\n"
      "                      ends in '/', else for origin P; without P, for \"<key name>/...\",\n"
      "                      every organization of that auditdb log; repeatable\n"
      "  --print-vkey        print the witness's verifier key (type 0x04) and exit\n"
      "\n"
      "Exit: 0 stopped by SIGINT/SIGTERM, 1 could not start, 2 usage error.\n",
      cmd_witness },
    { "log", "the verifiable log: its verifier key, the latest signed checkpoints",
      "usage: auditdb log vkey [--create]\n"
      "       auditdb log checkpoint [--org ID]\n"
      "\n"
      "  vkey        print the log key's verifier key (name+keyid+base64), what witnesses and\n"
      "              verifiers are configured with. The key is AUDITDB_LOG_KEY, else\n"
      "              AUDITDB_HOME/log.key, which serve creates on its first start (--create\n"
      "              makes it now). Exit 1 when there is no key or it is unreadable.\n"
      "  checkpoint  print the latest signed checkpoint of an organization (default: default)\n"
      "              from AUDITDB_CHECKPOINT_DIR, the log's own copy outside the database\n"
      "\n"
      "docs/checkpoints.md. Needs no database.\n",
      cmd_log },
    /* usage NULL: `auditdb gdpr --help` is the dispatcher's (cmd_gdpr.c, its subcommands) */
    { "gdpr", "data-subject rights: requests (GDPR and HIPAA), export, pseudonymize, erase", NULL,
      cmd_gdpr },
    { "hipaa", "a patient's accounting of disclosures (45 CFR 164.528)",
      "usage: auditdb hipaa accounting --patient ID [--org ID] [--from T] [--to T]\n"
      "\n"
      "Prints the accounting of disclosures of patient ID in organization ID (default \"default\")\n"
      "as JSON, as GET /api/v1/compliance/hipaa/accounting answers it (docs/hipaa.md): the\n"
      "disclosure events of the period (default: the six years before now) without the\n"
      "exclusions of (a)(1) and the recipients under a suspension in force, repeated\n"
      "disclosures to one recipient for one purpose in the summary form. The reading is\n"
      "recorded as an audit event (hipaa.accounting.read, by cli:<user>) before it is printed.\n"
      "\n"
      "  --from T, --to T  the period (RFC 3339); --from at most six years back\n"
      "\n"
      "Exit: 0 printed, 1 failed, 2 usage error, 3 database unavailable.\n",
      cmd_hipaa },
    /* usage NULL: `auditdb deliveries --help` is the dispatcher's (cmd_deliveries.c, deliveries.h) */
    { "deliveries", "delivery destinations, the queue and its health (docs/delivery.md)", NULL,
      cmd_deliveries },
    /* usage NULL: `auditdb reports --help` is the dispatcher's (cmd_reports.c) */
    { "reports", "compliance reports: generate, show, verify, render (docs/reports.md)", NULL,
      cmd_reports },
    /* usage NULL: the dispatchers' (cmd_errors.c, cmd_config_changes.c; docs/monitoring.md) */
    { "errors", "the service's own failures: list, aggregations by fingerprint, resolve", NULL,
      cmd_errors },
    { "config", "the configuration history: changes (secrets masked)", NULL, cmd_config },
    /* usage NULL: `auditdb alerts --help` is the dispatcher's (cmd_alerts.c) */
    { "alerts", "alerts: list, acknowledge, resolve, dismiss, silence, cleanup (docs/alerts.md)", NULL,
      cmd_alerts },
    { "routes", "list the HTTP routes with the permission each needs",
      "usage: auditdb routes\n\nOne line per route: METHOD PATH PERMISSION (resource:action, or none).\n",
      cmd_routes },
    { "version", "print the version", "usage: auditdb version\n", cmd_version },
    { "help", "show help for a command", "usage: auditdb help [COMMAND]\n", cmd_help },
    { NULL, NULL, NULL, NULL },
};

static void usage(FILE *out)
{
    fprintf(out, "auditdb %s - tamper-evident audit database\n\n"
                 "usage: auditdb COMMAND [ARGS...]\n\ncommands:\n",
            adb_version());
    for (const cli_command *c = cli_commands; c->name; c++)
        fprintf(out, "  %-10s %s\n", c->name, c->summary);
    fprintf(out, "\nRun \"auditdb COMMAND --help\" for a command's options.\n"
                 "Settings come from the environment:\n");
    for (const adb_config_key *k = adb_config_keys(); k->name; k++)
        fprintf(out, "  %-26s %s%s%s%s\n", k->name, k->help, k->default_value ? " (default " : "",
                k->default_value ? k->default_value : "", k->default_value ? ")" : "");
    fprintf(out, "\nexit codes: 0 success, 1 failure, 2 usage error, 3 database unavailable,\n"
                 "4 integrity or schema refusal\n");
}

static const cli_command *find_command(const char *name)
{
    for (const cli_command *c = cli_commands; c->name; c++)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

static int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("auditdb %s\n", adb_version());
    return EXIT_OK;
}

static void print_route(void *ud, const char *method, const char *pattern, const char *perm,
                        const char *summary)
{
    (void)ud;
    (void)summary;
    printf("%s %s %s\n", method, pattern, perm);
}

static int cmd_routes(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    adb_http_routes_each(print_route, NULL);
    return EXIT_OK;
}

static int cmd_help(int argc, char **argv)
{
    const cli_command *c;

    if (argc < 2) {
        usage(stdout);
        return EXIT_OK;
    }
    if (!(c = find_command(argv[1]))) {
        cli_error("unknown command \"%s\"; run \"auditdb --help\" for the list", argv[1]);
        return EXIT_USAGE;
    }
    if (!c->usage) {
        char *sub[] = { argv[1], (char *)"--help", NULL };
        return c->run(2, sub);
    }
    fputs(c->usage, stdout);
    return EXIT_OK;
}

int main(int argc, char **argv)
{
    const cli_command *c;

    /* the master key and secrets live in this process (environment, memory):
     * a process of the same user, such as PostgreSQL or a shell it runs, must
     * not read /proc/<pid>/environ or mem, or ptrace it (docs/integrity.md) */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0)
        return cmd_version(argc - 1, argv + 1);
    if (!(c = find_command(argv[1]))) {
        cli_error("unknown command \"%s\"; run \"auditdb --help\" for the list", argv[1]);
        return EXIT_USAGE;
    }
    if (c->usage && cli_wants_help(c, argc - 1, argv + 1))
        return EXIT_OK;
    return c->run(argc - 1, argv + 1);
}
