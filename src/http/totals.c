/*
 * totals.c - a fixed table of estimated totals, one slot per hash of
 * (organization, filters); a newer entry replaces an older one in its slot.
 */
#include "totals.h"
#include "../core/util.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct slot {
    char org[256], fp[17];
    long long total;
    double at_ms;         /* 0: empty */
    double refreshing_ms; /* when a caller took the refresh; 0: none pending */
} slot;

struct adb_http_totals {
    pthread_mutex_t mu;
    double ttl_ms;
    slot s[ADB_HTTP_TOTALS_SLOTS];
};

adb_http_totals *adb_http_totals_new(double ttl_ms)
{
    adb_http_totals *t = calloc(1, sizeof(*t));
    if (t) {
        pthread_mutex_init(&t->mu, NULL);
        t->ttl_ms = ttl_ms > 0 ? ttl_ms : ADB_HTTP_TOTALS_TTL_MS;
    }
    return t;
}

void adb_http_totals_free(adb_http_totals *t)
{
    if (!t)
        return;
    pthread_mutex_destroy(&t->mu);
    free(t);
}

/* FNV-1a over both strings */
static slot *slot_of(adb_http_totals *t, const char *org, const char *fp)
{
    uint64_t h = 1469598103934665603u;
    for (const char *p = org; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211u;
    h = (h ^ 0xff) * 1099511628211u;
    for (const char *p = fp; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211u;
    return &t->s[h % ADB_HTTP_TOTALS_SLOTS];
}

adb_http_total_state adb_http_totals_get(adb_http_totals *t, const char *org, const char *fp,
                                         long long *total, bool *refresh)
{
    adb_http_total_state st = ADB_TOTAL_NONE;

    *refresh = false;
    if (!t)
        return st;
    pthread_mutex_lock(&t->mu);
    slot *s = slot_of(t, org, fp);
    double now = adb__now_ms(), age = now - s->at_ms;
    if (s->at_ms > 0 && age < t->ttl_ms * ADB_HTTP_TOTALS_STALE_TTLS && !strcmp(s->org, org) &&
        !strcmp(s->fp, fp)) {
        *total = s->total;
        st = age < t->ttl_ms ? ADB_TOTAL_FRESH : ADB_TOTAL_STALE;
        if (st == ADB_TOTAL_STALE && (s->refreshing_ms == 0 || now - s->refreshing_ms >= t->ttl_ms)) {
            s->refreshing_ms = now;
            *refresh = true;
        }
    }
    pthread_mutex_unlock(&t->mu);
    return st;
}

void adb_http_totals_put(adb_http_totals *t, const char *org, const char *fp, long long total)
{
    if (!t || strlen(org) >= sizeof(((slot *)0)->org))
        return;
    pthread_mutex_lock(&t->mu);
    slot *s = slot_of(t, org, fp);
    adb__fmt(s->org, sizeof(s->org), "%s", org);
    adb__fmt(s->fp, sizeof(s->fp), "%s", fp);
    s->total = total;
    s->at_ms = adb__now_ms();
    s->refreshing_ms = 0;
    pthread_mutex_unlock(&t->mu);
}

void adb_http_totals_drop(adb_http_totals *t, const char *org, const char *fp)
{
    if (!t)
        return;
    pthread_mutex_lock(&t->mu);
    slot *s = slot_of(t, org, fp);
    if (!strcmp(s->org, org) && !strcmp(s->fp, fp))
        s->at_ms = 0;
    pthread_mutex_unlock(&t->mu);
}
