/*
 * artifact.c - what the non-webhook senders share: their part of the
 * destination's config, the artifact's file name (never a path), the
 * attempt's outcome and a bounded capture of the peer's answer.
 */
#include "artifact.h"
#include "../core/util.h"
#include "ssrf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const json_t *adb__dest_section(const adb__dest *d, const char *type)
{
    if (!d || !json_is_object(d->config))
        return NULL;
    const json_t *s = json_object_get(d->config, type);
    return json_is_object(s) ? s : d->config;
}

const char *adb__cfg_str(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

void adb__attempt_init(adb__attempt *a)
{
    memset(a, 0, sizeof(*a));
    a->retry_after_s = -1;
}

void adb__attempt_fail(adb__attempt *a, bool permanent, const char *fmt, ...)
{
    va_list ap;

    a->ok = false;
    a->permanent = permanent;
    va_start(ap, fmt);
    vsnprintf(a->error, sizeof(a->error), fmt, ap);
    va_end(ap);
}

bool adb__text_safe(const char *s)
{
    if (!s)
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return false;
    return adb__utf8_valid(s, strlen(s));
}

static const char *extension_of(const char *content_type)
{
    static const struct { const char *type, *ext; } map[] = {
        { "application/json", "json" }, { "text/csv", "csv" },
        { "application/pdf", "pdf" }, { "application/xml", "xml" },
        { "text/xml", "xml" }, { "text/plain", "txt" },
        { "application/x-ndjson", "ndjson" }, { "application/zip", "zip" },
        { "application/gzip", "gz" }, { "text/html", "html" },
        { "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx" },
    };
    if (content_type)
        for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
            size_t n = strlen(map[i].type);
            if (strncasecmp(content_type, map[i].type, n) == 0 &&
                (content_type[n] == '\0' || content_type[n] == ';' || content_type[n] == ' '))
                return map[i].ext;
        }
    return "bin";
}

bool adb__artifact_name(const adb__item *it, const char *configured, char *out, size_t outlen,
                        char *err, size_t errlen)
{
    const char *name = configured && *configured ? configured : NULL;

    if (!name && it->payload) {
        const json_t *md = json_object_get(it->payload, "metadata");
        name = adb__cfg_str(md, "filename");
        if (!name)
            name = adb__cfg_str(md, "fileName");
    }
    if (name) {
        size_t n = strlen(name);
        if (n == 0 || n > ADB_ARTIFACT_NAME_MAX) {
            snprintf(err, errlen, "the file name must be 1 to %d bytes", ADB_ARTIFACT_NAME_MAX);
            return false;
        }
        if (!adb__text_safe(name) || strpbrk(name, "/\\") || strcmp(name, ".") == 0 ||
            strcmp(name, "..") == 0) {
            snprintf(err, errlen, "the file name must be a name, not a path (no '/', '\\', "
                                  "control character, '.' or '..')");
            return false;
        }
        if ((size_t)snprintf(out, outlen, "%s", name) >= outlen) {
            snprintf(err, errlen, "the file name is too long");
            return false;
        }
        return true;
    }
    const char *base = it->delivery_id && *it->delivery_id ? it->delivery_id : it->id;
    char clean[ADB_ARTIFACT_NAME_MAX - 10];
    size_t j = 0;
    for (const char *p = base ? base : "artifact"; *p && j + 1 < sizeof(clean); p++) {
        char ch = *p;
        bool keep = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_';
        clean[j++] = keep ? ch : '_';
    }
    clean[j] = '\0';
    if (j == 0)
        snprintf(clean, sizeof(clean), "artifact");
    if ((size_t)snprintf(out, outlen, "%s.%s", clean, extension_of(it->content_type)) >= outlen) {
        snprintf(err, errlen, "the file name is too long");
        return false;
    }
    return true;
}

static size_t keep_body(char *data, size_t size, size_t n, void *ud)
{
    adb__peer_answer *pa = ud;
    size_t len = size * n, room = ADB_PEER_KEEP - pa->body_len;
    size_t take = len < room ? len : room;

    memcpy(pa->body + pa->body_len, data, take);
    pa->body_len += take;
    pa->body[pa->body_len] = '\0';
    return len;
}

/* a header field's value, trimmed, into out when its name is name */
static bool header_value(const char *line, size_t len, const char *name, char *out, size_t outlen)
{
    size_t n = strlen(name);
    if (len <= n || strncasecmp(line, name, n) != 0 || line[n] != ':')
        return false;
    const char *v = line + n + 1, *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    size_t vl = (size_t)(end - v);
    if (vl >= outlen)
        vl = outlen - 1;
    memcpy(out, v, vl);
    out[vl] = '\0';
    return true;
}

static size_t keep_header(char *data, size_t size, size_t n, void *ud)
{
    adb__peer_answer *pa = ud;
    size_t len = size * n;
    char v[64];

    if (header_value(data, len, "ETag", pa->etag, sizeof(pa->etag)))
        return len;
    if (header_value(data, len, "Retry-After", v, sizeof(v))) {
        long long s;
        if (adb__parse_int(v, 0, 86400 * 30, &s))
            pa->retry_after_s = (long)s;
    }
    return len;
}

void adb__peer_capture(CURL *c, adb__peer_answer *pa)
{
    memset(pa, 0, sizeof(*pa));
    pa->retry_after_s = -1;
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, keep_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, pa);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, keep_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, pa);
}

/* the <Code> of an S3-style XML error, when there is one and it is plain */
static void xml_code(const char *body, char *out, size_t outlen)
{
    const char *p = strstr(body, "<Code>"), *e;
    out[0] = '\0';
    if (!p || !(e = strstr(p + 6, "</Code>")))
        return;
    size_t n = (size_t)(e - (p + 6));
    if (n >= outlen)
        return;
    for (size_t i = 0; i < n; i++) {
        char ch = p[6 + i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')))
            return;
    }
    memcpy(out, p + 6, n);
    out[n] = '\0';
}

void adb__attempt_from_http(adb__attempt *a, CURL *c, CURLcode rc, const adb__peer_answer *pa,
                            const char *what)
{
    long status = 0;

    if (rc != CURLE_OK) {
        adb__attempt_fail(a, false, "%s: %s", what, adb__curl_reason(rc));
        return;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    a->http_status = (int)status;
    a->retry_after_s = pa->retry_after_s;
    if (status >= 200 && status < 300) {
        a->ok = true;
        a->error[0] = '\0';
        return;
    }
    char code[64];
    xml_code(pa->body, code, sizeof(code));
    bool transient = status == 408 || status == 425 || status == 429 || status >= 500;
    adb__attempt_fail(a, !transient, "%s: HTTP %ld%s%s", what, status, code[0] ? " " : "", code);
    a->gone = status == 410;
}

const char *adb__curl_reason(CURLcode rc)
{
    const char *why = adb__ssrf_last_refusal();
    if (rc == CURLE_COULDNT_CONNECT && why && *why)
        return why;
    return curl_easy_strerror(rc);
}

void adb__tls_trust(CURL *c)
{
    const char *ca = getenv("AUDITDB_DELIVERY_CA_FILE");
    if (ca && *ca)
        curl_easy_setopt(c, CURLOPT_CAINFO, ca);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
}
