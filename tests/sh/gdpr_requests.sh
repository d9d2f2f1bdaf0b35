# gdpr_requests.sh - data-subject requests as records (issue 17, item 4; docs/gdpr.md
# "Requests"): `auditdb gdpr requests` opens, lists, extends and closes them; the subject is
# stored only as a keyed blind index and AES-256-GCM ciphertext (a superuser finds it nowhere);
# due dates and extension limits (GDPR one month + two, HIPAA 60/30 days + one of 30); the
# tenant isolation of the table; the auditor's new permissions; the same over HTTP, with an
# attacker's requests: another organization's ids, missing permission, bad parameters.
. tests/lib.sh


fresh_db t_gdpr_requests
"$AUDITDB_BIN" migrate >/dev/null
A_ADMIN=$(newkey org-a admin)
A_AUD=$(newkey org-a auditor)
A_VIEW=$(newkey org-a viewer)
B_ADMIN=$(newkey org-b admin)
G="$AUDITDB_BIN gdpr requests"

# ---- CLI -------------------------------------------------------------------------------
subject="alice.subject-7781@example.org"
id1=$($G open --org org-a --kind access --subject "$subject" --basis "GDPR Art. 15" 2>&1)
expect_match "requests open prints the new id" '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-' "$id1"
id2=$($G open --org org-a --kind hipaa_accounting --subject "patient-42" 2>&1)
id3=$($G open --org org-a --kind hipaa_accounting --subject "patient-42" 2>&1)
idb=$($G open --org org-b --kind erasure --subject "$subject" 2>&1)
expect_match "org-b's request opens" '^[0-9a-f-]{36}$' "$idb"

out=$($G show "$id1" --org org-a)
expect_eq "show: the subject decrypted" "$subject" "$(printf '%s' "$out" | json 'd["subjectId"]')"
expect_eq "show: status received" received "$(printf '%s' "$out" | json 'd["status"]')"
expect_eq "show: handled by the CLI user" "cli:$(id -un)" "$(printf '%s' "$out" | json 'd["handledBy"]')"
expect_eq "GDPR: due one calendar month after receipt" t \
    "$(sql "SELECT due_at = received_at + interval '1 month' FROM data_subject_request WHERE id = '$id1'")"
expect_eq "HIPAA accounting: due 60 days after receipt" t \
    "$(sql "SELECT due_at = received_at + interval '60 days' FROM data_subject_request WHERE id = '$id2'")"
expect_eq "the first accounting in 12 months is free" free "$($G show "$id2" --org org-a | json 'd["feeStatus"]')"
expect_eq "the second is chargeable" chargeable "$($G show "$id3" --org org-a | json 'd["feeStatus"]')"
expect_eq "a GDPR request has no fee status" null "$($G show "$id1" --org org-a | json 'd["feeStatus"]')"

# the subject is nowhere in clear: not in the row, not in a dump of the whole database
expect_eq "no column holds the subject id" 0 \
    "$(sql "SELECT count(*) FROM data_subject_request r WHERE r::text LIKE '%alice.subject%'
              OR encode(subject_enc, 'escape') LIKE '%alice%'")"
pg_dump "$AUDIT_DB_URL" >"$TEST_TMP/dump.sql" 2>/dev/null
if grep -q "alice.subject-7781" "$TEST_TMP/dump.sql"; then not_ok "pg_dump holds no subject id"; else ok "pg_dump holds no subject id"; fi
expect_eq "one subject, two organizations: unlinkable blind indexes" 0 \
    "$(sql "SELECT count(*) FROM data_subject_request a JOIN data_subject_request b
             ON a.subject_index = b.subject_index AND a.organization_id <> b.organization_id")"
expect_eq "the blind index is not a bare SHA-256 of the id" 0 \
    "$(sql "SELECT count(*) FROM data_subject_request WHERE subject_index = sha256(convert_to('$subject', 'UTF8'))")"

# another organization's request: not found, from the CLI too (row-level security)
$G show "$idb" --org org-a >/dev/null 2>"$TEST_TMP/err"; rc=$?
expect_eq "org-a cannot show org-b's request (exit 1)" 1 "$rc"
expect_match "…told it does not exist" "no request" "$(cat "$TEST_TMP/err")"
$G status "$idb" completed --org org-a 2>/dev/null; rc=$?
expect_eq "…nor close it" 1 "$rc"
expect_eq "org-b's request is untouched" received "$(sql "SELECT status FROM data_subject_request WHERE id = '$idb'")"

# the database's own isolation: auditdb_app with org-a's proven setting sees org-a's rows only,
# and cannot delete a request or rewrite its subject index
as_app() { psql "$AUDIT_DB_URL" -qAtX -v ON_ERROR_STOP=1 -c BEGIN -c "$(tenant_setting org-a)" -c "SET LOCAL ROLE auditdb_app" -c "$1" -c COMMIT 2>&1 | tail -1; }
expect_eq "auditdb_app as org-a: org-a's requests only" "3 0" \
    "$(as_app "SELECT count(*) FILTER (WHERE organization_id = 'org-a') || ' ' || count(*) FILTER (WHERE organization_id = 'org-b') FROM data_subject_request")"
expect_match "auditdb_app cannot delete a request" "permission denied" "$(as_app "DELETE FROM data_subject_request")"
expect_match "…nor rewrite a subject index" "permission denied" "$(as_app "UPDATE data_subject_request SET subject_index = subject_index")"
expect_match "…nor move a request to org-b" "row-level security|permission denied" \
    "$(as_app "INSERT INTO data_subject_request (id, organization_id, kind, subject_index, due_at) VALUES (gen_random_uuid(), 'org-b', 'access', sha256('x'), now())")"

# a ciphertext moved to another organization's row does not open
sql "UPDATE data_subject_request SET subject_enc = (SELECT subject_enc FROM data_subject_request WHERE id = '$id1') WHERE id = '$idb'"
expect_eq "a ciphertext moved to org-b does not decrypt there" null "$($G show "$idb" --org org-b | json 'd["subjectId"]')"

# extensions: GDPR up to two months in all, with a reason
$G extend "$id1" --org org-a --months 3 --reason x 2>/dev/null; rc=$?
expect_eq "GDPR: --months 3 is refused (exit 2)" 2 "$rc"
$G extend "$id1" --org org-a --months 1 2>/dev/null; rc=$?
expect_eq "an extension without a reason is refused" 2 "$rc"
$G extend "$id1" --org org-a --days 10 --reason "complex" 2>/dev/null; rc=$?
expect_eq "a GDPR request is not extended in days" 1 "$rc"
out=$($G extend "$id1" --org org-a --months 1 --reason "numerous requests (Art. 12(3))")
expect_eq "extended by one month: status extended" extended "$(printf '%s' "$out" | json 'd["status"]')"
expect_eq "…until due + 1 month" t \
    "$(sql "SELECT extended_until = due_at + interval '1 month' FROM data_subject_request WHERE id = '$id1'")"
$G extend "$id1" --org org-a --months 1 --reason again 2>/dev/null; rc=$?
expect_eq "a second extension to the same date is refused" 1 "$rc"
$G extend "$id1" --org org-a --months 2 --reason "still complex" >/dev/null; rc=$?
expect_eq "…and lengthened to two months in all" 0 "$rc"
expect_eq "…due + 2 months" t \
    "$(sql "SELECT extended_until = due_at + interval '2 months' FROM data_subject_request WHERE id = '$id1'")"
# HIPAA: one extension of 30 days at most
$G extend "$id2" --org org-a --days 31 --reason x 2>/dev/null; rc=$?
expect_eq "HIPAA: 31 days refused" 2 "$rc"
$G extend "$id2" --org org-a --days 30 --reason "records off site" >/dev/null; rc=$?
expect_eq "HIPAA: 30 days with a reason" 0 "$rc"
$G extend "$id2" --org org-a --days 30 --reason "again" 2>/dev/null; rc=$?
expect_eq "HIPAA: a second extension is refused" 1 "$rc"

# status changes, final states
$G status "$id1" in_progress --org org-a >/dev/null; rc=$?
expect_eq "in_progress" 0 "$rc"
$G status "$id1" completed --org org-a --outcome '{"events":12}' >/dev/null; rc=$?
expect_eq "completed with an outcome" 0 "$rc"
out=$($G show "$id1" --org org-a)
expect_eq "…outcome kept" 12 "$(printf '%s' "$out" | json 'd["outcome"]["events"]')"
expect_match "…completedAt set" '^20[0-9-]+T' "$(printf '%s' "$out" | json 'd["completedAt"]')"
$G status "$id1" refused --org org-a 2>/dev/null; rc=$?
expect_eq "a completed request does not change" 1 "$rc"
$G extend "$id1" --org org-a --months 2 --reason late 2>/dev/null; rc=$?
expect_eq "…nor is it extended" 1 "$rc"
$G status "$id3" completed --org org-a --outcome '{bad' 2>/dev/null; rc=$?
expect_eq "a bad outcome is a usage error" 2 "$rc"

out=$($G list --org org-a --json)
expect_eq "list: org-a's three requests" 3 "$(printf '%s' "$out" | json 'd["total"]')"
expect_eq "list --kind hipaa_accounting" 2 "$($G list --org org-a --kind hipaa_accounting --json | json 'd["total"]')"
expect_eq "list --subject (blind index)" 2 "$($G list --org org-a --subject patient-42 --json | json 'd["total"]')"
expect_eq "list --status completed" 1 "$($G list --org org-a --status completed --json | json 'd["total"]')"
sql "UPDATE data_subject_request SET received_at = received_at - interval '90 days', due_at = due_at - interval '90 days' WHERE id = '$id3'"
expect_eq "list --overdue" "$id3" "$($G list --org org-a --overdue --json | json 'd["requests"][0]["id"]')"
$G list --org org-a --kind nonsense 2>/dev/null; rc=$?
expect_eq "an unknown kind is a usage error" 2 "$rc"
$G bogus 2>/dev/null; rc=$?
expect_eq "an unknown requests command is a usage error" 2 "$rc"
"$AUDITDB_BIN" gdpr --help | grep -q "requests" && ok "gdpr --help lists requests" || not_ok "gdpr --help lists requests"
"$AUDITDB_BIN" help gdpr | grep -q "requests" && ok "help gdpr lists requests" || not_ok "help gdpr lists requests"

# the auditor's permissions (0024)
expect_eq "a new organization's auditor reads requests and HIPAA accountings" 3 \
    "$(sql "SELECT count(*) FROM organization_role, jsonb_array_elements(permissions) p
             WHERE organization_id = 'org-a' AND name = 'auditor'
               AND p->>'resource' IN ('compliance.gdpr', 'compliance.hipaa')")"

# ---- HTTP ------------------------------------------------------------------------------
if ! start_serve "$TEST_TMP/serve.log"; then
    not_ok "serve starts"; diag "$(cat "$TEST_TMP/serve.log")"; finish
fi
ok "serve starts"
J='Content-Type: application/json'
R=/api/v1/compliance/gdpr/requests
H=/api/v1/compliance/hipaa/requests
http POST $R -H "X-API-Key: $A_ADMIN" -H "$J" --data-binary '{"kind":"erasure","subjectId":"bob-99","basis":"GDPR Art. 17(1)(a)"}'
expect_eq "POST requests: 201" 201 "$HTTP_STATUS"
gid=$(jbody 'd["id"]')
expect_eq "…received" received "$(jbody 'd["status"]')"
expect_eq "…handled by the key" 1 "$(jbody 'int(d["handledBy"] in "'"$A_ADMIN"'")')"
http GET "$R/$gid" -H "X-API-Key: $A_AUD"
expect_eq "the auditor reads it" 200 "$HTTP_STATUS"
expect_eq "…with the subject" bob-99 "$(jbody 'd["subjectId"]')"
http GET "$R?limit=1" -H "X-API-Key: $A_AUD"
expect_eq "list: 200" 200 "$HTTP_STATUS"
expect_eq "list: GDPR requests only (2 of org-a's 4)" 2 "$(jbody 'd["pagination"]["total"]')"
expect_eq "list: hasNext with limit=1" true "$(jbody 'd["pagination"]["hasNext"]')"
http GET "$R?subjectId=bob-99" -H "X-API-Key: $A_AUD"
expect_eq "list by subjectId" "$gid" "$(jbody 'd["requests"][0]["id"]')"
http GET "$H" -H "X-API-Key: $A_AUD"
expect_eq "HIPAA list: the two accounting requests" 2 "$(jbody 'd["pagination"]["total"]')"

# attacker: another organization's request, the other family, missing permission, bad input
http GET "$R/$gid" -H "X-API-Key: $B_ADMIN"
expect_eq "org-b reads org-a's request: 404" 404 "$HTTP_STATUS"
expect_eq "…and learns nothing of it" 0 "$(printf '%s' "$HTTP_BODY" | grep -c bob-99)"
http PUT "$R/$gid" -H "X-API-Key: $B_ADMIN" -H "$J" --data-binary '{"status":"completed"}'
expect_eq "org-b closes org-a's request: 404" 404 "$HTTP_STATUS"
http POST "$R/$gid/extend" -H "X-API-Key: $B_ADMIN" -H "$J" --data-binary '{"months":1,"reason":"x"}'
expect_eq "org-b extends org-a's request: 404" 404 "$HTTP_STATUS"
expect_eq "…untouched" received "$(sql "SELECT status FROM data_subject_request WHERE id = '$gid'")"
http GET "$R?subjectId=bob-99" -H "X-API-Key: $B_ADMIN"
expect_eq "org-b lists by org-a's subject: nothing" 0 "$(jbody 'd["pagination"]["total"]')"
http GET "$H/$gid" -H "X-API-Key: $A_ADMIN"
expect_eq "a GDPR request under the HIPAA path: 404" 404 "$HTTP_STATUS"
http GET "$R/$id2" -H "X-API-Key: $A_ADMIN"
expect_eq "a HIPAA request under the GDPR path: 404" 404 "$HTTP_STATUS"
http GET "$R/not-a-uuid" -H "X-API-Key: $A_ADMIN"
expect_eq "a malformed id: 404" 404 "$HTTP_STATUS"
http GET "$R" -H "X-API-Key: $A_VIEW"
expect_eq "a viewer lists requests: 403" 403 "$HTTP_STATUS"
http POST "$R" -H "X-API-Key: $A_AUD" -H "$J" --data-binary '{"kind":"access","subjectId":"x"}'
expect_eq "an auditor opens a request: 403 (manage)" 403 "$HTTP_STATUS"
expect_eq "…naming the permission" compliance.gdpr "$(jbody 'd["error"]["details"]["resource"]')"
http GET "$R"
expect_eq "no key: 401" 401 "$HTTP_STATUS"
http POST $R -H "X-API-Key: $A_ADMIN" -H "$J" --data-binary '{"kind":"hipaa_access","subjectId":"x"}'
expect_eq "a HIPAA kind under GDPR: 400" 400 "$HTTP_STATUS"
expect_eq "…field kind" kind "$(jbody 'd["error"]["details"]["errors"][0]["field"]')"
http POST $R -H "X-API-Key: $A_ADMIN" -H "$J" --data-binary '{"kind":"access"}'
expect_eq "no subjectId: 400 naming it" subjectId "$(jbody 'd["error"]["details"]["errors"][0]["field"]')"
http POST $R -H "X-API-Key: $A_ADMIN" -H "$J" --data-binary "{\"kind\":\"access\",\"subjectId\":\"$(head -c 1100 /dev/zero | tr '\0' a)\"}"
expect_eq "a subjectId over 1024 bytes: 400" 400 "$HTTP_STATUS"
http POST $R -H "X-API-Key: $A_ADMIN" -H "$J" --data-binary '{"kind":"access","subjectId":"x","extra":1}'
expect_eq "an unknown member: 400 naming it" extra "$(jbody 'd["error"]["details"]["errors"][0]["field"]')"
http GET "$R?limit=0" -H "X-API-Key: $A_ADMIN"
expect_eq "limit=0: 400 naming limit" limit "$(jbody 'd["error"]["details"]["errors"][0]["field"]')"
http GET "$R?status=done" -H "X-API-Key: $A_ADMIN"
expect_eq "status=done: 400 naming status" status "$(jbody 'd["error"]["details"]["errors"][0]["field"]')"
http GET "$R?kind=hipaa_access" -H "X-API-Key: $A_ADMIN"
expect_eq "a HIPAA kind filter under GDPR: 400" kind "$(jbody 'd["error"]["details"]["errors"][0]["field"]')"
http GET "$R?subject=bob-99" -H "X-API-Key: $A_ADMIN"
expect_eq "a misspelt filter: 400" 400 "$HTTP_STATUS"

# extension and status over HTTP
http POST "$R/$gid/extend" -H "X-API-Key: $A_ADMIN" -H "$J" --data-binary '{"months":3,"reason":"x"}'
expect_eq "months 3: 400 naming months" months "$(jbody 'd["error"]["details"]["errors"][0]["field"]')"
http POST "$R/$gid/extend" -H "X-API-Key: $A_ADMIN" -H "$J" --data-binary '{"months":2}'
expect_eq "no reason: 400 naming reason" reason "$(jbody 'd["error"]["details"]["errors"][0]["field"]')"
http POST "$R/$gid/extend" -H "X-API-Key: $A_ADMIN" -H "$J" --data-binary '{"days":10,"reason":"x"}'
expect_eq "days for a GDPR request: 400" 400 "$HTTP_STATUS"
http POST "$R/$gid/extend" -H "X-API-Key: $A_ADMIN" -H "$J" --data-binary '{"months":2,"reason":"complex erasure across archives"}'
expect_eq "extend 2 months: 200" 200 "$HTTP_STATUS"
expect_eq "…extended" extended "$(jbody 'd["status"]')"
expect_eq "…effectiveDueAt = extendedUntil" 1 "$(jbody 'int(d["effectiveDueAt"] == d["extendedUntil"])')"
http POST "$R/$gid/extend" -H "X-API-Key: $A_ADMIN" -H "$J" --data-binary '{"months":1,"reason":"shorter"}'
expect_eq "a shorter extension after a longer: 409" 409 "$HTTP_STATUS"
http PUT "$R/$gid" -H "X-API-Key: $A_ADMIN" -H "$J" --data-binary '{"status":"extended"}'
expect_eq "status extended by PUT: 400" 400 "$HTTP_STATUS"
http PUT "$R/$gid" -H "X-API-Key: $A_ADMIN" -H "$J" --data-binary '{"status":"refused","outcome":{"reason":"Art. 17(3)(b) legal obligation"}}'
expect_eq "refused: 200" 200 "$HTTP_STATUS"
expect_match "…completedAt set" '^20' "$(jbody 'd["completedAt"]')"
http PUT "$R/$gid" -H "X-API-Key: $A_ADMIN" -H "$J" --data-binary '{"status":"completed"}'
expect_eq "a refused request does not change: 409" 409 "$HTTP_STATUS"
http POST "$H" -H "X-API-Key: $A_ADMIN" -H "$J" --data-binary '{"kind":"hipaa_access","subjectId":"patient-7"}'
expect_eq "a HIPAA access request: 201" 201 "$HTTP_STATUS"
hid=$(jbody 'd["id"]')
expect_eq "…due in 30 days" t "$(sql "SELECT due_at = received_at + interval '30 days' FROM data_subject_request WHERE id = '$hid'")"
http POST "$H/$hid/extend" -H "X-API-Key: $A_ADMIN" -H "$J" --data-binary '{"days":30,"reason":"records off site"}'
expect_eq "HIPAA extension of 30 days: 200" 200 "$HTTP_STATUS"
http POST "$H/$hid/extend" -H "X-API-Key: $A_ADMIN" -H "$J" --data-binary '{"days":5,"reason":"again"}'
expect_eq "a second HIPAA extension: 409" 409 "$HTTP_STATUS"
http GET "$R?limit=2" -H "X-API-Key: $A_AUD"; conforms "GET gdpr requests 200" GET /api/v1/compliance/gdpr/requests 200
http GET "$R/$gid" -H "X-API-Key: $A_AUD"; conforms "GET gdpr request 200" GET "/api/v1/compliance/gdpr/requests/{id}" 200
http GET "$R/$gid" -H "X-API-Key: $B_ADMIN"; conforms "GET gdpr request 404" GET "/api/v1/compliance/gdpr/requests/{id}" 404
http PUT "$R/$gid" -H "X-API-Key: $A_ADMIN" -H "$J" --data-binary '{"status":"completed"}'; conforms "PUT gdpr request 409" PUT "/api/v1/compliance/gdpr/requests/{id}" 409
http POST "$H/$hid/extend" -H "X-API-Key: $A_ADMIN" -H "$J" --data-binary '{"days":0,"reason":"x"}'; conforms "POST hipaa extend 400" POST "/api/v1/compliance/hipaa/requests/{id}/extend" 400
http GET "$H/$hid" -H "X-API-Key: $A_AUD"; conforms "GET hipaa request 200 (extended)" GET "/api/v1/compliance/hipaa/requests/{id}" 200
http POST "$H" -H "X-API-Key: $A_ADMIN" -H "$J" --data-binary '{"kind":"hipaa_accounting","subjectId":"patient-8"}'; conforms "POST hipaa request 201" POST /api/v1/compliance/hipaa/requests 201
stop_serve TERM; rc=$?
expect_eq "serve stops cleanly (exit 0: no sanitizer report)" 0 "$rc"
[ "$rc" -eq 0 ] || diag "$(grep -A20 -m1 -e 'ERROR: AddressSanitizer' -e 'ERROR: LeakSanitizer' -e 'runtime error' "$TEST_TMP/serve.log")"

finish
