# abuse.sh - the server under abuse stays up and serves others: oversize
# bodies, too many headers, a slow client, bursts over the rate limit (429,
# then recovery; shared through Redis by two instances); its self-audit
# (api_access_log, hash-chained auth_audit_log, security events); creates waiting
# on the database holding no thread that page reads need; and a
# shutdown that loses no acknowledged event.
. tests/lib.sh

fresh_db t_abuse
"$AUDITDB_BIN" migrate >/dev/null
key=$("$AUDITDB_BIN" keys create --org org-a --role admin | sed -n 's/^key (shown once, store it now): //p')
keyb=$("$AUDITDB_BIN" keys create --org org-b --role admin | sed -n 's/^key (shown once, store it now): //p')
export AUDITDB_MAX_BODY_BYTES=100000 AUDITDB_HTTP_TIMEOUT_S=2 AUDITDB_RATE_LIMIT_RPS=5 AUDITDB_RATE_LIMIT_BURST=5
if ! start_serve "$TEST_TMP/serve.log"; then not_ok "serve starts"; diag "$(cat "$TEST_TMP/serve.log")"; finish; fi
ok "serve starts"
up() { curl -s -o /dev/null -w '%{http_code}' "$BASE_URL/live"; }

# oversize body: 413, announced or streamed
python3 -c 'print("{\"eventData\":{\"details\":{\"x\":\"" + "a"*200000 + "\"}}}")' >"$TEST_TMP/big.json"
http POST /api/v1/audit/events -H "X-API-Key: $key" -H 'Content-Type: application/json' --data-binary @"$TEST_TMP/big.json"
expect_eq "oversize body: 413" 413 "$HTTP_STATUS"
expect_eq "oversize body: code" PAYLOAD_TOO_LARGE "$(jbody 'd["error"]["code"]')"
code=$(python3 - "$BASE_URL" "$key" <<'PY'
import socket, sys, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
s = socket.create_connection((u.hostname, u.port), timeout=10)
# with a key: a body is read only once the key is checked (resources.sh)
s.sendall(b"POST /api/v1/audit/events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\nX-API-Key: %s\r\n\r\n" % sys.argv[2].encode())
chunk = b"a" * 65536
try:
    for _ in range(4):
        s.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
    s.sendall(b"0\r\n\r\n")
except OSError:
    pass
print(s.recv(200).split(b" ")[1].decode())
PY
)
expect_eq "oversize chunked body (no Content-Length): 413" 413 "$code"
expect_eq "still serving after oversize bodies" 200 "$(up)"

# too many headers
hdrs=""; i=0
while [ $i -lt 300 ]; do hdrs="$hdrs -H X-Filler-$i:$(printf 'v%.0s' $(seq 1 200))"; i=$((i + 1)); done
code=$(curl -s -o /dev/null -w '%{http_code}' $hdrs "$BASE_URL/live")
expect_match "too many headers: refused with 4xx" '^4(13|31|00)$' "$code"
expect_eq "still serving after a header flood" 200 "$(up)"

# slow clients hold no worker: others are served while they dribble, and one
# that stops sending is cut off after the timeout
python3 - "$BASE_URL" >"$TEST_TMP/slow.out" 2>&1 <<'PY' &
import socket, sys, time, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
dribblers = []
for _ in range(20):
    d = socket.create_connection((u.hostname, u.port))
    d.sendall(b"GET /live HT")
    dribblers.append(d)
s = socket.create_connection((u.hostname, u.port))
s.sendall(b"GET /live HTTP/1.1\r\nHost: x\r\n")
s.settimeout(15)
start = time.time()
for i in range(4):
    for d in dribblers:
        try:
            d.sendall(b"X")
        except OSError:
            pass
    time.sleep(0.5)
try:
    closed = time.time() - start if s.recv(1) == b"" else None
except OSError:
    closed = time.time() - start
print("closed after %.1f s" % closed if closed else "never closed")
PY
slow=$!
sleep 0.5
t0=$(date +%s%N)
for i in 1 2 3 4 5; do up >/dev/null; done
t1=$(date +%s%N)
expect_eq "others are served while a slow client dribbles" 200 "$(up)"
expect_eq "…promptly (5 requests under a second)" 1 "$(( (t1 - t0) < 1000000000 ))"
wait $slow
expect_match "the slow client is cut off after the timeout" '^closed after [2-5]\.' "$(cat "$TEST_TMP/slow.out")"

# creates waiting on the database hold no thread that page reads need: with
# org-c's chain head locked, eight creates for org-c wait (as they would for a
# slow fsync), and pages of org-d are still served at once; the creates are
# stored when the lock goes (docs/http.md, worker pools)
keyc=$("$AUDITDB_BIN" keys create --org org-c --role admin | sed -n 's/^key (shown once, store it now): //p')
keyc2=$("$AUDITDB_BIN" keys create --org org-c --role admin | sed -n 's/^key (shown once, store it now): //p')
keyd=$("$AUDITDB_BIN" keys create --org org-d --role admin | sed -n 's/^key (shown once, store it now): //p')
keyd2=$("$AUDITDB_BIN" keys create --org org-d --role admin | sed -n 's/^key (shown once, store it now): //p')
ev='{"eventData":{"action":"auth.login.success","status":"success","principalId":"u-1"}}'
# (two keys per organization: each key's burst is 5 here)
http POST /api/v1/audit/events -H "X-API-Key: $keyc2" -H 'Content-Type: application/json' -d "$ev"
expect_eq "org-c's first create" 201 "$HTTP_STATUS"
http POST /api/v1/audit/events -H "X-API-Key: $keyd2" -H 'Content-Type: application/json' -d "$ev"
expect_eq "org-d's first create" 201 "$HTTP_STATUS"
psql "$AUDIT_DB_URL" -qAtX -c "BEGIN" -c "SELECT 1 FROM audit_chain_head WHERE organization_id = 'org-c' FOR UPDATE" \
    -c "SELECT pg_sleep(4)" -c "COMMIT" >/dev/null &
locker=$!
sleep 0.5
i=0; waiting=""
while [ $i -lt 8 ]; do
    k=$keyc; [ $((i % 2)) = 0 ] || k=$keyc2
    curl -s -o /dev/null -w '%{http_code}' --max-time 30 -H "X-API-Key: $k" -H 'Content-Type: application/json' \
        -d "$ev" "$BASE_URL/api/v1/audit/events" >"$TEST_TMP/held.$i" &
    waiting="$waiting $!"
    i=$((i + 1))
done
sleep 0.5
t0=$(date +%s%N)
codes=""
for i in 1 2 3 4 5; do
    codes="$codes $(curl -s -o /dev/null -w '%{http_code}' --max-time 3 -H "X-API-Key: $keyd" "$BASE_URL/api/v1/audit/events?limit=5")"
done
t1=$(date +%s%N)
expect_eq "pages are served while creates wait on a locked chain head" " 200 200 200 200 200" "$codes"
expect_eq "…promptly (5 pages under 1.5 s, the lock is held 4 s)" 1 "$(( (t1 - t0) < 1500000000 ))"
held=$(sql "SELECT count(*) FROM audit_log WHERE organization_id = 'org-c'")
expect_eq "…and the waiting creates are not stored yet" 1 "$held"
wait "$locker"
wait $waiting
i=0; created=""
while [ $i -lt 8 ]; do created="$created $(cat "$TEST_TMP/held.$i")"; i=$((i + 1)); done
expect_eq "the waiting creates are stored once the lock goes" " 201 201 201 201 201 201 201 201" "$created"
expect_eq "…all eight" 9 "$(sql "SELECT count(*) FROM audit_log WHERE organization_id = 'org-c'")"

# a burst over the rate limit: 429 with headers, then recovery
codes=""
for i in $(seq 1 20); do
    codes="$codes $(curl -s -o /dev/null -w '%{http_code}' -H "X-API-Key: $key" "$BASE_URL/api/v1/audit/events?limit=1")"
done
expect_match "burst: the first requests pass" '^ 200 200 200' "$codes"
expect_match "burst: then 429" '429' "$codes"
i=0; hdr=""
while [ $i -lt 40 ]; do   # the bucket refills at 5/s: keep asking until refused again
    hdr=$(curl -s -D - -o "$TEST_TMP/429.json" -H "X-API-Key: $key" "$BASE_URL/api/v1/audit/events?limit=1")
    case "$hdr" in *" 429 "*) break ;; esac
    i=$((i + 1))
done
expect_match "429 has Retry-After" 'Retry-After: [0-9]+' "$hdr"
expect_match "429 has RateLimit fields" 'RateLimit: "key";r=0;t=[0-9]+' "$hdr"
expect_eq "429 code" RATE_LIMITED "$(json 'd["error"]["code"]' <"$TEST_TMP/429.json")"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-API-Key: $keyb" "$BASE_URL/api/v1/audit/events?limit=1")
expect_eq "another key is not limited by this one" 200 "$code"
sleep 1.5
hdr=$(curl -s -D - -o /dev/null -H "X-API-Key: $key" "$BASE_URL/api/v1/audit/events?limit=1")
expect_match "after a pause: served again" 'HTTP/1.1 200' "$hdr"
expect_match "RateLimit fields on success" 'RateLimit-Policy: "key";q=5;w=1' "$hdr"
# 20 refusals of one key within a minute make a rate-abuse security event: asked until 25 were
# refused here (a fixed number of requests refused fewer on a slow machine, the bucket refilling
# between them)
refused=0; i=0
while [ $refused -lt 25 ] && [ $i -lt 300 ]; do
    c=$(curl -s -o /dev/null -w '%{http_code}' -H "X-API-Key: $key" "$BASE_URL/api/v1/audit/events?limit=1")
    [ "$c" = 429 ] && refused=$((refused + 1))
    i=$((i + 1))
done

# probes and bad keys
for i in $(seq 1 11); do curl -s -o /dev/null -H "X-API-Key: adb_00000000000000${i}0_nosuchsecretnosuchsecret" "$BASE_URL/api/v1/audit/events"; done
sleep 1.2
http POST /api/v1/audit/events -H "X-API-Key: $keyb" -H 'Content-Type: application/json' \
    --data-binary '{"eventData":{"action":"x","status":"success","organizationId":"org-a"}}'
expect_eq "cross-tenant write: 403" 403 "$HTTP_STATUS"

# shutdown with events in flight: every acknowledged event is stored
unset AUDITDB_RATE_LIMIT_RPS
stop_serve TERM
export AUDITDB_RATE_LIMIT_RPS=0
start_serve "$TEST_TMP/serve2.log"
before=$(sql "SELECT count(*) FROM audit_log")
for i in $(seq 1 40); do
    curl -s -o /dev/null -w '%{http_code}\n' -H "X-API-Key: $key" -H 'Content-Type: application/json' \
        --data-binary '{"eventData":{"action":"inflight","status":"success"}}' "$BASE_URL/api/v1/audit/events" >>"$TEST_TMP/acks" &
done
sleep 0.2
stop_serve TERM; rc=$?
wait
expect_eq "SIGTERM with requests in flight: exit 0" 0 "$rc"
acked=$(grep -c '^201$' "$TEST_TMP/acks")
stored=$(( $(sql "SELECT count(*) FROM audit_log") - before ))
expect_eq "every acknowledged event is stored (acked $acked)" "$acked" "$stored"

# the self-audit trail
expect_match "api_access_log: a row per request" '^[1-9][0-9]+$' "$(sql "SELECT count(*) FROM api_access_log")"
expect_eq "api_access_log: POSTs carry a body hash, never a body" 0 "$(sql "SELECT count(*) FROM api_access_log WHERE method = 'POST' AND status_code = 201 AND (request_body_hash IS NULL OR length(request_body_hash) <> 64)")"
expect_eq "api_access_log: no secret reaches it" 0 "$(sql "SELECT count(*) FROM api_access_log WHERE path LIKE '%adb_%' OR user_agent LIKE '%adb_%'")"
expect_match "auth_audit_log: successes and failures" "failure,success" "$(sql "SELECT string_agg(DISTINCT event_status, ',' ORDER BY event_status) FROM auth_audit_log")"
sql "SELECT json_build_object('prev', previous_hash, 'hash', blockchain_hash, 'sig', signature, 'row', json_build_array(previous_hash, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), coalesce(organization_id, ''), coalesce(api_key_id, ''), event_type, event_status, coalesce(host(ip_address), ''), coalesce(user_agent, ''), coalesce(request_id, ''), coalesce(failure_reason, ''))) FROM auth_audit_log ORDER BY id" >"$TEST_TMP/auth.ndjson"
out=$(python3 - "$TEST_TMP/auth.ndjson" <<'PY'
import hashlib, json, sys
prev = "0" * 64
bad = 0
n = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    n += 1
    text = json.dumps(r["row"], separators=(",", ":"), ensure_ascii=False)
    if r["prev"] != prev or hashlib.sha256(text.encode()).hexdigest() != r["hash"] or len(r["sig"]) != 64:
        bad += 1
    prev = r["hash"]
print(n, bad)
PY
)
expect_match "auth_audit_log: every row links to the one before (rows, broken)" '^[1-9][0-9]* 0$' "$out"
out=$("$AUDITDB_BIN" verify --auth-log 2>&1)
expect_eq "verify --auth-log: the chain as written is intact (exit 0)" 0 "$?"
expect_match "verify --auth-log: says so" 'verified [1-9][0-9]* auth_audit_log row\(s\), ids [0-9]+\.\.[0-9]+: chain intact' "$out"
sql "UPDATE auth_audit_log SET failure_reason = 'edited' WHERE id = (SELECT min(id) FROM auth_audit_log WHERE event_status = 'failure')" >/dev/null
sql "SELECT json_build_object('prev', previous_hash, 'hash', blockchain_hash, 'sig', signature, 'row', json_build_array(previous_hash, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), coalesce(organization_id, ''), coalesce(api_key_id, ''), event_type, event_status, coalesce(host(ip_address), ''), coalesce(user_agent, ''), coalesce(request_id, ''), coalesce(failure_reason, ''))) FROM auth_audit_log ORDER BY id" >"$TEST_TMP/auth2.ndjson"
out=$(python3 -c '
import hashlib, json, sys
bad = sum(1 for l in open(sys.argv[1]) for r in [json.loads(l)]
          if hashlib.sha256(json.dumps(r["row"], separators=(",", ":"), ensure_ascii=False).encode()).hexdigest() != r["hash"])
print(bad)' "$TEST_TMP/auth2.ndjson")
expect_eq "auth_audit_log: an edited row no longer matches its hash" 1 "$out"
edited=$(sql "SELECT min(id) FROM auth_audit_log WHERE failure_reason = 'edited'")
out=$("$AUDITDB_BIN" verify --auth-log 2>&1)
expect_eq "verify --auth-log: an edited row is tampering (exit 4)" 4 "$?"
expect_match "verify --auth-log: names the edited row and its hash" "auth_audit_log id $edited: hash: " "$out"
gone=$(sql "SELECT id FROM auth_audit_log WHERE id > $edited ORDER BY id LIMIT 1 OFFSET 1")
sql "DELETE FROM auth_audit_log WHERE id = (SELECT id FROM auth_audit_log WHERE id > $edited ORDER BY id LIMIT 1)" >/dev/null
out=$("$AUDITDB_BIN" verify --auth-log --json 2>&1)
expect_eq "verify --auth-log: a deleted row breaks the next one's link (JSON)" \
    "False 2 link $gone" "$(printf '%s' "$out" | python3 -c '
import json, sys
d = json.load(sys.stdin)
links = [p["id"] for p in d["details"] if p["kind"] == "link"]
print(d["intact"], d["problems"], "link", " ".join(map(str, links)))')"
expect_match "rate_limit_violations recorded" '^[1-9]' "$(sql "SELECT count(*) FROM rate_limit_violations WHERE organization_id = 'org-a'")"
expect_eq "security event: repeated bad keys from one address" 1 "$(sql "SELECT count(*) FROM security_events WHERE event_type = 'repeated_auth_failure' AND ip_address = '127.0.0.1'")"
expect_eq "security event: cross-tenant probe" 1 "$(sql "SELECT count(*) FROM security_events WHERE event_type = 'cross_tenant_probe' AND organization_id = 'org-b'")"
expect_eq "security event: rate abuse" 1 "$(sql "SELECT count(*) FROM security_events WHERE event_type = 'rate_limit_abuse' AND organization_id = 'org-a'")"

# two instances share one Redis: the limit holds across them
if command -v redis-server >/dev/null 2>&1; then
    rport=$(free_port)
    redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --daemonize no >"$TEST_TMP/redis.log" 2>&1 &
    rpid=$!
    sleep 0.5
    export REDIS_URL="redis://127.0.0.1:$rport" AUDITDB_RATE_LIMIT_RPS=1 AUDITDB_RATE_LIMIT_BURST=6
    op=$("$AUDITDB_BIN" keys create --role operator | sed -n 's/^key (shown once, store it now): //p')
    start_serve "$TEST_TMP/r1.log"; p1=$SERVE_PID; u1=$BASE_URL
    start_serve "$TEST_TMP/r2.log"; p2=$SERVE_PID; u2=$BASE_URL
    allowed=0
    for i in 1 2 3 4 5 6; do
        for u in "$u1" "$u2"; do
            c=$(curl -s -o /dev/null -w '%{http_code}' -H "X-API-Key: $keyb" "$u/api/v1/audit/events?limit=1")
            [ "$c" = 200 ] && allowed=$((allowed + 1))
        done
    done
    expect_match "Redis: 12 requests over two instances, about the shared burst of 6 allowed, not 12 (got $allowed)" '^[6-9]$' "$allowed"

    # health reports Redis; while it is away each instance keeps its own buckets
    BASE_URL=$u1
    http GET /health/detailed -H "X-API-Key: $op"
    expect_eq "Redis up: /health/detailed 200, Redis healthy" "200 healthy healthy Redis connection successful" \
        "$HTTP_STATUS $(jbody '"%s %s %s" % (d["status"], d["services"]["redis"]["status"], d["services"]["redis"]["message"])')"
    kill "$rpid"; wait "$rpid" 2>/dev/null
    http GET "/api/v1/audit/events?limit=1" -H "X-API-Key: $key"
    expect_eq "Redis gone: requests still served, from the instance's own bucket" 200 "$HTTP_STATUS"
    http GET /health/detailed -H "X-API-Key: $op"
    expect_eq "Redis gone: /health/detailed 503, degraded by Redis alone" "503 degraded degraded healthy healthy healthy" \
        "$HTTP_STATUS $(jbody '" ".join([d["status"]] + [d["services"][k]["status"] for k in ("redis", "database", "auth", "audit")])')"
    expect_match "Redis gone: the check says why and what it means" 'connect.*rate limits are kept per instance meanwhile' \
        "$(jbody 'd["services"]["redis"]["message"]')"
    expect_eq "Redis gone: /health/detailed keeps the schema" ok "$(printf '%s' "$HTTP_BODY" | python3 tests/tools/health_schema.py)"
    http GET /ready
    expect_eq "Redis gone: /ready still 200, with redis false" "200 ready False" \
        "$HTTP_STATUS $(jbody '"%s %s" % (d["status"], d["checks"]["redis"])')"
    redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --daemonize no >>"$TEST_TMP/redis.log" 2>&1 &
    rpid=$!
    i=0; while [ $i -lt 50 ] && ! redis-cli -p "$rport" ping >/dev/null 2>&1; do sleep 0.1; i=$((i + 1)); done
    http GET /health/detailed -H "X-API-Key: $op"
    expect_eq "Redis back: /health/detailed 200 healthy at once" "200 healthy" "$HTTP_STATUS $(jbody 'd["status"]')"
    http GET "/api/v1/audit/events?limit=1" -H "X-API-Key: $key"
    expect_eq "Redis back: the bucket is in Redis again" "200 1" \
        "$HTTP_STATUS $(redis-cli -p "$rport" --scan --pattern 'auditdb:rl:*' | wc -l)"
    # a restart between two requests: the pooled connections are dead, a fresh one serves at once
    kill "$rpid"; wait "$rpid" 2>/dev/null
    redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --daemonize no >>"$TEST_TMP/redis.log" 2>&1 &
    rpid=$!
    i=0; while [ $i -lt 50 ] && ! redis-cli -p "$rport" ping >/dev/null 2>&1; do sleep 0.1; i=$((i + 1)); done
    http GET "/api/v1/audit/events?limit=1" -H "X-API-Key: $key"
    expect_eq "Redis restarted between requests: the next one is counted in Redis, not locally" "200 1" \
        "$HTTP_STATUS $(redis-cli -p "$rport" --scan --pattern 'auditdb:rl:*' | wc -l)"
    SERVE_PID=$p1; stop_serve TERM
    SERVE_PID=$p2; stop_serve TERM
    kill "$rpid"; wait "$rpid" 2>/dev/null

    # a Redis that accepts connections and never answers holds no request for long
    bport=$(free_port)
    python3 -c 'import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(64); held = []
while True:
    c, _ = s.accept(); held.append(c)' "$bport" &
    bpid=$!
    sleep 0.3
    export REDIS_URL="redis://127.0.0.1:$bport"
    start_serve "$TEST_TMP/r3.log"
    t0=$(date +%s%N)
    cpids=
    for i in 1 2 3 4 5; do
        curl -s -o /dev/null -w '%{http_code}\n' -H "X-API-Key: $keyb" "$BASE_URL/api/v1/audit/events?limit=1" >"$TEST_TMP/bh.$i" &
        cpids="$cpids $!"
    done
    for p in $cpids; do wait "$p"; done
    t1=$(date +%s%N)
    expect_eq "Redis that never answers: 5 requests answered 200 from the local bucket" "200 200 200 200 200" \
        "$(cat "$TEST_TMP"/bh.1 "$TEST_TMP"/bh.2 "$TEST_TMP"/bh.3 "$TEST_TMP"/bh.4 "$TEST_TMP"/bh.5 | tr '\n' ' ' | sed 's/ $//')"
    expect_eq "Redis that never answers: in under 2 s (a 250 ms timeout each, not a hang)" True \
        "$(python3 -c "print($t1 - $t0 < 2e9)")"
    stop_serve TERM
    kill "$bpid"; wait "$bpid" 2>/dev/null
    unset REDIS_URL
else
    echo "skip - Redis not installed: shared rate limit not tested"
fi

# retention keeps the auth_audit_log chain verifiable: one chain runs across organizations,
# and an organization's own shorter policy expires rows in its middle
fresh_db t_abuse_retention
"$AUDITDB_BIN" migrate >/dev/null
ka=$("$AUDITDB_BIN" keys create --org org-a --role admin | sed -n 's/^key (shown once, store it now): //p')
kb=$("$AUDITDB_BIN" keys create --org org-b --role admin | sed -n 's/^key (shown once, store it now): //p')
start_serve "$TEST_TMP/ret.log"
for i in 1 2 3; do
    for k in "$ka" "$kb"; do curl -s -o /dev/null -H "X-API-Key: $k" "$BASE_URL/api/v1/audit/events?limit=1"; done
done
stop_serve TERM
sql "INSERT INTO data_retention_policies (organization_id, table_name, retention_days, description, created_by)
     VALUES ('org-a', 'auth_audit_log', 1, 'test: one day', 'test')" >/dev/null
"$AUDITDB_BIN" maintenance run --now "$(date -u -d '+3 days' +%Y-%m-%dT%H:%M:%SZ)" >/dev/null 2>&1
expect_eq "retention: org-a's rows redacted, org-b's untouched" "org-a 3 0 3|org-b 0 3 3" \
    "$(sql "SELECT string_agg(format('%s %s %s %s', o, r, i, n), '|' ORDER BY o) FROM (SELECT organization_id o,
             count(*) FILTER (WHERE redacted_at IS NOT NULL) r, count(ip_address) i, count(*) n
             FROM auth_audit_log GROUP BY organization_id) x")"
out=$("$AUDITDB_BIN" verify --auth-log 2>&1); rc=$?
expect_eq "retention: verify --auth-log finds the chain intact through the redacted rows (exit 0)" 0 "$rc"
expect_match "retention: and says how many were redacted" '3 row\(s\) redacted by retention' "$out"
sql "UPDATE auth_audit_log SET event_status = 'failure' WHERE id = (SELECT max(id) FROM auth_audit_log WHERE organization_id = 'org-b')" >/dev/null
"$AUDITDB_BIN" verify --auth-log >/dev/null 2>&1
expect_eq "retention: an edit of a row that was not redacted is still found (exit 4)" 4 "$?"
sql "UPDATE auth_audit_log SET event_status = 'success' WHERE id = (SELECT max(id) FROM auth_audit_log WHERE organization_id = 'org-b')" >/dev/null
# a forged hash on a redacted row, with the next row relinked to it: its signature gives it away
fid=$(sql "SELECT min(id) FROM auth_audit_log WHERE redacted_at IS NOT NULL")
saved=$(sql "SELECT blockchain_hash FROM auth_audit_log WHERE id = $fid")
sql "UPDATE auth_audit_log SET blockchain_hash = repeat('ab', 32) WHERE id = $fid;
     UPDATE auth_audit_log SET previous_hash = repeat('ab', 32) WHERE id = (SELECT min(id) FROM auth_audit_log WHERE id > $fid)" >/dev/null
out=$("$AUDITDB_BIN" verify --auth-log 2>&1); rc=$?
expect_eq "retention: a redacted row's forged hash fails its signature (exit 4)" 4 "$rc"
expect_match "retention: named as a signature" "auth_audit_log id $fid: signature" "$out"
sql "UPDATE auth_audit_log SET blockchain_hash = '$saved' WHERE id = $fid;
     UPDATE auth_audit_log SET previous_hash = '$saved' WHERE id = (SELECT min(id) FROM auth_audit_log WHERE id > $fid)" >/dev/null
"$AUDITDB_BIN" verify --auth-log >/dev/null 2>&1
expect_eq "retention: put back, intact again (exit 0)" 0 "$?"
sql "DELETE FROM auth_audit_log WHERE id = (SELECT max(id) FROM auth_audit_log WHERE redacted_at IS NOT NULL)" >/dev/null
out=$("$AUDITDB_BIN" verify --auth-log 2>&1); rc=$?
expect_eq "retention: a redacted row deleted is a broken link (exit 4)" 4 "$rc"
expect_match "retention: named as a link" 'link: previous_hash is not the blockchain_hash of the row before' "$out"
finish
