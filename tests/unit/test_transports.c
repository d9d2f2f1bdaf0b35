/*
 * test_transports.c - the non-webhook delivery transports against real peers
 * on loopback (tests/tools/transport_peers.sh starts them, this test stops
 * them): an S3 endpoint that recomputes every request's SigV4 with Debian's
 * python3-botocore, npm smtp-server (STARTTLS, and smtps) with mailparser
 * taking the message apart, OpenSSH's sshd with a throwaway key; download
 * links through a real `auditdb serve` (GET /api/v1/delivery/downloads/{id}).
 * Each artifact is compared byte for byte with what the peer stored.
 */
#include "t.h"
#include "tdb.h"
#include "delivery/delivery.h"
#include "delivery/download.h"
#include "core/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char peers[600], ci[512];
static char s3_port[16], smtp_port[16], smtps_port[16], ssh_port[16], ssh_user[64];
static char ssh_key[700], ssh_hostkey[128], ssh_wrong[128], ca_file[700];
static char s3_skip[300], smtp_skip[300], ssh_skip[300];
static unsigned char art[70000]; /* the artifact: every byte value, then pseudo-random */
static const char *SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYauditdbKEY";
static const char *SMTP_PASS = "s3cret pass";

/* a case that needs a peer: "skip - name (why)" when the peer could not start */
#define RUN_WITH(fn, skip)                                        \
    do {                                                          \
        if ((skip)[0])                                            \
            printf("skip - %s (%s)\n", #fn, (skip));              \
        else                                                      \
            RUN(fn);                                              \
    } while (0)

static void read_env(void)
{
    char path[700], line[1024];
    snprintf(path, sizeof(path), "%s/env", peers);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    static const struct { const char *name; char *dst; size_t len; } keys[] = {
        { "S3_PORT=", s3_port, sizeof(s3_port) }, { "SMTP_PORT=", smtp_port, sizeof(smtp_port) },
        { "SMTPS_PORT=", smtps_port, sizeof(smtps_port) }, { "SSH_PORT=", ssh_port, sizeof(ssh_port) },
        { "SSH_USER=", ssh_user, sizeof(ssh_user) }, { "SSH_KEY=", ssh_key, sizeof(ssh_key) },
        { "SSH_HOSTKEY=", ssh_hostkey, sizeof(ssh_hostkey) },
        { "SSH_WRONG_HOSTKEY=", ssh_wrong, sizeof(ssh_wrong) }, { "CA_FILE=", ca_file, sizeof(ca_file) },
        { "S3_SKIP=", s3_skip, sizeof(s3_skip) }, { "SMTP_SKIP=", smtp_skip, sizeof(smtp_skip) },
        { "SSH_SKIP=", ssh_skip, sizeof(ssh_skip) },
    };
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
            size_t n = strlen(keys[i].name);
            if (strncmp(line, keys[i].name, n) == 0) {
                const char *v = line + n;
                size_t l = strlen(v);
                if (l >= 2 && v[0] == '\'' && v[l - 1] == '\'') {
                    v++;
                    l -= 2;
                }
                snprintf(keys[i].dst, keys[i].len, "%.*s", (int)l, v);
            }
        }
    }
    fclose(f);
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    unsigned char *buf = malloc(4 << 20);
    *len = buf ? fread(buf, 1, 4 << 20, f) : 0;
    fclose(f);
    return buf;
}

static bool file_equals(const char *path, const void *data, size_t len)
{
    size_t n = 0;
    unsigned char *b = slurp(path, &n);
    bool eq = b && n == len && memcmp(b, data, len) == 0;
    if (!eq)
        printf("#   %s: %s (%zu bytes, expected %zu)\n", path, b ? "differs" : "missing", n, len);
    free(b);
    return eq;
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static adb__dest dest_of(const char *type, const char *json)
{
    adb__dest d;
    json_error_t e;
    memset(&d, 0, sizeof(d));
    d.id = 7;
    snprintf(d.org, sizeof(d.org), "org-transports");
    snprintf(d.type, sizeof(d.type), "%s", type);
    d.config = json_loads(json, 0, &e);
    if (!d.config)
        printf("#   bad test JSON: %s\n", e.text);
    return d;
}

static adb__item item_of(const char *ctype, const unsigned char *body, size_t len, json_t *payload)
{
    adb__item it;
    memset(&it, 0, sizeof(it));
    it.id = "msg_2mG8bHc0test";
    it.org = "org-transports";
    it.delivery_id = "del_transports_1";
    it.body = body;
    it.body_len = len;
    it.content_type = ctype;
    it.payload = payload;
    it.attempt = 1;
    return it;
}

/* ---- S3 ---- */

static char *s3_config(const char *bucket, const char *secret, const char *path)
{
    char *s = malloc(1024);
    snprintf(s, 1024,
             "{\"storage\":{\"provider\":\"s3\",\"config\":{\"bucket\":\"%s\",\"region\":\"eu-west-3\","
             "\"endpoint\":\"http://127.0.0.1:%s\",\"accessKeyId\":\"AKIDAUDITDBTEST\","
             "\"secretAccessKey\":\"%s\"},\"path\":\"%s\",\"retention\":{\"days\":30,"
             "\"autoCleanup\":false}}}", bucket, s3_port, secret, path);
    return s;
}

static int s3_requests(void)
{
    char path[700], line[2048];
    int n = 0;
    snprintf(path, sizeof(path), "%s/s3/requests.log", peers);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof(line), f))
        n++;
    if (f)
        fclose(f);
    return n;
}

static void s3_put_is_byte_exact(void)
{
    char *cfg = s3_config("reports", SECRET, "monthly/2026/");
    adb__dest d = dest_of("storage", cfg);
    json_t *payload = json_pack("{s:s, s:{s:s}}", "type", "report", "metadata", "filename",
                                "Bericht März 1+1=2 (final).pdf");
    adb__item it = item_of("application/pdf", art, sizeof(art), payload);
    adb__attempt a;
    char path[900], md5[40];

    CHECK(adb__s3_send(NULL, &d, &it, &a) == ADB_OK);
    CHECK_MSG(a.ok, "%s", a.error);
    CHECK(a.http_status == 200);
    snprintf(path, sizeof(path), "%s/s3/reports/monthly/2026/Bericht März 1+1=2 (final).pdf", peers);
    CHECK(file_equals(path, art, sizeof(art)));
    /* the ETag the peer computed (MD5 of the bytes) is the reference */
    char cmd[1000];
    snprintf(cmd, sizeof(cmd), "md5sum '%s' | cut -c1-32", path);
    FILE *p = popen(cmd, "r");
    CHECK(p && fgets(md5, sizeof(md5), p));
    if (p)
        pclose(p);
    md5[strcspn(md5, "\n")] = '\0';
    CHECK_STR(a.reference, md5);

    /* an empty body, into a dotted bucket, without a prefix */
    json_decref(d.config);
    free(cfg);
    cfg = s3_config("archive.v2", SECRET, "");
    d = dest_of("storage", cfg);
    adb__item e = item_of("text/csv", (const unsigned char *)"", 0, NULL);
    CHECK(adb__s3_send(NULL, &d, &e, &a) == ADB_OK);
    CHECK_MSG(a.ok, "%s", a.error);
    snprintf(path, sizeof(path), "%s/s3/archive.v2/del_transports_1.csv", peers);
    CHECK(file_equals(path, "", 0));
    CHECK(adb__s3_probe(NULL, &d, &a) == ADB_OK);
    CHECK_MSG(a.ok, "%s", a.error);
    json_decref(d.config);
    json_decref(payload);
    free(cfg);
}

static void s3_wrong_secret_is_refused_by_the_peer(void)
{
    char *cfg = s3_config("reports", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYWRONGKEY", "wrong");
    adb__dest d = dest_of("storage", cfg);
    adb__item it = item_of("application/json", (const unsigned char *)"{}", 2, NULL);
    adb__attempt a;
    char path[900];
    int before = s3_requests();

    CHECK(adb__s3_send(NULL, &d, &it, &a) == ADB_OK);
    CHECK(!a.ok);
    CHECK(a.http_status == 403);
    CHECK(a.permanent);
    CHECK_MSG(strstr(a.error, "SignatureDoesNotMatch") != NULL, "%s", a.error);
    CHECK(strstr(a.error, "WRONGKEY") == NULL);
    CHECK(s3_requests() == before + 1);
    snprintf(path, sizeof(path), "%s/s3/reports/wrong/del_transports_1.json", peers);
    CHECK(!exists(path));
    /* the probe sees it too; an unknown bucket is a 404 */
    CHECK(adb__s3_probe(NULL, &d, &a) == ADB_OK && !a.ok && a.http_status == 403);
    json_decref(d.config);
    free(cfg);
    cfg = s3_config("nosuchbucket", SECRET, "");
    d = dest_of("storage", cfg);
    CHECK(adb__s3_probe(NULL, &d, &a) == ADB_OK && !a.ok && a.http_status == 404);
    json_decref(d.config);
    free(cfg);
}

static void s3_config_refusals_name_the_field(void)
{
    static const struct { const char *json, *field; } bad[] = {
        { "{\"storage\":{\"provider\":\"azure\",\"config\":{},\"path\":\"\"}}", "config.storage.provider" },
        { "{\"storage\":{\"provider\":\"s3\",\"config\":{\"bucket\":\"Bad_Bucket\",\"accessKeyId\":\"a\",\"secretAccessKey\":\"b\"},\"path\":\"\"}}", "config.storage.config.bucket" },
        { "{\"storage\":{\"provider\":\"s3\",\"config\":{\"bucket\":\"ok-bucket\",\"secretAccessKey\":\"b\"},\"path\":\"\"}}", "config.storage.config.accessKeyId" },
        { "{\"storage\":{\"provider\":\"s3\",\"config\":{\"bucket\":\"ok-bucket\",\"accessKeyId\":\"a\",\"secretAccessKey\":\"b\"},\"path\":\"a/../../etc\"}}", "config.storage.path" },
        { "{\"storage\":{\"provider\":\"s3\",\"config\":{\"bucket\":\"ok-bucket\",\"accessKeyId\":\"a\",\"secretAccessKey\":\"b\",\"endpoint\":\"http://u:p@127.0.0.1/\"},\"path\":\"\"}}", "config.storage.config.endpoint" },
        { "{\"storage\":{\"provider\":\"s3\",\"config\":{\"bucket\":\"ok-bucket\",\"accessKeyId\":\"a\",\"secretAccessKey\":\"b\",\"region\":\"eu west\"},\"path\":\"\"}}", "config.storage.config.region" },
        /* virtual-hosted style: a boolean; not onto an address; no dotted bucket over https */
        { "{\"storage\":{\"provider\":\"s3\",\"config\":{\"bucket\":\"ok-bucket\",\"accessKeyId\":\"a\",\"secretAccessKey\":\"b\",\"forcePathStyle\":\"no\"},\"path\":\"\"}}", "config.storage.config.forcePathStyle" },
        { "{\"storage\":{\"provider\":\"s3\",\"config\":{\"bucket\":\"ok-bucket\",\"accessKeyId\":\"a\",\"secretAccessKey\":\"b\",\"endpoint\":\"http://127.0.0.1:9000\",\"forcePathStyle\":false},\"path\":\"\"}}", "config.storage.config.forcePathStyle" },
        { "{\"storage\":{\"provider\":\"s3\",\"config\":{\"bucket\":\"a.b-bucket\",\"accessKeyId\":\"a\",\"secretAccessKey\":\"b\",\"endpoint\":\"https://s3.example.net\",\"forcePathStyle\":false},\"path\":\"\"}}", "config.storage.config.forcePathStyle" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char field[96], why[200];
        json_t *c = json_loads(bad[i].json, 0, NULL);
        CHECK_MSG(!adb__s3_check(c, field, sizeof(field), why, sizeof(why)), "case %zu", i);
        CHECK_STR(field, bad[i].field);
        adb__dest d = dest_of("storage", bad[i].json);
        adb__item it = item_of("text/plain", (const unsigned char *)"x", 1, NULL);
        adb__attempt a;
        CHECK(adb__s3_send(NULL, &d, &it, &a) == ADB_ERR_CONFIG && a.permanent && !a.ok);
        CHECK_MSG(strstr(a.error, bad[i].field) != NULL, "%s", a.error);
        json_decref(d.config);
        json_decref(c);
    }
    char field[96], why[200];
    json_t *c = json_loads("{\"storage\":{\"provider\":\"gcp\",\"config\":{},\"path\":\"\"}}", 0, NULL);
    CHECK(!adb__s3_check(c, field, sizeof(field), why, sizeof(why)));
    CHECK_MSG(strstr(why, "not supported") != NULL, "%s", why);
    json_decref(c);
}

/* The last line of the peer's request log, its fields found by substring. */
static bool s3_last_request(char *line, size_t len)
{
    char path[700];
    bool got = false;
    snprintf(path, sizeof(path), "%s/s3/requests.log", peers);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, (int)len, f))
        got = true;
    if (f)
        fclose(f);
    return got;
}

/* Amazon's virtual-hosted style (forcePathStyle false) on a custom endpoint:
 * the bucket is the first label of the host name (reports.localhost, which
 * curl resolves to loopback without DNS), the path is the key alone; the
 * peer checks the signature over that host and path. */
static void s3_virtual_hosted_style(void)
{
    char cfg[1024], path[900], line[2048], want[200];
    snprintf(cfg, sizeof(cfg),
             "{\"storage\":{\"provider\":\"s3\",\"config\":{\"bucket\":\"reports\",\"region\":\"eu-west-3\","
             "\"endpoint\":\"http://localhost:%s\",\"forcePathStyle\":false,\"accessKeyId\":"
             "\"AKIDAUDITDBTEST\",\"secretAccessKey\":\"%s\"},\"path\":\"vhost\"}}", s3_port, SECRET);
    adb__dest d = dest_of("storage", cfg);
    adb__item it = item_of("application/json", (const unsigned char *)"{\"v\":1}", 7, NULL);
    adb__attempt a;

    CHECK(adb__s3_send(NULL, &d, &it, &a) == ADB_OK);
    CHECK_MSG(a.ok, "%s", a.error);
    snprintf(path, sizeof(path), "%s/s3/reports/vhost/del_transports_1.json", peers);
    CHECK(file_equals(path, "{\"v\":1}", 7));
    CHECK(s3_last_request(line, sizeof(line)));
    CHECK_MSG(strstr(line, "\"path\": \"/vhost/del_transports_1.json\"") != NULL, "%s", line);
    snprintf(want, sizeof(want), "\"host\": \"reports.localhost:%s\"", s3_port);
    CHECK_MSG(strstr(line, want) != NULL, "%s", line);
    CHECK_MSG(strstr(line, "\"status\": 200") != NULL, "%s", line);
    /* the probe: HEAD / of the bucket's host */
    CHECK(adb__s3_probe(NULL, &d, &a) == ADB_OK);
    CHECK_MSG(a.ok, "%s", a.error);
    CHECK(s3_last_request(line, sizeof(line)) && strstr(line, "\"path\": \"/\"") && strstr(line, want));
    json_decref(d.config);
    /* another bucket's host name is another bucket: unknown, 404 */
    snprintf(cfg, sizeof(cfg),
             "{\"storage\":{\"provider\":\"s3\",\"config\":{\"bucket\":\"nosuchbucket\",\"region\":\"eu-west-3\","
             "\"endpoint\":\"http://localhost:%s\",\"forcePathStyle\":false,\"accessKeyId\":"
             "\"AKIDAUDITDBTEST\",\"secretAccessKey\":\"%s\"},\"path\":\"\"}}", s3_port, SECRET);
    d = dest_of("storage", cfg);
    CHECK(adb__s3_probe(NULL, &d, &a) == ADB_OK && !a.ok && a.http_status == 404);
    json_decref(d.config);
}

static void s3_address_policy_applies(void)
{
    char *cfg = s3_config("reports", SECRET, "ssrf");
    adb__dest d = dest_of("storage", cfg);
    adb__item it = item_of("text/plain", (const unsigned char *)"x", 1, NULL);
    adb__attempt a;
    int before = s3_requests();

    unsetenv("AUDITDB_DELIVERY_ALLOW");
    CHECK(adb__s3_send(NULL, &d, &it, &a) == ADB_OK);
    setenv("AUDITDB_DELIVERY_ALLOW", "127.0.0.1/32", 1);
    CHECK(!a.ok && !a.http_status);
    CHECK_MSG(strstr(a.error, "refused") != NULL, "%s", a.error);
    CHECK(s3_requests() == before);
    json_decref(d.config);
    free(cfg);
}

/* ---- email ---- */

static char *email_config(const char *port, bool secure, const char *pass, const char *subject,
                          const char *recipients)
{
    char *s = malloc(2048);
    snprintf(s, 2048,
             "{\"email\":{\"service\":\"smtp\",\"smtpConfig\":{\"host\":\"127.0.0.1\",\"port\":%s,"
             "\"secure\":%s,\"auth\":{\"user\":\"mailer\",\"pass\":\"%s\"}},"
             "\"from\":\"Audit Reports <reports@auditdb.example>\",\"subject\":\"%s\","
             "\"bodyTemplate\":\"Your report is attached.\\nRegards\",\"attachmentName\":"
             "\"report-2026-11.csv\",\"recipients\":%s}}",
             port, secure ? "true" : "false", pass, subject, recipients);
    return s;
}

/* waits for OUT_DIR/mail-N.json of the peer in sub */
static json_t *wait_mail(const char *sub, int n)
{
    char path[800];
    snprintf(path, sizeof(path), "%s/%s/mail-%d.json", peers, sub, n);
    for (int i = 0; i < 100 && !exists(path); i++)
        usleep(100000);
    return json_load_file(path, 0, NULL);
}

static int mails(const char *sub)
{
    char path[800];
    int n = 0;
    for (;; n++) {
        snprintf(path, sizeof(path), "%s/%s/mail-%d.eml", peers, sub, n + 1);
        if (!exists(path))
            return n;
    }
}

static bool events_have(const char *sub, const char *what)
{
    char path[800];
    size_t n;
    snprintf(path, sizeof(path), "%s/%s/events.log", peers, sub);
    unsigned char *b = slurp(path, &n);
    bool has = b && n < (4 << 20) && (b[n] = 0, strstr((char *)b, what) != NULL);
    free(b);
    return has;
}

static void email_starttls_delivers_the_attachment(void)
{
    char *cfg = email_config(smtp_port, false, SMTP_PASS, "Monthly access report \\u2014 M\\u00e4rz",
                             "[\"dpo@hospital.example\",\"audit@hospital.example\"]");
    adb__dest d = dest_of("email", cfg);
    adb__item it = item_of("text/csv", art, sizeof(art), NULL);
    adb__attempt a;

    CHECK(adb__email_send(NULL, &d, &it, &a) == ADB_OK);
    CHECK_MSG(a.ok, "%s", a.error);
    CHECK(a.reference[0] == '<');
    json_t *m = wait_mail("smtp", 1);
    REQUIRE(m);
    CHECK_STR(json_string_value(json_object_get(m, "subject")), "Monthly access report — März");
    CHECK_STR(json_string_value(json_object_get(json_object_get(m, "envelope"), "from")),
              "reports@auditdb.example");
    json_t *to = json_object_get(json_object_get(m, "envelope"), "to");
    CHECK(json_array_size(to) == 2);
    CHECK_STR(json_string_value(json_array_get(to, 1)), "audit@hospital.example");
    CHECK_STR(json_string_value(json_object_get(m, "messageId")), a.reference);
    CHECK_MSG(strstr(json_string_value(json_object_get(m, "text")), "Your report is attached.") != NULL,
              "%s", json_string_value(json_object_get(m, "text")));
    json_t *att = json_array_get(json_object_get(m, "attachments"), 0);
    CHECK(json_array_size(json_object_get(m, "attachments")) == 1);
    CHECK_STR(json_string_value(json_object_get(att, "filename")), "report-2026-11.csv");
    CHECK_STR(json_string_value(json_object_get(att, "contentType")), "text/csv");
    CHECK(file_equals(json_string_value(json_object_get(att, "file")), art, sizeof(art)));
    /* TLS came first, then the login */
    CHECK(events_have("smtp", "tls\nauth ok"));
    json_decref(m);
    json_decref(d.config);
    free(cfg);
}

static void email_implicit_tls(void)
{
    char *cfg = email_config(smtps_port, true, SMTP_PASS, "smtps", "[\"dpo@hospital.example\"]");
    adb__dest d = dest_of("email", cfg);
    adb__item it = item_of("application/pdf", art, 1000, NULL);
    adb__attempt a;

    CHECK(adb__email_send(NULL, &d, &it, &a) == ADB_OK);
    CHECK_MSG(a.ok, "%s", a.error);
    json_t *m = wait_mail("smtps", 1);
    REQUIRE(m);
    json_t *att = json_array_get(json_object_get(m, "attachments"), 0);
    CHECK(file_equals(json_string_value(json_object_get(att, "file")), art, 1000));
    CHECK(adb__email_probe(NULL, &d, &a) == ADB_OK);
    CHECK_MSG(a.ok, "%s", a.error);
    json_decref(m);
    json_decref(d.config);
    free(cfg);
}

static void email_refusals(void)
{
    int before = mails("smtp");
    adb__attempt a;
    adb__item it = item_of("text/csv", art, 100, NULL);

    /* a wrong password: refused by the peer, permanent, not in the error */
    char *cfg = email_config(smtp_port, false, "not-the-password", "x", "[\"dpo@hospital.example\"]");
    adb__dest d = dest_of("email", cfg);
    CHECK(adb__email_send(NULL, &d, &it, &a) == ADB_OK);
    CHECK(!a.ok && a.permanent);
    CHECK(strstr(a.error, "not-the-password") == NULL);
    CHECK(adb__email_probe(NULL, &d, &a) == ADB_OK && !a.ok);
    json_decref(d.config);
    free(cfg);

    /* the probe authenticates and sends nothing */
    cfg = email_config(smtp_port, false, SMTP_PASS, "x", "[\"dpo@hospital.example\"]");
    d = dest_of("email", cfg);
    CHECK(adb__email_probe(NULL, &d, &a) == ADB_OK);
    CHECK_MSG(a.ok, "%s", a.error);

    /* a certificate nobody said to trust: refused */
    unsetenv("AUDITDB_DELIVERY_CA_FILE");
    CHECK(adb__email_send(NULL, &d, &it, &a) == ADB_OK);
    CHECK(!a.ok);
    setenv("AUDITDB_DELIVERY_CA_FILE", ca_file, 1);
    json_decref(d.config);
    free(cfg);

    /* header injection: refused before any connection */
    static const struct { const char *subject, *rcpt, *field; } inj[] = {
        { "Report\\r\\nBcc: attacker@evil.example", "[\"dpo@hospital.example\"]", "config.email.subject" },
        { "Report\\nX-Evil: 1", "[\"dpo@hospital.example\"]", "config.email.subject" },
        { "Report", "[\"dpo@hospital.example\\r\\nRCPT TO:<attacker@evil.example>\"]", "config.email.recipients[0]" },
        { "Report", "[\"dpo@hospital.example\", \"a b@evil.example\"]", "config.email.recipients[1]" },
        { "Report", "[]", "config.email.recipients" },
    };
    for (size_t i = 0; i < sizeof(inj) / sizeof(inj[0]); i++) {
        cfg = email_config(smtp_port, false, SMTP_PASS, inj[i].subject, inj[i].rcpt);
        d = dest_of("email", cfg);
        char field[96], why[200];
        CHECK_MSG(!adb__email_check(d.config, field, sizeof(field), why, sizeof(why)), "case %zu", i);
        CHECK_STR(field, inj[i].field);
        CHECK(adb__email_send(NULL, &d, &it, &a) == ADB_ERR_CONFIG && a.permanent);
        json_decref(d.config);
        free(cfg);
    }
    const char *from_lf = "{\"email\":{\"service\":\"smtp\",\"smtpConfig\":{\"host\":\"127.0.0.1\","
                          "\"port\":25,\"secure\":false,\"auth\":{\"user\":\"u\",\"pass\":\"p\"}},"
                          "\"from\":\"a@b.example\\nBcc: c@d.example\",\"subject\":\"s\","
                          "\"recipients\":[\"x@y.example\"]}}";
    d = dest_of("email", from_lf);
    char field[96], why[200];
    CHECK(!adb__email_check(d.config, field, sizeof(field), why, sizeof(why)));
    CHECK_STR(field, "config.email.from");
    json_decref(d.config);
    const char *sendgrid = "{\"email\":{\"service\":\"sendgrid\",\"apiKey\":\"k\",\"from\":\"a@b.example\","
                           "\"subject\":\"s\",\"recipients\":[\"x@y.example\"]}}";
    d = dest_of("email", sendgrid);
    CHECK(!adb__email_check(d.config, field, sizeof(field), why, sizeof(why)));
    CHECK_STR(field, "config.email.service");
    json_decref(d.config);
    usleep(300000);
    CHECK(mails("smtp") == before);
}

/* A server that offers AUTH but not STARTTLS: the client must give up
 * before sending any credential. */
static int plain_fd = -1;
static char plain_seen[4096];

static void *plain_server(void *arg)
{
    (void)arg;
    int c = accept(plain_fd, NULL, NULL);
    if (c < 0)
        return NULL;
    struct timeval tv = { 5, 0 };
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    const char *greet = "220 plain.example ESMTP\r\n";
    if (write(c, greet, strlen(greet)) < 0)
        goto out;
    size_t used = 0;
    for (;;) {
        ssize_t n = read(c, plain_seen + used, sizeof(plain_seen) - 1 - used);
        if (n <= 0)
            break;
        used += (size_t)n;
        plain_seen[used] = '\0';
        if (strstr(plain_seen, "EHLO") && !strstr(plain_seen, "250-")) {
            const char *ehlo = "250-plain.example\r\n250 AUTH PLAIN LOGIN\r\n";
            if (write(c, ehlo, strlen(ehlo)) < 0)
                break;
            /* mark that the EHLO was answered */
            strncat(plain_seen, "250-", sizeof(plain_seen) - strlen(plain_seen) - 1);
            used = strlen(plain_seen);
        } else if (strstr(plain_seen, "QUIT")) {
            if (write(c, "221 bye\r\n", 9) < 0)
                break;
            break;
        } else if (strstr(plain_seen, "AUTH") || strstr(plain_seen, "MAIL")) {
            if (write(c, "535 no\r\n", 8) < 0)
                break;
        }
    }
out:
    close(c);
    return NULL;
}

static void email_never_authenticates_in_clear(void)
{
    struct sockaddr_in sa = { .sin_family = AF_INET };
    socklen_t sl = sizeof(sa);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    plain_fd = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(plain_fd >= 0 && bind(plain_fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
            listen(plain_fd, 1) == 0 && getsockname(plain_fd, (struct sockaddr *)&sa, &sl) == 0);
    char port[16];
    snprintf(port, sizeof(port), "%d", ntohs(sa.sin_port));
    pthread_t t;
    plain_seen[0] = '\0';
    REQUIRE(pthread_create(&t, NULL, plain_server, NULL) == 0);
    char *cfg = email_config(port, false, SMTP_PASS, "x", "[\"dpo@hospital.example\"]");
    adb__dest d = dest_of("email", cfg);
    adb__item it = item_of("text/csv", art, 100, NULL);
    adb__attempt a;
    CHECK(adb__email_send(NULL, &d, &it, &a) == ADB_OK);
    pthread_join(t, NULL);
    close(plain_fd);
    CHECK(!a.ok && a.permanent);
    CHECK_MSG(strstr(plain_seen, "EHLO") != NULL, "%s", plain_seen);
    CHECK_MSG(strstr(plain_seen, "AUTH") == NULL && strstr(plain_seen, "MAIL") == NULL,
              "sent in clear: %s", plain_seen);
    json_decref(d.config);
    free(cfg);
}

/* ---- SFTP ---- */

static char *sftp_config(const char *key_json, const char *hostkey, const char *path)
{
    char *s = malloc(8192);
    snprintf(s, 8192,
             "{\"sftp\":{\"host\":\"127.0.0.1\",\"port\":%s,\"username\":\"%s\",%s,"
             "\"path\":\"%s\",\"filename\":\"audit-export.ndjson\",\"hostKey\":\"%s\"}}",
             ssh_port, ssh_user, key_json, path, hostkey);
    return s;
}

static char *key_json(void)
{
    size_t n;
    unsigned char *k = slurp(ssh_key, &n);
    if (!k)
        return NULL;
    k[n] = '\0';
    json_t *s = json_string((char *)k);
    char *j = json_dumps(s, JSON_ENCODE_ANY);
    char *out = malloc(strlen(j) + 32);
    sprintf(out, "\"privateKey\":%s", j);
    free(j), free(k);
    json_decref(s);
    return out;
}

static void sftp_upload_with_a_key(void)
{
    char dir[800], path[900];
    snprintf(dir, sizeof(dir), "%s/sftp-in/2026/11", peers);
    char *kj = key_json();
    REQUIRE(kj);
    char *cfg = sftp_config(kj, ssh_hostkey, dir);
    adb__dest d = dest_of("sftp", cfg);
    adb__item it = item_of("application/x-ndjson", art, sizeof(art), NULL);
    adb__attempt a;

    CHECK(adb__sftp_send(NULL, &d, &it, &a) == ADB_OK);
    CHECK_MSG(a.ok, "%s", a.error);
    snprintf(path, sizeof(path), "%s/audit-export.ndjson", dir);
    CHECK(file_equals(path, art, sizeof(art)));
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0640);
    CHECK_STR(a.reference, path);
    CHECK(adb__sftp_probe(NULL, &d, &a) == ADB_OK);
    CHECK_MSG(a.ok, "%s", a.error);
    /* the private key file lived only for the transfer */
    CHECK(system("ls -d ${TMPDIR:-/tmp}/adb-sftp-* >/dev/null 2>&1") != 0);
    json_decref(d.config);
    free(cfg);

    /* the fingerprint without its prefix works too */
    cfg = sftp_config(kj, ssh_hostkey + 7, dir);
    d = dest_of("sftp", cfg);
    CHECK(adb__sftp_probe(NULL, &d, &a) == ADB_OK);
    CHECK_MSG(a.ok, "%s", a.error);
    json_decref(d.config);
    free(cfg);
    free(kj);
}

static void sftp_refusals(void)
{
    char dir[800], path[900];
    snprintf(dir, sizeof(dir), "%s/sftp-refused", peers);
    char *kj = key_json();
    REQUIRE(kj);
    adb__item it = item_of("text/plain", art, 10, NULL);
    adb__attempt a;

    /* another host key: refused before authenticating */
    char *cfg = sftp_config(kj, ssh_wrong, dir);
    adb__dest d = dest_of("sftp", cfg);
    CHECK(adb__sftp_send(NULL, &d, &it, &a) == ADB_OK);
    CHECK(!a.ok && a.permanent);
    CHECK_MSG(strstr(a.error, "host key") != NULL, "%s", a.error);
    snprintf(path, sizeof(path), "%s/audit-export.ndjson", dir);
    CHECK(!exists(path));
    CHECK(adb__sftp_probe(NULL, &d, &a) == ADB_OK && !a.ok);
    json_decref(d.config);
    free(cfg);

    /* a password the server does not take: refused, and not in the error */
    cfg = sftp_config("\"password\":\"hunter2-sftp\"", ssh_hostkey, dir);
    d = dest_of("sftp", cfg);
    CHECK(adb__sftp_send(NULL, &d, &it, &a) == ADB_OK);
    CHECK(!a.ok);
    CHECK(strstr(a.error, "hunter2") == NULL);
    CHECK(!exists(path));
    json_decref(d.config);
    free(cfg);

    /* a folder that is not there: the probe says so */
    snprintf(dir, sizeof(dir), "%s/no/such/folder", peers);
    cfg = sftp_config(kj, ssh_hostkey, dir);
    d = dest_of("sftp", cfg);
    CHECK(adb__sftp_probe(NULL, &d, &a) == ADB_OK && !a.ok);
    json_decref(d.config);
    free(cfg);

    /* config refusals */
    static const struct { const char *json, *field; } bad[] = {
        { "{\"sftp\":{\"host\":\"h.example\",\"port\":22,\"username\":\"u\",\"password\":\"p\",\"path\":\"/in\"}}", "config.sftp.hostKey" },
        { "{\"sftp\":{\"host\":\"h.example\",\"port\":22,\"username\":\"u\",\"password\":\"p\",\"path\":\"/in\",\"hostKey\":\"SHA256:short\"}}", "config.sftp.hostKey" },
        { "{\"sftp\":{\"host\":\"h.example\",\"port\":22,\"username\":\"u\",\"path\":\"/in\",\"hostKey\":\"SHA256:lqgYIEDv6oVF2a3PxcprwtJb7mZXTH63AhmlWSrvqOw\"}}", "config.sftp.privateKey" },
        { "{\"sftp\":{\"host\":\"h.example\",\"port\":22,\"username\":\"u\",\"password\":\"p\",\"path\":\"/in/../../etc\",\"hostKey\":\"SHA256:lqgYIEDv6oVF2a3PxcprwtJb7mZXTH63AhmlWSrvqOw\"}}", "config.sftp.path" },
        { "{\"sftp\":{\"host\":\"h.example\",\"port\":22,\"username\":\"u\",\"password\":\"p\",\"path\":\"/in\",\"filename\":\"../x\",\"hostKey\":\"SHA256:lqgYIEDv6oVF2a3PxcprwtJb7mZXTH63AhmlWSrvqOw\"}}", "config.sftp.filename" },
        { "{\"sftp\":{\"host\":\"h.example\",\"port\":70000,\"username\":\"u\",\"password\":\"p\",\"path\":\"/in\",\"hostKey\":\"SHA256:lqgYIEDv6oVF2a3PxcprwtJb7mZXTH63AhmlWSrvqOw\"}}", "config.sftp.port" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        d = dest_of("sftp", bad[i].json);
        CHECK_MSG(adb__sftp_send(NULL, &d, &it, &a) == ADB_ERR_CONFIG && a.permanent, "case %zu", i);
        CHECK_MSG(strstr(a.error, bad[i].field) != NULL, "case %zu: %s", i, a.error);
        json_decref(d.config);
    }
    free(kj);
}

/* ---- download links ---- */

static pid_t serve_pid = -1;
static char base_url[96], dl_dir[700];

static bool start_serve(void)
{
    int port = 0;
    {
        struct sockaddr_in sa = { .sin_family = AF_INET };
        socklen_t sl = sizeof(sa);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
            getsockname(fd, (struct sockaddr *)&sa, &sl) == 0)
            port = ntohs(sa.sin_port);
        close(fd);
    }
    char listen_at[64], home[700], log[800];
    snprintf(listen_at, sizeof(listen_at), "127.0.0.1:%d", port);
    snprintf(base_url, sizeof(base_url), "http://%s", listen_at);
    snprintf(home, sizeof(home), "%s/serve-home", peers);
    snprintf(log, sizeof(log), "%s/serve.log", peers);
    mkdir(home, 0700);
    const char *bin = getenv("AUDITDB_BIN");
    if (!bin)
        return false;
    serve_pid = fork();
    if (serve_pid == 0) {
        FILE *l = freopen(log, "w", stderr);
        (void)l;
        if (!freopen("/dev/null", "w", stdout))
            _exit(126);
        setenv("AUDIT_DB_URL", ci, 1);
        setenv("AUDITDB_MASTER_KEY", T_MASTER_KEY, 1);
        setenv("AUDITDB_HOME", home, 1);
        setenv("AUDITDB_DOWNLOAD_DIR", dl_dir, 1);
        execl(bin, bin, "serve", "--listen", listen_at, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 300; i++) {
        char cmd[200];
        snprintf(cmd, sizeof(cmd), "curl -fs -o /dev/null %s/live", base_url);
        if (system(cmd) == 0)
            return true;
        if (waitpid(serve_pid, NULL, WNOHANG) == serve_pid) {
            serve_pid = -1;
            return false;
        }
        usleep(100000);
    }
    return false;
}

static void stop_serve(void)
{
    if (serve_pid > 0) {
        kill(serve_pid, SIGTERM);
        waitpid(serve_pid, NULL, 0);
        serve_pid = -1;
    }
}

typedef struct got {
    unsigned char *p;
    size_t len;
} got;

static size_t got_write(char *d, size_t s, size_t n, void *ud)
{
    got *g = ud;
    unsigned char *np = realloc(g->p, g->len + s * n + 1);
    if (!np)
        return 0;
    g->p = np;
    memcpy(g->p + g->len, d, s * n);
    g->len += s * n;
    return s * n;
}

/* GETs url (relative to serve); the status, the body into g (caller frees) */
static long get(const char *path, got *g, char *disposition, size_t dlen)
{
    char url[1200];
    snprintf(url, sizeof(url), "%s%s", strncmp(path, "http", 4) == 0 ? "" : base_url, path);
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    long status = 0;
    memset(g, 0, sizeof(*g));
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, got_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, g);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (disposition) {
        struct curl_header *hd;
        disposition[0] = '\0';
        if (curl_easy_header(c, "Content-Disposition", 0, CURLH_HEADER, -1, &hd) == CURLHE_OK)
            snprintf(disposition, dlen, "%s", hd->value);
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return status;
}

static char *link_url(PGconn *c, const char *id)
{
    const char *p[] = { id };
    PGresult *r = PQexecParams(c, "SELECT signed_url FROM download_links WHERE id = $1", 1, NULL, p,
                               NULL, NULL, 0);
    char *u = PQntuples(r) == 1 ? strdup(PQgetvalue(r, 0, 0)) : NULL;
    PQclear(r);
    return u;
}

static void download_links_end_to_end(void)
{
    adb *db = t_open(ci, NULL);
    REQUIRE(db);
    PGconn *c = PQconnectdb(ci);
    adb__attempt a;
    got g;
    char disp[300];

    /* maxAccess 2, 24 h */
    adb__dest d = dest_of("download", "{\"download\":{\"expiryHours\":24,\"maxAccess\":2}}");
    json_t *payload = json_pack("{s:s, s:{s:s}}", "type", "export", "metadata", "filename",
                                "export-2026-11.ndjson");
    adb__item it = item_of("application/x-ndjson", art, sizeof(art), payload);
    CHECK(adb__download_send(db, &d, &it, &a) == ADB_OK);
    CHECK_MSG(a.ok, "%s", a.error);
    char id[256];
    snprintf(id, sizeof(id), "%s", a.reference);
    CHECK(strncmp(id, "dl_", 3) == 0);
    char *url = link_url(c, id);
    REQUIRE(url);
    CHECK(strncmp(url, "/api/v1/delivery/downloads/dl_", 30) == 0);
    /* the file is outside the database, 0600, and the row has the seed's columns */
    char *row = t_query1(c, "SELECT organization_id || '|' || object_type || '|' || file_name || '|' ||"
                            " mime_type || '|' || file_size || '|' || max_access || '|' || algorithm"
                            " || '|' || access_count FROM download_links");
    CHECK_STR(row, "org-transports|export|export-2026-11.ndjson|application/x-ndjson|70000|2|HMAC-SHA256|0");
    free(row);

    CHECK(get(url, &g, disp, sizeof(disp)) == 200);
    CHECK(g.len == sizeof(art) && memcmp(g.p, art, sizeof(art)) == 0);
    CHECK_STR(disp, "attachment; filename=\"export-2026-11.ndjson\"");
    free(g.p);
    CHECK(get(url, &g, NULL, 0) == 200);
    free(g.p);
    /* the third is over maxAccess */
    CHECK(get(url, &g, NULL, 0) == 410);
    CHECK(g.p && strstr((char *)g.p, "ACCESS_LIMIT_REACHED"));
    free(g.p);
    row = t_query1(c, "SELECT access_count || '|' || jsonb_array_length(accessed_by) FROM download_links");
    CHECK_STR(row, "2|2");
    free(row);
    free(url);

    /* a second link: forged, changed and tampered with */
    adb__dest d2 = dest_of("download", "{\"download\":{\"expiryHours\":1,\"baseUrl\":\"https://audit.example.net/\"}}");
    CHECK(adb__download_send(db, &d2, &it, &a) == ADB_OK && a.ok);
    snprintf(id, sizeof(id), "%s", a.reference);
    url = link_url(c, id);
    REQUIRE(url);
    CHECK(strncmp(url, "https://audit.example.net/api/v1/delivery/downloads/", 52) == 0);
    const char *rel = strstr(url, "/api/");
    char *q = strstr(url, "expires=");
    REQUIRE(q);
    long long exp = strtoll(q + 8, NULL, 10);
    char *sig = strstr(url, "signature=") + 10;
    char bad[1200];
    /* one hex digit changed */
    snprintf(bad, sizeof(bad), "%s", rel);
    char *bs = strstr(bad, "signature=") + 10;
    bs[10] = bs[10] == 'a' ? 'b' : 'a';
    CHECK(get(bad, &g, NULL, 0) == 403);
    CHECK(g.p && strstr((char *)g.p, "INVALID_SIGNATURE"));
    free(g.p);
    /* a later expiry with the same signature */
    snprintf(bad, sizeof(bad), "/api/v1/delivery/downloads/%s?expires=%lld&signature=%s", id, exp + 3600, sig);
    CHECK(get(bad, &g, NULL, 0) == 403);
    free(g.p);
    /* a superuser who extends the row: the URL no longer matches it, and a URL made
     * for the new expiry cannot be signed without the master key */
    PQclear(PQexec(c, "UPDATE download_links SET expires_at = expires_at + interval '1 day'"));
    CHECK(get(rel, &g, NULL, 0) == 403);
    free(g.p);
    PQclear(PQexec(c, "UPDATE download_links SET expires_at = expires_at - interval '1 day'"));
    CHECK(get(rel, &g, NULL, 0) == 200);
    free(g.p);
    /* another link's signature on this id */
    CHECK(get("/api/v1/delivery/downloads/dl_nosuchlink?expires=1&signature="
              "0000000000000000000000000000000000000000000000000000000000000000", &g, NULL, 0) == 403);
    free(g.p);
    /* bad query: 400 naming the field */
    snprintf(bad, sizeof(bad), "/api/v1/delivery/downloads/%s?expires=%lld", id, exp);
    CHECK(get(bad, &g, NULL, 0) == 400);
    CHECK(g.p && strstr((char *)g.p, "\"signature\""));
    free(g.p);
    snprintf(bad, sizeof(bad), "/api/v1/delivery/downloads/%s?expires=soon&signature=%s", id, sig);
    CHECK(get(bad, &g, NULL, 0) == 400);
    CHECK(g.p && strstr((char *)g.p, "\"expires\""));
    free(g.p);
    /* the file changed on disk: refused, not served */
    char *fp = t_query1(c, "SELECT file_path FROM download_links WHERE expires_at < now() + interval '2 hours'");
    REQUIRE(fp);
    char path[1200];
    snprintf(path, sizeof(path), "%s/%s", dl_dir, fp);
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    FILE *f = fopen(path, "r+b");
    REQUIRE(f);
    fputc(art[0] ^ 1, f);
    fclose(f);
    CHECK(get(rel, &g, NULL, 0) == 500);
    free(g.p);
    /* the file changed and the row's hash "fixed" by a superuser: the URL
     * signs the hash, so that is a bad signature, and nothing is served */
    char q2[1400], hx[65];
    static unsigned char changed[sizeof(art)];
    memcpy(changed, art, sizeof(art));
    changed[0] ^= 1;
    adb__sha256_hex(changed, sizeof(changed), hx);
    snprintf(q2, sizeof(q2), "UPDATE download_links SET metadata = jsonb_set(metadata, '{sha256}',"
             " '\"%s\"') WHERE file_path = '%s'", hx, fp);
    PGresult *ur = PQexec(c, q2);
    CHECK_MSG(PQresultStatus(ur) == PGRES_COMMAND_OK, "%s", PQerrorMessage(c));
    PQclear(ur);
    CHECK(get(rel, &g, NULL, 0) == 403);
    free(g.p);
    f = fopen(path, "r+b");
    fputc(art[0], f);
    fclose(f);
    adb__sha256_hex(art, sizeof(art), hx);
    snprintf(q2, sizeof(q2), "UPDATE download_links SET metadata = jsonb_set(metadata, '{sha256}',"
             " '\"%s\"') WHERE file_path = '%s'", hx, fp);
    PQclear(PQexec(c, q2));
    CHECK(get(rel, &g, NULL, 0) == 200);
    free(g.p);
    /* another name or type given by a superuser: refused too */
    PQclear(PQexec(c, "UPDATE download_links SET file_name = 'invoice.exe' WHERE file_path LIKE '%'"
                      " AND expires_at < now() + interval '2 hours'"));
    CHECK(get(rel, &g, NULL, 0) == 403);
    free(g.p);
    PQclear(PQexec(c, "UPDATE download_links SET file_name = 'export-2026-11.ndjson'"
                      " WHERE expires_at < now() + interval '2 hours'"));
    CHECK(get(rel, &g, NULL, 0) == 200);
    free(g.p);
    /* revoked: 410; another organization cannot revoke it */
    CHECK(adb__download_revoke(db, "org-other", id, "admin", "wrong org") == ADB_ERR_NOT_FOUND);
    CHECK(adb__download_revoke(db, "org-transports", id, "key:adb_test", "sent to the wrong address") == ADB_OK);
    CHECK(get(rel, &g, NULL, 0) == 410);
    CHECK(g.p && strstr((char *)g.p, "LINK_REVOKED"));
    free(g.p);
    free(fp);
    free(url);

    /* expired: 410 (the row and the URL agree, the time has passed) */
    adb__dest d3 = dest_of("download", "{\"download\":{\"expiryHours\":0.0003}}");
    CHECK(adb__download_send(db, &d3, &it, &a) == ADB_OK && a.ok);
    url = link_url(c, a.reference);
    REQUIRE(url);
    sleep(2);
    CHECK(get(url, &g, NULL, 0) == 410);
    CHECK(g.p && strstr((char *)g.p, "LINK_EXPIRED"));
    free(g.p);
    free(url);

    /* allowed ranges: loopback is not in 10.0.0.0/8 */
    adb__dest d4 = dest_of("download", "{\"download\":{\"expiryHours\":1,\"allowedIpRanges\":[\"10.0.0.0/8\"]}}");
    CHECK(adb__download_send(db, &d4, &it, &a) == ADB_OK && a.ok);
    url = link_url(c, a.reference);
    CHECK(get(url, &g, NULL, 0) == 403);
    free(g.p);
    free(url);
    adb__dest d5 = dest_of("download", "{\"download\":{\"expiryHours\":1,\"allowedIpRanges\":[\"10.0.0.0/8\",\"127.0.0.0/8\"]}}");
    CHECK(adb__download_send(db, &d5, &it, &a) == ADB_OK && a.ok);
    url = link_url(c, a.reference);
    CHECK(get(url, &g, NULL, 0) == 200);
    free(g.p);
    free(url);

    /* every download and refusal is a security event of the organization */
    static const char *evq =
        "SELECT count(*) FILTER (WHERE event_type = 'delivery_download') || '|' ||"
        " count(*) FILTER (WHERE event_type = 'download_link_refused') || '|' ||"
        " count(*) FILTER (WHERE event_type = 'download_file_mismatch')"
        " FROM security_events WHERE organization_id = 'org-transports'";
    char *n = NULL;
    for (int i = 0; i < 50; i++) { /* written in batches by serve's self-audit */
        free(n);
        n = t_query1(c, evq);
        if (n && strcmp(n, "6|6|1") == 0)
            break;
        usleep(100000);
    }
    /* downloads: 2 + 3 + 1; refusals: changed signature, later expiry, extended row,
     * rehashed file, renamed file, the address range (the unknown id names no
     * organization); one changed file */
    CHECK_STR(n, "6|6|1");
    free(n);

    /* config refusals */
    static const struct { const char *json, *field; } badc[] = {
        { "{\"download\":{}}", "config.download.expiryHours" },
        { "{\"download\":{\"expiryHours\":-1}}", "config.download.expiryHours" },
        { "{\"download\":{\"expiryHours\":1,\"maxAccess\":0}}", "config.download.maxAccess" },
        { "{\"download\":{\"expiryHours\":1,\"allowedIpRanges\":[\"10.0.0.0/33\"]}}", "config.download.allowedIpRanges[0]" },
        { "{\"download\":{\"expiryHours\":1,\"baseUrl\":\"javascript:alert(1)\"}}", "config.download.baseUrl" },
    };
    for (size_t i = 0; i < sizeof(badc) / sizeof(badc[0]); i++) {
        adb__dest b = dest_of("download", badc[i].json);
        CHECK_MSG(adb__download_send(db, &b, &it, &a) == ADB_ERR_CONFIG && a.permanent, "case %zu", i);
        CHECK_MSG(strstr(a.error, badc[i].field) != NULL, "case %zu: %s", i, a.error);
        json_decref(b.config);
    }
    json_decref(d.config), json_decref(d2.config), json_decref(d3.config);
    json_decref(d4.config), json_decref(d5.config);
    json_decref(payload);
    PQfinish(c);
    adb_close(db);
}

/* the serve that served the links ran under the sanitizers: a clean stop */
static void serve_stops_cleanly(void)
{
    int status = -1;
    char log[800];
    size_t n = 0;
    REQUIRE(serve_pid > 0);
    kill(serve_pid, SIGTERM);
    waitpid(serve_pid, &status, 0);
    serve_pid = -1;
    CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
    snprintf(log, sizeof(log), "%s/serve.log", peers);
    unsigned char *b = slurp(log, &n);
    CHECK(b && n < (4 << 20) && (b[n] = 0, strstr((char *)b, "Sanitizer") == NULL));
    free(b);
}

static void stop_peers(void)
{
    char cmd[800];
    stop_serve();
    snprintf(cmd, sizeof(cmd), "sh tests/tools/transport_peers.sh stop '%s'", peers);
    if (system(cmd) != 0)
        printf("# could not stop the peers\n");
}

int main(void)
{
    const char *tmp = getenv("TEST_TMP");
    char cmd[1600];

    snprintf(peers, sizeof(peers), "%s/peers", tmp && *tmp ? tmp : "/tmp/adb-test-transports");
    snprintf(dl_dir, sizeof(dl_dir), "%s/downloads", peers);
    setenv("AUDITDB_DELIVERY_ALLOW", "127.0.0.1/32", 1);
    setenv("AUDITDB_DOWNLOAD_DIR", dl_dir, 1);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    for (size_t i = 0; i < sizeof(art); i++)
        art[i] = i < 256 ? (unsigned char)i : (unsigned char)((i * 2654435761u) >> 13);

    snprintf(cmd, sizeof(cmd), "rm -rf '%s' && sh tests/tools/transport_peers.sh start '%s' %d",
             peers, peers, (int)getpid());
    if (system(cmd) != 0) {
        printf("not ok - peers: transport_peers.sh failed\n");
        return 1;
    }
    atexit(stop_peers);
    read_env();
    setenv("AUDITDB_DELIVERY_CA_FILE", ca_file, 1);
    if (!t_migrated_db("t_transports", ci, sizeof(ci))) {
        printf("not ok - setup\n");
        return 1;
    }

    RUN_WITH(s3_put_is_byte_exact, s3_skip);
    RUN_WITH(s3_wrong_secret_is_refused_by_the_peer, s3_skip);
    RUN(s3_config_refusals_name_the_field);
    RUN_WITH(s3_address_policy_applies, s3_skip);
    RUN_WITH(s3_virtual_hosted_style, s3_skip);
    RUN_WITH(email_starttls_delivers_the_attachment, smtp_skip);
    RUN_WITH(email_implicit_tls, smtp_skip);
    RUN_WITH(email_refusals, smtp_skip);
    RUN(email_never_authenticates_in_clear);
    RUN_WITH(sftp_upload_with_a_key, ssh_skip);
    RUN_WITH(sftp_refusals, ssh_skip);
    if (start_serve()) {
        RUN(download_links_end_to_end);
        RUN(serve_stops_cleanly);
    } else {
        printf("not ok - download_links_end_to_end: auditdb serve did not start (%s/serve.log)\n",
               peers);
        t_failures++;
    }
    return t_done();
}
