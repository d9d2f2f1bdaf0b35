# alerts_api.sh - the alerts routes in smart-logs' client's shapes (issue 20; docs/alerts.md
# "API and CLI"): list with every filter the client sends (repeated and comma-separated arrays),
# summary, pagination and sorts; one alert (404 for another organization's); statistics;
# acknowledge, resolve and dismiss idempotent (a second call succeeds, changes nothing, and logs
# no second audit event), wrong states 409; configuration (GET defaults, POST merged, refusals
# naming the member); permissions per role (viewer none, auditor read, responder manage);
# attackers: another organization's ids, SQL in filters, bad values (400 naming the field).
. tests/lib.sh

fresh_db t_alerts_api
"$AUDITDB_BIN" migrate >/dev/null
A_ADMIN=$(newkey org-a admin)
A_VIEW=$(newkey org-a viewer)
A_AUD=$(newkey org-a auditor)
A_RESP=$(newkey org-a responder)
B_ADMIN=$(newkey org-b admin)
start_serve "$TEST_TMP/serve.log" || { not_ok "serve starts"; cat "$TEST_TMP/serve.log"; finish; }
trap 'stop_serve >/dev/null 2>&1' EXIT
A="-H x-api-key:$A_ADMIN -H content-type:application/json"
AUD="-H x-api-key:$A_AUD -H content-type:application/json"
RESP="-H x-api-key:$A_RESP -H content-type:application/json"
B="-H x-api-key:$B_ADMIN -H content-type:application/json"
shape() { # KIND [ORG]: the last answer against the client's shape
    printf '%s' "$HTTP_BODY" >"$TEST_TMP/answer.json"
    python3 tests/tools/client_shapes.py "$1" "$TEST_TMP/answer.json" ${2:-}
}

# alerts raised the one way there is (auditdb_alert_raise, as adb__alert_raise calls it)
raise() { # ORG KEY SEVERITY TYPE TITLE [SOURCE]
    sql "SELECT alert_id FROM auditdb_alert_raise('$1', '${6:-auditdb-detect}', '$2', NULL, NULL,
         '$3', '$4', '$5', 'description of $5', NULL, '{\"k\": 1}', '[\"11111111-1111-4111-8111-111111111111\"]',
         now(), now())"
}
A1=$(raise org-a failed-auth/u1 HIGH SECURITY "failed logins u1")
A2=$(raise org-a bulk/u2 MEDIUM COMPLIANCE "bulk export u2")
A3=$(raise org-a slow/q1 CRITICAL PERFORMANCE "slow query" auditdb-dbmon)
A4=$(raise org-a deliv/d1 LOW DELIVERY "destination disabled" auditdb-delivery)
B1=$(raise org-b failed-auth/u9 HIGH SECURITY "failed logins of b")
raise org-a failed-auth/u1 HIGH SECURITY "failed logins u1" >/dev/null   # folds into A1
sql "UPDATE alerts SET tags = '[\"pager\", \"night\"]' WHERE id = '$A2'" >/dev/null

# ---- list ----
http GET /api/v1/alerts $AUD
expect_eq "list: 200 for an auditor" 200 "$HTTP_STATUS"
expect_eq "list: the client's PaginatedAlerts, every alert org-a's" "" "$(shape alerts-page org-a)"
conforms "GET /api/v1/alerts 200" GET /api/v1/alerts 200
expect_eq "list: 4 alerts, newest first, folded one counted twice" "4 $A4 2" \
    "$(jbody 'd["pagination"]["total"]') $(jbody 'd["data"][0]["id"]') $(jbody '[a["triggerCount"] for a in d["data"] if a["id"]=="'$A1'"][0]')"
expect_eq "list: summary counts every severity and category" "4 4 1 1 1" \
    "$(jbody 'd["summary"]["totalAlerts"]') $(jbody 'd["summary"]["activeAlerts"]') $(jbody 'd["summary"]["criticalAlerts"]') $(jbody 'd["summary"]["alertsBySeverity"]["HIGH"]') $(jbody 'd["summary"]["alertsByCategory"]["availability"]')"
expect_eq "list: optional members absent, not null" "false false" \
    "$(jbody '"acknowledgedAt" in d["data"][0]') $(jbody 'any(v is None for a in d["data"] for v in a.values())')"
http GET "/api/v1/alerts?severity=HIGH&severity=CRITICAL" $AUD
expect_eq "severity repeated (as the client sends arrays)" "2" "$(jbody 'len(d["data"])')"
http GET "/api/v1/alerts?severity=HIGH,CRITICAL&type=PERFORMANCE" $AUD
expect_eq "severity comma-separated and type" "$A3" "$(jbody '",".join(a["id"] for a in d["data"])')"
http GET "/api/v1/alerts?source=auditdb-delivery&source=auditdb-dbmon&sortBy=severity&sortOrder=asc" $AUD
expect_eq "source repeated, sorted by severity ascending" "$A4,$A3" "$(jbody '",".join(a["id"] for a in d["data"])')"
http GET "/api/v1/alerts?tags=pager&tags=night" $AUD
expect_eq "tags: alerts carrying every tag" "$A2" "$(jbody '",".join(a["id"] for a in d["data"])')"
http GET "/api/v1/alerts?search=SLOW%20QUERY" $AUD
expect_eq "search: case-insensitive in title and description" "$A3" "$(jbody '",".join(a["id"] for a in d["data"])')"
http GET "/api/v1/alerts?limit=2&offset=2&sortBy=title&sortOrder=asc" $AUD
expect_eq "page 2 of 2 by title" "2 4 false true" \
    "$(jbody 'len(d["data"])') $(jbody 'd["pagination"]["total"]') $(jbody 'd["pagination"]["hasNext"]') $(jbody 'd["pagination"]["hasPrevious"]')"
http GET "/api/v1/alerts?limit=2&offset=10" $AUD
expect_eq "past the end: no data, the total still there" "0 4" "$(jbody 'len(d["data"])') $(jbody 'd["pagination"]["total"]')"
FUT=$(date -u -d '+1 day' +%Y-%m-%dT%H:%M:%SZ)
http GET "/api/v1/alerts?rangeBy=created_at&startDate=$FUT" $AUD
expect_eq "startDate tomorrow: nothing" "0" "$(jbody 'len(d["data"])')"
for bad in "status=open status" "severity=SEVERE severity" "type=security type" "rangeBy=id rangeBy" \
           "startDate=yesterday startDate" "limit=0 limit" "limit=1001 limit" "offset=-1 offset" \
           "sortBy=id;DROP%20TABLE%20alerts sortBy" "sortOrder=up sortOrder" "search= search" \
           "unknown=1 unknown"; do
    set -- $bad
    http GET "/api/v1/alerts?$1" $AUD
    expect_eq "list refuses $1: 400 naming $2" "400 $2" "$HTTP_STATUS $(jbody 'd["error"]["details"]["errors"][0]["field"]')"
done
http GET "/api/v1/alerts?source=x'%20OR%20'1'='1" $AUD
expect_eq "a quote in a filter is a value, not SQL" "200 0" "$HTTP_STATUS $(jbody 'len(d["data"])')"
http GET /api/v1/alerts -H "x-api-key: $A_VIEW"
expect_eq "a viewer has no alerts:read: 403" 403 "$HTTP_STATUS"
http GET /api/v1/alerts
expect_eq "no key: 401" 401 "$HTTP_STATUS"
http GET /api/v1/alerts $B
expect_eq "org-b sees only its alert" "$B1" "$(jbody '",".join(a["id"] for a in d["data"])')"

# ---- one alert ----
http GET "/api/v1/alerts/$A1" $AUD
expect_eq "get: 200, the client's Alert" "200 " "$HTTP_STATUS $(shape alert org-a)"
conforms "GET /api/v1/alerts/{id} 200" GET "/api/v1/alerts/{id}" 200
expect_eq "get: dedup key, count, samples" "failed-auth/u1 2 1" \
    "$(jbody 'd["dedupKey"]') $(jbody 'd["triggerCount"]') $(jbody 'len(d["sampleEventIds"])')"
http GET "/api/v1/alerts/$B1" $A
expect_eq "another organization's alert: 404" 404 "$HTTP_STATUS"
conforms "GET /api/v1/alerts/{id} 404" GET "/api/v1/alerts/{id}" 404
http GET "/api/v1/alerts/alert-nope" $A
expect_eq "an unknown id: 404" 404 "$HTTP_STATUS"
http GET "/api/v1/alerts/a'b" $A
expect_eq "a quote in the id: 404" 404 "$HTTP_STATUS"

# ---- statistics ----
http GET /api/v1/alerts/statistics $AUD
expect_eq "statistics: the client's AlertStatistics" "200 " "$HTTP_STATUS $(shape alert-statistics)"
conforms "GET /api/v1/alerts/statistics 200" GET /api/v1/alerts/statistics 200
expect_eq "statistics: 4 active, by source, 30 days of trends, today 4 created" "4 4 1 30 4" \
    "$(jbody 'd["total"]') $(jbody 'd["active"]') $(jbody 'd["bySource"]["auditdb-dbmon"]') $(jbody 'len(d["trends"])') $(jbody 'd["trends"][-1]["created"]')"

# ---- actions: permission, idempotence, audit events ----
events() { sql "SELECT count(*) FROM audit_log WHERE organization_id = 'org-a' AND action = '$1' AND target_resource_id = '$2'"; }
http POST "/api/v1/alerts/$A1/acknowledge" $AUD
expect_eq "an auditor cannot acknowledge: 403" 403 "$HTTP_STATUS"
http POST "/api/v1/alerts/$B1/acknowledge" $RESP
expect_eq "another organization's alert cannot be acknowledged: 404" 404 "$HTTP_STATUS"
expect_eq "...and it is untouched" active "$(sql "SELECT status FROM alerts WHERE id = '$B1'")"
http POST "/api/v1/alerts/$A1/acknowledge" $RESP
expect_eq "acknowledge: 200, AlertActionResponse, changed" "200  true" "$HTTP_STATUS $(shape alert-action) $(jbody 'd["changed"]')"
conforms "POST acknowledge 200" POST "/api/v1/alerts/{id}/acknowledge" 200
ACK1=$(sql "SELECT acknowledged_at FROM alerts WHERE id = '$A1'")
http POST "/api/v1/alerts/$A1/acknowledge" $RESP
expect_eq "acknowledge again: success, not changed" "200 true false" "$HTTP_STATUS $(jbody 'd["success"]') $(jbody 'd["changed"]')"
expect_eq "...the row as it was (time, by)" "$ACK1 acknowledged true" \
    "$(sql "SELECT acknowledged_at, status, acknowledged FROM alerts WHERE id = '$A1'" | tr '|' ' ')"
expect_eq "...acknowledged_by is the responder's key id" "$(printf %s "$A_RESP" | cut -c5-20)" \
    "$(sql "SELECT acknowledged_by FROM alerts WHERE id = '$A1'")"
sleep 0.5
expect_eq "one alert.acknowledge audit event, not two" 1 "$(events alert.acknowledge "$A1")"
http POST "/api/v1/alerts/$A1/resolve" $RESP -d '{}'
expect_eq "resolve without resolution: 400 naming it" "400 resolution" "$HTTP_STATUS $(jbody 'd["error"]["details"]["errors"][0]["field"]')"
http POST "/api/v1/alerts/$A1/resolve" $RESP -d '{"resolution": "rotated the password", "x": 1}'
expect_eq "resolve with an unknown member: 400 naming it" "400 x" "$HTTP_STATUS $(jbody 'd["error"]["details"]["errors"][0]["field"]')"
http POST "/api/v1/alerts/$A1/resolve" $RESP -d '{"resolution": "rotated the password"}'
expect_eq "resolve: 200 changed" "200 true" "$HTTP_STATUS $(jbody 'd["changed"]')"
http POST "/api/v1/alerts/$A1/resolve" $RESP -d '{"resolution": "another text"}'
expect_eq "resolve again: success, not changed, first resolution kept" "200 false rotated the password" \
    "$HTTP_STATUS $(jbody 'd["changed"]') $(sql "SELECT resolution_notes FROM alerts WHERE id = '$A1'")"
sleep 0.5
expect_eq "one alert.resolve audit event, with its resolution" "1 rotated the password" \
    "$(events alert.resolve "$A1") $(sql "SELECT details->>'resolution' FROM audit_log WHERE action = 'alert.resolve' AND target_resource_id = '$A1'")"
http POST "/api/v1/alerts/$A1/acknowledge" $RESP
expect_eq "acknowledge a resolved alert: 409" "409 INVALID_STATE" "$HTTP_STATUS $(jbody 'd["error"]["code"]')"
conforms "POST acknowledge 409" POST "/api/v1/alerts/{id}/acknowledge" 409
http POST "/api/v1/alerts/$A1/dismiss" $RESP
expect_eq "dismiss a resolved alert: 409" 409 "$HTTP_STATUS"
http GET "/api/v1/alerts/$A1" $AUD
expect_eq "the resolved alert: resolved, resolvedAt, resolvedBy, notes" "resolved true true true rotated the password" \
    "$(jbody 'd["status"]') $(jbody 'd["resolved"]') $(jbody '"resolvedAt" in d') $(jbody '"resolvedBy" in d') $(jbody 'd["resolutionNotes"]')"
A1B=$(raise org-a failed-auth/u1 HIGH SECURITY "failed logins u1")
expect_eq "a trigger after the resolve opens a new alert" "1" "$([ "$A1B" != "$A1" ] && echo 1)"
http POST "/api/v1/alerts/$A2/dismiss" $RESP -d '{"reason": "expected nightly export"}'
expect_eq "dismiss: 200 changed" "200 true" "$HTTP_STATUS $(jbody 'd["changed"]')"
http POST "/api/v1/alerts/$A2/dismiss" $RESP
expect_eq "dismiss again: success, not changed" "200 false" "$HTTP_STATUS $(jbody 'd["changed"]')"
http POST "/api/v1/alerts/$A2/resolve" $RESP -d '{"resolution": "x"}'
expect_eq "resolve a dismissed alert: 409" 409 "$HTTP_STATUS"
sleep 0.5
expect_eq "one alert.dismiss audit event" 1 "$(events alert.dismiss "$A2")"
http GET "/api/v1/alerts?status=dismissed,resolved" $AUD
expect_eq "status filter: the dismissed and the resolved" "2" "$(jbody 'len(d["data"])')"
http POST "/api/v1/alerts/$A3/resolve" $RESP -d '{"resolution": 5}'
expect_eq "resolution not a string: 400" "400 resolution" "$HTTP_STATUS $(jbody 'd["error"]["details"]["errors"][0]["field"]')"
expect_eq "...nothing changed" active "$(sql "SELECT status FROM alerts WHERE id = '$A3'")"
# 20 concurrent acknowledges of one alert: one change, one audit event
pids=""
for i in $(seq 20); do curl -s -o /dev/null -X POST -H "x-api-key: $A_RESP" "$BASE_URL/api/v1/alerts/$A4/acknowledge" & pids="$pids $!"; done
wait $pids
sleep 0.5
expect_eq "20 concurrent acknowledges: one audit event" 1 "$(events alert.acknowledge "$A4")"

# ---- configuration ----
http GET /api/v1/alerts/config $AUD
expect_eq "config: the client's AlertsConfiguration with defaults" "200  30 30 300 14400" \
    "$HTTP_STATUS $(shape alert-config) $(jbody 'd["debounceWindow"]') $(jbody 'd["notification"]["groupWaitSeconds"]') $(jbody 'd["notification"]["groupIntervalSeconds"]') $(jbody 'd["notification"]["repeatIntervalSeconds"]')"
conforms "GET /api/v1/alerts/config 200" GET /api/v1/alerts/config 200
http POST /api/v1/alerts/config $AUD -d '{"debounceWindow": 5}'
expect_eq "config: an auditor cannot save: 403" 403 "$HTTP_STATUS"
CFG='{"failureRateThreshold": 20, "consecutiveFailureThreshold": 3, "queueBacklogThreshold": 100,
      "responseTimeThreshold": 2000, "debounceWindow": 10, "escalationDelay": 15,
      "suppressionWindows": [{"start": "22:00", "end": "06:00", "timezone": "Europe/Lisbon", "reason": "night"}]}'
http POST /api/v1/alerts/config $RESP -d "$CFG"
expect_eq "config: the client's whole document saved" "200  true" "$HTTP_STATUS $(shape alert-action) $(jbody 'd["changed"]')"
conforms "POST /api/v1/alerts/config 200" POST /api/v1/alerts/config 200
http GET /api/v1/alerts/config $AUD
expect_eq "config: read back, notification kept" "10 Europe/Lisbon default" \
    "$(jbody 'd["debounceWindow"]') $(jbody 'd["suppressionWindows"][0]["timezone"]') $(jbody 'd["notification"]["destinations"]')"
http POST /api/v1/alerts/config $RESP -d "$CFG"
expect_eq "config: the same again: unchanged" "200 false" "$HTTP_STATUS $(jbody 'd["changed"]')"
expect_eq "the hold-open time is the raise's" "00:10:00" "$(sql "SELECT auditdb_alert_hold_open('org-a')")"
for bad in '{"failureRateThreshold": 101} failureRateThreshold' \
           '{"consecutiveFailureThreshold": 1.5} consecutiveFailureThreshold' \
           '{"debounceWindow": -1} debounceWindow' \
           '{"suppressionWindows": [{"start": "25:00", "end": "06:00", "timezone": "UTC", "reason": "r"}]} suppressionWindows[0]' \
           '{"suppressionWindows": [{"start": "22:00", "end": "06:00", "timezone": "Mars/Olympus", "reason": "r"}]} suppressionWindows[0]' \
           '{"notification": {"destinations": [99999]}} notification.destinations' \
           '{"notification": {"groupWaitSeconds": "30"}} notification.groupWaitSeconds' \
           '{"notification": {"url": "http://x"}} notification.url' \
           '{"escalate": true} escalate'; do
    body=${bad% *}; field=${bad##* }
    http POST /api/v1/alerts/config $RESP -d "$body"
    expect_eq "config refuses $body: 400 naming $field" "400 $field" "$HTTP_STATUS $(jbody 'd["error"]["details"]["errors"][0]["field"]')"
done
expect_eq "...nothing saved by the refusals" "10" "$(sql "SELECT config->>'debounceWindow' FROM alert_config WHERE organization_id = 'org-a'")"
http GET /api/v1/alerts/config $B
expect_eq "org-b's configuration is its own (defaults)" 30 "$(jbody 'd["debounceWindow"]')"

finish
