/*
 * test_checkpoint.c - the checkpointer (src/log/checkpoint.c) alone, on the
 * runner's PostgreSQL, with an in-memory tree as its proof source: a first
 * offer signed, written to its file and its log_checkpoint row; offers
 * between two rounds make one checkpoint; the thread signs on its own
 * every interval; an offer that does not extend the last signed checkpoint
 * (a forked root, a shorter tree, another root at the same size) is refused
 * with one alerts row and a log line without the key, and the file keeps
 * the last good checkpoint; a restarted checkpointer remembers from its file
 * even when the database's rows were deleted; a tampered or missing file
 * refuses; a directory inside the PostgreSQL data directory is refused.
 */
#include <openssl/rand.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../src/core/util.h"
#include "../../src/log/checkpoint.h"
#include "../../src/log/merkle.h"
#include "../../src/log/note.h"
#include "tdb.h"

#define MAXLEAVES 512
#define ORG "acme"

/* two trees: the honest one and a fork that differs from leaf 4 on */
static adb__mhash honest[MAXLEAVES], forked[MAXLEAVES];
static adb__mhash *tree = honest; /* what the proof source answers from */
static int proof_calls;

static char ci[1024], dir[1024], err[1024];
static adb_pool *pool;
static adb__note_signer signer;
static adb__note_verifier vkey;
static char seed_hex[65];

typedef struct {
    adb__mhash *leaves;
} getctx;

static adb_status get_node(void *ctx, unsigned level, uint64_t index, uint8_t out[32])
{
    getctx *g = ctx;
    uint64_t first = index << level, n = (uint64_t)1 << level;
    if (first + n > MAXLEAVES)
        return ADB_ERR_NOT_FOUND;
    adb__merkle_root((const adb__mhash *)(g->leaves + first), n, out);
    return ADB_OK;
}

/* adb__tree_consistency_proof's signature, over the in-memory tree */
static adb_status mem_consistency(PGconn *c, const char *org, uint64_t size1, uint64_t size2,
                                  adb__mhash *proof, size_t *n, char *e, size_t elen)
{
    (void)c;
    (void)org;
    getctx g = { tree };
    proof_calls++;
    if (size2 > MAXLEAVES || size1 > size2) {
        snprintf(e, elen, "beyond the tree");
        return ADB_ERR_NOT_FOUND;
    }
    return adb__merkle_consistency_proof(get_node, &g, size1, size2, proof, n);
}

static void root_at(const adb__mhash *leaves, uint64_t size, uint8_t out[32])
{
    adb__merkle_root(leaves, size, out);
}

static FILE *logstream;
static char *logbuf;
static size_t loglen;

static adb__checkpointer *start(int interval_ms)
{
    adb__checkpointer_options o = {
        .pool = pool,
        .signer = &signer,
        .log_name = "test.log",
        .dir = dir,
        .interval_ms = interval_ms,
        .consistency = mem_consistency,
        .log = logstream,
    };
    adb__checkpointer *cp = adb__checkpointer_start(&o, err, sizeof(err));
    if (!cp)
        printf("# start: %s\n", err);
    return cp;
}

static char *file_text(const char *org, size_t *len)
{
    char path[2048];
    if (!adb__checkpoint_path(dir, org, path, sizeof(path)))
        return NULL;
    return adb__read_file(path, 65536, len);
}

/* the size in the org's file (verified with the log key), -1 if none or bad */
static long long file_size(const char *org)
{
    size_t len, count;
    char *t = file_text(org, &len);
    adb__note n;
    adb__checkpoint_body b;
    long long out = -1;

    if (t && adb__note_verify(t, len, &vkey, 1, &n, NULL, NULL, &count, err, sizeof(err)) == ADB_OK &&
        adb__checkpoint_body_parse(n.text, n.text_len, &b, err, sizeof(err)) == ADB_OK)
        out = (long long)b.size;
    free(t);
    return out;
}

static long long alerts(PGconn *c, const char *kind)
{
    char sql[512];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM alerts WHERE source = 'auditdb-checkpoint'"
             " AND metadata->>'kind' = '%s' AND organization_id = '" ORG "'", kind);
    return t_count(c, sql);
}

static void offer(adb__checkpointer *cp, const adb__mhash *leaves, uint64_t size)
{
    uint8_t r[32];
    root_at(leaves, size, r);
    adb__checkpointer_offer(cp, ORG, size, r);
}

static void first_offer_signed_stored(void)
{
    PGconn *c = PQconnectdb(ci);
    adb__checkpointer *cp = start(60000);
    adb__checkpointer_stats st;
    size_t len;
    REQUIRE(cp);

    offer(cp, honest, 3);
    adb__checkpointer_flush(cp);
    CHECK(file_size(ORG) == 3);
    char *t = file_text(ORG, &len);
    REQUIRE(t);
    CHECK(strncmp(t, "test.log/acme\n3\n", 16) == 0);
    /* the row holds the same note */
    char *db = t_query1(c, "SELECT note FROM log_checkpoint WHERE organization_id = '" ORG "'"
                           " AND tree_size = 3");
    CHECK(db && strcmp(db, t) == 0);
    free(db);
    CHECK(t_count(c, "SELECT count(*) FROM log_checkpoint WHERE root_hash IS NOT NULL"
                     " AND length(root_hash) = 32 AND cosignatures = 0") == 1);
    free(t);
    /* the first checkpoint needs no proof */
    CHECK(proof_calls == 0);

    /* offers between two rounds: one checkpoint, of the largest */
    offer(cp, honest, 5);
    offer(cp, honest, 9);
    offer(cp, honest, 7); /* an older offer does not replace a newer one */
    adb__checkpointer_flush(cp);
    adb__checkpointer_stats_get(cp, &st);
    CHECK(st.signed_count == 2);
    CHECK(st.offers == 4);
    CHECK(file_size(ORG) == 9);
    CHECK(proof_calls == 1);
    CHECK(t_count(c, "SELECT count(*) FROM log_checkpoint WHERE organization_id = '" ORG "'") == 2);
    CHECK(t_count(c, "SELECT count(*) FROM log_checkpoint WHERE tree_size IN (3, 9)") == 2);
    /* the same offer again: nothing new */
    offer(cp, honest, 9);
    adb__checkpointer_flush(cp);
    adb__checkpointer_stats_get(cp, &st);
    CHECK(st.signed_count == 2 && st.refused == 0);
    adb__checkpointer_stop(cp);
    PQfinish(c);
}

static void signs_on_its_own_every_interval(void)
{
    adb__checkpointer *cp = start(50);
    adb__checkpointer_stats st;
    REQUIRE(cp);
    offer(cp, honest, 12);
    for (int i = 0; i < 200; i++) {
        adb__checkpointer_stats_get(cp, &st);
        if (st.rounds >= 1 && st.signed_count == 1)
            break;
        adb__sleep_ms(20);
    }
    CHECK(file_size(ORG) == 12);
    CHECK(st.signed_count == 1 && st.rounds >= 1);
    adb__checkpointer_stop(cp);
}

static void inconsistent_offers_refused(void)
{
    PGconn *c = PQconnectdb(ci);
    adb__checkpointer *cp = start(60000);
    adb__checkpointer_stats st;
    REQUIRE(cp);

    /* a fork: the tree was rewritten from leaf 4 on; its proof source is
     * the forked tree too (what a rewritten database would answer) */
    tree = forked;
    offer(cp, forked, 20);
    adb__checkpointer_flush(cp);
    CHECK(file_size(ORG) == 12);
    CHECK(alerts(c, "inconsistent") == 1);
    /* the alert says what and where, as a critical security alert */
    CHECK(t_count(c, "SELECT count(*) FROM alerts WHERE source = 'auditdb-checkpoint'"
                     " AND severity = 'CRITICAL' AND type = 'SECURITY'"
                     " AND metadata->>'signedSize' = '12' AND metadata->>'offeredSize' = '20'") == 1);
    /* again, larger: refused, but not alerted twice for the same signed size */
    offer(cp, forked, 25);
    adb__checkpointer_flush(cp);
    CHECK(file_size(ORG) == 12);
    CHECK(alerts(c, "inconsistent") == 1);
    tree = honest;

    /* a shorter tree: the tail was cut */
    offer(cp, honest, 10);
    adb__checkpointer_flush(cp);
    CHECK(file_size(ORG) == 12);
    CHECK(alerts(c, "tree_shrank") == 1);
    /* the same size with another root */
    offer(cp, forked, 12);
    adb__checkpointer_flush(cp);
    CHECK(file_size(ORG) == 12);
    CHECK(alerts(c, "root_changed") == 1);
    /* a size the proof source cannot prove */
    uint8_t r[32];
    memset(r, 7, 32);
    adb__checkpointer_offer(cp, ORG, MAXLEAVES + 10, r);
    adb__checkpointer_flush(cp);
    CHECK(alerts(c, "no_proof") == 1);
    adb__checkpointer_stats_get(cp, &st);
    CHECK(st.refused == 5 && st.signed_count == 0);
    CHECK(t_count(c, "SELECT count(*) FROM log_checkpoint WHERE organization_id = '" ORG "'"
                     " AND tree_size > 12") == 0);

    /* the honest tree still goes on */
    offer(cp, honest, 30);
    adb__checkpointer_flush(cp);
    CHECK(file_size(ORG) == 30);
    adb__checkpointer_stop(cp);

    /* the log lines say why, never the key */
    fflush(logstream);
    CHECK(logbuf && strstr(logbuf, "\"event\":\"inconsistent\"") != NULL);
    CHECK(logbuf && strstr(logbuf, "\"organizationId\":\"acme\"") != NULL);
    CHECK(logbuf && strstr(logbuf, seed_hex) == NULL);
    PQfinish(c);
}

static void restart_remembers_from_its_file(void)
{
    PGconn *c = PQconnectdb(ci);
    REQUIRE(PQstatus(c) == CONNECTION_OK);
    /* a superuser rewrites the database's copy: every row gone */
    REQUIRE(t_exec(c, "DELETE FROM log_checkpoint"));
    adb__checkpointer *cp = start(60000);
    REQUIRE(cp);
    /* the fork is still refused: the file says 30 */
    tree = forked;
    offer(cp, forked, 40);
    adb__checkpointer_flush(cp);
    tree = honest;
    CHECK(file_size(ORG) == 30);
    CHECK(t_count(c, "SELECT count(*) FROM alerts WHERE source = 'auditdb-checkpoint'"
                     " AND metadata->>'kind' = 'inconsistent' AND metadata->>'signedSize' = '30'") == 1);
    /* and the honest tree goes on from 30 */
    int calls = proof_calls;
    offer(cp, honest, 40);
    adb__checkpointer_flush(cp);
    CHECK(file_size(ORG) == 40);
    CHECK(proof_calls == calls + 1);
    adb__checkpointer_stop(cp);
    PQfinish(c);
}

static void tampered_or_missing_file_refused(void)
{
    PGconn *c = PQconnectdb(ci);
    char path[2048];
    size_t len;
    REQUIRE(adb__checkpoint_path(dir, ORG, path, sizeof(path)));
    char *good = adb__read_file(path, 65536, &len);
    REQUIRE(good);

    /* a file whose size was edited: its signature fails */
    char *bad = strdup(good);
    REQUIRE(bad);
    char *nl = strchr(bad, '\n');
    REQUIRE(nl && nl[1] == '4');
    nl[1] = '1'; /* 40 -> 10 */
    FILE *f = fopen(path, "w");
    REQUIRE(f);
    fwrite(bad, 1, len, f);
    fclose(f);
    adb__checkpointer *cp = start(60000);
    REQUIRE(cp);
    offer(cp, honest, 50);
    adb__checkpointer_flush(cp);
    CHECK(alerts(c, "file_invalid") == 1);
    char *now = adb__read_file(path, 65536, &len);
    CHECK(now && strcmp(now, bad) == 0); /* nothing signed over it */
    free(now);

    /* the file removed while the database holds a signed checkpoint */
    unlink(path);
    REQUIRE(t_exec(c, "SELECT 1"));
    {
        /* put the good note back into the database as the last row */
        const char *p[] = { good };
        PGresult *r = PQexecParams(c, "INSERT INTO log_checkpoint (organization_id, tree_size,"
                                      " root_hash, note) VALUES ('" ORG "', 40, decode(repeat('00', 32), 'hex'), $1)"
                                      " ON CONFLICT DO NOTHING", 1, NULL, p, NULL, NULL, 0);
        CHECK(PQresultStatus(r) == PGRES_COMMAND_OK);
        PQclear(r);
    }
    offer(cp, honest, 50);
    adb__checkpointer_flush(cp);
    CHECK(alerts(c, "file_missing") == 1);
    CHECK(access(path, F_OK) != 0);

    /* restored: on it goes */
    f = fopen(path, "w");
    REQUIRE(f);
    fwrite(good, 1, strlen(good), f);
    fclose(f);
    offer(cp, honest, 50);
    adb__checkpointer_flush(cp);
    CHECK(file_size(ORG) == 50);
    adb__checkpointer_stop(cp);
    free(bad);
    free(good);
    PQfinish(c);
}

static void organizations_apart(void)
{
    PGconn *c = PQconnectdb(ci);
    adb__checkpointer *cp = start(60000);
    uint8_t r[32];
    size_t len;
    const char *odd = "Acme Corp/ü";
    REQUIRE(cp);
    root_at(honest, 2, r);
    adb__checkpointer_offer(cp, odd, 2, r);
    adb__checkpointer_offer(cp, "..", 2, r);
    adb__checkpointer_flush(cp);
    char *t = file_text(odd, &len);
    CHECK(t && strncmp(t, "test.log/Acme%20Corp%2F%C3%BC\n2\n", 32) == 0);
    free(t);
    char path[2048];
    CHECK(adb__checkpoint_path(dir, odd, path, sizeof(path)));
    CHECK(strstr(path, "/Acme%20Corp%2F%C3%BC.checkpoint") != NULL);
    CHECK(adb__checkpoint_path(dir, "..", path, sizeof(path)));
    CHECK(strstr(path, "/%2E..checkpoint") != NULL && access(path, F_OK) == 0);
    CHECK(t_count(c, "SELECT count(*) FROM log_checkpoint WHERE organization_id = 'Acme Corp/ü'") == 1);
    adb__checkpointer_stop(cp);
    PQfinish(c);
}

static void bad_options_refused(void)
{
    PGconn *c = PQconnectdb(ci);
    char *datadir = t_query1(c, "SHOW data_directory");
    REQUIRE(datadir);
    adb__checkpointer_options o = {
        .pool = pool, .signer = &signer, .log_name = "test.log", .dir = datadir,
        .consistency = mem_consistency,
    };
    adb__checkpointer *cp = adb__checkpointer_start(&o, err, sizeof(err));
    CHECK(cp == NULL);
    CHECK_MSG(strstr(err, "PostgreSQL data directory") != NULL, "%s", err);
    adb__checkpointer_stop(cp);
    free(datadir);

    o.dir = dir;
    o.log_name = "other.name";
    CHECK(adb__checkpointer_start(&o, err, sizeof(err)) == NULL);
    o.log_name = "test.log";
    o.consistency = NULL;
    CHECK(adb__checkpointer_start(&o, err, sizeof(err)) == NULL);
    o.consistency = mem_consistency;
    o.witnesses = "http://127.0.0.1:1=example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
    CHECK(adb__checkpointer_start(&o, err, sizeof(err)) == NULL);
    CHECK_MSG(strstr(err, "type 0x04") != NULL, "%s", err);
    o.witnesses = "ftp://x=abc";
    CHECK(adb__checkpointer_start(&o, err, sizeof(err)) == NULL);
    o.witnesses = "http://127.0.0.1:1";
    CHECK(adb__checkpointer_start(&o, err, sizeof(err)) == NULL);
    PQfinish(c);
}

static void witnesses_parse(void)
{
    adb__witness w[4];
    size_t n = 0;
    adb__note_signer ws;
    adb__note_verifier wv;
    uint8_t seed[32] = { 1 };
    char vk[ADB_NOTE_VKEY_MAX], text[1024];

    REQUIRE(adb__note_signer_init(&ws, "w.example/1", ADB_NOTE_COSIG_V1, seed, err, sizeof(err)) == ADB_OK);
    adb__note_signer_verifier(&ws, &wv);
    REQUIRE(adb__note_vkey_format(&wv, vk, sizeof(vk)));
    snprintf(text, sizeof(text), "http://127.0.0.1:19201/=%s , https://w2.example/tlog=%s", vk, vk);
    CHECK(adb__witnesses_parse(text, w, 4, &n, err, sizeof(err)) == ADB_OK);
    CHECK(n == 2);
    CHECK_STR(w[0].url, "http://127.0.0.1:19201");
    CHECK_STR(w[1].url, "https://w2.example/tlog");
    CHECK(w[1].vkey.key_id == wv.key_id);
    CHECK(adb__witnesses_parse("", w, 4, &n, err, sizeof(err)) == ADB_OK && n == 0);
    snprintf(text, sizeof(text), "http://a=%s,http://b=%s", vk, vk);
    CHECK(adb__witnesses_parse(text, w, 1, &n, err, sizeof(err)) == ADB_ERR_CONFIG);
    adb__note_signer_free(&ws);
}

int main(void)
{
    uint8_t seed[32];
    adb_pool_options po;

    for (int i = 0; i < MAXLEAVES; i++) {
        uint8_t data[8] = { (uint8_t)i, (uint8_t)(i >> 8), 'l' };
        adb__merkle_leaf_hash(data, sizeof(data), honest[i]);
        data[2] = i >= 4 ? 'f' : 'l';
        adb__merkle_leaf_hash(data, sizeof(data), forked[i]);
    }
    if (!t_migrated_db("t_checkpoint", ci, sizeof(ci))) {
        printf("not ok - database\n");
        return 1;
    }
    adb_pool_options_default(&po);
    po.min = 1;
    if (adb_pool_open(ci, &po, &pool, err, sizeof(err)) != ADB_OK) {
        printf("not ok - pool: %s\n", err);
        return 1;
    }
    const char *tmp = getenv("TEST_TMP");
    snprintf(dir, sizeof(dir), "%s/checkpoints-%d", tmp && *tmp ? tmp : "/tmp", (int)getpid());
    RAND_bytes(seed, sizeof(seed));
    adb__hex(seed, sizeof(seed), seed_hex);
    if (adb__note_signer_init(&signer, "test.log", ADB_NOTE_ED25519, seed, err, sizeof(err)) != ADB_OK) {
        printf("not ok - signer: %s\n", err);
        return 1;
    }
    adb__note_signer_verifier(&signer, &vkey);
    logstream = open_memstream(&logbuf, &loglen);

    RUN(first_offer_signed_stored);
    RUN(signs_on_its_own_every_interval);
    RUN(inconsistent_offers_refused);
    RUN(restart_remembers_from_its_file);
    RUN(tampered_or_missing_file_refused);
    RUN(organizations_apart);
    RUN(bad_options_refused);
    RUN(witnesses_parse);

    fclose(logstream);
    free(logbuf);
    adb__note_signer_free(&signer);
    adb_pool_close(pool);
    return t_done();
}
