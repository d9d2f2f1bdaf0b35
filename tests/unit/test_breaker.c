/*
 * test_breaker.c - destination health and the circuit breaker
 * (src/delivery/breaker.c) against the real database: closed → open on the
 * failure rate with a minimum volume, open → half-open after the cool-down
 * with one probe, half-open → closed or open again, every transition written
 * with its time, the statistics, the disable after sustained failure and on
 * 410 (alert, held items, the organization's audit event), enable, and two
 * connections racing for the half-open probe (issue 18).
 */
#include "tdb.h"
#include "delivery/delivery.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char ci[1024];
static adb *db;
static PGconn *c;

#define T0 1893456000000LL  /* 2030-01-01T00:00:00Z: the tests' delivery clock */

/* A destination of org with the breaker settings cb (a JSON object text). */
static int dest_new(const char *org, const char *label, const char *cb, adb__dest *d)
{
    char sql[1024];
    snprintf(sql, sizeof(sql),
             "INSERT INTO delivery_destinations (organization_id, type, label, config)"
             " VALUES ('%s', 'webhook', '%s', '{\"webhook\": {\"url\": \"http://127.0.0.1:1/\"},"
             " \"circuitBreaker\": %s}') RETURNING id", org, label, cb);
    int id = (int)t_count(c, sql);
    memset(d, 0, sizeof(*d));
    d->id = id;
    snprintf(d->org, sizeof(d->org), "%s", org);
    snprintf(d->type, sizeof(d->type), "webhook");
    char cfg[512];
    snprintf(cfg, sizeof(cfg), "{\"circuitBreaker\": %s}", cb);
    d->config = json_loads(cfg, 0, NULL);
    return id;
}

static adb_status rec(const adb__dest *d, bool ok, int status, double ms, int64_t now)
{
    adb__attempt a;
    memset(&a, 0, sizeof(a));
    a.ok = ok;
    a.http_status = status;
    a.retry_after_s = -1;
    a.gone = status == 410;
    a.elapsed_ms = ms;
    if (!ok)
        snprintf(a.error, sizeof(a.error), "HTTP %d", status);
    return adb__health_record(db, c, d, &a, now);
}

static long long q(const char *fmt, int id)
{
    char sql[1024];
    snprintf(sql, sizeof(sql), fmt, id);
    return t_count(c, sql);
}

static char *qs(const char *fmt, int id)
{
    char sql[1024];
    snprintf(sql, sizeof(sql), fmt, id);
    return t_query1(c, sql);
}

static void rate_threshold_with_minimum_volume(void)
{
    adb__dest d;
    bool admit;
    int64_t at;
    int id = dest_new("brk", "rate", "{\"minimumVolume\": 4, \"failureRateThreshold\": 50,"
                      " \"windowSeconds\": 60, \"cooldownSeconds\": 30}", &d);
    REQUIRE(id > 0);

    /* no row yet: admitted, row created closed */
    CHECK(adb__breaker_admit(db, c, &d, T0, &admit, &at) == ADB_OK && admit);
    CHECK(q("SELECT count(*) FROM destination_health WHERE destination_id = %d"
            " AND circuit_breaker_state = 'closed' AND status = 'healthy'", id) == 1);
    /* one success then three failures: 75 %, opening once the 4 attempts of the volume are in */
    CHECK(rec(&d, true, 200, 10, T0 + 1000) == ADB_OK);
    CHECK(rec(&d, false, 500, 20, T0 + 2000) == ADB_OK);
    CHECK(rec(&d, false, 500, 30, T0 + 3000) == ADB_OK);
    CHECK(q("SELECT count(*) FROM destination_health WHERE destination_id = %d"
            " AND circuit_breaker_state = 'closed' AND status = 'degraded'"
            " AND consecutive_failures = 2", id) == 1);
    CHECK(adb__breaker_admit(db, c, &d, T0 + 3500, &admit, &at) == ADB_OK && admit);
    CHECK(rec(&d, false, 500, 40, T0 + 4000) == ADB_OK);
    CHECK(q("SELECT count(*) FROM destination_health WHERE destination_id = %d"
            " AND circuit_breaker_state = 'open' AND status = 'unhealthy'"
            " AND circuit_breaker_opened_at = '2030-01-01T00:00:04Z'", id) == 1);
    CHECK(q("SELECT count(*) FROM destination_health_transition WHERE destination_id = %d"
            " AND from_state = 'closed' AND to_state = 'open'"
            " AND at = '2030-01-01T00:00:04Z' AND reason LIKE 'failure rate 75%%%%'", id) == 1);
    /* open: refused until the cool-down is over, which retry_at names */
    CHECK(adb__breaker_admit(db, c, &d, T0 + 5000, &admit, &at) == ADB_OK && !admit);
    CHECK_MSG(at == T0 + 4000 + 30000, "retry at %lld", (long long)at);
    /* the statistics */
    CHECK(q("SELECT count(*) FROM destination_health WHERE destination_id = %d"
            " AND total_deliveries = 4 AND total_failures = 3 AND success_rate = '25.00'"
            " AND average_response_time = 25 AND p95_response_time = 40"
            " AND p99_response_time = 40 AND failing_since = '2030-01-01T00:00:02Z'"
            " AND last_success_at = '2030-01-01T00:00:01Z'"
            " AND last_failure_at = '2030-01-01T00:00:04Z'"
            " AND window_total = 4 AND window_failures = 3", id) == 1);
    json_decref(d.config);
}

static void below_volume_or_rate_stays_closed(void)
{
    adb__dest d;
    int id = dest_new("brk", "volume", "{\"minimumVolume\": 5, \"failureRateThreshold\": 60,"
                      " \"windowSeconds\": 10}", &d);
    REQUIRE(id > 0);
    /* four failures: under the minimum volume */
    for (int i = 0; i < 4; i++)
        CHECK(rec(&d, false, 503, 5, T0 + i * 1000) == ADB_OK);
    CHECK(q("SELECT count(*) FROM destination_health WHERE destination_id = %d"
            " AND circuit_breaker_state = 'closed'", id) == 1);
    /* the window turns over: a fresh count */
    for (int i = 0; i < 4; i++)
        CHECK(rec(&d, false, 503, 5, T0 + 20000 + i * 1000) == ADB_OK);
    CHECK(q("SELECT count(*) FROM destination_health WHERE destination_id = %d"
            " AND circuit_breaker_state = 'closed' AND window_total = 4"
            " AND window_started_at = '2030-01-01T00:00:20Z'", id) == 1);
    /* 4 successes and a failure: 5 of 9, 55 % < 60: closed; one more: 6 of 10, 60 %: open */
    for (int i = 0; i < 4; i++)
        CHECK(rec(&d, true, 200, 5, T0 + 25000 + i * 100) == ADB_OK);
    CHECK(rec(&d, false, 503, 5, T0 + 26000) == ADB_OK);
    CHECK(q("SELECT count(*) FROM destination_health WHERE destination_id = %d"
            " AND circuit_breaker_state = 'closed' AND window_failures = 5", id) == 1);
    CHECK(rec(&d, false, 503, 5, T0 + 27000) == ADB_OK);
    CHECK(q("SELECT count(*) FROM destination_health WHERE destination_id = %d"
            " AND circuit_breaker_state = 'open' AND window_total = 10", id) == 1);
    json_decref(d.config);
}

static void half_open_probe_then_closed_or_open(void)
{
    adb__dest d;
    bool admit;
    int64_t at;
    int id = dest_new("brk", "probe", "{\"minimumVolume\": 1, \"cooldownSeconds\": 10,"
                      " \"probeTimeoutSeconds\": 5}", &d);
    REQUIRE(id > 0);
    CHECK(rec(&d, false, 500, 5, T0) == ADB_OK);   /* 1 of 1 ≥ 50 %: open */
    CHECK(adb__breaker_admit(db, c, &d, T0 + 9999, &admit, &at) == ADB_OK && !admit);
    /* the cool-down is over: one probe, the next caller waits for it */
    CHECK(adb__breaker_admit(db, c, &d, T0 + 10000, &admit, &at) == ADB_OK && admit);
    CHECK(adb__breaker_admit(db, c, &d, T0 + 10001, &admit, &at) == ADB_OK && !admit);
    CHECK(at == T0 + 15000);
    CHECK(q("SELECT count(*) FROM destination_health WHERE destination_id = %d"
            " AND circuit_breaker_state = 'half-open'", id) == 1);
    /* the probe fails: open again, from its time */
    CHECK(rec(&d, false, 502, 5, T0 + 11000) == ADB_OK);
    CHECK(q("SELECT count(*) FROM destination_health WHERE destination_id = %d"
            " AND circuit_breaker_state = 'open'"
            " AND circuit_breaker_opened_at = '2030-01-01T00:00:11Z'", id) == 1);
    /* a probe that never reports frees its slot after probeTimeoutSeconds */
    CHECK(adb__breaker_admit(db, c, &d, T0 + 21000, &admit, &at) == ADB_OK && admit);
    CHECK(adb__breaker_admit(db, c, &d, T0 + 25999, &admit, &at) == ADB_OK && !admit);
    CHECK(adb__breaker_admit(db, c, &d, T0 + 26000, &admit, &at) == ADB_OK && admit);
    /* it succeeds: closed */
    CHECK(rec(&d, true, 204, 5, T0 + 26500) == ADB_OK);
    CHECK(q("SELECT count(*) FROM destination_health WHERE destination_id = %d"
            " AND circuit_breaker_state = 'closed' AND circuit_breaker_opened_at IS NULL"
            " AND status = 'healthy' AND failing_since IS NULL"
            " AND NOT metadata ? 'probeUntil'", id) == 1);
    char *seq = qs("SELECT string_agg(from_state || '>' || to_state || '@'"
                   " || to_char(at AT TIME ZONE 'UTC', 'SS.MS'), ' ' ORDER BY at, id)"
                   " FROM destination_health_transition WHERE destination_id = %d", id);
    CHECK_STR(seq, "closed>open@00.000 open>half-open@10.000 half-open>open@11.000"
                   " open>half-open@21.000 half-open>closed@26.500");
    free(seq);
    json_decref(d.config);
}

static void sustained_failure_disables_then_enable(void)
{
    adb__dest d;
    bool admit;
    int64_t at;
    long long released;
    char sql[512];
    int id = dest_new("brk", "sustained", "{\"minimumVolume\": 1000,"
                      " \"disableAfterSeconds\": 3600}", &d);
    REQUIRE(id > 0);
    for (int i = 0; i < 3; i++) {
        snprintf(sql, sizeof(sql),
                 "INSERT INTO delivery_queue (id, organization_id, destination_id, payload,"
                 " scheduled_at) VALUES ('msg_sus%d_%d', 'brk', %d, '{}', now())", id, i, id);
        CHECK(t_exec(c, sql));
    }
    /* failing for 59 minutes, a success, failing again for 59: never disabled */
    CHECK(rec(&d, false, 500, 5, T0) == ADB_OK);
    CHECK(rec(&d, false, 500, 5, T0 + 59 * 60000LL) == ADB_OK);
    CHECK(rec(&d, true, 200, 5, T0 + 59 * 60000LL + 1) == ADB_OK);
    CHECK(rec(&d, false, 500, 5, T0 + 60 * 60000LL) == ADB_OK);
    CHECK(rec(&d, false, 500, 5, T0 + 119 * 60000LL) == ADB_OK);
    CHECK(q("SELECT count(*) FROM delivery_destinations WHERE id = %d AND disabled = 'false'",
            id) == 1);
    /* an hour of continuous failure: disabled */
    CHECK(rec(&d, false, 500, 5, T0 + 120 * 60000LL) == ADB_OK);
    CHECK(q("SELECT count(*) FROM delivery_destinations WHERE id = %d AND disabled = 'true'"
            " AND disabled_by = 'auditdb-delivery'", id) == 1);
    CHECK(q("SELECT count(*) FROM destination_health WHERE destination_id = %d"
            " AND status = 'disabled' AND disabled_at = '2030-01-01T02:00:00Z'"
            " AND disabled_reason LIKE 'continuous failure for 3600 s%%'", id) == 1);
    CHECK(q("SELECT count(*) FROM destination_health_transition WHERE destination_id = %d"
            " AND to_state = 'disabled' AND at = '2030-01-01T02:00:00Z'", id) == 1);
    CHECK(q("SELECT count(*) FROM delivery_queue WHERE destination_id = %d AND status = 'held'",
            id) == 3);
    CHECK(q("SELECT count(*) FROM alerts WHERE organization_id = 'brk'"
            " AND source = 'auditdb-delivery' AND metadata->>'destinationId' = '%d'"
            " AND metadata->>'kind' = 'delivery_destination_disabled'"
            " AND first_triggered_at = '2030-01-01T02:00:00Z'" /* the trigger's time (issue 20) */
            " AND dedup_key = 'delivery-destination/' || (metadata->>'destinationId') || '/disabled'",
            id) == 1);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM audit_log WHERE organization_id = 'brk'"
             " AND action = 'delivery.destination.disabled' AND target_resource_id = '%d'", id);
    CHECK(t_count(c, sql) == 1);
    /* disabled: nothing admitted, items to be held */
    CHECK(adb__breaker_admit(db, c, &d, T0 + 121 * 60000LL, &admit, &at) == ADB_OK && !admit);
    CHECK(at == ADB_BREAKER_HOLD);
    /* failures while disabled do not disable it twice */
    CHECK(rec(&d, false, 500, 5, T0 + 122 * 60000LL) == ADB_OK);
    CHECK(q("SELECT count(*) FROM alerts WHERE metadata->>'destinationId' = '%d'", id) == 1);

    /* enabled again: closed, items pending, a transition, an audit event */
    CHECK(adb__health_enable(db, c, "brk", id, "key-admin", T0 + 130 * 60000LL, &released)
          == ADB_OK);
    CHECK(released == 3);
    CHECK(q("SELECT count(*) FROM delivery_queue WHERE destination_id = %d AND status = 'pending'"
            " AND scheduled_at = '2030-01-01T02:10:00Z'", id) == 3);
    CHECK(q("SELECT count(*) FROM destination_health WHERE destination_id = %d"
            " AND status = 'healthy' AND circuit_breaker_state = 'closed'"
            " AND consecutive_failures = 0 AND failing_since IS NULL AND disabled_at IS NULL",
            id) == 1);
    CHECK(q("SELECT count(*) FROM destination_health_transition WHERE destination_id = %d"
            " AND from_state = 'disabled' AND to_state = 'closed' AND reason = 'enabled by key-admin'",
            id) == 1);
    CHECK(adb__breaker_admit(db, c, &d, T0 + 131 * 60000LL, &admit, &at) == ADB_OK && admit);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM audit_log WHERE organization_id = 'brk'"
             " AND action = 'delivery.destination.enabled' AND target_resource_id = '%d'", id);
    CHECK(t_count(c, sql) == 1);
    json_decref(d.config);
}

static void gone_disables_at_once(void)
{
    adb__dest d;
    int id = dest_new("brk", "gone", "{}", &d);
    REQUIRE(id > 0);
    CHECK(rec(&d, true, 200, 5, T0) == ADB_OK);
    CHECK(rec(&d, false, 410, 5, T0 + 1000) == ADB_OK);
    CHECK(q("SELECT count(*) FROM delivery_destinations WHERE id = %d AND disabled = 'true'",
            id) == 1);
    CHECK(q("SELECT count(*) FROM destination_health WHERE destination_id = %d AND status ="
            " 'disabled' AND disabled_reason = 'the destination answered 410: it is gone'", id) == 1);
    CHECK(q("SELECT count(*) FROM alerts WHERE metadata->>'destinationId' = '%d'", id) == 1);
    json_decref(d.config);
}

static void other_organization_not_found(void)
{
    adb__dest d;
    bool admit;
    int64_t at;
    int id = dest_new("brk", "theirs", "{}", &d);
    REQUIRE(id > 0);
    snprintf(d.org, sizeof(d.org), "other-org");
    CHECK(adb__breaker_admit(db, c, &d, T0, &admit, &at) == ADB_ERR_NOT_FOUND && !admit);
    CHECK(rec(&d, false, 500, 5, T0) == ADB_ERR_NOT_FOUND);
    CHECK(adb__health_enable(db, c, "other-org", id, "x", T0, NULL) == ADB_ERR_NOT_FOUND);
    CHECK(adb__health_disable(db, c, "other-org", id, "x", "x", T0) == ADB_ERR_NOT_FOUND);
    CHECK(q("SELECT count(*) FROM destination_health WHERE destination_id = %d", id) == 0);
    /* a deleted destination (0030's soft delete) is not there either */
    snprintf(d.org, sizeof(d.org), "brk");
    CHECK(q("UPDATE delivery_destinations SET deleted_at = now() WHERE id = %d RETURNING 1", id) == 1);
    CHECK(adb__breaker_admit(db, c, &d, T0, &admit, &at) == ADB_ERR_NOT_FOUND && !admit);
    json_t *hj = NULL;
    CHECK(adb__health_json(c, "brk", id, &hj) == ADB_ERR_NOT_FOUND && !hj);
    json_decref(d.config);
}

/* ---- two connections race for the probe ---- */

typedef struct racer {
    const adb__dest *d;
    PGconn *c;
    pthread_barrier_t *go;
    int64_t now;
    bool admit;
    adb_status st;
} racer;

static void *race(void *arg)
{
    racer *r = arg;
    int64_t at;
    pthread_barrier_wait(r->go);
    r->st = adb__breaker_admit(NULL, r->c, r->d, r->now, &r->admit, &at);
    return NULL;
}

static void one_probe_across_connections(void)
{
    adb__dest d;
    enum { RACERS = 4, ROUNDS = 25 };
    int id = dest_new("brk", "race", "{\"minimumVolume\": 1, \"cooldownSeconds\": 1}", &d);
    REQUIRE(id > 0);
    PGconn *cs[RACERS];
    for (int i = 0; i < RACERS; i++) {
        cs[i] = PQconnectdb(ci);
        REQUIRE(PQstatus(cs[i]) == CONNECTION_OK);
    }
    int wins_total = 0, bad_rounds = 0;
    for (int round = 0; round < ROUNDS; round++) {
        int64_t t = T0 + round * 100000LL;
        CHECK(rec(&d, false, 500, 5, t) == ADB_OK);   /* closed or half-open → open */
        pthread_barrier_t go;
        pthread_barrier_init(&go, NULL, RACERS);
        racer r[RACERS];
        pthread_t th[RACERS];
        for (int i = 0; i < RACERS; i++) {
            r[i] = (racer){ .d = &d, .c = cs[i], .go = &go, .now = t + 1000 };
            pthread_create(&th[i], NULL, race, &r[i]);
        }
        int wins = 0;
        for (int i = 0; i < RACERS; i++) {
            pthread_join(th[i], NULL);
            CHECK(r[i].st == ADB_OK);
            wins += r[i].admit;
        }
        pthread_barrier_destroy(&go);
        wins_total += wins;
        if (wins != 1)
            bad_rounds++;
    }
    CHECK_MSG(bad_rounds == 0, "%d rounds of %d without exactly one probe", bad_rounds, ROUNDS);
    CHECK(wins_total == ROUNDS);
    CHECK(q("SELECT count(*) FROM destination_health_transition WHERE destination_id = %d"
            " AND to_state = 'half-open'", id) == ROUNDS);
    for (int i = 0; i < RACERS; i++)
        PQfinish(cs[i]);
    json_decref(d.config);
}

/* One connection holds the row (its transaction took the probe); the other
 * waits on the lock and, once the first commits, sees the slot taken. */
static void probe_taken_inside_a_transaction(void)
{
    adb__dest d;
    bool admit;
    int64_t at;
    int id = dest_new("brk", "tx", "{\"minimumVolume\": 1, \"cooldownSeconds\": 1}", &d);
    REQUIRE(id > 0);
    CHECK(rec(&d, false, 500, 5, T0) == ADB_OK);
    PGconn *a = PQconnectdb(ci), *b = PQconnectdb(ci);
    REQUIRE(PQstatus(a) == CONNECTION_OK && PQstatus(b) == CONNECTION_OK);
    CHECK(t_exec(a, "BEGIN"));
    CHECK(adb__breaker_admit(NULL, a, &d, T0 + 2000, &admit, &at) == ADB_OK && admit);
    CHECK(PQtransactionStatus(a) == PQTRANS_INTRANS);   /* the caller's transaction kept */
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, 2);
    racer r = { .d = &d, .c = b, .go = &go, .now = T0 + 2000 };
    pthread_t th;
    pthread_create(&th, NULL, race, &r);
    pthread_barrier_wait(&go);
    usleep(300000);   /* b is waiting on the row lock now (or about to) */
    CHECK(t_exec(a, "COMMIT"));
    pthread_join(th, NULL);
    pthread_barrier_destroy(&go);
    CHECK(r.st == ADB_OK && !r.admit);
    PQfinish(a);
    PQfinish(b);
    json_decref(d.config);
}

static void settings_defaults_and_overrides(void)
{
    adb__breaker_config cfg;
    adb__breaker_config_of(NULL, &cfg);
    CHECK(cfg.failure_rate_pct == 50 && cfg.window_s == 300 && cfg.min_volume == 10 &&
          cfg.cooldown_s == 60 && cfg.probe_timeout_s == 120 && cfg.disable_after_s == 432000);
    json_t *o = json_loads("{\"circuitBreaker\": {\"failureRateThreshold\": 80,"
                           " \"minimumVolume\": 3, \"windowSeconds\": \"x\","
                           " \"cooldownSeconds\": -5, \"disableAfterSeconds\": 86400}}", 0, NULL);
    adb__breaker_config_of(o, &cfg);
    CHECK(cfg.failure_rate_pct == 80 && cfg.min_volume == 3 && cfg.window_s == 300 &&
          cfg.cooldown_s == 60 && cfg.disable_after_s == 86400);
    json_decref(o);
    /* the check ddest's validation calls: the field at fault */
    char field[96], msg[160];
    CHECK(adb__breaker_config_check(NULL, field, sizeof(field), msg, sizeof(msg)));
    o = json_loads("{\"minimumVolume\": 3, \"cooldownSeconds\": 10}", 0, NULL);
    CHECK(adb__breaker_config_check(o, field, sizeof(field), msg, sizeof(msg)));
    json_decref(o);
    o = json_loads("{\"minimumVolume\": 0}", 0, NULL);
    CHECK(!adb__breaker_config_check(o, field, sizeof(field), msg, sizeof(msg)));
    CHECK_STR(field, "config.circuitBreaker.minimumVolume");
    json_decref(o);
    o = json_loads("{\"threshold\": 5}", 0, NULL);
    CHECK(!adb__breaker_config_check(o, field, sizeof(field), msg, sizeof(msg)));
    CHECK_STR(field, "config.circuitBreaker.threshold");
    json_decref(o);
    o = json_loads("[1]", 0, NULL);
    CHECK(!adb__breaker_config_check(o, field, sizeof(field), msg, sizeof(msg)));
    CHECK_STR(field, "config.circuitBreaker");
    json_decref(o);
}

static void clock_moves_in_test_builds(void)
{
    char path[] = "/tmp/adb-clock-XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    CHECK(write(fd, "7200000\n", 8) == 8);
    close(fd);
    int64_t before = adb__delivery_now_ms();
    setenv("AUDITDB_DELIVERY_CLOCK_FILE", path, 1);
    int64_t moved = adb__delivery_now_ms();
    CHECK_MSG(moved - before >= 7200000 && moved - before < 7200000 + 5000, "moved by %lld",
              (long long)(moved - before));
    FILE *f = fopen(path, "w");
    fputs("not a number", f);
    fclose(f);
    CHECK(adb__delivery_now_ms() - before < 5000);   /* malformed: no offset */
    unsetenv("AUDITDB_DELIVERY_CLOCK_FILE");
    unlink(path);
}

/* The one-statement path of a success on a closed breaker (the delivery
 * threads' common case, docs/delivery.md "Throughput") leaves the row exactly
 * as the full locked path does: the same sequence recorded on two
 * destinations, one with each path (inside a transaction the full path is
 * taken), rows compared column by column, samples past the 100 kept, a
 * window turning over, failures between. */
static void success_fast_path_equals_full_path(void)
{
    adb__dest fast, full;
    int a = dest_new("brk", "fast", "{\"windowSeconds\": 30, \"minimumVolume\": 1000}", &fast);
    int b = dest_new("brk", "full", "{\"windowSeconds\": 30, \"minimumVolume\": 1000}", &full);
    REQUIRE(a > 0 && b > 0);
    for (int i = 0; i < 130; i++) {
        bool ok = i % 17 != 5;
        double ms = (i * 37) % 101 + 0.4;
        int64_t now = T0 + i * 700LL;
        CHECK(rec(&fast, ok, ok ? 200 : 500, ms, now) == ADB_OK);
        CHECK(t_exec(c, "BEGIN"));
        CHECK(rec(&full, ok, ok ? 200 : 500, ms, now) == ADB_OK);
        CHECK(t_exec(c, "COMMIT"));
    }
    char sql[2048];
    snprintf(sql, sizeof(sql),
             "SELECT count(DISTINCT (status, last_check_at, total_deliveries, total_failures,"
             " consecutive_failures, success_rate, average_response_time, p95_response_time,"
             " p99_response_time, last_success_at, last_failure_at, failing_since, window_started_at,"
             " window_total, window_failures, circuit_breaker_state, circuit_breaker_opened_at,"
             " metadata::text)) FROM destination_health WHERE destination_id IN (%d, %d)", a, b);
    CHECK_MSG(t_count(c, sql) == 1, "the two paths left different rows");
    CHECK(q("SELECT jsonb_array_length(metadata->'responseTimesMs') FROM destination_health"
            " WHERE destination_id = %d", a) == 100);
    CHECK(q("SELECT total_deliveries FROM destination_health WHERE destination_id = %d", a) == 130);
    json_decref(fast.config);
    json_decref(full.config);
}

/* The delivery threads' batch: k successes of a closed breaker in one
 * statement; on a breaker that is not closed each goes the full path. */
static void successes_recorded_at_once(void)
{
    adb__dest d;
    int id = dest_new("brk", "batch", "{\"windowSeconds\": 60, \"minimumVolume\": 2,"
                      " \"failureRateThreshold\": 50, \"cooldownSeconds\": 30}", &d);
    REQUIRE(id > 0);
    CHECK(rec(&d, true, 200, 10, T0) == ADB_OK);   /* the row */
    int ms[5] = { 20, 30, 40, 50, 60 };
    CHECK(adb__health_record_successes(db, c, &d, ms, 5, T0 + 1000) == ADB_OK);
    CHECK(q("SELECT count(*) FROM destination_health WHERE destination_id = %d"
            " AND total_deliveries = 6 AND window_total = 6 AND consecutive_failures = 0"
            " AND success_rate = '100.00' AND average_response_time = 35 AND p95_response_time = 60"
            " AND jsonb_array_length(metadata->'responseTimesMs') = 6"
            " AND last_success_at = '2030-01-01T00:00:01Z' AND status = 'healthy'", id) == 1);
    /* open it (2 failures of 8 do not; 6 more do), then a batch goes the full path: still open */
    for (int i = 0; i < 8; i++)
        CHECK(rec(&d, false, 500, 5, T0 + 2000 + i) == ADB_OK);
    CHECK(q("SELECT count(*) FROM destination_health WHERE destination_id = %d"
            " AND circuit_breaker_state = 'open'", id) == 1);
    CHECK(adb__health_record_successes(db, c, &d, ms, 2, T0 + 3000) == ADB_OK);
    CHECK(q("SELECT count(*) FROM destination_health WHERE destination_id = %d"
            " AND circuit_breaker_state = 'open' AND total_deliveries = 16", id) == 1);
    json_decref(d.config);
}

int main(void)
{
    char err[ADB_ERRMSG_MAX];
    if (!t_migrated_db("adb_test_breaker", ci, sizeof(ci)))
        return 1;
    db = t_open(ci, NULL);
    c = PQconnectdb(ci);
    if (!db || PQstatus(c) != CONNECTION_OK)
        return 1;
    if (adb_org_ensure(db, "brk", NULL, err, sizeof(err)) != ADB_OK)
        printf("# org: %s\n", err);
    RUN(settings_defaults_and_overrides);
    RUN(clock_moves_in_test_builds);
    RUN(rate_threshold_with_minimum_volume);
    RUN(below_volume_or_rate_stays_closed);
    RUN(half_open_probe_then_closed_or_open);
    RUN(sustained_failure_disables_then_enable);
    RUN(gone_disables_at_once);
    RUN(other_organization_not_found);
    RUN(one_probe_across_connections);
    RUN(probe_taken_inside_a_transaction);
    RUN(success_fast_path_equals_full_path);
    RUN(successes_recorded_at_once);
    PQfinish(c);
    adb_close(db);
    return t_done();
}
