/*
 * logkey.c - loads (and on first start creates) the log's signing key
 * (logkey.h). The seed lives only in this function's buffers, wiped before
 * return, and in the signer's EVP_PKEY.
 */
#include "logkey.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/util.h"

/* 64 hex digits (either case), optionally followed by whitespace, into seed. */
static bool parse_seed(const char *text, size_t len, uint8_t seed[32])
{
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' '))
        len--;
    if (len != 64)
        return false;
    for (size_t i = 0; i < 32; i++) {
        int hi = adb__hexval(text[2 * i]), lo = adb__hexval(text[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        seed[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

static adb_status create_file(const char *path, char *err, size_t errlen)
{
    uint8_t seed[32];
    char hex[66];
    ssize_t w;
    int fd;

    if (RAND_bytes(seed, sizeof(seed)) != 1) {
        adb__fmt(err, errlen, "could not generate a log key: no randomness");
        return ADB_ERR_INTERNAL;
    }
    adb__hex(seed, sizeof(seed), hex);
    OPENSSL_cleanse(seed, sizeof(seed));
    hex[64] = '\n';
    hex[65] = '\0';
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd == -1) {
        OPENSSL_cleanse(hex, sizeof(hex));
        if (errno == EEXIST)
            return ADB_OK; /* another process made it first: read theirs */
        adb__fmt(err, errlen, "could not create the log key file \"%s\": %s", path,
                 strerror(errno));
        return ADB_ERR_IO;
    }
    w = write(fd, hex, 65);
    OPENSSL_cleanse(hex, sizeof(hex));
    if (w != 65 || fsync(fd) == -1) {
        adb__fmt(err, errlen, "could not write the log key file \"%s\": %s", path,
                 strerror(errno));
        close(fd);
        unlink(path);
        return ADB_ERR_IO;
    }
    close(fd);
    return ADB_OK;
}

adb_status adb__logkey_load(const char *hex, const char *home, const char *log_name, bool create,
                            adb__note_signer *s, char *err, size_t errlen)
{
    char path[4096];
    uint8_t seed[32];
    struct stat stt;
    char *text;
    size_t len;
    adb_status st;

    memset(s, 0, sizeof(*s));
    if (!adb__note_name_valid(log_name)) {
        adb__fmt(err, errlen, "invalid AUDITDB_LOG_NAME: a key name is 1 to %d bytes of UTF-8 "
                 "without spaces, '+' or control characters", ADB_NOTE_MAX_NAME);
        return ADB_ERR_CONFIG;
    }
    if (hex) {
        if (!parse_seed(hex, strlen(hex), seed)) {
            adb__fmt(err, errlen, "AUDITDB_LOG_KEY must be 64 hex digits (the 32-byte Ed25519 "
                     "seed, e.g. from \"openssl rand -hex 32\")");
            return ADB_ERR_CONFIG;
        }
    } else {
        if (!home || !adb__fmt(path, sizeof(path), "%s/%s", home, ADB_LOGKEY_FILE)) {
            adb__fmt(err, errlen, "no AUDITDB_HOME for the log key");
            return ADB_ERR_CONFIG;
        }
        if (access(path, F_OK) == -1) {
            if (!create) {
                adb__fmt(err, errlen, "there is no log key \"%s\" yet: serve creates it on its "
                         "first start (or set AUDITDB_LOG_KEY)", path);
                return ADB_ERR_CONFIG;
            }
            if (!adb__mkdir_p(home, 0755)) {
                adb__fmt(err, errlen, "could not create AUDITDB_HOME \"%s\": %s", home,
                         strerror(errno));
                return ADB_ERR_IO;
            }
            if ((st = create_file(path, err, errlen)) != ADB_OK)
                return st;
        }
        if (stat(path, &stt) == -1) {
            adb__fmt(err, errlen, "could not read the log key file \"%s\": %s", path,
                     strerror(errno));
            return ADB_ERR_IO;
        }
        if (stt.st_mode & 077) {
            adb__fmt(err, errlen, "the log key file \"%s\" is readable by others (mode %03o): "
                     "chmod 600 it", path, (unsigned)(stt.st_mode & 0777));
            return ADB_ERR_CONFIG;
        }
        if (!(text = adb__read_file(path, 4096, &len))) {
            adb__fmt(err, errlen, "could not read the log key file \"%s\": %s", path,
                     strerror(errno));
            return ADB_ERR_IO;
        }
        bool ok = parse_seed(text, len, seed);
        OPENSSL_cleanse(text, len);
        free(text);
        if (!ok) {
            adb__fmt(err, errlen, "the log key file \"%s\" does not hold 64 hex digits", path);
            return ADB_ERR_CONFIG;
        }
    }
    st = adb__note_signer_init(s, log_name, ADB_NOTE_ED25519, seed, err, errlen);
    OPENSSL_cleanse(seed, sizeof(seed));
    return st;
}
