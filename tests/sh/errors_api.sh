# errors_api.sh - the service's own failures (docs/monitoring.md, "Errors"),
# end to end: a real failure (the API role's grant on config_change_event
# revoked by a superuser, so GET /api/v1/config/changes answers 503) lands in
# error_log through serve's background writer and collapses into one
# aggregation whatever its request ids; GET /api/v1/errors and
# /errors/aggregations for an operator only (401, 403 for an organization's
# admin); bad parameters 400 naming the field; resolve idempotent; the next
# occurrence after a resolve is a regression with an alert of the process
# pseudo-organization _process; `auditdb errors`.
. tests/lib.sh

fresh_db t_errors_api
"$AUDITDB_BIN" migrate >/dev/null
ADMIN=$(newkey org-a admin)
OPERATOR=$("$AUDITDB_BIN" keys create --role operator | sed -n 's/^key (shown once, store it now): //p')
if ! start_serve "$TEST_TMP/serve.log"; then
    not_ok "serve starts"; diag "$(cat "$TEST_TMP/serve.log")"; finish
fi
ok "serve starts"
J='Content-Type: application/json'
field_400() { # LABEL FIELD
    f=$(printf '%s' "$HTTP_BODY" | json 'd["error"]["details"]["errors"][0]["field"]' 2>/dev/null)
    if [ "$HTTP_STATUS" = 400 ] && [ "$f" = "$2" ]; then ok "$1: 400 naming $2"; else
        not_ok "$1: 400 naming $2"; diag "status $HTTP_STATUS" "$HTTP_BODY"; fi
}
# wait_sql LABEL WANT QUERY: up to 10 s for the background writer
wait_sql() {
    i=0; got=""
    while [ $i -lt 100 ]; do
        got=$(sql "$3"); [ "$got" = "$2" ] && break
        sleep 0.1; i=$((i + 1))
    done
    expect_eq "$1" "$2" "$got"
}

# 1. a real failure: the API role loses its grant, the tenant's read answers 503
http GET /api/v1/config/changes -H "X-API-Key: $ADMIN"
expect_eq "config changes readable before" 200 "$HTTP_STATUS"
sql "REVOKE SELECT ON config_change_event FROM auditdb_app" >/dev/null
for i in 1 2 3; do
    http GET "/api/v1/config/changes?limit=$i" -H "X-API-Key: $ADMIN"
done
expect_eq "the read fails: 503" 503 "$HTTP_STATUS"
wait_sql "three error_log rows from the three 503 answers" 3 \
    "SELECT count(*) FROM error_log WHERE component = 'http' AND code = 'HTTP_503'"
expect_eq "they collapse into one aggregation (request ids differ)" "1|3" \
    "$(sql "SELECT count(*), sum(count) FROM error_aggregation WHERE component = 'http'")"
expect_eq "the message names the route pattern, not the request" \
    "GET /api/v1/config/changes answered 503 SERVICE_UNAVAILABLE" \
    "$(sql "SELECT DISTINCT message FROM error_log WHERE component = 'http'")"
expect_eq "each row keeps its request id and organization" "3|3" \
    "$(sql "SELECT count(DISTINCT request_id), count(*) FILTER (WHERE organization_id = 'org-a') FROM error_log WHERE component = 'http'")"

# 2. who reads them
http GET /api/v1/errors
expect_eq "errors: 401 without a key" 401 "$HTTP_STATUS"
http GET /api/v1/errors -H "X-API-Key: $ADMIN"
expect_eq "errors: 403 for an organization's admin (process-wide)" 403 "$HTTP_STATUS"
http GET /api/v1/errors/aggregations -H "X-API-Key: $ADMIN"
expect_eq "aggregations: 403 for an organization's admin" 403 "$HTTP_STATUS"
http GET "/api/v1/errors?component=http&limit=2" -H "X-API-Key: $OPERATOR"
expect_eq "errors: 200 for the operator" 200 "$HTTP_STATUS"
expect_eq "errors: a page of 2 of 3, newest first" "2 3 True" \
    "$(jbody '" ".join(str(x) for x in [len(d["errors"]), d["pagination"]["total"], d["pagination"]["hasNext"]])')"
conforms "GET /api/v1/errors 200" GET /api/v1/errors 200
KEY=$(sql "SELECT aggregation_key FROM error_aggregation WHERE component = 'http'")
http GET "/api/v1/errors/aggregations?status=open&sortBy=count" -H "X-API-Key: $OPERATOR"
expect_eq "aggregations: the http one, open, count 3" "$KEY open 3 HTTP_503" \
    "$(jbody '[" ".join([a["aggregationKey"], a["status"], str(a["count"]), a["code"]]) for a in d["aggregations"] if a["component"] == "http"][0]')"
conforms "GET /api/v1/errors/aggregations 200" GET /api/v1/errors/aggregations 200
for q in "limit=0 limit" "limit=abc limit" "offset=-1 offset" "severity=SEVERE severity" \
         "startDate=yesterday startDate"; do
    http GET "/api/v1/errors?${q% *}" -H "X-API-Key: $OPERATOR"
    field_400 "errors?${q% *}" "${q#* }"
done
for q in "status=closed status" "sortBy=name sortBy" "sortOrder=up sortOrder"; do
    http GET "/api/v1/errors/aggregations?${q% *}" -H "X-API-Key: $OPERATOR"
    field_400 "aggregations?${q% *}" "${q#* }"
done

# 3. resolve: idempotent, 404 for an unknown key, 400 for a bad body
R=/api/v1/errors/aggregations/$KEY/resolve
http POST "$R" -H "X-API-Key: $ADMIN" -H "$J" -d '{"notes":"x"}'
expect_eq "resolve: 403 for an organization's admin" 403 "$HTTP_STATUS"
http POST "$R" -H "X-API-Key: $OPERATOR" -H "$J" -d '{"notes":7}'
field_400 "resolve with notes not a string" notes
http POST "$R" -H "X-API-Key: $OPERATOR" -H "$J" -d '{"note":"typo"}'
expect_eq "resolve with an unknown member: 400" 400 "$HTTP_STATUS"
http POST "$R" -H "X-API-Key: $OPERATOR" -H "$J" -d '{"notes":"grant restored"}'
expect_eq "resolve: 200, changed" "200 true resolved" "$HTTP_STATUS $(jbody 'd["changed"]') $(jbody 'd["aggregation"]["status"]')"
conforms "POST resolve 200" POST "/api/v1/errors/aggregations/{key}/resolve" 200
AT=$(sql "SELECT resolved_at FROM error_aggregation WHERE aggregation_key = '$KEY'")
http POST "$R" -H "X-API-Key: $OPERATOR" -H "$J" -d '{"notes":"again"}'
expect_eq "resolve again: 200, nothing changed" "200 false" "$HTTP_STATUS $(jbody 'd["changed"]')"
expect_eq "resolve again: the first resolution kept" "$AT|grant restored" \
    "$(sql "SELECT resolved_at, resolution_notes FROM error_aggregation WHERE aggregation_key = '$KEY'")"
http POST /api/v1/errors/aggregations/v1-00000000000000000000000000000000/resolve -H "X-API-Key: $OPERATOR"
expect_eq "resolve an unknown key: 404" 404 "$HTTP_STATUS"

# 4. the regression: it occurs again after the resolve
http GET /api/v1/config/changes -H "X-API-Key: $ADMIN"
wait_sql "the aggregation opens again, one regression" "|1|4" \
    "SELECT resolved_at, regression_count, count FROM error_aggregation WHERE aggregation_key = '$KEY'"
wait_sql "an alert of the process pseudo-organization" "1" \
    "SELECT count(*) FROM alerts WHERE organization_id = '_process' AND source = 'auditdb-errors' AND dedup_key = 'error-regression/$KEY' AND status = 'active'"
http GET /api/v1/alerts -H "X-API-Key: $ADMIN"
expect_eq "the tenant's alerts do not show it" "0" "$(jbody 'len([a for a in d.get("data", d.get("alerts", [])) if a.get("source") == "auditdb-errors"])')"
sql "GRANT SELECT ON config_change_event TO auditdb_app" >/dev/null

# 5. the CLI
out=$("$AUDITDB_BIN" errors aggregations --status open 2>&1); rc=$?
expect_eq "errors aggregations: exit 0" 0 "$rc"
expect_match "errors aggregations: the key, its count and pattern" "$KEY +4 .*HTTP_503 http/answer: GET /api/v<n>/config/changes answered <n> SERVICE_UNAVAILABLE" "$out"
out=$("$AUDITDB_BIN" errors list --component http --limit 1 2>&1)
expect_match "errors list: one line and the total" "1 of 4 error" "$out"
out=$("$AUDITDB_BIN" errors resolve "$KEY" --notes "cli" 2>&1); rc=$?
expect_eq "errors resolve: exit 0" "0" "$rc"
expect_match "errors resolve: by cli:<user>" "resolved .*by cli:" "$out"
"$AUDITDB_BIN" errors resolve v1-00000000000000000000000000000000 >/dev/null 2>&1
expect_eq "errors resolve of an unknown key: exit 1" 1 "$?"
"$AUDITDB_BIN" errors list --since yesterday >/dev/null 2>&1
expect_eq "errors list --since yesterday: exit 2" 2 "$?"
"$AUDITDB_BIN" errors list --limit 0 >/dev/null 2>&1
expect_eq "errors list --limit 0: exit 2" 2 "$?"

stop_serve
expect_eq "serve stops cleanly (the error writer drained)" 0 "$?"
finish
