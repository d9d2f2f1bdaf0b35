# plans.sh - speed that holds in a fresh deployment (issue 14, item 18): a serve started on an
# empty database analyzes the month's partition as it fills (never analyzed: at once; then at
# 1,000 rows, then each fourfold growth), so that the generic plans cached on its pooled
# connections while the partition was empty are made again with its size. Without it the
# read-back of created events kept a plan that scans every index entry of the organization.
# A serve started on a partition that was already analyzed does not analyze it again at once
# (it takes the partition's size from the planner's estimate).
# (The rates themselves are measured by `make bench`: bench/http_ingest.sh.)
. tests/lib.sh

fresh_db t_plans
"$AUDITDB_BIN" migrate >/dev/null 2>&1 || not_ok "migrate"
key=$("$AUDITDB_BIN" keys create --org org-p --role ingest | sed -n 's/^key (shown once, store it now): //p')
part=audit_log_$(date -u +%Y_%m)

# analyze_count (manual ANALYZE only, not autovacuum's) of this month's partition
analyzed() { sql "SELECT coalesce((SELECT analyze_count FROM pg_stat_user_tables WHERE relname = '$part'), -1)"; }
# wait_analyzed N: up to 5 s for analyze_count >= N (the writer analyzes after it answered)
wait_analyzed() {
    i=0
    while [ "$(analyzed)" -lt "$1" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    analyzed
}
# bulk N: N bulk requests of 100 events; prints how many were not 201
bulk() {
    body=$(python3 -c 'import json; print(json.dumps({"events": [{"action": "fhir.patient.read",
        "status": "success", "principalId": "p-%d" % i, "targetResourceId": "t-%d" % i} for i in range(100)]}))')
    bad=0
    n=0
    while [ $n -lt "$1" ]; do
        http POST /api/v1/audit/events/bulk -H "X-API-Key: $key" -H "Content-Type: application/json" -d "$body"
        [ "$HTTP_STATUS" = 201 ] || bad=$((bad + 1))
        n=$((n + 1))
    done
    echo "$bad"
}

if start_serve "$TEST_TMP/serve.log"; then ok "serve on an empty database"; else
    not_ok "serve on an empty database"; diag "$(cat "$TEST_TMP/serve.log")"; finish; fi
expect_eq "first request: 100 events stored" 0 "$(bulk 1)"
expect_eq "the new partition is analyzed with its first rows" 1 "$(wait_analyzed 1)"
expect_eq "up to 1,000 events: stored" 0 "$(bulk 9)"
expect_eq "at 1,000 rows it is analyzed again" 2 "$(wait_analyzed 2)"
reltuples=$(sql "SELECT reltuples::bigint FROM pg_class WHERE relname = '$part'")
expect_eq "the planner knows its size" 1000 "$reltuples"
expect_eq "up to 3,000 events: stored" 0 "$(bulk 20)"
sleep 0.5
expect_eq "not analyzed again before it grew fourfold (4,000 rows)" 2 "$(analyzed)"
stop_serve TERM

# a restarted serve finds the partition analyzed: it only reads its size
if start_serve "$TEST_TMP/serve2.log"; then ok "serve again on the same data"; else
    not_ok "serve again on the same data"; diag "$(cat "$TEST_TMP/serve2.log")"; finish; fi
expect_eq "restarted serve: 100 events stored" 0 "$(bulk 1)"
sleep 0.5
expect_eq "restarted serve: no ANALYZE of an analyzed partition at once" 2 "$(analyzed)"
stop_serve TERM
finish
