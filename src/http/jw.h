/*
 * jw.h - a small JSON text writer for responses (internal).
 *
 * Responses embed event details exactly as PostgreSQL's jsonb prints them
 * (numbers keep their scale), which a DOM library would re-format; so event
 * responses are written as text. Commas are placed automatically.
 */
#ifndef ADB_HTTP_JW_H
#define ADB_HTTP_JW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/buf.h"

typedef struct jw {
    adb__buf b;
    int depth;
    bool first[32]; /* per depth: no member written yet */
    bool after_key; /* the next value follows a key: no comma */
} jw;

void jw_init(jw *w);
void jw_free(jw *w);
/* Takes the text (caller frees); NULL when out of memory. */
char *jw_take(jw *w, size_t *len);

void jw_obj(jw *w);              /* { */
void jw_arr(jw *w);              /* [ */
void jw_end_obj(jw *w);          /* } */
void jw_end_arr(jw *w);          /* ] */
void jw_key(jw *w, const char *k);
void jw_str(jw *w, const char *s);          /* NULL writes null */
void jw_raw(jw *w, const char *json);       /* already valid JSON; NULL writes null */
void jw_int(jw *w, long long v);
void jw_bool(jw *w, bool v);
void jw_null(jw *w);

/* key + value shorthands */
void jw_kstr(jw *w, const char *k, const char *s);
void jw_kint(jw *w, const char *k, long long v);
void jw_kbool(jw *w, const char *k, bool v);

#endif
