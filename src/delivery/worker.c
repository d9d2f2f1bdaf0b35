/*
 * worker.c - the pool of delivery threads every `auditdb serve` runs
 * (docs/delivery.md, "Queue"). Each thread has its own connection as the
 * owner (fixed statements only, never a tenant's), LISTENs on
 * auditdb_delivery so that an enqueue wakes it within milliseconds, and
 * polls for retries that fall due. It claims one item at a time, asks the
 * breaker, sends, records health, and ends the item fenced by its claim id.
 */
#include "delivery.h"
#include "dest_cache.h"
#include "download.h"
#include "../core/util.h"
#include "../db/notify.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <openssl/crypto.h>

#define POLL_DEFAULT_MS 1000
#define LEASE_DEFAULT_MS 60000
#define CLAIM_BATCH 16          /* at most, per claim */
#define CLAIM_BATCH_DEFAULT 4

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
    int batch;              /* items claimed per round trip (AUDITDB_DELIVERY_CLAIM_BATCH) */
    long sweep_ms;          /* download files swept this often by thread 0 (0: never) */
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

/* Ends q without an attempt (a = NULL) or with a reason only. */
static void end_item(PGconn *c, const adb__qitem *q, adb__q_end how, const char *why, int64_t now,
                     int64_t next)
{
    adb__attempt a;
    bool fenced;
    memset(&a, 0, sizeof(a));
    a.retry_after_s = -1;
    if (why) {
        a.permanent = true;
        adb__fmt(a.error, sizeof(a.error), "%s", why);
    }
    (void)adb__queue_finish(c, q, how, why ? &a : NULL, now, next, &fenced);
}

/* Why an item failed without an attempt, when its destination cannot be
 * loaded (st from adb__dcache_load); NULL: try again later. */
static const char *load_failure(adb_status st)
{
    if (st == ADB_ERR_NOT_FOUND)
        return "the destination no longer exists";
    if (st == ADB_ERR_CONFIG)
        /* not re-deferred forever: failed with the reason, replayable with
         * `retry` once the destination's secrets are entered again */
        return "the destination's sealed secrets do not open (sealed for another destination or"
               " organization, changed in the database, or the master key changed): enter them"
               " again (PUT the destination), then retry the delivery";
    return NULL;
}

/* One claimed item, start to end. */
static void work_item(struct adb__delivery_pool *p, PGconn *c, adb__dest_cache *dc, adb__qitem *q)
{
    adb__attempt a;
    adb__q_end how;
    int64_t next = 0, now = adb__delivery_now_ms();
    bool fenced, admit = true;
    adb_status st;
    adb__signing_key keys[ADB_DCACHE_KEYS_MAX];
    size_t nkeys = 0;
    char version[40] = "";
    const char *why;

    memset(&a, 0, sizeof(a));
    a.retry_after_s = -1;
    adb__dcache_entry *e = adb__dcache_find(dc, q->org, q->dest_id);
    if (!e && (st = adb__dcache_load(dc, p->h, c, q->org, q->dest_id, now, &e)) != ADB_OK) {
        if ((why = load_failure(st)))
            end_item(c, q, ADB_Q_FAIL, why, now, 0);
        else   /* the database: try again later, not counted */
            end_item(c, q, ADB_Q_DEFER, NULL, now, now + 5000);
        return;
    }
    int64_t retry_at = 0;
    /* the breaker's row, the destination's disabled flag and its version in
     * one statement; a disabled destination is held here */
    bool closed = false;
    st = adb__breaker_admit_v(p->h, c, &e->dest, now, &admit, &retry_at, version, sizeof(version),
                              &closed);
    if (st == ADB_ERR_NOT_FOUND) {
        adb__dcache_drop(dc, c, q->org, q->dest_id);
        end_item(c, q, ADB_Q_FAIL, "the destination no longer exists", now, 0);
        return;
    }
    if (st != ADB_OK) {
        end_item(c, q, ADB_Q_DEFER, NULL, now, now + 5000);
        return;
    }
    if (strcmp(version, e->version) != 0 &&
        (st = adb__dcache_load(dc, p->h, c, q->org, q->dest_id, now, &e)) != ADB_OK) {
        /* changed since it was read: read again (admission used the copy) */
        if ((why = load_failure(st)))
            end_item(c, q, ADB_Q_FAIL, why, now, 0);
        else
            end_item(c, q, ADB_Q_DEFER, NULL, now, now + 5000);
        return;
    }
    if (!admit) {
        /* disabled: held until enabled; open breaker: again when it may probe */
        if (retry_at == ADB_BREAKER_HOLD)
            end_item(c, q, ADB_Q_HOLD, NULL, now, 0);
        else
            end_item(c, q, ADB_Q_DEFER, NULL, now, retry_at > now ? retry_at : now + 1000);
        return;
    }
    const adb__dest *d = &e->dest;
    bool webhook = !strcmp(d->type, "webhook");
    if (webhook)
        nkeys = adb__dcache_keys(e, now, keys, ADB_DCACHE_KEYS_MAX);
    adb__item it = { .id = q->id, .org = q->org, .delivery_id = q->delivery_id, .body = q->body,
                     .body_len = q->body_len, .content_type = q->content_type, .payload = q->payload,
                     .attempt = q->attempt, .keys = webhook ? keys : NULL, .nkeys = nkeys };
    if (adb__transport_send(p->h, d, &it, &a) != ADB_OK && !a.error[0])
        adb__fmt(a.error, sizeof(a.error), "the attempt could not be made");
    OPENSSL_cleanse(keys, sizeof(keys));
    now = adb__delivery_now_ms();
    /* health, the breaker, and on 410 or sustained failure the disable; a
     * success while the breaker was closed changes no state: kept and
     * recorded with the thread's others every 250 ms (one statement) */
    if (a.ok && closed && !a.gone) {
        adb__dcache_success(e, a.elapsed_ms < 0 ? 0 : a.elapsed_ms > 3.6e6 ? 3600000
                                                  : (int)(a.elapsed_ms + 0.5), now);
    } else {
        adb__dcache_health_flush(e, p->h, c, now);   /* this thread's earlier successes first */
        (void)adb__health_record(p->h, c, d, &a, now);
    }
    if (a.ok) {
        how = ADB_Q_COMPLETE;
    } else {
        switch (adb__retry_next(d->config, q->attempt, &a, now, &next)) {
        case ADB_RETRY_AT: how = ADB_Q_RETRY; break;
        case ADB_RETRY_DISABLE: how = ADB_Q_HOLD; break;
        default: how = ADB_Q_FAIL; break;
        }
    }
    /* a lost claim (the lease ran out, another thread took the item) writes
     * nothing: the item is its new claimer's, with the same webhook-id */
    (void)adb__queue_finish(c, q, how, &a, now, next, &fenced);
}

static void *thread_main(void *arg)
{
    wthread *w = arg;
    struct adb__delivery_pool *p = w->pool;
    char claimer[128], host[64] = "";
    PGconn *c = NULL;
    long backoff = 200;
    int64_t last_sweep = 0;

    gethostname(host, sizeof(host) - 1);
    adb__fmt(claimer, sizeof(claimer), "%s:%d/%d", host, (int)getpid(), w->index);
    adb__dest_cache *dc = calloc(1, sizeof(*dc));
    if (!dc)
        return NULL;
    atomic_fetch_add(&running_threads, 1);
    while (!atomic_load(&p->stopping)) {
        if (!c || PQstatus(c) != CONNECTION_OK) {
            PQfinish(c);
            adb__dcache_clear(dc, NULL);   /* uses not written: lost with the connection */
            if (!(c = connect_listen(p))) {
                struct pollfd pf = { .fd = p->stop_pipe[0], .events = POLLIN };
                poll(&pf, 1, (int)backoff);
                backoff = backoff < 5000 ? backoff * 2 : 5000;
                continue;
            }
            backoff = 200;
        }
        if (w->index == 0 && p->sweep_ms > 0) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            int64_t mono = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
            if (mono - last_sweep >= p->sweep_ms) {
                int removed = 0;
                last_sweep = mono;
                (void)adb__download_sweep(p->h, c, 100, &removed);
            }
        }
        adb__qitem q[CLAIM_BATCH];
        int n = 0;
        int64_t claimed = adb__delivery_now_ms();
        if (adb__queue_claim(c, claimer, claimed, p->lease_ms, q, p->batch, &n) != ADB_OK) {
            adb__pg_wait_notify(c, p->stop_pipe[0], 500);
            continue;
        }
        if (n == 0) {
            adb__dcache_health_due(dc, p->h, c, adb__delivery_now_ms(), true);
            adb__dcache_flush(dc, c, adb__delivery_now_ms(), true);
            adb__pg_wait_notify(c, p->stop_pipe[0], p->poll_ms);
            continue;
        }
        for (int i = 0; i < n; i++) {
            /* an item of the batch starts only while its lease has more than
             * three quarters left (an attempt takes at most half a lease), so
             * no other thread can claim it while it is sent; later ones are
             * put back, due now, not counted */
            int64_t now = adb__delivery_now_ms();
            if (i > 0 && (atomic_load(&p->stopping) || now - claimed > p->lease_ms / 10))
                end_item(c, &q[i], ADB_Q_DEFER, NULL, now, now);
            else
                work_item(p, c, dc, &q[i]);
            adb__qitem_free(&q[i]);
        }
        adb__dcache_health_due(dc, p->h, c, adb__delivery_now_ms(), false);
        adb__dcache_flush(dc, c, adb__delivery_now_ms(), false);
    }
    if (c && PQstatus(c) == CONNECTION_OK)
        adb__dcache_health_due(dc, p->h, c, adb__delivery_now_ms(), true);
    adb__dcache_clear(dc, c && PQstatus(c) == CONNECTION_OK ? c : NULL);
    free(dc);
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
    {
        long long b = CLAIM_BATCH_DEFAULT;
        const char *v = getenv("AUDITDB_DELIVERY_CLAIM_BATCH");
        if (v && !adb__parse_int(v, 1, CLAIM_BATCH, &b))
            b = CLAIM_BATCH_DEFAULT;
        p->batch = (int)b;
        long long sw = 60000;
        v = getenv("AUDITDB_DOWNLOAD_SWEEP_MS");
        if (v && !adb__parse_int(v, 0, 86400000, &sw))
            sw = 60000;
        p->sweep_ms = (long)sw;
    }
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
