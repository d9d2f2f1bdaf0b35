#!/bin/sh
# report_exactly_once.sh - the must-shows of scheduled executions
# (docs/reports.md, "Exactly once"), against real serves and PostgreSQL:
#  1. kill -9 of serve during an execution, then a restart: exactly one
#     execution row for that scheduled instant, resumed (attempts 2);
#  2. three days of downtime with a daily schedule and a catch-up maximum of
#     2: exactly two catch-up runs, marked 'catchup', the older missed
#     instant recorded 'skipped' (MISSED), the next run three days on; two
#     serves restarted side by side claim each instant once;
#  3. an overlapping instant skipped, a cancel; the queue and replace overlap
#     policies; 4. a timeout (resumes count),
#     and a report a crash left running marked interrupted.
# The scheduler's clock is moved with AUDITDB_REPORT_CLOCK_FILE (test build).
. "$(dirname "$0")/../lib.sh"

fresh_db report_once
"$AUDITDB_BIN" migrate >/dev/null || { not_ok "migrate"; finish; }
# the organization exists (a key of it): its reports are generated for real once generation is in
KEY=$("$AUDITDB_BIN" keys create --org org-once --role admin | sed -n 's/^key (shown once, store it now): //p')
CLOCK="$TEST_TMP/clock"; echo 0 >"$CLOCK"
export AUDITDB_REPORT_CLOCK_FILE="$CLOCK" AUDITDB_REPORT_TICK_MS=200 AUDITDB_REPORT_LEASE_MS=2000
export AUDITDB_DELIVERY_THREADS=0
# the scheduler's "now" as SQL
clock_now() { echo "(now() + interval '1 millisecond' * $(cat "$CLOCK"))"; }

# wait_sql QUERY EXPECTED [TRIES]: polls QUERY every 0.2 s until it prints EXPECTED
wait_sql() {
    i=0
    while [ $i -lt "${3:-150}" ]; do
        [ "$(sql "$1")" = "$2" ] && return 0
        sleep 0.2; i=$((i + 1))
    done
    return 1
}

# new_schedule ID SCHEDULE_JSON: a schedule row as the API stores it, next_run from the clock
new_schedule() {
    sql "INSERT INTO scheduled_reports (id, name, organization_id, report_type, criteria, format,
          schedule, delivery, export, notification, created_by, next_run)
         SELECT '$1', 'test $1', 'org-once', 'HIPAA_AUDIT_TRAIL', '{}', 'json', s,
                '{\"destinations\": []}', '{\"format\": \"json\"}', '{}', 'test',
                adb_report_next_run(s, $(clock_now))
         FROM (SELECT ($2)::jsonb AS s) x" >/dev/null
}

start_serve "$TEST_TMP/serve1.log" || { not_ok "serve starts"; cat "$TEST_TMP/serve1.log"; finish; }

# ---- 0. a schedule PostgreSQL cannot compute (a superuser wrote a bad zone) is parked ----------
sql "INSERT INTO scheduled_reports (id, name, organization_id, report_type, criteria, format,
      schedule, delivery, export, notification, created_by, next_run)
     VALUES ('report-poison', 'poison', 'org-once', 'HIPAA_AUDIT_TRAIL', '{}', 'json',
             '{\"frequency\": \"daily\", \"timezone\": \"Mars/Olympus\", \"hour\": 1, \"minute\": 0}',
             '{\"destinations\": []}', '{}', '{}', 'test', now() - interval '1 minute')" >/dev/null
check "a schedule that cannot be computed is parked with the reason" wait_sql \
    "SELECT next_run IS NULL AND metadata->>'schedulerError' LIKE '%Mars/Olympus%' FROM scheduled_reports WHERE id = 'report-poison'" t
expect_eq "and nothing ran for it" 0 "$(sql "SELECT count(*) FROM report_executions WHERE scheduled_report_id = 'report-poison'")"

# ---- 1. kill -9 during an execution -----------------------------------------------------------
new_schedule report-kill "jsonb_build_object('frequency', 'daily', 'timezone', 'UTC',
    'hour', extract(hour FROM now() + interval '6 hours')::int, 'minute', 0)"
inst=$(sql "SELECT next_run FROM scheduled_reports WHERE id = 'report-kill'")
sleep 1
expect_eq "nothing runs before its instant" 0 "$(sql "SELECT count(*) FROM report_executions")"
stop_serve
# the instant is one second past; the execution is held running (test delay) and killed
AUDITDB_REPORT_TEST_DELAY_MS=60000 start_serve "$TEST_TMP/serve2.log" ||
    { not_ok "serve restarts"; cat "$TEST_TMP/serve2.log"; finish; }
echo $(( $(sql "SELECT (EXTRACT(EPOCH FROM next_run - now()) * 1000)::bigint + 1000
                FROM scheduled_reports WHERE id = 'report-kill'") )) >"$CLOCK"
check "the instant's execution runs" wait_sql \
    "SELECT status || ' ' || trigger || ' ' || attempts FROM report_executions
     WHERE scheduled_report_id = 'report-kill'" "running scheduled 1"
kill -9 "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null
expect_eq "after kill -9 the row is still running under a dead claim" "running" \
    "$(sql "SELECT status FROM report_executions WHERE scheduled_report_id = 'report-kill'")"
expect_eq "next_run was advanced with the row, in its transaction" "t" \
    "$(sql "SELECT next_run = '$inst'::timestamptz + interval '1 day' FROM scheduled_reports WHERE id = 'report-kill'")"
start_serve "$TEST_TMP/serve3.log" || { not_ok "serve restarts after kill -9"; cat "$TEST_TMP/serve3.log"; finish; }
check "the killed execution is resumed and ends" wait_sql \
    "SELECT status IN ('completed', 'failed') FROM report_executions WHERE scheduled_report_id = 'report-kill'" "t"
expect_eq "exactly one execution row for that instant, started twice" "1 2 scheduled" \
    "$(sql "SELECT count(*) || ' ' || max(attempts) || ' ' || max(trigger) FROM report_executions
            WHERE scheduled_report_id = 'report-kill' AND scheduled_time = '$inst'")"
expect_eq "and no other row for the schedule" 1 \
    "$(sql "SELECT count(*) FROM report_executions WHERE scheduled_report_id = 'report-kill'")"
diag "$(sql "SELECT status, error_code, error, report_id FROM report_executions WHERE scheduled_report_id = 'report-kill'")"
# with generation built (rgen), the resumed execution produced one completed report of its own
if [ "$(sql "SELECT status FROM report_executions WHERE scheduled_report_id = 'report-kill'")" = completed ]; then
    expect_eq "the resumed execution's report is completed and named in the row" "completed" \
        "$(sql "SELECT c.status FROM compliance_reports c JOIN report_executions e ON e.report_id = c.id
                WHERE e.scheduled_report_id = 'report-kill'")"
fi
expect_eq "the schedule counted one execution" 1 \
    "$(sql "SELECT execution_count FROM scheduled_reports WHERE id = 'report-kill'")"
sql "UPDATE scheduled_reports SET enabled = 'false' WHERE id = 'report-kill'" >/dev/null

# ---- 2. three days down, catch-up maximum 2 ---------------------------------------------------
new_schedule report-daily "jsonb_build_object('frequency', 'daily', 'timezone', 'UTC',
    'hour', extract(hour FROM $(clock_now) + interval '12 hours')::int, 'minute', 0,
    'catchUpMissedRuns', true, 'maxMissedRuns', 2)"
first=$(sql "SELECT next_run FROM scheduled_reports WHERE id = 'report-daily'")
sleep 1
expect_eq "the daily schedule has not run yet" 0 \
    "$(sql "SELECT count(*) FROM report_executions WHERE scheduled_report_id = 'report-daily'")"
stop_serve
echo $(( $(cat "$CLOCK") + 3 * 86400000 )) >"$CLOCK"
# two serves come back at once: each instant is claimed by one of them
start_serve "$TEST_TMP/serve4.log" || { not_ok "serve 4 starts"; cat "$TEST_TMP/serve4.log"; finish; }
pid4=$SERVE_PID
start_serve "$TEST_TMP/serve5.log" || { not_ok "serve 5 starts"; cat "$TEST_TMP/serve5.log"; }
check "the missed instants are handled" wait_sql \
    "SELECT count(*) FILTER (WHERE status IN ('completed', 'failed', 'skipped')) FROM report_executions
     WHERE scheduled_report_id = 'report-daily'" 3
sleep 1
expect_eq "three instants missed, three rows" 3 \
    "$(sql "SELECT count(*) FROM report_executions WHERE scheduled_report_id = 'report-daily'")"
expect_eq "exactly two catch-up runs, the two newest instants" \
    "2 $(sql "SELECT '$first'::timestamptz + interval '1 day'") $(sql "SELECT '$first'::timestamptz + interval '2 days'")" \
    "$(sql "SELECT count(*) || ' ' || min(scheduled_time) || ' ' || max(scheduled_time) FROM report_executions
            WHERE scheduled_report_id = 'report-daily' AND trigger = 'catchup'")"
expect_eq "the oldest is recorded skipped as missed, not run" "$first skipped MISSED" \
    "$(sql "SELECT scheduled_time || ' ' || status || ' ' || error_code FROM report_executions
            WHERE scheduled_report_id = 'report-daily' AND trigger <> 'catchup'")"
expect_eq "the catch-ups ran (ended, once each)" "2" \
    "$(sql "SELECT count(*) FROM report_executions WHERE scheduled_report_id = 'report-daily'
            AND trigger = 'catchup' AND status IN ('completed', 'failed') AND attempts = 1")"
expect_eq "the next run is the regular one, three days after the first" "t" \
    "$(sql "SELECT next_run = '$first'::timestamptz + interval '3 days' FROM scheduled_reports WHERE id = 'report-daily'")"
kill "$pid4" "$SERVE_PID" 2>/dev/null; wait "$pid4" 2>/dev/null; wait "$SERVE_PID" 2>/dev/null

# ---- 3. overlap: an instant due while the previous run still runs (on another thread of the same
# serve) is skipped; cancel a running one
new_schedule report-overlap "'{\"frequency\": \"custom\", \"cronExpression\": \"0 * * * *\", \"timezone\": \"UTC\"}'"
AUDITDB_REPORT_TEST_DELAY_MS=120000 start_serve "$TEST_TMP/serve6.log" ||
    { not_ok "serve 6 starts"; cat "$TEST_TMP/serve6.log"; finish; }
echo $(( $(sql "SELECT (EXTRACT(EPOCH FROM next_run - now()) * 1000)::bigint + 1000
                FROM scheduled_reports WHERE id = 'report-overlap'") )) >"$CLOCK"
check "the first hour's execution runs (held)" wait_sql \
    "SELECT string_agg(status, ' ') FROM report_executions WHERE scheduled_report_id = 'report-overlap'" running
echo $(( $(cat "$CLOCK") + 3600000 )) >"$CLOCK"
check "the next hour, due while it runs, is skipped as an overlap" wait_sql \
    "SELECT string_agg(status || ' ' || coalesce(error_code, '-'), ', ' ORDER BY scheduled_time)
     FROM report_executions WHERE scheduled_report_id = 'report-overlap'" "running -, skipped OVERLAP"
sql "UPDATE report_executions SET cancel_requested = true WHERE scheduled_report_id = 'report-overlap' AND status = 'running'" >/dev/null
check "a cancel stops the running execution at its next step" wait_sql \
    "SELECT string_agg(status, ' ' ORDER BY scheduled_time) FROM report_executions WHERE scheduled_report_id = 'report-overlap'" "cancelled skipped"
expect_eq "one row per instant, never two" "2 2" \
    "$(sql "SELECT count(*) || ' ' || count(DISTINCT scheduled_time) FROM report_executions WHERE scheduled_report_id = 'report-overlap'")"
# the other overlap policies (metadata.overlapPolicy): queue holds one waiting instant, replace
# cancels the running one for the newer instant
# (every other schedule off: none may fall due while the clock moves and take a runner)
sql "UPDATE scheduled_reports SET enabled = 'false'" >/dev/null
for pol in queue replace; do
    new_schedule "report-$pol" "'{\"frequency\": \"custom\", \"cronExpression\": \"0 * * * *\", \"timezone\": \"UTC\"}'"
    sql "UPDATE scheduled_reports SET metadata = '{\"overlapPolicy\": \"$pol\"}' WHERE id = 'report-$pol'" >/dev/null
done
echo $(( $(sql "SELECT (EXTRACT(EPOCH FROM max(next_run) - now()) * 1000)::bigint + 1000
                FROM scheduled_reports WHERE id IN ('report-queue', 'report-replace')") )) >"$CLOCK"
check "queue, replace: the first hour's executions run (held)" wait_sql \
    "SELECT count(*) FROM report_executions WHERE scheduled_report_id IN ('report-queue', 'report-replace') AND status = 'running'" 2
echo $(( $(cat "$CLOCK") + 3600000 )) >"$CLOCK"
check "queue: the next hour waits, pending, behind the running one" wait_sql "$(printf '%s' "SELECT string_agg(status || ' ' || coalesce(error_code, '-'), ', ' ORDER BY scheduled_time) FROM report_executions WHERE scheduled_report_id = 'report-queue'")" "running -, pending -"
check "replace: the running one is cancelled, the next hour runs" wait_sql "$(printf '%s' "SELECT string_agg(status, ', ' ORDER BY scheduled_time) FROM report_executions WHERE scheduled_report_id = 'report-replace'")" "cancelled, running"
echo $(( $(cat "$CLOCK") + 3600000 )) >"$CLOCK"
check "queue: a third hour while one waits is skipped (the queue holds one)" wait_sql "$(printf '%s' "SELECT string_agg(status || ' ' || coalesce(error_code, '-'), ', ' ORDER BY scheduled_time) FROM report_executions WHERE scheduled_report_id = 'report-queue'")" "running -, pending -, skipped OVERLAP"
check "replace: again the newest runs, the older cancelled" wait_sql "$(printf '%s' "SELECT string_agg(status, ', ' ORDER BY scheduled_time) FROM report_executions WHERE scheduled_report_id = 'report-replace'")" "cancelled, cancelled, running"
expect_eq "queue, replace: one row per instant" "6 6" \
    "$(sql "SELECT count(*) || ' ' || count(DISTINCT (scheduled_report_id, scheduled_time)) FROM report_executions WHERE scheduled_report_id IN ('report-queue', 'report-replace')")"
# the runners freed for section 4: the schedules off, their executions cancelled
sql "UPDATE scheduled_reports SET enabled = 'false' WHERE id IN ('report-queue', 'report-replace')" >/dev/null
sql "UPDATE report_executions SET cancel_requested = true, status = CASE WHEN status = 'pending' THEN 'cancelled' ELSE status END
     WHERE scheduled_report_id IN ('report-queue', 'report-replace') AND status IN ('pending', 'running')" >/dev/null
check "...their executions end" wait_sql \
    "SELECT count(*) FROM report_executions WHERE scheduled_report_id IN ('report-queue', 'report-replace') AND status IN ('pending', 'running')" 0
stop_serve

# ---- 4. a timeout: an execution running longer than AUDITDB_REPORT_TIMEOUT_MS ends 'timeout',
# counted as a failure; a report a lost claim left running is marked interrupted on resume
sql "UPDATE scheduled_reports SET enabled = 'false' WHERE id = 'report-overlap'" >/dev/null
new_schedule report-slow "'{\"frequency\": \"custom\", \"cronExpression\": \"0 * * * *\", \"timezone\": \"UTC\"}'"
AUDITDB_REPORT_TEST_DELAY_MS=120000 AUDITDB_REPORT_TIMEOUT_MS=3000 start_serve "$TEST_TMP/serve7.log" ||
    { not_ok "serve 7 starts"; cat "$TEST_TMP/serve7.log"; finish; }
echo $(( $(sql "SELECT (EXTRACT(EPOCH FROM next_run - now()) * 1000)::bigint + 1000
                FROM scheduled_reports WHERE id = 'report-slow'") )) >"$CLOCK"
check "the slow execution runs" wait_sql \
    "SELECT status FROM report_executions WHERE scheduled_report_id = 'report-slow'" running
EX=$(sql "SELECT id FROM report_executions WHERE scheduled_report_id = 'report-slow'")
# what a crash during generation leaves: a report of this execution still 'running'
sql "INSERT INTO compliance_reports (id, organization_id, report_type, status, format, criteria,
      report_period_start, report_period_end, generated_by, execution_id)
     VALUES ('report-orphan', 'org-once', 'HIPAA_AUDIT_TRAIL', 'running', 'json', '{}', now(), now(), 'test', '$EX')" >/dev/null 2>&1 ||
    diag "(the orphan fixture could not be inserted: $(sql "SELECT 1" 2>&1))"
kill -9 "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null
AUDITDB_REPORT_TEST_DELAY_MS=120000 AUDITDB_REPORT_TIMEOUT_MS=3000 start_serve "$TEST_TMP/serve8.log" ||
    { not_ok "serve 8 starts"; cat "$TEST_TMP/serve8.log"; finish; }
check "resumed, it ends 'timeout' (3 s from its first start, not from the resume)" wait_sql \
    "SELECT status || ' ' || error_code || ' ' || attempts FROM report_executions WHERE id = '$EX'" "timeout TIMEOUT 2"
expect_eq "...counted as a failure of the schedule" "1 0 1" \
    "$(sql "SELECT execution_count || ' ' || success_count || ' ' || failure_count FROM scheduled_reports WHERE id = 'report-slow'")"
expect_eq "...the report the crash left running is marked interrupted" "failed interrupted" \
    "$(sql "SELECT status || ' ' || split_part(error, ':', 1) FROM compliance_reports WHERE id = 'report-orphan'")"
stop_serve
for f in serve1 serve2 serve3 serve4 serve5 serve6 serve7 serve8; do
    if grep -q 'ERROR: AddressSanitizer\|runtime error' "$TEST_TMP/$f.log" 2>/dev/null; then
        not_ok "no sanitizer report ($f)"; cat "$TEST_TMP/$f.log"
    fi
done
finish
