/*
 * zip.c - a ZIP archive in memory (zip.h): local file header, data, and at
 * the end the central directory and its end record, little-endian, as
 * APPNOTE.TXT 4.3 lays them out. Deflate and CRC-32 are zlib's.
 */
#include "zip.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#define ZIP_MAX 0xFFFFFFFEu /* sizes and offsets: 32 bits, no ZIP64 */

static void le16(adb__buf *b, unsigned v)
{
    unsigned char c[2] = { (unsigned char)(v & 0xff), (unsigned char)((v >> 8) & 0xff) };
    adb__buf_put(b, c, 2);
}

static void le32(adb__buf *b, uint32_t v)
{
    unsigned char c[4] = { (unsigned char)(v & 0xff), (unsigned char)((v >> 8) & 0xff),
                           (unsigned char)((v >> 16) & 0xff), (unsigned char)((v >> 24) & 0xff) };
    adb__buf_put(b, c, 4);
}

void adb__zip_init(adb__zip *z, const char *t)
{
    int y = 1980, mo = 1, d = 1, h = 0, mi = 0, s = 0;
    memset(z, 0, sizeof(*z));
    if (t && sscanf(t, "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &s) == 6 &&
        y >= 1980 && y <= 2107 && mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h >= 0 &&
        h <= 23 && mi >= 0 && mi <= 59 && s >= 0 && s <= 60) {
        if (s == 60)
            s = 59;
    } else {
        y = 1980, mo = 1, d = 1, h = 0, mi = 0, s = 0;
    }
    z->dos_date = (uint16_t)(((y - 1980) << 9) | (mo << 5) | d);
    z->dos_time = (uint16_t)((h << 11) | (mi << 5) | (s / 2));
}

/* Raw deflate of data into a new buffer (*len bytes); NULL when out of
 * memory or when deflate failed. */
static unsigned char *deflate_raw(const void *data, size_t n, size_t *len)
{
    z_stream s;
    memset(&s, 0, sizeof(s));
    if (deflateInit2(&s, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return NULL;
    uLong cap = deflateBound(&s, (uLong)n);
    unsigned char *out = malloc(cap ? cap : 1);
    if (!out) {
        deflateEnd(&s);
        return NULL;
    }
    s.next_in = (Bytef *)(uintptr_t)data;
    s.avail_in = (uInt)n;
    s.next_out = out;
    s.avail_out = (uInt)cap;
    int rc = deflate(&s, Z_FINISH);
    *len = s.total_out;
    deflateEnd(&s);
    if (rc != Z_STREAM_END) {
        free(out);
        return NULL;
    }
    return out;
}

void adb__zip_add(adb__zip *z, const char *name, const void *data, size_t n)
{
    size_t nlen = strlen(name), clen = 0;
    if (z->st != ADB_OK)
        return;
    if (n > ZIP_MAX || nlen == 0 || nlen > 0xFFFF || z->entries >= 0xFFFF ||
        z->out.len > ZIP_MAX) {
        z->st = ADB_ERR_INVALID;
        return;
    }
    uint32_t crc = (uint32_t)crc32(0L, Z_NULL, 0);
    /* zlib's lengths are uInt: feed it in pieces */
    for (size_t off = 0; off < n;) {
        size_t k = n - off > 0x40000000u ? 0x40000000u : n - off;
        crc = (uint32_t)crc32(crc, (const Bytef *)data + off, (uInt)k);
        off += k;
    }
    unsigned char *packed = n ? deflate_raw(data, n, &clen) : NULL;
    if (n && !packed) {
        z->st = ADB_ERR_NOMEM;
        return;
    }
    unsigned method = packed && clen < n ? 8 : 0;
    const void *body = method ? (const void *)packed : data;
    size_t blen = method ? clen : n;
    uint32_t offset = (uint32_t)z->out.len;

    /* local file header (4.3.7) */
    le32(&z->out, 0x04034b50);
    le16(&z->out, 20);                 /* version needed: 2.0 (deflate) */
    le16(&z->out, 0x0800);             /* flags: names are UTF-8 */
    le16(&z->out, method);
    le16(&z->out, z->dos_time);
    le16(&z->out, z->dos_date);
    le32(&z->out, crc);
    le32(&z->out, (uint32_t)blen);
    le32(&z->out, (uint32_t)n);
    le16(&z->out, (unsigned)nlen);
    le16(&z->out, 0);                  /* extra field length */
    adb__buf_put(&z->out, name, nlen);
    if (blen)
        adb__buf_put(&z->out, body, blen);
    free(packed);

    /* its central directory record (4.3.12) */
    le32(&z->central, 0x02014b50);
    le16(&z->central, 0x0314);         /* made by: Unix, 2.0 */
    le16(&z->central, 20);
    le16(&z->central, 0x0800);
    le16(&z->central, method);
    le16(&z->central, z->dos_time);
    le16(&z->central, z->dos_date);
    le32(&z->central, crc);
    le32(&z->central, (uint32_t)blen);
    le32(&z->central, (uint32_t)n);
    le16(&z->central, (unsigned)nlen);
    le16(&z->central, 0);              /* extra */
    le16(&z->central, 0);              /* comment */
    le16(&z->central, 0);              /* disk number */
    le16(&z->central, 0);              /* internal attributes */
    le32(&z->central, (uint32_t)0100644 << 16); /* external: a regular file, rw-r--r-- */
    le32(&z->central, offset);
    adb__buf_put(&z->central, name, nlen);
    z->entries++;
    if (z->out.oom || z->central.oom)
        z->st = ADB_ERR_NOMEM;
    else if (z->out.len > ZIP_MAX)
        z->st = ADB_ERR_INVALID;
}

adb_status adb__zip_finish(adb__zip *z, adb__buf *out)
{
    adb_status st = z->st;
    if (st == ADB_OK && (z->out.len > ZIP_MAX || z->central.len > ZIP_MAX ||
                         z->out.len + z->central.len > ZIP_MAX))
        st = ADB_ERR_INVALID;
    if (st == ADB_OK) {
        uint32_t cd_off = (uint32_t)z->out.len, cd_len = (uint32_t)z->central.len;
        if (z->central.len)
            adb__buf_put(&z->out, z->central.p, z->central.len);
        /* end of central directory record (4.3.16) */
        le32(&z->out, 0x06054b50);
        le16(&z->out, 0);
        le16(&z->out, 0);
        le16(&z->out, z->entries);
        le16(&z->out, z->entries);
        le32(&z->out, cd_len);
        le32(&z->out, cd_off);
        le16(&z->out, 0);              /* comment length */
        if (z->out.oom)
            st = ADB_ERR_NOMEM;
        else
            adb__buf_put(out, z->out.p, z->out.len);
        if (out->oom)
            st = ADB_ERR_NOMEM;
    }
    adb__zip_free(z);
    return st;
}

void adb__zip_free(adb__zip *z)
{
    adb__buf_free(&z->out);
    adb__buf_free(&z->central);
    z->entries = 0;
}
