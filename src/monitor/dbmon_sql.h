/*
 * dbmon_sql.h - what the monitor's statements share: a timestamp in the
 * API's form, and running a statement whose one row and column is JSON.
 */
#ifndef ADB_MONITOR_DBMON_SQL_H
#define ADB_MONITOR_DBMON_SQL_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stddef.h>

/* x (timestamptz) as 2026-01-02T03:04:05.678Z, NULL stays NULL */
#define DBMON_TS(x) "to_char((" x ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/* Runs sql with n text parameters; its single value parsed as JSON (a new
 * reference), or NULL with what failed in err. */
json_t *adb__dbmon_json(PGconn *c, const char *what, const char *sql, int n,
                        const char *const *params, char *err, size_t errlen);

#endif
