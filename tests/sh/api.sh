# api.sh - the events API over HTTP as a client drives it: create, bulk with
# partial success, list with every filter and the keyset cursor, get, verify;
# 401 vs 403; idempotency; isolation between organizations.
. tests/lib.sh

fresh_db t_api
"$AUDITDB_BIN" migrate >/dev/null
A_ADMIN=$(newkey org-a admin)
A_INGEST=$(newkey org-a ingest)
A_VIEW=$(newkey org-a viewer)
A_AUDIT=$(newkey org-a auditor)
B_ADMIN=$(newkey org-b admin)
expect_match "keys create prints the key once" '^adb_[0-9a-f]{16}_' "$A_ADMIN"
if ! start_serve "$TEST_TMP/serve.log"; then
    not_ok "serve starts"; diag "$(cat "$TEST_TMP/serve.log")"; finish
fi
ok "serve starts"
now=$(date -u -d '-10 minutes' +%Y-%m-%dT%H:%M:%S.000Z)
ev() { printf '{"eventData":{"timestamp":"%s","action":"%s","status":"%s","principalId":"%s","targetResourceType":"%s","targetResourceId":"r-1","dataClassification":"%s"%s}}' "$now" "$1" "$2" "$3" "$4" "$5" "${6:-}"; }
post() { http POST "$1" -H "X-API-Key: $2" -H 'Content-Type: application/json' --data-binary "$3"; }

# create
post /api/v1/audit/events "$A_INGEST" "$(ev fhir.patient.read success doc-1 Patient PHI ',"details":{"n":1.50,"why":"treatment"},"sessionContext":{"sessionId":"s-1"}')"
expect_eq "create: 201 after commit" 201 "$HTTP_STATUS"
id1=$(jbody 'd["id"]')
expect_eq "create: organization from the key" org-a "$(jbody 'd["organizationId"]')"
expect_eq "create: details keep the number's scale" '1.50' "$(printf '%s' "$HTTP_BODY" | sed -n 's/.*"n": *\([0-9.]*\).*/\1/p')"
expect_eq "create: sessionContext at the top level" s-1 "$(jbody 'd["sessionContext"]["sessionId"]')"
expect_match "create: hash and chain returned" '^[0-9a-f]{64}$' "$(jbody 'd["hash"]')"
expect_eq "create: first in its chain" 1 "$(jbody 'd["chainSeq"]')"
post /api/v1/audit/events "$A_INGEST" "$(ev auth.login.failure failure doc-2 User INTERNAL)"
id2=$(jbody 'd["id"]')
post /api/v1/audit/events "$B_ADMIN" "$(ev fhir.patient.read success doc-1 Patient PHI)"
idb=$(jbody 'd["id"]')
expect_eq "create: other organization's chain starts at 1" 1 "$(jbody 'd["chainSeq"]')"

# validation: 400 with every problem named
post /api/v1/audit/events "$A_INGEST" '{"eventData":{"timestamp":"tomorrow","action":"","status":"maybe"}}'
expect_eq "invalid event: 400" 400 "$HTTP_STATUS"
expect_eq "invalid event: code" VALIDATION_ERROR "$(jbody 'd["error"]["code"]')"
expect_eq "invalid event: fields named" "timestamp,action,status" "$(jbody '",".join(e["field"] for e in d["error"]["details"]["errors"])')"
post /api/v1/audit/events "$A_INGEST" '{"eventData":{"timestamp":"2024-01-01T00:00:00Z",'
expect_eq "malformed JSON: 400" 400 "$HTTP_STATUS"
expect_eq "malformed JSON: INVALID_JSON" INVALID_JSON "$(jbody 'd["error"]["details"]["errors"][0]["code"]')"
post /api/v1/audit/events "$A_INGEST" '{"eventData":{"action":"a","action":"b"}}'
expect_eq "duplicate key: 400 DUPLICATE_KEY" DUPLICATE_KEY "$(jbody 'd["error"]["details"]["errors"][0]["code"]')"
post /api/v1/audit/events "$A_INGEST" "$(ev x success u T PUBLIC ',"organizationId":"org-b"')"
expect_eq "another organization in the event: 403" 403 "$HTTP_STATUS"
expect_eq "nothing stored by refusals" 3 "$(sql 'SELECT count(*) FROM audit_log')"

# idempotency
body=$(ev data.export success doc-3 Bundle CONFIDENTIAL)
http POST /api/v1/audit/events -H "X-API-Key: $A_INGEST" -H 'Idempotency-Key: op-42' --data-binary "$body"
expect_eq "idempotent create: 201 first" 201 "$HTTP_STATUS"
idi=$(jbody 'd["id"]')
hdr=$(curl -s -D - -o "$TEST_TMP/replay.json" -H "X-API-Key: $A_INGEST" -H 'Idempotency-Key: op-42' --data-binary "$body" "$BASE_URL/api/v1/audit/events")
expect_match "idempotent retry: 201, marked as a replay" 'Idempotent-Replayed: true' "$hdr"
expect_eq "idempotent retry: the original event" "$idi" "$(json 'd["id"]' <"$TEST_TMP/replay.json")"
expect_match "create: Location header" "Location: /api/v1/audit/events/$idi" "$hdr"

# bulk: partial success, in the original server's answer (?shape=original; the client's: bulk_shape.sh)
bulk=$(printf '{"events":[%s,%s,{"eventData":{"timestamp":"%s","action":"x","status":"nope"}}]}' \
    "$(ev bulk.1 success doc-4 Patient PHI)" "$(ev bulk.2 attempt doc-5 Patient PHI)" "$now")
post /api/v1/audit/events/bulk "$A_INGEST" "$(printf '%s' "$bulk" | sed 's/^{/{"continueOnError":false,/')"
expect_eq "bulk all-or-nothing with an invalid event: 400" 400 "$HTTP_STATUS"
expect_eq "bulk all-or-nothing: field named by index" "events[2].status" "$(jbody 'd["error"]["details"]["errors"][0]["field"]')"
expect_eq "bulk all-or-nothing: nothing stored" 0 "$(sql "SELECT count(*) FROM audit_log WHERE action LIKE 'bulk.%'")"
post /api/v1/audit/events/bulk "$A_INGEST" "$(printf '%s' "$bulk" | sed 's/^{/{"validateOnly":true,/')"
expect_eq "bulk validateOnly: 200" 200 "$HTTP_STATUS"
expect_eq "bulk validateOnly: nothing stored" 0 "$(sql "SELECT count(*) FROM audit_log WHERE action LIKE 'bulk.%'")"
post "/api/v1/audit/events/bulk?shape=original" "$A_INGEST" "$bulk"
expect_eq "bulk partial success: 201" 201 "$HTTP_STATUS"
expect_eq "bulk: summary" "3 2 1" "$(jbody '"%d %d %d" % (d["summary"]["total"], d["summary"]["successful"], d["summary"]["failed"])')"
expect_eq "bulk: failed names index and field" "2 status" "$(jbody '"%d %s" % (d["failed"][0]["index"], d["failed"][0]["errors"][0]["field"])')"
expect_eq "bulk: successful events returned" "bulk.1 bulk.2" "$(jbody '" ".join(e["eventData"]["action"] for e in d["successful"])')"
post /api/v1/audit/events/bulk "$A_INGEST" "$(printf '{"events":[{"eventData":{"action":"x","status":"nope"}}]}')"
expect_eq "bulk: no valid event: 400" 400 "$HTTP_STATUS"
post /api/v1/audit/events/bulk "$A_INGEST" '{"events":[]}'
expect_eq "bulk: empty refused" 400 "$HTTP_STATUS"
post /api/v1/audit/events/bulk "$A_INGEST" "$(python3 -c 'import json; print(json.dumps({"events":[{"action":"a"}]*1001}))')"
expect_eq "bulk: over the cap refused" 400 "$HTTP_STATUS"
expect_match "bulk: cap named" "1 to 1000 events" "$(jbody 'd["error"]["message"]')"

# get, verify
http GET "/api/v1/audit/events/$id1" -H "X-API-Key: $A_VIEW"
expect_eq "get: 200" 200 "$HTTP_STATUS"
expect_eq "get: the event" fhir.patient.read "$(jbody 'd["action"]')"
http GET "/api/v1/audit/events/$idb" -H "X-API-Key: $A_VIEW"
expect_eq "get another organization's id: 404" 404 "$HTTP_STATUS"
http GET "/api/v1/audit/events/999999" -H "X-API-Key: $A_VIEW"
expect_eq "get a missing id: 404 (same answer)" 404 "$HTTP_STATUS"
http GET "/api/v1/audit/events/abc" -H "X-API-Key: $A_VIEW"
expect_eq "get a malformed id: 400" 400 "$HTTP_STATUS"
http POST "/api/v1/audit/events/$id1/verify" -H "X-API-Key: $A_AUDIT"
expect_eq "verify: 200" 200 "$HTTP_STATUS"
expect_eq "verify: valid" true "$(jbody 'd["isValid"]')"
expect_eq "verify: smart-logs fields" "true $id1" "$(jbody '"%s %s" % (str(d["verified"]).lower(), d["eventId"])')"
sql "UPDATE audit_log SET principal_id = 'mallory' WHERE event_id = '$id1'" >/dev/null
http POST "/api/v1/audit/events/$id1/verify" -H "X-API-Key: $A_AUDIT"
expect_eq "verify tampered: invalid" false "$(jbody 'd["isValid"]')"
expect_match "verify tampered: names the problem" HASH_MISMATCH "$(jbody '" ".join(p["code"] for p in d["details"]["problems"])')"
expect_eq "verify tampered: stored vs computed hash differ" true "$(jbody 'd["storedHash"] != d["computedHash"]')"
sql "UPDATE audit_log SET principal_id = 'doc-1' WHERE event_id = '$id1'" >/dev/null
http POST "/api/v1/audit/events/$idb/verify" -H "X-API-Key: $A_AUDIT"
expect_eq "verify another organization's id: 404" 404 "$HTTP_STATUS"

# 401 and 403
http GET /api/v1/audit/events
expect_eq "no key: 401" 401 "$HTTP_STATUS"
http GET /api/v1/audit/events -H "X-API-Key: adb_0123456789abcdef_notthesecretnotthesecret"
expect_eq "unknown key: 401" 401 "$HTTP_STATUS"
http GET /api/v1/audit/events -H "X-API-Key: ${A_VIEW%?}x"
expect_eq "wrong secret: 401" 401 "$HTTP_STATUS"
http GET /api/v1/audit/events -H "Authorization: Bearer $A_VIEW"
expect_eq "Bearer works" 200 "$HTTP_STATUS"
post /api/v1/audit/events "$A_VIEW" "$(ev x success u T PUBLIC)"
expect_eq "viewer creates: 403" 403 "$HTTP_STATUS"
expect_eq "403 code" FORBIDDEN "$(jbody 'd["error"]["code"]')"
http GET /api/v1/audit/events -H "X-API-Key: $A_INGEST"
expect_eq "ingest reads: 403" 403 "$HTTP_STATUS"
http POST "/api/v1/audit/events/$id1/verify" -H "X-API-Key: $A_VIEW"
expect_eq "viewer verifies: 403" 403 "$HTTP_STATUS"
http GET /api/v1/audit/events -H "X-API-Key: $A_AUDIT"
expect_eq "auditor reads (inherited from viewer): 200" 200 "$HTTP_STATUS"
"$AUDITDB_BIN" keys revoke "$(printf '%s' "$A_VIEW" | cut -c1-20)" >/dev/null
http GET /api/v1/audit/events -H "X-API-Key: $A_VIEW"
expect_eq "revoked key: 401 at once (NOTIFY drops the cache)" 401 "$HTTP_STATUS"

# list: filters, sorting, pagination, cursor
list() { http GET "/api/v1/audit/events?$1" -H "X-API-Key: $A_AUDIT"; }
list ""
expect_eq "list: org-a's 5 events only" 5 "$(jbody 'len(d["events"])')"
expect_eq "list: newest first" "$(sql "SELECT string_agg(event_id::text, ',' ORDER BY \"timestamp\" DESC, id DESC) FROM audit_log WHERE organization_id = 'org-a'")" "$(jbody '",".join(str(e["id"]) for e in d["events"])')"
expect_eq "list: total" 5 "$(jbody 'd["pagination"]["total"]')"
list "principalIds=doc-1,doc-2"
expect_eq "filter principalIds" "doc-1 doc-2" "$(jbody '" ".join(sorted(e["principalId"] for e in d["events"]))')"
list "actions=auth.login.failure"
expect_eq "filter actions" "$id2" "$(jbody '",".join(str(e["id"]) for e in d["events"])')"
list "statuses=attempt"
expect_eq "filter statuses" bulk.2 "$(jbody '",".join(e["action"] for e in d["events"])')"
list "dataClassifications=CONFIDENTIAL"
expect_eq "filter dataClassifications" data.export "$(jbody '",".join(e["action"] for e in d["events"])')"
list "resourceTypes=User"
expect_eq "filter resourceTypes" auth.login.failure "$(jbody '",".join(e["action"] for e in d["events"])')"
list "startDate=2000-01-01T00:00:00Z&endDate=2000-12-31T00:00:00Z"
expect_eq "filter dates" 0 "$(jbody 'len(d["events"])')"
list "sortField=action&sortDirection=asc&limit=2"
expect_eq "sort by action asc" "auth.login.failure bulk.1" "$(jbody '" ".join(e["action"] for e in d["events"])')"
expect_eq "hasNext" true "$(jbody 'd["pagination"]["hasNext"]')"
pages=""; cursor=""; n=0; totals=""
while [ $n -lt 10 ]; do
    list "limit=2${cursor:+&cursor=$cursor}"
    pages="$pages $(jbody '",".join(str(e["id"]) for e in d["events"])')"
    totals="$totals $(jbody '"%s/%s" % (d["pagination"]["total"], d["pagination"]["totalExact"])')"
    cursor=$(jbody 'd["nextCursor"] or ""')
    n=$((n + 1))
    [ -n "$cursor" ] || break
done
expect_eq "keyset cursor walks every event once, in order" "$(sql "SELECT string_agg(event_id::text, ',' ORDER BY \"timestamp\" DESC, id DESC) FROM audit_log WHERE organization_id = 'org-a'")" "$(echo $pages | tr ' ' ',')"
org_a_count=$(sql "SELECT count(*) FROM audit_log WHERE organization_id = 'org-a'")
expect_eq "every cursor page carries the first page's exact total" "$(for p in $(seq $n); do printf ' %s/True' "$org_a_count"; done)" "$totals"
# principalIds is read per principal (docs/api.md): walks, both directions, offset, other filters
walk() { # walk QUERY: the ids of every page of a cursor walk, comma-separated
    w_ids=""; w_cur=""; w_n=0
    while [ $w_n -lt 20 ]; do
        list "$1${w_cur:+&cursor=$w_cur}"
        w_ids="$w_ids $(jbody '",".join(str(e["id"]) for e in d["events"])')"
        w_cur=$(jbody 'd["nextCursor"] or ""')
        w_n=$((w_n + 1))
        [ -n "$w_cur" ] || break
    done
    echo $w_ids | tr ' ' ',' | sed 's/,,*/,/g; s/^,//; s/,$//'
}
org_a_ids() { sql "SELECT coalesce(string_agg(event_id::text, ',' ORDER BY \"timestamp\" $1, id $1), '') FROM audit_log WHERE organization_id = 'org-a' $2"; }
expect_eq "principalIds walk, newest first, one per page" \
    "$(org_a_ids DESC "AND principal_id IN ('doc-1', 'doc-2', 'doc-4')")" "$(walk "principalIds=doc-1,doc-2,doc-4,nobody&limit=1")"
expect_eq "principalIds walk, oldest first" \
    "$(org_a_ids ASC "AND principal_id IN ('doc-1', 'doc-2', 'doc-4')")" "$(walk "principalIds=doc-4,doc-2,doc-1&sortDirection=asc&limit=1")"
expect_eq "principalIds with actions" \
    "$(org_a_ids DESC "AND principal_id IN ('doc-1', 'doc-4') AND action IN ('bulk.1', 'auth.login.failure')")" \
    "$(walk "principalIds=doc-1,doc-4&actions=bulk.1,auth.login.failure&limit=1")"
list "principalIds=doc-1,doc-2,doc-4&limit=1&offset=1"
expect_eq "principalIds with offset" "$(org_a_ids DESC "AND principal_id IN ('doc-1', 'doc-2', 'doc-4')" | cut -d, -f2)" \
    "$(jbody '",".join(str(e["id"]) for e in d["events"])')"
list "limit=0"
expect_eq "limit 0: 400" 400 "$HTTP_STATUS"
expect_eq "limit 0: field" limit "$(jbody 'd["error"]["details"]["errors"][0]["field"]')"
list "cursor=%21%21%21"
expect_eq "bad cursor: 400" 400 "$HTTP_STATUS"
# a cursor made by hand for these (no) filters, with a time no event can have
forged=$(python3 -c 'import base64, hashlib
fp = hashlib.sha256(b"[\"\",\"\",\"\",\"\",\"\",\"\",\"\",\"\"]").hexdigest()[:16]
print(base64.urlsafe_b64encode(("v1.d.%s.999999999999999999.5" % fp).encode()).decode().rstrip("="))')
list "cursor=$forged"
expect_eq "a forged cursor with a time out of range: 400 INVALID_FORMAT" "400 INVALID_FORMAT cursor" \
    "$HTTP_STATUS $(jbody '"%s %s" % (d["error"]["details"]["errors"][0]["code"], d["error"]["details"]["errors"][0]["field"])')"
forged=$(python3 -c 'import base64, hashlib
fp = hashlib.sha256(b"[\"\",\"\",\"\",\"\",\"\",\"\",\"\",\"\"]").hexdigest()[:16]
print(base64.urlsafe_b64encode(("v1.d.%s.4102444800000000.5" % fp).encode()).decode().rstrip("="))')
list "cursor=$forged"
expect_eq "…and one with a time in range (2100): 200, the events before it" "200 $org_a_count" "$HTTP_STATUS $(jbody 'len(d["events"])')"
list "sortField=hash"
expect_eq "bad sortField: 400" 400 "$HTTP_STATUS"
list "startDate=yesterday"
expect_eq "bad startDate: 400" 400 "$HTTP_STATUS"
list "limit=2&actions=bulk.1"
c2=$(jbody 'd["nextCursor"] or ""')
list "organizationIds=org-b"
expect_eq "organizationIds naming another organization: 403" 403 "$HTTP_STATUS"
list "organizationIds=org-a&limit=1"
expect_eq "organizationIds naming the own organization: 200" 200 "$HTTP_STATUS"
cur=$(list "limit=1"; jbody 'd["nextCursor"]')
list "limit=1&cursor=$cur&actions=bulk.1"
expect_eq "cursor with other filters: 400" 400 "$HTTP_STATUS"
list "limit=1&cursor=$cur&sortDirection=asc"
expect_eq "cursor with another direction: 400" 400 "$HTTP_STATUS"

# isolation: org-b's key sees only org-b, whatever the filters
http GET "/api/v1/audit/events?principalIds=doc-1" -H "X-API-Key: $B_ADMIN"
expect_eq "isolation: org-b sees its one event" "$idb" "$(jbody '",".join(str(e["id"]) for e in d["events"])')"
http GET "/api/v1/audit/events?actions=fhir.patient.read&limit=1000" -H "X-API-Key: $B_ADMIN"
expect_eq "isolation: no org-a event through any filter" org-b "$(jbody '",".join(sorted(set(e["organizationId"] for e in d["events"])))')"
http GET "/api/v1/audit/events/$id1" -H "X-API-Key: $B_ADMIN"
expect_eq "isolation: org-a's id answers 404 to org-b" 404 "$HTTP_STATUS"

# isolation in the database itself: the API's role owns nothing and, without
# the tenant setting, reads no tenant row at all
expect_eq "auditdb_app owns no table" 0 "$(sql "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner = 'auditdb_app'")"
expect_eq "without the tenant setting: no rows" 0 "$(psql "$AUDIT_DB_URL" -qAtX -c 'SET ROLE auditdb_app' -c 'SELECT count(*) FROM audit_log')"
expect_eq "without the tenant setting: no chain heads, no keys' logs" "0 0" "$(psql "$AUDIT_DB_URL" -qAtX -c 'SET ROLE auditdb_app' -c "SELECT (SELECT count(*) FROM audit_chain_head) || ' ' || (SELECT count(*) FROM api_access_log)")"
expect_eq "with org-a's setting: only org-a's rows" "$(sql "SELECT count(*) FROM audit_log WHERE organization_id = 'org-a'")" \
    "$(psql "$AUDIT_DB_URL" -qAtX -c 'BEGIN' -c "$(tenant_setting org-a)" -c 'SET LOCAL ROLE auditdb_app' -c 'SELECT count(*) FROM audit_log' -c 'COMMIT' | sed -n 2p)"
if psql "$AUDIT_DB_URL" -qAtX -v ON_ERROR_STOP=1 -c 'BEGIN' -c "$(tenant_setting org-a)" -c 'SET LOCAL ROLE auditdb_app' \
    -c "SELECT 1 FROM audit_chain_head WHERE organization_id = 'org-b'" -c 'ROLLBACK' 2>/dev/null | grep -qx 1; then
    not_ok "org-a's session cannot touch org-b's rows"
else
    ok "org-a's session cannot touch org-b's rows"
fi
if psql "$AUDIT_DB_URL" -qAtX -v ON_ERROR_STOP=1 -c 'BEGIN' -c "$(tenant_setting org-a)" -c 'SET LOCAL ROLE auditdb_app' \
    -c "SELECT 1 FROM audit_chain_head WHERE organization_id = 'org-a'" -c 'ROLLBACK' 2>/dev/null | grep -qx 1; then
    ok "…while its own rows are reachable (the check above can fail)"
else
    not_ok "…while its own rows are reachable (the check above can fail)"
fi

# strings that need escaping and those that do not, and times in the API's one form, alike
# in the create's answer, a read by id and a page (an organization of their own)
W_ADMIN=$(newkey org-w admin)
weird='say \"hi\"\\ \ttab\nline \u00e9 \u0001'
post /api/v1/audit/events "$W_ADMIN" "$(printf '{"eventData":{"timestamp":"%s","action":"note.add","status":"success","principalId":"doc-9","targetResourceType":"Note","targetResourceId":"n-1","outcomeDescription":"%s","dataClassification":"INTERNAL"}}' "$(date -u -d '-9 minutes' +%Y-%m-%dT%H:%M:%S.12+00:00)" "$weird")"
expect_eq "escaped strings: 201" 201 "$HTTP_STATUS"
idw=$(jbody 'd["id"]')
want_desc=$(printf '%s' "\"$weird\"" | json 'repr(d)')
want_ts=$(jbody 'd["timestamp"]')
expect_match "times: the client's three digits of fraction, in UTC" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.120Z$' "$want_ts"
expect_match "times: storedTimestamp six digits, in UTC" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.120000Z$' "$(jbody 'd["storedTimestamp"]')"
http GET "/api/v1/audit/events/$idw" -H "X-API-Key: $W_ADMIN"
expect_eq "escaped strings: read back as written" "$want_desc" "$(jbody 'repr(d["outcomeDescription"])')"
expect_eq "times: a read by id as the create answered" "$want_ts" "$(jbody 'd["timestamp"]')"
http GET "/api/v1/audit/events?principalIds=doc-9" -H "X-API-Key: $W_ADMIN"
expect_eq "escaped strings: a page has them as written" "$want_desc" "$(jbody 'repr(d["events"][0]["outcomeDescription"])')"
expect_eq "times: a page as the create answered" "$want_ts $idw note.add" "$(jbody '"%s %s %s" % (d["events"][0]["timestamp"], d["events"][0]["id"], d["events"][0]["action"])')"

stop_serve TERM; rc=$?
expect_eq "SIGTERM: exit 0" 0 "$rc"
expect_eq "verify after all that: intact" 0 "$("$AUDITDB_BIN" verify >/dev/null; echo $?)"
finish
