/*
 * test_receipt.c - receipts (src/log/receipt.c, docs/proofs.md): built for
 * every leaf of trees of many sizes and verified; every single bit flipped
 * in a receipt refused; each field tampered (index, entry, proof hashes,
 * size, root, origin, signatures) refused with its reason; a wrong log key,
 * another organization, a quorum not met, a bad cosignature; unknown
 * signers ignored; the event check against docs/integrity.md's worked
 * example (v2 and v1), and events that do not match.
 */
#include <openssl/rand.h>
#include <stdint.h>

#include "../../src/log/receipt.h"
#include "t.h"

#define LOG_NAME "auditdb.test"
#define ORG "org-1"
#define NW 3

static char err[1024];
static adb__note_signer log_key, wit_key[NW], other_log, stranger;
static adb__note_verifier log_v, wit_v[NW], other_v;

/* ---- an in-memory tree ---------------------------------------------------- */

typedef struct tree {
    adb__mhash *leaves;
    uint8_t (*entries)[48];
    uint64_t n;
} tree;

/* The hash of the perfect subtree (level, index) over the leaves. */
static void subtree(const tree *t, unsigned level, uint64_t index, uint8_t out[32])
{
    if (level == 0) {
        memcpy(out, t->leaves[index], 32);
        return;
    }
    uint8_t l[32], r[32];
    subtree(t, level - 1, 2 * index, l);
    subtree(t, level - 1, 2 * index + 1, r);
    adb__merkle_node_hash(l, r, out);
}

static adb_status get(void *ctx, unsigned level, uint64_t index, uint8_t out[32])
{
    subtree(ctx, level, index, out);
    return ADB_OK;
}

static void tree_make(tree *t, uint64_t n)
{
    t->n = n;
    t->leaves = calloc(n, sizeof(*t->leaves));
    t->entries = calloc(n, sizeof(*t->entries));
    for (uint64_t i = 0; i < n; i++) {
        CHECK(RAND_bytes(t->entries[i], 48) == 1);
        t->entries[i][6] = (uint8_t)(0x10 | (t->entries[i][6] & 0x0f)); /* a version 1 UUID */
        adb__merkle_leaf_hash(t->entries[i], 48, t->leaves[i]);
    }
}

static void tree_free(tree *t)
{
    free(t->leaves);
    free(t->entries);
}

/* A checkpoint note of org at the tree's size, signed by the log key and
 * cosigned by the first ncosig witnesses. malloc()ed. */
static char *checkpoint(const tree *t, const char *org, int ncosig, size_t *len)
{
    char origin[ADB_NOTE_MAX_ORIGIN + 1], body[ADB_CHECKPOINT_BODY_MAX], line[ADB_NOTE_SIGLINE_MAX];
    uint8_t root[32];
    size_t blen, n;

    adb__merkle_root(t->leaves, t->n, root);
    CHECK(adb__checkpoint_origin(LOG_NAME, org, origin, sizeof(origin)));
    blen = adb__checkpoint_body_format(origin, t->n, root, body, sizeof(body));
    char *note = adb__note_sign(&log_key, body, blen, 0, &n, err, sizeof(err));
    if (!note)
        return NULL;
    for (int i = 0; i < ncosig; i++) {
        size_t l = adb__cosign(&wit_key[i], body, blen, 1700000000 + (uint64_t)i, line,
                               sizeof(line), err, sizeof(err));
        CHECK(l > 0);
        note = realloc(note, n + l + 1);
        memcpy(note + n, line, l + 1);
        n += l;
    }
    *len = n;
    return note;
}

static char *receipt(const tree *t, uint64_t index, const char *note, size_t nlen, size_t *len)
{
    adb__mhash proof[ADB_MERKLE_MAX_PROOF];
    size_t np;

    if (adb__merkle_inclusion_proof(get, (void *)t, index, t->n, proof, &np) != ADB_OK)
        return NULL;
    return adb__receipt_format(t->entries[index], index, proof, np, note, nlen, len);
}

static adb__receipt_verifier *verifier(size_t nw, size_t quorum, const char *org, size_t cache)
{
    adb__receipt_policy p = { .log = &log_v, .witnesses = wit_v, .nwitnesses = nw,
                              .quorum = quorum, .org = org };
    return adb__receipt_verifier_new(&p, cache);
}

static adb_status check(adb__receipt_verifier *v, const char *text, size_t len)
{
    err[0] = '\0';
    return adb__receipt_verify(v, text, len, NULL, err, sizeof(err));
}

static void setup(void)
{
    uint8_t seed[32];
    char name[32];

    REQUIRE(RAND_bytes(seed, 32) == 1);
    REQUIRE(adb__note_signer_init(&log_key, LOG_NAME, ADB_NOTE_ED25519, seed, err, sizeof(err)) == ADB_OK);
    adb__note_signer_verifier(&log_key, &log_v);
    REQUIRE(RAND_bytes(seed, 32) == 1);
    REQUIRE(adb__note_signer_init(&other_log, LOG_NAME, ADB_NOTE_ED25519, seed, err, sizeof(err)) == ADB_OK);
    adb__note_signer_verifier(&other_log, &other_v);
    REQUIRE(RAND_bytes(seed, 32) == 1);
    REQUIRE(adb__note_signer_init(&stranger, "stranger.example", ADB_NOTE_COSIG_V1, seed, err, sizeof(err)) == ADB_OK);
    for (int i = 0; i < NW; i++) {
        snprintf(name, sizeof(name), "witness%d.example", i);
        REQUIRE(RAND_bytes(seed, 32) == 1);
        REQUIRE(adb__note_signer_init(&wit_key[i], name, ADB_NOTE_COSIG_V1, seed, err, sizeof(err)) == ADB_OK);
        adb__note_signer_verifier(&wit_key[i], &wit_v[i]);
    }
}

/* ---- cases ------------------------------------------------------------------ */

static void every_leaf_round_trips(void)
{
    static const uint64_t sizes[] = { 1, 2, 3, 5, 7, 8, 9, 16, 17, 31, 64, 100 };
    adb__receipt_verifier *v = verifier(NW, NW, ORG, 4);
    int bad = 0, n = 0;

    REQUIRE(v);
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        tree t;
        size_t nlen, len;
        tree_make(&t, sizes[s]);
        char *note = checkpoint(&t, ORG, NW, &nlen);
        REQUIRE(note);
        for (uint64_t i = 0; i < t.n; i++) {
            char *r = receipt(&t, i, note, nlen, &len);
            adb__receipt_result res;
            adb__receipt p;
            n++;
            if (!r || adb__receipt_verify(v, r, len, &res, err, sizeof(err)) != ADB_OK) {
                if (bad++ < 3)
                    CHECK_MSG(0, "size %llu leaf %llu: %s", (unsigned long long)t.n,
                              (unsigned long long)i, err);
                free(r);
                continue;
            }
            CHECK(res.index == i && res.size == t.n && res.cosigned == NW);
            CHECK(res.cosigned_at == 1700000000);
            CHECK(!memcmp(res.entry, t.entries[i], 48));
            CHECK(!strcmp(res.origin, LOG_NAME "/" ORG));
            CHECK(adb__receipt_parse(r, len, &p, err, sizeof(err)) == ADB_OK);
            CHECK(p.note_len == nlen && !memcmp(p.note, note, nlen));
            /* a proof from another leaf does not do */
            if (t.n > 1) {
                char *o = receipt(&t, (i + 1) % t.n, note, nlen, &len);
                adb__receipt q;
                CHECK(adb__receipt_parse(o, len, &q, err, sizeof(err)) == ADB_OK);
                /* graft the other leaf's proof under this leaf's entry and index */
                char *g = adb__receipt_format(t.entries[i], i, (const adb__mhash *)q.proof,
                                              q.nproof, note, nlen, &len);
                CHECK_MSG(check(v, g, len) == ADB_ERR_INVALID, "size %llu leaf %llu",
                          (unsigned long long)t.n, (unsigned long long)i);
                free(g);
                free(o);
            }
            free(r);
        }
        free(note);
        tree_free(&t);
    }
    printf("# %d receipts over %zu tree sizes\n", n, sizeof(sizes) / sizeof(sizes[0]));
    CHECK(bad == 0);
    adb__receipt_verifier_free(v);
}

static void every_bit_flipped_is_refused(void)
{
    tree t;
    size_t nlen, len;
    int accepted = 0, flips = 0;

    tree_make(&t, 21);
    char *note = checkpoint(&t, ORG, NW, &nlen);
    char *r = receipt(&t, 13, note, nlen, &len);
    adb__receipt_verifier *v = verifier(NW, NW, ORG, 8);
    REQUIRE(r && v);
    REQUIRE(check(v, r, len) == ADB_OK);
    for (size_t i = 0; i < len; i++)
        for (int b = 0; b < 8; b++) {
            r[i] ^= (char)(1 << b);
            flips++;
            if (check(v, r, len) == ADB_OK && accepted++ < 5)
                CHECK_MSG(0, "byte %zu bit %d flipped: accepted", i, b);
            r[i] ^= (char)(1 << b);
        }
    printf("# %d single-bit changes of a %zu-byte receipt, %d accepted\n", flips, len, accepted);
    CHECK(accepted == 0);
    CHECK(check(v, r, len) == ADB_OK);
    /* cut anywhere: refused */
    for (size_t cut = 0; cut < len; cut++)
        if (check(v, r, cut) == ADB_OK)
            CHECK_MSG(0, "cut at %zu accepted", cut);
    adb__receipt_verifier_free(v);
    free(r);
    free(note);
    tree_free(&t);
}

/* Replaces the first occurrence of from in *r (length *len) by to. */
static bool edit(char **r, size_t *len, const char *from, const char *to)
{
    char *p = strstr(*r, from);
    if (!p)
        return false;
    size_t fl = strlen(from), tl = strlen(to), off = (size_t)(p - *r);
    char *n = malloc(*len - fl + tl + 1);
    memcpy(n, *r, off);
    memcpy(n + off, to, tl);
    memcpy(n + off + tl, *r + off + fl, *len - off - fl + 1);
    free(*r);
    *r = n;
    *len = *len - fl + tl;
    return true;
}

static void each_field_tampered(void)
{
    tree t;
    size_t nlen, len;
    char b64[80], line[256];
    adb__receipt p;

    tree_make(&t, 21);
    char *note = checkpoint(&t, ORG, NW, &nlen);
    char *good = receipt(&t, 13, note, nlen, &len);
    adb__receipt_verifier *v = verifier(NW, NW, ORG, 0);
    REQUIRE(good && v);
    REQUIRE(adb__receipt_parse(good, len, &p, err, sizeof(err)) == ADB_OK);
    REQUIRE(p.nproof == 5);

    struct { const char *what, *from, *to, *reason; } cases[] = {
        { "index + 1", "\nindex 13\n", "\nindex 14\n", "inclusion proof" },
        { "index - 1", "\nindex 13\n", "\nindex 12\n", "inclusion proof" },
        { "index beyond the size", "\nindex 13\n", "\nindex 21\n", "not below" },
        { "index with a leading zero", "\nindex 13\n", "\nindex 013\n", "index" },
        { "no index", "\nindex 13\n", "\n", "index" },
        { "header", "c2sp.org/tlog-proof@v1", "c2sp.org/tlog-proof@v2", "first line" },
        { "size", "\n21\n", "\n22\n", "signature" },
        { "origin", LOG_NAME "/" ORG "\n", LOG_NAME "/org-2\n", "signature" },
        { "no blank line", "\n\n" LOG_NAME, "\n" LOG_NAME, "proof line" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *r = strdup(good);
        size_t l = len;
        CHECK_MSG(edit(&r, &l, cases[i].from, cases[i].to), "%s: not found", cases[i].what);
        CHECK_MSG(check(v, r, l) == ADB_ERR_INVALID && strstr(err, cases[i].reason), "%s: %s",
                  cases[i].what, err);
        free(r);
    }
    /* the entry: its event id, its content hash, its length, gone */
    for (int k = 0; k < 4; k++) {
        uint8_t e[48];
        memcpy(e, t.entries[13], 48);
        size_t elen = 48;
        if (k == 0)
            e[3] ^= 1;
        else if (k == 1)
            e[40] ^= 0x80;
        else
            elen = 47;
        adb__note_b64_encode(e, elen, b64);
        char *r = strdup(good);
        size_t l = len;
        char want[96];
        snprintf(want, sizeof(want), "extra %s\n", b64);
        adb__note_b64_encode(t.entries[13], 48, b64);
        snprintf(line, sizeof(line), "extra %s\n", b64);
        CHECK(edit(&r, &l, line, k == 3 ? "" : want));
        CHECK_MSG(check(v, r, l) == ADB_ERR_INVALID &&
                      strstr(err, k < 2 ? "inclusion proof" : "48-byte entry"),
                  "entry case %d: %s", k, err);
        free(r);
    }
    /* each proof hash: changed, dropped, doubled; the proof reversed; one added */
    for (size_t k = 0; k < p.nproof; k++) {
        adb__mhash pr[ADB_RECEIPT_MAX_PROOF];
        memcpy(pr, p.proof, sizeof(pr));
        pr[k][k] ^= 1;
        char *r = adb__receipt_format(t.entries[13], 13, (const adb__mhash *)pr, p.nproof, note, nlen, &len);
        CHECK_MSG(check(v, r, len) == ADB_ERR_INVALID, "proof hash %zu changed", k);
        free(r);
        memcpy(pr, p.proof, sizeof(pr));
        memmove(pr[k], pr[k + 1], (p.nproof - k - 1) * 32);
        r = adb__receipt_format(t.entries[13], 13, (const adb__mhash *)pr, p.nproof - 1, note, nlen, &len);
        CHECK_MSG(check(v, r, len) == ADB_ERR_INVALID, "proof hash %zu dropped", k);
        free(r);
    }
    {
        adb__mhash pr[ADB_RECEIPT_MAX_PROOF];
        memcpy(pr, p.proof, sizeof(pr));
        memcpy(pr[p.nproof], pr[0], 32);
        char *r = adb__receipt_format(t.entries[13], 13, (const adb__mhash *)pr, p.nproof + 1, note, nlen, &len);
        CHECK_MSG(check(v, r, len) == ADB_ERR_INVALID, "a proof hash added");
        free(r);
        for (size_t k = 0; k < p.nproof; k++)
            memcpy(pr[k], p.proof[p.nproof - 1 - k], 32);
        r = adb__receipt_format(t.entries[13], 13, (const adb__mhash *)pr, p.nproof, note, nlen, &len);
        CHECK_MSG(check(v, r, len) == ADB_ERR_INVALID, "the proof reversed");
        free(r);
    }
    /* the root: a checkpoint of the right size over other leaves, signed by the log */
    {
        tree u;
        size_t ulen, rlen;
        tree_make(&u, 21);
        memcpy(u.entries[13], t.entries[13], 48);
        memcpy(u.leaves[13], t.leaves[13], 32);
        char *unote = checkpoint(&u, ORG, NW, &ulen);
        char *r = adb__receipt_format(t.entries[13], 13, (const adb__mhash *)p.proof, p.nproof,
                                      unote, ulen, &rlen);
        CHECK_MSG(check(v, r, rlen) == ADB_ERR_INVALID && strstr(err, "inclusion proof"), "%s", err);
        free(r);
        free(unote);
        tree_free(&u);
    }
    adb__receipt_verifier_free(v);
    free(good);
    free(note);
    tree_free(&t);
}

static void keys_quorum_and_organization(void)
{
    tree t;
    size_t nlen, len, l2;
    char line[ADB_NOTE_SIGLINE_MAX];

    tree_make(&t, 9);
    char *note = checkpoint(&t, ORG, 2, &nlen); /* witnesses 0 and 1 cosigned, not 2 */
    char *r = receipt(&t, 4, note, nlen, &len);
    REQUIRE(r);

    adb__receipt_verifier *v = verifier(NW, 2, ORG, 0);
    CHECK(check(v, r, len) == ADB_OK);
    adb__receipt_verifier_free(v);
    v = verifier(NW, 3, ORG, 0);
    CHECK_MSG(check(v, r, len) == ADB_ERR_INVALID && strstr(err, "quorum"), "%s", err);
    adb__receipt_verifier_free(v);
    v = verifier(0, 0, NULL, 0);
    CHECK(check(v, r, len) == ADB_OK);
    adb__receipt_verifier_free(v);
    v = verifier(NW, 2, "org-2", 0);
    CHECK_MSG(check(v, r, len) == ADB_ERR_INVALID && strstr(err, "origin"), "%s", err);
    adb__receipt_verifier_free(v);

    /* another log key of the same name: not the log's signature */
    adb__receipt_policy p = { .log = &other_v };
    v = adb__receipt_verifier_new(&p, 0);
    CHECK_MSG(check(v, r, len) == ADB_ERR_INVALID && strstr(err, "not signed by the log key"),
              "%s", err);
    adb__receipt_verifier_free(v);

    /* a checkpoint signed by that other key alone, even cosigned by every witness */
    {
        char *body_end = strstr(note, "\n\n");
        size_t blen = (size_t)(body_end - note) + 1, n2;
        char *forged = adb__note_sign(&other_log, note, blen, 0, &n2, err, sizeof(err));
        for (int i = 0; i < NW; i++) {
            size_t l = adb__cosign(&wit_key[i], note, blen, 1700000100, line, sizeof(line), err, sizeof(err));
            forged = realloc(forged, n2 + l + 1);
            memcpy(forged + n2, line, l + 1);
            n2 += l;
        }
        char *fr;
        adb__receipt rp;
        CHECK(adb__receipt_parse(r, len, &rp, err, sizeof(err)) == ADB_OK);
        fr = adb__receipt_format(t.entries[4], 4, (const adb__mhash *)rp.proof, rp.nproof, forged, n2, &l2);
        v = verifier(NW, NW, ORG, 0);
        CHECK_MSG(check(v, fr, l2) == ADB_ERR_INVALID && strstr(err, "not signed by the log key"),
                  "%s", err);
        adb__receipt_verifier_free(v);
        free(fr);
        free(forged);
    }

    /* an unknown signer's line is ignored; a known witness's bad cosignature is fatal */
    {
        char *body_end = strstr(note, "\n\n");
        size_t blen = (size_t)(body_end - note) + 1;
        size_t l = adb__cosign(&stranger, note, blen, 1700000200, line, sizeof(line), err, sizeof(err));
        char *more = malloc(len + l + 1);
        memcpy(more, r, len);
        memcpy(more + len, line, l + 1);
        v = verifier(NW, 2, ORG, 0);
        CHECK_MSG(check(v, more, len + l) == ADB_OK, "%s", err);
        /* witness 2's cosignature made over another time than it says */
        l = adb__cosign(&wit_key[2], note, blen, 1700000300, line, sizeof(line), err, sizeof(err));
        char *w2 = malloc(len + l + 1);
        memcpy(w2, r, len);
        memcpy(w2 + len, line, l + 1);
        CHECK(check(v, w2, len + l) == ADB_OK);
        char *sig = strrchr(w2, ' ') + 1;
        sig[8] = sig[8] == 'A' ? 'B' : 'A'; /* inside the timestamp's bytes */
        CHECK_MSG(check(v, w2, len + l) == ADB_ERR_INVALID, "a bad cosignature accepted: %s", err);
        adb__receipt_verifier_free(v);
        free(w2);
        free(more);
    }
    free(r);
    free(note);
    tree_free(&t);
}

static void cache_remembers_only_what_verified(void)
{
    tree t;
    size_t nlen, len;

    tree_make(&t, 12);
    char *note = checkpoint(&t, ORG, NW, &nlen);
    adb__receipt_verifier *v = verifier(NW, NW, ORG, 2);
    for (uint64_t i = 0; i < t.n; i++) {
        char *r = receipt(&t, i, note, nlen, &len);
        CHECK(check(v, r, len) == ADB_OK);
        /* the same checkpoint, now cached: a wrong proof is still refused */
        char *idx = strstr(r, "\nindex ");
        idx[7] = idx[7] == '1' ? '2' : '1';
        CHECK(check(v, r, len) == ADB_ERR_INVALID);
        free(r);
    }
    /* a checkpoint refused once is refused again */
    char *bad = strdup(note);
    bad[strlen(LOG_NAME) + 1] = 'X';
    char *r = receipt(&t, 3, bad, nlen, &len);
    CHECK(check(v, r, len) == ADB_ERR_INVALID);
    CHECK(check(v, r, len) == ADB_ERR_INVALID);
    free(r);
    free(bad);
    adb__receipt_verifier_free(v);
    free(note);
    tree_free(&t);
}

/* docs/integrity.md, section 2: the worked example as the API answers it */
static const char EVENT_V2[] =
    "{\"id\":\"d1c51900-c017-11ee-9c4f-2b7d5e31b806\",\"timestamp\":\"2024-01-31T09:05:03.120Z\","
    "\"storedTimestamp\":\"2024-01-31T09:05:03.120000Z\",\"action\":\"fhir.patient.read\","
    "\"status\":\"success\",\"principalId\":\"doc-1\",\"organizationId\":\"org-1\","
    "\"dataClassification\":\"INTERNAL\",\"retentionPolicy\":\"standard\",\"eventVersion\":\"1.0\","
    "\"hashAlgorithm\":\"sha256-c14n-v2\","
    "\"hash\":\"888d67ba2c95859f9dace79944e6f33c3315eaba7b32abcd3588de858c8c3541\","
    "\"signature\":\"00\",\"details\":{\"b\": 1.50, \"a\": \"\xc3\xa9\\n\"},\"chainSeq\":7}";

static void result_for(const char *uuid, const char *hash, adb__receipt_result *r)
{
    memset(r, 0, sizeof(*r));
    snprintf(r->event_id, sizeof(r->event_id), "%s", uuid);
    snprintf(r->content_hash, sizeof(r->content_hash), "%s", hash);
}

static char *replace(const char *s, const char *from, const char *to)
{
    size_t len = strlen(s);
    char *r = strdup(s);
    CHECK(edit(&r, &len, from, to));
    return r;
}

static void event_matches_its_entry(void)
{
    adb__receipt_result r;
    bool rec = false;
    const char *id = "d1c51900-c017-11ee-9c4f-2b7d5e31b806";
    const char *h2 = "888d67ba2c95859f9dace79944e6f33c3315eaba7b32abcd3588de858c8c3541";
    const char *h1 = "40d8f4c811d4000db28239099570924a3811bdc8cb7d731978a48cbb920c87b9";

    result_for(id, h2, &r);
    CHECK_MSG(adb__receipt_event_check(EVENT_V2, strlen(EVENT_V2), &r, &rec, err, sizeof(err)) == ADB_OK,
              "%s", err);
    CHECK(rec);

    /* sha256-c14n-v1: no id member in the canonical form */
    char *v1 = replace(EVENT_V2, "sha256-c14n-v2", "sha256-c14n-v1");
    char *v1h = replace(v1, h2, h1);
    result_for(id, h1, &r);
    CHECK_MSG(adb__receipt_event_check(v1h, strlen(v1h), &r, &rec, err, sizeof(err)) == ADB_OK, "%s", err);
    free(v1);
    free(v1h);

    struct { const char *what, *from, *to, *reason; } bad[] = {
        { "a detail changed", "1.50", "1.5", "canonical form" },
        { "the stored time changed", "03.120000Z", "03.121000Z", "canonical form" },
        { "a member added", "\"principalId\"", "\"targetResourceId\":\"p\",\"principalId\"", "canonical form" },
        { "another id", "\"id\":\"d1c51900", "\"id\":\"d1c51901", "id" },
        { "the principal changed", "doc-1", "doc-2", "canonical form" },
        { "a member of the wrong type", "\"status\":\"success\"", "\"status\":1", "not a string" },
        { "no storedTimestamp", "\"storedTimestamp\"", "\"storedTime\"", "storedTimestamp" },
    };
    result_for(id, h2, &r);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *e = replace(EVENT_V2, bad[i].from, bad[i].to);
        CHECK_MSG(adb__receipt_event_check(e, strlen(e), &r, &rec, err, sizeof(err)) ==
                          ADB_ERR_INVALID && strstr(err, bad[i].reason),
                  "%s: %s", bad[i].what, err);
        free(e);
    }
    /* the event is right but the receipt names another content hash */
    result_for(id, h1, &r);
    CHECK(adb__receipt_event_check(EVENT_V2, strlen(EVENT_V2), &r, &rec, err, sizeof(err)) == ADB_ERR_INVALID);
    /* an algorithm it cannot recompute: the stated hash must be the entry's */
    char *v3 = replace(EVENT_V2, "sha256-c14n-v2", "sha256-c14n-v9");
    result_for(id, h2, &r);
    CHECK(adb__receipt_event_check(v3, strlen(v3), &r, &rec, err, sizeof(err)) == ADB_OK && !rec);
    result_for(id, h1, &r);
    CHECK(adb__receipt_event_check(v3, strlen(v3), &r, &rec, err, sizeof(err)) == ADB_ERR_INVALID);
    free(v3);
    CHECK(adb__receipt_event_check("[1]", 3, &r, &rec, err, sizeof(err)) == ADB_ERR_INVALID);
    CHECK(adb__receipt_event_check("{", 1, &r, &rec, err, sizeof(err)) == ADB_ERR_INVALID);
}

static void malformed_receipts_refused(void)
{
    adb__receipt p;
    static const char *const bad[] = {
        "",
        "c2sp.org/tlog-proof@v1\n",
        "c2sp.org/tlog-proof@v1\nindex 0\n",
        "c2sp.org/tlog-proof@v1\nindex 0\n\n",
        "c2sp.org/tlog-proof@v1\nextra !!!!\nindex 0\n\nx\n",
        "c2sp.org/tlog-proof@v1\nindex -1\n\nx\n",
        "c2sp.org/tlog-proof@v1\nindex 9223372036854775808\n\nx\n",
        "c2sp.org/tlog-proof@v1\nindex 1\nAAAA\n\nx\n",
        "c2sp.org/tlog-proof@v1\r\nindex 1\n\nx\n",
        "c2sp.org/tlog-proof@v1\nindex 1 \n\nx\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK_MSG(adb__receipt_parse(bad[i], strlen(bad[i]), &p, err, sizeof(err)) == ADB_ERR_INVALID,
                  "case %zu accepted", i);
    const char *ok = "c2sp.org/tlog-proof@v1\nindex 0\n\nx\n";
    CHECK(adb__receipt_parse(ok, strlen(ok), &p, err, sizeof(err)) == ADB_OK && !p.has_extra &&
          p.nproof == 0 && p.note_len == 2);
    /* 65 proof hashes */
    char big[8192];
    size_t o = (size_t)snprintf(big, sizeof(big), "c2sp.org/tlog-proof@v1\nindex 0\n");
    for (int i = 0; i < 65; i++)
        o += (size_t)snprintf(big + o, sizeof(big) - o, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n");
    o += (size_t)snprintf(big + o, sizeof(big) - o, "\nx\n");
    CHECK(adb__receipt_parse(big, o, &p, err, sizeof(err)) == ADB_ERR_INVALID);
}

int main(void)
{
    RUN(setup);
    RUN(every_leaf_round_trips);
    RUN(every_bit_flipped_is_refused);
    RUN(each_field_tampered);
    RUN(keys_quorum_and_organization);
    RUN(cache_remembers_only_what_verified);
    RUN(event_matches_its_entry);
    RUN(malformed_receipts_refused);
    adb__note_signer_free(&log_key);
    adb__note_signer_free(&other_log);
    adb__note_signer_free(&stranger);
    for (int i = 0; i < NW; i++)
        adb__note_signer_free(&wit_key[i]);
    return t_done();
}
