/*
 * async.c - background report generation (async.h): one thread per report,
 * at most ADB_REPORT_ASYNC_MAX at a time in the process; the submitter waits
 * for the report's row (or its refusal) on a condition variable, so a bad
 * request is still a 400 of the request itself. Threads are counted, not
 * detached into nowhere: adb__report_async_stop waits for all of them.
 */
#include "async.h"
#include "../core/util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct job {
    adb *h;
    adb__report_request rq;
    char *org, *type, *format, *by;
    json_t *criteria, *custom;
    /* the handshake with the submitter (under mu) */
    bool started, finished, taken; /* taken: the submitter has its answer */
    adb_status st;
    char id[64], field[128], err[ADB_ERRMSG_MAX];
} job;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int running;       /* threads alive */
static bool stopping;

static bool job_should_stop(void *ud)
{
    (void)ud;
    pthread_mutex_lock(&mu);
    bool s = stopping;
    pthread_mutex_unlock(&mu);
    return s;
}

static const char *job_stop_reason(void *ud)
{
    return job_should_stop(ud) ? "interrupted: the server stopped while the report was computed"
                               : NULL;
}

static void job_started(void *ud, const char *report_id)
{
    job *j = ud;
    pthread_mutex_lock(&mu);
    adb__fmt(j->id, sizeof(j->id), "%s", report_id);
    j->started = true;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static void job_free(job *j)
{
    free(j->org);
    free(j->type);
    free(j->format);
    free(j->by);
    json_decref(j->criteria);
    json_decref(j->custom);
    free(j);
}

static void *job_main(void *arg)
{
    job *j = arg;
    adb__report_result r;
    char field[128] = "", err[ADB_ERRMSG_MAX] = "";
    adb_status st = adb__report_generate(j->h, &j->rq, &r, field, sizeof(field), err, sizeof(err));
    adb__report_result_free(&r);
    pthread_mutex_lock(&mu);
    j->finished = true;
    j->st = st;
    memcpy(j->field, field, sizeof(field));
    memcpy(j->err, err, sizeof(err));
    bool free_it = j->taken; /* else the submitter frees it once it has read it */
    running--;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    if (free_it)
        job_free(j);
    return NULL;
}

adb_status adb__report_async_submit(adb *h, const adb__report_request *rq, char report_id[64],
                                    char *field, size_t fieldlen, char *err, size_t errlen)
{
    job *j = calloc(1, sizeof(*j));
    if (!j) {
        adb__fmt(err, errlen, "out of memory");
        return ADB_ERR_NOMEM;
    }
    j->h = h;
    j->org = rq->org ? strdup(rq->org) : NULL;
    j->type = rq->type ? strdup(rq->type) : NULL;
    j->format = rq->format ? strdup(rq->format) : NULL;
    j->by = rq->generated_by ? strdup(rq->generated_by) : NULL;
    j->criteria = rq->criteria ? json_deep_copy(rq->criteria) : NULL;
    j->custom = rq->custom ? json_deep_copy(rq->custom) : NULL;
    if ((rq->org && !j->org) || (rq->type && !j->type) || (rq->format && !j->format) ||
        (rq->generated_by && !j->by) || (rq->criteria && !j->criteria) ||
        (rq->custom && !j->custom)) {
        job_free(j);
        adb__fmt(err, errlen, "out of memory");
        return ADB_ERR_NOMEM;
    }
    j->rq = (adb__report_request){ .org = j->org, .type = j->type, .criteria = j->criteria,
                                   .custom = j->custom, .format = j->format,
                                   .generated_by = j->by, .signer = rq->signer,
                                   .should_stop = job_should_stop, .ud = j,
                                   .started = job_started, .stop_reason = job_stop_reason };
    pthread_mutex_lock(&mu);
    if (stopping || running >= ADB_REPORT_ASYNC_MAX) {
        bool s = stopping;
        pthread_mutex_unlock(&mu);
        job_free(j);
        if (s)
            adb__fmt(err, errlen, "the server is stopping");
        else
            adb__fmt(err, errlen, "%d reports are being generated in the background already: "
                     "retry when one has ended", ADB_REPORT_ASYNC_MAX);
        return ADB_ERR_BUSY;
    }
    pthread_t t;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    running++;
    if (pthread_create(&t, &a, job_main, j) != 0) {
        running--;
        pthread_mutex_unlock(&mu);
        pthread_attr_destroy(&a);
        job_free(j);
        adb__fmt(err, errlen, "could not start the report's thread");
        return ADB_ERR_INTERNAL;
    }
    pthread_attr_destroy(&a);
    while (!j->started && !j->finished)
        pthread_cond_wait(&cv, &mu);
    adb_status st = ADB_OK;
    if (j->started) {
        /* its row exists: the answer is 202 whatever happens next */
        adb__fmt(report_id, 64, "%s", j->id);
    } else {
        /* refused before its row existed: the answer of the request */
        st = j->st;
        adb__fmt(field, fieldlen, "%s", j->field);
        adb__fmt(err, errlen, "%s", j->err);
    }
    bool finished = j->finished;
    j->taken = true;
    pthread_mutex_unlock(&mu);
    if (finished) /* the thread has ended without freeing it */
        job_free(j);
    return st;
}

void adb__report_async_stop(void)
{
    pthread_mutex_lock(&mu);
    stopping = true;
    while (running > 0)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
}

int adb__report_async_running(void)
{
    pthread_mutex_lock(&mu);
    int n = running;
    pthread_mutex_unlock(&mu);
    return n;
}
