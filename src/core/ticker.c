/*
 * ticker.c - see ticker.h.
 */
#include "ticker.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

struct adb__ticker {
    pthread_mutex_t mu;
    pthread_cond_t wake; /* signalled by stop */
    bool stopping;
    int interval_s;
    void (*fn)(void *);
    void *arg;
    pthread_t thread;
};

static void *run(void *arg)
{
    adb__ticker *t = arg;

    pthread_mutex_lock(&t->mu);
    while (!t->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += t->interval_s;
        while (!t->stopping && pthread_cond_timedwait(&t->wake, &t->mu, &until) != ETIMEDOUT)
            ;
        if (t->stopping)
            break;
        pthread_mutex_unlock(&t->mu); /* fn may take long: stop must not wait on the lock */
        t->fn(t->arg);
        pthread_mutex_lock(&t->mu);
    }
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

adb__ticker *adb__ticker_start(int interval_s, void (*fn)(void *), void *arg)
{
    adb__ticker *t;

    if (interval_s <= 0 || !fn || !(t = calloc(1, sizeof(*t))))
        return NULL;
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->wake, NULL);
    t->interval_s = interval_s;
    t->fn = fn;
    t->arg = arg;
    if (pthread_create(&t->thread, NULL, run, t) != 0) {
        pthread_cond_destroy(&t->wake);
        pthread_mutex_destroy(&t->mu);
        free(t);
        return NULL;
    }
    return t;
}

void adb__ticker_stop(adb__ticker *t)
{
    if (!t)
        return;
    pthread_mutex_lock(&t->mu);
    t->stopping = true;
    pthread_cond_signal(&t->wake);
    pthread_mutex_unlock(&t->mu);
    pthread_join(t->thread, NULL);
    pthread_cond_destroy(&t->wake);
    pthread_mutex_destroy(&t->mu);
    free(t);
}
