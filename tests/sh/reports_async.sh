# reports_async.sh - reports generated in the background (issue 19, rasync; docs/reports.md,
# "Asynchronous generation"): POST .../reports/hipaa with `Prefer: respond-async` answers 202
# before the work is done (Location: the status); the status shows the progress the generator
# writes between its steps, rising to 100, and the download is then the signed artifact; a
# cancel mid-way stops it (cancelled, no artifact, download 409, the progress frozen); a bad
# request is still refused at once (400 naming the field, no row); another organization cannot
# read or cancel it; a fifth report while four run is a 503 with Retry-After; serve stopping
# ends the running ones `failed` ("interrupted"), none left running. Each step is held
# AUDITDB_REPORT_TEST_STEP_MS (500 ms; test builds only) so that the progress can be watched.
. tests/lib.sh

fresh_db t_reports_async
"$AUDITDB_BIN" migrate >/dev/null
A_AUD=$(newkey org-a auditor)
A_ADMIN=$(newkey org-a admin)
B_AUD=$(newkey org-b auditor)
export AUDITDB_REPORT_TEST_STEP_MS=500
if ! start_serve "$TEST_TMP/serve.log"; then
    not_ok "serve starts"; diag "$(cat "$TEST_TMP/serve.log")"; finish
fi
unset AUDITDB_REPORT_TEST_STEP_MS
ok "serve starts"
J='Content-Type: application/json'
R=/api/v1/compliance/reports
ASYNC='Prefer: respond-async'
printf '{"events":[%s,%s]}' \
    '{"timestamp":"2026-11-02T10:00:00Z","action":"record.read","status":"success","principalId":"dr-1","dataClassification":"PHI","targetResourceType":"Patient","targetResourceId":"P-1"}' \
    '{"timestamp":"2026-11-03T10:00:00Z","action":"record.update","status":"failure","principalId":"dr-2","dataClassification":"PHI","targetResourceType":"Patient","targetResourceId":"P-2"}' \
    >"$TEST_TMP/ev.json"
http POST /api/v1/audit/events/bulk -H "X-API-Key: $A_ADMIN" -H "$J" --data-binary @"$TEST_TMP/ev.json"
expect_eq "events stored" 2 "$(jbody 'd["successful"]')"
CRIT='{"criteria":{"dateRange":{"startDate":"2026-11-01T00:00:00Z","endDate":"2026-11-30T23:59:59Z"}}}'
ms() { date +%s%3N; }

# ---- 202 at once, progress as the work proceeds, then the artifact ----
t0=$(ms)
curl -s -D "$TEST_TMP/h1" -o "$TEST_TMP/b1" -w '%{http_code}' -X POST "$BASE_URL$R/hipaa" -H "X-API-Key: $A_AUD" \
    -H "$J" -H "$ASYNC" -d "$CRIT" >"$TEST_TMP/code1"
t1=$(ms)
HTTP_BODY=$(cat "$TEST_TMP/b1")
expect_eq "respond-async: 202, processing, progress 0" "202 processing 0" "$(cat "$TEST_TMP/code1") $(jbody 'd["status"]') $(jbody 'd["progress"]')"
ID=$(jbody 'd["id"]')
check "...answered before the work is done ($((t1 - t0)) ms; its 7 steps take 3.5 s)" test $((t1 - t0)) -lt 2000
expect_match "...Location is its status, Preference-Applied: respond-async" \
    "location: /api/v1/compliance/reports/$ID/status preference-applied: respond-async" \
    "$(tr -d '\r' <"$TEST_TMP/h1" | grep -iE '^(location|preference-applied):' | tr 'A-Z' 'a-z' | sort | tr '\n' ' ')"
# poll without python (each poll must be quicker than a step): status and progress by sed
sget() { curl -s -H "X-API-Key: $A_AUD" "$BASE_URL$R/$1/status"; }
sfield() { sed -n "s/.*\"$1\":\"\{0,1\}\([a-z0-9]*\).*/\1/p"; }
seen=""
i=0
while [ $i -lt 300 ]; do
    body=$(sget "$ID")
    st=$(printf '%s' "$body" | sfield status)
    seen="$seen $st:$(printf '%s' "$body" | sfield progress)"
    [ "$st" = processing ] || break
    sleep 0.05; i=$((i + 1))
done
HTTP_BODY=$body
printf '%s' "$HTTP_BODY" >"$TEST_TMP/status.json"
expect_eq "the report completes at 100" "completed 100" "$(jbody 'd["status"]') $(jbody 'd["progress"]')"
check "the progress rose by steps, never down, at least 3 values between 0 and 100 seen ($seen)" python3 -c '
import sys
seq = [(s, int(p)) for s, p in (x.split(":") for x in sys.argv[1].split())]
vals = [p for s, p in seq]
mid = {p for s, p in seq if s == "processing" and 0 < p < 100}
sys.exit(0 if vals == sorted(vals) and len(mid) >= 3 else 1)' "$seen"
expect_eq "...the status in the client's shape" "" "$(python3 tests/tools/client_shapes.py report-status "$TEST_TMP/status.json")"
HASH=$(jbody 'd["reportHash"]')
curl -s -o "$TEST_TMP/r.json" -H "X-API-Key: $A_AUD" "$BASE_URL$R/$ID/download"
expect_eq "the download is the artifact of reportHash" "$HASH" "$(sha256sum <"$TEST_TMP/r.json" | cut -d' ' -f1)"
expect_eq "...whose figures count the events" 2 "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["summary"]["totalEvents"])' "$TEST_TMP/r.json")"

# ---- cancel mid-way ----
http POST $R/hipaa -H "X-API-Key: $A_AUD" -H "$J" -H "$ASYNC" -d "$CRIT"
IDC=$(jbody 'd["id"]')
i=0
while [ $i -lt 300 ]; do
    at=$(sget "$IDC" | sfield progress)
    [ "${at:-0}" -ge 35 ] && break
    sleep 0.05; i=$((i + 1))
done
http POST "$R/$IDC/cancel" -H "X-API-Key: $B_AUD"
expect_eq "another organization cannot cancel it: 404" 404 "$HTTP_STATUS"
http GET "$R/$IDC/status" -H "X-API-Key: $B_AUD"
expect_eq "...nor read its status: 404" 404 "$HTTP_STATUS"
http POST "$R/$IDC/cancel" -H "X-API-Key: $A_AUD"
expect_eq "cancel mid-way (at $at %): 200 cancelled" "200 cancelled" "$HTTP_STATUS $(jbody 'd["status"]')"
sleep 2 # the generator's next steps come and go
http GET "$R/$IDC/status" -H "X-API-Key: $A_AUD"
expect_eq "...it stays cancelled, its progress frozen below 100" "cancelled yes" \
    "$(jbody 'd["status"]') $([ "$(jbody 'd["progress"]')" -lt 100 ] && echo yes)"
expect_eq "...no artifact stored" "t" "$(sql "SELECT artifact IS NULL AND report_hash IS NULL FROM compliance_reports WHERE id = '$IDC'")"
http GET "$R/$IDC/download" -H "X-API-Key: $A_AUD"
expect_eq "...its download: 409" 409 "$HTTP_STATUS"

# ---- a refusal is the request's own answer ----
rows=$(sql "SELECT count(*) FROM compliance_reports")
http POST $R/hipaa -H "X-API-Key: $A_AUD" -H "$J" -H "$ASYNC" -d '{"criteria":{"dateRange":{"startDate":"soon","endDate":"2026-11-30T23:59:59Z"}}}'
expect_eq "respond-async with a bad date: 400 naming criteria.dateRange.startDate" "400 criteria.dateRange.startDate" \
    "$HTTP_STATUS $(jbody 'd["error"]["details"]["errors"][0]["field"]')"
expect_eq "...no row written" "$rows" "$(sql "SELECT count(*) FROM compliance_reports")"

# ---- at most four at once; serve stopping interrupts them ----
http POST $R/hipaa -H "X-API-Key: $A_AUD" -H "$J" -d '{"criteria":{"dateRange":{"startDate":"2026-11-01T00:00:00Z","endDate":"2026-11-01T00:00:01Z"}}}'
expect_eq "without Prefer, a report in the request itself: 200, the document" "200 0" "$HTTP_STATUS $(jbody 'd["summary"]["totalEvents"]')"
for n in 1 2 3 4; do
    http POST $R/hipaa -H "X-API-Key: $A_AUD" -H "$J" -H "$ASYNC" -d "$CRIT"
    [ "$HTTP_STATUS" = 202 ] || not_ok "background report $n accepted (got $HTTP_STATUS)"
done
curl -s -D "$TEST_TMP/h5" -o "$TEST_TMP/b5" -X POST "$BASE_URL$R/hipaa" -H "X-API-Key: $A_AUD" -H "$J" -H "$ASYNC" -d "$CRIT"
HTTP_BODY=$(cat "$TEST_TMP/b5")
expect_eq "a fifth while four run: 503 REPORTS_BUSY with Retry-After" "503 REPORTS_BUSY retry-after" \
    "$(sed -n '1s/^HTTP[^ ]* \([0-9]*\).*/\1/p' "$TEST_TMP/h5") $(jbody 'd["error"]["code"]') $(tr -d '\r' <"$TEST_TMP/h5" | grep -io '^retry-after' | tr 'A-Z' 'a-z')"
t0=$(ms)
stop_serve
rc=$?
t1=$(ms)
expect_eq "serve stops (exit 0) while four reports run in the background" 0 "$rc"
check "...promptly ($((t1 - t0)) ms: each ends at its next step)" test $((t1 - t0)) -lt 5000
expect_eq "...they end failed, interrupted; none is left running" "4|0" \
    "$(sql "SELECT count(*) FILTER (WHERE status = 'failed' AND error LIKE 'interrupted: the server stopped%'), count(*) FILTER (WHERE status = 'running') FROM compliance_reports")"
expect_eq "serve stopped without a sanitizer report" "" "$(grep -E 'Sanitizer|runtime error' "$TEST_TMP/serve.log" | head -3)"
finish
