# alerts_notify.sh - serve's alert thread (issue 20; docs/alerts.md "Notification", "Alerts"):
# the alerts' own audit events (alert.opened, hold-open resolutions) logged exactly once from the
# outbox; notifications through the delivery queue grouped as Alertmanager does (group_wait 30 s,
# group_interval 5 min, repeat_interval 4 h: the alert clock moved by AUDITDB_ALERT_CLOCK_FILE),
# silenced alerts left out, suppression windows holding a group back, destinations chosen by the
# configuration (webhook and email only), another organization's alerts never in the document;
# cleanup of alerts closed more than 90 days ago only (rows dated by SQL), in the maintenance round
# and `auditdb alerts cleanup`.
. tests/lib.sh

fresh_db t_alerts_notify
"$AUDITDB_BIN" migrate >/dev/null
A_RESP=$(newkey org-a responder)
CLOCK="$TEST_TMP/alert.clock"
echo 0 >"$CLOCK"
export AUDITDB_ALERT_CLOCK_FILE="$CLOCK" AUDITDB_ALERT_TICK_MS=100 AUDITDB_DELIVERY_THREADS=0
start_serve "$TEST_TMP/serve.log" || { not_ok "serve starts"; cat "$TEST_TMP/serve.log"; finish; }
trap 'stop_serve >/dev/null 2>&1' EXIT
# the alert clock runs hours ahead below: no escalation (escalationDelay, alerts_operator.sh) here
curl -s -o /dev/null -X POST -H "x-api-key: $A_RESP" -H content-type:application/json \
    -d '{"escalationDelay": 0}' "$BASE_URL/api/v1/alerts/config"
move() { echo $(( $(cat "$CLOCK") + $1 * 1000 )) >"$CLOCK"; sleep 0.6; }   # +N seconds, a few ticks
# the firing notifications (resolved ones are counted apart, below)
items() { sql "SELECT count(*) FROM delivery_queue WHERE organization_id = '$1' AND convert_from(body, 'UTF8')::jsonb->>'status' = 'firing'"; }
last_doc() { sql "SELECT convert_from(body, 'UTF8') FROM delivery_queue WHERE organization_id = '$1' AND convert_from(body, 'UTF8')::jsonb->>'status' = '${2:-firing}' ORDER BY created_at DESC, id DESC LIMIT 1"; }
raise() { # ORG KEY SEVERITY TYPE: at the alert clock's now, as serve's raisers do
    sql "SELECT alert_id FROM auditdb_alert_raise('$1', 'test', '$2', NULL, NULL, '$3', '$4',
         'title $2', 'description of $2', NULL, NULL, NULL, now() + $(cat "$CLOCK") * interval '1 ms',
         now() + $(cat "$CLOCK") * interval '1 ms')"
}
HOOK=$(sql "INSERT INTO delivery_destinations (organization_id, type, label, config, is_default)
            VALUES ('org-a', 'webhook', 'pager', '{\"webhook\": {\"url\": \"http://127.0.0.1:9/h\",
            \"method\": \"POST\", \"headers\": {}, \"timeout\": 5000, \"retryConfig\": {\"maxRetries\": 3,
            \"backoffMultiplier\": 2, \"maxBackoffDelay\": 60000}}}', 'true') RETURNING id")
sql "INSERT INTO delivery_destinations (organization_id, type, label, config, is_default)
     VALUES ('org-a', 'storage', 'bucket', '{}', 'true')" >/dev/null

# ---- the outbox: alert.opened logged once each ----
A1=$(raise org-a k1 HIGH SECURITY)
A2=$(raise org-a k2 HIGH SECURITY)
B1=$(raise org-b k9 HIGH SECURITY)
raise org-a k1 HIGH SECURITY >/dev/null    # a fold: no new audit event
sleep 1
expect_eq "alert.opened: one audit event per opening, outbox empty" "2 1 0" \
    "$(sql "SELECT count(*) FROM audit_log WHERE organization_id = 'org-a' AND action = 'alert.opened'") $(sql "SELECT count(*) FROM audit_log WHERE organization_id = 'org-b' AND action = 'alert.opened'") $(sql "SELECT count(*) FROM alert_audit_outbox")"
expect_eq "alert.opened names the alert, by auditdb-alerts" "auditdb-alerts Alert" \
    "$(sql "SELECT principal_id || ' ' || target_resource_type FROM audit_log WHERE action = 'alert.opened' AND target_resource_id = '$A1'")"

# ---- group_wait ----
expect_eq "before group_wait: nothing sent" 0 "$(items org-a)"
# (the real clock runs too: a few seconds of this machine's time pass between the steps)
move 18
expect_eq "18 s: still nothing" 0 "$(items org-a)"
move 13
expect_eq "31 s: one notification, to the webhook only (not the storage destination)" "1 $HOOK" \
    "$(items org-a) $(sql "SELECT destination_id FROM delivery_queue WHERE organization_id = 'org-a'")"
DOC=$(last_doc org-a)
expect_eq "the document: both alerts of the group, firing, number 1, no metadata" "2 firing 1 SECURITY/HIGH false" \
    "$(printf '%s' "$DOC" | json 'len(d["alerts"])') $(printf '%s' "$DOC" | json 'd["status"]') $(printf '%s' "$DOC" | json 'd["notification"]') $(printf '%s' "$DOC" | json 'd["groupKey"]') $(printf '%s' "$DOC" | json 'any("metadata" in a for a in d["alerts"])')"
expect_eq "org-b has no destination: nothing queued for it, and nothing of it in org-a's" "0 false" \
    "$(items org-b) $(printf '%s' "$DOC" | json '"'$B1'" in [a["id"] for a in d["alerts"]]')"

# ---- group_interval: a change waits for it ----
A3=$(raise org-a k3 HIGH SECURITY)
move 60
expect_eq "a new alert 60 s later: not before group_interval" 1 "$(items org-a)"
move 245
expect_eq "5 min after the first: the changed group sent" 2 "$(items org-a)"
expect_eq "...with its 3 alerts, number 2" "3 2" "$(last_doc org-a | json 'len(d["alerts"])') $(last_doc org-a | json 'd["notification"]')"
move 600
expect_eq "unchanged 10 min later: nothing (repeat_interval 4 h)" 2 "$(items org-a)"
move 14400
expect_eq "4 h later: repeated" 3 "$(items org-a)"

# ---- acknowledged and silenced alerts leave the group ----
curl -s -o /dev/null -X POST -H "x-api-key: $A_RESP" "$BASE_URL/api/v1/alerts/$A3/acknowledge"
END=$(python3 -c "import time,sys; t=time.time()+int(open(sys.argv[1]).read())/1000+86400; print(time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(t)))" "$CLOCK")
http POST /api/v1/alerts/silences -H "x-api-key: $A_RESP" -H content-type:application/json \
    -d '{"reason": "known", "matchers": {"dedupKey": "k2"}, "endsAt": "'$END'"}'
expect_eq "silence created" 201 "$HTTP_STATUS"
[ "$HTTP_STATUS" = 201 ] || diag "$HTTP_BODY"
raise org-a k2 HIGH SECURITY >/dev/null    # folds, now silenced
move 301
expect_eq "the group changed (one alert left): sent after group_interval" 4 "$(items org-a)"
expect_eq "...only the unsilenced, unacknowledged alert" "[\"$A1\"]" "$(last_doc org-a | json '[a["id"] for a in d["alerts"]]')"

# ---- suppression windows hold the group back ----
NOWH=$(python3 -c "import time,sys; t=time.time()+int(open(sys.argv[1]).read())/1000; print(time.strftime('%H:%M', time.gmtime(t-60)), time.strftime('%H:%M', time.gmtime(t+7200)))" "$CLOCK")
set -- $NOWH
http POST /api/v1/alerts/config -H "x-api-key: $A_RESP" -H content-type:application/json \
    -d '{"suppressionWindows": [{"start": "'$1'", "end": "'$2'", "timezone": "UTC", "reason": "maintenance"}]}'
expect_eq "a suppression window covering now saved" 200 "$HTTP_STATUS"
A4=$(raise org-a k4 HIGH SECURITY)
move 301
expect_eq "in the window: nothing sent" 4 "$(items org-a)"
http POST /api/v1/alerts/config -H "x-api-key: $A_RESP" -H content-type:application/json -d '{"suppressionWindows": []}'
move 1
expect_eq "window removed: the held group goes" 5 "$(items org-a)"
http POST /api/v1/alerts/config -H "x-api-key: $A_RESP" -H content-type:application/json \
    -d '{"notification": {"destinations": "none"}}'
A5=$(raise org-a k5 CRITICAL SECURITY)
move 400
expect_eq "destinations none: nothing queued" 5 "$(items org-a)"

# ---- resolved notifications (Alertmanager's send_resolved) ----
resolved_docs() { sql "SELECT count(*) FROM delivery_queue WHERE organization_id = 'org-a' AND convert_from(body, 'UTF8')::jsonb->>'status' = 'resolved'"; }
# A2 (k2, notified) was resolved by its hold-open time when k2 came back hours later: its
# resolved notification went then (destinations were the default ones)
expect_eq "the alert resolved by hold-open was taken back" "1 [\"$A2\"]" \
    "$(resolved_docs) $(last_doc org-a resolved | json '[a["id"] for a in d["alerts"]]')"
http POST /api/v1/alerts/config -H "x-api-key: $A_RESP" -H content-type:application/json \
    -d '{"notification": {"destinations": "default"}}'
http POST "/api/v1/alerts/$A1/resolve" -H "x-api-key: $A_RESP" -H content-type:application/json -d '{"resolution": "fixed"}'
expect_eq "a notified alert resolved" 200 "$HTTP_STATUS"
move 1
expect_eq "one resolved notification: status resolved, the alert, to the webhook" "2 [\"$A1\"] resolved $HOOK" \
    "$(resolved_docs) $(last_doc org-a resolved | json '[a["id"] for a in d["alerts"]]') $(last_doc org-a resolved | json 'd["alerts"][0]["status"]') $(sql "SELECT destination_id FROM delivery_queue WHERE organization_id = 'org-a' AND convert_from(body, 'UTF8')::jsonb->>'status' = 'resolved' ORDER BY created_at DESC, id DESC LIMIT 1")"
move 1
expect_eq "sent once" 2 "$(resolved_docs)"
http POST /api/v1/alerts/config -H "x-api-key: $A_RESP" -H content-type:application/json \
    -d '{"notification": {"sendResolved": false}}'
http POST "/api/v1/alerts/$A4/dismiss" -H "x-api-key: $A_RESP" -H content-type:application/json -d '{"reason": "noise"}'
move 1
expect_eq "sendResolved false: a dismissed notified alert is marked, not sent" "2 t" \
    "$(resolved_docs) $(sql "SELECT resolved_notified_at IS NOT NULL FROM alerts WHERE id = '$A4'")"
http POST /api/v1/alerts/config -H "x-api-key: $A_RESP" -H content-type:application/json \
    -d '{"notification": {"sendResolved": "yes"}}'
expect_eq "sendResolved must be a boolean: 400 naming it" "400 notification.sendResolved" \
    "$HTTP_STATUS $(jbody 'd["error"]["details"]["field"]' 2>/dev/null || jbody 'd["error"]["details"]["errors"][0]["field"]')"
http POST /api/v1/alerts/config -H "x-api-key: $A_RESP" -H content-type:application/json \
    -d '{"notification": {"sendResolved": true, "destinations": "none"}}'

# ---- hold-open resolution logged from the outbox ----
http POST /api/v1/alerts/config -H "x-api-key: $A_RESP" -H content-type:application/json -d '{"debounceWindow": 1}'
sql "SELECT auditdb_alert_raise('org-a', 'test', 'k6', NULL, NULL, 'LOW', 'SYSTEM', 't', 'd', NULL, NULL, NULL, now() - interval '10 minutes', now())" >/dev/null
K6=$(sql "SELECT id FROM alerts WHERE dedup_key = 'k6'")
sql "SELECT auditdb_alert_raise('org-a', 'test', 'k6', NULL, NULL, 'LOW', 'SYSTEM', 't', 'd', NULL, NULL, NULL, now(), now())" >/dev/null
sleep 1
expect_eq "a trigger after the hold-open time: the quiet alert resolved, its event logged" "resolved 1" \
    "$(sql "SELECT status FROM alerts WHERE id = '$K6'") $(sql "SELECT count(*) FROM audit_log WHERE action = 'alert.resolved' AND target_resource_id = '$K6' AND principal_id = 'auditdb-alerts'")"

# ---- cleanup: only alerts closed more than 90 days ago ----
sql "INSERT INTO alerts (id, organization_id, severity, type, title, description, source, status,
     resolved, resolved_at, dismissed_at, created_at)
     VALUES ('alert-old-res', 'org-a', 'LOW', 'SYSTEM', 't', 'd', 's', 'resolved', 'true', now() - interval '91 days', NULL, now() - interval '100 days'),
            ('alert-old-dis', 'org-a', 'LOW', 'SYSTEM', 't', 'd', 's', 'dismissed', 'false', NULL, now() - interval '90 days 1 minute', now() - interval '100 days'),
            ('alert-89-res', 'org-a', 'LOW', 'SYSTEM', 't', 'd', 's', 'resolved', 'true', now() - interval '89 days', NULL, now() - interval '100 days'),
            ('alert-old-open', 'org-a', 'LOW', 'SYSTEM', 't', 'd', 's', 'active', 'false', NULL, NULL, now() - interval '400 days'),
            ('alert-old-ack', 'org-a', 'LOW', 'SYSTEM', 't', 'd', 's', 'acknowledged', 'false', NULL, NULL, now() - interval '400 days')" >/dev/null
out=$("$AUDITDB_BIN" maintenance run 2>&1)
expect_match "maintenance round reports the alerts deleted" "alerts: 2 resolved or dismissed" "$out"
expect_eq "cleanup: the two closed > 90 days gone; 89 days, open and acknowledged kept" "alert-89-res alert-old-ack alert-old-open" \
    "$(sql "SELECT string_agg(id, ' ' ORDER BY id) FROM alerts WHERE id LIKE 'alert-%-%' AND id IN ('alert-old-res', 'alert-old-dis', 'alert-89-res', 'alert-old-open', 'alert-old-ack')")"

finish
