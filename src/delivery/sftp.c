/*
 * sftp.c - the 'sftp' destination: the artifact uploaded with libcurl's
 * SFTP (libssh2) as path/filename, authenticated with a private key or a
 * password. The server is pinned: config.sftp.hostKey (the SHA-256
 * fingerprint OpenSSH prints, "SHA256:...") is required and a server
 * showing another host key is refused before any credential is sent. The
 * probe connects, authenticates and lists the directory. The private key
 * lives on disk only for the transfer (a 0600 file in a private 0700
 * folder, removed after). docs/delivery.md, "SFTP".
 */
#include "artifact.h"
#include "../core/buf.h"
#include "../core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/crypto.h>

#define SFTP_PATH_MAX 1024
#define SFTP_KEY_MAX (16 * 1024)

typedef struct sftpcfg {
    const char *host, *user, *password, *key, *passphrase, *path, *filename;
    long port;
    char hostkey[48];   /* base64 of the SHA-256, with its '=' */
} sftpcfg;

/* "SHA256:<43 base64>" or "<43 base64>[=]" into the form libcurl compares */
static bool fingerprint(const char *s, char out[48])
{
    if (strncmp(s, "SHA256:", 7) == 0)
        s += 7;
    size_t n = strlen(s);
    while (n && s[n - 1] == '=')
        n--;
    if (n != 43)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/'))
            return false;
    }
    memcpy(out, s, 43);
    out[43] = '=';
    out[44] = '\0';
    return true;
}

/* a remote folder: absolute or relative to the login's home, no "." or ".."
 * segment, no control character */
static bool path_ok(const char *p)
{
    if (!adb__text_safe(p) || strlen(p) > SFTP_PATH_MAX - ADB_ARTIFACT_NAME_MAX - 8 ||
        strchr(p, '\\'))
        return false;
    const char *s = p;
    while (*s) {
        while (*s == '/')
            s++;
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
            return false;
        s += n;
    }
    return true;
}

#define FAIL(f, ...) \
    do { snprintf(field, flen, "%s", f); snprintf(why, wlen, __VA_ARGS__); return false; } while (0)

static bool sftp_parse(const json_t *config, sftpcfg *c, char *field, size_t flen, char *why,
                       size_t wlen)
{
    const json_t *s = json_object_get(config, "sftp");
    if (!json_is_object(s))
        s = config;
    if (!json_is_object(s))
        FAIL("config.sftp", "must be an object");
    memset(c, 0, sizeof(*c));
    c->host = adb__cfg_str(s, "host");
    if (!c->host || !*c->host || strlen(c->host) > 253 || !adb__text_safe(c->host) ||
        strpbrk(c->host, "/@?# []"))
        FAIL("config.sftp.host", "must be a host name or address");
    const json_t *port = json_object_get(s, "port");
    if (port && (!json_is_integer(port) || json_integer_value(port) < 1 ||
                 json_integer_value(port) > 65535))
        FAIL("config.sftp.port", "must be an integer from 1 to 65535");
    c->port = port ? (long)json_integer_value(port) : 22;
    c->user = adb__cfg_str(s, "username");
    if (!c->user || !*c->user || strlen(c->user) > 256 || !adb__text_safe(c->user) ||
        strpbrk(c->user, ":@/"))
        FAIL("config.sftp.username", "is required (no ':', '@', '/' or control character)");
    c->password = adb__cfg_str(s, "password");
    c->key = adb__cfg_str(s, "privateKey");
    c->passphrase = adb__cfg_str(s, "passphrase");
    if (!c->password && !c->key)
        FAIL("config.sftp.privateKey", "a privateKey or a password is required");
    if (c->password && (strlen(c->password) > 1024 || !adb__text_safe(c->password)))
        FAIL("config.sftp.password", "must be text without control characters");
    if (c->key && (strlen(c->key) > SFTP_KEY_MAX || !strstr(c->key, "PRIVATE KEY-----")))
        FAIL("config.sftp.privateKey", "must be a private key in PEM or OpenSSH form (at most "
             "%d bytes)", SFTP_KEY_MAX);
    if (c->passphrase && (strlen(c->passphrase) > 1024 || !adb__text_safe(c->passphrase)))
        FAIL("config.sftp.passphrase", "must be text without control characters");
    const char *hk = adb__cfg_str(s, "hostKey");
    if (!hk || !fingerprint(hk, c->hostkey))
        FAIL("config.sftp.hostKey", "is required: the server's host key fingerprint as "
             "`ssh-keyscan -p PORT HOST | ssh-keygen -lf -` prints it (SHA256:...)");
    c->path = adb__cfg_str(s, "path");
    if (!c->path || !path_ok(c->path))
        FAIL("config.sftp.path", "must be a folder (absolute, or relative to the login's home) "
             "without '.' or '..' segments, backslashes or control characters");
    c->filename = adb__cfg_str(s, "filename");
    if (json_object_get(s, "filename") && !c->filename)
        FAIL("config.sftp.filename", "must be a string");
    return true;
}

bool adb__sftp_check(const json_t *config, char *field, size_t flen, char *why, size_t wlen)
{
    sftpcfg c;
    return sftp_parse(config, &c, field, flen, why, wlen);
}

/* sftp://host:port/<path>/<name>: each segment escaped; a relative path
 * starts at the home folder ("/~/") */
static char *sftp_url(const sftpcfg *c, const char *name)
{
    adb__buf b = { 0 };
    bool v6 = strchr(c->host, ':') != NULL;
    adb__buf_printf(&b, "sftp://%s%s%s:%ld/", v6 ? "[" : "", c->host, v6 ? "]" : "", c->port);
    if (c->path[0] != '/')
        adb__buf_puts(&b, "~/");
    const char *s = c->path;
    while (*s) {
        while (*s == '/')
            s++;
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n) {
            char *esc = curl_easy_escape(NULL, s, (int)n);
            adb__buf_printf(&b, "%s/", esc ? esc : "");
            if (!esc)
                b.oom = true;
            curl_free(esc);
        }
        s += n;
    }
    if (name) {
        char *esc = curl_easy_escape(NULL, name, 0);
        if (!esc)
            b.oom = true;
        else
            adb__buf_puts(&b, esc);
        curl_free(esc);
    }
    return adb__buf_take(&b, NULL);
}

/* the private key written for libssh2: a 0600 file in a fresh 0700 folder */
typedef struct keyfile {
    char dir[256], file[300];
} keyfile;

static bool keyfile_write(keyfile *k, const char *key)
{
    const char *tmp = getenv("TMPDIR");
    k->file[0] = '\0';
    snprintf(k->dir, sizeof(k->dir), "%s/adb-sftp-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(k->dir)) {
        k->dir[0] = '\0';
        return false;
    }
    snprintf(k->file, sizeof(k->file), "%s/key", k->dir);
    int fd = open(k->file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return false;
    size_t n = strlen(key), off = 0;
    while (off < n) {
        ssize_t w = write(fd, key + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    /* a key without its final newline is not read by every libssh2 */
    if (off == n && n && key[n - 1] != '\n' && write(fd, "\n", 1) != 1)
        off = 0;
    close(fd);
    return off == n;
}

static void keyfile_remove(keyfile *k)
{
    if (k->file[0])
        unlink(k->file);
    if (k->dir[0])
        rmdir(k->dir);
    k->file[0] = k->dir[0] = '\0';
}

typedef struct upload_src {
    const unsigned char *p;
    size_t len, off;
} upload_src;

static size_t read_upload(char *buf, size_t size, size_t n, void *ud)
{
    upload_src *u = ud;
    size_t room = size * n, left = u->len - u->off, take = left < room ? left : room;
    memcpy(buf, u->p + u->off, take);
    u->off += take;
    return take;
}

static size_t discard(char *data, size_t size, size_t n, void *ud)
{
    (void)data, (void)ud;
    return size * n;
}

static void sftp_failed(adb__attempt *out, CURLcode rc, const char *what)
{
    /* a wrong host key, a refused login or a missing folder will not heal */
    bool permanent = rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_LOGIN_DENIED ||
                     rc == CURLE_REMOTE_FILE_NOT_FOUND || rc == CURLE_REMOTE_ACCESS_DENIED ||
                     rc == CURLE_SSH;
    if (rc == CURLE_PEER_FAILED_VERIFICATION)
        adb__attempt_fail(out, true, "%s: the server's host key is not the one in "
                          "config.sftp.hostKey", what);
    else
        adb__attempt_fail(out, permanent, "%s: %s", what, adb__curl_reason(rc));
}

/* one transfer: upload of it as name (it set) or a listing of the folder */
static adb_status sftp_exchange(const adb__dest *d, const adb__item *it, adb__attempt *out)
{
    sftpcfg c;
    keyfile k = { { 0 }, { 0 } };
    char field[96], why[200], name[ADB_ARTIFACT_NAME_MAX + 1];
    char *url = NULL;
    adb_status st = ADB_OK;
    CURL *cu = NULL;
    double t0 = adb__now_ms();

    if (!sftp_parse(d->config, &c, field, sizeof(field), why, sizeof(why))) {
        adb__attempt_fail(out, true, "%s %s", field, why);
        return ADB_ERR_CONFIG;
    }
    if (it && !adb__artifact_name(it, c.filename, name, sizeof(name), why, sizeof(why))) {
        adb__attempt_fail(out, true, "config.sftp.filename %s", why);
        return ADB_ERR_CONFIG;
    }
    url = sftp_url(&c, it ? name : NULL);
    cu = curl_easy_init();
    if (!url || !cu) {
        adb__attempt_fail(out, false, "sftp: out of memory");
        st = ADB_ERR_NOMEM;
        goto out;
    }
    curl_easy_setopt(cu, CURLOPT_URL, url);
    curl_easy_setopt(cu, CURLOPT_PROTOCOLS_STR, "sftp");
    curl_easy_setopt(cu, CURLOPT_SSH_HOST_PUBLIC_KEY_SHA256, c.hostkey);
    curl_easy_setopt(cu, CURLOPT_USERNAME, c.user);
    long types = 0;
    if (c.key) {
        if (!keyfile_write(&k, c.key)) {
            adb__attempt_fail(out, false, "sftp: could not write the private key for libssh2");
            st = ADB_ERR_IO;
            goto out;
        }
        curl_easy_setopt(cu, CURLOPT_SSH_PRIVATE_KEYFILE, k.file);
        curl_easy_setopt(cu, CURLOPT_SSH_PUBLIC_KEYFILE, "");
        if (c.passphrase)
            curl_easy_setopt(cu, CURLOPT_KEYPASSWD, c.passphrase);
        types |= CURLSSH_AUTH_PUBLICKEY;
    }
    if (c.password) {
        curl_easy_setopt(cu, CURLOPT_PASSWORD, c.password);
        types |= CURLSSH_AUTH_PASSWORD | CURLSSH_AUTH_KEYBOARD;
    }
    curl_easy_setopt(cu, CURLOPT_SSH_AUTH_TYPES, types);
    curl_easy_setopt(cu, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(cu, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(cu, CURLOPT_TIMEOUT_MS, 300000L);
    curl_easy_setopt(cu, CURLOPT_WRITEFUNCTION, discard);
    upload_src src = { it ? it->body : NULL, it ? it->body_len : 0, 0 };
    if (it) {
        curl_easy_setopt(cu, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(cu, CURLOPT_READFUNCTION, read_upload);
        curl_easy_setopt(cu, CURLOPT_READDATA, &src);
        curl_easy_setopt(cu, CURLOPT_INFILESIZE_LARGE, (curl_off_t)it->body_len);
        curl_easy_setopt(cu, CURLOPT_FTP_CREATE_MISSING_DIRS, (long)CURLFTP_CREATE_DIR);
        curl_easy_setopt(cu, CURLOPT_NEW_FILE_PERMS, 0640L);
    } else {
        curl_easy_setopt(cu, CURLOPT_DIRLISTONLY, 1L);
    }
    if (adb__ssrf_attach(cu) != ADB_OK) {
        adb__attempt_fail(out, false, "sftp: the address policy could not be applied");
        st = ADB_ERR_INTERNAL;
        goto out;
    }
    CURLcode rc = curl_easy_perform(cu);
    if (rc == CURLE_OK) {
        out->ok = true;
        if (it)
            snprintf(out->reference, sizeof(out->reference), "%s%s%s", c.path,
                     c.path[0] && c.path[strlen(c.path) - 1] != '/' ? "/" : "", name);
    } else {
        sftp_failed(out, rc, it ? "sftp upload" : "sftp probe");
    }
out:
    out->elapsed_ms = adb__now_ms() - t0;
    keyfile_remove(&k);
    curl_easy_cleanup(cu);
    free(url);
    return st;
}

adb_status adb__sftp_send(adb *h, const adb__dest *d, const adb__item *it, adb__attempt *out)
{
    (void)h;
    adb__attempt_init(out);
    return sftp_exchange(d, it, out);
}

adb_status adb__sftp_probe(adb *h, const adb__dest *d, adb__attempt *out)
{
    (void)h;
    adb__attempt_init(out);
    return sftp_exchange(d, NULL, out);
}
