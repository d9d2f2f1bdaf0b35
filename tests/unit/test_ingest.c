/*
 * test_ingest.c - events through the library into PostgreSQL and back:
 * the round-trip property (hash at ingest == hash recomputed from the stored
 * row, for random events full of escapes, unicode, odd numbers and
 * timestamps), idempotency, backpressure, refusals that store nothing,
 * partitions made on demand.
 */
#include "tdb.h"
#include "core/util.h"
#include "event/event.h"
#include "event/json.h"

#include <inttypes.h>
#include <pthread.h>
#include <time.h>

static unsigned long long rng_state;

static unsigned rnd(unsigned n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (unsigned)(rng_state % n);
}

typedef struct buf {
    char *p;
    size_t len, cap;
} buf;

static void put(buf *b, const char *s)
{
    size_t n = strlen(s);
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, s, n + 1);
    b->len += n;
}

/* A JSON string literal with a random mix of what trips round trips up. */
static void rand_string(buf *b, bool allow_empty)
{
    static const char *const pieces[] = {
        "a", "Z", "0", " ", "-", "/", "\\/", "\\\"", "\\\\", "\\n", "\\t", "\\r", "\\b", "\\f",
        "\\u0001", "\\u001f", "\\u007f", "\\u00e9", "\xc3\xa9", "\xe4\xb8\xad", "\\u4e2d",
        "\xf0\x9f\x98\x80", "\\ud83d\\ude00", "\\uD83D\\uDE00", "\xe2\x80\xa8", "\\u2028", "'",
        "<", "&", "\\u0041", "%", "\\u00A0",
    };
    int n = allow_empty ? (int)rnd(12) : 1 + (int)rnd(12);
    put(b, "\"");
    for (int i = 0; i < n; i++)
        put(b, pieces[rnd(sizeof(pieces) / sizeof(pieces[0]))]);
    put(b, "\"");
}

static void rand_number(buf *b)
{
    static const char *const nums[] = {
        "0", "-0", "0.0", "-0.0", "1", "-1", "1.50", "1E+3", "1e3", "1.5e1", "1.50e1", "1e-3",
        "123e-2", "0.000e5", "-1.5E-7", "12345678901234567890123", "3.14159265358979323846",
        "1E20", "2.500E-2", "100", "1.0", "0.1", "-999999999999.000001", "7e0", "5E-0",
    };
    put(b, nums[rnd(sizeof(nums) / sizeof(nums[0]))]);
}

static void rand_value(buf *b, int depth)
{
    unsigned k = rnd(depth >= 2 ? 5 : 7);
    switch (k) {
    case 0: rand_string(b, true); break;
    case 1: rand_number(b); break;
    case 2: put(b, rnd(2) ? "true" : "false"); break;
    case 3: put(b, "null"); break;
    case 4: rand_number(b); break;
    case 5: {
        int n = (int)rnd(4);
        put(b, "[");
        for (int i = 0; i < n; i++) {
            if (i)
                put(b, rnd(2) ? "," : " , ");
            rand_value(b, depth + 1);
        }
        put(b, "]");
        break;
    }
    default: {
        int n = (int)rnd(4);
        char key[32];
        put(b, "{");
        for (int i = 0; i < n; i++) {
            if (i)
                put(b, ",");
            snprintf(key, sizeof(key), "\"k%d\\u00e9%c\"", i, "abzAZ_"[rnd(6)]);
            put(b, key);
            put(b, rnd(2) ? ":" : " : ");
            rand_value(b, depth + 1);
        }
        put(b, "}");
    }
    }
}

/* A random event as JSON text (caller frees). */
static char *rand_event(const char *org, int64_t now_us)
{
    buf b = { 0 };
    char ts[80], frac[16] = "";
    int64_t t = now_us / 1000000 - 86400 - (int64_t)rnd(200 * 86400); /* offsets stay in the past */
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    int nd = (int)rnd(10);
    for (int i = 0; i < nd; i++)
        frac[i] = (char)('0' + rnd(10));
    frac[nd] = '\0';
    static const char *const offs[] = { "Z", "z", "+00:00", "+05:30", "-08:00", "+0100", "-03", "+14:00" };
    const char *off = offs[rnd(8)];
    /* the offset shifts the wall clock: keep the instant in the past */
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    put(&b, rnd(2) ? "{ \"timestamp\" : \"" : "{\"timestamp\":\"");
    put(&b, ts);
    if (nd) {
        put(&b, ".");
        put(&b, frac);
    }
    put(&b, off[0] == '+' && strcmp(off, "+00:00") ? "Z" : off); /* + offsets would land in the future */
    put(&b, "\",\"action\":");
    rand_string(&b, false);
    put(&b, ",\"status\":\"");
    put(&b, (const char *[]){ "attempt", "success", "failure" }[rnd(3)]);
    put(&b, "\",\"organizationId\":\"");
    put(&b, org);
    put(&b, "\"");
    static const char *const opt[] = { "principalId", "targetResourceType", "targetResourceId",
                                       "outcomeDescription", "correlationId", "ttl" };
    for (size_t i = 0; i < 6; i++) {
        unsigned r = rnd(4);
        if (r == 0)
            continue;            /* absent */
        put(&b, ",\"");
        put(&b, opt[i]);
        put(&b, "\":");
        if (r == 1)
            put(&b, "\"\"");     /* empty, which is not absent */
        else if (r == 2)
            put(&b, "null");     /* null counts as absent */
        else
            rand_string(&b, true);
    }
    if (rnd(2)) {
        put(&b, ",\"dataClassification\":\"");
        put(&b, (const char *[]){ "PUBLIC", "INTERNAL", "CONFIDENTIAL", "PHI" }[rnd(4)]);
        put(&b, "\"");
    }
    if (rnd(2)) {
        put(&b, ",\"details\":{\"n\":");
        rand_number(&b);
        put(&b, ",\"v\":");
        rand_value(&b, 1);
        put(&b, "}");
    }
    if (rnd(3) == 0)
        put(&b, ",\"sessionContext\":{\"sessionId\":\"s\",\"ipAddress\":\"10.0.0.1\"}");
    if (rnd(3) == 0) {
        put(&b, ",\"customTop\":");
        rand_value(&b, 1);
    }
    put(&b, "}");
    return b.p;
}

static char ci[1024];

static void round_trip_property(void)
{
    const char *seed_env = getenv("ADB_TEST_SEED");
    unsigned long long seed = seed_env ? strtoull(seed_env, NULL, 10) : (unsigned long long)time(NULL);
    enum { N = 1500, BATCH = 300 };
    adb *db = t_open(ci, NULL);
    int64_t now = (int64_t)time(NULL) * 1000000;
    long long stored = 0, refused = 0;

    REQUIRE(db);
    rng_state = seed ? seed : 1;
    printf("# seed %llu (set ADB_TEST_SEED to replay)\n", seed);
    for (int start = 0; start < N; start += BATCH) {
        char *texts[BATCH];
        size_t lens[BATCH];
        adb_log_result *res = calloc(BATCH, sizeof(*res));
        for (int i = 0; i < BATCH; i++) {
            texts[i] = rand_event(i % 3 ? "org-prop-a" : "org-prop-b", now);
            lens[i] = strlen(texts[i]);
        }
        adb_log_batch_json(db, (const char *const *)texts, lens, BATCH, NULL, res);
        for (int i = 0; i < BATCH; i++) {
            if (res[i].status == ADB_OK) {
                stored++;
            } else {
                refused++;
                if (refused <= 3)
                    printf("# refused (%s): %s %s %s\n#   %s\n", adb_status_name(res[i].status),
                           res[i].errors.count ? res[i].errors.e[0].code : "",
                           res[i].errors.count ? res[i].errors.e[0].field : "",
                           res[i].errors.count ? res[i].errors.e[0].message : res[i].message, texts[i]);
            }
            free(texts[i]);
        }
        free(res);
    }
    CHECK_MSG(refused == 0, "%lld random valid events refused", refused);
    /* every stored row recomputes to the hash computed at ingest */
    adb_verify_options o = { .record = false };
    adb_verify_summary sum;
    char err[ADB_ERRMSG_MAX];
    CHECK(adb_verify(db, &o, &sum, err, sizeof(err)) == ADB_OK);
    CHECK_MSG(sum.events == stored, "verified %lld of %lld", sum.events, stored);
    CHECK_MSG(sum.problems == 0, "%lld problems in %lld events (seed %llu)", sum.problems,
              sum.broken_events, seed);
    adb_close(db);
}

static void idempotency_key_returns_the_original(void)
{
    adb *db = t_open(ci, NULL);
    adb_log_result a, b;
    adb_log_options o = { .idempotency_key = "retry-123" };
    char ev[256];

    REQUIRE(db);
    snprintf(ev, sizeof(ev), "{\"timestamp\":\"2024-06-01T00:00:00Z\",\"action\":\"x\",\"status\":"
             "\"success\",\"organizationId\":\"org-idem\"}");
    CHECK(adb_log_json(db, ev, strlen(ev), &o, &a) == ADB_OK && !a.duplicate);
    CHECK(adb_log_json(db, ev, strlen(ev), &o, &b) == ADB_OK && b.duplicate);
    CHECK(a.id == b.id);
    CHECK_STR(a.timestamp, b.timestamp);
    CHECK_STR(a.hash, b.hash);
    /* the same key in another organization is another event */
    char ev2[256];
    snprintf(ev2, sizeof(ev2), "{\"timestamp\":\"2024-06-01T00:00:00Z\",\"action\":\"x\",\"status\":"
             "\"success\",\"organizationId\":\"org-idem-2\"}");
    CHECK(adb_log_json(db, ev2, strlen(ev2), &o, &b) == ADB_OK && !b.duplicate && b.id != a.id);
    /* twice in one batch: one stored, one duplicate */
    const char *texts[] = { ev, ev };
    size_t lens[] = { strlen(ev), strlen(ev) };
    adb_log_result rr[2];
    adb_log_options o2 = { .idempotency_key = "retry-456" };
    CHECK(adb_log_batch_json(db, texts, lens, 2, &o2, rr) == ADB_OK);
    CHECK(rr[0].duplicate != rr[1].duplicate && rr[0].id == rr[1].id);
    adb_close(db);
    PGconn *c = PQconnectdb(ci);
    CHECK(t_count(c, "SELECT count(*) FROM audit_log WHERE organization_id = 'org-idem'") == 2);
    PQfinish(c);
}

static void tiny_queue(adb_options *o)
{
    o->queue_max = 2;
    o->batch_max = 2;
    o->writer_threads = 1;
}

static void refusals_store_nothing(void)
{
    adb *db = t_open(ci, tiny_queue);
    adb_log_result r[3];
    PGconn *c = PQconnectdb(ci);
    long long before = t_count(c, "SELECT count(*) FROM audit_log");
    const char *bad[] = {
        "{\"timestamp\":\"2024-06-01T00:00:00Z\",\"action\":\"x\",\"status\":\"success\"", /* malformed */
        "{\"timestamp\":\"2024-06-01T00:00:00Z\",\"action\":\"x\",\"status\":\"success\",\"organizationId\":\"o\",\"action\":\"y\"}",
        "{\"timestamp\":\"2024-06-01T00:00:00Z\",\"action\":\"\\u0000\",\"status\":\"success\",\"organizationId\":\"o\"}",
        "{\"timestamp\":\"2024-06-01T00:00:00Z\",\"action\":\"x\",\"status\":\"success\",\"organizationId\":\"o\",\"details\":{\"n\":1e999}}",
    };
    const char *codes[] = { "INVALID_JSON", "DUPLICATE_KEY", "INVALID_JSON", "INVALID_JSON" };

    REQUIRE(db);
    for (int i = 0; i < 4; i++) {
        CHECK(adb_log_json(db, bad[i], strlen(bad[i]), NULL, &r[0]) == ADB_ERR_INVALID);
        CHECK_MSG(r[0].errors.count == 1 && !strcmp(r[0].errors.e[0].code, codes[i]), "case %d: %s %s", i,
                  r[0].errors.e[0].code, r[0].errors.e[0].message);
    }
    /* a batch larger than the queue is written in slices, all stored */
    const char *ok = "{\"timestamp\":\"2024-06-01T00:00:00Z\",\"action\":\"x\",\"status\":\"success\",\"organizationId\":\"org-slices\"}";
    const char *three[] = { ok, ok, ok };
    size_t lens[] = { strlen(ok), strlen(ok), strlen(ok) };
    CHECK(adb_log_batch_json(db, three, lens, 3, NULL, r) == ADB_OK);
    CHECK(t_count(c, "SELECT count(*) FROM audit_log") == before + 3);
    adb_close(db);
    PQfinish(c);
}

typedef struct flood {
    adb *db;
    int busy, ok;
} flood;

static void *flood_main(void *arg)
{
    flood *f = arg;
    const char *ev = "{\"timestamp\":\"2024-06-01T00:00:00Z\",\"action\":\"x\",\"status\":\"success\",\"organizationId\":\"org-flood\"}";
    for (int i = 0; i < 40; i++) {
        adb_log_result r;
        adb_status st = adb_log_json(f->db, ev, strlen(ev), NULL, &r);
        if (st == ADB_ERR_BUSY) {
            __atomic_add_fetch(&f->busy, 1, __ATOMIC_RELAXED);
            if (r.retry_after_ms <= 0)
                printf("# busy without retry_after_ms\n");
        } else if (st == ADB_OK) {
            __atomic_add_fetch(&f->ok, 1, __ATOMIC_RELAXED);
        }
    }
    return NULL;
}

static void one_slot(adb_options *o)
{
    o->queue_max = 1;
    o->batch_max = 1;
    o->writer_threads = 1;
}

static void backpressure_says_busy(void)
{
    adb *db = t_open(ci, one_slot);
    pthread_t th[8];
    flood f = { db, 0, 0 };

    REQUIRE(db);
    for (int i = 0; i < 8; i++)
        pthread_create(&th[i], NULL, flood_main, &f);
    for (int i = 0; i < 8; i++)
        pthread_join(th[i], NULL);
    CHECK_MSG(f.busy > 0, "no caller was told busy (ok %d)", f.ok);
    CHECK(f.ok > 0 && f.ok + f.busy == 320);
    adb_writer_stats ws;
    adb_writer_get_stats(db, &ws);
    CHECK(ws.busy_rejections == f.busy);
    adb_close(db);
    PGconn *c = PQconnectdb(ci);
    CHECK(t_count(c, "SELECT count(*) FROM audit_log WHERE organization_id = 'org-flood'") == f.ok);
    PQfinish(c);
}

static void partitions_made_on_demand(void)
{
    adb *db = t_open(ci, NULL);
    adb_log_result r;
    char ev[256];
    PGconn *c = PQconnectdb(ci);

    REQUIRE(db);
    /* a month five years back that nobody created */
    snprintf(ev, sizeof(ev), "{\"timestamp\":\"2021-03-15T12:00:00Z\",\"action\":\"old\",\"status\":"
             "\"success\",\"organizationId\":\"org-old\"}");
    CHECK(t_count(c, "SELECT count(*) FROM pg_class WHERE relname = 'audit_log_2021_03'") == 0);
    CHECK(adb_log_json(db, ev, strlen(ev), NULL, &r) == ADB_OK);
    CHECK(t_count(c, "SELECT count(*) FROM pg_class WHERE relname = 'audit_log_2021_03'") == 1);
    CHECK_STR(r.timestamp, "2021-03-15T12:00:00.000000Z");
    adb_close(db);
    PQfinish(c);
}

static void another_key_is_refused(void)
{
    adb_options o;
    adb *db = NULL;
    char err[ADB_ERRMSG_MAX];

    adb_options_default(&o);
    o.conninfo = ci;
    o.master_key = "a-different-master-key-which-is-long-enough";
    CHECK(adb_open(&o, &db, err, sizeof(err)) == ADB_ERR_CHECKSUM);
    CHECK_MSG(strstr(err, "signed with another master key") != NULL, "%s", err);
    CHECK(db == NULL);
}

/* Parsed events (adb_log_batch_parsed): all-or-nothing and validate-only
 * store nothing; otherwise the valid ones are stored and kept as committed,
 * with the id, time, hash and chain position the stored row has. */
static void parsed_events(void)
{
    adb *db = t_open(ci, NULL);
    PGconn *c = PQconnectdb(ci);
    const char *texts[] = {
        "{\"timestamp\":\"2024-06-01T00:00:00Z\",\"action\":\"p.0\",\"status\":\"success\",\"organizationId\":\"org-parsed\"}",
        "{\"timestamp\":\"2024-06-01T00:00:00Z\",\"action\":\"p.1\",\"status\":\"maybe\",\"organizationId\":\"org-parsed\"}",
        "{\"timestamp\":\"2024-06-01T00:00:01Z\",\"action\":\"p.2\",\"status\":\"failure\",\"organizationId\":\"org-parsed\",\"details\":{\"n\":1.50}}",
    };
    adb_json_doc *docs[3];
    const adb_json *evs[3];
    adb_json_error je;
    adb_log_result r[3];
    adb_event *kept[3];

    REQUIRE(db);
    for (int i = 0; i < 3; i++) {
        docs[i] = adb__json_parse(texts[i], strlen(texts[i]), NULL, &je);
        REQUIRE(docs[i]);
        evs[i] = adb__json_root(docs[i]);
    }
    const char *count = "SELECT count(*) FROM audit_log WHERE organization_id = 'org-parsed'";
    CHECK(adb_log_batch_parsed(db, evs, 3, NULL, ADB_LOG_ALL_OR_NOTHING, r, kept) == ADB_ERR_INVALID);
    CHECK(r[1].status == ADB_ERR_INVALID && !strcmp(r[1].errors.e[0].field, "status"));
    CHECK(!kept[0] && !kept[1] && !kept[2] && t_count(c, count) == 0);
    CHECK(adb_log_batch_parsed(db, evs, 3, NULL, ADB_LOG_VALIDATE_ONLY, r, kept) == ADB_ERR_INVALID);
    CHECK(r[0].status == ADB_OK && r[1].status == ADB_ERR_INVALID && r[2].status == ADB_OK);
    CHECK(!kept[0] && !kept[2] && t_count(c, count) == 0);
    CHECK(adb_log_batch_parsed(db, evs, 3, NULL, 0, r, kept) == ADB_ERR_INVALID);
    CHECK(kept[0] && !kept[1] && kept[2] && t_count(c, count) == 2);
    for (int i = 0; i < 3; i += 2) {
        if (!kept[i])
            continue;
        char q[512];
        CHECK(kept[i]->id == r[i].id && kept[i]->chain_seq == r[i].chain_seq);
        CHECK_STR(kept[i]->hash, r[i].hash);
        CHECK_STR(kept[i]->ts_text, r[i].timestamp);
        snprintf(q, sizeof(q), "SELECT count(*) FROM audit_log WHERE id = %" PRId64 " AND hash = '%s'"
                 " AND chain_seq = %" PRId64 " AND chain_hash = '%s' AND details IS NOT DISTINCT FROM %s%s%s",
                 kept[i]->id, kept[i]->hash, kept[i]->chain_seq, kept[i]->chain_hash,
                 kept[i]->details ? "'" : "", kept[i]->details ? kept[i]->details : "NULL",
                 kept[i]->details ? "'::jsonb" : "");
        CHECK_MSG(t_count(c, q) == 1, "event %d as kept is the stored row", i);
        adb_event_free(kept[i]);
    }
    for (int i = 0; i < 3; i++)
        adb__json_free(docs[i]);
    adb_close(db);
    PQfinish(c);
}

int main(void)
{
    if (!t_migrated_db("t_ingest", ci, sizeof(ci))) {
        printf("not ok - setup\n");
        return 1;
    }
    RUN(round_trip_property);
    RUN(idempotency_key_returns_the_original);
    RUN(refusals_store_nothing);
    RUN(backpressure_says_busy);
    RUN(partitions_made_on_demand);
    RUN(another_key_is_refused);
    RUN(parsed_events);
    return t_done();
}
