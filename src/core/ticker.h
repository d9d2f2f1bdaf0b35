/*
 * ticker.h - a thread that calls one function every N seconds until it is
 * stopped: the flush of the counters kept in memory (keys' last use,
 * presets' usage).
 */
#ifndef ADB_CORE_TICKER_H
#define ADB_CORE_TICKER_H

typedef struct adb__ticker adb__ticker;

/* Calls fn(arg) every interval_s seconds (> 0) on a thread of its own.
 * NULL when the thread cannot be made. */
adb__ticker *adb__ticker_start(int interval_s, void (*fn)(void *), void *arg);

/* Wakes and joins the thread (a call in progress is finished first) and
 * frees t. NULL ok. */
void adb__ticker_stop(adb__ticker *t);

#endif
