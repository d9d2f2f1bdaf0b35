/*
 * test_alert_raise.c - adb__alert_raise against PostgreSQL (src/alert/raise.c,
 * migrations/0034_alerts.sql): a first trigger opens, the next ones fold
 * (count, last trigger, at most 10 distinct samples), a trigger after a
 * resolve or a dismiss opens a new alert, a trigger after the hold-open time
 * resolves the quiet alert at its instant and opens a new one, a rollback
 * leaves nothing, bad triggers are refused, silences match at their instants,
 * two connections raising one key at once make one alert.
 */
#include "tdb.h"
#include "alert/alert.h"

#include <pthread.h>

static char ci[1024];
static PGconn *c;

#define T0 1893456000000LL /* 2030-01-01T00:00:00Z */
#define MIN 60000LL

static adb_status raise_at(PGconn *conn, const char *org, const char *key, int64_t at_ms,
                           const char *const *samples, size_t n, adb__alert_outcome *o,
                           char id[ADB_ALERT_ID_MAX])
{
    adb__alert_trigger t = { .org = org, .source = "test", .dedup_key = key,
                             .rule_id = "failed-auth", .rule_version = 3,
                             .severity = "HIGH", .type = "SECURITY", .title = "failed logins",
                             .description = "5 failed logins in 5 minutes",
                             .metadata_json = "{\"group\": \"u1\"}",
                             .sample_event_ids = samples, .nsamples = n, .at_ms = at_ms };
    char err[256] = "";
    adb_status st = adb__alert_raise(conn, &t, o, id, err, sizeof(err));
    if (st != ADB_OK)
        printf("# raise: %s\n", err);
    return st;
}

static long long q(const char *fmt, const char *a)
{
    char sql[1024];
    snprintf(sql, sizeof(sql), fmt, a);
    return t_count(c, sql);
}

static void open_fold_new_after_resolve(void)
{
    const char *s1[] = { "11111111-1111-4111-8111-111111111111",
                         "22222222-2222-4222-8222-222222222222" };
    const char *s2[] = { "22222222-2222-4222-8222-222222222222",
                         "33333333-3333-4333-8333-333333333333" };
    adb__alert_outcome o = 0;
    char id1[ADB_ALERT_ID_MAX], id2[ADB_ALERT_ID_MAX], id3[ADB_ALERT_ID_MAX];

    REQUIRE(raise_at(c, "orgA", "failed-auth/u1", T0, s1, 2, &o, id1) == ADB_OK);
    CHECK(o == ADB_ALERT_OPENED);
    CHECK(!strncmp(id1, "alert-", 6) && strlen(id1) == 38);
    REQUIRE(raise_at(c, "orgA", "failed-auth/u1", T0 + MIN, s2, 2, &o, id2) == ADB_OK);
    CHECK(o == ADB_ALERT_FOLDED);
    CHECK_STR(id2, id1);
    CHECK(q("SELECT trigger_count FROM alerts WHERE id = '%s'", id1) == 2);
    CHECK(q("SELECT jsonb_array_length(sample_event_ids) FROM alerts WHERE id = '%s'", id1) == 3);
    CHECK(q("SELECT count(*) FROM alerts WHERE id = '%s' AND last_triggered_at ="
            " '2030-01-01T00:01:00Z' AND first_triggered_at = '2030-01-01T00:00:00Z'"
            " AND rule_id = 'failed-auth' AND rule_version = 3 AND status = 'active'", id1) == 1);
    /* the same key in another organization is another alert */
    REQUIRE(raise_at(c, "orgB", "failed-auth/u1", T0, s1, 2, &o, id3) == ADB_OK);
    CHECK(o == ADB_ALERT_OPENED);
    CHECK(strcmp(id3, id1) != 0);
    /* acknowledged still folds */
    REQUIRE(t_exec(c, "UPDATE alerts SET status = 'acknowledged' WHERE organization_id = 'orgA'"));
    REQUIRE(raise_at(c, "orgA", "failed-auth/u1", T0 + 2 * MIN, NULL, 0, &o, id2) == ADB_OK);
    CHECK(o == ADB_ALERT_FOLDED);
    CHECK_STR(id2, id1);
    /* resolved: a new alert */
    REQUIRE(t_exec(c, "UPDATE alerts SET status = 'resolved' WHERE organization_id = 'orgA'"));
    REQUIRE(raise_at(c, "orgA", "failed-auth/u1", T0 + 3 * MIN, NULL, 0, &o, id2) == ADB_OK);
    CHECK(o == ADB_ALERT_OPENED);
    CHECK(strcmp(id2, id1) != 0);
    /* dismissed: a new alert too */
    REQUIRE(t_exec(c, "UPDATE alerts SET status = 'dismissed' WHERE organization_id = 'orgA'"));
    REQUIRE(raise_at(c, "orgA", "failed-auth/u1", T0 + 4 * MIN, NULL, 0, &o, id3) == ADB_OK);
    CHECK(o == ADB_ALERT_OPENED);
    CHECK(strcmp(id3, id2) != 0 && strcmp(id3, id1) != 0);
    CHECK(q("SELECT count(*) FROM alerts WHERE organization_id = '%s'", "orgA") == 3);
    /* one alert.opened in the outbox per opening */
    CHECK(q("SELECT count(*) FROM alert_audit_outbox WHERE organization_id = '%s'"
            " AND action = 'alert.opened'", "orgA") == 3);
}

static void samples_capped_at_ten(void)
{
    const char *s[25];
    char buf[25][40];
    adb__alert_outcome o;
    char id[ADB_ALERT_ID_MAX];

    for (int i = 0; i < 25; i++) {
        snprintf(buf[i], sizeof(buf[i]), "00000000-0000-4000-8000-%012d", i);
        s[i] = buf[i];
    }
    REQUIRE(raise_at(c, "orgS", "k", T0, s, 4, &o, id) == ADB_OK);
    REQUIRE(raise_at(c, "orgS", "k", T0 + 1, s, 25, &o, id) == ADB_OK);
    REQUIRE(raise_at(c, "orgS", "k", T0 + 2, s + 15, 10, &o, id) == ADB_OK);
    CHECK(q("SELECT jsonb_array_length(sample_event_ids) FROM alerts WHERE id = '%s'", id) == 10);
    CHECK(q("SELECT count(*) FROM alerts WHERE id = '%s' AND sample_event_ids->>9 ="
            " '00000000-0000-4000-8000-000000000009' AND trigger_count = 3", id) == 1);
}

static void hold_open(void)
{
    adb__alert_outcome o;
    char id1[ADB_ALERT_ID_MAX], id2[ADB_ALERT_ID_MAX];

    REQUIRE(t_exec(c, "INSERT INTO alert_config (organization_id, config)"
                      " VALUES ('orgH', '{\"debounceWindow\": 10}')"));
    REQUIRE(raise_at(c, "orgH", "flap", T0, NULL, 0, &o, id1) == ADB_OK);
    /* triggers 9 minutes apart stay one alert (held open) */
    for (int i = 1; i <= 5; i++) {
        REQUIRE(raise_at(c, "orgH", "flap", T0 + i * 9 * MIN, NULL, 0, &o, id2) == ADB_OK);
        CHECK(o == ADB_ALERT_FOLDED);
        CHECK_STR(id2, id1);
    }
    /* quiet for 10 minutes + 1 ms: resolved at last + 10 min, a new alert */
    REQUIRE(raise_at(c, "orgH", "flap", T0 + 55 * MIN + 1, NULL, 0, &o, id2) == ADB_OK);
    CHECK(o == ADB_ALERT_OPENED);
    CHECK(strcmp(id2, id1) != 0);
    CHECK(q("SELECT count(*) FROM alerts WHERE id = '%s' AND status = 'resolved' AND"
            " resolved = 'true' AND resolved_by = 'auditdb' AND resolved_at ="
            " '2030-01-01T00:55:00Z' AND trigger_count = 6", id1) == 1);
    CHECK(q("SELECT count(*) FROM alert_audit_outbox WHERE alert_id = '%s'"
            " AND action = 'alert.resolved'", id1) == 1);
    /* debounceWindow 0: held open for ever */
    REQUIRE(t_exec(c, "UPDATE alert_config SET config = '{\"debounceWindow\": 0}'"
                      " WHERE organization_id = 'orgH'"));
    REQUIRE(raise_at(c, "orgH", "flap", T0 + 1000 * MIN, NULL, 0, &o, id1) == ADB_OK);
    CHECK(o == ADB_ALERT_FOLDED);
    CHECK_STR(id1, id2);
}

static void rollback_leaves_nothing(void)
{
    adb__alert_outcome o;
    char id[ADB_ALERT_ID_MAX];

    REQUIRE(t_exec(c, "BEGIN"));
    REQUIRE(raise_at(c, "orgR", "k", T0, NULL, 0, &o, id) == ADB_OK);
    REQUIRE(t_exec(c, "ROLLBACK"));
    CHECK(q("SELECT count(*) FROM alerts WHERE organization_id = '%s'", "orgR") == 0);
    CHECK(q("SELECT count(*) FROM alert_audit_outbox WHERE organization_id = '%s'", "orgR") == 0);
}

static void bad_triggers(void)
{
    char err[256];
    adb__alert_trigger ok = { .org = "orgX", .source = "test", .dedup_key = "k",
                              .severity = "LOW", .type = "SYSTEM", .title = "t",
                              .description = "d" };
    adb__alert_trigger t;

    t = ok; t.org = NULL;
    CHECK(adb__alert_raise(c, &t, NULL, NULL, err, sizeof(err)) == ADB_ERR_INVALID);
    CHECK(strstr(err, "org") != NULL);
    t = ok; t.dedup_key = "";
    CHECK(adb__alert_raise(c, &t, NULL, NULL, err, sizeof(err)) == ADB_ERR_INVALID);
    CHECK(strstr(err, "dedup_key") != NULL);
    t = ok; t.severity = "SEVERE";
    CHECK(adb__alert_raise(c, &t, NULL, NULL, err, sizeof(err)) == ADB_ERR_INVALID);
    t = ok; t.type = "security";
    CHECK(adb__alert_raise(c, &t, NULL, NULL, err, sizeof(err)) == ADB_ERR_INVALID);
    t = ok; t.metadata_json = "[1]";
    CHECK(adb__alert_raise(c, &t, NULL, NULL, err, sizeof(err)) == ADB_ERR_INVALID);
    t = ok; t.title = NULL;
    CHECK(adb__alert_raise(c, &t, NULL, NULL, err, sizeof(err)) == ADB_ERR_INVALID);
    CHECK(q("SELECT count(*) FROM alerts WHERE organization_id = '%s'", "orgX") == 0);
    t = ok;
    CHECK(adb__alert_raise(c, &t, NULL, NULL, err, sizeof(err)) == ADB_OK);
}

static void silences_at_their_instants(void)
{
    adb__alert_outcome o;
    char id[ADB_ALERT_ID_MAX], id2[ADB_ALERT_ID_MAX];

    /* in force now: matches rule and a dedup prefix; another rule's is not silenced */
    REQUIRE(t_exec(c, "INSERT INTO alert_silences (id, organization_id, created_by, reason,"
                      " matchers, starts_at, ends_at) VALUES ('silence-1', 'orgQ', 'k1',"
                      " 'maintenance', '{\"ruleId\": \"failed-auth\", \"dedupKey\": \"fa/*\"}',"
                      " now() - interval '1 minute', now() + interval '1 hour'),"
                      " ('silence-2', 'orgQ', 'k1', 'expired', '{}',"
                      " now() - interval '2 hours', now() - interval '1 millisecond'),"
                      " ('silence-3', 'orgQ', 'k1', 'later', '{}',"
                      " now() + interval '1 hour', now() + interval '2 hours')"));
    REQUIRE(raise_at(c, "orgQ", "fa/u1", T0, NULL, 0, &o, id) == ADB_OK);
    CHECK(o == ADB_ALERT_SILENCED);
    CHECK(q("SELECT count(*) FROM alerts WHERE id = '%s' AND silenced AND"
            " silence_id = 'silence-1'", id) == 1);
    REQUIRE(raise_at(c, "orgQ", "other/u1", T0, NULL, 0, &o, id2) == ADB_OK);
    CHECK(o == ADB_ALERT_OPENED);
    /* the silence expires by hand: the next trigger folds, not silenced */
    REQUIRE(t_exec(c, "UPDATE alert_silences SET ends_at = now() - interval '20 ms'"
                      " WHERE id = 'silence-1'"));
    REQUIRE(raise_at(c, "orgQ", "fa/u1", T0 + 1, NULL, 0, &o, id2) == ADB_OK);
    CHECK(o == ADB_ALERT_FOLDED);
    CHECK_STR(id2, id);
    CHECK(q("SELECT count(*) FROM alerts WHERE id = '%s' AND NOT silenced", id) == 1);
}

/* The must-show: a silence ending at E silences a raise at E - 1 µs and not
 * one at E (the raiser's clock given exactly, as raise.c passes it). */
static void expired_silence_stops_at_its_instant(void)
{
    REQUIRE(t_exec(c, "INSERT INTO alert_silences (id, organization_id, created_by, reason,"
                      " matchers, starts_at, ends_at) VALUES ('silence-e', 'orgE', 'k1', 'r',"
                      " '{}', '2030-01-01T00:00:00Z', '2030-01-01T01:00:00Z')"));
    const char *sql = "SELECT outcome FROM auditdb_alert_raise('orgE', 'test', $1, NULL, NULL,"
                      " 'LOW', 'SYSTEM', 't', 'd', NULL, NULL, NULL, $2::timestamptz,"
                      " $2::timestamptz)";
    struct {
        const char *key, *now, *want;
    } cases[] = { { "a", "2029-12-31T23:59:59.999999Z", "opened" },
                  { "b", "2030-01-01T00:00:00Z", "silenced" },
                  { "c", "2030-01-01T00:59:59.999999Z", "silenced" },
                  { "d", "2030-01-01T01:00:00Z", "opened" } };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *p[] = { cases[i].key, cases[i].now };
        PGresult *r = PQexecParams(c, sql, 2, NULL, p, NULL, NULL, 0);
        CHECK(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1);
        if (PQntuples(r) == 1)
            CHECK_STR(PQgetvalue(r, 0, 0), cases[i].want);
        PQclear(r);
    }
}

struct racer {
    const char *key;
    int n;
    int opened;
};

static void *race(void *arg)
{
    struct racer *r = arg;
    PGconn *conn = PQconnectdb(ci);
    adb__alert_outcome o;
    char id[ADB_ALERT_ID_MAX];

    for (int i = 0; i < r->n && PQstatus(conn) == CONNECTION_OK; i++) {
        PQclear(PQexec(conn, "BEGIN"));
        if (raise_at(conn, "orgC", r->key, T0 + i, NULL, 0, &o, id) == ADB_OK && o == ADB_ALERT_OPENED)
            r->opened++;
        PQclear(PQexec(conn, "COMMIT"));
    }
    PQfinish(conn);
    return NULL;
}

static void concurrent_raises_make_one_alert(void)
{
    pthread_t th[4];
    struct racer r[4];

    for (int i = 0; i < 4; i++) {
        r[i] = (struct racer){ .key = "race", .n = 50 };
        pthread_create(&th[i], NULL, race, &r[i]);
    }
    int opened = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        opened += r[i].opened;
    }
    CHECK(opened == 1);
    CHECK(q("SELECT count(*) FROM alerts WHERE organization_id = '%s'", "orgC") == 1);
    CHECK(q("SELECT trigger_count FROM alerts WHERE organization_id = '%s'", "orgC") == 200);
}

static void open_index_refuses_a_second_open_alert(void)
{
    /* even superuser SQL cannot make two open alerts of one key */
    PGresult *r = PQexec(c, "INSERT INTO alerts (id, organization_id, severity, type, title,"
                            " description, source, dedup_key) SELECT 'alert-dup', organization_id,"
                            " 'LOW', 'SYSTEM', 't', 'd', 's', dedup_key FROM alerts"
                            " WHERE organization_id = 'orgC'");
    CHECK(PQresultStatus(r) == PGRES_FATAL_ERROR);
    CHECK(strstr(PQresultErrorMessage(r), "alerts_open_dedup_idx") != NULL);
    PQclear(r);
}

/* The outbox: each row logged once as the organization's audit event, then
 * deleted; a row logged but not deleted (a crash between the two) logs no
 * second event when drained again (the idempotency key). */
static void outbox_exactly_once(void)
{
    adb *h = t_open(ci, NULL);
    int n = 0;
    char err[256] = "";

    REQUIRE(h);
    REQUIRE(t_exec(c, "DELETE FROM alert_audit_outbox"));
    REQUIRE(t_exec(c, "INSERT INTO alert_audit_outbox (id, organization_id, alert_id, action, details, at)"
                      " VALUES (900001, 'orgO', 'alert-o1', 'alert.opened', '{\"source\": \"test\"}', now()),"
                      " (900002, 'orgO', 'alert-o2', 'alert.resolved', '{}', now())"));
    CHECK(adb__alert_outbox_drain(h, c, 100, &n, err, sizeof(err)) == ADB_OK);
    CHECK(n == 2);
    CHECK(t_count(c, "SELECT count(*) FROM alert_audit_outbox") == 0);
    CHECK(t_count(c, "SELECT count(*) FROM audit_log WHERE organization_id = 'orgO' AND"
                     " action = 'alert.opened' AND target_resource_id = 'alert-o1' AND"
                     " principal_id = 'auditdb-alerts' AND target_resource_type = 'Alert'") == 1);
    /* the crash: the first row back, as if its DELETE never committed */
    REQUIRE(t_exec(c, "INSERT INTO alert_audit_outbox (id, organization_id, alert_id, action, details, at)"
                      " VALUES (900001, 'orgO', 'alert-o1', 'alert.opened', '{\"source\": \"test\"}', now())"));
    CHECK(adb__alert_outbox_drain(h, c, 100, &n, err, sizeof(err)) == ADB_OK);
    CHECK(t_count(c, "SELECT count(*) FROM alert_audit_outbox") == 0);
    CHECK(t_count(c, "SELECT count(*) FROM audit_log WHERE organization_id = 'orgO'"
                     " AND target_resource_id = 'alert-o1'") == 1);
    adb_close(h);
}

int main(void)
{
    if (!t_migrated_db("adb_test_alert_raise", ci, sizeof(ci)))
        return 1;
    c = PQconnectdb(ci);
    if (PQstatus(c) != CONNECTION_OK)
        return 1;
    RUN(open_fold_new_after_resolve);
    RUN(samples_capped_at_ten);
    RUN(hold_open);
    RUN(rollback_leaves_nothing);
    RUN(bad_triggers);
    RUN(silences_at_their_instants);
    RUN(expired_silence_stops_at_its_instant);
    RUN(concurrent_raises_make_one_alert);
    RUN(open_index_refuses_a_second_open_alert);
    RUN(outbox_exactly_once);
    PQfinish(c);
    return t_done();
}
