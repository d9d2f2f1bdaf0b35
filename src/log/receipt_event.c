/*
 * receipt_event.c - does a receipt's entry name this event? The event object
 * the API answers is put in canonical form again (docs/integrity.md section
 * 1) and hashed, offline, so an auditor holding the event and its receipt
 * needs nothing else (docs/proofs.md, "Checking the event").
 */
#include "receipt.h"

#include "../core/digest.h"
#include "../core/util.h"
#include "../integrity/commit.h"
#include "../event/json.h"

#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Canonical members and where the API's event object has them. */
static const struct { const char *name, *api; } members[] = {
    { "action", "action" }, { "correlationId", "correlationId" },
    { "dataClassification", "dataClassification" }, { "details", "details" },
    { "eventVersion", "eventVersion" }, { "hashAlgorithm", "hashAlgorithm" },
    { "id", "id" }, { "organizationId", "organizationId" },
    { "outcomeDescription", "outcomeDescription" }, { "principalId", "principalId" },
    { "retentionPolicy", "retentionPolicy" }, { "status", "status" },
    { "targetResourceId", "targetResourceId" }, { "targetResourceType", "targetResourceType" },
    { "timestamp", "storedTimestamp" }, { "ttl", "ttl" },
};
#define NMEMBERS (sizeof(members) / sizeof(members[0]))

static bool is_str(const adb_json *v, const char *s)
{
    return v && v->type == ADB_JSON_STRING && v->len == strlen(s) && !memcmp(v->str, s, v->len);
}

/* The SHA-256 of the event's canonical form into hash; with_id: the member
 * id (sha256-c14n-v2). false with err filled when a member has a wrong type. */
static bool canonical_hash(const adb_json *ev, bool with_id, uint8_t hash[32], char *err,
                           size_t errlen)
{
    const char *keys[NMEMBERS];
    size_t lens[NMEMBERS], n = 0, len = 0, cap = 0;
    adb_json *items[NMEMBERS];
    char *buf = NULL;

    for (size_t i = 0; i < NMEMBERS; i++) {
        const adb_json *v = adb__json_get(ev, members[i].api);
        if (!v || v->type == ADB_JSON_NULL || (!with_id && !strcmp(members[i].name, "id")))
            continue;
        bool details = !strcmp(members[i].name, "details");
        if (v->type != (details ? ADB_JSON_OBJECT : ADB_JSON_STRING)) {
            adb__fmt(err, errlen, "event: %s is not %s", members[i].api,
                     details ? "an object" : "a string");
            return false;
        }
        keys[n] = members[i].name;
        lens[n] = strlen(members[i].name);
        items[n++] = (adb_json *)v;
    }
    adb_json obj = { .type = ADB_JSON_OBJECT, .count = n, .keys = keys, .key_lens = lens,
                     .items = items };
    if (!adb__json_write_canonical(&obj, &buf, &len, &cap)) {
        adb__fmt(err, errlen, "out of memory");
        return false;
    }
    SHA256((const unsigned char *)buf, len, hash);
    free(buf);
    return true;
}

/* The committed string fields of v3 (docs/integrity.md 2b); every top-level
 * member of details is committed too, as "details.<name>". */
static bool committed(const char *name)
{
    return !strcmp(name, "details") || !strcmp(name, "outcomeDescription") ||
           !strcmp(name, "principalId") || !strcmp(name, "targetResourceId");
}

#define V3_MAX_FIELDS 256

/* One commitment: field f (n bytes) of value v under the event key. */
static bool commit_one(const adb__hmac_key *ek, const char *id, const char *f, size_t n,
                       const adb_json *v, char out[65])
{
    char *buf = NULL;
    size_t len = 0, cap = 0;
    unsigned char fk[32];
    bool ok = adb__json_write_canonical(v, &buf, &len, &cap) &&
              adb__commit_field_key(ek, id, f, n, fk) &&
              adb__commitment(fk, id, f, n, buf, len, out);
    free(buf);
    return ok;
}

/* The SHA-256 of a sha256-c14n-v3 event's canonical form, its commitments
 * recomputed under commitKey (the events API answers it). */
static bool canonical_hash_v3(const adb_json *ev, const char *key_hex, uint8_t hash[32], char *err,
                              size_t errlen)
{
    const char *keys[NMEMBERS + 1], *ckeys[V3_MAX_FIELDS];
    size_t lens[NMEMBERS + 1], clens[V3_MAX_FIELDS], n = 0, nc = 0, len = 0, cap = 0;
    adb_json *items[NMEMBERS + 1], *citems[V3_MAX_FIELDS];
    adb_json cvals[V3_MAX_FIELDS];
    char chex[V3_MAX_FIELDS][65], fname[V3_MAX_FIELDS][96];
    unsigned char raw[32];
    adb__hmac_key ek;
    char *buf = NULL;
    const adb_json *id = adb__json_get(ev, "id");
    bool ok = false;

    for (int i = 0; i < 32; i++) {
        int hi = adb__hexval(key_hex[2 * i]), lo = adb__hexval(key_hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            adb__fmt(err, errlen, "event: commitKey is not 64 hex digits");
            return false;
        }
        raw[i] = (unsigned char)(hi << 4 | lo);
    }
    if (!adb__hmac_key_init(&ek, raw, sizeof(raw))) {
        adb__fmt(err, errlen, "out of memory");
        return false;
    }
    for (size_t i = 0; i < NMEMBERS; i++) {
        const adb_json *v = adb__json_get(ev, members[i].api);
        if (!v || v->type == ADB_JSON_NULL)
            continue;
        bool details = !strcmp(members[i].name, "details");
        if (v->type != (details ? ADB_JSON_OBJECT : ADB_JSON_STRING)) {
            adb__fmt(err, errlen, "event: %s is not %s", members[i].api,
                     details ? "an object" : "a string");
            goto out;
        }
        if (!committed(members[i].name)) {
            keys[n] = members[i].name;
            lens[n] = strlen(members[i].name);
            items[n++] = (adb_json *)v;
            continue;
        }
        size_t parts = details ? v->count : 1;
        for (size_t k = 0; k < parts; k++) {
            int fl;
            if (nc == V3_MAX_FIELDS) {
                adb__fmt(err, errlen, "event: more than %d committed fields", V3_MAX_FIELDS);
                goto out;
            }
            fl = details ? snprintf(fname[nc], sizeof(fname[nc]), "details.%.*s",
                                    (int)v->key_lens[k], v->keys[k])
                         : snprintf(fname[nc], sizeof(fname[nc]), "%s", members[i].name);
            if (fl < 0 || (size_t)fl >= sizeof(fname[nc])) {
                adb__fmt(err, errlen, "event: a details member name is too long");
                goto out;
            }
            if (!commit_one(&ek, id->str, fname[nc], (size_t)fl, details ? v->items[k] : v,
                            chex[nc])) {
                adb__fmt(err, errlen, "out of memory");
                goto out;
            }
            cvals[nc] = (adb_json){ .type = ADB_JSON_STRING, .str = chex[nc], .len = 64 };
            ckeys[nc] = fname[nc];
            clens[nc] = (size_t)fl;
            citems[nc] = &cvals[nc];
            nc++;
        }
    }
    adb_json commitments = { .type = ADB_JSON_OBJECT, .count = nc, .keys = ckeys,
                             .key_lens = clens, .items = citems };
    keys[n] = "commitments";
    lens[n] = strlen("commitments");
    items[n++] = &commitments;
    adb_json obj = { .type = ADB_JSON_OBJECT, .count = n, .keys = keys, .key_lens = lens,
                     .items = items };
    if (!adb__json_write_canonical(&obj, &buf, &len, &cap)) {
        adb__fmt(err, errlen, "out of memory");
        goto out;
    }
    SHA256((const unsigned char *)buf, len, hash);
    ok = true;
out:
    free(buf);
    explicit_bzero(&ek, sizeof(ek));
    explicit_bzero(raw, sizeof(raw));
    return ok;
}

adb_status adb__receipt_event_check(const char *json, size_t len, const adb__receipt_result *r,
                                    bool *recomputed, char *err, size_t errlen)
{
    adb_json_error je;
    adb_json_doc *doc;
    const adb_json *ev, *id, *alg, *hash;
    uint8_t h[32];
    char hex[65];
    adb_status st = ADB_ERR_INVALID;

    if (recomputed)
        *recomputed = false;
    if (!(doc = adb__json_parse(json, len, NULL, &je))) {
        adb__fmt(err, errlen, "event: not JSON: %s", je.message);
        return ADB_ERR_INVALID;
    }
    ev = adb__json_root(doc);
    id = adb__json_get(ev, "id");
    alg = adb__json_get(ev, "hashAlgorithm");
    hash = adb__json_get(ev, "hash");
    if (!ev || ev->type != ADB_JSON_OBJECT || !id || id->type != ADB_JSON_STRING ||
        !alg || alg->type != ADB_JSON_STRING || !hash || hash->type != ADB_JSON_STRING) {
        adb__fmt(err, errlen, "event: not an event object (id, hashAlgorithm and hash strings)");
        goto out;
    }
    if (id->len != 36 || strncasecmp(id->str, r->event_id, 36) != 0) {
        adb__fmt(err, errlen, "event: its id %.*s is not the receipt's event %s",
                 (int)(id->len > 64 ? 64 : id->len), id->str, r->event_id);
        goto out;
    }
    bool v2 = is_str(alg, "sha256-c14n-v2");
    const adb_json *ck = adb__json_get(ev, "commitKey");
    bool v3 = is_str(alg, "sha256-c14n-v3") && ck && ck->type == ADB_JSON_STRING && ck->len == 64;
    if (v3 || v2 || is_str(alg, "sha256-c14n-v1") || is_str(alg, "SHA-256")) {
        if (!ev || !adb__json_get(ev, "storedTimestamp")) {
            adb__fmt(err, errlen, "event: no storedTimestamp to recompute its hash from");
            goto out;
        }
        if (v3 ? !canonical_hash_v3(ev, ck->str, h, err, errlen)
               : !canonical_hash(ev, v2, h, err, errlen))
            goto out;
        adb__hex(h, 32, hex);
        if (recomputed)
            *recomputed = true;
        /* a legacy event's `hash` is the 8-field hash of its import; the
         * chain and the tree use the canonical form's */
        if (!is_str(alg, "SHA-256") && !is_str(hash, hex)) {
            adb__fmt(err, errlen, "event: its canonical form hashes to %s, not to its hash %.64s",
                     hex, hash->str);
            goto out;
        }
    } else {
        if (hash->len != 64) {
            adb__fmt(err, errlen, "event: hash is not 64 hex digits");
            goto out;
        }
        memcpy(hex, hash->str, 64);
        hex[64] = '\0';
    }
    if (strcmp(hex, r->content_hash) != 0) {
        adb__fmt(err, errlen, "event: content hash %s is not the receipt's %s", hex,
                 r->content_hash);
        goto out;
    }
    st = ADB_OK;
out:
    adb__json_free(doc);
    return st;
}
