/*
 * pull.c - answers filled by pump threads while the client reads (pull.h).
 */
#include "pull.h"
#include "../core/util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK_SIZE (64 * 1024)

typedef struct pull {
    adb_http_pumps *pumps;
    adb_http_state *http;   /* the server's: resumes go through it */
    struct MHD_Connection *conn;
    adb__buf buf;           /* bytes made, from off on not yet given */
    size_t off;
    int state;              /* 1: more may follow, 0: end, -1: failed */
    adb_http_pull_fill fill;
    void *ctx;
    void (*ctx_free)(void *ctx);
    struct pull *next;      /* the pumps' queue */
} pull;

struct adb_http_pumps {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pull *head, *tail;
    bool stopping, joined;
    atomic_int open;        /* answers not yet freed */
    int n;
    pthread_t threads[16];
};

static void *pump_main(void *arg)
{
    adb_http_pumps *p = arg;

    pthread_setname_np(pthread_self(), "adb-pump");
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (!p->head && !p->stopping)
            pthread_cond_wait(&p->cv, &p->mu);
        pull *job = p->head;
        if (job && !(p->head = job->next))
            p->tail = NULL;
        pthread_mutex_unlock(&p->mu);
        if (!job)
            return NULL;
        /* the connection is suspended: the buffer is this thread's alone */
        job->buf.len = 0;
        job->off = 0;
        job->state = job->fill(job->ctx, &job->buf);
        if (job->buf.oom)
            job->state = -1;
        adb_http_resume(job->http, job->conn); /* job may be freed from here on */
    }
}

adb_http_pumps *adb_http_pumps_start(int threads)
{
    adb_http_pumps *p = calloc(1, sizeof(*p));

    if (!p)
        return NULL;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    if (threads > 16)
        threads = 16;
    while (p->n < threads && pthread_create(&p->threads[p->n], NULL, pump_main, p) == 0)
        p->n++;
    if (p->n == 0) {
        adb_http_pumps_free(p);
        return NULL;
    }
    return p;
}

void adb_http_pumps_stop(adb_http_pumps *p)
{
    if (!p || p->joined)
        return;
    pthread_mutex_lock(&p->mu);
    p->stopping = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->n; i++)
        pthread_join(p->threads[i], NULL);
    p->joined = true;
}

void adb_http_pumps_free(adb_http_pumps *p)
{
    if (!p)
        return;
    adb_http_pumps_stop(p);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
}

/* libmicrohttpd's content reader, on the polling thread. */
static ssize_t reader(void *cls, uint64_t pos, char *out, size_t max)
{
    pull *j = cls;

    (void)pos;
    if (j->off < j->buf.len) {
        size_t n = j->buf.len - j->off;
        if (n > max)
            n = max;
        memcpy(out, j->buf.p + j->off, n);
        j->off += n;
        return (ssize_t)n;
    }
    if (j->state == 0)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (j->state < 0)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    adb_http_pumps *p = j->pumps;
    pthread_mutex_lock(&p->mu);
    if (p->stopping) {
        pthread_mutex_unlock(&p->mu);
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    /* suspended before it is queued: the pump's resume always follows */
    MHD_suspend_connection(j->conn);
    j->next = NULL;
    if (p->tail)
        p->tail->next = j;
    else
        p->head = j;
    p->tail = j;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return 0;
}

static void pull_free(void *cls)
{
    pull *j = cls;
    atomic_fetch_sub(&j->pumps->open, 1);
    if (j->ctx_free)
        j->ctx_free(j->ctx);
    adb__buf_free(&j->buf);
    free(j);
}

int adb_http_send_pull(adb_http_request *req, unsigned status, uint64_t size,
                       const char *content_type, const char *disposition,
                       adb_http_pull_fill fill, void *ctx, void (*ctx_free)(void *ctx))
{
    adb_http_pumps *p = req->state->pumps;
    pull *j = p ? calloc(1, sizeof(*j)) : NULL;

    if (!j) {
        if (ctx_free)
            ctx_free(ctx);
        return -1;
    }
    if (atomic_fetch_add(&p->open, 1) >= ADB_HTTP_PULLS_MAX) {
        atomic_fetch_sub(&p->open, 1);
        free(j);
        if (ctx_free)
            ctx_free(ctx);
        return -2;
    }
    j->pumps = p;
    j->http = req->state;
    j->conn = req->conn;
    j->fill = fill;
    j->ctx = ctx;
    j->ctx_free = ctx_free;
    j->state = fill(ctx, &j->buf);
    if (j->state < 0 || j->buf.oom) {
        pull_free(j);
        return -1;
    }
    struct MHD_Response *resp = MHD_create_response_from_callback(size, BLOCK_SIZE, reader, j, pull_free);
    if (!resp) {
        pull_free(j);
        return -1;
    }
    MHD_add_response_header(resp, "Content-Type", content_type);
    if (disposition)
        MHD_add_response_header(resp, "Content-Disposition", disposition);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    adb_http_keep_response(req, status, resp);
    return 1;
}
