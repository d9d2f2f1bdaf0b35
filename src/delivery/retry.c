/*
 * retry.c - when to try a failed delivery again (docs/delivery.md,
 * "Retries"). By default the Standard Webhooks 1.0 example schedule: ten
 * attempts, the last 75 h 35 min 5 s after the first, each delay stretched
 * or shrunk by up to 10 % of random jitter. A destination's retryConfig
 * {maxRetries, backoffMultiplier, maxBackoffDelay} replaces it with an
 * exponential schedule. Pure code: no database, no clock of its own.
 */
#include "delivery.h"

#include <math.h>
#include <openssl/rand.h>
#include <string.h>

/* delay before attempt n+1 after attempt n failed (index n-1), seconds */
static const int64_t standard_schedule_s[] = {
    5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 14 * 3600, 20 * 3600, 24 * 3600,
};
#define STANDARD_ATTEMPTS 10   /* the first and nine retries */
#define JITTER 0.10            /* +-10 % of each delay */
#define RETRY_AFTER_MAX_S (24 * 3600) /* a peer's Retry-After is honoured up to a day */
#define RETRY_BASE_MS 1000     /* retryConfig's first delay */
#define RETRIES_MAX 100

int64_t adb__retry_standard_delay_ms(int attempt)
{
    if (attempt < 1 || attempt >= STANDARD_ATTEMPTS)
        return -1;
    return standard_schedule_s[attempt - 1] * 1000;
}

/* a uniform double in [-1, 1] from the OpenSSL RNG */
static double unit_jitter(void)
{
    uint32_t r = 0;
    if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
        return 0.0;
    return (double)r / (double)UINT32_MAX * 2.0 - 1.0;
}

/* the destination's retryConfig, if it names one: true with its values */
static bool retry_config(const json_t *cfg, int *max_retries, double *mult, int64_t *max_delay_ms)
{
    const json_t *rc = json_object_get(cfg, "retryConfig");
    if (!rc) {
        const json_t *wh = json_object_get(cfg, "webhook");
        rc = json_object_get(wh, "retryConfig");
    }
    if (!json_is_object(rc))
        return false;
    const json_t *m = json_object_get(rc, "maxRetries"), *b = json_object_get(rc, "backoffMultiplier"),
                 *d = json_object_get(rc, "maxBackoffDelay");
    if (!json_is_number(m) || !json_is_number(b) || !json_is_number(d))
        return false;
    double mr = json_number_value(m), bm = json_number_value(b), md = json_number_value(d);
    if (!(mr >= 0 && mr <= RETRIES_MAX) || !(bm >= 1 && bm <= 100) || !(md > 0 && md <= 7 * 86400e3))
        return false;
    *max_retries = (int)mr;
    *mult = bm;
    *max_delay_ms = (int64_t)md;   /* milliseconds, as the client's other delays */
    return true;
}

adb__retry_verdict adb__retry_next(const json_t *dest_config, int attempt, const adb__attempt *a,
                                   int64_t now_ms, int64_t *next_ms)
{
    int64_t delay;
    int max_retries;
    double mult;
    int64_t max_delay;

    *next_ms = 0;
    if (a->gone || a->http_status == 410)
        return ADB_RETRY_DISABLE;
    if (a->permanent)
        return ADB_RETRY_GIVE_UP;
    if (retry_config(dest_config, &max_retries, &mult, &max_delay)) {
        if (attempt > max_retries)
            return ADB_RETRY_GIVE_UP;
        double d = RETRY_BASE_MS * pow(mult, attempt - 1);
        delay = d > (double)max_delay ? max_delay : (int64_t)d;
    } else {
        delay = adb__retry_standard_delay_ms(attempt);
        if (delay < 0)
            return ADB_RETRY_GIVE_UP;
    }
    delay += (int64_t)((double)delay * JITTER * unit_jitter());
    /* the peer asked for a time: honoured, within a day */
    if (a->retry_after_s >= 0) {
        int64_t ra = (a->retry_after_s > RETRY_AFTER_MAX_S ? RETRY_AFTER_MAX_S : a->retry_after_s) * 1000;
        if (ra > delay)
            delay = ra;
    }
    if (delay < 0)
        delay = 0;
    *next_ms = now_ms + delay;
    return ADB_RETRY_AT;
}

bool adb__retry_status_permanent(int http_status)
{
    /* 2xx is success; 3xx fails for good (no redirect followed: the URL is
     * to be fixed); 4xx other than request timeout, conflict, too early and
     * too many requests is the request's fault and would fail again */
    if (http_status >= 300 && http_status < 400)
        return true;
    if (http_status >= 400 && http_status < 500)
        return !(http_status == 408 || http_status == 409 || http_status == 425 || http_status == 429);
    return false;
}
