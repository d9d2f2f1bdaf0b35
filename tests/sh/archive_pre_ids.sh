# archive_pre_ids.sh - archives written before migration 0017 (docs/archive.md: lines of 21
# members, no `event_id`) read with the id derived from each row's chain link
# (docs/integrity.md, "1b. Event id"): such an archive is made here from one written now,
# its event_id members left out and its checksums, sizes and ratio recomputed as the format
# says (tests/tools/adb_archive.py strip-ids), of events whose hash cannot cover an id
# (smart-logs `SHA-256` imports, ids derived like those of sha256-c14n-v1 events). Then
# `archive verify`, `auditdb verify`, GET /api/v1/archives/{id}/events and a restore each see
# the derived ids (those the events had before archival, and those a third party computes
# from the chain links), and everything verifies (the restored rows are not read over HTTP
# here: serve's maintenance archives them again at once, their month being long past); a line given a false `event_id` member, an
# old archive made to name another event's id, is found.
. tests/lib.sh

fresh_db t_archive_pre_ids
"$AUDITDB_BIN" migrate >/dev/null
key=$("$AUDITDB_BIN" keys create --org org-l --role auditor | sed -n 's/^key (shown once, store it now): //p')

# 12 smart-logs events of January 2023 with their published-style hashes (docs/integrity.md,
# "Legacy"), and 4 of ours in May 2024 that stay live after the archive
python3 - >"$TEST_TMP/legacy.ndjson" <<'EOF'
import hashlib, json
F = ["action", "organizationId", "outcomeDescription", "principalId", "status", "targetResourceId",
     "targetResourceType", "timestamp"]
for i in range(12):
    e = {"timestamp": "2023-01-%02dT10:%02d:00.000Z" % (2 + i, i), "action": "userLogin",
         "status": ["success", "failure"][i % 2], "principalId": "user-%d" % i, "organizationId": "org-l",
         "targetResourceType": "User", "targetResourceId": "user-%d" % i,
         "outcomeDescription": "login %d" % i, "hashAlgorithm": "SHA-256"}
    e["hash"] = hashlib.sha256("|".join("%s:%s" % (k, json.dumps(e[k], separators=(",", ":")))
                                        for k in sorted(F)).encode()).hexdigest()
    print(json.dumps(e))
EOF
"$AUDITDB_BIN" import --quiet --legacy "$TEST_TMP/legacy.ndjson" >/dev/null 2>"$TEST_TMP/import.err" ||
    { not_ok "legacy events imported"; diag "$(cat "$TEST_TMP/import.err")"; }
python3 -c '
import json
for i in range(4):
    print(json.dumps({"timestamp": "2024-05-%02dT09:00:00.000Z" % (1 + i), "action": "record.read",
                      "status": "success", "organizationId": "org-l", "principalId": "p"}))' |
    "$AUDITDB_BIN" import --quiet - >/dev/null
expect_eq "16 events stored, the first 12 SHA-256 (ids derived)" "16 12" \
    "$(sql "SELECT count(*) || ' ' || count(*) FILTER (WHERE hash_algorithm = 'SHA-256') FROM audit_log")"
# the ids as the events had them before archival, in chain order, and as a third party
# derives them from the chain links (tests/tools/adb_recompute.py, docs/integrity.md alone)
sql "SELECT event_id, to_char(\"timestamp\" AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), chain_hash
     FROM audit_log WHERE hash_algorithm = 'SHA-256' ORDER BY chain_seq" >"$TEST_TMP/ids.txt"
IDS=$(cut -d'|' -f1 "$TEST_TMP/ids.txt" | paste -sd, -)
expect_eq "their ids are the derived ones" "$IDS" "$(python3 -c '
import sys
sys.path.insert(0, "tests/tools")
from adb_recompute import derived_id
print(",".join(derived_id(ts, ch) for _, ts, ch in (l.strip().split("|") for l in open(sys.argv[1]))))' "$TEST_TMP/ids.txt")"

# archived (INTERNAL: after 365 days), then rewritten as an archive of before 0017
"$AUDITDB_BIN" maintenance run --now 2024-06-01T00:00:00Z >/dev/null 2>&1
A=$(sql "SELECT id FROM archive_storage WHERE organization_id = 'org-l' AND deleted_at IS NULL")
expect_eq "the 12 archived in one archive, the 4 of 2024 live" "12 4" \
    "$(sql "SELECT (metadata->>'recordCount') FROM archive_storage WHERE id = '$A'") $(sql "SELECT count(*) FROM audit_log")"
json_of() { sql "SELECT json_build_object('id', id, 'metadata', metadata, 'payload', encode(payload, 'hex')) FROM archive_storage WHERE id = '$1'"; }
json_of "$A" | python3 tests/tools/adb_archive.py strip-ids >"$TEST_TMP/old.txt" ||
    not_ok "the archive's event_id members left out"
sql "UPDATE archive_storage SET payload = decode('$(sed -n 1p "$TEST_TMP/old.txt")', 'hex'),
     metadata = '$(sed -n 2p "$TEST_TMP/old.txt")'::jsonb WHERE id = '$A'" >/dev/null
expect_eq "the archive is now of the old form: no event_id member, checksums and sizes as the format says" \
    "$A ok|------------" \
    "$(json_of "$A" | python3 tests/tools/adb_archive.py check)|$(json_of "$A" | python3 tests/tools/adb_archive.py rows | cut -d' ' -f1 | tr -d '\n')"

out=$("$AUDITDB_BIN" archive verify "$A" 2>&1); rc=$?
expect_eq "archive verify: intact" 0 "$rc"
[ "$rc" = 0 ] || diag "$out"
out=$("$AUDITDB_BIN" verify --no-record --json 2>&1); rc=$?
expect_eq "auditdb verify: intact, all 16 events (12 archived of the old form)" "0|True 16 0" \
    "$rc|$(printf '%s' "$out" | python3 -c 'import json, sys; j = json.load(sys.stdin); print(j["intact"], j["events"], j["problems"])' 2>&1)"

if start_serve "$TEST_TMP/serve.log"; then ok "serve starts"; else
    not_ok "serve starts"; diag "$(cat "$TEST_TMP/serve.log")"; finish; fi
http GET "/api/v1/archives/$A/events?limit=100" -H "X-API-Key: $key"
expect_eq "GET /api/v1/archives/{id}/events: the derived ids, in chain order" "200 $IDS" \
    "$HTTP_STATUS $(jbody '",".join(e["id"] for e in d["events"])' 2>&1)"
stop_serve

# an old archive whose line names another event's id: found (an id an auditor cites must
# not come to show another event)
first=$(sed -n 1p "$TEST_TMP/ids.txt" | cut -d'|' -f1)
second_ch=$(sed -n 2p "$TEST_TMP/ids.txt" | cut -d'|' -f3)
sql "CREATE TABLE saved AS SELECT * FROM archive_storage WHERE id = '$A'" >/dev/null
json_of "$A" | python3 tests/tools/adb_archive.py tamper "\"chain_hash\":\"$second_ch\"}" \
    "\"chain_hash\":\"$second_ch\",\"event_id\":\"$first\"}" --fix-checksums >"$TEST_TMP/bad.txt"
sql "UPDATE archive_storage SET payload = decode('$(sed -n 1p "$TEST_TMP/bad.txt")', 'hex'),
     metadata = '$(sed -n 2p "$TEST_TMP/bad.txt")'::jsonb WHERE id = '$A'" >/dev/null
out=$("$AUDITDB_BIN" verify --no-record --json 2>&1); rc=$?
expect_eq "a line of an old archive given the first event's id (checksums recomputed): verify exit 4" 4 "$rc"
diag "$(printf '%s' "$out" | head -c 600)"
sql "UPDATE archive_storage a SET payload = s.payload, metadata = s.metadata FROM saved s WHERE a.id = s.id" >/dev/null

# restore: the rows back in audit_log with the derived ids
out=$("$AUDITDB_BIN" archive restore "$A" 2>&1); rc=$?
expect_eq "archive restore of the old form" 0 "$rc"
[ "$rc" = 0 ] || diag "$out"
expect_eq "restored rows have the derived ids, in chain order" "$IDS" \
    "$(sql "SELECT string_agg(event_id::text, ',' ORDER BY chain_seq) FROM audit_log WHERE hash_algorithm = 'SHA-256'")"
out=$("$AUDITDB_BIN" verify --no-record --json 2>&1); rc=$?
expect_eq "auditdb verify after the restore: intact, 16 events" "0|True 16 0" \
    "$rc|$(printf '%s' "$out" | python3 -c 'import json, sys; j = json.load(sys.stdin); print(j["intact"], j["events"], j["problems"])' 2>&1)"
if grep -q 'runtime error\|Sanitizer' "$TEST_TMP/serve.log"; then
    not_ok "no sanitizer report"; else ok "no sanitizer report"; fi
finish
