# bulk_shape.sh - create and bulk answer in the shapes the smart-logs client checks
# (its BulkCreateResult and AuditEvent): a bulk answer is {requestId (a UUID), total,
# successful, failed (counts), results (one per event, in order, with index), processingTime};
# a stored event comes back as GET /events/{id} gives it, its id member the event's id; a
# refused one with error, validationErrors and errors naming the field. The original server's
# answer stays reachable with ?shape=original (api.sh holds it). docs/api.md, "Bulk answer".
. tests/lib.sh

fresh_db t_bulk_shape
"$AUDITDB_BIN" migrate >/dev/null
A=$(newkey org-a ingest)
AV=$(newkey org-a viewer)
B=$(newkey org-b ingest)
if ! start_serve "$TEST_TMP/serve.log"; then
    not_ok "serve starts"; diag "$(cat "$TEST_TMP/serve.log")"; finish
fi
post() { http POST "$1" -H "X-API-Key: $2" -H 'Content-Type: application/json' --data-binary "$3"; }
# the event GET /events/{id} answers, as sorted JSON (the reference a created event must equal)
stored_event() { curl -s -H "X-API-Key: $AV" "$BASE_URL/api/v1/audit/events/$1" | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin), sort_keys=True))'; }
ev() { printf '{"action":"%s","status":"%s","principalId":"u-1","targetResourceType":"Patient","dataClassification":"PHI"%s}' "$1" "$2" "${3:-}"; }

# --- create: the event as stored, as the client reads it -----------------------------------------
post /api/v1/audit/events "$A" "{\"eventData\":$(ev shape.one success ',"targetResourceId":"p-1","sessionContext":{"sessionId":"s-1","ipAddress":"10.0.0.1","userAgent":"t"},"details":{"n":1.50,"list":[1,"x"]}'),\"options\":{\"correlationId\":\"corr-1\"}}"
expect_eq "create: 201" 201 "$HTTP_STATUS"
created=$(jbody 'd')
id=$(jbody 'd["id"]')
expect_eq "create: every member the client requires" "ok" "$(printf '%s' "$created" | python3 -c '
import json, sys
d = json.load(sys.stdin)
need = ["id", "timestamp", "action", "targetResourceType", "principalId", "organizationId", "status", "dataClassification"]
bad = [k for k in need if not isinstance(d.get(k), str) or not d[k]]
print("ok" if not bad else "missing or empty: " + ",".join(bad))')"
expect_eq "create: options.correlationId filled in" corr-1 "$(jbody 'd["correlationId"]')"
expect_eq "create: the answer is the event GET /events/{id} gives (id member included)" \
    "$(stored_event "$id")" "$(printf '%s' "$created" | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin), sort_keys=True))')"

# --- bulk, the client's answer ------------------------------------------------------------------
body="{\"continueOnError\":true,\"events\":[$(ev shape.b0 success),{\"action\":\"shape.b1\",\"status\":\"maybe\",\"principalId\":\"u-1\"},$(ev shape.b2 failure ',"details":{"k":"v"}')]}"
post /api/v1/audit/events/bulk "$A" "$body"
expect_eq "bulk, partial success: 201" 201 "$HTTP_STATUS"
bulk=$HTTP_BODY
expect_eq "bulk: requestId is a UUID, counts are numbers" "uuid 3 2 1 number" "$(jbody '" ".join(["uuid" if __import__("re").fullmatch("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", d["requestId"]) else "not-uuid:" + d["requestId"], str(d["total"]), str(d["successful"]), str(d["failed"]), "number" if isinstance(d["processingTime"], (int, float)) and d["processingTime"] >= 0 else "bad"])')"
expect_eq "bulk: one result per event, in order, with index and success" "0:True 1:False 2:True" \
    "$(jbody '" ".join("%d:%s" % (r["index"], r["success"]) for r in d["results"])')"
expect_eq "bulk: a refused event: error, validationErrors and errors naming the field, no event" \
    "str True True False" "$(printf '%s' "$bulk" | python3 -c '
import json, sys
r = json.load(sys.stdin)["results"][1]
print(type(r["error"]).__name__, any(e["field"] == "status" for e in r["errors"]),
      any(v.startswith("status: ") for v in r["validationErrors"]), "event" in r)')"
ids=$(printf '%s' "$bulk" | python3 -c 'import json,sys; print(" ".join(r["event"]["id"] for r in json.load(sys.stdin)["results"] if r["success"]))')
same=ok
i=0
for k in $ids; do
    want=$(stored_event "$k")
    got=$(printf '%s' "$bulk" | python3 -c 'import json,sys; print(json.dumps([r["event"] for r in json.load(sys.stdin)["results"] if r["success"]]['"$i"'], sort_keys=True))')
    [ "$want" = "$got" ] || { same="result $i differs from GET /events/$k"; diag "want: $want" "got:  $got"; }
    i=$((i + 1))
done
expect_eq "bulk: each stored event is the event GET /events/{its id member} gives" "ok 2" "$same $i"
expect_eq "bulk: the stored events, in the caller's organization" "shape.b0 org-a,shape.b2 org-a" \
    "$(sql "SELECT string_agg(action || ' ' || organization_id, ',' ORDER BY action) FROM audit_log WHERE action LIKE 'shape.b%'")"

# the caller's own request id, when it is a UUID, is the answer's requestId
rid=6f1d2c3b-4a59-4e7d-8c6b-5a4f3e2d1c0b
http POST /api/v1/audit/events/bulk -H "X-API-Key: $A" -H 'Content-Type: application/json' \
    -H "X-Request-Id: $rid" --data-binary "{\"events\":[$(ev shape.rid success)]}"
expect_eq "bulk: X-Request-Id in UUID form is the requestId" "201 $rid" "$HTTP_STATUS $(jbody 'd["requestId"]')"

# continueOnError false (what the client sends by default): all or nothing
post /api/v1/audit/events/bulk "$B" "{\"continueOnError\":false,\"validateOnly\":false,\"events\":[$(ev shape.c0 success),{\"action\":\"shape.c1\",\"status\":\"success\",\"principalId\":\"u\",\"targetResourceType\":\"T\",\"dataClassification\":\"SECRET\"}]}"
expect_eq "continueOnError false, one invalid: 400 naming events[1].dataClassification" "400 events[1].dataClassification" \
    "$HTTP_STATUS $(jbody '",".join(e["field"] for e in d["error"]["details"]["errors"])')"
expect_eq "continueOnError false: nothing stored" 0 "$(sql "SELECT count(*) FROM audit_log WHERE action LIKE 'shape.c%'")"

# validateOnly: 200, valid ones successful without an event (nothing stored, no id)
post /api/v1/audit/events/bulk "$B" "{\"validateOnly\":true,\"events\":[$(ev shape.v0 success),{\"action\":\"shape.v1\"}]}"
expect_eq "validateOnly: 200, counts, no event in results" "200 2 1 1 [False, False]" \
    "$HTTP_STATUS $(jbody '"%d %d %d %s" % (d["total"], d["successful"], d["failed"], ["event" in r for r in d["results"]])')"
expect_eq "validateOnly: nothing stored" 0 "$(sql "SELECT count(*) FROM audit_log WHERE action LIKE 'shape.v%'")"

# organizations: org-b's bulk stores and answers org-b's events only; naming org-a is refused
post /api/v1/audit/events/bulk "$B" "{\"events\":[$(ev shape.o0 success)]}"
expect_eq "org-b's bulk: its event in org-b" "201 org-b" "$HTTP_STATUS $(jbody 'd["results"][0]["event"]["organizationId"]')"
post /api/v1/audit/events/bulk "$B" "{\"events\":[$(ev shape.o1 success ',"organizationId":"org-a"')]}"
expect_eq "org-b's key naming org-a in a bulk: 403" 403 "$HTTP_STATUS"

# the documented way to the original server's answer, and a wrong one
post "/api/v1/audit/events/bulk?shape=original" "$A" "{\"events\":[$(ev shape.s0 success)]}"
expect_eq "?shape=original: the original's {successful, failed, summary}" "201 1 0 shape.s0" \
    "$HTTP_STATUS $(jbody '"%d %d %s" % (d["summary"]["successful"], len(d["failed"]), d["successful"][0]["eventData"]["action"])')"
post "/api/v1/audit/events/bulk?shape=v2" "$A" "{\"events\":[$(ev shape.s1 success)]}"
expect_eq "?shape=v2: 400 naming shape, nothing stored" "400 shape 0" \
    "$HTTP_STATUS $(jbody 'd["error"]["details"]["errors"][0]["field"]') $(sql "SELECT count(*) FROM audit_log WHERE action = 'shape.s1'")"

stop_serve
finish
