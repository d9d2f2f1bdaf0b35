/*
 * cmd_serve.c - `auditdb serve`: database up, schema current, HTTP on, wait
 * for SIGINT/SIGTERM, then stop in reverse order.
 */
#include "cli.h"
#include "../http/server.h"
#include "../delivery/delivery.h"
#include "../report/schedule.h"
#include "../report/async.h"
#include "../monitor/dbmon.h"
#include "../monitor/errors.h"
#include "../auth/key_changes.h"
#include "../alert/alert.h"
#include "../core/adb_internal.h"
#include "../core/util.h"
#include "../monitor/metrics_snapshot.h"
#include "../detect/engine.h"
#include "../detect/published.h"
#include "../http/metrics_api.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* How to call this binary again, for the hints printed at start. */
static const char *argv0_path(void)
{
    static char path[4096];
    ssize_t n;

    if (path[0])
        return path;
    n = readlink("/proc/self/exe", path, sizeof(path) - 1);
    if (n <= 0)
        return "auditdb";
    path[n] = '\0';
    return path;
}

/* path as one shell word: quoted when it holds anything but [A-Za-z0-9/._+-]
 * (a home never holds a quote: embedded.c refuses it) */
static const char *shell_word(const char *path, char *buf, size_t len)
{
    if (strspn(path, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._+-") ==
        strlen(path))
        return path;
    snprintf(buf, len, "'%s'", path);
    return buf;
}

/* On the first start (no key at all): the "default" organization and an admin
 * key, shown once and saved with mode 0600 where only its owner can read it. */
static int bootstrap_key(adb *h, const char *home)
{
    char err[ADB_ERRMSG_MAX], key[ADB_KEY_TEXT_MAX], path[4096];
    long long n = 0;
    adb_key_info info;
    adb_status st;
    int fd;

    if ((st = adb_key_count(h, &n, err, sizeof(err))) != ADB_OK) {
        cli_error("%s", err);
        return cli_exit_code(st);
    }
    if (n > 0)
        return EXIT_OK;
    if ((st = adb_org_ensure(h, "default", "Default organization", err, sizeof(err))) != ADB_OK ||
        (st = adb__key_create_by(h, "default", "admin", "bootstrap admin key", "system", key,
                                 &info, err, sizeof(err))) != ADB_OK) {
        cli_error("%s", err);
        return cli_exit_code(st);
    }
    snprintf(path, sizeof(path), "%s/admin.key", home);
    if (mkdir(home, 0755) == -1 && errno != EEXIST)
        path[0] = '\0';
    fd = path[0] ? open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) : -1;
    if (fd >= 0) {
        if (fchmod(fd, 0600) == -1 || write(fd, key, strlen(key)) != (ssize_t)strlen(key) ||
            write(fd, "\n", 1) != 1)
            path[0] = '\0';
        close(fd);
    } else {
        path[0] = '\0';
    }
    printf("created organization \"default\" and its admin key (shown once%s%s%s):\n  %s\n",
           path[0] ? "; saved to " : "", path, path[0] ? ", mode 0600" : "", key);
    fflush(stdout);
    OPENSSL_cleanse(key, sizeof(key));
    return EXIT_OK;
}

static void on_applied(void *ud, const adb_migration *m, double ms)
{
    (void)ud;
    fprintf(stderr, "auditdb: applied migration %s (%.1f ms)\n", m->name, ms);
}

static int prepare_schema(cli_db *db, const adb_migration_set *set, bool migrate, int *pending_out)
{
    char err[ADB_ERRMSG_MAX];
    int applied = 0, pending = 0;
    PGconn *c = cli_db_connect(db);
    adb_status st;

    if (!c)
        return EXIT_DB;
    if (migrate)
        st = adb_migrate_up(c, set, on_applied, NULL, &applied, err, sizeof(err));
    else
        st = adb_migrate_check(c, set, &pending, err, sizeof(err));
    PQfinish(c);
    if (st != ADB_OK) {
        cli_error("%s", err);
        return cli_exit_code(st);
    }
    *pending_out = pending;
    if (pending)
        fprintf(stderr, "auditdb: warning: %d migration(s) pending (--no-migrate); /ready "
                        "answers 503 until \"auditdb migrate\" runs\n", pending);
    return EXIT_OK;
}

int cmd_serve(int argc, char **argv)
{
    const char *listen = NULL;
    int threads = 8, rc, sig = 0;
    bool migrate = true;
    cli_db db;
    adb_migration_set set = { 0 };
    adb *h = NULL;
    adb_server *server = NULL;
    adb__delivery_pool *delivery = NULL;
    adb__scheduler *scheduler = NULL;
    adb__dbmon *dbmon = NULL;
    adb__metrics_snapshots *metrics_snaps = NULL; /* the metrics snapshots (docs/monitoring.md) */
    mx_thresholds *thresholds = NULL;             /* metrics alertThresholds (docs/monitoring.md) */
    adb__detect *detect = NULL;
    adb__alerter *alerter = NULL;
    char err[ADB_ERRMSG_MAX], qhome[4200], *api_ci = NULL, *writer_ci = NULL;
    sigset_t sigs;

    for (int i = 1; i < argc; i++) {
        long long n;
        if (strcmp(argv[i], "--no-migrate") == 0)
            migrate = false;
        else if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc)
            listen = argv[++i];
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            if (!adb__parse_int(argv[++i], 1, 256, &n)) {
                cli_error("invalid --threads \"%s\" (expected 1 to 256)", argv[i]);
                return EXIT_USAGE;
            }
            threads = (int)n;
        } else {
            cli_error("unknown argument \"%s\"; run \"auditdb serve --help\"", argv[i]);
            return EXIT_USAGE;
        }
    }

    /* signals are taken by sigwait() below; block them before any thread starts */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    if ((rc = cli_migrations(&set)) != EXIT_OK)
        return rc;
    if ((rc = cli_db_open(&db, ADB_EMBEDDED_OWNER)) != EXIT_OK)
        goto out;
    int pending = 0;
    if ((rc = prepare_schema(&db, &set, migrate, &pending)) != EXIT_OK)
        goto out;

    /* requests and the writer log in as roles row-level security binds
     * (docs/auth.md, "Database roles"); migrations and maintenance as the owner */
    if (!(api_ci = db.cfg.api_url ? strdup(db.cfg.api_url)
                                  : adb_login_conninfo(db.conninfo, ADB_LOGIN_API, err, sizeof(err))) ||
        !(writer_ci = db.cfg.writer_url ? strdup(db.cfg.writer_url)
                                        : adb_login_conninfo(db.conninfo, ADB_LOGIN_WRITER, err, sizeof(err)))) {
        cli_error("%s", db.cfg.api_url || db.cfg.writer_url ? "out of memory" : err);
        rc = EXIT_FAILURE_;
        goto out;
    }
    adb_options ao;
    adb_options_default(&ao);
    ao.conninfo = db.conninfo;
    ao.api_conninfo = api_ci;
    ao.writer_conninfo = writer_ci;
    ao.home = db.cfg.home;
    ao.master_key = db.cfg.master_key;
    ao.pool_min = db.cfg.pool_min;
    ao.pool_max = db.cfg.pool_max;
    ao.watch_auth = true;
    ao.key_usage_flush_s = db.cfg.key_usage_flush_s;
    /* the verifiable log: its key (made on the first start) and checkpoints */
    ao.log_name = db.cfg.log_name;
    ao.log_key = db.cfg.log_key;
    ao.checkpoint_dir = db.cfg.checkpoint_dir;
    ao.checkpoint_interval_ms = db.cfg.checkpoint_interval_ms;
    ao.log_alert_after = db.cfg.log_alert_after;
    ao.witnesses = db.cfg.witnesses;
    ao.log = stderr;
    char vkey[512];
    ao.no_tree = !db.cfg.tree;
    adb_status st = adb_open(&ao, &h, err, sizeof(err));
    if (st != ADB_OK) {
        if (pending)
            cli_error("%s (%d migration(s) pending: run \"auditdb migrate\" first)", err, pending);
        else
            cli_error("%s", err);
        rc = cli_exit_code(st);
        goto out;
    }
    /* the service's own failures: error_log, error_aggregation (docs/monitoring.md, "Errors") */
    if ((st = adb__errmon_start(h, db.conninfo, err, sizeof(err))) != ADB_OK) {
        cli_error("%s", err);
        rc = cli_exit_code(st);
        goto out;
    }
    /* before the admin key is made and shown, and again once it exists */
    if ((rc = cli_key_probe(&db)) != EXIT_OK || (rc = bootstrap_key(h, db.cfg.home)) != EXIT_OK ||
        (rc = cli_key_probe(&db)) != EXIT_OK)
        goto out;
    /* the current month and the next six, now and daily (one instance at a time) */
    if ((st = adb_maintenance_start(h, 86400, 6, err, sizeof(err))) != ADB_OK) {
        cli_error("%s", err);
        rc = cli_exit_code(st);
        goto out;
    }
    adb_server_options so = {
        .listen = listen ? listen : db.cfg.listen,
        .threads = threads,
        .connection_timeout_s = db.cfg.http_timeout_s,
        .head_timeout_s = db.cfg.http_head_timeout_s,
        .body_budget = (size_t)db.cfg.http_body_budget,
        .max_body = (size_t)db.cfg.max_body_bytes,
        .rate_limit_rps = db.cfg.rate_limit_rps,
        .rate_limit_burst = db.cfg.rate_limit_burst,
        .redis_url = db.cfg.redis_url,
        .max_connections = 1000,
        .pool = adb_get_pool(h),
        .db = h,
        .embedded = db.emb != NULL,
        .home = db.cfg.home,
        .migrations = &set,
        .access_log = stderr,
        .total_ttl_s = db.cfg.total_ttl_s,
        .stats_max_events = db.cfg.stats_max_events,
    };
    if (!(server = adb_server_start(&so, err, sizeof(err)))) {
        cli_error("%s", err);
        rc = EXIT_FAILURE_;
        goto out;
    }
    /* the delivery threads (docs/delivery.md, "Queue"): the owner's connections */
    if (db.cfg.delivery_threads > 0 &&
        !(delivery = adb__delivery_start(h, db.conninfo, db.cfg.delivery_threads, db.cfg.delivery_lease_ms,
                                         db.cfg.delivery_poll_ms, err, sizeof(err)))) {
        cli_error("%s", err);
        rc = EXIT_FAILURE_;
        goto out;
    }
    /* the report scheduler (docs/reports.md, "Exactly once"): the owner's connection */
    if (db.cfg.report_scheduler &&
        !(scheduler = adb__scheduler_start(h, db.conninfo, db.cfg.report_tick_ms, db.cfg.report_lease_ms,
                                           db.cfg.report_timeout_ms, err, sizeof(err)))) {
        cli_error("%s", err);
        rc = EXIT_FAILURE_;
        goto out;
    }
    /* database monitoring (docs/monitoring.md): its routes' threshold, and its round */
    adb__dbmon_opts dbo;
    adb__dbmon_opts_default(&dbo);
    dbo.slow_ms = db.cfg.slow_query_ms;
    dbo.interval_s = db.cfg.dbmon_interval_s;
    adb__dbmon_set_opts(&dbo);
    if (db.cfg.monitoring && !(dbmon = adb__dbmon_start(h, &dbo, err, sizeof(err)))) {
        cli_error("%s", err);
        rc = EXIT_FAILURE_;
        goto out;
    }
    /* the alert thread (docs/alerts.md, "Notification"): the owner's connection */
    if (db.cfg.alert_tick_ms > 0 &&
        !(alerter = adb__alerter_start(h, db.conninfo, db.cfg.alert_tick_ms, err, sizeof(err)))) {
        cli_error("%s", err);
        rc = EXIT_FAILURE_;
        goto out;
    }
    /* the metrics snapshots (docs/monitoring.md, "Metrics"): the owner's pool */
    metrics_snaps = adb__metrics_snapshots_start(h, db.cfg.metrics_snapshot_s, db.cfg.metrics_retention_days);
    /* the organizations' metrics alertThresholds (docs/monitoring.md, "Thresholds") */
    thresholds = mx_thresholds_start(h, db.cfg.metrics_threshold_s, db.cfg.metrics_threshold_window_s);
    /* the detection engine (docs/alerts.md, "The engine"): the owner's connections */
    adb__detect_options dopt = {
        .pool = adb_get_pool(h), .log = stderr,
        .interval_ms = db.cfg.detect_interval_ms, .lateness_s = db.cfg.detect_lateness_s,
        .max_groups = db.cfg.detect_max_groups,
        .writer = adb__db_writer(h),
    };
    if (db.cfg.detect && !(detect = adb__detect_start(&dopt, err, sizeof(err)))) {
        cli_error("%s", err);
        rc = EXIT_FAILURE_;
        goto out;
    }
    adb__detect_publish(detect); /* its figures on /metrics */
    printf("auditdb %s listening on http://%s\n", adb_version(), adb_server_address(server));
    if (db.emb && strncmp(adb_embedded_datadir(db.emb), db.cfg.home, strlen(db.cfg.home)) != 0)
        printf("database: embedded PostgreSQL in %s, its files in %s (out of reach of the "
               "PostgreSQL user in the home; stopped when auditdb exits)\n", db.cfg.home,
               adb_embedded_datadir(db.emb));
    else if (db.emb)
        printf("database: embedded PostgreSQL in %s (stopped when auditdb exits)\n", db.cfg.home);
    else
        printf("database: AUDIT_DB_URL\n");
    printf("health:   curl http://%s/health\n", adb_server_address(server));
    if (cli_log_vkey(db.cfg.log_key, db.cfg.home, db.cfg.log_name, vkey, sizeof(vkey)) == EXIT_OK)
        printf("log key:  %s (the verifier key of signed checkpoints)\n", vkey);
    printf("first event (the admin key is saved in %s/admin.key on first start):\n"
           "  curl -s -H \"X-API-Key: $(cat %s/admin.key)\" -H 'Content-Type: application/json' \\\n"
           "    -d '{\"eventData\":{\"action\":\"auth.login.success\",\"status\":\"success\","
           "\"principalId\":\"doc-1\"}}' http://%s/api/v1/audit/events\n"
           "verify the chain (it reads this home's database; from any folder):\n"
           "  %s%s%s%s verify\n", db.cfg.home, db.cfg.home, adb_server_address(server),
           db.emb ? "AUDITDB_HOME=" : "", db.emb ? shell_word(db.cfg.home, qhome, sizeof(qhome)) : "",
           db.emb ? " " : "", argv0_path());
    fflush(stdout);

    sig = cli_supervise(&sigs, db.emb && !adb_embedded_is_guest(db.emb) ? db.emb : NULL);
    fprintf(stderr, "auditdb: received %s, shutting down\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    rc = EXIT_OK;
out:
    /* stop taking requests, finish those in flight, then drain and commit the writer */
    adb_server_stop(server);
    adb__scheduler_stop(scheduler); /* a running execution is left to be resumed */
    adb__report_async_stop();       /* background reports end 'failed' (interrupted) at their next step */
    adb__detect_publish(NULL);      /* off /metrics before it stops */
    adb__detect_stop(detect);       /* its round in progress commits or rolls back */
    adb__alerter_stop(alerter);     /* its round ends first */
    adb__delivery_stop(delivery);   /* each thread ends its attempt first */
    adb__dbmon_stop(dbmon);         /* a round in progress is finished first */
    adb__metrics_snapshots_stop(metrics_snaps);
    mx_thresholds_stop(thresholds);
    adb_close(h);
    cli_db_close(&db);
    adb_migrations_free(&set);
    free(api_ci);
    free(writer_ci);
    return rc;
}
