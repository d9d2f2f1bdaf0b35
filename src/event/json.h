/*
 * json.h - a strict, bounded JSON parser for audit events (internal).
 *
 * Why not jansson: the hash must come out identical from the request and from
 * the jsonb value PostgreSQL returns, so the parser must keep the exact text
 * of numbers (jansson turns them into double / long long), reject duplicate
 * keys, \u0000, lone surrogates and invalid UTF-8 (which jsonb would reject
 * or rewrite), and bound depth, sizes and counts. Numbers are normalized to
 * the text PostgreSQL's numeric type prints (see adb__json_number_normalize),
 * so a parsed value already equals what jsonb will give back.
 *
 * Memory: every node and string of a document lives in the document's arena;
 * adb__json_free() releases all of it. Nodes are read-only after parsing.
 */
#ifndef ADB_EVENT_JSON_H
#define ADB_EVENT_JSON_H

#include <stdbool.h>
#include <stddef.h>

typedef enum adb_json_type {
    ADB_JSON_NULL,
    ADB_JSON_FALSE,
    ADB_JSON_TRUE,
    ADB_JSON_NUMBER, /* text in .str: normalized numeric text, e.g. "1000", "1.50", "-0.001" */
    ADB_JSON_STRING, /* UTF-8 in .str (no NUL inside), length .len */
    ADB_JSON_ARRAY,  /* .items[.count] */
    ADB_JSON_OBJECT  /* .keys[.count] (UTF-8, NUL-terminated) and .items[.count], in input order */
} adb_json_type;

typedef struct adb_json adb_json;
struct adb_json {
    adb_json_type type;
    const char *str;      /* NUMBER, STRING */
    size_t len;           /* NUMBER, STRING: bytes, without the terminating NUL */
    size_t count;         /* ARRAY, OBJECT */
    const char **keys;    /* OBJECT */
    size_t *key_lens;     /* OBJECT */
    adb_json **items;     /* ARRAY, OBJECT */
};

/* Limits applied while parsing; 0 means the default in brackets. */
typedef struct adb_json_limits {
    size_t max_depth;       /* nesting of arrays/objects, top level = 1 [64] */
    size_t max_string;      /* bytes of one decoded string or key [1 MiB] */
    size_t max_items;       /* members of one array or object [100000] */
    size_t max_number_len;  /* characters of a normalized number [100] */
    size_t max_nodes;       /* values in the whole document [1000000] */
} adb_json_limits;

/* Error codes of the parser (stable; used in API error details). */
typedef enum adb_json_error_code {
    ADB_JSON_OK = 0,
    ADB_JSON_ERR_SYNTAX,        /* malformed JSON */
    ADB_JSON_ERR_UTF8,          /* invalid UTF-8 in the input */
    ADB_JSON_ERR_ESCAPE,        /* bad escape, lone surrogate */
    ADB_JSON_ERR_NUL,           /* \u0000 (PostgreSQL text and jsonb refuse it) */
    ADB_JSON_ERR_DUPLICATE_KEY, /* a key repeated in one object */
    ADB_JSON_ERR_DEPTH,         /* nesting deeper than max_depth */
    ADB_JSON_ERR_TOO_LONG,      /* a string longer than max_string */
    ADB_JSON_ERR_TOO_MANY,      /* too many members or nodes */
    ADB_JSON_ERR_NUMBER,        /* a number whose normalized text exceeds max_number_len */
    ADB_JSON_ERR_NOMEM
} adb_json_error_code;

typedef struct adb_json_error {
    adb_json_error_code code;
    size_t offset;       /* byte offset in the input where the problem was found */
    char message[160];   /* e.g. "duplicate key \"action\" in object" (lower case, no period) */
} adb_json_error;

typedef struct adb_json_doc adb_json_doc;

/* Parses exactly one JSON value from text[0..len) (surrounding whitespace
 * allowed, nothing else). Returns the document or NULL with *err filled.
 * The root is adb__json_root(doc). limits may be NULL for the defaults.
 * The caller frees the document with adb__json_free(). Errors are reported
 * in input order, except that duplicate keys are found when their object
 * closes (a syntax error later inside the same object is reported first).
 * Offsets: DEPTH, TOO_MANY and NUMBER point at the value (or member) that
 * breaks the limit, TOO_LONG at the string's opening quote, DUPLICATE_KEY
 * at the repeated key, ESCAPE and NUL at the backslash, UTF8 at the first
 * byte of the bad sequence, an unexpected end of input at len. */
adb_json_doc *adb__json_parse(const char *text, size_t len, const adb_json_limits *limits,
                              adb_json_error *err);

/* Parses a sequence of values separated by whitespace/newlines (NDJSON)
 * one at a time: *pos is the offset to start at and is advanced past the
 * value. Returns NULL at end of input (err->code == ADB_JSON_OK) or on error.
 * A value must be followed by whitespace or the end ("{}{}" is an error). On
 * error *pos is unchanged and err->offset counts from text, not from *pos. */
adb_json_doc *adb__json_parse_next(const char *text, size_t len, size_t *pos,
                                   const adb_json_limits *limits, adb_json_error *err);

const adb_json *adb__json_root(const adb_json_doc *doc);
void adb__json_free(adb_json_doc *doc);

/* Member of an object by key (NULL if absent or not an object). */
const adb_json *adb__json_get(const adb_json *obj, const char *key);

/* Normalizes the JSON number text in[0..len) to the text PostgreSQL's
 * numeric output gives for it: no exponent, no leading '+', no superfluous
 * leading zeros, "-0..." printed without the sign when the value is zero,
 * and exactly max(0, fraction digits - exponent) digits after the point
 * (1E+3 -> "1000", 1.50 -> "1.50", 1.5e1 -> "15", 1.50e1 -> "15.0",
 * 1e-3 -> "0.001", -0.0 -> "0.0"). Writes a NUL-terminated result into out
 * (outlen bytes). Returns the length, or 0 if in is not a JSON number or the
 * result would not fit in outlen - 1 bytes, or PostgreSQL's numeric refuses
 * the value ("value overflows numeric format": an exponent beyond
 * +-1073741822, more than 16383 digits after the point or more than 131072
 * before it); the parser reports those as ADB_JSON_ERR_NUMBER too. */
size_t adb__json_number_normalize(const char *in, size_t len, char *out, size_t outlen);

/* Serializes v canonically: objects with keys sorted by bytes (memcmp, then
 * length), no whitespace, strings escaped as JSON.stringify does (\" \\ \b
 * \f \n \r \t, other bytes below 0x20 as \u00xx lowercase, everything else
 * raw UTF-8), numbers as stored (already normalized). Appends to a malloc()ed
 * buffer: *buf, *len and *cap describe it (start with NULL/0/0); returns false
 * when out of memory. Used both for hashing and for sending details to jsonb.
 * The caller frees *buf. The buffer is kept NUL-terminated (the NUL is not
 * counted in *len); on failure *len is back at its value before the call. */
bool adb__json_write_canonical(const adb_json *v, char **buf, size_t *len, size_t *cap);

/* Appends s (len bytes of valid UTF-8) as a canonical JSON string (same
 * buffer rules as adb__json_write_canonical). */
bool adb__json_write_string(const char *s, size_t len, char **buf, size_t *blen, size_t *cap);

/* Skipping over valid JSON text without parsing it (cutting a member out of
 * canonical or jsonb text). Each returns the first byte past what it skips,
 * or NULL when that does not end before end. p is at a string's opening
 * quote / at a value / anywhere (skip_ws: spaces, tabs, newlines). */
const char *adb__json_skip_string(const char *p, const char *end);
const char *adb__json_skip_value(const char *p, const char *end);
const char *adb__json_skip_ws(const char *p, const char *end);

#endif
