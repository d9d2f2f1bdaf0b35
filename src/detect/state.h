/*
 * state.h - the engine's counters (docs/alerts.md "The engine"): one entry
 * per (organization, rule version, group, window), in a hash table per
 * (organization, source), serialized into detection_cursor.state with the
 * cursor. Entries of closed windows are freed; a process-wide cap bounds how
 * many exist at once.
 */
#ifndef ADB_DETECT_STATE_H
#define ADB_DETECT_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ADB_DSTATE_SAMPLES 10
#define ADB_DSTATE_DISTINCT_MAX 4096 /* value_count: distinct values kept per window */

typedef struct adb__dentry {
    struct adb__dentry *next;   /* hash chain */
    uint64_t h;
    char *org, *rule_id, *group; /* owned */
    int version;
    int64_t wstart, wend;       /* ms since the epoch, [wstart, wend) */
    int64_t events;             /* matching events */
    int64_t measure;            /* what the condition reads: events, distinct values,
                                   selections seen */
    int64_t a, b;               /* temporal: mask of selections seen (a);
                                   temporal_ordered: earliest first (a), latest second (b) */
    bool fired;                 /* the hit is recorded (and the alert raised) */
    bool dirty;                 /* changed since the last write of its hit */
    uint8_t nsamples;
    uint8_t samples[ADB_DSTATE_SAMPLES][16];
    uint64_t *vals;             /* value_count: distinct value hashes, sorted */
    uint32_t nvals, capvals;
} adb__dentry;

typedef struct adb__dstate {
    adb__dentry **b;
    size_t nb, n;
} adb__dstate;

/* The process-wide cap (entries across every state); 0: unlimited. */
void adb__dstate_set_cap(long long cap);
long long adb__dstate_live(void);

void adb__dstate_init(adb__dstate *s);
void adb__dstate_free(adb__dstate *s);

/* The entry of the key, created when missing (*created set); NULL when the
 * cap is reached (or out of memory) and it did not exist. */
adb__dentry *adb__dstate_get(adb__dstate *s, const char *org, const char *rule_id, int version,
                             const char *group, int64_t wstart, int64_t wend, bool *created);
/* Unlinks and frees e. */
void adb__dstate_remove(adb__dstate *s, adb__dentry *e);

/* Adds a 64-bit value hash to e's distinct set (value_count); false when the
 * set is full (the count then stays at the cap). */
bool adb__dentry_add_value(adb__dentry *e, uint64_t vh);
void adb__dentry_add_sample(adb__dentry *e, const char *uuid);

/* Serializes every entry into a malloc()ed buffer (caller frees). */
uint8_t *adb__dstate_save(const adb__dstate *s, size_t *len);
/* Replaces s's entries by those of buf; false when buf is malformed (s then empty). */
bool adb__dstate_load(adb__dstate *s, const uint8_t *buf, size_t len);

uint64_t adb__dhash(const void *p, size_t n, uint64_t h);

#endif
