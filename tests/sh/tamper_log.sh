# tamper_log.sh - the tampering suite of issue 16 end to end through witnesses (docs/integrity.md
# sections 6 and 7): serve signs each organization's checkpoints with its log key and pushes them
# to a running witness; then an attacker with superuser SQL, the master key and the log key
# (stolen) (1) rewrites an event and re-signs every event after it, (2) deletes the newest events
# with their head, positions and tree, (3) shows two witnesses two histories (a fork). Each is
# detected by `auditdb verify` against the checkpoint file outside the database and/or by the
# witness's 409/422; ordinary appends are accepted; and with the anchor taken away (the checkpoint
# directory elsewhere, the rows deleted) verify sees nothing: the detection is the anchor's.
. tests/lib.sh

PY="python3 tests/tools/adb_proof.py"
FORGE="python3 tests/tools/tlog_forge.py"
fresh_db t_tamper_log
"$AUDITDB_BIN" migrate >/dev/null
for o in a b c; do
    eval "I_$o=\$(newkey org-$o ingest)"
    eval "V_$o=\$(newkey org-$o viewer)"
done

LOG_SEED=$(printf '%064x' 7)
export AUDITDB_LOG_NAME=auditdb.test AUDITDB_LOG_KEY=$LOG_SEED
export AUDITDB_CHECKPOINT_DIR="$TEST_TMP/checkpoints" AUDITDB_CHECKPOINT_INTERVAL_MS=100
# no alert thread: the checkpointer's refusals open alerts whose alert.opened events would join
# the chains under test (docs/alerts.md "Audit trail"); the alerts rows are what is checked here
export AUDITDB_ALERT_TICK_MS=0
LOG_VKEY=$($PY vkey auditdb.test "$LOG_SEED")
CK="$AUDITDB_CHECKPOINT_DIR"

# two witnesses: `auditdb witness` when this build has it, else the tests' own from the specs
WPIDS=""
start_witness() { # N SEED -> W<N>_URL, W<N>_VKEY
    n=$1 seed=$(printf '%064x' "$2") port=$(free_port)
    mkdir -p "$TEST_TMP/w$n"
    printf '%s\n' "$seed" >"$TEST_TMP/w$n/key" && chmod 600 "$TEST_TMP/w$n/key"
    if "$AUDITDB_BIN" help witness >/dev/null 2>&1; then
        "$AUDITDB_BIN" witness --listen "127.0.0.1:$port" --state "$TEST_TMP/w$n/state" \
            --key "$TEST_TMP/w$n/key" --name "witness.test/w$n" --log "$LOG_VKEY" 2>"$TEST_TMP/w$n.log" &
    else
        python3 tests/tools/tlog_witness.py --log-vkey "$LOG_VKEY" --state "$TEST_TMP/w$n/state" \
            --name "witness.test/w$n" --seed "$seed" --listen "127.0.0.1:$port" \
            >"$TEST_TMP/w$n.out" 2>"$TEST_TMP/w$n.log" &
    fi
    WPIDS="$WPIDS $!"
    i=0; while [ $i -lt 100 ] && ! curl -s -o /dev/null "http://127.0.0.1:$port/"; do sleep 0.1; i=$((i + 1)); done
    eval "W${n}_URL=http://127.0.0.1:$port"
    eval "W${n}_VKEY=\$($PY vkey witness.test/w$n $seed 4)"
}
start_witness 1 9
start_witness 2 10
export AUDITDB_WITNESSES="$W1_URL=$W1_VKEY"
cleanup() { for p in $WPIDS; do kill "$p" 2>/dev/null; done; stop_serve 2>/dev/null; }
trap cleanup EXIT

now=$(date -u -d '-10 minutes' +%Y-%m-%dT%H:%M:%S.000Z)
ev() { printf '{"eventData":{"timestamp":"%s","action":"%s","status":"success","principalId":"doc-%s","targetResourceType":"Patient","targetResourceId":"p-%s","dataClassification":"PHI"}}' "$now" "$1" "$2" "$2"; }
post() { # ORG KEY ACTION N
    http POST /api/v1/audit/events -H "X-API-Key: $2" -H 'Content-Type: application/json' --data-binary "$(ev "$3" "$4")"
    [ "$HTTP_STATUS" = 201 ] || { not_ok "event $4 of $1 stored"; diag "$HTTP_BODY"; }
}
ckfile() { echo "$CK/$1.checkpoint"; }
cksize() { sed -n 2p "$(ckfile "$1")" 2>/dev/null; }
# wait_ck ORG SIZE: until the log's file holds SIZE with W1's cosignature (15 s)
wait_ck() {
    i=0
    while [ $i -lt 150 ]; do
        [ "$(cksize "$1")" = "$2" ] && grep -q "witness.test/w1" "$(ckfile "$1")" && return 0
        sleep 0.1; i=$((i + 1))
    done
    return 1
}
verify() { "$AUDITDB_BIN" verify --no-record "$@" >"$TEST_TMP/verify.out" 2>&1; echo $?; }
kinds() { grep -o '^org-[a-z]*: [a-z_]*' "$TEST_TMP/verify.out" | sort -u | tr '\n' ' '; }

if ! start_serve "$TEST_TMP/serve.log"; then
    not_ok "serve starts"; diag "$(tail -20 "$TEST_TMP/serve.log")"; finish
fi
ok "serve starts with a log key and witness 1"
for n in 1 2 3 4 5 6 7 8; do post org-a "$I_a" fhir.patient.read "$n"; done
for n in 1 2 3 4 5 6; do post org-b "$I_b" fhir.patient.read "$n"; done
for n in 1 2 3 4; do post org-c "$I_c" fhir.patient.read "$n"; done
for o in a:8 b:6 c:4; do
    if wait_ck "org-${o%%:*}" "${o#*:}"; then ok "org-${o%%:*}: checkpoint of size ${o#*:} signed and cosigned by witness 1"
    else not_ok "org-${o%%:*}: checkpoint of size ${o#*:} cosigned"; diag "$(cat "$(ckfile "org-${o%%:*}")" 2>&1)" "$(tail -5 "$TEST_TMP/serve.log")"; fi
done
expect_eq "untouched: verify (chain, tree, checkpoint file, rows) finds nothing" 0 "$(verify)"
[ -s "$TEST_TMP/verify.out" ] && grep -q "all intact" "$TEST_TMP/verify.out" || diag "$(cat "$TEST_TMP/verify.out")"
stop_serve
cp -r "$CK" "$TEST_TMP/saved"

# the attacker's SQL: cut ORG's chain after position KEEP (events, head, positions, tree, rows)
cut() { # ORG KEEP
    sql "BEGIN; SET LOCAL session_replication_role = replica;
         DELETE FROM audit_log WHERE organization_id = '$1' AND chain_seq > $2;
         UPDATE audit_chain_head SET last_seq = $2, last_chain_hash = (SELECT chain_hash FROM audit_log
           WHERE organization_id = '$1' AND chain_seq = $2) WHERE organization_id = '$1';
         DELETE FROM audit_chain_position WHERE organization_id = '$1';
         INSERT INTO audit_chain_position SELECT organization_id, 1, last_seq, last_chain_hash
           FROM audit_chain_head WHERE organization_id = '$1';
         DELETE FROM audit_tree_tile WHERE organization_id = '$1';
         DELETE FROM audit_tree_bundle WHERE organization_id = '$1';
         DELETE FROM audit_tree WHERE organization_id = '$1';
         DELETE FROM log_checkpoint WHERE organization_id = '$1' AND tree_size > $2;
         COMMIT" >/dev/null
}

# ---- 2. the tail and the head deleted (org-b: 6 -> 4), tree and rows with them ---------------
cut org-b 4
rc=$(verify --org org-b)
expect_eq "truncated tail: verify exits 4" 4 "$rc"
expect_match "truncated tail: log_truncated against the checkpoint file" "org-b: log_truncated" "$(kinds)"
grep -q "checkpoint of size 6 (file outside the database)" "$TEST_TMP/verify.out" \
    && ok "truncated tail: the file's size 6 named" || not_ok "truncated tail: the file's size 6 named"
"$AUDITDB_BIN" verify --org org-b >/dev/null 2>&1
expect_eq "…recorded in audit_integrity_log as tampered, kind log_truncated" 1 \
    "$(sql "SELECT count(*) > 0 FROM audit_integrity_log WHERE verification_status = 'tampered'
            AND verification_details->>'kind' = 'log_truncated' AND verification_details->>'organizationId' = 'org-b'" | sed 's/t/1/')"
rc=$(AUDITDB_CHECKPOINT_DIR="$TEST_TMP/nowhere" verify --org org-b)
expect_eq "control: without the checkpoint file the truncation is invisible (exit 0)" 0 "$rc"

# ---- 1. one event rewritten and everything after it re-signed (org-a, from position 3) ---------
# the attacker holds the master key: cutting the chain at 2 and having auditdb (its key) sign a
# rewritten event 3 and events 4..8 again gives a chain whose every hash, signature and link verify
cut org-a 2
cp -r "$CK" "$TEST_TMP/before-restart"
if ! start_serve "$TEST_TMP/serve2.log"; then not_ok "serve restarts"; diag "$(tail -20 "$TEST_TMP/serve2.log")"; finish; fi
post org-a "$I_a" fhir.patient.DELETE-HIDDEN 3
for n in 4 5 6 7 8; do post org-a "$I_a" fhir.patient.read "$n"; done
i=0; while [ $i -lt 100 ] && [ "$(sql "SELECT size FROM audit_tree WHERE organization_id = 'org-a'")" != 8 ]; do sleep 0.1; i=$((i + 1)); done
expect_eq "the rewritten tree is rebuilt from the rewritten chain (8 leaves)" 8 "$(sql "SELECT size FROM audit_tree WHERE organization_id = 'org-a'")"
i=0; while [ $i -lt 50 ] && [ "$(sql "SELECT count(*) FROM alerts WHERE source = 'auditdb-checkpoint' AND organization_id = 'org-a'")" = 0 ]; do sleep 0.1; i=$((i + 1)); done
expect_eq "the log itself refuses to sign the rewritten tree (alert raised)" 1 \
    "$([ "$(sql "SELECT count(*) FROM alerts WHERE source = 'auditdb-checkpoint' AND organization_id = 'org-a'")" -gt 0 ] && echo 1)"
expect_eq "its checkpoint file still holds the honest size 8" 8 "$(cksize org-a)"
# the chain alone verifies: the rewrite is invisible to hashes, signatures and links
"$AUDITDB_BIN" verify --no-record --org org-a --from 2000-01-01T00:00:00Z >"$TEST_TMP/v.out" 2>&1
expect_eq "control: the re-signed chain alone verifies (a time-bounded walk: no log checks)" 0 "$?"
rc=$(verify --org org-a)
expect_eq "rewritten and re-signed: verify exits 4" 4 "$rc"
expect_match "rewritten and re-signed: log_rewritten (root at 8 is not the signed one)" "org-a: log_rewritten" "$(kinds)"
grep -q "signed checkpoint of size 8 (file outside the database)" "$TEST_TMP/verify.out" \
    && ok "rewritten and re-signed: the signed size 8 named" || not_ok "rewritten and re-signed: the signed size 8 named"
# the attacker, holding the log key, signs the rewritten tree of size 9 and pushes it to witness 1
post org-a "$I_a" fhir.patient.read 9
i=0; while [ $i -lt 100 ] && [ "$(sql "SELECT size FROM audit_tree WHERE organization_id = 'org-a'")" != 9 ]; do sleep 0.1; i=$((i + 1)); done
root9=$(sql "SELECT encode(root, 'base64') FROM audit_tree WHERE organization_id = 'org-a'")
http GET "/api/v1/audit/log/consistency?from=8&to=9" -H "X-API-Key: $V_a"
proof=$(jbody '" ".join(d["proof"])')
$FORGE sign "$LOG_SEED" auditdb.test auditdb.test/org-a 9 "$root9" >"$TEST_TMP/forged9"
out=$($FORGE push "$W1_URL" 8 "$TEST_TMP/forged9" $proof)
expect_match "witness 1 refuses the re-signed history: 422 (its consistency proof from 8 fails)" "^422" "$out"
out=$($FORGE push "$W1_URL" 0 "$TEST_TMP/forged9")
expect_match "witness 1 refuses it as a first checkpoint too: 409 with its size 8" "^409 8" "$out"
sql "DELETE FROM log_checkpoint WHERE organization_id = 'org-a'; UPDATE alerts SET resolved = true WHERE organization_id = 'org-a'" >/dev/null
rc=$(AUDITDB_CHECKPOINT_DIR="$TEST_TMP/nowhere" verify --org org-a)
expect_eq "control: without the checkpoint file and rows the rewrite is invisible (exit 0)" 0 "$rc"
[ "$rc" = 0 ] || diag "$(cat "$TEST_TMP/verify.out")"

# ---- ordinary appends are accepted --------------------------------------------------------
post org-c "$I_c" fhir.patient.read 5
if wait_ck org-c 5; then ok "an ordinary append to org-c is signed and cosigned by witness 1 (size 5)"
else not_ok "an ordinary append is cosigned"; diag "$(cat "$(ckfile org-c)")" "$(tail -5 "$TEST_TMP/serve2.log")"; fi
rc=$(verify --org org-c)
expect_eq "org-c after an ordinary append: verify finds nothing" 0 "$rc"
[ "$rc" = 0 ] || diag "$(cat "$TEST_TMP/verify.out")"
stop_serve

# ---- 3. a fork between two witnesses (org-c at 5: witness 1 holds history A) ---------------
# the attacker rewrites event 2 and re-signs 2..5 (history B, same size), signs B's checkpoint
# with the log key and shows it to witness 2, which never saw org-c, and serves it from the
# database's log_checkpoint
cut org-c 1
AUDITDB_WITNESSES="" start_serve "$TEST_TMP/serve3.log" || { not_ok "serve restarts"; finish; }
post org-c "$I_c" fhir.patient.EXPORT-HIDDEN 2
for n in 3 4 5; do post org-c "$I_c" fhir.patient.read "$n"; done
i=0; while [ $i -lt 100 ] && [ "$(sql "SELECT size FROM audit_tree WHERE organization_id = 'org-c'")" != 5 ]; do sleep 0.1; i=$((i + 1)); done
stop_serve
rootB=$(sql "SELECT encode(root, 'base64') FROM audit_tree WHERE organization_id = 'org-c'")
$FORGE sign "$LOG_SEED" auditdb.test auditdb.test/org-c 5 "$rootB" >"$TEST_TMP/forkB"
out=$($FORGE push "$W2_URL" 0 "$TEST_TMP/forkB")
expect_match "witness 2, shown history B first, cosigns it (a fork needs two witnesses)" "^200" "$out"
cosig=${out#200 }
{ cat "$TEST_TMP/forkB"; printf '%s\n' "$cosig"; } >"$TEST_TMP/forkB.cosigned"
sql "DELETE FROM log_checkpoint WHERE organization_id = 'org-c';
     INSERT INTO log_checkpoint (organization_id, tree_size, root_hash, note, cosignatures)
     VALUES ('org-c', 5, decode('$rootB', 'base64'), \$n\$$(cat "$TEST_TMP/forkB.cosigned")
\$n\$, 1)" >/dev/null
# gossip: each witness shown the other's cosigned checkpoint of the same size answers 409
out=$($FORGE push "$W2_URL" 5 "$(ckfile org-c)")
expect_match "witness 2 shown witness 1's history A at the same size: refused (409 fork, or 422)" "^4(09|22)" "$out"
out=$($FORGE push "$W1_URL" 5 "$TEST_TMP/forkB.cosigned")
expect_match "witness 1 shown history B at the same size: refused (409 fork, or 422)" "^4(09|22)" "$out"
rc=$(verify --org org-c)
expect_eq "fork: verify exits 4" 4 "$rc"
expect_match "fork: the database's checkpoint row and the file differ (checkpoint_fork)" "org-c: checkpoint_fork" "$(kinds)"
expect_match "fork: the chain is not the file's history (log_rewritten)" "org-c: log_rewritten" "$(kinds)"

# ---- tiles rewritten in the database (org-b's tree rebuilt first, then one leaf changed) -----
AUDITDB_WITNESSES="" start_serve "$TEST_TMP/serve4.log" || { not_ok "serve restarts"; finish; }
post org-b "$I_b" fhir.patient.read 5
i=0; while [ $i -lt 100 ] && [ "$(sql "SELECT size FROM audit_tree WHERE organization_id = 'org-b'")" != 5 ]; do sleep 0.1; i=$((i + 1)); done
stop_serve
# the checkpointer refused to sign org-b's shorter tree above (alerts): an operator who has
# looked resolves them, else verify keeps failing on them (checkpoint_refused)
sql "UPDATE alerts SET resolved = 'true' WHERE source = 'auditdb-checkpoint' AND organization_id = 'org-b'" >/dev/null
rc=$(AUDITDB_CHECKPOINT_DIR="$TEST_TMP/nowhere" verify --org org-b)
expect_eq "org-b's rebuilt tree agrees with its chain (no checkpoint file)" 0 "$rc"
[ "$rc" = 0 ] || diag "$(cat "$TEST_TMP/verify.out")"
sql "BEGIN; SET LOCAL session_replication_role = replica; UPDATE audit_tree_tile SET hashes = overlay(hashes PLACING '\\x00'::bytea FROM 40 FOR 1)
     WHERE organization_id = 'org-b' AND level = 0 AND index = 0; COMMIT" >/dev/null
rc=$(AUDITDB_CHECKPOINT_DIR="$TEST_TMP/nowhere" verify --org org-b)
expect_eq "a leaf rewritten in the tiles: verify exits 4" 4 "$rc"
expect_match "a leaf rewritten in the tiles: tree_mismatch" "org-b: tree_mismatch" "$(kinds)"
grep -q "leaf 1 of the tree" "$TEST_TMP/verify.out" && ok "the leaf named (leaf 1)" || { not_ok "the leaf named"; diag "$(cat "$TEST_TMP/verify.out")"; }

# a whole organization deleted, head, positions and all: the tree still remembers it
sql "DELETE FROM audit_log WHERE organization_id = 'org-b'; DELETE FROM audit_chain_head WHERE organization_id = 'org-b';
     DELETE FROM audit_chain_position WHERE organization_id = 'org-b'" >/dev/null
rc=$(AUDITDB_CHECKPOINT_DIR="$TEST_TMP/nowhere" verify)
expect_eq "every event, head and position of org-b deleted: verify exits 4" 4 "$rc"
expect_match "the tree remembers org-b (log_truncated)" "org-b: log_truncated" "$(kinds)"
finish
