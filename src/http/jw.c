/*
 * jw.c - JSON text writer; strings escaped as the canonical form does.
 */
#include "jw.h"
#include "../event/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void jw_init(jw *w)
{
    memset(w, 0, sizeof(*w));
    w->first[0] = true;
}

void jw_free(jw *w)
{
    adb__buf_free(&w->b);
}

char *jw_take(jw *w, size_t *len)
{
    return adb__buf_take(&w->b, len);
}

static void put(jw *w, const char *s, size_t n)
{
    adb__buf_put(&w->b, s, n);
}

/* A comma before a value or key that is not the first of its container;
 * a value right after a key gets none. */
static void sep(jw *w)
{
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    if (!w->first[w->depth])
        put(w, ",", 1);
    w->first[w->depth] = false;
}

static void open_(jw *w, const char *c)
{
    sep(w);
    put(w, c, 1);
    if (w->depth < 31)
        w->depth++;
    w->first[w->depth] = true;
}

static void close_(jw *w, const char *c)
{
    if (w->depth > 0)
        w->depth--;
    put(w, c, 1);
}

void jw_obj(jw *w) { open_(w, "{"); }
void jw_arr(jw *w) { open_(w, "["); }
void jw_end_obj(jw *w) { close_(w, "}"); }
void jw_end_arr(jw *w) { close_(w, "]"); }

static void str_raw(jw *w, const char *s)
{
    adb__buf_json_string(&w->b, s, strlen(s));
}

void jw_key(jw *w, const char *k)
{
    sep(w);
    str_raw(w, k);
    put(w, ":", 1);
    w->after_key = true;
}

void jw_str(jw *w, const char *s)
{
    sep(w);
    if (s)
        str_raw(w, s);
    else
        put(w, "null", 4);
}

void jw_raw(jw *w, const char *json)
{
    sep(w);
    if (json)
        put(w, json, strlen(json));
    else
        put(w, "null", 4);
}

void jw_int(jw *w, long long v)
{
    char b[32];
    int n = snprintf(b, sizeof(b), "%lld", v);
    sep(w);
    put(w, b, (size_t)n);
}

void jw_bool(jw *w, bool v)
{
    sep(w);
    put(w, v ? "true" : "false", v ? 4 : 5);
}

void jw_null(jw *w)
{
    sep(w);
    put(w, "null", 4);
}

/* The length of s when it needs no escaping as a JSON string (no control
 * character, quote or backslash), else -1. */
static long plain_len(const char *s)
{
    const char *p = s;
    for (; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == '"' || *p == '\\')
            return -1;
    return (long)(p - s);
}

void jw_kstr(jw *w, const char *k, const char *s)
{
    long kl, sl;
    char *o;

    /* a page writes some thousand of these: when neither needs escaping,
     * one reservation and the bytes, instead of a call per piece */
    if (!s || w->after_key || (kl = plain_len(k)) < 0 || (sl = plain_len(s)) < 0 ||
        !(o = adb__buf_room(&w->b, (size_t)(kl + sl) + 6))) {
        jw_key(w, k);
        jw_str(w, s);
        return;
    }
    char *start = o;
    if (!w->first[w->depth])
        *o++ = ',';
    w->first[w->depth] = false;
    *o++ = '"';
    memcpy(o, k, (size_t)kl);
    o += kl;
    memcpy(o, "\":\"", 3);
    o += 3;
    memcpy(o, s, (size_t)sl);
    o += sl;
    *o++ = '"';
    *o = '\0';
    w->b.len += (size_t)(o - start);
}

void jw_kint(jw *w, const char *k, long long v) { jw_key(w, k); jw_int(w, v); }
void jw_kbool(jw *w, const char *k, bool v) { jw_key(w, k); jw_bool(w, v); }
