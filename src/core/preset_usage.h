/*
 * preset_usage.h - how often and when each preset was applied, without a
 * write per event (docs/presets.md, "Usage").
 *
 * Every event stored or refused with a preset (options.preset, the apply
 * route) is noted in memory under (organization, preset, principal, hour);
 * a flush adds every pending count to audit_preset_usage in one statement,
 * every interval, before a stats answer, and when the handle closes.
 */
#ifndef ADB_PRESET_USAGE_H
#define ADB_PRESET_USAGE_H

#include <stdbool.h>
#include "auditdb.h"

typedef struct adb__preset_usage adb__preset_usage;

/* NULL when out of memory. */
adb__preset_usage *adb__preset_usage_new(void);

/* Notes applications of preset name in org by principal (NULL: none):
 * uses events stored with it, failures events its rules refused, and
 * ms >= 0 the time one application through the API took (ms < 0: none
 * timed). Never blocks on the
 * database; a use that finds no memory, or a 100,001st distinct entry in
 * one interval, is not noted (usage is a convenience figure; the events
 * themselves are the record). */
void adb__preset_usage_note(adb__preset_usage *u, const char *org, const char *name,
                            const char *principal, int uses, int failures, double ms);

/* Adds the pending counts to audit_preset_usage through pool in one
 * statement; counts that could not be written stay pending. */
adb_status adb__preset_usage_flush(adb__preset_usage *u, adb_pool *pool);

/* Starts a thread that flushes every interval_s seconds. */
adb_status adb__preset_usage_start(adb__preset_usage *u, adb_pool *pool, int interval_s);

/* Stops the thread, flushes what is pending, frees u. NULL ok. */
void adb__preset_usage_close(adb__preset_usage *u, adb_pool *pool);

#endif
