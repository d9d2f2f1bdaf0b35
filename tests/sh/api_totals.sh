# api_totals.sh - a filtered list's total: exact when small (a capped count), else the
# planner's estimate, kept for AUDITDB_TOTAL_ESTIMATE_TTL_S, then served while it is refreshed
# after an answer, and the refreshed one from then on (docs/api.md).
. tests/lib.sh

fresh_db t_totals
"$AUDITDB_BIN" migrate >/dev/null
KEY=$("$AUDITDB_BIN" keys create --org org-t --role auditor | sed -n 's/^key (shown once, store it now): //p')
# events: N for principal P, spread over the last hours
events() {
    python3 -c 'import datetime, sys
n, p = int(sys.argv[1]), sys.argv[2]
t = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=3)
for i in range(n):
    ts = (t + datetime.timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    print("{\"timestamp\":\"%s\",\"action\":\"record.read\",\"status\":\"success\",\"organizationId\":\"org-t\",\"principalId\":\"%s\"}" % (ts, p))' "$1" "$2" |
        "$AUDITDB_BIN" import --quiet - >/dev/null
}
events 1500 p-1
events 300 p-2
sql "ANALYZE audit_log" >/dev/null

err=$(AUDITDB_TOTAL_ESTIMATE_TTL_S=0 "$AUDITDB_BIN" serve --listen 127.0.0.1:0 2>&1); rc=$?
expect_eq "a TTL of 0: refused, exit 2" 2 "$rc"
expect_match "a TTL of 0: the variable named" 'AUDITDB_TOTAL_ESTIMATE_TTL_S' "$err"

# the server's own defaults print times another way: the pool's connections set theirs
sql "ALTER DATABASE t_totals SET DateStyle = 'SQL, DMY'" >/dev/null
sql "ALTER DATABASE t_totals SET TimeZone = 'America/New_York'" >/dev/null
export AUDITDB_TOTAL_ESTIMATE_TTL_S=4
if ! start_serve "$TEST_TMP/serve.log"; then
    not_ok "serve starts"; diag "$(cat "$TEST_TMP/serve.log")"; finish
fi
ok "serve starts"
total() { http GET "/api/v1/audit/events?principalIds=$1&limit=10" -H "X-API-Key: $KEY"; jbody '"%s %s" % (d["pagination"]["total"], d["pagination"]["totalExact"])'; }

expect_eq "a small filtered total: counted, exact" "300 True" "$(total p-2)"
http GET "/api/v1/audit/events?principalIds=p-2&limit=1" -H "X-API-Key: $KEY"
expect_eq "times in the API's form whatever the database's DateStyle and TimeZone" \
    "$(sql "SELECT to_char(\"timestamp\" AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM audit_log WHERE principal_id = 'p-2' ORDER BY \"timestamp\" DESC, id DESC LIMIT 1")" \
    "$(jbody 'd["events"][0]["storedTimestamp"]')"
first=$(total p-1)
t0=$(date +%s.%N)
e1=${first% *}
expect_eq "a large filtered total: an estimate" False "${first#* }"
expect_eq "the estimate near the 1,500 stored (within 30 %)" yes "$([ "$e1" -ge 1050 ] && [ "$e1" -le 1950 ] && echo yes || echo "no: $e1")"

events 1500 p-1
sql "ANALYZE audit_log" >/dev/null
expect_eq "within the TTL: the kept estimate" "$e1 False" "$(total p-1)"
left=$(python3 -c "import sys, time; print(max(0.0, float(sys.argv[1]) + 4.3 - time.time()))" "$t0")
expect_eq "(the checks above took less than the TTL)" yes "$(python3 -c "print('yes' if $left > 0 else 'no')")"
sleep "$left"
expect_eq "past the TTL: the kept estimate once more, refreshed after the answer" "$e1 False" "$(total p-1)"
i=0; now=$first
while [ $i -lt 50 ] && [ "$now" = "$first" ]; do
    sleep 0.1; now=$(total p-1); i=$((i + 1))
done
e2=${now% *}
expect_eq "then the refreshed estimate, near the 3,000 stored" yes \
    "$([ "$e2" -ge 2100 ] && [ "$e2" -le 3900 ] && echo yes || echo "no: $e2 after $e1")"
expect_eq "…and it stays, fresh" "$now" "$(total p-1)"
expect_eq "the small total is still exact" "300 True" "$(total p-2)"

stop_serve TERM; rc=$?
expect_eq "SIGTERM: exit 0" 0 "$rc"
finish
