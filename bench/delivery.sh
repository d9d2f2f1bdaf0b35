#!/bin/sh
# bench/delivery.sh - the delivery queue (issue 18, "Must show"): a webhook destination on a
# receiver on loopback (tests/tools/webhook_receiver.js in its counting mode: no verification,
# the same work for every sender), `auditdb serve` with AUDITDB_DELIVERY_THREADS (8) delivery
# threads, then
#   1. latency: BENCH_DELIVERY_SAMPLES deliveries posted one at a time through
#      POST /api/v1/delivery/deliveries, BENCH_DELIVERY_GAP_MS apart: enqueue (the timestamp the
#      handler writes into the body) to the first byte at the receiver, p50 and p99;
#   2. throughput: BENCH_DELIVERY_ITEMS items queued in one transaction (NOTIFY at commit) and
#      delivered (signed v1 + v1a, fenced ends, attempts recorded): deliveries/s from the commit
#      to the last completion, against bench_post (a plain libcurl POST loop, as many threads,
#      the same body size) to the same receiver in the same run; the ratio is reported.
#
# usage: scripts/with-cluster.sh build/release/auditdb bench/delivery.sh
# knobs: BENCH_DELIVERY_ITEMS (20000), BENCH_DELIVERY_SAMPLES (300), BENCH_DELIVERY_GAP_MS (20),
# AUDITDB_DELIVERY_THREADS (8), BENCH_DELIVERY_PROFILE (1: CPU seconds per process and
# PostgreSQL's statements by total time over the throughput run). Figures: bench/README.md, "Delivery".
set -u

BIN=${AUDITDB_BIN:-build/release/auditdb}
POST=${BENCH_POST_BIN:-build/release/bench/bench_post}
ITEMS=${BENCH_DELIVERY_ITEMS:-20000}
SAMPLES=${BENCH_DELIVERY_SAMPLES:-300}
GAP=${BENCH_DELIVERY_GAP_MS:-20}
THREADS=${AUDITDB_DELIVERY_THREADS:-8}
MODS=${OPENAPI_NODE_DIR:-$PWD/build/node}
SERVER_PID=
RECV_PID=
W=

die() {
    echo "delivery.sh: $*" >&2
    [ -n "$W" ] && [ -f "$W/serve.log" ] && tail -n 20 "$W/serve.log" >&2
    exit 1
}
for v in ADMIN_URL RUN_TMP; do
    eval "[ -n \"\${$v:-}\" ]" || die "$v is not set: run me as scripts/with-cluster.sh $BIN bench/delivery.sh"
done
for t in curl psql python3 node; do
    command -v "$t" >/dev/null 2>&1 || die "$t is missing"
done
[ -x "$BIN" ] || die "$BIN is not built (make)"
[ -x "$POST" ] || die "$POST is not built (make MODE=release $POST)"
why=$(scripts/webhook-verifier.sh "$MODS") || die "$why"

W=$RUN_TMP/delivery
mkdir -p "$W" || die "cannot create $W"
stop() {
    [ -n "$SERVER_PID" ] && kill -TERM "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
    [ -n "$RECV_PID" ] && kill -TERM "$RECV_PID" 2>/dev/null && wait "$RECV_PID" 2>/dev/null
    SERVER_PID=; RECV_PID=
}
trap stop EXIT
trap 'exit 130' INT TERM

AUDIT_DB_URL="$ADMIN_URL dbname=bench_delivery"
export AUDIT_DB_URL
psql "$ADMIN_URL" -qX -v ON_ERROR_STOP=1 -c 'DROP DATABASE IF EXISTS bench_delivery' \
    -c 'CREATE DATABASE bench_delivery' >/dev/null 2>&1 || die "could not create database bench_delivery"
"$BIN" migrate >"$W/migrate.log" 2>&1 || { cat "$W/migrate.log" >&2; die "auditdb migrate failed"; }
KEY=$("$BIN" keys create --org bench --role admin --name bench-delivery 2>/dev/null |
    sed -n 's/^key (shown once, store it now): //p')
[ -n "$KEY" ] || die "could not create an API key"
sql() { psql "$AUDIT_DB_URL" -qAtX -v ON_ERROR_STOP=1 -c "$1"; }

NODE_PATH="$MODS/node_modules" node tests/tools/webhook_receiver.js "$W/rport" 2>"$W/receiver.log" &
RECV_PID=$!
i=0; while [ ! -s "$W/rport" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -s "$W/rport" ] || die "the receiver did not start"
RURL="http://127.0.0.1:$(cat "$W/rport")"
curl -s -o /dev/null -X POST "$RURL/_mode" -d '{"noVerify":true}'

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
AUDITDB_DELIVERY_ALLOW=127.0.0.1/32 AUDITDB_DELIVERY_THREADS=$THREADS AUDITDB_RATE_LIMIT_RPS=0 \
    "$BIN" serve --listen "127.0.0.1:$port" >"$W/serve.out" 2>"$W/serve.log" &
SERVER_PID=$!
BASE="http://127.0.0.1:$port"
i=0; until curl -fs -o /dev/null "$BASE/live"; do
    sleep 0.1; i=$((i + 1)); [ $i -lt 300 ] || die "serve did not start"
done
DEST=$(curl -s -X POST "$BASE/api/v1/delivery/destinations" -H "X-API-Key: $KEY" -H 'Content-Type: application/json' \
    -d "{\"label\":\"bench\",\"type\":\"webhook\",\"config\":{\"webhook\":{\"url\":\"$RURL/hook\",\"method\":\"POST\",\"headers\":{},\"timeout\":10000,\"retryConfig\":{\"maxRetries\":3,\"backoffMultiplier\":2,\"maxBackoffDelay\":5000}}}}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])') || die "could not create the destination"

# 1. latency, one delivery at a time through the API
python3 - "$BASE" "$KEY" "$DEST" "$SAMPLES" "$GAP" <<'PY' || die "the latency run failed"
import json, sys, time, urllib.request
base, key, dest, n, gap = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
body = json.dumps({"destinations": [dest], "payload": {"type": "data", "data": {"x": "y" * 200}, "metadata": {}}}).encode()
for i in range(n):
    req = urllib.request.Request(base + "/api/v1/delivery/deliveries", data=body, method="POST",
                                 headers={"X-API-Key": key, "Content-Type": "application/json"})
    urllib.request.urlopen(req).read()
    time.sleep(gap / 1000.0)
PY
i=0; until [ "$(curl -s "$RURL/_stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["unique"])')" -ge "$SAMPLES" ]; do
    sleep 0.2; i=$((i + 1)); [ $i -lt 300 ] || die "the latency deliveries did not all arrive"
done
curl -s "$RURL/_stats?ids=1" | python3 -c '
import json, sys
t = sorted(json.load(sys.stdin)["times"])
p = lambda q: t[min(len(t) - 1, int(q * len(t)))]
print("latency: %d deliveries, enqueue to first byte at the receiver: p50 %d ms, p99 %d ms, max %d ms" % (len(t), p(0.50), p(0.99), t[-1]))'

# 2. throughput: ITEMS queued at once, against a plain libcurl POST loop
BODY_BYTES=$(sql "SELECT length(body) FROM delivery_queue LIMIT 1")
curl -s -o /dev/null -X POST "$RURL/_reset"
# where the time goes (BENCH_DELIVERY_PROFILE=1): CPU seconds of serve, PostgreSQL and the
# receiver over the run, and PostgreSQL's statements by total time (pg_stat_statements)
PROFILE=${BENCH_DELIVERY_PROFILE:-0}
cpu_of() { # the CPU seconds (user + system) of the processes given (live ones)
    for p in "$@"; do cat "/proc/$p/stat" 2>/dev/null; done |
        awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); s += $12 + $13 } END { printf "%.2f", s / hz }'
}
pg_pids() { # this cluster's postmaster and its children
    pm=$(head -n 1 "$(find "$RUN_TMP" -name postmaster.pid 2>/dev/null | head -n 1)" 2>/dev/null)
    [ -n "$pm" ] && echo "$pm $(pgrep -P "$pm" | tr '\n' ' ')"
}
if [ "$PROFILE" = 1 ]; then
    sql "SELECT pg_stat_statements_reset()" >/dev/null 2>&1 || echo "profile: pg_stat_statements not available"
    PGP=$(pg_pids)
    c_serve=$(cpu_of "$SERVER_PID"); c_pg=$(cpu_of $PGP); c_node=$(cpu_of "$RECV_PID")
fi
t0=$(python3 -c 'import time; print(time.time())')
sql "WITH l AS (INSERT INTO delivery_logs (delivery_id, organization_id, destination_id, destinations,
       object_details, status) SELECT 'b-' || g, 'bench', $DEST, jsonb_build_array('$DEST'),
       '{\"type\":\"data\",\"metadata\":{}}', 'pending' FROM generate_series(1, $ITEMS) g RETURNING id, delivery_id)
     INSERT INTO delivery_queue (id, organization_id, destination_id, payload, scheduled_at, delivery_id,
       delivery_log_id, body) SELECT 'msg_' || substr(md5(delivery_id), 1, 22), 'bench', $DEST, '{\"type\":\"data\"}',
       now(), delivery_id, id, convert_to(rpad('{\"deliveryId\":\"' || delivery_id || '\",\"pad\":\"', $BODY_BYTES - 2, 'x') || '\"}', 'UTF8')
     FROM l; NOTIFY auditdb_delivery" >/dev/null || die "could not queue the items"
t1=$(python3 -c 'import time; print(time.time())')
i=0; until [ "$(sql "SELECT count(*) FROM delivery_queue WHERE delivery_id LIKE 'b-%' AND status = 'completed'")" = "$ITEMS" ]; do
    sleep 0.2; i=$((i + 1)); [ $i -lt 3000 ] || die "the items were not all delivered"
done
t2=$(python3 -c 'import time; print(time.time())')
if [ "$PROFILE" = 1 ]; then
    echo "profile: CPU seconds during the throughput run: serve $(python3 -c "print(round($(cpu_of "$SERVER_PID") - $c_serve, 2))"), PostgreSQL (its backends then) $(python3 -c "print(round($(cpu_of $PGP) - $c_pg, 2))"), receiver $(python3 -c "print(round($(cpu_of "$RECV_PID") - $c_node, 2))"), wall $(python3 -c "print(round($t2 - $t1, 2))")"
    sql "SELECT calls || ' calls, ' || round(mean_exec_time::numeric, 3) || ' ms mean, ' || round(total_exec_time::numeric) || ' ms total: ' || left(regexp_replace(query, '\s+', ' ', 'g'), 110)
         FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
         ORDER BY total_exec_time DESC LIMIT 8" 2>/dev/null | sed 's/^/profile: /'
fi
ref=$("$POST" "$RURL/hook" "$ITEMS" "$THREADS" "$BODY_BYTES" | sed -n 's/^posts\/s //p')
python3 -c "
items, t0, t1, t2, ref = $ITEMS, $t0, $t1, $t2, float('${ref:-0}')
rate = items / (t2 - t1)
print('queue: %d items (%d bytes each) queued in %.2f s' % (items, $BODY_BYTES, t1 - t0))
print('throughput: %.0f deliveries/s by $THREADS delivery threads; plain libcurl POST loop ($THREADS threads, same receiver): %.0f posts/s; ratio %.3f (reported: bench/README.md, "Delivery")' % (rate, ref, rate / ref if ref else 0))"
