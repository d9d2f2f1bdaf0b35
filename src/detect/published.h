/*
 * published.h - the detection engine serve runs, made visible to /metrics
 * (issue 20; docs/alerts.md "The engine"). serve publishes its engine after
 * starting it and withdraws it before stopping it; the scrape reads the
 * engine's counters under the same lock, so it never reads a stopped one.
 */
#ifndef ADB_DETECT_PUBLISHED_H
#define ADB_DETECT_PUBLISHED_H

#include <stdbool.h>

#include "engine.h"

/* d: the running engine, NULL: none (withdrawn, or AUDITDB_DETECT=false). */
void adb__detect_publish(adb__detect *d);

/* The figures of the scrape: the engine's counters, and the rate of events
 * evaluated per second since the previous call (the first call: since the
 * engine was published). false when no engine is published (*out zeroed). */
typedef struct adb__detect_figures {
    adb__detect_stats s;
    double events_per_s;
} adb__detect_figures;
bool adb__detect_figures_get(adb__detect_figures *out);

#endif
