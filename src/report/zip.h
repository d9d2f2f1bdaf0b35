/*
 * zip.h - a ZIP archive written in memory (internal to src/report/): the
 * container of an xlsx workbook (render_xlsx.c) and of a report downloaded
 * with compression=zip (compress.c). Each entry is deflated with zlib (raw
 * deflate, method 8) unless deflate would not make it smaller (then stored,
 * method 0); CRC-32 from zlib. No ZIP64: an archive and each entry stay
 * under 4 GiB - 1 and 65,535 entries (ADB_ERR_INVALID beyond). The entries'
 * date and time come from the caller, so the same input gives the same
 * bytes. APPNOTE.TXT 6.3.10, sections 4.3 and 4.4.
 */
#ifndef ADB_REPORT_ZIP_H
#define ADB_REPORT_ZIP_H

#include <stddef.h>
#include <stdint.h>

#include "auditdb.h"
#include "../core/buf.h"

typedef struct adb__zip {
    adb__buf out;      /* local headers and data so far, then the whole archive */
    adb__buf central;  /* the central directory's records */
    unsigned entries;
    uint16_t dos_time, dos_date;
    adb_status st;     /* the first failure (sticky); ADB_OK while all went well */
} adb__zip;

/* Starts an archive whose entries are dated at the UTC time t ("YYYY-MM-DDTHH:MM:SS...",
 * RFC 3339; NULL or unreadable: 1980-01-01 00:00, the format's first day). */
void adb__zip_init(adb__zip *z, const char *t);

/* Adds the entry name (a relative path, '/' separated) holding n bytes of
 * data. Failures are remembered in z->st (out of memory, sizes). */
void adb__zip_add(adb__zip *z, const char *name, const void *data, size_t n);

/* Writes the central directory; the archive is appended to out. Returns the
 * first failure of the archive (then nothing appended); frees z either way. */
adb_status adb__zip_finish(adb__zip *z, adb__buf *out);

/* Frees an archive that will not be finished. */
void adb__zip_free(adb__zip *z);

#endif
