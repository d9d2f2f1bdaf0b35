/*
 * sched_store.h - scheduled reports and their executions as the tenant
 * (docs/reports.md, "Schedules", "API and CLI"): each call one transaction
 * as the organization; another organization's schedule is ADB_ERR_NOT_FOUND
 * exactly like a missing one. Answers are in the client's shapes
 * (ScheduledReport, ReportExecution, PaginatedScheduledReports,
 * PaginatedExecutions); *out is the caller's (json_decref).
 */
#ifndef ADB_REPORT_SCHED_STORE_H
#define ADB_REPORT_SCHED_STORE_H

#include "schedule.h"

typedef struct adb__sched_query {
    int enabled;                 /* -1 any, 0, 1 */
    const char *report_types;    /* a JSON array text of report types; NULL: any */
    const char *created_by;      /* a JSON array text of principals; NULL: any */
    const char *tags;            /* a JSON array text: any of these tags; NULL: any */
    const char *range_by;        /* created_at, updated_at, last_run, next_run (NULL: created_at) */
    const char *start, *end;     /* ISO 8601 bounds of range_by, inclusive; NULL: open */
    const char *search;          /* name contains; NULL: any */
    const char *sort_by;         /* name, created_at, updated_at, last_run, next_run, execution_count */
    bool asc;
    long long limit, offset;
} adb__sched_query;

adb_status adb__sched_create(adb *h, const char *org, const json_t *body, const char *who,
                             json_t **out, adb__sched_error *e);
adb_status adb__sched_get(adb *h, const char *org, const char *id, json_t **out);
adb_status adb__sched_list(adb *h, const char *org, const adb__sched_query *q, json_t **out);
adb_status adb__sched_update(adb *h, const char *org, const char *id, const json_t *body,
                             const char *who, json_t **out, adb__sched_error *e);
/* Each change (create, update, delete, enable, disable) is a row of the
 * configuration history in its transaction and, committed, an audit event
 * of the organization (src/monitor/config_change.h). */
adb_status adb__sched_delete(adb *h, const char *org, const char *id, const char *who);
adb_status adb__sched_set_enabled(adb *h, const char *org, const char *id, bool on, const char *who,
                                  json_t **out);
/* a manual execution of the schedule now: pending, started by a scheduler */
adb_status adb__sched_execute(adb *h, const char *org, const char *id, json_t **out);
adb_status adb__sched_executions(adb *h, const char *org, const char *id, long long limit,
                                 long long offset, const char *status, json_t **out);
adb_status adb__sched_execution_get(adb *h, const char *org, const char *id, const char *eid,
                                    json_t **out);
/* pending: cancelled at once; running: asked to stop (the scheduler sees it
 * at its next step). ADB_ERR_INVALID when it has ended already. */
adb_status adb__sched_execution_cancel(adb *h, const char *org, const char *id, const char *eid,
                                       json_t **out);
/* the artifact of a completed execution (malloc()ed; content type and
 * filename copied); ADB_ERR_NOT_FOUND without one */
adb_status adb__sched_execution_artifact(adb *h, const char *org, const char *id, const char *eid,
                                         unsigned char **data, size_t *len, char ctype[128],
                                         char filename[160]);
adb_status adb__sched_upcoming(adb *h, const char *org, long long limit, json_t **out);

#endif
