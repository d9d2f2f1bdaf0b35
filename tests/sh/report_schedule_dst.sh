#!/bin/sh
# report_schedule_dst.sh - the must-show daylight-saving property of report
# schedules (docs/reports.md, "Schedules"): every transition from 2000 to
# 2100 in 20 time zones, daily, weekly and monthly schedules at every local
# time from an hour before each shift to an hour after it: no run skipped,
# none doubled, each at the instant the written rule names (the SQL and its
# oracle: report_schedule_dst.sql). A control run with PostgreSQL's own
# reading of a repeated local time must fail, so the property can fail.
. "$(dirname "$0")/../lib.sh"

fresh_db report_dst
"$AUDITDB_BIN" migrate >/dev/null 2>"$TEST_TMP/migrate.err" || { not_ok "migrate"; cat "$TEST_TMP/migrate.err"; finish; }
out=$(psql "$AUDIT_DB_URL" -qAtX -v ON_ERROR_STOP=1 -f "$(dirname "$0")/report_schedule_dst.sql" 2>&1)
diag "$out"
val() { printf '%s\n' "$out" | sed -n "s/^$1 //p"; }
expect_eq "all 20 zones have transitions 2000-2100" 20 "$(val zones_with_transitions)"
check "thousands of transitions, most after 2037 too" test "$(val transitions)" -gt 3000 -a "$(val transitions_after_2037)" -gt 1500
check "tens of thousands of schedules checked" test "$(val checks)" -gt 50000
expect_eq "no run skipped, none doubled, each at its rule's instant" 0 "$(val mismatches)"
check "the control (second occurrence of a repeated time) is caught" test "$(val control_mismatches)" -gt 0
finish
