#!/bin/sh
# run.sh - the test runner: starts a throwaway embedded PostgreSQL with the
# build under test, runs every test (C test binaries and shell tests), each in
# its own process with a time limit, and ends with "N passed, N failed".
#
# usage: tests/run.sh BUILD_DIR [TEST_NAME_FILTER]
set -u

build=${1:?usage: tests/run.sh BUILD_DIR [FILTER]}
filter=${2:-}
top=$(cd "$(dirname "$0")/.." && pwd)
AUDITDB_BIN=$(cd "$build" && pwd)/auditdb
export AUDITDB_BIN
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:exitcode=99}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# the shared throwaway cluster: scripts/with-cluster.sh runs this script
# again inside it (ADB_IN_CLUSTER marks the second run)
if [ -z "${ADB_IN_CLUSTER:-}" ]; then
    ADB_IN_CLUSTER=1 "$top/scripts/with-cluster.sh" "$AUDITDB_BIN" "$0" "$@"
    rc=$?
    [ $rc -eq 97 ] && echo "0 passed, 1 failed"
    exit $rc
fi

passed=0; failed=0; skipped=0
run_one() {
    name=$1; shift
    case "$name" in *"$filter"*) ;; *) return ;; esac
    echo "# $name"
    out="$RUN_TMP/$name.out"
    TEST_TMP="$RUN_TMP/$name.tmp"; export TEST_TMP
    mkdir -p "$TEST_TMP"; chmod 755 "$TEST_TMP"
    (cd "$top" && timeout -k 10 300 "$@") >"$out" 2>&1
    rc=$?
    cat "$out"
    p=$(grep -c '^ok ' "$out"); f=$(grep -c '^not ok ' "$out"); s=$(grep -c '^skip ' "$out")
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "not ok - $name exited with status $rc"
        f=1
    fi
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
}

for t in "$build"/tests/test_*; do
    [ -x "$t" ] && run_one "$(basename "$t")" "$t"
done
for t in "$top"/tests/sh/*.sh; do
    run_one "$(basename "$t" .sh)" sh "$t"
done

if [ "$skipped" -gt 0 ]; then
    echo "$passed passed, $failed failed, $skipped skipped"
else
    echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
