/*
 * state.c - the engine's counters and their serialization (state.h).
 * Format (all integers little-endian): "ADS1", u32 count, then per entry:
 * str org, str rule_id, i32 version, str group, i64 wstart, wend, events,
 * measure, a, b, u8 fired, u8 nsamples, 16 bytes per sample, u32 nvals,
 * u64 per value; str = u32 length + bytes.
 */
#include "state.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static atomic_llong live_entries;
static long long cap_entries;

void adb__dstate_set_cap(long long cap) { cap_entries = cap; }
long long adb__dstate_live(void) { return atomic_load(&live_entries); }

uint64_t adb__dhash(const void *p, size_t n, uint64_t h)
{
    const uint8_t *b = p;
    if (!h)
        h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static uint64_t key_hash(const char *org, const char *rule_id, int version, const char *group,
                         int64_t wstart)
{
    uint64_t h = adb__dhash(org, strlen(org) + 1, 0);
    h = adb__dhash(rule_id, strlen(rule_id) + 1, h);
    h = adb__dhash(&version, sizeof(version), h);
    h = adb__dhash(group, strlen(group) + 1, h);
    return adb__dhash(&wstart, sizeof(wstart), h);
}

void adb__dstate_init(adb__dstate *s) { memset(s, 0, sizeof(*s)); }

static void entry_free(adb__dentry *e)
{
    free(e->org);
    free(e->rule_id);
    free(e->group);
    free(e->vals);
    free(e);
    atomic_fetch_sub(&live_entries, 1);
}

void adb__dstate_free(adb__dstate *s)
{
    for (size_t i = 0; i < s->nb; i++)
        for (adb__dentry *e = s->b[i], *nx; e; e = nx) {
            nx = e->next;
            entry_free(e);
        }
    free(s->b);
    memset(s, 0, sizeof(*s));
}

static bool grow(adb__dstate *s)
{
    size_t nb = s->nb ? s->nb * 2 : 256;
    adb__dentry **b = calloc(nb, sizeof(*b));
    if (!b)
        return false;
    for (size_t i = 0; i < s->nb; i++)
        for (adb__dentry *e = s->b[i], *nx; e; e = nx) {
            nx = e->next;
            e->next = b[e->h & (nb - 1)];
            b[e->h & (nb - 1)] = e;
        }
    free(s->b);
    s->b = b;
    s->nb = nb;
    return true;
}

static void link_entry(adb__dstate *s, adb__dentry *e)
{
    e->next = s->b[e->h & (s->nb - 1)];
    s->b[e->h & (s->nb - 1)] = e;
    s->n++;
}

adb__dentry *adb__dstate_get(adb__dstate *s, const char *org, const char *rule_id, int version,
                             const char *group, int64_t wstart, int64_t wend, bool *created)
{
    uint64_t h = key_hash(org, rule_id, version, group, wstart);
    adb__dentry *e;

    *created = false;
    if (s->nb)
        for (e = s->b[h & (s->nb - 1)]; e; e = e->next)
            if (e->h == h && e->wstart == wstart && e->version == version &&
                strcmp(e->group, group) == 0 && strcmp(e->rule_id, rule_id) == 0 &&
                strcmp(e->org, org) == 0)
                return e;
    if (cap_entries > 0 && atomic_load(&live_entries) >= cap_entries)
        return NULL;
    if ((s->n + 1 > s->nb * 2 || !s->nb) && !grow(s))
        return NULL;
    if (!(e = calloc(1, sizeof(*e))))
        return NULL;
    atomic_fetch_add(&live_entries, 1);
    e->h = h;
    e->org = strdup(org);
    e->rule_id = strdup(rule_id);
    e->group = strdup(group);
    if (!e->org || !e->rule_id || !e->group) {
        entry_free(e);
        return NULL;
    }
    e->version = version;
    e->wstart = wstart;
    e->wend = wend;
    link_entry(s, e);
    *created = true;
    return e;
}

void adb__dstate_remove(adb__dstate *s, adb__dentry *e)
{
    adb__dentry **pp = &s->b[e->h & (s->nb - 1)];
    while (*pp && *pp != e)
        pp = &(*pp)->next;
    if (*pp) {
        *pp = e->next;
        s->n--;
    }
    entry_free(e);
}

bool adb__dentry_add_value(adb__dentry *e, uint64_t vh)
{
    uint32_t lo = 0, hi = e->nvals;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (e->vals[mid] < vh)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < e->nvals && e->vals[lo] == vh)
        return true;
    if (e->nvals >= ADB_DSTATE_DISTINCT_MAX)
        return false;
    if (e->nvals == e->capvals) {
        uint32_t cap = e->capvals ? e->capvals * 2 : 8;
        uint64_t *v = realloc(e->vals, cap * sizeof(*v));
        if (!v)
            return false;
        e->vals = v;
        e->capvals = cap;
    }
    memmove(e->vals + lo + 1, e->vals + lo, (e->nvals - lo) * sizeof(*e->vals));
    e->vals[lo] = vh;
    e->nvals++;
    return true;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

void adb__dentry_add_sample(adb__dentry *e, const char *uuid)
{
    uint8_t b[16];
    int k = 0;

    if (!uuid || e->nsamples >= ADB_DSTATE_SAMPLES)
        return;
    for (const char *p = uuid; *p && k < 32; p++) {
        if (*p == '-')
            continue;
        int v = hexval(*p);
        if (v < 0)
            return;
        if (k % 2 == 0)
            b[k / 2] = (uint8_t)(v << 4);
        else
            b[k / 2] |= (uint8_t)v;
        k++;
    }
    if (k != 32)
        return;
    memcpy(e->samples[e->nsamples++], b, 16);
}

/* ---- serialization ----------------------------------------------------------- */

typedef struct wbuf { uint8_t *p; size_t n, cap; bool oom; } wbuf;

static void put(wbuf *w, const void *d, size_t n)
{
    if (w->oom)
        return;
    if (w->n + n > w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 4096;
        while (cap < w->n + n)
            cap *= 2;
        uint8_t *p = realloc(w->p, cap);
        if (!p) {
            w->oom = true;
            return;
        }
        w->p = p;
        w->cap = cap;
    }
    memcpy(w->p + w->n, d, n);
    w->n += n;
}

static void put_u32(wbuf *w, uint32_t v)
{
    uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
    put(w, b, 4);
}

static void put_i64(wbuf *w, int64_t v)
{
    uint64_t u = (uint64_t)v;
    put_u32(w, (uint32_t)u);
    put_u32(w, (uint32_t)(u >> 32));
}

static void put_str(wbuf *w, const char *s)
{
    size_t n = strlen(s);
    put_u32(w, (uint32_t)n);
    put(w, s, n);
}

uint8_t *adb__dstate_save(const adb__dstate *s, size_t *len)
{
    wbuf w = { 0 };

    put(&w, "ADS1", 4);
    put_u32(&w, (uint32_t)s->n);
    for (size_t i = 0; i < s->nb; i++)
        for (const adb__dentry *e = s->b[i]; e; e = e->next) {
            put_str(&w, e->org);
            put_str(&w, e->rule_id);
            put_u32(&w, (uint32_t)e->version);
            put_str(&w, e->group);
            put_i64(&w, e->wstart);
            put_i64(&w, e->wend);
            put_i64(&w, e->events);
            put_i64(&w, e->measure);
            put_i64(&w, e->a);
            put_i64(&w, e->b);
            uint8_t f[2] = { e->fired, e->nsamples };
            put(&w, f, 2);
            put(&w, e->samples, (size_t)e->nsamples * 16);
            put_u32(&w, e->nvals);
            for (uint32_t k = 0; k < e->nvals; k++)
                put_i64(&w, (int64_t)e->vals[k]);
        }
    if (w.oom) {
        free(w.p);
        return NULL;
    }
    *len = w.n;
    return w.p;
}

typedef struct rbuf { const uint8_t *p; size_t n, at; bool bad; } rbuf;

static const uint8_t *take(rbuf *r, size_t n)
{
    if (r->bad || r->n - r->at < n) {
        r->bad = true;
        return NULL;
    }
    r->at += n;
    return r->p + r->at - n;
}

static uint32_t get_u32(rbuf *r)
{
    const uint8_t *b = take(r, 4);
    return b ? (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24
             : 0;
}

static int64_t get_i64(rbuf *r)
{
    uint64_t lo = get_u32(r), hi = get_u32(r);
    return (int64_t)(lo | hi << 32);
}

static char *get_str(rbuf *r)
{
    uint32_t n = get_u32(r);
    const uint8_t *b = n <= 4096 ? take(r, n) : NULL;
    char *s;
    if (!b) {
        r->bad = true;
        return NULL;
    }
    if ((s = malloc(n + 1))) {
        memcpy(s, b, n);
        s[n] = '\0';
    }
    return s;
}

bool adb__dstate_load(adb__dstate *s, const uint8_t *buf, size_t len)
{
    rbuf r = { buf, len, 0, false };
    const uint8_t *magic = take(&r, 4);
    uint32_t n;

    adb__dstate_free(s);
    if (!magic || memcmp(magic, "ADS1", 4) != 0)
        return false;
    n = get_u32(&r);
    for (uint32_t i = 0; i < n && !r.bad; i++) {
        char *org = get_str(&r), *rule = get_str(&r);
        int version = (int)get_u32(&r);
        char *group = get_str(&r);
        int64_t ws = get_i64(&r), we = get_i64(&r);
        bool created = false;
        adb__dentry *e = NULL;
        long long cap = cap_entries;

        cap_entries = 0; /* what was persisted is loaded whole */
        if (!r.bad && org && rule && group)
            e = adb__dstate_get(s, org, rule, version, group, ws, we, &created);
        cap_entries = cap;
        free(org);
        free(rule);
        free(group);
        if (!e || !created) {
            r.bad = true;
            break;
        }
        e->events = get_i64(&r);
        e->measure = get_i64(&r);
        e->a = get_i64(&r);
        e->b = get_i64(&r);
        const uint8_t *f = take(&r, 2);
        if (!f || f[1] > ADB_DSTATE_SAMPLES) {
            r.bad = true;
            break;
        }
        e->fired = f[0] != 0;
        e->nsamples = f[1];
        const uint8_t *sm = take(&r, (size_t)e->nsamples * 16);
        if (sm)
            memcpy(e->samples, sm, (size_t)e->nsamples * 16);
        uint32_t nv = get_u32(&r);
        if (nv > ADB_DSTATE_DISTINCT_MAX) {
            r.bad = true;
            break;
        }
        for (uint32_t k = 0; k < nv && !r.bad; k++)
            adb__dentry_add_value(e, (uint64_t)get_i64(&r));
    }
    if (r.bad || r.at != r.n) {
        adb__dstate_free(s);
        return false;
    }
    return true;
}
