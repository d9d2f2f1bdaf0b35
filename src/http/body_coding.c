/*
 * body_coding.c - decodes request bodies sent with Content-Encoding gzip or
 * deflate as their bytes arrive (body_coding.h). zlib does the inflating
 * (docs/http.md says why zlib: libcurl already brings it).
 *
 * smart-logs' client compresses bodies of 1 KiB or more by default, but
 * hands the gzip bytes (a Uint8Array) to a serializer that writes them as
 * JSON: {"0":31,"1":139,"2":8,...}, still labelled Content-Encoding: gzip.
 * A gzip stream always starts with the byte 0x1f, so a body labelled gzip
 * that starts with '{' cannot be gzip data: it is read as that object, in
 * exactly the form JSON.stringify writes (keys 0, 1, 2, ... in order, values
 * 0-255, no spaces), and the bytes it lists are inflated like any gzip body.
 */
#include "body_coding.h"
#include "../core/util.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

/* where the reader of the byte object is */
enum bo_state { BO_OPEN, BO_FIRST, BO_KEY, BO_COLON, BO_VALUE, BO_NEXT, BO_END };

struct adb_http_decoder {
    adb_http_coding coding;
    z_stream zs;
    bool zs_ready;
    bool member_ended;    /* inflate reached the end of a gzip member / deflate stream */
    bool failed;
    int mode;             /* 0: not known yet (no byte seen), 1: the bytes, 2: byte object */
    enum bo_state bo;
    unsigned long bo_index; /* the key the next member must have */
    unsigned long bo_num;
    int bo_digits;
    size_t npending;
    unsigned char pending[4096]; /* bytes read from the byte object, not inflated yet */
    unsigned char out[16384];    /* inflated, for the sink */
    char err[200];
};

const char *adb_http_coding_name(adb_http_coding coding)
{
    return coding == ADB_CODING_GZIP ? "gzip" : coding == ADB_CODING_DEFLATE ? "deflate" : "identity";
}

bool adb_http_coding_parse(const char *value, adb_http_coding *coding, char *bad, size_t badlen)
{
    *coding = ADB_CODING_IDENTITY;
    if (badlen)
        bad[0] = '\0';
    for (const char *p = value; p && *p;) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        const char *t = p;
        p = e ? e + 1 : p + n;
        while (n && (*t == ' ' || *t == '\t'))
            t++, n--;
        while (n && (t[n - 1] == ' ' || t[n - 1] == '\t'))
            n--;
        adb_http_coding c;
        if (n == 0 || (n == 8 && !strncasecmp(t, "identity", 8)))
            continue;
        if ((n == 4 && !strncasecmp(t, "gzip", 4)) || (n == 6 && !strncasecmp(t, "x-gzip", 6)))
            c = ADB_CODING_GZIP;
        else if (n == 7 && !strncasecmp(t, "deflate", 7))
            c = ADB_CODING_DEFLATE;
        else {
            adb__fmt(bad, badlen, "%.*s", (int)(n > 64 ? 64 : n), t);
            return false;
        }
        if (*coding != ADB_CODING_IDENTITY) { /* one coding decoded, never a chain */
            adb__fmt(bad, badlen, "%.64s", value);
            return false;
        }
        *coding = c;
    }
    return true;
}

adb_http_decoder *adb_http_decoder_new(adb_http_coding coding)
{
    adb_http_decoder *d = calloc(1, sizeof(*d));

    if (!d)
        return NULL;
    d->coding = coding;
    /* gzip: 16 + 15 (a gzip wrapper, the largest window); deflate is the
     * zlib format (RFC 9110 8.4.1.2), 15 */
    if (inflateInit2(&d->zs, coding == ADB_CODING_GZIP ? 16 + MAX_WBITS : MAX_WBITS) != Z_OK) {
        free(d);
        return NULL;
    }
    d->zs_ready = true;
    return d;
}

static int fail(adb_http_decoder *d, const char *what, const char *why)
{
    d->failed = true;
    adb__fmt(d->err, sizeof(d->err), "%s%s%s", what, why ? ": " : "", why ? why : "");
    return -1;
}

static const char *not_valid(const adb_http_decoder *d)
{
    return d->coding == ADB_CODING_GZIP ? "the body is not valid gzip data"
                                        : "the body is not valid deflate (zlib) data";
}

/* Inflates n bytes, handing the output to sink (1, 0, -1 as _feed). */
static int inflate_bytes(adb_http_decoder *d, const unsigned char *in, size_t n,
                         adb_http_decoded_fn sink, void *ud)
{
    d->zs.next_in = (unsigned char *)in;
    d->zs.avail_in = (uInt)n;
    for (;;) {
        if (d->member_ended) {
            if (d->zs.avail_in == 0)
                return 1;
            /* gzip may hold several members one after the other */
            if (d->coding != ADB_CODING_GZIP)
                return fail(d, not_valid(d), "data after the end of the stream");
            inflateReset(&d->zs);
            d->member_ended = false;
        }
        d->zs.next_out = d->out;
        d->zs.avail_out = sizeof(d->out);
        int rc = inflate(&d->zs, Z_NO_FLUSH);
        size_t got = sizeof(d->out) - d->zs.avail_out;
        if (got && !sink(ud, (const char *)d->out, got))
            return 0;
        if (rc == Z_STREAM_END) {
            d->member_ended = true;
            continue;
        }
        if (rc == Z_BUF_ERROR || (rc == Z_OK && d->zs.avail_in == 0 && d->zs.avail_out != 0))
            return 1; /* all input taken, nothing more to write out yet */
        if (rc != Z_OK)
            return fail(d, not_valid(d), d->zs.msg ? d->zs.msg : "inflate failed");
    }
}

static int flush_pending(adb_http_decoder *d, adb_http_decoded_fn sink, void *ud)
{
    size_t n = d->npending;
    d->npending = 0;
    return n ? inflate_bytes(d, d->pending, n, sink, ud) : 1;
}

static int bo_fail(adb_http_decoder *d, const char *why)
{
    return fail(d, "the body is neither gzip data nor the byte object smart-logs' client writes "
                   "({\"0\":31,\"1\":139,...})", why);
}

/* Reads n more characters of the byte object, inflating the bytes it lists. */
static int byte_object(adb_http_decoder *d, const char *in, size_t n, adb_http_decoded_fn sink, void *ud)
{
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        bool digit = c >= '0' && c <= '9';
        switch (d->bo) {
        case BO_OPEN:
            if (c != '{')
                return bo_fail(d, "it does not start with {");
            d->bo = BO_FIRST;
            break;
        case BO_FIRST:
        case BO_NEXT:
            if (c == '}' && d->bo == BO_FIRST) {
                d->bo = BO_END;
                break;
            }
            if (c != '"')
                return bo_fail(d, "a key is expected");
            d->bo = BO_KEY;
            d->bo_num = 0;
            d->bo_digits = 0;
            break;
        case BO_KEY:
            if (digit && d->bo_digits < 10) {
                d->bo_num = d->bo_num * 10 + (unsigned long)(c - '0');
                d->bo_digits++;
            } else if (c == '"' && d->bo_digits > 0 && d->bo_num == d->bo_index) {
                d->bo = BO_COLON;
            } else {
                return bo_fail(d, "its keys must be 0, 1, 2, ... in order");
            }
            break;
        case BO_COLON:
            if (c != ':')
                return bo_fail(d, ": is expected after a key");
            d->bo = BO_VALUE;
            d->bo_num = 0;
            d->bo_digits = 0;
            break;
        case BO_VALUE:
            if (digit && d->bo_digits < 3) {
                d->bo_num = d->bo_num * 10 + (unsigned long)(c - '0');
                d->bo_digits++;
            } else if ((c == ',' || c == '}') && d->bo_digits > 0 && d->bo_num <= 255) {
                d->pending[d->npending++] = (unsigned char)d->bo_num;
                d->bo_index++;
                d->bo = c == ',' ? BO_NEXT : BO_END;
                if (d->npending == sizeof(d->pending)) {
                    int r = flush_pending(d, sink, ud);
                    if (r <= 0)
                        return r;
                }
            } else {
                return bo_fail(d, "its values must be bytes, 0 to 255");
            }
            break;
        case BO_END:
            if (c != ' ' && c != '\n' && c != '\r' && c != '\t')
                return bo_fail(d, "data after its end");
            break;
        }
    }
    return flush_pending(d, sink, ud);
}

int adb_http_decoder_feed(adb_http_decoder *d, const char *in, size_t n, adb_http_decoded_fn sink,
                          void *ud)
{
    if (d->failed)
        return -1;
    if (n == 0)
        return 1;
    if (d->mode == 0) /* a gzip stream starts with 0x1f; '{' can only be the client's object */
        d->mode = d->coding == ADB_CODING_GZIP && in[0] == '{' ? 2 : 1;
    if (d->mode == 2)
        return byte_object(d, in, n, sink, ud);
    return inflate_bytes(d, (const unsigned char *)in, n, sink, ud);
}

bool adb_http_decoder_finish(adb_http_decoder *d)
{
    if (d->failed)
        return false;
    if (d->mode == 2 && d->bo != BO_END) {
        bo_fail(d, "it ends before its closing }");
        return false;
    }
    if (!d->member_ended) {
        fail(d, not_valid(d), "it ends before the end of the compressed stream");
        return false;
    }
    return true;
}

const char *adb_http_decoder_error(const adb_http_decoder *d)
{
    return d->err;
}

bool adb_http_decoder_byte_object(const adb_http_decoder *d)
{
    return d->mode == 2;
}

void adb_http_decoder_free(adb_http_decoder *d)
{
    if (!d)
        return;
    if (d->zs_ready)
        inflateEnd(&d->zs);
    free(d);
}
