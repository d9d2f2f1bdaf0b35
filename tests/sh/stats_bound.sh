# stats_bound.sh - the statistics route's bound (docs/exports.md, "Statistics"): a range
# holding more events than `AUDITDB_STATS_MAX_EVENTS` (1,000,000 unless lowered; lowered to
# 30 here, so that a few events reach it) is refused, 400 `RANGE_TOO_LARGE` naming startDate
# with the bound in `maxEvents`, never counted in part; at the bound exactly, and for a
# narrower range or filter, the counts are exact; the statement reads at most bound + 1 rows
# (auto_explain's plan of it); the knob refuses 0 and values above a million.
. tests/lib.sh

fresh_db t_stats_bound
"$AUDITDB_BIN" migrate >/dev/null 2>&1 || not_ok "migrate"
key=$("$AUDITDB_BIN" keys create --org org-q --role auditor | sed -n 's/^key (shown once, store it now): //p')
E=/api/v1/audit/events
R="startDate=2026-11-01T00:00:00.000Z&endDate=2026-11-30T23:59:59.999Z"
# events through the import path (the library's writer): N of org-q on 2026-11-DAY
import() {
    python3 -c '
import json, sys
n, day, action = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
for i in range(n):
    print(json.dumps({"timestamp": "2026-11-%02dT10:%02d:%02d.000Z" % (day, i // 60, i % 60), "action": action,
                      "status": ["success", "failure"][i % 2], "organizationId": "org-q",
                      "principalId": "p", "targetResourceType": "Patient"}))' "$@" |
        "$AUDITDB_BIN" import --quiet - >/dev/null
}
import 20 3 record.read
import 10 4 record.update

for bad in 0 1000001 lots; do
    out=$(AUDITDB_STATS_MAX_EVENTS=$bad "$AUDITDB_BIN" serve --listen 127.0.0.1:1 2>&1)
    expect_eq "AUDITDB_STATS_MAX_EVENTS=$bad refused, exit 2, naming it" "2 yes" \
        "$? $(printf '%s' "$out" | grep -q 'AUDITDB_STATS_MAX_EVENTS' && echo yes)"
done

db=${AUDIT_DB_URL##*dbname=}
psql "$ADMIN_URL" -qAtX -v ON_ERROR_STOP=1 \
    -c "ALTER DATABASE \"$db\" SET session_preload_libraries = 'auto_explain'" \
    -c "ALTER DATABASE \"$db\" SET auto_explain.log_min_duration = 0" \
    -c "ALTER DATABASE \"$db\" SET auto_explain.log_analyze = on" \
    -c "ALTER DATABASE \"$db\" SET auto_explain.log_timing = off" \
    -c "ALTER DATABASE \"$db\" SET auto_explain.log_format = 'json'" >/dev/null
PGLOG=${RUN_TMP:-/nonexistent}/cluster/log/postgresql.log

export AUDITDB_STATS_MAX_EVENTS=30
if start_serve "$TEST_TMP/serve.log"; then ok "serve starts with the bound lowered to 30"; else
    not_ok "serve starts"; diag "$(cat "$TEST_TMP/serve.log")"; finish; fi
http GET "$E/statistics?$R&groupBy=day" -H "X-API-Key: $key"
expect_eq "30 events, the bound exactly: 200, counted exactly" \
    '200 30 {"attempt": 0, "success": 15, "failure": 15} {"record.read": 20, "record.update": 10}' \
    "$HTTP_STATUS $(jbody 'd["totalEvents"]') $(jbody 'd["eventsByStatus"]') $(jbody 'd["eventsByAction"]')"
import 1 5 record.read
from=$(($(wc -c <"$PGLOG" 2>/dev/null || echo 0) + 1))
http GET "$E/statistics?$R&groupBy=day" -H "X-API-Key: $key"
expect_eq "31 events: 400 RANGE_TOO_LARGE naming startDate, the bound in maxEvents, no counts" \
    "400 RANGE_TOO_LARGE startDate 30 false" \
    "$HTTP_STATUS $(jbody 'd["error"]["code"]') $(jbody 'd["error"]["details"]["errors"][0]["field"]') $(jbody 'd["error"]["details"]["maxEvents"]') $(jbody '"totalEvents" in d')"
expect_match "…its message says the range holds more than 30 events" 'more than 30 events' "$(jbody 'd["error"]["message"]')"
# the counting statement read at most 31 rows of the range (LIMIT bound + 1), not all 31+
sleep 0.3
read_rows=$(tail -c +"$from" "$PGLOG" 2>/dev/null | python3 -c '
import json, re, sys
best = None
for e in re.split(r"\n(?=\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)", sys.stdin.read()):
    at = e.find("plan:\n")
    if at < 0:
        continue
    try:
        doc = json.loads("\n".join(l[1:] if l.startswith("\t") else l for l in e[at + 6:].split("\n")))
    except ValueError:
        continue
    if "GROUPING SETS" not in doc.get("Query Text", ""):
        continue
    def walk(n):
        if n["Node Type"] == "Limit":
            return int(n["Actual Rows"]) * int(n.get("Actual Loops", 1))
        for k in n.get("Plans", []):
            r = walk(k)
            if r is not None:
                return r
    best = walk(doc["Plan"])
print(best)')
expect_eq "…the statement stopped after bound + 1 rows (its LIMIT)" 31 "$read_rows"
http GET "$E/statistics?startDate=2026-11-03T00:00:00.000Z&endDate=2026-11-03T23:59:59.999Z" -H "X-API-Key: $key"
expect_eq "a narrower range under the bound: 200, exact" "200 20" "$HTTP_STATUS $(jbody 'd["totalEvents"]')"
http GET "$E/statistics?$R&actions=record.update" -H "X-API-Key: $key"
expect_eq "a filter under the bound: 200, exact" "200 10" "$HTTP_STATUS $(jbody 'd["totalEvents"]')"
stop_serve

unset AUDITDB_STATS_MAX_EVENTS
if start_serve "$TEST_TMP/serve2.log"; then
    http GET "$E/statistics?$R" -H "X-API-Key: $key"
    expect_eq "default bound (1,000,000): the 31 are counted" "200 31" "$HTTP_STATUS $(jbody 'd["totalEvents"]')"
    stop_serve
else
    not_ok "serve starts with the default bound"
fi
if grep -q 'runtime error\|Sanitizer' "$TEST_TMP/serve.log" "$TEST_TMP/serve2.log"; then not_ok "no sanitizer report"; else ok "no sanitizer report"; fi
finish
