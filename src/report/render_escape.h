/*
 * render_escape.h - text made safe for the report renderings (internal to
 * src/report/): CSV cells safe against formula injection and XML character
 * data. The same rules as the events' exports (src/http/export_format.c,
 * docs/exports.md), kept in the library because reports render there.
 */
#ifndef ADB_REPORT_RENDER_ESCAPE_H
#define ADB_REPORT_RENDER_ESCAPE_H

#include <stddef.h>

#include "../core/buf.h"

/* One CSV cell of text s (n bytes of UTF-8, may hold NUL): RFC 4180 quoting
 * (a cell holding , " CR or LF is quoted, " doubled); a cell whose first
 * character is = + - @ tab CR or NUL is quoted and prefixed with ' (OWASP
 * ASVS 5.0 1.2.10: shown as text by spreadsheets, never evaluated); control
 * characters other than tab, LF and CR become U+FFFD. Numbers are not text:
 * the renderers write them bare. */
void adb__csv_cell(adb__buf *out, const char *s, size_t n);

/* s (n bytes) as XML 1.0 character data or attribute value: & < > " '
 * escaped, CR, LF and tab as character references (kept through attribute
 * normalisation), characters XML 1.0 cannot carry (other C0 controls,
 * U+FFFE, U+FFFF, bytes that are not UTF-8) become U+FFFD. */
void adb__xml_text(adb__buf *out, const char *s, size_t n);

/* The same for the PDF's text: C0 and C1 controls, noncharacters (U+FDD0..
 * U+FDEF, U+xxFFFE/F) and bytes that are not UTF-8 become U+FFFD, tab a space; the result is NUL-terminated valid
 * UTF-8 that cairo accepts. */
void adb__pdf_text(adb__buf *out, const char *s, size_t n);

#endif
