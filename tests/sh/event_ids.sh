# event_ids.sh - every event's public id is a UUID the way smart-logs' client checks one
# (version 1-5, RFC variant), answered wherever an event id appears (create, Location, bulk,
# list, get, verify's eventId) and accepted in paths next to the old numeric ids; and the id
# is bound to its event: swapping two events' ids, or changing one, makes `auditdb verify`
# fail and name them (docs/events.md "Event id", docs/integrity.md).
. tests/lib.sh

fresh_db t_event_ids
"$AUDITDB_BIN" migrate >/dev/null
A_ADMIN=$(newkey org-a admin)
B_ADMIN=$(newkey org-b admin)
if ! start_serve "$TEST_TMP/serve.log"; then
    not_ok "serve starts"; diag "$(cat "$TEST_TMP/serve.log")"; finish
fi
ok "serve starts"

# the client's own check of an id, in our words: 8-4-4-4-12 hex, version 1 to 5, variant 8-b
UUID='^[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$'
now=$(date -u -d '-10 minutes' +%Y-%m-%dT%H:%M:%S.000Z)
ev() { printf '{"timestamp":"%s","action":"%s","status":"success","principalId":"p-1"}' "$now" "$1"; }
post() { http POST "$1" -H "X-API-Key: $2" -H 'Content-Type: application/json' --data-binary "$3"; }

hdr=$(curl -s -D - -o "$TEST_TMP/c1.json" -H "X-API-Key: $A_ADMIN" -H 'Content-Type: application/json' \
    --data-binary "{\"eventData\":$(ev one)}" "$BASE_URL/api/v1/audit/events")
id1=$(json 'd["id"]' <"$TEST_TMP/c1.json")
expect_match "create: the id is a UUID" "$UUID" "$id1"
expect_match "create: Location names the UUID" "Location: /api/v1/audit/events/$id1" "$hdr"
expect_eq "create: the stored id is the answered one" "$id1" \
    "$(sql "SELECT event_id FROM audit_log WHERE action = 'one'")"
expect_eq "create: hashed with the id (sha256-c14n-v3)" sha256-c14n-v3 "$(json 'd["hashAlgorithm"]' <"$TEST_TMP/c1.json")"

post /api/v1/audit/events/bulk "$A_ADMIN" "{\"events\":[{\"eventData\":$(ev two)},{\"eventData\":$(ev three)},{\"eventData\":$(ev four)}]}"
expect_eq "bulk: 201" 201 "$HTTP_STATUS"
bulk_ids=$(printf '%s' "$HTTP_BODY" | python3 -c '
import json, re, sys
d = json.load(sys.stdin)
r = d.get("results") or d.get("successful") or []
print(" ".join((x.get("event") or x.get("eventData") or {}).get("id", "?") for x in r))')
n_ok=0
for i in $bulk_ids; do printf '%s' "$i" | grep -Eq "$UUID" && n_ok=$((n_ok + 1)); done
expect_eq "bulk: every result's event id is a UUID" 3 "$n_ok"

http GET "/api/v1/audit/events?limit=10" -H "X-API-Key: $A_ADMIN"
expect_eq "list: every item's id is a UUID" "4 4" "$(printf '%s' "$HTTP_BODY" | python3 -c '
import json, re, sys
d = json.load(sys.stdin)
items = d.get("events") or d.get("data") or []
print(len(items), sum(bool(re.match(sys.argv[1], e["id"])) for e in items))' "$UUID")"
expect_eq "ids are unique" 4 "$(sql "SELECT count(DISTINCT event_id) FROM audit_log")"

http GET "/api/v1/audit/events/$id1" -H "X-API-Key: $A_ADMIN"
expect_eq "get by UUID" "200 $id1 one" "$HTTP_STATUS $(jbody 'd["id"]') $(jbody 'd["action"]')"
upper=$(printf '%s' "$id1" | tr a-f A-F)
http GET "/api/v1/audit/events/$upper" -H "X-API-Key: $A_ADMIN"
expect_eq "get by UUID in capitals" "200 $id1" "$HTTP_STATUS $(jbody 'd["id"]')"
num1=$(sql "SELECT id FROM audit_log WHERE action = 'one'")
http GET "/api/v1/audit/events/$num1" -H "X-API-Key: $A_ADMIN"
expect_eq "get by the old numeric id still works" "200 $id1" "$HTTP_STATUS $(jbody 'd["id"]')"
http GET "/api/v1/audit/events/$id1" -H "X-API-Key: $B_ADMIN"
expect_eq "get: another organization's UUID is 404" "404 NOT_FOUND" "$HTTP_STATUS $(jbody 'd["error"]["code"]')"
http GET "/api/v1/audit/events/00000000-0000-1000-8000-000000000000" -H "X-API-Key: $A_ADMIN"
expect_eq "get: an unknown UUID is 404" 404 "$HTTP_STATUS"
http GET "/api/v1/audit/events/not-an-id" -H "X-API-Key: $A_ADMIN"
expect_eq "get: neither UUID nor number is 400 naming id" "400 id" "$HTTP_STATUS $(jbody 'd["error"]["details"]["errors"][0]["field"]')"

http POST "/api/v1/audit/events/$id1/verify" -H "X-API-Key: $A_ADMIN"
expect_eq "verify by UUID: intact, eventId the UUID" "200 true $id1" \
    "$HTTP_STATUS $(jbody 'd["isValid"]') $(jbody 'd["eventId"]')"
http POST "/api/v1/audit/events/$num1/verify" -H "X-API-Key: $A_ADMIN"
expect_eq "verify by numeric id: eventId the UUID" "200 $id1" "$HTTP_STATUS $(jbody 'd["eventId"]')"
http POST "/api/v1/audit/events/$id1/verify" -H "X-API-Key: $B_ADMIN"
expect_eq "verify: another organization's UUID is 404" 404 "$HTTP_STATUS"

out=$("$AUDITDB_BIN" verify --no-record 2>&1); rc=$?
expect_eq "verify: intact before tampering" 0 "$rc"
out=$("$AUDITDB_BIN" verify --no-record --event "$id1" 2>&1); rc=$?
expect_match "verify --event takes the UUID" "^event $id1 \(id $num1\) is intact" "$out"

# tampering with ids
id2=$(sql "SELECT event_id FROM audit_log WHERE action = 'two'")
swap_ids() { # through a spare id: the unique index refuses two rows with one id at a time
    spare=$(python3 -c 'import uuid; print(uuid.uuid4())')
    sql "UPDATE audit_log SET event_id = '$spare' WHERE event_id = '$1';
         UPDATE audit_log SET event_id = '$1' WHERE event_id = '$2';
         UPDATE audit_log SET event_id = '$2' WHERE event_id = '$spare'"
}
swap_ids "$id1" "$id2"
out=$("$AUDITDB_BIN" verify --no-record 2>&1); rc=$?
expect_eq "two ids swapped: verify fails (exit 4)" 4 "$rc"
expect_match "two ids swapped: the first is named" "hash_mismatch: event $id2 \(id $num1," "$out"
expect_match "two ids swapped: the second is named" "hash_mismatch: event $id1 \(id [0-9]+," "$out"
http POST "/api/v1/audit/events/$id1/verify" -H "X-API-Key: $A_ADMIN"
expect_eq "two ids swapped: verify of the cited id fails" "200 false" "$HTTP_STATUS $(jbody 'd["isValid"]')"
swap_ids "$id1" "$id2"
out=$("$AUDITDB_BIN" verify --no-record 2>&1); rc=$?
expect_eq "swapped back: intact again" 0 "$rc"

forged=$(python3 -c 'import uuid; print(uuid.uuid1())')
sql "UPDATE audit_log SET event_id = '$forged' WHERE event_id = '$id1'"
out=$("$AUDITDB_BIN" verify --no-record --json 2>&1); rc=$?
expect_eq "an id changed: verify fails (exit 4)" 4 "$rc"
expect_eq "an id changed: that event named, by its new id and its position" "hash_mismatch $forged $num1 1" \
    "$(printf '%s' "$out" | python3 -c '
import json, sys
j = json.load(sys.stdin)
print(" ".join(" ".join(str(p.get(k)) for k in ("kind", "eventId", "id", "chainSeq")) for p in j["details"] if p["kind"] == "hash_mismatch"))')"

# archives carry the id; verify of an archive checks it
for i in 1 2 3; do
    printf '{"timestamp":"2025-01-0%sT10:00:00Z","action":"old.%s","status":"success","organizationId":"org-c","dataClassification":"PUBLIC"}\n' "$i" "$i"
done >"$TEST_TMP/old.ndjson"
"$AUDITDB_BIN" import --quiet "$TEST_TMP/old.ndjson" >/dev/null
live_ids=$(sql "SELECT string_agg(event_id::text, ' ' ORDER BY chain_seq) FROM audit_log WHERE organization_id = 'org-c'")
"$AUDITDB_BIN" maintenance run --now 2025-03-01T00:00:00Z >/dev/null 2>&1
arch=$(sql "SELECT id FROM archive_storage WHERE organization_id = 'org-c'")
expect_eq "archival: org-c's 3 events moved into one archive" "0 1" \
    "$(sql "SELECT count(*) FROM audit_log WHERE organization_id = 'org-c'") $(printf '%s\n' "$arch" | grep -c .)"
C_ADMIN=$(newkey org-c admin)
http GET "/api/v1/archives/$arch/events" -H "X-API-Key: $C_ADMIN"
expect_eq "archived events keep their UUIDs" "$live_ids" "$(jbody '" ".join(e["id"] for e in d["events"])')"
out=$("$AUDITDB_BIN" archive verify "$arch" 2>&1); rc=$?
expect_eq "archive verify: intact" 0 "$rc"
first=${live_ids%% *}
new=$(python3 -c 'import uuid; print(uuid.uuid1())')
out=$(sql "SELECT json_build_object('id', id, 'metadata', metadata, 'payload', encode(payload, 'hex')) FROM archive_storage WHERE id = '$arch'" |
      python3 tests/tools/adb_archive.py tamper "\"event_id\":\"$first\"" "\"event_id\":\"$new\"" --fix-checksums)
sql "UPDATE archive_storage SET payload = decode('$(printf '%s' "$out" | sed -n 1p)', 'hex'),
     metadata = '$(printf '%s' "$out" | sed -n 2p)'::jsonb WHERE id = '$arch'" >/dev/null
out=$("$AUDITDB_BIN" verify --no-record --org org-c 2>&1); rc=$?
expect_eq "an archived event's id changed (checksums recomputed): verify fails" 4 "$rc"
expect_match "…and names it by its new id, in its archive" "hash_mismatch: event $new \(id [0-9]+, seq 1, archive $arch\)" "$out"

# the migration's SQL derivation and the C one and docs/integrity.md's agree (one vector)
expect_eq "derived id: SQL = C = tests/tools/adb_recompute.py" \
    "e42f1680-1fa9-11ef-a5c8-57a586b2cfae e42f1680-1fa9-11ef-a5c8-57a586b2cfae" \
    "$(sql "SELECT auditdb_event_id_derive('2024-06-01T00:00:01Z', repeat('ab', 32))") $(python3 -c '
import sys; sys.path.insert(0, "tests/tools"); import adb_recompute
print(adb_recompute.derived_id("2024-06-01T00:00:01.000000Z", "ab" * 32))')"

stop_serve
finish
