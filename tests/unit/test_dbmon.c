/*
 * test_dbmon.c - the database monitor's pure parts (src/monitor/dbmon.h): the
 * scrub that takes every literal out of a statement's text (quoted, E'',
 * dollar-quoted, numbers) while $n parameters, names with digits and quoted
 * names stay; and the findings made from crafted figures: each threshold
 * just under (nothing) and at (a finding with its key, severity and type),
 * descriptions free of statement text.
 */
#include "t.h"
#include "monitor/dbmon.h"

static void scrubbed(const char *in, const char *want)
{
    char buf[512];
    snprintf(buf, sizeof(buf), "%s", in);
    adb__dbmon_scrub(buf);
    CHECK_STR(buf, want);
}

static void test_scrub(void)
{
    scrubbed("SELECT * FROM t WHERE a = $1 AND b > $12", "SELECT * FROM t WHERE a = $1 AND b > $12");
    scrubbed("SELECT * FROM t WHERE name = 'alice' AND x = 42", "SELECT * FROM t WHERE name = ? AND x = ?");
    scrubbed("SELECT 'it''s' || E'a\\'b' || 'c'", "SELECT ? || ? || ?");
    scrubbed("SELECT $$secret$$, $tag$x $$ y$tag$, 1.5e-3, -7", "SELECT ?, ?, ?, -?");
    scrubbed("SELECT col2, t1.x3 FROM audit_log_2026_12 WHERE \"weird 99\" = 0x1F",
             "SELECT col2, t1.x3 FROM audit_log_2026_12 WHERE \"weird 99\" = ?");
    scrubbed("SELECT 'unterminated", "SELECT ?");
    scrubbed("SELECT $abc$never closed", "SELECT ?");
    scrubbed("", "");
    /* long text cut at ADB_DBMON_TEXT_MAX on a character boundary */
    char *big = malloc(ADB_DBMON_TEXT_MAX + 100);
    REQUIRE(big);
    memset(big, 'a', ADB_DBMON_TEXT_MAX + 99);
    big[ADB_DBMON_TEXT_MAX - 1] = '\xc3';
    big[ADB_DBMON_TEXT_MAX] = '\xa9';
    big[ADB_DBMON_TEXT_MAX + 99] = '\0';
    adb__dbmon_scrub(big);
    CHECK(strlen(big) == ADB_DBMON_TEXT_MAX - 1);
    free(big);
}

static json_t *J(const char *text)
{
    json_t *j = json_loads(text, 0, NULL);
    if (!j)
        printf("#   bad JSON in the test: %s\n", text);
    return j;
}

/* The keys of the findings, space-separated, with severity: "key=SEV ..." */
static void keys_of(json_t *f, char *out, size_t len)
{
    size_t i, w = 0;
    json_t *e;
    out[0] = '\0';
    json_array_foreach(f, i, e) {
        int n = snprintf(out + w, len - w, "%s%s=%s", i ? " " : "",
                         json_string_value(json_object_get(e, "key")),
                         json_string_value(json_object_get(e, "severity")));
        if (n < 0 || (size_t)n >= len - w)
            return;
        w += (size_t)n;
    }
}

static void test_findings(void)
{
    adb__dbmon_opts o;
    adb__dbmon_opts_default(&o);
    o.slow_ms = 100;
    char got[2048];

    /* just under every threshold: no finding */
    json_t *db = J("{\"database\": \"d\", \"xidAge\": 399999999, \"autovacuumFreezeMaxAge\": 200000000}");
    json_t *tables = J("[{\"schema\": \"public\", \"table\": \"t\", \"deadTuples\": 9999, "
                       "\"autovacuumDue\": true, \"autovacuumLagSeconds\": 99999, "
                       "\"bloatBytesEstimate\": 104857599},"
                       "{\"schema\": \"public\", \"table\": \"u\", \"deadTuples\": 50000, "
                       "\"autovacuumDue\": true, \"autovacuumLagSeconds\": 3599}]");
    json_t *indexes = J("[{\"schema\": \"public\", \"table\": \"t\", \"index\": \"i1\", \"unused\": true, "
                        "\"sizeBytes\": 1048575, \"duplicateOf\": null}]");
    json_t *slow = J("[]");
    json_t *f = adb__dbmon_findings(db, tables, indexes, slow, NULL, &o);
    REQUIRE(f);
    keys_of(f, got, sizeof(got));
    CHECK_STR(got, "");
    json_decref(f);
    json_decref(db);
    json_decref(tables);
    json_decref(indexes);
    json_decref(slow);

    /* at every threshold */
    db = J("{\"database\": \"d\", \"xidAge\": 400000000, \"autovacuumFreezeMaxAge\": 200000000}");
    tables = J("[{\"schema\": \"public\", \"table\": \"t\", \"deadTuples\": 10000, "
               "\"autovacuumDue\": true, \"autovacuumLagSeconds\": 3600, \"autovacuumThreshold\": 50, "
               "\"bloatBytesEstimate\": 104857600}]");
    indexes = J("[{\"schema\": \"public\", \"table\": \"t\", \"index\": \"i1\", \"unused\": true, "
                "\"sizeBytes\": 1048576, \"duplicateOf\": null},"
                "{\"schema\": \"public\", \"table\": \"t\", \"index\": \"i2\", \"unused\": true, "
                "\"sizeBytes\": 8192, \"duplicateOf\": \"i0\"}]");
    slow = J("[{\"queryId\": \"-42\", \"calls\": 3, \"meanMs\": 100.0, \"query\": \"SELECT secret\"},"
             "{\"queryId\": \"7\", \"calls\": 1, \"meanMs\": 1000.0, \"query\": \"SELECT x\"}]");
    json_t *sugg = J("[{\"schema\": \"public\", \"table\": \"t\", \"columns\": [\"a\", \"b\"], "
                     "\"costBefore\": 100.0, \"costAfter\": 5.0, \"queryIds\": [\"7\"]}]");
    f = adb__dbmon_findings(db, tables, indexes, slow, sugg, &o);
    REQUIRE(f);
    keys_of(f, got, sizeof(got));
    CHECK_STR(got, "dbmon/xid-age/d=MEDIUM dbmon/autovacuum-lag/public.t=MEDIUM "
                   "dbmon/bloat/public.t=LOW dbmon/unused-index/public.i1=LOW "
                   "dbmon/duplicate-index/public.i2=LOW dbmon/slow-query/-42=MEDIUM "
                   "dbmon/slow-query/7=HIGH dbmon/missing-index/public.t(a,b)=MEDIUM");
    char *all = json_dumps(f, 0);
    CHECK(all && !strstr(all, "SELECT"));
    free(all);
    json_t *e = json_array_get(f, 7);
    CHECK_STR(json_string_value(json_object_get(e, "type")), "PERFORMANCE");
    CHECK(json_real_value(json_object_get(json_object_get(e, "metadata"), "costAfter")) == 5.0);
    CHECK_STR(json_string_value(json_object_get(json_array_get(f, 0), "type")), "SYSTEM");
    json_decref(f);
    json_decref(db);

    /* transaction-id age: HIGH at a billion, CRITICAL at 1.5 billion */
    db = J("{\"database\": \"d\", \"xidAge\": 1000000000, \"autovacuumFreezeMaxAge\": 200000000}");
    f = adb__dbmon_findings(db, NULL, NULL, NULL, NULL, &o);
    keys_of(f, got, sizeof(got));
    CHECK_STR(got, "dbmon/xid-age/d=HIGH");
    json_decref(f);
    json_decref(db);
    db = J("{\"database\": \"d\", \"xidAge\": 1500000000, \"autovacuumFreezeMaxAge\": 200000000}");
    f = adb__dbmon_findings(db, NULL, NULL, NULL, NULL, &o);
    keys_of(f, got, sizeof(got));
    CHECK_STR(got, "dbmon/xid-age/d=CRITICAL");
    json_decref(f);
    json_decref(db);
    json_decref(tables);
    json_decref(indexes);
    json_decref(slow);
    json_decref(sugg);
}

int main(void)
{
    RUN(test_scrub);
    RUN(test_findings);
    return t_failures != 0;
}
