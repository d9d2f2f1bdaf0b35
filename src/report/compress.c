/*
 * compress.c - an artifact as gzip or as a one-entry ZIP (compress.h), with
 * zlib (already linked for the archive and HTTP bodies: no new library).
 */
#include "compress.h"
#include "zip.h"

#include <stdint.h>
#include <string.h>

#include <zlib.h>

static const adb__compression table[] = {
    { "none", NULL, "" },
    { "gzip", "application/gzip", ".gz" },
    { "zip", "application/zip", ".zip" },
};

const adb__compression *adb__compression_find(const char *name)
{
    for (size_t i = 0; name && i < sizeof(table) / sizeof(table[0]); i++)
        if (!strcmp(name, table[i].name))
            return &table[i];
    return NULL;
}

static adb_status gzip_to(const void *data, size_t n, adb__buf *out)
{
    z_stream s;
    unsigned char chunk[16384];
    size_t start = out->len;
    int rc = Z_OK;

    memset(&s, 0, sizeof(s));
    /* windowBits 15 + 16: a gzip wrapper with zlib's default header (mtime 0, no name) */
    if (deflateInit2(&s, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
        Z_OK)
        return ADB_ERR_NOMEM;
    const unsigned char *p = data;
    size_t left = n;
    do {
        uInt take = left > 0x40000000u ? 0x40000000u : (uInt)left;
        s.next_in = (Bytef *)(uintptr_t)p;
        s.avail_in = take;
        p += take;
        left -= take;
        int flush = left ? Z_NO_FLUSH : Z_FINISH;
        do {
            s.next_out = chunk;
            s.avail_out = sizeof(chunk);
            rc = deflate(&s, flush);
            if (rc == Z_STREAM_ERROR)
                break;
            adb__buf_put(out, chunk, sizeof(chunk) - s.avail_out);
        } while (s.avail_out == 0);
    } while (left && rc != Z_STREAM_ERROR);
    deflateEnd(&s);
    if (rc != Z_STREAM_END || out->oom) {
        out->len = start;
        return out->oom ? ADB_ERR_NOMEM : ADB_ERR_INTERNAL;
    }
    return ADB_OK;
}

adb_status adb__compress(const adb__compression *c, const void *data, size_t n,
                         const char *filename, const char *t, adb__buf *out)
{
    if (!strcmp(c->name, "gzip"))
        return gzip_to(data, n, out);
    if (!strcmp(c->name, "zip")) {
        adb__zip z;
        adb__zip_init(&z, t);
        adb__zip_add(&z, filename && *filename ? filename : "report", data, n);
        return adb__zip_finish(&z, out);
    }
    if (n)
        adb__buf_put(out, data, n);
    return out->oom ? ADB_ERR_NOMEM : ADB_OK;
}
