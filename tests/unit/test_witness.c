/*
 * test_witness.c - the tlog-witness's decisions (src/log/witness.c) without
 * HTTP: which origins a log covers, a size-0 first checkpoint, a state file
 * that cannot be written (500, no cosignature, nothing advanced), a state file
 * of another origin refused rather than started over, long origins, the key
 * file's refusals, and the answer's cosignature verified with the witness's
 * vkey. tests/sh/witness.sh drives the same over HTTP with a Python client.
 */
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../src/log/merkle.h"
#include "../../src/log/note.h"
#include "../../src/log/witness.h"
#include "t.h"

static char tmpdir[256], err[512];
static uint8_t log_seed[32], wit_seed[32];
static adb__note_signer log_signer;
static char log_vkey[ADB_NOTE_VKEY_MAX];

#define NLEAVES 64
static adb__mhash leaves[NLEAVES];

static adb_status get(void *ctx, unsigned level, uint64_t index, uint8_t out[32])
{
    (void)ctx;
    adb__merkle_root((const adb__mhash *)leaves + (index << level), (uint64_t)1 << level, out);
    return ADB_OK;
}

/* An add-checkpoint body for origin at size from old (a true proof when
 * good, else one bit flipped); malloc()ed. */
static char *body_for(const char *origin, uint64_t old, uint64_t size, bool good, size_t *len)
{
    adb__mhash proof[ADB_MERKLE_MAX_PROOF];
    size_t n = 0, off, nlen;
    uint8_t root[32];
    char text[ADB_CHECKPOINT_BODY_MAX], *note, *out;
    size_t tlen;

    adb__merkle_root((const adb__mhash *)leaves, size, root);
    if (old > 0 && old < size &&
        adb__merkle_consistency_proof(get, NULL, old, size, proof, &n) != ADB_OK)
        return NULL;
    if (!good && n > 0)
        proof[0][0] ^= 1;
    tlen = adb__checkpoint_body_format(origin, size, root, text, sizeof(text));
    note = adb__note_sign(&log_signer, text, tlen, 0, &nlen, err, sizeof(err));
    if (!tlen || !note)
        return NULL;
    out = malloc(32 + n * 46 + nlen + 1);
    off = (size_t)sprintf(out, "old %llu\n", (unsigned long long)old);
    for (size_t i = 0; i < n; i++) {
        off += adb__note_b64_encode(proof[i], 32, out + off);
        out[off++] = '\n';
    }
    out[off++] = '\n';
    memcpy(out + off, note, nlen);
    off += nlen;
    out[off] = '\0';
    free(note);
    *len = off;
    return out;
}

static adb__witness_service *open_witness(const char *dir, const adb__witness_log *logs, size_t n)
{
    adb__witness_options o = { .state_dir = dir, .name = "witness.test/w1", .seed = wit_seed,
                               .logs = logs, .nlogs = n };
    return adb__witness_open(&o, err, sizeof(err));
}

static int submit(adb__witness_service *w, const char *origin, uint64_t old, uint64_t size,
                  bool good, adb__witness_answer *a)
{
    size_t len = 0;
    char *b = body_for(origin, old, size, good, &len);
    if (!b)
        return -1;
    adb__witness_add_checkpoint(w, b, len, a);
    free(b);
    return a->status;
}

static int submit1(adb__witness_service *w, const char *origin, uint64_t old, uint64_t size)
{
    adb__witness_answer a;
    int st = submit(w, origin, old, size, true, &a);
    adb__witness_answer_free(&a);
    return st;
}

static void test_prefixes(void)
{
    char dir[300];
    adb__witness_log logs[] = { { "auditdb.test/", log_vkey }, { "exact.test/log", log_vkey } };
    adb__witness_service *w;

    snprintf(dir, sizeof(dir), "%s/prefixes", tmpdir);
    w = open_witness(dir, logs, 2);
    REQUIRE(w);
    CHECK(submit1(w, "auditdb.test/org1", 0, 3) == 200);
    CHECK(submit1(w, "auditdb.test/a/b", 0, 3) == 200);
    CHECK(submit1(w, "auditdb.test/", 0, 3) == 404);
    CHECK(submit1(w, "auditdb.test", 0, 3) == 404);
    CHECK(submit1(w, "auditdb.testx/org1", 0, 3) == 404);
    CHECK(submit1(w, "exact.test/log", 0, 3) == 200);
    CHECK(submit1(w, "exact.test/log/x", 0, 3) == 404);
    CHECK(submit1(w, "exact.test/lo", 0, 3) == 404);
    adb__witness_close(w);
}

static void test_cosignature_verifies(void)
{
    char dir[300], vkey[ADB_NOTE_VKEY_MAX], *b, *note;
    adb__witness_log logs[] = { { "auditdb.test/", log_vkey } };
    adb__note_verifier v;
    adb__witness_answer a;
    adb__witness_service *w;
    size_t len, count = 0;
    uint64_t t = 0;

    snprintf(dir, sizeof(dir), "%s/cosig", tmpdir);
    REQUIRE(adb__witness_vkey("witness.test/w1", wit_seed, vkey, sizeof(vkey)));
    REQUIRE(adb__note_vkey_parse(vkey, &v, err, sizeof(err)) == ADB_OK);
    CHECK(v.type == ADB_NOTE_COSIG_V1);
    w = open_witness(dir, logs, 1);
    REQUIRE(w);
    b = body_for("auditdb.test/o", 0, 7, true, &len);
    REQUIRE(b);
    adb__witness_add_checkpoint(w, b, len, &a);
    CHECK(a.status == 200);
    REQUIRE(a.body);
    /* the checkpoint with the answer appended verifies against the witness's key */
    note = malloc(len + a.len + 1);
    char *cp = strstr(b, "\n\n") + 2;
    size_t clen = len - (size_t)(cp - b);
    memcpy(note, cp, clen);
    memcpy(note + clen, a.body, a.len);
    CHECK(adb__note_verify(note, clen + a.len, &v, 1, NULL, NULL, &t, &count, err, sizeof(err)) ==
          ADB_OK);
    CHECK(count == 1);
    CHECK(t > 1700000000);
    free(note);
    free(b);
    adb__witness_answer_free(&a);
    adb__witness_close(w);
}

static void test_size_zero(void)
{
    char dir[300], text[ADB_CHECKPOINT_BODY_MAX], *note, body[1024];
    adb__witness_log logs[] = { { "auditdb.test/", log_vkey } };
    uint8_t bad_root[32] = { 1 };
    adb__witness_answer a;
    adb__witness_service *w;
    size_t tlen, nlen;

    snprintf(dir, sizeof(dir), "%s/zero", tmpdir);
    w = open_witness(dir, logs, 1);
    REQUIRE(w);
    /* an empty tree whose root is not SHA-256 of nothing: refused */
    tlen = adb__checkpoint_body_format("auditdb.test/z", 0, bad_root, text, sizeof(text));
    note = adb__note_sign(&log_signer, text, tlen, 0, &nlen, err, sizeof(err));
    REQUIRE(note);
    snprintf(body, sizeof(body), "old 0\n\n%s", note);
    adb__witness_add_checkpoint(w, body, strlen(body), &a);
    CHECK(a.status == 409);
    adb__witness_answer_free(&a);
    free(note);
    /* the true empty tree is accepted, then grows from 0 without a proof */
    CHECK(submit1(w, "auditdb.test/z", 0, 0) == 200);
    CHECK(submit1(w, "auditdb.test/z", 0, 5) == 200);
    CHECK(submit1(w, "auditdb.test/z", 5, 5) == 200);
    CHECK(submit1(w, "auditdb.test/z", 0, 6) == 409);
    adb__witness_close(w);
}

static void test_unwritable_state(void)
{
    char dir[300], path[700], name[300];
    adb__witness_log logs[] = { { "auditdb.test/", log_vkey } };
    adb__witness_answer a;
    adb__witness_service *w;
    struct stat st;

    snprintf(dir, sizeof(dir), "%s/unwritable", tmpdir);
    w = open_witness(dir, logs, 1);
    REQUIRE(w);
    CHECK(submit1(w, "auditdb.test/u", 0, 4) == 200);
    /* the temporary file cannot be made (a directory holds its name) */
    REQUIRE(adb__witness_state_name("auditdb.test/u", name, sizeof(name)));
    snprintf(path, sizeof(path), "%s/.%s.tmp", dir, name);
    REQUIRE(mkdir(path, 0700) == 0);
    CHECK(submit(w, "auditdb.test/u", 4, 9, true, &a) == 500);
    CHECK(a.body && strstr(a.body, "\xe2\x80\x94") == NULL); /* no cosignature */
    adb__witness_answer_free(&a);
    CHECK(submit1(w, "auditdb.test/u", 9, 10) == 409); /* nothing advanced */
    rmdir(path);
    CHECK(submit1(w, "auditdb.test/u", 4, 9) == 200);
    CHECK(stat(path, &st) == -1);
    adb__witness_close(w);
}

static void test_state_of_another_origin(void)
{
    char dir[300], from[700], to[700], a_name[300], b_name[300];
    adb__witness_log logs[] = { { "auditdb.test/", log_vkey } };
    adb__witness_service *w;

    snprintf(dir, sizeof(dir), "%s/moved", tmpdir);
    w = open_witness(dir, logs, 1);
    REQUIRE(w);
    CHECK(submit1(w, "auditdb.test/a", 0, 8) == 200);
    REQUIRE(adb__witness_state_name("auditdb.test/a", a_name, sizeof(a_name)));
    REQUIRE(adb__witness_state_name("auditdb.test/b", b_name, sizeof(b_name)));
    snprintf(from, sizeof(from), "%s/%s", dir, a_name);
    snprintf(to, sizeof(to), "%s/%s", dir, b_name);
    REQUIRE(rename(from, to) == 0);
    CHECK(submit1(w, "auditdb.test/b", 0, 8) == 500);
    CHECK(submit1(w, "auditdb.test/a", 0, 3) == 200); /* a's file gone: a starts over */
    adb__witness_close(w);
}

static void test_long_origin(void)
{
    char dir[300], origin[700], name[300];
    adb__witness_log logs[] = { { "auditdb.test/", log_vkey } };
    adb__witness_service *w;

    snprintf(dir, sizeof(dir), "%s/long", tmpdir);
    memcpy(origin, "auditdb.test/", 13);
    memset(origin + 13, '/', 600); /* 1800 bytes percent-encoded */
    origin[613] = '\0';
    REQUIRE(adb__witness_state_name(origin, name, sizeof(name)));
    CHECK(strncmp(name, "sha256-", 7) == 0 && strlen(name) < 100);
    w = open_witness(dir, logs, 1);
    REQUIRE(w);
    CHECK(submit1(w, origin, 0, 5) == 200);
    CHECK(submit1(w, origin, 0, 6) == 409);
    CHECK(submit1(w, origin, 5, 6) == 200);
    adb__witness_close(w);
}

static void test_bad_proof_keeps_state(void)
{
    char dir[300];
    adb__witness_log logs[] = { { "auditdb.test/", log_vkey } };
    adb__witness_answer a;
    adb__witness_service *w;

    snprintf(dir, sizeof(dir), "%s/badproof", tmpdir);
    w = open_witness(dir, logs, 1);
    REQUIRE(w);
    CHECK(submit1(w, "auditdb.test/p", 0, 13) == 200);
    for (uint64_t size = 14; size <= NLEAVES; size += 7) {
        CHECK(submit(w, "auditdb.test/p", 13, size, false, &a) == 422);
        adb__witness_answer_free(&a);
    }
    CHECK(submit1(w, "auditdb.test/p", 13, NLEAVES) == 200);
    adb__witness_close(w);
}

/* A note with the most signature lines a request may carry (the log's and
 * 99 of unknown keys): cosigned, and its state, one line longer, still read. */
static void test_most_signatures(void)
{
    char dir[300];
    adb__witness_log logs[] = { { "auditdb.test/", log_vkey } };
    adb__witness_answer a;
    adb__witness_service *w;
    size_t len;
    char *b = body_for("auditdb.test/s", 0, 6, true, &len), *big;
    uint8_t raw[68];
    char b64[100];

    REQUIRE(b);
    big = malloc(len + (ADB_NOTE_MAX_SIGS - 1) * 160);
    REQUIRE(big);
    memcpy(big, b, len);
    memset(raw, 0x5a, sizeof(raw));
    adb__note_b64_encode(raw, sizeof(raw), b64);
    for (int i = 1; i < ADB_NOTE_MAX_SIGS; i++)
        len += (size_t)sprintf(big + len, "\xe2\x80\x94 other.example/k%d %s\n", i, b64);
    snprintf(dir, sizeof(dir), "%s/most", tmpdir);
    w = open_witness(dir, logs, 1);
    REQUIRE(w);
    adb__witness_add_checkpoint(w, big, len, &a);
    CHECK_MSG(a.status == 200, "%d %s", a.status, a.reason);
    adb__witness_answer_free(&a);
    CHECK(submit1(w, "auditdb.test/s", 6, 9) == 200);
    /* one more line is more than a note may carry: 400 */
    len += (size_t)sprintf(big + len, "\xe2\x80\x94 other.example/k0 %s\n", b64);
    adb__witness_add_checkpoint(w, big, len, &a);
    CHECK(a.status == 400);
    adb__witness_answer_free(&a);
    free(big);
    free(b);
    adb__witness_close(w);
}

static void test_open_refusals(void)
{
    char dir[300];
    adb__witness_log bad_key[] = { { "auditdb.test/", "auditdb.test+00000000+AAAA" } };
    adb__witness_log empty[] = { { "", log_vkey } };
    adb__witness_log good[] = { { "auditdb.test/", log_vkey } };
    adb__witness_service *w, *w2;
    char wvkey[ADB_NOTE_VKEY_MAX];
    adb__witness_log cosig_key[1];

    snprintf(dir, sizeof(dir), "%s/refusals", tmpdir);
    CHECK(open_witness(dir, bad_key, 1) == NULL);
    CHECK(open_witness(dir, empty, 1) == NULL);
    CHECK(open_witness(dir, good, 0) == NULL);
    /* a witness's own key type (0x04) is not a log key */
    REQUIRE(adb__witness_vkey("auditdb.test", wit_seed, wvkey, sizeof(wvkey)));
    cosig_key[0] = (adb__witness_log){ "auditdb.test/", wvkey };
    CHECK(open_witness(dir, cosig_key, 1) == NULL);
    w = open_witness(dir, good, 1);
    REQUIRE(w);
    w2 = open_witness(dir, good, 1);
    CHECK(w2 == NULL);
    CHECK(strstr(err, "in use") != NULL);
    adb__witness_close(w2);
    adb__witness_close(w);
}

static void test_key_file(void)
{
    char path[300], link[300];
    uint8_t a[32], b[32];
    int fd;

    snprintf(path, sizeof(path), "%s/w.key", tmpdir);
    CHECK(!adb__witness_key_file(path, false, a, err, sizeof(err)));
    REQUIRE(adb__witness_key_file(path, true, a, err, sizeof(err)));
    CHECK(adb__witness_key_file(path, false, b, err, sizeof(err)) && memcmp(a, b, 32) == 0);
    chmod(path, 0640);
    CHECK(!adb__witness_key_file(path, true, b, err, sizeof(err)));
    CHECK(strstr(err, "chmod 600") != NULL);
    snprintf(link, sizeof(link), "%s/link.key", tmpdir);
    chmod(path, 0600);
    REQUIRE(symlink(path, link) == 0);
    CHECK(!adb__witness_key_file(link, true, b, err, sizeof(err)));
    snprintf(path, sizeof(path), "%s/short.key", tmpdir);
    fd = open(path, O_WRONLY | O_CREAT, 0600);
    CHECK(write(fd, "abcd\n", 5) == 5);
    close(fd);
    CHECK(!adb__witness_key_file(path, true, b, err, sizeof(err)));
    CHECK(strstr(err, "64 hex digits") != NULL);
}

int main(void)
{
    const char *base = getenv("TEST_TMP") ? getenv("TEST_TMP") : "/tmp";
    adb__note_verifier v;

    snprintf(tmpdir, sizeof(tmpdir), "%s/test_witness.XXXXXX", base);
    if (!mkdtemp(tmpdir)) {
        printf("not ok - mkdtemp %s\n", tmpdir);
        return 1;
    }
    for (int i = 0; i < 32; i++) {
        log_seed[i] = (uint8_t)(i * 7 + 1);
        wit_seed[i] = (uint8_t)(i * 13 + 5);
    }
    for (int i = 0; i < NLEAVES; i++) {
        char leaf[16];
        int n = snprintf(leaf, sizeof(leaf), "leaf %d", i);
        adb__merkle_leaf_hash(leaf, (size_t)n, leaves[i]);
    }
    if (adb__note_signer_init(&log_signer, "auditdb.test", ADB_NOTE_ED25519, log_seed, err,
                              sizeof(err)) != ADB_OK) {
        printf("not ok - log signer: %s\n", err);
        return 1;
    }
    adb__note_signer_verifier(&log_signer, &v);
    adb__note_vkey_format(&v, log_vkey, sizeof(log_vkey));

    RUN(test_prefixes);
    RUN(test_cosignature_verifies);
    RUN(test_size_zero);
    RUN(test_unwritable_state);
    RUN(test_state_of_another_origin);
    RUN(test_long_origin);
    RUN(test_bad_proof_keeps_state);
    RUN(test_most_signatures);
    RUN(test_open_refusals);
    RUN(test_key_file);
    adb__note_signer_free(&log_signer);
    return t_done();
}
