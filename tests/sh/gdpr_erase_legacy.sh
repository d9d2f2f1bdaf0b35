# gdpr_erase_legacy.sh - lawful erasure of events stored before sha256-c14n-v3
# (docs/integrity.md 8b, docs/gdpr.md "Erasure"): smart-logs `SHA-256` imports, whose hash
# covers the values, are erased with residual records signed with K_sig; `auditdb verify` and
# `archive verify` accept them and name each erased field; a second erasure of the same event
# builds on the first; a superuser who edits a record, forges one, changes an erased event or
# moves a record to another event is caught.
. tests/lib.sh

fresh_db t_gdpr_erase_legacy
"$AUDITDB_BIN" migrate >/dev/null
# 8 smart-logs events (2023, archived later) and 6 more (this year, live), subject pat-7 in
# some as principal and some as target, a details member on every event
python3 - >"$TEST_TMP/legacy.ndjson" <<'EOF'
import hashlib, json
F = ["action", "organizationId", "outcomeDescription", "principalId", "status", "targetResourceId",
     "targetResourceType", "timestamp"]
def ev(ts, i, principal, target):
    e = {"timestamp": ts, "action": "record.read", "status": "success", "principalId": principal,
         "organizationId": "org-l", "targetResourceType": "Patient", "targetResourceId": target,
         "outcomeDescription": "read %d" % i, "details": {"ip": "10.0.0.%d" % i, "n": i},
         "hashAlgorithm": "SHA-256"}
    e["hash"] = hashlib.sha256("|".join("%s:%s" % (k, json.dumps(e[k], separators=(",", ":")))
                                        for k in sorted(F)).encode()).hexdigest()
    print(json.dumps(e))
for i in range(8):
    ev("2023-02-%02dT10:00:00.000Z" % (1 + i), i, ["pat-7", "dr-1"][i % 2], ["pat-7", "pat-8"][i % 3 == 0])
for i in range(6):
    ev("2026-11-%02dT10:00:00.000Z" % (1 + i), 10 + i, ["pat-7", "dr-2"][i % 2], ["pat-9", "pat-7"][i % 3 == 0])
for i in range(2):
    ev("2026-11-2%dT10:00:00.000Z" % i, 20 + i, "dr-3", "pat-5")
EOF
"$AUDITDB_BIN" import --quiet --legacy "$TEST_TMP/legacy.ndjson" >/dev/null 2>"$TEST_TMP/import.err" ||
    { not_ok "legacy events imported"; diag "$(cat "$TEST_TMP/import.err")"; }
expect_eq "16 events stored under SHA-256" 16 "$(sql "SELECT count(*) FROM audit_log WHERE hash_algorithm = 'SHA-256'")"
"$AUDITDB_BIN" verify --org org-l >/dev/null 2>&1
expect_eq "they verify" 0 $?
"$AUDITDB_BIN" maintenance run --now 2024-06-01T00:00:00Z >/dev/null 2>&1
expect_eq "the 8 of 2023 archived, 8 live" "8 8" \
    "$(sql "SELECT coalesce(sum((metadata->>'recordCount')::int), 0) FROM archive_storage WHERE organization_id = 'org-l' AND deleted_at IS NULL") $(sql "SELECT count(*) FROM audit_log")"

A0=$(sql "SELECT id FROM archive_storage WHERE organization_id = 'org-l' AND deleted_at IS NULL ORDER BY id LIMIT 1")
expect_eq "pat-7 is in the archive before" "t" "$( [ "$("$AUDITDB_BIN" archive export "$A0" 2>/dev/null | grep -c 'pat-7')" -gt 0 ] && echo t || echo f)"

# ---- erase pat-7 ------------------------------------------------------------------------------
want_live=$(sql "SELECT count(*) FROM audit_log WHERE principal_id = 'pat-7' OR target_resource_id = 'pat-7'")
out=$("$AUDITDB_BIN" gdpr erase --subject pat-7 --org org-l --json 2>"$TEST_TMP/erase.err")
expect_eq "gdpr erase of a subject of pre-v3 events: exit 0 (was: refused, exit 1)" 0 $?
jq_() { printf '%s' "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }
expect_eq "...no event failed, archives rewritten" "0 True" "$(jq_ 'd["failedRecords"]') $(jq_ 'd["archivesRewritten"] >= 1')"
expect_eq "...every live event of the subject changed: no pat-7 left, details emptied" "0 $want_live" \
    "$(sql "SELECT count(*) FROM audit_log WHERE principal_id = 'pat-7' OR target_resource_id = 'pat-7'") $(sql "SELECT count(*) FROM audit_log WHERE details = '{}'::jsonb")"
expect_eq "...residual records: original content and hash kept, signed" "t" \
    "$(sql "SELECT bool_and(original_content ~ '^[0-9a-f]{64}$' AND original_hash ~ '^[0-9a-f]{64}$') AND count(*) > 0 FROM audit_erasure")"
out=$("$AUDITDB_BIN" verify --org org-l 2>&1)
expect_eq "auditdb verify after the erasure: exit 0" 0 $?
expect_match "...names the erased events" "all intact .[1-9][0-9]* with personal data lawfully erased" "$out"
expect_match "...one lawful_erasure line per field (principalId)" "lawful_erasure.*principalId" "$out"
A=$(sql "SELECT id FROM archive_storage WHERE organization_id = 'org-l' AND deleted_at IS NULL ORDER BY id LIMIT 1")
out=$("$AUDITDB_BIN" archive verify "$A" 2>&1)
expect_eq "archive verify of the rewritten archive: exit 0" 0 $?
expect_match "...names the erasure" "lawful_erasure" "$out"
expect_eq "...and no pat-7 in the archive's rows" "0 t" "$("$AUDITDB_BIN" archive export "$A" 2>/dev/null | grep -c 'pat-7') $("$AUDITDB_BIN" archive export "$A" 2>/dev/null | grep -q 'dr-1' && echo t)"

# a second erasure of the same events: pat-9 is the target where pat-7 was the principal
"$AUDITDB_BIN" gdpr erase --subject pat-9 --org org-l --json >/dev/null 2>&1
expect_eq "a second erasure (pat-9) of events erased before: exit 0" 0 $?
twice=$(sql "SELECT count(*) FROM (SELECT event_id FROM audit_erasure GROUP BY event_id HAVING count(DISTINCT request_id) > 1) t")
expect_eq "...some events now carry two erasures" "t" "$( [ "$twice" -gt 0 ] && echo t || echo f)"
"$AUDITDB_BIN" verify --org org-l >/dev/null 2>&1
expect_eq "...and verify" 0 $?

# ---- the attacker: superuser SQL ----------------------------------------------------------------
V=$(sql "SELECT event_id FROM audit_erasure e WHERE EXISTS (SELECT 1 FROM audit_log l WHERE l.event_id = e.event_id) ORDER BY id LIMIT 1")
R=$(sql "SELECT id FROM audit_erasure WHERE event_id = '$V' ORDER BY id DESC LIMIT 1")
keep=$(sql "SELECT commitment FROM audit_erasure WHERE id = $R")
sql "UPDATE audit_erasure SET commitment = repeat('0', 64) WHERE id = $R" >/dev/null
out=$("$AUDITDB_BIN" verify --org org-l 2>&1)
expect_eq "a residual record edited by SQL: verify fails (exit 4)" 4 $?
expect_match "...erasure_record_invalid" "erasure_record_invalid" "$out"
sql "UPDATE audit_erasure SET commitment = '$keep' WHERE id = $R" >/dev/null
"$AUDITDB_BIN" verify --org org-l >/dev/null 2>&1
expect_eq "...restored, verify passes again" 0 $?

sql "UPDATE audit_log SET action = 'record.delete' WHERE event_id = '$V'" >/dev/null
out=$("$AUDITDB_BIN" verify --org org-l 2>&1)
expect_eq "an erased event changed by SQL: verify fails" 4 $?
expect_match "...its change is named (its record no longer vouches for what it holds)" "$V" "$out"
sql "UPDATE audit_log SET action = 'record.read' WHERE event_id = '$V'" >/dev/null

# a record copied onto an intact live event of another subject whose values were changed
W=$(sql "SELECT event_id FROM audit_log WHERE hash_algorithm = 'SHA-256' AND NOT EXISTS (SELECT 1 FROM audit_erasure e WHERE e.event_id = audit_log.event_id) ORDER BY chain_seq LIMIT 1")
if [ -n "$W" ]; then
    sql "UPDATE audit_log SET principal_id = NULL WHERE event_id = '$W'" >/dev/null
    sql "INSERT INTO audit_erasure (organization_id, event_id, field, commitment, request_id, legal_basis, erased_at, signature, original_content, original_hash)
         SELECT organization_id, '$W', field, commitment, request_id, legal_basis, erased_at, signature, original_content, original_hash
         FROM audit_erasure WHERE id = $R" >/dev/null
    out=$("$AUDITDB_BIN" verify --org org-l 2>&1)
    expect_eq "another event's record moved onto a changed event: verify fails" 4 $?
    expect_match "...the moved record is not valid for it" "erasure_record_invalid" "$out"
else
    not_ok "an event without erasure is left for the moved-record check"
fi
finish
