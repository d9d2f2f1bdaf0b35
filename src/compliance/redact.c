/*
 * redact.c - what a lawful erasure changes in one row (redact.h).
 */
#include "redact.h"
#include "../integrity/commit.h"
#include "../core/buf.h"
#include "../core/util.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

void adb__redaction_free(adb__redaction *r)
{
    for (size_t i = 0; i < r->ndrop; i++)
        free(r->drop[i]);
    for (size_t i = 0; i < r->nrec; i++)
        free(r->rec[i].field);
    free(r->drop);
    free(r->rec);
    free(r->field_keys);
    memset(r, 0, sizeof(*r));
}

static bool wanted(const char *name, const char *const *fields, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(fields[i], name))
            return true;
        if (!strcmp(fields[i], "details.*") && !strncmp(name, "details.", 8))
            return true;
    }
    return false;
}

static bool hex32(const char *hex, unsigned char out[32])
{
    if (!hex || strlen(hex) != 64)
        return false;
    for (int i = 0; i < 32; i++) {
        int hi = adb__hexval(hex[2 * i]), lo = adb__hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return true;
}

int adb__redact(const adb__keys *k, const char *const v[ADB__ROW_NCOLS],
                const char *const *fields, size_t nfields, adb__redaction *out, char *why,
                size_t whylen)
{
    const char *alg = v[ADB_COL_HASH_ALGORITHM], *eid = v[ADB_COL_EVENT_ID];
    adb__event ev;
    adb__row_expect e;
    unsigned char key[32];
    bool has_key;
    adb_json_doc *fkdoc = NULL, *cdoc = NULL;
    const adb_json *fk = NULL, *cm;
    adb__hmac_key ek;
    adb__buf b = { 0 }, keys = { 0 };
    int rc = 0;

    memset(out, 0, sizeof(*out));
    memset(&ev, 0, sizeof(ev));
    if (!alg || strcmp(alg, ADB_HASH_ALG_C14N) != 0) {
        adb__fmt(why, whylen, "stored under %s: its hash covers the values themselves, which "
                 "cannot be removed without breaking the chain", alg ? alg : "no algorithm");
        return 0;
    }
    if (!eid) {
        adb__fmt(why, whylen, "the row has no event id");
        return 0;
    }
    has_key = hex32(v[ADB_COL_COMMIT_KEY], key);
    if (v[ADB_COL_COMMIT_FIELD_KEYS]) {
        adb_json_error je;
        fkdoc = adb__json_parse(v[ADB_COL_COMMIT_FIELD_KEYS], strlen(v[ADB_COL_COMMIT_FIELD_KEYS]),
                                NULL, &je);
        if (!fkdoc)
            return je.code == ADB_JSON_ERR_NOMEM ? -1 : (adb__fmt(why, whylen,
                                                        "commit_field_keys unreadable"), 0);
        fk = adb__json_root(fkdoc);
        if (fk->type != ADB_JSON_OBJECT)
            fk = NULL;
    }
    if (!has_key && !fk) {
        adb__fmt(why, whylen, "its commitment key is gone without an erasure's field keys");
        goto done;
    }
    /* the row must verify before it is changed: a lawful change of a
     * tampered row would launder it */
    if (has_key) {
        int r = adb__row_recompute(k, v, &e);
        if (r < 0) {
            rc = -1;
            goto done;
        }
        if (r == 0 || !v[ADB_COL_HASH] || strcmp(e.hash, v[ADB_COL_HASH]) != 0) {
            adb__fmt(why, whylen, "it does not verify (its hash does not match its content): "
                     "tampering is not erased, it is reported");
            goto done;
        }
    }
    if ((rc = adb__row_event(v, &ev, &e)) != 1) {
        if (rc == 0)
            adb__fmt(why, whylen, "%s", e.why);
        goto done;
    }
    rc = 0;
    if (has_key && !adb__hmac_key_init(&ek, key, 32)) {
        rc = -1;
        goto done;
    }
    /* every commitment of the fields with a value */
    adb__commit_src src = { .event_key = has_key ? key : NULL, .field_keys = fk };
    if (!adb__commitments_write(&b, &ev, &src)) {
        rc = -1;
        goto done;
    }
    if (src.keyless) {
        adb__fmt(why, whylen, "field %s has a value but no key", src.keyless_field);
        goto done;
    }
    {
        const char *brace = memchr(b.p, '{', b.len);
        adb_json_error je;
        if (!brace || !(cdoc = adb__json_parse(brace, b.len - (size_t)(brace - b.p), NULL, &je))) {
            rc = -1;
            goto done;
        }
    }
    cm = adb__json_root(cdoc);
    out->rec = calloc(cm->count ? cm->count : 1, sizeof(*out->rec));
    out->drop = calloc(cm->count ? cm->count : 1, sizeof(*out->drop));
    if (!out->rec || !out->drop) {
        rc = -1;
        goto done;
    }
    adb__buf_put(&keys, "{", 1);
    bool first = true;
    for (size_t i = 0; i < cm->count; i++) {
        const char *name = cm->keys[i];
        bool erase = wanted(name, fields, nfields);
        if (!first)
            adb__buf_put(&keys, ",", 1);
        first = false;
        adb__buf_json_string(&keys, name, strlen(name));
        if (erase) {
            adb__buf_puts(&keys, ":null");
            adb__redaction_rec *x = &out->rec[out->nrec];
            if (!(x->field = strdup(name))) {
                rc = -1;
                goto done;
            }
            adb__fmt(x->commitment, sizeof(x->commitment), "%s", cm->items[i]->str);
            out->nrec++;
            if (!strcmp(name, "principalId"))
                out->principal = true;
            else if (!strcmp(name, "targetResourceId"))
                out->target = true;
            else if (!strcmp(name, "outcomeDescription"))
                out->outcome = true;
            else if (!(out->drop[out->ndrop++] = strdup(name + 8))) {
                rc = -1;
                goto done;
            }
            continue;
        }
        /* kept: its key, derived from the event key or kept from before */
        char hex[65];
        if (has_key) {
            unsigned char f[32];
            if (!adb__commit_field_key(&ek, eid, name, strlen(name), f)) {
                rc = -1;
                goto done;
            }
            adb__hex(f, 32, hex);
            OPENSSL_cleanse(f, sizeof(f));
        } else {
            const adb_json *kv = adb__json_get(fk, name);
            adb__fmt(hex, sizeof(hex), "%s", kv && kv->type == ADB_JSON_STRING ? kv->str : "");
        }
        adb__buf_put(&keys, ":\"", 2);
        adb__buf_puts(&keys, hex);
        adb__buf_put(&keys, "\"", 1);
    }
    /* fields erased before stay marked */
    for (size_t i = 0; fk && i < fk->count; i++) {
        if (fk->items[i]->type != ADB_JSON_NULL || adb__json_get(cm, fk->keys[i]))
            continue;
        if (!first)
            adb__buf_put(&keys, ",", 1);
        first = false;
        adb__buf_json_string(&keys, fk->keys[i], strlen(fk->keys[i]));
        adb__buf_puts(&keys, ":null");
    }
    adb__buf_put(&keys, "}", 1);
    if (keys.oom) {
        rc = -1;
        goto done;
    }
    if (!(out->field_keys = strndup(keys.p, keys.len))) {
        rc = -1;
        goto done;
    }
    rc = 1;
done:
    if (rc != 1)
        adb__redaction_free(out);
    if (has_key)
        OPENSSL_cleanse(&ek, sizeof(ek));
    OPENSSL_cleanse(key, sizeof(key));
    if (keys.p)
        OPENSSL_cleanse(keys.p, keys.len);
    adb__buf_free(&keys);
    adb__buf_free(&b);
    adb__json_free(cdoc);
    adb__json_free(fkdoc);
    free(ev.details);
    return rc;
}
