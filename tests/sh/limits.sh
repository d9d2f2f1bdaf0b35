# limits.sh - rate limits and who reads process-wide figures (issue 14, items
# 14-16): the IETF RateLimit fields (draft-ietf-httpapi-ratelimit-headers-10)
# when limiting is on, none when it is off; a flood of 429s from one key is one
# rate_limit_violations row per key and minute; /metrics and /health/detailed
# are an operator key's alone, not an organization admin's.
. tests/lib.sh

newkey() { "$AUDITDB_BIN" keys create "$@" | sed -n 's/^key (shown once, store it now): //p'; }
# headers NAME...: the response header fields of a GET of the events list with key $k
headers() { curl -s -D - -o /dev/null -H "X-API-Key: $k" "$BASE_URL/api/v1/audit/events?limit=1" | tr -d '\r'; }

fresh_db t_limits
"$AUDITDB_BIN" migrate >/dev/null
admin=$(newkey --org org-l --role admin)
other=$(newkey --org org-m --role admin)

# ---- limiting off: no rate-limit fields at all ----------------------------
export AUDITDB_RATE_LIMIT_RPS=0
if ! start_serve "$TEST_TMP/off.log"; then not_ok "serve starts"; diag "$(cat "$TEST_TMP/off.log")"; finish; fi
k=$admin
hdr=$(headers)
expect_match "limiting off: the request is served" '^HTTP/1.1 200' "$hdr"
expect_eq "limiting off: no RateLimit, RateLimit-* or X-RateLimit-* field" "" \
    "$(printf '%s\n' "$hdr" | grep -i '^\(x-\)\?ratelimit')"
stop_serve TERM

# ---- limiting on: the draft's fields, Reset in delta seconds ---------------
# 2 requests a second, 4 at once: the policy is 4 requests per 2 s
export AUDITDB_RATE_LIMIT_RPS=2 AUDITDB_RATE_LIMIT_BURST=4
if ! start_serve "$TEST_TMP/on.log"; then not_ok "serve starts"; diag "$(cat "$TEST_TMP/on.log")"; finish; fi
now=$(date +%s)
hdr=$(headers)
expect_eq "limiting on: RateLimit-Policy names the key's bucket, quota and window" \
    'RateLimit-Policy: "key";q=4;w=2' "$(printf '%s\n' "$hdr" | grep '^RateLimit-Policy:')"
expect_match "limiting on: RateLimit says 3 left, full again within 1 s (delta seconds)" \
    '^RateLimit: "key";r=3;t=1$' "$(printf '%s\n' "$hdr" | grep '^RateLimit:')"
expect_eq "limiting on: no draft-06 RateLimit-Limit/-Remaining/-Reset fields" "" \
    "$(printf '%s\n' "$hdr" | grep -i '^ratelimit-\(limit\|remaining\|reset\)')"
expect_eq "limiting on: legacy X-RateLimit-Limit and -Remaining" "4 3" \
    "$(printf '%s\n' "$hdr" | sed -n 's/^X-RateLimit-Limit: //p;s/^X-RateLimit-Remaining: //p' | tr '\n' ' ' | sed 's/ $//')"
reset=$(printf '%s\n' "$hdr" | sed -n 's/^X-RateLimit-Reset: //p')
expect_eq "limiting on: legacy X-RateLimit-Reset is Unix seconds, about 1 s from now" True \
    "$(python3 -c "print($now <= ${reset:-0} <= $now + 3)")"
stop_serve TERM

# ---- N refusals in one window: one row, counting N -------------------------
# 1 request a second, 2 at once: almost every request of a quick run is refused
export AUDITDB_RATE_LIMIT_RPS=1 AUDITDB_RATE_LIMIT_BURST=2
if ! start_serve "$TEST_TMP/flood.log"; then not_ok "serve starts"; diag "$(cat "$TEST_TMP/flood.log")"; finish; fi
# stay inside one UTC minute: wait while the next one is less than 25 s away
while [ "$(date -u +%S | sed 's/^0//')" -gt 35 ]; do sleep 1; done
k=$admin
flood() { # N: N requests, prints how many were refused
    i=0; n=0
    while [ $i -lt "$1" ]; do
        c=$(curl -s -o /dev/null -w '%{http_code}' -H "X-API-Key: $k" "$BASE_URL/api/v1/audit/events?limit=1")
        [ "$c" = 429 ] && n=$((n + 1))
        i=$((i + 1))
    done
    echo $n
}
first=$(flood 60)
sleep 0.8      # the self-audit writer flushes every 200 ms: this part is written
second=$(flood 40)
refused=$((first + second))
expect_match "flood: most of 100 requests refused (got $refused)" '^[5-9][0-9]$' "$refused"
i=0
while [ $i -lt 30 ] && [ "$(sql "SELECT coalesce(sum(request_count), 0) FROM rate_limit_violations WHERE api_key_id = substr('$admin', 5, 16)")" != "$refused" ]; do
    sleep 0.1; i=$((i + 1))
done
expect_eq "flood: $refused refusals in one minute, over two flushes, are one row counting $refused" "1|$refused" \
    "$(sql "SELECT count(*), sum(request_count) FROM rate_limit_violations WHERE api_key_id = substr('$admin', 5, 16)")"
expect_eq "flood: the row's window is the minute, with the key's limit" "t|60000|2|org-l" \
    "$(sql "SELECT window_start = date_trunc('minute', created_at), window_ms, limit_max, organization_id FROM rate_limit_violations WHERE api_key_id = substr('$admin', 5, 16)")"
expect_eq "flood: one rate_limit_abuse security event" 1 \
    "$(sql "SELECT count(*) FROM security_events WHERE event_type = 'rate_limit_abuse' AND organization_id = 'org-l'")"
stop_serve TERM
expect_eq "flood: another key, not refused, has no row" 0 \
    "$(sql "SELECT count(*) FROM rate_limit_violations WHERE api_key_id = substr('$other', 5, 16)")"

# ---- process-wide figures: an operator key's alone -------------------------
export AUDITDB_RATE_LIMIT_RPS=0
if ! start_serve "$TEST_TMP/ops.log"; then not_ok "serve starts"; diag "$(cat "$TEST_TMP/ops.log")"; finish; fi
op=$(newkey --role operator --name monitoring)
expect_match "keys create --role operator: a key, no --org needed" '^adb_[0-9a-f]{16}_' "$op"
out=$("$AUDITDB_BIN" keys create --role operator --org org-l 2>&1); rc=$?
expect_eq "keys create --role operator --org: refused (exit 2)" 2 "$rc"
expect_match "…saying an operator key belongs to no organization" 'no organization' "$out"
out=$("$AUDITDB_BIN" keys create --role admin 2>&1); rc=$?
expect_eq "keys create --role admin without --org: refused (exit 2)" 2 "$rc"
expect_match "keys list: the operator key, with no organization" "adb_$(printf '%s' "$op" | cut -c5-20) +- +operator" \
    "$("$AUDITDB_BIN" keys list)"
for path in /metrics /health/detailed; do
    http GET "$path" -H "X-API-Key: $admin"
    expect_eq "$path: an organization's admin gets 403 FORBIDDEN" "403 FORBIDDEN" "$HTTP_STATUS $(jbody 'd["error"]["code"]')"
    expect_match "$path: …saying an operator key is needed" 'operator key' "$(jbody 'd["error"]["message"]')"
    http GET "$path" -H "Authorization: Bearer $other"
    expect_eq "$path: another organization's admin (Bearer) gets 403" 403 "$HTTP_STATUS"
    http GET "$path"
    expect_eq "$path: no key, 401" 401 "$HTTP_STATUS"
done
http GET /metrics -H "X-API-Key: $op"
expect_eq "/metrics: the operator key gets 200" 200 "$HTTP_STATUS"
expect_match "/metrics: the process's figures" 'auditdb_http_requests_total' "$HTTP_BODY"
http GET /health/detailed -H "Authorization: Bearer $op"
expect_eq "/health/detailed: the operator key (Bearer) gets 200 healthy" "200 healthy" "$HTTP_STATUS $(jbody 'd["status"]')"
http GET "/api/v1/audit/events?limit=1" -H "X-API-Key: $op"
expect_eq "the operator key reads no organization's events: 403" 403 "$HTTP_STATUS"
http POST /api/v1/audit/events -H "X-API-Key: $op" -H 'Content-Type: application/json' \
    --data-binary '{"eventData":{"action":"op.write","status":"success","organizationId":"org-l"}}'
expect_eq "the operator key writes no organization's events: 403" 403 "$HTTP_STATUS"
expect_eq "…and nothing was stored" 0 "$(sql "SELECT count(*) FROM audit_log WHERE action = 'op.write'")"
# an organization's own role named "operator" with every permission is still a tenant role
sql "INSERT INTO organization_role (organization_id, name, description, permissions)
     VALUES ('org-l', 'operator', 'a tenant role that happens to be named so', '[{\"resource\":\"*\",\"action\":\"*\"}]')" >/dev/null
sql "UPDATE apikey SET role = 'operator' WHERE id = substr('$other', 5, 16)" >/dev/null
sql "UPDATE apikey SET organization_id = 'org-l' WHERE id = substr('$other', 5, 16)" >/dev/null
http GET /metrics -H "X-API-Key: $other"
expect_eq "/metrics: a tenant key of a tenant role named operator gets 403" 403 "$HTTP_STATUS"
expect_eq "an organization-less key that is not an operator's cannot be stored" ERROR \
    "$(sql "UPDATE apikey SET organization_id = NULL WHERE id = substr('$admin', 5, 16)" 2>&1 | grep -o '^ERROR' | head -1)"
for path in /health /ready /live; do
    http GET "$path"
    expect_eq "$path: still answers without credentials" 200 "$HTTP_STATUS"
    expect_eq "$path: names no organization" "" "$(printf '%s' "$HTTP_BODY" | grep -o 'org-[lm]')"
done
stop_serve TERM
finish
