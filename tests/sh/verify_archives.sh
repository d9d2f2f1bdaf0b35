# verify_archives.sh - `auditdb verify` walks each organization's chain across
# its archives, its stubs and its live rows (docs/archive.md, issue 5 item 4):
# a chain verifies before archival, after archival (one organization wholly
# archived), after deletion into stubs and after a restore; an edited archive,
# an edited archive with its checksums recomputed and a removed archive are
# each found and named; one event whose predecessor is archived verifies; a
# verify running while archival commits sees every event exactly once.
. tests/lib.sh

fresh_db t_verify_archives
"$AUDITDB_BIN" migrate >/dev/null

# 3 organizations x 40 events over January-April 2020, classifications interleaved;
# org-z only in January (wholly archived later)
python3 - >"$TEST_TMP/events.ndjson" <<'EOF'
import json
classes = ["PUBLIC", "INTERNAL", "PHI", "CONFIDENTIAL"]
for org in ["org-x", "org-y"]:
    for i in range(40):
        month, day = 1 + i // 10, 1 + i % 10
        print(json.dumps({"timestamp": "2020-%02d-%02dT10:00:%02dZ" % (month, day, i % 60),
                          "action": "record.read", "status": "success", "organizationId": org,
                          "principalId": "p%d" % i, "dataClassification": classes[i % 4],
                          "details": {"i": i, "note": "line\nbreak é"}}))
for i in range(12):
    print(json.dumps({"timestamp": "2020-01-%02dT11:00:00Z" % (1 + i), "action": "record.read",
                      "status": "success", "organizationId": "org-z", "principalId": "z%d" % i,
                      "dataClassification": "INTERNAL"}))
EOF
"$AUDITDB_BIN" import --quiet "$TEST_TMP/events.ndjson" >/dev/null
expect_eq "events imported" 92 "$(sql "SELECT count(*) FROM audit_log")"

vj() { "$AUDITDB_BIN" verify --no-record --json "$@" 2>"$TEST_TMP/verify.err"; }
# summary JSON: "intact events organizations problems"
summary() {
    python3 -c 'import json, sys; j = json.load(sys.stdin)
print(j["intact"], j["events"], j["organizations"], j["problems"])'
}
kinds() { # the problem kinds of the last verify --json, sorted, unique
    python3 -c 'import json, sys; j = json.load(sys.stdin)
print(" ".join(sorted(set(p["kind"] for p in j["details"]))))'
}

out=$(vj); rc=$?
expect_eq "before archival: intact, every event" "0|True 92 3 0" "$rc|$(printf '%s' "$out" | summary)"

# PUBLIC archived after 30 days, INTERNAL/PHI/CONFIDENTIAL after 365 (policies of 0003)
"$AUDITDB_BIN" maintenance run --now 2020-03-25T00:00:00Z >/dev/null 2>&1
expect_eq "PUBLIC events of January and February archived" "10|82" \
    "$(sql "SELECT coalesce(sum((metadata->>'recordCount')::int), 0) FROM archive_storage WHERE deleted_at IS NULL")|$(sql "SELECT count(*) FROM audit_log")"
out=$(vj); rc=$?
expect_eq "after archival of every fourth event: intact, all 92 events walked" "0|True 92 3 0" \
    "$rc|$(printf '%s' "$out" | summary)"
out=$(vj --org org-x --from 2020-01-03T00:00:00Z --to 2020-02-05T00:00:00Z); rc=$?
expect_eq "a time range across archived and live events: exactly its 12 events" "0|True 12 1 0" \
    "$rc|$(printf '%s' "$out" | summary)"

"$AUDITDB_BIN" maintenance run --now 2021-01-20T00:00:00Z >/dev/null 2>&1
expect_eq "a year later: org-z wholly archived, org-x and org-y's months up to 2020-01-20 archived" "0" \
    "$(sql "SELECT count(*) FROM audit_log WHERE organization_id = 'org-z'")"
out=$(vj); rc=$?
expect_eq "org-z has no live row left and is still walked: intact, 92 events, 3 organizations" \
    "0|True 92 3 0" "$rc|$(printf '%s' "$out" | summary)"
out=$(vj --org org-z); rc=$?
expect_eq "--org of a wholly archived organization" "0|True 12 1 0" "$rc|$(printf '%s' "$out" | summary)"
out=$(vj --org org-x --from 2020-01-03T00:00:00Z --to 2020-02-05T00:00:00Z); rc=$?
expect_eq "…later, with PUBLIC ones deleted into stubs: its 9 events with content, stubs bridging" "0|True 9 1 0" \
    "$rc|$(printf '%s' "$out" | summary)"

# one event whose predecessor is archived
first_live=$(sql "SELECT id FROM audit_log WHERE organization_id = 'org-x' ORDER BY chain_seq LIMIT 1")
pred_archived=$(sql "SELECT count(*) FROM audit_log l WHERE l.id = $first_live AND l.chain_seq > 1
    AND NOT EXISTS (SELECT 1 FROM audit_log p WHERE p.organization_id = 'org-x' AND p.chain_seq = l.chain_seq - 1)")
expect_eq "the first live event of org-x follows an archived one" 1 "$pred_archived"
out=$("$AUDITDB_BIN" verify --event "$first_live" 2>&1); rc=$?
expect_eq "verify --event: its link to the archived predecessor checks" 0 "$rc"

# an archive edited with its checksums recomputed: found by the full verify
a=$(sql "SELECT id FROM archive_storage WHERE organization_id = 'org-y' AND deleted_at IS NULL
         AND metadata->>'dataClassification' = 'INTERNAL' ORDER BY first_seq LIMIT 1")
sql "CREATE TABLE saved AS SELECT * FROM archive_storage WHERE id = '$a'" >/dev/null
put_back() { sql "UPDATE archive_storage a SET payload = s.payload, metadata = s.metadata FROM saved s WHERE a.id = s.id" >/dev/null; }
json_of() { sql "SELECT json_build_object('id', id, 'metadata', metadata, 'payload', encode(payload, 'hex')) FROM archive_storage WHERE id = '$1'"; }
victim=$(json_of "$a" | python3 tests/tools/adb_archive.py rows | sed -n 2p)
vseq=$(printf '%s' "$victim" | cut -d' ' -f3)
p=$(json_of "$a" | python3 tests/tools/adb_archive.py tamper '"action":"record.read"' '"action":"record.gone"' --fix-checksums)
sql "UPDATE archive_storage SET payload = decode('$(printf '%s' "$p" | sed -n 1p)', 'hex'),
     metadata = '$(printf '%s' "$p" | sed -n 2p)'::jsonb WHERE id = '$a'" >/dev/null
out=$(vj); rc=$?
expect_eq "an archived row changed, checksums recomputed: exit 4" 4 "$rc"
expect_eq "…named as a hash and chain link mismatch" "chain_link_mismatch hash_mismatch" "$(printf '%s' "$out" | kinds)"
expect_match "…with its archive" "archive $a" "$out"
out=$(vj --org org-x); rc=$?
expect_eq "…another organization stays intact" 0 "$rc"
put_back

# an edit that leaves the checksums as they were
p=$(json_of "$a" | python3 tests/tools/adb_archive.py tamper '"principal_id":"p' '"principal_id":"q')
sql "UPDATE archive_storage SET payload = decode('$p', 'hex') WHERE id = '$a'" >/dev/null
out=$(vj --org org-y); rc=$?
expect_eq "an archive edited behind its checksums: exit 4" 4 "$rc"
expect_match "…the archive's own check names it" "archive_mismatch" "$(printf '%s' "$out" | kinds)"
expect_match "…and the row" "hash_mismatch" "$(printf '%s' "$out" | kinds)"
put_back
out=$(vj --org org-y); rc=$?
expect_eq "the original put back: intact" 0 "$rc"

# archives carry the commitment key of sha256-c14n-v3 rows (docs/archive.md): changed, the
# row's commitments and hash no longer hold; removed with commit_field_keys (a line as written
# before migration 0022, still read), the row's values have no key left
ck=$(json_of "$a" | python3 -c 'import re, sys
sys.path.insert(0, "tests/tools")
import adb_archive as A
raw = A.zstd(next(A.archives())["bytes"], True)
print(re.search(rb"\"commit_key\":\"([0-9a-f]{64})\"", raw).group(1).decode())')
expect_match "archived rows carry their commitment key" '^[0-9a-f]{64}$' "$ck"
p=$(json_of "$a" | python3 tests/tools/adb_archive.py tamper "\"commit_key\":\"$ck\"" "\"commit_key\":\"$(printf '%s' "$ck" | rev)\"" --fix-checksums)
sql "UPDATE archive_storage SET payload = decode('$(printf '%s' "$p" | sed -n 1p)', 'hex'),
     metadata = '$(printf '%s' "$p" | sed -n 2p)'::jsonb WHERE id = '$a'" >/dev/null
out=$(vj --org org-y); rc=$?
expect_eq "an archived commitment key changed, checksums recomputed: exit 4" 4 "$rc"
expect_eq "…named as a hash and chain link mismatch" "chain_link_mismatch hash_mismatch" "$(printf '%s' "$out" | kinds)"
put_back
p=$(json_of "$a" | python3 tests/tools/adb_archive.py tamper ",\"commit_key\":\"$ck\",\"commit_field_keys\":null" "" --fix-checksums)
sql "UPDATE archive_storage SET payload = decode('$(printf '%s' "$p" | sed -n 1p)', 'hex'),
     metadata = '$(printf '%s' "$p" | sed -n 2p)'::jsonb WHERE id = '$a'" >/dev/null
out=$(vj --org org-y); rc=$?
expect_eq "a line without the commitment columns is read (as before 0022); the key gone: exit 4" 4 "$rc"
expect_eq "…named: values without their key, erased without a record" \
    "chain_link_mismatch commit_key_missing erased_without_record" "$(printf '%s' "$out" | kinds)"
put_back
out=$(vj --org org-y); rc=$?
expect_eq "put back again: intact" 0 "$rc"

# a whole archive removed: its positions are missing
sql "DELETE FROM archive_storage WHERE id = '$a'" >/dev/null
out=$(vj --org org-y); rc=$?
expect_eq "an archive deleted: exit 4" 4 "$rc"
expect_match "…its positions are missing" "missing_events" "$(printf '%s' "$out" | kinds)"
expect_match "…from position $(sql "SELECT first_seq FROM saved")" \
    "positions $(sql "SELECT first_seq FROM saved")\.\." "$out"
sql "INSERT INTO archive_storage SELECT * FROM saved" >/dev/null
out=$(vj); rc=$?
expect_eq "put back: intact" "0|True 92 3 0" "$rc|$(printf '%s' "$out" | summary)"

# deleted by retention into stubs (PUBLIC: 90 days): positions kept, links checked
"$AUDITDB_BIN" maintenance run --now 2021-01-21T00:00:00Z >/dev/null 2>&1
stubs=$(sql "SELECT count(*) FROM archive_storage WHERE deleted_at IS NOT NULL")
expect_eq "PUBLIC archives past 90 days became stubs" yes "$([ "$stubs" -gt 0 ] && echo yes || echo no)"
out=$(vj); rc=$?
expect_eq "with stubs: intact, every position walked" "0|True 92 3 0" "$rc|$(printf '%s' "$out" | summary)"
s=$(sql "SELECT id FROM archive_storage WHERE deleted_at IS NOT NULL AND organization_id = 'org-x' ORDER BY first_seq LIMIT 1")
sql "CREATE TABLE saved_stub AS SELECT * FROM archive_storage WHERE id = '$s'" >/dev/null
p=$(json_of "$s" | python3 tests/tools/adb_archive.py tamper '"prev_chain_hash":"' '"prev_chain_hash":"0' --fix-checksums)
sql "UPDATE archive_storage SET payload = decode('$(printf '%s' "$p" | sed -n 1p)', 'hex'),
     metadata = '$(printf '%s' "$p" | sed -n 2p)'::jsonb WHERE id = '$s'" >/dev/null
out=$(vj --org org-x); rc=$?
expect_eq "a stub's link edited, checksums recomputed: exit 4" 4 "$rc"
expect_match "…a chain break at the stub" "chain_break" "$(printf '%s' "$out" | kinds)"
expect_match "…named as a stub's position" "kept by stub $s" "$out"
sql "UPDATE archive_storage a SET payload = s.payload, metadata = s.metadata FROM saved_stub s WHERE a.id = s.id" >/dev/null

# restore puts archived rows back; verify still walks every position once
r=$(sql "SELECT id FROM archive_storage WHERE deleted_at IS NULL AND organization_id = 'org-z' LIMIT 1")
"$AUDITDB_BIN" archive restore "$r" >/dev/null 2>&1; rc=$?
expect_eq "an archive of org-z restored" 0 "$rc"
out=$(vj); rc=$?
expect_eq "after the restore: intact, 92 events" "0|True 92 3 0" "$rc|$(printf '%s' "$out" | summary)"

# a verify while archival commits: one snapshot, each event exactly once
python3 - >"$TEST_TMP/many.ndjson" <<'EOF'
import json
for i in range(6000):
    print(json.dumps({"timestamp": "2020-05-%02dT12:%02d:%02dZ" % (1 + i % 28, (i // 60) % 60, i % 60),
                      "action": "bulk.read", "status": "success", "organizationId": "org-w",
                      "dataClassification": "PUBLIC"}))
EOF
"$AUDITDB_BIN" import --quiet "$TEST_TMP/many.ndjson" >/dev/null
"$AUDITDB_BIN" maintenance run --now 2020-07-15T00:00:00Z --max-rows 100 >"$TEST_TMP/maint.out" 2>&1 &
mpid=$!
runs=0 bad=0
while kill -0 "$mpid" 2>/dev/null || [ "$runs" -eq 0 ]; do
    out=$(vj --org org-w); rc=$?
    runs=$((runs + 1))
    [ "$rc" = 0 ] && [ "$(printf '%s' "$out" | summary)" = "True 6000 1 0" ] || { bad=$((bad + 1)); diag "$out"; }
done
wait "$mpid"; diag "$(cat "$TEST_TMP/maint.out")"
expect_eq "archival in 60 transactions ran meanwhile" 6000 \
    "$(sql "SELECT coalesce(sum((metadata->>'recordCount')::int), 0) FROM archive_storage WHERE organization_id = 'org-w'")"
expect_eq "every verify during it saw 6000 events, intact ($runs runs)" 0 "$bad"

finish
