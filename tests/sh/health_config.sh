# health_config.sh - who may use the health service beyond the public probes
# (an operator key holds health:read; docs/auth.md, "The health service"),
# and PUT /api/v1/health/config, the client's updateHealthConfig (docs/api.md,
# "The health service"): an operator's alone, every member checked (400
# naming it, nothing half-applied), applied at once to the checks, the
# change recorded in security_events without any secret.
. tests/lib.sh

unset AUDIT_DB_URL
export AUDITDB_HOME="$TEST_TMP/home"
if ! "$AUDITDB_BIN" db start >"$TEST_TMP/dbstart.log" 2>&1; then
    not_ok "db start"; diag "$(cat "$TEST_TMP/dbstart.log")"; finish
fi
export AUDIT_DB_URL="host=$AUDITDB_HOME/run port=5432 user=postgres dbname=auditdb"
"$AUDITDB_BIN" migrate >/dev/null
newkey() { "$AUDITDB_BIN" keys create "$@" | sed -n 's/^key (shown once, store it now): //p'; }
ADMIN=$(newkey --org org-a --role admin)
VIEWER=$(newkey --org org-a --role viewer)
INGEST=$(newkey --org org-a --role ingest)
"$AUDITDB_BIN" keys create --role operator >"$TEST_TMP/opkey.txt"
OPERATOR=$(sed -n 's/^key (shown once, store it now): //p' "$TEST_TMP/opkey.txt")
OPERATOR_ID=$(sed -n 's/^created operator key \([^ ]*\) .*/\1/p' "$TEST_TMP/opkey.txt")
OPERATOR_ID=${OPERATOR_ID#adb_} # security_events.api_key_id: the id without its prefix
if ! start_serve "$TEST_TMP/serve.log"; then
    not_ok "serve starts"; diag "$(cat "$TEST_TMP/serve.log")"; AUDIT_DB_URL= "$AUDITDB_BIN" db stop; finish
fi
ok "serve starts"
H=/api/v1/health
shape() { printf '%s' "$HTTP_BODY" | python3 tests/tools/health_shapes.py "$1"; }
J='Content-Type: application/json'

# 1. an operator key calls every keyed health route; tenants' access unchanged
for r in "GET detailed detailed" "GET status api_status" "GET components/database component" \
         "GET dependencies dependencies" "GET dependencies/postgresql dependency" "GET history history" \
         "GET metrics metrics" "GET config config" "GET system system" "POST check detailed" \
         "POST cache/reset -" "POST connectivity connectivity"; do
    set -- $r
    http "$1" "$H/$2" -H "X-API-Key: $OPERATOR" -H "$J"
    expect_eq "operator key: $1 $2 answers 200" 200 "$HTTP_STATUS"
    [ "$3" = - ] || expect_eq "operator key: $1 $2 in the client's shape" ok "$(shape "$3")"
    http "$1" "$H/$2" -H "X-API-Key: $ADMIN" -H "$J"
    expect_eq "admin key: $1 $2 still answers 200" 200 "$HTTP_STATUS"
    for k in "$VIEWER viewer" "$INGEST ingest"; do
        set -- $r; key=${k%% *}
        http "$1" "$H/$2" -H "X-API-Key: $key" -H "$J"
        expect_eq "${k#* } key (no health:read): $1 $2 refused" "403 FORBIDDEN" "$HTTP_STATUS $(jbody 'd["error"]["code"]')"
    done
done
http GET /api/v1/audit/events -H "X-API-Key: $OPERATOR"
expect_eq "operator key still reads no organization's events" 403 "$HTTP_STATUS"

# 2. PUT config: an operator's alone
put() { http PUT $H/config -H "X-API-Key: ${2:-$OPERATOR}" -H "$J" --data-binary "$1"; }
cfg() { http GET $H/config -H "X-API-Key: $OPERATOR"; jbody "$1"; }
http PUT $H/config -H "$J" --data-binary '{"timeout":500}'
expect_eq "PUT config: 401 without a key" 401 "$HTTP_STATUS"
put '{"timeout":500}' "$VIEWER"
expect_eq "PUT config: 403 for a viewer" 403 "$HTTP_STATUS"
put '{"timeout":500}' "$ADMIN"
expect_eq "PUT config: 403 for an organization's admin (process-wide settings)" "403 FORBIDDEN" \
    "$HTTP_STATUS $(jbody 'd["error"]["code"]')"
expect_eq "PUT config: nothing changed by refused callers" 800 "$(cfg 'd["timeout"]')"

# bad input: 400 naming the field, nothing half-applied
fields() { jbody '",".join(e["field"] for e in d["error"]["details"]["errors"])'; }
put '{"timeout":5000}'
expect_eq "PUT config: timeout above the 800 ms probe bound is 400 naming timeout" "400 VALIDATION_ERROR timeout" \
    "$HTTP_STATUS $(jbody 'd["error"]["code"]') $(fields)"
put '{"timeout":500,"alertThresholds":{"writerQueueDegradedPercent":50},"enabledChecks":["database","bogus"]}'
expect_eq "PUT config: one bad member refuses the whole (enabledChecks[1])" "400 enabledChecks[1]" "$HTTP_STATUS $(fields)"
http GET $H/config -H "X-API-Key: $OPERATOR"
expect_eq "PUT config: nothing of the refused body applied" "800 80 database,redis,audit" \
    "$(jbody 'd["timeout"]') $(jbody 'd["alertThresholds"]["writerQueueDegradedPercent"]') $(jbody '",".join(d["enabledChecks"])')"
put '{"checkInterval":30000,"retryAttempts":3,"colour":"red","alertThresholds":{"cpu":90},"enabledChecks":[],"timeout":"fast"}'
expect_eq "PUT config: every fault named (fixed settings, unknown members, types)" \
    "400 alertThresholds.cpu,checkInterval,colour,enabledChecks,retryAttempts,timeout" \
    "$HTTP_STATUS $(jbody '",".join(sorted(e["field"] for e in d["error"]["details"]["errors"]))')"
expect_eq "PUT config: a fixed setting's refusal says it cannot be changed" NOT_CHANGEABLE \
    "$(jbody '[e["code"] for e in d["error"]["details"]["errors"] if e["field"]=="checkInterval"][0]')"
put '{"alertThresholds":{"databaseLatencyDegradedMs":600},"timeout":500}'
expect_eq "PUT config: a latency threshold not below the timeout is 400" "400 alertThresholds.databaseLatencyDegradedMs" \
    "$HTTP_STATUS $(fields)"
put 'not json'
expect_eq "PUT config: a body that is not a JSON object is 400" "400 VALIDATION_ERROR" "$HTTP_STATUS $(jbody 'd["error"]["code"]')"

# GET's answer sent back changes nothing
http GET $H/config -H "X-API-Key: $OPERATOR"
put "$HTTP_BODY"
expect_eq "PUT config: GET's own answer is accepted and changes nothing" "200 []" "$HTTP_STATUS $(jbody 'd["changed"]')"

# a change: applied at once, answered in GET's shape with what changed
put '{"timeout":500,"alertThresholds":{"writerQueueDegradedPercent":50},"enabledChecks":["database","audit"]}'
expect_eq "PUT config: 200 with the settings now in force" "200 ok 500 50 database,audit" \
    "$HTTP_STATUS $(shape config) $(jbody 'd["timeout"]') $(jbody 'd["alertThresholds"]["writerQueueDegradedPercent"]') $(jbody '",".join(d["enabledChecks"])')"
expect_eq "PUT config: names what changed" "alertThresholds.writerQueueDegradedPercent,enabledChecks,timeout" \
    "$(jbody '",".join(sorted(d["changed"]))')"
http GET $H/config -H "X-API-Key: $OPERATOR"
expect_eq "GET config: shows the change" "500 database,audit" "$(jbody 'd["timeout"]') $(jbody '",".join(d["enabledChecks"])')"
http GET $H
expect_eq "check: judges and shows the enabled checks only" "200 audit,database" \
    "$HTTP_STATUS $(jbody '",".join(sorted(d["checks"]))')"
http GET "$H/detailed?componentChecks=redis" -H "X-API-Key: $OPERATOR"
expect_eq "detailed: componentChecks still names any component" "200 redis" "$HTTP_STATUS $(jbody '",".join(d["services"])')"

# the timeout and the latency threshold act on the database check: hold
# PostgreSQL still for 0.4 s (under the 800 ms probe bound) during one check
pm=$(head -n 1 "$AUDITDB_HOME/pg/postmaster.pid")
frozen="$pm $(pgrep -P "$pm" | tr '\n' ' ')"
slow_check() {
    kill -STOP $frozen
    (sleep 0.4; kill -CONT $frozen) &
    thaw=$!
    http GET $H/components/database -H "X-API-Key: $OPERATOR"
    wait "$thaw"
}
put '{"timeout":100}'
slow_check
expect_eq "timeout 100 ms: a database answering in ~400 ms is unhealthy, and says why" "unhealthy yes" \
    "$(jbody 'd["status"]') $(jbody '"yes" if "timeout of 100 ms" in d["message"] else d["message"]')"
put '{"timeout":800,"alertThresholds":{"databaseLatencyDegradedMs":100}}'
slow_check
expect_eq "latency threshold 100 ms: a database answering in ~400 ms is degraded" "degraded yes" \
    "$(jbody 'd["status"]') $(jbody '"yes" if "100 ms threshold" in d["message"] else d["message"]')"
http GET $H/components/database -H "X-API-Key: $OPERATOR"
expect_eq "and healthy again when it answers at once" healthy "$(jbody 'd["status"]')"

# self-audit: every change recorded, with the operator's key id and no secret
i=0
while [ $i -lt 50 ] && [ "$(sql "SELECT count(*) FROM security_events WHERE event_type = 'health_config_changed'")" -lt 3 ]; do
    sleep 0.2; i=$((i + 1))
done
expect_eq "self-audit: each of the 3 changes recorded (the no-op and refused PUTs not)" 3 \
    "$(sql "SELECT count(*) FROM security_events WHERE event_type = 'health_config_changed'")"
expect_eq "self-audit: by the operator's key, saying what changed" "$OPERATOR_ID|timeout 800->500" \
    "$(sql "SELECT api_key_id || '|' || split_part(description, ';', 1) FROM security_events WHERE event_type = 'health_config_changed' ORDER BY id LIMIT 1")"
check "self-audit: no key secret in the records" \
    sh -c "! psql '$AUDIT_DB_URL' -qAtX -c \"SELECT description FROM security_events\" | grep -qF '$OPERATOR'"

stop_serve TERM; rc=$?
expect_eq "serve stops cleanly (no sanitizer report)" 0 "$rc"
[ "$rc" -eq 0 ] || diag "$(grep -v '^{' "$TEST_TMP/serve.log" | tail -40)"
AUDIT_DB_URL= "$AUDITDB_BIN" db stop >/dev/null 2>&1
finish
