# selfaudit_columns.sh - serve's own records fill the columns the seed ERD documents
# (issue 14, item 23): api_access_log's endpoint, response_status, bytes_sent (the body
# size a client received), bytes_received; auth_audit_log's correlation_id (from the
# request id) and processed_at.
. tests/lib.sh

fresh_db t_selfaudit_columns
"$AUDITDB_BIN" migrate >/dev/null
K=$("$AUDITDB_BIN" keys create --org org-s --role admin | sed -n 's/^key (shown once, store it now): //p')
if ! start_serve "$TEST_TMP/serve.log"; then
    not_ok "serve starts"; diag "$(cat "$TEST_TMP/serve.log")"; finish
fi
ok "serve starts"
body='{"eventData":{"timestamp":"'$(date -u -d '-1 minute' +%Y-%m-%dT%H:%M:%S.000Z)'","action":"a.b","status":"success","principalId":"p-1"}}'
size=$(curl -s -o /dev/null -w '%{size_download}' -X POST -H "X-API-Key: $K" -H 'X-Request-Id: req-docs-1' \
    -H 'Content-Type: application/json' --data-binary "$body" "$BASE_URL/api/v1/audit/events")
check "the create answered a body" test "$size" -gt 0
http GET /api/v1/audit/events/999999 -H "X-API-Key: adb_0000000000000000_notavalidsecretnotavalidsecret" -H 'X-Request-Id: req-docs-2'
expect_eq "a bad key answers 401" 401 "$HTTP_STATUS"
stop_serve # writes what is queued
row=$(sql "SELECT concat_ws('|', endpoint, response_status, bytes_received, bytes_sent, host(ip_address))
             FROM api_access_log WHERE request_id = 'req-docs-1'")
expect_eq "api_access_log: endpoint, response_status, bytes_received, bytes_sent (as the client counted), address" \
    "/api/v1/audit/events|201|${#body}|$size|127.0.0.1" "$row"
expect_eq "api_access_log: the 401 is there with its status" 401 \
    "$(sql "SELECT response_status FROM api_access_log WHERE request_id = 'req-docs-2'")"
expect_eq "auth_audit_log: correlation_id derived from the request id, processed_at set" \
    "$(sql "SELECT md5('auditdb-request:req-docs-1')::uuid")|t" \
    "$(sql "SELECT concat_ws('|', correlation_id, processed_at IS NOT NULL) FROM auth_audit_log WHERE request_id = 'req-docs-1'")"
expect_eq "auth_audit_log: the failed attempt too" "failure|$(sql "SELECT md5('auditdb-request:req-docs-2')::uuid")" \
    "$(sql "SELECT concat_ws('|', event_status, correlation_id) FROM auth_audit_log WHERE request_id = 'req-docs-2'")"
finish
