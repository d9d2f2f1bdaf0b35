/*
 * ratelimit.h - a token bucket per API key: `rate` tokens a second up to
 * `burst`. With REDIS_URL the buckets live in Redis (one Lua script, atomic),
 * so several auditdb instances share them; without it, or while Redis is
 * unreachable, each instance keeps its own. Connections to Redis are pooled;
 * no lock is held while one waits for Redis.
 */
#ifndef ADB_HTTP_RATELIMIT_H
#define ADB_HTTP_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>

typedef struct adb_ratelimit adb_ratelimit;

typedef struct adb_rl_decision {
    bool allowed;
    int limit;          /* burst; 0 when limiting is off (then nothing else is set) */
    int window_s;       /* the policy's window: seconds an empty bucket takes to fill */
    int remaining;      /* whole tokens left */
    int reset_s;        /* seconds until the bucket is full again */
    long long reset_at; /* the same moment, in Unix seconds */
    int retry_after_ms; /* when refused: until one token is back */
    bool shared;        /* decided by Redis */
} adb_rl_decision;

/* rate <= 0 disables limiting. redis_url may be NULL. Never fails: a Redis
 * that cannot be reached is retried later and the local buckets used meanwhile. */
adb_ratelimit *adb_ratelimit_new(double rate, int burst, const char *redis_url);
void adb_ratelimit_free(adb_ratelimit *rl);

/* Is limiting on (rl not NULL and its rate above 0)? */
bool adb_ratelimit_enabled(const adb_ratelimit *rl);

/* Takes one token for key. With limiting off, d says allowed and limit 0. */
void adb_ratelimit_take(adb_ratelimit *rl, const char *key, adb_rl_decision *d);

/*
 * The response header fields of a decision (docs/auth.md, "Rate limits"),
 * after draft-ietf-httpapi-ratelimit-headers-10: one policy, named "key"
 * (a bucket per API key),
 *   RateLimit-Policy: "key";q=<burst>;w=<window_s>
 *   RateLimit: "key";r=<remaining>;t=<reset_s>
 * t in delta seconds, as the draft says; and the legacy copies
 * X-RateLimit-Limit, X-RateLimit-Remaining and X-RateLimit-Reset, the last
 * in Unix seconds as those legacy fields are usually read. add(ctx, name,
 * value) is called for each; nothing when d->limit is 0 (limiting off).
 */
typedef void (*adb_rl_header_fn)(void *ctx, const char *name, const char *value);
void adb_ratelimit_headers(const adb_rl_decision *d, adb_rl_header_fn add, void *ctx);

/* Checks Redis now (a PING, on a new connection if need be, even while it is
 * left alone after a failure; an answer ends that pause): 1 up, 0 down (why
 * in err), -1 not configured. ms: how long the check took. */
int adb_ratelimit_redis_check(adb_ratelimit *rl, double *ms, char *err, size_t errlen);

#endif
