/*
 * key_file.c - a secret kept in a file of its own: made once with mode 0600
 * from 32 random bytes, then read with its checks (key_file.h).
 */
#include "key_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "util.h"

#define KEY_FILE_MAX 4096

/* Writes a fresh key to path unless it exists: ADB_OK either way. */
static adb_status create(const char *path, const char *what, int flags, char *err, size_t errlen)
{
    unsigned char raw[32];
    char hex[66];
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
                            ((flags & ADB_KEY_FILE_NOFOLLOW) ? O_NOFOLLOW : 0), 0600);
    if (fd == -1) {
        if (errno == EEXIST)
            return ADB_OK; /* another process made it first: read theirs */
        adb__fmt(err, errlen, "could not create the %s file \"%s\": %s", what, path,
                 strerror(errno));
        return ADB_ERR_IO;
    }
    if (RAND_bytes(raw, sizeof(raw)) != 1) {
        close(fd);
        unlink(path);
        adb__fmt(err, errlen, "could not draw a %s: no randomness", what);
        return ADB_ERR_INTERNAL;
    }
    adb__hex(raw, sizeof(raw), hex);
    OPENSSL_cleanse(raw, sizeof(raw));
    hex[64] = '\n';
    hex[65] = '\0';
    ssize_t w = write(fd, hex, 65);
    int e = errno;
    OPENSSL_cleanse(hex, sizeof(hex));
    if (w != 65 || fsync(fd) == -1) {
        if (w == 65)
            e = errno;
        close(fd);
        unlink(path);
        adb__fmt(err, errlen, "could not write the %s file \"%s\": %s", what, path,
                 w == -1 || w == 65 ? strerror(e) : "short write");
        return ADB_ERR_IO;
    }
    close(fd);
    return ADB_OK;
}

adb_status adb__key_file_read(const char *path, const char *what, int flags, char **text,
                              size_t *len, char *err, size_t errlen)
{
    struct stat st;
    adb_status rc;
    int fd;

    *text = NULL;
    *len = 0;
    if ((flags & ADB_KEY_FILE_CREATE) && access(path, F_OK) == -1 && errno == ENOENT &&
        (rc = create(path, what, flags, err, errlen)) != ADB_OK)
        return rc;
    fd = open(path, O_RDONLY | O_CLOEXEC | ((flags & ADB_KEY_FILE_NOFOLLOW) ? O_NOFOLLOW : 0));
    if (fd == -1) {
        if (errno == ENOENT) {
            adb__fmt(err, errlen, "there is no %s file \"%s\"", what, path);
            return ADB_ERR_NOT_FOUND;
        }
        adb__fmt(err, errlen, "could not open the %s file \"%s\": %s", what, path,
                 errno == ELOOP ? "it is a symbolic link" : strerror(errno));
        return errno == ELOOP ? ADB_ERR_CONFIG : ADB_ERR_IO;
    }
    if (fstat(fd, &st) == -1) {
        adb__fmt(err, errlen, "could not read the %s file \"%s\": %s", what, path,
                 strerror(errno));
        close(fd);
        return ADB_ERR_IO;
    }
    if (!S_ISREG(st.st_mode)) {
        adb__fmt(err, errlen, "the %s file \"%s\" is not a regular file", what, path);
        close(fd);
        return ADB_ERR_CONFIG;
    }
    if (st.st_mode & 077) {
        adb__fmt(err, errlen, "the %s file \"%s\" is readable by others (mode %03o): chmod 600 it",
                 what, path, (unsigned)(st.st_mode & 0777));
        close(fd);
        return ADB_ERR_CONFIG;
    }
    char *buf = malloc(KEY_FILE_MAX + 1);
    size_t n = 0;
    ssize_t r = 0;
    if (!buf) {
        close(fd);
        adb__fmt(err, errlen, "out of memory");
        return ADB_ERR_NOMEM;
    }
    while (n <= KEY_FILE_MAX && (r = read(fd, buf + n, KEY_FILE_MAX + 1 - n)) > 0)
        n += (size_t)r;
    int e = errno;
    close(fd);
    if (r == -1 || n > KEY_FILE_MAX) {
        OPENSSL_cleanse(buf, n);
        free(buf);
        if (r == -1)
            adb__fmt(err, errlen, "could not read the %s file \"%s\": %s", what, path,
                     strerror(e));
        else
            adb__fmt(err, errlen, "the %s file \"%s\" is longer than %d bytes", what, path,
                     KEY_FILE_MAX);
        return r == -1 ? ADB_ERR_IO : ADB_ERR_CONFIG;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        n--;
    buf[n] = '\0';
    *text = buf;
    *len = n;
    return ADB_OK;
}

bool adb__key_file_seed(const char *text, size_t len, unsigned char out[32])
{
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' '))
        len--;
    if (len != 64)
        return false;
    for (int i = 0; i < 32; i++) {
        int hi = adb__hexval(text[2 * i]), lo = adb__hexval(text[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return true;
}
