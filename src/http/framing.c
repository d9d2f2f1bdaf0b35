/*
 * framing.c - where HTTP/1.1 messages begin and end in a byte stream
 * (framing.h): request heads checked, chunked framing checked, answers
 * counted.
 */
#include "framing.h"
#include "../core/util.h"
#include "http.h"

#include <string.h>
#include <strings.h>

/* the whole head this server takes, and the blank line */
#define HEAD_SEEN_MAX (ADB_HTTP_HEAD_MAX + 4)
/* a chunk size line with its extensions; the trailer fields */
#define CHUNK_LINE_MAX 4096
#define TRAILER_MAX 8192

static bool tchar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* ---- chunked bodies ------------------------------------------------------- */

enum { C_SIZE0, C_SIZE, C_SIZE_WS, C_EXT, C_SIZE_LF, C_DATA, C_DATA_CR, C_DATA_LF,
       C_TRAILER0, C_TNAME, C_TVALUE, C_TLF, C_END_LF };

size_t adb_http_chunks_scan(adb_http_chunks *c, const char *b, size_t n, uint64_t max_total,
                            int *end, const char **message)
{
    size_t i = 0;

    *end = 0;
    while (i < n) {
        char ch = b[i];
        if (c->st == C_DATA) {
            size_t k = n - i < c->left ? n - i : (size_t)c->left;
            i += k;
            c->left -= k;
            if (!c->left)
                c->st = C_DATA_CR;
            continue;
        }
        if (++c->line > (c->st >= C_TRAILER0 ? TRAILER_MAX : CHUNK_LINE_MAX)) {
            *message = c->st >= C_TRAILER0 ? "the chunked body's trailer fields are too large"
                                           : "a chunk size line is too long";
            *end = 400;
            return i;
        }
        switch (c->st) {
        case C_SIZE0:
        case C_SIZE: {
            int v = adb__hexval(ch);
            if (v >= 0) {
                if (v || c->digits)
                    c->digits++;
                if (c->digits > 16) { /* does not fit 64 bits */
                    *message = "a chunk size is larger than any body this server takes";
                    *end = 413;
                    return i;
                }
                c->left = c->left * 16 + (uint64_t)v;
                c->st = C_SIZE;
                break;
            }
            if (c->st == C_SIZE0)
                goto bad_size;
            if (ch == ' ' || ch == '\t')
                c->st = C_SIZE_WS;
            else if (ch == ';')
                c->st = C_EXT;
            else if (ch == '\r')
                c->st = C_SIZE_LF;
            else if (ch == '\n')
                goto size_done;
            else
                goto bad_size;
            break;
        }
        case C_SIZE_WS:
            if (ch == ';')
                c->st = C_EXT;
            else if (ch == '\r')
                c->st = C_SIZE_LF;
            else if (ch == '\n')
                goto size_done;
            else if (ch != ' ' && ch != '\t')
                goto bad_size;
            break;
        case C_EXT:
            if (ch == '\r')
                c->st = C_SIZE_LF;
            else if (ch == '\n')
                goto size_done;
            break;
        case C_SIZE_LF:
            if (ch != '\n')
                goto bad_size;
        size_done:
            if (c->left > max_total || c->total + c->left > max_total) {
                *message = "the chunked body is larger than this server takes";
                *end = 413;
                return i;
            }
            c->total += c->left;
            c->line = 0;
            c->digits = 0;
            c->st = c->left ? C_DATA : C_TRAILER0;
            break;
        case C_DATA_CR:
            if (ch == '\r')
                c->st = C_DATA_LF;
            else if (ch == '\n')
                c->st = C_SIZE0;
            else
                goto no_crlf;
            c->line = 0;
            break;
        case C_DATA_LF:
            if (ch != '\n')
                goto no_crlf;
            c->st = C_SIZE0;
            c->line = 0;
            break;
        case C_TRAILER0:
            if (ch == '\r')
                c->st = C_END_LF;
            else if (ch == '\n') {
                i++;
                goto done;
            } else if (tchar(ch))
                c->st = C_TNAME;
            else
                goto bad_trailer;
            break;
        case C_TNAME:
            if (ch == ':')
                c->st = C_TVALUE;
            else if (!tchar(ch))
                goto bad_trailer;
            break;
        case C_TVALUE:
            if (ch == '\r')
                c->st = C_TLF;
            else if (ch == '\n')
                c->st = C_TRAILER0;
            break;
        case C_TLF:
            if (ch != '\n')
                goto bad_trailer;
            c->st = C_TRAILER0;
            break;
        case C_END_LF:
            if (ch != '\n')
                goto bad_trailer;
            i++;
            goto done;
        }
        i++;
    }
    return i;
done:
    *end = 1;
    return i;
bad_size:
    *message = "malformed chunked body: a chunk size must be hexadecimal digits ending in CRLF";
    *end = 400;
    return i;
no_crlf:
    *message = "malformed chunked body: chunk data must be followed by CRLF";
    *end = 400;
    return i;
bad_trailer:
    *message = "malformed chunked body: a trailer field must be Name: value, and the trailer "
               "end with a blank line";
    *end = 400;
    return i;
}

/* ---- request heads -------------------------------------------------------- */

/* The next line of b[*pos..n) without its CR LF (or bare LF) in *line,
 * *len; false when no whole line is left. */
static bool next_line(const char *b, size_t n, size_t *pos, const char **line, size_t *len)
{
    const char *nl = memchr(b + *pos, '\n', n - *pos);
    if (!nl)
        return false;
    *line = b + *pos;
    *len = (size_t)(nl - *line);
    if (*len && (*line)[*len - 1] == '\r')
        (*len)--;
    *pos = (size_t)(nl - b) + 1;
    return true;
}

int adb_http_head_check(const char *b, size_t n, size_t *hlen, const char **code, const char **message)
{
    size_t pos = 0, len;
    const char *line;

    *code = "HEADERS_TOO_LARGE";
    *message = "the request head is larger than the 32 KiB this server takes";
    while (pos + 1 < n && (b[pos] == '\r' || b[pos] == '\n')) /* blank lines before it */
        pos++;
    size_t start = pos;
    if (!next_line(b, n, &pos, &line, &len)) {
        if (n - start > ADB_HTTP_TARGET_MAX + 64) {
            *code = "URI_TOO_LONG";
            *message = "the request line is longer than the 8 KiB this server takes";
            return 414;
        }
        return n >= HEAD_SEEN_MAX ? 431 : -1;
    }
    /* the request line: method SP target SP HTTP/1.x */
    const char *sp1 = memchr(line, ' ', len), *sp2 = NULL;
    for (size_t i = len; i > 0 && !sp2; i--)
        if (line[i - 1] == ' ')
            sp2 = line + i - 1;
    bool method_ok = sp1 && sp1 > line;
    for (const char *c = line; method_ok && c < sp1; c++)
        method_ok = tchar(*c);
    if (!method_ok || sp2 == sp1 || sp2 == sp1 + 1) {
        *code = "BAD_REQUEST";
        *message = "malformed request line: expected METHOD TARGET HTTP/1.1";
        return 400;
    }
    size_t vlen = len - (size_t)(sp2 + 1 - line);
    const char *v = sp2 + 1;
    if (!(vlen == 8 && (!memcmp(v, "HTTP/1.1", 8) || !memcmp(v, "HTTP/1.0", 8)))) {
        if (vlen > 5 && !memcmp(v, "HTTP/", 5)) {
            *code = "HTTP_VERSION_NOT_SUPPORTED";
            *message = "only HTTP/1.0 and HTTP/1.1 are served";
            return 505;
        }
        *code = "BAD_REQUEST";
        *message = "malformed request line: expected METHOD TARGET HTTP/1.1";
        return 400;
    }
    /* header fields up to the blank line */
    bool first = true;
    int fields = 0;
    for (;;) {
        if (!next_line(b, n, &pos, &line, &len))
            return n >= HEAD_SEEN_MAX ? 431 : -1;
        if (len == 0) {
            if (pos > HEAD_SEEN_MAX)
                return 431;
            *hlen = pos;
            return 0;
        }
        if (line[0] == ' ' || line[0] == '\t') { /* a folded continuation line */
            if (first)
                goto bad_field;
            continue;
        }
        first = false;
        if (++fields > ADB_HTTP_HEADERS_MAX) { /* each costs libmicrohttpd memory too */
            *message = "the request head has more than the 100 header fields this server takes";
            return 431;
        }
        const char *colon = memchr(line, ':', len);
        if (!colon || colon == line)
            goto bad_field;
        for (const char *c = line; c < colon; c++)
            if (!tchar(*c))
                goto bad_field;
        if (colon - line == 14 && !strncasecmp(line, "Content-Length", 14)) {
            const char *s = colon + 1, *e = line + len;
            while (s < e && (*s == ' ' || *s == '\t'))
                s++;
            while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
                e--;
            bool digits = s < e;
            for (const char *c = s; digits && c < e; c++)
                digits = *c >= '0' && *c <= '9';
            if (!digits) {
                *code = "BAD_REQUEST";
                *message = "Content-Length is not a number";
                return 400;
            }
            if (e - s > 18) {
                *code = "PAYLOAD_TOO_LARGE";
                *message = "Content-Length is larger than any body this server takes";
                return 413;
            }
        }
    }
bad_field:
    *code = "BAD_REQUEST";
    *message = "malformed header field: expected Name: value";
    return 400;
}

/* ---- the request stream --------------------------------------------------- */

enum { F_HEAD, F_BODY, F_CHUNKED, F_OPAQUE };

/* A field's value, trimmed. */
static void field_value(const char *line, size_t len, const char *colon, const char **s, const char **e)
{
    *s = colon + 1;
    *e = line + len;
    while (*s < *e && (**s == ' ' || **s == '\t'))
        (*s)++;
    while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t'))
        (*e)--;
}

/* How the body of a checked head is delimited. A framing the handler
 * refuses (another Transfer-Encoding, a length given twice) makes the rest
 * of the stream opaque: the handler answers and the connection closes. */
static void body_framing(adb_http_reqframe *f, const char *b, size_t hlen)
{
    size_t pos = 0, len;
    const char *line;
    int ncl = 0, nte = 0;
    bool chunked = false;
    uint64_t cl = 0;

    while (pos + 1 < hlen && (b[pos] == '\r' || b[pos] == '\n'))
        pos++;
    f->is_head = hlen - pos > 5 && !memcmp(b + pos, "HEAD ", 5);
    next_line(b, hlen, &pos, &line, &len); /* the request line */
    while (next_line(b, hlen, &pos, &line, &len) && len) {
        const char *colon = memchr(line, ':', len), *s, *e;
        if (!colon)
            continue; /* a folded line */
        size_t nlen = (size_t)(colon - line);
        field_value(line, len, colon, &s, &e);
        if (nlen == 14 && !strncasecmp(line, "Content-Length", 14)) {
            ncl++;
            cl = 0;
            for (const char *c = s; c < e; c++)
                cl = cl * 10 + (uint64_t)(*c - '0'); /* at most 18 digits (checked) */
        } else if (nlen == 17 && !strncasecmp(line, "Transfer-Encoding", 17)) {
            nte++;
            chunked = e - s == 7 && !strncasecmp(s, "chunked", 7);
        }
    }
    f->in_request = true;
    memset(&f->ch, 0, sizeof(f->ch));
    if (nte > 1 || (nte && (!chunked || ncl)) || ncl > 1)
        f->st = F_OPAQUE;
    else if (nte)
        f->st = F_CHUNKED;
    else if (cl) {
        f->st = F_BODY;
        f->left = cl;
    } else {
        f->st = F_HEAD;
        f->in_request = false;
    }
}

static size_t fr_error(adb_http_reqframe *f, size_t at, int status, const char *code,
                       const char *message, int *event)
{
    f->status = status;
    f->code = code;
    f->message = message;
    *event = ADB_FR_ERROR;
    return at;
}

size_t adb_http_reqframe_scan(adb_http_reqframe *f, const char *b, size_t n, int *event)
{
    size_t i = 0;

    *event = ADB_FR_MORE;
    while (i < n) {
        switch (f->st) {
        case F_OPAQUE:
            return n;
        case F_BODY: {
            size_t k = n - i < f->left ? n - i : (size_t)f->left;
            i += k;
            f->left -= k;
            if (!f->left) {
                f->st = F_HEAD;
                f->in_request = false;
            }
            break;
        }
        case F_CHUNKED: {
            int end;
            const char *msg;
            i += adb_http_chunks_scan(&f->ch, b + i, n - i, f->max_body, &end, &msg);
            if (end > 1)
                return fr_error(f, i, end, end == 413 ? "PAYLOAD_TOO_LARGE" : "BAD_REQUEST", msg, event);
            if (end == 1) {
                f->st = F_HEAD;
                f->in_request = false;
            }
            break;
        }
        default: { /* F_HEAD: whole heads only, so that each is checked before it passes */
            size_t avail = n - i, hlen = 0;
            const char *code, *message;
            /* checked at each new line, so that a bad line is answered
             * without waiting for the rest of the head */
            bool line = avail > f->scanned && memchr(b + i + f->scanned, '\n', avail - f->scanned);
            f->scanned = avail;
            if (!line && avail < HEAD_SEEN_MAX && avail <= ADB_HTTP_TARGET_MAX + 64)
                return i;
            int st = adb_http_head_check(b + i, avail, &hlen, &code, &message);
            if (st < 0)
                return i;
            if (st > 0)
                return fr_error(f, i, st, code, message, event);
            f->scanned = 0;
            body_framing(f, b + i, hlen);
            *event = ADB_FR_HEAD;
            return i + hlen;
        }
        }
    }
    return i;
}

bool adb_http_reqframe_eof(adb_http_reqframe *f, size_t pending)
{
    if (f->st == F_OPAQUE || (!f->in_request && !pending))
        return false;
    f->status = 400;
    f->code = "BAD_REQUEST";
    f->message = "the connection was closed for sending before the request was complete";
    return true;
}

/* ---- the answer stream ---------------------------------------------------- */

enum { R_HEAD, R_BODY, R_CHUNKED, R_OPAQUE };

/* An answer's head is complete in f->head: how its body is delimited. */
static void answer_head(adb_http_respframe *f, unsigned *done, bool (*is_head)(void *), void *ud)
{
    const char *b = f->head;
    size_t pos = 0, len;
    const char *line;
    int status = f->hlen > 12 ? (b[9] - '0') * 100 + (b[10] - '0') * 10 + (b[11] - '0') : 0;
    bool chunked = false, has_cl = false;
    uint64_t cl = 0;

    size_t hl = f->hlen;
    f->hlen = 0;
    if (status >= 100 && status < 200) /* interim (100 Continue): the final answer follows */
        return;
    if (is_head(ud) || status == 204 || status == 304) {
        ++*done;
        return;
    }
    next_line(b, hl, &pos, &line, &len);
    while (next_line(b, hl, &pos, &line, &len) && len) {
        const char *colon = memchr(line, ':', len), *s, *e;
        if (!colon)
            continue;
        size_t nlen = (size_t)(colon - line);
        field_value(line, len, colon, &s, &e);
        if (nlen == 14 && !strncasecmp(line, "Content-Length", 14)) {
            has_cl = true;
            cl = 0;
            for (const char *c = s; c < e && *c >= '0' && *c <= '9'; c++)
                cl = cl * 10 + (uint64_t)(*c - '0');
        } else if (nlen == 17 && !strncasecmp(line, "Transfer-Encoding", 17))
            chunked = true;
    }
    memset(&f->ch, 0, sizeof(f->ch));
    if (chunked)
        f->st = R_CHUNKED;
    else if (has_cl && cl) {
        f->st = R_BODY;
        f->left = cl;
    } else if (has_cl)
        ++*done;
    else
        f->st = R_OPAQUE; /* to the close */
}

bool adb_http_respframe_scan(adb_http_respframe *f, const char *b, size_t n, unsigned *done,
                             bool (*is_head)(void *), void *ud)
{
    size_t i = 0;

    *done = 0;
    while (i < n) {
        switch (f->st) {
        case R_OPAQUE:
            return false;
        case R_BODY: {
            size_t k = n - i < f->left ? n - i : (size_t)f->left;
            i += k;
            f->left -= k;
            if (!f->left) {
                f->st = R_HEAD;
                ++*done;
            }
            break;
        }
        case R_CHUNKED: {
            int end;
            const char *msg;
            i += adb_http_chunks_scan(&f->ch, b + i, n - i, UINT64_MAX, &end, &msg);
            if (end > 1) {
                f->st = R_OPAQUE;
                return false;
            }
            if (end == 1) {
                f->st = R_HEAD;
                ++*done;
            }
            break;
        }
        default:
            if (f->hlen == sizeof(f->head) - 1) {
                f->st = R_OPAQUE;
                return false;
            }
            f->head[f->hlen++] = b[i++];
            f->head[f->hlen] = '\0';
            if (f->hlen >= 4 && !memcmp(f->head + f->hlen - 4, "\r\n\r\n", 4))
                answer_head(f, done, is_head, ud);
            break;
        }
    }
    return f->st != R_OPAQUE;
}
