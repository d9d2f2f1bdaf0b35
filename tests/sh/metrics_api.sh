# metrics_api.sh - the metrics service under /api/v1/metrics as smart-logs'
# client calls it (docs/monitoring.md, "Metrics"): every answer against the
# client's shapes (tests/tools/metrics_shapes.py), the query parameters as its
# URLSearchParams sends them (arrays repeated, booleans "true"/"false", its
# timeRange object as "[object Object]"), figures that are the tenant's own
# and true (counted back against what the test did), process-wide figures to
# operators only, the snapshots and their series, exports (xlsx refused), the
# custom query over the catalogue (hostile values stay values), the
# configuration, and row-level security on the new tables.
. tests/lib.sh

fresh_db t_metrics_api
"$AUDITDB_BIN" migrate >/dev/null
A=$(newkey org-a admin)
AV=$(newkey org-a viewer)
B=$(newkey org-b admin)
OP=$("$AUDITDB_BIN" keys create --role operator | sed -n 's/^key (shown once, store it now): //p')
export AUDITDB_METRICS_SNAPSHOT_S=1
if ! start_serve "$TEST_TMP/serve.log"; then
    not_ok "serve starts"; diag "$(cat "$TEST_TMP/serve.log")"; finish
fi
ok "serve starts"
shape() { printf '%s' "$HTTP_BODY" | python3 tests/tools/metrics_shapes.py "$1"; }
M=/api/v1/metrics
now=$(date -u -d '-5 minutes' +%Y-%m-%dT%H:%M:%S.000Z)
ev() { printf '{"eventData":{"timestamp":"%s","action":"%s","status":"%s","principalId":"%s","targetResourceType":"%s","dataClassification":"PHI"}}' "$now" "$1" "$2" "$3" "$4"; }
post() { http POST "$1" -H "X-API-Key: $2" -H 'Content-Type: application/json' --data-binary "$3"; }

# org-a: 5 reads (success), 2 failed logins; org-b: 3 reads
for i in 1 2 3 4 5; do post /api/v1/audit/events "$A" "$(ev fhir.patient.read success doc-$i Patient)"; done
id_a=$(jbody 'd["id"]')
for i in 1 2; do post /api/v1/audit/events "$A" "$(ev auth.login.failure failure doc-9 User)"; done
for i in 1 2 3; do post /api/v1/audit/events "$B" "$(ev fhir.patient.read success doc-b Patient)"; done
expect_eq "10 events stored" 201 "$HTTP_STATUS"
http POST "/api/v1/audit/events/$id_a/verify" -H "X-API-Key: $A"
expect_eq "one verification of org-a's event" 200 "$HTTP_STATUS"

# ---- who may read what --------------------------------------------------
http GET $M/system
expect_eq "system: 401 without a key" 401 "$HTTP_STATUS"
http GET $M/system -H "X-API-Key: $A"
expect_eq "system: 403 for an organization's admin (process-wide: operators only)" "403 FORBIDDEN" "$HTTP_STATUS $(jbody 'd["error"]["code"]')"
for r in audit performance usage dashboard config audit/historical; do
    http GET "$M/$r" -H "X-API-Key: $AV"
    expect_eq "$r: 403 for a viewer (metrics:read)" 403 "$HTTP_STATUS"
    http GET "$M/$r" -H "X-API-Key: $OP"
    expect_eq "$r: 403 for an operator (an organization's figures)" 403 "$HTTP_STATUS"
done
http GET $M/system/historical -H "X-API-Key: $A"
expect_eq "system/historical: operators only" 403 "$HTTP_STATUS"

# ---- system (operator) ----------------------------------------------------
http GET $M/system -H "X-API-Key: $OP"
expect_eq "system: 200 for an operator" 200 "$HTTP_STATUS"
expect_eq "system: the client's SystemMetrics" ok "$(shape system)"
memtotal=$(python3 -c 'print([int(l.split()[1]) * 1024 for l in open("/proc/meminfo") if l.startswith("MemTotal:")][0])')
expect_eq "system: memory total is the host's (/proc/meminfo)" "$memtotal" "$(jbody 'd["server"]["memoryUsage"]["total"]')"
expect_eq "system: cores are the host's" "$(nproc)" "$(jbody 'd["server"]["cpuUsage"]["cores"]')"
expect_eq "system: the database counts its connections" true "$(jbody 'd["database"]["connectionCount"] >= 1')"
expect_eq "system: requests since start counted from the access log" true "$(jbody 'd["api"]["totalRequests"] >= 10')"
expect_eq "system: the process's resident memory" true "$(jbody 'd["server"]["process"]["residentBytes"] > 1000000')"

# ---- audit (tenant) ------------------------------------------------------
# what the client sends: its own defaults, then zod's (hour, true, true), its timeRange object stringified
http GET "$M/audit?granularity=minute&includeBreakdown=false&includeTimeline=false&timeRange=%5Bobject+Object%5D" -H "X-API-Key: $A"
expect_eq "audit: the client's default call" "200 ok 7 {}" "$HTTP_STATUS $(shape audit) $(jbody 'd["eventsProcessed"]') $(jbody 'd["eventsByStatus"]')"
http GET "$M/audit?granularity=minute&includeTimeline=true" -H "X-API-Key: $A"
expect_eq "audit: a day by the minute (the first and last minutes partial)" "200 1441" "$HTTP_STATUS $(jbody 'len(d["timeline"])')"
http GET "$M/audit?granularity=hour&includeBreakdown=true&includeTimeline=true&timeRange=%5Bobject+Object%5D" -H "X-API-Key: $A"
expect_eq "audit: 200 as the client sends it" 200 "$HTTP_STATUS"
expect_eq "audit: the client's AuditMetrics" ok "$(shape audit)"
expect_eq "audit: org-a's events only" 7 "$(jbody 'd["eventsProcessed"]')"
expect_eq "audit: by status" '{"failure": 2, "success": 5}' "$(jbody 'dict(sorted(d["eventsByStatus"].items()))')"
expect_eq "audit: by action" '{"auth.login.failure": 2, "fhir.patient.read": 5}' "$(jbody 'dict(sorted(d["eventsByAction"].items()))')"
expect_eq "audit: the timeline adds up to the events" 7 "$(jbody 'sum(p["eventsProcessed"] for p in d["timeline"])')"
expect_eq "audit: one verification, passed" "1 1 100.0" "$(jbody 'd["integrityVerifications"]["total"]') $(jbody 'd["integrityVerifications"]["passed"]') $(jbody 'float(d["integrityVerifications"]["successRate"])')"
expect_eq "audit: write latency from the 7 writes" true "$(jbody 'd["processingLatency"]["max"] >= d["processingLatency"]["p50"] > 0')"
http GET "$M/audit?includeBreakdown=false&includeTimeline=false" -H "X-API-Key: $A"
expect_eq "audit: without breakdown or timeline" "7 {} false" "$(jbody 'd["eventsProcessed"]') $(jbody 'd["eventsByAction"]') $(jbody '"timeline" in d')"
http GET "$M/audit?actions=auth.login.failure&actions=fhir.patient.read&principalIds=doc-9&includeTimeline=false" -H "X-API-Key: $A"
expect_eq "audit: repeated array parameters filter" 2 "$(jbody 'd["eventsProcessed"]')"
http GET "$M/audit?includeTimeline=false" -H "X-API-Key: $B"
expect_eq "audit: org-b sees its own 3 and no verification" "3 0" "$(jbody 'd["eventsProcessed"]') $(jbody 'd["integrityVerifications"]["total"]')"
http GET "$M/audit?organizationIds=org-b" -H "X-API-Key: $A"
expect_eq "audit: another organization named: 403" "403 organizationIds" "$HTTP_STATUS $(jbody 'd["error"]["details"]["errors"][0]["field"]')"
http GET "$M/audit?organizationIds=org-a&includeTimeline=false" -H "X-API-Key: $A"
expect_eq "audit: its own organization named: 200" 200 "$HTTP_STATUS"
http GET "$M/audit?includeTimeline=yes" -H "X-API-Key: $A"
expect_eq "audit: a boolean that is not true/false: 400 naming it" "400 includeTimeline" "$HTTP_STATUS $(jbody 'd["error"]["details"]["errors"][0]["field"]')"
http GET "$M/audit?granularity=second" -H "X-API-Key: $A"
expect_eq "audit: unknown granularity: 400 naming it" "400 granularity" "$HTTP_STATUS $(jbody 'd["error"]["details"]["errors"][0]["field"]')"
http GET "$M/audit?granularity=minute&startDate=2026-01-01T00:00:00Z&endDate=2026-03-01T00:00:00Z" -H "X-API-Key: $A"
expect_eq "audit: a timeline of too many points: 400" "400 TOO_MANY_POINTS" "$HTTP_STATUS $(jbody 'd["error"]["details"]["errors"][0]["code"]')"
http GET "$M/audit?startDate=yesterday" -H "X-API-Key: $A"
expect_eq "audit: a bad date: 400 naming it" "400 startDate" "$HTTP_STATUS $(jbody 'd["error"]["details"]["errors"][0]["field"]')"
http GET "$M/audit?startDate=2020-01-01T00:00:00Z&endDate=2020-01-02T00:00:00Z&includeTimeline=false" -H "X-API-Key: $A"
expect_eq "audit: a range without events counts none" "0 2020-01-01T00:00:00.000Z" "$(jbody 'd["eventsProcessed"]') $(jbody 'd["timeRange"]["startDate"]')"
http GET "$M/audit?sneaky=1" -H "X-API-Key: $A"
expect_eq "audit: an unknown parameter: 400" 400 "$HTTP_STATUS"

# ---- performance, usage, dashboard --------------------------------------
http GET $M/performance -H "X-API-Key: $A"
expect_eq "performance: the client's PerformanceMetrics" "200 ok" "$HTTP_STATUS $(shape performance)"
expect_eq "performance: org-a's requests only (its own, not org-b's)" true "$(jbody 'd["requests"]["total"] >= 8')"
expect_eq "performance: the host's figures withheld from a tenant" '0 ["resources", "concurrency.activeConnections", "concurrency.queuedRequests"]' \
    "$(jbody 'sum(d["resources"].values())') $(jbody 'd["withheld"]')"
http GET "$M/performance?timeRange=$(date -u -d '-2 hours' +%Y-%m-%dT%H:%M:%SZ)/$(date -u -d '-90 minutes' +%Y-%m-%dT%H:%M:%SZ)" -H "X-API-Key: $A"
expect_eq "performance: an ISO 8601 interval as timeRange, before any request" "200 0" "$HTTP_STATUS $(jbody 'd["requests"]["total"]')"
http GET "$M/performance?timeRange=x/y" -H "X-API-Key: $A"
expect_eq "performance: a bad interval names timeRange" "400 timeRange" "$HTTP_STATUS $(jbody 'd["error"]["details"]["errors"][0]["field"]')"
http GET $M/performance -H "X-API-Key: $B"
nb=$(jbody 'd["requests"]["total"]')
expect_eq "performance: org-b's are fewer" true "$([ "$nb" -ge 3 ] && [ "$nb" -lt 12 ] && echo true)"
http GET "$M/usage?granularity=day&includeDetails=false&timeRange=%5Bobject+Object%5D" -H "X-API-Key: $A"
expect_eq "usage: the client's UsageMetrics" "200 ok" "$HTTP_STATUS $(shape usage)"
expect_eq "usage: the 7 writes on their endpoint" 7 "$(jbody '[e["requestCount"] for e in d["apiUsage"]["endpointUsage"] if e["endpoint"] == "/api/v1/audit/events" and e["method"] == "POST"][0]')"
expect_eq "usage: the events feature" true "$(jbody 'any(f["feature"] == "events" and f["usageCount"] >= 8 for f in d["featureUsage"])')"
expect_eq "usage: one organization, one key wrote" "1 1" "$(jbody 'd["uniqueOrganizations"]') $(jbody '[e["uniqueUsers"] for e in d["apiUsage"]["endpointUsage"] if e["endpoint"] == "/api/v1/audit/events" and e["method"] == "POST"][0]')"
sql "INSERT INTO alerts (id, organization_id, severity, type, title, description, source) VALUES
     ('alert-m1', 'org-a', 'CRITICAL', 'SECURITY', 'seeded', 'a seeded alert', 'test'),
     ('alert-m2', 'org-b', 'HIGH', 'SYSTEM', 'other', 'org-b''s', 'test')"
http GET $M/dashboard -H "X-API-Key: $A"
expect_eq "dashboard: the client's summary" "200 ok" "$HTTP_STATUS $(shape dashboard)"
expect_eq "dashboard: org-a's open alerts only" "1 1 0 alert-m1" "$(jbody 'd["alerts"]["total"]') $(jbody 'd["alerts"]["critical"]') $(jbody 'd["alerts"]["high"]') $(jbody 'd["alerts"]["recent"][0]["id"]')"
expect_eq "dashboard: events against the day before (none: +100%)" "7 100.0" "$(jbody 'd["audit"]["eventsProcessed"]') $(jbody 'float(d["trends"]["eventsGrowth"])')"

# ---- snapshots and series ----------------------------------------------
sleep 3
n=$(sql "SELECT count(*) FROM metrics_snapshots")
expect_eq "snapshots: serve writes the process-wide row every second" true "$([ "$n" -ge 2 ] && echo true)"
expect_eq "snapshots: contiguous periods, no overlap" 0 "$(sql "SELECT count(*) FROM metrics_snapshots a JOIN metrics_snapshots b ON a.id < b.id AND b.period_start < a.taken_at")"
expect_eq "snapshots: the host's gauges" t "$(sql "SELECT bool_and((figures->>'memoryPercentage')::float8 BETWEEN 0 AND 100 AND (figures->>'cores')::int = $(nproc)) FROM metrics_snapshots")"
http GET "$M/audit/historical?startDate=$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%SZ)&endDate=$(date -u -d '+1 minute' +%Y-%m-%dT%H:%M:%SZ)&granularity=hour" -H "X-API-Key: $A"
expect_eq "historical: an array of points" "200 ok" "$HTTP_STATUS $(shape historical)"
expect_eq "historical: org-a's 7 events, stamped before serve started (by their own time)" "7 2" "$(jbody 'sum(p["eventsProcessed"] for p in d)') $(jbody 'sum(p["failures"] for p in d)')"
http GET "$M/audit/historical?granularity=hour" -H "X-API-Key: $B"
expect_eq "historical: org-b's 3" 3 "$(jbody 'sum(p.get("eventsProcessed", 0) for p in d)')"
http GET "$M/performance/historical" -H "X-API-Key: $A"
expect_eq "historical: performance with its mean response time" true "$(jbody 'len(d) > 0 and all(p["requests"] >= p["failed"] and p["averageResponseTime"] >= 0 for p in d) and any(p["averageResponseTime"] > 0 for p in d)')"
http GET "$M/usage/historical?granularity=month" -H "X-API-Key: $A"
expect_eq "historical: usage, org-a's two keys (the viewer's refused requests count)" 2 "$(jbody 'max(p["uniqueUsers"] for p in d)')"
http GET "$M/system/historical" -H "X-API-Key: $OP"
expect_eq "historical: system for the operator" "200 ok" "$HTTP_STATUS $(shape historical)"
expect_eq "historical: system gauges" true "$(jbody 'len(d) > 0 and 0 <= d[0]["memoryPercentage"] <= 100 and d[0]["snapshots"] >= 2')"
http GET "$M/secrets/historical" -H "X-API-Key: $A"
expect_eq "historical: an unknown type: 404" 404 "$HTTP_STATUS"
http GET "$M/audit/historical?granularity=minute" -H "X-API-Key: $A"
expect_eq "historical: granularity as the client allows (hour, day, week, month)" "400 granularity" "$HTTP_STATUS $(jbody 'd["error"]["details"]["errors"][0]["field"]')"
expect_match "RLS: a tenant's transaction may not read the process-wide snapshots" "permission denied" \
    "$(psql "$AUDIT_DB_URL" -qAtX -c "BEGIN" -c "$(tenant_setting org-b)" -c "SET LOCAL ROLE auditdb_app" -c "SELECT count(*) FROM metrics_snapshots" 2>&1)"
expect_eq "RLS: the verifications function counts the setting's organization only" "0" \
    "$(psql "$AUDIT_DB_URL" -qAtX -c "BEGIN" -c "$(tenant_setting org-b)" -c "SET LOCAL ROLE auditdb_app" -c "SELECT count(*) FROM adb_metrics_verifications(now() - interval '1 day', now() + interval '1 day', 'day')" -c "COMMIT" | tail -1)"
expect_eq "RLS: ...and org-a's one" "1" \
    "$(psql "$AUDIT_DB_URL" -qAtX -c "BEGIN" -c "$(tenant_setting org-a)" -c "SET LOCAL ROLE auditdb_app" -c "SELECT sum(n) FROM adb_metrics_verifications(now() - interval '1 day', now() + interval '1 day', 'day')" -c "COMMIT" | tail -1)"
expect_eq "RLS: without a setting, none" "" \
    "$(psql "$AUDIT_DB_URL" -qAtX -c "BEGIN" -c "SET LOCAL ROLE auditdb_app" -c "SELECT sum(n) FROM adb_metrics_verifications(now() - interval '1 day', now() + interval '1 day', 'day')" -c "COMMIT" | tail -1)"

# ---- exports ------------------------------------------------------------
range='{"startDate":"'$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%SZ)'","endDate":"'$(date -u -d '+1 minute' +%Y-%m-%dT%H:%M:%SZ)'"}'
curl -s -D "$TEST_TMP/h" -o "$TEST_TMP/audit.csv" -H "X-API-Key: $A" -H 'Content-Type: application/json' \
    --data-binary "{\"timeRange\":$range,\"format\":\"csv\"}" "$BASE_URL$M/audit/export"
expect_match "export: csv as an attachment" 'Content-Disposition: attachment; filename="metrics-audit-' "$(cat "$TEST_TMP/h")"
expect_eq "export: csv header" "timestamp,eventsProcessed,failures" "$(head -1 "$TEST_TMP/audit.csv" | tr -d '\r')"
expect_eq "export: csv sums to the events" 7 "$(tail -n +2 "$TEST_TMP/audit.csv" | awk -F, '{s += $2} END {print s}')"
post $M/audit/export "$A" "{\"timeRange\":$range,\"format\":\"json\"}"
expect_eq "export: json" "200 audit 7" "$HTTP_STATUS $(jbody 'd["type"]') $(jbody 'sum(p.get("eventsProcessed", 0) for p in d["data"])')"
post $M/audit/export "$A" "{\"timeRange\":$range,\"format\":\"xlsx\"}"
expect_eq "export: xlsx refused, naming format" "400 format UNSUPPORTED_FORMAT" "$HTTP_STATUS $(jbody 'd["error"]["details"]["errors"][0]["field"]') $(jbody 'd["error"]["details"]["errors"][0]["code"]')"
post $M/audit/export "$A" '{"timeRange":{"startDate":"x","endDate":"y"},"format":"csv"}'
expect_eq "export: a bad date names timeRange.startDate" "400 timeRange.startDate" "$HTTP_STATUS $(jbody 'd["error"]["details"]["errors"][0]["field"]')"
post $M/system/export "$A" '{"format":"csv"}'
expect_eq "export: system is operators' only" 403 "$HTTP_STATUS"
post $M/system/export "$OP" '{"format":"json"}'
expect_eq "export: system for the operator" "200 system" "$HTTP_STATUS $(jbody 'd["type"]')"

# ---- custom query ---------------------------------------------------------
post $M/query "$A" '{"metrics":["events.count"],"groupBy":["status"]}'
expect_eq "query: events by status" '200 [["failure", 2], ["success", 5]]' "$HTTP_STATUS $(jbody 'sorted([r["group"]["status"], r["value"]] for r in d["results"][0]["data"])')"
post $M/query "$A" '{"metrics":["events.count","requests.errors"],"filters":{}}'
expect_eq "query: two metrics, no groups" "7 2" "$(jbody 'd["results"][0]["data"][0]["value"]') $(jbody 'len(d["results"])')"
post $M/query "$A" '{"metrics":["events.count"],"groupBy":["action","status"]}'
expect_eq "query: by two dimensions" '[["auth.login.failure", "failure", 2], ["fhir.patient.read", "success", 5]]' "$(jbody 'sorted([r["group"]["action"], r["group"]["status"], r["value"]] for r in d["results"][0]["data"])')"
post $M/query "$A" '{"metrics":["events.count"],"filters":{"action":["fhir.patient.read"]},"groupBy":["hour"]}'
expect_eq "query: filtered, by hour" 5 "$(jbody 'sum(r["value"] for r in d["results"][0]["data"])')"
post $M/query "$A" "{\"metrics\":[\"events.count\"],\"filters\":{\"action\":\"x' OR '1'='1\"}}"
expect_eq "query: a hostile value is a value" "200 0" "$HTTP_STATUS $(jbody 'd["results"][0]["data"][0]["value"]')"
post $M/query "$A" '{"metrics":["events.count"],"groupBy":["organization_id) FROM audit_log --"]}'
expect_eq "query: a dimension outside the catalogue: 400" "400 groupBy[0]" "$HTTP_STATUS $(jbody 'd["error"]["details"]["errors"][0]["field"]')"
post $M/query "$A" '{"metrics":["pg_shadow"]}'
expect_eq "query: an unknown metric: 400 with the catalogue" "400 metrics[0] true" "$HTTP_STATUS $(jbody 'd["error"]["details"]["errors"][0]["field"]') $(jbody '"events.count" in d["error"]["details"]["catalogue"]')"
post $M/query "$A" '{"metrics":["events.count"],"aggregation":"avg"}'
expect_eq "query: avg of a count: 400" "400 aggregation" "$HTTP_STATUS $(jbody 'd["error"]["details"]["errors"][0]["field"]')"
post $M/query "$A" '{"metrics":["requests.responseTime"],"aggregation":"max","groupBy":["method"]}'
expect_eq "query: max response time by method" true "$(jbody 'any(r["group"]["method"] == "POST" and r["value"] > 0 for r in d["results"][0]["data"])')"
post $M/query "$B" '{"metrics":["alerts.count"],"groupBy":["severity"]}'
expect_eq "query: org-b's alerts only" '[["HIGH", 1]]' "$(jbody '[[r["group"]["severity"], r["value"]] for r in d["results"][0]["data"]]')"
post $M/query "$A" '{"metrics":["events.count"],"sql":"SELECT 1"}'
expect_eq "query: an unknown member: 400" "400 sql" "$HTTP_STATUS $(jbody 'd["error"]["details"]["errors"][0]["field"]')"

# ---- configuration ------------------------------------------------------
http GET $M/config -H "X-API-Key: $A"
expect_eq "config: defaults in the client's shape" '200 ok ["audit", "performance", "usage"] {}' "$HTTP_STATUS $(shape config) $(jbody 'd["enabledMetrics"]') $(jbody 'd["retentionPolicies"]')"
http PUT $M/config -H "X-API-Key: $A" -H 'Content-Type: application/json' --data-binary '{"samplingRates":{"audit":0.5}}'
expect_eq "config: sampling below 1 refused (figures are exact)" "400 samplingRates.audit" "$HTTP_STATUS $(jbody 'd["error"]["details"]["errors"][0]["field"]')"
http PUT $M/config -H "X-API-Key: $A" -H 'Content-Type: application/json' --data-binary '{"alertThresholds":{"events.nope":3}}'
expect_eq "config: thresholds of catalogue metrics only" "400 alertThresholds.events.nope" "$HTTP_STATUS $(jbody 'd["error"]["details"]["errors"][0]["field"]')"
http PUT $M/config -H "X-API-Key: $AV" -H 'Content-Type: application/json' --data-binary '{"enabledMetrics":["audit"]}'
expect_eq "config: a viewer may not change it" 403 "$HTTP_STATUS"
http PUT $M/config -H "X-API-Key: $A" -H 'Content-Type: application/json' --data-binary '{"retentionPolicies":{"snapshotDays":7}}'
expect_eq "config: retention is not the tenant's (the rows' own, the operator's)" "400 retentionPolicies.snapshotDays NOT_CONFIGURABLE" "$HTTP_STATUS $(jbody 'd["error"]["details"]["errors"][0]["field"]') $(jbody 'd["error"]["details"]["errors"][0]["code"]')"
http PUT $M/config -H "X-API-Key: $A" -H 'Content-Type: application/json' --data-binary '{"enabledMetrics":["audit"],"retentionPolicies":{},"alertThresholds":{"requests.errors":10},"samplingRates":{"audit":1}}'
expect_eq "config: changed" "200 [\"audit\"] 10 ok" "$HTTP_STATUS $(jbody 'd["enabledMetrics"]') $(jbody 'd["alertThresholds"]["requests.errors"]') $(shape config)"
expect_eq "config: stored as the tenant, by the key" org-a "$(sql "SELECT organization_id FROM metrics_config WHERE updated_by IS NOT NULL")"
http GET $M/performance -H "X-API-Key: $A"
expect_eq "config: a disabled kind answers 403 METRICS_DISABLED" "403 METRICS_DISABLED" "$HTTP_STATUS $(jbody 'd["error"]["code"]')"
http GET $M/usage/historical -H "X-API-Key: $A"
expect_eq "config: ...its series too" 403 "$HTTP_STATUS"
http GET "$M/audit?includeTimeline=false" -H "X-API-Key: $A"
expect_eq "config: an enabled kind still answers" 200 "$HTTP_STATUS"
http GET $M/performance -H "X-API-Key: $B"
expect_eq "config: org-b's configuration is its own" 200 "$HTTP_STATUS"
http GET $M/config -H "X-API-Key: $B"
expect_eq "config: org-b's is its own" '["audit", "performance", "usage"]' "$(jbody 'd["enabledMetrics"]')"

# nothing of the events' content in serve's log
expect_eq "serve's log names no principal" 0 "$(grep -c 'doc-9' "$TEST_TMP/serve.log")"
stop_serve
rc=$?
expect_eq "serve stops cleanly (the snapshot thread joined, nothing leaked)" 0 "$rc"
[ "$rc" = 0 ] || diag "$(tail -40 "$TEST_TMP/serve.log")"

# a request's cost is bounded: 500,000 requests of org-b in the access log and a 50 ms budget
sql "INSERT INTO api_access_log (organization_id, api_key_id, method, path, status_code, response_time_ms, created_at)
     SELECT 'org-b', 'k' || (i % 50), 'GET', '/api/v1/audit/events', 200, i % 100, now() - (i * 100 || ' ms')::interval
     FROM generate_series(1, 500000) i"
export AUDITDB_METRICS_TIMEOUT_MS=50
if start_serve "$TEST_TMP/serve2.log"; then
    http GET $M/usage -H "X-API-Key: $B"
    expect_eq "cost: a request beyond AUDITDB_METRICS_TIMEOUT_MS is a 400 RANGE_TOO_COSTLY naming timeRange" \
        "400 RANGE_TOO_COSTLY timeRange" "$HTTP_STATUS $(jbody 'd["error"]["details"]["errors"][0]["code"]') $(jbody 'd["error"]["details"]["errors"][0]["field"]')"
    # the budget is per request: org-a's small one answers. 50 ms is tight for a 2-core machine
    # running other tests (one CI run saw a 400 here), so it may take up to five tries; a budget
    # that refused every request would still fail here
    i=0
    while :; do
        http GET "$M/audit?includeTimeline=false" -H "X-API-Key: $A"
        i=$((i + 1))
        { [ "$HTTP_STATUS" = 200 ] || [ $i -ge 5 ]; } && break
        sleep 0.5
    done
    expect_eq "cost: ...while org-a's small one answers" 200 "$HTTP_STATUS"
    stop_serve
else
    not_ok "serve starts with AUDITDB_METRICS_TIMEOUT_MS=1"; diag "$(cat "$TEST_TMP/serve2.log")"
fi
AUDITDB_METRICS_TIMEOUT_MS=0 "$AUDITDB_BIN" serve --listen 127.0.0.1:1 >/dev/null 2>"$TEST_TMP/bad.log"
expect_eq "cost: a budget of 0 refused at start (exit 2 naming it)" "2 1" "$? $(grep -c AUDITDB_METRICS_TIMEOUT_MS "$TEST_TMP/bad.log")"
finish
