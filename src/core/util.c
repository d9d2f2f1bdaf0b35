/*
 * util.c - formatting, parsing, time and file helpers for the library.
 */
#define _POSIX_C_SOURCE 200809L
#include "util.h"
#include "digest.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>

bool adb__fmt(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (len == 0)
        return false;
    va_start(ap, fmt);
    n = vsnprintf(buf, len, fmt, ap);
    va_end(ap);
    return n >= 0 && (size_t)n < len;
}

char *adb__aprintf(const char *fmt, ...)
{
    va_list ap, ap2;
    int n;
    char *s;

    va_start(ap, fmt);
    va_copy(ap2, ap);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        va_end(ap2);
        return NULL;
    }
    s = malloc((size_t)n + 1);
    if (s)
        vsnprintf(s, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return s;
}

char *adb__strdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

bool adb__parse_int(const char *s, long long min, long long max, long long *out)
{
    char *end;
    long long v;

    if (!s || !*s)
        return false;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return false;
    *out = v;
    return true;
}

double adb__now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

void adb__sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

bool adb__mkdir_p(const char *path, unsigned mode)
{
    char buf[PATH_MAX];
    size_t len = strlen(path);

    if (len == 0 || len >= sizeof(buf)) {
        errno = ENAMETOOLONG;
        return false;
    }
    memcpy(buf, path, len + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, mode) == -1 && errno != EEXIST)
            return false;
        *p = '/';
    }
    if (mkdir(buf, mode) == -1 && errno != EEXIST)
        return false;
    return true;
}

char *adb__read_stream(FILE *f, size_t max, size_t *len)
{
    char *buf = NULL;
    size_t cap = 0, n = 0;

    for (;;) {
        if (n + 4096 + 1 > cap) {
            size_t ncap = cap ? cap * 2 : 8192;
            char *nb;
            if (ncap > max + 4097)
                ncap = max + 4097;
            nb = realloc(buf, ncap);
            if (!nb) {
                free(buf);
                errno = ENOMEM;
                return NULL;
            }
            buf = nb;
            cap = ncap;
        }
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (n > max) {
            free(buf);
            errno = EFBIG;
            return NULL;
        }
        if (r == 0)
            break;
    }
    if (ferror(f)) {
        free(buf);
        errno = EIO;
        return NULL;
    }
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

char *adb__read_file(const char *path, size_t max, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    int e;

    if (!f)
        return NULL;
    buf = adb__read_stream(f, max, len);
    e = errno;
    fclose(f);
    errno = e;
    return buf;
}

void adb__base64url(const void *in, size_t n, char *out)
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const unsigned char *b = in;
    size_t o = 0;

    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)b[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)b[i + 1] << 8;
        if (i + 2 < n)
            v |= b[i + 2];
        out[o++] = t[(v >> 18) & 63];
        out[o++] = t[(v >> 12) & 63];
        if (i + 1 < n)
            out[o++] = t[(v >> 6) & 63];
        if (i + 2 < n)
            out[o++] = t[v & 63];
    }
    out[o] = '\0';
}

void adb__hex(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

void adb__sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[32];

    if (!adb__sha256(data, len, md)) {
        out[0] = '\0';
        return;
    }
    adb__hex(md, 32, out);
}

char *adb__oneline(char *s)
{
    char *w = s;
    bool space = false;

    for (const char *r = s; *r; r++) {
        if (*r == '\n' || *r == '\r' || *r == '\t' || *r == ' ') {
            space = w != s;
            continue;
        }
        if (space)
            *w++ = ' ';
        space = false;
        *w++ = *r;
    }
    *w = '\0';
    return s;
}

int adb__hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

size_t adb__utf8_seq(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    unsigned char c = u[0], lo = 0x80, hi = 0xbf;
    size_t k;

    if (n == 0)
        return 0;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        k = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        k = 3;
        if (c == 0xe0)
            lo = 0xa0; /* overlong */
        else if (c == 0xed)
            hi = 0x9f; /* U+D800..DFFF */
    } else if (c >= 0xf0 && c <= 0xf4) {
        k = 4;
        if (c == 0xf0)
            lo = 0x90; /* overlong */
        else if (c == 0xf4)
            hi = 0x8f; /* above U+10FFFF */
    } else {
        return 0;
    }
    if (n < k || u[1] < lo || u[1] > hi)
        return 0;
    for (size_t i = 2; i < k; i++)
        if ((u[i] & 0xc0) != 0x80)
            return 0;
    return k;
}

bool adb__utf8_valid(const char *s, size_t n)
{
    for (size_t i = 0, k; i < n; i += k)
        if (!(k = adb__utf8_seq(s + i, n - i)))
            return false;
    return true;
}

char *adb__utf8_repair(char *s)
{
    size_t n = strlen(s), w = 0;

    for (size_t i = 0, k; i < n; i += k ? k : 1) {
        k = adb__utf8_seq(s + i, n - i);
        if (k) {
            memmove(s + w, s + i, k);
            w += k;
        }
    }
    s[w] = '\0';
    return s;
}

void adb__json_log_line(FILE *f, const char *component, const char *level, const char *org,
                        const char *event, const char *message)
{
    char ts[32];
    struct timespec now;
    struct tm tm;
    char *text;

    if (!f)
        return;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_t *j = json_pack("{s:s, s:s, s:s, s:s?, s:s, s:s}", "time", ts, "level", level,
                          "component", component, "organizationId", org, "event", event,
                          "message", message);
    if (j && (text = json_dumps(j, JSON_COMPACT))) {
        fprintf(f, "%s\n", text);
        fflush(f);
        free(text);
    }
    json_decref(j);
}
