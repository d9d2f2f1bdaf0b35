#!/bin/sh
# bench/http_ingest.sh - ingestion through the HTTP API from an empty database (issue 14,
# item 18): a fresh database, `auditdb serve` started on it, bulk requests of 100 events over
# 16 keep-alive connections (closed loop) until BENCH_HTTP_EVENTS events are stored; the rate
# at the start and after 300,000 events, then the same after a restart of serve on the same
# data; then single creates (one event a request) over the same 16 connections: events/s, p50 and
# p99 latency; all as ratios against raw COPY of the same rows into the same schema, in the same
# run.
#
# usage: scripts/with-cluster.sh build/release/auditdb bench/http_ingest.sh
# (needs ADMIN_URL, RUN_TMP and AUDITDB_HOME from with-cluster.sh; build/release/bench/http_ingest,
# curl, psql, python3). Method, knobs and figures: bench/README.md, "HTTP ingestion".
set -u

BIN=${AUDITDB_BIN:-build/release/auditdb}
CLIENT=${BENCH_HTTP_CLIENT:-build/release/bench/http_ingest}
EVENTS=${BENCH_HTTP_EVENTS:-330000}
WINDOW=${BENCH_HTTP_WINDOW:-30000}
CONNS=${BENCH_HTTP_CONNS:-16}
CHUNK=${BENCH_HTTP_CHUNK:-100}
ORGS=${BENCH_HTTP_ORGS:-4}
AFTER=${BENCH_HTTP_AFTER:-300000}
SERVER_THREADS=${BENCH_HTTP_SERVER_THREADS:-}
SINGLE=${BENCH_HTTP_SINGLE:-20000}

SERVER_PID=
W=

die() {
    echo "http_ingest.sh: $*" >&2
    [ -n "$W" ] && [ -f "$W/serve.log" ] && tail -n 20 "$W/serve.log" >&2
    exit 1
}

for v in ADMIN_URL RUN_TMP AUDITDB_HOME; do
    eval "[ -n \"\${$v:-}\" ]" || die "$v is not set: run me as scripts/with-cluster.sh $BIN bench/http_ingest.sh"
done
for t in curl psql python3 awk sed; do
    command -v "$t" >/dev/null 2>&1 || die "$t is missing"
done
[ -x "$BIN" ] || die "$BIN is not built (make)"
[ -x "$CLIENT" ] || die "$CLIENT is not built (make MODE=release $CLIENT)"
for n in "$EVENTS" "$WINDOW" "$CONNS" "$CHUNK" "$ORGS" "$AFTER" "$SINGLE" ${SERVER_THREADS:+"$SERVER_THREADS"}; do
    case $n in '' | *[!0-9]*) die "knob value \"$n\" is not a whole number" ;; esac
done
[ "$AFTER" -lt "$EVENTS" ] || die "BENCH_HTTP_AFTER ($AFTER) must be below BENCH_HTTP_EVENTS ($EVENTS)"
[ "$ORGS" -ge 1 ] && [ "$ORGS" -le 64 ] || die "BENCH_HTTP_ORGS must be 1..64"

W=$RUN_TMP/http_ingest
mkdir -p "$W" || die "cannot create $W"

stop_server() {
    [ -n "$SERVER_PID" ] || return 0
    kill -TERM "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
    SERVER_PID=
}
trap stop_server EXIT
trap 'exit 130' INT TERM

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])') ||
    die "no free port"
BASE=http://127.0.0.1:$PORT

start_server() {
    # the per-key rate limiter stays on (its cost is part of every request), high enough not to
    # refuse the benchmark's own load
    AUDITDB_RATE_LIMIT_RPS=1000000 AUDITDB_RATE_LIMIT_BURST=1000000 \
        "$BIN" serve --listen "127.0.0.1:$PORT" ${SERVER_THREADS:+--threads "$SERVER_THREADS"} \
        >>"$W/serve.log" 2>&1 &
    SERVER_PID=$!
    i=0
    until curl -fsS --max-time 2 -o /dev/null "$BASE/live" 2>/dev/null; do
        i=$((i + 1))
        if [ "$i" -ge 60 ] || ! kill -0 "$SERVER_PID" 2>/dev/null; then
            die "auditdb serve did not answer /live within 30 s"
        fi
        sleep 0.5
    done
}

echo "== HTTP ingestion from an empty database: $EVENTS events, bulk requests of $CHUNK over" \
    "$CONNS connections, $ORGS organizations; trees ${AUDITDB_TREE:-true}; $(nproc) cores; $("$BIN" version)"

# --- a fresh deployment: empty database, migrations, keys --------------------------------
AUDIT_DB_URL="$ADMIN_URL dbname=bench_http"
export AUDIT_DB_URL
psql "$ADMIN_URL" -qX -v ON_ERROR_STOP=1 -c 'DROP DATABASE IF EXISTS bench_http' \
    -c 'CREATE DATABASE bench_http' >/dev/null 2>&1 || die "could not create database bench_http"
"$BIN" migrate >"$W/migrate.log" 2>&1 || { cat "$W/migrate.log" >&2; die "auditdb migrate failed"; }
: >"$W/keys"
o=0
while [ "$o" -lt "$ORGS" ]; do
    out=$("$BIN" keys create --org "org-$o" --role ingest --name bench-http 2>&1) || {
        echo "$out" >&2
        die "keys create failed"
    }
    echo "$out" | sed -n 's/^key (shown once, store it now): //p' >>"$W/keys"
    o=$((o + 1))
done
[ "$(wc -l <"$W/keys")" -eq "$ORGS" ] || die "no key in the output of keys create"
# BENCH_HTTP_ZONE: the organizations' detection time zone (default UTC). The default off-hours
# rule (22:00-06:00 local) raises an alert for each of the bench's principals when the run falls
# in that window (bench/README.md, "Detection rules")
if [ -n "${BENCH_HTTP_ZONE:-}" ]; then
    o=0
    while [ "$o" -lt "$ORGS" ]; do
        psql "$AUDIT_DB_URL" -qAtX -v ON_ERROR_STOP=1 -v org="org-$o" -v zone="$BENCH_HTTP_ZONE" >/dev/null <<'SQL' ||
INSERT INTO detection_settings (organization_id, timezone) VALUES (:'org', :'zone')
ON CONFLICT (organization_id) DO UPDATE SET timezone = excluded.timezone;
SQL
            die "could not set the organizations' zone to $BENCH_HTTP_ZONE"
        o=$((o + 1))
    done
fi
echo "-- the organizations' local time (detection zone ${BENCH_HTTP_ZONE:-UTC}): $(psql "$AUDIT_DB_URL" -qAtX -v zone="${BENCH_HTTP_ZONE:-UTC}" <<'SQL'
SELECT to_char(now() AT TIME ZONE :'zone', 'HH24:MI');
SQL
)"
# an operator key reads /metrics: the trees' integration delay (docs/log.md)
OPKEY=$("$BIN" keys create --role operator --name bench-http 2>/dev/null |
    sed -n 's/^key (shown once, store it now): //p')
TREE=${AUDITDB_TREE:-true}

# --- HTTP from empty to EVENTS, each window followed by the raw COPY of its very rows -------
# into a fresh database of the same schema (http_ingest interleave): on a shared machine the
# load changes from one minute to the next, and both sides of the ratio see the same moments
start_server
echo "-- auditdb serve on $BASE; ingesting $EVENTS events, each window of $WINDOW then COPYed"
"$CLIENT" interleave "$BASE" "$W/keys" "$AUDIT_DB_URL" "$EVENTS" "$CONNS" "$CHUNK" "$WINDOW" \
    >"$W/run1.out" 2>"$W/run1.err" || { cat "$W/run1.err" >&2; die "the HTTP run failed"; }
# the trees: every event's delay from its commit to its tree's commit, over the whole run
sleep 1
curl -s -H "X-API-Key: $OPKEY" "$BASE/metrics" >"$W/metrics1.txt" 2>/dev/null
stop_server
start_server
"$CLIENT" post "$BASE" "$W/keys" "$WINDOW" "$CONNS" "$CHUNK" "$WINDOW" >"$W/run2.out" 2>"$W/run2.err" ||
    { cat "$W/run2.err" >&2; die "the HTTP run after the restart failed"; }
echo "-- $SINGLE single creates over $CONNS connections"
"$CLIENT" single "$BASE" "$W/keys" "$SINGLE" "$CONNS" "$((EVENTS + WINDOW))" >"$W/single.out" 2>"$W/single.err" ||
    { cat "$W/single.err" >&2; die "the single-create run failed"; }
stop_server

# --- and the classic reference: every stored row, one raw COPY, into a fresh database -----
"$CLIENT" copy "$AUDIT_DB_URL" >"$W/copy.out" 2>"$W/copy.err" || { cat "$W/copy.err" >&2; die "COPY failed"; }

# --- figures ------------------------------------------------------------------------------
field() { tr ' ' '\n' | sed -n "s/^$1=//p"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
result=$(grep '^RESULT' "$W/run1.out")
http_rate=$(echo "$result" | field rate)
icopy_rate=$(echo "$result" | field copy_rate)
copy_rate=$(field rate <"$W/copy.out")
stored=$(field rows <"$W/copy.out")
first=$(grep '^WINDOW' "$W/run1.out" | head -n 1)
start_rate=$(echo "$first" | field rate)
start_copy=$(echo "$first" | field copy_rate)
# the first window that starts at or after AFTER events
after_line=$(awk -v a="$AFTER" '/^WINDOW/ { split($2, f, "="); if (f[2] + 0 >= a + 0) { print; exit } }' "$W/run1.out")
[ -n "$after_line" ] || die "no window starts after $AFTER events (BENCH_HTTP_EVENTS too small?)"
after_rate=$(echo "$after_line" | field rate)
after_copy=$(echo "$after_line" | field copy_rate)
after_from=$(echo "$after_line" | field from)
restart_rate=$(head -n 1 "$W/run2.out" | field rate)
single_rate=$(field rate <"$W/single.out")
single_p50=$(field p50 <"$W/single.out")
single_p99=$(field p99 <"$W/single.out")
[ -n "$http_rate" ] && [ -n "$icopy_rate" ] && [ -n "$copy_rate" ] && [ -n "$start_rate" ] &&
    [ -n "$after_rate" ] && [ -n "$restart_rate" ] && [ -n "$single_rate" ] ||
    die "missing figures (see $W)"
echo "   by window of $WINDOW events (from an empty table): HTTP events/s, COPY rows/s just after, ratio"
awk '/^WINDOW/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
      printf "     %7d-%-7d %7.0f %7.0f   %.3f\n", v["from"], v["to"], v["rate"], v["copy_rate"],
             v["rate"] / v["copy_rate"] }' "$W/run1.out"
printf '  HTTP bulk, whole run (%s events)                  %9.0f events/s\n' "$EVENTS" "$http_rate"
printf '  raw COPY of the same rows, window by window            %9.0f rows/s\n' "$icopy_rate"
printf '  raw COPY of all %s stored rows, one transaction  %9.0f rows/s (at the end)\n' "$stored" "$copy_rate"
printf '  HTTP bulk / COPY, whole run (goal >= 0.9)              %s   (against the one-transaction COPY: %s)\n' \
    "$(ratio "$http_rate" "$icopy_rate")" "$(ratio "$http_rate" "$copy_rate")"
printf '  HTTP bulk / COPY, first window (empty table)          %s\n' "$(ratio "$start_rate" "$start_copy")"
printf '  HTTP bulk / COPY, events %s-%s                  %s\n' "$after_from" \
    "$((after_from + WINDOW))" "$(ratio "$after_rate" "$after_copy")"
printf '  HTTP bulk, %s events after a restart of serve %9.0f events/s   / COPY (window by window) %s\n' \
    "$WINDOW" "$restart_rate" "$(ratio "$restart_rate" "$icopy_rate")"
printf '  HTTP single creates, %s over %s connections     %9.0f events/s   / COPY %s   p50 %s ms  p99 %s ms\n' \
    "$SINGLE" "$CONNS" "$single_rate" "$(ratio "$single_rate" "$icopy_rate")" "$single_p50" "$single_p99"
printf '  steady: after/start %s, after/restarted %s   (goal: both >= 0.9)\n' \
    "$(ratio "$after_rate" "$start_rate")" "$(ratio "$after_rate" "$restart_rate")"
metric() { sed -n "s/^$1 //p" "$W/metrics1.txt" | head -n 1; }
if [ "$TREE" = false ]; then
    echo "  trees: off (AUDITDB_TREE=false)"
else
    printf '  trees: integration delay (commit -> in the tree), %s events: p50 %s ms  p99 %s ms; read back %s\n' \
        "$(metric auditdb_tree_integration_delay_ms_count)" \
        "$(metric 'auditdb_tree_integration_delay_ms{quantile="0.5"}')" \
        "$(metric 'auditdb_tree_integration_delay_ms{quantile="0.99"}')" \
        "$(metric auditdb_tree_read_back_total)"
fi
echo "   load: $(uptime)"
