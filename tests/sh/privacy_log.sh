# privacy_log.sh - no event content or parameter value in any log (issue 14, item 17): a row
# PostgreSQL refuses, a bad filter and constraint failures, each carrying a distinctive PHI-like
# marker, must leave no trace of it in the embedded cluster's log (log/postgresql.log), nor in
# auditdb serve's stdout (access log) or stderr; and no STATEMENT, DETAIL or CONTEXT line at all.
. tests/lib.sh
unset AUDIT_DB_URL
export AUDITDB_HOME="$TEST_TMP/home"
MARK=PHIMARK-Jane-Roe-1962-07-04
PGLOG=$AUDITDB_HOME/log/postgresql.log

if start_serve "$TEST_TMP/serve.log"; then ok "serve on the embedded cluster"; else
    not_ok "serve on the embedded cluster"; diag "$(cat "$TEST_TMP/serve.log")"; finish; fi
key=$("$AUDITDB_BIN" keys create --org org-p --role admin | sed -n 's/^key (shown once, store it now): //p')
H="X-API-Key: $key"
J="Content-Type: application/json"

expect_eq "the cluster never logs a failed statement" panic \
    "$("$AUDITDB_BIN" db psql -qAtX -c 'SHOW log_min_error_statement')"
expect_eq "the cluster logs errors without DETAIL or CONTEXT" terse \
    "$("$AUDITDB_BIN" db psql -qAtX -c 'SHOW log_error_verbosity')"
expect_eq "no bind parameters in logged statements" 0 \
    "$("$AUDITDB_BIN" db psql -qAtX -c 'SHOW log_parameter_max_length')"

# 1. events PostgreSQL refuses (a null status reached its NOT NULL constraint on today's main)
http POST /api/v1/audit/events -H "$H" -H "$J" \
    -d "{\"action\":\"fhir.patient.read\",\"status\":null,\"principalId\":\"$MARK\",\"outcomeDescription\":\"chart of $MARK\"}"
diag "null status, single: $HTTP_STATUS"
http POST /api/v1/audit/events/bulk -H "$H" -H "$J" \
    -d "{\"events\":[{\"action\":null,\"status\":\"success\",\"principalId\":\"$MARK\"},{\"action\":\"a.b\",\"status\":\"success\",\"targetResourceId\":\"$MARK\"}]}"
diag "null action, bulk: $HTTP_STATUS"

# 2. bad filters: invalid UTF-8 and a NUL in filter values, an unparsable date
for q in "correlationId=$MARK%ff" "principalIds=$MARK%c3" "actions=$MARK%00x" "startDate=$MARK"; do
    http GET "/api/v1/audit/events?$q" -H "$H"
    diag "GET ?$q: $HTTP_STATUS"
done

# a path parameter: the access log names the route, not the value
http GET "/api/v1/audit/events/$MARK" -H "$H"
diag "GET /events/<marker>: $HTTP_STATUS"

# 3. constraint failures as the service's SQL would meet them: a refused INSERT, a refused COPY
# row, a duplicate primary key, a refused foreign key
"$AUDITDB_BIN" db psql -qX -c "INSERT INTO audit_log (id, \"timestamp\", organization_id, action, status, principal_id)
    VALUES (1, now(), 'org-p', 'a.b', NULL, '$MARK')" >/dev/null 2>&1
printf '2\t2026-01-01T00:00:00Z\torg-p\ta.b\t\\N\t%s\n' "$MARK" |
    "$AUDITDB_BIN" db psql -qX -c "COPY audit_log (id, \"timestamp\", organization_id, action, status, principal_id) FROM STDIN" \
        >/dev/null 2>&1
"$AUDITDB_BIN" db psql -qX -c "CREATE TABLE privacy_probe (k text PRIMARY KEY)" \
    -c "INSERT INTO privacy_probe VALUES ('$MARK')" -c "INSERT INTO privacy_probe VALUES ('$MARK')" >/dev/null 2>&1
"$AUDITDB_BIN" db psql -qX -c "INSERT INTO apikey (id, name, key, organization_id) VALUES ('$MARK', '$MARK', '$MARK', '$MARK')" \
    >/dev/null 2>&1
stop_serve TERM

# the server log is complete once the cluster stopped with serve
check "the PostgreSQL log exists" test -s "$PGLOG"
if grep -q -- "$MARK" "$PGLOG"; then
    not_ok "the marker is not in the PostgreSQL log"
    diag "$(grep -- "$MARK" "$PGLOG" | cut -c1-200 | head -n 5)"
else ok "the marker is not in the PostgreSQL log"; fi
lines=$(grep -E '(STATEMENT|DETAIL|CONTEXT|QUERY|HINT): ' "$PGLOG" | cut -c1-160 | head -n 5)
expect_eq "no STATEMENT, DETAIL, CONTEXT, QUERY or HINT line in the PostgreSQL log" "" "$lines"
check "the errors themselves are still logged (primary message only)" grep -q 'ERROR: ' "$PGLOG"
if grep -q -- "$MARK" "$TEST_TMP/serve.log" "$TEST_TMP/serve.log.out"; then
    not_ok "the marker is not in auditdb's stdout or stderr"
    diag "$(grep -h -- "$MARK" "$TEST_TMP/serve.log" "$TEST_TMP/serve.log.out" | cut -c1-200 | head -n 5)"
else ok "the marker is not in auditdb's stdout or stderr"; fi
if grep -q -- "$key" "$TEST_TMP/serve.log" "$TEST_TMP/serve.log.out" "$PGLOG"; then
    not_ok "the API key is in no log"
else ok "the API key is in no log"; fi
finish
