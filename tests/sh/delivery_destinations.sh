# delivery_destinations.sh - delivery destinations (issue 18; docs/delivery.md "Destinations",
# "Secrets", "SSRF") end to end over HTTP as smart-logs' client calls them.
. tests/lib.sh

fresh_db t_delivery_destinations
"$AUDITDB_BIN" migrate >/dev/null
newkey() { "$AUDITDB_BIN" keys create --org "$1" --role "$2" | sed -n 's/^key (shown once, store it now): //p'; }
A_ADMIN=$(newkey org-a admin)
B_ADMIN=$(newkey org-b admin)
export AUDITDB_DELIVERY_ALLOW=127.0.0.1/32
start_serve "$TEST_TMP/serve.log" || { not_ok "serve starts"; cat "$TEST_TMP/serve.log"; finish; }
trap 'stop_serve >/dev/null 2>&1' EXIT
A="-H x-api-key:$A_ADMIN -H content-type:application/json"
B="-H x-api-key:$B_ADMIN -H content-type:application/json"

WH='{"organizationId":"org-a","label":"hook one","type":"webhook","config":{"webhook":{"url":"http://127.0.0.1:9/hook","method":"POST","headers":{"Authorization":"Bearer tok-SECRET-hdr-123","X-Plain":"p"},"timeout":5000,"retryConfig":{"maxRetries":5,"backoffMultiplier":2,"maxBackoffDelay":60000}}}}'
http POST /api/v1/delivery/destinations $A -d "$WH"
expect_eq "create webhook: 201" 201 "$HTTP_STATUS"
diag "$HTTP_BODY"
ID=$(jbody 'd["id"]')
http GET /api/v1/delivery/destinations/$ID $A
expect_eq "get: 200" 200 "$HTTP_STATUS"
diag "$HTTP_BODY"
finish
