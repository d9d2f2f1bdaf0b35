# delivery_health.sh - a destination's health and breaker over HTTP and the CLI (issue 18;
# docs/delivery.md "Health and breakers"): GET .../health in the client's DestinationHealth
# shape, POST .../disable holds the pending deliveries (alert row, audit event of the
# organization, transition with its time), POST .../enable makes them pending again with their
# ids; attackers: another organization's id (404, nothing changed), a key without the
# permission (403), bad ids and bodies (400 naming the field); the CLI says the same.
. tests/lib.sh


fresh_db t_delivery_health
"$AUDITDB_BIN" migrate >/dev/null
A_ADMIN=$(newkey org-a admin)
A_VIEW=$(newkey org-a viewer)
B_ADMIN=$(newkey org-b admin)
export AUDITDB_DELIVERY_ALLOW=127.0.0.1/32
# no delivery threads: this test is about the routes; the items stay where the routes put them
AUDITDB_DELIVERY_THREADS=0 start_serve "$TEST_TMP/serve.log" || { not_ok "serve starts"; cat "$TEST_TMP/serve.log"; finish; }
trap 'stop_serve >/dev/null 2>&1' EXIT
A="-H x-api-key:$A_ADMIN -H content-type:application/json"
B="-H x-api-key:$B_ADMIN -H content-type:application/json"
HP=/api/v1/delivery/destinations/{id}/health

# a destination through ddest's route when it is there, else as a row
ID=$(sql "INSERT INTO delivery_destinations (organization_id, type, label, config)
          VALUES ('org-a', 'webhook', 'health hook', '{\"webhook\": {\"url\": \"http://127.0.0.1:9/h\",
          \"method\": \"POST\", \"headers\": {}, \"timeout\": 5000, \"retryConfig\": {\"maxRetries\": 3,
          \"backoffMultiplier\": 2, \"maxBackoffDelay\": 60000}}}') RETURNING id")
for i in 1 2 3; do
    sql "INSERT INTO delivery_queue (id, organization_id, destination_id, payload, scheduled_at)
         VALUES ('msg_health$i', 'org-a', $ID, '{}', now())" >/dev/null
done

# never delivered to: healthy, zero counts, closed
http GET "/api/v1/delivery/destinations/$ID/health" $A
expect_eq "health of a new destination: 200" 200 "$HTTP_STATUS"
conforms "GET health 200" GET "$HP" 200
expect_eq "new: healthy, closed, 0 deliveries, id as a string" '["healthy", "closed", 0, "'$ID'"]' \
    "$(jbody '[d["status"], d["circuitBreakerState"], d["totalDeliveries"], d["destinationId"]]')"
expect_eq "new: the breaker's default settings shown" '[50, 300, 10, 60, 432000]' \
    "$(jbody '[d["metadata"]["circuitBreaker"][k] for k in ("failureRateThreshold", "windowSeconds", "minimumVolume", "cooldownSeconds", "disableAfterSeconds")]')"

# attackers
http GET "/api/v1/delivery/destinations/$ID/health" $B
expect_eq "another organization's destination: 404" 404 "$HTTP_STATUS"
conforms "GET health 404" GET "$HP" 404
http POST "/api/v1/delivery/destinations/$ID/disable" $B -d '{}'
expect_eq "another organization cannot disable it: 404" 404 "$HTTP_STATUS"
expect_eq "...and nothing changed" "false 3" "$(sql "SELECT disabled FROM delivery_destinations WHERE id = $ID") $(sql "SELECT count(*) FROM delivery_queue WHERE destination_id = $ID AND status = 'pending'")"
http GET "/api/v1/delivery/destinations/$ID/health" -H "x-api-key: $A_VIEW"
expect_eq "a viewer has no delivery:read: 403" 403 "$HTTP_STATUS"
http POST "/api/v1/delivery/destinations/$ID/enable" -H "x-api-key: $A_VIEW"
expect_eq "a viewer cannot enable: 403" 403 "$HTTP_STATUS"
http GET "/api/v1/delivery/destinations/$ID/health"
expect_eq "no key: 401" 401 "$HTTP_STATUS"
for bad in abc 0 -1 99999999999 1e3; do
    http GET "/api/v1/delivery/destinations/$bad/health" $A
    expect_eq "id $bad: 400 naming id" "400 id" "$HTTP_STATUS $(jbody 'd["error"]["details"]["errors"][0]["field"]')"
done
conforms "GET health 400" GET "$HP" 400
http POST "/api/v1/delivery/destinations/$ID/disable" $A -d '{"reason": 5}'
expect_eq "reason not a string: 400 naming reason" "400 reason" "$HTTP_STATUS $(jbody 'd["error"]["details"]["errors"][0]["field"]')"
http POST "/api/v1/delivery/destinations/$ID/disable" $A -d '{"why": "x"}'
expect_eq "unknown member: 400 naming it" "400 why" "$HTTP_STATUS $(jbody 'd["error"]["details"]["errors"][0]["field"]')"
http POST "/api/v1/delivery/destinations/$ID/disable" $A -d '[1'
expect_eq "not JSON: 400" 400 "$HTTP_STATUS"
http GET "/api/v1/delivery/destinations/999999/health" $A
expect_eq "no such destination: 404" 404 "$HTTP_STATUS"
expect_eq "nothing was written by the refusals" "0 0 0" \
    "$(sql "SELECT count(*) FROM destination_health_transition") $(sql "SELECT count(*) FROM alerts WHERE source = 'auditdb-delivery'") $(sql "SELECT count(*) FROM delivery_queue WHERE status = 'held'")"

# the breaker's settings in a destination's config: checked, the field at fault named
WH='"webhook":{"url":"http://127.0.0.1:9/b","method":"POST","headers":{},"timeout":5000,"retryConfig":{"maxRetries":3,"backoffMultiplier":2,"maxBackoffDelay":60000}}'
for cb in '{"minimumVolume":0}|config.circuitBreaker.minimumVolume' '{"failureRateThreshold":101}|config.circuitBreaker.failureRateThreshold' \
          '{"cooldownSeconds":"60"}|config.circuitBreaker.cooldownSeconds' '{"threshold":5}|config.circuitBreaker.threshold' '[1]|config.circuitBreaker'; do
    http POST /api/v1/delivery/destinations $A -d "{\"label\":\"cb\",\"type\":\"webhook\",\"config\":{$WH,\"circuitBreaker\":${cb%%|*}}}"
    expect_eq "circuitBreaker ${cb%%|*}: 400 naming ${cb#*|}" "400 ${cb#*|}" "$HTTP_STATUS $(jbody 'd["error"]["details"]["errors"][0]["field"]')"
done
http POST /api/v1/delivery/destinations $A -d "{\"label\":\"cb\",\"type\":\"webhook\",\"config\":{$WH,\"circuitBreaker\":{\"minimumVolume\":4,\"cooldownSeconds\":30}}}"
expect_eq "circuitBreaker settings accepted: 201" 201 "$HTTP_STATUS"
CB_ID=$(jbody 'd["id"]')
http GET "/api/v1/delivery/destinations/$CB_ID/health" $A
expect_eq "its health shows them, defaults for the rest" '[4, 30, 50]' \
    "$(jbody '[d["metadata"]["circuitBreaker"][k] for k in ("minimumVolume", "cooldownSeconds", "failureRateThreshold")]')"

# disable: items held, transition, alert, audit event
http POST "/api/v1/delivery/destinations/$ID/disable" $A -d '{"reason": "receiver under maintenance"}'
expect_eq "disable: 200" 200 "$HTTP_STATUS"
conforms "POST disable 200" POST /api/v1/delivery/destinations/{id}/disable 200
expect_eq "disable: disabled, health disabled, breaker open" '[true, "disabled", "open"]' \
    "$(jbody '[d["disabled"], d["health"]["status"], d["health"]["circuitBreakerState"]]')"
expect_match "disable: the reason names who and why" '^disabled by [0-9a-f]+: receiver under maintenance$' \
    "$(jbody 'd["health"]["disabledReason"]')"
expect_eq "disable: the 3 pending items are held" 3 "$(sql "SELECT count(*) FROM delivery_queue WHERE destination_id = $ID AND status = 'held'")"
expect_eq "disable: destination disabled in its row" true "$(sql "SELECT disabled FROM delivery_destinations WHERE id = $ID")"
expect_eq "disable: one alert row of org-a" "1 HIGH" "$(sql "SELECT count(*), min(severity) FROM alerts WHERE organization_id = 'org-a' AND source = 'auditdb-delivery' AND metadata->>'destinationId' = '$ID'" | tr '|' ' ')"
expect_eq "disable: an audit event of org-a (the notice)" 1 "$(sql "SELECT count(*) FROM audit_log WHERE organization_id = 'org-a' AND action = 'delivery.destination.disabled' AND target_resource_id = '$ID'")"
expect_eq "disable: the transition with its time" "closed disabled t" \
    "$(sql "SELECT from_state, to_state, at > now() - interval '1 minute' FROM destination_health_transition WHERE destination_id = $ID" | tr '|' ' ')"
http POST "/api/v1/delivery/destinations/$ID/disable" $A
expect_eq "disable again: 200, no second alert" "200 1" "$HTTP_STATUS $(sql "SELECT count(*) FROM alerts WHERE source = 'auditdb-delivery'")"
http GET "/api/v1/delivery/destinations/$ID/health" $A
expect_eq "health says disabled, with the transition" '["disabled", "disabled"]' \
    "$(jbody '[d["status"], d["metadata"]["transitions"][0]["to"]]')"
conforms "GET health 200 (disabled)" GET "$HP" 200

# the CLI sees the same
out=$("$AUDITDB_BIN" deliveries health "$ID" --org org-a 2>&1); rc=$?
expect_eq "cli health: exit 0" 0 "$rc"
expect_match "cli health: status and breaker" 'status +disabled' "$out"
out=$("$AUDITDB_BIN" deliveries health "$ID" --org org-b 2>&1); rc=$?
expect_eq "cli health of another organization: exit 1" 1 "$rc"
expect_match "cli: says it is unknown" 'no destination' "$out"
"$AUDITDB_BIN" deliveries health abc >/dev/null 2>&1
expect_eq "cli bad id: exit 2" 2 "$?"

# enable: items pending again with the same ids, breaker closed
http POST "/api/v1/delivery/destinations/$ID/enable" $A
expect_eq "enable: 200" 200 "$HTTP_STATUS"
conforms "POST enable 200" POST /api/v1/delivery/destinations/{id}/enable 200
expect_eq "enable: 3 released, healthy, closed" '[3, false, "healthy", "closed"]' \
    "$(jbody '[d["releasedDeliveries"], d["disabled"], d["health"]["status"], d["health"]["circuitBreakerState"]]')"
expect_eq "enable: the same items pending again" "msg_health1 msg_health2 msg_health3" \
    "$(sql "SELECT string_agg(id, ' ' ORDER BY id) FROM delivery_queue WHERE destination_id = $ID AND status = 'pending'")"
expect_eq "enable: an audit event" 1 "$(sql "SELECT count(*) FROM audit_log WHERE action = 'delivery.destination.enabled' AND target_resource_id = '$ID'")"
expect_eq "enable: transition disabled -> closed" "disabled closed" \
    "$(sql "SELECT from_state, to_state FROM destination_health_transition WHERE destination_id = $ID ORDER BY id DESC LIMIT 1" | tr '|' ' ')"

# the CLI disables and enables too
out=$("$AUDITDB_BIN" deliveries disable "$ID" --org org-a --reason "cli test" 2>&1); rc=$?
expect_eq "cli disable: exit 0, items held" "0 3" "$rc $(sql "SELECT count(*) FROM delivery_queue WHERE destination_id = $ID AND status = 'held'")"
out=$("$AUDITDB_BIN" deliveries enable "$ID" --org org-a 2>&1); rc=$?
expect_eq "cli enable: exit 0" 0 "$rc"
expect_match "cli enable: says how many" '3 held deliveries pending again' "$out"
out=$("$AUDITDB_BIN" deliveries health "$ID" --org org-a --json); rc=$?
expect_eq "cli health --json: the API's shape" "0 closed" "$rc $(printf '%s' "$out" | json 'd["circuitBreakerState"]')"

# PATCH/PUT {"disabled": ...} of the destination goes the same way (held items, transition)
http PATCH "/api/v1/delivery/destinations/$ID" $A -d '{"disabled": true, "description": "paused"}'
expect_eq "PATCH disabled true: 200, disabled, the description changed too" '200 [true, "paused"]' \
    "$HTTP_STATUS $(jbody '[d["disabled"], d["description"]]')"
expect_eq "PATCH disabled true: items held, a transition to disabled" "3 disabled" \
    "$(sql "SELECT count(*) FROM delivery_queue WHERE destination_id = $ID AND status = 'held'") $(sql "SELECT to_state FROM destination_health_transition WHERE destination_id = $ID ORDER BY id DESC LIMIT 1")"
http PATCH "/api/v1/delivery/destinations/$ID" $A -d '{"disabled": false}'
expect_eq "PATCH disabled false: 200, enabled, items pending again, transition to closed" "200 false 0 closed" \
    "$HTTP_STATUS $(jbody 'd["disabled"]' | tr 'FT' 'ft') $(sql "SELECT count(*) FROM delivery_queue WHERE destination_id = $ID AND status = 'held'") $(sql "SELECT to_state FROM destination_health_transition WHERE destination_id = $ID ORDER BY id DESC LIMIT 1")"

# tenant isolation of the health tables, as the service's request login sees them
as_tenant() { psql "$AUDIT_DB_URL" -qAtX -c "BEGIN" -c "$(tenant_setting "$1")" -c "SET LOCAL ROLE auditdb_app" -c "$2" -c "COMMIT" | tail -1; }
expect_eq "RLS: org-a sees its health row and transitions" "1 6" \
    "$(as_tenant org-a "SELECT count(*) FROM destination_health") $(as_tenant org-a "SELECT count(*) FROM destination_health_transition")"
expect_eq "RLS: org-b sees none of them" "0 0" \
    "$(as_tenant org-b "SELECT count(*) FROM destination_health") $(as_tenant org-b "SELECT count(*) FROM destination_health_transition")"
finish
