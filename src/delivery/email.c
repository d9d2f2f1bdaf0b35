/*
 * email.c - the 'email' destination: one message through SMTP (libcurl),
 * the artifact attached as a MIME part. TLS always: implicit (smtps) when
 * smtpConfig.secure, else STARTTLS required (CURLUSESSL_ALL), so the
 * password never crosses in clear; the peer's certificate is verified.
 * Header injection cannot happen: subject, from, recipients and the
 * attachment's name with a CR, LF or any control character are refused.
 * The probe connects, reads the greeting, says EHLO, starts TLS and
 * authenticates, and sends nothing. docs/delivery.md, "Email".
 */
#include "artifact.h"
#include "../core/buf.h"
#include "../core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#define EMAIL_RCPT_MAX 50
#define EMAIL_SUBJECT_MAX 998
#define EMAIL_BODY_MAX (64 * 1024)

typedef struct emailcfg {
    const char *host, *user, *pass, *from, *subject, *body, *attachment;
    long port;
    bool secure;
    const json_t *recipients;
} emailcfg;

/* an addr-spec as SMTP takes it: local@domain, printable, no space or <>,
 * at most 254 bytes */
static bool addr_ok(const char *a, size_t n)
{
    if (n == 0 || n > 254)
        return false;
    const char *at = memchr(a, '@', n);
    if (!at || at == a || at == a + n - 1 || memchr(at + 1, '@', (size_t)(a + n - at - 1)))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)a[i];
        if (c <= 0x20 || c >= 0x7f || c == '<' || c == '>' || c == '(' || c == ')' || c == ',' ||
            c == ';' || c == ':' || c == '\\' || c == '"' || c == '[' || c == ']')
            return false;
    }
    return true;
}

/* the address of "Name <addr>" or "addr" into out */
static bool from_address(const char *from, char *out, size_t outlen)
{
    const char *lt = strrchr(from, '<'), *a = from;
    size_t n = strlen(from);
    if (lt) {
        const char *gt = strchr(lt, '>');
        if (!gt || gt[1] != '\0')
            return false;
        a = lt + 1;
        n = (size_t)(gt - a);
    }
    if (!addr_ok(a, n) || n >= outlen)
        return false;
    memcpy(out, a, n);
    out[n] = '\0';
    return true;
}

#define FAIL(f, ...) \
    do { snprintf(field, flen, "%s", f); snprintf(why, wlen, __VA_ARGS__); return false; } while (0)

static bool email_parse(const json_t *config, emailcfg *c, char *field, size_t flen, char *why,
                        size_t wlen)
{
    const json_t *e = json_object_get(config, "email");
    if (!json_is_object(e))
        e = config;
    if (!json_is_object(e))
        FAIL("config.email", "must be an object");
    memset(c, 0, sizeof(*c));
    const char *service = adb__cfg_str(e, "service");
    if (service && strcmp(service, "smtp") != 0)
        FAIL("config.email.service", "email service \"%s\" is not supported: only \"smtp\" (with "
             "smtpConfig) is", adb__text_safe(service) && strlen(service) < 32 ? service : "?");
    const json_t *s = json_object_get(e, "smtpConfig");
    if (!json_is_object(s))
        FAIL("config.email.smtpConfig", "is required: host, port, secure and auth");
    c->host = adb__cfg_str(s, "host");
    if (!c->host || !*c->host || strlen(c->host) > 253 || !adb__text_safe(c->host) ||
        strpbrk(c->host, "/@?#[] "))
        FAIL("config.email.smtpConfig.host", "must be a host name or address");
    const json_t *port = json_object_get(s, "port");
    if (!json_is_integer(port) || json_integer_value(port) < 1 || json_integer_value(port) > 65535)
        FAIL("config.email.smtpConfig.port", "must be an integer from 1 to 65535");
    c->port = (long)json_integer_value(port);
    const json_t *secure = json_object_get(s, "secure");
    if (secure && !json_is_boolean(secure))
        FAIL("config.email.smtpConfig.secure", "must be true (TLS from the start, port 465) or "
             "false (STARTTLS, required)");
    c->secure = json_is_true(secure);
    const json_t *auth = json_object_get(s, "auth");
    if (auth && !json_is_object(auth))
        FAIL("config.email.smtpConfig.auth", "must be an object with user and pass");
    c->user = adb__cfg_str(auth, "user");
    c->pass = adb__cfg_str(auth, "pass");
    if (auth && (!c->user || !*c->user || !adb__text_safe(c->user) || strlen(c->user) > 256))
        FAIL("config.email.smtpConfig.auth.user", "is required with auth");
    if (auth && (!c->pass || !adb__text_safe(c->pass) || strlen(c->pass) > 1024))
        FAIL("config.email.smtpConfig.auth.pass", "is required with auth");
    char addr[256];
    c->from = adb__cfg_str(e, "from");
    if (!c->from || !adb__text_safe(c->from) || strlen(c->from) > 512 ||
        !from_address(c->from, addr, sizeof(addr)))
        FAIL("config.email.from", "must be an address (a@b.example or \"Name <a@b.example>\") "
             "without control characters");
    c->subject = adb__cfg_str(e, "subject");
    if (!c->subject || !*c->subject || !adb__text_safe(c->subject) ||
        strlen(c->subject) > EMAIL_SUBJECT_MAX)
        FAIL("config.email.subject", "must be 1 to %d bytes of text without CR, LF or other "
             "control characters", EMAIL_SUBJECT_MAX);
    c->body = adb__cfg_str(e, "bodyTemplate");
    if (c->body && (strlen(c->body) > EMAIL_BODY_MAX || !adb__utf8_valid(c->body,
                                                                          strlen(c->body))))
        FAIL("config.email.bodyTemplate", "must be UTF-8 text of at most %d bytes",
             EMAIL_BODY_MAX);
    if (c->body && memchr(c->body, '\0', strlen(c->body)))
        FAIL("config.email.bodyTemplate", "has a NUL");
    c->attachment = adb__cfg_str(e, "attachmentName");
    if (json_object_get(e, "attachmentName") && !c->attachment)
        FAIL("config.email.attachmentName", "must be a string");
    if (c->attachment && (!*c->attachment || !adb__text_safe(c->attachment) ||
                          strpbrk(c->attachment, "/\\\"") ||
                          strlen(c->attachment) > ADB_ARTIFACT_NAME_MAX))
        FAIL("config.email.attachmentName", "must be a file name (no '/', '\\', '\"' or control "
             "character, at most %d bytes)", ADB_ARTIFACT_NAME_MAX);
    c->recipients = json_object_get(e, "recipients");
    if (!json_is_array(c->recipients) || json_array_size(c->recipients) == 0 ||
        json_array_size(c->recipients) > EMAIL_RCPT_MAX)
        FAIL("config.email.recipients", "must be a list of 1 to %d addresses", EMAIL_RCPT_MAX);
    size_t i;
    const json_t *r;
    json_array_foreach(c->recipients, i, r) {
        const char *a = json_string_value(r);
        if (!a || !adb__text_safe(a) || !addr_ok(a, strlen(a))) {
            char f[64];
            snprintf(f, sizeof(f), "config.email.recipients[%zu]", i);
            FAIL(f, "must be an address (local@domain) without spaces, <>, or control "
                 "characters");
        }
    }
    return true;
}

bool adb__email_check(const json_t *config, char *field, size_t flen, char *why, size_t wlen)
{
    emailcfg c;
    return email_parse(config, &c, field, flen, why, wlen);
}

/* s as a header value: itself when printable ASCII, else one RFC 2047
 * encoded-word per 45 bytes (base64, UTF-8) */
static char *header_text(const char *s)
{
    bool ascii = true;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p >= 0x7f)
            ascii = false;
    if (ascii)
        return adb__strdup(s);
    adb__buf b = { 0 };
    size_t n = strlen(s), i = 0;
    while (i < n) {
        size_t take = n - i > 45 ? 45 : n - i;
        /* do not cut a UTF-8 sequence */
        while (i + take < n && take > 1 && ((unsigned char)s[i + take] & 0xC0) == 0x80)
            take--;
        unsigned char enc[64];
        int el = EVP_EncodeBlock(enc, (const unsigned char *)s + i, (int)take);
        adb__buf_printf(&b, "%s=?UTF-8?B?%.*s?=", i ? "\r\n " : "", el, (const char *)enc);
        i += take;
    }
    return adb__buf_take(&b, NULL);
}

/* the transfer shared by send and probe: URL, TLS, credentials, policy */
static CURL *smtp_handle(const emailcfg *c, char *url, size_t urllen)
{
    CURL *cu = curl_easy_init();
    if (!cu)
        return NULL;
    bool v6 = strchr(c->host, ':') != NULL;
    snprintf(url, urllen, "%s://%s%s%s:%ld", c->secure ? "smtps" : "smtp", v6 ? "[" : "",
             c->host, v6 ? "]" : "", c->port);
    curl_easy_setopt(cu, CURLOPT_URL, url);
    curl_easy_setopt(cu, CURLOPT_PROTOCOLS_STR, c->secure ? "smtps" : "smtp");
    curl_easy_setopt(cu, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
    adb__tls_trust(cu);
    if (c->user) {
        curl_easy_setopt(cu, CURLOPT_USERNAME, c->user);
        curl_easy_setopt(cu, CURLOPT_PASSWORD, c->pass);
    }
    curl_easy_setopt(cu, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(cu, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(cu, CURLOPT_TIMEOUT_MS, 300000L);
    return cu;
}

/* a failed SMTP exchange: the reply code when there was one */
static void smtp_failed(adb__attempt *out, CURL *cu, CURLcode rc, const char *what)
{
    long code = 0;
    curl_easy_getinfo(cu, CURLINFO_RESPONSE_CODE, &code);
    /* 5xx replies and refused logins are permanent; 4xx and transport
     * failures are worth another attempt */
    bool permanent = rc == CURLE_LOGIN_DENIED || rc == CURLE_USE_SSL_FAILED ||
                     rc == CURLE_PEER_FAILED_VERIFICATION || (code >= 500 && code < 600);
    if (code)
        adb__attempt_fail(out, permanent, "%s: %s (SMTP reply %ld)", what, adb__curl_reason(rc),
                          code);
    else
        adb__attempt_fail(out, permanent, "%s: %s", what, adb__curl_reason(rc));
}

static void message_id(char *out, size_t len, const char *from_addr)
{
    unsigned char r[16];
    char hex[33];
    if (RAND_bytes(r, sizeof(r)) != 1)
        memset(r, 0, sizeof(r));
    adb__hex(r, sizeof(r), hex);
    const char *dom = strchr(from_addr, '@');
    snprintf(out, len, "<%s@%s>", hex, dom ? dom + 1 : "auditdb.invalid");
}

adb_status adb__email_send(adb *h, const adb__dest *d, const adb__item *it, adb__attempt *out)
{
    emailcfg c;
    char field[96], why[200], url[300], from_addr[256], name[ADB_ARTIFACT_NAME_MAX + 1];
    char date[64], mid[128];
    struct curl_slist *rcpt = NULL, *hdr = NULL;
    curl_mime *mime = NULL;
    char *subject = NULL, *line = NULL, *to = NULL, *text = NULL;
    adb_status st = ADB_OK;
    CURL *cu = NULL;
    double t0 = adb__now_ms();

    (void)h;
    adb__attempt_init(out);
    if (!email_parse(d->config, &c, field, sizeof(field), why, sizeof(why))) {
        adb__attempt_fail(out, true, "%s %s", field, why);
        return ADB_ERR_CONFIG;
    }
    if (!adb__artifact_name(it, c.attachment, name, sizeof(name), why, sizeof(why)) ||
        strchr(name, '"')) {
        adb__attempt_fail(out, true, "config.email.attachmentName %s",
                          strchr(name, '"') ? "has a '\"'" : why);
        return ADB_ERR_CONFIG;
    }
    const char *ctype = it->content_type && *it->content_type ? it->content_type
                                                              : "application/octet-stream";
    if (!adb__text_safe(ctype) || strlen(ctype) > 200) {
        adb__attempt_fail(out, true, "the content type has a control character");
        return ADB_ERR_CONFIG;
    }
    from_address(c.from, from_addr, sizeof(from_addr));
    cu = smtp_handle(&c, url, sizeof(url));
    if (!cu) {
        st = ADB_ERR_NOMEM;
        adb__attempt_fail(out, false, "email: out of memory");
        goto out;
    }

    /* envelope */
    char env[300];
    snprintf(env, sizeof(env), "<%s>", from_addr);
    curl_easy_setopt(cu, CURLOPT_MAIL_FROM, env);
    adb__buf tob = { 0 };
    size_t i;
    const json_t *r;
    json_array_foreach(c.recipients, i, r) {
        snprintf(env, sizeof(env), "<%s>", json_string_value(r));
        struct curl_slist *n = curl_slist_append(rcpt, env);
        if (!n) {
            st = ADB_ERR_NOMEM;
            break;
        }
        rcpt = n;
        adb__buf_printf(&tob, "%s%s", i ? ", " : "", json_string_value(r));
    }
    to = adb__buf_take(&tob, NULL);
    if (st != ADB_OK || !to) {
        st = ADB_ERR_NOMEM;
        adb__attempt_fail(out, false, "email: out of memory");
        goto out;
    }
    curl_easy_setopt(cu, CURLOPT_MAIL_RCPT, rcpt);

    /* header */
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
    message_id(mid, sizeof(mid), from_addr);
    subject = header_text(c.subject);
    const char *fields[][2] = { { "Date", date }, { "From", c.from }, { "To", to },
                                { "Subject", subject }, { "Message-ID", mid },
                                { "X-Auditdb-Delivery", it->delivery_id } };
    for (size_t k = 0; k < sizeof(fields) / sizeof(fields[0]); k++) {
        /* the subject is folded here already; the others were checked */
        if (!fields[k][1] || (k != 3 && !adb__text_safe(fields[k][1])))
            continue;
        free(line);
        line = adb__aprintf("%s: %s", fields[k][0], fields[k][1]);
        struct curl_slist *n = line ? curl_slist_append(hdr, line) : NULL;
        if (!n) {
            st = ADB_ERR_NOMEM;
            adb__attempt_fail(out, false, "email: out of memory");
            goto out;
        }
        hdr = n;
    }
    curl_easy_setopt(cu, CURLOPT_HTTPHEADER, hdr);

    /* the text, then the artifact */
    mime = curl_mime_init(cu);
    text = c.body ? adb__strdup(c.body)
                  : adb__aprintf("The attached file %s is delivery %s.\r\n", name,
                                 it->delivery_id ? it->delivery_id : it->id);
    curl_mimepart *p = mime ? curl_mime_addpart(mime) : NULL;
    if (!text || !p || curl_mime_data(p, text, CURL_ZERO_TERMINATED) != CURLE_OK ||
        curl_mime_type(p, "text/plain; charset=utf-8") != CURLE_OK ||
        curl_mime_encoder(p, "quoted-printable") != CURLE_OK ||
        !(p = curl_mime_addpart(mime)) ||
        curl_mime_data(p, it->body ? (const char *)it->body : "", it->body_len) != CURLE_OK ||
        curl_mime_type(p, ctype) != CURLE_OK || curl_mime_filename(p, name) != CURLE_OK ||
        curl_mime_encoder(p, "base64") != CURLE_OK) {
        st = ADB_ERR_NOMEM;
        adb__attempt_fail(out, false, "email: could not build the message");
        goto out;
    }
    curl_easy_setopt(cu, CURLOPT_MIMEPOST, mime);
    curl_easy_setopt(cu, CURLOPT_UPLOAD, 1L);
    if (adb__ssrf_attach(cu) != ADB_OK) {
        adb__attempt_fail(out, false, "email: the address policy could not be applied");
        st = ADB_ERR_INTERNAL;
        goto out;
    }
    CURLcode rc = curl_easy_perform(cu);
    if (rc == CURLE_OK) {
        long code = 0;
        curl_easy_getinfo(cu, CURLINFO_RESPONSE_CODE, &code);
        out->ok = true;
        snprintf(out->reference, sizeof(out->reference), "%s", mid);
    } else {
        smtp_failed(out, cu, rc, "email");
    }
out:
    out->elapsed_ms = adb__now_ms() - t0;
    curl_mime_free(mime);
    curl_slist_free_all(rcpt);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(cu);
    free(subject), free(line), free(to), free(text);
    return st;
}

adb_status adb__email_probe(adb *h, const adb__dest *d, adb__attempt *out)
{
    emailcfg c;
    char field[96], why[200], url[300];
    double t0 = adb__now_ms();

    (void)h;
    adb__attempt_init(out);
    if (!email_parse(d->config, &c, field, sizeof(field), why, sizeof(why))) {
        adb__attempt_fail(out, true, "%s %s", field, why);
        return ADB_ERR_CONFIG;
    }
    CURL *cu = smtp_handle(&c, url, sizeof(url));
    if (!cu) {
        adb__attempt_fail(out, false, "email: out of memory");
        return ADB_ERR_NOMEM;
    }
    /* the connection phase only: greeting, EHLO, STARTTLS, AUTH */
    curl_easy_setopt(cu, CURLOPT_CONNECT_ONLY, 1L);
    adb_status st = ADB_OK;
    if (adb__ssrf_attach(cu) != ADB_OK) {
        adb__attempt_fail(out, false, "email: the address policy could not be applied");
        st = ADB_ERR_INTERNAL;
    } else {
        CURLcode rc = curl_easy_perform(cu);
        if (rc == CURLE_OK)
            out->ok = true;
        else
            smtp_failed(out, cu, rc, "email probe");
    }
    out->elapsed_ms = adb__now_ms() - t0;
    curl_easy_cleanup(cu);
    return st;
}
