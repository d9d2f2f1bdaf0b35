/*
 * async.h - reports generated in the background (rasync; docs/reports.md,
 * "Asynchronous generation"): POST /api/v1/compliance/reports/{type} with
 * `Prefer: respond-async` answers 202 as soon as the report's row exists;
 * the work goes on in a thread of serve, writing its progress to the row
 * (GET .../status), and a cancel (POST .../cancel) stops it at its next step.
 */
#ifndef ADB_REPORT_ASYNC_H
#define ADB_REPORT_ASYNC_H

#include "report.h"

/* Reports running in the background at most (a process-wide cap). */
#define ADB_REPORT_ASYNC_MAX 4

/* Starts generating rq in a thread of its own (rq and what it points to are
 * copied; rq->should_stop, ud, started and stop_reason are the module's).
 * Returns once the report's row exists, with its id in report_id (ADB_OK),
 * or with the generator's refusal (ADB_ERR_INVALID with field and err, ...)
 * when it ends before that. ADB_ERR_BUSY when ADB_REPORT_ASYNC_MAX reports
 * are already running, or the module is stopping. */
adb_status adb__report_async_submit(adb *h, const adb__report_request *rq, char report_id[64],
                                    char *field, size_t fieldlen, char *err, size_t errlen);

/* Asks every background report to stop (each ends 'failed', "interrupted:
 * the server stopped", at its next step) and waits for their threads; no
 * submit is taken afterwards. Called by serve before it closes h. */
void adb__report_async_stop(void);

/* Reports running in the background now. */
int adb__report_async_running(void);

#endif
