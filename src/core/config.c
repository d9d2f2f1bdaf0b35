/*
 * config.c - the settings table and its loader.
 *
 * Each setting is one row below; help text, `auditdb help config` and
 * docs/configuration.md come from this table.
 */
#define _POSIX_C_SOURCE 200809L
#include "auditdb.h"
#include "util.h"
#include "../log/note.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static const adb_config_key config_keys[] = {
    { "AUDIT_DB_URL", NULL, true,
      "PostgreSQL connection URI or conninfo; unset: run the embedded cluster" },
    { "AUDIT_DB_API_URL", NULL, true,
      "serve's login for HTTP requests' reads; unset: the database's URL as user auditdb_api" },
    { "AUDIT_DB_WRITER_URL", NULL, true,
      "serve's login for the event writer; unset: the database's URL as user auditdb_writer" },
    { "REDIS_URL", NULL, true, "Redis URI for shared cache, rate limits and locks; unset: single node" },
    { "AUDIT_DB_POOL_MIN", "2", false, "connections opened at start and kept open" },
    { "AUDIT_DB_POOL_MAX", "10", false, "most connections the pool opens" },
    { "AUDITDB_POOL_TIMEOUT_MS", "5000", false, "longest wait for a free connection" },
    { "AUDITDB_HOME", "./.auditdb", false, "folder for the embedded cluster, keys and state" },
    { "AUDITDB_LISTEN", "127.0.0.1:8080", false, "HTTP listen address host:port" },
    { "AUDITDB_PG_BINDIR", NULL, false,
      "folder holding initdb, pg_ctl and postgres; unset: /usr/lib/postgresql/<newest>/bin, then PATH" },
    { "AUDITDB_PG_USER", NULL, false,
      "user the embedded cluster runs as when auditdb runs as root (default postgres, else nobody)" },
    { "AUDITDB_MASTER_KEY", NULL, true, "server key material; unset: key file under AUDITDB_HOME" },
    { "AUDITDB_LOG_NAME", "auditdb.local", false,
      "the verifiable log's name: its key name and the origin prefix of checkpoints (no spaces, no +)" },
    { "AUDITDB_LOG_KEY", NULL, true,
      "the log's Ed25519 signing key, 64 hex digits (its seed); unset: log.key under AUDITDB_HOME" },
    { "AUDITDB_CHECKPOINT_DIR", NULL, false,
      "folder of the latest signed checkpoint of each organization, outside the database; unset: "
      "AUDITDB_HOME/checkpoints" },
    { "AUDITDB_CHECKPOINT_INTERVAL_MS", "250", false,
      "milliseconds between checkpoints of an organization whose tree grew" },
    { "AUDITDB_LOG_ALERT_AFTER", "5", false,
      "failures in a row of an organization's tree, or of the checkpointer, before an alert row" },
    { "AUDITDB_WITNESSES", NULL, false,
      "witnesses to push checkpoints to: comma-separated URL=vkey (tlog-witness submission prefix, "
      "the witness's cosignature verifier key)" },
    /* the delivery transports (docs/delivery.md; read where they are used) */
    { "AUDITDB_DOWNLOAD_DIR", NULL, false,
      "folder of the files download links serve, outside the database; unset: AUDITDB_HOME/downloads" },
    { "AUDITDB_PUBLIC_URL", NULL, false,
      "where clients reach this service (https://host): the base of download links whose destination "
      "names no baseUrl; unset: links are relative" },
    { "AUDITDB_DELIVERY_CA_FILE", NULL, false,
      "PEM bundle of CAs trusted besides the system's for SMTP and S3 TLS (peers are always verified)" },
    { "AUDITDB_RATE_LIMIT_RPS", "100", false, "requests a second each API key may make (0: no limit)" },
    { "AUDITDB_RATE_LIMIT_BURST", "200", false, "requests an API key may make at once before the rate applies" },
    { "AUDITDB_MAX_BODY_BYTES", "10485760", false, "largest request body (413 beyond)" },
    { "AUDITDB_HTTP_TIMEOUT_S", "30", false, "seconds an idle or slow connection may hold a worker" },
    { "AUDITDB_HTTP_HEAD_TIMEOUT_S", "10", false,
      "seconds a connection has to send a whole request head, from its opening or its last answer" },
    { "AUDITDB_HTTP_BODY_BUDGET_BYTES", "268435456", false,
      "request bodies buffered at once, in all (503 SERVER_BUSY beyond; at least AUDITDB_MAX_BODY_BYTES)" },
    { "AUDITDB_TOTAL_ESTIMATE_TTL_S", "30", false,
      "seconds a filtered list's estimated total is reused before it is refreshed" },
    { "AUDITDB_STATS_MAX_EVENTS", "1000000", false,
      "most events one statistics request counts (a range holding more is a 400); at most 1000000" },
    /* the metrics service's snapshots (docs/monitoring.md, "Metrics") */
    { "AUDITDB_METRICS_SNAPSHOT_S", "300", false,
      "seconds between the metrics snapshots serve writes (0: none; the historical series read them)" },
    { "AUDITDB_METRICS_RETENTION_DAYS", "90", false, "days metrics snapshots are kept" },
    { "AUDITDB_METRICS_TIMEOUT_MS", "15000", false,
      "longest an organization's metrics request may compute (a 400 RANGE_TOO_COSTLY beyond)" },
    { "AUDITDB_METRICS_THRESHOLD_S", "60", false,
      "seconds between evaluations of the organizations' metrics alertThresholds (0: none)" },
    { "AUDITDB_METRICS_THRESHOLD_WINDOW_S", "300", false,
      "seconds of figures a metrics threshold is evaluated over (the last that many seconds)" },
    { "AUDITDB_KEY_USAGE_FLUSH_S", "60", false,
      "seconds between writes of API keys' last-use times (one statement for all keys)" },
    { "AUDITDB_DELIVERY_THREADS", "8", false,
      "delivery threads of each serve, each on its own database connection (0: this instance delivers nothing)" },
    { "AUDITDB_DELIVERY_LEASE_MS", "60000", false,
      "how long a claimed delivery item stays its claimer's; then another thread may take it (at least twice a webhook's timeout)" },
    { "AUDITDB_DELIVERY_POLL_MS", "1000", false,
      "how often an idle delivery thread looks for retries that fell due (new items wake it at once)" },
    { "AUDITDB_REPORT_SCHEDULER", "true", false,
      "run the report scheduler thread in this serve (docs/reports.md, \"Exactly once\")" },
    { "AUDITDB_REPORT_TICK_MS", "1000", false,
      "how often the report scheduler looks for due schedules (a new schedule or an execute wakes it at once)" },
    { "AUDITDB_REPORT_LEASE_MS", "60000", false,
      "how long a running report execution stays its scheduler's without renewal; then another may resume it" },
    { "AUDITDB_REPORT_TIMEOUT_MS", "3600000", false,
      "how long a report execution may run, from its first start: past it the execution ends 'timeout'" },
    { "AUDITDB_DELIVERY_CLAIM_BATCH", "4", false,
      "delivery items a thread claims per round trip (1 to 16; docs/delivery.md \"Throughput\")" },
    { "AUDITDB_DOWNLOAD_SWEEP_MS", "60000", false,
      "how often serve removes the files of expired, revoked or used-up download links (0: never)" },
    { "AUDITDB_DELIVERY_ALLOW", NULL, false,
      "CIDRs (comma-separated) delivery connections may reach although the address policy refuses them" },
    { "AUDITDB_ALERT_TICK_MS", "1000", false,
      "how often serve's alert thread logs the alerts' audit events and sends due notifications (0: no alert thread; docs/alerts.md)" },
    { "AUDITDB_KEY_CHANGE_EVENTS", "true", false,
      "announce each API key change (create, revoke, rotate, role) as an audit event of the key's organization (docs/monitoring.md)" },
    { "AUDITDB_TREE", "true", false,
      "keep every organization's Merkle tree up to date (docs/log.md); false only to measure its cost" },
    /* detection rules (issue 20; docs/alerts.md "The engine") */
    { "AUDITDB_DETECT", "true", false,
      "run the detection engine in this serve (false only to measure its cost)" },
    { "AUDITDB_DETECT_INTERVAL_MS", "250", false,
      "how often the detection engine looks for newly committed rows" },
    { "AUDITDB_DETECT_LATENESS_S", "300", false,
      "event time a detection window stays open after its end for late events" },
    { "AUDITDB_DETECT_MAX_GROUPS", "200000", false,
      "live detection counters (rule, group, window) at most, process-wide" },
    { "AUDITDB_ENVIRONMENT", "production", false, "environment name reported by /health" },
    { "AUDIT_MONITORING_ENABLED", "true", false, "collect metrics and slow-query reports" },
    { "AUDIT_SLOW_QUERY_THRESHOLD", "1000", false, "milliseconds after which a query is reported as slow" },
    /* database monitoring (docs/monitoring.md, "Database monitoring") */
    { "AUDITDB_DBMON_INTERVAL_S", "300", false,
      "seconds between serve's database monitoring rounds (findings raised as alerts of _process)" },
    { "AUDIT_GDPR_ENABLED", "true", false, "serve the GDPR endpoints" },
    { "AUDIT_HIPAA_ENABLED", "true", false, "serve the HIPAA accounting endpoints" },
    { NULL, NULL, false, NULL },
};

const adb_config_key *adb_config_keys(void)
{
    return config_keys;
}

/* The value of a setting: the environment if set and not empty, else the
 * table's default (may be NULL). */
static const char *setting(const char *name)
{
    const char *v = getenv(name);

    if (v && *v)
        return v;
    for (const adb_config_key *k = config_keys; k->name; k++)
        if (strcmp(k->name, name) == 0)
            return k->default_value;
    return NULL;
}

static adb_status get_int(adb_config *cfg, const char *name, long long min, long long max, int *out)
{
    const char *v = setting(name);
    long long n;

    if (!adb__parse_int(v, min, max, &n)) {
        adb__fmt(cfg->errmsg, sizeof(cfg->errmsg),
                 "invalid value for %s: \"%s\" (expected an integer from %lld to %lld)",
                 name, v ? v : "", min, max);
        return ADB_ERR_CONFIG;
    }
    *out = (int)n;
    return ADB_OK;
}

static adb_status get_bool(adb_config *cfg, const char *name, bool *out)
{
    const char *v = setting(name);

    if (!strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "yes") || !strcasecmp(v, "on"))
        *out = true;
    else if (!strcasecmp(v, "false") || !strcmp(v, "0") || !strcasecmp(v, "no") || !strcasecmp(v, "off"))
        *out = false;
    else {
        adb__fmt(cfg->errmsg, sizeof(cfg->errmsg),
                 "invalid value for %s: \"%s\" (expected true or false)", name, v);
        return ADB_ERR_CONFIG;
    }
    return ADB_OK;
}

/* A comma-separated list of CIDRs (a.b.c.d/n, v6/n, or a bare address); the
 * delivery code reads it where it connects (src/delivery/ssrf.c), a typo is
 * refused at start instead of admitting nothing. */
static adb_status check_cidrs(adb_config *cfg, const char *name)
{
    const char *v = setting(name);
    if (!v)
        return ADB_OK;
    char *copy = strdup(v), *save = NULL;
    if (!copy)
        return ADB_ERR_NOMEM;
    adb_status st = ADB_OK;
    for (char *t = strtok_r(copy, ",", &save); t && st == ADB_OK; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ')
            t++;
        char *e = t + strlen(t);
        while (e > t && e[-1] == ' ')
            *--e = '\0';
        char *slash = strchr(t, '/');
        long long bits = -1;
        if (slash) {
            *slash = '\0';
            if (!adb__parse_int(slash + 1, 0, 128, &bits))
                bits = 999;
        }
        unsigned char a[16];
        bool v4 = inet_pton(AF_INET, t, a) == 1, v6 = !v4 && inet_pton(AF_INET6, t, a) == 1;
        if ((!v4 && !v6) || (v4 && bits > 32) || bits > 128) {
            adb__fmt(cfg->errmsg, sizeof(cfg->errmsg),
                     "invalid value for %s: \"%s\" (expected comma-separated CIDRs such as 10.20.0.0/16)",
                     name, v);
            st = ADB_ERR_CONFIG;
        }
    }
    free(copy);
    return st;
}

static adb_status get_str(adb_config *cfg, const char *name, char **out)
{
    const char *v = setting(name);

    *out = NULL;
    if (!v)
        return ADB_OK;
    *out = strdup(v);
    if (!*out) {
        adb__fmt(cfg->errmsg, sizeof(cfg->errmsg), "out of memory reading %s", name);
        return ADB_ERR_NOMEM;
    }
    return ADB_OK;
}

/* Makes cfg->home absolute so that children and later chdir()s agree. */
static adb_status absolute_home(adb_config *cfg)
{
    char cwd[PATH_MAX];
    char *abs;

    if (cfg->home[0] == '/')
        return ADB_OK;
    if (!getcwd(cwd, sizeof(cwd))) {
        adb__fmt(cfg->errmsg, sizeof(cfg->errmsg), "could not get the current directory: %s",
                 strerror(errno));
        return ADB_ERR_IO;
    }
    abs = adb__aprintf("%s/%s", cwd, strncmp(cfg->home, "./", 2) == 0 ? cfg->home + 2 : cfg->home);
    if (!abs)
        return ADB_ERR_NOMEM;
    free(cfg->home);
    cfg->home = abs;
    return ADB_OK;
}

adb_status adb_config_load(adb_config *cfg)
{
    adb_status st;

    memset(cfg, 0, sizeof(*cfg));
    int scratch;   /* settings read where they are used, checked here */
    bool bscratch;
    if ((st = get_str(cfg, "AUDIT_DB_URL", &cfg->db_url)) ||
        (st = get_str(cfg, "AUDIT_DB_API_URL", &cfg->api_url)) ||
        (st = get_str(cfg, "AUDIT_DB_WRITER_URL", &cfg->writer_url)) ||
        (st = get_str(cfg, "REDIS_URL", &cfg->redis_url)) ||
        (st = get_int(cfg, "AUDIT_DB_POOL_MIN", 0, 1000, &cfg->pool_min)) ||
        (st = get_int(cfg, "AUDIT_DB_POOL_MAX", 1, 1000, &cfg->pool_max)) ||
        (st = get_int(cfg, "AUDITDB_POOL_TIMEOUT_MS", 1, 600000, &cfg->pool_timeout_ms)) ||
        (st = get_str(cfg, "AUDITDB_HOME", &cfg->home)) ||
        (st = get_str(cfg, "AUDITDB_LISTEN", &cfg->listen)) ||
        (st = get_str(cfg, "AUDITDB_PG_BINDIR", &cfg->pg_bindir)) ||
        (st = get_str(cfg, "AUDITDB_PG_USER", &cfg->pg_user)) ||
        (st = get_str(cfg, "AUDITDB_MASTER_KEY", &cfg->master_key)) ||
        (st = get_str(cfg, "AUDITDB_LOG_NAME", &cfg->log_name)) ||
        (st = get_str(cfg, "AUDITDB_LOG_KEY", &cfg->log_key)) ||
        (st = get_str(cfg, "AUDITDB_CHECKPOINT_DIR", &cfg->checkpoint_dir)) ||
        (st = get_int(cfg, "AUDITDB_CHECKPOINT_INTERVAL_MS", 10, 3600000,
                      &cfg->checkpoint_interval_ms)) ||
        (st = get_int(cfg, "AUDITDB_LOG_ALERT_AFTER", 1, 100000, &cfg->log_alert_after)) ||
        (st = get_str(cfg, "AUDITDB_WITNESSES", &cfg->witnesses)) ||
        (st = get_int(cfg, "AUDITDB_RATE_LIMIT_RPS", 0, 1000000, &cfg->rate_limit_rps)) ||
        (st = get_int(cfg, "AUDITDB_RATE_LIMIT_BURST", 1, 1000000, &cfg->rate_limit_burst)) ||
        (st = get_int(cfg, "AUDITDB_MAX_BODY_BYTES", 1024, 1 << 30, &cfg->max_body_bytes)) ||
        (st = get_int(cfg, "AUDITDB_HTTP_TIMEOUT_S", 1, 3600, &cfg->http_timeout_s)) ||
        (st = get_int(cfg, "AUDITDB_HTTP_HEAD_TIMEOUT_S", 1, 3600, &cfg->http_head_timeout_s)) ||
        (st = get_int(cfg, "AUDITDB_HTTP_BODY_BUDGET_BYTES", 1024, INT_MAX, &cfg->http_body_budget)) ||
        (st = get_int(cfg, "AUDITDB_TOTAL_ESTIMATE_TTL_S", 1, 86400, &cfg->total_ttl_s)) ||
        (st = get_int(cfg, "AUDITDB_KEY_USAGE_FLUSH_S", 1, 86400, &cfg->key_usage_flush_s)) ||
        (st = get_int(cfg, "AUDITDB_STATS_MAX_EVENTS", 1, 1000000, &cfg->stats_max_events)) ||
        (st = get_int(cfg, "AUDITDB_METRICS_SNAPSHOT_S", 0, 86400, &cfg->metrics_snapshot_s)) ||
        (st = get_int(cfg, "AUDITDB_METRICS_RETENTION_DAYS", 1, 3650, &cfg->metrics_retention_days)) ||
        (st = get_int(cfg, "AUDITDB_METRICS_TIMEOUT_MS", 1, 3600000, &scratch)) || /* read by metrics_api.c */
        (st = get_int(cfg, "AUDITDB_METRICS_THRESHOLD_S", 0, 86400, &cfg->metrics_threshold_s)) ||
        (st = get_int(cfg, "AUDITDB_METRICS_THRESHOLD_WINDOW_S", 1, 86400, &cfg->metrics_threshold_window_s)) ||
        (st = get_int(cfg, "AUDITDB_DELIVERY_THREADS", 0, 64, &cfg->delivery_threads)) ||
        (st = get_int(cfg, "AUDITDB_DELIVERY_LEASE_MS", 2000, 3600000, &cfg->delivery_lease_ms)) ||
        (st = get_int(cfg, "AUDITDB_DELIVERY_POLL_MS", 10, 60000, &cfg->delivery_poll_ms)) ||
        (st = get_bool(cfg, "AUDITDB_REPORT_SCHEDULER", &cfg->report_scheduler)) ||
        (st = get_int(cfg, "AUDITDB_REPORT_TICK_MS", 10, 60000, &cfg->report_tick_ms)) ||
        (st = get_int(cfg, "AUDITDB_REPORT_LEASE_MS", 1000, 3600000, &cfg->report_lease_ms)) ||
        (st = get_int(cfg, "AUDITDB_REPORT_TIMEOUT_MS", 1000, 86400000, &cfg->report_timeout_ms)) ||
        (st = get_int(cfg, "AUDITDB_DELIVERY_CLAIM_BATCH", 1, 16, &scratch)) ||
        (st = get_int(cfg, "AUDITDB_DOWNLOAD_SWEEP_MS", 0, 86400000, &scratch)) ||
        (st = check_cidrs(cfg, "AUDITDB_DELIVERY_ALLOW")) ||
        (st = get_int(cfg, "AUDITDB_ALERT_TICK_MS", 0, 60000, &cfg->alert_tick_ms)) ||
        (st = get_bool(cfg, "AUDITDB_KEY_CHANGE_EVENTS", &bscratch)) ||
        (st = get_bool(cfg, "AUDITDB_TREE", &cfg->tree)) ||
        (st = get_bool(cfg, "AUDITDB_DETECT", &cfg->detect)) ||
        (st = get_int(cfg, "AUDITDB_DETECT_INTERVAL_MS", 10, 60000, &cfg->detect_interval_ms)) ||
        (st = get_int(cfg, "AUDITDB_DETECT_LATENESS_S", 1, 86400, &cfg->detect_lateness_s)) ||
        (st = get_int(cfg, "AUDITDB_DETECT_MAX_GROUPS", 100, 100000000, &cfg->detect_max_groups)) ||
        (st = get_bool(cfg, "AUDIT_MONITORING_ENABLED", &cfg->monitoring)) ||
        (st = get_int(cfg, "AUDIT_SLOW_QUERY_THRESHOLD", 0, 3600000, &cfg->slow_query_ms)) ||
        (st = get_int(cfg, "AUDITDB_DBMON_INTERVAL_S", 1, 86400, &cfg->dbmon_interval_s)) ||
        (st = get_bool(cfg, "AUDIT_GDPR_ENABLED", &cfg->gdpr)) ||
        (st = get_bool(cfg, "AUDIT_HIPAA_ENABLED", &cfg->hipaa)))
        return st;
    if (!adb__note_name_valid(cfg->log_name)) {
        adb__fmt(cfg->errmsg, sizeof(cfg->errmsg),
                 "invalid value for AUDITDB_LOG_NAME: \"%s\" (a key name: no spaces, no '+', "
                 "no control characters, at most %d bytes)", cfg->log_name, ADB_NOTE_MAX_NAME);
        return ADB_ERR_CONFIG;
    }
    if (cfg->pool_min > cfg->pool_max) {
        adb__fmt(cfg->errmsg, sizeof(cfg->errmsg),
                 "AUDIT_DB_POOL_MIN (%d) is greater than AUDIT_DB_POOL_MAX (%d)",
                 cfg->pool_min, cfg->pool_max);
        return ADB_ERR_CONFIG;
    }
    return absolute_home(cfg);
}

void adb_config_free(adb_config *cfg)
{
    if (!cfg)
        return;
    free(cfg->db_url);
    free(cfg->api_url);
    free(cfg->writer_url);
    free(cfg->redis_url);
    free(cfg->home);
    free(cfg->listen);
    free(cfg->pg_bindir);
    free(cfg->pg_user);
    free(cfg->log_name);
    free(cfg->checkpoint_dir);
    free(cfg->witnesses);
    if (cfg->log_key) {
        explicit_bzero(cfg->log_key, strlen(cfg->log_key));
        free(cfg->log_key);
    }
    if (cfg->master_key) {
        explicit_bzero(cfg->master_key, strlen(cfg->master_key));
        free(cfg->master_key);
    }
    memset(cfg, 0, sizeof(*cfg));
}
