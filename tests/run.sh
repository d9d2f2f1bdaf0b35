#!/bin/sh
# run.sh - the test runner: starts a throwaway embedded PostgreSQL with the
# build under test, runs every test (C test binaries and shell tests), each in
# its own process with a time limit, and ends with "N passed, N failed".
#
# usage: tests/run.sh BUILD_DIR [TEST_NAME_FILTER]
#
# Tests run ADB_TEST_JOBS at a time (default 3: most of a test's time is
# spent waiting for a server or a timeout), the longest first; a test's
# output is printed whole when it ends. Tests that read the shared cluster's
# log or time the machine (SERIAL below) run afterwards, one at a time.
set -u

# one test: its output and exit status into $RUN_TMP/out/NAME.{out,rc}, then
# printed whole (under a lock, so that two tests' lines never mix)
if [ -n "${ADB_RUN_ONE:-}" ]; then
    name=$1; shift
    out="$RUN_TMP/out/$name.out"
    TEST_TMP="$RUN_TMP/$name.tmp"; export TEST_TMP
    mkdir -p "$TEST_TMP"; chmod 755 "$TEST_TMP"
    # a home of its own: serve writes admin.key there on a fresh database's
    # first start, and tests side by side must not read each other's
    AUDITDB_HOME="$TEST_TMP/home"; export AUDITDB_HOME
    t0=$(date +%s)
    # the time limit: 300 s, 900 s for detect_golden (a 1,000,000-event replay)
    limit=300
    case " detect_golden " in *" $name "*) limit=900 ;; esac
    (cd "$(dirname "$0")/.." && timeout -k 10 "$limit" "$@") >"$out" 2>&1
    rc=$?
    echo "$rc $(($(date +%s) - t0))" >"$RUN_TMP/out/$name.rc"
    flock "$RUN_TMP/out/.print" sh -c 'echo "# $1 ($2 s)"; cat "$3"' sh "$name" \
        "$(($(date +%s) - t0))" "$out"
    exit 0
fi

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

# Debian's python3 (the one scripts/deps.sh installs modules for) ahead of a
# version manager's shim in PATH, which costs ~0.3 s a call (tests call it
# for every JSON answer)
if [ -x /usr/bin/python3 ]; then
    mkdir -p "$RUN_TMP/bin" && ln -sf /usr/bin/python3 "$RUN_TMP/bin/python3" &&
        PATH="$RUN_TMP/bin:$PATH" && export PATH
fi

# more connections than PostgreSQL's default 100 for tests running side by side
psql "$ADMIN_URL" -qAtX -c "ALTER SYSTEM SET max_connections = 400" >/dev/null &&
    AUDITDB_HOME="$RUN_TMP/cluster" AUDIT_DB_URL= "$AUDITDB_BIN" db stop >/dev/null 2>&1 &&
    AUDITDB_HOME="$RUN_TMP/cluster" AUDIT_DB_URL= "$AUDITDB_BIN" db start >/dev/null 2>&1 ||
    echo "# run.sh: could not raise max_connections; going on"

# the cluster-wide roles the migrations create (auditdb_app and the logins'
# roles), made once before tests run side by side: two tests migrating fresh
# databases at the same moment would both find a role missing, and one
# CREATE ROLE would fail ("role already exists")
psql "$ADMIN_URL" -qAtX -c "CREATE DATABASE t_roles" >/dev/null 2>&1 &&
    AUDITDB_HOME="$RUN_TMP/roles" AUDIT_DB_URL="$ADMIN_URL dbname=t_roles" "$AUDITDB_BIN" migrate >/dev/null 2>&1 &&
    psql "$ADMIN_URL" -qAtX -c "DROP DATABASE t_roles" >/dev/null 2>&1 ||
    echo "# run.sh: could not make the cluster's roles first; going on"

# the longest first (seconds measured on 2 cores), then the rest in name order
LONG="detect_golden delivery_destinations archive fuzz client_events_shapes delivery_load events_export api_archives"
# read the shared cluster's log from an offset, or time things: alone
SERIAL="presets sort_plans stats_bound privacy_log api_totals abuse limits"

mkdir -p "$RUN_TMP/out"
list="$RUN_TMP/list"; serial="$RUN_TMP/serial"
: >"$list"; : >"$serial"
add() { # name command...
    n=$1
    case "$n" in *"$filter"*) ;; *) return ;; esac
    case " $SERIAL " in *" $n "*) echo "$*" >>"$serial"; return ;; esac
    echo "$*" >>"$list"
}
for n in $LONG; do
    [ -f "$top/tests/sh/$n.sh" ] && add "$n" sh "$top/tests/sh/$n.sh"
done
for t in "$build"/tests/test_*; do
    [ -x "$t" ] && add "$(basename "$t")" "$t"
done
for t in "$top"/tests/sh/*.sh; do
    n=$(basename "$t" .sh)
    case " $LONG " in *" $n "*) continue ;; esac
    add "$n" sh "$t"
done

export ADB_RUN_ONE=1
xargs -r -P "${ADB_TEST_JOBS:-3}" -L 1 "$0" <"$list"
xargs -r -P 1 -L 1 "$0" <"$serial"

passed=0; failed=0; skipped=0
for r in "$RUN_TMP"/out/*.rc; do
    [ -f "$r" ] || continue
    name=$(basename "$r" .rc); out="$RUN_TMP/out/$name.out"
    read -r rc secs <"$r"
    p=$(grep -c '^ok ' "$out"); f=$(grep -c '^not ok ' "$out"); s=$(grep -c '^skip ' "$out")
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "not ok - $name exited with status $rc"
        f=1
    fi
    [ "$f" -gt 0 ] && echo "# failed: $name ($f)"
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
done
if [ "$skipped" -gt 0 ]; then
    echo "$passed passed, $failed failed, $skipped skipped"
else
    echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
