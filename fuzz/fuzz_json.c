/*
 * fuzz_json.c - libFuzzer target for the JSON parser (src/event/json.c).
 * Whatever parses must write canonically, the canonical text must parse and
 * write to the same bytes, and the number normalizer must agree with the
 * parser and be idempotent. Any broken property aborts.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -Isrc \
 *       fuzz/fuzz_json.c src/event/json.c src/core/util.c -o /tmp/fuzz_json \
 *       $(pkg-config --libs openssl)
 *   /tmp/fuzz_json -max_total_time=120 /tmp/corpus fuzz/corpus/json
 */
#include "event/json.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Small limits, so that the fuzzer reaches every one of them. */
static const adb_json_limits limits = {
    .max_depth = 16,
    .max_string = 256,
    .max_items = 64,
    .max_number_len = 40,
    .max_nodes = 512,
};

#define FAIL(...)                                                                       \
    do {                                                                                \
        fprintf(stderr, "fuzz_json: " __VA_ARGS__);                                     \
        fputc('\n', stderr);                                                            \
        abort();                                                                        \
    } while (0)

/* Valid UTF-8 (no overlongs, surrogates or values above U+10FFFF), no NUL. */
static int utf8_ok(const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        unsigned long cp;
        size_t k;
        if (c == 0)
            return 0;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c < 0xe0) {
            k = 2;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c < 0xf0) {
            k = 3;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c < 0xf5) {
            k = 4;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (n - i < k)
            return 0;
        for (size_t j = 1; j < k; j++) {
            if (((unsigned char)s[i + j] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | ((unsigned char)s[i + j] & 0x3f);
        }
        if ((k == 3 && cp < 0x800) || (k == 4 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += k;
    }
    return 1;
}

/* The documented shape of a parsed tree. */
static void check_tree(const adb_json *v, size_t depth)
{
    char out[128];

    if ((v->type == ADB_JSON_ARRAY || v->type == ADB_JSON_OBJECT) && depth > limits.max_depth)
        FAIL("nesting deeper than max_depth");
    switch (v->type) {
    case ADB_JSON_NULL:
    case ADB_JSON_FALSE:
    case ADB_JSON_TRUE:
        return;
    case ADB_JSON_NUMBER:
        if (!v->str || strlen(v->str) != v->len || v->len > limits.max_number_len)
            FAIL("bad number node");
        if (adb__json_number_normalize(v->str, v->len, out, sizeof(out)) != v->len ||
            memcmp(out, v->str, v->len) != 0)
            FAIL("stored number \"%s\" is not normalized", v->str);
        return;
    case ADB_JSON_STRING:
        if (!v->str || v->str[v->len] != '\0' || v->len > limits.max_string ||
            !utf8_ok(v->str, v->len))
            FAIL("bad string node");
        return;
    case ADB_JSON_OBJECT:
        for (size_t i = 0; i < v->count; i++)
            if (!v->keys[i] || strlen(v->keys[i]) != v->key_lens[i] ||
                !utf8_ok(v->keys[i], v->key_lens[i]) ||
                adb__json_get(v, v->keys[i]) != v->items[i])
                FAIL("bad key %zu", i);
        /* fall through */
    case ADB_JSON_ARRAY:
        if (v->count > limits.max_items)
            FAIL("more members than max_items");
        for (size_t i = 0; i < v->count; i++)
            check_tree(v->items[i], depth + 1);
        return;
    default:
        FAIL("bad node type %d", (int)v->type);
    }
}

static void check_error(const adb_json_error *e, size_t size)
{
    size_t n = strnlen(e->message, sizeof(e->message));

    if (e->code == ADB_JSON_OK || e->code > ADB_JSON_ERR_NOMEM)
        FAIL("failure with code %d", (int)e->code);
    if (e->offset > size)
        FAIL("error offset %zu beyond the input (%zu)", e->offset, size);
    if (n == 0 || n == sizeof(e->message) || (e->message[0] >= 'A' && e->message[0] <= 'Z') ||
        e->message[n - 1] == '.')
        FAIL("bad message \"%.*s\"", (int)n, e->message);
}

/* Canonical text of the tree in doc, or abort. */
static char *write_doc(const adb_json_doc *doc, size_t *len)
{
    char *buf = NULL;
    size_t cap = 0;

    *len = 0;
    if (!adb__json_write_canonical(adb__json_root(doc), &buf, len, &cap))
        FAIL("write_canonical failed");
    if (buf[*len] != '\0' || strlen(buf) != *len)
        FAIL("canonical text not NUL-terminated or holding a NUL");
    return buf;
}

static void check_document(const char *text, size_t size)
{
    adb_json_error e;
    adb_json_doc *doc = adb__json_parse(text, size, &limits, &e);

    if (!doc) {
        check_error(&e, size);
        return;
    }
    if (e.code != ADB_JSON_OK)
        FAIL("success with an error code");
    check_tree(adb__json_root(doc), 1);

    size_t len1, len2;
    char *c1 = write_doc(doc, &len1);
    adb__json_free(doc);

    doc = adb__json_parse(c1, len1, &limits, &e);
    if (!doc)
        FAIL("canonical text rejected: %s at %zu: %s", c1, e.offset, e.message);
    char *c2 = write_doc(doc, &len2);
    if (len1 != len2 || memcmp(c1, c2, len1) != 0)
        FAIL("canonical text not a fixed point:\n%s\n%s", c1, c2);
    adb__json_free(doc);
    free(c1);
    free(c2);
}

static void check_sequence(const char *text, size_t size)
{
    adb_json_error e;
    size_t pos = 0, n = 0;
    adb_json_doc *doc;

    while ((doc = adb__json_parse_next(text, size, &pos, &limits, &e)) != NULL) {
        check_tree(adb__json_root(doc), 1);
        adb__json_free(doc);
        if (pos > size || ++n > size)
            FAIL("parse_next does not advance");
    }
    if (e.code != ADB_JSON_OK) {
        check_error(&e, size);
        if (pos > size)
            FAIL("parse_next moved past the end");
    } else if (pos != size) {
        FAIL("parse_next stopped at %zu of %zu", pos, size);
    }
}

static void check_number(const char *text, size_t size)
{
    char out[128], again[128];
    size_t n = adb__json_number_normalize(text, size, out, sizeof(out));

    if (n == 0) {
        if (out[0] != '\0')
            FAIL("refused number left output");
        return;
    }
    if (strlen(out) != n)
        FAIL("normalized length wrong");
    if (adb__json_number_normalize(out, n, again, sizeof(again)) != n || memcmp(out, again, n) != 0)
        FAIL("not idempotent: \"%.*s\" -> \"%s\" -> \"%s\"", (int)size, text, out, again);
    /* the parser stores exactly this for the same literal */
    adb_json_error e;
    adb_json_doc *doc = adb__json_parse(text, size, &limits, &e);
    if (n <= limits.max_number_len) {
        const adb_json *r = adb__json_root(doc);
        if (!r || r->type != ADB_JSON_NUMBER || r->len != n || memcmp(r->str, out, n) != 0)
            FAIL("parser and normalizer disagree on \"%.*s\"", (int)size, text);
    } else if (doc || e.code != ADB_JSON_ERR_NUMBER) {
        FAIL("number over the bound not refused");
    }
    adb__json_free(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* an exact-size copy: a read past the end is an ASan report */
    char *text = malloc(size ? size : 1);

    if (!text)
        return 0;
    if (size)
        memcpy(text, data, size);
    check_document(text, size);
    check_sequence(text, size);
    check_number(text, size);
    free(text);
    return 0;
}
