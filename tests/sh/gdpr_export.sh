# gdpr_export.sh - the GDPR export of a data subject end to end through serve (issue 17 item 1,
# docs/gdpr.md): the four formats held against smart-logs' client shapes
# (tests/tools/client_shapes.py gdpr-*) and against golden files (tests/golden/gdpr_export.*,
# volatile members normalized by tests/tools/gdpr_golden.py); the Art. 15 answers from the
# purposes map, classifications, disclosures and retention policies; consultations shown by the
# organization's policy; archived events included; another organization's subject never
# appears; 403 without compliance.gdpr:export; 400 naming the field; CSV formula injection;
# XML well-formed; every NDJSON receipt verified offline by `auditdb verify-proof` and by
# tests/tools/adb_proof.py; the export recorded as an audit event of the organization.
. tests/lib.sh

PY="python3 tests/tools/adb_proof.py"
fresh_db t_gdpr_export
"$AUDITDB_BIN" migrate >/dev/null
key() { "$AUDITDB_BIN" keys create --org "$1" --role "$2" | sed -n 's/^key (shown once, store it now): //p'; }
KA=$(key org-a admin); KV=$(key org-a viewer); KB=$(key org-b admin); KU=$(key org-a auditor)
shapes() { python3 tests/tools/client_shapes.py "$@"; }
# GDPR_GOLDEN_UPDATE=1 writes the golden files instead of comparing (then read them: git diff)
golden() { python3 tests/tools/gdpr_golden.py "$([ -n "${GDPR_GOLDEN_UPDATE:-}" ] && echo update || echo "$1")" "$2" "$3"; }

# org-a: alice's own actions, others reading her record (one disclosing it), events of bob;
# fixed times; CSV and XML hostile values in alice's events. Two of them are old PUBLIC events
# that the maintenance round below archives.
python3 -c '
import json
def ev(ts, action, principal, target, cls="PHI", **kw):
    e = {"timestamp": ts, "action": action, "status": "success", "organizationId": "org-a",
         "principalId": principal, "targetResourceType": "Patient", "targetResourceId": target,
         "dataClassification": cls}
    e.update(kw)
    print(json.dumps(e))
ev("2026-10-01T10:00:00.000Z", "portal.login", "alice", "alice", "PUBLIC")
ev("2026-10-02T10:00:00.000Z", "portal.login", "alice", "alice", "PUBLIC")
ev("2026-12-01T09:00:00.000Z", "profile.update", "alice", "alice", "CONFIDENTIAL",
   outcomeDescription="=HYPERLINK(\"http://evil\",\"x\")")
ev("2026-12-01T09:30:00.000Z", "message.send", "alice", "clinic", "INTERNAL",
   details={"text": "<b a=\"1\">&amp; \u0001 \u00e9</b>", "n": "+1+cmd|calc"})
ev("2026-12-02T08:00:00.000Z", "patient.read", "dr-house", "alice", details={"principalRole": "physician"})
ev("2026-12-02T08:05:00.000Z", "patient.read", "nurse-1", "alice", details={"principalRole": "nurse", "purpose": "care"})
ev("2026-12-02T09:00:00.000Z", "record.disclose", "dr-house", "alice",
   details={"principalRole": "physician", "disclosure": {"recipient": "Insurer Ltd", "purpose": "payment"}})
ev("2026-12-02T09:10:00.000Z", "record.disclose", "dr-house", "alice",
   details={"disclosure": {"recipient": {"name": "State Registry", "address": "1 Main St"}, "purpose": "public health"}})
ev("2026-12-02T10:00:00.000Z", "patient.read", "dr-house", "bob")
ev("2026-12-02T10:05:00.000Z", "portal.login", "bob", "bob")
# carol: one consultation archived below (old, PUBLIC), one alike but for the date kept live
ev("2026-10-03T08:00:00.000Z", "patient.read", "dr-house", "carol", "PUBLIC", details={"principalRole": "physician"})
ev("2026-12-03T08:00:00.000Z", "patient.read", "dr-house", "carol", "PUBLIC", details={"principalRole": "physician"})
' | "$AUDITDB_BIN" import --quiet - >/dev/null
# org-b: the same subject id, which org-a's export must never show
python3 -c '
import json
for i, a in enumerate(["portal.login", "patient.read"]):
    print(json.dumps({"timestamp": "2026-12-01T0%d:00:00.000Z" % i, "action": a, "status": "success",
                      "organizationId": "org-b", "principalId": "alice" if i == 0 else "b-doc",
                      "targetResourceType": "Patient", "targetResourceId": "alice",
                      "details": {"secret": "ORG-B-ONLY"}}))' | "$AUDITDB_BIN" import --quiet - >/dev/null
out=$("$AUDITDB_BIN" maintenance run --now 2026-12-07T00:00:00Z 2>&1)
expect_eq "the three old PUBLIC events are archived" 3 \
    "$(sql "SELECT coalesce(sum((metadata->>'recordCount')::int), 0) FROM archive_storage WHERE organization_id = 'org-a' AND deleted_at IS NULL")"

LOG_SEED=$(printf '%064x' 7)
export AUDITDB_LOG_NAME=auditdb.test AUDITDB_LOG_KEY=$LOG_SEED
export AUDITDB_CHECKPOINT_DIR="$TEST_TMP/checkpoints" AUDITDB_CHECKPOINT_INTERVAL_MS=200
LOG_VKEY=$($PY vkey auditdb.test "$LOG_SEED")
if ! start_serve "$TEST_TMP/serve.log"; then
    not_ok "serve starts"; diag "$(tail -20 "$TEST_TMP/serve.log")"; finish
fi
trap 'stop_serve 2>/dev/null' EXIT
ok "serve starts"

G=/api/v1/compliance/gdpr
post() { curl -s -D "$TEST_TMP/$1.head" -o "$TEST_TMP/$1" -w '%{http_code}' -X "${5:-POST}" "$BASE_URL$2" \
    -H "X-API-Key: $3" -H 'Content-Type: application/json' --data-binary "$4"; }
jf() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); v=eval(sys.argv[2],{"d":d}); print(json.dumps(v) if isinstance(v,(dict,list,bool)) or v is None else v)' "$TEST_TMP/$1" "$2"; }
err() { echo "$1 $(jf "$2" 'd["error"]["details"]["errors"][0]["field"]')"; }

# ---- settings: purposes and the consultations policy --------------------------------------------
expect_eq "settings: a viewer may not set them (403)" 403 \
    "$(post x.json $G/settings "$KV" '{"consultations":"names"}' PUT)"
expect_eq "settings: a bad policy is 400 naming consultations" "400 consultations" \
    "$(err "$(post x.json $G/settings "$KA" '{"consultations":"everyone"}' PUT)" x.json)"
expect_eq "settings: a purpose without text is 400 naming it" "400 purposes.patient.read" \
    "$(err "$(post x.json $G/settings "$KA" '{"purposes":{"patient.read":{"purpose":""}}}' PUT)" x.json)"
expect_eq "settings: set" 200 "$(post set.json $G/settings "$KA" \
    '{"purposes":{"patient.read":{"purpose":"medical treatment","legalBasis":"Art. 9(2)(h)"},"portal.login":{"purpose":"account security","legalBasis":"Art. 6(1)(b)"},"gone.action":{"purpose":"x"}},"consultations":"roles"}' PUT)"
post set.json $G/settings "$KA" '{"purposes":{"gone.action":null}}' PUT >/dev/null
expect_eq "settings: read back, a null removed an action" '["patient.read", "portal.login"] roles' \
    "$(jf set.json 'sorted(d["purposes"])') $(jf set.json 'd["consultations"]')"
expect_eq "settings: org-b sees none of org-a's" '{}' \
    "$(curl -s "$BASE_URL$G/settings" -H "X-API-Key: $KB" | json 'd["purposes"]')"

# the tables themselves, as the request login: org-b's session sees and writes none of org-a's
as_tenant() { psql "$AUDIT_DB_URL" -qAtX -v ON_ERROR_STOP=1 -c 'BEGIN' -c "$(tenant_setting "$1")" -c 'SET LOCAL ROLE auditdb_app' -c "$2" -c 'COMMIT' 2>&1 | sed -n 2p; }
expect_eq "tables: org-a's session reads its 2 purposes and its policy (the check below can fail)" "2 1" \
    "$(as_tenant org-a "SELECT (SELECT count(*) FROM gdpr_action_purpose) || ' ' || (SELECT count(*) FROM gdpr_export_policy)")"
expect_eq "tables: org-b's session reads none of them" "0 0" \
    "$(as_tenant org-b "SELECT (SELECT count(*) FROM gdpr_action_purpose) || ' ' || (SELECT count(*) FROM gdpr_export_policy)")"
if psql "$AUDIT_DB_URL" -qAtX -v ON_ERROR_STOP=1 -c 'BEGIN' -c "$(tenant_setting org-b)" -c 'SET LOCAL ROLE auditdb_app' \
    -c "INSERT INTO gdpr_action_purpose (organization_id, action, purpose) VALUES ('org-a', 'x', 'planted')" -c 'COMMIT' >/dev/null 2>&1; then
    not_ok "tables: org-b's session cannot plant a purpose in org-a's map"
else ok "tables: org-b's session cannot plant a purpose in org-a's map"; fi

# ---- refusals -----------------------------------------------------------------------------------
B='{"dataSubjectId":"alice","organizationId":"org-a","includePersonalData":true,"includePseudonymizedData":false,"includeMetadata":true,"format":"json"}'
expect_eq "export: 403 without compliance.gdpr:export" 403 "$(post x.json $G/export "$KV" "$B")"
expect_eq "export: no subject is 400 naming dataSubjectId" "400 dataSubjectId" \
    "$(err "$(post x.json $G/export "$KA" '{"format":"json"}')" x.json)"
expect_eq "export: a bad format is 400 naming format" "400 format" \
    "$(err "$(post x.json $G/export "$KA" '{"dataSubjectId":"alice","format":"pdf"}')" x.json)"
expect_eq "export: a bad date is 400 naming dateRange.startDate" "400 dateRange.startDate" \
    "$(err "$(post x.json $G/export "$KA" '{"dataSubjectId":"alice","dateRange":{"startDate":"yesterday"}}')" x.json)"
expect_eq "export: an unknown member is 400 naming it" "400 bogus" \
    "$(err "$(post x.json $G/export "$KA" '{"dataSubjectId":"alice","bogus":1}')" x.json)"
expect_eq "export: encryption asked is 400 naming encryption.enabled" "400 encryption.enabled" \
    "$(err "$(post x.json $G/export "$KA" '{"dataSubjectId":"alice","encryption":{"enabled":true}}')" x.json)"
expect_eq "export: naming another organization is 403" 403 \
    "$(post x.json $G/export "$KA" '{"dataSubjectId":"alice","organizationId":"org-b"}')"

# ---- JSON (exportGdprData) ----------------------------------------------------------------------
expect_eq "json: 200" 200 "$(post a.json $G/export "$KA" "$B")"
expect_eq "json: the client's GdprExportResult, org-a's events about alice only (6 live + 2 archived)" "count 8" \
    "$(shapes gdpr-json "$TEST_TMP/a.json" org-a alice)"
expect_eq "json: nothing of org-b" "" "$(grep -o 'ORG-B-ONLY\|b-doc' "$TEST_TMP/a.json")"
expect_eq "json: purposes from the map, an undeclared action said so" \
    '[["message.send", "not declared by the organization"], ["patient.read", "medical treatment"], ["portal.login", "account security"], ["profile.update", "not declared by the organization"], ["record.disclose", "not declared by the organization"]]' \
    "$(jf a.json '[[p["action"], p["purpose"]] for p in d["article15"]["purposes"]]')"
expect_eq "json: recipients from disclosure events (a name, or {name, address})" '[["Insurer Ltd", 1], ["State Registry", 1]]' \
    "$(jf a.json '[[r["recipient"], r["disclosures"]] for r in d["article15"]["recipients"]]')"
expect_eq "json: categories from the classification (archived events' too)" '["CONFIDENTIAL", "INTERNAL", "PHI", "PUBLIC"]' \
    "$(jf a.json 'd["metadata"]["categories"]')"
expect_eq "json: storage periods from the retention policies" '[["PHI", 2555]]' \
    "$(jf a.json '[[s["category"], s["retentionDays"]] for s in d["article15"]["storagePeriod"]["policies"] if s["category"] == "PHI"]')"
expect_eq "json: consultations (others acting on alice's records) with date, purpose and role" \
    '[["2026-12-02T08:00:00.000000Z", "medical treatment", "physician"], ["2026-12-02T08:05:00.000000Z", "care", "nurse"], ["2026-12-02T09:00:00.000000Z", "payment", "physician"], ["2026-12-02T09:10:00.000000Z", "public health", "not recorded"]]' \
    "$(jf a.json '[[c["date"], c["purpose"], c["consultedBy"]] for c in d["consultations"]]')"
expect_eq "json: archived events are included" 2 \
    "$(jf a.json 'len([e for e in d["events"] if e["action"] == "portal.login"])')"
expect_eq "json: golden (tests/golden/gdpr_export.json)" "" "$(golden check json "$TEST_TMP/a.json")"

post set.json $G/settings "$KA" '{"consultations":"names"}' PUT >/dev/null
post a2.json $G/export "$KA" "$B" >/dev/null
expect_eq "policy names: who consulted is the principal" '["dr-house", "nurse-1", "dr-house"]' \
    "$(jf a2.json '[c["consultedBy"] for c in d["consultations"][:3]]')"
post set.json $G/settings "$KA" '{"consultations":"hidden"}' PUT >/dev/null
post a3.json $G/export "$KA" "$B" >/dev/null
expect_eq "policy hidden: nobody is named" '[null, null, null]' \
    "$(jf a3.json '[c["consultedBy"] for c in d["consultations"][:3]]')"
expect_eq "hidden: nor anywhere in the consultations" "" \
    "$(jf a3.json 'd["consultations"]' | grep -o 'dr-house\|physician')"
post set.json $G/settings "$KA" '{"consultations":"roles"}' PUT >/dev/null

# ---- the export is an audit event and a data-subject request --------------------------------------
expect_eq "the export is a data-subject request of org-a, completed, with its outcome" "access completed 8" \
    "$(sql "SELECT kind, status, outcome->>'recordCount' FROM data_subject_request WHERE organization_id = 'org-a' ORDER BY received_at LIMIT 1" | tr '|' ' ')"
expect_eq "...named in the export" "$(sql "SELECT id FROM data_subject_request WHERE organization_id = 'org-a' ORDER BY received_at LIMIT 1")" \
    "$(jf a.json 'd["dataSubjectRequestId"]')"
expect_eq "an auditor (compliance.gdpr:export) may export" 200 "$(post u.json $G/export "$KU" "$B")"
expect_eq "...but not change the settings (compliance.gdpr:configure)" 403 "$(post x.json $G/settings "$KU" '{"consultations":"names"}' PUT)"
expect_eq "the export is an audit event of org-a (gdpr.export, target alice)" "gdpr.export alice" \
    "$(sql "SELECT action, target_resource_id FROM audit_log WHERE organization_id = 'org-a' AND action = 'gdpr.export' LIMIT 1" | tr '|' ' ')"
post a4.json $G/export "$KA" "$B" >/dev/null
expect_eq "...and a consultation in the next export, with its purpose" "answering a data subject request" \
    "$(jf a4.json '[c["purpose"] for c in d["consultations"] if c["action"] == "gdpr.export"][0]')"
expect_eq "...but not an event of the export that made it (the window ends at the request)" 0 \
    "$(jf a.json 'len([e for e in d["events"] if e["action"] == "gdpr.export"])')"

# ---- CSV, XML ----------------------------------------------------------------------------------
C='{"dataSubjectId":"alice","format":"csv","dateRange":{"startDate":"2026-01-01T00:00:00Z","endDate":"2026-12-06T00:00:00Z"}}'
expect_eq "csv: 200, text/csv" "200 text/csv; charset=utf-8" \
    "$(post a.csv $G/export "$KA" "$C") $(tr -d '\r' <"$TEST_TMP/a.csv.head" | sed -n 's/^[Cc]ontent-[Tt]ype: //p')"
expect_eq "csv: every cell safe from formula injection, 8 events" "count 8" "$(shapes gdpr-csv "$TEST_TMP/a.csv" org-a alice)"
expect_match "csv: the formula is quoted text" "\"'=HYPERLINK" "$(cat "$TEST_TMP/a.csv")"
expect_eq "csv: golden (tests/golden/gdpr_export.csv)" "" "$(golden check csv "$TEST_TMP/a.csv")"
# ---- auditdb gdpr export: the same document as the route -------------------------------------------
"$AUDITDB_BIN" gdpr export --org org-a --subject alice --format csv --from 2026-01-01T00:00:00Z \
    --to 2026-12-06T00:00:00Z --output "$TEST_TMP/cli.csv" 2>"$TEST_TMP/cli.err"
expect_eq "cli: exit 0" 0 "$?"
expect_eq "cli: the route's CSV, byte for byte modulo volatile members (golden)" "" "$(golden check csv "$TEST_TMP/cli.csv")"
expect_eq "cli: recorded as a request handled by cli:<user>" 1 \
    "$(sql "SELECT count(*) FROM data_subject_request WHERE organization_id = 'org-a' AND handled_by LIKE 'cli:%'")"
"$AUDITDB_BIN" gdpr export --org org-a --format json >/dev/null 2>"$TEST_TMP/cli.err"
expect_eq "cli: without --subject, exit 2 and a message naming it" "2 --subject" \
    "$? $(grep -o -- '--subject' "$TEST_TMP/cli.err" | head -1)"
"$AUDITDB_BIN" gdpr export --org org-a --subject alice --format pdf >/dev/null 2>"$TEST_TMP/cli.err"
expect_eq "cli: a bad format, exit 2" 2 "$?"
expect_eq "xml: 200" 200 "$(post a.xml $G/export "$KA" '{"dataSubjectId":"alice","format":"xml","dateRange":{"endDate":"2026-12-06T00:00:00Z"}}')"
expect_eq "xml: well-formed, the Art. 15 answers, 8 events about alice" "count 8" "$(shapes gdpr-xml "$TEST_TMP/a.xml" org-a alice)"
expect_eq "xml: golden (tests/golden/gdpr_export.xml)" "" "$(golden check xml "$TEST_TMP/a.xml")"
expect_eq "another organization's export of the same subject id shows its own only" "count 2" \
    "$(post b.json $G/export "$KB" '{"dataSubjectId":"alice"}' >/dev/null; shapes gdpr-json "$TEST_TMP/b.json" org-b alice)"

# ---- NDJSON stream (streamGdprExport) with receipts -----------------------------------------------
i=0  # wait for a checkpoint covering org-a's tree
while [ $i -lt 100 ]; do
    n=$(sql "SELECT count(*) FROM log_checkpoint c JOIN audit_tree t USING (organization_id) WHERE organization_id = 'org-a' AND c.tree_size >= t.size")
    [ "$n" != 0 ] && break
    sleep 0.2; i=$((i + 1))
done
S='{"dataSubjectId":"alice","organizationId":"org-a","includePersonalData":true,"includePseudonymizedData":false,"includeMetadata":true,"format":"ndjson","dateRange":{"endDate":"2026-12-06T00:00:00Z"}}'
expect_eq "stream: 200, NDJSON" "200 application/x-ndjson" \
    "$(post a.ndjson $G/export/stream "$KA" "$S") $(tr -d '\r' <"$TEST_TMP/a.ndjson.head" | sed -n 's/^[Cc]ontent-[Tt]ype: //p')"
expect_eq "stream: header, consultations, events, trailer in the client's shapes" "count 8" \
    "$(shapes gdpr-ndjson "$TEST_TMP/a.ndjson" org-a alice)"
expect_eq "stream: golden (tests/golden/gdpr_export.ndjson)" "" "$(golden check ndjson "$TEST_TMP/a.ndjson")"
mkdir -p "$TEST_TMP/r"
python3 -c '
import json, sys
n = 0
for l in open(sys.argv[1]):
    o = json.loads(l)
    if o.get("recordType") != "event" or not o.get("receipt"):
        continue
    open("%s/%d.tlog-proof" % (sys.argv[2], n), "w").write(o["receipt"])
    json.dump(o["event"], open("%s/%d.json" % (sys.argv[2], n), "w"))
    n += 1
print(n)' "$TEST_TMP/a.ndjson" "$TEST_TMP/r" >"$TEST_TMP/r/n"
expect_eq "stream: every event carries its receipt" 8 "$(cat "$TEST_TMP/r/n")"
c_ok=0; p_ok=0
for f in "$TEST_TMP"/r/*.tlog-proof; do
    ev=${f%.tlog-proof}.json
    if "$AUDITDB_BIN" verify-proof "$f" --vkey "$LOG_VKEY" --org org-a --event "$ev" >"$TEST_TMP/vp.out" 2>&1; then
        c_ok=$((c_ok + 1))
    else diag "verify-proof: $(cat "$TEST_TMP/vp.out")"; fi
    if $PY verify "$f" --vkey "$LOG_VKEY" --org org-a --event "$ev" >"$TEST_TMP/py.out" 2>&1; then
        p_ok=$((p_ok + 1))
    else diag "adb_proof.py: $(cat "$TEST_TMP/py.out")"; fi
done
expect_eq "stream: auditdb verify-proof accepts every receipt with its event, offline" 8 "$c_ok"
expect_eq "stream: adb_proof.py (from the specs alone) accepts every receipt with its event" 8 "$p_ok"
# a receipt moved onto another event of the export is refused
f0="$TEST_TMP/r/0.tlog-proof"; e1="$TEST_TMP/r/1.json"
if "$AUDITDB_BIN" verify-proof "$f0" --vkey "$LOG_VKEY" --org org-a --event "$e1" >/dev/null 2>&1; then
    not_ok "stream: a receipt does not prove another event"
else ok "stream: a receipt does not prove another event"; fi
expect_eq "stream: includePersonalData false: the answers and consultations, no event" "0 4" \
    "$(post p.ndjson $G/export/stream "$KA" '{"dataSubjectId":"alice","includePersonalData":false,"dateRange":{"endDate":"2026-12-06T00:00:00Z"}}' >/dev/null
       python3 -c 'import json,sys; L=[json.loads(l) for l in open(sys.argv[1])]; print(sum(l["recordType"]=="event" for l in L), sum(l["recordType"]=="consultation" for l in L))' "$TEST_TMP/p.ndjson")"

# ---- archived consultations: listed like live ones, once (docs/gdpr.md "Consultations") ----------
expect_eq "carol: her old consultation is archived, not in audit_log" "0 1" \
    "$(sql "SELECT count(*) FILTER (WHERE timestamp < '2026-11-01'), count(*) FROM audit_log WHERE organization_id = 'org-a' AND target_resource_id = 'carol'" | tr '|' ' ')"
for f in json ndjson; do
    post carol.$f $G/export "$KA" '{"dataSubjectId":"carol","includePersonalData":false,"format":"'$f'","dateRange":{"endDate":"2026-12-06T00:00:00Z"}}' >/dev/null
    python3 -c '
import json, sys
t = open(sys.argv[1]).read()
C = json.loads(t)["consultations"] if sys.argv[2] == "json" else \
    [o for o in map(json.loads, t.splitlines()) if o.get("recordType") == "consultation"]
for c in C:
    c.pop("recordType", None)
ids = [c.pop("eventId") for c in C]
dates = [c.pop("date") for c in C]
print(len(C), len(set(ids)), dates, C[0] == C[1], json.dumps(C[0], sort_keys=True))' "$TEST_TMP/carol.$f" $f >"$TEST_TMP/carol.$f.out" 2>&1
    expect_eq "$f: the archived consultation once, then the live one, the same members but the date" \
        "2 2 ['2026-10-03T08:00:00.000000Z', '2026-12-03T08:00:00.000000Z'] True {\"action\": \"patient.read\", \"consultedBy\": \"physician\", \"legalBasis\": \"Art. 9(2)(h)\", \"purpose\": \"medical treatment\", \"resourceType\": \"Patient\", \"status\": \"success\"}" \
        "$(cat "$TEST_TMP/carol.$f.out")"
done

# ---- an export cut before its end: its request stays open and says so -------------------------
python3 -c '
import json
for i in range(400):
    print(json.dumps({"timestamp": "2026-11-02T10:%02d:%02d.000Z" % (i // 60, i % 60), "action": "profile.read",
                      "status": "success", "organizationId": "org-a", "principalId": "dora-cut",
                      "dataClassification": "INTERNAL", "details": {"pad": "x" * 400}}))' >"$TEST_TMP/dora.ndjson"
"$AUDITDB_BIN" import --quiet "$TEST_TMP/dora.ndjson" >/dev/null
# the reader goes away after 1,000 bytes of about 300 KB (SIGPIPE ignored: the write fails)
( trap '' PIPE; "$AUDITDB_BIN" gdpr export --org org-a --subject dora-cut --format json 2>"$TEST_TMP/cut.err"; echo $? >"$TEST_TMP/cut.rc" ) | head -c 1000 >/dev/null
expect_eq "an export whose reader went away: exit 1, saying it failed before its end" "1 1" \
    "$(cat "$TEST_TMP/cut.rc") $(grep -c 'failed before its end' "$TEST_TMP/cut.err")"
expect_eq "…its request open (in progress), marked interrupted" "in_progress true" \
    "$(sql "SELECT status, outcome->>'interrupted' FROM data_subject_request WHERE organization_id = 'org-a' AND outcome->>'exportId' IS NOT NULL AND outcome ? 'interrupted'" | tr '|' ' ')"
( "$AUDITDB_BIN" gdpr export --org org-a --subject dora-cut --format json >/dev/null 2>&1 )
expect_eq "…the next whole export is completed (the 400 events, and the cut export's own)" 1 \
    "$(sql "SELECT count(*) FROM data_subject_request WHERE organization_id = 'org-a' AND status = 'completed' AND (outcome->>'recordCount')::int = 401")"

# ---- CSV cells straight from the row: numbers in details exactly as stored ----------------------
printf '%s\n' '{"timestamp":"2026-11-03T10:00:00.000Z","action":"invoice.read","status":"success","organizationId":"org-a","principalId":"erin-n","dataClassification":"INTERNAL","details":{"amount":0.1,"big":12345678901234567890123,"exp":1.50,"s":"tab\there \u0001"}}' >"$TEST_TMP/erin.ndjson"
"$AUDITDB_BIN" import --quiet "$TEST_TMP/erin.ndjson" >/dev/null
"$AUDITDB_BIN" gdpr export --org org-a --subject erin-n --format csv >"$TEST_TMP/erin.csv" 2>"$TEST_TMP/erin.err"
expect_eq "csv: an integer beyond 64 bits in details exports (exit 0)" 0 "$?"
expect_match "csv: details compact, numbers as stored (0.1, 1.50, 23 digits), escapes as JSON writes them" \
    '"\{""s"":""tab\\there \\u0001"",""big"":12345678901234567890123,""exp"":1.50,""amount"":0.1\}"' \
    "$(grep '^event,' "$TEST_TMP/erin.csv")"

# ---- hostile subject ids (last: they add requests and events of their own) ----------------------
expect_eq "export: a subject id of 256 bytes is 400 naming dataSubjectId" "400 dataSubjectId" \
    "$(err "$(post x.json $G/export "$KA" "{\"dataSubjectId\":\"$(printf '%0256d' 0)\"}")" x.json)"
expect_eq "export: a quote in the subject id is a value, not SQL (nothing matches, 200)" "200 0" \
    "$(post q.json $G/export "$KA" '{"dataSubjectId":"alice'"'"' OR '"'"'1'"'"'='"'"'1"}') $(jf q.json 'd["recordCount"]')"
expect_eq "export: principalId names the subject when dataSubjectId is absent" "200 alice" \
    "$(post q.json $G/export "$KA" '{"principalId":"alice","includePersonalData":false}') $(jf q.json 'd["dataSubjectId"]')"
expect_eq "nothing of the subject's data in serve's log" "" "$(grep -o 'alice\|HYPERLINK\|Insurer' "$TEST_TMP/serve.log")"
finish
