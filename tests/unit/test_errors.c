/*
 * test_errors.c - the service's own failures (src/monitor/errors.c):
 * 10,000 errors whose messages vary in ids, numbers, addresses, times and
 * quoted values collapse into exactly the expected fingerprints with the
 * expected counts; rate, trend, samples and components of an aggregation;
 * a resolved aggregation that occurs again is a regression (cleared
 * resolution, counted, an alert of the process pseudo-organization); a full queue drops and counts, never blocks. Issue 20.
 */
#include "tdb.h"
#include "core/adb_internal.h"
#include "core/util.h"
#include "monitor/errors.h"
#include "monitor/fingerprint.h"

#include <stdio.h>

static char ci[1024];
static unsigned long long rng = 20261207;

static unsigned rnd(void)
{
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (unsigned)(rng >> 33);
}

typedef struct tmpl {
    const char *category, *code, *component, *operation;
    const char *pattern; /* what every message of the template must come to */
    int count;
} tmpl;

static const tmpl T[] = {
    { "DATABASE_ERROR", "PG_CONN_LOST", "writer", "commit",
      "could not connect to server at <ip>: timeout after <n> ms", 3000 },
    { "DELIVERY_ERROR", "HTTP_5XX", "delivery", "deliver",
      "delivery <n> of destination <n> failed: HTTP <n> (id <uuid>)", 2000 },
    { "INTEGRITY_ERROR", "TREE_ROUND", "integrator", "round",
      "tree round for org '?' failed at <ts> after <n> events", 1500 },
    { "REPORT_ERROR", "RENDER", "report", "execute",
      "execution <uuid> of schedule <n> failed: template \"?\" missing", 1000 },
    { "DELIVERY_ERROR", "HTTP_5XX", "delivery", "enqueue",
      "delivery <n> of destination <n> failed: HTTP <n> (id <uuid>)", 1000 },
    { "DATABASE_ERROR", "POOL", "pool", "acquire",
      "connection <n> lost after <n> s (backend pid <n>)", 750 },
    { "HTTP_ERROR", "HTTP_500", "http", "request",
      "request <n> answered <n> for key k_<n> from <ip> and <ip>", 500 },
    { "CHECKPOINT_ERROR", "WITNESS", "checkpointer", "offer",
      "witness at <ip> refused size <n>: <n> at <ts>", 250 },
};
#define NT (sizeof(T) / sizeof(T[0]))

static void message(size_t t, char *m, size_t n)
{
    unsigned a = rnd(), b = rnd(), c = rnd(), d = rnd();
    char uuid[40];
    snprintf(uuid, sizeof(uuid), "%08x-%04x-%04x-%04x-%04x%08x", a, b & 0xffff, c & 0xffff,
             d & 0xffff, a & 0xffff, b ^ c);
    switch (t) {
    case 0: snprintf(m, n, "could not connect to server at 10.%u.%u.%u:5432: timeout after %u ms",
                     a % 256, b % 256, c % 256, d % 100000); break;
    case 1: case 4:
        snprintf(m, n, "delivery %u of destination %u failed: HTTP %u (id %s)", a, b % 1000,
                 500 + c % 4, uuid); break;
    case 2: snprintf(m, n, "tree round for org 'org-%u %s' failed at 2026-12-%02uT%02u:%02u:%02u.%06uZ"
                     " after %u events", a % 999, d % 2 ? "x y" : "", 1 + b % 28, c % 24, d % 60,
                     a % 60, b % 1000000, c); break;
    case 3: snprintf(m, n, "execution %s of schedule %u failed: template \"tpl %u\" missing",
                     uuid, a % 500, b); break;
    case 5: snprintf(m, n, "connection %u lost after %u.%03u s (backend pid %u)", a % 20,
                     b % 100, c % 1000, d % 65536); break;
    case 6: snprintf(m, n, "request %08x%08x answered 500 for key k_%08x from %u.%u.%u.%u and fe80::%x:%x",
                     a, b, c, a % 256, b % 256, c % 256, d % 256, d % 65536, a % 4096); break;
    default: snprintf(m, n, "witness at 2001:db8::%x:%x refused size %u: 0x%x at %02u:%02u:%02u",
                      a % 65536, b % 65536, c, d, a % 24, b % 60, c % 60); break;
    }
}

static void ten_thousand_collapse(void)
{
    adb *db = t_open(ci, NULL);
    char err[ADB_ERRMSG_MAX], m[512];
    int left[NT];
    adb__errmon_stats st;

    REQUIRE(db);
    REQUIRE(adb__errmon_start(db, ci, err, sizeof(err)) == ADB_OK);
    for (size_t t = 0; t < NT; t++)
        left[t] = T[t].count;
    /* interleaved, in chunks the queue holds */
    for (int sent = 0; sent < 10000;) {
        for (int k = 0; k < 500 && sent < 10000;) {
            size_t t = rnd() % NT;
            if (!left[t])
                continue;
            left[t]--;
            message(t, m, sizeof(m));
            adb__error_report e = { .category = T[t].category, .severity = "HIGH",
                                    .code = T[t].code, .component = T[t].component,
                                    .operation = T[t].operation, .message = m,
                                    .org = t == 2 ? "org-e" : NULL, .retryable = t < 2 };
            adb__error_record(db, &e);
            k++;
            sent++;
        }
        CHECK(adb__errmon_flush(db, 60000));
    }
    adb__errmon_stats_get(db, &st);
    CHECK(st.recorded == 10000);
    CHECK(st.written == 10000);
    CHECK(st.dropped == 0);

    PGconn *c = PQconnectdb(ci);
    CHECK(t_count(c, "SELECT count(*) FROM error_log") == 10000);
    CHECK(t_count(c, "SELECT count(*) FROM error_aggregation") == (long long)NT);
    CHECK(t_count(c, "SELECT count(DISTINCT aggregation_key) FROM error_log") == (long long)NT);
    CHECK(t_count(c, "SELECT sum(count) FROM error_aggregation") == 10000);
    for (size_t t = 0; t < NT; t++) {
        char key[ADB_ERROR_KEY_MAX], sql[512];
        adb__error_fingerprint(T[t].category, T[t].code, T[t].component, T[t].operation,
                               T[t].pattern, key);
        snprintf(sql, sizeof(sql), "SELECT count FROM error_aggregation WHERE aggregation_key = '%s'", key);
        long long got = t_count(c, sql);
        CHECK_MSG(got == T[t].count, "template %zu (%s): %lld, want %d", t, T[t].pattern, got,
                  T[t].count);
        if (got != T[t].count) {
            snprintf(sql, sizeof(sql), "SELECT string_agg(message_pattern || ' ' || count, ' | ')"
                     " FROM error_aggregation WHERE component = '%s'", T[t].component);
            char *v = t_query1(c, sql);
            printf("#   have: %s\n", v ? v : "?");
            free(v);
        }
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM error_log WHERE aggregation_key = '%s'", key);
        CHECK(t_count(c, sql) == T[t].count);
    }
    /* the aggregation's members */
    CHECK(t_count(c, "SELECT count(*) FROM error_aggregation WHERE fingerprint_version = 1"
                     " AND aggregation_key LIKE 'v1-%' AND severity = 'HIGH'"
                     " AND jsonb_array_length(samples) = 10"
                     " AND affected_components = jsonb_build_array(component)"
                     " AND first_occurrence <= last_occurrence AND resolved_at IS NULL"
                     " AND error_rate::numeric > 0 AND trend = 'INCREASING'") == (long long)NT);
    /* the rate: per minute over the last five (all 3,000 within them) */
    CHECK(t_count(c, "SELECT count(*) FROM error_aggregation WHERE code = 'PG_CONN_LOST'"
                     " AND error_rate = '600.00'") == 1);
    CHECK(t_count(c, "SELECT count(*) FROM error_log WHERE organization_id = 'org-e'") == 1500);
    CHECK(t_count(c, "SELECT count(*) FROM error_log WHERE retryable = 'true'") == 5000);
    PQfinish(c);
    adb_close(db);
}

static void regression(void)
{
    adb *db = t_open(ci, NULL);
    char err[ADB_ERRMSG_MAX];
    adb__errmon_stats st;
    PGconn *c = PQconnectdb(ci);

    REQUIRE(db);
    REQUIRE(adb__errmon_start(db, ci, err, sizeof(err)) == ADB_OK);
    adb__error_report e = { .category = "DATABASE_ERROR", .severity = "CRITICAL",
                            .code = "PG_CONN_LOST", .component = "writer", .operation = "commit",
                            .message = "could not connect to server at 10.9.9.9:5432: timeout after 1 ms" };
    /* resolved now: an occurrence from before the resolution is no regression ... */
    CHECK(t_exec(c, "UPDATE error_aggregation SET resolved_at = now() + interval '1 hour',"
                    " resolved_by = 'op', resolution_notes = 'fixed' WHERE code = 'PG_CONN_LOST'"));
    adb__error_record(db, &e);
    CHECK(adb__errmon_flush(db, 30000));
    CHECK(t_count(c, "SELECT count(*) FROM error_aggregation WHERE code = 'PG_CONN_LOST'"
                     " AND resolved_at IS NOT NULL AND regression_count = 0 AND count = 3001") == 1);
    /* ... one after it is */
    CHECK(t_exec(c, "UPDATE error_aggregation SET resolved_at = now() - interval '1 minute'"
                    " WHERE code = 'PG_CONN_LOST'"));
    adb__error_record(db, &e);
    CHECK(adb__errmon_flush(db, 30000));
    adb__errmon_stats_get(db, &st);
    CHECK(st.regressions == 1);
    CHECK(t_count(c, "SELECT count(*) FROM error_aggregation WHERE code = 'PG_CONN_LOST'"
                     " AND resolved_at IS NULL AND resolved_by IS NULL AND resolution_notes IS NULL"
                     " AND regression_count = 1 AND last_regression_at IS NOT NULL"
                     " AND count = 3002 AND severity = 'CRITICAL'") == 1);
    /* the alert: raised for the process pseudo-organization */
    long long alerts = t_count(c, "SELECT count(*) FROM alerts a JOIN error_aggregation g"
                                  " ON a.dedup_key = 'error-regression/' || g.aggregation_key"
                                  " WHERE a.organization_id = '_process' AND g.code = 'PG_CONN_LOST'"
                                  " AND a.source = 'auditdb-errors' AND a.type = 'SYSTEM'"
                                  " AND a.severity = 'CRITICAL' AND a.status = 'active'");
    CHECK_MSG(alerts == 1 && st.alert_failures == 0, "alerts %lld, failures %lld", alerts,
              st.alert_failures);
    printf("# regression alert rows: %lld, alert failures: %lld\n", alerts, st.alert_failures);
    PQfinish(c);
    adb_close(db);
}

static void full_queue_drops(void)
{
    adb *db = t_open(ci, NULL);
    char err[ADB_ERRMSG_MAX];
    adb__errmon_stats st;

    REQUIRE(db);
    /* before the monitor starts: a no-op */
    adb__error_report e = { .code = "X", .component = "t", .operation = "o", .message = "m 1" };
    adb__error_record(db, &e);
    adb__errmon_stats_get(db, &st);
    CHECK(st.recorded == 0);
    /* a writer that cannot connect: the queue fills, the rest is dropped without blocking */
    REQUIRE(adb__errmon_start(db, "host=/nonexistent-socket-dir port=1 connect_timeout=1", err,
                              sizeof(err)) == ADB_OK);
    CHECK(adb__errmon_start(db, ci, err, sizeof(err)) == ADB_ERR_INVALID);
    double t0 = adb__now_ms();
    for (int i = 0; i < 5000; i++)
        adb__error_record(db, &e);
    double spent = adb__now_ms() - t0;
    printf("# 5000 reports queued or dropped in %.1f ms\n", spent);
    adb__errmon_stats_get(db, &st);
    CHECK(st.recorded + st.dropped == 5000);
    CHECK(st.dropped >= 5000 - 2 * ADB_ERRORS_QUEUE_MAX);
    adb_close(db); /* stops: what it cannot write is dropped, the close returns */
}

int main(void)
{
    if (!t_migrated_db("t_errors", ci, sizeof(ci))) {
        printf("not ok - setup\n");
        return 1;
    }
    RUN(ten_thousand_collapse);
    RUN(regression);
    RUN(full_queue_drops);
    return t_done();
}
