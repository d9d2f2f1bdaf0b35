#!/bin/sh
# detect_golden.sh - issue 20's must-show: a fixture of 1,000,000 events
# (tests/tools/gen_detect_fixture.py, fixed seed: bursts for every rule, near-misses, off-hours
# in four zones across both 2026 DST changes, four organizations) ingested with `auditdb import`
# while `auditdb serve` runs the detection engine: the hits are exactly the golden set
# (tests/golden/alerts/detect_1m.tsv, computed by tests/tools/detect_reference.py), each raised
# once through adb__alert_raise. detect_golden_restart.sh replays it across a kill -9.
. tests/lib.sh
. tests/tools/detect_replay.sh

detect_setup detect_golden || { not_ok "setup"; finish; }
detect_check_defaults
detect_fixture || { not_ok "fixture generated"; finish; }
detect_expected "$TEST_TMP/expected.tsv"

AUDITDB_TREE=false start_serve "$TEST_TMP/serve.log" || { not_ok "serve started"; finish; }
t0=$(date +%s)
check "the fixture imported ($DETECT_EVENTS events)" detect_import "$FIXTURE"
t1=$(date +%s)
check "the engine caught up with every organization's chain head" detect_wait 240
t2=$(date +%s)
diag "import $((t1 - t0)) s, engine done $((t2 - t1)) s after it"
detect_compare "one run"
stop_serve
expect_eq "serve stopped cleanly" 0 $?
if grep -q '"component":"detect"' "$TEST_TMP/serve.log"; then
    not_ok "no detection round failed"; grep '"component":"detect"' "$TEST_TMP/serve.log" | head -5 | while IFS= read -r l; do diag "$l"; done
else
    ok "no detection round failed"
fi
finish
