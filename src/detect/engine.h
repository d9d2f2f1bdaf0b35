/*
 * engine.h - the detection engine (issue 20; docs/alerts.md "The engine"):
 * one thread per serve that evaluates every organization's current rules on
 * its committed events (audit_log in chain order, up to the committed chain
 * head) and on the security tables (security_events, audit_integrity_log in
 * id order), incrementally, with counters per (rule version, group, window).
 * Each round of an (organization, source) is one transaction: the cursor row
 * locked (FOR UPDATE SKIP LOCKED: serve instances take turns), the events
 * after it read once, the hits and the alerts they raise, the new position
 * and the counters written, COMMIT. A restart resumes from the row: nothing
 * is read twice, no alert is lost or doubled.
 */
#ifndef ADB_DETECT_ENGINE_H
#define ADB_DETECT_ENGINE_H

#include <stdbool.h>
#include <stdio.h>

#include "auditdb.h"

typedef struct adb__detect_options {
    adb_pool *pool;         /* the owner's: reads every organization, writes alerts */
    FILE *log;              /* one JSON line per failure (no event content); NULL: none */
    int interval_ms;        /* how often it looks for new rows (0: 250) */
    int lateness_s;         /* event time a window stays open after its end (0: 300) */
    int batch;              /* events per round (0: 5000) */
    long long max_groups;   /* live (rule, group, window) counters, process-wide (0: 200000) */
    struct adb__writer *writer; /* shows it committed batches (feed.h); NULL: reads them back */
} adb__detect_options;

typedef struct adb__detect adb__detect;

adb__detect *adb__detect_start(const adb__detect_options *o, char *err, size_t errlen);
/* Ends the round in progress (committed or rolled back), stops, frees (NULL: nothing). */
void adb__detect_stop(adb__detect *d);

typedef struct adb__detect_stats {
    long long rounds, failures, evaluated, hits, alerts, late, dropped, live_groups;
    /* the feed (feed.h): events held, dropped at its cap, taken by rounds */
    long long feed_held, feed_dropped, feed_taken;
} adb__detect_stats;
void adb__detect_stats_get(adb__detect *d, adb__detect_stats *out);

#endif
