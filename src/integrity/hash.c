/*
 * hash.c - canonical form, content hash, signature and chain link of an
 * event; the smart-logs v1 legacy hash for imported events.
 * Definitions: docs/integrity.md.
 */
#include "integrity.h"
#include "commit.h"
#include "../core/buf.h"
#include "../core/util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char adb__chain_genesis[65] =
    "0000000000000000000000000000000000000000000000000000000000000000";

/* The canonical members, in byte order of their names. */
typedef struct cfield {
    const char *name;
    int field;   /* adb_event_field, or -1 details, -2 timestamp, -3 the event id,
                    -4 the commitments (v3) */
} cfield;

static const cfield canonical_order[] = {
    { "action", ADB_F_ACTION },
    { "commitments", -4 }, /* sha256-c14n-v3 only */
    { "correlationId", ADB_F_CORRELATION_ID },
    { "dataClassification", ADB_F_DATA_CLASSIFICATION },
    { "details", -1 },
    { "eventVersion", ADB_F_EVENT_VERSION },
    { "hashAlgorithm", ADB_F_HASH_ALGORITHM },
    { "id", -3 }, /* sha256-c14n-v2 and v3 */
    { "organizationId", ADB_F_ORGANIZATION_ID },
    { "outcomeDescription", ADB_F_OUTCOME_DESCRIPTION },
    { "principalId", ADB_F_PRINCIPAL_ID },
    { "retentionPolicy", ADB_F_RETENTION_POLICY },
    { "status", ADB_F_STATUS },
    { "targetResourceId", ADB_F_TARGET_RESOURCE_ID },
    { "targetResourceType", ADB_F_TARGET_RESOURCE_TYPE },
    { "timestamp", -2 },
    { "ttl", ADB_F_TTL },
};

static void json_str(adb__buf *b, const char *s)
{
    adb__buf_json_string(b, s, strlen(s));
}

/* true for what v3 replaces by its commitment */
static bool committed(int field)
{
    return field == -1 || field == ADB_F_PRINCIPAL_ID || field == ADB_F_TARGET_RESOURCE_ID ||
           field == ADB_F_OUTCOME_DESCRIPTION;
}

char *adb__canonical_src(const adb__event *ev, adb__commit_src *src, size_t *len)
{
    adb__buf b = { 0 };
    bool first = true;

    const char *alg = ev->f[ADB_F_HASH_ALGORITHM];
    bool with_id = adb__hash_alg_binds_id(alg);
    bool v3 = alg && !strcmp(alg, ADB_HASH_ALG_C14N);

    adb__buf_put(&b, "{", 1);
    for (size_t i = 0; i < sizeof(canonical_order) / sizeof(canonical_order[0]); i++) {
        const cfield *c = &canonical_order[i];
        const char *text = NULL;
        if (v3 && committed(c->field))
            continue;
        if (c->field == -4 && !v3)
            continue;
        if (c->field == -1 && !ev->details)
            continue;
        if (c->field >= 0 && !(text = ev->f[c->field]))
            continue;
        if (c->field == -3 && !with_id)
            continue;
        if (!first)
            adb__buf_put(&b, ",", 1);
        first = false;
        if (c->field == -4) {
            if (!adb__commitments_write(&b, ev, src)) {
                adb__buf_free(&b);
                return NULL;
            }
            continue;
        }
        json_str(&b, c->name);
        adb__buf_put(&b, ":", 1);
        if (c->field == -1)
            adb__buf_put(&b, ev->details, ev->details_len); /* already canonical JSON */
        else if (c->field == -2)
            json_str(&b, ev->ts_text);
        else if (c->field == -3)
            json_str(&b, ev->event_id);
        else
            json_str(&b, text);
    }
    adb__buf_put(&b, "}", 1);
    return adb__buf_take(&b, len);
}

char *adb__canonical(const adb__event *ev, size_t *len)
{
    adb__commit_src src = { .event_key = ev->has_commit_key ? ev->commit_key : NULL };

    return adb__canonical_src(ev, &src, len);
}

char *adb__legacy_canonical(const adb__event *ev, size_t *len)
{
    /* sorted names; the last five are null when absent or empty */
    static const struct { const char *name; int field; bool nullable; } order[] = {
        { "action", ADB_F_ACTION, false },
        { "organizationId", ADB_F_ORGANIZATION_ID, true },
        { "outcomeDescription", ADB_F_OUTCOME_DESCRIPTION, true },
        { "principalId", ADB_F_PRINCIPAL_ID, true },
        { "status", ADB_F_STATUS, false },
        { "targetResourceId", ADB_F_TARGET_RESOURCE_ID, true },
        { "targetResourceType", ADB_F_TARGET_RESOURCE_TYPE, true },
        { "timestamp", -2, false },
    };
    adb__buf b = { 0 };
    char ts[32];

    /* JavaScript's Date.toISOString(): milliseconds */
    memcpy(ts, ev->ts_text, 23);
    ts[23] = 'Z';
    ts[24] = '\0';
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        const char *v = order[i].field == -2 ? ts : ev->f[order[i].field];
        if (i > 0)
            adb__buf_put(&b, "|", 1);
        adb__buf_put(&b, order[i].name, strlen(order[i].name));
        adb__buf_put(&b, ":", 1);
        if (!v || (order[i].nullable && !v[0]))
            adb__buf_put(&b, "null", 4);
        else
            json_str(&b, v);
    }
    return adb__buf_take(&b, len);
}

static void hmac_hex(const adb__hmac_key *key, const void *data, size_t len, char out[65])
{
    unsigned char md[32];

    if (!adb__hmac_sha256(key, data, len, md)) {
        out[0] = '\0';
        return;
    }
    adb__hex(md, 32, out);
}

void adb__signature(const adb__keys *k, const char *hash, char out[65])
{
    hmac_hex(&k->sig_hmac, hash, strlen(hash), out);
}

void adb__chain_link(const adb__keys *k, const char *org, int64_t seq, const char *prev,
                     const char *content_hash, char out[65])
{
    static const char tag[] = "adb-chain-v1\n";
    size_t olen = strlen(org), plen = strlen(prev), hlen = strlen(content_hash);
    char num[24];
    int nlen = snprintf(num, sizeof(num), "%" PRId64, seq);
    size_t total = sizeof(tag) - 1 + olen + 1 + (size_t)nlen + 1 + plen + 1 + hlen;
    char stack[768];
    char *m = total <= sizeof(stack) ? stack : malloc(total);
    char *w = m;

    if (!m) {
        out[0] = '\0';
        return;
    }
    memcpy(w, tag, sizeof(tag) - 1);
    w += sizeof(tag) - 1;
    memcpy(w, org, olen);
    w += olen;
    *w++ = '\n';
    memcpy(w, num, (size_t)nlen);
    w += nlen;
    *w++ = '\n';
    memcpy(w, prev, plen);
    w += plen;
    *w++ = '\n';
    memcpy(w, content_hash, hlen);
    hmac_hex(&k->chain_hmac, m, total, out);
    if (m != stack)
        free(m);
}

bool adb__event_seal(adb__event *ev, const adb__keys *k, adb_event_errors *errs)
{
    size_t len;
    adb__commit_src src = { .event_key = ev->has_commit_key ? ev->commit_key : NULL };
    char *c = adb__canonical_src(ev, &src, &len);

    if (!c)
        return false;
    if (src.keyless) { /* a v3 event without its key: nothing may be written */
        free(c);
        adb__errors_add(errs, "INTERNAL_ERROR", "hashAlgorithm", "the event has no commitment key");
        return false;
    }
    adb__sha256_hex(c, len, ev->content_hash);
    free(c);
    if (ev->f[ADB_F_HASH_ALGORITHM] && !strcmp(ev->f[ADB_F_HASH_ALGORITHM], ADB_HASH_ALG_LEGACY)) {
        char legacy[65];
        c = adb__legacy_canonical(ev, &len);
        if (!c)
            return false;
        adb__sha256_hex(c, len, legacy);
        free(c);
        if (strcmp(legacy, ev->hash) != 0) {
            adb__errors_add(errs, "INVALID_VALUE", "hash",
                            "hash does not match the event's smart-logs v1 hash (%.12s...)", legacy);
            return false;
        }
    } else {
        memcpy(ev->hash, ev->content_hash, 65);
    }
    adb__signature(k, ev->hash, ev->signature);
    return true;
}
