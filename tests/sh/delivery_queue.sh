# delivery_queue.sh - the delivery queue end to end (docs/delivery.md, "Queue",
# "Webhooks", "Retries") with a Node receiver that verifies every request with the
# npm standardwebhooks library (v1) and Node's Ed25519 (v1a) and counts webhook-ids
# (tests/delivery_lib.sh): the deliveries routes in the client's shapes; bad input
# 400 naming the field; another organization's delivery 404; idempotency keys;
# retries (retryConfig, Retry-After, 3xx, replay with the same webhook-id); legacy
# X-Webhook-* headers. The 10,000-item runs are delivery_load.sh and delivery_crash.sh.
DELIVERY_DB=t_delivery_queue
. tests/delivery_lib.sh

if ! AUDITDB_DELIVERY_THREADS=2 AUDITDB_DELIVERY_POLL_MS=200 start_serve "$TEST_TMP/serve.log"; then
    not_ok "serve starts"; diag "$(cat "$TEST_TMP/serve.log")"; finish
fi
PIDS="$PIDS $SERVE_PID"
hook h1 ""
expect_eq "a webhook destination is created with its secrets shown once" "201 whsec_ whpk_" \
    "$HTTP_STATUS $(jbody 'd["secrets"]["secret"][:6]') $(jbody 'd["secrets"]["publicKey"][:5]')"
DEST1=$DEST
KEYS1=$(jbody 'd["secrets"]')

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

# ---- the CLI: auditdb deliveries list|show|retry ----
expect_eq "CLI show: the API's DeliveryStatusResponse" "completed $DLV" \
    "$("$AUDITDB_BIN" deliveries show "$DLV" --org org-a 2>/dev/null | json 'd["status"] + " " + d["deliveryId"]')"
expect_match "CLI list --status failed: the 302 delivery with its webhook-id" "$DLV4 .* failed .*msg_" \
    "$("$AUDITDB_BIN" deliveries list --org org-a --status failed 2>/dev/null)"
curl -s -o /dev/null -X POST "$RURL/_keys" -d "$KEYS1"   # the receiver checks h1's keys again
out=$("$AUDITDB_BIN" deliveries retry "$DLV4" --org org-a 2>&1); rc=$?
expect_eq "CLI retry: queued again" "0 yes" "$rc $(printf '%s' "$out" | grep -q 'queued again' && echo yes)"
wait_for 10 '[ "$(sql "SELECT status FROM delivery_logs WHERE delivery_id = '"'$DLV4'"'")" = delivered ]'
expect_eq "CLI retry: delivered with its webhook-id" "delivered $(sql "SELECT id FROM delivery_queue WHERE delivery_id = '$DLV4'")" \
    "$(sql "SELECT l.status || ' ' || q.id FROM delivery_logs l JOIN delivery_queue q ON q.delivery_log_id = l.id WHERE l.delivery_id = '$DLV4'")"
"$AUDITDB_BIN" deliveries retry "$DLV4" --org org-a >/dev/null 2>&1
expect_eq "CLI retry of a delivered delivery: exit 1" 1 "$?"
"$AUDITDB_BIN" deliveries show "$DLV" --org org-b >/dev/null 2>&1
expect_eq "CLI show of another organization's delivery: exit 1" 1 "$?"
"$AUDITDB_BIN" deliveries show >/dev/null 2>&1
expect_eq "CLI show without an id: exit 2" 2 "$?"
# ---- a delivery naming a data subject: a recipient in the subject's GDPR export ----
hook h-subject ''
post $D/deliveries "{\"destinations\":[\"$DEST\"],\"payload\":{\"type\":\"export\",\"data\":{\"n\":9},\"metadata\":{\"dataSubjectId\":\"subj-dq-1\"}}}"
DLVS=$(jbody 'd["deliveryId"]')
wait_for 10 '[ "$(sql "SELECT status FROM delivery_logs WHERE delivery_id = '"'$DLVS'"'")" = delivered ]'
expect_eq "the subject kept as a blind index (64 hex digits), never in clear in the log's details" "1 0" \
    "$(sql "SELECT count(*) FROM delivery_logs WHERE delivery_id = '$DLVS' AND details->'dataSubjects'->>0 ~ '^[0-9a-f]{64}$'") $(sql "SELECT count(*) FROM delivery_logs WHERE details::text LIKE '%subj-dq-1%'")"
post /api/v1/compliance/gdpr/export '{"dataSubjectId":"subj-dq-1","format":"json","requestType":"access"}'
expect_eq "GDPR export of that subject: the destination among the recipients, via delivery" "200 1" \
    "$HTTP_STATUS $(printf '%s' "$HTTP_BODY" | grep -o '"via": *"delivery"' | wc -l)"
post /api/v1/compliance/gdpr/export '{"dataSubjectId":"subj-dq-2","format":"json","requestType":"access"}'
expect_eq "another subject's export: no delivery recipient" "200 0" \
    "$HTTP_STATUS $(printf '%s' "$HTTP_BODY" | grep -o '"via": *"delivery"' | wc -l)"

stop_serve >/dev/null 2>&1
finish
