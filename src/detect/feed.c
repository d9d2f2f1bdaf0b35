/*
 * feed.c - committed events kept for the detection engine (feed.h).
 *
 * Per organization, a sorted array of items (each one malloc() block: the
 * item, then its strings). Two writer threads may show their batches out of
 * commit order, so an item goes in by binary search when it is not the last;
 * a round takes the run that follows its cursor.
 */
#include "feed.h"

#include "../core/util.h"

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define NBUCKETS 256

typedef struct org_q {
    struct org_q *next;
    char *org;
    adb__dfeed_item **it;
    size_t n, cap;
} org_q;

struct adb__dfeed {
    pthread_mutex_t mu;
    org_q *b[NBUCKETS];
    size_t max, held;
    long long dropped, taken;
};

static unsigned bucket(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h % NBUCKETS;
}

adb__dfeed *adb__dfeed_new(size_t max_items)
{
    adb__dfeed *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    pthread_mutex_init(&f->mu, NULL);
    f->max = max_items;
    return f;
}

void adb__dfeed_free(adb__dfeed *f)
{
    if (!f)
        return;
    for (int i = 0; i < NBUCKETS; i++)
        for (org_q *q = f->b[i], *nx; q; q = nx) {
            nx = q->next;
            adb__dfeed_release(q->it, q->n);
            free(q->org);
            free(q);
        }
    pthread_mutex_destroy(&f->mu);
    free(f);
}

static org_q *queue_of(adb__dfeed *f, const char *org, bool make)
{
    unsigned h = bucket(org);
    for (org_q *q = f->b[h]; q; q = q->next)
        if (strcmp(q->org, org) == 0)
            return q;
    if (!make)
        return NULL;
    org_q *q = calloc(1, sizeof(*q));
    if (!q || !(q->org = strdup(org))) {
        free(q);
        return NULL;
    }
    q->next = f->b[h];
    f->b[h] = q;
    return q;
}

/* One item, its strings in the same block. */
static adb__dfeed_item *item_make(const adb__event *ev)
{
    static const int from[ADB_DFEED_NFIELDS] = {
        [ADB_DFEED_ACTION] = ADB_F_ACTION,
        [ADB_DFEED_STATUS] = ADB_F_STATUS,
        [ADB_DFEED_PRINCIPAL] = ADB_F_PRINCIPAL_ID,
        [ADB_DFEED_RESOURCE] = ADB_F_TARGET_RESOURCE_TYPE,
        [ADB_DFEED_RESOURCE_ID] = ADB_F_TARGET_RESOURCE_ID,
        [ADB_DFEED_CLASSIFICATION] = ADB_F_DATA_CLASSIFICATION,
        [ADB_DFEED_OUTCOME] = ADB_F_OUTCOME_DESCRIPTION,
    };
    size_t len[ADB_DFEED_NFIELDS], total = sizeof(adb__dfeed_item);

    for (int k = 0; k < ADB_DFEED_NFIELDS; k++) {
        const char *v = ev->f[from[k]];
        len[k] = v ? strlen(v) + 1 : 0;
        total += len[k];
    }
    adb__dfeed_item *it = malloc(total);
    if (!it)
        return NULL;
    char *p = (char *)(it + 1);
    it->seq = ev->chain_seq;
    /* floor(epoch * 1000), as the table read computes it */
    it->ts_ms = ev->ts_us >= 0 ? ev->ts_us / 1000 : -((-ev->ts_us + 999) / 1000);
    size_t i = 0;
    for (; ev->event_id[i] && i < sizeof(it->event_id) - 1; i++)
        it->event_id[i] = (char)tolower((unsigned char)ev->event_id[i]);
    it->event_id[i] = '\0';
    for (int k = 0; k < ADB_DFEED_NFIELDS; k++) {
        if (!len[k]) {
            it->f[k] = NULL;
            continue;
        }
        memcpy(p, ev->f[from[k]], len[k]);
        it->f[k] = p;
        p += len[k];
    }
    return it;
}

/* Puts it into q in seq order; false when out of memory (it is not kept). A
 * position already held is not held twice. */
static bool insert(org_q *q, adb__dfeed_item *it)
{
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 256;
        adb__dfeed_item **p = realloc(q->it, cap * sizeof(*p));
        if (!p)
            return false;
        q->it = p;
        q->cap = cap;
    }
    size_t lo = 0, hi = q->n;
    if (q->n == 0 || q->it[q->n - 1]->seq < it->seq) {
        lo = q->n;
    } else {
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (q->it[mid]->seq < it->seq)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo < q->n && q->it[lo]->seq == it->seq)
            return false;
        memmove(&q->it[lo + 1], &q->it[lo], (q->n - lo) * sizeof(*q->it));
    }
    q->it[lo] = it;
    q->n++;
    return true;
}

void adb__dfeed_put(void *ctx, const adb__event *const *evs, size_t n)
{
    adb__dfeed *f = ctx;
    org_q *q = NULL;
    const char *qorg = NULL;

    pthread_mutex_lock(&f->mu);
    for (size_t i = 0; i < n; i++) {
        const adb__event *ev = evs[i];
        const char *org = ev->f[ADB_F_ORGANIZATION_ID];
        if (!org || !ev->chain_seq)
            continue;
        if (f->held >= f->max) {
            f->dropped++;
            continue;
        }
        if (!qorg || strcmp(qorg, org) != 0) {
            q = queue_of(f, org, true);
            qorg = q ? q->org : NULL;
        }
        adb__dfeed_item *it = q ? item_make(ev) : NULL;
        if (!it || !insert(q, it)) {
            free(it);
            f->dropped++;
            continue;
        }
        f->held++;
    }
    pthread_mutex_unlock(&f->mu);
}

size_t adb__dfeed_take(adb__dfeed *f, const char *org, int64_t position, size_t max,
                       adb__dfeed_item ***out)
{
    size_t k = 0, stale = 0;

    *out = NULL;
    pthread_mutex_lock(&f->mu);
    org_q *q = queue_of(f, org, false);
    if (!q)
        goto done;
    while (stale < q->n && q->it[stale]->seq <= position)
        free(q->it[stale++]);
    while (stale + k < q->n && k < max && q->it[stale + k]->seq == position + 1 + (int64_t)k)
        k++;
    if (k > 0 && !(*out = malloc(k * sizeof(**out))))
        k = 0;
    if (k > 0)
        memcpy(*out, &q->it[stale], k * sizeof(**out));
    memmove(q->it, &q->it[stale + k], (q->n - stale - k) * sizeof(*q->it));
    q->n -= stale + k;
    f->held -= stale + k;
    f->taken += (long long)k;
done:
    pthread_mutex_unlock(&f->mu);
    return k;
}

void adb__dfeed_release(adb__dfeed_item **items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(items[i]);
    free(items);
}

void adb__dfeed_counts(adb__dfeed *f, long long *held, long long *dropped, long long *taken)
{
    pthread_mutex_lock(&f->mu);
    *held = (long long)f->held;
    *dropped = f->dropped;
    *taken = f->taken;
    pthread_mutex_unlock(&f->mu);
}
