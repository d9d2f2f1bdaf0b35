/*
 * ratelimit.c - token buckets, local or shared through Redis.
 */
#include "ratelimit.h"
#include "../core/util.h"

#include <hiredis/hiredis.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SLOTS 1024
#define REDIS_RETRY_MS 5000

typedef struct bucket {
    char key[40];
    double tokens;
    double at_ms;   /* wall clock of the last refill */
} bucket;

struct adb_ratelimit {
    double rate;
    int burst;
    pthread_mutex_t mu;
    bucket b[SLOTS];
    /* Redis */
    char *url;
    redisContext *rc;
    double redis_down_until;
    bool redis_ok;
};

/* KEYS[1] bucket; ARGV rate/s, burst, now ms. Returns {allowed, tokens*1000}. */
static const char lua[] =
    "local t = redis.call('HMGET', KEYS[1], 'tokens', 'at')\n"
    "local rate, burst, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])\n"
    "local tokens, at = tonumber(t[1]) or burst, tonumber(t[2]) or now\n"
    "if now > at then tokens = math.min(burst, tokens + (now - at) / 1000 * rate) end\n"
    "local allowed = 0\n"
    "if tokens >= 1 then tokens = tokens - 1; allowed = 1 end\n"
    "redis.call('HSET', KEYS[1], 'tokens', tokens, 'at', math.max(now, at))\n"
    "redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)\n"
    "return {allowed, math.floor(tokens * 1000)}\n";

static double wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

adb_ratelimit *adb_ratelimit_new(double rate, int burst, const char *redis_url)
{
    adb_ratelimit *rl = calloc(1, sizeof(*rl));
    if (!rl)
        return NULL;
    rl->rate = rate;
    rl->burst = burst > 0 ? burst : 1;
    pthread_mutex_init(&rl->mu, NULL);
    rl->url = adb__strdup(redis_url);
    return rl;
}

void adb_ratelimit_free(adb_ratelimit *rl)
{
    if (!rl)
        return;
    if (rl->rc)
        redisFree(rl->rc);
    free(rl->url);
    pthread_mutex_destroy(&rl->mu);
    free(rl);
}

/* Connects to redis://[:password@]host[:port][/db] (or unix:///path). */
static redisContext *redis_connect(const char *url)
{
    struct timeval tv = { 1, 0 };
    char host[256] = "127.0.0.1", pass[256] = "";
    int port = 6379, db = 0;
    const char *p = url;
    redisContext *c;

    if (strncmp(p, "unix://", 7) == 0)
        return redisConnectUnixWithTimeout(p + 7, tv);
    if (strncmp(p, "redis://", 8) == 0)
        p += 8;
    const char *at = strchr(p, '@');
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        const char *pw = colon ? colon + 1 : p;
        adb__fmt(pass, sizeof(pass), "%.*s", (int)(at - pw), pw);
        p = at + 1;
    }
    size_t hl = strcspn(p, ":/");
    if (hl > 0 && hl < sizeof(host))
        adb__fmt(host, sizeof(host), "%.*s", (int)hl, p);
    p += hl;
    if (*p == ':') {
        port = atoi(p + 1) > 0 ? atoi(p + 1) : 6379;
        p += 1 + strspn(p + 1, "0123456789");
    }
    if (*p == '/')
        db = atoi(p + 1);
    c = redisConnectWithTimeout(host, port, tv);
    if (!c || c->err)
        return c;
    redisSetTimeout(c, tv);
    if (pass[0]) {
        redisReply *r = redisCommand(c, "AUTH %s", pass);
        freeReplyObject(r);
    }
    if (db > 0) {
        redisReply *r = redisCommand(c, "SELECT %d", db);
        freeReplyObject(r);
    }
    return c;
}

static bool take_redis(adb_ratelimit *rl, const char *key, adb_rl_decision *d)
{
    double now = wall_ms();
    char rkey[96], rate[32], burst[16], nows[32];
    redisReply *r;

    if (!rl->url || now < rl->redis_down_until)
        return false;
    if (!rl->rc || rl->rc->err) {
        if (rl->rc)
            redisFree(rl->rc);
        rl->rc = redis_connect(rl->url);
        if (!rl->rc || rl->rc->err) {
            rl->redis_ok = false;
            rl->redis_down_until = now + REDIS_RETRY_MS;
            return false;
        }
    }
    adb__fmt(rkey, sizeof(rkey), "auditdb:rl:%s", key);
    adb__fmt(rate, sizeof(rate), "%.6f", rl->rate);
    adb__fmt(burst, sizeof(burst), "%d", rl->burst);
    adb__fmt(nows, sizeof(nows), "%.0f", now);
    r = redisCommand(rl->rc, "EVAL %s 1 %s %s %s %s", lua, rkey, rate, burst, nows);
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
        freeReplyObject(r);
        rl->redis_ok = false;
        rl->redis_down_until = now + REDIS_RETRY_MS;
        if (rl->rc) {
            redisFree(rl->rc);
            rl->rc = NULL;
        }
        return false;
    }
    double tokens = (double)r->element[1]->integer / 1000.0;
    d->allowed = r->element[0]->integer == 1;
    d->remaining = (int)floor(tokens);
    d->shared = true;
    d->reset_s = (int)ceil((rl->burst - tokens) / rl->rate);
    d->retry_after_ms = d->allowed ? 0 : (int)ceil((1.0 - tokens) / rl->rate * 1000.0);
    freeReplyObject(r);
    rl->redis_ok = true;
    return true;
}

void adb_ratelimit_take(adb_ratelimit *rl, const char *key, adb_rl_decision *d)
{
    memset(d, 0, sizeof(*d));
    d->limit = rl ? rl->burst : 0;
    if (!rl || rl->rate <= 0) {
        d->allowed = true;
        return;
    }
    pthread_mutex_lock(&rl->mu);
    if (!take_redis(rl, key, d)) {
        unsigned h = 2166136261u;
        for (const char *p = key; *p; p++)
            h = (h ^ (unsigned char)*p) * 16777619u;
        bucket *b = &rl->b[h % SLOTS];
        double now = wall_ms();
        if (strcmp(b->key, key) != 0) {
            adb__fmt(b->key, sizeof(b->key), "%s", key);
            b->tokens = rl->burst;
            b->at_ms = now;
        }
        if (now > b->at_ms) {
            b->tokens = fmin(rl->burst, b->tokens + (now - b->at_ms) / 1000.0 * rl->rate);
            b->at_ms = now;
        }
        d->allowed = b->tokens >= 1;
        if (d->allowed)
            b->tokens -= 1;
        d->remaining = (int)floor(b->tokens);
        d->reset_s = (int)ceil((rl->burst - b->tokens) / rl->rate);
        d->retry_after_ms = d->allowed ? 0 : (int)ceil((1.0 - b->tokens) / rl->rate * 1000.0);
    }
    pthread_mutex_unlock(&rl->mu);
}

const char *adb_ratelimit_redis_state(adb_ratelimit *rl)
{
    if (!rl || !rl->url)
        return "not configured";
    return rl->redis_ok ? "up" : "down";
}
