# ingest.sh - `auditdb import` and `auditdb verify` from the command line:
# NDJSON and arrays, every rejection named with line and reason and nothing of
# it stored, legacy smart-logs events, an independent recomputation of every
# hash from docs/integrity.md, tampering detected with exit 4.
. tests/lib.sh

fresh_db t_ingest_cli
ts=$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%S.123456789+00:00)
cat >"$TEST_TMP/events.ndjson" <<EOF2
{"timestamp":"$ts","action":"auth.login.success","status":"success","principalId":"u1","organizationId":"org-a","details":{"ip":"10.0.0.1","n":1.50e1,"s":"tab\there \u00e9 \ud83d\ude00"}}
{"timestamp":"$ts","action":"fhir.patient.read","status":"success","principalId":"doc-1","organizationId":"org-a","dataClassification":"PHI","sessionContext":{"sessionId":"s1"},"device":"tablet-7"}
{"timestamp":"$ts","action":"x","status":"maybe","organizationId":"org-a"}

{"timestamp":"31/12/2024","action":"x","status":"success","organizationId":"org-a"}
{"timestamp":"$ts","action":"x","status":"success","organizationId":"org-a","action":"y"}
{"timestamp":"$ts","action":"x","status":"success","organizationId":"org-a","details":{"a":{"b":{"c":{"d":1}}}}}
{"timestamp":"$ts","action":"$(printf 'a%.0s' $(seq 1 300))","status":"success","organizationId":"org-a"}
{"timestamp":"$ts","action":"x","status":"success"
{"timestamp":"$ts","action":"y","status":"failure","organizationId":"org-b","idempotencyKey":"k-1"}
EOF2
out=$("$AUDITDB_BIN" import --quiet "$TEST_TMP/events.ndjson" 2>"$TEST_TMP/err"); rc=$?
err=$(cat "$TEST_TMP/err")
expect_eq "import with rejected lines exits 1" 1 "$rc"
expect_match "summary counts" "imported 3 of 9 event\(s\) .*: 6 rejected" "$out"
expect_match "bad enum: line and rule" "^line 3: INVALID_VALUE status: status must be one of attempt, success, failure$" "$err"
expect_match "bad timestamp" "^line 5: INVALID_FORMAT timestamp: " "$err"
expect_match "duplicate key" '^line 6: DUPLICATE_KEY: duplicate key "action"' "$err"
expect_match "too deep details" "^line 7: EXCEEDS_MAX_DEPTH details.a: " "$err"
expect_match "oversize string" "^line 8: EXCEEDS_MAX_LENGTH action: action has 300 characters, more than 255$" "$err"
expect_match "malformed JSON" "^line 9: INVALID_JSON: " "$err"
expect_eq "only valid events stored" 3 "$(sql 'SELECT count(*) FROM audit_log')"
expect_eq "unknown top-level field moved into details" tablet-7 "$(sql "SELECT details->>'device' FROM audit_log WHERE action = 'fhir.patient.read'")"

# re-running the same file: the keyed event is not stored twice
out=$("$AUDITDB_BIN" import --quiet "$TEST_TMP/events.ndjson" 2>/dev/null)
expect_match "re-run skips the keyed event" "1 already present" "$out"
expect_eq "re-run stores the unkeyed ones again" 5 "$(sql 'SELECT count(*) FROM audit_log')"

# a JSON array on stdin, with a rejects file
printf '[{"timestamp":"%s","action":"arr.1","status":"success","organizationId":"org-c"},\n {"timestamp":"%s","action":"arr.2","status":"nope","organizationId":"org-c"}]\n' "$ts" "$ts" |
    "$AUDITDB_BIN" import --quiet --rejects "$TEST_TMP/rejects.ndjson" - >"$TEST_TMP/out" 2>"$TEST_TMP/err"
expect_match "array: rejected element named" "^element 2: INVALID_VALUE status" "$(cat "$TEST_TMP/err")"
expect_eq "array: valid element stored" 1 "$(sql "SELECT count(*) FROM audit_log WHERE organization_id = 'org-c'")"
expect_eq "rejects file holds the reason" INVALID_VALUE "$(json 'd["errors"][0]["code"]' <"$TEST_TMP/rejects.ndjson")"

# --org: every event belongs to it
printf '{"timestamp":"%s","action":"o","status":"success"}\n{"timestamp":"%s","action":"o","status":"success","organizationId":"other"}\n' "$ts" "$ts" >"$TEST_TMP/org.ndjson"
"$AUDITDB_BIN" import --quiet --org org-d "$TEST_TMP/org.ndjson" >/dev/null 2>"$TEST_TMP/err"
expect_match "--org refuses another organization" "^line 2: INVALID_VALUE organizationId" "$(cat "$TEST_TMP/err")"
expect_eq "--org fills the organization" 1 "$(sql "SELECT count(*) FROM audit_log WHERE organization_id = 'org-d'")"

# smart-logs legacy events keep their published hash
legacy='{"timestamp":"2023-10-26T10:30:00.000Z","action":"userLogin","status":"success","principalId":"user-12345","organizationId":"org-67890","targetResourceType":"User","targetResourceId":"user-12345","outcomeDescription":"User logged in successfully","hashAlgorithm":"SHA-256","hash":"1a5173f0c32c592cbe9d3c03c2af6ab212b16de1c903bfe2d1f231e926adf2b7"}'
printf '%s\n' "$legacy" >"$TEST_TMP/legacy.ndjson"
"$AUDITDB_BIN" import --quiet "$TEST_TMP/legacy.ndjson" >/dev/null 2>"$TEST_TMP/err"
expect_match "legacy hash refused without --legacy" "INVALID_VALUE hashAlgorithm" "$(cat "$TEST_TMP/err")"
out=$("$AUDITDB_BIN" import --quiet --legacy "$TEST_TMP/legacy.ndjson" 2>&1); rc=$?
expect_eq "legacy import with --legacy" 0 "$rc"
expect_eq "legacy event keeps the published hash" 1a5173f0c32c592cbe9d3c03c2af6ab212b16de1c903bfe2d1f231e926adf2b7 \
    "$(sql "SELECT hash FROM audit_log WHERE organization_id = 'org-67890'")"
printf '%s\n' "$legacy" | sed 's/"User logged/"Usr logged/' >"$TEST_TMP/legacy-bad.ndjson"
"$AUDITDB_BIN" import --quiet --legacy "$TEST_TMP/legacy-bad.ndjson" >/dev/null 2>"$TEST_TMP/err"
expect_match "legacy event whose hash does not match is refused" "INVALID_VALUE hash: hash does not match" "$(cat "$TEST_TMP/err")"

# verify: intact, and a third party's recomputation agrees
out=$("$AUDITDB_BIN" verify); rc=$?
expect_eq "verify intact: exit 0" 0 "$rc"
expect_match "verify intact: summary" "verified 8 events of 5 organization\(s\) in .* events/s\): all intact" "$out"
sql "SELECT json_build_object('id', id, 'timestamp', to_char(\"timestamp\" AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), 'action', action, 'correlation_id', correlation_id, 'data_classification', data_classification, 'details', details::text, 'event_version', event_version, 'hash_algorithm', hash_algorithm, 'organization_id', organization_id, 'outcome_description', outcome_description, 'principal_id', principal_id, 'retention_policy', retention_policy, 'status', status, 'target_resource_id', target_resource_id, 'target_resource_type', target_resource_type, 'ttl', ttl, 'hash', hash, 'event_id', event_id, 'chain_hash', chain_hash, 'commit_key', commit_key, 'commit_field_keys', commit_field_keys) FROM audit_log" >"$TEST_TMP/rows.ndjson"
out=$(python3 tests/tools/adb_recompute.py <"$TEST_TMP/rows.ndjson"); rc=$?
expect_eq "docs/integrity.md alone recomputes every stored hash" 0 "$rc"
expect_eq "…for every non-legacy row" 7 "$(printf '%s\n' "$out" | grep -c ' ok$')"
expect_eq "…all of them sha256-c14n-v3, with their commitment key" 7 \
    "$(sql "SELECT count(*) FROM audit_log WHERE hash_algorithm = 'sha256-c14n-v3' AND commit_key ~ '^[0-9a-f]{64}$'")"
# the script checks the commitments too: another key gives another hash
out=$(python3 -c 'import json, sys
for l in sys.stdin:
    r = json.loads(l)
    if r.get("commit_key"):
        r["commit_key"] = "00" * 32
    print(json.dumps(r))' <"$TEST_TMP/rows.ndjson" | python3 tests/tools/adb_recompute.py)
# (a row with no personal data has no commitment: its key changes nothing)
committed=$(sql "SELECT count(*) FROM audit_log WHERE hash_algorithm = 'sha256-c14n-v3' AND (principal_id IS NOT NULL OR target_resource_id IS NOT NULL OR outcome_description IS NOT NULL OR details IS NOT NULL)")
expect_match "…rows with personal data among them" '^[1-9]' "$committed"
expect_eq "…and a replaced commitment key is seen by it" "$committed" "$(printf '%s\n' "$out" | grep -c 'MISMATCH')"

out=$("$AUDITDB_BIN" verify --json --org org-a); rc=$?
expect_eq "verify --json --org: intact" true "$(printf '%s' "$out" | json 'd["intact"]')"
expect_eq "verify --org counts one organization" 1 "$(printf '%s' "$out" | json 'd["organizations"]')"

# tampering: named, recorded, exit 4
sql "UPDATE audit_log SET principal_id = 'mallory' WHERE action = 'auth.login.success' AND chain_seq = 1" >/dev/null
id=$(sql "SELECT id FROM audit_log WHERE principal_id = 'mallory'")
out=$("$AUDITDB_BIN" verify); rc=$?
expect_eq "tampered: exit 4" 4 "$rc"
expect_match "tampered: names the event and what is wrong" "org-a: hash_mismatch: event [0-9a-f-]{36} \(id $id, seq 1\): content changed" "$out"
expect_match "tampered: summary" "TAMPERING DETECTED" "$out"
out=$("$AUDITDB_BIN" verify --event "$id"); rc=$?
expect_eq "verify --event on the tampered event: exit 4" 4 "$rc"
expect_match "recorded in audit_integrity_log" "^[1-9]" "$(sql "SELECT count(*) FROM audit_integrity_log WHERE audit_log_id = $id AND verification_status = 'tampered'")"
out=$(python3 tests/tools/adb_recompute.py <"$TEST_TMP/rows.ndjson" >/dev/null; \
      sql "SELECT json_build_object('id', id, 'timestamp', to_char(\"timestamp\" AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), 'action', action, 'data_classification', data_classification, 'details', details::text, 'event_version', event_version, 'hash_algorithm', hash_algorithm, 'organization_id', organization_id, 'principal_id', principal_id, 'retention_policy', retention_policy, 'status', status, 'hash', hash, 'event_id', event_id, 'commit_key', commit_key) FROM audit_log WHERE id = $id" | python3 tests/tools/adb_recompute.py)
expect_match "the third-party script sees the change too" "MISMATCH" "$out"

# the master key: a 0600 file created on first use, refused when others can read it
expect_eq "master.key created with mode 600" 600 "$(stat -c %a "$AUDITDB_HOME/master.key")"
chmod 644 "$AUDITDB_HOME/master.key"
err=$("$AUDITDB_BIN" verify 2>&1); rc=$?
expect_eq "world-readable key file: exit 2" 2 "$rc"
expect_match "world-readable key file: message" "master key file .* is readable by others \(mode 644\): chmod 600 it" "$err"
chmod 600 "$AUDITDB_HOME/master.key"
err=$(AUDITDB_MASTER_KEY=short "$AUDITDB_BIN" verify 2>&1); rc=$?
expect_eq "short AUDITDB_MASTER_KEY: exit 2" 2 "$rc"
expect_match "short AUDITDB_MASTER_KEY: message" "AUDITDB_MASTER_KEY is too short" "$err"
err=$(AUDITDB_MASTER_KEY=another-key-that-is-long-enough-0123456789 "$AUDITDB_BIN" verify 2>&1); rc=$?
expect_eq "another master key than the database's: exit 4" 4 "$rc"
expect_match "another master key: message" "signed with another master key" "$err"
if grep -rq "another-key-that-is-long-enough" "$TEST_TMP" 2>/dev/null; then not_ok "the key never reaches output files"; else ok "the key never reaches output files"; fi

# NDJSON is streamed: a full batch, and the rest once the pipe is quiet for 200 ms, are
# stored while the input is still open
( python3 -c 'import sys
for i in range(1005):
    print("{\"timestamp\":\"%s\",\"action\":\"stream.%d\",\"status\":\"success\",\"organizationId\":\"org-s\"}" % (sys.argv[1], i))' "$ts"
  sleep 6
  printf '{"timestamp":"%s","action":"stream.last","status":"success","organizationId":"org-s"}\n' "$ts" ) |
    "$AUDITDB_BIN" import --quiet - >"$TEST_TMP/stream.out" 2>"$TEST_TMP/stream.err" &
ipid=$!
i=0; mid=0
while [ $i -lt 45 ]; do
    mid=$(sql "SELECT count(*) FROM audit_log WHERE organization_id = 'org-s'")
    [ "$mid" = 1005 ] && break
    sleep 0.1; i=$((i + 1))
done
expect_eq "streamed: 1005 events stored before the input ends (a batch of 1000, then 5 when the pipe went quiet)" 1005 "$mid"
wait "$ipid"; rc=$?
expect_eq "streamed: then the last one, exit 0" "0 1006" "$rc $(sql "SELECT count(*) FROM audit_log WHERE organization_id = 'org-s'")"

# blank lines first, CRLF, no newline at the end: line numbers still right
printf '\n\r\n  {"action":"x",\r\n{"timestamp":"%s","action":"crlf.ok","status":"success","organizationId":"org-s"}' "$ts" >"$TEST_TMP/crlf.ndjson"
"$AUDITDB_BIN" import --quiet "$TEST_TMP/crlf.ndjson" >/dev/null 2>"$TEST_TMP/err"
expect_match "blank lines counted: the broken line is line 3" "^line 3: INVALID_JSON" "$(cat "$TEST_TMP/err")"
expect_eq "the last line, without a newline, stored" 1 "$(sql "SELECT count(*) FROM audit_log WHERE action = 'crlf.ok'")"

# a line over 16 MiB is refused on its own, without being kept whole
python3 -c 'import sys
sys.stdout.write("{\"action\":\"" + "a" * (17 << 20) + "\"}\n")
sys.stdout.write("{\"timestamp\":\"%s\",\"action\":\"after.long\",\"status\":\"success\",\"organizationId\":\"org-s\"}\n" % sys.argv[1])' "$ts" >"$TEST_TMP/long.ndjson"
out=$("$AUDITDB_BIN" import --quiet "$TEST_TMP/long.ndjson" 2>"$TEST_TMP/err"); rc=$?
expect_eq "line over 16 MiB: exit 1, one rejected" "1 imported 1 of 2" "$rc $(printf '%s' "$out" | grep -o 'imported 1 of 2')"
expect_match "line over 16 MiB: named" "^line 1: .*line longer than 16 MiB$" "$(cat "$TEST_TMP/err")"
expect_eq "line over 16 MiB: the next line stored" 1 "$(sql "SELECT count(*) FROM audit_log WHERE action = 'after.long'")"

err=$("$AUDITDB_BIN" verify --from yesterday 2>&1); rc=$?
expect_eq "bad --from: exit 2" 2 "$rc"
expect_match "bad --from: message" 'invalid --from "yesterday"' "$err"
err=$("$AUDITDB_BIN" import "$TEST_TMP/no-such-file" 2>&1); rc=$?
expect_eq "missing file: exit 1" 1 "$rc"
expect_match "missing file: message" 'could not read ".*no-such-file": No such file or directory' "$err"
printf '[{"a":1},' >"$TEST_TMP/broken.json"
err=$("$AUDITDB_BIN" import "$TEST_TMP/broken.json" 2>&1); rc=$?
expect_eq "broken array: exit 1" 1 "$rc"
expect_match "broken array: message" "the file is not a valid JSON array" "$err"
finish
