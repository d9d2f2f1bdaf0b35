/*
 * fingerprint.c - error messages with their varying parts stripped, and the
 * versioned aggregation key (fingerprint.h).
 */
#include "fingerprint.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"

typedef struct out {
    char *p;
    size_t len, cap; /* cap excludes the NUL */
    bool space;      /* a space is pending */
} out;

static bool isdig(char c) { return c >= '0' && c <= '9'; }
static bool ishex(char c) { return isdig(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
static bool isalpha_(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static bool isword(char c) { return isdig(c) || isalpha_(c); }
static bool isspace_(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

static void put(out *o, const char *s, size_t n)
{
    if (o->space && o->len > 0 && o->len < o->cap)
        o->p[o->len++] = ' ';
    o->space = false;
    for (size_t i = 0; i < n && o->len < o->cap; i++)
        o->p[o->len++] = s[i];
}

static void puts_(out *o, const char *s) { put(o, s, strlen(s)); }

/* n digits exactly at s */
static bool digits(const char *s, int n)
{
    for (int i = 0; i < n; i++)
        if (!isdig(s[i]))
            return false;
    return true;
}

/* A UUID at s: its length (36) or 0. */
static size_t uuid_at(const char *s)
{
    static const int groups[] = { 8, 4, 4, 4, 12 };
    size_t k = 0;

    for (int g = 0; g < 5; g++) {
        for (int i = 0; i < groups[g]; i++, k++)
            if (!ishex(s[k]))
                return 0;
        if (g < 4 && s[k++] != '-')
            return 0;
    }
    return ishex(s[k]) ? 0 : k;
}

/* HH:MM[:SS[.fff]] at s: its length or 0. */
static size_t time_at(const char *s)
{
    size_t k;

    if (!digits(s, 2) || s[2] != ':' || !digits(s + 3, 2))
        return 0;
    k = 5;
    if (s[k] == ':' && digits(s + k + 1, 2)) {
        k += 3;
        if ((s[k] == '.' || s[k] == ',') && isdig(s[k + 1])) {
            k++;
            while (isdig(s[k]))
                k++;
        }
    }
    return k;
}

/* YYYY-MM-DD[(T| )time][Z|(+|-)HH[:MM]] at s: its length or 0. */
static size_t timestamp_at(const char *s)
{
    size_t k, t;

    if (!digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' || !digits(s + 8, 2))
        return 0;
    k = 10;
    if ((s[k] == 'T' || s[k] == ' ') && (t = time_at(s + k + 1)) > 0) {
        k += 1 + t;
        if (s[k] == 'Z') {
            k++;
        } else if ((s[k] == '+' || s[k] == '-') && digits(s + k + 1, 2)) {
            k += 3;
            if (s[k] == ':' && digits(s + k + 1, 2))
                k += 3;
            else if (digits(s + k, 2))
                k += 2;
        }
    }
    return k;
}

/* a.b.c.d[:port] at s: its length or 0. */
static size_t ipv4_at(const char *s)
{
    size_t k = 0;

    for (int part = 0; part < 4; part++) {
        int n = 0;
        while (isdig(s[k]) && n < 3) {
            k++;
            n++;
        }
        if (n == 0 || isdig(s[k]))
            return 0;
        if (part < 3) {
            if (s[k] != '.')
                return 0;
            k++;
        }
    }
    if (s[k] == ':' && isdig(s[k + 1])) {
        k++;
        while (isdig(s[k]))
            k++;
    }
    return k;
}

/* An IPv6 address at s (hex digits and colons, two colons at least, one
 * hex digit at least, not followed by a word character): its length or 0. */
static size_t ipv6_at(const char *s)
{
    size_t k = 0;
    int colons = 0, hex = 0;

    while (ishex(s[k]) || s[k] == ':') {
        if (s[k] == ':')
            colons++;
        else
            hex++;
        k++;
    }
    if (colons < 2 || hex == 0 || isword(s[k]) || s[k] == '.')
        return 0;
    while (k > 0 && s[k - 1] == ':' && !(k >= 2 && s[k - 2] == ':')) /* "host::1:" trailing */
        k--;
    return k;
}

size_t adb__error_normalize(const char *msg, char *outbuf, size_t outlen)
{
    out o = { outbuf, 0, outlen ? outlen - 1 : 0, false };
    const char *s = msg ? msg : "";
    size_t i = 0, n;

    if (!outlen)
        return 0;
    while (s[i]) {
        char c = s[i];
        bool boundary = i == 0 || !isword(s[i - 1]);

        if (isspace_(c)) {
            o.space = o.len > 0;
            i++;
            continue;
        }
        if (c == '\'' || c == '"') {
            const char *end = strchr(s + i + 1, c);
            if (end) {
                char q[4] = { c, '?', c, '\0' };
                puts_(&o, q);
                i = (size_t)(end - s) + 1;
                continue;
            }
        }
        if (boundary && ishex(c)) {
            if ((n = uuid_at(s + i)) > 0) {
                puts_(&o, "<uuid>");
                i += n;
                continue;
            }
        }
        if (boundary && isdig(c)) {
            if ((n = timestamp_at(s + i)) > 0 || (n = time_at(s + i)) > 0) {
                puts_(&o, "<ts>");
                i += n;
                continue;
            }
            if ((n = ipv4_at(s + i)) > 0) {
                puts_(&o, "<ip>");
                i += n;
                continue;
            }
        }
        if (boundary && (ishex(c) || c == ':')) {
            if ((n = ipv6_at(s + i)) > 0) {
                puts_(&o, "<ip>");
                i += n;
                continue;
            }
        }
        if (boundary && c == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X') && ishex(s[i + 2])) {
            i += 2;
            while (isword(s[i]))
                i++;
            puts_(&o, "<n>");
            continue;
        }
        if (boundary && isword(c)) {
            size_t k = i;
            bool allhex = true, dig = false, letter = false;
            while (isword(s[k])) {
                allhex = allhex && ishex(s[k]);
                dig = dig || isdig(s[k]);
                letter = letter || isalpha_(s[k]);
                k++;
            }
            /* a hex id is a number too: "3f2504e0" and "30250470" must not differ */
            if (allhex && letter && ((dig && k - i >= 6) || k - i >= 8)) {
                puts_(&o, "<n>");
                i = k;
                continue;
            }
        }
        if (isdig(c)) {
            while (isdig(s[i]))
                i++;
            if (s[i] == '.' && isdig(s[i + 1])) {
                i++;
                while (isdig(s[i]))
                    i++;
            }
            puts_(&o, "<n>");
            continue;
        }
        put(&o, &c, 1);
        i++;
    }
    /* cut at a UTF-8 boundary: drop a trailing incomplete sequence */
    if (o.len == o.cap && o.len > 0) {
        size_t k = o.len;
        while (k > 0 && ((unsigned char)o.p[k - 1] & 0xC0) == 0x80)
            k--;
        if (k > 0 && ((unsigned char)o.p[k - 1] & 0x80)) {
            size_t lead = k - 1, need;
            unsigned char b = (unsigned char)o.p[lead];
            need = (b & 0xE0) == 0xC0 ? 2 : (b & 0xF0) == 0xE0 ? 3 : (b & 0xF8) == 0xF0 ? 4 : 1;
            if (o.len - lead < need)
                o.len = lead;
        }
    }
    o.p[o.len] = '\0';
    return o.len;
}

void adb__error_fingerprint(const char *category, const char *code, const char *component,
                            const char *operation, const char *pattern,
                            char key[ADB_ERROR_KEY_MAX])
{
    char *text = adb__aprintf("v%d\n%s\n%s\n%s\n%s\n%s", ADB_ERROR_FINGERPRINT_VERSION,
                              category ? category : "", code ? code : "",
                              component ? component : "", operation ? operation : "",
                              pattern ? pattern : "");
    char hex[65];

    if (!text) { /* no memory: a key from the parts that fit, still deterministic */
        snprintf(key, ADB_ERROR_KEY_MAX, "v%d-nomem", ADB_ERROR_FINGERPRINT_VERSION);
        return;
    }
    adb__sha256_hex(text, strlen(text), hex);
    free(text);
    snprintf(key, ADB_ERROR_KEY_MAX, "v%d-%.32s", ADB_ERROR_FINGERPRINT_VERSION, hex);
}
