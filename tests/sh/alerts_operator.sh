# alerts_operator.sh - the service's own alerts for operators, the rule over refused checkpoints
# and the alert configuration's delivery thresholds (docs/alerts.md "API and CLI", "Rules over
# the security tables", "Configuration"), through serve with the detection engine on:
# GET /api/v1/operator/alerts[/{id}] answers an operator key the "_process" alerts only (403 for
# an organization's admin, 404 for an organization's alert id, no write route); a refused
# checkpoint row (as the checkpointer writes it) reaches security_events and raises
# security-checkpoint-refused per witness for its organization, a refusal of no organization's
# log under "_process"; a destination failing in a row, failing too often and answering slowly
# and a queue backlog raise DELIVERY alerts (auditdb-thresholds) once each, a threshold of 0 is
# off, and a breach that ends is resolved by auditdb with its audit event; an alert active longer
# than escalationDelay goes one severity up once (not an acknowledged or a younger one).
. tests/lib.sh
export AUDITDB_DETECT=true AUDITDB_DETECT_INTERVAL_MS=100 # the engine under test
export AUDITDB_ALERT_TICK_MS=100 AUDITDB_DELIVERY_THREADS=0 # thresholds every 30 ticks: 3 s

fresh_db t_alerts_operator
"$AUDITDB_BIN" migrate >/dev/null || { not_ok "migrate"; finish; }
A=$(newkey org-a admin)
OP=$("$AUDITDB_BIN" keys create --role operator | sed -n 's/^key (shown once, store it now): //p')
start_serve "$TEST_TMP/serve.log" || { not_ok "serve starts"; cat "$TEST_TMP/serve.log"; finish; }
trap 'stop_serve >/dev/null 2>&1' EXIT
J="content-type: application/json"
# poll (up to 10 s) until the SQL count reaches N; prints the count
until_n() { i=0; while [ $i -lt 100 ] && [ "$(sql "$1")" -lt "$2" ]; do sleep 0.1; i=$((i + 1)); done; sql "$1"; }

# ---- the rule over refused checkpoints ----
expect_eq "every organization and _process have the rule" "t t" \
    "$(sql "SELECT count(*) = 1 FROM detection_rules WHERE organization_id = 'org-a' AND rule_id = 'security-checkpoint-refused' AND is_current") $(sql "SELECT count(*) = 1 FROM detection_rules WHERE organization_id = '_process' AND rule_id = 'security-checkpoint-refused'")"
sql "INSERT INTO checkpoint_refusals (organization_id, kind, witness, signed_size, offered_size, description)
     VALUES ('org-a', 'witness_fork', 'http://w1.example/', 9, 9, 'witness http://w1.example/ holds another root at size 9'),
            ('org-a', 'witness_refused', 'http://w1.example/', 9, 20, 'witness http://w1.example/ refused the proof'),
            ('org-a', 'inconsistent', NULL, 9, 12, 'the log refused to sign an inconsistent tree'),
            ('_process', 'witness_ahead', 'http://w2.example/', 30, 5, 'a witness ahead of the log')" >/dev/null
expect_eq "each refusal is a security_events row (CRITICAL, the witness or log)" "4 4" \
    "$(sql "SELECT count(*) FROM security_events WHERE event_type = 'checkpoint_refused' AND severity = 'CRITICAL'") $(sql "SELECT count(*) FROM security_events e JOIN checkpoint_refusals r ON (e.details->>'refusalId')::bigint = r.id AND e.target_resource = coalesce(r.witness, 'log')")"
Q="SELECT count(*) FROM alerts WHERE rule_id = 'security-checkpoint-refused'"
expect_eq "one alert per witness (and the log) and organization" 3 "$(until_n "$Q" 3)"
expect_eq "their keys" "_process|security-checkpoint-refused/http://w2.example/ org-a|security-checkpoint-refused/http://w1.example/ org-a|security-checkpoint-refused/log" \
    "$(sql "SELECT string_agg(organization_id || '|' || dedup_key, ' ' ORDER BY organization_id, dedup_key) FROM alerts WHERE rule_id = 'security-checkpoint-refused'")"
expect_eq "w1's hit counts its two refusals; its alert CRITICAL SECURITY" "2 CRITICAL SECURITY" \
    "$(until_n "SELECT coalesce(max(event_count), 0) FROM detection_hits WHERE rule_id = 'security-checkpoint-refused' AND group_key = 'http://w1.example/'" 2) $(sql "SELECT severity || ' ' || type FROM alerts WHERE dedup_key = 'security-checkpoint-refused/http://w1.example/'")"
expect_eq "the API role cannot write a refusal" "permission denied" \
    "$(psql "$AUDIT_DB_URL" -qAtX -c 'BEGIN' -c "$(tenant_setting org-a)" -c 'SET LOCAL ROLE auditdb_app' -c "INSERT INTO checkpoint_refusals (organization_id, kind, signed_size, offered_size, description) VALUES ('org-a', 'x', 1, 1, 'forged')" 2>&1 | grep -o 'permission denied' | head -1)"

# ---- operators read _process alerts over HTTP ----
http GET /api/v1/operator/alerts -H "X-API-Key: $OP"
expect_eq "operator: 200, only _process's alerts" "200 _process" \
    "$HTTP_STATUS $(jbody '",".join(sorted(set(a["organizationId"] for a in d["data"])))')"
PID=$(sql "SELECT id FROM alerts WHERE organization_id = '_process' AND rule_id = 'security-checkpoint-refused'")
AID=$(sql "SELECT id FROM alerts WHERE organization_id = 'org-a' LIMIT 1")
expect_eq "the list holds it" true "$(jbody "\"$PID\" in [a['id'] for a in d['data']]")"
http GET "/api/v1/operator/alerts?severity=CRITICAL&limit=1" -H "X-API-Key: $OP"
expect_eq "filters and pages as /alerts" "200 1" "$HTTP_STATUS $(jbody 'len(d["data"])')"
http GET "/api/v1/operator/alerts?severity=LOUD" -H "X-API-Key: $OP"
expect_eq "a bad filter: 400 naming it" "400 severity" "$HTTP_STATUS $(jbody 'd["error"]["details"]["field"]' 2>/dev/null || jbody 'd["error"]["details"]["errors"][0]["field"]')"
http GET "/api/v1/operator/alerts/$PID" -H "X-API-Key: $OP"
expect_eq "one _process alert" "200 $PID" "$HTTP_STATUS $(jbody 'd["id"]')"
http GET "/api/v1/operator/alerts/$AID" -H "X-API-Key: $OP"
expect_eq "an organization's alert through the operator route: 404" 404 "$HTTP_STATUS"
http GET /api/v1/operator/alerts -H "X-API-Key: $A"
expect_eq "an organization's admin: 403" 403 "$HTTP_STATUS"
http GET /api/v1/operator/alerts
expect_eq "no key: 401" 401 "$HTTP_STATUS"
http POST "/api/v1/operator/alerts/$PID/acknowledge" -H "X-API-Key: $OP"
expect_eq "read-only: no acknowledge route (404 or 405)" t "$( [ "$HTTP_STATUS" = 404 ] || [ "$HTTP_STATUS" = 405 ] && echo t)"
http GET "/api/v1/alerts/$PID" -H "X-API-Key: $A"
expect_eq "org-a's admin does not see the _process alert" 404 "$HTTP_STATUS"
http GET /api/v1/alerts -H "X-API-Key: $OP"
expect_eq "the operator has no organization's alerts" 403 "$HTTP_STATUS"

# ---- the delivery thresholds ----
D1=$(sql "INSERT INTO delivery_destinations (organization_id, type, label, config)
          VALUES ('org-a', 'webhook', 'hook-1', '{\"webhook\": {\"url\": \"http://127.0.0.1:9/h\", \"method\": \"POST\", \"headers\": {}, \"timeout\": 5000, \"retryConfig\": {\"maxRetries\": 3, \"backoffMultiplier\": 2, \"maxBackoffDelay\": 60000}}}') RETURNING id")
D2=$(sql "INSERT INTO delivery_destinations (organization_id, type, label, config)
          VALUES ('org-a', 'webhook', 'hook-2', '{\"webhook\": {\"url\": \"http://127.0.0.1:9/i\", \"method\": \"POST\", \"headers\": {}, \"timeout\": 5000, \"retryConfig\": {\"maxRetries\": 3, \"backoffMultiplier\": 2, \"maxBackoffDelay\": 60000}}}') RETURNING id")
# D1: 7 failures in a row, 8 of 12 failed (67% >= 50%); D2: healthy but slow (6000 ms >= 5000)
sql "INSERT INTO destination_health (destination_id, organization_id, status, last_check_at, consecutive_failures, total_failures, total_deliveries, average_response_time)
     VALUES ($D1, 'org-a', 'unhealthy', now(), 7, 8, 12, 100), ($D2, 'org-a', 'healthy', now(), 0, 0, 40, 6000)" >/dev/null
T="SELECT count(*) FROM alerts WHERE source = 'auditdb-thresholds' AND organization_id = 'org-a'"
expect_eq "three breaches raised" 3 "$(until_n "$T" 3)"
expect_eq "their keys, severities and type" "threshold/consecutive-failures/$D1:HIGH:DELIVERY threshold/failure-rate/$D1:MEDIUM:DELIVERY threshold/response-time/$D2:LOW:DELIVERY" \
    "$(sql "SELECT string_agg(dedup_key || ':' || severity || ':' || type, ' ' ORDER BY dedup_key) FROM alerts WHERE source = 'auditdb-thresholds'")"
expect_eq "the metadata names the value and the limit" "7 5 $D1" \
    "$(sql "SELECT (metadata->>'value')::numeric::int || ' ' || (metadata->>'limit')::numeric::int || ' ' || (metadata->>'destinationId') FROM alerts WHERE dedup_key = 'threshold/consecutive-failures/$D1'")"
sleep 3.5
expect_eq "a breach that lasts: still one alert each, folded" "3 t" \
    "$(sql "$T") $(sql "SELECT bool_and(trigger_count >= 2) FROM alerts WHERE source = 'auditdb-thresholds'")"
# the configuration: the response time threshold off, the backlog threshold at 2
http POST /api/v1/alerts/config -H "X-API-Key: $A" -H "$J" -d '{"responseTimeThreshold": 0, "queueBacklogThreshold": 2}'
expect_eq "configuration saved" 200 "$HTTP_STATUS"
sql "INSERT INTO delivery_queue (id, organization_id, destination_id, payload, scheduled_at)
     SELECT 'q-' || g, 'org-a', $D1, '{}', now() + interval '1 day' FROM generate_series(1, 3) g" >/dev/null
expect_eq "a backlog of 3 >= 2: raised" 1 "$(until_n "$T AND dedup_key = 'threshold/queue-backlog'" 1)"
R="SELECT count(*) FROM alerts WHERE dedup_key = 'threshold/response-time/$D2' AND status = 'resolved' AND resolved_by = 'auditdb'"
expect_eq "the threshold turned off: its open alert resolved by auditdb" 1 "$(until_n "$R" 1)"
sql "UPDATE destination_health SET consecutive_failures = 0 WHERE destination_id = $D1" >/dev/null
R2="SELECT count(*) FROM alerts WHERE dedup_key = 'threshold/consecutive-failures/$D1' AND status = 'resolved'"
expect_eq "the failures in a row over: resolved" 1 "$(until_n "$R2" 1)"
expect_eq "...with its alert.resolve event, by auditdb" 1 \
    "$(until_n "SELECT count(*) FROM audit_log WHERE organization_id = 'org-a' AND action = 'alert.resolve' AND principal_id = 'auditdb' AND target_resource_id = (SELECT id FROM alerts WHERE dedup_key = 'threshold/consecutive-failures/$D1')" 1)"
expect_eq "the failure rate still breached: open" active \
    "$(sql "SELECT status FROM alerts WHERE dedup_key = 'threshold/failure-rate/$D1'")"
sql "UPDATE destination_health SET consecutive_failures = 9 WHERE destination_id = $D1" >/dev/null
expect_eq "failing in a row again: a new alert, the resolved one left closed" 2 \
    "$(until_n "SELECT count(*) FROM alerts WHERE dedup_key = 'threshold/consecutive-failures/$D1'" 2)"

# ---- escalation: an alert active escalationDelay minutes goes one severity up, once ----
http POST /api/v1/alerts/config -H "X-API-Key: $A" -H "$J" -d '{"escalationDelay": 5}'
E_OLD=$(sql "SELECT alert_id FROM auditdb_alert_raise('org-a', 'test', 'esc-old', NULL, NULL, 'LOW', 'SYSTEM', 't', 'd', NULL, NULL, NULL, now() - interval '10 minutes', now() - interval '10 minutes')")
E_NEW=$(sql "SELECT alert_id FROM auditdb_alert_raise('org-a', 'test', 'esc-new', NULL, NULL, 'LOW', 'SYSTEM', 't', 'd', NULL, NULL, NULL, now() - interval '1 minute', now() - interval '1 minute')")
E_ACK=$(sql "SELECT alert_id FROM auditdb_alert_raise('org-a', 'test', 'esc-ack', NULL, NULL, 'LOW', 'SYSTEM', 't', 'd', NULL, NULL, NULL, now() - interval '10 minutes', now() - interval '10 minutes')")
http POST "/api/v1/alerts/$E_ACK/acknowledge" -H "X-API-Key: $A"
E="SELECT count(*) FROM alerts WHERE id = '$E_OLD' AND severity = 'MEDIUM' AND metadata->>'escalatedFrom' = 'LOW'"
expect_eq "active 10 min with a delay of 5: LOW -> MEDIUM" 1 "$(until_n "$E" 1)"
expect_eq "...its alert.escalated event" 1 \
    "$(until_n "SELECT count(*) FROM audit_log WHERE organization_id = 'org-a' AND action = 'alert.escalated' AND target_resource_id = '$E_OLD'" 1)"
sleep 3.5
expect_eq "once: still MEDIUM a round later; 1 min old and acknowledged ones untouched" "MEDIUM LOW LOW" \
    "$(sql "SELECT string_agg(severity, ' ' ORDER BY array_position(ARRAY['$E_OLD', '$E_NEW', '$E_ACK'], id)) FROM alerts WHERE id IN ('$E_OLD', '$E_NEW', '$E_ACK')")"

stop_serve
expect_eq "serve stopped cleanly" 0 $?
finish
