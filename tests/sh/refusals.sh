# refusals.sh - events PostgreSQL would refuse (issue 14, item 4): a field
# present as null is missing (400, nothing stored, validateOnly and
# continueOnError:false right); a row PostgreSQL still refuses (a trigger
# here) fails alone with a 4xx and costs the others no rewrite one by one.
# And a month whose partition maintenance dropped under a running serve
# (item 9) takes events again at once.
. tests/lib.sh

fresh_db t_refusals
"$AUDITDB_BIN" migrate >/dev/null
key=$("$AUDITDB_BIN" keys create --org org-r --role admin | sed -n 's/^key (shown once, store it now): //p')
if ! start_serve "$TEST_TMP/serve.log"; then
    not_ok "serve starts"; diag "$(cat "$TEST_TMP/serve.log")"; finish
fi
post() { http POST "$1" -H "X-API-Key: $key" -H 'Content-Type: application/json' --data-binary "$2"; }
# has_error CODE FIELD: the last answer names that problem
has_error() {
    printf '%s' "$HTTP_BODY" | python3 -c 'import json,sys
d=json.load(sys.stdin); code,field=sys.argv[1],sys.argv[2]
errs=d["error"]["details"]["errors"]
sys.exit(0 if any(e["code"]==code and e["field"]==field for e in errs) else 1)' "$1" "$2" 2>/dev/null
}
stored() { sql "SELECT count(*) FROM audit_log WHERE organization_id = 'org-r'"; }

# null required fields
post /api/v1/audit/events '{"eventData":{"action":"nulls.status","status":null}}'
expect_eq "status null: 400" 400 "$HTTP_STATUS"
check "status null: REQUIRED_FIELD_MISSING on status" has_error REQUIRED_FIELD_MISSING status
post /api/v1/audit/events '{"eventData":{"action":null,"status":"success"}}'
expect_eq "action null: 400" 400 "$HTTP_STATUS"
check "action null: REQUIRED_FIELD_MISSING on action" has_error REQUIRED_FIELD_MISSING action
expect_eq "nulls: nothing stored" 0 "$(stored)"

ok_ev='{"action":"nulls.fine","status":"success"}'
post /api/v1/audit/events/bulk "{\"continueOnError\":false,\"events\":[$ok_ev,{\"action\":\"x\",\"status\":null},$ok_ev,{\"action\":null,\"status\":\"success\"}]}"
expect_eq "bulk continueOnError:false with nulls: 400" 400 "$HTTP_STATUS"
check "bulk: names events[1].status" has_error REQUIRED_FIELD_MISSING 'events[1].status'
check "bulk: names events[3].action" has_error REQUIRED_FIELD_MISSING 'events[3].action'
expect_eq "bulk continueOnError:false: nothing stored" 0 "$(stored)"

post /api/v1/audit/events/bulk "{\"validateOnly\":true,\"events\":[$ok_ev,{\"action\":\"x\",\"status\":null},{\"action\":null,\"status\":\"success\"}]}"
expect_eq "validateOnly: only the valid event is successful" "[0] [1, 2]" \
    "$(jbody '"%s %s" % ([r["index"] for r in d["results"] if r["success"]], [r["index"] for r in d["results"] if not r["success"]])')"
expect_eq "validateOnly: nothing stored" 0 "$(stored)"

# a row PostgreSQL refuses after validation: alone, a 4xx, no rewrite of the rest
sql "CREATE FUNCTION t_refuse() RETURNS trigger LANGUAGE plpgsql AS \$\$ BEGIN
       IF NEW.action = 'poison' THEN RAISE EXCEPTION 'refused by policy' USING ERRCODE = 'check_violation'; END IF;
       RETURN NEW; END \$\$;
     CREATE TRIGGER t_refuse BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION t_refuse()"
post /api/v1/audit/events '{"eventData":{"action":"poison","status":"success"}}'
expect_eq "refused row, single create: 400 (not 503)" 400 "$HTTP_STATUS"
check "refused row: REFUSED_BY_DATABASE" has_error REFUSED_BY_DATABASE ""
body=$(python3 -c 'import json
ev=[{"action":"iso.%d" % i,"status":"success"} for i in range(60)]
ev[30]["action"]="poison"
print(json.dumps({"events":ev}))')
post /api/v1/audit/events/bulk "$body"
expect_eq "refused row in a bulk of 60: 201 with 59 stored, index 30 failed as a 4xx" "201 59 [30] VALIDATION_ERROR" \
    "$HTTP_STATUS $(jbody '"%d %s %s" % (d["successful"], [r["index"] for r in d["results"] if not r["success"]], [r["code"] for r in d["results"] if not r["success"]][0])')"
expect_eq "refused row: the 59 others are stored once" "59 59" \
    "$(sql "SELECT count(*) || ' ' || count(DISTINCT action) FROM audit_log WHERE action LIKE 'iso.%'")"
# each transaction leaves its own xmin: one by one, the 59 would be 59
txns=$(sql "SELECT count(DISTINCT xmin::text) FROM audit_log WHERE action LIKE 'iso.%'")
if [ "$txns" -le 4 ]; then ok "refused row: the others written in $txns transaction(s), not one each"; else
    not_ok "refused row: the others written in $txns transaction(s), not one each"; fi
sql "DROP TRIGGER t_refuse ON audit_log; DROP FUNCTION t_refuse()"

# a month whose partition is dropped under the running serve (as maintenance
# drops an emptied month): the next event of that month gets it back
month_ts=$(date -u -d "$(date -u +%Y-%m-15) -2 months" +%Y-%m-15T12:00:00.000Z)
part=audit_log_$(date -u -d "$(date -u +%Y-%m-15) -2 months" +%Y_%m)
post /api/v1/audit/events "{\"eventData\":{\"timestamp\":\"$month_ts\",\"action\":\"month.first\",\"status\":\"success\"}}"
expect_eq "an event two months back: 201" 201 "$HTTP_STATUS"
sql "DROP TABLE $part"
post /api/v1/audit/events "{\"eventData\":{\"timestamp\":\"$month_ts\",\"action\":\"month.again\",\"status\":\"success\"}}"
expect_eq "after its partition was dropped: 201 (not 503 until restart)" 201 "$HTTP_STATUS"
expect_eq "the month's partition is back with the event" "month.again" \
    "$(sql "SELECT string_agg(action, ',') FROM $part")"
http GET /health
expect_eq "/health 200" 200 "$HTTP_STATUS"

stop_serve TERM; rc=$?
expect_eq "serve stops cleanly (no sanitizer report)" 0 "$rc"
[ "$rc" -eq 0 ] || diag "$(grep -v '^{' "$TEST_TMP/serve.log" | tail -40)"
finish
