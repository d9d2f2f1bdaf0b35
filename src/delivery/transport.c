/*
 * transport.c - one attempt, dispatched by the destination's type (docs/
 * delivery.md). Each transport adds its line here; the senders live in
 * their own files (webhook.c, email.c, s3.c, sftp.c, download.c).
 */
#include "delivery.h"
#include "../core/adb_internal.h"
#include "../core/util.h"

#include <openssl/crypto.h>
#include <string.h>

#define KEYS_MAX 8

/* The item's signing keys as the signer takes them; legacy: the first v1 key
 * (the X-Webhook-Signature header's, when the destination opts in). */
static size_t webhook_keys(const adb__signing_key *in, size_t n, adb__whkey *keys, size_t max,
                           const adb__whkey **legacy)
{
    size_t k = 0;
    *legacy = NULL;
    for (size_t i = 0; i < n && k < max; i++) {
        if (in[i].key_len > sizeof(keys[k].key) || (in[i].ed25519 && in[i].key_len != 32))
            continue;
        keys[k].asym = in[i].ed25519;
        memcpy(keys[k].key, in[i].key, in[i].key_len);
        keys[k].len = in[i].key_len;
        k++;
    }
    for (size_t i = 0; i < k; i++)
        if (!keys[i].asym) {
            *legacy = &keys[i];
            break;
        }
    return k;
}

adb_status adb__transport_send(adb *h, const adb__dest *d, const adb__item *it, adb__attempt *out)
{
    (void)h;
    memset(out, 0, sizeof(*out));
    out->retry_after_s = -1;
    if (!strcmp(d->type, "webhook")) {
        adb__whkey keys[KEYS_MAX];
        const adb__whkey *legacy;
        adb__signing_key *own = NULL;
        size_t nown = 0, n;
        adb_status st;
        if (it->keys) {
            n = webhook_keys(it->keys, it->nkeys, keys, KEYS_MAX, &legacy);
        } else {
            /* a probe: the keys read here, on one of the owner's connections */
            PGconn *c = adb_pool_acquire(adb__pool(h), &st, NULL, 0);
            if (!c) {
                adb__fmt(out->error, sizeof(out->error), "database unavailable");
                return st;
            }
            st = adb__webhook_keys_active(h, c, d->org, d->id, adb__delivery_now_ms(), &own, &nown);
            adb_pool_release(adb__pool(h), c);
            if (st != ADB_OK) {
                adb__fmt(out->error, sizeof(out->error), "could not read the destination's signing keys");
                return st;
            }
            n = webhook_keys(own, nown, keys, KEYS_MAX, &legacy);
            adb__webhook_keys_free(own, nown);
        }
        if (n == 0) {
            /* never unsigned: a destination without an active key gets nothing */
            adb__fmt(out->error, sizeof(out->error), "the destination has no active signing key");
            st = ADB_OK;
        } else {
            st = adb__webhook_send(d, it, keys, n, legacy, adb__delivery_now_ms(), out);
        }
        OPENSSL_cleanse(keys, sizeof(keys));
        return st;
    }
    /* ---- other transports (dtrans) ---- */
    if (!strcmp(d->type, "email"))
        return adb__email_send(h, d, it, out);
    if (!strcmp(d->type, "storage"))
        return adb__s3_send(h, d, it, out);
    if (!strcmp(d->type, "sftp"))
        return adb__sftp_send(h, d, it, out);
    if (!strcmp(d->type, "download"))
        return adb__download_send(h, d, it, out);
    adb__fmt(out->error, sizeof(out->error), "no transport for destinations of type %s", d->type);
    out->permanent = true;
    return ADB_OK;
}

adb_status adb__transport_probe(adb *h, const adb__dest *d, adb__attempt *out)
{
    memset(out, 0, sizeof(*out));
    out->retry_after_s = -1;
    if (!strcmp(d->type, "webhook")) {
        /* a signed test message, as webhook services send one */
        static const char body[] = "{\"type\":\"webhook.test\",\"data\":{}}";
        char id[64];
        adb__queue_new_id("msg_", id, sizeof(id));
        adb__item it = { .id = id, .org = d->org, .delivery_id = "", .body = (const unsigned char *)body,
                         .body_len = sizeof(body) - 1, .content_type = "application/json", .attempt = 1 };
        adb_status st = adb__transport_send(h, d, &it, out);
        /* a probe runs on a request's thread: its HTTP handle goes with it */
        adb__webhook_thread_end();
        return st;
    }
    /* ---- other transports' probes (dtrans) ---- */
    if (!strcmp(d->type, "email"))
        return adb__email_probe(h, d, out);
    if (!strcmp(d->type, "storage"))
        return adb__s3_probe(h, d, out);
    if (!strcmp(d->type, "sftp"))
        return adb__sftp_probe(h, d, out);
    if (!strcmp(d->type, "download"))
        return adb__download_probe(h, d, out);
    adb__fmt(out->error, sizeof(out->error), "no transport for destinations of type %s", d->type);
    return ADB_OK;
}
