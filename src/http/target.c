/*
 * target.c - decodes and checks the request target (target.h): percent
 * escapes, NUL bytes, UTF-8, too many query parameters; repeated ones
 * joined or refused once the route is known.
 */
#include "target.h"
#include "../core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Percent-decodes the n bytes at s ('+' as a space when plus) into a
 * malloc()ed NUL-terminated copy; *len is its length (NUL bytes may be
 * inside). *bad_escape when a '%' is not followed by two hex digits (the
 * '%' is kept). NULL when out of memory. */
static char *decode(const char *s, size_t n, bool plus, size_t *len, bool *bad_escape)
{
    char *out = malloc(n + 1);
    size_t w = 0;

    *bad_escape = false;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < n && (hi = adb__hexval(s[i + 1])) >= 0 &&
            (lo = adb__hexval(s[i + 2])) >= 0) {
            out[w++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            if (s[i] == '%')
                *bad_escape = true;
            out[w++] = plus && s[i] == '+' ? ' ' : s[i];
        }
    }
    out[w] = '\0';
    *len = w;
    return out;
}

/* field as a name for an error: valid UTF-8, at most 64 bytes, no NUL. */
static void name_for_error(char out[80], const char *s, size_t n)
{
    size_t w = 0;

    for (size_t i = 0; i < n && w < 64; i++)
        out[w++] = s[i] ? s[i] : '?';
    out[w] = '\0';
    adb__utf8_repair(out);
}

static void problem(adb_http_target_problem *p, const char *code, const char *field, size_t flen,
                    const char *message)
{
    if (p->code) /* the first one is reported */
        return;
    p->code = code;
    name_for_error(p->field, field, flen);
    adb__fmt(p->message, sizeof(p->message), "%s", message);
}

/* Checks one decoded name or value of the query string. */
static bool check_part(adb_http_target *t, const char *name, size_t nlen, const char *s, size_t n,
                       bool bad_escape, const char *what)
{
    char msg[200];

    if (bad_escape) {
        adb__fmt(msg, sizeof(msg), "query parameter %s has a '%%' not followed by two hex digits", what);
        problem(&t->query_problem, "INVALID_ENCODING", name, nlen, msg);
        return false;
    }
    if (memchr(s, '\0', n)) {
        adb__fmt(msg, sizeof(msg), "query parameter %s contains a NUL character (%%00)", what);
        problem(&t->query_problem, "INVALID_CHARACTER", name, nlen, msg);
        return false;
    }
    if (!adb__utf8_valid(s, n)) {
        adb__fmt(msg, sizeof(msg), "query parameter %s is not valid UTF-8", what);
        problem(&t->query_problem, "INVALID_ENCODING", name, nlen, msg);
        return false;
    }
    return true;
}

/* One "name[=value]" of the query string, kept even when its name came
 * before: whether it may repeat is the route's to say
 * (adb_http_target_join_repeats). False only when out of memory. */
static bool add_param(adb_http_target *t, const char *s, size_t n)
{
    const char *eq = memchr(s, '=', n);
    size_t nraw = eq ? (size_t)(eq - s) : n, nlen, vlen = 0;
    bool bad_n, bad_v = false;
    char *name, *value;

    if (n == 0) /* "a=1&&b=2": an empty part is no parameter */
        return true;
    if (!(name = decode(s, nraw, true, &nlen, &bad_n)))
        return false;
    value = eq ? decode(eq + 1, n - nraw - 1, true, &vlen, &bad_v) : calloc(1, 1);
    if (!value) {
        free(name);
        return false;
    }
    bool ok = check_part(t, name, nlen, name, nlen, bad_n, "name") &&
              check_part(t, name, nlen, value, vlen, bad_v, "value");
    if (ok && nlen == 0) {
        problem(&t->query_problem, "INVALID_ENCODING", "", 0, "a query parameter has no name");
        ok = false;
    }
    if (ok && t->nparams == ADB_HTTP_MAX_QUERY) {
        char msg[96];
        adb__fmt(msg, sizeof(msg), "more than %d query parameters", ADB_HTTP_MAX_QUERY);
        problem(&t->query_problem, "TOO_MANY_PARAMETERS", name, nlen, msg);
        ok = false;
    }
    if (!ok) {
        free(name);
        free(value);
        return true;
    }
    t->name[t->nparams] = name;
    t->value[t->nparams] = value;
    t->nparams++;
    return true;
}

/* The raw path with bytes outside printable ASCII escaped as %XX. */
static char *log_form(const char *s, size_t n)
{
    char *out = malloc(3 * n + 1);
    size_t w = 0;

    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c >= 0x7f)
            w += (size_t)snprintf(out + w, 4, "%%%02X", c);
        else
            out[w++] = (char)c;
    }
    out[w] = '\0';
    return out;
}

bool adb_http_target_parse(adb_http_target *t, const char *raw)
{
    size_t n = strlen(raw), plen;
    const char *q = memchr(raw, '?', n);
    size_t rawp = q ? (size_t)(q - raw) : n;
    bool bad;

    t->raw_len = n;
    if (!(t->path = decode(raw, rawp, false, &plen, &bad)) || !(t->log_path = log_form(raw, rawp)))
        return false;
    if (bad)
        problem(&t->path_problem, "INVALID_ENCODING", "path", 4,
                "the path has a '%' not followed by two hex digits");
    else if (memchr(t->path, '\0', plen))
        problem(&t->path_problem, "INVALID_CHARACTER", "path", 4,
                "the path contains a NUL character (%00)");
    t->path_utf8 = adb__utf8_valid(t->path, plen);
    if (!q)
        return true;
    for (const char *p = q + 1, *end = raw + n; p <= end;) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        if (!add_param(t, p, (size_t)(stop - p)))
            return false;
        p = stop + 1;
    }
    return true;
}

void adb_http_target_free(adb_http_target *t)
{
    free(t->path);
    free(t->log_path);
    for (int i = 0; i < t->nparams; i++) {
        free(t->name[i]);
        free(t->value[i]);
    }
    memset(t, 0, sizeof(*t));
}

const char *adb_http_target_arg(const adb_http_target *t, const char *name)
{
    for (int i = 0; i < t->nparams; i++)
        if (!strcmp(t->name[i], name))
            return t->value[i];
    return NULL;
}

bool adb_http_target_join_repeats(adb_http_target *t, bool (*may_repeat)(const char *name, void *ctx),
                                  void *ctx)
{
    for (int i = 1; i < t->nparams; i++) {
        int first = 0;
        while (first < i && strcmp(t->name[first], t->name[i]) != 0)
            first++;
        if (first == i)
            continue;
        if (!may_repeat(t->name[i], ctx)) {
            problem(&t->query_problem, "DUPLICATE_PARAMETER", t->name[i], strlen(t->name[i]),
                    "query parameter given more than once (give one value; lists are comma-separated)");
            return true;
        }
        /* "a" and "b" read as "a,b", the list's own form; both are bounded
         * by the target's size (ADB_HTTP_TARGET_MAX) */
        size_t a = strlen(t->value[first]), b = strlen(t->value[i]);
        char *v = malloc(a + b + 2);
        if (!v)
            return false;
        memcpy(v, t->value[first], a);
        if (a && b) /* "tags=&tags=x" is "x", not ",x" */
            v[a++] = ',';
        memcpy(v + a, t->value[i], b + 1);
        free(t->value[first]);
        t->value[first] = v;
        free(t->name[i]);
        free(t->value[i]);
        memmove(&t->name[i], &t->name[i + 1], (size_t)(t->nparams - i - 1) * sizeof(t->name[0]));
        memmove(&t->value[i], &t->value[i + 1], (size_t)(t->nparams - i - 1) * sizeof(t->value[0]));
        t->nparams--;
        i--;
    }
    return true;
}
