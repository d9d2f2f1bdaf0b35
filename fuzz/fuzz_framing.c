/*
 * fuzz_framing.c - the relay's parsers (src/http/framing.c): whatever the
 * bytes, and however they are split into reads, the request scanner never
 * passes more than it was given, never stalls with a full buffer (so the
 * relay always either passes bytes or answers), and the answer counter never
 * reads past what it is given.
 */
#include "http/framing.c"

#include <stdint.h>
#include <stdlib.h>

#define BUF (2 * (ADB_HTTP_HEAD_MAX + 4))

static bool never_head(void *ud)
{
    (void)ud;
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char in[BUF];
    adb_http_reqframe f = { .max_body = 10u << 20 };
    size_t len = 0, pos = 0;

    if (size < 1)
        return 0;
    size_t step = 1 + data[0] % 64; /* the size of each read */
    data++, size--;
    while (pos < size || len) {
        size_t k = size - pos < step ? size - pos : step;
        if (k > BUF - len)
            k = BUF - len;
        memcpy(in + len, data + pos, k);
        len += k;
        pos += k;
        int ev;
        size_t used = adb_http_reqframe_scan(&f, in, len, &ev);
        if (used > len)
            abort();
        if (ev == ADB_FR_ERROR) {
            if (f.status < 400 || f.status > 505 || !f.code || !f.message)
                abort();
            break;
        }
        if (ev == ADB_FR_MORE && used == 0 && len == BUF)
            abort(); /* a full buffer and no verdict: the relay would wait for ever */
        memmove(in, in + used, len - used); /* passed on */
        len -= used;
        if (pos == size && ev == ADB_FR_MORE && used == 0)
            break;
    }
    /* the same bytes as answers */
    adb_http_respframe *r = calloc(1, sizeof(*r));
    unsigned done;
    for (size_t i = 0; r && i < size; i += step)
        if (!adb_http_respframe_scan(r, (const char *)data + i, size - i < step ? size - i : step,
                                     &done, never_head, NULL))
            break;
    free(r);
    return 0;
}
