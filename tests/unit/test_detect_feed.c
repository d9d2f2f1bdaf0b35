/*
 * test_detect_feed.c - the detection engine's in-memory feed (src/detect/
 * feed.c, docs/alerts.md "The engine"): batches shown out of commit order
 * come out in chain order; a round gets only the run that starts right after
 * its cursor and has no hole (a hole, or nothing at the cursor, gives 0, so
 * that the round reads the table); positions at or before the cursor are
 * dropped; organizations are apart; the cap drops events rather than grow;
 * what a rule reads is copied (the writer's events are freed after the call),
 * NULL stays NULL, ids come out lowercase and event times floor to the
 * millisecond before 1970 too.
 */
#include <stdint.h>

#include "../../src/detect/feed.h"
#include "t.h"

static adb__event *ev_new(const char *org, int64_t seq, int64_t ts_us, const char *action)
{
    adb__event *e = calloc(1, sizeof(*e));
    if (!e)
        abort();
    e->f[ADB_F_ORGANIZATION_ID] = strdup(org);
    e->f[ADB_F_ACTION] = strdup(action);
    e->f[ADB_F_STATUS] = strdup("success");
    e->chain_seq = seq;
    e->ts_us = ts_us;
    snprintf(e->event_id, sizeof(e->event_id), "0190F3A2-0000-7000-8000-%012lld", (long long)seq);
    return e;
}

static void ev_free(adb__event *e)
{
    for (int i = 0; i < ADB_F__COUNT; i++)
        free(e->f[i]);
    free(e);
}

/* shows events seq lo..hi of org as one batch, then frees them */
static void show(adb__dfeed *f, const char *org, int64_t lo, int64_t hi)
{
    adb__event *evs[64] = { 0 };
    size_t n = 0;
    for (int64_t s = lo; s <= hi; s++)
        evs[n++] = ev_new(org, s, s * 1000000, "data.read");
    adb__dfeed_put(f, (const adb__event *const *)evs, n);
    for (size_t i = 0; i < n; i++)
        ev_free(evs[i]);
}

static void test_order_and_runs(void)
{
    adb__dfeed *f = adb__dfeed_new(1000);
    adb__dfeed_item **it;
    REQUIRE(f);
    show(f, "org-a", 11, 20); /* the second batch shown first */
    CHECK(adb__dfeed_take(f, "org-a", 0, 100, &it) == 0); /* 1..10 not held yet */
    CHECK(it == NULL);
    show(f, "org-a", 1, 10);
    show(f, "org-b", 1, 5);
    size_t n = adb__dfeed_take(f, "org-a", 0, 100, &it);
    CHECK(n == 20);
    for (size_t i = 0; i < n; i++)
        CHECK(it[i]->seq == (int64_t)i + 1);
    adb__dfeed_release(it, n);
    /* a hole: 21..25 never shown, 26..30 shown */
    show(f, "org-a", 26, 30);
    CHECK(adb__dfeed_take(f, "org-a", 20, 100, &it) == 0);
    /* the round read 21..27 from the table: 26 and 27 are dropped, 28..30 follow */
    n = adb__dfeed_take(f, "org-a", 27, 100, &it);
    CHECK(n == 3 && it[0]->seq == 28 && it[2]->seq == 30);
    adb__dfeed_release(it, n);
    /* at most max */
    n = adb__dfeed_take(f, "org-b", 0, 2, &it);
    CHECK(n == 2 && it[1]->seq == 2);
    adb__dfeed_release(it, n);
    n = adb__dfeed_take(f, "org-b", 2, 100, &it);
    CHECK(n == 3 && it[0]->seq == 3);
    adb__dfeed_release(it, n);
    CHECK(adb__dfeed_take(f, "org-c", 0, 100, &it) == 0);
    long long held, dropped, taken;
    adb__dfeed_counts(f, &held, &dropped, &taken);
    CHECK(held == 0 && dropped == 0 && taken == 28);
    adb__dfeed_free(f);
}

static void test_cap(void)
{
    adb__dfeed *f = adb__dfeed_new(8);
    adb__dfeed_item **it;
    REQUIRE(f);
    show(f, "org-a", 1, 12);
    long long held, dropped, taken;
    adb__dfeed_counts(f, &held, &dropped, &taken);
    CHECK(held == 8 && dropped == 4);
    size_t n = adb__dfeed_take(f, "org-a", 0, 100, &it);
    CHECK(n == 8 && it[7]->seq == 8);
    adb__dfeed_release(it, n);
    /* 9..12 were dropped: the round reads them from the table; what comes after follows */
    show(f, "org-a", 13, 14);
    CHECK(adb__dfeed_take(f, "org-a", 8, 100, &it) == 0);
    n = adb__dfeed_take(f, "org-a", 12, 100, &it);
    CHECK(n == 2);
    adb__dfeed_release(it, n);
    adb__dfeed_free(f); /* frees what it still holds (ASan checks) */
}

static void test_fields(void)
{
    adb__dfeed *f = adb__dfeed_new(100);
    adb__dfeed_item **it;
    REQUIRE(f);
    adb__event *e = ev_new("org-a", 1, -1500, "auth.login.failure"); /* 1969-12-31T23:59:59.9985Z */
    e->f[ADB_F_PRINCIPAL_ID] = strdup("practitioner-7");
    e->f[ADB_F_TARGET_RESOURCE_ID] = strdup("");
    adb__event *d = ev_new("org-a", 2, 2500, "x"); /* a duplicate carries chain_seq 0: never shown */
    d->chain_seq = 0;
    const adb__event *evs[] = { e, d };
    adb__dfeed_put(f, evs, 2);
    ev_free(e);
    ev_free(d);
    size_t n = adb__dfeed_take(f, "org-a", 0, 100, &it);
    REQUIRE(n == 1);
    CHECK(it[0]->ts_ms == -2);
    CHECK_STR(it[0]->event_id, "0190f3a2-0000-7000-8000-000000000001");
    CHECK_STR(it[0]->f[ADB_DFEED_ACTION], "auth.login.failure");
    CHECK_STR(it[0]->f[ADB_DFEED_PRINCIPAL], "practitioner-7");
    CHECK_STR(it[0]->f[ADB_DFEED_RESOURCE_ID], "");
    CHECK(it[0]->f[ADB_DFEED_OUTCOME] == NULL);
    CHECK(it[0]->f[ADB_DFEED_RESOURCE] == NULL);
    adb__dfeed_release(it, n);
    adb__dfeed_free(f);
}

int main(void)
{
    RUN(test_order_and_runs);
    RUN(test_cap);
    RUN(test_fields);
    return t_done();
}
