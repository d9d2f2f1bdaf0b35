# sort_plans.sh - every sortField smart-logs' client offers (timestamp, status, action, and
# the principalId and organizationId its types also name) is answered from an index, in both
# directions, at offset 0 and deeper (docs/api.md, "Sorting"; migration 0023): the plans of
# the very statements `auditdb serve` runs for the pages, taken from PostgreSQL's
# auto_explain (EXPLAIN ANALYZE in JSON, loaded for this database only), scan no more index
# entries than the page's offset and limit call for (per status, by action) and sort no more,
# where a sort of every matching event reads all 20,000 of the organization; and each page holds the events the documented order puts there (checked
# against ORDER BY in SQL), including an event whose status the API would refuse (written
# by a superuser). Counts of rows read, not times: nothing here is timed.
. tests/lib.sh

fresh_db t_sort_plans
"$AUDITDB_BIN" migrate >/dev/null 2>&1 || not_ok "migrate"
key=$("$AUDITDB_BIN" keys create --org org-s --role viewer | sed -n 's/^key (shown once, store it now): //p')
PGLOG=${RUN_TMP:-/nonexistent}/cluster/log/postgresql.log
[ -f "$PGLOG" ] || { not_ok "the runner's cluster log is at $PGLOG"; finish; }

# 20,000 events of org-s over the last 40 days (two or three monthly partitions), 3 statuses
# unevenly (and one "legacy" status only SQL can write), 23 actions, 40 principals and some
# without; 3,000 of org-t. Written as the table's owner (the writer's positions taken: the
# chain is not what is tested here).
sql "SELECT auditdb_ensure_partition((now() - make_interval(months => m))::date) FROM generate_series(0, 2) m" >/dev/null
sql "SET auditdb.writer_takes_positions = 'on';
INSERT INTO audit_log (\"timestamp\", organization_id, principal_id, action, status, data_classification, chain_seq)
SELECT now() - interval '40 days' + g * interval '170 seconds', 'org-s',
       CASE WHEN g % 11 = 0 THEN NULL ELSE 'p-' || (g % 40) END, 'act.' || (g * 7 % 23),
       CASE WHEN g = 777 THEN 'legacy' WHEN g % 19 = 0 THEN 'attempt' WHEN g % 5 = 0 THEN 'failure' ELSE 'success' END,
       'PHI', g
  FROM generate_series(1, 20000) g;
INSERT INTO audit_log (\"timestamp\", organization_id, principal_id, action, status, chain_seq)
SELECT now() - interval '30 days' + g * interval '600 seconds', 'org-t', 'p-1', 'act.1', 'success', g
  FROM generate_series(1, 3000) g;" >/dev/null
sql "VACUUM ANALYZE audit_log" >/dev/null
expect_eq "events written: 20,000 of org-s, 3,000 of org-t" "20000 3000" \
    "$(sql "SELECT count(*) FILTER (WHERE organization_id = 'org-s') || ' ' || count(*) FILTER (WHERE organization_id = 'org-t') FROM audit_log")"

# plans of every statement of this database's sessions (serve's pooled connections) in the log
db=${AUDIT_DB_URL##*dbname=}
psql "$ADMIN_URL" -qAtX -v ON_ERROR_STOP=1 \
    -c "ALTER DATABASE \"$db\" SET session_preload_libraries = 'auto_explain'" \
    -c "ALTER DATABASE \"$db\" SET auto_explain.log_min_duration = 0" \
    -c "ALTER DATABASE \"$db\" SET auto_explain.log_analyze = on" \
    -c "ALTER DATABASE \"$db\" SET auto_explain.log_timing = off" \
    -c "ALTER DATABASE \"$db\" SET auto_explain.log_format = 'json'" >/dev/null ||
    not_ok "auto_explain set for the test's database"

if start_serve "$TEST_TMP/serve.log"; then ok "serve starts"; else
    not_ok "serve starts"; diag "$(cat "$TEST_TMP/serve.log")"; finish; fi

# reference order of each sortField and direction, as docs/api.md "Sorting" says
ref_order() {
    case "$1 $2" in
    "timestamp asc") echo '"timestamp" ASC, id ASC' ;;
    "timestamp desc" | "organizationId asc" | "organizationId desc") echo '"timestamp" DESC, id DESC' ;;
    "principalId asc") echo 'principal_id ASC NULLS LAST, "timestamp" DESC, id DESC' ;;
    "principalId desc") echo 'principal_id DESC NULLS FIRST, "timestamp" ASC, id ASC' ;;
    "status asc") echo 'status ASC, action ASC, "timestamp" DESC, id DESC' ;;
    "status desc") echo 'status DESC, action DESC, "timestamp" ASC, id ASC' ;;
    "action asc") echo 'action ASC, "timestamp" DESC, id DESC' ;;
    "action desc") echo 'action DESC, "timestamp" ASC, id ASC' ;;
    esac
}

LIMIT=50
STATUSES=4 # attempt, failure, legacy, success
for field in timestamp status action principalId organizationId; do
    for dir in asc desc; do
        for offset in 0 500; do
            what="sortField=$field&sortDirection=$dir&offset=$offset"
            want=$(sql "SELECT string_agg(event_id::text, ',' ORDER BY n) FROM (SELECT event_id,
                        row_number() OVER () AS n FROM (SELECT event_id FROM audit_log
                        WHERE organization_id = 'org-s' ORDER BY $(ref_order "$field" "$dir")
                        LIMIT $LIMIT OFFSET $offset) s) t")
            # (the reference statement above is logged too: the page's plan is the one after)
            from=$(($(wc -c <"$PGLOG") + 1))
            http GET "/api/v1/audit/events?$what&limit=$LIMIT" -H "X-API-Key: $key"
            got=$(jbody '",".join(e["id"] for e in d["events"])' 2>/dev/null)
            expect_eq "$what: 200, the $LIMIT events the documented order puts there" "200 $want $LIMIT" \
                "$HTTP_STATUS $got $(jbody 'len(d["events"])' 2>/dev/null)"
            # the page statement's plan (the one that reads the events' columns), waited for
            i=0
            plan=
            while [ $i -lt 50 ]; do
                plan=$(tail -c +"$from" "$PGLOG" | python3 tests/tools/plan_rows.py 2>&1) && break
                sleep 0.1; i=$((i + 1))
            done
            # index entries the page needs: offset + limit + 1 (hasNext), per status by action
            need=$((offset + LIMIT + 1))
            [ "$field" = action ] && need=$((need * STATUSES))
            expect_eq "$what: read from an index, at most $need index entries a scan, no sort of more" \
                "ok" "$(printf '%s\n' "$plan" | python3 -c '
import json, sys
need, limit = int(sys.argv[1]), int(sys.argv[2])
p = json.loads(sys.stdin.read())
bad = []
for s in p["scans"]:
    if s["type"] == "Seq Scan" and s["rows"] > 0:
        bad.append("a sequential scan of %s read %d rows" % (s["relation"], s["rows"]))
    if s["rows"] > need:
        bad.append("%s of %s read %d rows" % (s["type"], s["index"] or s["relation"], s["rows"]))
for n in p["sorts"]:
    if n > need:
        bad.append("a sort of %d rows" % n)
if not p["scans"]:
    bad.append("no plan of the page")
if bad:
    bad.append("statement: " + p["query"])
print("; ".join(bad) or "ok")' "$need" "$LIMIT" 2>&1)"
        done
    done
done
stop_serve
if grep -q 'runtime error\|Sanitizer' "$TEST_TMP/serve.log"; then not_ok "no sanitizer report"; else ok "no sanitizer report"; fi
finish
