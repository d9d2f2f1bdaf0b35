# delivery_breaker.sh - issue 18's must-show scenario for health and breakers (docs/delivery.md
# "Health and breakers", "Retries"): a receiver on loopback (tests/tools/breaker_receiver.py)
# fails (500), answers 429 with Retry-After, fails again, answers 410, then recovers. With
# the delivery clock moved (AUDITDB_DELIVERY_CLOCK_FILE, test builds), each attempt comes at the
# time the Standard Webhooks schedule with its jitter (or Retry-After) says, never before; the
# breaker opens on the failure rate, defers what arrives while open, admits one probe after the
# cool-down, opens again when it fails; the 410 disables the destination (transition, alerts
# row, the organization's audit event) and holds its deliveries; `retry` of a held delivery
# does not reach a disabled destination; after enable the held deliveries are replayed and
# arrive with the same webhook-id, signed.
. tests/lib.sh

fresh_db t_delivery_breaker
"$AUDITDB_BIN" migrate >/dev/null
KA=$("$AUDITDB_BIN" keys create --org org-a --role admin | sed -n 's/^key (shown once, store it now): //p')
export AUDITDB_DELIVERY_ALLOW=127.0.0.1/32
CLOCK="$TEST_TMP/clock"
echo 0 >"$CLOCK"
export AUDITDB_DELIVERY_CLOCK_FILE="$CLOCK"

PIDS=""
cleanup() { for p in $PIDS; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; }
trap cleanup EXIT INT TERM
python3 tests/tools/breaker_receiver.py "$TEST_TMP/rport" "$CLOCK" 2>"$TEST_TMP/receiver.log" &
PIDS="$PIDS $!"
i=0; while [ ! -s "$TEST_TMP/rport" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
RURL="http://127.0.0.1:$(cat "$TEST_TMP/rport")"
if ! AUDITDB_DELIVERY_THREADS=2 AUDITDB_DELIVERY_POLL_MS=100 start_serve "$TEST_TMP/serve.log"; then
    not_ok "serve starts"; diag "$(cat "$TEST_TMP/serve.log")"; finish
fi
PIDS="$PIDS $SERVE_PID"

D=/api/v1/delivery
post() { http POST "$1" -H "X-API-Key: $KA" -H 'Content-Type: application/json' -d "$2"; }
rlog() { curl -s "$RURL/_log" | json "$1"; }
arrivals() { rlog 'len(d)'; }
wait_for() { n=0; while [ $n -lt $(($1 * 10)) ]; do if eval "$2"; then return 0; fi; sleep 0.1; n=$((n + 1)); done; return 1; }
now_ms() { python3 -c 'import time; print(int(time.time() * 1000))'; }
# move_clock_to MS: the delivery clock reads MS now (the file is replaced whole, never half-written)
move_clock_to() { echo $(($1 - $(now_ms))) >"$CLOCK.tmp" && mv "$CLOCK.tmp" "$CLOCK"; }
ms() { sql "SELECT round(extract(epoch FROM $1) * 1000)::bigint FROM $2"; }
# the delivery clock time of attempt N (1-based) of delivery log L, as recorded
attempt_at() { sql "SELECT round(extract(epoch FROM (attempts->($2 - 1)->>'at')::timestamptz) * 1000)::bigint FROM delivery_logs WHERE delivery_id = '$1'"; }
within() { [ "$2" -ge "$1" ] && [ "$2" -le "$3" ]; }   # within LOW X HIGH

# the destination: a webhook with the client's retryConfig (delays of 1 s x 10^(n-1), at most
# 2 h, each +-10 % of jitter) and a breaker that opens at 50 % failures over at least 3 attempts
# in a day, with a 60 s cool-down
HOOK="\"webhook\":{\"url\":\"$RURL/hook\",\"method\":\"POST\",\"headers\":{},\"timeout\":5000,\"retryConfig\":{\"maxRetries\":6,\"backoffMultiplier\":10,\"maxBackoffDelay\":7200000}}"
CB='"circuitBreaker":{"minimumVolume":3,"failureRateThreshold":50,"windowSeconds":86400,"cooldownSeconds":60}'
post $D/destinations "{\"label\":\"flaky\",\"type\":\"webhook\",\"config\":{$HOOK,$CB}}"
expect_eq "a webhook destination with its breaker settings" 201 "$HTTP_STATUS"
[ "$HTTP_STATUS" = 201 ] || { diag "$HTTP_BODY"; finish; }
DEST=$(jbody 'd["id"]')
curl -s -o /dev/null -X POST "$RURL/_secret" -d "$(jbody 'd["secrets"]["secret"]')"
curl -s -o /dev/null -X POST "$RURL/_script" -d '[{"status":500},{"status":429,"retryAfter":3600},{"status":500},{"status":503},{"status":410}]'

# ---- attempt 1: 500 ----
post $D/deliveries "{\"destinations\":[\"$DEST\"],\"payload\":{\"type\":\"report\",\"data\":{\"n\":1}}}"
X=$(jbody 'd["deliveryId"]')
XID=$(sql "SELECT id FROM delivery_queue WHERE delivery_id = '$X'")
wait_for 10 '[ "$(arrivals)" = 2 ]'
A1=$(attempt_at "$X" 1)
expect_eq "attempt 1 answered 500, attempt 2 with the same webhook-id" "500 $XID $XID" \
    "$(rlog 'd[0]["status"]') $(rlog 'd[0]["webhookId"]') $(rlog 'd[1]["webhookId"]')"
R2=$(rlog 'd[1]["clockMs"]')
check "attempt 2 arrives 1 s +-10 % after attempt 1 (+ the worker's poll): $((R2 - A1)) ms" within 900 $((R2 - A1)) 2600
wait_for 10 '[ "$(sql "SELECT jsonb_array_length(attempts) FROM delivery_logs WHERE delivery_id = '"'$X'"'")" = 2 ]'
A2=$(attempt_at "$X" 2); S3=$(ms scheduled_at "delivery_queue WHERE id = '$XID'")
check "attempt 2 (429, Retry-After: 3600): the next is 3600 s later, not the 10 s +-10 % of the schedule ($((S3 - A2)) ms)" within 3599990 $((S3 - A2)) 3600010

# ---- attempt 3: 500, the breaker opens (3 failures of 3) ----
move_clock_to $((S3 - 1500))
sleep 0.5
expect_eq "nothing is sent during the Retry-After" 2 "$(arrivals)"
wait_for 10 '[ "$(arrivals)" = 3 ]'
R3=$(rlog 'd[2]["clockMs"]')
check "attempt 3 arrives at its time ($((R3 - S3)) ms after it)" within 0 $((R3 - S3)) 3000
wait_for 10 '[ "$(sql "SELECT jsonb_array_length(attempts) FROM delivery_logs WHERE delivery_id = '"'$X'"'")" = 3 ]'
A3=$(attempt_at "$X" 3); S4=$(ms scheduled_at "delivery_queue WHERE id = '$XID'")
check "attempt 3 (500): the next is 100 s +-10 % later ($((S4 - A3)) ms)" within 90000 $((S4 - A3)) 110000
OPEN1=$(ms "circuit_breaker_opened_at" "destination_health WHERE destination_id = $DEST")
expect_eq "the breaker opened at attempt 3's time, the transition written with it" "open $A3 1" \
    "$(sql "SELECT circuit_breaker_state FROM destination_health WHERE destination_id = $DEST") $OPEN1 $(sql "SELECT count(*) FROM destination_health_transition WHERE destination_id = $DEST AND from_state = 'closed' AND to_state = 'open' AND round(extract(epoch FROM at) * 1000) = $A3")"

# ---- a second delivery while open: not sent, deferred to the end of the cool-down ----
post $D/deliveries "{\"destinations\":[\"$DEST\"],\"payload\":{\"type\":\"report\",\"data\":{\"n\":2}}}"
Z=$(jbody 'd["deliveryId"]')
ZID=$(sql "SELECT id FROM delivery_queue WHERE delivery_id = '$Z'")
wait_for 10 '[ "$(ms scheduled_at "delivery_queue WHERE id = '"'$ZID'"'")" = $((OPEN1 + 60000)) ]'
expect_eq "while open a new delivery is not sent: due at the cool-down's end, no attempt counted" \
    "3 $((OPEN1 + 60000)) 0 0" \
    "$(arrivals) $(ms scheduled_at "delivery_queue WHERE id = '$ZID'") $(sql "SELECT retry_count FROM delivery_queue WHERE id = '$ZID'") $(sql "SELECT jsonb_array_length(attempts) FROM delivery_logs WHERE delivery_id = '$Z'")"

# ---- the cool-down ends: one probe (503), open again ----
move_clock_to $((OPEN1 + 60000 - 1500))
wait_for 10 '[ "$(arrivals)" = 4 ]'
R4=$(rlog 'd[3]["clockMs"]'); W4=$(rlog 'd[3]["webhookId"]')
check "the probe goes after the cool-down ($((R4 - OPEN1)) ms after opening)" within 60000 $((R4 - OPEN1)) 63000
expect_eq "the probe is the waiting delivery" "$ZID" "$W4"
wait_for 10 '[ "$(sql "SELECT jsonb_array_length(attempts) FROM delivery_logs WHERE delivery_id = '"'$Z'"'")" = 1 ]'
P1=$(attempt_at "$Z" 1)
OPEN2=$(ms "circuit_breaker_opened_at" "destination_health WHERE destination_id = $DEST")
expect_eq "the failed probe opens the breaker again at its time" "open $P1" \
    "$(sql "SELECT circuit_breaker_state FROM destination_health WHERE destination_id = $DEST") $OPEN2"

# ---- the next cool-down ends: both deliveries are due, one probe goes: 410, disabled ----
move_clock_to $((OPEN2 + 60000 - 1500))
wait_for 15 '[ "$(arrivals)" = 5 ]'
R5=$(rlog 'd[4]["clockMs"]'); W5=$(rlog 'd[4]["webhookId"]')
check "the second probe goes after the second cool-down ($((R5 - OPEN2)) ms)" within 60000 $((R5 - OPEN2)) 63000
wait_for 10 '[ "$(sql "SELECT disabled FROM delivery_destinations WHERE id = $DEST")" = true ]'
# the other delivery, turned away while the probe was out, is due again when the probe's slot
# would have ended (probeTimeoutSeconds, 120 s): then the worker finds the destination disabled
move_clock_to $((R5 + 121000))
wait_for 10 '[ "$(sql "SELECT count(*) FROM delivery_queue WHERE destination_id = $DEST AND status = '"'held'"'")" = 2 ]'
expect_eq "one probe only: the other delivery was not sent" 5 "$(arrivals)"
PROBE2=$(sql "SELECT delivery_id FROM delivery_queue WHERE id = '$W5'")
P2=$(sql "SELECT round(extract(epoch FROM (attempts->-1->>'at')::timestamptz) * 1000)::bigint FROM delivery_logs WHERE delivery_id = '$PROBE2'")
expect_eq "410: disabled, health disabled with the reason, both deliveries held" \
    "true disabled 2" \
    "$(sql "SELECT disabled FROM delivery_destinations WHERE id = $DEST") $(sql "SELECT status FROM destination_health WHERE destination_id = $DEST AND disabled_reason LIKE '%410%'") $(sql "SELECT count(*) FROM delivery_queue WHERE destination_id = $DEST AND status = 'held'")"
expect_eq "the disable alert row" "1 HIGH delivery destination disabled" \
    "$(sql "SELECT count(*), min(severity), min(title) FROM alerts WHERE organization_id = 'org-a' AND source = 'auditdb-delivery' AND metadata->>'destinationId' = '$DEST'" | tr '|' ' ')"
expect_eq "the organization's audit event of it" 1 \
    "$(sql "SELECT count(*) FROM audit_log WHERE organization_id = 'org-a' AND action = 'delivery.destination.disabled' AND target_resource_id = '$DEST'")"

# every breaker transition, with its time on the delivery clock
TR=$(sql "SELECT string_agg(from_state || '>' || to_state || '@' || round(extract(epoch FROM at) * 1000), ' ' ORDER BY at, id) FROM destination_health_transition WHERE destination_id = $DEST")
diag "transitions: $TR"
expect_match "transitions: closed>open at attempt 3, open>half-open after the cool-down" \
    "^closed>open@$A3 open>half-open@[0-9]+ half-open>open@$P1 open>half-open@[0-9]+ half-open>open@$P2 open>disabled@$P2\$" "$TR"
H1=$(sql "SELECT round(extract(epoch FROM at) * 1000) FROM destination_health_transition WHERE destination_id = $DEST AND to_state = 'half-open' ORDER BY id LIMIT 1")
check "the first half-open is at or after the cool-down's end and before the probe's answer" within $((OPEN1 + 60000)) "$H1" "$P1"
http GET "$D/destinations/$DEST/health" -H "X-API-Key: $KA"
expect_eq "GET health: disabled, 5 attempts, 0 delivered, the transitions newest first" \
    '["disabled", 5, 5, "0.00", "disabled"]' \
    "$(jbody '[d["status"], d["totalDeliveries"], d["totalFailures"], d["successRate"], d["metadata"]["transitions"][0]["to"]]')"

# ---- retry of a held delivery while disabled: it does not reach the destination ----
post "$D/deliveries/$X/retry" '{}'
diag "retry while disabled: $HTTP_STATUS $HTTP_BODY"
sleep 1.5
expect_eq "retry while disabled: nothing sent, the item held again" "5 held" \
    "$(arrivals) $(sql "SELECT status FROM delivery_queue WHERE id = '$XID'")"

# ---- the receiver recovers; enable: both replayed with their webhook-ids ----
post "$D/destinations/$DEST/enable" '{}'
expect_eq "enable: 200, 2 released, closed" '[200, 2, "closed"]' \
    "[$HTTP_STATUS, $(jbody 'd["releasedDeliveries"]'), \"$(jbody 'd["health"]["circuitBreakerState"]')\"]"
wait_for 15 '[ "$(arrivals)" = 7 ]'
wait_for 10 '[ "$(sql "SELECT count(*) FROM delivery_queue WHERE destination_id = $DEST AND status = '"'completed'"'")" = 2 ]'
expect_eq "replayed: X and Z arrive again with the webhook-ids they had, answered 200" \
    "$(printf '%s\n' "$XID" "$ZID" | sort | tr '\n' ' ')" \
    "$(rlog '" ".join(sorted(r["webhookId"] for r in d[5:] if r["status"] == 200))') "
XN=4; [ "$PROBE2" = "$X" ] && XN=5
expect_eq "every arrival of X carried X's webhook-id (3 failures, the probe if it was X, the replay)" $XN \
    "$(rlog "len([r for r in d if r['webhookId'] == '$XID'])")"
expect_eq "every request's v1 signature verifies" "[True, True, True, True, True, True, True]" \
    "$(rlog '[r["v1"] for r in d]' | sed 's/true/True/g')"
expect_eq "both deliveries delivered" "delivered delivered" \
    "$(sql "SELECT string_agg(status, ' ') FROM delivery_logs WHERE delivery_id IN ('$X', '$Z')")"
expect_eq "health after the replay: healthy, closed, last transition disabled>closed" "healthy closed disabled>closed" \
    "$(sql "SELECT status, circuit_breaker_state FROM destination_health WHERE destination_id = $DEST" | tr '|' ' ') $(sql "SELECT from_state || '>' || to_state FROM destination_health_transition WHERE destination_id = $DEST ORDER BY id DESC LIMIT 1")"
finish
