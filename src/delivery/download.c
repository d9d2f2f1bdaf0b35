/*
 * download.c - the 'download' destination: the artifact is written to a
 * file outside the database (adb__download_dir(), one 0700 folder per
 * organization, the file 0600), a download_links row records it with its
 * SHA-256, and the link is a URL signed with HMAC-SHA256 under the
 * organization's "download-link" key, which comes from the master key and
 * which the database cannot read: a superuser can neither make a link nor
 * extend one. The link serves one organization's file, until it expires,
 * is revoked or has been fetched maxAccess times. docs/delivery.md,
 * "Download links".
 */
#include "download.h"
#include "artifact.h"
#include "../core/adb_internal.h"
#include "../core/buf.h"
#include "../core/digest.h"
#include "../core/util.h"
#include "../compliance/subject_key.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#define DL_RANGES_MAX 100
#define DL_EXPIRY_HOURS_MAX (24.0 * 366)

typedef struct dlcfg {
    const char *base_url;
    double expiry_hours;
    long long max_access;   /* 0: no limit */
    const json_t *ranges;   /* NULL: any address */
} dlcfg;

/* ---- address ranges ---- */

typedef struct cidr {
    int family;
    unsigned char addr[16];
    int bits;
} cidr;

static bool cidr_parse(const char *s, cidr *c)
{
    char buf[64];
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : strlen(s);
    if (n == 0 || n >= sizeof(buf))
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    memset(c, 0, sizeof(*c));
    if (inet_pton(AF_INET, buf, c->addr) == 1)
        c->family = AF_INET;
    else if (inet_pton(AF_INET6, buf, c->addr) == 1)
        c->family = AF_INET6;
    else
        return false;
    int max = c->family == AF_INET ? 32 : 128;
    c->bits = max;
    if (slash) {
        long long b;
        if (!adb__parse_int(slash + 1, 0, max, &b))
            return false;
        c->bits = (int)b;
    }
    return true;
}

static bool cidr_has(const cidr *c, const char *ip)
{
    unsigned char a[16];
    int fam;
    if (inet_pton(AF_INET, ip, a) == 1) {
        fam = AF_INET;
    } else if (inet_pton(AF_INET6, ip, a) == 1) {
        fam = AF_INET6;
        /* an IPv4 client seen through an IPv6 socket: ::ffff:a.b.c.d */
        static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
        if (c->family == AF_INET && memcmp(a, mapped, 12) == 0) {
            memmove(a, a + 12, 4);
            fam = AF_INET;
        }
    } else {
        return false;
    }
    if (fam != c->family)
        return false;
    int full = c->bits / 8, rest = c->bits % 8;
    if (memcmp(a, c->addr, (size_t)full) != 0)
        return false;
    if (rest) {
        unsigned char m = (unsigned char)(0xff << (8 - rest));
        if ((a[full] & m) != (c->addr[full] & m))
            return false;
    }
    return true;
}

/* ---- config ---- */

static bool base_url_ok(const char *url)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *user = NULL, *query = NULL, *frag = NULL;
    bool ok = u && strlen(url) <= 512 && adb__text_safe(url) &&
              curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
              (strcmp(scheme, "https") == 0 || strcmp(scheme, "http") == 0) &&
              curl_url_get(u, CURLUPART_USER, &user, 0) != CURLUE_OK &&
              curl_url_get(u, CURLUPART_QUERY, &query, 0) != CURLUE_OK &&
              curl_url_get(u, CURLUPART_FRAGMENT, &frag, 0) != CURLUE_OK;
    curl_free(scheme), curl_free(user), curl_free(query), curl_free(frag);
    curl_url_cleanup(u);
    return ok;
}

#define FAIL(f, ...) \
    do { snprintf(field, flen, "%s", f); snprintf(why, wlen, __VA_ARGS__); return false; } while (0)

static bool dl_parse(const json_t *config, dlcfg *c, char *field, size_t flen, char *why,
                     size_t wlen)
{
    const json_t *d = json_object_get(config, "download");
    if (!json_is_object(d))
        d = config;
    if (!json_is_object(d))
        FAIL("config.download", "must be an object");
    memset(c, 0, sizeof(*c));
    c->base_url = adb__cfg_str(d, "baseUrl");
    if (json_object_get(d, "baseUrl") && (!c->base_url || !base_url_ok(c->base_url)))
        FAIL("config.download.baseUrl", "must be an http(s) URL without credentials, query or "
             "fragment: where this service is reached, e.g. https://audit.example.net");
    const json_t *e = json_object_get(d, "expiryHours");
    if (!json_is_number(e) || !(json_number_value(e) > 0) ||
        json_number_value(e) > DL_EXPIRY_HOURS_MAX)
        FAIL("config.download.expiryHours", "must be a number of hours above 0, at most %.0f",
             DL_EXPIRY_HOURS_MAX);
    c->expiry_hours = json_number_value(e);
    const json_t *m = json_object_get(d, "maxAccess");
    if (m && !json_is_null(m) && (!json_is_integer(m) || json_integer_value(m) < 1 ||
                                  json_integer_value(m) > 1000000))
        FAIL("config.download.maxAccess", "must be an integer from 1 to 1000000");
    c->max_access = json_is_integer(m) ? json_integer_value(m) : 0;
    c->ranges = json_object_get(d, "allowedIpRanges");
    if (c->ranges && json_is_null(c->ranges))
        c->ranges = NULL;
    if (c->ranges) {
        if (!json_is_array(c->ranges) || json_array_size(c->ranges) > DL_RANGES_MAX)
            FAIL("config.download.allowedIpRanges", "must be a list of at most %d CIDR ranges",
                 DL_RANGES_MAX);
        size_t i;
        const json_t *r;
        cidr cd;
        json_array_foreach(c->ranges, i, r) {
            if (!json_is_string(r) || !cidr_parse(json_string_value(r), &cd)) {
                char f[64];
                snprintf(f, sizeof(f), "config.download.allowedIpRanges[%zu]", i);
                FAIL(f, "must be an address or CIDR range (192.0.2.0/24, 2001:db8::/32)");
            }
        }
    }
    return true;
}

bool adb__download_check(const json_t *config, char *field, size_t flen, char *why, size_t wlen)
{
    dlcfg c;
    return dl_parse(config, &c, field, flen, why, wlen);
}

/* ---- keys and files ---- */

bool adb__download_dir(adb *h, char *out, size_t len)
{
    const char *env = getenv("AUDITDB_DOWNLOAD_DIR");
    if (env && *env)
        return (size_t)snprintf(out, len, "%s", env) < len;
    if (h && h->o.home && *h->o.home)
        return (size_t)snprintf(out, len, "%s/downloads", h->o.home) < len;
    return false;
}

bool adb__download_sign(adb *h, const char *org, const char *id, long long expires,
                        const char *sha256_hex, const char *name, const char *mime,
                        char out[ADB_DOWNLOAD_SIG_HEX + 1])
{
    unsigned char key[ADB_ORG_KEY_LEN], mac[32];
    adb__hmac_key hk;
    char msg[800];
    int n = snprintf(msg, sizeof(msg), "auditdb-download-v1\n%s\n%lld\n%s\n%s\n%s", id, expires,
                     sha256_hex, name, mime);
    bool ok = n > 0 && (size_t)n < sizeof(msg) &&
              adb__org_key(adb__db_keys(h), org, "download-link", key) &&
              adb__hmac_key_init(&hk, key, sizeof(key)) &&
              adb__hmac_sha256(&hk, msg, (size_t)n, mac);
    OPENSSL_cleanse(key, sizeof(key));
    OPENSSL_cleanse(&hk, sizeof(hk));
    if (ok)
        adb__hex(mac, 32, out);
    return ok;
}

/* the organization's folder name: hex of the first 16 bytes of SHA-256(org)
 * (an organization id may hold any character) */
static void org_folder(const char *org, char out[33])
{
    unsigned char d[32];
    adb__sha256(org, strlen(org), d);
    adb__hex(d, 16, out);
}

void adb__download_org_folder(const char *org, char out[33])
{
    org_folder(org, out);
}

static bool write_all(int fd, const unsigned char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* writes the bytes to dir/rel through a temporary file, synced, renamed */
static bool store_file(const char *dir, const char *rel, const unsigned char *p, size_t n)
{
    char path[1200], tmp[1210];
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, rel) >= sizeof(path) ||
        (size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
        return false;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return false;
    bool ok = write_all(fd, p, n) && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (ok && rename(tmp, path) != 0)
        ok = false;
    if (!ok)
        unlink(tmp);
    return ok;
}

/* ---- send ---- */

adb_status adb__download_send(adb *h, const adb__dest *d, const adb__item *it, adb__attempt *out)
{
    dlcfg c;
    char field[96], why[200], name[ADB_ARTIFACT_NAME_MAX + 1], dir[1024], folder[33];
    char id[ADB_DOWNLOAD_ID_MAX], rel[128], sig[ADB_DOWNLOAD_SIG_HEX + 1], sum[65];
    char expires_s[32], size_s[32], max_s[32];
    unsigned char rnd[16];
    char *url = NULL, *objmd = NULL, *md = NULL;
    adb_status st = ADB_OK;
    double t0 = adb__now_ms();
    bool stored = false;

    adb__attempt_init(out);
    if (!dl_parse(d->config, &c, field, sizeof(field), why, sizeof(why))) {
        adb__attempt_fail(out, true, "%s %s", field, why);
        return ADB_ERR_CONFIG;
    }
    if (!adb__artifact_name(it, adb__cfg_str(adb__dest_section(d, "download"), "filename"), name,
                            sizeof(name), why, sizeof(why)) || strchr(name, '"')) {
        adb__attempt_fail(out, true, "config.download.filename %s",
                          strchr(name, '"') ? "has a '\"'" : why);
        return ADB_ERR_CONFIG;
    }
    const char *ctype = it->content_type && *it->content_type ? it->content_type
                                                              : "application/octet-stream";
    if (!adb__text_safe(ctype) || strlen(ctype) > 100) {
        adb__attempt_fail(out, true, "the content type must be text of at most 100 bytes");
        return ADB_ERR_CONFIG;
    }
    if (it->body_len > ADB_DOWNLOAD_FILE_MAX || it->body_len > 0x7fffffff) {
        adb__attempt_fail(out, true, "the artifact is larger than a download link serves (%u "
                          "bytes)", ADB_DOWNLOAD_FILE_MAX);
        return ADB_ERR_CONFIG;
    }
    if (!adb__download_dir(h, dir, sizeof(dir))) {
        adb__attempt_fail(out, true, "no folder for download links: set AUDITDB_DOWNLOAD_DIR "
                          "or AUDITDB_HOME");
        return ADB_ERR_CONFIG;
    }
    org_folder(d->org, folder);
    char sub[1100];
    snprintf(sub, sizeof(sub), "%s/%s", dir, folder);
    if (!adb__mkdir_p(sub, 0700)) {
        adb__attempt_fail(out, false, "download: could not create the links' folder");
        return ADB_ERR_IO;
    }
    if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
        adb__attempt_fail(out, false, "download: no randomness");
        return ADB_ERR_INTERNAL;
    }
    char b64[32];
    adb__base64url(rnd, sizeof(rnd), b64);
    snprintf(id, sizeof(id), "dl_%s", b64);
    snprintf(rel, sizeof(rel), "%s/%s", folder, id);
    const unsigned char *body = it->body ? it->body : (const unsigned char *)"";
    adb__sha256_hex(body, it->body_len, sum);
    if (!store_file(dir, rel, body, it->body_len)) {
        adb__attempt_fail(out, false, "download: could not write the file (%s)", strerror(errno));
        return ADB_ERR_IO;
    }
    stored = true;

    long long expires = (long long)time(NULL) + (long long)ceil(c.expiry_hours * 3600.0);
    if (!adb__download_sign(h, d->org, id, expires, sum, name, ctype, sig)) {
        adb__attempt_fail(out, false, "download: could not sign the link");
        st = ADB_ERR_INTERNAL;
        goto out;
    }
    const char *base = c.base_url ? c.base_url : getenv("AUDITDB_PUBLIC_URL");
    size_t bl = base ? strlen(base) : 0;
    while (bl && base[bl - 1] == '/')
        bl--;
    url = adb__aprintf("%.*s/api/v1/delivery/downloads/%s?expires=%lld&signature=%s", (int)bl,
                       base ? base : "", id, expires, sig);
    const json_t *payload_md = it->payload ? json_object_get(it->payload, "metadata") : NULL;
    objmd = json_dumps(json_is_object(payload_md) ? payload_md : json_object(), JSON_COMPACT);
    json_t *mdo = json_pack("{s:s, s:i, s:O*}", "sha256", sum, "destinationId", d->id,
                            "allowedIpRanges", c.ranges);
    md = mdo ? json_dumps(mdo, JSON_COMPACT) : NULL;
    json_decref(mdo);
    if (!url || !objmd || !md) {
        adb__attempt_fail(out, false, "download: out of memory");
        st = ADB_ERR_NOMEM;
        goto out;
    }
    const char *ptype = it->payload ? adb__cfg_str(it->payload, "type") : NULL;
    snprintf(expires_s, sizeof(expires_s), "%lld", expires);
    snprintf(size_s, sizeof(size_s), "%zu", it->body_len);
    snprintf(max_s, sizeof(max_s), "%lld", c.max_access);
    char by[64];
    snprintf(by, sizeof(by), "delivery:destination:%d", d->id);
    const char *object_id = it->delivery_id && *it->delivery_id ? it->delivery_id : it->id;
    const char *vals[] = { id, d->org, it->delivery_id, object_id ? object_id : id,
                           ptype ? ptype : "custom", objmd, rel, name, ctype, size_s, url, sig,
                           expires_s, c.max_access ? max_s : NULL, by, md };
    PGconn *conn = adb_pool_acquire(adb__pool(h), &st, NULL, 0);
    if (!conn) {
        adb__attempt_fail(out, false, "download: the database is not available");
        goto out;
    }
    PGresult *r = PQexecParams(conn,
        "INSERT INTO download_links (id, organization_id, delivery_id, object_id, object_type,"
        " object_metadata, file_path, file_name, mime_type, file_size, signed_url, signature,"
        " algorithm, expires_at, max_access, created_by, metadata)"
        " VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10::integer, $11, $12,"
        " 'HMAC-SHA256', to_timestamp($13::bigint), $14::integer, $15, $16::jsonb)",
        16, NULL, vals, NULL, NULL, 0);
    bool inserted = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    adb_pool_release(adb__pool(h), conn);
    if (!inserted) {
        adb__attempt_fail(out, false, "download: the link could not be recorded");
        st = ADB_ERR_DB_QUERY;
        goto out;
    }
    out->ok = true;
    snprintf(out->reference, sizeof(out->reference), "%s", id);
    stored = false; /* kept: the row points at it */
out:
    if (stored) {
        char path[1200];
        snprintf(path, sizeof(path), "%s/%s", dir, rel);
        unlink(path);
    }
    out->elapsed_ms = adb__now_ms() - t0;
    free(url), free(objmd), free(md);
    return st;
}

adb_status adb__download_probe(adb *h, const adb__dest *d, adb__attempt *out)
{
    dlcfg c;
    char field[96], why[200], dir[1024], probe[1100];
    double t0 = adb__now_ms();

    adb__attempt_init(out);
    if (!dl_parse(d->config, &c, field, sizeof(field), why, sizeof(why))) {
        adb__attempt_fail(out, true, "%s %s", field, why);
        return ADB_ERR_CONFIG;
    }
    if (!adb__download_dir(h, dir, sizeof(dir))) {
        adb__attempt_fail(out, true, "no folder for download links: set AUDITDB_DOWNLOAD_DIR "
                          "or AUDITDB_HOME");
        return ADB_ERR_CONFIG;
    }
    /* the folder can be made and written */
    snprintf(probe, sizeof(probe), "%s/.probe-%d", dir, (int)getpid());
    int fd = -1;
    if (adb__mkdir_p(dir, 0700))
        fd = open(probe, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        adb__attempt_fail(out, false, "download: the links' folder cannot be written (%s)",
                          strerror(errno));
    } else {
        close(fd);
        unlink(probe);
        out->ok = true;
    }
    out->elapsed_ms = adb__now_ms() - t0;
    return ADB_OK;
}

/* ---- serving ---- */

static bool hex64(const char *s)
{
    if (!s || strlen(s) != ADB_DOWNLOAD_SIG_HEX)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

adb__download_verdict adb__download_open(adb *h, const char *id, const char *expires,
                                         const char *signature, const char *ip,
                                         adb__download_file *out)
{
    adb_status st;
    long long exp;
    char sig[ADB_DOWNLOAD_SIG_HEX + 1], dir[1024], path[1200];
    adb__download_verdict v = ADB_DL_BAD_SIGNATURE;

    memset(out, 0, sizeof(*out));
    if (!id || strlen(id) >= ADB_DOWNLOAD_ID_MAX || !adb__parse_int(expires, 0, 1LL << 40, &exp) ||
        !hex64(signature))
        return ADB_DL_BAD_SIGNATURE;
    PGconn *c = adb_pool_acquire(adb__pool(h), &st, NULL, 0);
    if (!c)
        return ADB_DL_UNAVAILABLE;
    const char *p1[] = { id };
    PGresult *r = PQexecParams(c,
        "SELECT organization_id, extract(epoch FROM expires_at)::bigint, file_path, file_name,"
        " coalesce(mime_type, 'application/octet-stream'), is_active, revoked_at IS NOT NULL,"
        " max_access, access_count, metadata->>'sha256', metadata->'allowedIpRanges',"
        " expires_at <= now()"
        " FROM download_links WHERE id = $1", 1, NULL, p1, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        v = ADB_DL_UNAVAILABLE;
        goto out;
    }
    if (PQntuples(r) != 1)
        goto out; /* unknown: as a bad signature, nothing told */
    snprintf(out->org, sizeof(out->org), "%s", PQgetvalue(r, 0, 0));
    long long row_exp = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
    /* the signature binds id, expiry, the file's hash, name and type under
     * the organization's key; the URL's expiry must be the row's (a row
     * changed in any of them fails here) */
    if (!adb__download_sign(h, out->org, id, exp, PQgetisnull(r, 0, 9) ? "" : PQgetvalue(r, 0, 9),
                            PQgetvalue(r, 0, 3), PQgetvalue(r, 0, 4), sig) ||
        CRYPTO_memcmp(sig, signature, ADB_DOWNLOAD_SIG_HEX) != 0 || exp != row_exp)
        goto out; /* out->org names whose link was tried, for the record */
    if ((long long)time(NULL) >= exp || strcmp(PQgetvalue(r, 0, 11), "t") == 0) {
        v = ADB_DL_EXPIRED;
        goto out;
    }
    if (strcmp(PQgetvalue(r, 0, 5), "true") != 0 || strcmp(PQgetvalue(r, 0, 6), "t") == 0) {
        v = ADB_DL_REVOKED;
        goto out;
    }
    if (!PQgetisnull(r, 0, 7) &&
        strtoll(PQgetvalue(r, 0, 8), NULL, 10) >= strtoll(PQgetvalue(r, 0, 7), NULL, 10)) {
        v = ADB_DL_EXHAUSTED;
        goto out;
    }
    if (!PQgetisnull(r, 0, 10)) {
        json_t *ranges = json_loads(PQgetvalue(r, 0, 10), 0, NULL);
        bool in = false;
        size_t i;
        json_t *e;
        cidr cd;
        json_array_foreach(ranges, i, e)
            if (json_is_string(e) && cidr_parse(json_string_value(e), &cd) && ip &&
                cidr_has(&cd, ip))
                in = true;
        bool listed = json_is_array(ranges);
        json_decref(ranges);
        if (listed && !in) {
            v = ADB_DL_IP_REFUSED;
            goto out;
        }
    }
    snprintf(out->name, sizeof(out->name), "%s", PQgetvalue(r, 0, 3));
    snprintf(out->mime, sizeof(out->mime), "%s", PQgetvalue(r, 0, 4));
    char want[65];
    snprintf(want, sizeof(want), "%s", PQgetisnull(r, 0, 9) ? "" : PQgetvalue(r, 0, 9));
    const char *rel = PQgetvalue(r, 0, 2);
    if (!adb__download_dir(h, dir, sizeof(dir)) || strstr(rel, "..") || rel[0] == '/' ||
        (size_t)snprintf(path, sizeof(path), "%s/%s", dir, rel) >= sizeof(path)) {
        v = ADB_DL_FILE_BAD;
        goto out;
    }
    PQclear(r);
    r = NULL;

    /* the file, checked against the row before anything is counted */
    size_t len = 0;
    char *data = adb__read_file(path, ADB_DOWNLOAD_FILE_MAX, &len);
    char got[65];
    if (!data) {
        v = ADB_DL_FILE_BAD;
        goto out;
    }
    adb__sha256_hex(data, len, got);
    if (strlen(want) != 64 || CRYPTO_memcmp(got, want, 64) != 0) {
        free(data);
        v = ADB_DL_FILE_BAD;
        goto out;
    }
    /* counted in the statement that checks the limit: parallel requests
     * cannot pass maxAccess */
    const char *p2[] = { id, ip ? ip : "" };
    r = PQexecParams(c,
        "UPDATE download_links SET access_count = access_count + 1,"
        " accessed_by = accessed_by || jsonb_build_array(jsonb_build_object("
        "   'at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
        "   'ip', $2::text)),"
        " updated_at = now()"
        " WHERE id = $1 AND is_active = 'true' AND revoked_at IS NULL AND expires_at > now()"
        "   AND (max_access IS NULL OR access_count < max_access)"
        " RETURNING access_count", 2, NULL, p2, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        free(data);
        v = ADB_DL_UNAVAILABLE;
        goto out;
    }
    if (PQntuples(r) != 1) {
        free(data);
        v = ADB_DL_EXHAUSTED; /* lost a race to the last access, or revoked meanwhile */
        goto out;
    }
    out->access_count = (int)strtol(PQgetvalue(r, 0, 0), NULL, 10);
    out->data = (unsigned char *)data;
    out->len = len;
    v = ADB_DL_OK;
out:
    PQclear(r);
    adb_pool_release(adb__pool(h), c);
    return v;
}

adb_status adb__download_revoke(adb *h, const char *org, const char *id, const char *by,
                                const char *reason)
{
    adb_status st;
    PGconn *c = adb_pool_acquire(adb__pool(h), &st, NULL, 0);
    if (!c)
        return st;
    const char *p[] = { org, id, by, reason };
    PGresult *r = PQexecParams(c,
        "UPDATE download_links SET is_active = 'false', revoked_at = now(), revoked_by = $3,"
        " revoked_reason = $4, updated_at = now()"
        " WHERE organization_id = $1 AND id = $2 AND is_active = 'true'", 4, NULL, p, NULL, NULL,
        0);
    st = PQresultStatus(r) != PGRES_COMMAND_OK ? ADB_ERR_DB_QUERY
         : strcmp(PQcmdTuples(r), "1") == 0   ? ADB_OK
                                               : ADB_ERR_NOT_FOUND;
    PQclear(r);
    adb_pool_release(adb__pool(h), c);
    return st;
}
