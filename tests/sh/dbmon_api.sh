# dbmon_api.sh - the database monitoring routes (docs/monitoring.md, "Database
# monitoring"): operator keys only (no key 401; an organization's admin and
# viewer 403), each answer as api/openapi.json documents it; tables with dead
# tuples counted exactly (autovacuum off on them), autovacuum due, a bloat
# estimate, transaction-id ages; duplicate and unused indexes; bad parameters
# 400 naming the field; the round's figures on /metrics; without hypopg and
# pg_stat_statements the routes still answer, empty, saying why and what to
# do; a finding that is gone (an index dropped, a statement no longer slow)
# resolves its alert at the next round, while kinds the round could not look
# at (no pg_stat_statements, no hypopg) keep theirs; db optimize answers
# without them; AUDIT_MONITORING_ENABLED=false runs no round; migration 0037
# by a role that may not create extensions goes on, saying so.
. tests/lib.sh

fresh_db t_dbmon_api
"$AUDITDB_BIN" migrate >/dev/null 2>&1 || { not_ok "migrate"; finish; }
sql "CREATE TABLE dbmon_churn (id int, v text) WITH (autovacuum_enabled = false)" >/dev/null
sql "INSERT INTO dbmon_churn SELECT g, 'x' FROM generate_series(1, 20000) g" >/dev/null
sql "UPDATE dbmon_churn SET v = 'y'" >/dev/null
sql "CREATE INDEX dbmon_churn_id_1 ON dbmon_churn (id)" >/dev/null
sql "CREATE INDEX dbmon_churn_id_2 ON dbmon_churn (id)" >/dev/null
sql "CREATE INDEX dbmon_churn_id_v ON dbmon_churn (id, v)" >/dev/null

"$AUDITDB_BIN" keys create --role operator >"$TEST_TMP/op.txt"
OP=$(sed -n 's/^key (shown once, store it now): //p' "$TEST_TMP/op.txt")
ADMIN=$(newkey org-a admin)
VIEWER=$(newkey org-a viewer)
export AUDITDB_DBMON_INTERVAL_S=1
if ! start_serve "$TEST_TMP/serve.log"; then
    not_ok "serve starts"; diag "$(tail -5 "$TEST_TMP/serve.log")"; finish
fi
D=/api/v1/db

# who may read
for r in performance slow-queries indexes tables suggestions; do
    http GET "$D/$r"
    expect_eq "GET $r without a key: 401" 401 "$HTTP_STATUS"
    http GET "$D/$r" -H "X-API-Key: $ADMIN"
    expect_eq "GET $r with an organization's admin key: 403" "403 FORBIDDEN" "$HTTP_STATUS $(jbody 'd["error"]["code"]')"
    http GET "$D/$r" -H "X-API-Key: $VIEWER"
    expect_eq "GET $r with a viewer key: 403" 403 "$HTTP_STATUS"
    http GET "$D/$r" -H "X-API-Key: $OP"
    expect_eq "GET $r with an operator key: 200" 200 "$HTTP_STATUS"
done

# the tables: dead tuples, autovacuum, bloat, xid age
http GET "$D/tables?limit=5000" -H "X-API-Key: $OP"
conforms "GET $D/tables 200" GET "$D/tables" 200
t=$(jbody '[x for x in d["tables"] if x["table"] == "dbmon_churn"][0]')
expect_eq "dbmon_churn: 20000 live, 20000 dead tuples" "20000 20000" \
    "$(printf '%s' "$t" | json 'str(d["liveTuples"]) + " " + str(d["deadTuples"])')"
expect_eq "dbmon_churn: autovacuum due (threshold 50 + 0.2 x live), never vacuumed" "True 4050 None" \
    "$(printf '%s' "$t" | json 'str(d["autovacuumDue"]) + " " + str(d["autovacuumThreshold"]) + " " + str(d["lastAutovacuum"])')"
pages=$(sql "SELECT pg_relation_size('dbmon_churn')")
expect_eq "dbmon_churn: bloat estimate = size x dead share" "$((pages / 2))" \
    "$(printf '%s' "$t" | json 'd["bloatBytesEstimate"]')"
# ages grow with every transaction (the round's own): read before and after
between() { [ "$2" -ge "$1" ] && [ "$2" -le "$3" ] || { diag "$1 <= $2 <= $3 does not hold"; false; }; }
xid_table() { sql "SELECT age(relfrozenxid) FROM pg_class WHERE relname = 'dbmon_churn'"; }
xid_db() { sql "SELECT age(datfrozenxid) FROM pg_database WHERE datname = current_database()"; }
check "dbmon_churn: its relfrozenxid age" between 1 "$(printf '%s' "$t" | json 'd["xidAge"]')" "$(xid_table)"
expect_eq "audit_log's partitions name their parent" "audit_log" \
    "$(jbody 'sorted(set(x["partitionOf"] for x in d["tables"] if x["table"].startswith("audit_log_")))[0]')"

# the indexes: duplicate, covered, unused
http GET "$D/indexes?only=duplicate" -H "X-API-Key: $OP"
conforms "GET $D/indexes 200" GET "$D/indexes" 200
expect_eq "only=duplicate: the newer equal index, naming the older" "dbmon_churn_id_2>dbmon_churn_id_1" \
    "$(jbody '" ".join(x["index"] + ">" + x["duplicateOf"] for x in d["indexes"] if x["table"] == "dbmon_churn")')"
http GET "$D/indexes?only=unused&limit=5000" -H "X-API-Key: $OP"
expect_eq "only=unused: the three never-scanned indexes of dbmon_churn" "dbmon_churn_id_1 dbmon_churn_id_2 dbmon_churn_id_v" \
    "$(jbody '" ".join(sorted(x["index"] for x in d["indexes"] if x["table"] == "dbmon_churn"))')"
expect_eq "unique and primary-key indexes are never unused" 0 \
    "$(jbody 'len([x for x in d["indexes"] if x["unique"] or x["primary"] or x["constraint"]])')"
http GET "$D/indexes?limit=5000" -H "X-API-Key: $OP"
expect_eq "dbmon_churn_id_1 is covered by the wider (id, v)" "dbmon_churn_id_v" \
    "$(jbody '[x["coveredBy"] for x in d["indexes"] if x["index"] == "dbmon_churn_id_1"][0]')"

# the summary, the slow statements, the suggestions: as documented
x0=$(xid_db)
http GET "$D/performance" -H "X-API-Key: $OP"
conforms "GET $D/performance 200" GET "$D/performance" 200
expect_eq "performance: this database" t_dbmon_api "$(jbody 'd["database"]["database"]')"
check "performance: its xid age" between "$x0" "$(jbody 'd["database"]["xidAge"]')" "$(xid_db)"
expect_eq "performance: the duplicate counted, alerts in _process" "1 _process" \
    "$(jbody 'str(d["indexes"]["duplicate"]) + " " + d["organizationOfAlerts"]')"
expect_match "performance: the duplicate is a finding" "dbmon/duplicate-index/public.dbmon_churn_id_2" \
    "$(jbody '[x["key"] for x in d["findings"]]')"
http GET "$D/slow-queries?thresholdMs=0&limit=3" -H "X-API-Key: $OP"
conforms "GET $D/slow-queries 200" GET "$D/slow-queries" 200
expect_eq "slow-queries: limit and threshold taken" "3 0" "$(jbody 'str(len(d["slowQueries"])) + " " + str(d["thresholdMs"])')"
http GET "$D/suggestions?minCalls=1" -H "X-API-Key: $OP"
conforms "GET $D/suggestions 200" GET "$D/suggestions" 200

# bad parameters: 400 naming the field, nothing else answered
for q in "slow-queries?limit=0 limit" "slow-queries?limit=501 limit" "slow-queries?thresholdMs=-1 thresholdMs" \
         "indexes?only=some only" "indexes?limit=x limit" "tables?limit=5001 limit" "suggestions?minCalls=0 minCalls"; do
    set -- $q
    http GET "$D/$1" -H "X-API-Key: $OP"
    expect_eq "GET $1: 400 naming $2" "400 $2" "$HTTP_STATUS $(jbody 'd["error"]["details"]["errors"][0]["field"]')"
done
http GET "$D/tables?bogus=1" -H "X-API-Key: $OP"
expect_eq "an unknown parameter: 400" 400 "$HTTP_STATUS"

# the round's figures on /metrics
i=0
while [ $i -lt 50 ]; do
    m=$(curl -s -H "X-API-Key: $OP" "$BASE_URL/metrics")
    printf '%s\n' "$m" | grep -q '^auditdb_dbmon_rounds_total [1-9]' && break
    sleep 0.2; i=$((i + 1))
done
expect_match "/metrics: rounds counted" '^auditdb_dbmon_rounds_total [1-9]' "$(printf '%s\n' "$m" | grep rounds_total)"
expect_eq "/metrics: no round failed, both extensions there, the duplicate" "0 1 1 1" \
    "$(printf '%s\n' "$m" | awk '/^auditdb_dbmon_round_failures_total /{a=$2} /extension="pg_stat_statements"/{b=$2}
        /extension="hypopg"/{c=$2} /^auditdb_db_indexes\{state="duplicate"\}/{d=$2} END{print a, b, c, d}')"
check "/metrics: the xid age" between 1 "$(printf '%s\n' "$m" | awk '/^auditdb_db_xid_age /{print $2}')" "$(xid_db)"
expect_eq "the round raised the duplicate as an alert of _process" 1 \
    "$(sql "SELECT count(*) FROM alerts WHERE organization_id = '_process' AND dedup_key = 'dbmon/duplicate-index/public.dbmon_churn_id_2'")"

# a finding that is gone resolves its alert at the next round; kinds the round looks at only
seed() { sql "SELECT auditdb_alert_raise('_process', 'auditdb-dbmon', '$1', NULL, NULL, 'MEDIUM', 'PERFORMANCE',
                'seeded', 'seeded finding', NULL, '{}', '[]', now(), now())" >/dev/null; }
poll() { i=0; while [ $i -lt 100 ]; do v=$(sql "$1"); [ "$v" = "$2" ] && break; sleep 0.1; i=$((i + 1)); done; printf '%s' "$v"; }
seed dbmon/slow-query/424242
sql "DROP INDEX dbmon_churn_id_2" >/dev/null
expect_eq "the duplicate dropped: its alert resolved by the next round, by auditdb-dbmon" "resolved auditdb-dbmon" \
    "$(poll "SELECT status || ' ' || resolved_by FROM alerts WHERE dedup_key = 'dbmon/duplicate-index/public.dbmon_churn_id_2'" "resolved auditdb-dbmon")"
expect_eq "a slow statement no longer slow (with pg_stat_statements): resolved too" resolved \
    "$(poll "SELECT status FROM alerts WHERE dedup_key = 'dbmon/slow-query/424242'" resolved)"
expect_eq "each resolution goes to the audit trail (outbox or logged: alert.resolved)" 2 \
    "$(poll "SELECT (SELECT count(*) FROM alert_audit_outbox WHERE action = 'alert.resolved' AND organization_id = '_process')
            + (SELECT count(*) FROM audit_log WHERE organization_id = '_process' AND action = 'alert.resolved')" 2)"
m=$(curl -s -H "X-API-Key: $OP" "$BASE_URL/metrics")
expect_eq "/metrics: alerts resolved counted" 2 "$(printf '%s\n' "$m" | awk '/^auditdb_dbmon_alerts_resolved_total /{print $2}')"
http GET "$D/performance" -H "X-API-Key: $OP"
expect_eq "performance: lastRound.alertsResolved" 2 "$(jbody 'd["lastRound"]["alertsResolved"]')"

# without the extensions: the routes answer, empty, saying why
sql "DROP EXTENSION hypopg" >/dev/null
http GET "$D/suggestions" -H "X-API-Key: $OP"
expect_eq "without hypopg: 200, no suggestion" "200 0 False" \
    "$HTTP_STATUS $(jbody 'str(len(d["suggestions"])) + " " + str(d["capabilities"]["hypopg"]["available"])')"
expect_match "without hypopg: what to do" "CREATE EXTENSION hypopg" "$(jbody 'd["capabilities"]["hypopg"]["reason"]')"
sql "DROP EXTENSION pg_stat_statements" >/dev/null
http GET "$D/slow-queries" -H "X-API-Key: $OP"
expect_eq "without pg_stat_statements: 200, no statement" "200 0 False" \
    "$HTTP_STATUS $(jbody 'str(len(d["slowQueries"])) + " " + str(d["capabilities"]["pgStatStatements"]["available"])')"
expect_match "without pg_stat_statements: what to do" "CREATE EXTENSION pg_stat_statements" \
    "$(jbody 'd["capabilities"]["pgStatStatements"]["reason"]')"
http GET "$D/performance" -H "X-API-Key: $OP"
expect_eq "without both: the summary still answers" 200 "$HTTP_STATUS"
seed dbmon/slow-query/777
seed 'dbmon/missing-index/public.x(a)'
# a round in progress while the extensions were dropped may fail; the rounds after them may not
sleep 1.2
m1=$(curl -s -H "X-API-Key: $OP" "$BASE_URL/metrics")
r1=$(printf '%s\n' "$m1" | awk '/^auditdb_dbmon_rounds_total /{print $2}')
f1=$(printf '%s\n' "$m1" | awk '/^auditdb_dbmon_round_failures_total /{print $2}')
sleep 2.5
m=$(curl -s -H "X-API-Key: $OP" "$BASE_URL/metrics")
r2=$(printf '%s\n' "$m" | awk '/^auditdb_dbmon_rounds_total /{print $2}')
check "without both: rounds go on" test "$r2" -gt "$r1"
expect_eq "without both: open slow-query and missing-index alerts are left alone (not looked at)" "active active" \
    "$(sql "SELECT string_agg(status, ' ' ORDER BY dedup_key) FROM alerts WHERE dedup_key IN ('dbmon/slow-query/777', 'dbmon/missing-index/public.x(a)')")"
"$AUDITDB_BIN" db optimize --json >"$TEST_TMP/opt.json" 2>"$TEST_TMP/opt.err"
expect_eq "without both: db optimize answers (exit 0), saying what is missing" "0 False False" \
    "$? $(json 'str(d["capabilities"]["pgStatStatements"]["available"]) + " " + str(d["capabilities"]["hypopg"]["available"])' <"$TEST_TMP/opt.json")"
expect_eq "without both: no round failed since, capabilities 0" "$f1 0 0" \
    "$(printf '%s\n' "$m" | awk '/^auditdb_dbmon_round_failures_total /{a=$2} /extension="pg_stat_statements"/{b=$2}
        /extension="hypopg"/{c=$2} END{print a, b, c}')"
grep -q round_failed "$TEST_TMP/serve.log" && diag "$(grep round_failed "$TEST_TMP/serve.log" | head -3)"
stop_serve

# AUDIT_MONITORING_ENABLED=false: no round; the routes still answer
export AUDIT_MONITORING_ENABLED=false
start_serve "$TEST_TMP/serve2.log" || not_ok "serve starts without monitoring"
sleep 2
expect_eq "monitoring off: no round" 0 \
    "$(curl -s -H "X-API-Key: $OP" "$BASE_URL/metrics" | awk '/^auditdb_dbmon_rounds_total /{print $2}')"
http GET "$D/tables" -H "X-API-Key: $OP"
expect_eq "monitoring off: routes answer" 200 "$HTTP_STATUS"
stop_serve

# migration 0037 on a server where the migrating role may not create the extensions: it goes on
psql "$ADMIN_URL" -qAtX -c "DO \$\$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'dbmon_nosuper')
    THEN CREATE ROLE dbmon_nosuper NOSUPERUSER; END IF; END \$\$" >/dev/null
fresh_db t_dbmon_noext
out=$(psql "$AUDIT_DB_URL" -qAtX -v ON_ERROR_STOP=1 -c "SET ROLE dbmon_nosuper" -f migrations/0037_db_monitoring.sql 2>&1)
expect_eq "0037 as a role that may not create extensions: succeeds" 0 "$?"
expect_match "...saying so for pg_stat_statements" "could not create extension pg_stat_statements" "$out"
expect_match "...and for hypopg" "could not create extension hypopg" "$out"
expect_eq "...creating neither" 0 "$(sql "SELECT count(*) FROM pg_extension WHERE extname IN ('hypopg', 'pg_stat_statements')")"
finish
