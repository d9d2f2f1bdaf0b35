# serve.sh - `auditdb serve` over HTTP on an external database (AUDIT_DB_URL):
# operations endpoints, error shape, request ids, access log, clean shutdown.
. tests/lib.sh

fresh_db t_serve
if ! start_serve "$TEST_TMP/serve.log"; then
    not_ok "serve starts"; diag "$(cat "$TEST_TMP/serve.log")"; finish
fi
ok "serve starts"

http GET /health
expect_eq "/health 200" 200 "$HTTP_STATUS"
expect_eq "/health status" healthy "$(jbody 'd["status"]')"
expect_eq "/health database up" up "$(jbody 'd["checks"]["database"]["status"]')"
expect_eq "/health database mode" external "$(jbody 'd["checks"]["database"]["mode"]')"
expect_match "/health pool figures" '^[0-9]+$' "$(jbody 'd["checks"]["database"]["pool"]["max"]')"

http GET /ready
expect_eq "/ready 200 after migrate" 200 "$HTTP_STATUS"
expect_eq "/ready checks: database, redis (not configured), auth, migrations" "True True True True" \
    "$(jbody '"%s %s %s %s" % (d["checks"]["database"], d["checks"]["redis"], d["checks"]["auth"], d["checks"]["migrations"])')"
http GET /health/detailed
expect_eq "/health/detailed needs a key: 401" 401 "$HTTP_STATUS"
key=$(cut -c1-200 "$AUDITDB_HOME/admin.key" 2>/dev/null)
op=$("$AUDITDB_BIN" keys create --role operator | sed -n 's/^key (shown once, store it now): //p')
http GET /health/detailed -H "X-API-Key: $op"
expect_eq "/health/detailed with an operator key: 200" 200 "$HTTP_STATUS"
expect_eq "/health/detailed: healthy" healthy "$(jbody 'd["status"]')"
expect_eq "/health/detailed: smart-logs' DetailedHealthSchema" ok "$(printf '%s' "$HTTP_BODY" | python3 tests/tools/health_schema.py)"
expect_eq "/health/detailed: the four services, as the original names them" \
    "Database Redis Authentication Audit Service" "$(jbody '" ".join(c["name"] for c in d["checks"])')"
expect_eq "/health/detailed: Redis not configured counts as healthy" "healthy not configured" \
    "$(jbody '"%s %s" % (d["services"]["redis"]["status"], d["services"]["redis"]["message"])')"
expect_match "/health/detailed: the key table was read" '^[1-9][0-9]*$' "$(jbody 'd["services"]["auth"]["details"]["apiKeys"]')"
expect_match "/health/detailed: the writer's queue" '^0 [1-9][0-9]*$' \
    "$(jbody '"%d %d" % (d["services"]["audit"]["details"]["queueDepth"], d["services"]["audit"]["details"]["queueMax"])')"
expect_eq "/health/detailed: requests of the last minute counted, none 5xx, this connection open" "True 0 True" \
    "$(jbody '"%s %g %s" % (d["metrics"]["requestsPerSecond"] > 0, d["metrics"]["errorRate"], d["metrics"]["activeConnections"] >= 1)')"
expect_eq "/health/detailed: the disk of AUDITDB_HOME" True "$(jbody '"%s" % (d["system"]["disk"]["total"] > 0)')"
http POST /api/v1/audit/events -H "X-API-Key: $key" -H 'Content-Type: application/json' \
    --data-binary '{"eventData":{"action":"metrics.one","status":"success"}}'
expect_eq "one event created" 201 "$HTTP_STATUS"
http POST /api/v1/audit/events/bulk -H "X-API-Key: $key" -H 'Content-Type: application/json' \
    --data-binary '{"events":[{"action":"metrics.a","status":"success"},{"action":"metrics.b","status":"success"},{"action":"metrics.c","status":"success"}]}'
expect_eq "three events created in bulk" 201 "$HTTP_STATUS"
http GET /metrics -H "X-API-Key: $op"
expect_eq "/metrics: 200" 200 "$HTTP_STATUS"
batches=$(printf '%s\n' "$HTTP_BODY" | python3 -c 'import sys, re
m = {}
le = []
for l in sys.stdin:
    if l.startswith("#") or not l.strip(): continue
    k, v = l.rsplit(" ", 1)
    m[k] = float(v)
    g = re.match(r"auditdb_writer_batch_size_bucket\{le=\"(\d+)\"\}", k)
    if g: le.append((int(g.group(1)), float(v)))
n = m["auditdb_writer_batches_total"]
cum = all(a[1] <= b[1] for a, b in zip(le, le[1:]))
print("events %d, sum %d, count=batches %s, +Inf=count %s, single in le=1 %s, cumulative %s" % (
    m["auditdb_events_ingested_total"], m["auditdb_writer_batch_size_sum"],
    m["auditdb_writer_batch_size_count"] == n, m["auditdb_writer_batch_size_bucket{le=\"+Inf\"}"] == n,
    le[0][1] >= 1, cum and len(le) == 10))')
expect_eq "/metrics: the writer's batch sizes as a histogram" \
    "events 4, sum 4, count=batches True, +Inf=count True, single in le=1 True, cumulative True" "$batches"
expect_match "/metrics: request counter by route and status" 'auditdb_http_requests_total\{method="GET",route="/ready",status="200"\} 1' "$HTTP_BODY"
expect_match "/metrics: latency histogram" 'auditdb_http_request_duration_seconds_bucket\{route="/health",le="0.005"\}' "$HTTP_BODY"
expect_match "/metrics: writer and pool" 'auditdb_writer_queue_depth 0' "$HTTP_BODY"
expect_match "/metrics: pool" 'auditdb_db_pool_connections\{state="max"\}' "$HTTP_BODY"
http GET /live
expect_eq "/live 200" 200 "$HTTP_STATUS"
expect_eq "/live body" healthy "$(jbody 'd["status"]')"

http GET /no/such/path
expect_eq "unknown path 404" 404 "$HTTP_STATUS"
expect_eq "error code" NOT_FOUND "$(jbody 'd["error"]["code"]')"
expect_match "error has message and requestId" '^[0-9a-f]{24}$' "$(jbody 'd["error"]["requestId"]')"
http POST /health
expect_eq "wrong method 405" 405 "$HTTP_STATUS"

hdr=$(curl -s -D - -o /dev/null -H 'X-Request-Id: my-trace-123' "$BASE_URL/live")
expect_match "caller's request id echoed" 'X-Request-Id: my-trace-123' "$hdr"
hdr=$(curl -s -D - -o /dev/null -H 'X-Request-Id: bad id with spaces' "$BASE_URL/live")
expect_match "unsafe request id replaced" 'X-Request-Id: [0-9a-f]{24}' "$hdr"

curl -s -o /dev/null "$BASE_URL/live?secret=hunter2"
stop_serve TERM; rc=$?
expect_eq "SIGTERM: exit 0" 0 "$rc"
expect_match "access log: one JSON line per request" '"path":"/health","status":200' "$(cat "$TEST_TMP/serve.log")"
if grep -q hunter2 "$TEST_TMP/serve.log"; then not_ok "access log leaves out query strings"; else ok "access log leaves out query strings"; fi
bad=$(grep '^{' "$TEST_TMP/serve.log" | python3 -c 'import sys,json
n=0
for l in sys.stdin:
    try: json.loads(l)
    except Exception: n+=1
print(n)')
expect_eq "access log lines are valid JSON" 0 "$bad"
dbms=$(grep '^{' "$TEST_TMP/serve.log" | python3 -c 'import sys,json
lines=[json.loads(l) for l in sys.stdin]
health=[l["dbMs"] for l in lines if l["path"] == "/health" and l["method"] == "GET"]
live=[l["dbMs"] for l in lines if l["path"] == "/live"]
bounded=all(0 <= l["dbMs"] <= l["durationMs"] for l in lines)
print(len(health) > 0 and all(v > 0 for v in health), len(live) > 0 and all(v == 0 for v in live), bounded)')
expect_eq "access log dbMs: /health time on the database, /live none, never over durationMs" "True True True" "$dbms"

# --no-migrate on an empty database: refused, saying what to run
fresh_db t_serve_nomigrate
err=$(timeout 30 "$AUDITDB_BIN" serve --no-migrate --listen 127.0.0.1:0 2>&1 >/dev/null); rc=$?
expect_eq "--no-migrate, empty database: exit 1" 1 "$rc"
expect_match "--no-migrate, empty database: says to migrate" 'migration\(s\) pending: run "auditdb migrate" first' "$err"
expect_eq "--no-migrate: nothing applied" "" "$(sql "SELECT to_regclass('audit_log')")"

# --no-migrate with one migration pending: serves, but is not ready
"$AUDITDB_BIN" migrate >/dev/null
mdir="$TEST_TMP/migrations"; mkdir -p "$mdir"; cp migrations/*.sql "$mdir/"
printf 'CREATE TABLE later_feature (x int);\n' >"$mdir/0999_later.sql"
export AUDITDB_MIGRATIONS_DIR="$mdir"
if start_serve "$TEST_TMP/serve2.log" --no-migrate; then
    http GET /ready
    expect_eq "--no-migrate, pending: /ready 503" 503 "$HTTP_STATUS"
    expect_match "--no-migrate, pending: reason" '1 migration\(s\) pending' "$HTTP_BODY"
    http GET /health
    expect_eq "--no-migrate, pending: /health still 200" 200 "$HTTP_STATUS"
    stop_serve INT
else
    not_ok "serve --no-migrate starts"; diag "$(cat "$TEST_TMP/serve2.log")"
fi
unset AUDITDB_MIGRATIONS_DIR

# a listen address that cannot be used
err=$("$AUDITDB_BIN" serve --listen nonsense 2>&1 >/dev/null); rc=$?
expect_eq "bad listen address: exit 1" 1 "$rc"
expect_match "bad listen address: message" 'invalid AUDITDB_LISTEN "nonsense"' "$err"
finish
