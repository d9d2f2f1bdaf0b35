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
} adb__signing_key;
/* *out malloc()ed (free with adb__webhook_keys_free, which wipes it), *n
 * keys; *n 0 when the destination has none. c any login (the statement
 * names org). */
adb_status adb__webhook_keys_active(adb *h, PGconn *c, const char *org, int dest_id,
                                    int64_t now_ms, adb__signing_key **out, size_t *n);
void adb__webhook_keys_free(adb__signing_key *k, size_t n);

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

/* ---- health and the circuit breaker (breaker.c, dhealth) ---- */

/* Before an attempt: may the worker send to d now? closed: yes; open: no,
 * *retry_at_ms says when the half-open probe may go; half-open: one probe
 * at a time. A disabled destination admits nothing (its items are held). */
adb_status adb__breaker_admit(adb *h, PGconn *c, const adb__dest *d, int64_t now_ms,
                              bool *admit, int64_t *retry_at_ms);
/* After an attempt: destination_health updated (rates, response times,
 * consecutive failures, window), breaker transitions written with their
 * times, the destination disabled after sustained failure (an alert row and
 * a notice to the organization). */
adb_status adb__health_record(adb *h, PGconn *c, const adb__dest *d, const adb__attempt *a,
                              int64_t now_ms);

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
