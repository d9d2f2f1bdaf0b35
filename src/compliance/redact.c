/*
 * redact.c - what a lawful erasure changes in one row (redact.h).
 */
#include "redact.h"
#include "../integrity/commit.h"
#include "../integrity/erasure_records.h"
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

/* details' canonical text without the members in drop (as PostgreSQL's
 * `details - drop` gives it back): 1, 0 unreadable, -1 out of memory. */
static int details_without(const char *details, char *const *drop, size_t ndrop, char **out)
{
    adb_json_error je;
    adb_json_doc *doc = adb__json_parse(details, strlen(details), NULL, &je);
    size_t len = 0, cap = 0;
    int rc = -1;

    *out = NULL;
    if (!doc)
        return je.code == ADB_JSON_ERR_NOMEM ? -1 : 0;
    const adb_json *d = adb__json_root(doc);
    if (d->type != ADB_JSON_OBJECT) {
        adb__json_free(doc);
        return 0;
    }
    adb_json kept = { .type = ADB_JSON_OBJECT };
    kept.keys = calloc(d->count ? d->count : 1, sizeof(*kept.keys));
    kept.key_lens = calloc(d->count ? d->count : 1, sizeof(*kept.key_lens));
    kept.items = calloc(d->count ? d->count : 1, sizeof(*kept.items));
    if (kept.keys && kept.key_lens && kept.items) {
        for (size_t i = 0; i < d->count; i++) {
            bool gone = false;
            for (size_t j = 0; j < ndrop && !gone; j++)
                gone = !strcmp(d->keys[i], drop[j]);
            if (gone)
                continue;
            kept.keys[kept.count] = d->keys[i];
            kept.key_lens[kept.count] = d->key_lens[i];
            kept.items[kept.count++] = d->items[i];
        }
        rc = adb__json_write_canonical(&kept, out, &len, &cap) ? 1 : -1;
    }
    free(kept.keys);
    free(kept.key_lens);
    free(kept.items);
    adb__json_free(doc);
    return rc;
}

/* An event stored before v3: its hash covers the values (docs/integrity.md
 * 8b). The row must verify as it stands (its own content, or a residual
 * record of an earlier erasure vouching for it); the erased row's content
 * hash becomes every new record's commitment. */
static int redact_residual(const adb__keys *k, const char *const v[ADB__ROW_NCOLS],
                           const char *const *fields, size_t nfields,
                           const adb__erasure_set *records, adb__redaction *out, char *why,
                           size_t whylen)
{
    const char *hash = v[ADB_COL_HASH], *chain = v[ADB_COL_CHAIN_HASH];
    adb__row_expect e;
    char *details = NULL;
    int rc = adb__row_recompute(k, v, &e);

    if (rc <= 0) {
        if (rc == 0)
            adb__fmt(why, whylen, "%s", e.why);
        return rc;
    }
    if (!hash || !chain) {
        adb__fmt(why, whylen, "the row has no hash or chain link");
        return 0;
    }
    if (!strcmp(e.hash, hash) && !strcmp(e.link, chain)) {
        memcpy(out->original_content, e.content, 65);
    } else if (!records ||
               adb__erasure_set_residual(records, hash, e.content, out->original_content) <= 0) {
        adb__fmt(why, whylen, "it does not verify (its hash does not match its content): "
                 "tampering is not erased, it is reported");
        return 0;
    }
    adb__fmt(out->original_hash, sizeof(out->original_hash), "%s", hash);
    out->residual = true;

    /* the fields named that have a value */
    const char *cols[3][2] = { { "principalId", v[ADB_COL_PRINCIPAL_ID] },
                               { "targetResourceId", v[ADB_COL_TARGET_RESOURCE_ID] },
                               { "outcomeDescription", v[ADB_COL_OUTCOME_DESCRIPTION] } };
    adb_json_doc *ddoc = NULL;
    const adb_json *d = NULL;
    size_t cap = 3;
    if (v[ADB_COL_DETAILS]) {
        adb_json_error je;
        if (!(ddoc = adb__json_parse(v[ADB_COL_DETAILS], strlen(v[ADB_COL_DETAILS]), NULL, &je)))
            return je.code == ADB_JSON_ERR_NOMEM ? -1 : (adb__fmt(why, whylen,
                                                        "details unreadable"), 0);
        d = adb__json_root(ddoc);
        if (d->type == ADB_JSON_OBJECT)
            cap += d->count;
        else
            d = NULL;
    }
    rc = -1;
    out->rec = calloc(cap, sizeof(*out->rec));
    out->drop = calloc(cap, sizeof(*out->drop));
    if (!out->rec || !out->drop)
        goto done;
    for (int i = 0; i < 3; i++) {
        if (!cols[i][1] || !wanted(cols[i][0], fields, nfields))
            continue;
        if (!(out->rec[out->nrec++].field = strdup(cols[i][0])))
            goto done;
        *(i == 0 ? &out->principal : i == 1 ? &out->target : &out->outcome) = true;
    }
    for (size_t i = 0; d && i < d->count; i++) {
        char *name = adb__aprintf("details.%s", d->keys[i]);
        if (!name)
            goto done;
        if (!wanted(name, fields, nfields)) {
            free(name);
            continue;
        }
        out->rec[out->nrec++].field = name;
        if (!(out->drop[out->ndrop++] = strdup(d->keys[i])))
            goto done;
    }
    if (out->nrec == 0) {
        rc = 1;
        goto done;
    }
    /* the row as the erasure leaves it, and its content hash */
    const char *after[ADB__ROW_NCOLS];
    memcpy(after, v, sizeof(after));
    if (out->principal)
        after[ADB_COL_PRINCIPAL_ID] = NULL;
    if (out->target)
        after[ADB_COL_TARGET_RESOURCE_ID] = NULL;
    if (out->outcome)
        after[ADB_COL_OUTCOME_DESCRIPTION] = NULL;
    if (v[ADB_COL_DETAILS] && out->ndrop) {
        int r = details_without(v[ADB_COL_DETAILS], out->drop, out->ndrop, &details);
        if (r <= 0) {
            if (r == 0)
                adb__fmt(why, whylen, "details unreadable");
            rc = r;
            goto done;
        }
        after[ADB_COL_DETAILS] = details;
    }
    adb__row_expect a;
    if ((rc = adb__row_recompute(k, after, &a)) != 1) {
        if (rc == 0)
            adb__fmt(why, whylen, "%s", a.why);
        goto done;
    }
    for (size_t i = 0; i < out->nrec; i++)
        memcpy(out->rec[i].commitment, a.content, 65);
done:
    free(details);
    adb__json_free(ddoc);
    return rc;
}

int adb__redact(const adb__keys *k, const char *const v[ADB__ROW_NCOLS],
                const char *const *fields, size_t nfields,
                const adb__erasure_set *records, adb__redaction *out, char *why, size_t whylen)
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
        int r = redact_residual(k, v, fields, nfields, records, out, why, whylen);
        if (r != 1)
            adb__redaction_free(out);
        return r;
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
