/*
 * workers.c - a FIFO of whole requests and the threads that run them
 * (workers.h).
 */
#include "workers.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct adb_http_workers {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    adb_http_request *head, *tail;
    bool stopping;
    void (*run)(adb_http_request *req);
    char name[16];
    int n;
    pthread_t threads[];
};

static void *worker_main(void *arg)
{
    adb_http_workers *w = arg;

    pthread_setname_np(pthread_self(), w->name);
    for (;;) {
        pthread_mutex_lock(&w->mu);
        while (!w->head && !w->stopping)
            pthread_cond_wait(&w->cv, &w->mu);
        adb_http_request *req = w->head;
        if (req) {
            w->head = req->next_job;
            if (!w->head)
                w->tail = NULL;
        }
        pthread_mutex_unlock(&w->mu);
        if (!req)
            return NULL; /* stopping, and nothing left */
        w->run(req);
    }
}

adb_http_workers *adb_http_workers_start(int n, const char *name, void (*run)(adb_http_request *req))
{
    adb_http_workers *w = calloc(1, sizeof(*w) + (size_t)n * sizeof(pthread_t));

    if (!w)
        return NULL;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->run = run;
    snprintf(w->name, sizeof(w->name), "%s", name);
    while (w->n < n && pthread_create(&w->threads[w->n], NULL, worker_main, w) == 0)
        w->n++;
    if (w->n == 0) {
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
        free(w);
        return NULL;
    }
    return w;
}

void adb_http_workers_submit(adb_http_workers *w, adb_http_request *req)
{
    pthread_mutex_lock(&w->mu);
    req->next_job = NULL;
    if (w->tail)
        w->tail->next_job = req;
    else
        w->head = req;
    w->tail = req;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

void adb_http_workers_stop(adb_http_workers *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stopping = true;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    for (int i = 0; i < w->n; i++)
        pthread_join(w->threads[i], NULL);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
}
