/*
 * test_tamper.c - tampering by direct SQL, each caught and named by verify:
 * a changed field, a change inside details, a deleted event, an inserted
 * event, two events swapped, a hash recomputed to match new content, the
 * newest events cut off. An untouched organization stays clean throughout.
 */
#include "tdb.h"

#include <inttypes.h>

#define MAXP 64

typedef struct seen {
    adb_verify_problem p[MAXP];
    int n;
} seen;

static void collect(void *ud, const adb_verify_problem *p)
{
    seen *s = ud;
    if (s->n < MAXP)
        s->p[s->n] = *p;
    s->n++;
}

static bool found(const seen *s, const char *kind, int64_t seq)
{
    for (int i = 0; i < s->n && i < MAXP; i++)
        if (!strcmp(s->p[i].kind, kind) && s->p[i].chain_seq == seq &&
            !strcmp(s->p[i].organization_id, "org-t"))
            return true;
    return false;
}

static void show(const seen *s)
{
    for (int i = 0; i < s->n && i < MAXP; i++)
        printf("#     %s seq %" PRId64 " %s: %s\n", s->p[i].organization_id, s->p[i].chain_seq,
               s->p[i].kind, s->p[i].message);
}

/* A fresh database with 10 events in org-t and 3 in org-u. */
static adb *setup(const char *name, char *ci, size_t len, PGconn **c)
{
    adb *db;
    char ev[300];
    adb_log_result r;

    if (!t_migrated_db(name, ci, len) || !(db = t_open(ci, NULL)))
        return NULL;
    for (int i = 1; i <= 13; i++) {
        snprintf(ev, sizeof(ev), "{\"timestamp\":\"2024-06-01T00:00:%02dZ\",\"action\":\"a%d\","
                 "\"status\":\"success\",\"organizationId\":\"%s\",\"principalId\":\"user-%d\","
                 "\"details\":{\"k\":\"v%d\",\"n\":%d.50}}", i, i, i <= 10 ? "org-t" : "org-u", i, i, i);
        if (adb_log_json(db, ev, strlen(ev), NULL, &r) != ADB_OK) {
            adb_close(db);
            return NULL;
        }
    }
    *c = PQconnectdb(ci);
    return db;
}

static int verify(adb *db, seen *s, long long *events)
{
    adb_verify_options o = { .record = true, .on_problem = collect, .ud = s };
    adb_verify_summary sum;
    char err[ADB_ERRMSG_MAX];

    s->n = 0;
    if (adb_verify(db, &o, &sum, err, sizeof(err)) != ADB_OK) {
        printf("# verify: %s\n", err);
        return -1;
    }
    *events = sum.events;
    return (int)sum.problems;
}

static bool org_u_clean(const seen *s)
{
    for (int i = 0; i < s->n && i < MAXP; i++)
        if (!strcmp(s->p[i].organization_id, "org-u"))
            return false;
    return true;
}

#define SCENARIO(name, sql, ...)                                                   \
    static void name(void)                                                         \
    {                                                                              \
        char ci[1024];                                                             \
        PGconn *c = NULL;                                                          \
        seen s;                                                                    \
        long long events = 0;                                                      \
        adb *db = setup("t_" #name, ci, sizeof(ci), &c);                           \
        REQUIRE(db);                                                               \
        CHECK(verify(db, &s, &events) == 0);                                       \
        CHECK(t_exec(c, sql));                                                     \
        CHECK(verify(db, &s, &events) > 0);                                        \
        bool ok_ = true;                                                           \
        const char *want_[] = { __VA_ARGS__, NULL };                               \
        for (int i = 0; want_[i]; i += 2)                                          \
            ok_ &= found(&s, want_[i], strtoll(want_[i + 1], NULL, 10));           \
        CHECK(ok_);                                                                \
        CHECK(org_u_clean(&s));                                                    \
        if (!ok_)                                                                  \
            show(&s);                                                              \
        PQfinish(c);                                                               \
        adb_close(db);                                                             \
    }

SCENARIO(changed_field,
         "UPDATE audit_log SET principal_id = 'mallory' WHERE organization_id = 'org-t' AND chain_seq = 3",
         "hash_mismatch", "3", "chain_link_mismatch", "3")

SCENARIO(changed_inside_details,
         "UPDATE audit_log SET details = jsonb_set(details, '{k}', '\"forged\"') WHERE organization_id = 'org-t' AND chain_seq = 4",
         "hash_mismatch", "4")

SCENARIO(changed_number_scale_inside_details,
         "UPDATE audit_log SET details = jsonb_set(details, '{n}', '5.5') WHERE organization_id = 'org-t' AND chain_seq = 5",
         "hash_mismatch", "5")

SCENARIO(deleted_event,
         "DELETE FROM audit_log WHERE organization_id = 'org-t' AND chain_seq = 5",
         "missing_events", "6", "chain_break", "6")

SCENARIO(swapped_events,
         "UPDATE audit_log SET chain_seq = CASE chain_seq WHEN 6 THEN 7 ELSE 6 END WHERE organization_id = 'org-t' AND chain_seq IN (6, 7)",
         "chain_link_mismatch", "6", "chain_link_mismatch", "7", "chain_break", "6")

SCENARIO(inserted_event,
         "INSERT INTO audit_log (id, \"timestamp\", organization_id, action, status, principal_id, hash, hash_algorithm, signature, event_version, data_classification, retention_policy, chain_seq, prev_chain_hash, chain_hash) "
         "SELECT 1000, \"timestamp\", organization_id, 'a-forged', status, principal_id, hash, hash_algorithm, signature, event_version, data_classification, retention_policy, chain_seq, prev_chain_hash, chain_hash FROM audit_log WHERE organization_id = 'org-t' AND chain_seq = 8",
         "duplicate_seq", "8")

SCENARIO(cut_off_tail,
         "DELETE FROM audit_log WHERE organization_id = 'org-t' AND chain_seq >= 9",
         "missing_tail", "10")

/* The attacker recomputes the (public) hash for the new content: the
 * signature, which needs the key, gives it away. */
static void recomputed_hash(void)
{
    char ci[1024];
    PGconn *c = NULL;
    seen s;
    long long events;
    adb *db = setup("t_recomputed_hash", ci, sizeof(ci), &c);
    char sql[512];

    REQUIRE(db);
    CHECK(t_exec(c, "UPDATE audit_log SET outcome_description = 'nothing happened' WHERE organization_id = 'org-t' AND chain_seq = 2"));
    CHECK(verify(db, &s, &events) > 0);
    REQUIRE(found(&s, "hash_mismatch", 2));
    const char *recomputed = NULL;
    for (int i = 0; i < s.n && i < MAXP; i++)
        if (!strcmp(s.p[i].kind, "hash_mismatch"))
            recomputed = s.p[i].expected;
    REQUIRE(recomputed && strlen(recomputed) == 64);
    snprintf(sql, sizeof(sql), "UPDATE audit_log SET hash = '%s' WHERE organization_id = 'org-t' AND chain_seq = 2", recomputed);
    CHECK(t_exec(c, sql));
    CHECK(verify(db, &s, &events) > 0);
    CHECK(!found(&s, "hash_mismatch", 2));
    CHECK(found(&s, "signature_invalid", 2));
    CHECK(found(&s, "chain_link_mismatch", 2));
    CHECK(org_u_clean(&s));
    /* recorded: the tampered event and the per-organization summaries */
    CHECK(t_count(c, "SELECT count(*) FROM audit_integrity_log WHERE verification_status = 'tampered' AND verification_details->>'kind' = 'signature_invalid' AND hash_verified IS NOT NULL AND expected_hash IS NOT NULL") == 1);
    CHECK(t_count(c, "SELECT count(*) FROM audit_integrity_log WHERE verification_status = 'success' AND verification_details->>'kind' = 'summary'") == 2); /* org-u, twice */
    /* one event: the library call names the same problems */
    adb_verify_problem probs[8];
    int n = 0;
    char err[ADB_ERRMSG_MAX];
    long long id = t_count(c, "SELECT id FROM audit_log WHERE organization_id = 'org-t' AND chain_seq = 2");
    CHECK(adb_verify_event(db, id, NULL, probs, 8, &n, err, sizeof(err)) == ADB_OK && n == 2);
    long long clean = t_count(c, "SELECT id FROM audit_log WHERE organization_id = 'org-t' AND chain_seq = 4");
    CHECK(adb_verify_event(db, clean, NULL, probs, 8, &n, err, sizeof(err)) == ADB_OK && n == 0);
    CHECK(adb_verify_event(db, clean, "org-u", probs, 8, &n, err, sizeof(err)) == ADB_ERR_NOT_FOUND);
    PQfinish(c);
    adb_close(db);
}

int main(void)
{
    RUN(changed_field);
    RUN(changed_inside_details);
    RUN(changed_number_scale_inside_details);
    RUN(deleted_event);
    RUN(swapped_events);
    RUN(inserted_event);
    RUN(cut_off_tail);
    RUN(recomputed_hash);
    return t_done();
}
