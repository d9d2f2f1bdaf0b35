/*
 * conns.c - the connection table (conns.h): head deadline and idle
 * shedding. A few thousand entries at most, so plain scans under one lock.
 */
#include "conns.h"
#include "../core/util.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Below the limits by this much, the longest waiting connection is shed:
 * room for a new client's connection is kept before libmicrohttpd's own
 * limit stops accepting. */
#define RESERVE_MIN 8
#define REAP_INTERVAL_MS 200

struct adb_http_conn {
    int fd;
    unsigned char ip[16]; /* the peer's address (IPv4 in the first 4 bytes) */
    double since_ms;      /* waiting for a head since then */
    bool busy;
    bool shed;            /* shut down, not yet closed by libmicrohttpd */
    int slot;             /* index in the table */
};

struct adb_http_conns {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    adb_http_conn **e;
    int n, cap;
    int live;             /* entries not shed */
    adb_http_conns_options o;
    int soft_max, per_ip_soft;
    bool stop;
    pthread_t reaper;
    uint64_t head_timeouts, shed_total;
};

static void shed(adb_http_conns *c, adb_http_conn *e)
{
    if (e->shed)
        return;
    e->shed = true;
    c->live--;
    /* libmicrohttpd reads the end of the stream and closes it on its thread */
    shutdown(e->fd, SHUT_RDWR);
}

/* The entry waiting longest for a head, among those with the peer address
 * ip (NULL: any), other than skip; NULL when none waits. */
static adb_http_conn *longest_waiting(adb_http_conns *c, const unsigned char *ip,
                                      const adb_http_conn *skip)
{
    adb_http_conn *best = NULL;

    for (int i = 0; i < c->n; i++) {
        adb_http_conn *e = c->e[i];
        if (e == skip || e->busy || e->shed || (ip && memcmp(e->ip, ip, 16)))
            continue;
        if (!best || e->since_ms < best->since_ms)
            best = e;
    }
    return best;
}

static void *reaper_main(void *arg)
{
    adb_http_conns *c = arg;
    struct timespec ts;

    pthread_mutex_lock(&c->mu);
    while (!c->stop) {
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += REAP_INTERVAL_MS * 1000000L;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&c->cv, &c->mu, &ts);
        double late = adb__now_ms() - c->o.head_timeout_ms;
        for (int i = 0; i < c->n; i++) {
            adb_http_conn *e = c->e[i];
            if (!e->busy && !e->shed && e->since_ms < late) {
                shed(c, e);
                c->head_timeouts++;
            }
        }
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

adb_http_conns *adb_http_conns_start(const adb_http_conns_options *o)
{
    adb_http_conns *c = calloc(1, sizeof(*c));

    if (!c)
        return NULL;
    c->o = *o;
    int reserve = o->max / 16 > RESERVE_MIN ? o->max / 16 : RESERVE_MIN;
    c->soft_max = o->max - reserve > 1 ? o->max - reserve : 1;
    reserve = o->per_ip_max / 16 > RESERVE_MIN ? o->per_ip_max / 16 : RESERVE_MIN;
    c->per_ip_soft = o->per_ip_max - reserve > 1 ? o->per_ip_max - reserve : 1;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    if (pthread_create(&c->reaper, NULL, reaper_main, c) != 0) {
        pthread_cond_destroy(&c->cv);
        pthread_mutex_destroy(&c->mu);
        free(c);
        return NULL;
    }
    return c;
}

void adb_http_conns_stop(adb_http_conns *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    c->stop = true;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->reaper, NULL);
    for (int i = 0; i < c->n; i++)
        free(c->e[i]);
    free(c->e);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

adb_http_conn *adb_http_conn_opened(adb_http_conns *c, int fd, const struct sockaddr *peer)
{
    adb_http_conn *e = calloc(1, sizeof(*e));

    if (!e)
        return NULL;
    e->fd = fd;
    e->since_ms = adb__now_ms();
    if (peer && peer->sa_family == AF_INET)
        memcpy(e->ip, &((const struct sockaddr_in *)peer)->sin_addr, 4);
    else if (peer && peer->sa_family == AF_INET6)
        memcpy(e->ip, &((const struct sockaddr_in6 *)peer)->sin6_addr, 16);
    pthread_mutex_lock(&c->mu);
    if (c->n == c->cap) {
        int ncap = c->cap ? 2 * c->cap : 256;
        adb_http_conn **ne = realloc(c->e, (size_t)ncap * sizeof(*ne));
        if (!ne) {
            pthread_mutex_unlock(&c->mu);
            free(e);
            return NULL;
        }
        c->e = ne;
        c->cap = ncap;
    }
    e->slot = c->n;
    c->e[c->n++] = e;
    c->live++;
    /* near a limit: the connection that has waited longest for a head goes */
    int same_ip = 0;
    for (int i = 0; i < c->n; i++)
        same_ip += !c->e[i]->shed && !memcmp(c->e[i]->ip, e->ip, 16);
    adb_http_conn *victim = NULL;
    if (same_ip > c->per_ip_soft)
        victim = longest_waiting(c, e->ip, e);
    if (!victim && c->live > c->soft_max)
        victim = longest_waiting(c, NULL, e);
    if (victim) {
        shed(c, victim);
        c->shed_total++;
    }
    pthread_mutex_unlock(&c->mu);
    return e;
}

void adb_http_conn_busy(adb_http_conns *c, adb_http_conn *e, bool busy)
{
    if (!e)
        return;
    pthread_mutex_lock(&c->mu);
    e->busy = busy;
    if (!busy)
        e->since_ms = adb__now_ms();
    pthread_mutex_unlock(&c->mu);
}

void adb_http_conn_closed(adb_http_conns *c, adb_http_conn *e)
{
    if (!e)
        return;
    pthread_mutex_lock(&c->mu);
    if (!e->shed)
        c->live--;
    c->n--;
    c->e[e->slot] = c->e[c->n];
    c->e[e->slot]->slot = e->slot;
    pthread_mutex_unlock(&c->mu);
    free(e);
}

void adb_http_conns_count_closed(adb_http_conns *c, bool head_timeout)
{
    pthread_mutex_lock(&c->mu);
    if (head_timeout)
        c->head_timeouts++;
    else
        c->shed_total++;
    pthread_mutex_unlock(&c->mu);
}

void adb_http_conns_counts(adb_http_conns *c, uint64_t *head_timeouts, uint64_t *shed_total)
{
    pthread_mutex_lock(&c->mu);
    *head_timeouts = c->head_timeouts;
    *shed_total = c->shed_total;
    pthread_mutex_unlock(&c->mu);
}
