/*
 * worker.c - the pool of delivery threads every `auditdb serve` runs
 * (docs/delivery.md, "Queue"). Each thread has its own connection as the
 * owner (fixed statements only, never a tenant's), LISTENs on
 * auditdb_delivery so that an enqueue wakes it within milliseconds, and
 * polls for retries that fall due. It claims one item at a time, asks the
 * breaker, sends, records health, and ends the item fenced by its claim id.
 */
#include "delivery.h"
#include "../core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define POLL_DEFAULT_MS 1000
#define LEASE_DEFAULT_MS 60000

typedef struct wthread {
    struct adb__delivery_pool *pool;
    pthread_t tid;
    int index;
    bool started;
} wthread;

struct adb__delivery_pool {
    adb *h;
    char *conninfo;
    int n;
    int poll_ms, lease_ms;
    atomic_bool stopping;
    int stop_pipe[2];
    wthread *threads;
};

static atomic_int running_threads;

int adb__delivery_threads_running(void)
{
    return atomic_load(&running_threads);
}

static PGconn *connect_listen(struct adb__delivery_pool *p)
{
    PGconn *c = PQconnectdb(p->conninfo);
    if (PQstatus(c) != CONNECTION_OK) {
        PQfinish(c);
        return NULL;
    }
    /* The threads' commits do not wait for the WAL flush: a commit lost to a
     * crash of PostgreSQL only makes an item claimable again (sent again with
     * the same webhook-id), never lost; items are enqueued durably by the
     * request's own connection. Waiting would serialize every attempt to one
     * destination on its health and key rows for a flush each. */
    PGresult *r = PQexec(c, "SET synchronous_commit = off; LISTEN " ADB_DELIVERY_NOTIFY);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok) {
        PQfinish(c);
        return NULL;
    }
    return c;
}

/* Waits for a NOTIFY, the stop pipe or ms; drains the notifications. */
static void wait_wakeup(struct adb__delivery_pool *p, PGconn *c, int ms)
{
    struct pollfd fds[2] = { { .fd = PQsocket(c), .events = POLLIN },
                             { .fd = p->stop_pipe[0], .events = POLLIN } };
    PGnotify *nt;
    /* one already read with an earlier result */
    if ((nt = PQnotifies(c))) {
        PQfreemem(nt);
        while ((nt = PQnotifies(c)))
            PQfreemem(nt);
        return;
    }
    if (poll(fds, 2, ms) > 0 && (fds[0].revents & POLLIN)) {
        PQconsumeInput(c);
        while ((nt = PQnotifies(c)))
            PQfreemem(nt);
    }
}

/* One claimed item, start to end. */
static void work_item(struct adb__delivery_pool *p, PGconn *c, adb__qitem *q)
{
    adb__dest d;
    adb__attempt a;
    adb__q_end how;
    int64_t next = 0, now = adb__delivery_now_ms();
    bool fenced, admit = true;
    adb_status st;
    adb__signing_key *keys = NULL;
    size_t nkeys = 0;

    memset(&d, 0, sizeof(d));
    memset(&a, 0, sizeof(a));
    a.retry_after_s = -1;
    st = adb__dest_load(p->h, c, q->org, q->dest_id, &d);
    if (st == ADB_ERR_NOT_FOUND) {
        adb__fmt(a.error, sizeof(a.error), "the destination no longer exists");
        (void)adb__queue_finish(c, q, ADB_Q_FAIL, &a, now, 0, &fenced);
        return;
    }
    if (st != ADB_OK) {   /* the database or the key: try again later, not counted */
        (void)adb__queue_finish(c, q, ADB_Q_DEFER, NULL, now, now + 5000, &fenced);
        return;
    }
    if (d.disabled) {
        adb__fmt(a.error, sizeof(a.error), "the destination is disabled");
        (void)adb__queue_finish(c, q, ADB_Q_HOLD, NULL, now, 0, &fenced);
        goto out;
    }
    int64_t retry_at = 0;
    st = adb__breaker_admit(p->h, c, &d, now, &admit, &retry_at);
    if (st == ADB_ERR_NOT_FOUND) {
        adb__fmt(a.error, sizeof(a.error), "the destination no longer exists");
        (void)adb__queue_finish(c, q, ADB_Q_FAIL, &a, now, 0, &fenced);
        goto out;
    }
    if (st != ADB_OK) {
        (void)adb__queue_finish(c, q, ADB_Q_DEFER, NULL, now, now + 5000, &fenced);
        goto out;
    }
    if (!admit) {
        /* disabled: held until enabled; open breaker: again when it may probe */
        if (retry_at == ADB_BREAKER_HOLD)
            (void)adb__queue_finish(c, q, ADB_Q_HOLD, NULL, now, 0, &fenced);
        else
            (void)adb__queue_finish(c, q, ADB_Q_DEFER, NULL, now, retry_at > now ? retry_at : now + 1000,
                                    &fenced);
        goto out;
    }
    if (!strcmp(d.type, "webhook") &&
        adb__webhook_keys_active(p->h, c, q->org, q->dest_id, now, &keys, &nkeys) != ADB_OK) {
        (void)adb__queue_finish(c, q, ADB_Q_DEFER, NULL, now, now + 5000, &fenced);
        goto out;
    }
    adb__item it = { .id = q->id, .org = q->org, .delivery_id = q->delivery_id, .body = q->body,
                     .body_len = q->body_len, .content_type = q->content_type, .payload = q->payload,
                     .attempt = q->attempt, .keys = keys, .nkeys = nkeys };
    if (adb__transport_send(p->h, &d, &it, &a) != ADB_OK && !a.error[0])
        adb__fmt(a.error, sizeof(a.error), "the attempt could not be made");
    now = adb__delivery_now_ms();
    /* health, the breaker, and on 410 or sustained failure the disable */
    (void)adb__health_record(p->h, c, &d, &a, now);
    if (a.ok) {
        how = ADB_Q_COMPLETE;
    } else {
        switch (adb__retry_next(d.config, q->attempt, &a, now, &next)) {
        case ADB_RETRY_AT: how = ADB_Q_RETRY; break;
        case ADB_RETRY_DISABLE: how = ADB_Q_HOLD; break;
        default: how = ADB_Q_FAIL; break;
        }
    }
    /* a lost claim (the lease ran out, another thread took the item) writes
     * nothing: the item is its new claimer's, with the same webhook-id */
    (void)adb__queue_finish(c, q, how, &a, now, next, &fenced);
out:
    adb__webhook_keys_free(keys, nkeys);
    adb__dest_free(&d);
}

static void *thread_main(void *arg)
{
    wthread *w = arg;
    struct adb__delivery_pool *p = w->pool;
    char claimer[128], host[64] = "";
    PGconn *c = NULL;
    long backoff = 200;

    gethostname(host, sizeof(host) - 1);
    adb__fmt(claimer, sizeof(claimer), "%s:%d/%d", host, (int)getpid(), w->index);
    atomic_fetch_add(&running_threads, 1);
    while (!atomic_load(&p->stopping)) {
        if (!c || PQstatus(c) != CONNECTION_OK) {
            PQfinish(c);
            if (!(c = connect_listen(p))) {
                struct pollfd pf = { .fd = p->stop_pipe[0], .events = POLLIN };
                poll(&pf, 1, (int)backoff);
                backoff = backoff < 5000 ? backoff * 2 : 5000;
                continue;
            }
            backoff = 200;
        }
        adb__qitem q;
        int n = 0;
        if (adb__queue_claim(c, claimer, adb__delivery_now_ms(), p->lease_ms, &q, 1, &n) != ADB_OK) {
            wait_wakeup(p, c, 500);
            continue;
        }
        if (n == 0) {
            wait_wakeup(p, c, p->poll_ms);
            continue;
        }
        work_item(p, c, &q);
        adb__qitem_free(&q);
    }
    PQfinish(c);
    adb__webhook_thread_end();
    atomic_fetch_sub(&running_threads, 1);
    return NULL;
}

adb__delivery_pool *adb__delivery_start(adb *h, const char *owner_conninfo, int n, int lease_ms,
                                        int poll_ms, char *err, size_t errlen)
{
    struct adb__delivery_pool *p = calloc(1, sizeof(*p));
    if (!p || !(p->conninfo = strdup(owner_conninfo)) || !(p->threads = calloc((size_t)n, sizeof(wthread)))) {
        adb__fmt(err, errlen, "out of memory");
        goto fail;
    }
    p->h = h;
    p->n = n;
    p->poll_ms = poll_ms > 0 ? poll_ms : POLL_DEFAULT_MS;
    p->lease_ms = lease_ms > 0 ? lease_ms : LEASE_DEFAULT_MS;
    atomic_store(&adb__webhook_timeout_cap_ms, p->lease_ms / 2 - 500);
    p->stop_pipe[0] = p->stop_pipe[1] = -1;
    if (pipe2(p->stop_pipe, O_CLOEXEC) != 0) {
        adb__fmt(err, errlen, "could not start the delivery threads: %s", strerror(errno));
        goto fail;
    }
    for (int i = 0; i < n; i++) {
        p->threads[i].pool = p;
        p->threads[i].index = i;
        if (pthread_create(&p->threads[i].tid, NULL, thread_main, &p->threads[i]) != 0) {
            adb__fmt(err, errlen, "could not start delivery thread %d", i);
            adb__delivery_stop(p);
            return NULL;
        }
        p->threads[i].started = true;
    }
    return p;
fail:
    if (p) {
        free(p->conninfo);
        free(p->threads);
        free(p);
    }
    return NULL;
}

void adb__delivery_stop(adb__delivery_pool *p)
{
    if (!p)
        return;
    atomic_store(&p->stopping, true);
    if (p->stop_pipe[1] >= 0 && write(p->stop_pipe[1], "x", 1) < 0) {
        /* the threads still see stopping at their next wake-up */
    }
    for (int i = 0; i < p->n; i++)
        if (p->threads[i].started)
            pthread_join(p->threads[i].tid, NULL);
    if (p->stop_pipe[0] >= 0)
        close(p->stop_pipe[0]);
    if (p->stop_pipe[1] >= 0)
        close(p->stop_pipe[1]);
    free(p->threads);
    free(p->conninfo);
    free(p);
}
