/*
 * published.c - the engine serve runs, for the scrape (published.h).
 */
#include "published.h"
#include "../core/util.h"

#include <pthread.h>
#include <string.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static adb__detect *current;
static long long last_evaluated; /* at last_ms */
static double last_ms;

void adb__detect_publish(adb__detect *d)
{
    pthread_mutex_lock(&mu);
    current = d;
    last_evaluated = 0;
    last_ms = adb__now_ms();
    pthread_mutex_unlock(&mu);
}

bool adb__detect_figures_get(adb__detect_figures *out)
{
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&mu);
    bool on = current != NULL;
    if (on) {
        adb__detect_stats_get(current, &out->s);
        double now = adb__now_ms();
        if (now > last_ms && out->s.evaluated >= last_evaluated)
            out->events_per_s = (double)(out->s.evaluated - last_evaluated) * 1000.0 / (now - last_ms);
        last_evaluated = out->s.evaluated;
        last_ms = now;
    }
    pthread_mutex_unlock(&mu);
    return on;
}
