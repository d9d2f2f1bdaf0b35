#!/bin/sh
# bench/faults.sh - the fault figures of issue 14 on a release build: creates under repeated
# PostgreSQL faults (backends ended and `pg_ctl restart -m immediate`, alternately, every 2 s)
# with every answer checked against the database afterwards (tests/tools/fault_load.py: lost =
# 201 but not stored, false503 = 503 but stored); then the time a frozen PostgreSQL (SIGSTOP of
# the postmaster and its backends) takes to turn a create into an answer, /health's time, and
# the first 201 after SIGCONT. Runs on an embedded cluster of its own, removed afterwards.
#
# usage: bench/faults.sh [AUDITDB_BIN [SECONDS [TRIALS]]]   (default build/release/auditdb 120 5)
set -u
BIN=$(cd "$(dirname "${1:-build/release/auditdb}")" && pwd)/$(basename "${1:-build/release/auditdb}")
SECS=${2:-120}
TRIALS=${3:-5}
top=$(cd "$(dirname "$0")/.." && pwd)
D=$(mktemp -d /tmp/adbfaults.XXXXXX)
chmod 755 "$D"
export AUDITDB_HOME="$D/home"
unset AUDIT_DB_URL
SP=
cleanup() {
    [ -n "$SP" ] && kill "$SP" 2>/dev/null && wait "$SP"
    AUDIT_DB_URL= "$BIN" db stop >/dev/null 2>&1
    rm -rf "$D"
}
trap cleanup EXIT INT TERM

"$BIN" db start >/dev/null || exit 1
export AUDIT_DB_URL="host=$AUDITDB_HOME/run port=5432 user=postgres dbname=auditdb"
pgbin=$(dirname "$(sed -n '1s/^"\{0,1\}\([^" ]*\).*/\1/p' "$AUDITDB_HOME/pg/postmaster.opts")")
"$BIN" migrate >/dev/null || exit 1
KEY=$("$BIN" keys create --org org-f --role admin | sed -n 's/^key (shown once, store it now): //p')
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
AUDITDB_RATE_LIMIT_RPS=0 "$BIN" serve --listen "127.0.0.1:$PORT" >"$D/serve.out" 2>"$D/serve.log" &
SP=$!
U="http://127.0.0.1:$PORT"
i=0
until curl -fs -o /dev/null "$U/live"; do
    i=$((i + 1)); [ $i -gt 100 ] && { echo "serve did not start" >&2; cat "$D/serve.log" >&2; exit 1; }
    sleep 0.1
done

create() {
    curl -s -o /dev/null -w "$2" --max-time 30 -H "X-API-Key: $KEY" -H 'Content-Type: application/json' \
        --data-binary "{\"eventData\":{\"action\":\"$1\",\"status\":\"success\"}}" "$U/api/v1/audit/events"
}

echo "== restarts under load ($SECS s, a fault every 2 s: backends ended / restart -m immediate)"
python3 "$top/tests/tools/fault_load.py" "$U" "$KEY" "$AUDIT_DB_URL" "$AUDITDB_HOME/pg" "$pgbin/pg_ctl" \
    --seconds "$SECS" --threads 4 --every 2
rc=$?
echo "== frozen database (SIGSTOP of the postmaster and its backends), $TRIALS trials"
t=1
while [ $t -le "$TRIALS" ]; do
    sleep 1
    pm=$(head -n 1 "$AUDITDB_HOME/pg/postmaster.pid")
    pids="$pm $(pgrep -P "$pm" | tr '\n' ' ')"
    kill -STOP $pids
    c=$(create fig.frozen '%{http_code} in %{time_total} s')
    h=$(curl -s -o /dev/null -w '%{http_code} in %{time_total} s' --max-time 30 "$U/health")
    kill -CONT $pids
    s=$(date +%s.%N)
    while [ "$(create fig.after '%{http_code}')" != 201 ]; do sleep 0.05; done
    e=$(date +%s.%N)
    echo "trial $t: a create during the freeze: $c; /health: $h; first 201 after SIGCONT: $(python3 -c "print(round($e-$s,3))") s"
    t=$((t + 1))
done
exit $rc
