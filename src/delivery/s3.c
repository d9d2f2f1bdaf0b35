/*
 * s3.c - the 'storage' destination with provider 's3': one PUT Object to
 * Amazon S3 or any S3-compatible endpoint, signed with AWS Signature
 * Version 4 computed here on OpenSSL (canonical request, string to sign,
 * signing key), the body's SHA-256 in x-amz-content-sha256; the probe is a
 * signed HEAD of the bucket. Custom endpoints are addressed path-style
 * (endpoint/bucket/key) unless forcePathStyle is false (bucket.endpoint/key),
 * Amazon S3 virtual-hosted style (bucket.s3.region.amazonaws.com/key) unless
 * forcePathStyle is true. docs/delivery.md, "S3".
 */
#include "artifact.h"
#include "../core/buf.h"
#include "../core/digest.h"
#include "../core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/crypto.h>

#define S3_KEY_MAX 1024

typedef struct s3cfg {
    const char *bucket, *region, *endpoint, *access_key, *secret_key, *token, *path;
    bool path_style;  /* the bucket in the path (endpoint/bucket/key), else in the host name */
} s3cfg;

static bool bucket_ok(const char *b)
{
    size_t n = strlen(b);
    if (n < 3 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = b[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-'))
            return false;
    }
    return b[0] != '.' && b[0] != '-' && b[n - 1] != '.' && b[n - 1] != '-';
}

static bool region_ok(const char *r)
{
    size_t n = strlen(r);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = r[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return false;
    }
    return true;
}

/* a key prefix: relative, no "." or ".." segment, no control character */
static bool prefix_ok(const char *p)
{
    if (!adb__text_safe(p) || strlen(p) > 700 || strchr(p, '\\'))
        return false;
    const char *s = p;
    while (*s == '/')
        s++;
    while (*s) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
            return false;
        s += n;
        while (*s == '/')
            s++;
    }
    return true;
}

/* a URL's scheme and host (curl_free both); false when it has none */
static bool url_scheme_host(const char *url, char **scheme, char **host)
{
    CURLU *u = curl_url();
    *scheme = *host = NULL;
    bool ok = u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_SCHEME, scheme, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_HOST, host, 0) == CURLUE_OK;
    curl_url_cleanup(u);
    return ok;
}

static bool endpoint_ok(const char *url)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *user = NULL, *query = NULL, *path = NULL, *host = NULL;
    bool ok = u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
              (strcmp(scheme, "https") == 0 || strcmp(scheme, "http") == 0) &&
              curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_USER, &user, 0) != CURLUE_OK &&
              curl_url_get(u, CURLUPART_QUERY, &query, 0) != CURLUE_OK &&
              curl_url_get(u, CURLUPART_PATH, &path, 0) == CURLUE_OK &&
              strcmp(path, "/") == 0;
    curl_free(scheme), curl_free(user), curl_free(query), curl_free(path), curl_free(host);
    curl_url_cleanup(u);
    return ok;
}

/* Why bucket cannot be the first label of the endpoint's host name
 * (virtual-hosted style), NULL when it can: an address has no labels, and
 * over https a dotted bucket would not match the endpoint's wildcard
 * certificate (*.host covers one label). */
static const char *virtual_host_refusal(const char *endpoint, const char *bucket)
{
    char *scheme, *host;
    const char *why = NULL;
    if (!url_scheme_host(endpoint, &scheme, &host))
        why = "the endpoint has no host name";
    else if (host[0] == '[' || strspn(host, "0123456789.") == strlen(host))
        why = "the endpoint is an IP address, which cannot carry the bucket as a host name";
    else if (strchr(bucket, '.') && strcmp(scheme, "https") == 0)
        why = "a bucket name with dots cannot be a host name label over https (the "
              "certificate would not match): use path style";
    curl_free(scheme), curl_free(host);
    return why;
}

#define FAIL(f, ...) \
    do { snprintf(field, flen, "%s", f); snprintf(why, wlen, __VA_ARGS__); return false; } while (0)

/* cfg from config (the client's storage shape); false naming the field */
static bool s3_parse(const json_t *config, s3cfg *c, char *field, size_t flen, char *why,
                     size_t wlen)
{
    const json_t *st = json_object_get(config, "storage");
    if (!json_is_object(st))
        st = config;
    if (!json_is_object(st))
        FAIL("config.storage", "must be an object");
    const char *provider = adb__cfg_str(st, "provider");
    if (!provider)
        FAIL("config.storage.provider", "is required (s3)");
    if (strcmp(provider, "s3") != 0)
        FAIL("config.storage.provider", "storage provider \"%s\" is not supported: only \"s3\" "
             "(and S3-compatible endpoints) is", adb__text_safe(provider) &&
             strlen(provider) < 32 ? provider : "?");
    const json_t *k = json_object_get(st, "config");
    if (!json_is_object(k))
        FAIL("config.storage.config", "must be an object with bucket, region, accessKeyId and "
             "secretAccessKey");
    memset(c, 0, sizeof(*c));
    c->bucket = adb__cfg_str(k, "bucket");
    c->region = adb__cfg_str(k, "region");
    c->endpoint = adb__cfg_str(k, "endpoint");
    c->access_key = adb__cfg_str(k, "accessKeyId");
    c->secret_key = adb__cfg_str(k, "secretAccessKey");
    c->token = adb__cfg_str(k, "sessionToken");
    c->path = adb__cfg_str(st, "path");
    if (!c->bucket || !bucket_ok(c->bucket))
        FAIL("config.storage.config.bucket", "must be an S3 bucket name (3 to 63 of a-z, 0-9, "
             "'.', '-')");
    if (!c->region)
        c->region = "us-east-1";
    if (!region_ok(c->region))
        FAIL("config.storage.config.region", "must be a region name such as eu-west-1");
    if (c->endpoint && *c->endpoint && !endpoint_ok(c->endpoint))
        FAIL("config.storage.config.endpoint", "must be an http(s) URL without credentials, "
             "path or query, e.g. https://s3.example.net:9000");
    /* forcePathStyle (the AWS SDKs' name): path style by default for a custom
     * endpoint (what S3-compatible stores expect), virtual-hosted for Amazon's */
    const json_t *fps = json_object_get(k, "forcePathStyle");
    bool custom = c->endpoint && *c->endpoint;
    if (fps && !json_is_boolean(fps))
        FAIL("config.storage.config.forcePathStyle", "must be true or false");
    c->path_style = fps ? json_is_true(fps) : custom;
    if (!custom && !c->path_style && strchr(c->bucket, '.'))
        c->path_style = true; /* Amazon: a dotted name would not match *.s3.region.amazonaws.com */
    const char *vwhy = custom && !c->path_style ? virtual_host_refusal(c->endpoint, c->bucket) : NULL;
    if (vwhy)
        FAIL("config.storage.config.forcePathStyle", "false is refused here: %s", vwhy);
    if (!c->access_key || !*c->access_key || strlen(c->access_key) > 128 ||
        !adb__text_safe(c->access_key))
        FAIL("config.storage.config.accessKeyId", "is required");
    if (!c->secret_key || !*c->secret_key || strlen(c->secret_key) > 256 ||
        !adb__text_safe(c->secret_key))
        FAIL("config.storage.config.secretAccessKey", "is required");
    if (c->token && (!adb__text_safe(c->token) || strlen(c->token) > 4096))
        FAIL("config.storage.config.sessionToken", "must be text without control characters");
    if (!c->path)
        c->path = "";
    if (!prefix_ok(c->path))
        FAIL("config.storage.path", "must be a key prefix without '.' or '..' segments, "
             "backslashes or control characters (at most 700 bytes)");
    return true;
}

bool adb__s3_check(const json_t *config, char *field, size_t flen, char *why, size_t wlen)
{
    s3cfg c;
    return s3_parse(config, &c, field, flen, why, wlen);
}

/* ---- Signature Version 4 ---- */

/* RFC 3986 unreserved kept, everything else %XX (upper case); '/' kept when
 * keep_slash (S3 object keys are encoded once, segment by segment) */
static void uri_encode(adb__buf *b, const char *s, bool keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~' || (keep_slash && c == '/')) {
            adb__buf_put(b, (const char *)&c, 1);
        } else {
            char e[3] = { '%', hex[c >> 4], hex[c & 15] };
            adb__buf_put(b, e, 3);
        }
    }
}

static bool hmac(const unsigned char *key, size_t klen, const char *msg, unsigned char out[32])
{
    adb__hmac_key k;
    return adb__hmac_key_init(&k, key, klen) && adb__hmac_sha256(&k, msg, strlen(msg), out);
}

/* the Authorization value for one request: method, canonical URI, host,
 * content type (NULL: none signed), payload hash, amz_date */
static char *sigv4_authorization(const s3cfg *c, const char *method, const char *uri,
                                 const char *host, const char *ctype, const char *payload_hex,
                                 const char *amz_date)
{
    adb__buf cr = { 0 }, sh = { 0 };
    char date[9], scope[128], sts_hash[65], sig[65];
    unsigned char k1[32], k2[32], k3[32], k4[32], s[32];

    memcpy(date, amz_date, 8);
    date[8] = '\0';
    snprintf(scope, sizeof(scope), "%s/%s/s3/aws4_request", date, c->region);

    /* canonical request: names sorted, lower case, values trimmed */
    adb__buf_printf(&cr, "%s\n%s\n\n", method, uri);
    if (ctype) {
        adb__buf_printf(&cr, "content-type:%s\n", ctype);
        adb__buf_puts(&sh, "content-type;");
    }
    adb__buf_printf(&cr, "host:%s\nx-amz-content-sha256:%s\nx-amz-date:%s\n", host, payload_hex,
                    amz_date);
    adb__buf_puts(&sh, "host;x-amz-content-sha256;x-amz-date");
    if (c->token) {
        adb__buf_printf(&cr, "x-amz-security-token:%s\n", c->token);
        adb__buf_puts(&sh, ";x-amz-security-token");
    }
    adb__buf_printf(&cr, "\n%s\n%s", sh.p ? sh.p : "", payload_hex);
    if (cr.oom || sh.oom) {
        adb__buf_free(&cr), adb__buf_free(&sh);
        return NULL;
    }
    adb__sha256_hex(cr.p, cr.len, sts_hash);
    adb__buf_free(&cr);

    char *sts = adb__aprintf("AWS4-HMAC-SHA256\n%s\n%s\n%s", amz_date, scope, sts_hash);
    char *kd = adb__aprintf("AWS4%s", c->secret_key);
    bool ok = sts && kd && hmac((unsigned char *)kd, strlen(kd), date, k1) &&
              hmac(k1, 32, c->region, k2) && hmac(k2, 32, "s3", k3) &&
              hmac(k3, 32, "aws4_request", k4) && hmac(k4, 32, sts, s);
    if (kd) {
        OPENSSL_cleanse(kd, strlen(kd));
        free(kd);
    }
    free(sts);
    OPENSSL_cleanse(k1, 32), OPENSSL_cleanse(k2, 32), OPENSSL_cleanse(k3, 32);
    OPENSSL_cleanse(k4, 32);
    char *auth = NULL;
    if (ok) {
        adb__hex(s, 32, sig);
        auth = adb__aprintf("AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s",
                            c->access_key, scope, sh.p, sig);
    }
    adb__buf_free(&sh);
    return auth;
}

/* ---- requests ---- */

typedef struct s3req {
    char *url;      /* what curl is given */
    char *uri;      /* the canonical URI: the path as sent */
    char *host;     /* the Host field */
} s3req;

static void s3req_free(s3req *r)
{
    free(r->url), free(r->uri), free(r->host);
    memset(r, 0, sizeof(*r));
}

/* the URL of bucket (key NULL) or of key in it */
static bool s3_target(const s3cfg *c, const char *key, s3req *r)
{
    adb__buf path = { 0 };
    char *scheme = NULL, *host = NULL, *port = NULL;
    bool ok = false;

    memset(r, 0, sizeof(*r));
    if (c->endpoint && *c->endpoint) {
        CURLU *u = curl_url();
        if (!u || curl_url_set(u, CURLUPART_URL, c->endpoint, 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
            curl_url_cleanup(u);
            goto out;
        }
        curl_url_get(u, CURLUPART_PORT, &port, 0);
        curl_url_cleanup(u);
        bool dflt = !port || (strcmp(scheme, "http") == 0 && strcmp(port, "80") == 0) ||
                    (strcmp(scheme, "https") == 0 && strcmp(port, "443") == 0);
        if (c->path_style) {
            r->host = dflt ? adb__strdup(host) : adb__aprintf("%s:%s", host, port);
            adb__buf_puts(&path, "/");
            uri_encode(&path, c->bucket, false);
        } else { /* virtual-hosted: the bucket a label in front of the endpoint's host */
            r->host = dflt ? adb__aprintf("%s.%s", c->bucket, host)
                           : adb__aprintf("%s.%s:%s", c->bucket, host, port);
        }
    } else if (!c->path_style) {
        /* Amazon S3 itself: virtual-hosted style (the bucket in the host name) */
        r->host = adb__aprintf("%s.s3.%s.amazonaws.com", c->bucket, c->region);
    } else {
        /* path style at Amazon (asked for, or a dotted bucket name, which would
         * not match the wildcard certificate) */
        r->host = adb__aprintf("s3.%s.amazonaws.com", c->region);
        adb__buf_puts(&path, "/");
        uri_encode(&path, c->bucket, false);
    }
    if (key) {
        adb__buf_puts(&path, "/");
        uri_encode(&path, key, true);
    } else if (path.len == 0) {
        adb__buf_puts(&path, "/");
    }
    if (path.oom || !r->host)
        goto out;
    r->uri = adb__buf_take(&path, NULL);
    r->url = adb__aprintf("%s://%s%s", scheme ? scheme : "https", r->host, r->uri);
    ok = r->uri && r->url;
out:
    adb__buf_free(&path);
    curl_free(scheme), curl_free(host), curl_free(port);
    if (!ok)
        s3req_free(r);
    return ok;
}

static void amz_now(char out[17])
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

/* one signed request: PUT of body (key set) or HEAD of the bucket */
static adb_status s3_exchange(const adb__dest *d, const char *key, const adb__item *it,
                              adb__attempt *out)
{
    s3cfg c;
    s3req r;
    char field[96], why[160], amz[17], payload[65];
    adb__peer_answer pa;
    struct curl_slist *hdr = NULL;
    char *auth = NULL, *line = NULL;
    adb_status st = ADB_OK;
    double t0 = adb__now_ms();

    if (!s3_parse(d->config, &c, field, sizeof(field), why, sizeof(why))) {
        adb__attempt_fail(out, true, "%s %s", field, why);
        return ADB_ERR_CONFIG;
    }
    if (!s3_target(&c, key, &r)) {
        adb__attempt_fail(out, false, "s3: out of memory");
        return ADB_ERR_NOMEM;
    }
    const char *ctype = it ? (it->content_type && *it->content_type ? it->content_type
                                                                     : "application/octet-stream")
                           : NULL;
    if (ctype && !adb__text_safe(ctype)) {
        adb__attempt_fail(out, true, "the content type has a control character");
        s3req_free(&r);
        return ADB_ERR_CONFIG;
    }
    amz_now(amz);
    if (it)
        adb__sha256_hex(it->body ? (const void *)it->body : "", it->body_len, payload);
    else
        adb__sha256_hex("", 0, payload);
    auth = sigv4_authorization(&c, it ? "PUT" : "HEAD", r.uri, r.host, ctype, payload, amz);
    CURL *cu = curl_easy_init();
    if (!auth || !cu) {
        adb__attempt_fail(out, false, "s3: out of memory");
        st = ADB_ERR_NOMEM;
        goto out;
    }
#define ADD(...)                                                      \
    do {                                                              \
        free(line);                                                   \
        line = adb__aprintf(__VA_ARGS__);                             \
        struct curl_slist *n_ = line ? curl_slist_append(hdr, line) : NULL; \
        if (!n_) { st = ADB_ERR_NOMEM; goto out; }                    \
        hdr = n_;                                                     \
    } while (0)
    ADD("Host: %s", r.host);
    ADD("x-amz-content-sha256: %s", payload);
    ADD("x-amz-date: %s", amz);
    if (c.token)
        ADD("x-amz-security-token: %s", c.token);
    if (ctype)
        ADD("Content-Type: %s", ctype);
    ADD("Authorization: %s", auth);
    ADD("Expect:");
#undef ADD
    if (adb__ssrf_attach(cu) != ADB_OK) {
        adb__attempt_fail(out, false, "s3: the address policy could not be applied");
        st = ADB_ERR_INTERNAL;
        goto out;
    }
    curl_easy_setopt(cu, CURLOPT_URL, r.url);
    curl_easy_setopt(cu, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(cu, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(cu, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(cu, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(cu, CURLOPT_TIMEOUT_MS, 300000L);
    curl_easy_setopt(cu, CURLOPT_HTTPHEADER, hdr);
    adb__tls_trust(cu);
    adb__peer_capture(cu, &pa);
    if (it) {
        curl_easy_setopt(cu, CURLOPT_CUSTOMREQUEST, "PUT");
        curl_easy_setopt(cu, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)it->body_len);
        curl_easy_setopt(cu, CURLOPT_POSTFIELDS, it->body ? (const char *)it->body : "");
    } else {
        curl_easy_setopt(cu, CURLOPT_NOBODY, 1L);
    }
    CURLcode rc = curl_easy_perform(cu);
    adb__attempt_from_http(out, cu, rc, &pa, it ? "s3 PUT" : "s3 HEAD bucket");
    if (out->ok && it) {
        /* the ETag, without its quotes, as the cross-system reference */
        const char *e = pa.etag;
        size_t n = strlen(e);
        if (n >= 2 && e[0] == '"' && e[n - 1] == '"')
            snprintf(out->reference, sizeof(out->reference), "%.*s", (int)(n - 2), e + 1);
        else
            snprintf(out->reference, sizeof(out->reference), "%s", e);
        if (!out->reference[0])
            snprintf(out->reference, sizeof(out->reference), "s3://%s/%.200s", c.bucket, key);
    }
out:
    out->elapsed_ms = adb__now_ms() - t0;
    if (auth)
        OPENSSL_cleanse(auth, strlen(auth));
    free(auth), free(line);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(cu);
    s3req_free(&r);
    return st;
}

adb_status adb__s3_send(adb *h, const adb__dest *d, const adb__item *it, adb__attempt *out)
{
    s3cfg c;
    char field[96], why[160], name[ADB_ARTIFACT_NAME_MAX + 1], key[S3_KEY_MAX + 1];

    (void)h;
    adb__attempt_init(out);
    if (!s3_parse(d->config, &c, field, sizeof(field), why, sizeof(why))) {
        adb__attempt_fail(out, true, "%s %s", field, why);
        return ADB_ERR_CONFIG;
    }
    if (!adb__artifact_name(it, adb__cfg_str(adb__dest_section(d, "storage"), "filename"), name,
                            sizeof(name), why, sizeof(why))) {
        adb__attempt_fail(out, true, "config.storage.filename %s", why);
        return ADB_ERR_CONFIG;
    }
    const char *p = c.path;
    while (*p == '/')
        p++;
    size_t pl = strlen(p);
    if ((size_t)snprintf(key, sizeof(key), "%s%s%s", p, pl && p[pl - 1] != '/' ? "/" : "",
                         name) >= sizeof(key)) {
        adb__attempt_fail(out, true, "config.storage.path the object key is longer than %d bytes",
                          S3_KEY_MAX);
        return ADB_ERR_CONFIG;
    }
    return s3_exchange(d, key, it, out);
}

adb_status adb__s3_probe(adb *h, const adb__dest *d, adb__attempt *out)
{
    (void)h;
    adb__attempt_init(out);
    return s3_exchange(d, NULL, NULL, out);
}
