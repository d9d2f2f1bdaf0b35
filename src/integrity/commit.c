/*
 * commit.c - commitments to an event's personal data (sha256-c14n-v3) and
 * the signatures of erasure records. Definitions: docs/integrity.md 2b, 8.
 *
 * Each field has its own key, derived from the event's key: erasing one
 * field deletes the event key and keeps the other fields' keys
 * (commit_field_keys), so the rest stays checkable while the erased
 * commitment can no longer be tested against guesses.
 */
#include "commit.h"
#include "../core/util.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

const adb_event_field adb__committed_fields[3] = {
    ADB_F_OUTCOME_DESCRIPTION, ADB_F_PRINCIPAL_ID, ADB_F_TARGET_RESOURCE_ID,
};

#define FIELD_MAX 600 /* "details." + a member name (details are 64 KiB, names short) */

/* tag id "\n" field [ "\n" value ] into a stack buffer or a malloc()ed one */
static bool hmac_msg(const adb__hmac_key *k, const char *tag, const char *id, const char *field,
                     size_t flen, const char *value, size_t vlen, bool with_value,
                     unsigned char out[32])
{
    size_t tlen = strlen(tag), ilen = strlen(id);
    size_t total = tlen + ilen + 1 + flen + (with_value ? 1 + vlen : 0);
    char stack[1024];
    char *m = total <= sizeof(stack) ? stack : malloc(total);
    char *w = m;
    bool ok;

    if (!m)
        return false;
    memcpy(w, tag, tlen);
    w += tlen;
    memcpy(w, id, ilen);
    w += ilen;
    *w++ = '\n';
    memcpy(w, field, flen);
    w += flen;
    if (with_value) {
        *w++ = '\n';
        memcpy(w, value, vlen);
    }
    ok = adb__hmac_sha256(k, m, total, out);
    if (m != stack)
        free(m);
    return ok;
}

bool adb__commit_field_key(const adb__hmac_key *event_key, const char *event_id,
                           const char *field, size_t field_len, unsigned char out[32])
{
    return hmac_msg(event_key, "adb-commit-key-v1\n", event_id, field, field_len, NULL, 0, false,
                    out);
}

bool adb__commitment(const unsigned char field_key[32], const char *event_id, const char *field,
                     size_t field_len, const char *value_json, size_t value_len, char out[65])
{
    adb__hmac_key k;
    unsigned char md[32];
    bool ok = adb__hmac_key_init(&k, field_key, 32) &&
              hmac_msg(&k, "adb-commit-v1\n", event_id, field, field_len, value_json, value_len,
                       true, md);

    OPENSSL_cleanse(&k, sizeof(k));
    if (ok)
        adb__hex(md, 32, out);
    else
        out[0] = '\0';
    return ok;
}

/* ---- the commitments member --------------------------------------------- */

typedef struct entry {
    char *name; /* malloc()ed, NUL-terminated (names hold no NUL) */
    size_t len;
    char hex[65];
} entry;

typedef struct entries {
    entry *e;
    size_t n, cap;
    bool oom;
} entries;

static entry *add_entry(entries *es, const char *name, size_t len)
{
    if (es->n == es->cap) {
        size_t cap = es->cap ? es->cap * 2 : 16;
        entry *ne = realloc(es->e, cap * sizeof(*ne));
        if (!ne) {
            es->oom = true;
            return NULL;
        }
        es->e = ne;
        es->cap = cap;
    }
    entry *x = &es->e[es->n];
    if (!(x->name = malloc(len + 1))) {
        es->oom = true;
        return NULL;
    }
    memcpy(x->name, name, len);
    x->name[len] = '\0';
    x->len = len;
    x->hex[0] = '\0';
    es->n++;
    return x;
}

static bool has_entry(const entries *es, const char *name)
{
    for (size_t i = 0; i < es->n; i++)
        if (!strcmp(es->e[i].name, name))
            return true;
    return false;
}

static int cmp_entry(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->name, y->name, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* The key of field name: derived from the event key, else from the field
 * keys kept after an erasure; false: none. */
static bool key_of(const adb__commit_src *src, const adb__hmac_key *ek, const char *event_id,
                   const char *name, size_t len, unsigned char out[32])
{
    if (src->event_key)
        return adb__commit_field_key(ek, event_id, name, len, out);
    const adb_json *v = src->field_keys ? adb__json_get(src->field_keys, name) : NULL;
    if (!v || v->type != ADB_JSON_STRING || v->len != 64)
        return false;
    for (int i = 0; i < 32; i++) {
        int hi = adb__hexval(v->str[2 * i]), lo = adb__hexval(v->str[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return true;
}

/* Commits one field with a value. */
static void commit_one(entries *es, adb__commit_src *src, const adb__hmac_key *ek,
                       const char *event_id, const char *name, size_t len, const char *value,
                       size_t vlen)
{
    unsigned char fk[32];
    entry *x;

    if (!key_of(src, ek, event_id, name, len, fk)) {
        if (src->keyless++ == 0)
            adb__fmt(src->keyless_field, sizeof(src->keyless_field), "%.*s", (int)len, name);
        return;
    }
    if ((x = add_entry(es, name, len)) != NULL && !adb__commitment(fk, event_id, name, len, value,
                                                                    vlen, x->hex))
        es->oom = true;
    OPENSSL_cleanse(fk, sizeof(fk));
}

/* Unescapes a canonical JSON string body (s..end, without quotes) after
 * "details." in out; the length, or 0 when it does not fit. */
static size_t member_name(const char *s, const char *end, char *out, size_t cap)
{
    size_t n = 8;

    memcpy(out, "details.", 8);
    while (s < end) {
        char c = *s++;
        if (c == '\\' && s < end) {
            char e = *s++;
            switch (e) {
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'n': c = '\n'; break;
            case 'r': c = '\r'; break;
            case 't': c = '\t'; break;
            case 'u': /* canonical text escapes only bytes below 0x20 so */
                if (end - s < 4)
                    return 0;
                c = (char)(adb__hexval(s[2]) << 4 | adb__hexval(s[3]));
                s += 4;
                break;
            default: c = e; break; /* \" and \\ */
            }
        }
        if (n + 1 >= cap)
            return 0;
        out[n++] = c;
    }
    out[n] = '\0';
    return n;
}

bool adb__commitments_write(adb__buf *b, const adb__event *ev, adb__commit_src *src)
{
    entries es = { 0 };
    adb__hmac_key ek;
    const char *id = ev->event_id;
    bool ok = false;

    src->keyless = 0;
    src->recorded = 0;
    src->unrecorded = 0;
    src->keyless_field[0] = '\0';
    src->unrecorded_field[0] = '\0';
    if (src->event_key && !adb__hmac_key_init(&ek, src->event_key, ADB_COMMIT_KEY_BYTES))
        return false;
    /* the top-level members of details, from its canonical text */
    if (ev->details && ev->details_len >= 2) {
        const char *p = ev->details + 1, *end = ev->details + ev->details_len - 1;
        char name[FIELD_MAX];
        while (p < end && !es.oom) {
            const char *ks = p, *ke = adb__json_skip_string(p, end);
            if (!ke || ke >= end || *ke != ':')
                goto out; /* not canonical text: the caller's bug */
            size_t nlen = member_name(ks + 1, ke - 1, name, sizeof(name));
            const char *vs = ke + 1, *ve = adb__json_skip_value(vs, end);
            if (!nlen || !ve)
                goto out;
            commit_one(&es, src, &ek, id, name, nlen, vs, (size_t)(ve - vs));
            p = ve < end && *ve == ',' ? ve + 1 : ve;
        }
    }
    /* principal, target, outcome: their value as a JSON string */
    for (size_t i = 0; i < sizeof(adb__committed_fields) / sizeof(adb__committed_fields[0]); i++) {
        adb_event_field f = adb__committed_fields[i];
        const char *name = adb__event_fields[f].api_name;
        const char *val = ev->f[f];
        if (!val)
            continue;
        adb__buf js = { 0 };
        adb__buf_json_string(&js, val, strlen(val));
        if (js.oom) {
            adb__buf_free(&js);
            goto out;
        }
        commit_one(&es, src, &ek, id, name, strlen(name), js.p, js.len);
        adb__buf_free(&js);
    }
    /* erased fields: their commitments from the records */
    for (size_t i = 0; i < src->nerased && !es.oom; i++) {
        const adb__erased *x = &src->erased[i];
        entry *e;
        if (has_entry(&es, x->field))
            continue; /* the value is there: it was committed above */
        if ((e = add_entry(&es, x->field, strlen(x->field))) != NULL) {
            memcpy(e->hex, x->commitment, 65);
            src->recorded++;
        }
    }
    /* fields the erasure marked (null) must each have their record */
    for (size_t i = 0; src->field_keys && i < src->field_keys->count; i++) {
        const char *name = src->field_keys->keys[i];
        bool rec = false;
        if (src->field_keys->items[i]->type != ADB_JSON_NULL)
            continue;
        for (size_t j = 0; j < src->nerased && !rec; j++)
            rec = !strcmp(src->erased[j].field, name);
        if (!rec && src->unrecorded++ == 0)
            adb__fmt(src->unrecorded_field, sizeof(src->unrecorded_field), "%s", name);
    }
    if (es.oom)
        goto out;
    if (es.n > 1)
        qsort(es.e, es.n, sizeof(*es.e), cmp_entry);
    adb__buf_puts(b, "\"commitments\":{");
    for (size_t i = 0; i < es.n; i++) {
        if (i)
            adb__buf_put(b, ",", 1);
        adb__buf_json_string(b, es.e[i].name, es.e[i].len);
        adb__buf_put(b, ":\"", 2);
        adb__buf_puts(b, es.e[i].hex);
        adb__buf_put(b, "\"", 1);
    }
    adb__buf_put(b, "}", 1);
    ok = !b->oom;
out:
    if (src->event_key)
        OPENSSL_cleanse(&ek, sizeof(ek));
    for (size_t i = 0; i < es.n; i++)
        free(es.e[i].name);
    free(es.e);
    return ok;
}

/* ---- erasure records ---------------------------------------------------- */

bool adb__erasure_sign(const adb__hmac_key *sig_key, const adb__erasure_record *rec,
                       char out[65])
{
    /* canonical JSON, members in byte order of their names */
    bool residual = rec->original_content != NULL;
    const struct { const char *name, *value; } m[] = {
        { "commitment", rec->commitment },   { "erasedAt", rec->erased_at },
        { "eventId", rec->event_id },        { "field", rec->field },
        { "legalBasis", rec->legal_basis },  { "organizationId", rec->organization_id },
        { "originalContent", rec->original_content },
        { "originalHash", residual ? rec->original_hash : NULL },
        { "reason", rec->reason },           { "requestId", rec->request_id },
        { "type", residual ? "adb-erasure-residual-v1" : "adb-erasure-v1" },
    };
    adb__buf b = { 0 };
    unsigned char md[32];
    bool first = true, ok;

    adb__buf_put(&b, "{", 1);
    for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
        if (!m[i].value)
            continue;
        if (!first)
            adb__buf_put(&b, ",", 1);
        first = false;
        adb__buf_json_string(&b, m[i].name, strlen(m[i].name));
        adb__buf_put(&b, ":", 1);
        adb__buf_json_string(&b, m[i].value, strlen(m[i].value));
    }
    adb__buf_put(&b, "}", 1);
    ok = !b.oom && adb__hmac_sha256(sig_key, b.p, b.len, md);
    adb__buf_free(&b);
    if (ok)
        adb__hex(md, 32, out);
    else
        out[0] = '\0';
    return ok;
}
