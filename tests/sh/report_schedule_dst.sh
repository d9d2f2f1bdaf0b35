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

# the other frequencies and cron, spot checks against hand-computed instants
nr() { psql "$AUDIT_DB_URL" -qAtX -c "SET TimeZone = 'UTC'" -c "SELECT adb_report_next_run('$1'::jsonb, '$2')"; }
expect_eq "cron day-of-week 7 is Sunday only" "2026-12-13 04:05:00+00" "$(nr '{"frequency":"custom","cronExpression":"5 4 * * 7","timezone":"UTC"}' '2026-12-07 12:00Z')"
expect_eq "cron 0-7: every day" "2026-12-08 04:05:00+00" "$(nr '{"frequency":"custom","cronExpression":"5 4 * * 0-7","timezone":"UTC"}' '2026-12-07 12:00Z')"
expect_eq "cron day 31: only months that have one (not November)" "2026-12-31 00:00:00+00" "$(nr '{"frequency":"custom","cronExpression":"0 0 31 * *","timezone":"UTC"}' '2026-10-31 12:00Z')"
expect_eq "cron: day of month or day of week when both are set" "2026-12-11 00:00:00+00" "$(nr '{"frequency":"custom","cronExpression":"0 0 13 * 5","timezone":"UTC"}' '2026-12-07 00:00Z')"
expect_eq "monthly 31 in February: its last day" "2027-02-28 06:00:00+00" "$(nr '{"frequency":"monthly","dayOfMonth":31,"hour":6,"timezone":"UTC"}' '2027-02-01 00:00Z')"
expect_eq "quarterly from February: May" "2027-05-15 00:00:00+00" "$(nr '{"frequency":"quarterly","dayOfMonth":15,"monthOfYear":2,"timezone":"UTC"}' '2027-02-16 00:00Z')"
expect_eq "yearly 29 February in a common year: the 28th" "2027-02-28 00:00:00+00" "$(nr '{"frequency":"yearly","dayOfMonth":29,"monthOfYear":2,"timezone":"UTC"}' '2026-03-01 00:00Z')"
expect_eq "hourly at :05 in Kathmandu (+05:45): :20 UTC" "2026-12-07 12:20:00+00" "$(nr '{"frequency":"hourly","minute":5,"timezone":"Asia/Kathmandu"}' '2026-12-07 12:00Z')"
expect_eq "skipWeekends: Friday to Monday" "2026-12-14 08:00:00+00" "$(nr '{"frequency":"daily","hour":9,"skipWeekends":true,"timezone":"Europe/Paris"}' '2026-12-11 09:00Z')"
expect_eq "startDate: the first run on it" "2027-03-01 09:00:00+00" "$(nr '{"frequency":"daily","hour":9,"timezone":"UTC","startDate":"2027-03-01T00:00:00Z"}' '2026-12-07 00:00Z')"
expect_eq "endDate passed: no run" "" "$(nr '{"frequency":"daily","hour":9,"timezone":"UTC","endDate":"2026-12-07T08:00:00Z"}' '2026-12-07 00:00Z')"
finish
