#!/bin/sh
# report_schedules_api.sh - /api/v1/scheduled-reports (the client's 13 calls) and
# /api/v1/compliance/templates over HTTP (docs/reports.md, "Templates", "Schedules", "API and
# CLI"): every answer in the client's shapes (tests/tools/sched_shapes.py), next runs in the
# schedule's time zone, bad input a 400 naming the field, permissions (403), another
# organization's schedule a 404, a manual execution run end to end by the scheduler and its
# artifact downloaded with the hash recorded, cancel of a pending execution, enable/disable,
# upcoming, delete; a duplicate execution row for one instant refused by the database itself.
. "$(dirname "$0")/../lib.sh"
PY=python3; [ -x /usr/bin/python3 ] && PY=/usr/bin/python3

fresh_db report_sched_api
"$AUDITDB_BIN" migrate >/dev/null || { not_ok "migrate"; finish; }
A=$(newkey org-a admin); AUD=$(newkey org-a auditor); V=$(newkey org-a viewer); B=$(newkey org-b admin)
export AUDITDB_DELIVERY_THREADS=0 AUDITDB_REPORT_TICK_MS=200
start_serve "$TEST_TMP/serve.log" || { not_ok "serve starts"; cat "$TEST_TMP/serve.log"; finish; }
trap 'kill "$SERVE_PID" 2>/dev/null' EXIT
J="content-type: application/json"
S=/api/v1/scheduled-reports
shape() { printf '%s' "$HTTP_BODY" >"$TEST_TMP/body.json"; expect_eq "$1: in the client's shape" "" "$("$PY" tests/tools/sched_shapes.py "$2" "$TEST_TMP/body.json")"; }
field() { jbody "d['error']['details']['errors'][0]['field']"; }

body() { # NAME SCHEDULE_JSON [EXTRA]
    printf '{"name":"%s","reportType":"HIPAA_AUDIT_TRAIL","criteria":{"dateRange":{"startDate":"2026-01-01T00:00:00Z","endDate":"2026-02-01T00:00:00Z"}},"format":"json","schedule":%s,"delivery":{"destinations":[]},"export":{"format":"json"},"createdBy":"ignored","updatedBy":"ignored","tags":["weekly"]%s}' "$1" "$2" "${3:-}"
}

# ---- create: next run in the schedule's zone --------------------------------------------------
http POST $S -H "x-api-key: $A" -H "$J" -d "$(body berlin '{"frequency":"daily","timezone":"Europe/Berlin","hour":2,"minute":30,"skipWeekends":false,"skipHolidays":false,"maxMissedRuns":3,"catchUpMissedRuns":false}')"
expect_eq "create: 201" 201 "$HTTP_STATUS"
shape "create" scheduled-report
conforms "create" POST /api/v1/scheduled-reports 201
ID=$(jbody "d['id']")
expect_eq "next run is 02:30 Berlin time, stored as UTC" "t" \
    "$(sql "SELECT (next_run AT TIME ZONE 'Europe/Berlin')::time = '02:30' AND next_run > now() AND next_run <= now() + interval '1 day' FROM scheduled_reports WHERE id = '$ID'")"
expect_eq "createdBy is the key, not the body's word" "t" "$(jbody "d['createdBy'].startswith('apikey:')" | tr 'TF' 'tf' | cut -c1)"
http POST $S -H "x-api-key: $A" -H "$J" -d "$(body cron '{"frequency":"custom","cronExpression":"*/15 9-17 * * 1-5","timezone":"America/New_York","hour":0,"minute":0,"skipWeekends":false,"skipHolidays":false,"maxMissedRuns":3,"catchUpMissedRuns":false}')"
expect_eq "create a cron schedule: 201" 201 "$HTTP_STATUS"
CRON=$(jbody "d['id']")
expect_eq "its next run is a weekday quarter hour 09:00-17:45 New York time" "t" \
    "$(sql "SELECT extract(isodow FROM l) < 6 AND extract(minute FROM l)::int % 15 = 0 AND extract(hour FROM l) BETWEEN 9 AND 17
            FROM (SELECT next_run AT TIME ZONE 'America/New_York' AS l FROM scheduled_reports WHERE id = '$CRON') x")"

# ---- bad input: 400 naming the field ------------------------------------------------------------
bad() { # LABEL FIELD BODY
    http POST $S -H "x-api-key: $A" -H "$J" -d "$3"
    expect_eq "$1: 400 on $2" "400 $2" "$HTTP_STATUS $(field)"
}
http POST $S -H "x-api-key: $A" -H "$J" -d '{"name":"x"}'
conforms "create refused" POST /api/v1/scheduled-reports 400
sch='"skipWeekends":false,"skipHolidays":false,"maxMissedRuns":3,"catchUpMissedRuns":false'
bad "unknown time zone" schedule.timezone "$(body x "{\"frequency\":\"daily\",\"timezone\":\"Mars/Olympus\",\"hour\":1,\"minute\":0,$sch}")"
bad "weekly without a day" schedule.dayOfWeek "$(body x "{\"frequency\":\"weekly\",\"timezone\":\"UTC\",\"hour\":1,\"minute\":0,$sch}")"
bad "monthly without a day" schedule.dayOfMonth "$(body x "{\"frequency\":\"monthly\",\"timezone\":\"UTC\",\"hour\":1,\"minute\":0,$sch}")"
bad "a cron of 4 fields" schedule.cronExpression "$(body x "{\"frequency\":\"custom\",\"cronExpression\":\"* * * *\",\"timezone\":\"UTC\",\"hour\":1,\"minute\":0,$sch}")"
bad "a cron minute 60" schedule.cronExpression "$(body x "{\"frequency\":\"custom\",\"cronExpression\":\"60 * * * *\",\"timezone\":\"UTC\",\"hour\":1,\"minute\":0,$sch}")"
bad "hour 24" schedule.hour "$(body x "{\"frequency\":\"daily\",\"timezone\":\"UTC\",\"hour\":24,\"minute\":0,$sch}")"
bad "holidays (no calendar)" schedule.skipHolidays "$(body x '{"frequency":"daily","timezone":"UTC","hour":1,"minute":0,"skipWeekends":false,"skipHolidays":true,"maxMissedRuns":3,"catchUpMissedRuns":false}')"
bad "catch-up maximum 101" schedule.maxMissedRuns "$(body x '{"frequency":"daily","timezone":"UTC","hour":1,"minute":0,"skipWeekends":false,"skipHolidays":false,"maxMissedRuns":101,"catchUpMissedRuns":true}')"
bad "end before start" schedule.endDate "$(body x "{\"frequency\":\"daily\",\"timezone\":\"UTC\",\"hour\":1,\"minute\":0,\"startDate\":\"2030-01-02T00:00:00Z\",\"endDate\":\"2030-01-01T00:00:00Z\",$sch}")"
bad "an end in the past" schedule.endDate "$(body x "{\"frequency\":\"daily\",\"timezone\":\"UTC\",\"hour\":1,\"minute\":0,\"endDate\":\"2001-01-01T00:00:00Z\",$sch}")"
bad "unknown member" schedule.every "$(body x "{\"frequency\":\"daily\",\"every\":2,\"timezone\":\"UTC\",\"hour\":1,\"minute\":0,$sch}")"
bad "html (not produced)" format "$(body x "{\"frequency\":\"daily\",\"timezone\":\"UTC\",\"hour\":1,\"minute\":0,$sch}" | sed 's/"format":"json","schedule"/"format":"html","schedule"/')"
bad "an overlap policy" metadata.overlapPolicy "$(body x "{\"frequency\":\"daily\",\"timezone\":\"UTC\",\"hour\":1,\"minute\":0,$sch}" | sed 's/"format":"json","schedule"/"format":"json","metadata":{"overlapPolicy":"parallel"},"schedule"/')"
bad "a report type" reportType "$(body x "{\"frequency\":\"daily\",\"timezone\":\"UTC\",\"hour\":1,\"minute\":0,$sch}" | sed 's/HIPAA_AUDIT_TRAIL/hipaa/')"
bad "destinations" delivery.destinations "$(body x "{\"frequency\":\"daily\",\"timezone\":\"UTC\",\"hour\":1,\"minute\":0,$sch}" | sed 's/"destinations":\[\]/"destinations":"all"/')"
http POST $S -H "x-api-key: $A" -H "$J" -d '[1]'
expect_eq "not an object: 400" 400 "$HTTP_STATUS"
expect_eq "nothing half-written by the refusals" 2 "$(sql "SELECT count(*) FROM scheduled_reports")"

# ---- permissions and tenancy ------------------------------------------------------------------
http POST $S -H "x-api-key: $V" -H "$J" -d "$(body v "{\"frequency\":\"daily\",\"timezone\":\"UTC\",\"hour\":1,\"minute\":0,$sch}")"
expect_eq "a viewer may not create: 403" 403 "$HTTP_STATUS"
http GET $S -H "x-api-key: $V"
expect_eq "nor list (reports:read is the auditor's): 403" 403 "$HTTP_STATUS"
http GET $S -H "x-api-key: $AUD"
expect_eq "an auditor lists: 200" 200 "$HTTP_STATUS"
shape "list" reports-page
conforms "list" GET /api/v1/scheduled-reports 200
expect_eq "list: two schedules, summary counts" "2 2 2" "$(jbody "d['pagination']['total']") $(jbody "d['summary']['enabledReports']") $(jbody "d['summary']['reportsByType']['HIPAA_AUDIT_TRAIL']")"
http GET "$S/$ID" -H "x-api-key: $B"
expect_eq "another organization's schedule: 404" 404 "$HTTP_STATUS"
conforms "get 404" GET "/api/v1/scheduled-reports/{id}" 404
http POST "$S/$ID/execute" -H "x-api-key: $B"
expect_eq "another organization cannot run it: 404" 404 "$HTTP_STATUS"
http GET $S -H "x-api-key: $B"
expect_eq "another organization lists none" 0 "$(jbody "d['pagination']['total']")"
http GET "$S?limit=0" -H "x-api-key: $A"
expect_eq "limit 0: 400 on limit" "400 limit" "$HTTP_STATUS $(field)"
# the client's list filters: lists repeated (name=a&name=b), a range on one of four dates
http GET "$S/$ID" -H "x-api-key: $A"
BY=$(jbody "d['createdBy']")
BYQ=$(printf '%s' "$BY" | "$PY" -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.stdin.read()))')
total() { http GET "$S?$1" -H "x-api-key: $AUD"; printf '%s %s' "$HTTP_STATUS" "$(jbody "d['pagination']['total']")"; }
expect_eq "filter tags=weekly&tags=other: both" "200 2" "$(total 'tags=weekly&tags=other')"
expect_eq "filter tags=monthly: none" "200 0" "$(total 'tags=monthly')"
expect_eq "filter createdBy (the key that created them): both" "200 2" "$(total "createdBy=$BYQ")"
expect_eq "filter createdBy=someone: none" "200 0" "$(total 'createdBy=someone')"
expect_eq "filter createdBy, an injection attempt, is a value: none" "200 0" "$(total "createdBy=x%27%20OR%201%3D1%20--")"
expect_eq "filter reportType=CUSTOM_REPORT&reportType=HIPAA_AUDIT_TRAIL: both" "200 2" "$(total 'reportType=CUSTOM_REPORT&reportType=HIPAA_AUDIT_TRAIL')"
expect_eq "filter reportType=CUSTOM_REPORT: none" "200 0" "$(total 'reportType=CUSTOM_REPORT')"
expect_eq "filter rangeBy=created_at, 2000 to 2099: both" "200 2" "$(total 'rangeBy=created_at&startDate=2000-01-01T00:00:00Z&endDate=2099-01-01T00:00:00Z')"
expect_eq "filter rangeBy=next_run from 2099: none" "200 0" "$(total 'rangeBy=next_run&startDate=2099-01-01T00:00:00Z')"
expect_eq "filter endDate before the schedules were made (created_at by default): none" "200 0" "$(total 'endDate=2001-01-01T00:00:00Z')"
http GET "$S?rangeBy=nope" -H "x-api-key: $AUD"
expect_eq "rangeBy=nope: 400 on rangeBy" "400 rangeBy" "$HTTP_STATUS $(field)"
http GET "$S?startDate=yesterday" -H "x-api-key: $AUD"
expect_eq "startDate=yesterday: 400 on startDate" "400 startDate" "$HTTP_STATUS $(field)"

# ---- get, update, upcoming --------------------------------------------------------------------
http GET "$S/$ID" -H "x-api-key: $A"
shape "get" scheduled-report
http PUT "$S/$ID" -H "x-api-key: $A" -H "$J" -d "{\"name\":\"renamed\",\"schedule\":{\"frequency\":\"weekly\",\"dayOfWeek\":\"monday\",\"timezone\":\"Asia/Tokyo\",\"hour\":9,\"minute\":0,$sch},\"updatedBy\":\"x\"}"
expect_eq "update: 200" 200 "$HTTP_STATUS"
shape "update" scheduled-report
expect_eq "update: version 2, a Monday 09:00 Tokyo next run" "2 renamed t" \
    "$(jbody "d['version']") $(jbody "d['name']") $(sql "SELECT extract(isodow FROM next_run AT TIME ZONE 'Asia/Tokyo') = 1 AND (next_run AT TIME ZONE 'Asia/Tokyo')::time = '09:00' FROM scheduled_reports WHERE id = '$ID'")"
http GET "$S/upcoming?limit=10" -H "x-api-key: $A"
expect_eq "upcoming: 200 (a literal route, not {id})" 200 "$HTTP_STATUS"
shape "upcoming" upcoming
conforms "upcoming" GET /api/v1/scheduled-reports/upcoming 200
expect_eq "upcoming: soonest first" "$(sql "SELECT string_agg(id, ' ' ORDER BY next_run) FROM scheduled_reports WHERE organization_id = 'org-a'")" \
    "$(printf '%s' "$HTTP_BODY" | "$PY" -c 'import json,sys; print(" ".join(u["reportId"] for u in json.load(sys.stdin)))')"
http GET "$S/upcoming?organizationId=org-b" -H "x-api-key: $A"
expect_eq "upcoming of another organization: 403" 403 "$HTTP_STATUS"

# ---- execute: the scheduler runs it, the artifact is downloadable -----------------------------
http POST "$S/$ID/execute" -H "x-api-key: $AUD"
expect_eq "execute: 202" 202 "$HTTP_STATUS"
shape "execute" execution
conforms "execute" POST "/api/v1/scheduled-reports/{id}/execute" 202
EID=$(jbody "d['id']")
expect_eq "a manual, pending execution" "manual pending" "$(jbody "d['trigger']") $(jbody "d['status']")"
i=0; st=""
while [ $i -lt 100 ]; do
    http GET "$S/$ID/executions/$EID" -H "x-api-key: $A"
    st=$(jbody "d['status']"); case "$st" in completed|failed) break ;; esac
    sleep 0.2; i=$((i + 1))
done
expect_eq "the execution ran to completed" completed "$st"
[ "$st" = completed ] || diag "$HTTP_BODY"
shape "execution status" execution
conforms "execution status" GET "/api/v1/scheduled-reports/{id}/executions/{executionId}" 200
expect_eq "records, report id and checksum recorded" "t" \
    "$(jbody "'reportId' in d and 'recordsProcessed' in d and len(d['exportResult']['metadata']['checksum']) == 64" | tr 'TF' 'tf' | cut -c1)"
SUM=$(jbody "d['exportResult']['metadata']['checksum']")
curl -s -o "$TEST_TMP/artifact" -H "x-api-key: $A" "$BASE_URL$S/$ID/executions/$EID/download"
expect_eq "download: the artifact whose SHA-256 was recorded (and is the report's hash)" "$SUM $SUM" \
    "$(sha256sum "$TEST_TMP/artifact" | cut -d' ' -f1) $(sql "SELECT c.report_hash FROM compliance_reports c JOIN report_executions e ON e.report_id = c.id WHERE e.id = '$EID'")"
http GET "$S/$ID/executions/$EID/download?format=pdf" -H "x-api-key: $A"
expect_eq "download in another format: 400 on format" "400 format" "$HTTP_STATUS $(field)"
http GET "$S/$ID/executions" -H "x-api-key: $A"
shape "executions" executions-page
conforms "executions" GET "/api/v1/scheduled-reports/{id}/executions" 200
expect_eq "executions: one, success rate 100" "1 100.0" "$(jbody "d['pagination']['total']") $(jbody "d['summary']['successRate']")"
http POST "$S/$ID/executions/$EID/cancel" -H "x-api-key: $A"
expect_eq "cancel of an ended execution: 409" 409 "$HTTP_STATUS"
expect_eq "the schedule counted it" "1 1" "$(sql "SELECT execution_count || ' ' || success_count FROM scheduled_reports WHERE id = '$ID'")"

# ---- a delivery that fails: the execution failed, its signed report still downloadable -------
http POST $S -H "x-api-key: $A" -H "$J" -d "$(body nodefault '{"frequency":"daily","timezone":"UTC","hour":3,"minute":0,"skipWeekends":false,"skipHolidays":false,"maxMissedRuns":3,"catchUpMissedRuns":false}' | sed 's/"destinations":\[\]/"destinations":"default"/')"
expect_eq "a schedule delivering to the default destinations (none here): 201" 201 "$HTTP_STATUS"
ND=$(jbody "d['id']")
http POST "$S/$ND/execute" -H "x-api-key: $A"
NE=$(jbody "d['id']")
i=0; st=""
while [ $i -lt 100 ]; do
    http GET "$S/$ND/executions/$NE" -H "x-api-key: $A"
    st=$(jbody "d['status']"); case "$st" in completed|failed) break ;; esac
    sleep 0.2; i=$((i + 1))
done
expect_eq "the execution failed on its delivery, naming why" "failed DELIVERY_FAILED" \
    "$st $(sql "SELECT error_code FROM report_executions WHERE id = '$NE'")"
curl -s -o "$TEST_TMP/nd.artifact" -w '%{http_code}' -H "x-api-key: $A" "$BASE_URL$S/$ND/executions/$NE/download" >"$TEST_TMP/nd.code"
expect_eq "…its signed report downloadable all the same (to deliver by hand)" "200 t" \
    "$(cat "$TEST_TMP/nd.code") $(sql "SELECT report_hash = '$(sha256sum "$TEST_TMP/nd.artifact" | cut -d' ' -f1)' FROM compliance_reports c JOIN report_executions e ON e.report_id = c.id WHERE e.id = '$NE'")"

# ---- the database refuses a second row for one instant (superuser SQL) ------------------------
dup=$(psql "$AUDIT_DB_URL" -qAtX -c "INSERT INTO report_executions (id, scheduled_report_id, organization_id, run_id, scheduled_time, execution_time, status, trigger)
      SELECT 'execution-dup', scheduled_report_id, organization_id, 'x', scheduled_time, now(), 'pending', 'scheduled' FROM report_executions WHERE id = '$EID'" 2>&1)
expect_match "a duplicate (schedule, instant) row is refused" "report_executions_schedule_instant_unique" "$dup"

# ---- cancel a pending one: a serve without the scheduler --------------------------------------
stop_serve
AUDITDB_REPORT_SCHEDULER=false start_serve "$TEST_TMP/serve2.log" || { not_ok "serve restarts"; finish; }
http POST "$S/$ID/execute" -H "x-api-key: $A"
E2=$(jbody "d['id']")
http POST "$S/$ID/executions/$E2/cancel" -H "x-api-key: $A"
expect_eq "cancel a pending execution: 200 cancelled" "200 cancelled CANCELLED" "$HTTP_STATUS $(jbody "d['status']") $(jbody "d['error']['code']")"
http POST "$S/$ID/executions/$E2/cancel" -H "x-api-key: $A"
expect_eq "cancel twice: 409" 409 "$HTTP_STATUS"
http GET "$S/$ID/executions?status=cancelled" -H "x-api-key: $A"
expect_eq "executions filtered by status" 1 "$(jbody "d['pagination']['total']")"

# ---- disable, enable, delete ------------------------------------------------------------------
http POST "$S/$CRON/disable" -H "x-api-key: $A"
expect_eq "disable: 200, enabled false" "200 false" "$HTTP_STATUS $(jbody "d['enabled']")"
sql "UPDATE scheduled_reports SET next_run = now() - interval '10 days' WHERE id = '$CRON'" >/dev/null
http POST "$S/$CRON/enable" -H "x-api-key: $A"
expect_eq "enable: 200, the next run from now (disabled time is not missed)" "200 true t" \
    "$HTTP_STATUS $(jbody "d['enabled']") $(sql "SELECT next_run > now() FROM scheduled_reports WHERE id = '$CRON'")"
http DELETE "$S/$CRON" -H "x-api-key: $AUD"
expect_eq "delete: 204" 204 "$HTTP_STATUS"
http GET "$S/$CRON" -H "x-api-key: $A"
expect_eq "deleted: 404" 404 "$HTTP_STATUS"

# ---- templates --------------------------------------------------------------------------------
T=/api/v1/compliance/templates
http POST $T -H "x-api-key: $A" -H "$J" -d '{"name":"Monthly HIPAA","category":"hipaa","isPublic":false,"reportType":"HIPAA_AUDIT_TRAIL","defaultFormat":"csv","defaultCriteria":{"dataClassifications":["PHI"]},"defaultDelivery":{"destinations":[]},"defaultExport":{"format":"csv"},"tags":["hipaa"],"isActive":true,"isDefault":false,"configuration":{"sections":[]}}'
expect_eq "template create: 201" 201 "$HTTP_STATUS"
shape "template" template
conforms "template" POST /api/v1/compliance/templates 201
TID=$(jbody "d['id']")
http POST $T -H "x-api-key: $A" -H "$J" -d '{"name":"x","category":"finance","reportType":"HIPAA_AUDIT_TRAIL","defaultFormat":"csv"}'
expect_eq "template with a bad category: 400 on category" "400 category" "$HTTP_STATUS $(field)"
http POST $S -H "x-api-key: $A" -H "$J" -d "{\"name\":\"from template\",\"templateId\":\"$TID\",\"schedule\":{\"frequency\":\"monthly\",\"dayOfMonth\":31,\"timezone\":\"UTC\",\"hour\":6,\"minute\":0,$sch}}"
expect_eq "a schedule from a template: 201, its defaults" "201 csv HIPAA_AUDIT_TRAIL" "$HTTP_STATUS $(jbody "d['format']") $(jbody "d['reportType']")"
http GET "$T/$TID" -H "x-api-key: $A"
expect_eq "the template's usage counted" 1 "$(jbody "d['usageCount']")"
http PUT "$T/$TID" -H "x-api-key: $A" -H "$J" -d '{"name":"Monthly HIPAA v2"}'
expect_eq "template update: version 2" "200 2" "$HTTP_STATUS $(jbody "d['version']")"
http GET $T -H "x-api-key: $AUD"
shape "templates" templates
conforms "templates" GET /api/v1/compliance/templates 200
http GET "$T/$TID" -H "x-api-key: $B"
expect_eq "another organization's template: 404" 404 "$HTTP_STATUS"
http DELETE "$T/$TID" -H "x-api-key: $A"
expect_eq "template delete: 204" 204 "$HTTP_STATUS"
http GET "$T/$TID" -H "x-api-key: $A"
expect_eq "deleted template: 404" 404 "$HTTP_STATUS"
# ---- the CLI: auditdb reports schedules|templates ---------------------------------------------
stop_serve
CLI="$AUDITDB_BIN reports"
out=$($CLI templates create --org org-a --json '{"name":"cli tpl","category":"audit","reportType":"HIPAA_AUDIT_TRAIL","defaultFormat":"json","defaultDelivery":{"destinations":[]},"defaultExport":{"format":"json"},"defaultCriteria":{}}' 2>&1)
CT=$(printf '%s' "$out" | json "d['id']" 2>/dev/null)
expect_match "cli: templates create prints the template" '^template-' "$CT"
out=$($CLI schedules create --org org-a --json "{\"name\":\"cli\",\"templateId\":\"$CT\",\"schedule\":{\"frequency\":\"hourly\",\"minute\":5,\"timezone\":\"Asia/Kolkata\"}}" 2>&1)
CS=$(printf '%s' "$out" | json "d['id']" 2>/dev/null)
expect_match "cli: schedules create from the template" '^report-' "$CS"
expect_eq "cli: an hourly :05 Kolkata schedule runs at :35 UTC" "35" "$(sql "SELECT extract(minute FROM next_run AT TIME ZONE 'UTC')::int FROM scheduled_reports WHERE id = '$CS'")"
out=$($CLI schedules run "$CS" --org org-a 2>"$TEST_TMP/run.err"); rc=$?
expect_eq "cli: schedules run executes it here: exit 0, completed, manual" "0 completed manual" "$rc $(printf '%s' "$out" | json "d['status']") $(printf '%s' "$out" | json "d['trigger']")"
[ "$rc" = 0 ] || diag "$out" "$(cat "$TEST_TMP/run.err")"
expect_eq "cli: executions lists it" 1 "$($CLI schedules executions "$CS" --org org-a | json "d['pagination']['total']")"
$CLI schedules create --org org-a --json '{"name":"x","templateId":"'"$CT"'","schedule":{"frequency":"weekly","timezone":"UTC"}}' >/dev/null 2>"$TEST_TMP/err"; rc=$?
expect_eq "cli: a refused schedule exits 1 naming the field" "1 t" "$rc $(grep -q 'schedule.dayOfWeek' "$TEST_TMP/err" && echo t)"
$CLI schedules show "$CS" --org org-b >/dev/null 2>&1; rc=$?
expect_eq "cli: another organization's schedule: exit 1" 1 "$rc"
$CLI schedules frobnicate >/dev/null 2>&1; rc=$?
expect_eq "cli: an unknown command: exit 2" 2 "$rc"
expect_eq "cli: disable" false "$($CLI schedules disable "$CS" --org org-a | json "d['enabled']")"
expect_match "cli: list" '"total": [0-9]' "$($CLI schedules list --org org-a)"
if grep -q 'ERROR: AddressSanitizer\|runtime error' "$TEST_TMP/serve.log" "$TEST_TMP/serve2.log" "$TEST_TMP/run.err"; then
    not_ok "no sanitizer report"; grep -A20 'ERROR: AddressSanitizer\|runtime error' "$TEST_TMP/serve.log" "$TEST_TMP/serve2.log" | head -40
fi
finish
