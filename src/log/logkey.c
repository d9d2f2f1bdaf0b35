/*
 * logkey.c - loads (and on first start creates) the log's signing key
 * (logkey.h). The seed lives only in this function's buffers, wiped before
 * return, and in the signer's EVP_PKEY.
 */
#include "logkey.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/key_file.h"
#include "../core/util.h"

adb_status adb__logkey_load(const char *hex, const char *home, const char *log_name, bool create,
                            adb__note_signer *s, char *err, size_t errlen)
{
    char path[4096];
    uint8_t seed[32];
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
        if (!adb__key_file_seed(hex, strlen(hex), seed)) {
            adb__fmt(err, errlen, "AUDITDB_LOG_KEY must be 64 hex digits (the 32-byte Ed25519 "
                     "seed, e.g. from \"openssl rand -hex 32\")");
            return ADB_ERR_CONFIG;
        }
    } else {
        if (!home || !adb__fmt(path, sizeof(path), "%s/%s", home, ADB_LOGKEY_FILE)) {
            adb__fmt(err, errlen, "no AUDITDB_HOME for the log key");
            return ADB_ERR_CONFIG;
        }
        if (create && !adb__mkdir_p(home, 0755)) {
            adb__fmt(err, errlen, "could not create AUDITDB_HOME \"%s\": %s", home,
                     strerror(errno));
            return ADB_ERR_IO;
        }
        if ((st = adb__key_file_read(path, "log key", create ? ADB_KEY_FILE_CREATE : 0, &text,
                                     &len, err, errlen)) != ADB_OK) {
            if (st == ADB_ERR_NOT_FOUND) {
                adb__fmt(err, errlen, "there is no log key \"%s\" yet: serve creates it on its "
                         "first start (or set AUDITDB_LOG_KEY)", path);
                return ADB_ERR_CONFIG;
            }
            return st;
        }
        bool ok = adb__key_file_seed(text, len, seed);
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
