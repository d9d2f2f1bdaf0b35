/*
 * test_json.c - the strict JSON parser, the numeric normalizer and the
 * canonical writer (src/event/json.c), then property tests against the
 * runner's PostgreSQL: whatever jsonb gives back for a document must parse to
 * the same canonical text as the document itself, and numbers must normalize
 * to what numeric prints. Set ADB_TEST_SEED to repeat a run.
 */
#include "t.h"
#include "event/json.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <time.h>

/* ---- helpers ---------------------------------------------------------------- */

typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf;

static void sb_add(sbuf *b, const void *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            printf("not ok - out of memory in the test\n");
            exit(1);
        }
        b->p = p;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_adds(sbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

static void sb_addc(sbuf *b, char c)
{
    sb_add(b, &c, 1);
}

/* Parses a copy of s[0..n) in a heap block of exactly n bytes, so that
 * AddressSanitizer reports any read past the end; the copy is freed before
 * returning, which also proves the document does not point into its input. */
static adb_json_doc *parse_n(const char *s, size_t n, const adb_json_limits *lim,
                             adb_json_error *e)
{
    char *copy = malloc(n ? n : 1);
    adb_json_doc *d;

    if (!copy)
        exit(1);
    if (n)
        memcpy(copy, s, n);
    d = adb__json_parse(copy, n, lim, e);
    free(copy);
    return d;
}

/* Canonical text of v (malloc()ed, NUL-terminated). */
static char *canon(const adb_json *v)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;

    if (!adb__json_write_canonical(v, &buf, &len, &cap)) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* Canonical text of the JSON in s[0..n), or NULL with *e set. */
static char *canon_text(const char *s, size_t n, adb_json_error *e)
{
    adb_json_doc *d = parse_n(s, n, NULL, e);
    char *c = d ? canon(adb__json_root(d)) : NULL;

    adb__json_free(d);
    return c;
}

/* Prints s[0..n) on a diagnostic line, bytes outside printable ASCII as \xNN. */
static void show(const char *label, const char *s, size_t n)
{
    if (!s)
        n = 0;
    printf("#     %s (%zu bytes): ", label, n);
    for (size_t i = 0; s && i < n && i < 600; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\\')
            printf("\\\\");
        else if (c >= 0x20 && c < 0x7f)
            putchar(c);
        else
            printf("\\x%02x", c);
    }
    printf("%s\n", n > 600 ? "..." : "");
}

static const char *code_name(adb_json_error_code c)
{
    static const char *const names[] = { "OK", "SYNTAX", "UTF8", "ESCAPE", "NUL",
                                         "DUPLICATE_KEY", "DEPTH", "TOO_LONG", "TOO_MANY",
                                         "NUMBER", "NOMEM" };
    return (size_t)c < sizeof(names) / sizeof(names[0]) ? names[c] : "?";
}

/* The message rules of the style guide: present, lower case, no period. */
static bool message_ok(const char *m)
{
    size_t n = strlen(m);
    return n > 0 && !(m[0] >= 'A' && m[0] <= 'Z') && m[n - 1] != '.';
}

#define S(lit) lit, sizeof(lit) - 1

/* ---- accepted documents -------------------------------------------------------- */

static void accepts_valid_documents(void)
{
    static const struct { const char *in; size_t len; const char *out; } cases[] = {
        { S("null"), "null" },
        { S(" true "), "true" },
        { S("\t\r\n false\n"), "false" },
        { S("0"), "0" },
        { S("-0"), "0" },
        { S("[]"), "[]" },
        { S("{}"), "{}" },
        { S("[ ]"), "[]" },
        { S("{ \n}"), "{}" },
        { S("[1, 2 ,3]"), "[1,2,3]" },
        { S("[[[]],[{}]]"), "[[[]],[{}]]" },
        { S("\"\""), "\"\"" },
        { S("{\"b\":1,\"a\":2}"), "{\"a\":2,\"b\":1}" },
        { S("{\"ab\":1,\"a\":2,\"b\":3,\"\":4}"), "{\"\":4,\"a\":2,\"ab\":1,\"b\":3}" },
        { S("{\"\xc3\xa9\":1,\"z\":2,\"Z\":3}"), "{\"Z\":3,\"z\":2,\"\xc3\xa9\":1}" },
        { S("{\"a\":{\"d\":[3,{\"f\":null,\"e\":true}],\"c\":\"x\"}}"),
          "{\"a\":{\"c\":\"x\",\"d\":[3,{\"e\":true,\"f\":null}]}}" },
        { S("\"\\u00e9\\u00E9\""), "\"\xc3\xa9\xc3\xa9\"" },
        { S("\"\\ud83d\\ude00\\uD83D\\uDE00\""), "\"\xf0\x9f\x98\x80\xf0\x9f\x98\x80\"" },
        { S("\"\\udbff\\udfff\""), "\"\xf4\x8f\xbf\xbf\"" },
        { S("\"\\/\""), "\"/\"" },
        { S("\"\\b\\f\\n\\r\\t\\\"\\\\\""), "\"\\b\\f\\n\\r\\t\\\"\\\\\"" },
        { S("\"\\u001F\\u0001\\u007f\""), "\"\\u001f\\u0001\x7f\"" },
        { S("\"\\u2028\\u2029\""), "\"\xe2\x80\xa8\xe2\x80\xa9\"" },
        { S("\"\xf4\x8f\xbf\xbf \xef\xbf\xbf \xed\x9f\xbf \xee\x80\x80 \xc2\x80 \xdf\xbf\""),
          "\"\xf4\x8f\xbf\xbf \xef\xbf\xbf \xed\x9f\xbf \xee\x80\x80 \xc2\x80 \xdf\xbf\"" },
        { S("\"a\x7f/b\""), "\"a\x7f/b\"" },
        { S("[1E+3,1.50,1.5e1,1.50e1,1e-3,-0.0,0.000e5,123e-2]"),
          "[1000,1.50,15,15.0,0.001,0.0,0,1.23]" },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        adb_json_error e;
        char *c = canon_text(cases[i].in, cases[i].len, &e);
        CHECK_MSG(c != NULL, "case %zu rejected: %s at %zu: %s", i, code_name(e.code), e.offset,
                  e.message);
        if (c)
            CHECK_MSG(strcmp(c, cases[i].out) == 0, "case %zu: %s != %s", i, c, cases[i].out);
        free(c);
    }
}

static void tree_is_as_documented(void)
{
    const char text[] = " {\"name\":\"x\\u00e9\",\"n\":[1.50,true,false,null],\"o\":{}} ";
    adb_json_error e;
    adb_json_doc *d = parse_n(text, sizeof(text) - 1, NULL, &e);
    const adb_json *r, *v;

    REQUIRE(d);
    CHECK(e.code == ADB_JSON_OK && e.message[0] == '\0');
    r = adb__json_root(d);
    REQUIRE(r && r->type == ADB_JSON_OBJECT && r->count == 3);
    CHECK_STR(r->keys[0], "name"); /* input order */
    CHECK_STR(r->keys[1], "n");
    CHECK(r->key_lens[0] == 4 && r->key_lens[2] == 1);
    v = adb__json_get(r, "name");
    REQUIRE(v && v->type == ADB_JSON_STRING);
    CHECK(v->len == 3 && memcmp(v->str, "x\xc3\xa9", 4) == 0); /* NUL-terminated */
    v = adb__json_get(r, "n");
    REQUIRE(v && v->type == ADB_JSON_ARRAY && v->count == 4);
    CHECK(v->items[0]->type == ADB_JSON_NUMBER && v->items[0]->len == 4);
    CHECK_STR(v->items[0]->str, "1.50");
    CHECK(v->items[1]->type == ADB_JSON_TRUE && v->items[2]->type == ADB_JSON_FALSE &&
          v->items[3]->type == ADB_JSON_NULL);
    v = adb__json_get(r, "o");
    CHECK(v && v->type == ADB_JSON_OBJECT && v->count == 0);
    CHECK(adb__json_get(r, "missing") == NULL);
    CHECK(adb__json_get(r, "nam") == NULL);
    CHECK(adb__json_get(adb__json_get(r, "n"), "x") == NULL);
    CHECK(adb__json_get(NULL, "n") == NULL);
    adb__json_free(d);
    adb__json_free(NULL);
    CHECK(adb__json_root(NULL) == NULL);
}

/* ---- rejected documents -------------------------------------------------------- */

typedef struct reject_case {
    const char *in;
    size_t len;
    adb_json_error_code code;
    size_t off;
} reject_case;

static void check_rejects(const reject_case *cases, size_t n, const adb_json_limits *lim)
{
    for (size_t i = 0; i < n; i++) {
        adb_json_error e;
        adb_json_doc *d = parse_n(cases[i].in, cases[i].len, lim, &e);
        if (d) {
            CHECK_MSG(false, "case %zu accepted", i);
            adb__json_free(d);
            continue;
        }
        if (e.code != cases[i].code || e.offset != cases[i].off) {
            CHECK_MSG(false, "case %zu: got %s at %zu (%s), want %s at %zu", i, code_name(e.code),
                      e.offset, e.message, code_name(cases[i].code), cases[i].off);
            show("input", cases[i].in, cases[i].len);
        }
        CHECK_MSG(message_ok(e.message), "case %zu: message \"%s\"", i, e.message);
    }
}

static void rejects_malformed_documents(void)
{
    static const reject_case cases[] = {
        /* syntax */
        { S(""), ADB_JSON_ERR_SYNTAX, 0 },
        { S("   "), ADB_JSON_ERR_SYNTAX, 3 },
        { S("[1,]"), ADB_JSON_ERR_SYNTAX, 3 },
        { S("{\"a\":1,}"), ADB_JSON_ERR_SYNTAX, 7 },
        { S("[1,,2]"), ADB_JSON_ERR_SYNTAX, 3 },
        { S("[,1]"), ADB_JSON_ERR_SYNTAX, 1 },
        { S("{,}"), ADB_JSON_ERR_SYNTAX, 1 },
        { S("[1 2]"), ADB_JSON_ERR_SYNTAX, 3 },
        { S("{\"a\":1 \"b\":2}"), ADB_JSON_ERR_SYNTAX, 7 },
        { S("{\"a\" 1}"), ADB_JSON_ERR_SYNTAX, 5 },
        { S("{\"a\":}"), ADB_JSON_ERR_SYNTAX, 5 },
        { S("{'a':1}"), ADB_JSON_ERR_SYNTAX, 1 },
        { S("{a:1}"), ADB_JSON_ERR_SYNTAX, 1 },
        { S("'a'"), ADB_JSON_ERR_SYNTAX, 0 },
        { S("[1]x"), ADB_JSON_ERR_SYNTAX, 3 },
        { S("1 2"), ADB_JSON_ERR_SYNTAX, 2 },
        { S("[1}"), ADB_JSON_ERR_SYNTAX, 2 },
        { S("{\"a\":1]"), ADB_JSON_ERR_SYNTAX, 6 },
        { S("["), ADB_JSON_ERR_SYNTAX, 1 },
        { S("{"), ADB_JSON_ERR_SYNTAX, 1 },
        { S("{\"a\""), ADB_JSON_ERR_SYNTAX, 4 },
        { S("{\"a\":"), ADB_JSON_ERR_SYNTAX, 5 },
        { S("[1,"), ADB_JSON_ERR_SYNTAX, 3 },
        { S("\"abc"), ADB_JSON_ERR_SYNTAX, 4 },
        { S("\"\\"), ADB_JSON_ERR_SYNTAX, 2 },
        { S("\"a\x01\""), ADB_JSON_ERR_SYNTAX, 2 },
        { S("\"a\tb\""), ADB_JSON_ERR_SYNTAX, 2 },
        { S("\"a\nb\""), ADB_JSON_ERR_SYNTAX, 2 },
        { S("\"\x1f\""), ADB_JSON_ERR_SYNTAX, 1 },
        { "\"a\0b\"", 5, ADB_JSON_ERR_SYNTAX, 2 },
        { "\0", 1, ADB_JSON_ERR_SYNTAX, 0 },
        { S("1\0"), ADB_JSON_ERR_SYNTAX, 1 },
        /* numbers */
        { S("01"), ADB_JSON_ERR_SYNTAX, 0 },
        { S("-01"), ADB_JSON_ERR_SYNTAX, 0 },
        { S("[00]"), ADB_JSON_ERR_SYNTAX, 1 },
        { S("+1"), ADB_JSON_ERR_SYNTAX, 0 },
        { S(".5"), ADB_JSON_ERR_SYNTAX, 0 },
        { S("1."), ADB_JSON_ERR_SYNTAX, 0 },
        { S("[1.]"), ADB_JSON_ERR_SYNTAX, 1 },
        { S("1.e5"), ADB_JSON_ERR_SYNTAX, 0 },
        { S("1e"), ADB_JSON_ERR_SYNTAX, 0 },
        { S("1e+"), ADB_JSON_ERR_SYNTAX, 0 },
        { S("1E-x"), ADB_JSON_ERR_SYNTAX, 0 },
        { S("-"), ADB_JSON_ERR_SYNTAX, 0 },
        { S("- 1"), ADB_JSON_ERR_SYNTAX, 0 },
        { S("--1"), ADB_JSON_ERR_SYNTAX, 0 },
        { S("1-2"), ADB_JSON_ERR_SYNTAX, 0 },
        { S("0x10"), ADB_JSON_ERR_SYNTAX, 0 },
        { S("1.5.2"), ADB_JSON_ERR_SYNTAX, 0 },
        { S("NaN"), ADB_JSON_ERR_SYNTAX, 0 },
        { S("nan"), ADB_JSON_ERR_SYNTAX, 0 },
        { S("Infinity"), ADB_JSON_ERR_SYNTAX, 0 },
        { S("[-Infinity]"), ADB_JSON_ERR_SYNTAX, 1 },
        /* literals, comments, whitespace, BOM, bytes outside strings */
        { S("tru"), ADB_JSON_ERR_SYNTAX, 0 },
        { S("truex"), ADB_JSON_ERR_SYNTAX, 0 },
        { S("[nul]"), ADB_JSON_ERR_SYNTAX, 1 },
        { S("True"), ADB_JSON_ERR_SYNTAX, 0 },
        { S("None"), ADB_JSON_ERR_SYNTAX, 0 },
        { S("// c\n1"), ADB_JSON_ERR_SYNTAX, 0 },
        { S("1 /* c */"), ADB_JSON_ERR_SYNTAX, 2 },
        { S("# c\n1"), ADB_JSON_ERR_SYNTAX, 0 },
        { S("\f1"), ADB_JSON_ERR_SYNTAX, 0 },
        { S("1\v"), ADB_JSON_ERR_SYNTAX, 1 },
        { S("\xc2\xa0" "1"), ADB_JSON_ERR_SYNTAX, 0 },
        { S("\xef\xbb\xbf" "1"), ADB_JSON_ERR_SYNTAX, 0 },
        { S("\xc3\xa9"), ADB_JSON_ERR_SYNTAX, 0 },
        /* escapes */
        { S("\"\\x41\""), ADB_JSON_ERR_ESCAPE, 1 },
        { S("\"\\'\""), ADB_JSON_ERR_ESCAPE, 1 },
        { S("\"\\U0041\""), ADB_JSON_ERR_ESCAPE, 1 },
        { S("\"\\u12\""), ADB_JSON_ERR_ESCAPE, 1 },
        { S("\"\\u12G4\""), ADB_JSON_ERR_ESCAPE, 1 },
        { S("\"\\u00e"), ADB_JSON_ERR_ESCAPE, 1 },
        { S("\"ab\\\x01\""), ADB_JSON_ERR_ESCAPE, 3 },
        { S("\"\\ud800\""), ADB_JSON_ERR_ESCAPE, 1 },
        { S("\"\\ud800"), ADB_JSON_ERR_ESCAPE, 1 },
        { S("\"ab\\udc00\""), ADB_JSON_ERR_ESCAPE, 3 },
        { S("\"\\ud800\\u0041\""), ADB_JSON_ERR_ESCAPE, 1 },
        { S("\"\\ud800\\ud800\""), ADB_JSON_ERR_ESCAPE, 1 },
        { S("\"\\udc00\\ud800\""), ADB_JSON_ERR_ESCAPE, 1 },
        { S("\"\\ud800x\""), ADB_JSON_ERR_ESCAPE, 1 },
        { S("\"\\ud800\\n\""), ADB_JSON_ERR_ESCAPE, 1 },
        { S("\"\\ud800\\udc0\""), ADB_JSON_ERR_ESCAPE, 1 },
        { S("\"\\ud83d\\ude00\\ude00\""), ADB_JSON_ERR_ESCAPE, 13 },
        /* \u0000 */
        { S("\"\\u0000\""), ADB_JSON_ERR_NUL, 1 },
        { S("{\"a\\u0000\":1}"), ADB_JSON_ERR_NUL, 3 },
        { S("[\"x\",\"\\u0000\"]"), ADB_JSON_ERR_NUL, 6 },
        /* UTF-8 inside strings */
        { S("\"\x80\""), ADB_JSON_ERR_UTF8, 1 },
        { S("\"ok\xbf\""), ADB_JSON_ERR_UTF8, 3 },
        { S("\"\xc0\xaf\""), ADB_JSON_ERR_UTF8, 1 },
        { S("\"\xc1\xbf\""), ADB_JSON_ERR_UTF8, 1 },
        { S("\"\xe0\x80\xaf\""), ADB_JSON_ERR_UTF8, 1 },
        { S("\"\xe0\x9f\xbf\""), ADB_JSON_ERR_UTF8, 1 },
        { S("\"\xf0\x80\x80\xaf\""), ADB_JSON_ERR_UTF8, 1 },
        { S("\"\xf0\x8f\xbf\xbf\""), ADB_JSON_ERR_UTF8, 1 },
        { S("\"\xed\xa0\x80\""), ADB_JSON_ERR_UTF8, 1 },
        { S("\"\xed\xbf\xbf\""), ADB_JSON_ERR_UTF8, 1 },
        { S("\"\xf4\x90\x80\x80\""), ADB_JSON_ERR_UTF8, 1 },
        { S("\"\xf5\x80\x80\x80\""), ADB_JSON_ERR_UTF8, 1 },
        { S("\"\xf8\x88\x80\x80\x80\""), ADB_JSON_ERR_UTF8, 1 },
        { S("\"\xfe\""), ADB_JSON_ERR_UTF8, 1 },
        { S("\"\xff\""), ADB_JSON_ERR_UTF8, 1 },
        { S("\"\xe2\x82\""), ADB_JSON_ERR_UTF8, 1 },
        { S("\"\xe2\x82"), ADB_JSON_ERR_UTF8, 1 },
        { S("\"\xc3"), ADB_JSON_ERR_UTF8, 1 },
        { S("\"\xf0\x9f\x98\""), ADB_JSON_ERR_UTF8, 1 },
        { S("\"\xf0\x9f\x98"), ADB_JSON_ERR_UTF8, 1 },
        { S("\"\xc3\xa9\xc3" "a\""), ADB_JSON_ERR_UTF8, 3 },
        { S("{\"k\xff\":1}"), ADB_JSON_ERR_UTF8, 3 },
        /* duplicate keys, also when spelled differently */
        { S("{\"a\":1,\"a\":2}"), ADB_JSON_ERR_DUPLICATE_KEY, 7 },
        { S("{\"a\":1,\"\\u0061\":2}"), ADB_JSON_ERR_DUPLICATE_KEY, 7 },
        { S("{\"\xc3\xa9\":1, \"\\u00e9\":2}"), ADB_JSON_ERR_DUPLICATE_KEY, 9 },
        { S("{\"x\":{\"a\":1,\"b\":2,\"a\":3}}"), ADB_JSON_ERR_DUPLICATE_KEY, 18 },
        { S("{\"a\":1,\"b\":2,\"b\":3,\"a\":4}"), ADB_JSON_ERR_DUPLICATE_KEY, 13 },
        { S("{\"\":1,\"\":2}"), ADB_JSON_ERR_DUPLICATE_KEY, 6 },
        /* a syntax error later in the same object comes first */
        { S("{\"a\":1,\"a\":2,}"), ADB_JSON_ERR_SYNTAX, 13 },
        /* the default number bound (100 characters) and numeric's range */
        { S("1E400"), ADB_JSON_ERR_NUMBER, 0 },
        { S("[1e100]"), ADB_JSON_ERR_NUMBER, 1 },
        { S("[-1e99]"), ADB_JSON_ERR_NUMBER, 1 },
        { S("[1e-99]"), ADB_JSON_ERR_NUMBER, 1 },
        { S("[0.0e-99]"), ADB_JSON_ERR_NUMBER, 1 },
        { S("[0e1073741823]"), ADB_JSON_ERR_NUMBER, 1 },
        { S("[0e-99999999999999999999999]"), ADB_JSON_ERR_NUMBER, 1 },
    };

    check_rejects(cases, sizeof(cases) / sizeof(cases[0]), NULL);
}

static void error_messages(void)
{
    adb_json_error e;
    adb_json_doc *d;
    sbuf b = { 0 };

    d = parse_n(S("{\"action\":1, \"action\":2}"), NULL, &e);
    CHECK(!d && e.code == ADB_JSON_ERR_DUPLICATE_KEY && e.offset == 13);
    CHECK_STR(e.message, "duplicate key \"action\" in object");

    d = parse_n(S("{\"a\\\"\\n\\u0001\":1,\"a\\\"\\n\\u0001\":1}"), NULL, &e);
    CHECK(!d && e.code == ADB_JSON_ERR_DUPLICATE_KEY);
    CHECK_STR(e.message, "duplicate key \"a\\\"\\n\\u0001\" in object");

    /* a long key is cut (at a character boundary) and marked with "..." */
    for (int i = 0; i < 2; i++) {
        sb_adds(&b, i == 0 ? "{\"" : ",\"");
        for (int j = 0; j < 300; j++)
            sb_adds(&b, "\xc3\xa9");
        sb_adds(&b, "\":1");
    }
    sb_adds(&b, "}");
    d = parse_n(b.p, b.len, NULL, &e);
    CHECK(!d && e.code == ADB_JSON_ERR_DUPLICATE_KEY && e.offset == 606);
    b.len = 0;
    sb_adds(&b, "duplicate key \"");
    for (int j = 0; j < 48; j++)
        sb_adds(&b, "\xc3\xa9");
    sb_adds(&b, "...\" in object");
    CHECK_STR(e.message, b.p);
    free(b.p);

    memset(&b, 0, sizeof(b));
    for (int i = 0; i < 65; i++)
        sb_addc(&b, '[');
    d = parse_n(b.p, b.len, NULL, &e);
    CHECK(!d && e.code == ADB_JSON_ERR_DEPTH && e.offset == 64);
    CHECK_STR(e.message, "nesting deeper than 64 levels");
    free(b.p);

    d = parse_n(S("[1, 1E400]"), NULL, &e);
    CHECK(!d && e.code == ADB_JSON_ERR_NUMBER && e.offset == 4);
    CHECK_STR(e.message, "number too long once written out in full (more than 100 characters)");
    d = parse_n(S("1e-1073741823"), NULL, &e);
    CHECK(!d && e.code == ADB_JSON_ERR_NUMBER);
    CHECK_STR(e.message, "number too long once written out in full (more than 100 characters)");
    d = parse_n(S("0e1073741823"), NULL, &e);
    CHECK(!d && e.code == ADB_JSON_ERR_NUMBER);
    CHECK_STR(e.message, "number out of the range of postgresql numeric");
}

static void limits_each_with_its_code(void)
{
    adb_json_limits lim;
    adb_json_error e;
    adb_json_doc *d;
    sbuf b = { 0 };

    memset(&lim, 0, sizeof(lim));
    lim.max_depth = 3;
    {
        static const reject_case cases[] = {
            { S("[[[[]]]]"), ADB_JSON_ERR_DEPTH, 3 },
            { S("{\"a\":{\"b\":[{\"c\":1}]}}"), ADB_JSON_ERR_DEPTH, 11 },
            { S("[1,[2,[3,{}]]]"), ADB_JSON_ERR_DEPTH, 9 },
        };
        check_rejects(cases, 3, &lim);
        d = parse_n(S("[[[1,2],[]],{\"a\":{}}]"), &lim, &e);
        CHECK(d != NULL);
        adb__json_free(d);
    }

    memset(&lim, 0, sizeof(lim));
    lim.max_string = 3;
    {
        static const reject_case cases[] = {
            { S("\"abcd\""), ADB_JSON_ERR_TOO_LONG, 0 },
            { S("[\"abc\", \"abcd\"]"), ADB_JSON_ERR_TOO_LONG, 8 },
            { S("{\"abcd\":1}"), ADB_JSON_ERR_TOO_LONG, 1 },
            { S("\"\\u00e9\\u00e9\""), ADB_JSON_ERR_TOO_LONG, 0 },
            { S("\"\xf0\x9f\x98\x80\""), ADB_JSON_ERR_TOO_LONG, 0 },
        };
        check_rejects(cases, 5, &lim);
        d = parse_n(S("{\"abc\":[\"\\u00e9\", \"\\n\\t\\/\", \"\xe2\x82\xac\"]}"), &lim, &e);
        CHECK_MSG(d != NULL, "%s", e.message);
        adb__json_free(d);
    }

    memset(&lim, 0, sizeof(lim));
    lim.max_items = 2;
    {
        static const reject_case cases[] = {
            { S("[1,2,3]"), ADB_JSON_ERR_TOO_MANY, 5 },
            { S("{\"a\":1, \"b\":2, \"c\":3}"), ADB_JSON_ERR_TOO_MANY, 15 },
            { S("[[1,2],[1,2,[]]]"), ADB_JSON_ERR_TOO_MANY, 12 },
        };
        check_rejects(cases, 3, &lim);
        d = parse_n(S("[[1,2],{\"a\":[],\"b\":{}}]"), &lim, &e);
        CHECK(d != NULL);
        adb__json_free(d);
    }

    memset(&lim, 0, sizeof(lim));
    lim.max_nodes = 4;
    {
        static const reject_case cases[] = {
            { S("[1,2,3,4]"), ADB_JSON_ERR_TOO_MANY, 7 },
            { S("{\"a\":[{}],\"b\":[1]}"), ADB_JSON_ERR_TOO_MANY, 15 },
        };
        check_rejects(cases, 2, &lim);
        d = parse_n(S("[1,[2],3]"), &lim, &e);
        CHECK(d == NULL && e.code == ADB_JSON_ERR_TOO_MANY);
        CHECK_STR(e.message, "document has more than 4 values");
        d = parse_n(S("[1,[2]]"), &lim, &e);
        CHECK(d != NULL);
        adb__json_free(d);
    }

    memset(&lim, 0, sizeof(lim));
    lim.max_number_len = 5;
    {
        static const reject_case cases[] = {
            { S("123456"), ADB_JSON_ERR_NUMBER, 0 },
            { S("[1e5]"), ADB_JSON_ERR_NUMBER, 1 },
            { S("[0.0001]"), ADB_JSON_ERR_NUMBER, 1 },
            { S("[1e-4]"), ADB_JSON_ERR_NUMBER, 1 },
            { S("[-1e4]"), ADB_JSON_ERR_NUMBER, 1 },
        };
        check_rejects(cases, 5, &lim);
        d = parse_n(S("[12345, -1234, 0.001, 1e4, 12345e-0, -0.00, 0.00000e4, 100e-2]"), &lim, &e);
        CHECK_MSG(d != NULL, "%s", e.message);
        adb__json_free(d);
    }

    /* numeric's own range, reachable only with a bound raised above it */
    memset(&lim, 0, sizeof(lim));
    lim.max_number_len = 200000;
    d = parse_n(S("[1e131071, 0e-16383, -0.5e131072, 1e-16383]"), &lim, &e);
    CHECK_MSG(d != NULL, "%s", e.message);
    adb__json_free(d);
    {
        static const reject_case cases[] = {
            { S("[1e131072]"), ADB_JSON_ERR_NUMBER, 1 },
            { S("[0e-16384]"), ADB_JSON_ERR_NUMBER, 1 },
            { S("[1e-16384]"), ADB_JSON_ERR_NUMBER, 1 },
            { S("[5e1073741823]"), ADB_JSON_ERR_NUMBER, 1 },
        };
        check_rejects(cases, 4, &lim);
    }

    /* the defaults: 64 levels, 100000 members */
    for (int i = 0; i < 64; i++)
        sb_addc(&b, '[');
    for (int i = 0; i < 64; i++)
        sb_addc(&b, ']');
    d = parse_n(b.p, b.len, NULL, &e);
    CHECK(d != NULL);
    adb__json_free(d);
    b.len = 0;
    sb_addc(&b, '[');
    for (int i = 0; i <= 100000; i++)
        sb_adds(&b, i ? ",0" : "0");
    sb_addc(&b, ']');
    d = parse_n(b.p, b.len, NULL, &e);
    CHECK(d == NULL && e.code == ADB_JSON_ERR_TOO_MANY && e.offset == b.len - 2);
    CHECK_STR(e.message, "array has more than 100000 members");
    b.p[b.len - 3] = ']';
    d = parse_n(b.p, b.len - 2, NULL, &e);
    CHECK(d && adb__json_root(d)->count == 100000);
    adb__json_free(d);
    free(b.p);
}

/* Duplicates among many members (the sorted path), and deep nesting with a
 * raised limit (no recursion in the parser or the writer). */
static void large_objects_and_deep_nesting(void)
{
    adb_json_error e;
    adb_json_doc *d;
    sbuf b = { 0 };
    char key[32];
    size_t want_off = 0;

    sb_addc(&b, '{');
    for (int i = 0; i < 5000; i++) {
        int k = i;
        if (i == 3000)
            k = 2500; /* the first repetition in input order */
        if (i == 4000)
            k = 10;
        if (i == 3000)
            want_off = b.len + (i ? 1 : 0);
        snprintf(key, sizeof(key), "%s\"k%d\":%d", i ? "," : "", k, i);
        sb_adds(&b, key);
    }
    sb_addc(&b, '}');
    d = parse_n(b.p, b.len, NULL, &e);
    CHECK(!d && e.code == ADB_JSON_ERR_DUPLICATE_KEY && e.offset == want_off);
    CHECK_STR(e.message, "duplicate key \"k2500\" in object");

    /* without the repetitions: parses, and is written with sorted keys */
    b.len = 0;
    sb_addc(&b, '{');
    for (int i = 4999; i >= 0; i--) {
        snprintf(key, sizeof(key), "%s\"k%04d\":%d", i != 4999 ? "," : "", i, i);
        sb_adds(&b, key);
    }
    sb_addc(&b, '}');
    d = parse_n(b.p, b.len, NULL, &e);
    REQUIRE(d);
    char *c = canon(adb__json_root(d));
    REQUIRE(c);
    CHECK(strncmp(c, "{\"k0000\":0,\"k0001\":1,\"k0002\":2,", 31) == 0);
    CHECK(strstr(c, "\"k4998\":4998,\"k4999\":4999}") != NULL);
    CHECK(adb__json_get(adb__json_root(d), "k1234") &&
          strcmp(adb__json_get(adb__json_root(d), "k1234")->str, "1234") == 0);
    free(c);
    adb__json_free(d);

    /* strings larger than an arena chunk get chunks of their own */
    b.len = 0;
    sb_adds(&b, "[\"");
    for (int i = 0; i < 300000; i++)
        sb_adds(&b, i % 1000 ? "x" : "\\n");
    sb_adds(&b, "\", 1, \"");
    for (int i = 0; i < 500000; i++)
        sb_adds(&b, "\xc3\xa9");
    sb_adds(&b, "\"]");
    d = parse_n(b.p, b.len, NULL, &e);
    REQUIRE(d);
    const adb_json *r = adb__json_root(d);
    CHECK(r->count == 3 && r->items[0]->len == 300000 && r->items[2]->len == 1000000);
    CHECK(r->items[0]->str[0] == '\n' && r->items[0]->str[1] == 'x' && r->items[0]->str[300000] == 0);
    c = canon(r);
    CHECK(c && strlen(c) == b.len - 2); /* the same text without the two spaces */
    free(c);
    adb__json_free(d);

    /* 100000 levels */
    adb_json_limits lim = { .max_depth = 100000 };
    b.len = 0;
    for (int i = 0; i < 100000; i++)
        sb_adds(&b, i % 2 ? "{\"k\":" : "[");
    sb_adds(&b, "0");
    for (int i = 99999; i >= 0; i--)
        sb_adds(&b, i % 2 ? "}" : "]");
    d = parse_n(b.p, b.len, &lim, &e);
    CHECK_MSG(d != NULL, "%s", e.message);
    c = d ? canon(adb__json_root(d)) : NULL;
    CHECK(c && strlen(c) == b.len && memcmp(c, b.p, b.len) == 0);
    free(c);
    adb__json_free(d);
    b.p[0] = '{'; /* an error deep down frees everything (ASan checks the leaks) */
    d = parse_n(b.p, b.len, &lim, &e);
    CHECK(!d && e.code == ADB_JSON_ERR_SYNTAX && e.offset == 1);
    b.p[0] = '[';
    b.p[b.len - 1] = '}';
    d = parse_n(b.p, b.len, &lim, &e);
    CHECK(!d && e.code == ADB_JSON_ERR_SYNTAX && e.offset == b.len - 1);
    free(b.p);
}

/* ---- numbers ------------------------------------------------------------------- */

static const struct { const char *in, *out; } number_cases[] = {
    { "1E+3", "1000" },       { "1.50", "1.50" },        { "1.5e1", "15" },
    { "1.50e1", "15.0" },     { "1e-3", "0.001" },       { "-0", "0" },
    { "-0.0", "0.0" },        { "0.000e5", "0" },        { "123e-2", "1.23" },
    { "0", "0" },             { "0e-3", "0.000" },       { "-1e-2", "-0.01" },
    { "1e0005", "100000" },   { "0.0e-2", "0.000" },     { "0.0E-0", "0.0" },
    { "-0e1", "0" },          { "-0e-1", "0.0" },        { "100", "100" },
    { "-100.00", "-100.00" }, { "12.34e1", "123.4" },    { "12.34e+2", "1234" },
    { "12.34e3", "12340" },   { "0.001e3", "1" },        { "0.0010e3", "1.0" },
    { "1e-0", "1" },          { "1E+0", "1" },           { "-123.456e-5", "-0.00123456" },
    { "10e-1", "1.0" },       { "100e-1", "10.0" },      { "0.5", "0.5" },
    { "-0.5e-1", "-0.05" },   { "0.000", "0.000" },      { "-0.000001", "-0.000001" },
    { "9.999e2", "999.9" },   { "1.000e2", "100.0" },    { "1.000e3", "1000" },
    { "5e-1", "0.5" },        { "-5E-0001", "-0.5" },    { "12345678901234567890123", "12345678901234567890123" },
    { "0.1e1", "1" },         { "0.01e1", "0.1" },       { "-0.01e+1", "-0.1" },
    { "1e98", "1" "00000000000000000000000000000000000000000000000000"
                  "000000000000000000000000000000000000000000000000" },
};

static void number_normalization(void)
{
    char out[512];

    for (size_t i = 0; i < sizeof(number_cases) / sizeof(number_cases[0]); i++) {
        size_t n = adb__json_number_normalize(number_cases[i].in, strlen(number_cases[i].in), out,
                                              sizeof(out));
        CHECK_MSG(n == strlen(number_cases[i].out) && strcmp(out, number_cases[i].out) == 0,
                  "%s -> \"%s\" (%zu), want \"%s\"", number_cases[i].in, out, n,
                  number_cases[i].out);
        /* idempotent */
        char again[512];
        size_t m = adb__json_number_normalize(out, n, again, sizeof(again));
        CHECK_MSG(m == n && strcmp(again, out) == 0, "%s not idempotent", out);
    }

    static const char *const not_numbers[] = { "", "+1", "01", "-01", "1.", ".1", " 1", "1 ", "0x10",
                                               "1e", "1e+", "--1", "NaN", "Infinity", "-", "1,0",
                                               "1.0.0", "١", "1e1.5", "\"1\"" };
    for (size_t i = 0; i < sizeof(not_numbers) / sizeof(not_numbers[0]); i++) {
        memcpy(out, "junk", 5);
        CHECK_MSG(adb__json_number_normalize(not_numbers[i], strlen(not_numbers[i]), out,
                                             sizeof(out)) == 0 && out[0] == '\0',
                  "\"%s\" taken for a number", not_numbers[i]);
    }

    /* only the given bytes are read */
    CHECK(adb__json_number_normalize("12345", 2, out, sizeof(out)) == 2 && strcmp(out, "12") == 0);
    /* the result must fit with its NUL */
    CHECK(adb__json_number_normalize("1e3", 3, out, 5) == 4 && strcmp(out, "1000") == 0);
    CHECK(adb__json_number_normalize("1e3", 3, out, 4) == 0 && out[0] == '\0');
    CHECK(adb__json_number_normalize("1e3", 3, out, 0) == 0);
    CHECK(adb__json_number_normalize(NULL, 0, out, sizeof(out)) == 0);

    /* numeric's range: 131072 digits before the point, 16383 after */
    size_t big = 140000;
    char *o = malloc(big);
    REQUIRE(o);
    CHECK(adb__json_number_normalize(S("1e131071"), o, big) == 131072);
    CHECK(adb__json_number_normalize(S("-9.9e131071"), o, big) == 131073);
    CHECK(adb__json_number_normalize(S("1e131072"), o, big) == 0);
    CHECK(adb__json_number_normalize(S("0e-16383"), o, big) == 16385);
    CHECK(adb__json_number_normalize(S("0e-16384"), o, big) == 0);
    CHECK(adb__json_number_normalize(S("0.1e-16382"), o, big) == 16385 && o[16384] == '1');
    CHECK(adb__json_number_normalize(S("1e-16384"), o, big) == 0);
    CHECK(adb__json_number_normalize(S("0e1073741822"), o, big) == 1 && strcmp(o, "0") == 0);
    CHECK(adb__json_number_normalize(S("0e1073741823"), o, big) == 0);
    CHECK(adb__json_number_normalize(S("0e-1073741823"), o, big) == 0);
    CHECK(adb__json_number_normalize(S("1e99999999999999999999999999"), o, big) == 0);
    CHECK(adb__json_number_normalize(S("0.0e00000000000000000000000000001"), o, big) == 1);
    free(o);
}

/* ---- writer --------------------------------------------------------------------- */

static void canonical_writer(void)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;
    sbuf in = { 0 }, want = { 0 };

    /* every byte below 0x20, then '"', '\\', '/', DEL, U+2028, non-ASCII */
    for (int c = 1; c < 0x20; c++)
        sb_addc(&in, (char)c);
    sb_adds(&in, "\"\\/\x7f\xe2\x80\xa8\xc3\xa9\xf0\x9f\x98\x80");
    sb_adds(&want, "\"\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r"
                   "\\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018"
                   "\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f\\\"\\\\/\x7f\xe2\x80\xa8"
                   "\xc3\xa9\xf0\x9f\x98\x80\"");
    REQUIRE(adb__json_write_string(in.p, in.len, &buf, &len, &cap));
    CHECK(len == want.len && memcmp(buf, want.p, len) == 0 && buf[len] == '\0');
    if (len != want.len || memcmp(buf, want.p, len) != 0)
        show("got", buf, len);
    /* appends, keeping what is there */
    REQUIRE(adb__json_write_string("", 0, &buf, &len, &cap));
    CHECK(len == want.len + 2 && memcmp(buf + want.len, "\"\"", 3) == 0);
    free(buf);
    free(in.p);
    free(want.p);

    /* keys by bytes, a prefix first; arrays in order; numbers as stored */
    const char doc[] = "{ \"b\": [3, 1, 2], \"a\": {\"y\": 1, \"x\": -0.0}, \"ab\": \"\\u001F\", "
                       "\"\": null, \"\xc3\xa9\": 1E+2, \"z\": true, \"A\": false, \"aa\": \"/\\/\", "
                       "\"\\u2028\": \"\\u2028\" }";
    adb_json_error e;
    adb_json_doc *d = parse_n(doc, sizeof(doc) - 1, NULL, &e);
    REQUIRE(d);
    buf = malloc(4);
    REQUIRE(buf);
    memcpy(buf, "x=", 3);
    len = 2;
    cap = 4;
    REQUIRE(adb__json_write_canonical(adb__json_root(d), &buf, &len, &cap));
    CHECK_STR(buf, "x={\"\":null,\"A\":false,\"a\":{\"x\":0.0,\"y\":1},\"aa\":\"//\",\"ab\":\"\\u001f\","
                   "\"b\":[3,1,2],\"z\":true,\"\xc3\xa9\":100,\"\xe2\x80\xa8\":\"\xe2\x80\xa8\"}");
    CHECK(strlen(buf) == len && cap >= len + 1);
    free(buf);
    adb__json_free(d);

    /* objects beyond the small-object path sort the same way */
    d = parse_n(S("{\"j\":0,\"i\":0,\"h\":0,\"g\":0,\"f\":0,\"e\":0,\"d\":0,\"c\":0,\"b\":0,\"a\":0,"
                  "\"ba\":0,\"\":0}"), NULL, &e);
    REQUIRE(d);
    char *c = canon(adb__json_root(d));
    CHECK_STR(c, "{\"\":0,\"a\":0,\"b\":0,\"ba\":0,\"c\":0,\"d\":0,\"e\":0,\"f\":0,\"g\":0,\"h\":0,"
                 "\"i\":0,\"j\":0}");
    free(c);
    adb__json_free(d);

    /* the canonical text is a fixed point */
    d = parse_n(S("[{\"b\":{\"d\":1,\"c\":[\"\\ud83d\\ude00\",-1.0e-3]}},\"\\u0007\",[]]"), NULL, &e);
    REQUIRE(d);
    c = canon(adb__json_root(d));
    REQUIRE(c);
    char *c2 = canon_text(c, strlen(c), &e);
    CHECK(c2 && strcmp(c, c2) == 0);
    CHECK_STR(c, "[{\"b\":{\"c\":[\"\xf0\x9f\x98\x80\",-0.0010],\"d\":1}},\"\\u0007\",[]]");
    free(c);
    free(c2);
    adb__json_free(d);

    buf = NULL;
    len = cap = 0;
    CHECK(!adb__json_write_canonical(NULL, &buf, &len, &cap) && len == 0);
    free(buf);
}

static void ndjson_sequences(void)
{
    const char text[] = "1 {\"a\":2}\n[3]\r\n\n  \"x\"\t\n";
    const char *const want[] = { "1", "{\"a\":2}", "[3]", "\"x\"" };
    adb_json_error e;
    size_t pos = 0, n = 0;
    adb_json_doc *d;

    while ((d = adb__json_parse_next(text, sizeof(text) - 1, &pos, NULL, &e)) != NULL) {
        char *c = canon(adb__json_root(d));
        CHECK(n < 4 && c && strcmp(c, want[n]) == 0);
        free(c);
        adb__json_free(d);
        n++;
    }
    CHECK(n == 4 && e.code == ADB_JSON_OK && pos == sizeof(text) - 1);
    /* at the end it stays at the end */
    CHECK(adb__json_parse_next(text, sizeof(text) - 1, &pos, NULL, &e) == NULL &&
          e.code == ADB_JSON_OK);
    pos = 0;
    CHECK(adb__json_parse_next("", 0, &pos, NULL, &e) == NULL && e.code == ADB_JSON_OK);
    CHECK(adb__json_parse_next(NULL, 0, &pos, NULL, &e) == NULL && e.code == ADB_JSON_OK);

    /* values must be separated; an error leaves *pos where it was */
    pos = 0;
    d = adb__json_parse_next(S("{}{}"), &pos, NULL, &e);
    CHECK(!d && e.code == ADB_JSON_ERR_SYNTAX && e.offset == 2 && pos == 0);
    pos = 0;
    d = adb__json_parse_next(S("1 [2,]\n3"), &pos, NULL, &e);
    CHECK(d && pos == 1);
    adb__json_free(d);
    d = adb__json_parse_next(S("1 [2,]\n3"), &pos, NULL, &e);
    CHECK(!d && e.code == ADB_JSON_ERR_SYNTAX && e.offset == 5 && pos == 1);
    pos = 7; /* a caller may resume after the bad line */
    d = adb__json_parse_next(S("1 [2,]\n3"), &pos, NULL, &e);
    CHECK(d && pos == 8 && strcmp(adb__json_root(d)->str, "3") == 0);
    adb__json_free(d);
    /* limits apply to each value */
    adb_json_limits lim = { .max_depth = 1 };
    pos = 0;
    d = adb__json_parse_next(S("[] [[]]"), &pos, &lim, &e);
    CHECK(d != NULL);
    adb__json_free(d);
    d = adb__json_parse_next(S("[] [[]]"), &pos, &lim, &e);
    CHECK(!d && e.code == ADB_JSON_ERR_DEPTH && e.offset == 4);
}

/* ---- random documents ------------------------------------------------------------ */

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t rnext(rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static size_t rn(rng *r, size_t n)
{
    return (size_t)(rnext(r) % n);
}

static bool chance(rng *r, unsigned pct)
{
    return rn(r, 100) < pct;
}

static uint64_t seed;

static void gen_ws(rng *r, sbuf *b)
{
    static const char *const ws[] = { "", "", "", "", " ", "\n", "\t", "\r\n", "  ", " \t\n\r " };
    sb_adds(b, ws[rn(r, sizeof(ws) / sizeof(ws[0]))]);
}

static unsigned long gen_cp(rng *r)
{
    static const unsigned long special[] = { '"', '\\', '/', 0x7f, 0x2028, 0x2029, 0xfeff, 0xfffe,
                                             0xffff, 0x10ffff, 0x1f600, 0xe9, 0x80, 0x7ff, 0x800,
                                             0xd7ff, 0xe000, 0x10000, 'u', 'e', '0' };
    unsigned long cp;

    switch (rn(r, 10)) {
    case 0:
        return 1 + rn(r, 0x1f);
    case 1:
        return special[rn(r, sizeof(special) / sizeof(special[0]))];
    case 2:
        return 0x80 + rn(r, 0x780);
    case 3:
        cp = 0x800 + rn(r, 0xf800);
        return cp >= 0xd800 && cp <= 0xdfff ? cp + 0x800 : cp;
    case 4:
        return 0x10000 + rn(r, 0x100000);
    default:
        return 0x20 + rn(r, 0x5f);
    }
}

static size_t put_utf8(unsigned long cp, char *o)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

static void put_u(rng *r, sbuf *b, unsigned long u)
{
    const char *hex = chance(r, 50) ? "0123456789abcdef" : "0123456789ABCDEF";
    char e[6] = { '\\', 'u', hex[(u >> 12) & 15], hex[(u >> 8) & 15], hex[(u >> 4) & 15], hex[u & 15] };
    sb_add(b, e, 6);
}

/* One code point of a string, spelled in one of its possible ways. */
static void render_cp(rng *r, sbuf *b, unsigned long cp)
{
    static const char shorts[] = "\"\"\\\\\bb\ff\nn\rr\tt";
    char o[4];

    if (cp == '"' || cp == '\\' || cp < 0x20) {
        const char *s = NULL;
        for (size_t i = 0; i + 1 < sizeof(shorts); i += 2)
            if ((unsigned char)shorts[i] == cp)
                s = shorts + i + 1;
        if (s && chance(r, 60)) {
            sb_addc(b, '\\');
            sb_addc(b, *s);
        } else {
            put_u(r, b, cp);
        }
    } else if (cp == '/' && chance(r, 30)) {
        sb_adds(b, "\\/");
    } else if (chance(r, 25)) {
        if (cp >= 0x10000) {
            put_u(r, b, 0xd800 + ((cp - 0x10000) >> 10));
            put_u(r, b, 0xdc00 + ((cp - 0x10000) & 0x3ff));
        } else {
            put_u(r, b, cp);
        }
    } else {
        sb_add(b, o, put_utf8(cp, o));
    }
}

static void render_string(rng *r, sbuf *b, const unsigned long *cps, size_t n)
{
    sb_addc(b, '"');
    for (size_t i = 0; i < n; i++)
        render_cp(r, b, cps[i]);
    sb_addc(b, '"');
}

#define MAX_KEY 8

typedef struct gkey {
    unsigned long cps[MAX_KEY];
    size_t n;
} gkey;

static void gen_key(rng *r, gkey *k)
{
    static const char *const pool[] = { "a", "b", "ab", "A", "z", "id", "", "aa", "\"", "\n",
                                        "action", "actor" };
    if (chance(r, 35)) {
        if (chance(r, 15)) {
            static const unsigned long wide[] = { 0xe9, 0x1f600, 0x2028, 0xffff, 0x7f, 0x1f };
            k->n = 1;
            k->cps[0] = wide[rn(r, sizeof(wide) / sizeof(wide[0]))];
            return;
        }
        const char *s = pool[rn(r, sizeof(pool) / sizeof(pool[0]))];
        for (k->n = 0; s[k->n]; k->n++)
            k->cps[k->n] = (unsigned char)s[k->n];
        return;
    }
    k->n = rn(r, MAX_KEY);
    for (size_t i = 0; i < k->n; i++)
        k->cps[i] = gen_cp(r);
}

static bool key_eq(const gkey *a, const gkey *b)
{
    return a->n == b->n && memcmp(a->cps, b->cps, a->n * sizeof(a->cps[0])) == 0;
}

/* A number literal whose normalized text stays within 100 characters. */
static void gen_number(rng *r, sbuf *b, int int_max, int frac_max, int exp_max)
{
    static const char *const special[] = {
        "1e98", "-1e98", "1e-98", "0e-98", "-0.0", "-0", "0.0e-97", "9.999e98", "-0.000e-95",
        "1E+0", "0.1e-97", "-9.9e97", "123456789012345678901234567890e-60", "0e0", "-0E+0",
    };
    char d[2] = { 0, 0 };

    if (int_max < 30 && chance(r, 6)) {
        sb_adds(b, special[rn(r, sizeof(special) / sizeof(special[0]))]);
        return;
    }
    if (chance(r, 30))
        sb_addc(b, '-');
    if (chance(r, 35)) {
        sb_addc(b, '0');
    } else {
        d[0] = (char)('1' + rn(r, 9));
        sb_adds(b, d);
        for (int i = (int)rn(r, (size_t)int_max); i > 0; i--) {
            d[0] = chance(r, 30) ? '0' : (char)('0' + rn(r, 10));
            sb_adds(b, d);
        }
    }
    if (chance(r, 50)) {
        sb_addc(b, '.');
        for (int i = 1 + (int)rn(r, (size_t)frac_max); i > 0; i--) {
            d[0] = chance(r, 35) ? '0' : (char)('0' + rn(r, 10));
            sb_adds(b, d);
        }
    }
    if (chance(r, 50)) {
        static const char *const e[] = { "e", "E", "e+", "E+", "e-", "E-" };
        sb_adds(b, e[rn(r, 6)]);
        for (int i = (int)rn(r, 3); i > 0; i--)
            sb_addc(b, '0');
        char num[16];
        snprintf(num, sizeof(num), "%zu", rn(r, (size_t)exp_max + 1));
        sb_adds(b, num);
    }
}

static void gen_value(rng *r, sbuf *b, int depth);

static void gen_object(rng *r, sbuf *b, int depth, bool duplicate)
{
    gkey keys[24];
    size_t n = chance(r, 15) ? rn(r, 24) : rn(r, 6), have = 0;

    if (duplicate && n < 2)
        n = 2 + rn(r, 20);
    sb_addc(b, '{');
    gen_ws(r, b);
    for (size_t i = 0; i < n; i++) {
        gkey k;
        bool unique = false;
        if (duplicate && i == n - 1) {
            k = keys[rn(r, have)];
        } else {
            for (int tries = 0; tries < 20 && !unique; tries++) {
                gen_key(r, &k);
                unique = true;
                for (size_t j = 0; j < have; j++)
                    if (key_eq(&keys[j], &k))
                        unique = false;
            }
            if (!unique)
                continue;
        }
        if (have)
            sb_addc(b, ',');
        gen_ws(r, b);
        render_string(r, b, k.cps, k.n);
        gen_ws(r, b);
        sb_addc(b, ':');
        gen_ws(r, b);
        gen_value(r, b, depth + 1);
        gen_ws(r, b);
        keys[have++] = k;
    }
    sb_addc(b, '}');
}

static void gen_value(rng *r, sbuf *b, int depth)
{
    size_t k = rn(r, 100);

    if (depth < 4 && k < 22) {
        gen_object(r, b, depth, false);
    } else if (depth < 4 && k < 40) {
        size_t n = chance(r, 10) ? rn(r, 30) : rn(r, 6);
        sb_addc(b, '[');
        gen_ws(r, b);
        for (size_t i = 0; i < n; i++) {
            if (i)
                sb_addc(b, ',');
            gen_ws(r, b);
            gen_value(r, b, depth + 1);
            gen_ws(r, b);
        }
        sb_addc(b, ']');
    } else if (k < 65) {
        unsigned long cps[24];
        size_t n = chance(r, 20) ? rn(r, 24) : rn(r, 8);
        for (size_t i = 0; i < n; i++)
            cps[i] = gen_cp(r);
        render_string(r, b, cps, n);
    } else if (k < 93) {
        gen_number(r, b, 15, 15, 30);
    } else {
        static const char *const lits[] = { "true", "false", "null" };
        sb_adds(b, lits[rn(r, 3)]);
    }
}

/* A whole document: mostly an object or array at the top. */
static void gen_doc(rng *r, sbuf *b)
{
    b->len = 0;
    gen_ws(r, b);
    if (chance(r, 50))
        gen_object(r, b, 1, false);
    else
        gen_value(r, b, chance(r, 70) ? 0 : 1);
    gen_ws(r, b);
}

/* A valid document but for one object whose last key repeats an earlier one
 * (spelled anew), somewhere in the tree. */
static void gen_duplicate_doc(rng *r, sbuf *b)
{
    b->len = 0;
    gen_ws(r, b);
    switch (rn(r, 3)) {
    case 0:
        gen_object(r, b, 1, true);
        break;
    case 1:
        sb_adds(b, "[1, ");
        gen_value(r, b, 2);
        sb_adds(b, ", ");
        gen_object(r, b, 2, true);
        sb_adds(b, "]");
        break;
    default:
        sb_adds(b, "{\"outer\": {\"x\": ");
        gen_object(r, b, 3, true);
        sb_adds(b, "}, \"y\": ");
        gen_value(r, b, 2);
        sb_adds(b, "}");
    }
    gen_ws(r, b);
}

/* Valid UTF-8 without NUL: what PostgreSQL accepts as text. */
static bool sendable(const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        unsigned long cp;
        size_t k;
        if (c == 0)
            return false;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc0 && c < 0xe0) {
            k = 2;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c < 0xf0) {
            k = 3;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c < 0xf8) {
            k = 4;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (n - i < k)
            return false;
        for (size_t j = 1; j < k; j++) {
            if (((unsigned char)s[i + j] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | ((unsigned char)s[i + j] & 0x3f);
        }
        if ((k == 2 && cp < 0x80) || (k == 3 && cp < 0x800) || (k == 4 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += k;
    }
    return true;
}

/* One random edit of a valid document. */
static void mutate(rng *r, sbuf *b)
{
    static const char ins[] = ",]}[{\":\\0-+.eE xu\x01\t/'tfn1";
    size_t at = b->len ? rn(r, b->len) : 0;
    char c = ins[rn(r, sizeof(ins) - 1)];

    switch (rn(r, 5)) {
    case 0: /* delete a byte */
        if (b->len) {
            memmove(b->p + at, b->p + at + 1, b->len - at - 1);
            b->len--;
        }
        break;
    case 1: /* insert one */
        sb_addc(b, 0);
        memmove(b->p + at + 1, b->p + at, b->len - at - 1);
        b->p[at] = c;
        break;
    case 2: /* replace one */
        if (b->len)
            b->p[at] = c;
        break;
    case 3: /* cut the end */
        b->len = at;
        break;
    default: { /* repeat a slice */
        size_t n = 1 + rn(r, 8);
        if (at + n > b->len)
            n = b->len - at;
        char tmp[8];
        memcpy(tmp, b->p + at, n);
        sb_add(b, tmp, n);
        memmove(b->p + at + n, b->p + at, b->len - n - at);
        memcpy(b->p + at, tmp, n);
    }
    }
    if (b->p)
        b->p[b->len] = '\0';
}

/* ---- PostgreSQL ------------------------------------------------------------------ */

static PGconn *pg_conn;

/* The fresh database of these tests, with the helpers that turn one failing
 * row into a value instead of failing the whole batch. */
static PGconn *pg(void)
{
    static bool tried;
    char ci[1024];

    if (tried)
        return pg_conn;
    tried = true;
    if (!t_fresh_db("t_json_roundtrip", ci, sizeof(ci)))
        return NULL;
    pg_conn = PQconnectdb(ci);
    if (PQstatus(pg_conn) != CONNECTION_OK) {
        printf("# could not connect: %s", PQerrorMessage(pg_conn));
        PQfinish(pg_conn);
        pg_conn = NULL;
        return NULL;
    }
    PQsetClientEncoding(pg_conn, "UTF8");
    char *enc = t_query1(pg_conn, "SHOW server_encoding");
    char *ver = t_query1(pg_conn, "SHOW server_version");
    printf("# postgresql %s, server encoding %s\n", ver ? ver : "?", enc ? enc : "?");
    bool utf8 = enc && strcmp(enc, "UTF8") == 0;
    free(enc);
    free(ver);
    if (!utf8) {
        printf("# the test database must be UTF8 (jsonb \\u escapes depend on it)\n");
        PQfinish(pg_conn);
        pg_conn = NULL;
        return NULL;
    }
    PGresult *res = PQexec(pg_conn,
        "CREATE FUNCTION try_jsonb(t text, OUT ok boolean, OUT v text) LANGUAGE plpgsql AS $$\n"
        "BEGIN v := t::jsonb::text; ok := true;\n"
        "EXCEPTION WHEN others THEN ok := false; v := SQLERRM; END $$;\n"
        "CREATE FUNCTION try_numeric(t text, OUT ok boolean, OUT v text) LANGUAGE plpgsql AS $$\n"
        "BEGIN v := t::numeric::text; ok := true;\n"
        "EXCEPTION WHEN others THEN ok := false; v := SQLERRM; END $$;");
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        printf("# creating the helpers: %s", PQerrorMessage(pg_conn));
        PQfinish(pg_conn);
        pg_conn = NULL;
    }
    PQclear(res);
    return pg_conn;
}

typedef struct batch {
    size_t n, cap;
    char **in;     /* what is sent */
    size_t *len;
    bool *ok;      /* PostgreSQL accepted it */
    char **out;    /* its output text, or the error message */
} batch;

static void batch_add(batch *bt, const char *s, size_t n)
{
    if (bt->n == bt->cap) {
        bt->cap = bt->cap ? bt->cap * 2 : 256;
        bt->in = realloc(bt->in, bt->cap * sizeof(*bt->in));
        bt->len = realloc(bt->len, bt->cap * sizeof(*bt->len));
        bt->ok = realloc(bt->ok, bt->cap * sizeof(*bt->ok));
        bt->out = realloc(bt->out, bt->cap * sizeof(*bt->out));
        if (!bt->in || !bt->len || !bt->ok || !bt->out)
            exit(1);
    }
    bt->in[bt->n] = malloc(n + 1);
    if (!bt->in[bt->n])
        exit(1);
    memcpy(bt->in[bt->n], s, n);
    bt->in[bt->n][n] = '\0';
    bt->len[bt->n] = n;
    bt->ok[bt->n] = false;
    bt->out[bt->n] = NULL;
    bt->n++;
}

static void batch_free(batch *bt)
{
    for (size_t i = 0; i < bt->n; i++) {
        free(bt->in[i]);
        free(bt->out[i]);
    }
    free(bt->in);
    free(bt->len);
    free(bt->ok);
    free(bt->out);
    memset(bt, 0, sizeof(*bt));
}

/* Runs func (try_jsonb or try_numeric) on every input, 500 to a query, the
 * inputs passed as one text[] parameter. */
static bool batch_run(PGconn *c, batch *bt, const char *func)
{
    char sql[256];
    sbuf arr = { 0 };

    snprintf(sql, sizeof(sql),
             "SELECT r.ok, r.v FROM unnest($1::text[]) WITH ORDINALITY AS u(x, n), "
             "LATERAL %s(u.x) r ORDER BY u.n", func);
    for (size_t first = 0; first < bt->n; first += 500) {
        size_t last = first + 500 < bt->n ? first + 500 : bt->n;
        arr.len = 0;
        sb_addc(&arr, '{');
        for (size_t i = first; i < last; i++) {
            sb_adds(&arr, i > first ? ",\"" : "\"");
            for (size_t j = 0; j < bt->len[i]; j++) {
                if (bt->in[i][j] == '"' || bt->in[i][j] == '\\')
                    sb_addc(&arr, '\\');
                sb_addc(&arr, bt->in[i][j]);
            }
            sb_addc(&arr, '"');
        }
        sb_addc(&arr, '}');
        const char *param = arr.p;
        PGresult *res = PQexecParams(c, sql, 1, NULL, &param, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_TUPLES_OK || (size_t)PQntuples(res) != last - first) {
            printf("# batch query failed: %s", PQerrorMessage(c));
            PQclear(res);
            free(arr.p);
            return false;
        }
        for (size_t i = first; i < last; i++) {
            int row = (int)(i - first);
            bt->ok[i] = strcmp(PQgetvalue(res, row, 0), "t") == 0;
            bt->out[i] = strdup(PQgetvalue(res, row, 1));
        }
        PQclear(res);
    }
    free(arr.p);
    return true;
}

#define N_DOCS 4000

/* The property: for random documents in random spellings, our canonical text
 * of the document equals our canonical text of what jsonb made of it; and
 * jsonb takes our canonical text back unchanged in meaning. */
static void roundtrip_matches_postgresql(void)
{
    PGconn *c = pg();
    rng r = { seed };
    batch orig = { 0 }, back = { 0 };
    sbuf b = { 0 };
    size_t mismatches = 0, rejected = 0;
    struct timespec t0, t1;

    REQUIRE(c);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    char **a = calloc(N_DOCS, sizeof(*a));
    REQUIRE(a);
    for (size_t i = 0; i < N_DOCS; i++) {
        adb_json_error e;
        gen_doc(&r, &b);
        a[i] = canon_text(b.p, b.len, &e);
        if (!a[i] && rejected++ < 5) {
            CHECK_MSG(false, "generated document %zu rejected: %s at %zu: %s", i,
                      code_name(e.code), e.offset, e.message);
            show("input", b.p, b.len);
        }
        batch_add(&orig, b.p, b.len);
        batch_add(&back, a[i] ? a[i] : "null", a[i] ? strlen(a[i]) : 4);
    }
    REQUIRE(batch_run(c, &orig, "try_jsonb") && batch_run(c, &back, "try_jsonb"));
    for (size_t i = 0; i < N_DOCS; i++) {
        adb_json_error e;
        if (!a[i])
            continue;
        for (int pass = 0; pass < 2; pass++) {
            batch *bt = pass ? &back : &orig;
            char *bb = bt->ok[i] && bt->out[i] ? canon_text(bt->out[i], strlen(bt->out[i]), &e) : NULL;
            if (!bb || strcmp(a[i], bb) != 0) {
                if (mismatches++ < 5) {
                    CHECK_MSG(false, "document %zu (%s): jsonb %s", i,
                              pass ? "our canonical text sent" : "original sent",
                              bt->ok[i] ? (bb ? "differs" : "output rejected by us") : "refused it");
                    show("sent", bt->in[i], bt->len[i]);
                    show("ours", a[i], strlen(a[i]));
                    show("jsonb", bt->out[i], bt->out[i] ? strlen(bt->out[i]) : 0);
                    if (bb)
                        show("ours of jsonb", bb, strlen(bb));
                }
            }
            free(bb);
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("# %d documents (seed %" PRIu64 "), each sent as written and in canonical form: "
           "%zu mismatches, %zu rejected by us, %.1f s\n", N_DOCS, seed, mismatches, rejected,
           (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    CHECK(mismatches == 0 && rejected == 0);
    for (size_t i = 0; i < N_DOCS; i++)
        free(a[i]);
    free(a);
    free(b.p);
    batch_free(&orig);
    batch_free(&back);
}

#define N_DUPS 500

/* jsonb keeps the last of repeated keys silently; we refuse the document. */
static void duplicates_rejected_where_jsonb_keeps_last(void)
{
    PGconn *c = pg();
    rng r = { seed ^ 0x5555 };
    batch bt = { 0 };
    sbuf b = { 0 };
    size_t bad = 0, pg_refused = 0;

    REQUIRE(c);
    for (size_t i = 0; i < N_DUPS; i++) {
        adb_json_error e;
        gen_duplicate_doc(&r, &b);
        adb_json_doc *d = parse_n(b.p, b.len, NULL, &e);
        if ((d || e.code != ADB_JSON_ERR_DUPLICATE_KEY || !strstr(e.message, "duplicate key \"")) &&
            bad++ < 5) {
            CHECK_MSG(false, "duplicate document %zu: %s (%s)", i, d ? "accepted" : code_name(e.code),
                      e.message);
            show("input", b.p, b.len);
        }
        adb__json_free(d);
        batch_add(&bt, b.p, b.len);
    }
    REQUIRE(batch_run(c, &bt, "try_jsonb"));
    for (size_t i = 0; i < bt.n; i++)
        if (!bt.ok[i] && pg_refused++ < 3) {
            printf("# jsonb refused duplicate document %zu: %s\n", i, bt.out[i]);
            show("input", bt.in[i], bt.len[i]);
        }
    printf("# %d documents with a repeated key: all refused by us, %zu of them accepted by jsonb\n",
           N_DUPS, bt.n - pg_refused);
    CHECK(bad == 0);
    CHECK(pg_refused == 0);
    free(b.p);
    batch_free(&bt);
}

#define N_MUTANTS 3000

/* Randomly broken documents: we accept exactly what jsonb accepts, except
 * where we are stricter by design (repeated keys, the number bound). */
static void mutants_accepted_like_postgresql(void)
{
    PGconn *c = pg();
    rng r = { seed ^ 0xaaaa };
    batch bt = { 0 };
    sbuf b = { 0 };
    size_t diffs = 0, both_ok = 0, both_refused = 0, stricter[ADB_JSON_ERR_NOMEM + 1] = { 0 };
    adb_json_error_code *code;
    char **a;

    REQUIRE(c);
    code = calloc(N_MUTANTS, sizeof(*code));
    a = calloc(N_MUTANTS, sizeof(*a));
    REQUIRE(code && a);
    while (bt.n < N_MUTANTS) {
        adb_json_error e;
        gen_doc(&r, &b);
        for (int k = (int)rn(&r, 3); k >= 0; k--)
            mutate(&r, &b);
        if (!sendable(b.p, b.len))
            continue;
        a[bt.n] = canon_text(b.p, b.len, &e);
        code[bt.n] = a[bt.n] ? ADB_JSON_OK : e.code;
        batch_add(&bt, b.p ? b.p : "", b.len);
    }
    REQUIRE(batch_run(c, &bt, "try_jsonb"));
    for (size_t i = 0; i < bt.n; i++) {
        adb_json_error e;
        const char *why = NULL;
        char *bb = NULL;
        if (a[i] && bt.ok[i] && bt.out[i]) {
            bb = canon_text(bt.out[i], strlen(bt.out[i]), &e);
            if (!bb || strcmp(bb, a[i]) != 0)
                why = "both accept, canonical texts differ";
            else
                both_ok++;
        } else if (a[i]) {
            why = "we accept, jsonb refuses";
        } else if (bt.ok[i]) {
            if (code[i] == ADB_JSON_ERR_DUPLICATE_KEY || code[i] == ADB_JSON_ERR_NUMBER)
                stricter[code[i]]++;
            else
                why = "we refuse, jsonb accepts";
        } else {
            both_refused++;
        }
        if (why && diffs++ < 5) {
            CHECK_MSG(false, "mutant %zu: %s (ours: %s)", i, why, code_name(code[i]));
            show("input", bt.in[i], bt.len[i]);
            show("jsonb", bt.out[i], bt.out[i] ? strlen(bt.out[i]) : 0);
        }
        free(bb);
    }
    printf("# %d mutated documents: %zu accepted by both alike, %zu refused by both, refused only "
           "by us: %zu repeated keys, %zu numbers over the bound; %zu differences\n",
           N_MUTANTS, both_ok, both_refused, stricter[ADB_JSON_ERR_DUPLICATE_KEY],
           stricter[ADB_JSON_ERR_NUMBER], diffs);
    CHECK(diffs == 0);
    for (size_t i = 0; i < bt.n; i++)
        free(a[i]);
    free(a);
    free(code);
    free(b.p);
    batch_free(&bt);
}

#define N_NUMBERS 3000

/* adb__json_number_normalize against numeric's output, beyond the 100
 * character bound too; a literal numeric refuses must give 0. */
static void numbers_match_postgresql_numeric(void)
{
    static const char *const edges[] = {
        "1e131071", "1e131072", "0e-16383", "0e-16384", "1e-16383", "1e-16384", "0.1e-16382",
        "0e1073741822", "0e1073741823", "0e-1073741822", "0e99999999999999999999", "-0.5e131072",
        "99999e131067", "99999e131068", "-0e-16383",
    };
    PGconn *c = pg();
    rng r = { seed ^ 0x1234 };
    batch bt = { 0 };
    sbuf b = { 0 };
    size_t cap = 140000, diffs = 0;
    char *out;

    REQUIRE(c);
    out = malloc(cap);
    REQUIRE(out);
    for (size_t i = 0; i < sizeof(number_cases) / sizeof(number_cases[0]); i++)
        batch_add(&bt, number_cases[i].in, strlen(number_cases[i].in));
    for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++)
        batch_add(&bt, edges[i], strlen(edges[i]));
    while (bt.n < N_NUMBERS) {
        b.len = 0;
        if (chance(&r, 50))
            gen_number(&r, &b, 15, 15, 30);
        else
            gen_number(&r, &b, 40, 40, 400);
        batch_add(&bt, b.p, b.len);
    }
    REQUIRE(batch_run(c, &bt, "try_numeric"));
    for (size_t i = 0; i < bt.n; i++) {
        size_t n = adb__json_number_normalize(bt.in[i], bt.len[i], out, cap);
        bool same = bt.ok[i] ? n > 0 && bt.out[i] && strcmp(out, bt.out[i]) == 0 : n == 0;
        if (!same && diffs++ < 5) {
            CHECK_MSG(false, "number %s: ours \"%.200s\", numeric %s \"%.200s\"", bt.in[i],
                      n ? out : "(refused)", bt.ok[i] ? "prints" : "refuses:",
                      bt.out[i] ? bt.out[i] : "?");
        }
    }
    printf("# %zu number literals against numeric: %zu differences\n", bt.n, diffs);
    CHECK(diffs == 0);
    free(out);
    free(b.p);
    batch_free(&bt);
}

int main(void)
{
    const char *s = getenv("ADB_TEST_SEED");

    if (s && *s) {
        char *end;
        errno = 0;
        seed = strtoull(s, &end, 10);
        if (errno || *end) {
            printf("not ok - environment: ADB_TEST_SEED is not a number: \"%s\"\n", s);
            return 1;
        }
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        seed = (uint64_t)ts.tv_sec * 1000003u ^ (uint64_t)ts.tv_nsec;
    }
    printf("# seed %" PRIu64 " (ADB_TEST_SEED=%" PRIu64 " repeats this run)\n", seed, seed);

    RUN(accepts_valid_documents);
    RUN(tree_is_as_documented);
    RUN(rejects_malformed_documents);
    RUN(error_messages);
    RUN(limits_each_with_its_code);
    RUN(large_objects_and_deep_nesting);
    RUN(number_normalization);
    RUN(canonical_writer);
    RUN(ndjson_sequences);
    RUN(roundtrip_matches_postgresql);
    RUN(duplicates_rejected_where_jsonb_keeps_last);
    RUN(mutants_accepted_like_postgresql);
    RUN(numbers_match_postgresql_numeric);
    PQfinish(pg_conn);
    return t_done();
}
