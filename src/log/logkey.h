/*
 * logkey.h - the log's own Ed25519 signing key (internal): it signs every
 * organization's checkpoints, and is never derived from the master key.
 *
 * From AUDITDB_LOG_KEY (64 hex digits: the 32-byte seed) or from
 * $AUDITDB_HOME/log.key (the same text, mode 0600, created from RAND_bytes on
 * first start of serve). A file that group or others may read is refused, as
 * master.key is; serve's key probe refuses a database that can read it.
 * Nothing here logs the key. docs/checkpoints.md, The log key.
 */
#ifndef ADB_LOGKEY_H
#define ADB_LOGKEY_H

#include <stdbool.h>

#include "auditdb/status.h"
#include "note.h"

#define ADB_LOGKEY_FILE "log.key"

/* Loads the log key into s (a signer of type ADB_NOTE_ED25519 named
 * log_name): from hex when it is not NULL, else from home/log.key, created
 * when missing if create is true. ADB_ERR_CONFIG for a bad name, bad hex, a
 * missing file (create false) or a file readable by others; ADB_ERR_IO when
 * the file cannot be made or read. On success free s with
 * adb__note_signer_free. */
adb_status adb__logkey_load(const char *hex, const char *home, const char *log_name, bool create,
                            adb__note_signer *s, char *err, size_t errlen) ADB_WUR;

#endif
