/*
 * bench_proofs.c - offline receipt verification on one core (issue 16: at
 * least 10,000 receipts/s), what `auditdb verify-proof` does per receipt,
 * against OpenSSL's own Ed25519 verification speed in the same run. No
 * database: a tree of BENCH_LEAVES leaves in memory, one checkpoint signed
 * by a log key and cosigned by BENCH_WITNESSES witnesses, a receipt for
 * every leaf (bench/README.md, "Receipts"). Then receipts that each bring a
 * checkpoint of their own (BENCH_DISTINCT of them, each under a checkpoint
 * of another tree size, signed beforehand), verified as `auditdb
 * verify-proof` does (one verifier, a cache of 16 notes: every one a miss),
 * with no witness and with BENCH_WITNESSES.
 */
#define BENCH_NAME "bench_proofs"
#include "bench_util.h"

#include "log/receipt.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

static adb__mhash *level[64];
static uint64_t nlevel[64];

static adb_status get(void *ctx, unsigned l, uint64_t index, uint8_t out[32])
{
    (void)ctx;
    if (l >= 64 || index >= nlevel[l])
        return ADB_ERR_INVALID;
    memcpy(out, level[l][index], 32);
    return ADB_OK;
}

static void signer(adb__note_signer *s, const char *name, uint8_t type)
{
    uint8_t seed[32];
    char err[256];
    if (RAND_bytes(seed, 32) != 1 || adb__note_signer_init(s, name, type, seed, err, sizeof(err)))
        die("key", err);
}

/* Verifies every receipt with v (a fresh verifier per receipt when cold);
 * receipts/s. */
static double run(char **r, size_t *len, uint64_t n, const adb__receipt_policy *p, bool cold)
{
    char err[512];
    adb__receipt_verifier *v = cold ? NULL : adb__receipt_verifier_new(p, 16);
    double t0 = now_ms();

    for (uint64_t i = 0; i < n; i++) {
        adb__receipt_verifier *use = v;
        if (cold)
            use = adb__receipt_verifier_new(p, 0);
        if (adb__receipt_verify(use, r[i], len[i], NULL, err, sizeof(err)) != ADB_OK)
            die("verify", err);
        if (cold)
            adb__receipt_verifier_free(use);
    }
    double ms = now_ms() - t0;
    adb__receipt_verifier_free(v);
    return (double)n / (ms / 1000.0);
}

/* OpenSSL's one-shot Ed25519 verifications/s of a checkpoint-sized message. */
static double ed25519_rate(const adb__note_signer *s, long n)
{
    uint8_t msg[120], sig[64];
    size_t siglen = sizeof(sig);
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    EVP_PKEY *pub = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, s->pub, 32);

    RAND_bytes(msg, sizeof(msg));
    if (!m || !pub || EVP_DigestSignInit(m, NULL, NULL, NULL, s->pkey) != 1 ||
        EVP_DigestSign(m, sig, &siglen, msg, sizeof(msg)) != 1)
        die("ed25519", "sign");
    double t0 = now_ms();
    for (long i = 0; i < n; i++) {
        EVP_MD_CTX_reset(m);
        if (EVP_DigestVerifyInit(m, NULL, NULL, NULL, pub) != 1 ||
            EVP_DigestVerify(m, sig, siglen, msg, sizeof(msg)) != 1)
            die("ed25519", "verify");
    }
    double ms = now_ms() - t0;
    EVP_MD_CTX_free(m);
    EVP_PKEY_free(pub);
    return (double)n / (ms / 1000.0);
}

/* A checkpoint note of org-1's tree at size (log-signed, cosigned by nw). */
static char *checkpoint_note(adb__note_signer *log_key, adb__note_signer *wit, size_t nw,
                             uint64_t size, size_t *nlen)
{
    char err[512], origin[ADB_NOTE_MAX_ORIGIN + 1], body[ADB_CHECKPOINT_BODY_MAX];
    char line[ADB_NOTE_SIGLINE_MAX];
    uint8_t root[32];

    if (adb__merkle_root_from(get, NULL, size, root) != ADB_OK)
        die("tree", "root");
    adb__checkpoint_origin("auditdb.bench", "org-1", origin, sizeof(origin));
    size_t blen = adb__checkpoint_body_format(origin, size, root, body, sizeof(body));
    char *note = adb__note_sign(log_key, body, blen, 0, nlen, err, sizeof(err));
    if (!note)
        die("sign", err);
    for (size_t i = 0; i < nw; i++) {
        size_t l = adb__cosign(&wit[i], body, blen, 1700000000, line, sizeof(line), err, sizeof(err));
        if (!l || !(note = realloc(note, *nlen + l + 1)))
            die("cosign", err);
        memcpy(note + *nlen, line, l + 1);
        *nlen += l;
    }
    return note;
}

/* BENCH_DISTINCT receipts, each under a checkpoint of its own (tree sizes
 * n, n-1, ...), verified with one verifier and a cache of 16 as
 * verify-proof does: receipts/s. */
static double run_distinct(adb__note_signer *log_key, adb__note_signer *wit, size_t nw,
                           const adb__receipt_policy *p, uint8_t (*entries)[48], uint64_t n,
                           uint64_t m)
{
    char **r = malloc(m * sizeof(*r)), err[512];
    size_t *len = malloc(m * sizeof(*len));

    if (!r || !len)
        die("distinct", "out of memory");
    for (uint64_t j = 0; j < m; j++) {
        uint64_t size = n - j, leaf = (j * 7919) % size;
        size_t nlen, np;
        adb__mhash proof[ADB_MERKLE_MAX_PROOF];
        char *note = checkpoint_note(log_key, wit, nw, size, &nlen);
        if (adb__merkle_inclusion_proof(get, NULL, leaf, size, proof, &np) != ADB_OK ||
            !(r[j] = adb__receipt_format(entries[leaf], leaf, proof, np, note, nlen, &len[j])))
            die("receipt", "build");
        free(note);
    }
    adb__receipt_verifier *v = adb__receipt_verifier_new(p, 16);
    double t0 = now_ms();
    for (uint64_t j = 0; j < m; j++)
        if (adb__receipt_verify(v, r[j], len[j], NULL, err, sizeof(err)) != ADB_OK)
            die("verify", err);
    double ms = now_ms() - t0;
    adb__receipt_verifier_free(v);
    for (uint64_t j = 0; j < m; j++)
        free(r[j]);
    free(r);
    free(len);
    return (double)m / (ms / 1000.0);
}

int main(void)
{
    uint64_t n = (uint64_t)env_int("BENCH_LEAVES", 100000);
    size_t nw = (size_t)env_int("BENCH_WITNESSES", 2);
    adb__note_signer log_key, wit[16];
    adb__note_verifier log_v, wit_v[16];
    char err[512], origin[ADB_NOTE_MAX_ORIGIN + 1], body[ADB_CHECKPOINT_BODY_MAX];
    char line[ADB_NOTE_SIGLINE_MAX];
    uint8_t root[32];

    if (n < 1 || nw > 16)
        die("knobs", "BENCH_LEAVES >= 1, BENCH_WITNESSES <= 16");
    signer(&log_key, "auditdb.bench", ADB_NOTE_ED25519);
    adb__note_signer_verifier(&log_key, &log_v);
    for (size_t i = 0; i < nw; i++) {
        char name[32];
        snprintf(name, sizeof(name), "witness%zu.bench", i);
        signer(&wit[i], name, ADB_NOTE_COSIG_V1);
        adb__note_signer_verifier(&wit[i], &wit_v[i]);
    }

    /* the tree: leaves of random entries, every perfect subtree kept */
    uint8_t (*entries)[48] = malloc(n * 48);
    if (!entries || RAND_bytes((uint8_t *)entries, (int)(n * 48)) != 1)
        die("tree", "entries");
    nlevel[0] = n;
    level[0] = malloc(n * 32);
    for (uint64_t i = 0; i < n; i++)
        adb__merkle_leaf_hash(entries[i], 48, level[0][i]);
    for (unsigned l = 1; nlevel[l - 1] > 1; l++) {
        nlevel[l] = nlevel[l - 1] / 2;
        level[l] = malloc((nlevel[l] ? nlevel[l] : 1) * 32);
        for (uint64_t i = 0; i < nlevel[l]; i++)
            adb__merkle_node_hash(level[l - 1][2 * i], level[l - 1][2 * i + 1], level[l][i]);
    }
    if (adb__merkle_root_from(get, NULL, n, root) != ADB_OK)
        die("tree", "root");

    /* the checkpoint: signed, then cosigned */
    adb__checkpoint_origin("auditdb.bench", "org-1", origin, sizeof(origin));
    size_t blen = adb__checkpoint_body_format(origin, n, root, body, sizeof(body)), nlen;
    char *note = adb__note_sign(&log_key, body, blen, 0, &nlen, err, sizeof(err));
    if (!note)
        die("sign", err);
    for (size_t i = 0; i < nw; i++) {
        size_t l = adb__cosign(&wit[i], body, blen, 1700000000, line, sizeof(line), err, sizeof(err));
        if (!l || !(note = realloc(note, nlen + l + 1)))
            die("cosign", err);
        memcpy(note + nlen, line, l + 1);
        nlen += l;
    }

    /* a receipt for every leaf */
    char **r = malloc(n * sizeof(*r));
    size_t *len = malloc(n * sizeof(*len)), bytes = 0;
    for (uint64_t i = 0; i < n; i++) {
        adb__mhash proof[ADB_MERKLE_MAX_PROOF];
        size_t np;
        if (adb__merkle_inclusion_proof(get, NULL, i, n, proof, &np) != ADB_OK ||
            !(r[i] = adb__receipt_format(entries[i], i, proof, np, note, nlen, &len[i])))
            die("receipt", "build");
        bytes += len[i];
    }

    adb__receipt_policy p = { .log = &log_v, .witnesses = wit_v, .nwitnesses = nw,
                              .quorum = nw, .org = "org-1" };
    uint64_t ncold = n < 3000 ? n : 3000;
    double ed = ed25519_rate(&log_key, 5000);
    double warm = run(r, len, n, &p, false);
    double cold = run(r, len, ncold, &p, true);

    uint64_t nd = (uint64_t)env_int("BENCH_DISTINCT", 3000);
    if (nd > n)
        nd = n;
    adb__receipt_policy p0 = { .log = &log_v, .org = "org-1" };
    double dist0 = run_distinct(&log_key, wit, 0, &p0, entries, n, nd);
    double distw = run_distinct(&log_key, wit, nw, &p, entries, n, nd);

    printf("receipts: %llu leaves, %zu witness%s (quorum %zu), %.0f bytes a receipt\n",
           (unsigned long long)n, nw, nw == 1 ? "" : "es", nw, (double)bytes / (double)n);
    printf("reference: OpenSSL Ed25519 %.0f verifications/s\n", ed);
    printf("verify-proof, receipts under one checkpoint (verified once): %.0f receipts/s, "
           "ratio to Ed25519 %.2f, goal >= 10,000/s: %s\n",
           warm, warm / ed, warm >= 10000 ? "met" : "NOT met");
    printf("verify-proof, every receipt's checkpoint verified (%zu signatures each): %.0f "
           "receipts/s, ratio to Ed25519/%zu %.2f\n",
           1 + nw, cold, 1 + nw, cold * (double)(1 + nw) / ed);

    printf("verify-proof, every receipt under a checkpoint of its own (%llu), no witness (1 "
           "signature each): %.0f receipts/s, ratio to Ed25519 %.2f\n",
           (unsigned long long)nd, dist0, dist0 / ed);
    printf("verify-proof, every receipt under a checkpoint of its own, %zu witness%s (%zu "
           "signatures each): %.0f receipts/s, ratio to Ed25519/%zu %.2f\n",
           nw, nw == 1 ? "" : "es", 1 + nw, distw, 1 + nw, distw * (double)(1 + nw) / ed);

    for (uint64_t i = 0; i < n; i++)
        free(r[i]);
    free(r);
    free(len);
    free(note);
    free(entries);
    for (unsigned l = 0; l < 64; l++)
        free(level[l]);
    adb__note_signer_free(&log_key);
    for (size_t i = 0; i < nw; i++)
        adb__note_signer_free(&wit[i]);
    return 0;
}
