# metrics_live.sh - the metrics figures that were zeros, estimates or missing
# (docs/monitoring.md "Streams", "Thresholds", "Where each figure comes from"):
# the historical stream (NDJSON and CSV over more than one piece, counted back
# against the events stored, 400s naming the field), the live Server-Sent
# Events (the client's RealTimeMetricsData, retry = the interval, WebSocket
# and system refused), the caches' figures, integrity averageTime from the
# recorded durations (API and CLI verifications), storageUsed from the
# partitions' sizes, alertThresholds raising and resolving an alert (with its
# audit event), the client's suppressAlert (a silence of the alert's key), and
# the detection engine's figures on /metrics (lag counted against the chain
# heads).
. tests/lib.sh

fresh_db t_metrics_live
"$AUDITDB_BIN" migrate >/dev/null || { not_ok "migrate"; finish; }
A=$(newkey org-a admin)
AV=$(newkey org-a viewer)
B=$(newkey org-b admin)
D=$(newkey org-d admin)
OP=$("$AUDITDB_BIN" keys create --role operator | sed -n 's/^key (shown once, store it now): //p')
# the detection engine stays off until its own part (its alerts are events of the organizations counted here)
export AUDITDB_METRICS_THRESHOLD_S=1
if ! start_serve "$TEST_TMP/serve.log"; then
    not_ok "serve starts"; diag "$(tail -5 "$TEST_TMP/serve.log")"; finish
fi
M=/api/v1/metrics
shape() { python3 tests/tools/metrics_shapes.py "$1"; }
post() { http POST "$1" -H "X-API-Key: $2" -H 'Content-Type: application/json' --data-binary "$3"; }
ev() { printf '{"eventData":{"timestamp":"%s","action":"fhir.patient.read","status":"success","principalId":"doc-1","targetResourceType":"Patient","dataClassification":"PHI"}}' "$1"; }
at() { date -u -d "$1" +%Y-%m-%dT%H:%M:%S.000Z; }
poll() { i=0; while [ $i -lt 100 ]; do v=$(sql "$1"); [ "$v" = "$2" ] && break; sleep 0.1; i=$((i + 1)); done; printf '%s' "$v"; }

# org-a: three events 19 h, 10 h and 2 minutes ago (1,140 minutes apart: more than one piece by the minute)
for when in '-19 hours' '-10 hours' '-2 minutes'; do post /api/v1/audit/events "$A" "$(ev "$(at "$when")")"; done
id_a=$(jbody 'd["id"]')
post /api/v1/audit/events "$B" "$(ev "$(at '-2 minutes')")"
expect_eq "events stored" 201 "$HTTP_STATUS"

# ---- POST /metrics/historical/stream ---------------------------------------
S=$(at '-20 hours'); E=$(at '+1 minute')
body() { printf '{"metrics":%s,"timeRange":{"startDate":"%s","endDate":"%s"},"resolution":"%s"%s}' "$1" "$S" "$E" "$2" "${3:-}"; }
curl -s -D "$TEST_TMP/h1" -o "$TEST_TMP/s1" -H "X-API-Key: $A" -H 'Content-Type: application/json' \
    --data-binary "$(body '["audit"]' minute)" "$BASE_URL$M/historical/stream"
hdrs() { python3 -c 'import sys
L=open(sys.argv[1]).read().replace("\r", "").split("\n")
h={l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip() for l in L[1:] if ":" in l}
print(L[0].split()[1], h.get("content-type", "-").split(";")[0], h.get("transfer-encoding", "-"))' "$1"; }
expect_eq "stream: 200, NDJSON, chunked (written as read)" "200 application/x-ndjson chunked" "$(hdrs "$TEST_TMP/h1")"
expect_eq "stream: one line per minute holding org-a's events (3), their sum 3, org-b's not among them" "3 3" \
    "$(python3 -c 'import json,sys; L=[json.loads(l) for l in open(sys.argv[1]) if l.strip()]; print(len(L), sum(x["eventsProcessed"] for x in L))' "$TEST_TMP/s1")"
bad=""
while IFS= read -r line; do
    r=$(printf '%s' "$line" | shape stream_line) || bad="$bad $r"
done <"$TEST_TMP/s1"
expect_eq "stream: every line is a point the client parses (type, timestamp, numbers)" "" "$bad"
poll "SELECT count(*) > 0 FROM api_access_log WHERE organization_id = 'org-a'" t >/dev/null # written in batches
curl -s -o "$TEST_TMP/s2" -H "X-API-Key: $A" -H 'Content-Type: application/json' \
    --data-binary "$(body '["audit","performance"]' hour ',"format":"csv"')" "$BASE_URL$M/historical/stream"
expect_eq "stream csv: the header, then type,timestamp,metric,value rows (audit: 3 hours x 2 figures)" \
    "type,timestamp,metric,value 6 3" \
    "$(tr -d '\r' <"$TEST_TMP/s2" | awk -F, 'NR==1{h=$0} NR>1&&$1=="audit"{n++; if($3=="eventsProcessed")s+=$4} END{print h, n, s}')"
expect_match "stream csv: the performance rows follow (org-a's requests by hour)" "^performance,[0-9T:.Z-]+,requests," \
    "$(tr -d '\r' <"$TEST_TMP/s2" | grep '^performance' | head -1)"
for c in '{"metrics":["system"]} metrics[0]' '{"metrics":["audit","audit"]} metrics[1]' '{"metrics":[]} metrics' \
         '{"metrics":["audit"],"resolution":"week"} resolution' '{"metrics":["audit"],"format":"xml"} format' \
         '{"metrics":["audit"],"bogus":1} bogus' '{"metrics":["audit"],"timeRange":{"startDate":"2020-01-01T00:00:00Z","endDate":"2026-01-01T00:00:00Z"}} timeRange'; do
    b=${c% *}; f=${c##* }
    post "$M/historical/stream" "$A" "$b"
    expect_eq "stream: $b is a 400 naming $f" "400 $f" \
        "$HTTP_STATUS $(jbody 'd["error"]["details"]["errors"][0]["field"].split(".")[0]')"
done
post "$M/historical/stream" "$AV" "$(body '["audit"]' hour)"
expect_eq "stream: a viewer (no metrics:read) 403" 403 "$HTTP_STATUS"
post "$M/historical/stream" "$OP" "$(body '["audit"]' hour)"
expect_eq "stream: an operator (an organization's figures) 403" 403 "$HTTP_STATUS"

# ---- GET /metrics/stream and /metrics/sse (Server-Sent Events) -------------
for p in stream sse; do
    http GET "$M/$p?updateInterval=90000" -H "X-API-Key: $A"
    expect_eq "$p: updateInterval beyond an hour: 400 naming it" "400 updateInterval" \
        "$HTTP_STATUS $(jbody 'd["error"]["details"]["errors"][0]["field"]')"
done
post /api/v1/audit/events "$A" '{"eventData":{"action":"fhir.patient.read","status":"success","principalId":"doc-2"}}'
# an open alert of org-a (its opening event left out: the counts below are org-a's events)
sql "SELECT auditdb_alert_raise('org-a', 'test', 'live/1', NULL, NULL, 'HIGH', 'SECURITY', 'seeded', 'seeded alert', NULL, '{}', '[]', now(), now());
     DELETE FROM alert_audit_outbox WHERE organization_id = 'org-a'" >/dev/null
for p in stream sse; do
    curl -s -D "$TEST_TMP/hl" -o "$TEST_TMP/live" -H "X-API-Key: $A" \
        "$BASE_URL$M/$p?metricsTypes=audit,performance,usage&updateInterval=600&includeAlerts=true"
    expect_eq "$p: 200 text/event-stream" "200 text/event-stream" "$(hdrs "$TEST_TMP/hl" | cut -d' ' -f1,2)"
    expect_eq "$p: retry = the interval, then audit, performance, usage and the open alert as events" \
        "600000 audit,performance,usage,alert" \
        "$(python3 -c 'import json,sys
t=open(sys.argv[1]).read().split("\n\n")
r=[l.split(": ")[1] for b in t for l in b.split("\n") if l.startswith("retry: ")]
ev=[json.loads(l[6:]) for b in t for l in b.split("\n") if l.startswith("data: ")]
print(r[0], ",".join(e["type"] for e in ev))' "$TEST_TMP/live")"
    bad=""
    for i in 0 1 2 3; do
        r=$(python3 -c 'import json,sys
ev=[json.loads(l[6:]) for b in open(sys.argv[1]).read().split("\n\n") for l in b.split("\n") if l.startswith("data: ")]
print(json.dumps(ev[int(sys.argv[2])]))' "$TEST_TMP/live" $i | shape live) || bad="$bad $r"
    done
    expect_eq "$p: every event is the client's RealTimeMetricsData" "" "$bad"
    expect_eq "$p: the audit event counts org-a's events of the last 10 minutes (2)" 2 \
        "$(python3 -c 'import json,sys
ev=[json.loads(l[6:]) for b in open(sys.argv[1]).read().split("\n\n") for l in b.split("\n") if l.startswith("data: ")]
print(ev[0]["data"]["eventsProcessed"])' "$TEST_TMP/live")"
done
http GET "$M/stream?metricsTypes=audit" -H "X-API-Key: $A" -H 'Upgrade: websocket' -H 'Connection: Upgrade'
expect_eq "stream: a WebSocket handshake is a 400 saying to use Server-Sent Events" "400 WEBSOCKET_UNSUPPORTED" \
    "$HTTP_STATUS $(jbody 'd["error"]["details"]["errors"][0]["code"]')"
http GET "$M/stream?metricsTypes=system" -H "X-API-Key: $A"
expect_eq "stream: system is the operators': 400 naming metricsTypes" "400 metricsTypes" \
    "$HTTP_STATUS $(jbody 'd["error"]["details"]["errors"][0]["field"]')"
http GET "$M/stream?interval=10" -H "X-API-Key: $A"
expect_eq "stream: interval below a second: 400 naming interval" "400 interval" \
    "$HTTP_STATUS $(jbody 'd["error"]["details"]["errors"][0]["field"]')"
http GET "$M/sse?filter=x" -H "X-API-Key: $A"
expect_eq "sse: an unknown parameter: 400" 400 "$HTTP_STATUS"
http GET "$M/stream" -H "X-API-Key: $AV"
expect_eq "stream: a viewer 403" 403 "$HTTP_STATUS"

# ---- POST /alerts/{id}/suppress (the client's suppressAlert) ------------------
aid=$(sql "SELECT id FROM alerts WHERE dedup_key = 'live/1'")
post "/api/v1/alerts/$aid/suppress" "$A" '{"duration":30,"reason":"maintenance window"}'
expect_eq "suppress: 200, the alert silenced by a new silence" "200 True True" \
    "$HTTP_STATUS $(jbody 'str(d["silenced"]) + " " + str(d["silenceId"].startswith("silence-"))')"
sid=$(jbody 'd["silenceId"]')
expect_eq "suppress: the silence names the alert's source and key, lasts 30 minutes, made by the key" \
    '{"source": "test", "dedupKey": "live/1"} 00:30:00 maintenance window' \
    "$(sql "SELECT matchers::text || ' ' || (ends_at - starts_at)::text || ' ' || reason FROM alert_silences WHERE id = '$sid'")"
expect_eq "suppress: a trigger of that key now is recorded silenced" silenced \
    "$(sql "SELECT outcome FROM auditdb_alert_raise('org-a', 'test', 'live/1', NULL, NULL, 'HIGH', 'SECURITY', 'seeded', 'seeded alert', NULL, '{}', '[]', now(), now())")"
expect_eq "suppress: its audit event (alert.silence.create naming the alert)" 1 \
    "$(poll "SELECT count(*) FROM audit_log WHERE organization_id = 'org-a' AND action = 'alert.silence.create' AND target_resource_id = '$sid' AND details->>'alertId' = '$aid'" 1)"
for c in '{"duration":0,"reason":"x"} duration' '{"duration":600000,"reason":"x"} duration' '{"duration":5} reason' \
         '{"duration":5,"reason":""} reason' '{"duration":5,"reason":"x","until":1} until'; do
    post "/api/v1/alerts/$aid/suppress" "$A" "${c% *}"
    expect_eq "suppress: ${c% *} is a 400 naming ${c##* }" "400 ${c##* }" \
        "$HTTP_STATUS $(jbody 'd["error"]["details"]["errors"][0]["field"]')"
done
post "/api/v1/alerts/$aid/suppress" "$B" '{"duration":5,"reason":"x"}'
expect_eq "suppress: another organization's alert is 404" 404 "$HTTP_STATUS"
post "/api/v1/alerts/$aid/suppress" "$AV" '{"duration":5,"reason":"x"}'
expect_eq "suppress: a viewer 403" 403 "$HTTP_STATUS"
post "/api/v1/alerts/$aid/resolve" "$A" '{"resolution":"done"}'
post "/api/v1/alerts/$aid/suppress" "$A" '{"duration":5,"reason":"x"}'
expect_eq "suppress: a resolved alert is 409" "409 INVALID_STATE" "$HTTP_STATUS $(jbody 'd["error"]["code"]')"

# ---- integrity averageTime: recorded durations --------------------------------
http POST "/api/v1/audit/events/$id_a/verify" -H "X-API-Key: $A"
expect_eq "a verification through the API" 200 "$HTTP_STATUS"
"$AUDITDB_BIN" verify --org org-a >/dev/null 2>&1
expect_eq "a verification run of org-a (auditdb verify)" 0 "$?"
expect_eq "both recorded their duration (durationMs)" "1 1" \
    "$(sql "SELECT count(*) FILTER (WHERE verification_details->>'kind' = 'api' AND (verification_details->>'durationMs')::float8 > 0),
                   count(*) FILTER (WHERE verification_details->>'kind' = 'summary' AND verification_details->>'organizationId' = 'org-a'
                                    AND (verification_details->>'durationMs')::float8 > 0)
            FROM audit_integrity_log" | tr '|' ' ')"
want=$(sql "SELECT avg((verification_details->>'durationMs')::float8) FROM audit_integrity_log
            WHERE verification_details ? 'durationMs' AND (verification_details->>'organizationId' = 'org-a'
                  OR audit_log_id IN (SELECT id FROM audit_log WHERE organization_id = 'org-a'))")
http GET "$M/audit?includeTimeline=false" -H "X-API-Key: $A"
near() { python3 -c 'import sys; a, b, t = map(float, sys.argv[1:]); sys.exit(not abs(a - b) <= t)' "$@" || { diag "$1 and $2 differ by more than $3"; false; }; }
check "audit: averageTime is the mean of org-a's recorded durations (ms: $want)" \
    near "$want" "$(jbody 'd["integrityVerifications"]["averageTime"]')" 0.001
http GET "$M/audit?includeTimeline=false" -H "X-API-Key: $B"
expect_eq "audit: org-b verified nothing: averageTime 0" "0.0" "$(jbody 'd["integrityVerifications"]["averageTime"]')"

# ---- usage storageUsed: the partitions' sizes by org-a's share of their rows ----
http GET "$M/usage" -H "X-API-Key: $A"
want=$(sql "SELECT sum(x.n::float8 * pg_total_relation_size(x.p) / greatest(c.reltuples, x.n::float8))
            FROM (SELECT tableoid p, count(*) n FROM audit_log WHERE organization_id = 'org-a' GROUP BY 1) x
            JOIN pg_class c ON c.oid = x.p")
total=$(sql "SELECT sum(pg_total_relation_size(inhrelid)) FROM pg_inherits WHERE inhparent = 'audit_log'::regclass")
check "usage: storageUsed = each partition's whole size x org-a's share of its rows ($want)" \
    near "$want" "$(jbody 'd["resourceConsumption"]["storageUsed"]')" 1
check "usage: storageUsed > 0 and at most the partitions' total" \
    python3 -c "import sys; v=float(sys.argv[1]); sys.exit(not (0 < v <= float(sys.argv[2])))" \
    "$(jbody 'd["resourceConsumption"]["storageUsed"]')" "$total"

# ---- system cache: the process's caches --------------------------------------
http GET "$M/system" -H "X-API-Key: $OP"
http GET "$M/system" -H "X-API-Key: $OP"
expect_eq "system: the client's SystemMetrics, cache included" ok "$(printf '%s' "$HTTP_BODY" | shape system)"
expect_eq "system: cache backend memory; API keys' cache hit (this key again), lookups = hits + misses" "memory True True" \
    "$(jbody 'd["cache"]["backend"] + " " + str(d["cache"]["caches"]["apiKeys"]["totalHits"] >= 1) + " " + str(all(c["totalRequests"] == c["totalHits"] + c["totalMisses"] for c in [d["cache"]] + list(d["cache"]["caches"].values())))')"
expect_eq "system: the sum is the three caches'" true \
    "$(jbody 'd["cache"]["totalHits"] == sum(c["totalHits"] for c in d["cache"]["caches"].values()) and sorted(d["cache"]["caches"]) == ["apiKeys", "logTiles", "roles"]')"

# ---- alertThresholds: raised above, resolved below ----------------------------
http PUT "$M/config" -H "X-API-Key: $A" -H 'Content-Type: application/json' --data-binary '{"alertThresholds":{"events.count":1}}'
expect_eq "threshold set (events.count > 1 over 5 minutes)" 200 "$HTTP_STATUS"
expect_eq "org-a's events of the window above it: an alert of org-a, METRICS, auditdb-metrics" "active METRICS MEDIUM" \
    "$(poll "SELECT status || ' ' || type || ' ' || severity FROM alerts WHERE organization_id = 'org-a' AND dedup_key = 'metrics-threshold/events.count'" "active METRICS MEDIUM")"
expect_eq "its metadata: the value over the window and the threshold" "True 1" \
    "$(sql "SELECT ((metadata->>'value')::float8 >= 2)::text || ' ' || (metadata->>'threshold') FROM alerts WHERE dedup_key = 'metrics-threshold/events.count'" | sed 's/^true/True/')"
expect_eq "org-b set no threshold: no alert" 0 "$(sql "SELECT count(*) FROM alerts WHERE organization_id = 'org-b' AND source = 'auditdb-metrics'")"
sleep 1.5
expect_eq "rounds fold into the open alert (one alert)" 1 "$(sql "SELECT count(*) FROM alerts WHERE dedup_key = 'metrics-threshold/events.count'")"
http PUT "$M/config" -H "X-API-Key: $A" -H 'Content-Type: application/json' --data-binary '{"alertThresholds":{"events.count":100000}}'
expect_eq "below the new threshold: the alert resolved by auditdb-metrics" "resolved auditdb-metrics" \
    "$(poll "SELECT status || ' ' || resolved_by FROM alerts WHERE dedup_key = 'metrics-threshold/events.count'" "resolved auditdb-metrics")"
aid=$(sql "SELECT id FROM alerts WHERE dedup_key = 'metrics-threshold/events.count'")
expect_eq "its resolution is an audit event of org-a (alert.resolved)" 1 \
    "$(poll "SELECT count(*) FROM audit_log WHERE organization_id = 'org-a' AND action = 'alert.resolved' AND target_resource_id = '$aid'" 1)"

# ---- the detection engine on /metrics -------------------------------------------
stop_serve
export AUDITDB_DETECT=true AUDITDB_DETECT_INTERVAL_MS=50
start_serve "$TEST_TMP/serve1.log" || not_ok "serve starts with the engine"
for i in 1 2 3 4 5; do post /api/v1/audit/events "$D" '{"eventData":{"action":"auth.login.failure","status":"failure","principalId":"u-1"}}'; done
i=0
while [ $i -lt 100 ]; do
    m=$(curl -s -H "X-API-Key: $OP" "$BASE_URL/metrics")
    [ "$(printf '%s\n' "$m" | awk '/^auditdb_detect_lag_events /{print $2}')" = 0 ] && break
    sleep 0.1; i=$((i + 1))
done
expect_eq "/metrics: the engine caught up (lag 0, no organization behind), none refused" "0 0 0" \
    "$(printf '%s\n' "$m" | awk '/^auditdb_detect_lag_events /{a=$2} /^auditdb_detect_lagging_organizations /{b=$2}
        /^auditdb_detect_refused_groups_total /{c=$2} END{print a, b, c}')"
# (the alerts' own events, which the alert thread may log after the scrape, left out)
n=$(sql "SELECT count(*) FROM audit_log WHERE action NOT LIKE 'alert.%'")
check "/metrics: every committed event evaluated ($n)" test "$(printf '%s\n' "$m" | awk '/^auditdb_detect_events_evaluated_total /{print $2}')" -ge "$n"
expect_eq "/metrics: rounds, live groups and the rate are there" 3 \
    "$(printf '%s\n' "$m" | grep -cE '^auditdb_detect_(rounds_total|live_groups|events_per_second) [0-9.]+$')"
# the alerts the engine raised are logged as events by the alert thread: let it finish before the
# next serve counts the lag
poll "SELECT count(*) FROM alert_audit_outbox" 0 >/dev/null
stop_serve
check "serve stops cleanly" test "$?" -eq 0

# the lag counted: an engine that looks once a minute, events committed after its first look
export AUDITDB_DETECT_INTERVAL_MS=60000
start_serve "$TEST_TMP/serve2.log" || not_ok "serve starts again"
n=$(sql "SELECT count(*) FROM audit_log")
i=0
while [ $i -lt 100 ]; do
    e=$(curl -s -H "X-API-Key: $OP" "$BASE_URL/metrics" | awk '/^auditdb_detect_lag_events /{print $2}')
    [ "$e" = 0 ] && break
    sleep 0.1; i=$((i + 1))
done
for i in 1 2 3 4 5 6 7; do post /api/v1/audit/events "$B" '{"eventData":{"action":"fhir.patient.read","status":"success","principalId":"doc-3"}}'; done
expect_eq "/metrics: 7 events committed since the engine's look: lag 7, one organization behind" "7 1" \
    "$(curl -s -H "X-API-Key: $OP" "$BASE_URL/metrics" | awk '/^auditdb_detect_lag_events /{a=$2} /^auditdb_detect_lagging_organizations /{b=$2} END{print a, b}')"
stop_serve
export AUDITDB_DETECT=false
start_serve "$TEST_TMP/serve3.log" || not_ok "serve starts without the engine"
expect_eq "/metrics without the engine: no detect figures" 0 \
    "$(curl -s -H "X-API-Key: $OP" "$BASE_URL/metrics" | grep -c '^auditdb_detect_')"
stop_serve
finish
