/*
 * test_witness_push.c - the checkpointer (src/log/checkpoint.c) pushing to a
 * real `auditdb witness` process over HTTP, on the runner's PostgreSQL with
 * an in-memory tree: the log's checkpoints cosigned and the cosignatures kept
 * in its file; then a log that lost its memory (another checkpoint
 * directory, the same stolen key) signs a rewritten history, a truncated
 * tree and a fork at the witness's size: the witness refuses each (422, 409
 * ahead, 409 fork), the log raises its alert, and the witness still holds
 * the honest checkpoint.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../src/core/util.h"
#include "../../src/log/checkpoint.h"
#include "../../src/log/merkle.h"
#include "../../src/log/note.h"
#include "tdb.h"

extern char **environ;

#define MAXLEAVES 64
#define ORG "acme"

static adb__mhash honest[MAXLEAVES], forked[MAXLEAVES];
static adb__mhash *tree = honest;
static char ci[1024], tmp[512], err[1024], witnesses[1024], wstate[700];
static adb_pool *pool;
static adb__note_signer signer;
static pid_t wpid = -1;

static adb_status get_node(void *ctx, unsigned level, uint64_t index, uint8_t out[32])
{
    adb__mhash *leaves = ctx;
    uint64_t first = index << level, n = (uint64_t)1 << level;
    if (first + n > MAXLEAVES)
        return ADB_ERR_NOT_FOUND;
    adb__merkle_root((const adb__mhash *)(leaves + first), n, out);
    return ADB_OK;
}

static adb_status mem_consistency(PGconn *c, const char *org, uint64_t size1, uint64_t size2,
                                  adb__mhash *proof, size_t *n, char *e, size_t elen)
{
    (void)c;
    (void)org;
    if (size2 > MAXLEAVES || size1 > size2) {
        snprintf(e, elen, "beyond the tree");
        return ADB_ERR_NOT_FOUND;
    }
    return adb__merkle_consistency_proof(get_node, tree, size1, size2, proof, n);
}

/* A superuser empties log_checkpoint: a signer without the log's file then
 * signs as if new (what a stolen log key allows anyway). */
static void forget_rows(void)
{
    PGconn *c = PQconnectdb(ci);
    t_exec(c, "DELETE FROM log_checkpoint");
    PQfinish(c);
}

static adb__checkpointer *start(const char *name)
{
    char dir[700];
    snprintf(dir, sizeof(dir), "%s/%s", tmp, name);
    adb__checkpointer_options o = {
        .pool = pool, .signer = &signer, .log_name = "test.log", .dir = dir,
        .witnesses = witnesses, .interval_ms = 60000, .consistency = mem_consistency,
        .witness_timeout_ms = 5000, .retry_ms = 60000,
    };
    adb__checkpointer *cp = adb__checkpointer_start(&o, err, sizeof(err));
    if (!cp)
        printf("# start: %s\n", err);
    return cp;
}

static void offer(adb__checkpointer *cp, const adb__mhash *leaves, uint64_t size)
{
    uint8_t r[32];
    adb__merkle_root(leaves, size, r);
    adb__checkpointer_offer(cp, ORG, size, r);
    adb__checkpointer_flush(cp);
}

/* The size in the witness's state file of test.log/acme, -1 if none. */
static long long witness_size(void)
{
    size_t len;
    char *t = adb__read_file(wstate, 65536, &len), *nl;
    long long v = -1;
    if (t && (nl = strchr(t, '\n'))) {
        char *end = strchr(nl + 1, '\n');
        if (end) {
            *end = '\0';
            if (!adb__parse_int(nl + 1, 0, INT64_MAX, &v))
                v = -1;
        }
    }
    free(t);
    return v;
}

static long long alerts(const char *kind)
{
    char sql[512];
    PGconn *c = PQconnectdb(ci);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM alerts WHERE source = 'auditdb-checkpoint'"
             " AND metadata->>'kind' = '%s' AND organization_id = '" ORG "'", kind);
    long long n = t_count(c, sql);
    PQfinish(c);
    return n;
}

/* The refusal's checkpoint_refusals row naming a witness, and the
 * security_events row its trigger made for the detection rule (0040). */
static long long refusals(const char *kind)
{
    char sql[768];
    PGconn *c = PQconnectdb(ci);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM checkpoint_refusals r JOIN security_events e"
             " ON e.event_type = 'checkpoint_refused' AND (e.details->>'refusalId')::bigint = r.id"
             " AND e.target_resource = r.witness AND e.organization_id = r.organization_id"
             " WHERE r.kind = '%s' AND r.witness IS NOT NULL AND r.organization_id = '" ORG "'",
             kind);
    long long n = t_count(c, sql);
    PQfinish(c);
    return n;
}

/* A port nobody listens on now. */
static int free_port(void)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(a);
    int s = socket(AF_INET, SOCK_STREAM, 0), port = -1;
    if (s >= 0 && bind(s, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(s, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (s >= 0)
        close(s);
    return port;
}

static bool listening(int port)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int s = socket(AF_INET, SOCK_STREAM, 0);
    bool ok = s >= 0 && connect(s, (struct sockaddr *)&a, sizeof(a)) == 0;
    if (s >= 0)
        close(s);
    return ok;
}

/* Starts `auditdb witness` for the log key; fills witnesses (AUDITDB_WITNESSES). */
static bool start_witness(void)
{
    const char *bin = getenv("AUDITDB_BIN");
    char key[600], state[600], listen[64], logv[ADB_NOTE_VKEY_MAX], wvkey[ADB_NOTE_VKEY_MAX];
    char cmd[1400], logpath[600];
    adb__note_verifier v;
    int port = free_port();
    FILE *p;

    if (!bin || port < 0)
        return false;
    snprintf(key, sizeof(key), "%s/witness.key", tmp);
    snprintf(state, sizeof(state), "%s/witness-state", tmp);
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
    snprintf(logpath, sizeof(logpath), "%s/witness.log", tmp);
    snprintf(wstate, sizeof(wstate), "%s/test.log%%2F" ORG ".checkpoint", state);
    adb__note_signer_verifier(&signer, &v);
    adb__note_vkey_format(&v, logv, sizeof(logv));
    snprintf(cmd, sizeof(cmd), "'%s' witness --key '%s' --name witness.test/w1 --print-vkey", bin,
             key);
    p = popen(cmd, "r");
    if (!p || !fgets(wvkey, sizeof(wvkey), p)) {
        if (p)
            pclose(p);
        return false;
    }
    pclose(p);
    wvkey[strcspn(wvkey, "\n")] = '\0';
    snprintf(witnesses, sizeof(witnesses), "http://127.0.0.1:%d=%s", port, wvkey);

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 2, logpath, O_WRONLY | O_CREAT | O_APPEND, 0644);
    char *argv[] = { (char *)bin, "witness", "--listen", listen, "--state", state, "--key", key,
                     "--name", "witness.test/w1", "--log", logv, NULL };
    int rc = posix_spawn(&wpid, bin, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        return false;
    for (int i = 0; i < 200; i++) {
        if (listening(port))
            return true;
        adb__sleep_ms(50);
    }
    return false;
}

static void honest_log_cosigned(void)
{
    adb__checkpointer *cp = start("log");
    adb__checkpointer_stats st;
    char dir[700], path[900];
    size_t len;
    REQUIRE(cp);

    offer(cp, honest, 3);
    adb__checkpointer_stats_get(cp, &st);
    CHECK(st.signed_count == 1 && st.cosignatures == 1 && st.witness_errors == 0);
    CHECK(witness_size() == 3);
    offer(cp, honest, 9);
    adb__checkpointer_stats_get(cp, &st);
    CHECK_MSG(st.cosignatures == 2 && st.witness_errors == 0, "cosignatures %llu errors %llu",
              (unsigned long long)st.cosignatures, (unsigned long long)st.witness_errors);
    CHECK(witness_size() == 9);
    /* the log's file carries the witness's cosignature */
    snprintf(dir, sizeof(dir), "%s/log", tmp);
    REQUIRE(adb__checkpoint_path(dir, ORG, path, sizeof(path)));
    char *t = adb__read_file(path, 65536, &len);
    CHECK(t && strstr(t, "\n9\n") && strstr(t, "\xe2\x80\x94 witness.test/w1 "));
    free(t);
    adb__checkpointer_stop(cp);
}

static void rewritten_history_refused(void)
{
    /* the database rewritten from leaf 4 on and re-signed with the log key by
     * a checkpointer without the log's memory */
    forget_rows();
    adb__checkpointer *cp = start("thief1");
    adb__checkpointer_stats st;
    REQUIRE(cp);
    tree = forked;
    offer(cp, forked, 20);
    tree = honest;
    adb__checkpointer_stats_get(cp, &st);
    CHECK_MSG(st.signed_count == 1 && st.cosignatures == 0 && st.witness_errors >= 1,
              "signed %llu cosignatures %llu errors %llu refused %llu",
              (unsigned long long)st.signed_count, (unsigned long long)st.cosignatures,
              (unsigned long long)st.witness_errors, (unsigned long long)st.refused);
    CHECK(alerts("witness_refused") == 1);
    CHECK(refusals("witness_refused") == 1);
    CHECK(witness_size() == 9);
    adb__checkpointer_stop(cp);
}

static void truncated_tree_refused(void)
{
    forget_rows();
    adb__checkpointer *cp = start("thief2");
    adb__checkpointer_stats st;
    REQUIRE(cp);
    offer(cp, honest, 5); /* the tail after 5 deleted */
    adb__checkpointer_stats_get(cp, &st);
    CHECK(st.cosignatures == 0);
    CHECK(alerts("witness_ahead") == 1);
    CHECK(refusals("witness_ahead") == 1);
    CHECK(witness_size() == 9);
    adb__checkpointer_stop(cp);
}

static void fork_at_the_witness_size_refused(void)
{
    forget_rows();
    adb__checkpointer *cp = start("thief3");
    adb__checkpointer_stats st;
    REQUIRE(cp);
    tree = forked;
    offer(cp, forked, 9);
    tree = honest;
    adb__checkpointer_stats_get(cp, &st);
    CHECK(st.cosignatures == 0);
    CHECK(alerts("witness_fork") == 1);
    CHECK(refusals("witness_fork") == 1);
    CHECK(witness_size() == 9);
    adb__checkpointer_stop(cp);
}

static void honest_log_goes_on(void)
{
    adb__checkpointer *cp = start("log");
    adb__checkpointer_stats st;
    REQUIRE(cp);
    offer(cp, honest, 30);
    adb__checkpointer_stats_get(cp, &st);
    CHECK(st.cosignatures == 1 && st.witness_errors == 0);
    CHECK(witness_size() == 30);
    adb__checkpointer_stop(cp);
}

int main(void)
{
    uint8_t seed[32];
    adb_pool_options po;
    const char *t = getenv("TEST_TMP");
    int status = 0;

    for (int i = 0; i < MAXLEAVES; i++) {
        uint8_t data[3] = { (uint8_t)i, 'l', 0 };
        adb__merkle_leaf_hash(data, sizeof(data), honest[i]);
        data[1] = i >= 4 ? 'f' : 'l';
        adb__merkle_leaf_hash(data, sizeof(data), forked[i]);
    }
    snprintf(tmp, sizeof(tmp), "%s/witness_push-%d", t && *t ? t : "/tmp", (int)getpid());
    if (!adb__mkdir_p(tmp, 0700) || !t_migrated_db("t_witness_push", ci, sizeof(ci))) {
        printf("not ok - setup\n");
        return 1;
    }
    adb_pool_options_default(&po);
    po.min = 1;
    for (int i = 0; i < 32; i++)
        seed[i] = (uint8_t)(i * 3 + 9);
    if (adb_pool_open(ci, &po, &pool, err, sizeof(err)) != ADB_OK ||
        adb__note_signer_init(&signer, "test.log", ADB_NOTE_ED25519, seed, err, sizeof(err)) !=
            ADB_OK) {
        printf("not ok - pool or signer: %s\n", err);
        return 1;
    }
    if (!start_witness()) {
        printf("not ok - auditdb witness started (AUDITDB_BIN)\n");
        return 1;
    }

    RUN(honest_log_cosigned);
    RUN(rewritten_history_refused);
    RUN(truncated_tree_refused);
    RUN(fork_at_the_witness_size_refused);
    RUN(honest_log_goes_on);

    kill(wpid, SIGTERM);
    waitpid(wpid, &status, 0);
    printf("%s - the witness stopped cleanly (exit %d)\n",
           WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "ok" : "not ok",
           WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    adb__note_signer_free(&signer);
    adb_pool_close(pool);
    return t_done() || !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}
