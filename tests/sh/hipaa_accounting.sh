# hipaa_accounting.sh - the HIPAA accounting of disclosures (45 CFR 164.528; issue 17 item 5;
# docs/hipaa.md) end to end through auditdb serve: golden fixtures for the (a)(1) exclusions
# and the (b)(3) summary form, the (a)(2) suspension, the six-year window; the access report;
# each reading recorded as an audit event; attackers: another organization's patient, a
# missing permission, bad parameters.
. tests/lib.sh


fresh_db t_hipaa_accounting
"$AUDITDB_BIN" migrate >/dev/null
A_ADMIN=$(newkey org-a admin)
A_AUD=$(newkey org-a auditor)
A_VIEW=$(newkey org-a viewer)
B_ADMIN=$(newkey org-b admin)
if ! start_serve "$TEST_TMP/serve.log"; then
    not_ok "serve starts"; diag "$(cat "$TEST_TMP/serve.log")"; finish
fi
ok "serve starts"
J='Content-Type: application/json'
G=tests/golden/hipaa
ACC=/api/v1/compliance/hipaa/accounting
PERIOD='startDate=2026-01-01T00:00:00Z&endDate=2026-06-30T23:59:59Z'

python3 $G/events.py org-a >"$TEST_TMP/a.json"
python3 $G/events.py org-b >"$TEST_TMP/b.json"
# a 503 means nothing was stored and asks for a retry (docs/api.md): a client on a loaded
# machine sends again, as this does (at most 5 times); any other answer is the test's
post_bulk() { # KEY FILE
    n=0
    while :; do
        http POST /api/v1/audit/events/bulk -H "X-API-Key: $1" -H "$J" --data-binary @"$2"
        n=$((n + 1))
        { [ "$HTTP_STATUS" != 503 ] || [ $n -ge 5 ]; } && break
        sleep 1
    done
    [ "$HTTP_STATUS" = 201 ] || diag "bulk: $HTTP_STATUS $(printf '%s' "$HTTP_BODY" | head -c 300)"
}
post_bulk "$A_ADMIN" "$TEST_TMP/a.json"
expect_eq "org-a's disclosure events are stored" 22 "$(jbody 'd["successful"]')"
post_bulk "$B_ADMIN" "$TEST_TMP/b.json"
expect_eq "org-b's are stored" 1 "$(jbody 'd["successful"]')"

# golden: the accounting without its ids and generation time, as tests/golden/hipaa/*.json
strip() { python3 -c 'import json,sys
d=json.load(sys.stdin); d.pop("generatedAt",None)
for e in d.get("disclosures",[]): e.pop("eventId",None)
print(json.dumps(d,indent=2,sort_keys=True))'; }
golden() { # NAME FILE: HTTP_BODY (stripped) equals the fixture
    printf '%s' "$HTTP_BODY" | strip >"$TEST_TMP/$2"
    # HIPAA_GOLDEN_WRITE=1 writes the fixture (then read it line by line before committing)
    [ -n "${HIPAA_GOLDEN_WRITE:-}" ] && [ ! -s "$G/$2" ] && cp "$TEST_TMP/$2" "$G/$2"
    if cmp -s "$TEST_TMP/$2" "$G/$2"; then ok "$1"; else not_ok "$1"; diag "$(diff "$G/$2" "$TEST_TMP/$2" | head -40)"; fi
}

http GET "$ACC?patient=P-1001&$PERIOD" -H "X-API-Key: $A_AUD"
expect_eq "the auditor reads the accounting" 200 "$HTTP_STATUS"
golden "golden: exclusions of (a)(1) and the summary form of (b)(3)" accounting_exclusions_summary.json

# every eventId names a real disclosure event of org-a about the patient
first=$(jbody 'd["disclosures"][0]["eventId"]')
expect_eq "the summary's first disclosure is the first registry event" "2026-01-05 10:00:00+00" \
    "$(sql "SELECT timestamp AT TIME ZONE 'UTC' || '+00' FROM audit_log WHERE event_id = '$first'" | sed 's/+00$/+00/')"

# reading the accounting is itself an audit event of org-a, committed before the answer
expect_eq "the reading is an audit event" 1 \
    "$(sql "SELECT count(*) FROM audit_log WHERE organization_id = 'org-a' AND action = 'hipaa.accounting.read'
             AND target_resource_id = 'P-1001' AND principal_id = '$(printf '%s' "$A_AUD" | cut -c5-20)'")"

# the suspension of (a)(2): disclosures to the sheriff are left out while it is in force
SUS=/api/v1/compliance/hipaa/suspensions
in_days() { date -u -d "+$1 days" +%Y-%m-%dT%H:%M:%SZ; }
http POST $SUS -H "X-API-Key: $A_ADMIN" -H "$J" --data-binary "{\"recipient\":\"County Sheriff\",\"agencyType\":\"law_enforcement\",\"statement\":\"oral\",\"statementBy\":\"Sgt. Pepper, badge 42\",\"endsAt\":\"$(in_days 31)\"}"
expect_eq "an oral statement of 31 days: 400" 400 "$HTTP_STATUS"
expect_eq "…naming endsAt" endsAt "$(jbody 'd["error"]["details"]["errors"][0]["field"]')"
http POST $SUS -H "X-API-Key: $A_ADMIN" -H "$J" --data-binary "{\"recipient\":\"County Sheriff\",\"agencyType\":\"law_enforcement\",\"statement\":\"written\",\"statementBy\":\"Sheriff\",\"endsAt\":\"$(in_days 90)\"}"
expect_eq "a written statement without its reason: 400 naming reason" reason "$(jbody 'd["error"]["details"]["errors"][0]["field"]')"
http POST $SUS -H "X-API-Key: $A_ADMIN" -H "$J" --data-binary "{\"recipient\":\"County Sheriff\",\"agencyType\":\"fbi\",\"statement\":\"oral\",\"statementBy\":\"x\",\"endsAt\":\"$(in_days 3)\"}"
expect_eq "an unknown agencyType: 400 naming it" agencyType "$(jbody 'd["error"]["details"]["errors"][0]["field"]')"
http POST $SUS -H "X-API-Key: $A_ADMIN" -H "$J" --data-binary '{"recipient":"County Sheriff","agencyType":"law_enforcement","statement":"oral","statementBy":"x","endsAt":"2020-01-01T00:00:00Z"}'
expect_eq "an end in the past: 400" endsAt "$(jbody 'd["error"]["details"]["errors"][0]["field"]')"
http POST $SUS -H "X-API-Key: $A_AUD" -H "$J" --data-binary "{\"recipient\":\"County Sheriff\",\"agencyType\":\"law_enforcement\",\"statement\":\"oral\",\"statementBy\":\"x\",\"endsAt\":\"$(in_days 3)\"}"
expect_eq "an auditor records a suspension: 403" 403 "$HTTP_STATUS"
# org-b suspends the medical board, and org-a suspends the sheriff for another patient: no effect
http POST $SUS -H "X-API-Key: $B_ADMIN" -H "$J" --data-binary "{\"recipient\":\"State Medical Board\",\"agencyType\":\"health_oversight\",\"statement\":\"oral\",\"statementBy\":\"Inspector B\",\"endsAt\":\"$(in_days 10)\"}"
expect_eq "org-b records a suspension" 201 "$HTTP_STATUS"
http POST $SUS -H "X-API-Key: $A_ADMIN" -H "$J" --data-binary "{\"recipient\":\"County Sheriff\",\"agencyType\":\"law_enforcement\",\"statement\":\"oral\",\"statementBy\":\"Sgt. Pepper\",\"patientId\":\"P-2002\",\"endsAt\":\"$(in_days 10)\"}"
expect_eq "a suspension for another patient" 201 "$HTTP_STATUS"
http GET "$ACC?patient=P-1001&$PERIOD" -H "X-API-Key: $A_AUD"
golden "another organization's or patient's suspension changes nothing" accounting_exclusions_summary.json
http POST $SUS -H "X-API-Key: $A_ADMIN" -H "$J" --data-binary "{\"recipient\":\"county sheriff\",\"agencyType\":\"law_enforcement\",\"statement\":\"oral\",\"statementBy\":\"Sgt. Pepper, badge 42\",\"endsAt\":\"$(in_days 30)\"}"
expect_eq "an oral statement for 30 days: 201" 201 "$HTTP_STATUS"
expect_eq "…in force" true "$(jbody 'd["active"]')"
http GET "$ACC?patient=P-1001&$PERIOD" -H "X-API-Key: $A_AUD"
golden "golden: the sheriff's disclosure is left out during the suspension" accounting_suspension.json
expect_eq "…and nothing says it was" 0 "$(printf '%s' "$HTTP_BODY" | grep -ci sheriff)"
sql "UPDATE hipaa_disclosure_suspension SET starts_at = now() - interval '20 days', ends_at = now() - interval '1 day' WHERE organization_id = 'org-a'"
http GET "$ACC?patient=P-1001&$PERIOD" -H "X-API-Key: $A_AUD"
golden "once it ended, the disclosure is listed again" accounting_exclusions_summary.json
http GET "$SUS?active=false" -H "X-API-Key: $A_AUD"
expect_eq "the ended suspensions are listed (records kept)" 2 "$(jbody 'len(d["suspensions"])')"

# the six-year window: an event seven years old is outside, five years old inside
old7=$(date -u -d '-7 years' +%Y-%m-%dT%H:%M:%SZ)
old5=$(date -u -d '-5 years' +%Y-%m-%dT%H:%M:%SZ)
for ts in "$old7" "$old5"; do
    http POST /api/v1/audit/events -H "X-API-Key: $A_ADMIN" -H "$J" --data-binary "{\"eventData\":{\"timestamp\":\"$ts\",\"action\":\"phi.disclose\",\"status\":\"success\",\"targetResourceType\":\"Patient\",\"targetResourceId\":\"P-3003\",\"dataClassification\":\"PHI\",\"details\":{\"disclosure\":{\"recipient\":{\"name\":\"Registry $ts\"},\"purpose\":\"reporting\",\"basis\":\"public_health\"}}}}"
    expect_eq "an old disclosure ($ts) is stored" 201 "$HTTP_STATUS"
done
http GET "$ACC?patient=P-3003" -H "X-API-Key: $A_AUD"
expect_eq "default window: six years back" "Registry $old5" "$(jbody '",".join(e["recipient"]["name"] for e in d["disclosures"])')"
expect_match "…the period starts six years ago" "^$(date -u -d '-6 years' +%Y-%m-%d)" "$(jbody 'd["period"]["startDate"]')"
http GET "$ACC?patient=P-3003&startDate=$old7" -H "X-API-Key: $A_AUD"
expect_eq "a startDate beyond six years: 400 naming it" startDate "$(jbody 'd["error"]["details"]["errors"][0]["field"]')"

# attackers and bad input
http GET "$ACC?patient=P-1001&$PERIOD" -H "X-API-Key: $B_ADMIN"
expect_eq "org-b asks for org-a's patient: only its own disclosures" "Org B Secret Recipient" \
    "$(jbody '",".join(e["recipient"]["name"] for e in d["disclosures"])')"
expect_eq "…nothing of org-a's" 0 "$(printf '%s' "$HTTP_BODY" | grep -c -e Registry -e 'Medical Board')"
http GET "$ACC?patient=P-1001&$PERIOD" -H "X-API-Key: $A_VIEW"
expect_eq "a viewer: 403" 403 "$HTTP_STATUS"
expect_eq "…naming compliance.hipaa" compliance.hipaa "$(jbody 'd["error"]["details"]["resource"]')"
http GET "$ACC?patient=P-1001"
expect_eq "no key: 401" 401 "$HTTP_STATUS"
http GET "$ACC" -H "X-API-Key: $A_AUD"
expect_eq "no patient: 400 naming patient" patient "$(jbody 'd["error"]["details"]["errors"][0]["field"]')"
http GET "$ACC?patient=P-1001&startDate=yesterday" -H "X-API-Key: $A_AUD"
expect_eq "a bad startDate: 400 naming it" startDate "$(jbody 'd["error"]["details"]["errors"][0]["field"]')"
http GET "$ACC?patient=P-1001&startDate=2026-03-01T00:00:00Z&endDate=2026-02-01T00:00:00Z" -H "X-API-Key: $A_AUD"
expect_eq "endDate before startDate: 400 naming endDate" endDate "$(jbody 'd["error"]["details"]["errors"][0]["field"]')"
http GET "$ACC?patient=$(head -c 300 /dev/zero | tr '\0' p)" -H "X-API-Key: $A_AUD"
expect_eq "a patient id over 255 bytes: 400" patient "$(jbody 'd["error"]["details"]["errors"][0]["field"]')"
http GET "$ACC?patientId=P-1001" -H "X-API-Key: $A_AUD"
expect_eq "a misspelt parameter: 400" 400 "$HTTP_STATUS"

# request tracking: the accounting answers a hipaa_accounting request of the same patient
REQ=/api/v1/compliance/hipaa/requests
http POST $REQ -H "X-API-Key: $A_ADMIN" -H "$J" --data-binary '{"kind":"hipaa_accounting","subjectId":"P-1001","basis":"45 CFR 164.528"}'
rid=$(jbody 'd["id"]')
expect_eq "the first accounting request in 12 months is free" free "$(jbody 'd["feeStatus"]')"
http GET "$ACC?patient=P-1001&$PERIOD&requestId=$rid" -H "X-API-Key: $A_AUD"
expect_eq "the accounting names its request" "$rid" "$(jbody 'd["request"]["id"]')"
http POST $REQ -H "X-API-Key: $A_ADMIN" -H "$J" --data-binary '{"kind":"hipaa_accounting","subjectId":"P-2002"}'
other=$(jbody 'd["id"]')
http GET "$ACC?patient=P-1001&requestId=$other" -H "X-API-Key: $A_AUD"
expect_eq "a request of another patient: 400 naming requestId" requestId "$(jbody 'd["error"]["details"]["errors"][0]["field"]')"
http POST $REQ -H "X-API-Key: $B_ADMIN" -H "$J" --data-binary '{"kind":"hipaa_accounting","subjectId":"P-1001"}'
brid=$(jbody 'd["id"]')
expect_eq "org-b's first request for its P-1001 is free too (its own records)" free "$(jbody 'd["feeStatus"]')"
http GET "$ACC?patient=P-1001&requestId=$brid" -H "X-API-Key: $A_AUD"
expect_eq "org-b's request named by org-a: 400, as unknown" requestId "$(jbody 'd["error"]["details"]["errors"][0]["field"]')"
expect_eq "…without its content" 0 "$(printf '%s' "$HTTP_BODY" | grep -c "$brid.*P-1001")"

# the access report: every access to the patient's records, who and when
http GET "/api/v1/compliance/hipaa/access-report?patient=P-1001&$PERIOD" -H "X-API-Key: $A_AUD"
expect_eq "access report: 200" 200 "$HTTP_STATUS"
expect_eq "…every event about P-1001 in the period (21 of the fixtures)" 21 "$(jbody 'd["pagination"]["total"]')"
expect_eq "…newest first: the chart read by dr-house" "dr-house chart.read" "$(jbody 'd["accesses"][0]["principalId"]+" "+d["accesses"][0]["action"]')"
http GET "/api/v1/compliance/hipaa/access-report?patient=P-1001" -H "X-API-Key: $A_AUD"
expect_match "…the readings of the accounting are accesses too" "hipaa.accounting.read" "$(jbody '" ".join(a["action"] for a in d["accesses"])')"
http GET "/api/v1/compliance/hipaa/access-report?patient=P-1001" -H "X-API-Key: $B_ADMIN"
expect_eq "org-b's access report of P-1001 holds only org-b's events" 0 "$(printf '%s' "$HTTP_BODY" | grep -c dr-house)"
http GET "/api/v1/compliance/hipaa/access-report?patient=P-1001&limit=5000" -H "X-API-Key: $A_AUD"
expect_eq "limit 5000: 400 naming limit" limit "$(jbody 'd["error"]["details"]["errors"][0]["field"]')"
expect_eq "the access report's reading is an audit event" 1 \
    "$(sql "SELECT count(*) >= 2 FROM audit_log WHERE organization_id = 'org-a' AND action = 'hipaa.access_report.read'" | sed 's/t/1/')"

http GET "$ACC?patient=P-1001&$PERIOD&requestId=$rid" -H "X-API-Key: $A_AUD"; conforms "GET accounting 200" GET /api/v1/compliance/hipaa/accounting 200
http GET "$ACC" -H "X-API-Key: $A_AUD"; conforms "GET accounting 400" GET /api/v1/compliance/hipaa/accounting 400
http GET "$ACC?patient=x" -H "X-API-Key: $A_VIEW"; conforms "GET accounting 403" GET /api/v1/compliance/hipaa/accounting 403
http GET "/api/v1/compliance/hipaa/access-report?patient=P-1001&limit=3" -H "X-API-Key: $A_AUD"; conforms "GET access report 200" GET /api/v1/compliance/hipaa/access-report 200
http GET "$SUS" -H "X-API-Key: $A_AUD"; conforms "GET suspensions 200" GET /api/v1/compliance/hipaa/suspensions 200
http POST $SUS -H "X-API-Key: $A_ADMIN" -H "$J" --data-binary "{\"recipient\":\"Auditor General\",\"agencyType\":\"health_oversight\",\"statement\":\"written\",\"statementBy\":\"AG office\",\"reason\":\"ongoing audit\",\"endsAt\":\"$(in_days 100)\"}"
conforms "POST suspension 201" POST /api/v1/compliance/hipaa/suspensions 201

# the CLI: the same accounting (suspension ended), its reading an audit event by cli:<user>
"$AUDITDB_BIN" hipaa accounting --org org-a --patient P-1001 --from 2026-01-01T00:00:00Z --to 2026-06-30T23:59:59Z >"$TEST_TMP/cli.json" 2>"$TEST_TMP/cli.err"; rc=$?
expect_eq "auditdb hipaa accounting exits 0" 0 "$rc"
expect_eq "…the golden disclosures" "$(python3 -c 'import json; print(json.dumps(json.load(open("tests/golden/hipaa/accounting_exclusions_summary.json"))["disclosures"], sort_keys=True))')" \
    "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))["disclosures"]; [e.pop("eventId") for e in d]; print(json.dumps(d, sort_keys=True))' "$TEST_TMP/cli.json")"
expect_eq "…recorded as read by cli:$(id -un)" 1 \
    "$(sql "SELECT count(*) FROM audit_log WHERE organization_id = 'org-a' AND action = 'hipaa.accounting.read' AND principal_id = 'cli:$(id -un)'")"
"$AUDITDB_BIN" hipaa accounting --org org-a --patient P-1001 --from "$old7" 2>/dev/null; rc=$?
expect_eq "…--from beyond six years: usage error" 2 "$rc"
"$AUDITDB_BIN" hipaa accounting --org org-a 2>/dev/null; rc=$?
expect_eq "…without --patient: usage error" 2 "$rc"

# archived events (docs/hipaa.md "Archived events"): P-1001's disclosures moved into archives by
# a maintenance round a year and a half on are accounted for exactly as when live: the same
# entries (ids included: each once), exclusions, summary form and suspension; the same accesses
AR=/api/v1/compliance/hipaa/access-report
ids() { jbody '" ".join(e["eventId"] for e in d["disclosures"])'; }
http GET "$ACC?patient=P-1001&$PERIOD" -H "X-API-Key: $A_AUD"; live_ids=$(ids)
http GET "$AR?patient=P-1001&$PERIOD&limit=1000" -H "X-API-Key: $A_AUD"; live_acc=$(jbody 'd["accesses"]')
http GET "$AR?patient=P-1001&$PERIOD&limit=4&offset=3" -H "X-API-Key: $A_AUD"; live_page=$(jbody '[d["accesses"], d["pagination"]]')
"$AUDITDB_BIN" maintenance run --now 2027-12-01T00:00:00Z >"$TEST_TMP/maint.out" 2>&1
expect_eq "archived: none of org-a's P-1001 events of the period left in audit_log" 0 \
    "$(sql "SELECT count(*) FROM audit_log WHERE organization_id = 'org-a' AND target_resource_id = 'P-1001' AND timestamp <= '2026-06-30T23:59:59Z'")"
expect_match "…they are in org-a's archives" "^[1-9]" \
    "$(sql "SELECT sum((metadata->>'recordCount')::int) FROM archive_storage WHERE organization_id = 'org-a' AND deleted_at IS NULL")"
http GET "$ACC?patient=P-1001&$PERIOD" -H "X-API-Key: $A_AUD"
golden "archived: the golden accounting, exclusions and summary form applied" accounting_exclusions_summary.json
expect_eq "…the same disclosures, each once" "$live_ids" "$(ids)"
sql "UPDATE hipaa_disclosure_suspension SET starts_at = now() - interval '1 day', ends_at = now() + interval '5 days' WHERE organization_id = 'org-a' AND recipient = 'county sheriff'" >/dev/null
http GET "$ACC?patient=P-1001&$PERIOD" -H "X-API-Key: $A_AUD"
golden "archived: the suspension applies to archived disclosures" accounting_suspension.json
sql "UPDATE hipaa_disclosure_suspension SET ends_at = now() - interval '1 hour' WHERE organization_id = 'org-a' AND recipient = 'county sheriff'" >/dev/null
http GET "$AR?patient=P-1001&$PERIOD&limit=1000" -H "X-API-Key: $A_AUD"
expect_eq "archived: the access report lists the same accesses, newest first" "$live_acc" "$(jbody 'd["accesses"]')"
http GET "$AR?patient=P-1001&$PERIOD&limit=4&offset=3" -H "X-API-Key: $A_AUD"
expect_eq "…and pages them alike" "$live_page" "$(jbody '[d["accesses"], d["pagination"]]')"
http GET "$AR?patient=P-1001&limit=1000" -H "X-API-Key: $A_AUD"
expect_eq "…archived and live ones together over six years, each once" \
    "$(jbody 'd["pagination"]["total"]') $(jbody 'd["pagination"]["total"]')" \
    "$(jbody 'len(d["accesses"])') $(jbody 'len(set(a["eventId"] for a in d["accesses"]))')"
http GET "$ACC?patient=P-1001&$PERIOD" -H "X-API-Key: $B_ADMIN"
expect_eq "archived: org-b still sees only its own" "Org B Secret Recipient" \
    "$(jbody '",".join(e["recipient"]["name"] for e in d["disclosures"])')"

# the chain still verifies with the accounting's own events in it
"$AUDITDB_BIN" verify --org org-a --no-record >"$TEST_TMP/verify.out" 2>&1; rc=$?
expect_eq "auditdb verify: org-a's chain intact" 0 "$rc"
stop_serve TERM; rc=$?
expect_eq "serve stops cleanly (exit 0: no sanitizer report)" 0 "$rc"
[ "$rc" -eq 0 ] || diag "$(grep -A20 -m1 -e 'ERROR: AddressSanitizer' -e 'ERROR: LeakSanitizer' -e 'runtime error' "$TEST_TMP/serve.log")"

finish
