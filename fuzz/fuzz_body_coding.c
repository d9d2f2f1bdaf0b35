/*
 * fuzz_body_coding.c - the request-body decoder (src/http/body_coding.c):
 * whatever the bytes and however they are cut into pieces, it never hands
 * out more than its sink accepted, never calls the sink again once it
 * refused, and a failed decoder stays failed with a reason.
 * Input: byte 0 picks the coding (even: gzip, odd: deflate), byte 1 the
 * size of the pieces fed; the rest is the body.
 */
#include "http/body_coding.c"

#include <stdint.h>
#include <stdlib.h>

#define LIMIT (256 * 1024) /* the sink's body limit */

typedef struct sink_state {
    size_t taken;
    bool refused;
} sink_state;

static bool sink(void *ud, const char *data, size_t n)
{
    sink_state *s = ud;

    (void)data;
    if (s->refused)
        abort(); /* called again after refusing */
    if (n == 0 || n > sizeof(((adb_http_decoder *)0)->out))
        abort();
    if (s->taken + n > LIMIT) {
        s->refused = true;
        return false;
    }
    s->taken += n;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    adb_http_decoder *d = adb_http_decoder_new(data[0] & 1 ? ADB_CODING_DEFLATE : ADB_CODING_GZIP);
    size_t piece = (size_t)data[1] + 1;
    sink_state s = { 0, false };
    int r = 1;

    if (!d)
        return 0;
    data += 2;
    size -= 2;
    for (size_t off = 0; off < size && r == 1; off += piece) {
        size_t n = size - off < piece ? size - off : piece;
        r = adb_http_decoder_feed(d, (const char *)data + off, n, sink, &s);
        if (r == -1 && !adb_http_decoder_error(d)[0])
            abort(); /* a refusal says why */
        if (r == 0 && !s.refused)
            abort();
    }
    if (r == -1 && adb_http_decoder_feed(d, "x", 1, sink, &s) != -1)
        abort(); /* failed stays failed */
    if (r == 1 && !adb_http_decoder_finish(d) && !adb_http_decoder_error(d)[0])
        abort();
    if (s.taken > LIMIT)
        abort();
    adb_http_decoder_free(d);
    return 0;
}
