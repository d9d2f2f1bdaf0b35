/*
 * util.h - small helpers shared inside the library (not public).
 */
#ifndef ADB_UTIL_H
#define ADB_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* snprintf into buf that never overflows; returns false if truncated. */
bool adb__fmt(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* malloc()ed printf; NULL when out of memory. Caller frees. */
char *adb__aprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* strdup that accepts NULL. Caller frees. */
char *adb__strdup(const char *s);

/* Parses a whole decimal integer in [min, max]; false if s is not one. */
bool adb__parse_int(const char *s, long long min, long long max, long long *out);

/* Monotonic clock in milliseconds. */
double adb__now_ms(void);

/* pool.c: adds ms the calling thread waited on the database outside the pool
 * (for the writer's commit) to its time on the database (adb_thread_db_ms). */
void adb__db_wait_add(double ms);

/* Sleeps for ms milliseconds (restarts on EINTR). */
void adb__sleep_ms(long ms);

/* mkdir -p with mode for the created components; false with errno set. */
bool adb__mkdir_p(const char *path, unsigned mode);

/* Reads a whole file (at most max bytes) into a malloc()ed NUL-terminated
 * buffer; NULL with errno set on failure (EFBIG if larger than max). */
char *adb__read_file(const char *path, size_t max, size_t *len);

/* Folds a multi-line message (libpq's) into one line in place: newlines and
 * tabs become single spaces, trailing space is dropped. Returns s. */
char *adb__oneline(char *s);

/* base64url without padding of n bytes into out (4 * ceil(n / 3) + 1 bytes). */
void adb__base64url(const void *in, size_t n, char *out);

/* Reads a whole stream (at most max bytes) into a malloc()ed NUL-terminated
 * buffer; NULL with errno set on failure (EFBIG if larger than max). */
char *adb__read_stream(FILE *f, size_t max, size_t *len);

/* Lowercase hex of n bytes into out (2n+1 bytes). */
void adb__hex(const unsigned char *in, size_t n, char *out);

/* SHA-256 of data as lowercase hex (65 bytes with NUL). */
void adb__sha256_hex(const void *data, size_t len, char out[65]);

/* Length of the valid UTF-8 sequence at s (1 for ASCII) within n bytes, or 0
 * when s does not start one (overlong, surrogate, above U+10FFFF, cut short,
 * stray continuation byte). */
size_t adb__utf8_seq(const char *s, size_t n);

/* The value of one hex digit (either case), or -1. */
int adb__hexval(char c);

/* True when the n bytes at s are valid UTF-8. */
bool adb__utf8_valid(const char *s, size_t n);

/* Drops, in place, every byte of s that is not part of a valid UTF-8
 * sequence (a sequence cut by a bounded copy, for one); returns s. */
char *adb__utf8_repair(char *s);

/* One JSON line on f (nothing when f is NULL), flushed: {"time" (UTC, seconds),
 * "level", "component", "organizationId" (left out when org is NULL), "event",
 * "message"}: the log of the service's background threads (checkpointer,
 * detection engine). Never a key, secret or event content in message. */
void adb__json_log_line(FILE *f, const char *component, const char *level, const char *org,
                        const char *event, const char *message);

#endif
