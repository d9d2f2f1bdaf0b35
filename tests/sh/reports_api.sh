# reports_api.sh - on-demand compliance reports end to end through auditdb serve (issue 19;
# docs/reports.md): a HIPAA report's figures from known events, naming them; its artifact's
# SHA-256, signed note and checkpoint checked offline by `auditdb verify-proof --report`
# (a changed byte refused); a second report consistent with the first; the integrity report
# valid, then naming the one event a superuser changed by SQL while its own signature and
# checkpoint still verify; status, download, cancel, history; attackers: another
# organization's key, a key without the permission, no key, hostile criteria; the CLI.
. tests/lib.sh

fresh_db t_reports_api
"$AUDITDB_BIN" migrate >/dev/null
A_ADMIN=$(newkey org-a admin)
A_AUD=$(newkey org-a auditor)
A_VIEW=$(newkey org-a viewer)
B_ADMIN=$(newkey org-b admin)
if ! start_serve "$TEST_TMP/serve.log"; then
    not_ok "serve starts"; diag "$(cat "$TEST_TMP/serve.log")"; finish
fi
ok "serve starts"
J='Content-Type: application/json'
R=/api/v1/compliance/reports
# jraw FILTER: a string member of HTTP_BODY, byte for byte (a signed note ends in one newline)
jraw() { printf '%s' "$HTTP_BODY" | python3 -c 'import json,sys; sys.stdout.write(eval(sys.argv[1],{"d":json.load(sys.stdin)}))' "$1"; }

ev() { # TS ACTION STATUS PRINCIPAL CLASS PATIENT
    printf '{"timestamp":"%s","action":"%s","status":"%s","principalId":"%s","dataClassification":"%s","targetResourceType":"Patient","targetResourceId":"%s"}' "$@"
}
{
    printf '{"events":['
    ev 2026-11-02T10:00:00Z record.read success dr-1 PHI P-1; printf ,
    ev 2026-11-02T11:00:00Z record.read success dr-1 PHI P-2; printf ,
    ev 2026-11-03T09:00:00Z record.update success dr-2 PHI P-1; printf ,
    ev 2026-11-03T09:30:00Z record.read failure intruder PHI P-1; printf ,
    ev 2026-11-04T02:00:00Z break-glass.access success er-1 PHI P-3; printf ,
    ev 2026-11-05T08:00:00Z login success dr-1 INTERNAL none; printf ,
    ev 2026-10-30T08:00:00Z record.read failure old PHI P-1
    printf ']}'
} >"$TEST_TMP/a.json"
http POST /api/v1/audit/events/bulk -H "X-API-Key: $A_ADMIN" -H "$J" --data-binary @"$TEST_TMP/a.json"
expect_eq "org-a's events are stored" 7 "$(jbody 'd["successful"]')"
printf '{"events":[%s]}' "$(ev 2026-11-02T10:00:00Z record.read failure b-user PHI P-9)" >"$TEST_TMP/b.json"
http POST /api/v1/audit/events/bulk -H "X-API-Key: $B_ADMIN" -H "$J" --data-binary @"$TEST_TMP/b.json"
expect_eq "org-b's event is stored" 1 "$(jbody 'd["successful"]')"
sleep 1 # the tree integrates and the checkpointer signs

CRIT='{"criteria":{"dateRange":{"startDate":"2026-11-01T00:00:00Z","endDate":"2026-11-30T23:59:59Z"}}}'
http POST $R/hipaa -H "X-API-Key: $A_AUD" -H "$J" -d "$CRIT"
expect_eq "the auditor generates a HIPAA report" 200 "$HTTP_STATUS"
printf '%s' "$HTTP_BODY" >"$TEST_TMP/hipaa1.json"
fig() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
print([f["value"] for f in d["figures"] if f["id"]==sys.argv[2]][0])' "$1" "$2"; }
expect_eq "figures: 6 events in the period (not the one before, not org-b's)" 6 "$(fig "$TEST_TMP/hipaa1.json" totalEvents)"
expect_eq "figures: 3 PHI accesses" 3 "$(fig "$TEST_TMP/hipaa1.json" phiAccesses)"
expect_eq "figures: 1 PHI modification" 1 "$(fig "$TEST_TMP/hipaa1.json" phiModifications)"
expect_eq "figures: 1 unauthorized attempt" 1 "$(fig "$TEST_TMP/hipaa1.json" unauthorizedAttempts)"
expect_eq "figures: 1 break-glass access" 1 "$(fig "$TEST_TMP/hipaa1.json" emergencyAccesses)"
intruder=$(sql "SELECT event_id FROM audit_log WHERE principal_id = 'intruder'")
named=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
print([f["events"] for f in d["figures"] if f["id"]=="unauthorizedAttempts"][0][0])' "$TEST_TMP/hipaa1.json")
expect_eq "the unauthorized attempt is named by its event id" "$intruder" "$named"
expect_eq "the client's shape: summary.violations and 3 sections" "2 3" \
    "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["summary"]["violations"], len(d["sections"]))' "$TEST_TMP/hipaa1.json")"
shapes() { python3 tests/tools/client_shapes.py "$@"; }
expect_eq "the HIPAA report has the client's HIPAAReport shape" "" "$(shapes hipaa-report "$TEST_TMP/hipaa1.json")"
ID1=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$TEST_TMP/hipaa1.json")

http GET "$R/$ID1/status" -H "X-API-Key: $A_AUD"
expect_eq "status: completed" completed "$(jbody 'd["status"]')"
printf '%s' "$HTTP_BODY" >"$TEST_TMP/status.json"
expect_eq "...in the client's shape" "" "$(shapes report-status "$TEST_TMP/status.json")"
HASH1=$(jbody 'd["reportHash"]')
jraw 'd["signedNote"]' >"$TEST_TMP/r1.note"
curl -s -o "$TEST_TMP/r1.json" -H "X-API-Key: $A_AUD" "$BASE_URL$R/$ID1/download"
expect_eq "download: the artifact whose SHA-256 is reportHash" "$HASH1" "$(sha256sum <"$TEST_TMP/r1.json" | cut -d' ' -f1)"
# compression (rxlsx): the signed bytes inside, unchanged; xlsx rendered from the document
curl -s -D "$TEST_TMP/gz.h" -o "$TEST_TMP/r1.json.gz" -H "X-API-Key: $A_AUD" "$BASE_URL$R/$ID1/download?compression=gzip"
expect_eq "download gzip: the artifact inside is the one of reportHash" "$HASH1" "$(gunzip -c <"$TEST_TMP/r1.json.gz" | sha256sum | cut -d' ' -f1)"
expect_match "...as application/gzip, a .gz file name, X-Report-SHA256 the inner artifact's" \
    "json\.gz.*gzip.*$HASH1" "$(tr -d '\r' <"$TEST_TMP/gz.h" | grep -iE '^(content-type|content-disposition|x-report-sha256):' | sort | tr '\n' ' ')"
curl -s -o "$TEST_TMP/r1.zip" -H "X-API-Key: $A_AUD" "$BASE_URL$R/$ID1/download?compression=zip"
expect_eq "download zip: one entry, the artifact of reportHash (CRC checked)" "1 $HASH1" "$(python3 -c 'import hashlib,sys,zipfile
z=zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; n=z.namelist()
print(len(n), hashlib.sha256(z.read(n[0])).hexdigest())' "$TEST_TMP/r1.zip")"
http GET "$R/$ID1/download?compression=bzip2" -H "X-API-Key: $A_AUD"
expect_eq "download bzip2: 400 UNSUPPORTED_COMPRESSION naming compression" "400 compression UNSUPPORTED_COMPRESSION" \
    "$HTTP_STATUS $(jbody 'd["error"]["details"]["errors"][0]["field"]') $(jbody 'd["error"]["details"]["errors"][0]["code"]')"
http GET "$R/$ID1/download?compression=rar" -H "X-API-Key: $A_AUD"
expect_eq "download rar: 400 naming compression" "400 compression" "$HTTP_STATUS $(jbody 'd["error"]["details"]["errors"][0]["field"]')"
curl -s -o "$TEST_TMP/r1.xlsx" -H "X-API-Key: $A_AUD" "$BASE_URL$R/$ID1/download?format=xlsx"
python3 tests/tools/report_totals.py json "$TEST_TMP/r1.json" >"$TEST_TMP/r1.totals"
python3 tests/tools/report_totals.py xlsx "$TEST_TMP/r1.xlsx" >"$TEST_TMP/r1.xlsx.totals"
check "download format=xlsx: a workbook with the report's figures, tables and charts" python3 -c 'import json,sys
a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2]))
sys.exit(0 if all(a[k] == b[k] for k in ("figures","tables","charts","checkpoints")) else 1)' "$TEST_TMP/r1.totals" "$TEST_TMP/r1.xlsx.totals"
curl -s -H "X-API-Key: $A_ADMIN" "$BASE_URL/api/v1/audit/log/vkey" >"$TEST_TMP/log.vkey"
check "verify-proof --report: signature, hash, checkpoint" "$AUDITDB_BIN" verify-proof --report "$TEST_TMP/r1.note" \
    --artifact "$TEST_TMP/r1.json" --vkey @"$TEST_TMP/log.vkey" --org org-a --quiet
"$AUDITDB_BIN" verify-proof --report "$TEST_TMP/r1.note" --artifact "$TEST_TMP/r1.json" \
    --vkey @"$TEST_TMP/log.vkey" --org org-b --quiet 2>/dev/null
expect_eq "verify-proof refuses the report as another organization's (exit 4)" 4 $?
sed 's/"totalEvents":6/"totalEvents":5/' "$TEST_TMP/r1.json" >"$TEST_TMP/r1.bad"
"$AUDITDB_BIN" verify-proof --report "$TEST_TMP/r1.note" --artifact "$TEST_TMP/r1.bad" \
    --vkey @"$TEST_TMP/log.vkey" --quiet 2>"$TEST_TMP/err"
expect_eq "a changed figure in the artifact is refused (exit 4)" 4 $?
expect_match "...because its SHA-256 is not the note's" "not the signed artifact" "$(cat "$TEST_TMP/err")"
# the first hex digit of the hash changed (to 1 when it is 0: a 0 left as 0 changes nothing)
sed '/^sha256 0/{s/^sha256 0/sha256 1/;b};s/^sha256 ./sha256 0/' "$TEST_TMP/r1.note" >"$TEST_TMP/r1.badnote"
check "the edited note differs from the signed one" test "$(cksum <"$TEST_TMP/r1.note")" != "$(cksum <"$TEST_TMP/r1.badnote")"
"$AUDITDB_BIN" verify-proof --report "$TEST_TMP/r1.badnote" --artifact "$TEST_TMP/r1.json" \
    --vkey @"$TEST_TMP/log.vkey" --quiet 2>/dev/null
expect_eq "a note whose hash line was edited fails its signature (exit 4)" 4 $?

# more events, a second report: consistent with the first's checkpoint
printf '{"events":[%s]}' "$(ev 2026-11-06T10:00:00Z record.read success dr-3 PHI P-4)" >"$TEST_TMP/a2.json"
http POST /api/v1/audit/events/bulk -H "X-API-Key: $A_ADMIN" -H "$J" --data-binary @"$TEST_TMP/a2.json"
sleep 1
http POST $R/hipaa -H "X-API-Key: $A_AUD" -H "$J" -d "$CRIT"
ID2=$(jbody 'd["id"]')
expect_eq "the second report names the first as previous" "$ID1" "$(jbody 'd["provenance"]["previous"]["reportId"]')"
http GET "$R/$ID2/status" -H "X-API-Key: $A_AUD"
jraw 'd["signedNote"]' >"$TEST_TMP/r2.note"
curl -s -o "$TEST_TMP/r2.json" -H "X-API-Key: $A_AUD" "$BASE_URL$R/$ID2/download"
out=$("$AUDITDB_BIN" verify-proof --report "$TEST_TMP/r2.note" --artifact "$TEST_TMP/r2.json" \
    --vkey @"$TEST_TMP/log.vkey" --previous "$TEST_TMP/r1.note" --org org-a 2>&1)
expect_eq "verify-proof: the second report extends the first (consistency proof)" 0 $?
expect_match "...and says which entries are new" "consistent with report $ID1 at size 7: entries 8 to 8 are new" "$out"
"$AUDITDB_BIN" verify-proof --report "$TEST_TMP/r1.note" --artifact "$TEST_TMP/r1.json" \
    --vkey @"$TEST_TMP/log.vkey" --previous "$TEST_TMP/r2.note" --quiet 2>/dev/null
expect_eq "the first report does not follow the second (exit 4)" 4 $?

# integrity: valid, then one event changed by SQL
http POST $R/integrity -H "X-API-Key: $A_AUD" -H "$J" -d "$CRIT"
expect_eq "the integrity report is generated" 200 "$HTTP_STATUS"
expect_eq "integrity: 8/8 events valid, every checkpoint valid" "8/8 True" \
    "$(jbody 'str(d["results"]["verifiedEvents"])+"/"+str(d["results"]["totalEvents"])+" "+str(d["results"]["checkpointsValid"]==d["results"]["checkpointsChecked"]>0)')"
victim=$(sql "SELECT event_id FROM audit_log WHERE principal_id = 'dr-2'")
sql "UPDATE audit_log SET principal_id = 'dr-9' WHERE principal_id = 'dr-2'"
http POST $R/integrity -H "X-API-Key: $A_AUD" -H "$J" -d "$CRIT"
IDI=$(jbody 'd["id"]')
printf '%s' "$HTTP_BODY" >"$TEST_TMP/integ.json"
expect_eq "after one event is changed by SQL: 7/8 valid, invalid" "7/8 False" \
    "$(jbody 'str(d["results"]["verifiedEvents"])+"/"+str(d["results"]["totalEvents"])+" "+str(d["results"]["valid"])')"
expect_eq "the integrity report has the client's IntegrityVerificationReport shape" "" "$(shapes integrity-report "$TEST_TMP/integ.json")"
expect_eq "...naming the changed event" "$victim" "$(jbody '[f["events"][0] for f in d["figures"] if f["id"]=="eventsBroken"][0]')"
http GET "$R/$IDI/status" -H "X-API-Key: $A_AUD"
jraw 'd["signedNote"]' >"$TEST_TMP/ri.note"
curl -s -o "$TEST_TMP/ri.json" -H "X-API-Key: $A_AUD" "$BASE_URL$R/$IDI/download"
check "the failing integrity report's signature and checkpoints verify with verify-proof" \
    "$AUDITDB_BIN" verify-proof --report "$TEST_TMP/ri.note" --artifact "$TEST_TMP/ri.json" \
    --vkey @"$TEST_TMP/log.vkey" --org org-a --quiet

# other types answer in the client's shapes
http POST $R/gdpr -H "X-API-Key: $A_AUD" -H "$J" -d "$CRIT"
expect_eq "GDPR report: 200, GDPRReport summary" "200 true" "$HTTP_STATUS $(jbody '"lawfulBases" in d["summary"] and d["type"]=="GDPR_PROCESSING_ACTIVITIES"')"
printf '%s' "$HTTP_BODY" >"$TEST_TMP/gdpr.json"
expect_eq "...in the client's GDPRReport shape" "" "$(shapes gdpr-report "$TEST_TMP/gdpr.json")"
http POST $R/general -H "X-API-Key: $A_AUD" -H "$J" -d "$CRIT"
expect_eq "general report: 200" 200 "$HTTP_STATUS"
http POST $R/custom -H "X-API-Key: $A_AUD" -H "$J" -d '{"name":"failures","includeRawData":true,"criteria":{"dateRange":{"startDate":"2026-11-01T00:00:00Z","endDate":"2026-11-30T23:59:59Z"},"statuses":["failure"]}}'
expect_eq "custom report: the one failure, as data" "200 custom 1" "$HTTP_STATUS $(jbody 'd["type"]') $(jbody 'len(d["data"])')"
printf '%s' "$HTTP_BODY" >"$TEST_TMP/custom.json"
expect_eq "...in the client's CustomReport shape" "" "$(shapes custom-report "$TEST_TMP/custom.json")"

http POST $R/hipaa -H "X-API-Key: $A_AUD" -H "$J" -d "$(printf '%s' "$CRIT" | sed 's/}}}$/}},"format":"xlsx"}/')"
expect_eq "a report generated as xlsx" 200 "$HTTP_STATUS"
IDX=$(jbody 'd["id"]')
http GET "$R/$IDX/status" -H "X-API-Key: $A_AUD"
HASHX=$(jbody 'd["reportHash"]')
jraw 'd["signedNote"]' >"$TEST_TMP/rx.note"
curl -s -o "$TEST_TMP/rx.xlsx" -H "X-API-Key: $A_AUD" "$BASE_URL$R/$IDX/download"
expect_eq "...its stored workbook is the signed artifact" "$HASHX" "$(sha256sum <"$TEST_TMP/rx.xlsx" | cut -d' ' -f1)"
check "...and verify-proof checks it (signature, hash, checkpoint)" "$AUDITDB_BIN" verify-proof --report "$TEST_TMP/rx.note" \
    --artifact "$TEST_TMP/rx.xlsx" --vkey @"$TEST_TMP/log.vkey" --org org-a --quiet

# history, cancel, refusals
http GET "$R/history/org-a?limit=2" -H "X-API-Key: $A_AUD"
expect_eq "history: newest first, paginated" "200 2 true" "$HTTP_STATUS $(jbody 'len(d["reports"])') $(jbody 'd["pagination"]["hasNext"]')"
printf '%s' "$HTTP_BODY" >"$TEST_TMP/history.json"
expect_eq "...in the client's shape" "" "$(shapes report-history "$TEST_TMP/history.json")"
http GET "$R/history/org-a" -H "X-API-Key: $B_ADMIN"
expect_eq "history of another organization: 403" 403 "$HTTP_STATUS"
http GET "$R/$ID1/status" -H "X-API-Key: $B_ADMIN"
expect_eq "another organization's report: 404" 404 "$HTTP_STATUS"
http GET "$R/$ID1/download" -H "X-API-Key: $B_ADMIN"
expect_eq "...and its download: 404" 404 "$HTTP_STATUS"
http POST "$R/$ID1/cancel" -H "X-API-Key: $A_AUD"
expect_eq "cancel of a completed report: 409" 409 "$HTTP_STATUS"
http POST $R/hipaa -H "X-API-Key: $A_VIEW" -H "$J" -d "$CRIT"
expect_eq "a viewer may not generate: 403" 403 "$HTTP_STATUS"
http POST $R/hipaa -H "$J" -d "$CRIT"
expect_eq "no key: 401" 401 "$HTTP_STATUS"
http POST $R/hipaa -H "X-API-Key: $A_AUD" -H "$J" -d '{"criteria":{"dateRange":{"startDate":"now","endDate":"2026-11-30T23:59:59Z"}}}'
expect_eq "a bad date: 400 naming criteria.dateRange.startDate" "400 criteria.dateRange.startDate" \
    "$HTTP_STATUS $(jbody 'd["error"]["details"]["errors"][0]["field"]')"
http POST $R/hipaa -H "X-API-Key: $A_AUD" -H "$J" -d '{"criteria":{"dateRange":{"startDate":"2026-11-01T00:00:00Z","endDate":"2026-11-30T23:59:59Z"},"principalIds":["x'"'"' OR 1=1 --"]}}'
expect_eq "an injection attempt in a filter is a value: 0 events" "200 0" "$HTTP_STATUS $(jbody 'd["summary"]["totalEvents"]')"
http POST $R/hipaa -H "X-API-Key: $A_AUD" -H "$J" -d '{"criteria":{},"sneaky":1}'
expect_eq "an unknown member: 400 naming it" "400 sneaky" "$HTTP_STATUS $(jbody 'd["error"]["details"]["errors"][0]["field"]')"
expect_eq "refused requests wrote no report row" 0 "$(sql "SELECT count(*) FROM compliance_reports WHERE status NOT IN ('completed')")"
expect_eq "no report content in the server's log" "" "$(grep -l "intruder\|P-1" "$TEST_TMP/serve.log" 2>/dev/null)"
stop_serve
expect_eq "serve stopped without a sanitizer report" "" "$(grep -E 'Sanitizer|runtime error' "$TEST_TMP/serve.log" | head -3)"

# the CLI: generate, show, verify (with the previous report)
out=$("$AUDITDB_BIN" reports generate --type hipaa --org org-a --from 2026-11-01T00:00:00Z \
    --to 2026-11-30T23:59:59Z --output "$TEST_TMP/cli.json" 2>&1)
expect_eq "reports generate: exit 0" 0 $?
IDC=$(printf '%s' "$out" | sed -n 's/^report \([^ ]*\) .*/\1/p')
expect_eq "...7 events, the artifact written" 7 "$(fig "$TEST_TMP/cli.json" totalEvents)"
out=$("$AUDITDB_BIN" reports verify "$IDC" --org org-a --previous 2>&1)
expect_eq "reports verify --previous: exit 0" 0 $?
expect_match "...following the API's last HIPAA report (no event since)" "the same log as report" "$out"
sql "UPDATE compliance_reports SET artifact = artifact || '\\x20'::bytea WHERE id = '$IDC'"
"$AUDITDB_BIN" reports verify "$IDC" --org org-a >/dev/null 2>&1
expect_eq "reports verify after a superuser appended a byte to the artifact: exit 4" 4 $?
"$AUDITDB_BIN" reports generate --type integrity --org org-a --from 2026-11-01T00:00:00Z \
    --to 2026-11-30T23:59:59Z --output "$TEST_TMP/cli-integ.json" >/dev/null 2>&1
expect_eq "reports generate --type integrity: exit 0" 0 $?
# cfailures FILE: the failures table's event ids, and whether a row is about the checkpoint file
cfailures() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
t=[t for t in d["tables"] if t["id"]=="failures"][0]["rows"]
print(" ".join(sorted(set(r[0] for r in t if r[0]))), any("checkpoint file" in str(r[3]) for r in t))' "$1"; }
expect_eq "...names the changed event, no problem with the checkpoint file" "$victim False" "$(cfailures "$TEST_TMP/cli-integ.json")"
cpf=$(grep -l "org-a" "$AUDITDB_CHECKPOINT_DIR"/*.checkpoint | head -1)
printf 'not a signed note\n' >"$cpf"
"$AUDITDB_BIN" reports generate --type integrity --org org-a --from 2026-11-01T00:00:00Z \
    --to 2026-11-30T23:59:59Z --output "$TEST_TMP/cli-integ2.json" >/dev/null 2>&1
expect_eq "...the CLI reads the file under AUDITDB_CHECKPOINT_DIR: a forged one is a problem" "True" \
    "$(cfailures "$TEST_TMP/cli-integ2.json" | awk '{print $NF}')"
"$AUDITDB_BIN" reports generate --type hipaa --org org-none --from 2026-11-01T00:00:00Z --to 2026-11-02T00:00:00Z >/dev/null 2>"$TEST_TMP/err"
expect_match "reports generate for an organization that does not exist: named" "organizationId: the organization does not exist" "$(cat "$TEST_TMP/err")"
"$AUDITDB_BIN" reports generate --type nope --from 2026-11-01T00:00:00Z --to 2026-11-02T00:00:00Z >/dev/null 2>&1
expect_eq "reports generate --type nope: usage error" 2 $?
finish
