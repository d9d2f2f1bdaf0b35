/*
 * receipt.c - c2sp.org/tlog-proof@v1 receipts of events: the text, its
 * strict parse, offline verification against a policy of keys (with a cache
 * of checkpoints already verified), and building one from the stored tree
 * (docs/proofs.md).
 */
#include "receipt.h"

#include "tiles.h"
#include "../core/util.h"

#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEADER_LEN (sizeof(ADB_RECEIPT_HEADER) - 1)

/* ---- the text ------------------------------------------------------------ */

char *adb__receipt_format(const uint8_t entry[48], uint64_t index, const adb__mhash *proof,
                          size_t n, const char *note, size_t note_len, size_t *outlen)
{
    if (n > ADB_RECEIPT_MAX_PROOF)
        return NULL;
    /* header, "extra " + 64 + '\n', "index " + 20 + '\n', n * 45, '\n', note, NUL */
    size_t cap = HEADER_LEN + 1 + 6 + 64 + 1 + 6 + 20 + 1 + n * 45 + 1 + note_len + 1;
    char *out = malloc(cap), *p;

    if (!out)
        return NULL;
    p = out;
    memcpy(p, ADB_RECEIPT_HEADER "\nextra ", HEADER_LEN + 7);
    p += HEADER_LEN + 7;
    p += adb__note_b64_encode(entry, 48, p);
    p += snprintf(p, (size_t)(out + cap - p), "\nindex %llu\n", (unsigned long long)index);
    for (size_t i = 0; i < n; i++) {
        p += adb__note_b64_encode(proof[i], 32, p);
        *p++ = '\n';
    }
    *p++ = '\n';
    memcpy(p, note, note_len);
    p += note_len;
    *p = '\0';
    *outlen = (size_t)(p - out);
    return out;
}

/* The line starting at *p (ending before end): its length without '\n'; *p
 * moves past the '\n'. -1 when there is no '\n' before end. */
static long next_line(const char **p, const char *end, const char **line)
{
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));

    if (!nl)
        return -1;
    *line = *p;
    *p = nl + 1;
    return (long)(nl - *line);
}

static bool parse_decimal(const char *s, size_t len, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;

    if (len == 0 || len > 20 || (len > 1 && s[0] == '0'))
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (max - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

adb_status adb__receipt_parse(const char *text, size_t len, adb__receipt *r, char *err,
                              size_t errlen)
{
    const char *p = text, *end = text + len, *line;
    long n;

    memset(r, 0, sizeof(*r));
    if (len > ADB_RECEIPT_MAX) {
        adb__fmt(err, errlen, "receipt longer than %d bytes", ADB_RECEIPT_MAX);
        return ADB_ERR_INVALID;
    }
    if ((n = next_line(&p, end, &line)) != (long)HEADER_LEN ||
        memcmp(line, ADB_RECEIPT_HEADER, HEADER_LEN) != 0) {
        adb__fmt(err, errlen, "not a receipt: the first line is not %s", ADB_RECEIPT_HEADER);
        return ADB_ERR_INVALID;
    }
    if ((n = next_line(&p, end, &line)) >= 6 && !memcmp(line, "extra ", 6)) {
        long got = adb__note_b64_decode(line + 6, (size_t)n - 6, r->extra, sizeof(r->extra));
        if (got < 0) {
            adb__fmt(err, errlen, "receipt: the extra line is not canonical base64 of at most "
                                  "48 bytes");
            return ADB_ERR_INVALID;
        }
        r->has_extra = true;
        r->extra_len = (size_t)got;
        n = next_line(&p, end, &line);
    }
    if (n < 6 || memcmp(line, "index ", 6) != 0 ||
        !parse_decimal(line + 6, (size_t)n - 6, INT64_MAX, &r->index)) {
        adb__fmt(err, errlen, "receipt: no \"index N\" line (decimal, no leading zero)");
        return ADB_ERR_INVALID;
    }
    for (;;) {
        if ((n = next_line(&p, end, &line)) < 0) {
            adb__fmt(err, errlen, "receipt: no empty line before the checkpoint");
            return ADB_ERR_INVALID;
        }
        if (n == 0)
            break;
        if (r->nproof == ADB_RECEIPT_MAX_PROOF) {
            adb__fmt(err, errlen, "receipt: more than %d proof hashes", ADB_RECEIPT_MAX_PROOF);
            return ADB_ERR_INVALID;
        }
        if (adb__note_b64_decode(line, (size_t)n, r->proof[r->nproof], 32) != 32) {
            adb__fmt(err, errlen, "receipt: proof line %zu is not canonical base64 of 32 bytes",
                     r->nproof + 1);
            return ADB_ERR_INVALID;
        }
        r->nproof++;
    }
    if (p == end) {
        adb__fmt(err, errlen, "receipt: no checkpoint after the proof");
        return ADB_ERR_INVALID;
    }
    r->note = p;
    r->note_len = (size_t)(end - p);
    return ADB_OK;
}

/* ---- verification --------------------------------------------------------- */

/* A checkpoint note verified under the policy. */
typedef struct cached {
    bool used;
    uint8_t digest[32]; /* SHA-256 of the note's bytes */
    adb__checkpoint_body body;
    size_t cosigned;
    uint64_t cosigned_at;
} cached;

struct adb__receipt_verifier {
    adb__receipt_policy p;
    adb__note_verifier *keys; /* the log's, then the witnesses' */
    size_t nkeys;
    char origin_prefix[ADB_NOTE_MAX_NAME + 2]; /* "<log name>/" */
    char origin[ADB_NOTE_MAX_ORIGIN + 1];      /* the policy's org's origin, "" if none */
    cached *cache;
    size_t ncache, next;
};

adb__receipt_verifier *adb__receipt_verifier_new(const adb__receipt_policy *p, size_t cache)
{
    adb__receipt_verifier *v = calloc(1, sizeof(*v));

    if (!v || !p->log)
        goto fail;
    v->p = *p;
    v->nkeys = 1 + p->nwitnesses;
    if (!(v->keys = calloc(v->nkeys, sizeof(*v->keys))))
        goto fail;
    v->keys[0] = *p->log;
    for (size_t i = 0; i < p->nwitnesses; i++)
        v->keys[1 + i] = p->witnesses[i];
    adb__fmt(v->origin_prefix, sizeof(v->origin_prefix), "%s/", p->log->name);
    if (p->org && !adb__checkpoint_origin(p->log->name, p->org, v->origin, sizeof(v->origin)))
        goto fail;
    if (cache && !(v->cache = calloc(cache, sizeof(*v->cache))))
        goto fail;
    v->ncache = cache;
    return v;
fail:
    adb__receipt_verifier_free(v);
    return NULL;
}

void adb__receipt_verifier_free(adb__receipt_verifier *v)
{
    if (!v)
        return;
    free(v->keys);
    free(v->cache);
    free(v);
}

/* Verifies the checkpoint note under the policy into *c. */
static adb_status check_note(adb__receipt_verifier *v, const char *note, size_t len, cached *c,
                             char *err, size_t errlen)
{
    adb__note n;
    bool seen[1 + 64];
    uint64_t times[1 + 64];
    bool *sp = seen;
    uint64_t *tp = times;
    size_t count;
    adb_status st;
    char why[512];

    if (v->nkeys > sizeof(seen) / sizeof(seen[0])) {
        sp = calloc(v->nkeys, sizeof(*sp));
        tp = calloc(v->nkeys, sizeof(*tp));
        if (!sp || !tp) {
            free(sp == seen ? NULL : sp);
            free(tp == times ? NULL : tp);
            adb__fmt(err, errlen, "out of memory");
            return ADB_ERR_NOMEM;
        }
    }
    st = adb__note_verify(note, len, v->keys, v->nkeys, &n, sp, tp, &count, why, sizeof(why));
    if (st == ADB_ERR_NOT_FOUND || (st == ADB_OK && !sp[0])) {
        adb__fmt(err, errlen, "checkpoint: not signed by the log key %s+%08x", v->keys[0].name,
                 (unsigned)v->keys[0].key_id);
        st = ADB_ERR_INVALID;
        goto out;
    }
    if (st != ADB_OK) {
        adb__fmt(err, errlen, "checkpoint: %s", why);
        goto out;
    }
    if ((st = adb__checkpoint_body_parse(n.text, n.text_len, &c->body, why, sizeof(why))) !=
        ADB_OK) {
        adb__fmt(err, errlen, "checkpoint: %s", why);
        goto out;
    }
    if (v->origin[0] ? strcmp(c->body.origin, v->origin) != 0
                     : strncmp(c->body.origin, v->origin_prefix, strlen(v->origin_prefix)) != 0 ||
                           !c->body.origin[strlen(v->origin_prefix)]) {
        adb__fmt(err, errlen, "checkpoint: origin \"%s\" is not %s%s", c->body.origin,
                 v->origin[0] ? v->origin : v->origin_prefix, v->origin[0] ? "" : "<organization>");
        st = ADB_ERR_INVALID;
        goto out;
    }
    c->cosigned = 0;
    c->cosigned_at = 0;
    for (size_t i = 1; i < v->nkeys; i++) {
        if (!sp[i])
            continue;
        c->cosigned++;
        if (!c->cosigned_at || tp[i] < c->cosigned_at)
            c->cosigned_at = tp[i];
    }
    if (c->cosigned < v->p.quorum) {
        adb__fmt(err, errlen, "checkpoint: cosigned by %zu of the %zu witnesses, quorum %zu",
                 c->cosigned, v->p.nwitnesses, v->p.quorum);
        st = ADB_ERR_INVALID;
    }
out:
    if (sp != seen)
        free(sp);
    if (tp != times)
        free(tp);
    return st;
}

static void uuid_text(const uint8_t u[16], char out[37])
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;

    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[u[i] >> 4];
        out[o++] = hex[u[i] & 15];
    }
    out[o] = '\0';
}

adb_status adb__receipt_verify(adb__receipt_verifier *v, const char *text, size_t len,
                               adb__receipt_result *out, char *err, size_t errlen)
{
    adb__receipt r;
    cached fresh, *c = NULL;
    uint8_t digest[32], leaf[32];
    adb_status st;

    if ((st = adb__receipt_parse(text, len, &r, err, errlen)) != ADB_OK)
        return st;
    if (v->ncache) {
        SHA256((const unsigned char *)r.note, r.note_len, digest);
        for (size_t i = 0; i < v->ncache && !c; i++)
            if (v->cache[i].used && !memcmp(v->cache[i].digest, digest, 32))
                c = &v->cache[i];
    }
    if (!c) {
        memset(&fresh, 0, sizeof(fresh));
        if ((st = check_note(v, r.note, r.note_len, &fresh, err, errlen)) != ADB_OK)
            return st;
        c = &fresh;
        if (v->ncache) {
            fresh.used = true;
            memcpy(fresh.digest, digest, 32);
            v->cache[v->next] = fresh;
            c = &v->cache[v->next];
            v->next = (v->next + 1) % v->ncache;
        }
    }
    if (!r.has_extra || r.extra_len != 48) {
        adb__fmt(err, errlen, "receipt: no 48-byte entry (event id and content hash) in extra");
        return ADB_ERR_INVALID;
    }
    if (r.index >= c->body.size) {
        adb__fmt(err, errlen, "receipt: index %llu is not below the checkpoint's size %llu",
                 (unsigned long long)r.index, (unsigned long long)c->body.size);
        return ADB_ERR_INVALID;
    }
    adb__merkle_leaf_hash(r.extra, 48, leaf);
    if (!adb__merkle_verify_inclusion(leaf, r.index, c->body.size, (const adb__mhash *)r.proof,
                                      r.nproof, c->body.root)) {
        adb__fmt(err, errlen, "receipt: the inclusion proof of index %llu does not lead to the "
                              "root of the checkpoint of size %llu",
                 (unsigned long long)r.index, (unsigned long long)c->body.size);
        return ADB_ERR_INVALID;
    }
    if (out) {
        memset(out, 0, sizeof(*out));
        uuid_text(r.extra, out->event_id);
        memcpy(out->entry, r.extra, 48);
        adb__hex(r.extra + 16, 32, out->content_hash);
        out->index = r.index;
        out->size = c->body.size;
        memcpy(out->root, c->body.root, 32);
        adb__fmt(out->origin, sizeof(out->origin), "%s", c->body.origin);
        out->cosigned = c->cosigned;
        out->cosigned_at = c->cosigned_at;
    }
    return ADB_OK;
}

/* ---- building --------------------------------------------------------------- */

adb_status adb__receipt_build(PGconn *c, const char *org, uint64_t index,
                              const uint8_t *event_id, const char *note, size_t note_len,
                              char **out, size_t *outlen, char *err, size_t errlen)
{
    adb__note n;
    adb__checkpoint_body body;
    adb__mhash proof[ADB_MERKLE_MAX_PROOF];
    uint8_t entry[48];
    size_t np = 0;
    adb_status st;
    char why[512];

    *out = NULL;
    *outlen = 0;
    if ((st = adb__note_parse(note, note_len, &n, why, sizeof(why))) != ADB_OK ||
        (st = adb__checkpoint_body_parse(n.text, n.text_len, &body, why, sizeof(why))) != ADB_OK) {
        adb__fmt(err, errlen, "the checkpoint does not parse: %s", why);
        return ADB_ERR_INVALID;
    }
    if (index >= body.size) {
        adb__fmt(err, errlen, "leaf %llu is not yet in a checkpoint (size %llu)",
                 (unsigned long long)index, (unsigned long long)body.size);
        return ADB_ERR_NOT_FOUND;
    }
    if ((st = adb__tree_entry(c, org, index, entry, err, errlen)) != ADB_OK)
        return st;
    if (event_id && memcmp(entry, event_id, 16) != 0) {
        char want[37], got[37];
        uuid_text(event_id, want);
        uuid_text(entry, got);
        adb__fmt(err, errlen, "the tree's leaf %llu names event %s, not %s",
                 (unsigned long long)index, got, want);
        return ADB_ERR_INTERNAL;
    }
    if ((st = adb__tree_inclusion_proof(c, org, index, body.size, proof, &np, err, errlen)) !=
        ADB_OK)
        return st;
    if (!(*out = adb__receipt_format(entry, index, proof, np, note, note_len, outlen))) {
        adb__fmt(err, errlen, "out of memory");
        return ADB_ERR_NOMEM;
    }
    return ADB_OK;
}
