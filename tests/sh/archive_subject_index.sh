# archive_subject_index.sh - the subject index of archives (issue 17; docs/archive.md, "Subject
# index"; migration 0043): archival records the blind index of every principal and target of
# each archive, never the identifier; the GDPR export and the HIPAA accounting open only the
# archives the index names for the subject (shown by damaging, behind the trigger's back, an
# archive that does not hold the subject: the subject's export and accounting still answer,
# while those of the damaged archive's own subject fail); the same subject in two organizations
# gets unrelated index values; rewriting an archive's payload drops its index (the trigger), an
# unindexed archive is read in full again, and the maintenance round indexes it anew.
. tests/lib.sh

fresh_db t_archive_subject_index
"$AUDITDB_BIN" migrate >/dev/null
KA=$(newkey org-a admin)
# PHI disclosures, archived after 365 days (phi_extended): September (bob) and October (alice) of
# org-a fall into two archives (one per month); org-b holds alice too
python3 -c '
import json
def ev(org, ts, principal, target):
    print(json.dumps({"timestamp": ts, "action": "record.disclose", "status": "success",
                      "organizationId": org, "principalId": principal, "targetResourceType": "Patient",
                      "targetResourceId": target, "dataClassification": "PHI",
                      "details": {"disclosure": {"recipient": "Insurer Ltd", "purpose": "payment"}}}))
ev("org-a", "2026-09-10T10:00:00.000Z", "dr-a", "bob")
ev("org-a", "2026-09-11T10:00:00.000Z", "bob", "bob")
ev("org-a", "2026-10-10T10:00:00.000Z", "dr-a", "alice")
ev("org-a", "2026-10-11T10:00:00.000Z", "alice", "alice")
ev("org-b", "2026-10-10T10:00:00.000Z", "dr-b", "alice")
' | "$AUDITDB_BIN" import --quiet - >/dev/null
"$AUDITDB_BIN" maintenance run --now 2027-12-01T00:00:00Z >"$TEST_TMP/maint.out" 2>&1
expect_eq "every event left audit_log for an archive" 0 "$(sql "SELECT count(*) FROM audit_log")"
expect_eq "three archives (org-a September and October, org-b October), each indexed" "3 3" \
    "$(sql "SELECT count(*), count(*) FILTER (WHERE subjects_indexed) FROM archive_storage WHERE deleted_at IS NULL" | tr "|" " ")"
expect_eq "one row per distinct principal or target of each archive" "2 2 2" \
    "$(sql "SELECT string_agg(n::text, ' ' ORDER BY o, f) FROM (SELECT a.organization_id o, a.first_seq f, count(i.archive_id) n FROM archive_storage a LEFT JOIN archive_subject_index i ON i.archive_id = a.id GROUP BY 1, 2) x")"
expect_eq "no identifier in the index: 32-byte keyed values only (not the id, not its SHA-256)" 0 \
    "$(sql "SELECT count(*) FROM archive_subject_index i, unnest(ARRAY['alice','bob','dr-a','dr-b']) s WHERE length(i.subject_index) <> 32 OR position(convert_to(s, 'UTF8') in i.subject_index) > 0 OR i.subject_index = sha256(convert_to(s, 'UTF8'))")"
expect_eq "alice in org-a and alice in org-b: unrelated index values" 0 \
    "$(sql "SELECT count(*) FROM archive_subject_index a JOIN archive_subject_index b USING (subject_index) WHERE a.organization_id = 'org-a' AND b.organization_id = 'org-b'")"

# damage bob's archive (September, the first of org-a) behind the trigger's back
BOB=$(sql "SELECT id FROM archive_storage WHERE organization_id = 'org-a' ORDER BY first_seq LIMIT 1")
flip="UPDATE archive_storage SET payload = set_byte(payload, 20, get_byte(payload, 20) # 255) WHERE id = '$BOB'"
sql "ALTER TABLE archive_storage DISABLE TRIGGER archive_storage_unindex; $flip; ALTER TABLE archive_storage ENABLE TRIGGER archive_storage_unindex" >/dev/null
expect_eq "the damaged archive is still marked indexed (the trigger was off)" t \
    "$(sql "SELECT subjects_indexed FROM archive_storage WHERE id = '$BOB'")"

if ! start_serve "$TEST_TMP/serve.log"; then
    not_ok "serve starts"; diag "$(tail -20 "$TEST_TMP/serve.log")"; finish
fi
trap 'stop_serve 2>/dev/null' EXIT
export_of() {
    http POST /api/v1/compliance/gdpr/export -H "X-API-Key: $KA" -H 'Content-Type: application/json' \
        -d "{\"dataSubjectId\":\"$1\",\"format\":\"json\",\"includePersonalData\":true}"
}
export_of alice
expect_eq "alice's export skips bob's damaged archive: 200 with her two archived events" "200 2" \
    "$HTTP_STATUS $(jbody 'd.get("archivedCount")' 2>/dev/null)"
http GET "/api/v1/compliance/hipaa/accounting?patient=alice" -H "X-API-Key: $KA"
expect_eq "alice's accounting skips it too: 200" 200 "$HTTP_STATUS"
expect_match "…and lists her archived disclosures" "Insurer Ltd" "$HTTP_BODY"
export_of bob
expect_match "bob's export opens his damaged archive and fails (its checksum)" '^5' "$HTTP_STATUS"
http GET "/api/v1/compliance/hipaa/accounting?patient=bob" -H "X-API-Key: $KA"
expect_match "bob's accounting fails likewise" '^5' "$HTTP_STATUS"

# repair it with the trigger on: rewriting the payload drops the archive's index
sql "$flip" >/dev/null
expect_eq "a rewritten archive: unindexed, its index rows gone" "f 0" \
    "$(sql "SELECT subjects_indexed, (SELECT count(*) FROM archive_subject_index WHERE archive_id = '$BOB') FROM archive_storage WHERE id = '$BOB'" | tr '|' ' ')"
export_of bob
expect_eq "an unindexed archive is read in full: bob's export finds his archived events" "200 2" \
    "$HTTP_STATUS $(jbody 'd.get("archivedCount")' 2>/dev/null)"
export_of alice
expect_eq "alice's export is unchanged" "200 2" "$HTTP_STATUS $(jbody 'd.get("archivedCount")' 2>/dev/null)"

# the maintenance round gives unindexed archives (older, or rewritten) their index back
out=$("$AUDITDB_BIN" maintenance run --now 2027-12-01T00:00:00Z 2>&1)
expect_match "the round reports the archive it indexed" "archives: 1 older or rewritten archive" "$out"
expect_eq "bob's archive indexed again, with its two identifiers" "t 2" \
    "$(sql "SELECT subjects_indexed, (SELECT count(*) FROM archive_subject_index WHERE archive_id = '$BOB') FROM archive_storage WHERE id = '$BOB'" | tr '|' ' ')"
export_of bob
expect_eq "bob's export through the index: his two archived events" "200 2" \
    "$HTTP_STATUS $(jbody 'd.get("archivedCount")' 2>/dev/null)"

stop_serve
finish
