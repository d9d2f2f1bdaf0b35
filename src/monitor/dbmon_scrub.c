/*
 * dbmon_scrub.c - the second lock on a statement's text before it is shown:
 * pg_stat_statements replaces constants by $n, but keeps the text of what it
 * cannot normalize as it came. Every quoted string, dollar-quoted string and
 * number that is not part of a name or a $n parameter becomes "?". Pure.
 */
#include "dbmon.h"
#include "../core/util.h"

#include <ctype.h>
#include <string.h>

static bool ident_char(unsigned char ch)
{
    return isalnum(ch) || ch == '_' || ch >= 0x80;
}

/* Length of a dollar-quote tag at s ("$$" or "$tag$"), 0 when none. */
static size_t dollar_tag(const char *s)
{
    size_t i = 1;
    if (s[0] != '$')
        return 0;
    if (isdigit((unsigned char)s[1]))
        return 0; /* $1: a parameter */
    while (s[i] && (isalnum((unsigned char)s[i]) || s[i] == '_'))
        i++;
    return s[i] == '$' ? i + 1 : 0;
}

void adb__dbmon_scrub(char *s)
{
    size_t n = strlen(s), w = 0;

    for (size_t i = 0; i < n;) {
        unsigned char ch = (unsigned char)s[i];
        size_t tag;
        if (ch == '\'') { /* '...' with '' inside; E'...' with \' inside */
            bool esc = i > 0 && (s[i - 1] == 'E' || s[i - 1] == 'e');
            i++;
            while (i < n) {
                if (esc && s[i] == '\\' && i + 1 < n) {
                    i += 2;
                    continue;
                }
                if (s[i] == '\'') {
                    if (i + 1 < n && s[i + 1] == '\'') {
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                i++;
            }
            s[w++] = '?';
        } else if ((tag = dollar_tag(s + i)) > 0) {
            const char *end = NULL;
            char t[64];
            if (tag < sizeof(t)) {
                memcpy(t, s + i, tag);
                t[tag] = '\0';
                end = strstr(s + i + tag, t);
            }
            i = end ? (size_t)(end - s) + tag : n;
            s[w++] = '?';
        } else if (ch == '$' && isdigit((unsigned char)s[i + 1])) { /* $n stays */
            s[w++] = s[i++];
            while (i < n && isdigit((unsigned char)s[i]))
                s[w++] = s[i++];
        } else if (isdigit(ch) && (i == 0 || !ident_char((unsigned char)s[i - 1]))) {
            while (i < n && (isalnum((unsigned char)s[i]) || s[i] == '.' || s[i] == '_' ||
                             ((s[i] == '+' || s[i] == '-') && (s[i - 1] == 'e' || s[i - 1] == 'E'))))
                i++;
            s[w++] = '?';
        } else if ((ch == 'E' || ch == 'e') && s[i + 1] == '\'' &&
                   (i == 0 || !ident_char((unsigned char)s[i - 1]))) {
            i++; /* E'...': the string below goes, its prefix with it */
        } else if (ident_char(ch)) { /* a name (digits inside stay) */
            while (i < n && ident_char((unsigned char)s[i]))
                s[w++] = s[i++];
        } else if (ch == '"') { /* a quoted name stays */
            s[w++] = s[i++];
            while (i < n && s[i] != '"')
                s[w++] = s[i++];
            if (i < n)
                s[w++] = s[i++];
        } else {
            s[w++] = s[i++];
        }
    }
    s[w] = '\0';
    if (w > ADB_DBMON_TEXT_MAX) {
        size_t cut = ADB_DBMON_TEXT_MAX;
        while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
            cut--;
        s[cut] = '\0';
    }
}
