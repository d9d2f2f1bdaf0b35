/*
 * feed.h - committed events handed to the detection engine in memory
 * (docs/alerts.md, "The engine"): the writer shows each committed batch to
 * the feed (adb__writer_observe), which keeps what the rules read of each
 * event, per organization in chain order, until a round takes them. A round
 * takes only a run that starts exactly after its cursor and has no hole;
 * anything else (a restart, another instance's or another process's events,
 * events dropped at the cap) is read from audit_log as before. The feed
 * decides how a round gets its events, never which ones.
 */
#ifndef ADB_DETECT_FEED_H
#define ADB_DETECT_FEED_H

#include <stddef.h>
#include <stdint.h>

#include "../event/event.h"

/* What a rule reads of one event (the columns engine.c's fetch reads). */
enum {
    ADB_DFEED_ACTION,
    ADB_DFEED_STATUS,
    ADB_DFEED_PRINCIPAL,
    ADB_DFEED_RESOURCE,
    ADB_DFEED_RESOURCE_ID,
    ADB_DFEED_CLASSIFICATION,
    ADB_DFEED_OUTCOME,
    ADB_DFEED_NFIELDS
};

typedef struct adb__dfeed_item {
    int64_t seq;        /* chain position */
    int64_t ts_ms;      /* event time, milliseconds since the epoch (floor) */
    char event_id[37];  /* lowercase */
    const char *f[ADB_DFEED_NFIELDS]; /* NULL: SQL NULL; point into the item's block */
} adb__dfeed_item;

typedef struct adb__dfeed adb__dfeed;

/* max_items: events held at most over all organizations (beyond: dropped,
 * and read from the table instead). */
adb__dfeed *adb__dfeed_new(size_t max_items);
void adb__dfeed_free(adb__dfeed *f);

/* The writer's observer (writer.h's adb__writer_observer; ctx is the feed). */
void adb__dfeed_put(void *ctx, const adb__event *const *evs, size_t n);

/* The events of org from position + 1 on, without a hole, at most max, into
 * *out (malloc()ed; free with adb__dfeed_release). Drops the events at or
 * before position. Returns how many; 0 when the next one is not held. */
size_t adb__dfeed_take(adb__dfeed *f, const char *org, int64_t position, size_t max,
                       adb__dfeed_item ***out);
void adb__dfeed_release(adb__dfeed_item **items, size_t n);

/* events held, events dropped at the cap, events taken */
void adb__dfeed_counts(adb__dfeed *f, long long *held, long long *dropped, long long *taken);

#endif
