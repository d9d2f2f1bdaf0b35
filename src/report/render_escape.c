/*
 * render_escape.c - CSV cells, XML text and PDF text of the report
 * renderings (render_escape.h).
 */
#include "render_escape.h"
#include "../core/util.h"

#include <stdbool.h>
#include <string.h>

#define REPLACEMENT "\xEF\xBF\xBD" /* U+FFFD */

/* Whether byte c is a C0 control other than tab, LF and CR. */
static bool bad_c0(unsigned char c)
{
    return c < 0x20 && c != '\t' && c != '\n' && c != '\r';
}

void adb__csv_cell(adb__buf *out, const char *s, size_t n)
{
    bool formula = n > 0 && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' ||
                             s[0] == '\t' || s[0] == '\r' || s[0] == '\0');
    bool quote = formula;

    for (size_t i = 0; i < n && !quote; i++)
        quote = s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r';
    if (quote)
        adb__buf_put(out, formula ? "\"'" : "\"", formula ? 2 : 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"')
            adb__buf_put(out, "\"\"", 2);
        else if (bad_c0(c))
            adb__buf_puts(out, REPLACEMENT);
        else
            adb__buf_put(out, s + i, 1);
    }
    if (quote)
        adb__buf_put(out, "\"", 1);
}

void adb__xml_text(adb__buf *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t len = adb__utf8_seq(s + i, n - i);
        if (len == 0) { /* not UTF-8 */
            adb__buf_puts(out, REPLACEMENT);
            i++;
            continue;
        }
        if (len == 1) {
            switch (c) {
            case '&': adb__buf_puts(out, "&amp;"); break;
            case '<': adb__buf_puts(out, "&lt;"); break;
            case '>': adb__buf_puts(out, "&gt;"); break;
            case '"': adb__buf_puts(out, "&quot;"); break;
            case '\'': adb__buf_puts(out, "&apos;"); break;
            case '\r': adb__buf_puts(out, "&#13;"); break;
            case '\n': adb__buf_puts(out, "&#10;"); break;
            case '\t': adb__buf_puts(out, "&#9;"); break;
            default:
                if (c < 0x20)
                    adb__buf_puts(out, REPLACEMENT); /* XML 1.0 has no such character */
                else
                    adb__buf_put(out, s + i, 1);
            }
        } else if (len == 3 && c == 0xEF && (unsigned char)s[i + 1] == 0xBF &&
                   ((unsigned char)s[i + 2] == 0xBE || (unsigned char)s[i + 2] == 0xBF)) {
            adb__buf_puts(out, REPLACEMENT); /* U+FFFE, U+FFFF */
        } else {
            adb__buf_put(out, s + i, len);
        }
        i += len;
    }
}

/* Whether the len-byte UTF-8 sequence at s is a Unicode noncharacter
 * (U+FDD0..U+FDEF, U+xxFFFE, U+xxFFFF), which cairo refuses. */
static bool noncharacter(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    unsigned long cp;

    if (len == 3)
        cp = (u[0] & 0x0Ful) << 12 | (u[1] & 0x3Ful) << 6 | (u[2] & 0x3Ful);
    else if (len == 4)
        cp = (u[0] & 0x07ul) << 18 | (u[1] & 0x3Ful) << 12 | (u[2] & 0x3Ful) << 6 | (u[3] & 0x3Ful);
    else
        return false;
    return (cp >= 0xFDD0 && cp <= 0xFDEF) || (cp & 0xFFFE) == 0xFFFE;
}

void adb__pdf_text(adb__buf *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t len = adb__utf8_seq(s + i, n - i);
        if (len == 0) {
            adb__buf_puts(out, REPLACEMENT);
            i++;
            continue;
        }
        if (len == 1 && c == '\t')
            adb__buf_put(out, " ", 1);
        else if ((len == 1 && (c < 0x20 || c == 0x7F)) ||
                 (len == 2 && c == 0xC2 && (unsigned char)s[i + 1] < 0xA0) || noncharacter(s + i, len))
            adb__buf_puts(out, REPLACEMENT); /* C0, DEL and C1 controls; cairo refuses noncharacters */
        else
            adb__buf_put(out, s + i, len);
        i += len;
    }
    adb__buf_put(out, "", 0);
}
