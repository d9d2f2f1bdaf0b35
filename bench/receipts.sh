#!/bin/sh
# bench/receipts.sh - receipts of a large organization against a raw SELECT (issue 16, "Speed"):
# a fresh database, BENCH_RECEIPT_EVENTS events of one organization loaded straight with COPY and
# its Merkle tree built by the library's Merkle code (bench_receipts load), `auditdb serve` started
# on it (one event posted so that the checkpointer signs a checkpoint of the tree), then
# BENCH_RECEIPT_SAMPLES random events: GET /api/v1/audit/events/{id}/proof over HTTP against the
# raw SELECT of the same event by its id over libpq, in the same run (bench_receipts run): p50,
# p99 and their ratios; goal: p99 ratio <= 2.
#
# usage: scripts/with-cluster.sh build/release/auditdb bench/receipts.sh
# knobs: BENCH_RECEIPT_EVENTS (default 10000000; use 200000 while developing),
# BENCH_RECEIPT_SAMPLES (default 5000), BENCH_RECEIPT_BASELINE_BIN (another auditdb binary, e.g.
# an older build: its serve is measured too, after this one's, on the same data). Method and figures: bench/README.md, "Receipts of a large
# organization".
set -u

BIN=${AUDITDB_BIN:-build/release/auditdb}
CLIENT=${BENCH_RECEIPT_CLIENT:-build/release/bench/bench_receipts}
EVENTS=${BENCH_RECEIPT_EVENTS:-10000000}
SAMPLES=${BENCH_RECEIPT_SAMPLES:-5000}
ORG=bench-receipts
SERVER_PID=
W=

die() {
    echo "receipts.sh: $*" >&2
    [ -n "$W" ] && [ -f "$W/serve.log" ] && tail -n 20 "$W/serve.log" >&2
    exit 1
}

for v in ADMIN_URL RUN_TMP AUDITDB_HOME; do
    eval "[ -n \"\${$v:-}\" ]" || die "$v is not set: run me as scripts/with-cluster.sh $BIN bench/receipts.sh"
done
for t in curl psql python3; do
    command -v "$t" >/dev/null 2>&1 || die "$t is missing"
done
[ -x "$BIN" ] || die "$BIN is not built (make)"
[ -x "$CLIENT" ] || die "$CLIENT is not built (make MODE=release $CLIENT)"
for n in "$EVENTS" "$SAMPLES"; do
    case $n in '' | *[!0-9]*) die "knob value \"$n\" is not a whole number" ;; esac
done

W=$RUN_TMP/receipts
mkdir -p "$W" || die "cannot create $W"
stop_server() {
    [ -n "$SERVER_PID" ] || return 0
    kill -TERM "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
    SERVER_PID=
}
trap stop_server EXIT
trap 'exit 130' INT TERM

AUDIT_DB_URL="$ADMIN_URL dbname=bench_receipts"
export AUDIT_DB_URL
psql "$ADMIN_URL" -qX -v ON_ERROR_STOP=1 -c 'DROP DATABASE IF EXISTS bench_receipts' \
    -c 'CREATE DATABASE bench_receipts' >/dev/null 2>&1 || die "could not create database bench_receipts"
"$BIN" migrate >"$W/migrate.log" 2>&1 || { cat "$W/migrate.log" >&2; die "auditdb migrate failed"; }
KEY=$("$BIN" keys create --org "$ORG" --role admin --name bench-receipts 2>/dev/null |
    sed -n 's/^key (shown once, store it now): //p')
[ -n "$KEY" ] || die "keys create failed"

echo "receipts: loading $EVENTS events (COPY, tiles by the library's Merkle code)"
"$CLIENT" load "$AUDIT_DB_URL" "$ORG" "$EVENTS" || die "load failed"
# the detection engine as a deployment has it: caught up with events that arrived over time.
# The loader wrote them behind serve's back, so without this its engine would spend the whole
# measurement replaying ten million events (a load no steady deployment has; bench/detect.sh
# measures the engine itself).
psql "$AUDIT_DB_URL" -qAtX -v ON_ERROR_STOP=1 -v org="$ORG" >/dev/null <<'SQL' || die "could not set the detection cursor"
INSERT INTO detection_cursor (organization_id, source, position, evaluated)
SELECT organization_id, 'events', last_seq, last_seq FROM audit_chain_head
 WHERE organization_id = :'org'
ON CONFLICT (organization_id, source) DO UPDATE SET position = excluded.position,
  evaluated = excluded.evaluated;
SQL

measure() { # BIN: start its serve, wait for a checkpoint covering the data, run the client
    SBIN=$1
    PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])') ||
        die "no free port"
    BASE=http://127.0.0.1:$PORT
    AUDITDB_RATE_LIMIT_RPS=1000000 AUDITDB_RATE_LIMIT_BURST=1000000 \
        "$SBIN" serve --listen "127.0.0.1:$PORT" >>"$W/serve.log" 2>&1 &
    SERVER_PID=$!
    i=0
    until curl -fsS --max-time 2 -o /dev/null "$BASE/live" 2>/dev/null; do
        i=$((i + 1))
        { [ "$i" -ge 120 ] || ! kill -0 "$SERVER_PID" 2>/dev/null; } && die "serve did not answer /live"
        sleep 0.5
    done
    # one event through the API: the tree grows by it and the checkpointer signs a checkpoint
    # that covers the loaded events
    now=$(date -u +%Y-%m-%dT%H:%M:%S.000Z)
    code=$(curl -s -o "$W/post.out" -w '%{http_code}' -H "X-API-Key: $KEY" -H 'Content-Type: application/json' \
        --data-binary "{\"eventData\":{\"timestamp\":\"$now\",\"action\":\"bench.start\",\"status\":\"success\"}}" \
        "$BASE/api/v1/audit/events")
    [ "$code" = 201 ] || die "POST event: $code $(cat "$W/post.out")"
    i=0
    until [ "$(curl -fsS -H "X-API-Key: $KEY" "$BASE/api/v1/audit/log/checkpoint" 2>/dev/null | sed -n 2p)" -gt "$EVENTS" ] 2>/dev/null; do
        i=$((i + 1))
        [ "$i" -ge 600 ] && die "no checkpoint beyond $EVENTS within 60 s"
        sleep 0.1
    done
    VKEY=$("$SBIN" log vkey) || die "no log vkey"
    echo "serve: $SBIN"
    "$CLIENT" run "$BASE" "$KEY" "$AUDIT_DB_URL" "$ORG" "$SAMPLES" "$VKEY" || die "run failed"
    stop_server
}
measure "$BIN"
[ -n "${BENCH_RECEIPT_BASELINE_BIN:-}" ] && measure "$BENCH_RECEIPT_BASELINE_BIN"
