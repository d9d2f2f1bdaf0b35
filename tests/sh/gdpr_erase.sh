# gdpr_erase.sh - pseudonymization and erasure (issue 17 items 2, 3; docs/gdpr.md):
# after an erasure `auditdb verify` exits 0 and names each lawful erasure with its
# request; any other change is still tampering; neither pg_dump nor the archives
# hold the erased value; two organizations get unlinkable pseudonyms; reversal needs
# an explicit grant (403 for the admin's *:*) and is audited; a legal hold answers
# 409 naming the hold and changes nothing; adb_recompute.py still agrees.
. tests/lib.sh

fresh_db t_gdpr_erase
"$AUDITDB_BIN" migrate >/dev/null
key=$("$AUDITDB_BIN" keys create --org org-a --role admin | sed -n 's/^key (shown once, store it now): //p')
keyb=$("$AUDITDB_BIN" keys create --org org-b --role admin | sed -n 's/^key (shown once, store it now): //p')
if ! start_serve "$TEST_TMP/serve.log"; then not_ok "serve starts"; diag "$(tail -20 "$TEST_TMP/serve.log")"; finish; fi
ok "serve starts"
H="Content-Type: application/json"
SUBJ=zq-subject-7731
post() { # post KEY JSON-EVENT
    http POST /api/v1/audit/events -H "X-API-Key: $1" -H "$H" --data-binary "{\"eventData\":$2}"
    [ "$HTTP_STATUS" = 201 ] || [ "$HTTP_STATUS" = 200 ] || diag "create: $HTTP_STATUS $HTTP_BODY"
}
# old events (archived below), then live ones; another subject's events around them
for d in 01 02; do
    post "$key" "{\"timestamp\":\"2024-01-${d}T10:00:00Z\",\"action\":\"auth.login\",\"status\":\"success\",\"principalId\":\"$SUBJ\",\"dataClassification\":\"INTERNAL\",\"details\":{\"ip\":\"10.9.8.$d\",\"note\":\"$SUBJ-note\"}}"
    post "$key" "{\"timestamp\":\"2024-01-${d}T11:00:00Z\",\"action\":\"auth.login\",\"status\":\"success\",\"principalId\":\"other-1\",\"dataClassification\":\"INTERNAL\"}"
done
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
post "$key" "{\"timestamp\":\"$now\",\"action\":\"fhir.patient.read\",\"status\":\"success\",\"principalId\":\"doc-1\",\"targetResourceType\":\"Patient\",\"targetResourceId\":\"$SUBJ\",\"dataClassification\":\"INTERNAL\",\"outcomeDescription\":\"read $SUBJ chart\"}"
post "$key" "{\"timestamp\":\"$now\",\"action\":\"fhir.patient.read\",\"status\":\"success\",\"principalId\":\"doc-2\",\"targetResourceType\":\"Patient\",\"targetResourceId\":\"$SUBJ\",\"dataClassification\":\"PHI\"}"
post "$key" "{\"timestamp\":\"$now\",\"action\":\"profile.update\",\"status\":\"success\",\"principalId\":\"$SUBJ\",\"dataClassification\":\"INTERNAL\",\"details\":{\"email\":\"$SUBJ@example.org\"}}"
post "$key" "{\"timestamp\":\"$now\",\"action\":\"profile.update\",\"status\":\"success\",\"principalId\":\"other-1\",\"dataClassification\":\"INTERNAL\"}"
post "$keyb" "{\"timestamp\":\"$now\",\"action\":\"auth.login\",\"status\":\"success\",\"principalId\":\"$SUBJ\",\"dataClassification\":\"INTERNAL\",\"details\":{\"phone\":\"+33-6-777-111\"}}"
sleep 0.5
stop_serve
# archive the January 2024 INTERNAL events (standard: archived after 365 days, kept 2555)
"$AUDITDB_BIN" maintenance run --now "2025-03-01T00:00:00Z" >/dev/null 2>&1
narch=$(sql "SELECT count(*) FROM archive_storage WHERE organization_id = 'org-a' AND deleted_at IS NULL")
expect_match "the January events are archived" "^[1-9]" "$narch"
expect_eq "…and left audit_log" 0 "$(sql "SELECT count(*) FROM audit_log WHERE organization_id = 'org-a' AND \"timestamp\" < '2024-02-01'")"
start_serve "$TEST_TMP/serve2.log" || { not_ok "serve restarts"; finish; }

# ---- pseudonymization: the client's shape; two organizations, unlinkable ----
http POST /api/v1/compliance/gdpr/pseudonymize -H "X-API-Key: $keyb" -H "$H" \
    --data-binary "{\"dataSubjectIds\":[\"$SUBJ\"],\"organizationId\":\"org-b\",\"fields\":[\"principalId\"],\"method\":\"hash\"}"
expect_eq "pseudonymize (org-b): 200" 200 "$HTTP_STATUS"
pb=$(jbody "d['mapping']['$SUBJ']")
printf '%s' "$HTTP_BODY" >"$TEST_TMP/psn.json"
expect_eq "…the shape smart-logs' client expects (PseudonymizationResult)" "" "$(python3 tests/tools/client_shapes.py pseudonymization-result "$TEST_TMP/psn.json")"
expect_match "…answers the client's shape" "^psn-h-[0-9a-f]{32}$" "$pb"
expect_eq "…operationId and summary" "1 1" "$(jbody "str(d['summary']['processedRecords'])+' '+str(int(d['operationId'].startswith('psn-op-')))")"
expect_eq "…the value is gone from org-b's row" 0 "$(sql "SELECT count(*) FROM audit_log WHERE organization_id = 'org-b' AND principal_id = '$SUBJ'")"
http POST /api/v1/compliance/gdpr/pseudonymize -H "X-API-Key: $key" -H "$H" \
    --data-binary "{\"dataSubjectIds\":[\"$SUBJ\"],\"method\":\"token\",\"fields\":[\"principalId\"],\"dateRange\":{\"startDate\":\"2030-01-01T00:00:00Z\",\"endDate\":\"2030-02-01T00:00:00Z\"}}"
expect_eq "pseudonymize (org-a, nothing in range): 200" 200 "$HTTP_STATUS"
pa=$(jbody "d['mapping']['$SUBJ']")
expect_match "…a token pseudonym" "^psn-t-[0-9a-f]{32}$" "$pa"
http POST /api/v1/compliance/gdpr/pseudonymize -H "X-API-Key: $key" -H "$H" \
    --data-binary "{\"dataSubjectIds\":[\"$SUBJ\"],\"method\":\"hash\",\"dateRange\":{\"startDate\":\"2030-01-01T00:00:00Z\",\"endDate\":\"2030-02-01T00:00:00Z\"}}"
expect_eq "the same subject again in org-a: its one pseudonym" "$pa" "$(jbody "d['mapping']['$SUBJ']")"
check "two organizations, one subject: two pseudonyms" [ "$pa" != "$pb" ]
hb_in_a=$(sql "SELECT count(*) FROM pseudonym_mapping WHERE organization_id = 'org-a' AND pseudonym_id = '$pb'")
expect_eq "…org-b's pseudonym means nothing in org-a" 0 "$hb_in_a"
expect_eq "…blind indexes differ too" 2 "$(sql "SELECT count(DISTINCT original_index) FROM pseudonym_mapping")"
expect_eq "the mapping holds no clear original" 0 "$(sql "SELECT count(*) FROM pseudonym_mapping WHERE original_id LIKE '%$SUBJ%'")"
http POST /api/v1/compliance/gdpr/pseudonymize -H "X-API-Key: $key" -H "$H" \
    --data-binary "{\"dataSubjectIds\":[\"$SUBJ\"],\"organizationId\":\"org-b\",\"method\":\"hash\"}"
expect_eq "another organization named: 403" 403 "$HTTP_STATUS"
http POST /api/v1/compliance/gdpr/pseudonymize -H "X-API-Key: $key" -H "$H" --data-binary "{\"dataSubjectIds\":[\"$SUBJ\"],\"method\":\"mask\"}"
expect_eq "method mask: 400 naming method" "400 method" "$HTTP_STATUS $(jbody "d['error']['details']['errors'][0]['field']")"

# ---- reversal: explicit grant only, audited ----
http POST /api/v1/compliance/gdpr/reverse -H "X-API-Key: $keyb" -H "$H" --data-binary "{\"pseudonymId\":\"$pb\",\"reason\":\"case 9\"}"
expect_eq "reversal by the admin (*:*): 403" 403 "$HTTP_STATUS"
sql "INSERT INTO organization_role (organization_id, name, description, permissions)
     VALUES ('org-b', 'dpo', 'reverses pseudonyms', '[{\"resource\":\"compliance.gdpr\",\"action\":\"reverse\"}]')" >/dev/null
dpo=$("$AUDITDB_BIN" keys create --org org-b --role dpo | sed -n 's/^key (shown once, store it now): //p')
http POST /api/v1/compliance/gdpr/reverse -H "X-API-Key: $dpo" -H "$H" --data-binary "{\"pseudonymId\":\"$pb\",\"reason\":\"case 9\"}"
expect_eq "reversal with the explicit grant: 200 and the original" "200 $SUBJ" "$HTTP_STATUS $(jbody "d['originalId']")"
http POST /api/v1/compliance/gdpr/reverse -H "X-API-Key: $dpo" -H "$H" --data-binary "{\"pseudonymId\":\"$pa\",\"reason\":\"case 9\"}"
expect_eq "org-a's pseudonym through org-b: 404" 404 "$HTTP_STATUS"
sleep 0.3
expect_eq "the reversal and the refusal are audit events of org-b" "failure success" \
    "$(sql "SELECT string_agg(status, ' ' ORDER BY status) FROM (SELECT status FROM audit_log WHERE organization_id = 'org-b' AND action = 'gdpr.pseudonym.reverse' AND target_resource_id = '$pb') s")"

# ---- a legal hold: 409 naming it, nothing changed ----
before=$(sql "SELECT md5(string_agg(audit_log::text, '' ORDER BY id)) FROM audit_log")
abefore=$(sql "SELECT md5(string_agg(md5(payload), '' ORDER BY id)) FROM archive_storage")
http POST /api/v1/compliance/gdpr/holds -H "X-API-Key: $key" -H "$H" \
    --data-binary "{\"scope\":\"subject\",\"value\":\"$SUBJ\",\"actionPattern\":\"profile.*\",\"reason\":\"litigation 2026-17\"}"
expect_eq "hold created: 201" 201 "$HTTP_STATUS"
hold=$(jbody "d['id']")
http POST /api/v1/compliance/gdpr/erase -H "X-API-Key: $key" -H "$H" --data-binary "{\"dataSubjectId\":\"$SUBJ\"}"
expect_eq "erasure under a hold: 409 LEGAL_HOLD" "409 LEGAL_HOLD" "$HTTP_STATUS $(jbody "d['error']['code']")"
expect_eq "…naming the hold" "$hold" "$(jbody "d['error']['details']['holdId']")"
expect_match "…and its reason" "litigation 2026-17" "$(jbody "d['error']['message']")"
expect_eq "…audit_log unchanged" "$before" "$(sql "SELECT md5(string_agg(audit_log::text, '' ORDER BY id)) FROM audit_log WHERE action <> 'gdpr.erasure' AND action <> 'gdpr.hold.create'")"
expect_eq "…archives unchanged" "$abefore" "$(sql "SELECT md5(string_agg(md5(payload), '' ORDER BY id)) FROM archive_storage")"
expect_eq "…no erasure record of org-a" 0 "$(sql "SELECT count(*) FROM audit_erasure WHERE organization_id = 'org-a'")"
expect_eq "…its request recorded as refused" 1 "$(sql "SELECT count(*) FROM data_subject_request WHERE organization_id = 'org-a' AND kind = 'erasure' AND status = 'refused' AND outcome->>'legalHold' = '$hold'")"
expect_eq "the hold keeps only a blind index" 0 "$(sql "SELECT count(*) FROM legal_hold WHERE legal_hold::text LIKE '%$SUBJ%'")"
sql "UPDATE legal_hold SET released_at = now() WHERE id = '$hold'" >/dev/null

# ---- erasure, for a request recorded first (dsr's requests) ----
http POST /api/v1/compliance/gdpr/requests -H "X-API-Key: $key" -H "$H" --data-binary "{\"kind\":\"erasure\",\"subjectId\":\"$SUBJ\",\"basis\":\"GDPR Art. 17(1)(a)\"}"
expect_eq "the erasure request is recorded: 201" 201 "$HTTP_STATUS"
RQ=$(jbody "d['id']")
http POST /api/v1/compliance/gdpr/erase -H "X-API-Key: $key" -H "$H" --data-binary "{\"dataSubjectId\":\"other-1\",\"requestId\":\"$RQ\"}"
expect_eq "a request of another subject: 400 naming requestId" "400 requestId" "$HTTP_STATUS $(jbody "d['error']['details']['errors'][0]['field']")"
http POST /api/v1/compliance/gdpr/erase -H "X-API-Key: $keyb" -H "$H" --data-binary "{\"dataSubjectId\":\"$SUBJ\",\"requestId\":\"$RQ\"}"
expect_eq "org-a's request through org-b: 404" 404 "$HTTP_STATUS"
http POST /api/v1/compliance/gdpr/erase -H "X-API-Key: $key" -H "$H" --data-binary "{\"dataSubjectId\":\"$SUBJ\",\"requestId\":\"$RQ\",\"legalBasis\":\"GDPR Art. 17(1)(a)\"}"
expect_eq "erasure: 200 completed" "200 completed" "$HTTP_STATUS $(jbody "d['status']")"
[ "$HTTP_STATUS" = 200 ] || diag "$HTTP_BODY"
expect_eq "…5 events: 4 erased, the PHI one kept pseudonymized" "5 4 1" \
    "$(jbody "'%d %d %d' % (d['summary']['totalRecords'], d['summary']['erasedRecords'], d['summary']['pseudonymizedRecords'])")"
expect_match "…with the basis recorded (Art. 17(3))" "17\(3\)" "$(jbody "d['keptBasis']")"
expect_match "…2 of them archived, their archives rewritten" "^2 [12]$" "$(jbody "'%d %d' % (d['summary']['archivedRecords'], d['summary']['archivesRewritten'])")"
REWRITTEN=$(jbody "d['summary']['archivesRewritten']")
expect_eq "…org-a's mapping deleted" 1 "$(jbody "d['summary']['mappingsDeleted']")"
expect_eq "the request is completed, its subject kept as blind index only" "completed 0" "$(sql "SELECT status, (subject_enc IS NOT NULL)::int FROM data_subject_request WHERE id = '$RQ'" | tr '|' ' ')"
# org-b: the subject was pseudonymized there; its erasure finds the pseudonymized event by
# the pseudonymization's request (blind index) and erases the rest of its personal data
http POST /api/v1/compliance/gdpr/erase -H "X-API-Key: $keyb" -H "$H" --data-binary "{\"dataSubjectId\":\"$SUBJ\"}"
expect_eq "org-b erasure after pseudonymization: 200, the pseudonymized event found" "200 1 1" \
    "$HTTP_STATUS $(jbody "'%d %d' % (d['summary']['totalRecords'], d['summary']['erasedRecords'])")"
expect_eq "…its details erased too" 0 "$(sql "SELECT count(*) FROM audit_log WHERE organization_id = 'org-b' AND details ? 'phone'")"
expect_eq "…org-b's mapping deleted" 0 "$(sql "SELECT count(*) FROM pseudonym_mapping WHERE organization_id = 'org-b' AND pseudonym_id = '$pb'")"
expect_eq "the kept event's record names its basis" 1 "$(sql "SELECT count(*) FROM audit_erasure WHERE request_id = '$RQ' AND legal_basis LIKE '%17(3)%' AND reason LIKE 'pseudonymized as psn-h-%'")"
stop_serve

out=$("$AUDITDB_BIN" verify); rc=$?
expect_eq "verify after the erasure: exit 0" 0 "$rc"
[ "$rc" = 0 ] || diag "$out"
expect_match "…all intact, lawful erasures counted" "all intact \([0-9]+ with personal data lawfully erased\)" "$out"
expect_match "…names each lawful erasure with its request (live)" "org-a: lawful_erasure: event [0-9a-f-]{36} \(seq [0-9]+\): principalId erased by request $RQ \(GDPR Art. 17\(1\)\(a\)\)" "$out"
expect_match "…and archived ones" "lawful_erasure: event [0-9a-f-]{36} \(seq [0-9]+, archive archive-[0-9a-f]+\): details.ip erased by request $RQ" "$out"
expect_match "…and org-b's pseudonymization" "org-b: lawful_erasure: .*principalId erased by request [0-9a-f-]{36} \(GDPR Art. 4\(5\): pseudonymization\): pseudonymized as $pb" "$out"
# serve's own maintenance may archive some January events while they arrive
# (they are older than 365 days by the real clock too), so how they split into
# archives varies: every archive verifies, and as many name the redaction as
# the erasure said it rewrote
named=0
for a in $(sql "SELECT id FROM archive_storage WHERE organization_id = 'org-a' AND deleted_at IS NULL"); do
    aout=$("$AUDITDB_BIN" archive verify "$a"); arc=$?
    expect_eq "archive verify $a: exit 0" 0 "$arc"
    [ "$arc" = 0 ] || diag "$aout"
    if printf '%s' "$aout" | grep -Eq "lawful_erasure: event .* erased by request $RQ"; then
        named=$((named + 1))
    fi
    "$AUDITDB_BIN" archive export "$a" >>"$TEST_TMP/archives.jsonl"
done
expect_eq "…the archives the erasure rewrote name the redaction" "$REWRITTEN" "$named"

# the erased value is nowhere: pg_dump of the whole database, the archives' lines
pg_dump "$AUDIT_DB_URL" >"$TEST_TMP/dump.sql"
check "pg_dump ran" [ -s "$TEST_TMP/dump.sql" ]
expect_eq "pg_dump holds no trace of the erased subject" 0 "$(grep -c "$SUBJ" "$TEST_TMP/dump.sql")"
check "the archives were exported" [ -s "$TEST_TMP/archives.jsonl" ]
expect_eq "the archives hold no trace of it" 0 "$(grep -c "$SUBJ" "$TEST_TMP/archives.jsonl")"
expect_eq "…nor the IP of its details" 0 "$(grep -c "10.9.8.0" "$TEST_TMP/archives.jsonl")"
expect_eq "pg_dump holds no trace of the phone erased in org-b" 0 "$(grep -c -- "+33-6-777-111" "$TEST_TMP/dump.sql")"
expect_eq "other subjects' live events are untouched" 1 "$(sql "SELECT count(*) FROM audit_log WHERE principal_id = 'other-1'")"

# a third party's recomputation still agrees (erased commitments from the records)
sql "SELECT json_build_object('id', id, 'timestamp', to_char(\"timestamp\" AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), 'action', action, 'correlation_id', correlation_id, 'data_classification', data_classification, 'details', details::text, 'event_version', event_version, 'hash_algorithm', hash_algorithm, 'organization_id', organization_id, 'outcome_description', outcome_description, 'principal_id', principal_id, 'retention_policy', retention_policy, 'status', status, 'target_resource_id', target_resource_id, 'target_resource_type', target_resource_type, 'ttl', ttl, 'hash', hash, 'event_id', event_id, 'chain_hash', chain_hash, 'commit_key', commit_key, 'commit_field_keys', commit_field_keys, 'erased_commitments', (SELECT json_object_agg(field, commitment) FROM audit_erasure e WHERE e.event_id = l.event_id)) FROM audit_log l" >"$TEST_TMP/rows.ndjson"
python3 - "$TEST_TMP/archives.jsonl" "$TEST_TMP/erasures.json" >>"$TEST_TMP/rows.ndjson" <<PY
import json, sys
PY
sql "SELECT coalesce(json_object_agg(event_id, c), '{}') FROM (SELECT event_id, json_object_agg(field, commitment) c FROM audit_erasure GROUP BY event_id) s" >"$TEST_TMP/erasures.json"
python3 -c 'import json, sys
er = json.load(open(sys.argv[2]))
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r.get("event_id") in er:
        r["erased_commitments"] = er[r["event_id"]]
    print(json.dumps(r))' "$TEST_TMP/archives.jsonl" "$TEST_TMP/erasures.json" >>"$TEST_TMP/rows.ndjson"
out=$(python3 tests/tools/adb_recompute.py <"$TEST_TMP/rows.ndjson"); rc=$?
expect_eq "adb_recompute.py agrees with every live and archived row after the erasure" 0 "$rc"
[ "$rc" = 0 ] || diag "$(printf '%s\n' "$out" | grep -v ' ok$' | head)"

# ---- the CLI: encryption pseudonyms, reversal, holds (exit 5), erasure ----
out=$("$AUDITDB_BIN" gdpr pseudonymize --org org-b --subject zq-cli-9 --strategy encryption); rc=$?
expect_eq "gdpr pseudonymize (encryption): exit 0" 0 "$rc"
pe=$(printf '%s' "$out" | sed -n 's/.*pseudonym \(psn-e-[0-9a-f]*\) (encryption).*/\1/p')
expect_match "…an AES-256-GCM pseudonym (nonce, ciphertext, tag)" "^psn-e-[0-9a-f]{72,}$" "$pe"
check "…which does not contain the original" [ -z "$(printf '%s' "$pe" | grep -F "$(printf 'zq-cli-9' | od -An -tx1 | tr -d ' \n')")" ]
out=$("$AUDITDB_BIN" gdpr reverse "$pe" --org org-b --reason "case 11"); rc=$?
expect_eq "gdpr reverse: exit 0, the original" "0 zq-cli-9" "$rc $out"
"$AUDITDB_BIN" gdpr reverse "$pe" --org org-a --reason "case 11" >/dev/null 2>&1; rc=$?
expect_eq "…not through another organization: exit 1" 1 "$rc"
expect_eq "…the reversal is an audit event of org-b" 1 "$(sql "SELECT count(*) FROM audit_log WHERE organization_id = 'org-b' AND action = 'gdpr.pseudonym.reverse' AND target_resource_id = '$pe' AND principal_id LIKE 'cli:%'")"
hid=$("$AUDITDB_BIN" gdpr hold add --org org-a --scope principal --value doc-1 --reason "audit of doc-1")
n0=$(sql "SELECT count(*) FROM audit_erasure")
"$AUDITDB_BIN" gdpr erase --org org-a --subject doc-1 >/dev/null 2>"$TEST_TMP/held.err"; rc=$?
expect_eq "gdpr erase under a principal hold: exit 5" 5 "$rc"
expect_match "…naming the hold" "legal hold $hid covers event .*audit of doc-1" "$(cat "$TEST_TMP/held.err")"
expect_eq "…nothing changed" "$n0 1" "$(sql "SELECT count(*) FROM audit_erasure") $(sql "SELECT count(*) FROM audit_log WHERE principal_id = 'doc-1'")"
"$AUDITDB_BIN" gdpr hold release "$hid" --org org-a >/dev/null
out=$("$AUDITDB_BIN" gdpr erase --org org-a --subject doc-1 --json); rc=$?
expect_eq "gdpr erase once released: exit 0, one event erased" "0 1" "$rc $(printf '%s' "$out" | json 'd["erasedRecords"]')"
out=$("$AUDITDB_BIN" verify); rc=$?
expect_eq "verify after the CLI's operations: exit 0" 0 "$rc"
[ "$rc" = 0 ] || diag "$out"

# any other change is still tampering: one byte of another event
sql "UPDATE audit_log SET principal_id = 'other-X' WHERE id = (SELECT min(id) FROM audit_log WHERE principal_id = 'other-1')" >/dev/null
out=$("$AUDITDB_BIN" verify); rc=$?
expect_eq "one byte of another event flipped: exit 4" 4 "$rc"
expect_match "…named as hash_mismatch" "org-a: hash_mismatch" "$out"
sql "UPDATE audit_log SET principal_id = 'other-1' WHERE principal_id = 'other-X'" >/dev/null
# …and of an erased event: its kept field changed
sql "UPDATE audit_log SET action = 'profile.updatX' WHERE action = 'profile.update' AND principal_id IS NULL" >/dev/null
out=$("$AUDITDB_BIN" verify); rc=$?
expect_eq "an erased event changed otherwise: exit 4" 4 "$rc"
expect_match "…hash_mismatch on it" "hash_mismatch" "$out"
# a tampered event is not laundered by an erasure: refused, left for verify to name
sql "UPDATE audit_log SET status = 'failure' WHERE principal_id = 'other-1'" >/dev/null
"$AUDITDB_BIN" gdpr erase --org org-a --subject other-1 >/dev/null 2>"$TEST_TMP/tampered.err"; rc=$?
expect_eq "erasure of a subject whose event was tampered with: exit 1" 1 "$rc"
expect_match "…the event named: it does not verify" "not changed: it does not verify" "$(cat "$TEST_TMP/tampered.err")"
expect_eq "…its value kept for the verifier" 1 "$(sql "SELECT count(*) FROM audit_log WHERE principal_id = 'other-1'")"
finish
