/*
 * health_history.c - a fixed ring of recent health check results
 * (health_history.h): the oldest is overwritten, so memory is constant.
 */
#include "health_history.h"
#include "../core/util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct adb_http_health_history {
    pthread_mutex_t mu;
    size_t next, count;
    adb_health_sample ring[ADB_HEALTH_HISTORY_MAX];
};

adb_http_health_history *adb_http_health_history_new(void)
{
    adb_http_health_history *h = calloc(1, sizeof(*h));

    if (h)
        pthread_mutex_init(&h->mu, NULL);
    return h;
}

void adb_http_health_history_free(adb_http_health_history *h)
{
    if (!h)
        return;
    pthread_mutex_destroy(&h->mu);
    free(h);
}

void adb_http_health_record(adb_http_health_history *h, const char *component, const char *status,
                            double response_ms)
{
    struct timespec ts;
    adb_health_sample s;

    if (!h)
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    s.at_ms = (double)ts.tv_sec * 1000.0 + (double)(ts.tv_nsec / 1000000L);
    adb__fmt(s.component, sizeof(s.component), "%s", component);
    adb__fmt(s.status, sizeof(s.status), "%s", status);
    s.response_ms = response_ms;
    pthread_mutex_lock(&h->mu);
    h->ring[h->next] = s;
    h->next = (h->next + 1) % ADB_HEALTH_HISTORY_MAX;
    if (h->count < ADB_HEALTH_HISTORY_MAX)
        h->count++;
    pthread_mutex_unlock(&h->mu);
}

adb_health_sample *adb_http_health_samples(adb_http_health_history *h, size_t *n)
{
    adb_health_sample *out = NULL;

    *n = 0;
    if (!h)
        return NULL;
    pthread_mutex_lock(&h->mu);
    if (h->count && (out = malloc(h->count * sizeof(*out)))) {
        size_t first = (h->next + ADB_HEALTH_HISTORY_MAX - h->count) % ADB_HEALTH_HISTORY_MAX;
        for (size_t i = 0; i < h->count; i++)
            out[i] = h->ring[(first + i) % ADB_HEALTH_HISTORY_MAX];
        *n = h->count;
    }
    pthread_mutex_unlock(&h->mu);
    return out;
}
