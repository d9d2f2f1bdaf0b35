/*
 * export_worker.h - the thread that writes exports (internal): it claims a
 * pending audit_export row (any instance may: SKIP LOCKED, and a job whose
 * worker stopped beating for EXPORT_STALE_S is taken over), reads the
 * events through a cursor as the tenant (one snapshot), writes the file in
 * the asked format, gzip-compressed or not, as chunks of at most 256 KiB,
 * and expires completed files (docs/exports.md).
 */
#ifndef ADB_HTTP_EXPORT_WORKER_H
#define ADB_HTTP_EXPORT_WORKER_H

#include <stdbool.h>
#include "auditdb.h"

#define ADB_EXPORT_CHUNK_BYTES (256 * 1024)
#define ADB_EXPORT_TTL_S (24 * 3600)   /* a completed file is kept this long */
#define ADB_EXPORT_STALE_S 60          /* a processing job silent this long is taken over */

typedef struct adb_http_exports adb_http_exports;

adb_http_exports *adb_http_exports_start(adb *db);
/* Stops the thread; a job it is writing stays 'processing' and is taken
 * over after ADB_EXPORT_STALE_S. Accepts NULL. */
void adb_http_exports_stop(adb_http_exports *x);
/* A job was queued: look now rather than at the next poll. */
void adb_http_exports_wake(adb_http_exports *x);

/* Waits up to ms for this server's worker to finish job id (any end);
 * false when it did not (another instance may be writing it, or it is
 * large). For the POST to answer a small export completed at once. */
bool adb_http_exports_wait(adb_http_exports *x, const char *id, int ms);

#endif
