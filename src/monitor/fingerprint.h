/*
 * fingerprint.h - what makes two failures of the service "the same error"
 * (docs/monitoring.md, "Errors"): category, code, component, operation and
 * the message with its varying parts stripped (numbers, UUIDs, hex ids,
 * quoted values, IP addresses, timestamps). Pure functions.
 *
 * The fingerprint is versioned: a change to the normalization below is a
 * new ADB_ERROR_FINGERPRINT_VERSION, whose keys start with the new "vN-"
 * prefix, so aggregations of different versions never mix.
 */
#ifndef ADB_MONITOR_FINGERPRINT_H
#define ADB_MONITOR_FINGERPRINT_H

#include <stddef.h>

#define ADB_ERROR_FINGERPRINT_VERSION 1
#define ADB_ERROR_KEY_MAX 40     /* "v1-" + 32 hex + NUL, with room */
#define ADB_ERROR_PATTERN_MAX 512 /* the normalized message, NUL included */

/* Writes msg (NULL: "") with its varying parts replaced into out (outlen
 * bytes, NUL-terminated, cut at a UTF-8 boundary when too long):
 *   'x' "x"                           -> '?' "?"
 *   8-4-4-4-12 hex (UUID)             -> <uuid>
 *   2026-12-07[T 19:53:08[.123][Z|+01:00]], 19:53:08[.5] -> <ts>
 *   IPv4 a.b.c.d[:port], IPv6 (two or more colons among hex) -> <ip>
 *   a run of digits (with a decimal part), 0x..., a word of hex
 *   characters with a digit and 6 or more long, or 8 or more long
 *   (hex ids: one token with numbers, as an id may be all digits) -> <n>
 * and runs of white space made one space, trimmed. Returns strlen(out). */
size_t adb__error_normalize(const char *msg, char *out, size_t outlen);

/* The aggregation key of a failure: "v<version>-" and the first 32 hex
 * digits of SHA-256 over version, category, code, component, operation and
 * the normalized message (pattern, from adb__error_normalize), separated by
 * newlines. NULL members count as "". */
void adb__error_fingerprint(const char *category, const char *code, const char *component,
                            const char *operation, const char *pattern,
                            char key[ADB_ERROR_KEY_MAX]);

#endif
