/*
 * webhook.c - one webhook attempt, signed per Standard Webhooks 1.0
 * (docs/delivery.md, "Webhooks"): headers webhook-id, webhook-timestamp and
 * webhook-signature, where each signature covers "id.timestamp.body" of the
 * exact bytes sent: `v1,` HMAC-SHA256 keyed by a whsec_ secret, `v1a,`
 * Ed25519; during a rotation every active key signs (space-separated). The
 * original's X-Webhook-* headers only when the destination opts in
 * (legacyHeaders). Redirects are never followed (a 3xx is a failure), every
 * connection goes through the address policy (adb__ssrf_attach).
 */
#include "delivery.h"
#include "ssrf.h"
#include "../core/util.h"

#include <ctype.h>
#include <stdatomic.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define TIMEOUT_DEFAULT_MS 15000
#define TIMEOUT_MIN_MS 100
#define TIMEOUT_MAX_MS 60000
#define HEADERS_MAX 32

/* ---- secrets and signatures ---------------------------------------------- */

bool adb__whkey_parse(const char *text, adb__whkey *out)
{
    const char *b64;
    memset(out, 0, sizeof(*out));
    if (!strncmp(text, "whsec_", 6)) {
        out->asym = false;
        b64 = text + 6;
    } else if (!strncmp(text, "whsk_", 5)) {
        out->asym = true;
        b64 = text + 5;
    } else {
        return false;
    }
    size_t n = strlen(b64);
    if (n == 0 || n > 700 || n % 4)
        return false;
    unsigned char buf[700];
    int len = EVP_DecodeBlock(buf, (const unsigned char *)b64, (int)n);
    if (len < 0)
        return false;
    /* EVP_DecodeBlock counts the padding as zero bytes */
    if (n >= 1 && b64[n - 1] == '=')
        len--;
    if (n >= 2 && b64[n - 2] == '=')
        len--;
    bool ok;
    if (out->asym) {
        /* the 32-byte seed, or seed || public key (64 bytes) */
        ok = len == 32 || len == 64;
        if (ok) {
            memcpy(out->key, buf, 32);
            out->len = 32;
        }
    } else {
        ok = len >= 16 && (size_t)len <= sizeof(out->key);
        if (ok) {
            memcpy(out->key, buf, (size_t)len);
            out->len = (size_t)len;
        }
    }
    OPENSSL_cleanse(buf, sizeof(buf));
    return ok;
}

/* standard base64 with padding of n bytes into out (4*ceil(n/3)+1) */
static void b64(const unsigned char *in, size_t n, char *out)
{
    EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

adb_status adb__webhook_sign(const char *id, long long ts, const unsigned char *body, size_t len,
                             const adb__whkey *keys, size_t nkeys, char *out, size_t outlen)
{
    char head[320];
    int hl = snprintf(head, sizeof(head), "%s.%lld.", id, ts);
    size_t used = 0;

    if (hl < 0 || (size_t)hl >= sizeof(head) || outlen == 0)
        return ADB_ERR_INVALID;
    out[0] = '\0';
    for (size_t i = 0; i < nkeys; i++) {
        char sig[100];
        unsigned char mac[64];
        size_t maclen = 0;
        if (!keys[i].asym) {
            EVP_MAC *m = EVP_MAC_fetch(NULL, "HMAC", NULL);
            EVP_MAC_CTX *mc = m ? EVP_MAC_CTX_new(m) : NULL;
            OSSL_PARAM p[] = { OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
                               OSSL_PARAM_construct_end() };
            bool ok = mc && EVP_MAC_init(mc, keys[i].key, keys[i].len, p) &&
                      EVP_MAC_update(mc, (const unsigned char *)head, (size_t)hl) &&
                      (len == 0 || EVP_MAC_update(mc, body, len)) &&
                      EVP_MAC_final(mc, mac, &maclen, sizeof(mac));
            EVP_MAC_CTX_free(mc);
            EVP_MAC_free(m);
            if (!ok)
                return ADB_ERR_INTERNAL;
            memcpy(sig, "v1,", 3);
            b64(mac, maclen, sig + 3);
        } else {
            EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, keys[i].key, 32);
            EVP_MD_CTX *md = k ? EVP_MD_CTX_new() : NULL;
            unsigned char *msg = malloc((size_t)hl + len + 1);
            maclen = sizeof(mac);
            bool ok = md && msg && EVP_DigestSignInit(md, NULL, NULL, NULL, k) == 1;
            if (ok) {
                memcpy(msg, head, (size_t)hl);
                if (len)
                    memcpy(msg + hl, body, len);
                ok = EVP_DigestSign(md, mac, &maclen, msg, (size_t)hl + len) == 1;
            }
            free(msg);
            EVP_MD_CTX_free(md);
            EVP_PKEY_free(k);
            if (!ok)
                return ADB_ERR_INTERNAL;
            memcpy(sig, "v1a,", 4);
            b64(mac, maclen, sig + 4);
        }
        OPENSSL_cleanse(mac, sizeof(mac));
        size_t sl = strlen(sig);
        if (used + sl + 2 > outlen)
            return ADB_ERR_INVALID;
        if (used)
            out[used++] = ' ';
        memcpy(out + used, sig, sl + 1);
        used += sl;
    }
    return ADB_OK;
}

/* ---- Retry-After ------------------------------------------------------------ */

long adb__retry_after_parse(const char *v, long long now_s)
{
    while (*v == ' ' || *v == '\t')
        v++;
    if (!*v)
        return -1;
    if (isdigit((unsigned char)*v)) {
        long long n;
        char num[24];
        size_t k = strcspn(v, " \t\r\n");
        if (k >= sizeof(num))
            return 86400 * 365L;
        memcpy(num, v, k);
        num[k] = '\0';
        if (!adb__parse_int(num, 0, 86400LL * 365, &n))
            return -1;
        return (long)n;
    }
    time_t t = curl_getdate(v, NULL);   /* IMF-fixdate, RFC 850, asctime */
    if (t == (time_t)-1)
        return -1;
    return (long long)t <= now_s ? 0 : (long)((long long)t - now_s);
}

/* ---- the attempt ----------------------------------------------------------- */

typedef struct answer {
    long retry_after_s;
    char reference[256];
    long long now_s;
    size_t body_seen;
} answer;

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    answer *a = ud;
    size_t len = size * n;
    char line[512];
    size_t k = len < sizeof(line) - 1 ? len : sizeof(line) - 1;

    memcpy(line, p, k);
    line[k] = '\0';
    adb__oneline(line);
    if (!strncasecmp(line, "HTTP/", 5)) {   /* a new answer (e.g. after 100) */
        a->retry_after_s = -1;
        a->reference[0] = '\0';
    } else if (!strncasecmp(line, "retry-after:", 12)) {
        a->retry_after_s = adb__retry_after_parse(line + 12, a->now_s);
    } else if (!a->reference[0] && (!strncasecmp(line, "x-request-id:", 13) ||
                                    !strncasecmp(line, "x-correlation-id:", 17))) {
        const char *v = strchr(line, ':') + 1;
        while (*v == ' ')
            v++;
        /* printable ASCII only: it is written to delivery_logs */
        size_t j = 0;
        for (; v[j] && j < sizeof(a->reference) - 1; j++)
            a->reference[j] = (v[j] > 32 && v[j] < 127) ? v[j] : '_';
        a->reference[j] = '\0';
    }
    return len;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    ((answer *)ud)->body_seen += size * n;   /* read and dropped */
    return size * n;
}

/* the webhook part of a destination's config: {webhook: {...}} or the part itself */
static const json_t *webhook_config(const json_t *cfg)
{
    const json_t *w = json_object_get(cfg, "webhook");
    return json_is_object(w) ? w : cfg;
}

static bool reserved_header(const char *name)
{
    return !strncasecmp(name, "webhook-", 8) || !strcasecmp(name, "content-type") ||
           !strcasecmp(name, "content-length") || !strcasecmp(name, "host") ||
           !strcasecmp(name, "transfer-encoding") || !strncasecmp(name, "x-webhook-", 10) ||
           !strcasecmp(name, "connection");
}

static bool header_token_ok(const char *s, bool value)
{
    if (!*s && !value)
        return false;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '\r' || ch == '\n' || ch == 0x7f || (ch < 32 && ch != '\t'))
            return false;
        if (!value && (ch == ':' || ch == ' ' || ch == '\t'))
            return false;
    }
    return true;
}

_Atomic long adb__webhook_timeout_cap_ms = TIMEOUT_MAX_MS;

static _Thread_local CURL *tl_curl;   /* one per delivery thread: keeps its connections */

void adb__webhook_thread_end(void)
{
    if (tl_curl) {
        curl_easy_cleanup(tl_curl);
        tl_curl = NULL;
    }
}

adb_status adb__webhook_send(const adb__dest *d, const adb__item *it, const adb__whkey *keys,
                             size_t nkeys, const adb__whkey *legacy, int64_t now_ms, adb__attempt *out)
{
    const json_t *w = webhook_config(d->config);
    const char *url = json_string_value(json_object_get(w, "url"));
    const char *method = json_string_value(json_object_get(w, "method"));
    const json_t *hdrs = json_object_get(w, "headers"), *to = json_object_get(w, "timeout");
    bool legacy_on = json_is_true(json_object_get(w, "legacyHeaders"));
    long timeout_ms = TIMEOUT_DEFAULT_MS;
    struct curl_slist *h = NULL;
    char line[1200], sigs[1200];
    answer ans = { .retry_after_s = -1, .now_s = now_ms / 1000 };
    long long ts = now_ms / 1000;
    CURLcode cc;
    adb_status st = ADB_OK;

    memset(out, 0, sizeof(*out));
    out->retry_after_s = -1;
    if (!url || strncasecmp(url, "http", 4) != 0) {
        adb__fmt(out->error, sizeof(out->error), "the destination has no http(s) url");
        out->permanent = true;
        return ADB_OK;
    }
    if (json_is_number(to)) {
        double t = json_number_value(to);
        timeout_ms = t < TIMEOUT_MIN_MS ? TIMEOUT_MIN_MS : t > TIMEOUT_MAX_MS ? TIMEOUT_MAX_MS : (long)t;
    }
    long cap = atomic_load(&adb__webhook_timeout_cap_ms);
    if (cap >= TIMEOUT_MIN_MS && timeout_ms > cap)
        timeout_ms = cap;
    if ((st = adb__webhook_sign(it->id, ts, it->body, it->body_len, keys, nkeys, sigs, sizeof(sigs))) != ADB_OK) {
        adb__fmt(out->error, sizeof(out->error), "could not sign the webhook");
        return st;
    }
    if (!tl_curl && !(tl_curl = curl_easy_init()))
        return ADB_ERR_NOMEM;
    CURL *c = tl_curl;
    curl_easy_reset(c);

#define ADD(...) do { adb__fmt(line, sizeof(line), __VA_ARGS__); \
        struct curl_slist *n_ = curl_slist_append(h, line); if (!n_) { st = ADB_ERR_NOMEM; goto out; } h = n_; } while (0)
    ADD("Content-Type: %s", it->content_type ? it->content_type : "application/json");
    {
        /* a report's artifact names its file (src/report/deliver.c) */
        const json_t *md = json_object_get(it->payload, "metadata");
        const char *ty = json_string_value(json_object_get(it->payload, "type"));
        const char *fn = json_string_value(json_object_get(md, "filename"));
        bool plain = fn && fn[0] && strlen(fn) <= 200;
        for (const char *s_ = fn; plain && *s_; s_++)
            plain = *s_ >= 0x20 && *s_ < 0x7f && *s_ != '"' && *s_ != '\\' && *s_ != '/' && *s_ != ';';
        if (ty && !strcmp(ty, "report") && plain)
            ADD("Content-Disposition: attachment; filename=\"%s\"", fn);
    }
    ADD("webhook-id: %s", it->id);
    ADD("webhook-timestamp: %lld", ts);
    if (sigs[0])
        ADD("webhook-signature: %s", sigs);
    if (legacy_on) {
        /* the original's headers, its signature over the exact bytes here */
        char iso[40], hexsig[65], mac[32];
        time_t t = (time_t)ts;
        struct tm tmv;
        gmtime_r(&t, &tmv);
        strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%S", &tmv);
        adb__fmt(iso + strlen(iso), sizeof(iso) - strlen(iso), ".%03dZ", (int)(now_ms % 1000));
        ADD("X-Webhook-Timestamp: %s", iso);
        ADD("X-Delivery-Id: %s", it->delivery_id ? it->delivery_id : "");
        ADD("X-Idempotency-Key: %s", it->id);
        if (legacy && !legacy->asym) {
            unsigned int ml = 0;
            size_t il = strlen(iso);
            unsigned char *msg = malloc(il + 1 + it->body_len + 1);
            if (!msg) {
                st = ADB_ERR_NOMEM;
                goto out;
            }
            memcpy(msg, iso, il);
            msg[il] = '.';
            if (it->body_len)
                memcpy(msg + il + 1, it->body, it->body_len);
            HMAC(EVP_sha256(), legacy->key, (int)legacy->len, msg, il + 1 + it->body_len,
                 (unsigned char *)mac, &ml);
            free(msg);
            adb__hex((unsigned char *)mac, 32, hexsig);
            ADD("X-Webhook-Signature: sha256=%s", hexsig);
        }
    }
    const char *hk;
    json_t *hv;
    size_t nh = 0;
    json_object_foreach((json_t *)hdrs, hk, hv) {
        if (!json_is_string(hv) || reserved_header(hk) || !header_token_ok(hk, false) ||
            !header_token_ok(json_string_value(hv), true) || ++nh > HEADERS_MAX)
            continue;
        ADD("%s: %s", hk, json_string_value(hv));
    }
    ADD("Expect:");   /* no 100-continue round trip */
#undef ADD

    if ((st = adb__ssrf_attach(c)) != ADB_OK) {
        adb__fmt(out->error, sizeof(out->error), "could not apply the address policy");
        goto out;
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, (const char *)it->body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)it->body_len);
    if (method && !strcmp(method, "PUT"))
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PUT");
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms < 10000 ? timeout_ms : 10000L);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &ans);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &ans);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "auditdb-webhooks/1");

    double t0 = adb__now_ms();
    cc = curl_easy_perform(c);
    out->elapsed_ms = adb__now_ms() - t0;
    if (cc != CURLE_OK) {
        /* curl's own words, or the address policy's: no secret, no payload byte */
        const char *why = cc == CURLE_COULDNT_CONNECT ? adb__ssrf_last_refusal() : NULL;
        adb__fmt(out->error, sizeof(out->error), "%s", why && *why ? why : curl_easy_strerror(cc));
        goto out;
    }
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    out->http_status = (int)code;
    out->retry_after_s = ans.retry_after_s;
    adb__fmt(out->reference, sizeof(out->reference), "%s", ans.reference);
    if (code >= 200 && code < 300) {
        out->ok = true;
    } else {
        out->gone = code == 410;
        out->permanent = adb__retry_status_permanent((int)code);
        adb__fmt(out->error, sizeof(out->error), "HTTP %ld%s", code,
                 code >= 300 && code < 400 ? " (redirects are not followed)" : "");
    }
out:
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(h);
    OPENSSL_cleanse(line, sizeof(line));
    return st;
}
