/*
 * report_types.h - one builder per report type (internal to src/report/):
 * each fills the document's client-shaped members (summary, sections, ...)
 * and its figures, tables and charts from the organization's events.
 * generate.c dispatches to them; docs/reports.md, "Report types".
 */
#ifndef ADB_REPORT_TYPES_H
#define ADB_REPORT_TYPES_H

#include "report_query.h"

typedef struct adb__report_ctx {
    adb *h;
    PGconn *c;                        /* the tenant transaction (organization rq->org) */
    const adb__report_request *rq;
    const char *report_id;            /* the row being generated */
    adb__rq_base base;
    json_t *doc;                      /* the document being built (id, type, criteria set) */
    json_t *figures, *tables, *charts; /* the doc's arrays (borrowed) */
    long long records;                /* events read */
    /* rarch: called with every archived event of the period that passes the
     * criteria, while adb__rq_archived reads them (NULL: not called) */
    void (*archived_row)(const char *const *row, void *ud);
    void *archived_ud;
    char *field;
    size_t fieldlen;
    char *err;
    size_t errlen;
} adb__report_ctx;

adb_status adb__report_hipaa(adb__report_ctx *x);
adb_status adb__report_gdpr(adb__report_ctx *x);
adb_status adb__report_integrity(adb__report_ctx *x);
adb_status adb__report_general(adb__report_ctx *x);
adb_status adb__report_custom(adb__report_ctx *x);

/* true when the request asked to stop (cancel). */
bool adb__report_stop(const adb__report_ctx *x);

/* rasync: the report reached step (a short word) at pct (0..100) of its
 * work: written to its row (progress, progress_step, progress_at) in a short
 * transaction of its own, so that GET .../status shows it while the report's
 * transaction is open; best effort (a failed write is not an error). Then
 * adb__report_stop: true when the report must stop. */
bool adb__report_step(adb__report_ctx *x, int pct, const char *step);

/* The section status of a score (and of no events: "unknown"). */
const char *adb__report_status_of(double score, long long events, long long violations);

#endif
