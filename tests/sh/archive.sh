# archive.sh - retention and archival of audit events (docs/archive.md): with a
# controllable clock, each classification's events are archived, then deleted
# (stubs keep their chain positions), exactly when its audit_retention_policy
# says; a wholly expired month goes as a partition; archives verify, detect an
# edit, restore and export; a failing job is retried with backoff and raises an
# alert; kill -9 during archival neither loses nor duplicates an event.
. tests/lib.sh

# at T DAYS HOURS: T moved by DAYS and HOURS, RFC 3339
at() {
    python3 -c 'import datetime, sys
t = datetime.datetime.fromisoformat(sys.argv[1].replace("Z", "+00:00"))
t += datetime.timedelta(days=float(sys.argv[2]), hours=float(sys.argv[3]))
print(t.strftime("%Y-%m-%dT%H:%M:%SZ"))' "$1" "$2" "$3"
}
# maint T: one maintenance round at clock T; output in $MOUT, exit code in $MRC
maint() {
    MOUT=$("$AUDITDB_BIN" maintenance run --now "$@" 2>&1); MRC=$?
}
# state CLASS: org-a's events of one classification, live, archived and deleted
state() {
    sql "SELECT (SELECT count(*) FROM audit_log WHERE organization_id = 'org-a' AND data_classification = '$1')
         || ' live, ' || (SELECT coalesce(sum((metadata->>'recordCount')::int), 0) FROM archive_storage
              WHERE organization_id = 'org-a' AND metadata->>'dataClassification' = '$1' AND deleted_at IS NULL)
         || ' archived, ' || (SELECT coalesce(sum((metadata->>'recordCount')::int), 0) FROM archive_storage
              WHERE organization_id = 'org-a' AND metadata->>'dataClassification' = '$1' AND deleted_at IS NOT NULL)
         || ' deleted'"
}
# archives_json [WHERE]: archive_storage rows as the tests/tools/adb_archive.py input
archives_json() {
    sql "SELECT json_build_object('id', id, 'metadata', metadata, 'payload', encode(payload, 'hex'))
         FROM archive_storage WHERE payload IS NOT NULL ${1:-}"
}
# rows_digest: sha256 of every row's columns, in chain order
rows_digest() {
    sql "SELECT md5(string_agg(concat_ws('|', id, \"timestamp\", ttl, principal_id, organization_id, action,
         target_resource_type, target_resource_id, status, outcome_description, hash, hash_algorithm,
         signature, event_version, correlation_id, data_classification, retention_policy, details::text,
         chain_seq, prev_chain_hash, chain_hash, event_id, commit_key, commit_field_keys::text), E'\\n' ORDER BY organization_id, chain_seq)) FROM audit_log"
}
archive_of() { # archive_of CLASS [POLICY]: the id of org-a's live archive of a classification
    sql "SELECT id FROM archive_storage WHERE organization_id = 'org-a' AND deleted_at IS NULL
         AND metadata->>'dataClassification' = '$1' ${2:+AND metadata->>'retentionPolicy' = '$2'} LIMIT 1"
}

fresh_db t_archive
"$AUDITDB_BIN" migrate >/dev/null
# policies (0003): minimal PUBLIC 30/90 days, standard INTERNAL 365/2555,
# confidential CONFIDENTIAL 365/1825, phi_extended PHI 365/2555; and one
# that deletes without archiving
sql "INSERT INTO audit_retention_policy (policy_name, retention_days, archive_after_days, data_classification)
     VALUES ('short-lived', 100, NULL, 'PUBLIC')" >/dev/null
T0=2020-01-10T00:00:00Z
cat >"$TEST_TMP/events.ndjson" <<'EOF'
{"timestamp":"2020-01-10T00:00:00Z","action":"record.read","status":"success","organizationId":"org-a","dataClassification":"PUBLIC","principalId":"p1","details":{"n":1.50,"note":"tab\there"}}
{"timestamp":"2020-01-10T00:01:00Z","action":"record.read","status":"success","organizationId":"org-a","dataClassification":"INTERNAL","principalId":"p2"}
{"timestamp":"2020-01-10T00:02:00Z","action":"record.read","status":"success","organizationId":"org-a","dataClassification":"CONFIDENTIAL","principalId":"p3"}
{"timestamp":"2020-01-10T00:03:00Z","action":"record.read","status":"success","organizationId":"org-a","dataClassification":"PHI","principalId":"p4","targetResourceType":"Patient","targetResourceId":"pt-1"}
{"timestamp":"2020-01-10T00:04:00Z","action":"record.read","status":"success","organizationId":"org-a","dataClassification":"PHI","retentionPolicy":"hipaa-6-years","principalId":"p5"}
{"timestamp":"2020-01-10T00:05:00Z","action":"record.read","status":"success","organizationId":"org-a","dataClassification":"INTERNAL","retentionPolicy":"minimal","principalId":"p6"}
{"timestamp":"2020-01-12T00:00:00Z","action":"record.read","status":"success","organizationId":"org-a","dataClassification":"PUBLIC","principalId":"p7","outcomeDescription":"é ü \" \\ end"}
{"timestamp":"2020-01-09T23:30:00Z","action":"record.read","status":"success","organizationId":"org-b","principalId":"q1"}
{"timestamp":"2020-01-09T23:31:00Z","action":"record.read","status":"success","organizationId":"org-b","principalId":"q2"}
{"timestamp":"2020-12-01T00:00:00Z","action":"record.read","status":"success","organizationId":"org-b","principalId":"q3"}
{"timestamp":"2020-12-01T00:01:00Z","action":"record.read","status":"success","organizationId":"org-b","principalId":"q4"}
{"timestamp":"2020-02-10T00:00:00Z","action":"cache.hit","status":"success","organizationId":"org-c","dataClassification":"PUBLIC","retentionPolicy":"short-lived"}
{"timestamp":"2020-02-11T00:00:00Z","action":"cache.hit","status":"success","organizationId":"org-c","dataClassification":"PUBLIC","retentionPolicy":"short-lived"}
{"timestamp":"2020-02-12T00:00:00Z","action":"cache.hit","status":"success","organizationId":"org-c","dataClassification":"PUBLIC","retentionPolicy":"short-lived"}
EOF
"$AUDITDB_BIN" import --quiet "$TEST_TMP/events.ndjson" >/dev/null
expect_eq "events imported" 14 "$(sql "SELECT count(*) FROM audit_log")"
out=$("$AUDITDB_BIN" verify --no-record 2>&1); rc=$?
expect_eq "verify before archival: exit 0" 0 "$rc"

# PUBLIC (minimal): archived after 30 days, deleted after 90
maint "$(at $T0 30 -1)"
expect_eq "30 days - 1 h: nothing archived" "2 live, 0 archived, 0 deleted|2 live, 0 archived, 0 deleted" \
    "$(state PUBLIC)|$(state INTERNAL)"
maint "$(at $T0 30 1)"
expect_eq "30 days + 1 h: exit 0" 0 "$MRC"
expect_match "30 days + 1 h: reported" "2 archived into 2 archive\(s\)" "$MOUT"
expect_eq "30 days + 1 h: the PUBLIC event of that day is archived, the one 2 days younger is not" \
    "1 live, 1 archived, 0 deleted" "$(state PUBLIC)"
expect_eq "an INTERNAL event naming the policy minimal follows it (the name wins over the classification)" \
    "1 live, 1 archived, 0 deleted" "$(state INTERNAL)"
expect_eq "CONFIDENTIAL and PHI untouched" "1 live, 0 archived, 0 deleted|2 live, 0 archived, 0 deleted" \
    "$(state CONFIDENTIAL)|$(state PHI)"
maint "$(at $T0 30 1)"
expect_match "a rerun at the same clock archives nothing more" "0 archived into 0 archive" "$MOUT"
maint "$(at $T0 90 -1)"
expect_eq "90 days - 1 h: archived, not deleted" "0 live, 2 archived, 0 deleted" "$(state PUBLIC)"
maint "$(at $T0 90 1)"
expect_match "90 days + 1 h: archives past retention replaced by stubs" "2 archive\(s\) past retention replaced by stubs \(2 events\)" "$MOUT"
expect_eq "90 days + 1 h: the oldest PUBLIC archive is deleted, the younger one kept" \
    "0 live, 1 archived, 1 deleted" "$(state PUBLIC)"
stub=$(sql "SELECT id FROM archive_storage WHERE organization_id = 'org-a' AND deleted_at IS NOT NULL AND metadata->>'dataClassification' = 'PUBLIC'")
expect_eq "a stub keeps only organization, position and links" "chain_hash,chain_seq,organization_id,prev_chain_hash" \
    "$("$AUDITDB_BIN" archive export "$stub" | python3 -c 'import json, sys; print(",".join(sorted(json.loads(sys.stdin.readline()))))')"
expect_eq "a stub's metadata says deleted" "true|$(at $T0 90 1 | sed 's/Z$/.000000Z/')" \
    "$(sql "SELECT metadata->>'deleted' || '|' || (metadata->>'deletedAt') FROM archive_storage WHERE id = '$stub'")"
out=$("$AUDITDB_BIN" archive verify "$stub"); rc=$?
expect_eq "a stub verifies (checksums, links)" 0 "$rc"
err=$("$AUDITDB_BIN" archive restore "$stub" 2>&1); rc=$?
expect_eq "a stub cannot be restored: exit 1" 1 "$rc"
expect_match "a stub cannot be restored: says why" "stub of deleted events" "$err"

# a month whose events all expired goes as a partition (short-lived: 100 days, never archived)
out=$("$AUDITDB_BIN" partitions drop-expired --now 2020-05-21T23:00:00Z); rc=$?
expect_eq "drop-expired while one event of the month is kept: exit 0" 0 "$rc"
expect_eq "…the month stays, all its events live" "1|3" \
    "$(sql "SELECT count(*) FROM pg_class WHERE relname = 'audit_log_2020_02'")|$(sql "SELECT count(*) FROM audit_log WHERE organization_id = 'org-c'")"
out=$("$AUDITDB_BIN" partitions drop-expired --now 2020-05-22T01:00:00Z); rc=$?
expect_match "drop-expired once all expired: the partition's 3 events deleted" "3 event\(s\) deleted, their chain positions kept in 1 stub" "$out"
expect_eq "…the partition is gone, the positions are in a stub" "0|0|1..3" \
    "$(sql "SELECT count(*) FROM pg_class WHERE relname = 'audit_log_2020_02'")|$(sql "SELECT count(*) FROM audit_log WHERE organization_id = 'org-c'")|$(sql "SELECT (metadata->'chain'->>'firstSeq') || '..' || (metadata->'chain'->>'lastSeq') FROM archive_storage WHERE organization_id = 'org-c' AND deleted_at IS NOT NULL")"

# INTERNAL, CONFIDENTIAL, PHI: archived after 365 days; no active policy: never
maint "$(at $T0 365 -1)"
expect_eq "365 days - 1 h: INTERNAL, CONFIDENTIAL and PHI live" \
    "1 live, 0 archived, 1 deleted|1 live, 0 archived, 0 deleted|2 live, 0 archived, 0 deleted" \
    "$(state INTERNAL)|$(state CONFIDENTIAL)|$(state PHI)"
before=$(rows_digest)
sql "UPDATE audit_retention_policy SET is_active = 'false' WHERE policy_name = 'confidential'" >/dev/null
maint "$(at $T0 365 1)"
expect_eq "365 days + 1 h: INTERNAL and PHI archived (hipaa-6-years falls back to the PHI policy)" \
    "0 live, 1 archived, 1 deleted|0 live, 2 archived, 0 deleted" "$(state INTERNAL)|$(state PHI)"
expect_eq "…CONFIDENTIAL without an active policy stays" "1 live, 0 archived, 0 deleted" "$(state CONFIDENTIAL)"
sql "UPDATE audit_retention_policy SET is_active = 'true' WHERE policy_name = 'confidential'" >/dev/null
maint "$(at $T0 365 1)"
expect_eq "…and is archived once its policy is active again" "0 live, 1 archived, 0 deleted" "$(state CONFIDENTIAL)"
expect_eq "the emptied month is dropped, the one with live events kept" "0|1" \
    "$(sql "SELECT count(*) FROM pg_class WHERE relname = 'audit_log_2020_01'")|$(sql "SELECT count(*) FROM pg_class WHERE relname = 'audit_log_2020_12'")"
out=$("$AUDITDB_BIN" verify --org org-b --from 2020-06-01T00:00:00Z --no-record 2>&1); rc=$?
expect_eq "verify after archival: the live rest of the chain passes" 0 "$rc"

# archive verify, the format read by a third party, and edits
out=$(archives_json | python3 tests/tools/adb_archive.py check); rc=$?
expect_eq "docs/archive.md alone checks every archive's checksums, sizes and positions" 0 "$rc"
a=$(archive_of INTERNAL)
out=$("$AUDITDB_BIN" archive verify "$a"); rc=$?
expect_eq "archive verify: exit 0" 0 "$rc"
expect_match "archive verify: says what it checked" "1 row\(s\) verified: checksums, hashes, signatures and chain links intact" "$out"
out=$("$AUDITDB_BIN" archive export "$(archive_of PHI phi_extended)" | python3 tests/tools/adb_recompute.py); rc=$?
expect_eq "docs/integrity.md alone recomputes an exported archive's hashes" "0 ok" "$rc $(printf '%s' "$out" | cut -d' ' -f2)"
sql "CREATE TABLE saved AS SELECT * FROM archive_storage WHERE id = '$a'" >/dev/null
put_back() { sql "UPDATE archive_storage a SET payload = s.payload, metadata = s.metadata FROM saved s WHERE a.id = s.id" >/dev/null; }
payload=$(archives_json "AND id = '$a'" | python3 tests/tools/adb_archive.py tamper '"principal_id":"p2"' '"principal_id":"p9"')
sql "UPDATE archive_storage SET payload = decode('$payload', 'hex') WHERE id = '$a'" >/dev/null
out=$("$AUDITDB_BIN" archive verify "$a"); rc=$?
expect_eq "one byte of a row changed: exit 4" 4 "$rc"
expect_match "…the compressed checksum names it" "archive_mismatch: the compressed payload's checksum" "$out"
expect_match "…and the row's hash" "hash_mismatch: event [0-9]+ \(seq 2\): content changed" "$out"
err=$("$AUDITDB_BIN" archive restore "$a" 2>&1); rc=$?
expect_eq "an edited archive is not restored: exit 1" "1|0" "$rc|$(sql "SELECT count(*) FROM audit_log WHERE principal_id IN ('p2', 'p9')")"
out=$(archives_json "AND id = '$a'" | python3 tests/tools/adb_archive.py tamper '"principal_id":"p9"' '"principal_id":"p8"' --fix-checksums)
sql "UPDATE archive_storage SET payload = decode('$(printf '%s' "$out" | sed -n 1p)', 'hex'),
     metadata = '$(printf '%s' "$out" | sed -n 2p)'::jsonb WHERE id = '$a'" >/dev/null
out=$("$AUDITDB_BIN" archive verify "$a"); rc=$?
expect_eq "an edit with checksums recomputed to match: exit 4" 4 "$rc"
expect_match "…the row's hash and chain link name it" "hash_mismatch.*chain_link_mismatch" "$(printf '%s' "$out" | tr '\n' ' ')"
put_back
sql "UPDATE archive_storage SET metadata = jsonb_set(metadata, '{checksums,originalSha256}', to_jsonb(repeat('0', 64))) WHERE id = '$a'" >/dev/null
out=$("$AUDITDB_BIN" archive verify "$a"); rc=$?
expect_eq "an edited metadata checksum: exit 4" 4 "$rc"
expect_match "…named" "archive_mismatch: the decompressed JSON Lines' checksum is [0-9a-f]{64}, the metadata says 0{64}" "$out"
put_back
sql "UPDATE archive_storage SET payload = overlay(payload PLACING '\\x00'::bytea FROM 30 FOR 1) WHERE id = '$a'" >/dev/null
out=$("$AUDITDB_BIN" archive verify "$a"); rc=$?
expect_eq "a flipped byte of the stored payload: exit 4" 4 "$rc"
put_back
out=$("$AUDITDB_BIN" archive verify "$a"); rc=$?
expect_eq "the original put back verifies" 0 "$rc"

# restore: the rows come back as they were; export
"$AUDITDB_BIN" archive export "$a" --output "$TEST_TMP/a.jsonl" 2>/dev/null; rc=$?
expect_eq "export --output: the JSON Lines" "0 1" "$rc $(wc -l <"$TEST_TMP/a.jsonl" | tr -d ' ')"
expect_eq "export counts a retrieval" 1 "$(sql "SELECT retrieved_count FROM archive_storage WHERE id = '$a'")"
err=$("$AUDITDB_BIN" archive export no-such-archive --output "$TEST_TMP/none.jsonl" 2>&1); rc=$?
expect_eq "export of an unknown archive: exit 1, no file" "1 no" "$rc $(test -e "$TEST_TMP/none.jsonl" && echo yes || echo no)"
expect_match "…says so" "no archive no-such-archive" "$err"
restored=0
for id in $(sql "SELECT id FROM archive_storage WHERE deleted_at IS NULL AND created_at = '$(at $T0 365 1)'"); do
    "$AUDITDB_BIN" archive restore "$id" >/dev/null && restored=$((restored + 1))
done
expect_eq "restore: each archive of that round, removed" "5|0" \
    "$restored|$(sql "SELECT count(*) FROM archive_storage WHERE deleted_at IS NULL AND created_at = '$(at $T0 365 1)'")"
expect_eq "restore round trip: every column of every row as before archival" "$before" "$(rows_digest)"
out=$("$AUDITDB_BIN" verify --org org-a --from 2020-01-10T00:01:00Z --to 2020-01-10T00:04:00Z --no-record 2>&1); rc=$?
expect_eq "verify after restore: exit 0" 0 "$rc"
maint "$(at $T0 365 1)"
expect_match "the next round archives them again" "6 archived into 5 archive" "$MOUT"

# CONFIDENTIAL deleted after 1825 days; INTERNAL and PHI after 2555
maint "$(at $T0 1825 -1)"
expect_eq "1825 days - 1 h: CONFIDENTIAL still archived" "0 live, 1 archived, 0 deleted" "$(state CONFIDENTIAL)"
maint "$(at $T0 1825 1)"
expect_eq "1825 days + 1 h: CONFIDENTIAL deleted, INTERNAL and PHI kept" \
    "0 live, 0 archived, 1 deleted|0 live, 1 archived, 1 deleted|0 live, 2 archived, 0 deleted" \
    "$(state CONFIDENTIAL)|$(state INTERNAL)|$(state PHI)"
maint "$(at $T0 2555 -1)"
expect_eq "2555 days - 1 h: INTERNAL and PHI still archived" "0 live, 1 archived, 1 deleted|0 live, 2 archived, 0 deleted" \
    "$(state INTERNAL)|$(state PHI)"
maint "$(at $T0 2555 1)"
expect_eq "2555 days + 1 h: INTERNAL and PHI deleted" "0 live, 0 archived, 2 deleted|0 live, 0 archived, 2 deleted" \
    "$(state INTERNAL)|$(state PHI)"
expect_eq "org-a's 7 positions are all kept, in stubs" "7|7" \
    "$(sql "SELECT sum((metadata->>'recordCount')::int) FROM archive_storage WHERE organization_id = 'org-a'")|$(sql "SELECT count(*) FROM archive_storage WHERE organization_id = 'org-a' AND deleted_at IS NOT NULL")"
out=$(archives_json | python3 tests/tools/adb_archive.py check); rc=$?
expect_eq "every archive and stub still checks out" 0 "$rc"
out=$("$AUDITDB_BIN" archive list --org org-a --json | python3 -c 'import json, sys; a = json.load(sys.stdin); print(len(a), all(x["deleted"] for x in a), [x["metadata"]["chain"]["firstSeq"] for x in a] == sorted(x["metadata"]["chain"]["firstSeq"] for x in a))')
expect_eq "archive list --org --json: in chain order" "7 True True" "$out"
expect_eq "row-level security: the API role sees only its organization's archives" "7|2|0" \
    "$(sql "$(tenant_setting org-a false); SET ROLE auditdb_app; SELECT count(*) FROM archive_storage" | tail -1)|$(sql "$(tenant_setting org-b false); SET ROLE auditdb_app; SELECT count(*) FROM archive_storage" | tail -1)|$(sql "SET ROLE auditdb_app; SELECT count(*) FROM archive_storage")"
err=$("$AUDITDB_BIN" archive frobnicate 2>&1); rc=$?
expect_eq "archive: unknown subcommand, exit 2" 2 "$rc"
err=$("$AUDITDB_BIN" archive verify 2>&1); rc=$?
expect_eq "archive verify without an id: exit 2" 2 "$rc"

# dead-letter queue: a failing job is retried with backoff and raises an alert at the fifth failure
fresh_db t_archive_dlq
"$AUDITDB_BIN" migrate >/dev/null
printf '%s\n' '{"timestamp":"2021-03-01T00:00:00Z","action":"x","status":"success","organizationId":"org-f"}' \
              '{"timestamp":"2021-03-01T00:01:00Z","action":"x","status":"success","organizationId":"org-f"}' |
    "$AUDITDB_BIN" import --quiet - >/dev/null
sql "CREATE FUNCTION fail_archive() RETURNS trigger LANGUAGE plpgsql AS \$\$ BEGIN RAISE EXCEPTION 'archive store unavailable'; END \$\$;
     CREATE TRIGGER fail_archive BEFORE INSERT ON archive_storage FOR EACH ROW EXECUTE FUNCTION fail_archive()" >/dev/null
dlq() { sql "SELECT coalesce(string_agg(action || ':' || failure_count, ','), 'none') FROM archive_dlq_event"; }
T1=2022-03-05T00:00:00Z
maint "$T1"
expect_eq "a failing archival job: exit 1, events stay live" "1|2" "$MRC|$(sql "SELECT count(*) FROM audit_log")"
expect_match "…the failure is reported" "job archive:[0-9a-f]+ failed .*archive store unavailable" "$MOUT"
expect_match "…and recorded with its reason and count" "^archive:1\|org-f\|could not store the archive of org-f .*archive store unavailable" \
    "$(dlq)|$(sql "SELECT (original_event->>'organizationId') || '|' || failure_reason FROM archive_dlq_event")"
maint "$(at $T1 0 0.5)"
expect_eq "within its backoff (1 h) the job is not retried" "0|archive:1" "$MRC|$(dlq)"
expect_match "…and said to wait" "1 waiting for their retry" "$MOUT"
for h in 1.1 3.2 7.3 15.4; do
    maint "$(at $T1 0 $h)"
done
expect_eq "retried after 1, 2, 4 and 8 hours: five failures" "archive:5" "$(dlq)"
expect_eq "the fifth raises one HIGH alert for the organization" "1|HIGH|auditdb-archive|org-f" \
    "$(sql "SELECT count(*) || '|' || max(severity) || '|' || max(source) || '|' || max(organization_id) FROM alerts")"
sql "DROP TRIGGER fail_archive ON archive_storage" >/dev/null
maint "$(at $T1 0 31.5)"
expect_eq "once the cause is gone the retry succeeds and clears the job" "0|0|1|none" \
    "$MRC|$(sql "SELECT count(*) FROM audit_log")|$(sql "SELECT count(*) FROM archive_storage")|$(dlq)"
expect_eq "…the alert was raised once" 1 "$(sql "SELECT count(*) FROM alerts")"

# crash: kill -9 during archival, rerun; every event exactly once, live or archived
fresh_db t_archive_crash
"$AUDITDB_BIN" migrate >/dev/null
python3 - "$TEST_TMP" <<'EOF'
import json, sys
files = [open('%s/crash-%d.ndjson' % (sys.argv[1], o), 'w') for o in range(2)]
for i in range(200000):
    o, m, c = i % 2, 1 + (i // 2) % 8, ['INTERNAL', 'PHI'][(i // 16) % 2]
    files[o].write(json.dumps({'timestamp': '2023-%02d-%02dT%02d:%02d:%02d.%06dZ' % (m, 1 + i % 28, i % 24, i % 60, (i // 60) % 60, i % 999983),
                               'action': 'fhir.patient.read', 'status': 'success', 'principalId': 'doc-%d' % (i % 97),
                               'organizationId': 'org-%d' % o, 'dataClassification': c, 'targetResourceType': 'Patient',
                               'targetResourceId': 'pt-%d' % i, 'details': {'n': i}}) + '\n')
EOF
"$AUDITDB_BIN" import --quiet "$TEST_TMP/crash-0.ndjson" >/dev/null & p0=$!
"$AUDITDB_BIN" import --quiet "$TEST_TMP/crash-1.ndjson" >/dev/null & p1=$!
wait $p0; wait $p1
# every event, live or archived, as "event_id hash chain_seq", sorted
everything() {
    { sql "SELECT event_id || ' ' || hash || ' ' || chain_seq FROM audit_log"; archives_json | python3 tests/tools/adb_archive.py rows; } |
        LC_ALL=C sort >"$TEST_TMP/all.txt"
    echo "$(wc -l <"$TEST_TMP/all.txt" | tr -d ' ') $(sha256sum <"$TEST_TMP/all.txt" | cut -c1-64)"
}
all0=$(everything)
expect_match "200000 events to archive" "^200000 " "$all0"
# each kill lands at a different point: after the first archives committed,
# then a few more, at different offsets into the next archive's transaction
archives() { sql "SELECT count(*) FROM archive_storage"; }
for kill in "1 0.2" "3 0.5" "3 0"; do
    set -- $kill
    want=$(($(archives) + $1))
    "$AUDITDB_BIN" maintenance run --now 2024-10-01T00:00:00Z --max-rows 4000 >/dev/null 2>&1 &
    pid=$!
    i=0
    while [ "$(archives)" -lt "$want" ] && [ $i -lt 300 ] && kill -0 "$pid" 2>/dev/null; do
        sleep 0.1; i=$((i + 1))
    done
    sleep "$2"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    live=$(sql "SELECT count(*) FROM audit_log")
    expect_eq "kill -9 at archive $want + $2 s: every event exactly once (count and digest)" "$all0" "$(everything)"
    if [ "$live" -gt 0 ] && [ "$(archives)" -ge "$want" ]; then
        ok "kill -9 at archive $want + $2 s: it was killed mid-way ($live events live)"
    else
        not_ok "kill -9 at archive $want + $2 s: it was killed mid-way ($live events live, $(archives) archives)"
    fi
done
# the rest by two runs at once: one waits for the other, nothing is archived twice
"$AUDITDB_BIN" maintenance run --now 2024-10-01T00:00:00Z --max-rows 4000 >"$TEST_TMP/m1.out" 2>&1 & p1=$!
"$AUDITDB_BIN" maintenance run --now 2024-10-01T00:00:00Z --max-rows 4000 >"$TEST_TMP/m2.out" 2>&1 & p2=$!
wait $p1; rc1=$?; wait $p2; rc2=$?
expect_eq "two reruns at once complete: exit 0, nothing live" "0|0|0" "$rc1|$rc2|$(sql "SELECT count(*) FROM audit_log")"
expect_eq "…at most 4000 events per archive: each month's group of 6250 in two" "64|4000" \
    "$(archives)|$(sql "SELECT max((metadata->>'recordCount')::int) FROM archive_storage")"
expect_eq "…every event exactly once, archived" "$all0" "$(everything)"
out=$(archives_json | python3 tests/tools/adb_archive.py check | grep -vc ' ok$'); rc=$?
expect_eq "…every archive checks out" 0 "$out"
expect_eq "…no chain position archived twice" 0 \
    "$(sql "SELECT count(*) FROM (SELECT organization_id, first_seq FROM archive_storage GROUP BY 1, 2 HAVING count(*) > 1) d")"
a=$(sql "SELECT id FROM archive_storage ORDER BY organization_id, first_seq LIMIT 1")
out=$("$AUDITDB_BIN" archive verify "$a"); rc=$?
expect_eq "…and an archive of the rerun verifies" 0 "$rc"
finish
