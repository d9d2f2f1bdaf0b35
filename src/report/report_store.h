/*
 * report_store.h - compliance_reports rows as the tenant (internal to
 * src/report/): a report is inserted 'running' in a transaction of its own
 * (so its status can be read and cancelled while it is computed), completed
 * with its artifact, hash and signed note only if still 'running', or
 * failed with the reason. docs/reports.md, "API and CLI".
 */
#ifndef ADB_REPORT_STORE_H
#define ADB_REPORT_STORE_H

#include "report.h"

/* Inserts the 'running' row (commits). */
adb_status adb__report_store_begin(adb *h, const adb__report_request *rq, const char *id,
                                   const char *start, const char *end, char *err, size_t errlen);

/* On c (the report's tenant transaction): sets the row completed with doc
 * (report_data), the artifact, its hash, checkpoint and note; ADB_ERR_BUSY
 * when the row is no longer 'running' (cancelled meanwhile). */
adb_status adb__report_store_complete(PGconn *c, const char *id, const json_t *doc,
                                      const adb__report_result *r, long long tree_size,
                                      const char *tree_root_b64, const char *note, char *err,
                                      size_t errlen);

/* Marks the row failed (or cancelled when cancelled is true) with why; own
 * transaction, only while it is 'running'. */
void adb__report_store_fail(adb *h, const char *org, const char *id, bool cancelled,
                            const char *why);

/* Cancels a report: 'running' or 'pending' becomes 'cancelled'. ADB_OK when
 * it did, ADB_ERR_NOT_FOUND for no such report of org, ADB_ERR_BUSY when it
 * had ended (status in *status_out, 16 bytes). */
adb_status adb__report_cancel(adb *h, const char *org, const char *id, char status_out[16],
                              char *err, size_t errlen);

/* True when the report's row says cancelled (polled by should_stop). */
bool adb__report_is_cancelled(adb *h, const char *org, const char *id);

#endif
