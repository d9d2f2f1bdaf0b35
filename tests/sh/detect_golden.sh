#!/bin/sh
# detect_golden.sh - issue 20's must-show: a fixture of 1,000,000 events
# (tests/tools/gen_detect_fixture.py, fixed seed: bursts for every rule, near-misses, off-hours
# in four zones across both 2026 DST changes, four organizations) stored with `auditdb import`,
# then replayed through serve's detection engine twice, on two copies of that database: in one
# run, and split by a kill -9 of serve when its engine is about halfway. Both give exactly the
# golden set (tests/golden/alerts/detect_1m.tsv, computed by tests/tools/detect_reference.py),
# every event evaluated once, each hit raised once through adb__alert_raise.
# Long: the runner gives it 900 s (tests/run.sh).
. tests/lib.sh
export AUDITDB_DETECT=true # the engine under test (tests/lib.sh turns it off for the others)
. tests/tools/detect_replay.sh

detect_setup detect_golden || { not_ok "setup"; finish; }
detect_check_defaults
detect_fixture || { not_ok "fixture generated"; finish; }
detect_expected "$TEST_TMP/expected.tsv"
t0=$(date +%s)
check "the fixture imported ($DETECT_EVENTS events)" detect_import "$FIXTURE"
t1=$(date +%s)
expect_eq "every event stored" "$DETECT_EVENTS" "$(sql "SELECT count(*) FROM audit_log")"
# the second copy, made before any engine ran on the first
psql "$ADMIN_URL" -qAtX -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS detect_golden_split WITH (FORCE)" \
    -c "CREATE DATABASE detect_golden_split TEMPLATE detect_golden" >/dev/null
check "a copy of the database for the split replay" [ $? -eq 0 ]
ONE_URL=$AUDIT_DB_URL; SPLIT_URL="$ADMIN_URL dbname=detect_golden_split"

# --- one run -----------------------------------------------------------------------------------
AUDITDB_TREE=false start_serve "$TEST_TMP/serve.log" || { not_ok "serve started"; finish; }
check "the engine evaluated everything" detect_wait 400
t2=$(date +%s)
diag "import $((t1 - t0)) s, the engine's replay $((t2 - t1)) s"
detect_compare "one run"
stop_serve
expect_eq "serve stopped cleanly" 0 $?
detect_no_failed_round "$TEST_TMP/serve.log"

# --- split by kill -9 ----------------------------------------------------------------------------
AUDIT_DB_URL=$SPLIT_URL
AUDITDB_CHECKPOINT_DIR="$TEST_TMP/checkpoints-split"
AUDITDB_TREE=false start_serve "$TEST_TMP/serve1.log" || { not_ok "serve started on the copy"; finish; }
half=$((DETECT_EVENTS / 2)); i=0
while [ $i -lt 3000 ]; do
    done_n=$(sql "SELECT coalesce(sum(evaluated), 0) FROM detection_cursor WHERE source = 'events'")
    [ "$done_n" -ge "$half" ] && break
    sleep 0.1; i=$((i + 1))
done
kill -KILL "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null
at=$(sql "SELECT coalesce(sum(evaluated), 0) FROM detection_cursor WHERE source = 'events'")
diag "serve killed (SIGKILL) with the engine at $at of $DETECT_EVENTS events"
check "killed halfway: the engine past half, not done" [ "$at" -ge "$half" ] && [ "$at" -lt "$DETECT_EVENTS" ]
AUDITDB_TREE=false start_serve "$TEST_TMP/serve2.log" || { not_ok "serve started again"; finish; }
check "the engine evaluated the rest" detect_wait 400
detect_compare "across kill -9"
stop_serve
expect_eq "serve stopped cleanly after the restart" 0 $?
detect_no_failed_round "$TEST_TMP/serve2.log"
AUDIT_DB_URL=$ONE_URL
psql "$ADMIN_URL" -qAtX -c "DROP DATABASE IF EXISTS detect_golden_split WITH (FORCE)" >/dev/null
finish
