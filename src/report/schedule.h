/*
 * schedule.h - templates, schedules and their executions (docs/reports.md,
 * "Templates", "Schedules", "Exactly once"): the schedule checks
 * (schedule.c), the stores as the tenant (sched_store.c, template_store.c),
 * one execution (execution.c) and the scheduler thread (scheduler.c).
 */
#ifndef ADB_REPORT_SCHEDULE_H
#define ADB_REPORT_SCHEDULE_H

#include "report.h"

#include <stdint.h>

/* a refusal: the field at fault (dotted path), a code and a message */
typedef struct adb__sched_error {
    char field[96];
    char code[32];
    char message[256];
} adb__sched_error;

void adb__sched_fail(adb__sched_error *e, const char *field, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Checks a ScheduleConfig (the client's shape) and returns a normalized
 * copy (defaults filled: timezone UTC, hour and minute 0, skipWeekends,
 * skipHolidays and catchUpMissedRuns false, maxMissedRuns 3), or NULL with
 * e set (field "schedule.<member>"). The time zone is checked against
 * pg_timezone_names by the store, not here. Caller owns the result. */
json_t *adb__schedule_check(const json_t *s, adb__sched_error *e);

/* True when s is an ISO 8601 date-time with a zone (Z or +hh:mm), the
 * client's z.string().datetime() (which also takes a date alone here). */
bool adb__iso_datetime_valid(const char *s);

/* A 5-field cron expression (minute hour day-of-month month day-of-week;
 * '*', N, A-B, * / S, A-B/S, lists): false with why in err. */
bool adb__cron_valid(const char *expr, char *err, size_t errlen);

/* ---- the scheduler (scheduler.c) ---- */

typedef struct adb__scheduler adb__scheduler;

/* Starts the scheduler thread of this serve on the owner's conninfo: it
 * claims due schedules (FOR UPDATE SKIP LOCKED), inserts their executions
 * and advances next_run in one transaction, resumes executions whose lease
 * lapsed, and runs them. tick_ms: how often it looks without a NOTIFY;
 * lease_ms: the claim's lease (renewed while running); timeout_ms: how long
 * an execution may run from its first start (0: an hour). NULL with err on
 * failure. */
adb__scheduler *adb__scheduler_start(adb *h, const char *owner_conninfo, int tick_ms, int lease_ms,
                                     int timeout_ms, char *err, size_t errlen);
/* Stops it: the running execution is asked to stop and left to be resumed. */
void adb__scheduler_stop(adb__scheduler *s);

/* Claims the pending execution eid on c (the owner's connection) for this
 * process and runs it (the CLI's `reports schedules run`). ADB_ERR_BUSY when
 * it was not pending (a scheduler took it first). */
adb_status adb__scheduler_run_one(adb *h, PGconn *c, const char *eid, int lease_ms);

/* the channel a new or changed schedule, or an execute, is announced on */
#define ADB_REPORTS_NOTIFY "auditdb_reports"

/* The scheduler's clock in ms since the epoch: the real clock, plus in a
 * test build the offset in the file named by AUDITDB_REPORT_CLOCK_FILE. */
int64_t adb__report_now_ms(void);

/* ---- one execution (execution.c) ---- */

/* Runs the claimed execution id on c (the owner's connection, no open
 * transaction): generate, deliver, record. claim: the claimer name the row
 * must still carry (the fence); lease_ms: renewed while it runs;
 * timeout_ms: past this since the execution's first start (resumes
 * included) it ends 'timeout' at its next step (0: an hour). Returns ADB_OK
 * when the row was brought to an end (completed, failed, cancelled,
 * timeout), ADB_ERR_BUSY when the claim was lost or the scheduler is
 * stopping (the row is left for whoever resumes it). */
adb_status adb__execution_run(adb *h, PGconn *c, const char *id, const char *claim, int lease_ms,
                              int timeout_ms, bool (*stopping)(void *ud), void *ud);

#endif
