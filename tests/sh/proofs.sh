# proofs.sh - receipts end to end (issue 16, items 4 and 5; docs/proofs.md): events sent
# through serve, whose checkpoints a running `auditdb witness` cosigns; every event's receipt
# fetched over HTTP and checked offline by `auditdb verify-proof` and by the independent
# tests/tools/adb_proof.py, each with the event object (its hash recomputed); tampered
# receipts, a wrong log key, a witness that did not cosign, another organization refused;
# receipts of archived events still served and verified; the GDPR export's NDJSON receipts under
# the most cosigned checkpoint.
. tests/lib.sh

PY="python3 tests/tools/adb_proof.py"
fresh_db t_proofs
"$AUDITDB_BIN" migrate >/dev/null
A_INGEST=$(newkey org-1 ingest)
A_VIEW=$(newkey org-1 viewer)
B_VIEW=$(newkey org-2 viewer)
C_ADMIN=$(newkey org-3 admin)

# the log's key and a witness's, from fixed seeds; their verifier keys computed independently
LOG_SEED=$(printf '%064x' 7)
W_SEED=$(printf '%064x' 9)
export AUDITDB_LOG_NAME=auditdb.test AUDITDB_LOG_KEY=$LOG_SEED
export AUDITDB_CHECKPOINT_DIR="$TEST_TMP/checkpoints" AUDITDB_CHECKPOINT_INTERVAL_MS=200
LOG_VKEY=$($PY vkey auditdb.test "$LOG_SEED")
W_VKEY=$($PY vkey witness.test/w1 "$W_SEED" 4)
OTHER_VKEY=$($PY vkey auditdb.test "$(printf '%064x' 8)")
W2_VKEY=$($PY vkey witness.test/w2 "$(printf '%064x' 10)" 4)

mkdir -p "$TEST_TMP/w"
printf '%s\n' "$W_SEED" >"$TEST_TMP/w/key" && chmod 600 "$TEST_TMP/w/key"
wport=$(free_port)
# the witness: `auditdb witness` when this build has it, else the tests' own from the specs
if "$AUDITDB_BIN" help witness >/dev/null 2>&1; then
    "$AUDITDB_BIN" witness --listen "127.0.0.1:$wport" --state "$TEST_TMP/w/state" \
        --key "$TEST_TMP/w/key" --name witness.test/w1 --log "$LOG_VKEY" 2>"$TEST_TMP/witness.log" &
else
    python3 tests/tools/tlog_witness.py --log-vkey "$LOG_VKEY" --state "$TEST_TMP/w/state" \
        --name witness.test/w1 --seed "$W_SEED" --listen "127.0.0.1:$wport" \
        >"$TEST_TMP/witness.out" 2>"$TEST_TMP/witness.log" &
fi
WPID=$!
i=0; while [ $i -lt 100 ] && ! curl -s -o /dev/null "http://127.0.0.1:$wport/"; do sleep 0.1; i=$((i + 1)); done
export AUDITDB_WITNESSES="http://127.0.0.1:$wport=$W_VKEY"
cleanup() { kill "$WPID" 2>/dev/null; stop_serve 2>/dev/null; }
trap cleanup EXIT

if ! start_serve "$TEST_TMP/serve.log"; then
    not_ok "serve starts"; diag "$(tail -20 "$TEST_TMP/serve.log")"; finish
fi
ok "serve starts with a log key and a witness"

http GET /api/v1/audit/log/vkey -H "X-API-Key: $A_VIEW"
expect_eq "the log's verifier key is the one computed from its seed" "$LOG_VKEY" "$(printf '%s' "$HTTP_BODY" | tr -d '\n')"

now=$(date -u -d '-10 minutes' +%Y-%m-%dT%H:%M:%S.000Z)
ev() { printf '{"eventData":{"timestamp":"%s","action":"%s","status":"success","principalId":"doc-%s","targetResourceType":"Patient","targetResourceId":"p-%s","dataClassification":"%s"%s}}' "${3:-$now}" "$1" "$2" "$2" "${4:-PHI}" "${5:-}"; }
post() { http POST "$1" -H "X-API-Key: $2" -H 'Content-Type: application/json' --data-binary "$3"; }

ids=""
for i in $(seq 1 12); do
    post /api/v1/audit/events "$A_INGEST" "$(ev fhir.patient.read "$i" "" PHI ',"details":{"n":1.50,"note":"é\n"}')"
    [ "$HTTP_STATUS" = 201 ] || { not_ok "event $i stored"; diag "$HTTP_BODY"; }
    ids="$ids $(jbody 'd["id"]')"
done
ids=$(echo $ids)

# fetch_proof ID KEY OUT: GET the receipt, retrying on 409 for up to 10 s; sets HTTP_STATUS
fetch_proof() {
    i=0
    while :; do
        code=$(curl -s -o "$3" -D "$3.head" -w '%{http_code}' -H "X-API-Key: $2" "$BASE_URL/api/v1/audit/events/$1/proof")
        HTTP_STATUS=$code
        [ "$code" = 409 ] && [ $i -lt 100 ] || return 0
        sleep 0.1; i=$((i + 1))
    done
}

n=0 c_ok=0 p_ok=0 first409=""
for id in $ids; do
    n=$((n + 1))
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-API-Key: $A_VIEW" "$BASE_URL/api/v1/audit/events/$id/proof")
    [ "$code" = 409 ] && first409=yes
    fetch_proof "$id" "$A_VIEW" "$TEST_TMP/$id.tlog-proof"
    [ "$HTTP_STATUS" = 200 ] || { not_ok "receipt of $id: 200"; diag "$(cat "$TEST_TMP/$id.tlog-proof")"; continue; }
    curl -s -H "X-API-Key: $A_VIEW" "$BASE_URL/api/v1/audit/events/$id" >"$TEST_TMP/$id.json"
    if "$AUDITDB_BIN" verify-proof "$TEST_TMP/$id.tlog-proof" --vkey "$LOG_VKEY" --witness "$W_VKEY" \
        --quorum 1 --org org-1 --event "$TEST_TMP/$id.json" >"$TEST_TMP/vp.out" 2>&1; then
        c_ok=$((c_ok + 1))
    else
        diag "verify-proof $id: $(cat "$TEST_TMP/vp.out")"
    fi
    if $PY verify "$TEST_TMP/$id.tlog-proof" --vkey "$LOG_VKEY" --witness "$W_VKEY" --quorum 1 \
        --org org-1 --event "$TEST_TMP/$id.json" >"$TEST_TMP/py.out" 2>&1; then
        p_ok=$((p_ok + 1))
    else
        diag "adb_proof.py $id: $(cat "$TEST_TMP/py.out")"
    fi
done
expect_eq "auditdb verify-proof accepts every receipt, with its event recomputed" "$n" "$c_ok"
expect_eq "adb_proof.py (from the specs alone) accepts every receipt, with its event" "$n" "$p_ok"
last=${ids##* }
R="$TEST_TMP/$last.tlog-proof"
head=$(tr -d '\r' <"$R.head")
expect_match "a receipt is text/plain" '[Cc]ontent-[Tt]ype: text/plain' "$head"
expect_match "with a .tlog-proof file name" "filename=\"$last.tlog-proof\"" "$head"
expect_eq "the receipt's index is chainSeq - 1" "index $(( $(json 'd["chainSeq"]' <"$TEST_TMP/$last.json") - 1 ))" "$(sed -n 3p "$R")"
out=$("$AUDITDB_BIN" verify-proof "$R" --vkey "$LOG_VKEY" --witness "$W_VKEY" 2>&1)
expect_match "verify-proof names the event and its witness" "ok: event $last .* cosigned by 1 witness" "$out"
[ -n "$first409" ] && diag "a receipt asked at once was 409 NOT_YET_CHECKPOINTED first"

# refused: each tampering, by both verifiers
refuse() { # NAME FILE ARGS...
    name=$1 f=$2; shift 2
    "$AUDITDB_BIN" verify-proof "$f" "$@" >/dev/null 2>"$TEST_TMP/err"; rc=$?
    $PY verify "$f" "$@" >/dev/null 2>&1; prc=$?
    if [ "$rc" = 4 ] && [ "$prc" = 1 ]; then ok "$name: refused by both"; else
        not_ok "$name: refused by both"; diag "verify-proof exit $rc: $(cat "$TEST_TMP/err")" "adb_proof.py exit $prc"; fi
}
sed 's/^index \([0-9]*\)$/index 0\1/' "$R" >"$TEST_TMP/t1"; refuse "index with a leading zero" "$TEST_TMP/t1" --vkey "$LOG_VKEY"
awk 'NR==3{sub(/[0-9]$/, ($0 ~ /1$/) ? "2" : "1")}1' "$R" >"$TEST_TMP/t2"; refuse "another index" "$TEST_TMP/t2" --vkey "$LOG_VKEY"
awk 'NR==4{$0=($0 ~ /^A/ ? "B" : "A") substr($0,2)}1' "$R" >"$TEST_TMP/t3"; refuse "a proof hash changed" "$TEST_TMP/t3" --vkey "$LOG_VKEY"
awk 'NR!=4' "$R" >"$TEST_TMP/t4"; refuse "a proof hash dropped" "$TEST_TMP/t4" --vkey "$LOG_VKEY"
other=${ids%% *}
awk -v e="$(sed -n 2p "$TEST_TMP/$other.tlog-proof")" 'NR==2{$0=e}1' "$R" >"$TEST_TMP/t5"; refuse "another event's entry" "$TEST_TMP/t5" --vkey "$LOG_VKEY"
awk 'f==1 && NR>3 && /^[0-9]+$/ {$0=$0+1} /^$/{f++} 1' "$R" >"$TEST_TMP/t6"; refuse "the checkpoint's size changed" "$TEST_TMP/t6" --vkey "$LOG_VKEY"
refuse "another log key of the same name" "$R" --vkey "$OTHER_VKEY"
refuse "a witness that never cosigned, quorum 1" "$R" --vkey "$LOG_VKEY" --witness "$W2_VKEY" --quorum 1
refuse "another organization named" "$R" --vkey "$LOG_VKEY" --org org-2
refuse "another event's object" "$R" --vkey "$LOG_VKEY" --event "$TEST_TMP/$other.json"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d["principalId"]="doc-999"; json.dump(d, open(sys.argv[2],"w"))' \
    "$TEST_TMP/$last.json" "$TEST_TMP/changed.json"
refuse "the event's content changed" "$R" --vkey "$LOG_VKEY" --event "$TEST_TMP/changed.json"
"$AUDITDB_BIN" verify-proof "$R" --vkey "$LOG_VKEY" --quorum 2 --witness "$W_VKEY" >/dev/null 2>&1
expect_eq "a quorum above the witnesses named is a usage error" 2 "$?"
"$AUDITDB_BIN" verify-proof "$R" >/dev/null 2>&1
expect_eq "no --vkey is a usage error" 2 "$?"

# the route: isolation, bad ids, permission
http GET "/api/v1/audit/events/$last/proof" -H "X-API-Key: $B_VIEW"
expect_eq "another organization's event: 404" 404 "$HTTP_STATUS"
i=0; while [ $i -lt 30 ] && [ "$(sql "SELECT count(*) FROM security_events WHERE event_type = 'cross_tenant_probe' AND organization_id = 'org-2'")" = 0 ]; do sleep 0.1; i=$((i + 1)); done
expect_eq "recorded as a cross-tenant probe" 1 "$(sql "SELECT count(*) FROM security_events WHERE event_type = 'cross_tenant_probe' AND organization_id = 'org-2'")"
http GET "/api/v1/audit/events/not-an-id/proof" -H "X-API-Key: $A_VIEW"
expect_eq "a malformed id: 400" 400 "$HTTP_STATUS"
http GET "/api/v1/audit/events/$last/proof" -H "X-API-Key: $A_INGEST"
expect_eq "an ingest key lacks audit.log:read: 403" 403 "$HTTP_STATUS"
http GET "/api/v1/audit/events/$last/proof"
expect_eq "no key: 401" 401 "$HTTP_STATUS"

# archived events: PUBLIC events with the policy "minimal" are archived after 30 days
old=$(date -u -d '-40 days' +%Y-%m-%dT%H:%M:%S.000Z)
aids=""
for i in 1 2 3; do
    post /api/v1/audit/events "$C_ADMIN" "$(ev system.backup "$i" "$old" PUBLIC ',"retentionPolicy":"minimal"')"
    aids="$aids $(jbody 'd["id"]')"
done
aids=$(echo $aids)
for id in $aids; do
    fetch_proof "$id" "$C_ADMIN" "$TEST_TMP/$id.before"
    curl -s -H "X-API-Key: $C_ADMIN" "$BASE_URL/api/v1/audit/events/$id" >"$TEST_TMP/$id.json"
done
"$AUDITDB_BIN" maintenance run >"$TEST_TMP/maint.out" 2>&1
expect_eq "the old events left audit_log for an archive" 0 "$(sql "SELECT count(*) FROM audit_log WHERE organization_id = 'org-3'")"
a_ok=0
for id in $aids; do
    fetch_proof "$id" "$C_ADMIN" "$TEST_TMP/$id.tlog-proof"
    [ "$HTTP_STATUS" = 200 ] || diag "archived $id: $HTTP_STATUS $(cat "$TEST_TMP/$id.tlog-proof")"
    "$AUDITDB_BIN" verify-proof "$TEST_TMP/$id.tlog-proof" --vkey "$LOG_VKEY" --witness "$W_VKEY" \
        --org org-3 --event "$TEST_TMP/$id.json" >/dev/null 2>&1 &&
        $PY verify "$TEST_TMP/$id.tlog-proof" --vkey "$LOG_VKEY" --witness "$W_VKEY" --org org-3 \
            --event "$TEST_TMP/$id.json" >/dev/null 2>&1 &&
        "$AUDITDB_BIN" verify-proof "$TEST_TMP/$id.before" --vkey "$LOG_VKEY" --witness "$W_VKEY" >/dev/null 2>&1 &&
        a_ok=$((a_ok + 1))
done
expect_eq "archived events: receipts served and verified by both, the earlier ones still valid" 3 "$a_ok"


# the GDPR export's NDJSON receipts (docs/gdpr.md) take the checkpoint the proof route takes: the
# most cosigned of the newest covering the event, not the newest. The witness stops; a new event
# of doc-1 is checkpointed without a cosignature; doc-1's archived event must still get a receipt
# that its witness's key verifies, the new one none ("not yet in a cosigned checkpoint").
kill "$WPID" 2>/dev/null; wait "$WPID" 2>/dev/null
post /api/v1/audit/events "$C_ADMIN" "$(ev fhir.patient.read 1)"
late=$(jbody 'd["id"]')
uncosigned="SELECT count(*) FROM log_checkpoint c JOIN audit_tree t USING (organization_id) WHERE organization_id = 'org-3' AND c.tree_size >= t.size AND c.cosignatures = 0"
i=0; while [ $i -lt 100 ] && [ "$(sql "$uncosigned")" = 0 ]; do sleep 0.1; i=$((i + 1)); done
expect_eq "the witness stopped: the newest checkpoint of org-3 is not cosigned" 1 "$(sql "$uncosigned")"
code=$(curl -s -o "$TEST_TMP/x.ndjson" -w '%{http_code}' -X POST -H "X-API-Key: $C_ADMIN" \
    -H 'Content-Type: application/json' "$BASE_URL/api/v1/compliance/gdpr/export/stream" \
    -d '{"dataSubjectId":"doc-1","format":"ndjson","includePersonalData":true}')
expect_eq "the GDPR export of doc-1 (NDJSON): 200" 200 "$code"
mkdir -p "$TEST_TMP/x"
python3 -c '
import json, sys
for l in open(sys.argv[1]):
    o = json.loads(l)
    if o.get("recordType") != "event":
        continue
    i = o["event"]["id"]
    json.dump(o["event"], open("%s/%s.json" % (sys.argv[2], i), "w"))
    if o.get("receipt"):
        open("%s/%s.tlog-proof" % (sys.argv[2], i), "w").write(o["receipt"])
    print(i, "receipt" if o.get("receipt") else o.get("receiptStatus", "").replace(" ", "_"))
' "$TEST_TMP/x.ndjson" "$TEST_TMP/x" >"$TEST_TMP/x/list"
first=${aids%% *}
expect_eq "the new event: no receipt, not yet in a cosigned checkpoint" "not_yet_in_a_cosigned_checkpoint" \
    "$(sed -n "s/^$late //p" "$TEST_TMP/x/list")"
expect_eq "the archived event: a receipt" "receipt" "$(sed -n "s/^$first //p" "$TEST_TMP/x/list")"
if "$AUDITDB_BIN" verify-proof "$TEST_TMP/x/$first.tlog-proof" --vkey "$LOG_VKEY" --witness "$W_VKEY" \
    --quorum 1 --org org-3 --event "$TEST_TMP/x/$first.json" >"$TEST_TMP/vp.out" 2>&1 &&
    $PY verify "$TEST_TMP/x/$first.tlog-proof" --vkey "$LOG_VKEY" --witness "$W_VKEY" --quorum 1 \
        --org org-3 --event "$TEST_TMP/x/$first.json" >"$TEST_TMP/py.out" 2>&1; then
    ok "its receipt is under a cosigned checkpoint: both verifiers accept it with the witness's key"
else
    not_ok "its receipt is under a cosigned checkpoint: both verifiers accept it with the witness's key"
    diag "$(cat "$TEST_TMP/vp.out" "$TEST_TMP/py.out" 2>/dev/null)"
fi

stop_serve
finish
