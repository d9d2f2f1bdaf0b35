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

RUN_TMP=$(mktemp -d /tmp/adbtest.XXXXXX)
chmod 755 "$RUN_TMP"
export RUN_TMP

cleanup() {
    AUDITDB_HOME="$RUN_TMP/cluster" AUDIT_DB_URL= "$AUDITDB_BIN" db stop >/dev/null 2>&1
    rm -rf "$RUN_TMP"
}
trap cleanup EXIT INT TERM

# the shared throwaway cluster
if ! AUDITDB_HOME="$RUN_TMP/cluster" AUDIT_DB_URL= "$AUDITDB_BIN" db start >"$RUN_TMP/cluster.log" 2>&1; then
    cat "$RUN_TMP/cluster.log"
    echo "could not start the test cluster"
    echo "0 passed, 1 failed"
    exit 1
fi
ADMIN_URL="host=$RUN_TMP/cluster/run port=5432 user=postgres dbname=postgres"
export ADMIN_URL
export AUDIT_DB_URL="$ADMIN_URL"
export AUDITDB_HOME="$RUN_TMP/home"  # master.key for tests on AUDIT_DB_URL

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
