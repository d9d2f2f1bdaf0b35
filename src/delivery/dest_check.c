/*
 * dest_check.c - a destination's config checked against the client's shapes
 * (smart-logs' DeliveryDestinationConfig) and the address policy, the field
 * at fault named as the client names it ("config.webhook.url").
 */
#include "destination.h"
#include "secret.h"
#include "ssrf.h"
#include "../core/util.h"

#include <math.h>
#include <stdlib.h>
#include <strings.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define STR_MAX 2048
#define URL_MAX 2048
#define SECRET_MAX 16384 /* a private key in PEM */

void adb__dest_fail(adb__dest_error *e, const char *field, const char *code, const char *fmt, ...)
{
    va_list ap;
    adb__fmt(e->field, sizeof(e->field), "%s", field);
    adb__fmt(e->code, sizeof(e->code), "%s", code);
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof(e->message), fmt, ap);
    va_end(ap);
}

bool adb__dest_type_valid(const char *type)
{
    static const char *const types[] = { "email", "webhook", "storage", "sftp", "download", NULL };
    for (int i = 0; type && types[i]; i++)
        if (!strcmp(type, types[i]))
            return true;
    return false;
}

/* a member check: kind 's' string, 'n' number, 'b' boolean, 'o' object,
 * 'a' array; required; for strings at most max bytes */
static bool member(const json_t *o, const char *path, const char *name, char kind, bool required,
                   size_t max, adb__dest_error *e)
{
    json_t *v = json_object_get(o, name);
    char field[160];
    adb__fmt(field, sizeof(field), "%s.%s", path, name);

    if (!v || json_is_null(v)) {
        if (required) {
            adb__dest_fail(e, field, "REQUIRED", "%s is required", field);
            return false;
        }
        return true;
    }
    bool ok = kind == 's' ? json_is_string(v) : kind == 'n' ? json_is_number(v)
              : kind == 'b' ? json_is_boolean(v) : kind == 'o' ? json_is_object(v)
              : json_is_array(v);
    if (!ok) {
        adb__dest_fail(e, field, "INVALID_TYPE", "%s must be %s", field,
                       kind == 's' ? "a string" : kind == 'n' ? "a number"
                       : kind == 'b' ? "a boolean" : kind == 'o' ? "an object" : "an array");
        return false;
    }
    if (kind == 's' && (json_string_length(v) > max || !adb__utf8_valid(json_string_value(v), json_string_length(v)) ||
                        memchr(json_string_value(v), 0, json_string_length(v)))) {
        adb__dest_fail(e, field, "INVALID_VALUE", "%s must be valid UTF-8 of at most %zu bytes",
                       field, max);
        return false;
    }
    if (kind == 'n' && !isfinite(json_number_value(v))) {
        adb__dest_fail(e, field, "INVALID_VALUE", "%s must be a finite number", field);
        return false;
    }
    return true;
}

/* only the members in known */
static bool only(const json_t *o, const char *path, const char *const *known, adb__dest_error *e)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)o, key, v) {
        bool ok = false;
        for (int i = 0; known[i] && !ok; i++)
            ok = !strcmp(key, known[i]);
        if (!ok) {
            char field[160];
            adb__fmt(field, sizeof(field), "%s.%.64s", path, key);
            adb__utf8_repair(field);
            adb__dest_fail(e, field, "UNKNOWN_FIELD", "unknown member \"%s\"", field);
            return false;
        }
    }
    (void)v;
    return true;
}

static bool number_in(const json_t *o, const char *path, const char *name, double min, double max,
                      bool integer, adb__dest_error *e)
{
    json_t *v = json_object_get(o, name);
    if (!json_is_number(v))
        return true;
    double d = json_number_value(v);
    if (d < min || d > max || (integer && d != floor(d))) {
        adb__dest_fail(e, path, "INVALID_VALUE", "%s.%s must be %s from %g to %g", path, name,
                       integer ? "an integer" : "a number", min, max);
        adb__fmt(e->field, sizeof(e->field), "%s.%s", path, name);
        return false;
    }
    return true;
}

/* the address policy on host:port, the field at fault being field */
static bool host_admitted(const char *host, int port, const char *field, bool skip,
                          adb__dest_error *e)
{
    char err[512];
    if (skip)
        return true;
    adb_status st = adb__ssrf_check_host(host, port, err, sizeof(err));
    if (st == ADB_OK)
        return true;
    adb__dest_fail(e, field, st == ADB_ERR_NOT_FOUND ? "UNRESOLVABLE_HOST" : "ADDRESS_REFUSED",
                   "%s: %s", field, err);
    return false;
}

/* A URL's scheme (among allowed) and host checked; the policy on its host. */
static bool url_ok(const char *url, const char *field, const char *const *schemes, bool skip,
                   adb__dest_error *e)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL, *user = NULL;
    bool ok = false;

    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && host && *host) {
        bool scheme_ok = false;
        for (int i = 0; schemes[i]; i++)
            scheme_ok |= !strcmp(scheme, schemes[i]);
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT);
        if (!scheme_ok)
            adb__dest_fail(e, field, "INVALID_VALUE", "%s must be an %s URL", field,
                           !strcmp(schemes[0], "https") ? "http or https" : schemes[0]);
        else if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK)
            adb__dest_fail(e, field, "INVALID_VALUE",
                           "%s must not carry credentials: use a header (sealed) instead", field);
        else
            ok = host_admitted(host, port ? atoi(port) : 0, field, skip, e);
    } else {
        adb__dest_fail(e, field, "INVALID_VALUE", "%s must be an absolute URL", field);
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(user);
    curl_url_cleanup(u);
    return ok;
}

static bool header_ok(const char *name, const char *value)
{
    if (!*name || strlen(name) > 256)
        return false;
    for (const char *p = name; *p; p++)
        if (!strchr("!#$%&'*+-.^_`|~", *p) && !((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
                                                (*p >= 'A' && *p <= 'Z')))
            return false;
    for (const char *p = value; *p; p++)
        if (*p == '\r' || *p == '\n')
            return false;
    return true;
}

static bool check_webhook(const json_t *w, bool skip, adb__dest_error *e)
{
    static const char *const known[] = { "url", "method", "headers", "timeout", "retryConfig",
                                         "legacyHeaders", NULL };
    static const char *const retry_known[] = { "maxRetries", "backoffMultiplier",
                                               "maxBackoffDelay", NULL };
    static const char *const schemes[] = { "https", "http", NULL };
    const char *P = "config.webhook";
    const char *key;
    json_t *v;

    if (!only(w, P, known, e) || !member(w, P, "url", 's', true, URL_MAX, e) ||
        !member(w, P, "method", 's', true, 8, e) || !member(w, P, "headers", 'o', true, 0, e) ||
        !member(w, P, "timeout", 'n', true, 0, e) || !member(w, P, "retryConfig", 'o', true, 0, e) ||
        !member(w, P, "legacyHeaders", 'b', false, 0, e))
        return false;
    const char *method = json_string_value(json_object_get(w, "method"));
    if (strcmp(method, "POST") && strcmp(method, "PUT")) {
        adb__dest_fail(e, "config.webhook.method", "INVALID_VALUE",
                       "config.webhook.method must be POST or PUT");
        return false;
    }
    if (json_object_size(json_object_get(w, "headers")) > 50) {
        adb__dest_fail(e, "config.webhook.headers", "INVALID_VALUE",
                       "config.webhook.headers: at most 50 headers");
        return false;
    }
    json_object_foreach(json_object_get(w, "headers"), key, v) {
        char field[160];
        adb__fmt(field, sizeof(field), "config.webhook.headers.%.64s", key);
        adb__utf8_repair(field);
        if (!json_is_string(v) && !adb__dest_is_mask(v)) {
            adb__dest_fail(e, field, "INVALID_TYPE", "%s must be a string", field);
            return false;
        }
        if (json_is_string(v) && (json_string_length(v) > 8192 ||
                                  !header_ok(key, json_string_value(v)))) {
            adb__dest_fail(e, field, "INVALID_VALUE",
                           "%s: a header name is a token and a value has no line break", field);
            return false;
        }
        if (!strncasecmp(key, "webhook-", 8) || !strcasecmp(key, "host") ||
            !strcasecmp(key, "content-length") || !strcasecmp(key, "transfer-encoding")) {
            adb__dest_fail(e, field, "INVALID_VALUE", "%s is set by the service", field);
            return false;
        }
    }
    const json_t *rc = json_object_get(w, "retryConfig");
    if (!number_in(w, P, "timeout", 100, 300000, false, e) ||
        !only(rc, "config.webhook.retryConfig", retry_known, e) ||
        !member(rc, "config.webhook.retryConfig", "maxRetries", 'n', true, 0, e) ||
        !member(rc, "config.webhook.retryConfig", "backoffMultiplier", 'n', true, 0, e) ||
        !member(rc, "config.webhook.retryConfig", "maxBackoffDelay", 'n', true, 0, e) ||
        !number_in(rc, "config.webhook.retryConfig", "maxRetries", 0, 20, true, e) ||
        !number_in(rc, "config.webhook.retryConfig", "backoffMultiplier", 1, 10, false, e) ||
        !number_in(rc, "config.webhook.retryConfig", "maxBackoffDelay", 0, 604800000, false, e))
        return false;
    return url_ok(json_string_value(json_object_get(w, "url")), "config.webhook.url", schemes, skip,
                  e);
}

/* a secret string field: a string, or the mask (keeps the stored value) */
static bool secret_member(const json_t *o, const char *path, const char *name, bool required,
                          adb__dest_error *e)
{
    json_t *v = json_object_get(o, name);
    if (v && adb__dest_is_mask(v))
        return true;
    return member(o, path, name, 's', required, SECRET_MAX, e);
}

static bool check_email(const json_t *m, bool skip, adb__dest_error *e)
{
    static const char *const known[] = { "service", "smtpConfig", "apiKey", "from", "subject",
                                         "bodyTemplate", "attachmentName", "recipients", NULL };
    static const char *const smtp_known[] = { "host", "port", "secure", "auth", NULL };
    static const char *const auth_known[] = { "user", "pass", NULL };
    const char *P = "config.email";
    size_t i;
    json_t *v;

    if (!only(m, P, known, e) || !member(m, P, "service", 's', true, 255, e) ||
        !member(m, P, "smtpConfig", 'o', false, 0, e) || !secret_member(m, P, "apiKey", false, e) ||
        !member(m, P, "from", 's', true, 998, e) || !member(m, P, "subject", 's', true, 998, e) ||
        !member(m, P, "bodyTemplate", 's', false, 65536, e) ||
        !member(m, P, "attachmentName", 's', false, 255, e) ||
        !member(m, P, "recipients", 'a', false, 0, e))
        return false;
    json_array_foreach(json_object_get(m, "recipients"), i, v) {
        const char *s = json_string_value(v);
        if (!s || !strchr(s, '@') || strlen(s) > 320 || strpbrk(s, "\r\n<>,")) {
            char field[64];
            adb__fmt(field, sizeof(field), "config.email.recipients[%zu]", i);
            adb__dest_fail(e, field, "INVALID_VALUE", "%s must be an email address", field);
            return false;
        }
    }
    const char *from = json_string_value(json_object_get(m, "from"));
    if (!strchr(from, '@') || strpbrk(from, "\r\n")) {
        adb__dest_fail(e, "config.email.from", "INVALID_VALUE",
                       "config.email.from must be an email address");
        return false;
    }
    if (strpbrk(json_string_value(json_object_get(m, "subject")), "\r\n")) {
        adb__dest_fail(e, "config.email.subject", "INVALID_VALUE",
                       "config.email.subject must be one line");
        return false;
    }
    const json_t *smtp = json_object_get(m, "smtpConfig");
    if (!smtp)
        return true;
    const char *SP = "config.email.smtpConfig";
    if (!only(smtp, SP, smtp_known, e) || !member(smtp, SP, "host", 's', true, 253, e) ||
        !member(smtp, SP, "port", 'n', true, 0, e) || !member(smtp, SP, "secure", 'b', true, 0, e) ||
        !member(smtp, SP, "auth", 'o', true, 0, e) || !number_in(smtp, SP, "port", 1, 65535, true, e))
        return false;
    const json_t *auth = json_object_get(smtp, "auth");
    if (!only(auth, "config.email.smtpConfig.auth", auth_known, e) ||
        !member(auth, "config.email.smtpConfig.auth", "user", 's', true, 255, e) ||
        !secret_member(auth, "config.email.smtpConfig.auth", "pass", true, e))
        return false;
    return host_admitted(json_string_value(json_object_get(smtp, "host")),
                         (int)json_number_value(json_object_get(smtp, "port")),
                         "config.email.smtpConfig.host", skip, e);
}

static bool check_storage(const json_t *m, bool skip, adb__dest_error *e)
{
    static const char *const known[] = { "provider", "config", "path", "retention", NULL };
    static const char *const ret_known[] = { "days", "autoCleanup", NULL };
    static const char *const providers[] = { "local", "s3", "azure", "gcp", NULL };
    static const char *const schemes[] = { "https", "http", NULL };
    const char *P = "config.storage";
    const char *key;
    json_t *v;

    if (!only(m, P, known, e) || !member(m, P, "provider", 's', true, 16, e) ||
        !member(m, P, "config", 'o', true, 0, e) || !member(m, P, "path", 's', true, 1024, e) ||
        !member(m, P, "retention", 'o', true, 0, e))
        return false;
    const char *prov = json_string_value(json_object_get(m, "provider"));
    bool known_p = false;
    for (int i = 0; providers[i]; i++)
        known_p |= !strcmp(prov, providers[i]);
    if (!known_p) {
        adb__dest_fail(e, "config.storage.provider", "INVALID_VALUE",
                       "config.storage.provider must be local, s3, azure or gcp");
        return false;
    }
    if (strcmp(prov, "s3") != 0) { /* the client's enum; this server sends to S3-compatible stores */
        adb__dest_fail(e, "config.storage.provider", "NOT_SUPPORTED",
                       "config.storage.provider %s is not supported by this server: use s3 (any "
                       "S3-compatible store)", prov);
        return false;
    }
    const json_t *ret = json_object_get(m, "retention");
    if (!only(ret, "config.storage.retention", ret_known, e) ||
        !member(ret, "config.storage.retention", "days", 'n', true, 0, e) ||
        !member(ret, "config.storage.retention", "autoCleanup", 'b', true, 0, e) ||
        !number_in(ret, "config.storage.retention", "days", 0, 36500, true, e))
        return false;
    const json_t *cfg = json_object_get(m, "config");
    json_object_foreach((json_t *)cfg, key, v) {
        char field[160];
        adb__fmt(field, sizeof(field), "config.storage.config.%.64s", key);
        adb__utf8_repair(field);
        if (adb__dest_secret_name(key) && !json_is_string(v) && !adb__dest_is_mask(v)) {
            adb__dest_fail(e, field, "INVALID_TYPE", "%s must be a string", field);
            return false;
        }
    }
    if (json_dumpb(cfg, NULL, 0, JSON_COMPACT) > 65536) {
        adb__dest_fail(e, "config.storage.config", "INVALID_VALUE",
                       "config.storage.config: at most 64 KiB");
        return false;
    }
    json_t *ep = json_object_get(cfg, "endpoint");
    if (ep) {
        if (!json_is_string(ep)) {
            adb__dest_fail(e, "config.storage.config.endpoint", "INVALID_TYPE",
                           "config.storage.config.endpoint must be a URL");
            return false;
        }
        return url_ok(json_string_value(ep), "config.storage.config.endpoint", schemes, skip, e);
    }
    return true;
}

static bool check_sftp(const json_t *m, bool skip, adb__dest_error *e)
{
    static const char *const known[] = { "host", "port", "username", "password", "privateKey",
                                         "passphrase", "path", "filename", "hostKey", NULL };
    const char *P = "config.sftp";

    if (!only(m, P, known, e) || !member(m, P, "host", 's', true, 253, e) ||
        !member(m, P, "port", 'n', true, 0, e) || !number_in(m, P, "port", 1, 65535, true, e) ||
        !member(m, P, "username", 's', false, 255, e) || !secret_member(m, P, "password", false, e) ||
        !secret_member(m, P, "privateKey", false, e) || !secret_member(m, P, "passphrase", false, e) ||
        !member(m, P, "path", 's', true, 1024, e) || !member(m, P, "filename", 's', false, 255, e) ||
        !member(m, P, "hostKey", 's', false, 4096, e))
        return false;
    const char *hk = json_string_value(json_object_get(m, "hostKey"));
    size_t hl = hk ? strlen(hk) : 0;
    bool hk_ok = hl == 7 + 43 && !strncmp(hk, "SHA256:", 7);
    for (size_t i = 7; hk_ok && i < hl; i++)
        hk_ok = strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", hk[i]) != NULL;
    if (!hk_ok) {
        adb__dest_fail(e, "config.sftp.hostKey", hk ? "INVALID_VALUE" : "REQUIRED",
                       "config.sftp.hostKey must be the server's key fingerprint as ssh-keygen -l "
                       "prints it (SHA256:<43 base64 characters>): the server is pinned");
        return false;
    }
    const char *fn = json_string_value(json_object_get(m, "filename"));
    if (fn && (strchr(fn, '/') || !strcmp(fn, "..") || !*fn)) {
        adb__dest_fail(e, "config.sftp.filename", "INVALID_VALUE",
                       "config.sftp.filename must be a file name, without /");
        return false;
    }
    return host_admitted(json_string_value(json_object_get(m, "host")),
                         (int)json_number_value(json_object_get(m, "port")), "config.sftp.host",
                         skip, e);
}

static bool check_download(const json_t *m, adb__dest_error *e)
{
    static const char *const known[] = { "baseUrl", "expiryHours", "maxAccess", "allowedIpRanges",
                                         NULL };
    static const char *const schemes[] = { "https", "http", NULL };
    const char *P = "config.download";
    size_t i;
    json_t *v;

    if (!only(m, P, known, e) || !member(m, P, "baseUrl", 's', false, URL_MAX, e) ||
        !member(m, P, "expiryHours", 'n', true, 0, e) ||
        !number_in(m, P, "expiryHours", 1, 8760, false, e) ||
        !member(m, P, "maxAccess", 'n', false, 0, e) ||
        !number_in(m, P, "maxAccess", 1, 1000000, true, e) ||
        !member(m, P, "allowedIpRanges", 'a', false, 0, e))
        return false;
    json_array_foreach(json_object_get(m, "allowedIpRanges"), i, v) {
        if (!json_is_string(v) || !adb__cidr_valid(json_string_value(v))) {
            char field[64];
            adb__fmt(field, sizeof(field), "config.download.allowedIpRanges[%zu]", i);
            adb__dest_fail(e, field, "INVALID_VALUE", "%s must be an IP address or CIDR", field);
            return false;
        }
    }
    /* the base URL is where recipients fetch from, not where the service connects */
    json_t *b = json_object_get(m, "baseUrl");
    return !b || url_ok(json_string_value(b), "config.download.baseUrl", schemes, true, e);
}

/* config.circuitBreaker (dhealth's breaker.c reads it; docs/delivery.md "Health and
 * breakers"): absent, or an object of the known knobs, each an integer in range */
static bool check_breaker(const json_t *b, adb__dest_error *e)
{
    static const struct { const char *name; double min, max; } knobs[] = {
        { "failureRateThreshold", 1, 100 }, { "windowSeconds", 1, 86400 },
        { "minimumVolume", 1, 1000000 }, { "cooldownSeconds", 1, 86400 },
        { "probeTimeoutSeconds", 1, 86400 }, { "disableAfterSeconds", 60, 31536000 },
    };
    static const char *const known[] = { "failureRateThreshold", "windowSeconds", "minimumVolume",
                                         "cooldownSeconds", "probeTimeoutSeconds",
                                         "disableAfterSeconds", NULL };
    if (!b || json_is_null(b))
        return true;
    if (!json_is_object(b)) {
        adb__dest_fail(e, "config.circuitBreaker", "INVALID_TYPE", "config.circuitBreaker must be an object");
        return false;
    }
    if (!only(b, "config.circuitBreaker", known, e))
        return false;
    for (size_t i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++)
        if (!member(b, "config.circuitBreaker", knobs[i].name, 'n', false, 0, e) ||
            !number_in(b, "config.circuitBreaker", knobs[i].name, knobs[i].min, knobs[i].max, true, e))
            return false;
    return true;
}

bool adb__dest_check_config(const char *type, const json_t *config, bool skip_ssrf,
                            adb__dest_error *e)
{
    const char *key;
    json_t *v;

    if (!json_is_object(config)) {
        adb__dest_fail(e, "config", json_is_null(config) || !config ? "REQUIRED" : "INVALID_TYPE",
                       "config must be an object with the member of the destination's type");
        return false;
    }
    static const char *const members[] = { "email", "webhook", "storage", "sftp", "download",
                                           "circuitBreaker", NULL };
    if (!only(config, "config", members, e) || !check_breaker(json_object_get(config, "circuitBreaker"), e))
        return false;
    /* the breaker's settings, any type (breaker.c; docs/delivery.md "Health and breakers") */
    char cbfield[96], cbmsg[160];
    if (!adb__breaker_config_check(json_object_get(config, "circuitBreaker"), cbfield,
                                   sizeof(cbfield), cbmsg, sizeof(cbmsg))) {
        adb__dest_fail(e, cbfield, "INVALID_VALUE", "%s", cbmsg);
        return false;
    }
    json_object_foreach((json_t *)config, key, v) {
        if (strcmp(key, type) != 0 && strcmp(key, "circuitBreaker") != 0 && !json_is_null(v)) {
            char field[40];
            adb__fmt(field, sizeof(field), "config.%s", key);
            adb__dest_fail(e, field, "INVALID_VALUE",
                           "config.%s does not belong to a %s destination", key, type);
            return false;
        }
    }
    const json_t *m = json_object_get(config, type);
    char field[40];
    adb__fmt(field, sizeof(field), "config.%s", type);
    if (!json_is_object(m)) {
        adb__dest_fail(e, field, m ? "INVALID_TYPE" : "REQUIRED",
                       "%s is required for a %s destination and must be an object", field, type);
        return false;
    }
    if (!strcmp(type, "webhook"))
        return check_webhook(m, skip_ssrf, e);
    bool ok = !strcmp(type, "email") ? check_email(m, skip_ssrf, e)
            : !strcmp(type, "storage") ? check_storage(m, skip_ssrf, e)
            : !strcmp(type, "sftp") ? check_sftp(m, skip_ssrf, e)
            : check_download(m, e);
    if (!ok)
        return false;
    /* what the transport itself would refuse at every delivery (CR or LF in a
     * header field, an unsupported provider, ...) is refused now */
    bool (*tcheck)(const json_t *, char *, size_t, char *, size_t) =
        !strcmp(type, "email") ? adb__email_check : !strcmp(type, "storage") ? adb__s3_check
        : !strcmp(type, "sftp") ? adb__sftp_check : adb__download_check;
    char tfield[96] = "", twhy[256] = "";
    if (!tcheck(config, tfield, sizeof(tfield), twhy, sizeof(twhy))) {
        adb__dest_fail(e, tfield[0] ? tfield : field, "INVALID_VALUE", "%s", twhy);
        return false;
    }
    return true;
}

void adb__dest_check_all(const char *type, const json_t *config, bool disabled, json_t *errors,
                         json_t *warnings)
{
    adb__dest_error e;

    if (!adb__dest_check_config(type, config, false, &e))
        json_array_append_new(errors, json_sprintf("%s: %s", e.field, e.message));
    if (disabled)
        json_array_append_new(warnings, json_string("the destination is disabled: nothing is "
                                                    "delivered to it until it is enabled"));
    const json_t *m = json_object_get(config, type);
    const char *url = json_string_value(json_object_get(m, "url"));
    if (url && !strncmp(url, "http:", 5))
        json_array_append_new(warnings, json_string("config.webhook.url is not https: deliveries "
                                                    "travel in clear"));
    const json_t *smtp = json_object_get(m, "smtpConfig");
    if (!strcmp(type, "email") && !smtp && !json_object_get(m, "apiKey"))
        json_array_append_new(errors, json_string("config.email: neither smtpConfig nor apiKey: "
                                                  "there is no way to send"));
    if (!strcmp(type, "email") && smtp && !json_is_true(json_object_get(smtp, "secure")))
        json_array_append_new(warnings, json_string("config.email.smtpConfig.secure is false: "
                                                    "STARTTLS is still required by the sender"));
    if (!strcmp(type, "sftp") && !json_object_get(m, "password") && !json_object_get(m, "privateKey"))
        json_array_append_new(errors, json_string("config.sftp: neither password nor privateKey"));
    if (!strcmp(type, "email") && !json_array_size(json_object_get(m, "recipients")))
        json_array_append_new(warnings, json_string("config.email.recipients is empty: each "
                                                    "delivery must name its recipients"));
}
