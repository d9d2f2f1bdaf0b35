/*
 * compress.h - a report artifact compressed for download or delivery (the
 * client's compression option: none, gzip, zip; docs/reports.md,
 * "Compression"). The bytes inside are the artifact's exact bytes, so the
 * SHA-256 that the report's signed note names is checked after unpacking.
 */
#ifndef ADB_REPORT_COMPRESS_H
#define ADB_REPORT_COMPRESS_H

#include <stddef.h>

#include "auditdb.h"
#include "../core/buf.h"

/* What a compression name means: its content type and file suffix. NULL for
 * a name that is not one of none, gzip, zip. bzip2 (the client's export
 * config offers it) is not written: NULL too, the caller says why. */
typedef struct adb__compression {
    const char *name, *content_type, *suffix; /* suffix "" for none */
} adb__compression;
const adb__compression *adb__compression_find(const char *name);

/* data (n bytes) compressed as c, appended to out: gzip (RFC 1952, one
 * member, mtime 0, no file name: the same bytes every time) or a ZIP holding
 * one entry named filename, dated at t (RFC 3339, as adb__zip_init). "none"
 * appends data as it is. ADB_ERR_NOMEM or ADB_ERR_INVALID (too large). */
adb_status adb__compress(const adb__compression *c, const void *data, size_t n,
                         const char *filename, const char *t, adb__buf *out);

#endif
