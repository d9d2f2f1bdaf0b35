/*
 * transport.c - one attempt, dispatched by the destination's type (docs/
 * delivery.md). Each transport adds its line here; the senders live in
 * their own files (webhook.c, email.c, s3.c, sftp.c, download.c).
 */
#include "delivery.h"
#include "../core/util.h"

#include <openssl/crypto.h>
#include <string.h>

#define KEYS_MAX 8

/* The signing keys of a webhook destination: its active secrets, opened by
 * adb__dest_load into config.webhook.signingKeys (whsec_/whsk_ strings,
 * the primary first); the legacy header's key is the first whsec_. */
static size_t webhook_keys(const adb__dest *d, adb__whkey *keys, size_t max, const adb__whkey **legacy)
{
    const json_t *w = json_object_get(d->config, "webhook");
    const json_t *arr = json_object_get(json_is_object(w) ? w : d->config, "signingKeys");
    size_t n = 0, i;
    json_t *v;

    *legacy = NULL;
    json_array_foreach(arr, i, v) {
        if (n < max && json_is_string(v) && adb__whkey_parse(json_string_value(v), &keys[n]))
            n++;
    }
    for (i = 0; i < n; i++)
        if (!keys[i].asym) {
            *legacy = &keys[i];
            break;
        }
    return n;
}

adb_status adb__transport_send(adb *h, const adb__dest *d, const adb__item *it, adb__attempt *out)
{
    (void)h;
    memset(out, 0, sizeof(*out));
    out->retry_after_s = -1;
    if (!strcmp(d->type, "webhook")) {
        adb__whkey keys[KEYS_MAX];
        const adb__whkey *legacy;
        size_t n = webhook_keys(d, keys, KEYS_MAX, &legacy);
        adb_status st = adb__webhook_send(d, it, keys, n, legacy, adb__delivery_now_ms(), out);
        OPENSSL_cleanse(keys, sizeof(keys));
        return st;
    }
    /* ---- other transports (dtrans) ---- */
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
        return adb__transport_send(h, d, &it, out);
    }
    /* ---- other transports' probes (dtrans) ---- */
    adb__fmt(out->error, sizeof(out->error), "no transport for destinations of type %s", d->type);
    return ADB_OK;
}
