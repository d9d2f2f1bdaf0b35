#!/bin/sh
# metrics.sh - what the organization metrics routes cost (docs/monitoring.md, "Cost"): one
# organization of 200,000 events spread over the last day, stored through the bulk API of a
# release `auditdb serve`; each route timed (the third of three calls) against the events'
# statistics route over the same range, measured in the same run (the reference: one scan of
# the same rows); the historical stream by the minute; and one database monitoring round (auditdb
# db optimize) against a raw read of the statistics views it starts from.
# Run: scripts/with-cluster.sh build/release/auditdb bench/metrics.sh (make bench runs it)
set -u
. tests/lib.sh
TEST_TMP=$RUN_TMP
AUDITDB_BIN=${AUDITDB_BIN:-$PWD/build/release/auditdb}
export AUDITDB_BIN AUDITDB_HOME="$RUN_TMP/home"
N=${METRICS_BENCH_EVENTS:-200000}
fresh_db b_metrics
"$AUDITDB_BIN" migrate >/dev/null
A=$(newkey org-a admin)
start_serve "$RUN_TMP/serve.log" || { cat "$RUN_TMP/serve.log"; exit 1; }
python3 - "$BASE_URL" "$A" "$N" <<'PY'
import datetime, json, random, sys, urllib.request
base, key, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
now = datetime.datetime.now(datetime.timezone.utc)
random.seed(1)
acts = ["fhir.patient.read", "fhir.patient.update", "auth.login.success", "auth.login.failure", "report.export"]
for b in range(n // 1000):
    evs = [{"timestamp": (now - datetime.timedelta(seconds=random.randint(60, 86000))).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "action": random.choice(acts), "status": random.choice(["success"] * 9 + ["failure"]),
            "principalId": "p-%d" % random.randint(1, 500), "targetResourceType": random.choice(["Patient", "Report", "User"]),
            "dataClassification": "PHI"} for _ in range(1000)]
    req = urllib.request.Request(base + "/api/v1/audit/events/bulk", data=json.dumps({"events": evs}).encode(),
                                 headers={"X-API-Key": key, "Content-Type": "application/json"})
    urllib.request.urlopen(req).read()
PY
sql "VACUUM ANALYZE" >/dev/null
timed() { for k in 1 2 3; do t=$(curl -s -o /dev/null -w '%{time_total}' -H "X-API-Key: $A" "$BASE_URL$1"); done; echo "$t"; }
ref=$(timed "/api/v1/audit/events/statistics?startDate=$(date -u -d '-1 day' +%Y-%m-%dT%H:%M:%SZ)&endDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)")
echo "reference: GET /api/v1/audit/events/statistics over the day: $ref s ($N events)"
for r in "audit?includeTimeline=false&includeBreakdown=false" "audit" "audit?granularity=minute" \
         performance usage dashboard "audit/historical?granularity=hour"; do
    t=$(timed "/api/v1/metrics/$r")
    echo "GET /api/v1/metrics/$r: $t s, ratio to the reference $(python3 -c "print(round($t / $ref, 2))")"
done
# the historical stream: the day by the minute (1,440 buckets: two pieces), the whole answer read
S=$(date -u -d '-1 day' +%Y-%m-%dT%H:%M:%SZ); E=$(date -u +%Y-%m-%dT%H:%M:%SZ)
for k in 1 2 3; do
    t=$(curl -s -o /dev/null -w '%{time_total}' -H "X-API-Key: $A" -H 'Content-Type: application/json' \
        --data-binary "{\"metrics\":[\"audit\"],\"timeRange\":{\"startDate\":\"$S\",\"endDate\":\"$E\"},\"resolution\":\"minute\"}" \
        "$BASE_URL/api/v1/metrics/historical/stream")
done
echo "POST /api/v1/metrics/historical/stream (audit by the minute over the day): $t s, ratio to the reference $(python3 -c "print(round($t / $ref, 2))")"
stop_serve

# database monitoring: one whole round (auditdb db optimize: statistics, indexes, tables, slow
# statements, suggestions checked with hypopg) against the raw reads of the statistics views it
# starts from (the reference, same run, same database)
raw() { psql "$AUDIT_DB_URL" -qAtX -o /dev/null -c "SELECT * FROM pg_stat_user_tables" \
    -c "SELECT * FROM pg_stat_user_indexes" -c "SELECT * FROM pg_stat_statements"; }
now_s() { date +%s.%N; }
for k in 1 2 3; do t0=$(now_s); raw; t1=$(now_s); done
rref=$(python3 -c "print(round($t1 - $t0, 4))")
for k in 1 2 3; do t0=$(now_s); "$AUDITDB_BIN" db optimize --json >"$RUN_TMP/opt.json"; t1=$(now_s); done
rt=$(python3 -c "print(round($t1 - $t0, 4))")
echo "reference: the statistics views read raw (psql, tables, indexes, statements): $rref s"
echo "auditdb db optimize (one monitoring round, $(json 'len(d["suggestions"])' <"$RUN_TMP/opt.json") suggestions, $(json 'len(d["findings"])' <"$RUN_TMP/opt.json") findings): $rt s, ratio to the reference $(python3 -c "print(round($rt / $rref, 1))")"
