/*
 * delivery.h - the delivery system's internal interfaces (issue 18;
 * docs/delivery.md). Written first, so that the pieces built apart fit:
 *
 *   destination.c  a destination loaded with its secrets opened; secret.c
 *                  seals and opens them (AES-256-GCM, org_keys purpose
 *                  "delivery-secret"); ssrf.c the address policy
 *   queue.c        enqueue, claim (FOR UPDATE SKIP LOCKED, lease, claim id),
 *                  complete/fail/release fenced by the claim id; worker.c the
 *                  pool of delivery threads in serve, woken by LISTEN
 *   webhook.c      Standard Webhooks (v1, v1a, legacy X-Webhook-*) over the
 *                  exact bytes; email.c (SMTP), s3.c (SigV4), sftp.c,
 *                  download.c (signed expiring links); transport.c dispatches
 *   retry.c        the schedule, Retry-After, which answers fail or disable;
 *   breaker.c      health and the circuit breaker, persisted; clock.c the
 *                  delivery clock tests can move
 *
 * Every function here is internal (adb__). Nothing here logs a secret or a
 * payload byte.
 */
#ifndef ADB_DELIVERY_H
#define ADB_DELIVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <curl/curl.h>
#include <jansson.h>
#include <libpq-fe.h>
#include "auditdb.h"

/* ---- destinations (destination.c) ---- */

typedef struct adb__dest {
    int id;                 /* delivery_destinations.id */
    char org[256];
    char type[16];          /* webhook, email, storage, sftp, download */
    bool disabled;
    json_t *config;         /* the client's config shape, secret fields opened (owned) */
} adb__dest;

/* Loads destination id of org on c (any login: the statement names org),
 * secrets opened. ADB_ERR_NOT_FOUND when there is none in org (or it was
 * deleted); ADB_ERR_INTERNAL when its sealed secrets do not open. */
adb_status adb__dest_load(adb *h, PGconn *c, const char *org, int id, adb__dest *out);
/* The same, with its version (ADB_DEST_VERSION_SQL, read in the same
 * statement) into version; ADB_ERR_CONFIG (not INTERNAL) when the sealed
 * secrets do not open. */
adb_status adb__dest_load_v(adb *h, PGconn *c, const char *org, int id, adb__dest *out,
                            char *version, size_t vlen);
void adb__dest_free(adb__dest *d);

/* The signing keys of a webhook destination (webhook_keys.c, ddest;
 * docs/delivery.md "Secrets"): every key active at now_ms, opened, primary
 * first. During a rotation's grace period the old and the new keys are all
 * active, and every one of them signs (Standard Webhooks: "v1,... v1,...
 * v1a,..."). Each use counts (usage_count, last_used_at). */
typedef struct adb__signing_key {
    char id[64];             /* webhook_secrets.id */
    bool ed25519;            /* v1a: key is the Ed25519 private key (32-byte seed);
                                else v1: key is the HMAC-SHA256 secret (the bytes a
                                whsec_ secret's base64 decodes to) */
    bool primary;
    unsigned char key[64];
    size_t key_len;
    int64_t expires_ms;      /* end of its grace period (ms); 0: none */
} adb__signing_key;
/* *out malloc()ed (free with adb__webhook_keys_free, which wipes it), *n
 * keys; *n 0 when the destination has none. c any login (the statement
 * names org). */
adb_status adb__webhook_keys_active(adb *h, PGconn *c, const char *org, int dest_id,
                                    int64_t now_ms, adb__signing_key **out, size_t *n);
void adb__webhook_keys_free(adb__signing_key *k, size_t n);
/* The same, counting each use (count: usage_count + 1 now) or not (the
 * delivery threads' cache, dest_cache.c, which counts with
 * adb__webhook_keys_use). ADB_ERR_CONFIG (adb__webhook_keys_active:
 * ADB_ERR_INTERNAL) when a key's sealed bytes do not open (sealed for another
 * row, or changed). */
adb_status adb__webhook_keys_load(adb *h, PGconn *c, const char *org, int dest_id, int64_t now_ms,
                                  bool count, adb__signing_key **out, size_t *n);
/* Adds uses[i] to the usage_count of key ids[i] (last_used_at now), one
 * statement. */
adb_status adb__webhook_keys_use(PGconn *c, const char *const *ids, const int *uses, size_t n);

/* A destination's version: a digest of everything a delivery thread keeps of
 * it (type, config, sealed secrets, deletion, its signing keys), computed in
 * SQL over delivery_destinations d. Equal versions: the cached copy holds. */
#define ADB_DEST_VERSION_SQL \
    "md5(d.type || '|' || d.updated_at::text || '|' || coalesce(d.deleted_at::text, '') || '|'" \
    " || coalesce(d.config::text, '') || '|' || coalesce(encode(d.secrets, 'hex'), '') || '|'" \
    " || coalesce((SELECT string_agg(w.id || ':' || w.is_active || ':' || w.is_primary || ':'" \
    " || coalesce(w.expires_at::text, '') || ':' || md5(w.secret_key), ',' ORDER BY w.id)" \
    " FROM webhook_secrets w WHERE w.destination_id = d.id), ''))"

/* ---- the address policy (ssrf.c) ---- */

/* Makes every connection of c go only to addresses the policy admits: not
 * loopback, private (RFC 1918, ULA), link-local, multicast, unspecified,
 * CGNAT or documentation ranges, unless the operator's allow-list
 * (AUDITDB_DELIVERY_ALLOW: comma-separated CIDRs) admits them. The address
 * checked is the one connected to (CURLOPT_OPENSOCKETFUNCTION), so DNS
 * rebinding gains nothing; redirects are off. */
adb_status adb__ssrf_attach(CURL *c);
/* The check at creation: resolves host and refuses when any address is
 * refused; err says why (no secret in it). */
adb_status adb__ssrf_check_host(const char *host, int port, char *err, size_t errlen);

/* ---- one attempt (transport.c and the senders) ---- */

typedef struct adb__item {
    const char *id;              /* delivery_queue.id: the webhook-id, msg_... */
    const char *org;
    const char *delivery_id;
    const unsigned char *body;   /* the exact bytes to send */
    size_t body_len;
    const char *content_type;
    const json_t *payload;       /* descriptor: {type, metadata} */
    int attempt;                 /* 1 for the first */
    /* webhooks: the destination's active signing keys (adb__webhook_keys_active),
     * every one signs; NULL: the transport reads them itself (probes) */
    const struct adb__signing_key *keys;
    size_t nkeys;
} adb__item;

typedef struct adb__attempt {
    bool ok;                     /* delivered */
    int http_status;             /* 0 when there was no HTTP answer */
    long retry_after_s;          /* -1 when the peer named no time */
    bool gone;                   /* the destination says it is gone (410): disable */
    bool permanent;              /* never worth retrying (e.g. 4xx other than 408/409/425/429) */
    double elapsed_ms;
    char error[256];             /* the failure reason: no secret, no payload byte */
    char reference[256];         /* cross-system reference: message id, ETag, path */
} adb__attempt;

/* One attempt to deliver it to d, by d->type. */
adb_status adb__transport_send(adb *h, const adb__dest *d, const adb__item *it,
                               adb__attempt *out);
/* Test-connect d without delivering anything (validate/test routes). */
adb_status adb__transport_probe(adb *h, const adb__dest *d, adb__attempt *out);

/* ---- retries (retry.c, dqueue) ---- */

typedef enum {
    ADB_RETRY_AT,       /* try again at *next_ms */
    ADB_RETRY_GIVE_UP,  /* the schedule is spent or the failure is permanent: failed */
    ADB_RETRY_DISABLE   /* the destination is gone (410): hold the item, disable it */
} adb__retry_verdict;

/* After attempt number `attempt` (1-based) ended as a: the Standard Webhooks
 * schedule with jitter (or the destination's retryConfig), Retry-After
 * honoured within bounds, 410 disables, 3xx fails. */
adb__retry_verdict adb__retry_next(const json_t *dest_config, int attempt, const adb__attempt *a,
                                   int64_t now_ms, int64_t *next_ms);

/* ---- the queue, the workers, webhooks (queue.c, worker.c, webhook.c; dqueue) ---- */

/* The delay before attempt n+1 of the default schedule, without jitter
 * (ms); -1 after the last of its ten attempts. */
int64_t adb__retry_standard_delay_ms(int attempt);
/* An HTTP answer that will not get better by itself (3xx, most 4xx). */
bool adb__retry_status_permanent(int http_status);

/* A signing key: a whsec_ secret (v1, HMAC-SHA256) or an Ed25519 seed (v1a). */
typedef struct adb__whkey {
    bool asym;
    unsigned char key[64];
    size_t len;
} adb__whkey;
/* Parses whsec_<base64> (v1) or whsk_<base64 of a 32-byte seed, or seed and
 * public key> (v1a); false for anything else. */
bool adb__whkey_parse(const char *text, adb__whkey *out);
/* The webhook-signature value of id.ts.body under each key, space-separated,
 * into out. */
adb_status adb__webhook_sign(const char *id, long long ts, const unsigned char *body, size_t len,
                             const adb__whkey *keys, size_t nkeys, char *out, size_t outlen);
/* Seconds a Retry-After value asks for (delta-seconds or an HTTP-date,
 * against now_s); -1 when it is neither. */
long adb__retry_after_parse(const char *v, long long now_s);
/* One attempt of it to webhook destination d signed with keys; legacy: the
 * key of the X-Webhook-Signature header (config legacyHeaders), may be NULL. */
adb_status adb__webhook_send(const adb__dest *d, const adb__item *it, const adb__whkey *keys,
                             size_t nkeys, const adb__whkey *legacy, int64_t now_ms, adb__attempt *out);
/* Frees the calling thread's HTTP handle (a delivery thread that ends). */
void adb__webhook_thread_end(void);

/* A claimed queue item (queue.c): strings and body owned, freed by
 * adb__qitem_free. */
typedef struct adb__qitem {
    char id[64];
    char org[256];
    char claim_id[40];
    char delivery_id[256];
    int dest_id;
    int log_id;           /* delivery_logs.id */
    int attempt;          /* this attempt's number, 1-based */
    unsigned char *body;
    size_t body_len;
    char content_type[256];
    json_t *payload;
} adb__qitem;
void adb__qitem_free(adb__qitem *q);

#define ADB_DELIVERY_NOTIFY "auditdb_delivery"

/* One item to enqueue (queue.c); nothing owned. */
typedef struct adb__enqueue {
    const char *org, *delivery_id, *correlation_id, *idempotency_key, *content_type;
    int dest_id, log_id, priority;
    const unsigned char *body;   /* the exact bytes every attempt sends */
    size_t body_len;
    const json_t *payload;       /* the descriptor kept with it: {type, metadata} */
} adb__enqueue;
/* A fresh id: prefix and 22 random base64url characters (no '.'). */
void adb__queue_new_id(const char *prefix, char *out, size_t outlen);
/* Inserts e on c (in the caller's transaction, tenant or owner); id_out its
 * webhook-id; *dup when e's idempotency key was queued already for that
 * destination (nothing inserted). */
adb_status adb__queue_enqueue(PGconn *c, const adb__enqueue *e, char id_out[64], bool *dup);
/* NOTIFY the delivery threads (sent when the caller's transaction commits). */
adb_status adb__queue_notify(PGconn *c);

/* Claims up to max due items on c (the owner's connection): pending and due
 * by now_ms, or processing with their lease run out; each gets a fresh
 * claim id and a lease of lease_ms. *n how many. */
adb_status adb__queue_claim(PGconn *c, const char *claimer, int64_t now_ms, int lease_ms,
                            adb__qitem *items, int max, int *n);
/* Ends an attempt of q fenced by its claim id: the attempt appended to its
 * delivery_logs row, and the item completed (ok), rescheduled at next_ms
 * (status "pending"), failed (give up) or held (the destination disabled).
 * *fenced is false when the claim was lost (its lease ran out and another
 * claimed it): nothing is written, the item is its new claimer's. */
typedef enum { ADB_Q_COMPLETE, ADB_Q_RETRY, ADB_Q_FAIL, ADB_Q_HOLD, ADB_Q_DEFER } adb__q_end;
adb_status adb__queue_finish(PGconn *c, const adb__qitem *q, adb__q_end how, const adb__attempt *a,
                             int64_t now_ms, int64_t next_ms, bool *fenced);

/* A delivery as the tenant on c sees it (deliveries.c): smart-logs' client's
 * DeliveryStatusResponse (caller frees); NULL when it has no row here
 * (missing, or another organization's) or on a database error (*dberr). */
json_t *adb__delivery_status(PGconn *c, const char *id, bool *dberr);
/* Queues delivery id's failed and held items again on c (same webhook-id and
 * bytes, the schedule from its start; the caller NOTIFYs and commits): how
 * many, -1 on a database error. */
int adb__delivery_requeue(PGconn *c, const char *id);

/* The pool of delivery threads of serve (worker.c). */
typedef struct adb__delivery_pool adb__delivery_pool;
/* Starts n threads on owner_conninfo's connections, claiming with leases of
 * lease_ms and looking for due retries every poll_ms; NULL with err on
 * failure. A webhook's timeout is held under half the lease. */
adb__delivery_pool *adb__delivery_start(adb *h, const char *owner_conninfo, int n, int lease_ms,
                                        int poll_ms, char *err, size_t errlen);
/* Delivery threads running in this process (all pools). */
int adb__delivery_threads_running(void);
/* The longest a webhook attempt may take (ms): under half the lease. */
extern _Atomic long adb__webhook_timeout_cap_ms;
/* Stops them (each finishes its attempt) and frees the pool; NULL ok. */
void adb__delivery_stop(adb__delivery_pool *p);

/* ---- health and the circuit breaker (breaker.c, dhealth) ---- */

/* Before an attempt: may the worker send to d now? closed: yes; open: no,
 * *retry_at_ms says when the half-open probe may go; half-open: one probe
 * at a time. A disabled destination admits nothing (its items are held). */
adb_status adb__breaker_admit(adb *h, PGconn *c, const adb__dest *d, int64_t now_ms,
                              bool *admit, int64_t *retry_at_ms);
/* The same, with the destination's version (ADB_DEST_VERSION_SQL) read in
 * the same statement into version (vlen >= 33): the delivery threads check
 * their cached copy with it at no extra round trip. *closed (may be NULL):
 * admitted because the breaker is closed (not as a half-open probe). */
adb_status adb__breaker_admit_v(adb *h, PGconn *c, const adb__dest *d, int64_t now_ms,
                                bool *admit, int64_t *retry_at_ms, char *version, size_t vlen,
                                bool *closed);
/* After an attempt: destination_health updated (rates, response times,
 * consecutive failures, window), breaker transitions written with their
 * times, the destination disabled after sustained failure (an alert row and
 * a notice to the organization). */
adb_status adb__health_record(adb *h, PGconn *c, const adb__dest *d, const adb__attempt *a,
                              int64_t now_ms);

/* k successes to d (their response times ms[], oldest first) at once: the
 * delivery threads gather the successes of a closed breaker and record them
 * every 250 ms in one statement (docs/delivery.md "Throughput"); when the
 * breaker is no longer closed, each goes through adb__health_record. */
adb_status adb__health_record_successes(adb *h, PGconn *c, const adb__dest *d, const int *ms,
                                        int k, int64_t now_ms);

/* The breaker's settings: these defaults, overridden per destination by the
 * integers of its config's "circuitBreaker" object (failureRateThreshold,
 * windowSeconds, minimumVolume, cooldownSeconds, probeTimeoutSeconds,
 * disableAfterSeconds; docs/delivery.md, "Health and breakers"). */
typedef struct adb__breaker_config {
    int failure_rate_pct;     /* open when failures reach this % of the attempts ... (50) */
    int window_s;             /* ... of the window (300) ... */
    int min_volume;           /* ... holding at least this many attempts (10) */
    int cooldown_s;           /* open, then half-open after this (60) */
    int probe_timeout_s;      /* a probe that never reports frees its slot after (120) */
    int disable_after_s;      /* failure without a success this long disables (432000: 5 d) */
} adb__breaker_config;
void adb__breaker_config_of(const json_t *dest_config, adb__breaker_config *out);
/* Checks a config's "circuitBreaker" member (cb; NULL or null: absent, fine)
 * for destination creation/update: false with the field at fault
 * ("config.circuitBreaker.minimumVolume") and a message. */
bool adb__breaker_config_check(const json_t *cb, char *field, size_t flen, char *msg, size_t mlen);

/* *retry_at_ms from adb__breaker_admit for a disabled destination: hold the
 * item (status 'held') until the destination is enabled again. */
#define ADB_BREAKER_HOLD INT64_MAX

/* Disables destination id of org (by: who, e.g. a key id or
 * "auditdb-delivery"): delivery_destinations.disabled, health 'disabled',
 * a transition, its pending items held, an alerts row, and an audit event
 * of the organization. Already disabled: ADB_OK, nothing written.
 * c idle: committed here; inside the caller's transaction: the caller commits
 * (or rolls back on an error). ADB_ERR_NOT_FOUND: no such destination in org. */
adb_status adb__health_disable(adb *h, PGconn *c, const char *org, int id, const char *reason,
                               const char *by, int64_t now_ms);
/* Enables it again: not disabled, breaker closed, the failure run and the
 * window reset, a transition when it was disabled or not closed, its held
 * items pending again (scheduled now_ms; *released counts them, may be
 * NULL), NOTIFY auditdb_delivery. Same transaction rules as disable. */
adb_status adb__health_enable(adb *h, PGconn *c, const char *org, int id, const char *by,
                              int64_t now_ms, long long *released);
/* Destination id of org's health in the client's DestinationHealth shape
 * (health.c), read on c (a tenant's connection or the owner's); *out is the
 * caller's. metadata holds p95/p99, failingSince, the window, the breaker's
 * settings and the latest transitions. ADB_ERR_NOT_FOUND: none in org. */
adb_status adb__health_json(PGconn *c, const char *org, int id, json_t **out);

/* ---- the clock (clock.c, dhealth) ---- */

/* Milliseconds since the epoch as the delivery code sees them: the real
 * clock plus the offset tests set (AUDITDB_DELIVERY_CLOCK_FILE, test builds
 * only). */
int64_t adb__delivery_now_ms(void);

/* ---- the other transports (email.c, s3.c, sftp.c, download.c; dtrans) ----
 * transport.c calls these by d->type (email, storage, sftp, download). Each
 * send and probe returns ADB_OK when it made its attempt (out says how it
 * went: ok, or error with permanent when retrying cannot help) and
 * ADB_ERR_CONFIG when d's config cannot be used (out->error names the field;
 * out->permanent). The checks are the validation of each config shape (the
 * client's, docs/delivery.md): false with the field at fault (e.g.
 * "config.email.subject") and why, no secret in either. */
adb_status adb__email_send(adb *h, const adb__dest *d, const adb__item *it, adb__attempt *out);
adb_status adb__email_probe(adb *h, const adb__dest *d, adb__attempt *out);
bool adb__email_check(const json_t *config, char *field, size_t flen, char *why, size_t wlen);
adb_status adb__s3_send(adb *h, const adb__dest *d, const adb__item *it, adb__attempt *out);
adb_status adb__s3_probe(adb *h, const adb__dest *d, adb__attempt *out);
bool adb__s3_check(const json_t *config, char *field, size_t flen, char *why, size_t wlen);
adb_status adb__sftp_send(adb *h, const adb__dest *d, const adb__item *it, adb__attempt *out);
adb_status adb__sftp_probe(adb *h, const adb__dest *d, adb__attempt *out);
bool adb__sftp_check(const json_t *config, char *field, size_t flen, char *why, size_t wlen);
/* download: the artifact stored under adb__download_dir(), a download_links
 * row and a signed expiring URL (out->reference: the link's id). */
adb_status adb__download_send(adb *h, const adb__dest *d, const adb__item *it, adb__attempt *out);
adb_status adb__download_probe(adb *h, const adb__dest *d, adb__attempt *out);
bool adb__download_check(const json_t *config, char *field, size_t flen, char *why, size_t wlen);

#endif
