/*
 * test_delivery_queue.c - the delivery queue's pure parts (Standard Webhooks
 * signatures: the published vector, v1a checked by OpenSSL's verifier,
 * rotation; the retry schedule; Retry-After) and its claims against a real
 * PostgreSQL: SKIP LOCKED gives disjoint items, the claim id fences every
 * end, an expired lease is claimable again with the same webhook-id,
 * idempotency keys, priorities and due times.
 */
#include "tdb.h"
#include "delivery/delivery.h"

#include <openssl/evp.h>
#include <unistd.h>

static char ci[1024];

static void test_vector(void)
{
    adb__whkey k;
    char sig[512];
    const char *body = "{\"test\": 2432232314}";
    REQUIRE(adb__whkey_parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", &k));
    CHECK(!k.asym);
    REQUIRE(adb__webhook_sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, (const unsigned char *)body,
                              strlen(body), &k, 1, sig, sizeof(sig)) == ADB_OK);
    CHECK_STR(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    /* one byte more in the body: another signature */
    REQUIRE(adb__webhook_sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, (const unsigned char *)body,
                              strlen(body) - 1, &k, 1, sig, sizeof(sig)) == ADB_OK);
    CHECK(strcmp(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=") != 0);
    CHECK(!adb__whkey_parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", &k));
    CHECK(!adb__whkey_parse("whsec_", &k));
    CHECK(!adb__whkey_parse("whsec_AAAA", &k)); /* 3 bytes: too short a secret */
    CHECK(!adb__whkey_parse("whsec_!!!!", &k));
}

/* RFC 8032 test 1's seed; its public key verifies what v1a signed */
static void test_v1a_and_rotation(void)
{
    static const unsigned char seed[32] = {
        0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec, 0x2c, 0xc4,
        0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19, 0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae, 0x7f, 0x60 };
    static const unsigned char pub[32] = {
        0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe, 0xd3, 0xc9, 0x64, 0x07, 0x3a,
        0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6, 0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68, 0xf7, 0x07, 0x51, 0x1a };
    char text[64] = "whsk_", sig[1024];
    adb__whkey keys[2];
    EVP_EncodeBlock((unsigned char *)text + 5, seed, 32);
    REQUIRE(adb__whkey_parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", &keys[0]));
    REQUIRE(adb__whkey_parse(text, &keys[1]));
    CHECK(keys[1].asym);
    const char *body = "{\"a\":1}";
    REQUIRE(adb__webhook_sign("msg_x", 1700000000, (const unsigned char *)body, strlen(body), keys, 2,
                              sig, sizeof(sig)) == ADB_OK);
    char *sp = strchr(sig, ' ');
    REQUIRE(sp && !strncmp(sig, "v1,", 3) && !strncmp(sp + 1, "v1a,", 4));
    unsigned char raw[80];
    int n = EVP_DecodeBlock(raw, (const unsigned char *)sp + 5, (int)strlen(sp + 5));
    REQUIRE(n >= 64);
    const char *msg = "msg_x.1700000000.{\"a\":1}";
    EVP_PKEY *pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, 32);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    REQUIRE(pk && md && EVP_DigestVerifyInit(md, NULL, NULL, NULL, pk) == 1);
    CHECK(EVP_DigestVerify(md, raw, 64, (const unsigned char *)msg, strlen(msg)) == 1);
    EVP_MD_CTX_free(md);
    md = EVP_MD_CTX_new();
    REQUIRE(EVP_DigestVerifyInit(md, NULL, NULL, NULL, pk) == 1);
    CHECK(EVP_DigestVerify(md, raw, 64, (const unsigned char *)msg, strlen(msg) - 1) != 1);
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(pk);
}

static void test_schedule(void)
{
    int64_t total = 0, next;
    adb__attempt a = { .retry_after_s = -1, .http_status = 500 };
    for (int i = 1; i < 10; i++)
        total += adb__retry_standard_delay_ms(i);
    CHECK_MSG(total == (75LL * 3600 + 35 * 60 + 5) * 1000, "%lld", (long long)total);
    CHECK(adb__retry_standard_delay_ms(10) == -1);
    /* jitter stays within 10 % */
    for (int i = 1; i < 10; i++) {
        int64_t d = adb__retry_standard_delay_ms(i);
        CHECK(adb__retry_next(NULL, i, &a, 1000, &next) == ADB_RETRY_AT);
        CHECK_MSG(next - 1000 >= d - d / 10 && next - 1000 <= d + d / 10, "attempt %d: %lld", i,
                  (long long)(next - 1000));
    }
    CHECK(adb__retry_next(NULL, 10, &a, 0, &next) == ADB_RETRY_GIVE_UP);
    /* Retry-After longer than the schedule's delay wins; capped at a day */
    a.retry_after_s = 120;
    CHECK(adb__retry_next(NULL, 1, &a, 0, &next) == ADB_RETRY_AT && next == 120000);
    a.retry_after_s = 86400 * 30;
    CHECK(adb__retry_next(NULL, 1, &a, 0, &next) == ADB_RETRY_AT && next == 86400000);
    a.retry_after_s = -1;
    /* 410 disables; 3xx and 404 are permanent */
    a.http_status = 410;
    a.gone = true;
    CHECK(adb__retry_next(NULL, 1, &a, 0, &next) == ADB_RETRY_DISABLE);
    a.gone = false;
    CHECK(adb__retry_status_permanent(301) && adb__retry_status_permanent(404) &&
          !adb__retry_status_permanent(429) && !adb__retry_status_permanent(503) &&
          !adb__retry_status_permanent(408));
    a.http_status = 302;
    a.permanent = true;
    CHECK(adb__retry_next(NULL, 1, &a, 0, &next) == ADB_RETRY_GIVE_UP);
    /* a destination's retryConfig: 1 s x multiplier, capped, maxRetries */
    json_t *cfg = json_loads("{\"webhook\":{\"retryConfig\":{\"maxRetries\":3,\"backoffMultiplier\":2,"
                             "\"maxBackoffDelay\":3000}}}", 0, NULL);
    a.permanent = false;
    a.http_status = 500;
    CHECK(adb__retry_next(cfg, 1, &a, 0, &next) == ADB_RETRY_AT && next >= 900 && next <= 1100);
    CHECK(adb__retry_next(cfg, 2, &a, 0, &next) == ADB_RETRY_AT && next >= 1800 && next <= 2200);
    CHECK(adb__retry_next(cfg, 3, &a, 0, &next) == ADB_RETRY_AT && next >= 2700 && next <= 3300);
    CHECK(adb__retry_next(cfg, 4, &a, 0, &next) == ADB_RETRY_GIVE_UP);
    json_decref(cfg);
}

static void test_retry_after(void)
{
    CHECK(adb__retry_after_parse("120", 0) == 120);
    CHECK(adb__retry_after_parse(" 0", 0) == 0);
    CHECK(adb__retry_after_parse("Wed, 21 Oct 2015 07:28:00 GMT", 1445412480 - 60) == 60);
    CHECK(adb__retry_after_parse("Wed, 21 Oct 2015 07:28:00 GMT", 1445412480 + 60) == 0);
    CHECK(adb__retry_after_parse("soon", 0) == -1);
    CHECK(adb__retry_after_parse("-5", 0) == -1);
    CHECK(adb__retry_after_parse("", 0) == -1);
}

/* ---- against PostgreSQL ---- */

static PGconn *conn(void)
{
    PGconn *c = PQconnectdb(ci);
    if (PQstatus(c) != CONNECTION_OK)
        printf("# %s", PQerrorMessage(c));
    return c;
}

static int dest_id;

static bool enqueue(PGconn *c, const char *idem, int prio, char id[64], bool *dup)
{
    char logid[16], sql[300], dlv[32];
    static int seq;
    json_t *payload = json_pack("{s:s}", "type", "custom");
    snprintf(dlv, sizeof(dlv), "dlv_t%d", ++seq);
    snprintf(sql, sizeof(sql), "INSERT INTO delivery_logs (delivery_id, organization_id, object_details,"
                               " status, destination_id) SELECT '%s', 'org-q', '{}', 'pending', id"
                               " FROM delivery_destinations WHERE label = 'q' RETURNING id", dlv);
    PGresult *r = PQexec(c, sql);
    bool ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    if (ok)
        snprintf(logid, sizeof(logid), "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    if (!ok)
        printf("# log: %s", PQerrorMessage(c));
    if (!ok)
        return false;
    adb__enqueue e = { .org = "org-q", .delivery_id = dlv, .idempotency_key = idem,
                       .content_type = "application/json", .dest_id = dest_id, .log_id = atoi(logid),
                       .priority = prio, .body = (const unsigned char *)"{\"x\":\"\\u00e9\"}\n",
                       .body_len = 15, .payload = payload };
    ok = adb__queue_enqueue(c, &e, id, dup) == ADB_OK;
    if (!ok)
        printf("# enqueue: %s", PQerrorMessage(c));
    json_decref(payload);
    return ok;
}

static void test_claims(void)
{
    PGconn *a = conn(), *b = conn();
    char ids[4][64];
    bool dup;
    static char sql[1024];
    adb__qitem qa[4], qb[4];
    int na = 0, nb = 0;
    bool fenced;
    adb__attempt at = { .ok = true, .http_status = 200, .retry_after_s = -1 };

    REQUIRE(a && b);
    REQUIRE(t_exec(a, "INSERT INTO delivery_destinations (organization_id, type, label, config)"
                      " VALUES ('org-q', 'webhook', 'q', '{}')"));
    dest_id = (int)t_count(a, "SELECT id FROM delivery_destinations WHERE label = 'q'");
    REQUIRE(enqueue(a, "k1", 0, ids[0], &dup) && !dup);
    REQUIRE(enqueue(a, "k1", 0, ids[1], &dup));
    CHECK(dup);   /* the same idempotency key: nothing queued */
    REQUIRE(enqueue(a, NULL, 0, ids[1], &dup) && !dup);
    REQUIRE(enqueue(a, NULL, 7, ids[2], &dup) && !dup);
    REQUIRE(enqueue(a, NULL, 0, ids[3], &dup) && !dup);
    CHECK(!strncmp(ids[0], "msg_", 4) && strlen(ids[0]) == 26 && !strchr(ids[0], '.'));
    CHECK(t_count(a, "SELECT count(*) FROM delivery_queue") == 4);
    /* one not due yet */
    snprintf(sql, sizeof(sql), "UPDATE delivery_queue SET scheduled_at = now() + interval '1 hour'"
                               " WHERE id = '%s'", ids[3]);
    REQUIRE(t_exec(a, sql));

    /* a holds its claims inside an open transaction, so b's SKIP LOCKED is exercised */
    REQUIRE(t_exec(a, "BEGIN"));
    CHECK(adb__queue_claim(a, "A", adb__delivery_now_ms(), 60000, qa, 2, &na) == ADB_OK && na == 2);
    CHECK(na == 2 && !strcmp(qa[0].id, ids[2]));   /* the highest priority first */
    CHECK(adb__queue_claim(b, "B", adb__delivery_now_ms(), 60000, qb, 4, &nb) == ADB_OK);
    CHECK_MSG(nb == 1, "b claimed %d", nb);   /* the third due one; a's are locked */
    REQUIRE(t_exec(a, "COMMIT"));
    for (int i = 0; i < na; i++)
        for (int j = 0; j < nb; j++)
            CHECK(strcmp(qa[i].id, qb[j].id) != 0);
    CHECK(qa[0].attempt == 1 && qa[0].body_len == 15 && !memcmp(qa[0].body, "{\"x\":\"\\u00e9\"}\n", 15));
    /* nothing more is due: b's second claim is empty */
    adb__qitem qc[2];
    int nc = 0;
    CHECK(adb__queue_claim(b, "B", adb__delivery_now_ms(), 60000, qc, 2, &nc) == ADB_OK && nc == 0);

    /* a wrong claim id changes nothing */
    adb__qitem forged = qa[1];
    snprintf(forged.claim_id, sizeof(forged.claim_id), "00000000-0000-0000-0000-000000000000");
    CHECK(adb__queue_finish(b, &forged, ADB_Q_COMPLETE, &at, adb__delivery_now_ms(), 0, &fenced) == ADB_OK);
    CHECK(!fenced);
    snprintf(sql, sizeof(sql), "SELECT status FROM delivery_queue WHERE id = '%s'", qa[1].id);
    char *s = t_query1(a, sql);
    CHECK_STR(s, "processing");
    free(s);
    /* the claimer ends it */
    CHECK(adb__queue_finish(a, &qa[1], ADB_Q_COMPLETE, &at, adb__delivery_now_ms(), 0, &fenced) == ADB_OK);
    CHECK(fenced);
    s = t_query1(a, sql);
    CHECK_STR(s, "completed");
    free(s);
    snprintf(sql, sizeof(sql), "SELECT status || ' ' || jsonb_array_length(attempts) FROM delivery_logs"
                               " WHERE id = %d", qa[1].log_id);
    s = t_query1(a, sql);
    CHECK_STR(s, "delivered 1");
    free(s);

    /* a lease that ran out: b takes qb[0]'s item again, same id, attempt 2;
     * the first claimer's late end writes nothing */
    snprintf(sql, sizeof(sql), "UPDATE delivery_queue SET lease_until = clock_timestamp() - interval '1 s'"
                               " WHERE id = '%s'", qb[0].id);
    REQUIRE(t_exec(a, sql));
    CHECK(adb__queue_claim(a, "A2", adb__delivery_now_ms(), 60000, qc, 2, &nc) == ADB_OK && nc == 1);
    CHECK(nc == 1 && !strcmp(qc[0].id, qb[0].id) && strcmp(qc[0].claim_id, qb[0].claim_id) != 0 &&
          qc[0].attempt == 2);
    adb__attempt fail = { .http_status = 500, .retry_after_s = -1 };
    snprintf(fail.error, sizeof(fail.error), "HTTP 500");
    CHECK(adb__queue_finish(b, &qb[0], ADB_Q_FAIL, &fail, adb__delivery_now_ms(), 0, &fenced) == ADB_OK);
    CHECK(!fenced);
    CHECK(adb__queue_finish(a, &qc[0], ADB_Q_RETRY, &fail, adb__delivery_now_ms(),
                            adb__delivery_now_ms() + 3600000, &fenced) == ADB_OK && fenced);
    snprintf(sql, sizeof(sql), "SELECT q.status || ' ' || l.status || ' ' || jsonb_array_length(l.attempts)"
                               " || ' ' || (q.scheduled_at > now() + interval '59 min')"
                               " FROM delivery_queue q JOIN delivery_logs l ON l.id = q.delivery_log_id"
                               " WHERE q.id = '%s'", qb[0].id);
    s = t_query1(a, sql);
    CHECK_STR(s, "pending retrying 1 true");
    free(s);
    /* a deferral is no attempt: the count goes back */
    snprintf(sql, sizeof(sql), "UPDATE delivery_queue SET scheduled_at = now() - interval '1 day'"
                               " WHERE id = '%s'", qb[0].id);
    REQUIRE(t_exec(a, sql));
    adb__qitem_free(&qc[0]);
    CHECK(adb__queue_claim(a, "A", adb__delivery_now_ms(), 60000, qc, 1, &nc) == ADB_OK && nc == 1);
    int before = qc[0].attempt;
    CHECK(adb__queue_finish(a, &qc[0], ADB_Q_DEFER, NULL, adb__delivery_now_ms(), adb__delivery_now_ms(),
                            &fenced) == ADB_OK && fenced);
    adb__qitem_free(&qc[0]);
    CHECK(adb__queue_claim(a, "A", adb__delivery_now_ms(), 60000, qc, 1, &nc) == ADB_OK && nc == 1);
    CHECK(!strcmp(qc[0].id, qb[0].id) && qc[0].attempt == before);

    for (int i = 0; i < na; i++)
        adb__qitem_free(&qa[i]);
    for (int i = 0; i < nb; i++)
        adb__qitem_free(&qb[i]);
    adb__qitem_free(&qc[0]);
    PQfinish(a);
    PQfinish(b);
}

int main(void)
{
    RUN(test_vector);
    RUN(test_v1a_and_rotation);
    RUN(test_schedule);
    RUN(test_retry_after);
    if (!t_migrated_db("adb_delivery_queue", ci, sizeof(ci)))
        return 1;
    RUN(test_claims);
    return t_done();
}
