# dbmon_suggest.sh - issue 20's must-show: a missing index found on a seeded slow
# query, with its hypopg cost figures (docs/monitoring.md, "Index suggestions").
# A table of 200,000 orders read by customer and amount with no index: the
# statement seq-scans; run 8 times, it is slow and a candidate. The suggestion
# names the columns, its cost before equals the planner's own EXPLAIN of the
# statement (the same cost, read independently in psql), and after < before;
# nothing was built to find it; a statement is planned as the role that ran it
# (not once that role lost its grant); the round raises it as an alert of _process;
# `auditdb db optimize` lists it and changes nothing, `--apply` builds it
# (valid, used by the planner), after which it is no longer suggested;
# `--drop-duplicates` drops an unused exact duplicate and never a unique one;
# a containment read of a jsonb column gets a GIN candidate (jsonb_path_ops),
# shown unchecked since hypopg refuses GIN (never raised, never applied);
# no literal of the statements appears in any answer or in serve's log.
. tests/lib.sh

fresh_db t_dbmon_suggest
"$AUDITDB_BIN" migrate >/dev/null 2>&1 || { not_ok "migrate"; finish; }
expect_eq "migration 0037 created pg_stat_statements and hypopg" "hypopg pg_stat_statements" \
    "$(sql "SELECT string_agg(extname, ' ' ORDER BY extname) FROM pg_extension WHERE extname IN ('hypopg', 'pg_stat_statements')")"

sql "CREATE TABLE dbmon_orders (id bigserial PRIMARY KEY, customer varchar(40) NOT NULL,
       amount int NOT NULL, note text)" >/dev/null
sql "INSERT INTO dbmon_orders (customer, amount, note) SELECT 'cust-' || (g % 5000), g % 997, 'n'
       FROM generate_series(1, 200000) g" >/dev/null
sql "ANALYZE dbmon_orders" >/dev/null
# literals that must never come back: pg_stat_statements keeps $1, $2
for i in 1 2 3 4 5 6 7 8; do
    sql "SELECT count(*) FROM dbmon_orders WHERE customer = 'secret-cust-47$i' AND amount > 31415926$i" >/dev/null
done
indexes_before=$(sql "SELECT count(*) FROM pg_indexes WHERE tablename = 'dbmon_orders'")

"$AUDITDB_BIN" keys create --role operator >"$TEST_TMP/op.txt"
OP=$(sed -n 's/^key (shown once, store it now): //p' "$TEST_TMP/op.txt")
export AUDIT_SLOW_QUERY_THRESHOLD=1 AUDITDB_DBMON_INTERVAL_S=1
if ! start_serve "$TEST_TMP/serve.log"; then
    not_ok "serve starts"; diag "$(tail -5 "$TEST_TMP/serve.log")"; finish
fi

http GET /api/v1/db/suggestions -H "X-API-Key: $OP"
expect_eq "GET /api/v1/db/suggestions: 200" 200 "$HTTP_STATUS"
printf '%s' "$HTTP_BODY" >"$TEST_TMP/sugg.json"
s=$(jbody '[x for x in d["suggestions"] if x["table"] == "dbmon_orders"]')
expect_eq "one suggestion for dbmon_orders" 1 "$(printf '%s' "$s" | json 'len(d)')"
expect_eq "it names the columns: customer (equality) then amount (range)" '["customer", "amount"]' \
    "$(printf '%s' "$s" | json 'd[0]["columns"]')"
expect_eq "its statement" "CREATE INDEX CONCURRENTLY ON public.dbmon_orders (customer, amount)" \
    "$(printf '%s' "$s" | json 'd[0]["statement"]')"
before=$(printf '%s' "$s" | json 'd[0]["costBefore"]')
after=$(printf '%s' "$s" | json 'd[0]["costAfter"]')
diag "cost before $before, after $after (hypothetical index)"
check "cost before > cost after, at most half" python3 -c "import sys; b,a=float(sys.argv[1]),float(sys.argv[2]); sys.exit(not (b > 0 and a <= b/2))" "$before" "$after"
expect_eq "checked with a hypothetical index" true "$(printf '%s' "$s" | json 'd[0]["checked"]')"
expect_eq "the statement's calls" 8 "$(printf '%s' "$s" | json 'd[0]["calls"]')"
# the cost before, read independently: psql's own generic plan of the same statement
psql_cost=$(psql "$AUDIT_DB_URL" -qAtX -v ON_ERROR_STOP=1 <<'EOF' | python3 -c 'import json,sys; print(json.loads(sys.stdin.read())[0]["Plan"]["Total Cost"])'
SET plan_cache_mode = force_generic_plan;
PREPARE q(text, int) AS SELECT count(*) FROM dbmon_orders WHERE customer = $1 AND amount > $2;
EXPLAIN (FORMAT JSON) EXECUTE q(NULL, NULL);
EOF
)
expect_eq "cost before = psql's EXPLAIN of the statement" "$psql_cost" "$before"
# the cost after, likewise: psql with its own hypothetical index
psql_after=$(psql "$AUDIT_DB_URL" -qAtX -v ON_ERROR_STOP=1 <<'EOF' | python3 -c 'import json,sys; print(json.loads(sys.stdin.read())[0]["Plan"]["Total Cost"])'
SELECT count(*) FROM hypopg_create_index('CREATE INDEX ON dbmon_orders (customer, amount)') \g /dev/null
SET plan_cache_mode = force_generic_plan;
PREPARE q(text, int) AS SELECT count(*) FROM dbmon_orders WHERE customer = $1 AND amount > $2;
EXPLAIN (FORMAT JSON) EXECUTE q(NULL, NULL);
EOF
)
expect_eq "cost after = psql's EXPLAIN with hypopg's index" "$psql_after" "$after"
expect_eq "nothing was built to find it" "$indexes_before" \
    "$(sql "SELECT count(*) FROM pg_indexes WHERE tablename = 'dbmon_orders'")"

# planned as the role that ran the statement, never with the monitor's own (superuser) rights
psql "$ADMIN_URL" -qAtX -c "DO \$\$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'dbmon_reader')
    THEN CREATE ROLE dbmon_reader NOLOGIN; END IF; END \$\$" >/dev/null
sql "CREATE TABLE dbmon_private (k int, v text)" >/dev/null
sql "INSERT INTO dbmon_private SELECT g, 'v' FROM generate_series(1, 100000) g" >/dev/null
sql "ANALYZE dbmon_private" >/dev/null
sql "GRANT SELECT ON dbmon_private TO dbmon_reader" >/dev/null
for i in 1 2 3 4 5 6; do
    psql "$AUDIT_DB_URL" -qAtX -c "SET ROLE dbmon_reader" -c "SELECT v FROM dbmon_private WHERE k = $i" >/dev/null
done
http GET /api/v1/db/suggestions -H "X-API-Key: $OP"
expect_eq "a statement of another role: suggested (k)" '[["k"]]' \
    "$(jbody '[x["columns"] for x in d["suggestions"] if x["table"] == "dbmon_private"]')"
sql "REVOKE SELECT ON dbmon_private FROM dbmon_reader" >/dev/null
http GET /api/v1/db/suggestions -H "X-API-Key: $OP"
expect_eq "once that role may not read the table, not planned (no suggestion)" '[]' \
    "$(jbody '[x["columns"] for x in d["suggestions"] if x["table"] == "dbmon_private"]')"
sql "DROP TABLE dbmon_private" >/dev/null

# GIN for jsonb containment: documents read by what they contain (@>), no index on them
sql "CREATE TABLE dbmon_docs (id bigserial PRIMARY KEY, body jsonb NOT NULL)" >/dev/null
sql "INSERT INTO dbmon_docs (body) SELECT jsonb_build_object('patient', 'p-' || (g % 10000), 'kind', 'note')
       FROM generate_series(1, 50000) g" >/dev/null
sql "ANALYZE dbmon_docs" >/dev/null
for i in 1 2 3 4 5 6; do
    sql "SELECT count(*) FROM dbmon_docs WHERE body @> '{\"patient\": \"secret-p-$i\"}'" >/dev/null
done
http GET /api/v1/db/suggestions -H "X-API-Key: $OP"
g=$(jbody '[x for x in d["suggestions"] if x["table"] == "dbmon_docs"]')
expect_eq "a containment read: a GIN candidate (jsonb_path_ops: @> alone) on the column" \
    'gin body CREATE INDEX CONCURRENTLY ON public.dbmon_docs USING gin (body jsonb_path_ops)' \
    "$(printf '%s' "$g" | json '" ".join([d[0]["method"], ",".join(d[0]["columns"]), d[0]["statement"]]) if d else "none"')"
# Debian's hypopg refuses GIN: the candidate is shown, unchecked, saying so, with the cost it would cut
hyp=$(psql "$AUDIT_DB_URL" -qAtX -c "SELECT hypopg_create_index('CREATE INDEX ON dbmon_docs USING gin (body jsonb_path_ops)')" 2>&1)
expect_eq "GIN: not checked, because hypopg refuses it (psql: $(printf '%s' "$hyp" | head -1 | cut -c1-60))" \
    "False None True" \
    "$(printf '%s' "$g" | json 'str(d[0]["checked"]) + " " + str(d[0]["costAfter"]) + " " + str("GIN" in d[0]["reason"] and d[0]["costBefore"] > 0)')"
sleep 1.5 # a round or more sees it
expect_eq "GIN: an unchecked candidate raises no alert" 0 \
    "$(sql "SELECT count(*) FROM alerts WHERE dedup_key LIKE 'dbmon/missing-index/public.dbmon_docs%'")"
expect_eq "GIN: nothing built" 1 "$(sql "SELECT count(*) FROM pg_indexes WHERE tablename = 'dbmon_docs'")"
sql "DROP TABLE dbmon_docs" >/dev/null

# the round raises it: an alert of the process-wide pseudo-organization
i=0
while [ $i -lt 100 ]; do
    n=$(sql "SELECT count(*) FROM alerts WHERE organization_id = '_process' AND source = 'auditdb-dbmon'
              AND dedup_key = 'dbmon/missing-index/public.dbmon_orders(customer,amount)'")
    [ "$n" = 1 ] && break
    sleep 0.2; i=$((i + 1))
done
expect_eq "the round raised the missing index as one alert of _process" 1 "$n"
expect_eq "alert: PERFORMANCE, MEDIUM, open" "PERFORMANCE MEDIUM active" \
    "$(sql "SELECT type || ' ' || severity || ' ' || status FROM alerts WHERE organization_id = '_process'
             AND dedup_key = 'dbmon/missing-index/public.dbmon_orders(customer,amount)'")"
sleep 2.5 # more rounds: folded into the same alert, not new ones
expect_eq "later rounds fold into the same alert" "1 yes" \
    "$(sql "SELECT count(*) || ' ' || CASE WHEN max(trigger_count) > 1 THEN 'yes' ELSE 'no' END FROM alerts
             WHERE dedup_key = 'dbmon/missing-index/public.dbmon_orders(customer,amount)'")"

# no literal anywhere: answers, alerts, serve's log
http GET "/api/v1/db/slow-queries?limit=500" -H "X-API-Key: $OP"
expect_match "the slow statement is listed, normalized" 'customer = \$1 AND amount > \$2' "$HTTP_BODY"
all="$HTTP_BODY $(cat "$TEST_TMP/sugg.json") $(sql "SELECT string_agg(title || description || metadata::text, ' ') FROM alerts")"
http GET /api/v1/db/performance -H "X-API-Key: $OP"
all="$all $HTTP_BODY"
if printf '%s' "$all" | grep -q 'secret-cust\|31415926'; then
    not_ok "no literal of the statements in any answer or alert"
else
    ok "no literal of the statements in any answer or alert"
fi
stop_serve
if grep -q 'secret-cust\|31415926' "$TEST_TMP/serve.log" "$TEST_TMP/serve.log.out"; then
    not_ok "no literal in serve's log"
else
    ok "no literal in serve's log"
fi

# auditdb db optimize: lists, changes nothing; --apply builds; --drop-duplicates
out=$("$AUDITDB_BIN" db optimize 2>&1)
expect_match "db optimize lists the suggestion with its costs" \
    "CREATE INDEX CONCURRENTLY ON public.dbmon_orders \(customer, amount\).*cost [0-9.]+ -> [0-9.]+" \
    "$(printf '%s' "$out" | tr '\n' ' ')"
expect_eq "db optimize without --apply builds nothing" "$indexes_before" \
    "$(sql "SELECT count(*) FROM pg_indexes WHERE tablename = 'dbmon_orders'")"
"$AUDITDB_BIN" db optimize --apply --json >"$TEST_TMP/apply.json" 2>"$TEST_TMP/apply.err"
expect_eq "db optimize --apply exits 0" 0 "$?"
expect_eq "the index is built, valid, on (customer, amount)" "true (customer, amount)" \
    "$(sql "SELECT x.indisvalid || ' ' || substring(pg_get_indexdef(x.indexrelid) from '\\(.*\\)')
             FROM pg_index x WHERE x.indrelid = 'dbmon_orders'::regclass AND NOT x.indisprimary")"
expect_match "the planner uses it" "Index" \
    "$(sql "EXPLAIN SELECT count(*) FROM dbmon_orders WHERE customer = 'cust-1' AND amount > 5")"
for i in 1 2 3 4 5 6; do
    sql "SELECT count(*) FROM dbmon_orders WHERE customer = 'cust-$i' AND amount > $i" >/dev/null
done
expect_eq "no longer suggested" 0 \
    "$("$AUDITDB_BIN" db optimize --json | json 'len([x for x in d["suggestions"] if x["table"] == "dbmon_orders"])')"

sql "CREATE INDEX dbmon_amount_a ON dbmon_orders (amount)" >/dev/null
sql "CREATE INDEX dbmon_amount_b ON dbmon_orders (amount)" >/dev/null
sql "CREATE UNIQUE INDEX dbmon_id_u ON dbmon_orders (id)" >/dev/null
j=$("$AUDITDB_BIN" db optimize --json)
expect_eq "the newer of two equal indexes is the duplicate of the older" "dbmon_amount_a" \
    "$(printf '%s' "$j" | json '[x["duplicateOf"] for x in d["indexes"] if x["index"] == "dbmon_amount_b"][0]')"
expect_eq "a unique index equal to the primary key is its duplicate (the primary key is kept)" \
    "dbmon_orders_pkey" "$(printf '%s' "$j" | json '[x["duplicateOf"] for x in d["indexes"] if x["index"] == "dbmon_id_u"][0]')"
"$AUDITDB_BIN" db optimize --drop-duplicates >/dev/null 2>&1
expect_eq "--drop-duplicates dropped the unused duplicate, kept the original and the unique index" \
    "dbmon_amount_a dbmon_id_u" \
    "$(sql "SELECT string_agg(indexname, ' ' ORDER BY indexname) FROM pg_indexes WHERE tablename = 'dbmon_orders'
             AND indexname IN ('dbmon_amount_a', 'dbmon_amount_b', 'dbmon_id_u')")"
"$AUDITDB_BIN" db optimize --min-calls zero >/dev/null 2>&1
expect_eq "a bad --min-calls is a usage error" 2 "$?"
finish
