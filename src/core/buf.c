/*
 * buf.c - the growing byte buffer.
 */
#include "buf.h"
#include "../event/json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool reserve(adb__buf *b, size_t extra)
{
    if (b->oom)
        return false;
    if (b->len + extra + 1 <= b->cap)
        return true;
    size_t ncap = b->cap ? b->cap : 1024;
    while (ncap < b->len + extra + 1) {
        if (ncap > ((size_t)-1) / 2) {
            b->oom = true;
            return false;
        }
        ncap *= 2;
    }
    char *np = realloc(b->p, ncap);
    if (!np) {
        b->oom = true;
        return false;
    }
    b->p = np;
    b->cap = ncap;
    return true;
}

void adb__buf_put(adb__buf *b, const void *s, size_t n)
{
    if (!reserve(b, n))
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

char *adb__buf_room(adb__buf *b, size_t n)
{
    return reserve(b, n) ? b->p + b->len : NULL;
}

void adb__buf_puts(adb__buf *b, const char *s)
{
    adb__buf_put(b, s, strlen(s));
}

void adb__buf_printf(adb__buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !reserve(b, (size_t)n)) {
        b->oom = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void adb__buf_copy_value(adb__buf *b, const char *s)
{
    const char *run;

    if (!s) {
        adb__buf_put(b, "\\N", 2);
        return;
    }
    run = s;
    for (; *s; s++) {
        const char *esc;
        switch (*s) {
        case '\\': esc = "\\\\"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        default: continue;
        }
        adb__buf_put(b, run, (size_t)(s - run));
        adb__buf_put(b, esc, 2);
        run = s + 1;
    }
    adb__buf_put(b, run, (size_t)(s - run));
}

void adb__buf_array_elem(adb__buf *b, const char *s, size_t n)
{
    adb__buf_put(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"' || s[i] == '\\')
            adb__buf_put(b, "\\", 1);
        adb__buf_put(b, s + i, 1);
    }
    adb__buf_put(b, "\"", 1);
}

void adb__buf_json_string(adb__buf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (!adb__json_write_string(s, n, &b->p, &b->len, &b->cap))
        b->oom = true;
    else
        adb__buf_put(b, "", 0); /* keep the NUL */
}

char *adb__buf_take(adb__buf *b, size_t *len)
{
    char *p = b->p;

    if (b->oom) {
        free(p);
        p = NULL;
    } else if (!p) {
        p = calloc(1, 1);
    }
    if (len)
        *len = p ? b->len : 0;
    b->p = NULL;
    b->len = b->cap = 0;
    b->oom = false;
    return p;
}

void adb__buf_free(adb__buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}
