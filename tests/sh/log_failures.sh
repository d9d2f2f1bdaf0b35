# log_failures.sh - the verifiable log's failures seen beyond /metrics (docs/log.md, "When the
# log fails"): with the tree's table made unwritable (a superuser's trigger on audit_tree), the
# organization's integration rounds fail; after AUDITDB_LOG_ALERT_AFTER of them in a row one
# alerts row (source auditdb-integrator, kind integration_failing) is raised, once, and the
# "audit" component of /health/detailed (operator) and /api/v1/health/detailed turns degraded
# (the organization's errors only to the operator); once the table is writable again the tree
# catches up and both turn healthy. The same for the checkpointer with log_checkpoint made
# unwritable (source auditdb-checkpoint, kind checkpointer_failing).
. tests/lib.sh

home="$TEST_TMP/home"
export AUDITDB_HOME="$home"
mkdir -p "$home"
fresh_db t_log_failures
"$AUDITDB_BIN" migrate >/dev/null 2>&1 || { not_ok "migrate"; finish; }
export AUDITDB_LOG_ALERT_AFTER=3 AUDITDB_CHECKPOINT_INTERVAL_MS=100
if ! start_serve "$TEST_TMP/serve.log"; then
    not_ok "serve starts"; diag "$(tail -5 "$TEST_TMP/serve.log")"; finish
fi
admin=$(cat "$home/admin.key")
op=$("$AUDITDB_BIN" keys create --role operator --name t | sed -n 's/^key (shown once, store it now): //p')

n=0
post() {
    n=$((n + 1))
    http POST /api/v1/audit/events -H "X-API-Key: $admin" -H 'Content-Type: application/json' \
        --data-binary "{\"eventData\":{\"timestamp\":\"$(date -u +%Y-%m-%dT%H:%M:%S.000Z)\",\"action\":\"t.failures\",\"status\":\"success\",\"principalId\":\"u-$n\"}}"
    [ "$HTTP_STATUS" = 201 ] || { not_ok "event $n stored"; diag "$HTTP_BODY"; }
}
# wait_for SQL: until SQL answers t (at most 30 s)
wait_for() {
    i=0
    while [ "$(sql "$1")" != t ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
    [ "$(sql "$1")" = t ]
}
# audit_state PATH KEY: status, failing organizations, checkpointer's failures in a row, whether
# lastError is shown, of the audit component's log details
audit_state() {
    http GET "$1" -H "X-API-Key: $2"
    state_of_body
}
# state_of_body: the same of the last HTTP_BODY
state_of_body() {
    printf '%s' "$HTTP_BODY" | python3 -c '
import json, sys
d = json.load(sys.stdin)
a = d["services"]["audit"]
log = a["details"]["log"]
print(a["status"], log["tree"]["failingOrganizations"], log["checkpointer"]["failedInARow"],
      "lastError" in log["tree"], "lastError" in log["checkpointer"])'
}

post
check "the first event's tree and checkpoint" wait_for \
    "SELECT EXISTS (SELECT 1 FROM log_checkpoint WHERE organization_id = 'default' AND tree_size >= 1)"
expect_eq "operator's /health/detailed: audit healthy, nothing failing, errors shown" "healthy 0 0 True True" \
    "$(audit_state /health/detailed "$op")"
expect_eq "/api/v1/health/detailed: the same without anyone's errors" "healthy 0 0 False False" \
    "$(audit_state /api/v1/health/detailed "$admin")"

# ---- the tree cannot grow ------------------------------------------------------------------
sql "CREATE FUNCTION t_refuse() RETURNS trigger LANGUAGE plpgsql AS \$\$
     BEGIN RAISE EXCEPTION 'test: % is read-only', TG_TABLE_NAME; END \$\$;
     CREATE TRIGGER t_refuse BEFORE INSERT OR UPDATE ON audit_tree FOR EACH ROW EXECUTE FUNCTION t_refuse()" >/dev/null
post; post
check "after 3 failed rounds in a row: an alert row of the integrator" wait_for \
    "SELECT EXISTS (SELECT 1 FROM alerts WHERE organization_id = 'default' AND source = 'auditdb-integrator')"
expect_eq "... HIGH, SYSTEM, kind integration_failing, 3 rounds" "HIGH|SYSTEM|integration_failing|3" \
    "$(sql "SELECT severity, type, metadata->>'kind', metadata->>'failedRounds' FROM alerts WHERE source = 'auditdb-integrator'")"
expect_match "... the description says why (the database's message)" "could not be extended 3 times in a row.*test: audit_tree is read-only" \
    "$(sql "SELECT description FROM alerts WHERE source = 'auditdb-integrator'")"
http GET /health/detailed -H "X-API-Key: $op"
expect_eq "operator's /health/detailed: audit degraded, 1 organization failing" "degraded 1 0 True True" \
    "$(state_of_body)"
expect_match "... its message says so" "Merkle tree of 1 organization cannot grow" "$(jbody 'd["services"]["audit"]["message"]')"
expect_match "... lastError names the failure" "test: audit_tree is read-only" "$(jbody 'd["services"]["audit"]["details"]["log"]["tree"]["lastError"]')"
expect_eq "... answered 503 (not healthy)" 503 "$HTTP_STATUS"
expect_eq "/api/v1/health/detailed: degraded too, without the error" "degraded 1 0 False False" \
    "$(audit_state /api/v1/health/detailed "$admin")"
http GET /metrics -H "X-API-Key: $op"
expect_match "/metrics: auditdb_tree_failing_organizations 1" "auditdb_tree_failing_organizations 1" "$HTTP_BODY"
sleep 3
expect_eq "more failures raise no second alert" 1 "$(sql "SELECT count(*) FROM alerts WHERE source = 'auditdb-integrator'")"
http GET /health/detailed -H "X-API-Key: $op"
rounds=$(jbody 'd["services"]["audit"]["details"]["log"]["tree"]["failedRounds"]')
check "... and the rounds are retried at the scan's pace, not in a loop (<= 40 in ~6 s: $rounds)" test "$rounds" -le 40

sql "DROP TRIGGER t_refuse ON audit_tree" >/dev/null
check "the table writable again: the tree catches up" wait_for \
    "SELECT size = (SELECT count(*) FROM audit_log WHERE organization_id = 'default') FROM audit_tree WHERE organization_id = 'default'"
i=0; while [ "$(audit_state /health/detailed "$op")" != "healthy 0 0 True True" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
expect_eq "... and the audit component is healthy again" "healthy 0 0 True True" "$(audit_state /health/detailed "$op")"

# ---- the checkpointer cannot store ----------------------------------------------------------
sql "CREATE TRIGGER t_refuse BEFORE INSERT OR UPDATE ON log_checkpoint FOR EACH ROW EXECUTE FUNCTION t_refuse()" >/dev/null
for k in 1 2 3 4; do post; sleep 0.4; done
check "after 3 offers in a row not stored: an alert row of the checkpointer" wait_for \
    "SELECT EXISTS (SELECT 1 FROM alerts WHERE organization_id = 'default' AND metadata->>'kind' = 'checkpointer_failing')"
expect_eq "... HIGH, SYSTEM, source auditdb-checkpoint, step store_failed" "HIGH|SYSTEM|auditdb-checkpoint|store_failed" \
    "$(sql "SELECT severity, type, source, metadata->>'step' FROM alerts WHERE metadata->>'kind' = 'checkpointer_failing'")"
http GET /health/detailed -H "X-API-Key: $op"
state=$(state_of_body)
expect_match "operator's /health/detailed: audit degraded, the checkpointer failing" "^degraded 0 [3-9] True True$" "$state"
expect_match "... its message says so" "cannot sign or store checkpoints" "$(jbody 'd["services"]["audit"]["message"]')"
expect_match "... lastError: the step and the database's message" "store_failed: .*test: log_checkpoint is read-only" \
    "$(jbody 'd["services"]["audit"]["details"]["log"]["checkpointer"]["lastError"]')"
sql "DROP TRIGGER t_refuse ON log_checkpoint" >/dev/null
post
check "log_checkpoint writable again: the next checkpoint is stored" wait_for \
    "SELECT EXISTS (SELECT 1 FROM log_checkpoint WHERE organization_id = 'default' AND tree_size = (SELECT count(*) FROM audit_log WHERE organization_id = 'default'))"
i=0; while [ "$(audit_state /health/detailed "$op")" != "healthy 0 0 True True" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
expect_eq "... and the audit component is healthy again" "healthy 0 0 True True" "$(audit_state /health/detailed "$op")"
check "serve never logged an event's content" sh -c "! grep -q 'u-1' '$TEST_TMP/serve.log'"

stop_serve
finish
