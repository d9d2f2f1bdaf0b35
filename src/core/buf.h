/*
 * buf.h - a growing byte buffer (internal), the one every module appends
 * to: SQL COPY data, canonical forms, audit records, metrics text. It is
 * always NUL-terminated; after an allocation failure it stops growing and
 * remembers it (oom), so callers check once at the end.
 */
#ifndef ADB_BUF_H
#define ADB_BUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct adb__buf {
    char *p;
    size_t len, cap;
    bool oom;
} adb__buf;

void adb__buf_put(adb__buf *b, const void *s, size_t n);

/* Room for n more bytes (and the NUL) at b->p + b->len, which the caller
 * fills and then adds to b->len, ending it with a NUL; NULL when out of
 * memory. For writers that put several pieces at once. */
char *adb__buf_room(adb__buf *b, size_t n);
void adb__buf_puts(adb__buf *b, const char *s);
void adb__buf_printf(adb__buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A value in COPY text format: \N for NULL, backslash, newline, CR and tab escaped. */
void adb__buf_copy_value(adb__buf *b, const char *s);

/* s as an element of a PostgreSQL array literal ("{...}"): double-quoted,
 * with " and \ escaped. */
void adb__buf_array_elem(adb__buf *b, const char *s, size_t n);

/* s (n bytes of UTF-8) as a canonical JSON string (docs/integrity.md). */
void adb__buf_json_string(adb__buf *b, const char *s, size_t n);

/* The text (caller frees) and its length; NULL after an allocation failure.
 * The buffer is empty afterwards. */
char *adb__buf_take(adb__buf *b, size_t *len);

void adb__buf_free(adb__buf *b);

#endif
