/*
 * key_usage.h - when each API key was last used, without a write per request.
 *
 * Authentication notes the key's use in memory; a flusher thread writes all
 * uses noted since the last flush in one UPDATE of apikey.last_request every
 * interval, and once more when the handle closes. See docs/auth.md.
 */
#ifndef ADB_KEY_USAGE_H
#define ADB_KEY_USAGE_H

#include "auditdb.h"

typedef struct adb__key_usage adb__key_usage;

/* NULL when out of memory. */
adb__key_usage *adb__key_usage_new(void);

/* Notes that key key_id (16 hex digits) was used now. Never blocks on the
 * database. A use that finds no memory, or a 100,001st distinct key within
 * one interval, is not noted (a convenience figure, not an audit record:
 * auth_audit_log has those). */
void adb__key_usage_note(adb__key_usage *u, const char *key_id);

/* Writes the pending uses in one statement through pool. Uses that could
 * not be written stay pending for the next flush. */
adb_status adb__key_usage_flush(adb__key_usage *u, adb_pool *pool);

/* Starts a thread that flushes every interval_s seconds. */
adb_status adb__key_usage_start(adb__key_usage *u, adb_pool *pool, int interval_s);

/* Stops the thread if one runs, flushes what is pending, frees u. NULL ok. */
void adb__key_usage_close(adb__key_usage *u, adb_pool *pool);

#endif
