/*
 * ratelimit.c - token buckets, local or shared through Redis.
 */
#include "ratelimit.h"
#include "../core/util.h"

#include <hiredis/hiredis.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SLOTS 1024
#define REDIS_RETRY_MS 5000 /* after a failure, Redis is left alone this long */
#define REDIS_TIMEOUT_MS 250 /* to connect, and for each command */
#define POOL_MAX 16         /* idle connections kept */

typedef struct bucket {
    char key[40];
    double tokens;
    double at_ms;   /* wall clock of the last refill */
} bucket;

/*
 * Locks. mu guards the local buckets; pool_mu guards the idle Redis
 * connections and Redis's state. Neither is held across a round trip: a
 * request takes an idle connection (or opens one), talks to Redis on its own
 * and gives the connection back, so a slow Redis delays only the requests
 * that are waiting for it, by REDIS_TIMEOUT_MS at most.
 */
struct adb_ratelimit {
    double rate;
    int burst;
    pthread_mutex_t mu;
    bucket b[SLOTS];
    /* Redis */
    char *url;
    pthread_mutex_t pool_mu;
    redisContext *idle[POOL_MAX];
    int nidle;
    char sha[48];            /* the script's SHA-1, once loaded */
    double redis_down_until; /* wall ms */
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

static void describe(const adb_ratelimit *rl, double tokens, adb_rl_decision *d);

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
    pthread_mutex_init(&rl->pool_mu, NULL);
    rl->url = redis_url && *redis_url ? adb__strdup(redis_url) : NULL;
    return rl;
}

void adb_ratelimit_free(adb_ratelimit *rl)
{
    if (!rl)
        return;
    for (int i = 0; i < rl->nidle; i++)
        redisFree(rl->idle[i]);
    free(rl->url);
    pthread_mutex_destroy(&rl->mu);
    pthread_mutex_destroy(&rl->pool_mu);
    free(rl);
}

/* A reply that is an error, as text for err (never the URL: it may hold a password). */
static bool reply_failed(redisContext *c, redisReply *r, char *err, size_t errlen)
{
    if (!r) {
        adb__fmt(err, errlen, "%s", c->errstr[0] ? c->errstr : "no reply");
        return true;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        adb__fmt(err, errlen, "%.*s", (int)r->len, r->str);
        return true;
    }
    return false;
}

/* Connects to redis://[[user]:password@]host[:port][/db] (or unix:///path),
 * authenticates, selects the database and loads the script (its SHA-1 into
 * sha). NULL with err on any failure. */
static redisContext *redis_connect(const char *url, char sha[48], char *err, size_t errlen)
{
    struct timeval tv = { 0, REDIS_TIMEOUT_MS * 1000 };
    char host[256] = "127.0.0.1", user[128] = "", pass[256] = "";
    int port = 6379, db = 0;
    const char *p = url;
    redisContext *c;
    redisReply *r;

    if (strncmp(p, "unix://", 7) == 0) {
        c = redisConnectUnixWithTimeout(p + 7, tv);
    } else {
        if (strncmp(p, "redis://", 8) == 0)
            p += 8;
        const char *at = strchr(p, '@');
        if (at) {
            const char *colon = memchr(p, ':', (size_t)(at - p));
            if (colon) {
                adb__fmt(user, sizeof(user), "%.*s", (int)(colon - p), p);
                adb__fmt(pass, sizeof(pass), "%.*s", (int)(at - colon - 1), colon + 1);
            } else {
                adb__fmt(pass, sizeof(pass), "%.*s", (int)(at - p), p);
            }
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
    }
    if (!c || c->err) {
        adb__fmt(err, errlen, "could not connect to Redis: %s", c ? c->errstr : "out of memory");
        if (c)
            redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    if (pass[0]) {
        r = user[0] ? redisCommand(c, "AUTH %s %s", user, pass) : redisCommand(c, "AUTH %s", pass);
        bool bad = reply_failed(c, r, err, errlen);
        freeReplyObject(r);
        if (bad)
            goto fail;
    }
    if (db > 0) {
        r = redisCommand(c, "SELECT %d", db);
        bool bad = reply_failed(c, r, err, errlen);
        freeReplyObject(r);
        if (bad)
            goto fail;
    }
    r = redisCommand(c, "SCRIPT LOAD %s", lua);
    if (reply_failed(c, r, err, errlen) || r->type != REDIS_REPLY_STRING || r->len >= 48) {
        if (r && r->type != REDIS_REPLY_ERROR)
            adb__fmt(err, errlen, "unexpected reply to SCRIPT LOAD");
        freeReplyObject(r);
        goto fail;
    }
    memcpy(sha, r->str, r->len);
    sha[r->len] = '\0';
    freeReplyObject(r);
    return c;
fail:
    redisFree(c);
    return NULL;
}

/* An idle connection (*reused), or a new one (outside the lock); NULL with
 * *resting while Redis is left alone after a failure (unless force), or with err. */
static redisContext *pool_get(adb_ratelimit *rl, bool force, bool *resting, bool *reused, char *err,
                              size_t errlen)
{
    redisContext *c = NULL;
    char sha[48];

    pthread_mutex_lock(&rl->pool_mu);
    *resting = !force && wall_ms() < rl->redis_down_until;
    if (!*resting && rl->nidle > 0)
        c = rl->idle[--rl->nidle];
    pthread_mutex_unlock(&rl->pool_mu);
    *reused = c != NULL;
    if (*resting || c)
        return c;
    c = redis_connect(rl->url, sha, err, errlen);
    if (c) {
        pthread_mutex_lock(&rl->pool_mu);
        memcpy(rl->sha, sha, sizeof(sha));
        pthread_mutex_unlock(&rl->pool_mu);
    }
    return c;
}

/* Frees c and every idle connection: after a failure they are suspect
 * (a restarted Redis has closed them all). */
static void pool_drain(adb_ratelimit *rl, redisContext *c)
{
    redisContext *old[POOL_MAX];
    int n;

    pthread_mutex_lock(&rl->pool_mu);
    n = rl->nidle;
    memcpy(old, rl->idle, (size_t)n * sizeof(old[0]));
    rl->nidle = 0;
    pthread_mutex_unlock(&rl->pool_mu);
    for (int i = 0; i < n; i++)
        redisFree(old[i]);
    if (c)
        redisFree(c);
}

/* After a round trip: c goes back to the pool when Redis answered; when it
 * did not, c and the idle connections are closed and Redis is left alone for
 * REDIS_RETRY_MS. */
static void pool_put(adb_ratelimit *rl, redisContext *c, bool up)
{
    pthread_mutex_lock(&rl->pool_mu);
    if (up) {
        rl->redis_down_until = 0;
        if (c && rl->nidle < POOL_MAX) {
            rl->idle[rl->nidle++] = c;
            c = NULL;
        }
    } else {
        rl->redis_down_until = wall_ms() + REDIS_RETRY_MS;
    }
    pthread_mutex_unlock(&rl->pool_mu);
    if (!up)
        pool_drain(rl, c);
    else if (c)
        redisFree(c);
}

/* One command on a pooled connection: send(c, arg) returns the reply, which
 * ok(reply) accepts. A pooled connection that fails is replaced by a fresh one
 * once (Redis may have restarted since it was opened). NULL when Redis did
 * not answer (err says why; Redis is then left alone, see pool_put). */
static redisReply *roundtrip(adb_ratelimit *rl, bool force, redisReply *(*send)(redisContext *, void *),
                             bool (*ok)(const redisReply *), void *arg, char *err, size_t errlen)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        bool resting, reused;
        redisContext *c = pool_get(rl, force, &resting, &reused, err, errlen);
        if (!c) {
            if (!resting)
                pool_put(rl, NULL, false);
            return NULL;
        }
        redisReply *r = send(c, arg);
        if (!reply_failed(c, r, err, errlen) && ok(r)) {
            pool_put(rl, c, true);
            return r;
        }
        if (r && r->type != REDIS_REPLY_ERROR)
            adb__fmt(err, errlen, "unexpected reply from Redis");
        freeReplyObject(r);
        if (attempt == 0 && reused && c->err) {
            pool_drain(rl, c);
            continue;
        }
        pool_put(rl, c, false);
        return NULL;
    }
    return NULL;
}

typedef struct take_args {
    adb_ratelimit *rl;
    const char *rkey, *rate, *burst, *now;
} take_args;

static redisReply *send_take(redisContext *c, void *arg)
{
    take_args *a = arg;
    char sha[48];
    redisReply *r;

    pthread_mutex_lock(&a->rl->pool_mu);
    memcpy(sha, a->rl->sha, sizeof(sha));
    pthread_mutex_unlock(&a->rl->pool_mu);
    r = redisCommand(c, "EVALSHA %s 1 %s %s %s %s", sha, a->rkey, a->rate, a->burst, a->now);
    if (r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0) {
        /* the script cache was flushed: send the script itself (Redis keeps it again) */
        freeReplyObject(r);
        r = redisCommand(c, "EVAL %s 1 %s %s %s %s", lua, a->rkey, a->rate, a->burst, a->now);
    }
    return r;
}

static bool take_ok(const redisReply *r)
{
    return r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[0]->type == REDIS_REPLY_INTEGER &&
           r->element[1]->type == REDIS_REPLY_INTEGER;
}

static bool take_redis(adb_ratelimit *rl, const char *key, adb_rl_decision *d)
{
    char rkey[96], rate[32], burst[16], now[32], err[160];
    take_args a = { rl, rkey, rate, burst, now };

    if (!rl->url)
        return false;
    adb__fmt(rkey, sizeof(rkey), "auditdb:rl:%s", key);
    adb__fmt(rate, sizeof(rate), "%.6f", rl->rate);
    adb__fmt(burst, sizeof(burst), "%d", rl->burst);
    adb__fmt(now, sizeof(now), "%.0f", wall_ms());
    redisReply *r = roundtrip(rl, false, send_take, take_ok, &a, err, sizeof(err));
    if (!r)
        return false;
    d->allowed = r->element[0]->integer == 1;
    d->shared = true;
    describe(rl, (double)r->element[1]->integer / 1000.0, d);
    freeReplyObject(r);
    return true;
}

bool adb_ratelimit_enabled(const adb_ratelimit *rl)
{
    return rl && rl->rate > 0;
}

/* Fills d's figures from the tokens left after the decision. The policy's
 * window is the time an empty bucket takes to fill: a client that sends at
 * most `burst` requests in any such window is not refused. */
static void describe(const adb_ratelimit *rl, double tokens, adb_rl_decision *d)
{
    double to_full_s = fmax(0.0, rl->burst - tokens) / rl->rate;

    d->limit = rl->burst;
    d->window_s = (int)fmax(1.0, ceil(rl->burst / rl->rate));
    d->remaining = (int)floor(fmax(0.0, tokens));
    /* both rounded up: a client that waits until then finds the bucket full */
    d->reset_s = (int)ceil(to_full_s);
    d->reset_at = (long long)ceil(wall_ms() / 1000.0 + to_full_s);
    d->retry_after_ms = d->allowed ? 0 : (int)ceil((1.0 - tokens) / rl->rate * 1000.0);
}

void adb_ratelimit_take(adb_ratelimit *rl, const char *key, adb_rl_decision *d)
{
    memset(d, 0, sizeof(*d));
    if (!adb_ratelimit_enabled(rl)) {
        d->allowed = true; /* limit 0: no headers (adb_ratelimit_headers) */
        return;
    }
    if (!take_redis(rl, key, d)) {
        pthread_mutex_lock(&rl->mu);
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
        double tokens = b->tokens;
        pthread_mutex_unlock(&rl->mu);
        describe(rl, tokens, d);
    }
}

/* One header field: name, and value from a format. */
static void put(adb_rl_header_fn add, void *ctx, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void put(adb_rl_header_fn add, void *ctx, const char *name, const char *fmt, ...)
{
    char v[96];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(v, sizeof(v), fmt, ap);
    va_end(ap);
    add(ctx, name, v);
}

void adb_ratelimit_headers(const adb_rl_decision *d, adb_rl_header_fn add, void *ctx)
{
    if (!d || d->limit <= 0)
        return; /* limiting off: no policy to announce, and nothing is remaining or reset */
    put(add, ctx, "RateLimit-Policy", "\"key\";q=%d;w=%d", d->limit, d->window_s);
    put(add, ctx, "RateLimit", "\"key\";r=%d;t=%d", d->remaining, d->reset_s);
    put(add, ctx, "X-RateLimit-Limit", "%d", d->limit);
    put(add, ctx, "X-RateLimit-Remaining", "%d", d->remaining);
    put(add, ctx, "X-RateLimit-Reset", "%lld", d->reset_at);
}

static redisReply *send_ping(redisContext *c, void *arg)
{
    (void)arg;
    return redisCommand(c, "PING");
}

static bool ping_ok(const redisReply *r)
{
    return r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0;
}

int adb_ratelimit_redis_check(adb_ratelimit *rl, double *ms, char *err, size_t errlen)
{
    double t0 = adb__now_ms();
    char why[160] = "";

    *ms = 0;
    if (err && errlen)
        err[0] = '\0';
    if (!rl || !rl->url)
        return -1;
    redisReply *r = roundtrip(rl, true, send_ping, ping_ok, NULL, why, sizeof(why));
    freeReplyObject(r);
    *ms = adb__now_ms() - t0;
    if (!r && err)
        adb__fmt(err, errlen, "%s", why);
    return r ? 1 : 0;
}
