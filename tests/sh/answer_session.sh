# answer_session.sh - the sessionContext of a create and bulk answer, which serve cuts out of
# the committed event's canonical details rather than parsing them again (src/http/event_json.c,
# session_of): whatever the details hold around it (strings that quote '"sessionContext":',
# keys that start with it, escapes, nesting), the answer carries exactly the sessionContext
# sent, the one GET /events/{id} answers, and none when none was sent.
. tests/lib.sh

fresh_db t_answer_session
"$AUDITDB_BIN" migrate >/dev/null
A=$(newkey org-s ingest)
AV=$(newkey org-s viewer)
if ! start_serve "$TEST_TMP/serve.log"; then
    not_ok "serve starts"; diag "$(cat "$TEST_TMP/serve.log")"; finish
fi
post() { http POST "$1" -H "X-API-Key: $A" -H 'Content-Type: application/json' --data-binary "$2"; }
# sorted JSON of a value, to compare what was sent, answered and stored
norm() { python3 -c 'import json,sys; print(json.dumps(json.loads(sys.argv[1]), sort_keys=True))' "$1"; }
got_sc() { curl -s -H "X-API-Key: $AV" "$BASE_URL/api/v1/audit/events/$1" | json 'd.get("sessionContext")'; }

SC1='{"sessionId":"s \"q\" \\ \u00e9 \"sessionContext\":{","ipAddress":"10.0.0.1","userAgent":"ua","nested":{"a":2.50,"t":true,"z":null}}'
EV1="{\"action\":\"sc.one\",\"status\":\"success\",\"principalId\":\"u-1\",\"sessionContext\":$SC1,\"details\":{\"aaa\":\"x\\\"sessionContext\\\":{}\",\"sessionContextX\":{\"k\":\"v\"},\"zzz\":[\"}\",\"]\",\",\"]}}"
EV2='{"action":"sc.none","status":"success","principalId":"u-1","details":{"sessionContextX":1,"note":"\"sessionContext\":{\"a\":1}"}}'
EV3='{"action":"sc.plain","status":"success","principalId":"u-1","sessionContext":{"sessionId":"s-3","ipAddress":"10.0.0.3","userAgent":"t"}}'

post /api/v1/audit/events "{\"eventData\":$EV1}"
expect_eq "create with sessionContext among tricky details: 201" 201 "$HTTP_STATUS"
id1=$(jbody 'd["id"]')
expect_eq "create: the answer's sessionContext is the one sent" "$(norm "$SC1")" "$(norm "$(jbody 'd.get("sessionContext")')")"
expect_eq "create: ... and the one stored" "$(norm "$SC1")" "$(norm "$(got_sc "$id1")")"

post /api/v1/audit/events/bulk "{\"events\":[$EV2,$EV1,$EV3]}"
expect_eq "bulk of three: 201" 201 "$HTTP_STATUS"
expect_eq "bulk: no sessionContext sent, none answered (a key and a string that look like it)" null \
    "$(jbody 'd["results"][0]["event"].get("sessionContext")')"
expect_eq "bulk: the tricky one answers the sessionContext sent" "$(norm "$SC1")" \
    "$(norm "$(jbody 'd["results"][1]["event"].get("sessionContext")')")"
expect_eq "bulk: a plain one answers the sessionContext sent" \
    "$(norm '{"sessionId":"s-3","ipAddress":"10.0.0.3","userAgent":"t"}')" \
    "$(norm "$(jbody 'd["results"][2]["event"].get("sessionContext")')")"
id3=$(jbody 'd["results"][2]["event"]["id"]')
expect_eq "bulk: ... and the one stored" "$(norm '{"sessionId":"s-3","ipAddress":"10.0.0.3","userAgent":"t"}')" \
    "$(norm "$(got_sc "$id3")")"
stop_serve
finish
