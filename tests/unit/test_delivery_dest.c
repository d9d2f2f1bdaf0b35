/*
 * test_delivery_dest.c - delivery destinations below the API (src/delivery/
 * ssrf.c, secret.c, webhook_keys.c, destination.c): the address policy on
 * every range and spelling, on a real connection (curl's own resolution and
 * a forced DNS answer pointing at loopback), the allow-list; sealing bound to
 * organization, destination and field; the webhook keys the queue signs with
 * are the ones the create answer showed, old and new during a rotation's
 * grace period and the new only after it.
 */
#include "tdb.h"
#include "delivery/destination.h"
#include "delivery/secret.h"
#include "delivery/ssrf.h"
#include "integrity/integrity.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <sys/socket.h>
#include <unistd.h>

static char ci[512];

static const char *v4(const char *ip)
{
    struct sockaddr_in sa = { .sin_family = AF_INET };
    inet_pton(AF_INET, ip, &sa.sin_addr);
    return adb__ssrf_check_addr((struct sockaddr *)&sa);
}

static const char *v6(const char *ip)
{
    struct sockaddr_in6 sa = { .sin6_family = AF_INET6 };
    inet_pton(AF_INET6, ip, &sa.sin6_addr);
    return adb__ssrf_check_addr((struct sockaddr *)&sa);
}

static void ssrf_ranges(void)
{
    static const char *const refused4[] = {
        "127.0.0.1", "127.255.255.254", "10.0.0.1", "172.16.0.1", "172.31.255.255",
        "192.168.0.1", "169.254.169.254", "100.64.0.1", "100.127.255.255", "0.0.0.0",
        "0.1.2.3", "224.0.0.1", "239.255.255.250", "255.255.255.255", "240.0.0.1",
        "192.0.2.1", "198.51.100.7", "203.0.113.9", "198.18.0.1", NULL };
    static const char *const refused6[] = {
        "::1", "::", "fc00::1", "fd12:3456::1", "fe80::1", "febf::1", "ff02::1",
        "::ffff:127.0.0.1", "::ffff:169.254.169.254", "::ffff:10.0.0.1", "::ffff:0.0.0.0",
        "::127.0.0.1", "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "2002:7f00:1::1",
        "2002:a9fe:a9fe::1", "2001:db8::1", "2001:0:4136:e378::1", NULL };
    static const char *const public4[] = { "8.8.8.8", "1.1.1.1", "172.32.0.1", "100.128.0.1",
                                           "192.169.0.1", "11.0.0.1", NULL };
    static const char *const public6[] = { "2606:4700:4700::1111", "::ffff:8.8.8.8",
                                           "64:ff9b::808:808", "2002:808:808::1", NULL };

    unsetenv("AUDITDB_DELIVERY_ALLOW");
    for (int i = 0; refused4[i]; i++)
        CHECK_MSG(v4(refused4[i]) != NULL, "%s admitted", refused4[i]);
    for (int i = 0; refused6[i]; i++)
        CHECK_MSG(v6(refused6[i]) != NULL, "%s admitted", refused6[i]);
    for (int i = 0; public4[i]; i++)
        CHECK_MSG(v4(public4[i]) == NULL, "%s refused", public4[i]);
    for (int i = 0; public6[i]; i++)
        CHECK_MSG(v6(public6[i]) == NULL, "%s refused", public6[i]);
    CHECK(strstr(v4("127.0.0.1"), "loopback"));
    CHECK(strstr(v4("169.254.169.254"), "link-local"));
    CHECK(strstr(v6("::1"), "loopback"));
    CHECK(strstr(v6("::ffff:127.0.0.1"), "loopback"));
}

static void ssrf_allow_list(void)
{
    setenv("AUDITDB_DELIVERY_ALLOW", " 127.0.0.1/32 , 10.1.0.0/16,fd00:1::/32,garbage,300.1.1.1/8", 1);
    CHECK(v4("127.0.0.1") == NULL);
    CHECK(v4("127.0.0.2") != NULL);           /* /32 is one address */
    CHECK(v4("10.1.200.3") == NULL);
    CHECK(v4("10.2.0.1") != NULL);
    CHECK(v6("fd00:1:ffff::9") == NULL);
    CHECK(v6("fd00:2::9") != NULL);
    CHECK(v6("::1") != NULL);                 /* 127.0.0.1/32 is not ::1 */
    CHECK(v6("::ffff:127.0.0.1") == NULL);    /* the same address, mapped */
    CHECK(v4("169.254.169.254") != NULL);
    setenv("AUDITDB_DELIVERY_ALLOW", "0.0.0.0/0", 1); /* the operator's choice: everything v4 */
    CHECK(v4("169.254.169.254") == NULL);
    CHECK(v6("::1") != NULL);
    unsetenv("AUDITDB_DELIVERY_ALLOW");
    CHECK(adb__cidr_valid("10.0.0.0/8") && adb__cidr_valid("::1") && adb__cidr_valid("2001:db8::/32"));
    CHECK(!adb__cidr_valid("10.0.0.0/33") && !adb__cidr_valid("") && !adb__cidr_valid("a/8") &&
          !adb__cidr_valid("10.0.0.0/") && !adb__cidr_valid("::/129"));
}

static void ssrf_check_host(void)
{
    char err[512];
    unsetenv("AUDITDB_DELIVERY_ALLOW");
    CHECK(adb__ssrf_check_host("localhost", 80, err, sizeof(err)) == ADB_ERR_INVALID);
    CHECK(strstr(err, "loopback") != NULL);
    CHECK(adb__ssrf_check_host("127.0.0.1", 80, err, sizeof(err)) == ADB_ERR_INVALID);
    CHECK(adb__ssrf_check_host("[::1]", 80, err, sizeof(err)) == ADB_ERR_INVALID);
    CHECK(adb__ssrf_check_host("no-such-host.invalid", 80, err, sizeof(err)) == ADB_ERR_NOT_FOUND);
    CHECK(adb__ssrf_check_host("", 80, err, sizeof(err)) == ADB_ERR_INVALID);
    CHECK(adb__ssrf_check_host("8.8.8.8", 443, err, sizeof(err)) == ADB_OK); /* a literal: no DNS */
    setenv("AUDITDB_DELIVERY_ALLOW", "127.0.0.1/32", 1);
    CHECK(adb__ssrf_check_host("127.0.0.1", 80, err, sizeof(err)) == ADB_OK);
    CHECK(adb__ssrf_check_host("[::1]", 80, err, sizeof(err)) == ADB_ERR_INVALID);
    unsetenv("AUDITDB_DELIVERY_ALLOW");
}

/* A listening socket on 127.0.0.1 (accepts through the backlog). */
static int listener(int *port)
{
    struct sockaddr_in sa = { .sin_family = AF_INET };
    socklen_t len = sizeof(sa);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) || listen(s, 8) ||
        getsockname(s, (struct sockaddr *)&sa, &len)) {
        if (s >= 0)
            close(s);
        return -1;
    }
    *port = ntohs(sa.sin_port);
    return s;
}

/* curl, connect only, to url under the policy: its result */
static CURLcode connect_to(const char *url, const char *resolve)
{
    CURL *c = curl_easy_init();
    struct curl_slist *res = resolve ? curl_slist_append(NULL, resolve) : NULL;
    CURLcode rc = CURLE_FAILED_INIT;

    if (c && adb__ssrf_attach(c) == ADB_OK) {
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_CONNECT_ONLY, 1L);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
        if (res)
            curl_easy_setopt(c, CURLOPT_RESOLVE, res);
        rc = curl_easy_perform(c);
    }
    curl_slist_free_all(res);
    curl_easy_cleanup(c);
    return rc;
}

/* the address connected to is checked: a literal, a name, and a name whose
 * DNS answer changed to loopback after creation (CURLOPT_RESOLVE forces it) */
static void ssrf_on_the_connection(void)
{
    char url[128], resolve[128];
    int port, s = listener(&port);
    REQUIRE(s >= 0);

    unsetenv("AUDITDB_DELIVERY_ALLOW");
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
    CHECK(connect_to(url, NULL) == CURLE_COULDNT_CONNECT);
    CHECK(strstr(adb__ssrf_last_refusal(), "127.0.0.1") != NULL);
    CHECK(strstr(adb__ssrf_last_refusal(), "loopback") != NULL);
    snprintf(url, sizeof(url), "http://rebound.example.com:%d/", port);
    snprintf(resolve, sizeof(resolve), "rebound.example.com:%d:127.0.0.1", port);
    CHECK(connect_to(url, resolve) == CURLE_COULDNT_CONNECT);
    snprintf(url, sizeof(url), "http://localhost:%d/", port);
    CHECK(connect_to(url, NULL) == CURLE_COULDNT_CONNECT);
    setenv("AUDITDB_DELIVERY_ALLOW", "127.0.0.1/32", 1);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
    CHECK(connect_to(url, NULL) == CURLE_OK);
    CHECK(adb__ssrf_last_refusal()[0] == '\0');
    snprintf(url, sizeof(url), "http://rebound.example.com:%d/", port);
    CHECK(connect_to(url, resolve) == CURLE_OK);
    /* the proxy environment is ignored: the peer is who is connected to */
    setenv("http_proxy", "http://10.9.9.9:3128", 1);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
    CHECK(connect_to(url, NULL) == CURLE_OK);
    unsetenv("http_proxy");
    unsetenv("AUDITDB_DELIVERY_ALLOW");
    close(s);
}

static adb__keys keys_of(const char *master)
{
    adb__keys k;
    memset(&k, 0, sizeof(k));
    if (!adb__keys_derive((const unsigned char *)master, strlen(master), &k))
        printf("# could not derive keys\n");
    return k;
}

static json_t *sftp_config(void)
{
    return json_pack("{s:{s:s, s:i, s:s, s:s, s:s, s:s}}", "sftp", "host", "sftp.example.org",
                     "port", 22, "username", "drop", "password", "pw-secret-1", "privateKey",
                     "KEY-secret-2", "path", "/in");
}

static void sealing(void)
{
    adb__keys k = keys_of("0123456789abcdef0123456789abcdef-master-one");
    adb__keys k2 = keys_of("0123456789abcdef0123456789abcdef-master-two");
    json_t *cfg = sftp_config(), *orig = json_deep_copy(cfg);
    unsigned char *sealed = NULL;
    size_t len = 0;

    REQUIRE(adb__dest_seal(&k, "org-a", 7, "sftp", cfg, &sealed, &len));
    REQUIRE(sealed && len > 28);
    char *text = json_dumps(cfg, JSON_COMPACT);
    CHECK(strstr(text, "secret") == NULL); /* the database form holds markers only */
    CHECK(strstr(text, "\"password\":{\"sealed\":true}") != NULL);
    CHECK(strstr(text, "drop") != NULL);
    free(text);
    CHECK(memmem(sealed, len, "pw-secret-1", 11) == NULL);

    json_t *back = json_deep_copy(cfg);
    CHECK(adb__dest_open(&k, "org-a", 7, back, sealed, len));
    CHECK(json_equal(back, orig));
    json_decref(back);
    /* bound: another organization, destination, master key; a flipped bit */
    back = json_deep_copy(cfg);
    CHECK(!adb__dest_open(&k, "org-b", 7, back, sealed, len));
    CHECK(!adb__dest_open(&k, "org-a", 8, back, sealed, len));
    CHECK(!adb__dest_open(&k2, "org-a", 7, back, sealed, len));
    sealed[len / 2] ^= 1;
    CHECK(!adb__dest_open(&k, "org-a", 7, back, sealed, len));
    sealed[len / 2] ^= 1;
    CHECK(adb__dest_open(&k, "org-a", 7, back, sealed, len));
    free(sealed);
    json_decref(back);

    /* answers: masked; an update giving the mask keeps the old value */
    json_t *shown = json_deep_copy(orig);
    adb__dest_mask("sftp", shown);
    CHECK_STR(json_string_value(json_object_get(json_object_get(shown, "sftp"), "password")),
              ADB_DEST_MASK);
    CHECK_STR(json_string_value(json_object_get(json_object_get(shown, "sftp"), "username")), "drop");
    json_object_set_new(json_object_get(shown, "sftp"), "privateKey", json_string("KEY-new"));
    adb__dest_keep_secrets("sftp", shown, orig);
    CHECK_STR(json_string_value(json_object_get(json_object_get(shown, "sftp"), "password")),
              "pw-secret-1");
    CHECK_STR(json_string_value(json_object_get(json_object_get(shown, "sftp"), "privateKey")),
              "KEY-new");
    json_decref(shown);

    /* no secret field: nothing sealed */
    json_t *dl = json_pack("{s:{s:i}}", "download", "expiryHours", 4);
    CHECK(adb__dest_seal(&k, "org-a", 9, "download", dl, &sealed, &len) && !sealed && len == 0);
    json_decref(dl);

    /* which names are credentials */
    CHECK(adb__dest_secret_name("Authorization") && adb__dest_secret_name("X-Auth-Token") &&
          adb__dest_secret_name("secretAccessKey") && adb__dest_secret_name("sessionToken") &&
          adb__dest_secret_name("Cookie") && adb__dest_secret_name("x-api-key"));
    CHECK(!adb__dest_secret_name("accessKeyId") && !adb__dest_secret_name("region") &&
          !adb__dest_secret_name("Content-Type") && !adb__dest_secret_name("bucket"));

    /* blobs: bound to their field */
    unsigned char raw[32], out[64];
    size_t n = 0;
    char *b64 = NULL;
    memset(raw, 0xa5, sizeof(raw));
    REQUIRE(adb__dest_seal_blob(&k, "org-a", 3, "webhook-secret:wsk_1", raw, 32, &b64));
    CHECK(adb__dest_open_blob(&k, "org-a", 3, "webhook-secret:wsk_1", b64, out, sizeof(out), &n));
    CHECK(n == 32 && !memcmp(out, raw, 32));
    CHECK(!adb__dest_open_blob(&k, "org-a", 3, "webhook-secret:wsk_2", b64, out, sizeof(out), &n));
    CHECK(!adb__dest_open_blob(&k, "org-a", 4, "webhook-secret:wsk_1", b64, out, sizeof(out), &n));
    CHECK(!adb__dest_open_blob(&k, "org-a", 3, "webhook-secret:wsk_1", "AAAA", out, sizeof(out), &n));
    CHECK(!adb__dest_open_blob(&k, "org-a", 3, "webhook-secret:wsk_1", b64, out, 16, &n));
    free(b64);
    json_decref(cfg);
    json_decref(orig);
}

static size_t unb64(const char *s, unsigned char *out)
{
    size_t len = strlen(s);
    int n = EVP_DecodeBlock(out, (const unsigned char *)s, (int)len);
    size_t m = n < 0 ? 0 : (size_t)n;
    while (len && s[len - 1] == '=') {
        len--;
        m--;
    }
    return m;
}

/* the keys the queue signs with are the shown ones; rotation's grace */
static void webhook_keys(void)
{
    adb *h = t_open(ci, NULL);
    PGconn *c = PQconnectdb(ci);
    adb__dest_error e;
    json_t *out = NULL;
    adb__signing_key *k = NULL;
    size_t n = 0;

    REQUIRE(h && PQstatus(c) == CONNECTION_OK);
    setenv("AUDITDB_DELIVERY_ALLOW", "127.0.0.1/32", 1);
    json_t *body = json_pack("{s:s, s:s, s:{s:{s:s, s:s, s:{s:s}, s:i, s:{s:i, s:i, s:i}}}}",
                             "label", "k", "type", "webhook", "config", "webhook", "url",
                             "http://127.0.0.1:9/", "method", "POST", "headers", "Authorization",
                             "Bearer hdr-secret", "timeout", 1000, "retryConfig", "maxRetries", 1,
                             "backoffMultiplier", 1, "maxBackoffDelay", 0);
    adb_status st = adb__dest_create(h, "org-k", body, "test", &out, &e);
    json_decref(body);
    REQUIRE(st == ADB_OK);
    int id = atoi(json_string_value(json_object_get(out, "id")));
    const char *whsec = json_string_value(json_object_get(json_object_get(out, "secrets"), "secret"));
    const char *whpk = json_string_value(json_object_get(json_object_get(out, "secrets"), "publicKey"));
    REQUIRE(whsec && whpk && !strncmp(whsec, "whsec_", 6) && !strncmp(whpk, "whpk_", 5));

    /* the loaded destination has its header opened */
    adb__dest d;
    REQUIRE(adb__dest_load(h, c, "org-k", id, &d) == ADB_OK);
    CHECK_STR(json_string_value(json_object_get(json_object_get(json_object_get(d.config, "webhook"),
                                                                "headers"), "Authorization")),
              "Bearer hdr-secret");
    adb__dest_free(&d);
    CHECK(adb__dest_load(h, c, "org-other", id, &d) == ADB_ERR_NOT_FOUND);

    int64_t now = (int64_t)time(NULL) * 1000;
    REQUIRE(adb__webhook_keys_active(h, c, "org-k", id, now, &k, &n) == ADB_OK);
    REQUIRE(n == 2);
    unsigned char raw[64], pub[32];
    size_t rn = unb64(whsec + 6, raw), pn = sizeof(pub);
    bool seen_v1 = false, seen_v1a = false;
    for (size_t i = 0; i < n; i++) {
        CHECK(k[i].primary);
        if (!k[i].ed25519) {
            seen_v1 = true;
            CHECK(k[i].key_len == rn && !memcmp(k[i].key, raw, rn)); /* what whsec_ decodes to */
        } else {
            seen_v1a = true;
            EVP_PKEY *pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, k[i].key, k[i].key_len);
            CHECK(pk && EVP_PKEY_get_raw_public_key(pk, pub, &pn) == 1);
            unsigned char shown[32];
            CHECK(unb64(whpk + 5, shown) == 32 && !memcmp(shown, pub, 32)); /* whpk_ is its public key */
            EVP_PKEY_free(pk);
        }
    }
    CHECK(seen_v1 && seen_v1a);
    adb__webhook_keys_free(k, n);
    CHECK(t_count(c, "SELECT min(usage_count) FROM webhook_secrets") == 1);
    CHECK(adb__webhook_keys_active(h, c, "org-other", id, now, &k, &n) == ADB_OK && n == 0);
    adb__webhook_keys_free(k, n);

    /* a rotation with 2 h of grace: four keys sign, the new pair first; after it, two */
    json_decref(out);
    REQUIRE(adb__webhook_keys_rotate(h, "org-k", id, 2, "test", &out, &e) == ADB_OK);
    REQUIRE(adb__webhook_keys_active(h, c, "org-k", id, now, &k, &n) == ADB_OK);
    CHECK(n == 4);
    CHECK(n == 4 && k[0].primary && k[1].primary && !k[2].primary && !k[3].primary);
    unsigned char raw2[64];
    size_t rn2 = unb64(json_string_value(json_object_get(out, "secret")) + 6, raw2);
    bool new_v1 = false;
    for (size_t i = 0; i < n; i++)
        if (k[i].primary && !k[i].ed25519)
            new_v1 = k[i].key_len == rn2 && !memcmp(k[i].key, raw2, rn2);
    CHECK(new_v1);
    adb__webhook_keys_free(k, n);
    REQUIRE(adb__webhook_keys_active(h, c, "org-k", id, now + 3 * 3600 * 1000, &k, &n) == ADB_OK);
    CHECK(n == 2 && k[0].primary && k[1].primary);
    adb__webhook_keys_free(k, n);

    /* a sealed key copied to another row does not open there */
    json_decref(out);
    body = json_pack("{s:s, s:s, s:{s:{s:s, s:s, s:{}, s:i, s:{s:i, s:i, s:i}}}}", "label", "k2",
                     "type", "webhook", "config", "webhook", "url", "http://127.0.0.1:9/", "method",
                     "POST", "headers", "timeout", 1000, "retryConfig", "maxRetries", 1,
                     "backoffMultiplier", 1, "maxBackoffDelay", 0);
    REQUIRE(adb__dest_create(h, "org-k", body, "test", &out, &e) == ADB_OK);
    json_decref(body);
    int id2 = atoi(json_string_value(json_object_get(out, "id")));
    char sql[512];
    snprintf(sql, sizeof(sql),
             "UPDATE webhook_secrets s SET secret_key = o.secret_key FROM webhook_secrets o"
             " WHERE s.destination_id = %d AND o.destination_id = %d AND o.is_primary = 'true'"
             " AND s.algorithm = o.algorithm", id2, id);
    CHECK(t_exec(c, sql));
    CHECK(adb__webhook_keys_active(h, c, "org-k", id2, now, &k, &n) == ADB_ERR_INTERNAL);
    CHECK(k == NULL && n == 0);
    json_decref(out);
    unsetenv("AUDITDB_DELIVERY_ALLOW");
    PQfinish(c);
    adb_close(h);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    RUN(ssrf_ranges);
    RUN(ssrf_allow_list);
    RUN(ssrf_check_host);
    RUN(ssrf_on_the_connection);
    RUN(sealing);
    if (!t_migrated_db("t_delivery_dest", ci, sizeof(ci))) {
        printf("not ok - setup\n");
        return 1;
    }
    RUN(webhook_keys);
    curl_global_cleanup();
    return t_done();
}
