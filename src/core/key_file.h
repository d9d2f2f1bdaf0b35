/*
 * key_file.h - a secret kept in a file of its own (internal): the master
 * key, the log key, a witness key. The file holds text (64 hex digits and a
 * newline when auditdb made it) and has mode 0600: one read and its checks
 * for all of them.
 */
#ifndef ADB_KEY_FILE_H
#define ADB_KEY_FILE_H

#include <stdbool.h>
#include <stddef.h>

#include "auditdb/status.h"

enum {
    ADB_KEY_FILE_CREATE = 1 << 0,   /* missing: write 32 random bytes as hex first */
    ADB_KEY_FILE_NOFOLLOW = 1 << 1  /* refuse a symbolic link (the file is ours alone) */
};

/* Reads the secret at path into *text (NUL-terminated, trailing spaces and
 * newlines cut; the caller cleanses and frees it) and *len. `what` names it
 * in messages ("master key"). With ADB_KEY_FILE_CREATE a missing file is
 * made first (O_EXCL: when another process makes it at the same moment,
 * theirs is read). Refused: anything but a regular file (ADB_ERR_CONFIG), a
 * mode with group or other bits (ADB_ERR_CONFIG, naming the mode and the
 * fix), more than 4 KiB (ADB_ERR_CONFIG); missing without CREATE:
 * ADB_ERR_NOT_FOUND; other failures ADB_ERR_IO with the reason. */
ADB_WUR adb_status adb__key_file_read(const char *path, const char *what, int flags, char **text,
                                      size_t *len, char *err, size_t errlen);

/* Parses 64 hex digits (either case, then optional spaces and newlines) of
 * text[0..len) into out; false otherwise. */
bool adb__key_file_seed(const char *text, size_t len, unsigned char out[32]);

#endif
