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
 * Witnesses: a real tlog-witness on loopback written from the specs in
 * Python (tests/tools/tlog_witness.py) cosigns, its cosignatures verified
 * and stored; a fresh witness is brought up to date through 409; a bad proof
 * gets 422 and an alert; a witness ahead of the log raises an alert; a
 * witness that is down is asked again; one that does not trust the log: 403.
 */
#include <openssl/rand.h>
#include <signal.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
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
static int corrupt_call; /* this call's proof gets one bit flipped (0: none) */

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
    adb_status st = adb__merkle_consistency_proof(get_node, &g, size1, size2, proof, n);
    if (st == ADB_OK && proof_calls == corrupt_call && *n > 0)
        proof[0][0] ^= 1;
    return st;
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

static long long alerts_of(PGconn *c, const char *org, const char *kind)
{
    char sql[512];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM alerts WHERE source = 'auditdb-checkpoint'"
             " AND metadata->>'kind' = '%s' AND organization_id = '%s'", kind, org);
    return t_count(c, sql);
}

static long long alerts(PGconn *c, const char *kind)
{
    return alerts_of(c, ORG, kind);
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

/* ---- witnesses ------------------------------------------------------------ */

typedef struct witness_proc {
    pid_t pid;
    int port;
    char vkey[ADB_NOTE_VKEY_MAX];
} witness_proc;

/* Starts tests/tools/tlog_witness.py trusting log_vkey, its state in
 * TEST_TMP/<name>, on port (0: any); reads its "listening PORT VKEY" line. */
static bool witness_start(witness_proc *w, const char *name, const char *log_vkey, int port)
{
    char state[1100], listen[64], line[1024], seed[65];
    int fds[2];
    const char *tmp = getenv("TEST_TMP");

    snprintf(state, sizeof(state), "%s/witness-%s-%d", tmp && *tmp ? tmp : "/tmp", name,
             (int)getpid());
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
    /* the same seed for the same name: a restarted witness keeps its key */
    adb__sha256_hex(name, strlen(name), seed);
    if (pipe(fds) == -1)
        return false;
    w->pid = fork();
    if (w->pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        char wname[128];
        snprintf(wname, sizeof(wname), "witness.test/%s", name);
        execlp("python3", "python3", "tests/tools/tlog_witness.py", "--log-vkey", log_vkey,
               "--state", state, "--name", wname, "--seed", seed, "--listen", listen,
               (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    bool ok = f && fgets(line, sizeof(line), f) &&
              sscanf(line, "listening %d %300s", &w->port, w->vkey) == 2;
    if (f)
        fclose(f);
    if (!ok)
        printf("# the witness did not start (python3 with the cryptography module?)\n");
    return ok;
}

static void witness_stop(witness_proc *w)
{
    if (w->pid > 0) {
        kill(w->pid, SIGTERM);
        waitpid(w->pid, NULL, 0);
        w->pid = 0;
    }
}

static char *witness_state_path(const char *name, char *out, size_t cap)
{
    const char *tmp = getenv("TEST_TMP");
    snprintf(out, cap, "%s/witness-%s-%d/state.json", tmp && *tmp ? tmp : "/tmp", name,
             (int)getpid());
    return out;
}

static adb__checkpointer *start_with(const char *witnesses)
{
    adb__checkpointer_options o = {
        .pool = pool, .signer = &signer, .log_name = "test.log", .dir = dir,
        .interval_ms = 60000, .consistency = mem_consistency, .log = logstream,
        .witnesses = witnesses, .witness_timeout_ms = 5000, .retry_ms = 50,
    };
    adb__checkpointer *cp = adb__checkpointer_start(&o, err, sizeof(err));
    if (!cp)
        printf("# start: %s\n", err);
    return cp;
}

/* cosignatures in org's file that verify with the witnesses' keys */
static size_t cosigned_by(const char *org, const witness_proc *ws, size_t n)
{
    adb__note_verifier vs[4];
    size_t len, count = 0;
    char *t = file_text(org, &len);
    for (size_t i = 0; i < n; i++)
        if (adb__note_vkey_parse(ws[i].vkey, &vs[i], err, sizeof(err)) != ADB_OK)
            return 99;
    if (!t || adb__note_verify(t, len, vs, n, NULL, NULL, NULL, &count, err, sizeof(err)) != ADB_OK)
        count = 0;
    free(t);
    return count;
}

#define WORG "wit"

static void woffer(adb__checkpointer *cp, uint64_t size)
{
    uint8_t r[32];
    root_at(honest, size, r);
    adb__checkpointer_offer(cp, WORG, size, r);
    adb__checkpointer_flush(cp);
}

static void witnesses_cosign(void)
{
    PGconn *c = PQconnectdb(ci);
    witness_proc w[2] = { { 0 }, { 0 } };
    char log_vk[ADB_NOTE_VKEY_MAX], cfg[4096], path[1200];
    adb__checkpointer_stats st;

    REQUIRE(adb__note_vkey_format(&vkey, log_vk, sizeof(log_vk)));
    REQUIRE(witness_start(&w[0], "w1", log_vk, 0));
    snprintf(cfg, sizeof(cfg), "http://127.0.0.1:%d=%s", w[0].port, w[0].vkey);
    adb__checkpointer *cp = start_with(cfg);
    REQUIRE(cp);

    /* the first checkpoint and a grown one: both cosigned */
    woffer(cp, 3);
    CHECK(file_size(WORG) == 3);
    CHECK(cosigned_by(WORG, w, 1) == 1);
    CHECK(t_count(c, "SELECT cosignatures FROM log_checkpoint WHERE organization_id = '" WORG "'"
                     " AND tree_size = 3 AND cosigned_at IS NOT NULL") == 1);
    woffer(cp, 9);
    CHECK(file_size(WORG) == 9);
    CHECK(cosigned_by(WORG, w, 1) == 1);
    char *db = t_query1(c, "SELECT note FROM log_checkpoint WHERE organization_id = '" WORG "'"
                           " AND tree_size = 9");
    size_t len;
    char *ft = file_text(WORG, &len);
    CHECK(db && ft && strcmp(db, ft) == 0); /* the row has the cosignature too */
    free(db);
    free(ft);
    adb__checkpointer_stop(cp);

    /* a second witness that has seen nothing: 409 says 0, then it cosigns */
    REQUIRE(witness_start(&w[1], "w2", log_vk, 0));
    snprintf(cfg, sizeof(cfg), "http://127.0.0.1:%d=%s,http://127.0.0.1:%d/=%s", w[0].port,
             w[0].vkey, w[1].port, w[1].vkey);
    REQUIRE((cp = start_with(cfg)));
    woffer(cp, 9);
    CHECK(cosigned_by(WORG, w, 2) == 2);
    CHECK(t_count(c, "SELECT cosignatures FROM log_checkpoint WHERE organization_id = '" WORG "'"
                     " AND tree_size = 9") == 2);

    /* a bad proof to the first witness: 422, an alert; the second cosigns */
    corrupt_call = proof_calls + 2; /* 1: the signer's own check, 2: w1's push */
    woffer(cp, 12);
    corrupt_call = 0;
    CHECK(file_size(WORG) == 12);
    CHECK(alerts_of(c, WORG, "witness_refused") == 1);
    CHECK(cosigned_by(WORG, w, 2) == 1);
    /* next time the first witness catches up from 9 */
    woffer(cp, 14);
    CHECK(cosigned_by(WORG, w, 2) == 2);

    /* a witness that is down is asked again once it is back */
    int port1 = w[0].port;
    witness_stop(&w[0]);
    woffer(cp, 20);
    CHECK(file_size(WORG) == 20);
    CHECK(cosigned_by(WORG, w, 2) == 1);
    adb__checkpointer_stats_get(cp, &st);
    CHECK(st.witness_errors >= 1);
    REQUIRE(witness_start(&w[0], "w1", log_vk, port1));
    adb__sleep_ms(60); /* past retry_ms */
    adb__checkpointer_flush(cp);
    CHECK(cosigned_by(WORG, w, 2) == 2);
    adb__checkpointer_stop(cp);

    /* a witness that holds a size the log never had */
    int port2 = w[1].port;
    witness_stop(&w[1]);
    FILE *f = fopen(witness_state_path("w2", path, sizeof(path)), "w");
    REQUIRE(f);
    fprintf(f, "{\"test.log/" WORG "\": {\"size\": 1000, \"root\": "
               "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"}}");
    fclose(f);
    REQUIRE(witness_start(&w[1], "w2", log_vk, port2));
    REQUIRE((cp = start_with(cfg)));
    woffer(cp, 25);
    CHECK(file_size(WORG) == 25);
    CHECK(alerts_of(c, WORG, "witness_ahead") == 1);
    CHECK(cosigned_by(WORG, w, 2) == 1);
    adb__checkpointer_stop(cp);

    /* a witness that does not trust this log's key: 403, logged, no alert */
    adb__note_signer other;
    adb__note_verifier ov;
    char other_vk[ADB_NOTE_VKEY_MAX];
    uint8_t seed[32] = { 9 };
    witness_proc w3 = { 0 };
    REQUIRE(adb__note_signer_init(&other, "test.log", ADB_NOTE_ED25519, seed, err, sizeof(err)) == ADB_OK);
    adb__note_signer_verifier(&other, &ov);
    adb__note_signer_free(&other);
    REQUIRE(adb__note_vkey_format(&ov, other_vk, sizeof(other_vk)));
    REQUIRE(witness_start(&w3, "w3", other_vk, 0));
    snprintf(cfg, sizeof(cfg), "http://127.0.0.1:%d=%s", w3.port, w3.vkey);
    REQUIRE((cp = start_with(cfg)));
    long long before = t_count(c, "SELECT count(*) FROM alerts");
    woffer(cp, 26);
    CHECK(file_size(WORG) == 26);
    CHECK(t_count(c, "SELECT count(*) FROM alerts") == before);
    adb__checkpointer_stop(cp);
    fflush(logstream);
    CHECK(logbuf && strstr(logbuf, "\"event\":\"witness_rejected\"") != NULL);
    CHECK(logbuf && strstr(logbuf, "answered 403") != NULL);

    witness_stop(&w[0]);
    witness_stop(&w[1]);
    witness_stop(&w3);
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
    RUN(witnesses_cosign);

    fclose(logstream);
    free(logbuf);
    adb__note_signer_free(&signer);
    adb_pool_close(pool);
    return t_done();
}
