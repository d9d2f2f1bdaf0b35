/*
 * test_detect_rule.c - detection rules without a database (src/detect/rule.c,
 * state.c): the default definitions parse, refusals name the member at
 * fault, matching (modifiers, case, lists, exists, time of day across
 * midnight), conditions (monotone or decided at close), and the counters'
 * serialization round trip and its refusal of damaged bytes.
 */
#include "t.h"
#include "detect/rule.h"
#include "detect/state.h"

#include <stdlib.h>
#include <string.h>

static const char *FAILED_AUTH =
    "{\"title\": \"Failed authentication\", \"severity\": \"HIGH\", \"alertType\": \"SECURITY\","
    " \"source\": \"events\", \"selections\": {\"failure\": {\"action|contains\":"
    " \"auth.login.failure\", \"status\": \"failure\"}}, \"correlation\": {\"type\":"
    " \"event_count\", \"rules\": [\"failure\"], \"group-by\": [\"principal\"], \"timespan\":"
    " \"5m\", \"condition\": {\"gte\": 5}}}";

static bool parse(const char *json, adb__rule *r, char *field, char *err)
{
    return adb__rule_parse(json, r, field, 96, err, 256);
}

static void test_default_parses(void)
{
    adb__rule r;
    char f[96], e[256];
    REQUIRE(parse(FAILED_AUTH, &r, f, e));
    CHECK(r.type == ADB_DC_EVENT_COUNT);
    CHECK(r.timespan_ms == 300000);
    CHECK(r.has_lo && r.lo == 5 && !r.has_hi);
    CHECK(adb__rule_monotone(&r));
    CHECK(r.ngroup == 1 && r.group[0] == ADB_DF_PRINCIPAL);
    CHECK_STR(r.severity, "HIGH");
    adb__rule_clear(&r);
}

/* each refusal names the member at fault */
static void test_refusals(void)
{
    static const struct { const char *json, *field; } cases[] = {
        { "[]", "definition" },
        { "{\"title\": \"t\", \"severity\": \"HIGH\", \"bogus\": 1}", "bogus" },
        { "{\"severity\": \"HIGH\"}", "title" },
        { "{\"title\": \"t\", \"severity\": \"URGENT\"}", "severity" },
        { "{\"title\": \"t\", \"severity\": \"LOW\", \"source\": \"files\"}", "source" },
        { "{\"title\": \"t\", \"severity\": \"LOW\", \"selections\": {}}", "selections" },
        { "{\"title\": \"t\", \"severity\": \"LOW\", \"selections\": {\"a\": {\"colour\": \"x\"}}}",
          "selections.a.colour" },
        { "{\"title\": \"t\", \"severity\": \"LOW\", \"selections\": {\"a\": {\"action|regex\": \"x\"}}}",
          "selections.a.action|regex" },
        { "{\"title\": \"t\", \"severity\": \"LOW\", \"selections\": {\"a\": {\"action\": []}}}",
          "selections.a.action" },
        { "{\"title\": \"t\", \"severity\": \"LOW\", \"selections\": {\"a\": {\"action\": \"x\"}},"
          " \"correlation\": {\"type\": \"sum\"}}", "correlation.type" },
        { "{\"title\": \"t\", \"severity\": \"LOW\", \"selections\": {\"a\": {\"action\": \"x\"}},"
          " \"correlation\": {\"type\": \"event_count\", \"rules\": [\"b\"]}}", "correlation.rules[0]" },
        { "{\"title\": \"t\", \"severity\": \"LOW\", \"selections\": {\"a\": {\"action\": \"x\"}},"
          " \"correlation\": {\"type\": \"event_count\", \"timespan\": \"7m\", \"condition\": {\"gte\": 1}}}",
          "correlation.timespan" },
        { "{\"title\": \"t\", \"severity\": \"LOW\", \"selections\": {\"a\": {\"action\": \"x\"}},"
          " \"correlation\": {\"type\": \"event_count\", \"timespan\": \"2d\", \"condition\": {\"gte\": 1}}}",
          "correlation.timespan" },
        { "{\"title\": \"t\", \"severity\": \"LOW\", \"selections\": {\"a\": {\"action\": \"x\"}},"
          " \"correlation\": {\"type\": \"event_count\", \"timespan\": \"5m\"}}", "correlation.condition" },
        { "{\"title\": \"t\", \"severity\": \"LOW\", \"selections\": {\"a\": {\"action\": \"x\"}},"
          " \"correlation\": {\"type\": \"event_count\", \"timespan\": \"5m\", \"condition\": {\"gte\": -1}}}",
          "correlation.condition.gte" },
        { "{\"title\": \"t\", \"severity\": \"LOW\", \"selections\": {\"a\": {\"action\": \"x\"}},"
          " \"correlation\": {\"type\": \"event_count\", \"timespan\": \"5m\", \"condition\": {\"gte\": 5, \"lt\": 3}}}",
          "correlation.condition" },
        { "{\"title\": \"t\", \"severity\": \"LOW\", \"selections\": {\"a\": {\"action\": \"x\"}},"
          " \"correlation\": {\"type\": \"value_count\", \"timespan\": \"5m\", \"condition\": {\"gte\": 3}}}",
          "correlation.field" },
        { "{\"title\": \"t\", \"severity\": \"LOW\", \"selections\": {\"a\": {\"action\": \"x\"}, \"b\": {\"action\": \"y\"},"
          " \"c\": {\"action\": \"z\"}}, \"correlation\": {\"type\": \"temporal_ordered\", \"rules\": [\"b\"], \"timespan\": \"5m\"}}",
          "correlation.rules" },
        { "{\"title\": \"t\", \"severity\": \"LOW\", \"selections\": {\"a\": {\"action\": \"x\"}},"
          " \"correlation\": {\"type\": \"event_count\", \"timespan\": \"5m\", \"condition\": {\"gte\": 1}},"
          " \"timeOfDay\": {\"start\": \"25:00\", \"end\": \"06:00\"}}", "timeOfDay.start" },
        { "{\"title\": \"t\", \"severity\": \"LOW\", \"selections\": {\"a\": {\"action\": \"x\"}},"
          " \"correlation\": {\"type\": \"event_count\", \"timespan\": \"5m\", \"condition\": {\"gte\": 1},"
          " \"group-by\": [\"colour\"]}}", "correlation.group-by[0]" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        adb__rule r;
        char f[96], e[256];
        bool ok = parse(cases[i].json, &r, f, e);
        CHECK_MSG(!ok, "case %zu accepted", i);
        CHECK_MSG(strcmp(f, cases[i].field) == 0, "case %zu: field %s, expected %s (%s)", i, f,
                  cases[i].field, e);
        CHECK_MSG(e[0] != '\0', "case %zu: no message", i);
    }
}

static adb__drecord rec(const char *action, const char *status, const char *outcome, int minute)
{
    adb__drecord r = { 0 };
    r.f[ADB_DF_ACTION] = action;
    r.f[ADB_DF_STATUS] = status;
    r.f[ADB_DF_OUTCOME] = outcome;
    r.minute_of_day = minute;
    return r;
}

static void test_matching(void)
{
    adb__rule r;
    char f[96], e[256];
    REQUIRE(parse("{\"title\": \"t\", \"severity\": \"LOW\", \"selections\": {"
                  " \"denied\": {\"status\": \"failure\", \"outcome|contains\": [\"unauthorized\", \"access denied\"]},"
                  " \"prefix\": {\"action|startswith\": \"FHIR.\"},"
                  " \"suffix\": {\"action|endswith\": \".export\", \"outcome|exists\": false}},"
                  " \"correlation\": {\"type\": \"event_count\", \"timespan\": \"1h\", \"condition\": {\"gte\": 1}},"
                  " \"timeOfDay\": {\"start\": \"22:00\", \"end\": \"06:00\"}}",
                  &r, f, e));
    adb__drecord a = rec("x", "FAILURE", "Request UNAUTHORIZED here", 23 * 60);
    CHECK(adb__rule_match(&r, &a) == 1u);
    a = rec("x", "failure", "timeout", 23 * 60);
    CHECK(adb__rule_match(&r, &a) == 0);
    a = rec("fhir.patient.read", "success", NULL, 0);
    CHECK(adb__rule_match(&r, &a) == 2u);
    a = rec("data.export", "success", NULL, 5 * 60 + 59);
    CHECK(adb__rule_match(&r, &a) == 4u);
    a = rec("data.export", "success", "done", 5 * 60 + 59);
    CHECK(adb__rule_match(&r, &a) == 0); /* outcome present */
    a = rec("data.export", "success", NULL, 6 * 60);   /* 06:00: outside */
    CHECK(adb__rule_match(&r, &a) == 0);
    a = rec("data.export", "success", NULL, 21 * 60 + 59);
    CHECK(adb__rule_match(&r, &a) == 0);
    a = rec("data.export", "success", NULL, 22 * 60);
    CHECK(adb__rule_match(&r, &a) == 4u);
    a = rec(NULL, NULL, NULL, 23 * 60); /* absent fields match nothing but exists:false */
    CHECK(adb__rule_match(&r, &a) == 0);
    adb__rule_clear(&r);
}

static void test_conditions(void)
{
    adb__rule r;
    char f[96], e[256];
    REQUIRE(parse("{\"title\": \"t\", \"severity\": \"LOW\", \"selections\": {\"a\": {\"action\": \"x\"}},"
                  " \"correlation\": {\"type\": \"event_count\", \"timespan\": \"1h\","
                  " \"condition\": {\"gt\": 1, \"lt\": 4}}}", &r, f, e));
    CHECK(!adb__rule_monotone(&r));
    CHECK(!adb__rule_holds(&r, 1) && adb__rule_holds(&r, 2) && adb__rule_holds(&r, 3) &&
          !adb__rule_holds(&r, 4));
    adb__rule_clear(&r);
    REQUIRE(parse("{\"title\": \"t\", \"severity\": \"LOW\", \"selections\": {\"a\": {\"action\": \"x\"},"
                  " \"b\": {\"action\": \"y\"}}, \"correlation\": {\"type\": \"temporal\", \"timespan\": \"10m\"}}",
                  &r, f, e));
    CHECK(r.ncorr == 2 && r.lo == 2 && adb__rule_monotone(&r));
    adb__rule_clear(&r);
}

static void test_state_roundtrip(void)
{
    adb__dstate s, t;
    bool created;
    adb__dstate_init(&s);
    adb__dstate_init(&t);
    for (int i = 0; i < 500; i++) {
        char g[32];
        snprintf(g, sizeof(g), "user-%d", i % 50);
        adb__dentry *e = adb__dstate_get(&s, "org-a", i % 2 ? "failed-auth" : "velocity", 1 + i % 3,
                                         g, (int64_t)(i / 50) * 60000, (int64_t)(i / 50 + 1) * 60000,
                                         &created);
        REQUIRE(e);
        e->events++;
        e->measure = e->events;
        adb__dentry_add_sample(e, "0190c3a4-1b2c-7d3e-8f40-123456789abc");
        adb__dentry_add_value(e, (uint64_t)i * 7919u);
        if (i % 5 == 0)
            e->fired = true;
    }
    size_t len = 0;
    uint8_t *b = adb__dstate_save(&s, &len);
    REQUIRE(b);
    CHECK(adb__dstate_load(&t, b, len));
    CHECK(t.n == s.n);
    size_t len2 = 0;
    uint8_t *b2 = adb__dstate_save(&t, &len2);
    REQUIRE(b2);
    CHECK(len2 == len);
    /* the same entries (the order of buckets may differ): every one found with its counts */
    for (size_t i = 0; i < s.nb; i++)
        for (adb__dentry *e = s.b[i]; e; e = e->next) {
            adb__dentry *o = adb__dstate_get(&t, e->org, e->rule_id, e->version, e->group, e->wstart,
                                             e->wend, &created);
            CHECK(o && !created && o->events == e->events && o->fired == e->fired &&
                  o->nsamples == e->nsamples && o->nvals == e->nvals);
        }
    /* a cut or a flipped length: refused, empty */
    CHECK(!adb__dstate_load(&t, b, len - 1) && t.n == 0);
    b[8] ^= 0x7f;
    CHECK(!adb__dstate_load(&t, b, len) && t.n == 0);
    free(b);
    free(b2);
    adb__dstate_free(&s);
    adb__dstate_free(&t);
    CHECK(adb__dstate_live() == 0);
}

static void test_cap(void)
{
    adb__dstate s;
    bool created;
    adb__dstate_init(&s);
    adb__dstate_set_cap(10);
    int got = 0;
    for (int i = 0; i < 20; i++) {
        char g[16];
        snprintf(g, sizeof(g), "g%d", i);
        if (adb__dstate_get(&s, "o", "r", 1, g, 0, 60000, &created))
            got++;
    }
    CHECK(got == 10);
    /* an existing entry is still found at the cap */
    CHECK(adb__dstate_get(&s, "o", "r", 1, "g3", 0, 60000, &created) && !created);
    adb__dstate_set_cap(0);
    adb__dstate_free(&s);
}

int main(void)
{
    RUN(test_default_parses);
    RUN(test_refusals);
    RUN(test_matching);
    RUN(test_conditions);
    RUN(test_state_roundtrip);
    RUN(test_cap);
    return t_done();
}
