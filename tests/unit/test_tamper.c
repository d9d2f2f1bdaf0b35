/*
 * test_tamper.c - tampering by direct SQL, each caught and named by verify:
 * a changed field, a change inside details, a deleted event, an inserted
 * event, two events swapped, a hash recomputed to match new content, the
 * newest events cut off; the chain head deleted or moved back (the writer
 * then refuses to append rather than take a position twice). An untouched
 * organization stays clean throughout. Events' ids: swapped or changed on
 * events hashed with them (sha256-c14n-v2/v3) and on events stored before ids
 * (sha256-c14n-v1, whose id is derived from the chain link). Commitments
 * (sha256-c14n-v3): a changed or swapped commitment key, a key deleted, a
 * value erased without a signed erasure record, and the same erasure
 * accepted once a record signed with K_sig exists; events stored under
 * sha256-c14n-v2 keep verifying.
 */
#include "tdb.h"
#include "../../src/core/adb_internal.h"
#include "../../src/integrity/row.h"
#include "../../src/integrity/commit.h"
#include "../../src/core/util.h"
#include "../../src/log/integrator.h"
#include "../../src/compliance/gdpr.h"

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

/* The database refuses the insertion itself (a position is taken once,
 * migration 0013); a superuser who disables that still gets caught. */
SCENARIO(inserted_event,
         "ALTER TABLE audit_log DISABLE TRIGGER audit_log_chain_positions; "
         "INSERT INTO audit_log (id, \"timestamp\", organization_id, action, status, principal_id, hash, hash_algorithm, signature, event_version, data_classification, retention_policy, chain_seq, prev_chain_hash, chain_hash) "
         "SELECT 1000, \"timestamp\", organization_id, 'a-forged', status, principal_id, hash, hash_algorithm, signature, event_version, data_classification, retention_policy, chain_seq, prev_chain_hash, chain_hash FROM audit_log WHERE organization_id = 'org-t' AND chain_seq = 8; "
         "ALTER TABLE audit_log ENABLE TRIGGER audit_log_chain_positions",
         "duplicate_seq", "8")

/* An id is part of what the hash covers: two events' ids swapped (through a
 * spare id, as the unique index demands), and one id replaced. */
SCENARIO(swapped_ids,
         "CREATE TEMP TABLE x AS SELECT chain_seq, event_id FROM audit_log WHERE organization_id = 'org-t' AND chain_seq IN (2, 9); "
         "UPDATE audit_log SET event_id = gen_random_uuid() WHERE organization_id = 'org-t' AND chain_seq IN (2, 9); "
         "UPDATE audit_log l SET event_id = x.event_id FROM x WHERE l.organization_id = 'org-t' AND l.chain_seq = 11 - x.chain_seq",
         "hash_mismatch", "2", "hash_mismatch", "9")

SCENARIO(changed_id,
         "UPDATE audit_log SET event_id = gen_random_uuid() WHERE organization_id = 'org-t' AND chain_seq = 5",
         "hash_mismatch", "5")

/* sha256-c14n-v3: the commitment key is what the commitments are made
 * with: replaced, or swapped between two events, the hash no longer holds. */
SCENARIO(changed_commit_key,
         "UPDATE audit_log SET commit_key = encode(sha256('forged'::bytea), 'hex') WHERE organization_id = 'org-t' AND chain_seq = 3",
         "hash_mismatch", "3")

SCENARIO(swapped_commit_keys,
         "CREATE TEMP TABLE x AS SELECT chain_seq, commit_key FROM audit_log WHERE organization_id = 'org-t' AND chain_seq IN (2, 9); "
         "UPDATE audit_log l SET commit_key = x.commit_key FROM x WHERE l.organization_id = 'org-t' AND l.chain_seq = 11 - x.chain_seq",
         "hash_mismatch", "2", "hash_mismatch", "9")

/* The key deleted, the values kept: nothing left to check them with. */
SCENARIO(deleted_commit_key,
         "UPDATE audit_log SET commit_key = NULL WHERE organization_id = 'org-t' AND chain_seq = 4",
         "commit_key_missing", "4", "erased_without_record", "4")

/* A value and the key erased by hand, as a careless erasure would. */
SCENARIO(erased_by_hand,
         "UPDATE audit_log SET principal_id = NULL, commit_key = NULL WHERE organization_id = 'org-t' AND chain_seq = 6",
         "erased_without_record", "6")

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
    /* recorded with what was found, never with the keyed value that would make the forged
     * row pass (a superuser reads this table: it must not be a signing oracle) */
    CHECK(t_count(c, "SELECT count(*) FROM audit_integrity_log WHERE verification_status = 'tampered' AND verification_details->>'kind' = 'signature_invalid' AND hash_verified IS NOT NULL AND expected_hash IS NULL") == 1);
    CHECK(t_count(c, "SELECT count(*) FROM audit_integrity_log WHERE verification_details->>'kind' IN ('signature_invalid', 'chain_link_mismatch', 'event_id_mismatch', 'erasure_record_invalid') AND expected_hash IS NOT NULL") == 0);
    for (int i = 0; i < s.n && i < MAXP; i++)
        if (!strcmp(s.p[i].kind, "signature_invalid") || !strcmp(s.p[i].kind, "chain_link_mismatch"))
            CHECK(s.p[i].expected[0] == '\0');
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

/* ---- lawful erasure (docs/integrity.md, section 8) ---------------------- */

static bool hex32(const char *hex, unsigned char out[32])
{
    if (!hex || strlen(hex) != 64)
        return false;
    for (int i = 0; i < 32; i++) {
        int hi = adb__hexval(hex[2 * i]), lo = adb__hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return true;
}

static int verify_sum(adb *db, seen *s, adb_verify_summary *sum)
{
    adb_verify_options o = { .record = true, .on_problem = collect, .ud = s };
    char err[ADB_ERRMSG_MAX];

    s->n = 0;
    if (adb_verify(db, &o, sum, err, sizeof(err)) != ADB_OK) {
        printf("# verify: %s\n", err);
        return -1;
    }
    return (int)sum->problems;
}

/* Erases org-t's event 5's principalId the way issue 17 will: the value and
 * the event key deleted, the other fields' keys kept (commit_field_keys)
 * with the erased field marked null. Without a record that is tampering;
 * with a record signed with K_sig it is a lawful erasure, and any other
 * change to the event is still caught. */
static void lawful_erasure(void)
{
    char ci[1024], eid[40], sql[1024];
    PGconn *c = NULL;
    seen s;
    adb_verify_summary sum;
    adb *db = setup("t_lawful_erasure", ci, sizeof(ci), &c);

    REQUIRE(db);
    const adb__keys *k = adb__db_keys(db);
    PGresult *r = PQexec(c, "SELECT event_id, commit_key, hash_algorithm, hash FROM audit_log"
                            " WHERE organization_id = 'org-t' AND chain_seq = 5");
    REQUIRE(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1);
    CHECK_STR(PQgetvalue(r, 0, 2), "sha256-c14n-v3");
    adb__fmt(eid, sizeof(eid), "%s", PQgetvalue(r, 0, 0));
    char hash_before[65];
    adb__fmt(hash_before, sizeof(hash_before), "%s", PQgetvalue(r, 0, 3));
    unsigned char key[32], fk[32];
    adb__hmac_key ek;
    REQUIRE(hex32(PQgetvalue(r, 0, 1), key));
    PQclear(r);
    REQUIRE(adb__hmac_key_init(&ek, key, 32));
    char fk_k[65], fk_n[65], commit_p[65];
    REQUIRE(adb__commit_field_key(&ek, eid, "details.k", 9, fk));
    adb__hex(fk, 32, fk_k);
    REQUIRE(adb__commit_field_key(&ek, eid, "details.n", 9, fk));
    adb__hex(fk, 32, fk_n);
    REQUIRE(adb__commit_field_key(&ek, eid, "principalId", 11, fk));
    REQUIRE(adb__commitment(fk, eid, "principalId", 11, "\"user-5\"", 8, commit_p));

    /* the erasure, without a record */
    snprintf(sql, sizeof(sql),
             "UPDATE audit_log SET principal_id = NULL, commit_key = NULL, commit_field_keys ="
             " '{\"details.k\":\"%s\",\"details.n\":\"%s\",\"principalId\":null}'"
             " WHERE organization_id = 'org-t' AND chain_seq = 5", fk_k, fk_n);
    CHECK(t_exec(c, sql));
    CHECK(verify_sum(db, &s, &sum) > 0);
    CHECK(found(&s, "erased_without_record", 5) && !found(&s, "hash_mismatch", 5));
    CHECK(!strcmp(s.p[0].kind, "erased_without_record") && !strcmp(s.p[0].found, "principalId"));
    CHECK(org_u_clean(&s));

    /* a record not signed with K_sig is no record */
    adb__erasure_record rec = { .organization_id = "org-t", .event_id = eid,
                                .field = "principalId", .commitment = commit_p,
                                .request_id = "dsr-1", .legal_basis = "GDPR Art. 17(1)(a)",
                                .reason = NULL, .erased_at = "2026-12-07T09:00:00.000000Z" };
    char sig[65];
    REQUIRE(adb__erasure_sign(&k->sig_hmac, &rec, sig));
    const char *forged = "0000000000000000000000000000000000000000000000000000000000000000";
    const char *p[] = { eid, commit_p, forged };
    const char *ins = "INSERT INTO audit_erasure (organization_id, event_id, field, commitment,"
                      " request_id, legal_basis, erased_at, signature) VALUES ('org-t', $1::uuid,"
                      " 'principalId', $2, 'dsr-1', 'GDPR Art. 17(1)(a)',"
                      " '2026-12-07T09:00:00Z', $3)";
    r = PQexecParams(c, ins, 3, NULL, p, NULL, NULL, 0);
    CHECK(PQresultStatus(r) == PGRES_COMMAND_OK);
    PQclear(r);
    CHECK(verify_sum(db, &s, &sum) > 0);
    CHECK(found(&s, "erasure_record_invalid", 5) && found(&s, "erased_without_record", 5));

    /* the signed record: a lawful erasure, the hash and chain untouched */
    CHECK(t_exec(c, "DELETE FROM audit_erasure"));
    p[2] = sig;
    r = PQexecParams(c, ins, 3, NULL, p, NULL, NULL, 0);
    CHECK(PQresultStatus(r) == PGRES_COMMAND_OK);
    PQclear(r);
    CHECK(verify_sum(db, &s, &sum) == 0 && sum.erased_events == 1 && sum.events == 13);
    if (s.n)
        show(&s);
    CHECK(t_count(c, "SELECT count(*) FROM audit_log WHERE principal_id = 'user-5'") == 0);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM audit_log WHERE hash = '%s'", hash_before);
    CHECK(t_count(c, sql) == 1);
    adb_verify_problem probs[8];
    int n = -1;
    char err[ADB_ERRMSG_MAX];
    long long id = t_count(c, "SELECT id FROM audit_log WHERE organization_id = 'org-t' AND chain_seq = 5");
    CHECK(adb_verify_event(db, id, NULL, probs, 8, &n, err, sizeof(err)) == ADB_OK && n == 0);

    /* the record names the field: the same record does not cover another one */
    CHECK(t_exec(c, "UPDATE audit_log SET details = details - 'k' WHERE organization_id = 'org-t' AND chain_seq = 5"));
    CHECK(verify_sum(db, &s, &sum) > 0 && found(&s, "hash_mismatch", 5));
    /* any other change to the erased event is still tampering */
    CHECK(t_exec(c, "UPDATE audit_log SET details = jsonb_set(details, '{k}', '\"v5\"') WHERE organization_id = 'org-t' AND chain_seq = 5"));
    CHECK(verify_sum(db, &s, &sum) == 0);
    CHECK(t_exec(c, "UPDATE audit_log SET details = jsonb_set(details, '{k}', '\"forged\"') WHERE organization_id = 'org-t' AND chain_seq = 5"));
    CHECK(verify_sum(db, &s, &sum) > 0 && found(&s, "hash_mismatch", 5));
    CHECK(t_exec(c, "UPDATE audit_log SET details = jsonb_set(details, '{k}', '\"v5\"') WHERE organization_id = 'org-t' AND chain_seq = 5"));
    /* a kept field's key replaced */
    CHECK(t_exec(c, "UPDATE audit_log SET commit_field_keys = jsonb_set(commit_field_keys, '{details.n}', to_jsonb(encode(sha256('x'::bytea), 'hex'))) WHERE organization_id = 'org-t' AND chain_seq = 5"));
    CHECK(verify_sum(db, &s, &sum) > 0 && found(&s, "hash_mismatch", 5));
    /* the record copied to another event: bound to its event id, no use there */
    CHECK(t_exec(c, "UPDATE audit_log SET principal_id = NULL, commit_key = NULL,"
                    " commit_field_keys = '{\"principalId\":null}' WHERE organization_id = 'org-t' AND chain_seq = 7;"
                    " INSERT INTO audit_erasure (organization_id, event_id, field, commitment, request_id, legal_basis, erased_at, signature)"
                    " SELECT 'org-t', l.event_id, e.field, e.commitment, e.request_id, e.legal_basis, e.erased_at, e.signature"
                    " FROM audit_erasure e, audit_log l WHERE l.organization_id = 'org-t' AND l.chain_seq = 7"));
    CHECK(verify_sum(db, &s, &sum) >= 2 && found(&s, "erasure_record_invalid", 7));
    PQfinish(c);
    adb_close(db);
}

/* ---- the chain head is not trusted blindly (issue 14, item 2) ---------- */

/* A position is taken once across every partition: a row at a taken
 * position is refused by the database, whatever month it claims. */
static void taken_position_refused(void)
{
    char ci[1024];
    PGconn *c = NULL;
    adb *db = setup("t_taken_position", ci, sizeof(ci), &c);

    REQUIRE(db);
    CHECK(t_exec(c, "SELECT auditdb_ensure_partition('2024-07-01')"));
    PGresult *r = PQexec(c, "INSERT INTO audit_log (id, \"timestamp\", organization_id, action, status, chain_seq, prev_chain_hash, chain_hash) "
                            "SELECT 1001, \"timestamp\" + interval '1 month', organization_id, 'a-forged', status, chain_seq, prev_chain_hash, repeat('f', 64) "
                            "FROM audit_log WHERE organization_id = 'org-t' AND chain_seq = 8");
    CHECK(PQresultStatus(r) == PGRES_FATAL_ERROR);
    CHECK(strstr(PQresultErrorMessage(r), "already taken") != NULL);
    PQclear(r);
    CHECK(t_count(c, "SELECT count(*) FROM audit_log WHERE organization_id = 'org-t' AND chain_seq = 8") == 1);
    PQfinish(c);
    adb_close(db);
}

/* After the tampering sql, a legitimate event for org-t (written by a fresh
 * handle, as a restarted server would, and by the running one): refused
 * loudly, no position taken twice, and verify names the tampering, never
 * the legitimate event. want_kind/want_seq: what verify must report. */
static void head_tampered(const char *name, const char *sql, const char *want_kind,
                          int64_t want_seq)
{
    char ci[1024], ev[300];
    PGconn *c = NULL;
    seen s;
    long long events = 0;
    adb_log_result r;
    adb *db = setup(name, ci, sizeof(ci), &c);

    REQUIRE(db);
    CHECK(verify(db, &s, &events) == 0);
    long long before = t_count(c, "SELECT count(*) FROM audit_log WHERE organization_id = 'org-t'");
    CHECK(t_exec(c, sql));
    CHECK(verify(db, &s, &events) > 0);
    CHECK(found(&s, want_kind, want_seq));
    if (!found(&s, want_kind, want_seq))
        show(&s);
    CHECK(org_u_clean(&s));

    adb *fresh = t_open(ci, NULL);
    REQUIRE(fresh);
    adb *writers[] = { fresh, db };
    for (int k = 0; k < 2; k++) {
        snprintf(ev, sizeof(ev), "{\"timestamp\":\"2024-06-02T00:00:0%dZ\",\"action\":\"legit\","
                 "\"status\":\"success\",\"organizationId\":\"org-t\",\"principalId\":\"u\"}", k);
        CHECK(adb_log_json(writers[k], ev, strlen(ev), NULL, &r) != ADB_OK);
        CHECK(strstr(r.message, "refusing to append") != NULL);
        if (k == 0)
            printf("# refused: %s\n", r.message);
    }
    CHECK(t_count(c, "SELECT count(*) FROM audit_log WHERE action = 'legit'") == 0);
    CHECK(t_count(c, "SELECT count(*) FROM (SELECT 1 FROM audit_log WHERE organization_id = 'org-t'"
                     " GROUP BY chain_seq HAVING count(*) > 1) d") == 0);
    CHECK(t_count(c, "SELECT count(*) FROM audit_log WHERE organization_id = 'org-t'") <= before);
    CHECK(verify(db, &s, &events) > 0);
    CHECK(found(&s, want_kind, want_seq));
    for (int i = 0; i < s.n && i < MAXP; i++)
        CHECK(strcmp(s.p[i].kind, "duplicate_seq") != 0 && strcmp(s.p[i].kind, "chain_break") != 0);
    /* the other organization still writes */
    CHECK(adb_log_json(fresh, "{\"timestamp\":\"2024-06-02T00:00:00Z\",\"action\":\"ok\",\"status\":\"success\",\"organizationId\":\"org-u\",\"principalId\":\"u\"}",
                       strlen("{\"timestamp\":\"2024-06-02T00:00:00Z\",\"action\":\"ok\",\"status\":\"success\",\"organizationId\":\"org-u\",\"principalId\":\"u\"}"),
                       NULL, &r) == ADB_OK && r.chain_seq == 4);
    adb_close(fresh);
    PQfinish(c);
    adb_close(db);
}

static void head_deleted_with_newest_events(void)
{
    head_tampered("t_head_deleted_newest",
                  "DELETE FROM audit_log WHERE organization_id = 'org-t' AND chain_seq >= 9;"
                  " DELETE FROM audit_chain_head WHERE organization_id = 'org-t'",
                  "missing_head", 8);
}

static void head_deleted_with_all_live_events(void)
{
    head_tampered("t_head_deleted_all",
                  "DELETE FROM audit_log WHERE organization_id = 'org-t';"
                  " DELETE FROM audit_chain_head WHERE organization_id = 'org-t'",
                  "missing_events", 10);
}

static void head_one_behind(void)
{
    head_tampered("t_head_one_behind",
                  "UPDATE audit_chain_head SET last_seq = 9, last_chain_hash = (SELECT chain_hash"
                  " FROM audit_log WHERE organization_id = 'org-t' AND chain_seq = 9)"
                  " WHERE organization_id = 'org-t'",
                  "head_behind", 9);
}

/* Rewrites org-t's chain as it would have been stored under alg:
 * sha256-c14n-v1 (before ids: no "id" member, ids derived by the
 * migration's SQL function) or sha256-c14n-v2 (before commitments: the
 * values in place, no commitment key), signed and linked with the key. */
static bool make_old_chain(adb *db, PGconn *c, const char *alg)
{
    bool v1 = !strcmp(alg, "sha256-c14n-v1");
    const adb__keys *k = adb__db_keys(db);
    char prev[65];
    bool ok = true;

    memcpy(prev, adb__chain_genesis, 65);
    for (int seq = 1; seq <= 10 && ok; seq++) {
        char sql[1024], sig[65];
        snprintf(sql, sizeof(sql), "SELECT " ADB__ROW_COLUMNS " FROM audit_log"
                 " WHERE organization_id = 'org-t' AND chain_seq = %d", seq);
        PGresult *r = PQexec(c, sql);
        if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
            PQclear(r);
            return false;
        }
        const char *v[ADB__ROW_NCOLS];
        for (int i = 0; i < ADB__ROW_NCOLS; i++)
            v[i] = PQgetisnull(r, 0, i) ? NULL : PQgetvalue(r, 0, i);
        v[ADB_COL_HASH_ALGORITHM] = alg;
        v[ADB_COL_PREV_CHAIN_HASH] = prev;
        v[ADB_COL_COMMIT_KEY] = NULL;
        adb__row_expect e;
        ok = adb__row_recompute(k, v, &e) == 1;
        adb__signature(k, e.content, sig);
        const char *p[] = { e.content, sig, prev, e.link, v[ADB_COL_ID], alg };
        PGresult *u = PQexecParams(c, v1 ? "UPDATE audit_log SET hash_algorithm = $6, commit_key = NULL,"
                                           " hash = $1, signature = $2, prev_chain_hash = $3,"
                                           " chain_hash = $4::text,"
                                           " event_id = auditdb_event_id_derive(\"timestamp\", $4::text)"
                                           " WHERE id = $5::bigint"
                                         : "UPDATE audit_log SET hash_algorithm = $6, commit_key = NULL,"
                                           " hash = $1, signature = $2, prev_chain_hash = $3,"
                                           " chain_hash = $4::text WHERE id = $5::bigint",
                                   6, NULL, p, NULL, NULL, 0);
        ok &= PQresultStatus(u) == PGRES_COMMAND_OK && !strcmp(PQcmdTuples(u), "1");
        if (!ok)
            printf("# %s", PQresultErrorMessage(u));
        PQclear(u);
        PQclear(r);
        memcpy(prev, e.link, 65);
    }
    /* the chain just rewritten is one from before the tree (docs/log.md): the tree
     * built from the events as first written would rightly call it a rewrite */
    adb__integrator_sync(adb__db_integrator(db), 10000);
    ok &= t_exec(c, "ALTER TABLE audit_tree DISABLE TRIGGER audit_tree_append_only; "
                    "ALTER TABLE audit_tree_tile DISABLE TRIGGER audit_tree_tile_append_only; "
                    "ALTER TABLE audit_tree_bundle DISABLE TRIGGER audit_tree_bundle_append_only; "
                    "DELETE FROM audit_tree_tile WHERE organization_id = 'org-t'; "
                    "DELETE FROM audit_tree_bundle WHERE organization_id = 'org-t'; "
                    "DELETE FROM audit_tree WHERE organization_id = 'org-t'; "
                    "ALTER TABLE audit_tree ENABLE TRIGGER audit_tree_append_only; "
                    "ALTER TABLE audit_tree_tile ENABLE TRIGGER audit_tree_tile_append_only; "
                    "ALTER TABLE audit_tree_bundle ENABLE TRIGGER audit_tree_bundle_append_only");
    const char *p[] = { prev };
    PGresult *u = PQexecParams(c, "UPDATE audit_chain_head SET last_chain_hash = $1"
                                  " WHERE organization_id = 'org-t';"
                                  , 1, NULL, p, NULL, NULL, 0);
    ok &= PQresultStatus(u) == PGRES_COMMAND_OK;
    PQclear(u);
    u = PQexecParams(c, "UPDATE audit_chain_position SET last_chain_hash = $1"
                        " WHERE organization_id = 'org-t' AND last_seq = 10", 1, NULL, p, NULL, NULL, 0);
    ok &= PQresultStatus(u) == PGRES_COMMAND_OK;
    PQclear(u);
    return ok;
}

/* Events stored before ids still verify (their derived id, the same in SQL
 * and in C); their ids swapped are named as such. */
static void ids_of_events_stored_before_ids(void)
{
    char ci[1024];
    PGconn *c = NULL;
    seen s;
    long long events;
    adb *db = setup("t_ids_before", ci, sizeof(ci), &c);

    REQUIRE(db);
    REQUIRE(make_old_chain(db, c, "sha256-c14n-v1"));
    CHECK(verify(db, &s, &events) == 0 && events == 13);
    if (s.n)
        show(&s);
    CHECK(t_exec(c, "CREATE TEMP TABLE x AS SELECT chain_seq, event_id FROM audit_log WHERE organization_id = 'org-t' AND chain_seq IN (3, 4); "
                    "UPDATE audit_log SET event_id = gen_random_uuid() WHERE organization_id = 'org-t' AND chain_seq IN (3, 4); "
                    "UPDATE audit_log l SET event_id = x.event_id FROM x WHERE l.organization_id = 'org-t' AND l.chain_seq = 7 - x.chain_seq"));
    CHECK(verify(db, &s, &events) == 2);
    CHECK(found(&s, "event_id_mismatch", 3) && found(&s, "event_id_mismatch", 4));
    if (s.n != 2)
        show(&s);
    PQfinish(c);
    adb_close(db);
}

/* Events stored under sha256-c14n-v2 (values in place, no commitment key)
 * keep verifying next to v3 ones; a change to their values is caught. */
static void events_stored_before_commitments(void)
{
    char ci[1024];
    PGconn *c = NULL;
    seen s;
    long long events;
    adb *db = setup("t_v2_before", ci, sizeof(ci), &c);

    REQUIRE(db);
    REQUIRE(make_old_chain(db, c, "sha256-c14n-v2"));
    CHECK(t_count(c, "SELECT count(*) FROM audit_log WHERE hash_algorithm = 'sha256-c14n-v2' AND commit_key IS NULL") == 10);
    CHECK(t_count(c, "SELECT count(*) FROM audit_log WHERE hash_algorithm = 'sha256-c14n-v3' AND commit_key IS NOT NULL") == 3);
    CHECK(verify(db, &s, &events) == 0 && events == 13);
    if (s.n)
        show(&s);
    CHECK(t_exec(c, "UPDATE audit_log SET principal_id = 'mallory' WHERE organization_id = 'org-t' AND chain_seq = 3"));
    CHECK(verify(db, &s, &events) > 0 && found(&s, "hash_mismatch", 3));
    PQfinish(c);
    adb_close(db);
}

/* Events stored before v3 (values in the hash) erased lawfully with residual
 * records (docs/integrity.md 8b): they keep verifying, counted as erased;
 * then a second erasure of the same event builds on the first; a changed
 * erased event is still caught. */
static void residual_erasure(const char *alg)
{
    char ci[1024], err[ADB_ERRMSG_MAX];
    PGconn *c = NULL;
    seen s;
    adb_verify_summary sum;
    adb *db = setup(!strcmp(alg, "sha256-c14n-v1") ? "t_resid_v1" : "t_resid_v2", ci, sizeof(ci), &c);

    REQUIRE(db);
    REQUIRE(make_old_chain(db, c, alg));
    CHECK(verify_sum(db, &s, &sum) == 0);
    adb__gdpr_op op = { .org = "org-t", .subject = "user-3", .erase = true,
                        .request_id = "11111111-1111-4111-8111-111111111111" };
    adb__gdpr_result res;
    memset(&res, 0, sizeof(res));
    CHECK(adb__gdpr_apply(db, &op, &res, err, sizeof(err)) == ADB_OK);
    CHECK(res.erased == 1 && res.failed == 0);
    if (res.failed)
        printf("# %s\n", res.failures[0].why);
    CHECK(t_count(c, "SELECT count(*) FROM audit_log WHERE principal_id = 'user-3'") == 0);
    CHECK(t_count(c, "SELECT count(*) FROM audit_erasure WHERE original_content IS NOT NULL") == 3);
    CHECK(verify_sum(db, &s, &sum) == 0 && sum.erased_events == 1 && sum.events == 13);
    if (s.n)
        show(&s);
    /* the row erased again (pseudonymization of another field would do the same):
     * records of a second request, their original the same content */
    CHECK(t_exec(c, "UPDATE audit_log SET target_resource_id = 'pat-3' WHERE organization_id = 'org-t' AND chain_seq = 5"));
    CHECK(verify_sum(db, &s, &sum) > 0 && found(&s, "hash_mismatch", 5));
    CHECK(t_exec(c, "UPDATE audit_log SET target_resource_id = NULL WHERE organization_id = 'org-t' AND chain_seq = 5"));
    CHECK(t_exec(c, "UPDATE audit_log SET action = 'a99' WHERE organization_id = 'org-t' AND principal_id IS NULL AND chain_seq = 3"));
    CHECK(verify_sum(db, &s, &sum) > 0 && found(&s, "hash_mismatch", 3));
    PQfinish(c);
    adb_close(db);
}

static void residual_erasure_v1(void)
{
    residual_erasure("sha256-c14n-v1");
}

static void residual_erasure_v2(void)
{
    residual_erasure("sha256-c14n-v2");
}

int main(void)
{
    RUN(changed_field);
    RUN(changed_inside_details);
    RUN(changed_number_scale_inside_details);
    RUN(deleted_event);
    RUN(swapped_events);
    RUN(inserted_event);
    RUN(swapped_ids);
    RUN(changed_id);
    RUN(ids_of_events_stored_before_ids);
    RUN(events_stored_before_commitments);
    RUN(residual_erasure_v1);
    RUN(residual_erasure_v2);
    RUN(changed_commit_key);
    RUN(swapped_commit_keys);
    RUN(deleted_commit_key);
    RUN(erased_by_hand);
    RUN(lawful_erasure);
    RUN(cut_off_tail);
    RUN(recomputed_hash);
    RUN(taken_position_refused);
    RUN(head_deleted_with_newest_events);
    RUN(head_deleted_with_all_live_events);
    RUN(head_one_behind);
    return t_done();
}
