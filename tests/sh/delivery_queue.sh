# delivery_queue.sh - the delivery queue end to end (docs/delivery.md, "Queue",
# "Webhooks", "Retries"): a webhook receiver in Node (tests/tools/
# webhook_receiver.js) verifies every request with the npm standardwebhooks
# library (v1) and Node's Ed25519 (v1a) and counts webhook-ids. The deliveries
# routes in the client's shapes; bad input 400 naming the field; another
# organization's delivery 404; idempotency keys; retries (retryConfig,
# Retry-After, 3xx, replay with the same webhook-id); legacy X-Webhook-*
# headers. Then 8 delivery threads in each of 2 serve instances deliver 10,000
# queued items: 0 lost, 0 duplicated, never one item twice at once; again with
# a kill -9 of one instance midway: 0 lost, duplicates only as retries with
# the same webhook-id.
. tests/lib.sh

mods=${OPENAPI_NODE_DIR:-$PWD/build/node}
if ! why=$(scripts/webhook-verifier.sh "$mods"); then
    not_ok "the webhook verifier (npm standardwebhooks) is installed"; diag "$why"; finish
fi
fresh_db t_delivery_queue
"$AUDITDB_BIN" migrate >/dev/null
key() { "$AUDITDB_BIN" keys create --org "$1" --role "$2" | sed -n 's/^key (shown once, store it now): //p'; }
KA=$(key org-a admin); KB=$(key org-b admin); KV=$(key org-a viewer)
export AUDITDB_DELIVERY_ALLOW=127.0.0.1/32
export ASAN_OPTIONS="${ASAN_OPTIONS:-}:quarantine_size_mb=4"

PIDS=""
cleanup() { for p in $PIDS; do kill -9 "$p" 2>/dev/null; done; }
trap cleanup EXIT INT TERM

NODE_PATH="$mods/node_modules" node tests/tools/webhook_receiver.js "$TEST_TMP/rport" 2>"$TEST_TMP/receiver.log" &
PIDS="$PIDS $!"
i=0; while [ ! -s "$TEST_TMP/rport" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
RURL="http://127.0.0.1:$(cat "$TEST_TMP/rport")"
rstats() { curl -s "$RURL/_stats$1"; }
rmode() { curl -s -o /dev/null -X POST "$RURL/_mode" -d "$1"; }
rj() { rstats "${2:-}" | json "$1"; }

post() { http POST "$1" -H "X-API-Key: ${3:-$KA}" -H 'Content-Type: application/json' -d "$2"; }
get() { http GET "$1" -H "X-API-Key: ${2:-$KA}"; }
# wait_for SECONDS SHELL-CONDITION
wait_for() { end=$(($(date +%s) + $1)); while [ "$(date +%s)" -le $end ]; do if eval "$2"; then return 0; fi; sleep 0.1; done; return 1; }

if ! AUDITDB_DELIVERY_THREADS=2 AUDITDB_DELIVERY_POLL_MS=200 start_serve "$TEST_TMP/serve.log"; then
    not_ok "serve starts"; diag "$(cat "$TEST_TMP/serve.log")"; finish
fi
PIDS="$PIDS $SERVE_PID"
D=/api/v1/delivery
hook() { # hook LABEL EXTRA-WEBHOOK-MEMBERS: creates a webhook destination, sets DEST and the receiver's keys
    post $D/destinations "{\"label\":\"$1\",\"type\":\"webhook\",\"config\":{\"webhook\":{\"url\":\"$RURL/hook\",\"method\":\"POST\",\"headers\":{\"X-Tenant\":\"a\"},\"timeout\":5000,\"retryConfig\":{\"maxRetries\":2,\"backoffMultiplier\":1,\"maxBackoffDelay\":500}$2}}}"
    DEST=$(jbody 'd["id"]')
    curl -s -o /dev/null -X POST "$RURL/_keys" -d "$(jbody 'd["secrets"]')"
}
hook h1 ""
expect_eq "a webhook destination is created with its secrets shown once" "201 whsec_ whpk_" \
    "$HTTP_STATUS $(jbody 'd["secrets"]["secret"][:6]') $(jbody 'd["secrets"]["publicKey"][:5]')"
DEST1=$DEST

# ---- one delivery through the API ----
t0=$(date +%s%N)
post $D/deliveries "{\"organizationId\":\"org-a\",\"destinations\":[\"$DEST1\"],\"payload\":{\"type\":\"report\",\"data\":{\"rows\":[1,2,3],\"name\":\"é€\"},\"metadata\":{\"k\":\"v\"}},\"options\":{\"priority\":5,\"correlationId\":\"c-1\",\"tags\":[\"t\"]}}"
expect_eq "deliver: 202 DeliveryResponse (queued, one pending destination)" "202 queued $DEST1 pending" \
    "$HTTP_STATUS $(jbody 'd["status"]') $(jbody 'd["destinations"][0]["destinationId"]') $(jbody 'd["destinations"][0]["status"]')"
DLV=$(jbody 'd["deliveryId"]')
wait_for 10 '[ "$(rj "d[\"verified\"]")" = 1 ]'
t1=$(date +%s%N)
expect_eq "the receiver verified it: v1 (standardwebhooks) and v1a (Ed25519), no bad signature" "1 0 0 0" \
    "$(rj 'd["verified"]') $(rj 'd["badV1"]') $(rj 'd["badV1a"]') $(rj 'd["noV1a"]')"
diag "enqueue to verified delivery seen by the test: $(( (t1 - t0) / 1000000 )) ms; in the database, enqueue to attempt: $(sql "SELECT round(extract(epoch FROM (attempts->0->>'at')::timestamptz - created_at) * 1000) FROM delivery_logs WHERE delivery_id = '$DLV'") ms"
expect_eq "the destination's own header is sent; no legacy header unless asked" "a null" \
    "$(rj 'd["lastHeaders"]["x-tenant"]') $(rj 'd["lastHeaders"].get("x-webhook-signature")')"
wait_for 5 '[ "$(sql "SELECT status FROM delivery_logs WHERE delivery_id = '"'$DLV'"'")" = delivered ]'
get "$D/deliveries/$DLV"
expect_eq "status: completed, 1 attempt, deliveredAt, the receiver's x-request-id as crossSystemReference" \
    "200 completed delivered 1 true rcv-1 v" \
    "$HTTP_STATUS $(jbody 'd["status"]') $(jbody 'd["destinations"][0]["status"]') $(jbody 'd["destinations"][0]["attempts"]') $(jbody '"deliveredAt" in d["destinations"][0]') $(jbody 'd["destinations"][0]["crossSystemReference"]') $(jbody 'd["metadata"]["k"]')"
WID=$(sql "SELECT id FROM delivery_queue WHERE delivery_id = '$DLV'")
expect_eq "the webhook-id is the queue item's id (msg_ and 22 characters)" "1 $WID" \
    "$(rj "d['ids'].get('$WID')" '?ids=1') $(printf '%s' "$WID" | grep -E '^msg_[A-Za-z0-9_-]{22}$')"
expect_eq "the body sent is the bytes fixed at enqueue (the receiver verified those)" "1" \
    "$(sql "SELECT count(*) FROM delivery_queue WHERE id = '$WID' AND convert_from(body, 'UTF8')::jsonb->'data'->>'name' = 'é€'")"
get "$D/deliveries?limit=10"
expect_eq "list: PaginatedDeliveries with the delivery" "200 $DLV 1 false" \
    "$HTTP_STATUS $(jbody 'd["data"][0]["deliveryId"]') $(jbody 'd["pagination"]["total"]') $(jbody 'd["pagination"]["hasNext"]')"
get "$D/deliveries?status=failed"
expect_eq "list filtered by a destination status" "200 0" "$HTTP_STATUS $(jbody 'len(d["data"])')"
get "$D/metrics"
expect_eq "metrics: DeliveryMetrics (1 delivered, webhook, org-a)" "200 1 1 100.00 1" \
    "$HTTP_STATUS $(jbody 'd["totalDeliveries"]') $(jbody 'd["successfulDeliveries"]') $(jbody 'd["successRate"]') $(jbody 'd["byDestinationType"]["webhook"]["total"]')"
get "$D/health"
expect_eq "delivery health: 2 threads running" "200 healthy 2" \
    "$HTTP_STATUS $(jbody 'd["status"]') $(jbody 'd["details"]["deliveryThreads"]')"

# ---- bad input, permissions, another organization ----
bad() { # bad NAME BODY FIELD
    post $D/deliveries "$2"
    expect_eq "400 naming $3: $1" "400 $3" "$HTTP_STATUS $(jbody 'd["error"]["details"]["errors"][0]["field"]')"
}
bad "not JSON" '{' ""
bad "no destinations" '{"payload":{"type":"report","data":1,"metadata":{}}}' destinations
bad "destinations not ids" '{"destinations":["x"],"payload":{"type":"report","data":1,"metadata":{}}}' "destinations[0]"
bad "payload type" "{\"destinations\":[\"$DEST1\"],\"payload\":{\"type\":\"pdf\",\"data\":1,\"metadata\":{}}}" payload.type
bad "priority 11" "{\"destinations\":[\"$DEST1\"],\"payload\":{\"type\":\"data\",\"metadata\":{}},\"options\":{\"priority\":11}}" options.priority
bad "unknown member" "{\"destinations\":[\"$DEST1\"],\"payload\":{\"type\":\"data\",\"metadata\":{}},\"bogus\":1}" bogus
bad "no default destination" '{"destinations":"default","payload":{"type":"data","metadata":{}}}' destinations
get "$D/deliveries?limit=0"
expect_eq "list: 400 naming limit" "400 limit" "$HTTP_STATUS $(jbody 'd["error"]["details"]["errors"][0]["field"]')"
get "$D/deliveries?startDate=yesterday"
expect_eq "list: 400 naming startDate" "400 startDate" "$HTTP_STATUS $(jbody 'd["error"]["details"]["errors"][0]["field"]')"
get "$D/deliveries/$DLV" "$KB"
expect_eq "another organization's delivery: 404" 404 "$HTTP_STATUS"
post "$D/deliveries/$DLV/retry" '' "$KB"
expect_eq "another organization's delivery: retry 404" 404 "$HTTP_STATUS"
post $D/deliveries "{\"destinations\":[\"$DEST1\"],\"payload\":{\"type\":\"data\",\"metadata\":{}}}" "$KB"
expect_eq "another organization's destination: 404 naming destinations[0], nothing queued" "404 destinations[0] 1" \
    "$HTTP_STATUS $(jbody 'd["error"]["details"]["field"]') $(sql 'SELECT count(*) FROM delivery_queue')"
post $D/deliveries "{\"organizationId\":\"org-a\",\"destinations\":[\"$DEST1\"],\"payload\":{\"type\":\"data\",\"metadata\":{}}}" "$KB"
expect_eq "a request naming another organization: 403" "403 organizationId" "$HTTP_STATUS $(jbody 'd["error"]["details"]["field"]')"
post $D/deliveries "{\"destinations\":[\"$DEST1\"],\"payload\":{\"type\":\"data\",\"metadata\":{}}}" "$KV"
expect_eq "a viewer may not deliver: 403" 403 "$HTTP_STATUS"
http GET "$D/deliveries"
expect_eq "no key: 401" 401 "$HTTP_STATUS"

# ---- idempotency ----
body="{\"destinations\":[\"$DEST1\"],\"payload\":{\"type\":\"data\",\"data\":{\"n\":1},\"metadata\":{}},\"options\":{\"idempotencyKey\":\"idem-1\"}}"
post $D/deliveries "$body"; s1=$HTTP_STATUS; d1=$(jbody 'd["deliveryId"]')
post $D/deliveries "$body"; s2=$HTTP_STATUS; d2=$(jbody 'd["deliveryId"]')
expect_eq "the same idempotency key: the first delivery again (200), one queue item" "202 200 $d1 1" \
    "$s1 $s2 $d2 $(sql "SELECT count(*) FROM delivery_queue WHERE idempotency_key = 'idem-1'")"

# ---- retries ----
wait_for 10 '[ "$(sql "SELECT count(*) FROM delivery_queue WHERE status <> '"'completed'"'")" = 0 ]'
rmode '{"status":500}'
post $D/deliveries "{\"destinations\":[\"$DEST1\"],\"payload\":{\"type\":\"data\",\"data\":{\"n\":2},\"metadata\":{}}}"
DLV2=$(jbody 'd["deliveryId"]')
wait_for 20 '[ "$(sql "SELECT status FROM delivery_logs WHERE delivery_id = '"'$DLV2'"'")" = failed ]'
get "$D/deliveries/$DLV2"
expect_eq "500s: retryConfig's maxRetries 2 (3 attempts), then failed with the reason" "failed 3 HTTP 500" \
    "$(jbody 'd["status"]') $(jbody 'd["destinations"][0]["attempts"]') $(jbody 'd["destinations"][0]["failureReason"]')"
WID2=$(sql "SELECT id FROM delivery_queue WHERE delivery_id = '$DLV2'")
rmode '{"status":200}'
post "$D/deliveries/$DLV2/retry" ''
expect_eq "retry: 200 DeliveryResponse, the destination retrying" "200 $DLV2 retrying" \
    "$HTTP_STATUS $(jbody 'd["deliveryId"]') $(jbody 'd["destinations"][0]["status"]')"
wait_for 10 '[ "$(sql "SELECT status FROM delivery_logs WHERE delivery_id = '"'$DLV2'"'")" = delivered ]'
expect_eq "the replay is delivered with the same webhook-id, 4 attempts recorded" "1 4" \
    "$(rj "d['ids'].get('$WID2')" '?ids=1') $(sql "SELECT jsonb_array_length(attempts) FROM delivery_logs WHERE delivery_id = '$DLV2'")"
post "$D/deliveries/$DLV2/retry" ''
expect_eq "retry of a delivered delivery: 409" "409 NOTHING_TO_RETRY" "$HTTP_STATUS $(jbody 'd["error"]["code"]')"

rmode '{"status":200,"failFirst":1,"failStatus":503,"retryAfter":2}'
post $D/deliveries "{\"destinations\":[\"$DEST1\"],\"payload\":{\"type\":\"data\",\"data\":{\"n\":3},\"metadata\":{}}}"
DLV3=$(jbody 'd["deliveryId"]')
wait_for 20 '[ "$(sql "SELECT status FROM delivery_logs WHERE delivery_id = '"'$DLV3'"'")" = delivered ]'
gap=$(sql "SELECT extract(epoch FROM (attempts->1->>'at')::timestamptz - (attempts->0->>'at')::timestamptz) FROM delivery_logs WHERE delivery_id = '$DLV3'")
expect_eq "503 with Retry-After: 2 honoured over retryConfig's 0.5 s (second attempt >= 2 s later, delivered)" "yes 2" \
    "$(python3 -c "print('yes' if ${gap:-0} >= 1.95 else 'no: ${gap:-none}')") $(sql "SELECT attempts->0->>'retryAfter' FROM delivery_logs WHERE delivery_id = '$DLV3'")"

rmode '{"status":302}'
post $D/deliveries "{\"destinations\":[\"$DEST1\"],\"payload\":{\"type\":\"data\",\"data\":{\"n\":4},\"metadata\":{}}}"
DLV4=$(jbody 'd["deliveryId"]')
wait_for 10 '[ "$(sql "SELECT status FROM delivery_logs WHERE delivery_id = '"'$DLV4'"'")" = failed ]'
expect_eq "302: a failure at once (no redirect followed, no retry)" "1 HTTP 302 (redirects are not followed)" \
    "$(sql "SELECT jsonb_array_length(attempts) || ' ' || failure_reason FROM delivery_logs WHERE delivery_id = '$DLV4'")"
rmode '{"status":200}'

hook h2 ',"legacyHeaders":true'
post $D/deliveries "{\"destinations\":[\"$DEST\"],\"payload\":{\"type\":\"data\",\"data\":{\"n\":5},\"metadata\":{}}}"
wait_for 10 '[ "$(rj "d[\"legacyOk\"]")" = 1 ]'
expect_eq "legacyHeaders: X-Webhook-Signature over timestamp.body verified, X-Delivery-Id sent" "1 0 true" \
    "$(rj 'd["legacyOk"]') $(rj 'd["legacyBad"]') $(rj '"x-delivery-id" in d["lastHeaders"]')"
stop_serve >/dev/null 2>&1

# ---- 10,000 items, 2 instances x 8 threads ----
hook bulk ""
BULK=$DEST
enqueue() { # enqueue PREFIX: 10,000 items for BULK, each body naming its delivery
    sql "WITH l AS (INSERT INTO delivery_logs (delivery_id, organization_id, destination_id, destinations,
           object_details, status) SELECT '$1' || g, 'org-a', $BULK, jsonb_build_array('$BULK'),
           '{\"type\":\"data\",\"metadata\":{}}', 'pending' FROM generate_series(1, 10000) g RETURNING id, delivery_id)
         INSERT INTO delivery_queue (id, organization_id, destination_id, payload, scheduled_at, delivery_id,
           delivery_log_id, body) SELECT 'msg_' || substr(md5(delivery_id || random()::text), 1, 22), 'org-a',
           $BULK, '{\"type\":\"data\"}', now(), delivery_id, id,
           convert_to(json_build_object('type', 'delivery.data', 'timestamp',
             to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),
             'deliveryId', delivery_id, 'data', json_build_object('n', delivery_id))::text, 'UTF8') FROM l" >/dev/null
}
two() { # two LOG: two serve instances with 8 delivery threads each; S1, S2 their pids
    AUDITDB_DELIVERY_THREADS=8 start_serve "$TEST_TMP/$1-1.log" || return 1
    S1=$SERVE_PID; PIDS="$PIDS $S1"
    AUDITDB_DELIVERY_THREADS=8 start_serve "$TEST_TMP/$1-2.log" || return 1
    S2=$SERVE_PID; PIDS="$PIDS $S2"
}
done_count() { sql "SELECT count(*) FROM delivery_queue WHERE delivery_id LIKE '$1%' AND status = 'completed'"; }
curl -s -o /dev/null -X POST "$RURL/_reset"
enqueue bulk-
t0=$(date +%s)
if two bulk; then ok "two serve instances start"; else not_ok "two serve instances start"; finish; fi
wait_for 280 '[ "$(done_count bulk-)" = 10000 ]'
t1=$(date +%s)
expect_eq "10,000 items: all completed, each received once, never twice at once, one id per delivery, all verified" \
    "10000 10000 10000 0 0 0 10000" \
    "$(done_count bulk-) $(rj 'd["deliveries"]') $(rj 'd["unique"]') $(rj 'd["duplicates"]') $(rj 'd["concurrent"]') $(rj 'd["multiIdDeliveries"]') $(rj 'd["verified"]')"
diag "10,000 deliveries in $((t1 - t0)) s by 2 x 8 threads"
expect_eq "both instances delivered" 2 \
    "$(sql "SELECT count(DISTINCT split_part(claimed_by, '/', 1)) FROM delivery_queue WHERE delivery_id LIKE 'bulk-%'")"
kill -TERM "$S1" "$S2"; wait "$S1" "$S2" 2>/dev/null

# ---- again, with kill -9 of one instance midway ----
curl -s -o /dev/null -X POST "$RURL/_reset"
enqueue kill-
export AUDITDB_DELIVERY_LEASE_MS=3000
two kill || { not_ok "two serve instances start again"; finish; }
wait_for 120 '[ "$(rj "d[\"unique\"]")" -ge 3000 ]'
kill -9 "$S1"
at_kill=$(sql "SELECT count(*) FROM delivery_queue WHERE delivery_id LIKE 'kill-%' AND status = 'processing' AND claimed_by LIKE '%:$S1/%'")
wait_for 280 '[ "$(done_count kill-)" = 10000 ]'
expect_eq "kill -9 midway: all 10,000 completed and received, one webhook-id per delivery, never twice at once" \
    "10000 10000 10000 0 0" \
    "$(done_count kill-) $(rj 'd["deliveries"]') $(rj 'd["unique"]') $(rj 'd["multiIdDeliveries"]') $(rj 'd["concurrent"]')"
dups=$(rj 'd["duplicates"]')
expect_eq "duplicates only the killed instance's items in flight, sent again with their webhook-id (<= $at_kill)" yes \
    "$([ "$dups" -le "$at_kill" ] && echo yes || echo "no: $dups duplicates, $at_kill in flight")"
diag "items the killed instance held: $at_kill; delivered twice with the same webhook-id: $dups"
expect_eq "the survivor took the killed instance's items once their lease ran out" yes \
    "$([ "$(sql "SELECT count(*) FROM delivery_queue WHERE delivery_id LIKE 'kill-%' AND claimed_by LIKE '%:$S2/%'")" -gt 0 ] && echo yes)"
kill -TERM "$S2"; wait "$S2" 2>/dev/null
expect_eq "serve stops cleanly with its delivery threads" 0 "$?"
finish
