# presets.sh - the presets service as smart-logs' client calls it
# (docs/presets.md): every answer held against the client's shapes
# (tests/tools/preset_shapes.py), versions and restore, apply storing an
# event with the preset's defaults through ingestion's own path, changes
# taking effect for ingestion at once, usage counted in batches (not a
# write per event), organization scoping, permissions, export/import between
# organizations (all or nothing), and bad input answered 4xx naming the field.
. tests/lib.sh

SHAPES=tests/tools/preset_shapes.py
# Checks of answer bodies are noted as they come and run together at the end
# (later_checks): one python3 for all of them, since under load its start costs
# more than a request. Each answer's body is kept as $TEST_TMP/bN.json.
N=0
CHECKS="$TEST_TMP/checks.tsv"
: >"$CHECKS"
# call METHOD PATH KEY [BODY]
call() {
    if [ $# -ge 4 ]; then
        http "$1" "$2" -H "X-API-Key: $3" -H 'Content-Type: application/json' --data-binary "$4"
    else
        http "$1" "$2" -H "X-API-Key: $3"
    fi
    N=$((N + 1))
    BODY="$TEST_TMP/b$N.json"
    printf '%s' "$HTTP_BODY" >"$BODY"
}
# shape NAME KIND: the last body has the client's KIND shape (tests/tools/preset_shapes.py)
shape() { printf 'shape\t%s\t%s\t%s\n' "$1" "$BODY" "$2" >>"$CHECKS"; }
# jexpect NAME EXPECTED EXPR: EXPR of the last body (d), printed as jbody prints it, is EXPECTED
jexpect() { printf 'eq\t%s\t%s\t%s\t%s\n' "$1" "$BODY" "$2" "$3" >>"$CHECKS"; }
# refused NAME STATUS FIELD: the last answer is STATUS in the error shape naming FIELD
refused() {
    expect_eq "$1: status" "$2" "$HTTP_STATUS"
    printf 'refusal\t%s\t%s\t%s\n' "$1: the error body names $3" "$BODY" "$3" >>"$CHECKS"
}
later_checks() {
    out=$(python3 "$SHAPES" --batch "$CHECKS" 2>&1)
    printf '%s\n' "$out"
    FAILED=$((FAILED + $(printf '%s\n' "$out" | grep -c '^not ok')))
    expect_eq "every body check ran" "$(wc -l <"$CHECKS" | tr -d ' ')" "$(printf '%s\n' "$out" | grep -c '^ok\|^not ok')"
}

fresh_db t_presets
# the runner's cluster log, from here on
PGLOG=${RUN_TMP:-/nonexistent}/cluster/log/postgresql.log
PGLOG_FROM=$(($(wc -c <"$PGLOG" 2>/dev/null || echo 0) + 1))
"$AUDITDB_BIN" migrate >/dev/null
A_ADMIN=$(newkey org-a admin)
A_VIEW=$(newkey org-a viewer)
A_INGEST=$(newkey org-a ingest)
B_ADMIN=$(newkey org-b admin)
# usage is flushed by the stats route and at stop here, never by the timer
# mid-test (the timer is the key usage interval: docs/presets.md, "Usage")
export AUDITDB_KEY_USAGE_FLUSH_S=3600
if ! start_serve "$TEST_TMP/serve.log"; then
    not_ok "serve starts"; diag "$(cat "$TEST_TMP/serve.log")"; finish
fi
ok "serve starts"

P1='{"name":"patient-read","description":"A clinician reads a patient record",
 "template":{"action":"patient.read","targetResourceType":"Patient","dataClassification":"INTERNAL",
  "defaultDetails":{"source":"ehr","purpose":"treatment"}},
 "validation":{"requiredFields":["principalId","targetResourceId"],"optionalFields":["correlationId"],"fieldValidation":{}},
 "metadata":{"tags":["fhir","clinical"],"category":"data_access"},"enabled":true}'

# ---- create, get --------------------------------------------------------------
call POST /api/v1/audit-presets "$A_ADMIN" "$P1"
expect_eq "create answers 201" 201 "$HTTP_STATUS"
shape "create answers an AuditPreset" preset
jexpect "a new preset is version 1 with its tags" '1 fhir,clinical' \
    '"%s %s" % (d["metadata"]["version"], ",".join(d["metadata"]["tags"]))'
call GET /api/v1/audit-presets/patient-read "$A_VIEW"
expect_eq "a viewer reads it" 200 "$HTTP_STATUS"
shape "get answers an AuditPreset" preset
jexpect "get: the template as written" "patient.read Patient INTERNAL treatment" \
    '" ".join([d["template"]["action"], d["template"]["targetResourceType"], d["template"]["dataClassification"], d["template"]["defaultDetails"]["purpose"]])'
call GET "/api/v1/audit-presets/patient-read?includeMetadata=true" "$A_INGEST"
expect_eq "an ingest key reads it (the presets its events name)" 200 "$HTTP_STATUS"
call POST /api/v1/audit-presets "$A_ADMIN" "$P1"
refused "the same name again" 409 name
call POST /api/v1/audit-presets "$A_VIEW" "$(printf '%s' "$P1" | sed 's/patient-read/viewer-made/')"
expect_eq "a viewer may not create" 403 "$HTTP_STATUS"
call GET /api/v1/audit-presets/no-such "$A_VIEW"
refused "an unknown preset" 404 name

# ---- bad input: 400 naming the field, nothing written --------------------------
bad() { # bad NAME FIELD BODY
    call POST /api/v1/audit-presets "$A_ADMIN" "$3"
    refused "create refuses $1" 400 "$2"
}
bad "a template without action" template.action '{"name":"x1","template":{"targetResourceType":"T","dataClassification":"PUBLIC"},"validation":{"requiredFields":[],"optionalFields":[],"fieldValidation":{}}}'
bad "an unknown classification" template.dataClassification '{"name":"x2","template":{"action":"a","targetResourceType":"T","dataClassification":"SECRET"},"validation":{"requiredFields":[],"optionalFields":[],"fieldValidation":{}}}'
bad "no validation" validation '{"name":"x3","template":{"action":"a","targetResourceType":"T","dataClassification":"PUBLIC"}}'
bad "a required field that is not a string" 'validation.requiredFields[1]' '{"name":"x4","template":{"action":"a","targetResourceType":"T","dataClassification":"PUBLIC"},"validation":{"requiredFields":["a",7],"optionalFields":[],"fieldValidation":{}}}'
bad "an unknown category" metadata.category '{"name":"x5","template":{"action":"a","targetResourceType":"T","dataClassification":"PUBLIC"},"validation":{"requiredFields":[],"optionalFields":[],"fieldValidation":{}},"metadata":{"category":"fun"}}'
bad "an empty name" name '{"name":"","template":{"action":"a","targetResourceType":"T","dataClassification":"PUBLIC"},"validation":{"requiredFields":[],"optionalFields":[],"fieldValidation":{}}}'
bad "a body that is not JSON" body '{"name":'
expect_eq "nothing of the refused creates was written" 0 "$(sql "SELECT count(*) FROM audit_preset WHERE name LIKE 'x%'")"

# ---- ingestion sees a change at once (the cache is marked stale) ---------------
ev() { # ev KEY PRINCIPAL: an event naming the preset patient-read
    call POST /api/v1/audit/events "$1" "{\"eventData\":{\"timestamp\":\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\",\"status\":\"success\",\"principalId\":\"$2\",\"targetResourceId\":\"p-1\"},\"options\":{\"preset\":\"patient-read\"}}"
}
ev "$A_INGEST" dr-who
expect_eq "an event naming the preset is stored" 201 "$HTTP_STATUS"
expect_eq "it took the preset's action and classification" "patient.read|INTERNAL|Patient" \
    "$(sql "SELECT action || '|' || data_classification || '|' || target_resource_type FROM audit_log WHERE principal_id = 'dr-who' ORDER BY id DESC LIMIT 1")"

# ---- update: a new version ------------------------------------------------------
call PUT /api/v1/audit-presets/patient-read "$A_ADMIN" '{"template":{"action":"patient.read","targetResourceType":"Patient","dataClassification":"PHI","defaultDetails":{"source":"ehr"}},"lastModifiedBy":"alice"}'
expect_eq "update answers 200" 200 "$HTTP_STATUS"
shape "update answers an AuditPreset" preset
jexpect "the update is version 2, by alice, PHI" "2 alice PHI" \
    '" ".join([d["metadata"]["version"], d["metadata"]["lastModifiedBy"], d["template"]["dataClassification"]])'
ev "$A_INGEST" dr-who-2
expect_eq "the next event already takes the update (PHI)" "PHI" \
    "$(sql "SELECT data_classification FROM audit_log WHERE principal_id = 'dr-who-2'")"
call PUT /api/v1/audit-presets/patient-read "$A_ADMIN" '{"template":{"action":"","targetResourceType":"Patient","dataClassification":"PHI"},"lastModifiedBy":"alice"}'
refused "an update with an empty action" 400 template.action
call PUT /api/v1/audit-presets/patient-read "$A_VIEW" '{"description":"x","lastModifiedBy":"v"}'
expect_eq "a viewer may not update" 403 "$HTTP_STATUS"

# ---- versions and restore -------------------------------------------------------
call GET /api/v1/audit-presets/patient-read/versions "$A_VIEW"
expect_eq "versions answers 200" 200 "$HTTP_STATUS"
shape "versions answers a PresetVersionHistory" history
jexpect "two versions, newest first, the second active" "2 2 2,1 True,False" \
    '"%d %s %s %s" % (d["totalVersions"], d["activeVersion"], ",".join(v["version"] for v in d["versions"]), ",".join(str(v["isActive"]) for v in d["versions"]))'
call GET /api/v1/audit-presets/patient-read/versions/1 "$A_VIEW"
shape "one version answers a PresetVersion" version
jexpect "version 1 keeps what it was" "INTERNAL treatment" \
    'd["preset"]["template"]["dataClassification"] + " " + d["preset"]["template"]["defaultDetails"]["purpose"]'
call GET /api/v1/audit-presets/patient-read/versions/9 "$A_VIEW"
refused "a version that does not exist" 404 version
call GET /api/v1/audit-presets/patient-read/versions/abc "$A_VIEW"
refused "a version that is not a number" 400 version
call POST /api/v1/audit-presets/patient-read/versions/1/restore "$A_ADMIN"
expect_eq "restore answers 200" 200 "$HTTP_STATUS"
shape "restore answers an AuditPreset" preset
jexpect "restoring version 1 makes version 3, as version 1 was" "3 INTERNAL treatment" \
    '" ".join([d["metadata"]["version"], d["template"]["dataClassification"], d["template"]["defaultDetails"]["purpose"]])'
call GET "/api/v1/audit-presets/patient-read/versions?limit=2" "$A_VIEW"
jexpect "three versions now (two shown), 3 active, its change log says whence" "3 3 2 restored from version 1" \
    '"%d %s %d %s" % (d["totalVersions"], d["activeVersion"], len(d["versions"]), d["versions"][0]["changeLog"])'
ev "$A_INGEST" dr-who-3
expect_eq "the next event takes the restored version (INTERNAL)" "INTERNAL" \
    "$(sql "SELECT data_classification FROM audit_log WHERE principal_id = 'dr-who-3'")"

# ---- validate: the client's ValidationResult, nothing stored --------------------
before=$(sql "SELECT count(*) FROM audit_log")
call POST /api/v1/audit-presets/patient-read/validate "$A_INGEST" '{"principalId":"dr-v","organizationId":"org-a","targetResourceId":"p-9"}'
expect_eq "validate answers 200" 200 "$HTTP_STATUS"
shape "validate answers a ValidationResult" validation
jexpect "a complete context is valid" true 'd["isValid"]'
call POST /api/v1/audit-presets/patient-read/validate "$A_INGEST" '{"principalId":"dr-v","organizationId":"org-a"}'
shape "an invalid context: still a ValidationResult" validation
jexpect "a context without the preset's required targetResourceId is not valid, and says so" "False targetResourceId" \
    '"%s %s" % (d["isValid"], d["validationErrors"][0]["field"])'
call POST /api/v1/audit-presets/patient-read/validate "$A_INGEST" '{"organizationId":"org-a"}'
refused "a context without principalId" 400 principalId
expect_eq "validate stored nothing" "$before" "$(sql "SELECT count(*) FROM audit_log")"

# ---- apply: an event with the preset's defaults, through ingestion's path ------
call POST /api/v1/audit-presets/patient-read/apply "$A_INGEST" '{"principalId":"dr-apply","organizationId":"org-a","targetResourceId":"p-42","customDetails":{"reason":"follow-up"},"sessionContext":{"sessionId":"s-1","ipAddress":"10.1.2.3","userAgent":"test"}}'
expect_eq "apply answers 201" 201 "$HTTP_STATUS"
shape "apply answers a PresetApplicationResult" apply
jexpect "the answer names the preset and its version" "True patient-read 3" \
    '"%s %s %s" % (d["success"], d["metadata"]["presetName"], d["metadata"]["presetVersion"])'
expect_eq "the stored event has the preset's defaults and the context" \
    "patient.read|INTERNAL|Patient|p-42|success|ehr|treatment|follow-up|10.1.2.3" \
    "$(sql "SELECT concat_ws('|', action, data_classification, target_resource_type, target_resource_id, status, details->>'source', details->>'purpose', details->>'reason', details->'sessionContext'->>'ipAddress') FROM audit_log WHERE principal_id = 'dr-apply'")"
jexpect "the answer's auditEvent is the stored event" "$(sql "SELECT hash FROM audit_log WHERE principal_id = 'dr-apply'")" \
    'd["auditEvent"]["hash"]'
call POST /api/v1/audit-presets/patient-read/apply "$A_INGEST" '{"principalId":"dr-apply","organizationId":"org-a","overrides":{"status":"failure","dataClassification":"CONFIDENTIAL"},"targetResourceId":"p-43"}'
expect_eq "overrides win over the preset" "failure CONFIDENTIAL" \
    "$(sql "SELECT status || ' ' || data_classification FROM audit_log WHERE target_resource_id = 'p-43'")"
call POST /api/v1/audit-presets/patient-read/apply "$A_INGEST" '{"principalId":"dr-apply","organizationId":"org-a"}'
refused "apply without the preset's required targetResourceId" 400 targetResourceId
call POST /api/v1/audit-presets/patient-read/apply "$A_INGEST" '{"principalId":"dr-apply","organizationId":"org-b","targetResourceId":"p-44"}'
refused "apply for another organization" 400 organizationId
expect_eq "no event of org-b was stored" 0 "$(sql "SELECT count(*) FROM audit_log WHERE organization_id = 'org-b'")"
call POST /api/v1/audit-presets/patient-read/apply "$A_VIEW" '{"principalId":"v","organizationId":"org-a","targetResourceId":"p"}'
expect_eq "a viewer may not apply (it stores an event)" 403 "$HTTP_STATUS"

# ---- usage: counted in memory, written in one statement ------------------------
for i in 1 2 3 4 5 6 7 8 9 10; do ev "$A_INGEST" dr-batch; done
expect_eq "20 applications later, no usage row written yet (no write per event)" 0 \
    "$(sql "SELECT count(*) FROM audit_preset_usage")"
call GET "/api/v1/audit-presets/patient-read/stats?period=day&limit=5" "$A_VIEW"
expect_eq "stats answers 200" 200 "$HTTP_STATUS"
shape "stats answers a PresetUsageStats" stats
# stored: dr-who, dr-who-2, dr-who-3, 10 dr-batch, 2 applied = 15; refused: 1 (no targetResourceId)
jexpect "every stored application counted, by user" "15 dr-batch:10 1" \
    '"%d %s:%d %d" % (d["totalUsage"], d["usageByUser"][0]["userId"], d["usageByUser"][0]["count"], len(d["usageByPeriod"]))'
# refused: the application without targetResourceId and the one naming org-b (2 in 17)
jexpect "the refused applications make the error rate" 11.76 'round(d["errorRate"], 2)'
# dr-who, dr-who-2, dr-who-3, dr-apply, dr-batch, and '' (refused events have no principal yet)
expect_eq "usage rows: one per principal and hour" 6 "$(sql "SELECT count(*) FROM audit_preset_usage")"
call GET /api/v1/audit-presets/patient-read "$A_VIEW"
jexpect "the preset's metadata shows its usage" 15 'd["metadata"]["usageCount"]'
call GET "/api/v1/audit-presets/patient-read/stats?period=fortnight" "$A_VIEW"
refused "an unknown period" 400 period

# ---- organization scoping --------------------------------------------------------
for path in /api/v1/audit-presets/patient-read /api/v1/audit-presets/patient-read/versions \
            /api/v1/audit-presets/patient-read/versions/1 /api/v1/audit-presets/patient-read/stats; do
    call GET "$path" "$B_ADMIN"
    expect_eq "org-b does not see org-a's preset: GET $path" 404 "$HTTP_STATUS"
done
call PUT /api/v1/audit-presets/patient-read "$B_ADMIN" '{"description":"mine now","lastModifiedBy":"b"}'
expect_eq "org-b cannot update it" 404 "$HTTP_STATUS"
call DELETE "/api/v1/audit-presets/patient-read?force=true" "$B_ADMIN"
expect_eq "org-b cannot delete it" 404 "$HTTP_STATUS"
call POST /api/v1/audit-presets/patient-read/versions/1/restore "$B_ADMIN"
expect_eq "org-b cannot restore it" 404 "$HTTP_STATUS"
call POST /api/v1/audit-presets/patient-read/apply "$B_ADMIN" '{"principalId":"b","organizationId":"org-b","targetResourceId":"x"}'
expect_eq "org-b cannot apply it" 404 "$HTTP_STATUS"
call POST /api/v1/audit-presets/patient-read/duplicate "$B_ADMIN" '{"targetName":"stolen"}'
expect_eq "org-b cannot duplicate it" 404 "$HTTP_STATUS"
call POST /api/v1/audit-presets/export "$B_ADMIN" '{"names":["patient-read"]}'
refused "org-b cannot export it" 404 'names[0]'
call GET /api/v1/compliance/audit-presets "$B_ADMIN"
jexpect "org-b's list does not hold it" false '"patient-read" in [p["name"] for p in d["presets"]]'
expect_eq "org-a's preset is unchanged" "3 A clinician reads a patient record" \
    "$(sql "SELECT version || ' ' || description FROM audit_preset WHERE name = 'patient-read'")"

# ---- shared presets: everyone reads them, nobody changes them -------------------
call GET /api/v1/audit-presets/authentication "$A_VIEW"
shape "a shared preset answers an AuditPreset" preset
jexpect "it says it is shared" "True *" '"%s %s" % (d["shared"], d["organizationId"])'
call PUT /api/v1/audit-presets/authentication "$B_ADMIN" '{"description":"x","lastModifiedBy":"b"}'
refused "a shared preset is read-only" 403 name

call GET /api/v1/audit-presets/authentication/versions "$A_VIEW"
shape "a shared preset's versions answer a PresetVersionHistory" history
jexpect "a shared preset starts with the version migration 0019 found" "1 1 True" \
    '"%d %s %s" % (d["totalVersions"], d["activeVersion"], d["versions"][0]["isActive"])'

# ---- concurrent updates: each is a version of its own -----------------------------
v0=$(sql "SELECT version FROM audit_preset WHERE organization_id = 'org-a' AND name = 'patient-read'")
for i in 1 2 3 4 5 6 7 8; do
    curl -s -o /dev/null -w '%{http_code}\n' -X PUT -H "X-API-Key: $A_ADMIN" -H 'Content-Type: application/json' \
        --data-binary "{\"metadata\":{\"documentation\":{\"description\":\"w$i\"}},\"lastModifiedBy\":\"w$i\"}" \
        "$BASE_URL/api/v1/audit-presets/patient-read" >"$TEST_TMP/put.$i" &
    pids="${pids:-} $!"
done
wait $pids # (not serve's)
expect_eq "8 concurrent updates all answered 200" "200 200 200 200 200 200 200 200" "$(cat "$TEST_TMP"/put.* | tr '\n' ' ' | sed 's/ $//')"
expect_eq "…as 8 new versions, numbered without a gap, each by its writer" "$((v0 + 8)) 8 8" \
    "$(sql "SELECT (SELECT version FROM audit_preset WHERE organization_id = 'org-a' AND name = 'patient-read') || ' ' || count(*) || ' ' || count(DISTINCT created_by) FROM audit_preset_version WHERE organization_id = 'org-a' AND name = 'patient-read' AND version > $v0")"
# put it back as it was (the checks below expect version 3's document)
call POST "/api/v1/audit-presets/patient-read/versions/$v0/restore" "$A_ADMIN"
expect_eq "restored to what it was before" "$((v0 + 9)) A clinician reads a patient record" \
    "$(sql "SELECT version || ' ' || description FROM audit_preset WHERE organization_id = 'org-a' AND name = 'patient-read'")"

# ---- duplicate -----------------------------------------------------------------
call POST /api/v1/audit-presets/patient-read/duplicate "$A_ADMIN" '{"targetName":"patient-write","updates":{"template":{"action":"patient.write","targetResourceType":"Patient","dataClassification":"PHI"}}}'
expect_eq "duplicate answers 201" 201 "$HTTP_STATUS"
shape "duplicate answers an AuditPreset" preset
jexpect "the copy has the updates, its own version 1 and the tags" "patient-write patient.write 1 fhir" \
    '" ".join([d["name"], d["template"]["action"], d["metadata"]["version"], d["metadata"]["tags"][0]])'
call POST /api/v1/audit-presets/authentication/duplicate "$B_ADMIN" '{"targetName":"my-auth"}'
expect_eq "a shared preset can be copied into one's own" 201 "$HTTP_STATUS"
jexpect "…as the caller's" org-b 'd["organizationId"]'
call POST /api/v1/audit-presets/patient-read/duplicate "$A_ADMIN" '{"targetName":"patient-write"}'
refused "a copy onto an existing name" 409 name
call POST /api/v1/audit-presets/patient-read/duplicate "$A_ADMIN" '{}'
refused "a copy without targetName" 400 targetName

# ---- list ----------------------------------------------------------------------
call GET /api/v1/compliance/audit-presets "$A_VIEW"
expect_eq "list answers 200" 200 "$HTTP_STATUS"
shape "list answers PaginatedAuditPresets" list
jexpect "org-a's list: its two presets and the eight shared ones" "10 10 True True" \
    '"%d %d %s %s" % (d["pagination"]["total"], len(d["presets"]), "patient-read" in [p["name"] for p in d["presets"]], "fhir_access" in [p["name"] for p in d["presets"]])'
call GET "/api/v1/compliance/audit-presets?tags=fhir,clinical&sortBy=name&sortOrder=desc" "$A_VIEW"
diag "$HTTP_BODY"
jexpect "tags (all of them), sorted by name descending" "patient-write,patient-read" \
    '",".join(p["name"] for p in d["presets"])'
# the client's form of a list: the array as repeated parameters (URLSearchParams.append)
call GET "/api/v1/compliance/audit-presets?tags=fhir&tags=clinical&sortBy=name&sortOrder=desc" "$A_VIEW"
expect_eq "repeated tags (the client's form): 200" 200 "$HTTP_STATUS"
jexpect "repeated tags: presets having all of them, as with tags=fhir,clinical" "patient-write,patient-read" \
    '",".join(p["name"] for p in d["presets"])'
call GET "/api/v1/compliance/audit-presets?tags=fhir&tags=&tags=nosuchtag" "$A_VIEW"
jexpect "repeated tags are all required (an empty one adds nothing)" "0" 'len(d["presets"])'
call GET "/api/v1/compliance/audit-presets?tags=fhir&limit=1&limit=2" "$A_VIEW"
refused "a repeated limit beside repeatable tags" 400 limit
jexpect "...is DUPLICATE_PARAMETER" DUPLICATE_PARAMETER 'd["error"]["details"]["errors"][0]["code"]'
call GET "/api/v1/compliance/audit-presets?sortBy=name&sortBy=name" "$A_VIEW"
refused "a repeated sortBy, even with one value" 400 sortBy
call GET "/api/v1/audit-presets/patient-read?includeMetadata=true&includeMetadata=true" "$A_VIEW"
refused "tags repeat on the list only: a repeated parameter elsewhere" 400 includeMetadata
call GET "/api/v1/compliance/audit-presets?search=CLINICIAN&category=data_access" "$A_VIEW"
jexpect "search and category" "patient-read,patient-write" '",".join(p["name"] for p in d["presets"])'
call GET "/api/v1/compliance/audit-presets?limit=3&offset=3&sortBy=usageCount&sortOrder=desc" "$A_VIEW"
shape "a page of the list" list
jexpect "pages: 3 of 10 from 3, more after, some before" "3 10 True True" \
    '"%d %d %s %s" % (len(d["presets"]), d["pagination"]["total"], d["pagination"]["hasNext"], d["pagination"]["hasPrevious"])'
call GET "/api/v1/compliance/audit-presets?sortBy=usageCount&sortOrder=desc&limit=1" "$A_VIEW"
jexpect "sorted by usage: the used one first" patient-read 'd["presets"][0]["name"]'
call GET "/api/v1/compliance/audit-presets?sortBy=colour" "$A_VIEW"
refused "an unknown sortBy" 400 sortBy

# ---- export and import between organizations ------------------------------------
call POST /api/v1/audit-presets/export "$A_VIEW" '{"names":["patient-read"],"format":"json","includeVersionHistory":true}'
expect_eq "export answers 200" 200 "$HTTP_STATUS"
jexpect "the export is a string, as the client's export() returns" str 'type(d).__name__'
jexpect "the export document holds the preset and all its versions, as org-a's" "1 $((v0 + 9)) org-a" \
    '"%d %d %s" % (len(json.loads(d)["presets"]), len(json.loads(d)["versions"]["patient-read"]), json.loads(d)["organizationId"])'
# the client's import(data) sends the exported string back as data
IMPORT=$(python3 -c 'import json,sys; print(json.dumps({"data": json.load(open(sys.argv[1])), "format": "json", "overwrite": False}))' "$BODY")
call POST /api/v1/audit-presets/import "$B_ADMIN" "$IMPORT"
expect_eq "org-b imports org-a's export" 200 "$HTTP_STATUS"
jexpect "…all of it" '["patient-read"] []' 'json.dumps(d["imported"]) + " " + json.dumps(d["skipped"])'
call GET /api/v1/audit-presets/patient-read "$B_ADMIN"
shape "the imported preset answers an AuditPreset" preset
jexpect "org-b's copy: same template, its own organization, version 1" "patient.read INTERNAL treatment org-b 1" \
    '" ".join([d["template"]["action"], d["template"]["dataClassification"], d["template"]["defaultDetails"]["purpose"], d["organizationId"], d["metadata"]["version"]])'
call POST /api/v1/audit-presets/import "$B_ADMIN" "$IMPORT"
jexpect "importing again without overwrite skips" '["patient-read"]' 'd["skipped"]'
call POST /api/v1/audit-presets/import "$B_ADMIN" "$(printf '%s' "$IMPORT" | sed 's/"overwrite": false/"overwrite": true/')"
expect_eq "with overwrite it is a new version" "2" \
    "$(sql "SELECT version FROM audit_preset WHERE organization_id = 'org-b' AND name = 'patient-read'")"
BADIMPORT='{"data":{"presets":[{"name":"fine-one","template":{"action":"a","targetResourceType":"T","dataClassification":"PUBLIC"},"validation":{"requiredFields":[],"optionalFields":[],"fieldValidation":{}}},{"name":"broken-one","template":{"targetResourceType":"T","dataClassification":"PUBLIC"},"validation":{"requiredFields":[],"optionalFields":[],"fieldValidation":{}}}]}}'
call POST /api/v1/audit-presets/import "$B_ADMIN" "$BADIMPORT"
refused "an import with one broken preset" 400 'data.presets[1].template.action'
expect_eq "all or nothing: the good one was not written either" 0 \
    "$(sql "SELECT count(*) FROM audit_preset WHERE name IN ('fine-one', 'broken-one')")"
call POST /api/v1/audit-presets/import "$B_ADMIN" '{"data":"{not json","format":"json"}'
refused "import data that is not JSON" 400 data
call POST /api/v1/audit-presets/import "$B_ADMIN" '{"data":"presets: []","format":"yaml"}'
refused "import as yaml" 400 format
call POST /api/v1/audit-presets/import "$A_VIEW" "$IMPORT"
expect_eq "a viewer may not import" 403 "$HTTP_STATUS"

# ---- a second serve on the same database hears of a change at once -----------------
port2=$(free_port)
"$AUDITDB_BIN" serve --listen "127.0.0.1:$port2" >"$TEST_TMP/serve3.log.out" 2>"$TEST_TMP/serve3.log" &
PID2=$!
i=0
until curl -fs -o /dev/null "http://127.0.0.1:$port2/live" || [ $i -ge 300 ]; do sleep 0.1; i=$((i + 1)); done
ev2() { # ev2 PRINCIPAL: an event naming cross-proc, sent to the second serve
    curl -s -o /dev/null -w '%{http_code}' -X POST -H "X-API-Key: $A_INGEST" -H 'Content-Type: application/json' \
        --data-binary "{\"eventData\":{\"timestamp\":\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\",\"status\":\"success\",\"principalId\":\"$1\"},\"options\":{\"preset\":\"cross-proc\"}}" \
        "http://127.0.0.1:$port2/api/v1/audit/events"
}
call POST /api/v1/audit-presets "$A_ADMIN" '{"name":"cross-proc","template":{"action":"x.do","targetResourceType":"X","dataClassification":"INTERNAL"},"validation":{"requiredFields":[],"optionalFields":[],"fieldValidation":{}}}'
expect_eq "the second serve stores an event with a preset the first created" "201 INTERNAL" \
    "$(ev2 cp-1) $(sql "SELECT data_classification FROM audit_log WHERE principal_id = 'cp-1'")"
call PUT /api/v1/audit-presets/cross-proc "$A_ADMIN" '{"template":{"action":"x.do","targetResourceType":"X","dataClassification":"PHI"},"lastModifiedBy":"alice"}'
i=0; got=""
while [ $i -lt 50 ] && [ "$got" != PHI ]; do # within 10 s, not the cache's 60
    i=$((i + 1)); ev2 "cp-2-$i" >/dev/null
    got=$(sql "SELECT data_classification FROM audit_log WHERE principal_id = 'cp-2-$i'")
    [ "$got" = PHI ] || sleep 0.2
done
expect_eq "…and takes the first one's update within 10 s (a NOTIFY, not the 60 s cache)" PHI "$got"
kill "$PID2"; wait "$PID2"

# ---- more bad input: each refused naming its field, nothing written --------------
call PUT /api/v1/audit-presets/patient-read "$A_ADMIN" '[1,2]'
refused "an update body that is not an object" 400 body
call PUT /api/v1/audit-presets/patient-read "$A_ADMIN" '{"lastModifiedBy":""}'
refused "an empty lastModifiedBy" 400 lastModifiedBy
call POST /api/v1/audit-presets/patient-read/validate "$A_INGEST" '{"principalId":"p","organizationId":"org-a","sessionContext":{"ipAddress":"1.2.3.4","userAgent":"x"}}'
refused "a session context without sessionId" 400 sessionContext.sessionId
call POST /api/v1/audit-presets/patient-read/apply "$A_INGEST" '{"principalId":"p","organizationId":"org-a","overrides":{"status":"maybe"}}'
refused "an override status the client does not know" 400 overrides.status
call POST /api/v1/audit-presets/patient-read/duplicate "$A_ADMIN" '{"targetName":"dup-bad","updates":{"template":{"targetResourceType":"T","dataClassification":"PUBLIC"}}}'
refused "a copy whose updates break the template" 400 template.action
call POST /api/v1/audit-presets/export "$A_VIEW" '{"names":"patient-read"}'
refused "export names that are not an array" 400 names
call POST /api/v1/audit-presets/import "$B_ADMIN" '{"data":{"nothing":[]}}'
refused "import data without presets" 400 data.presets
call POST /api/v1/audit-presets/import "$B_ADMIN" '{"data":[{"name":"twice","template":{"action":"a","targetResourceType":"T","dataClassification":"PUBLIC"},"validation":{"requiredFields":[],"optionalFields":[],"fieldValidation":{}}},{"name":"twice","template":{"action":"b","targetResourceType":"T","dataClassification":"PUBLIC"},"validation":{"requiredFields":[],"optionalFields":[],"fieldValidation":{}}}]}'
refused "an import naming one preset twice" 400 'data.presets[1].name'
call GET "/api/v1/compliance/audit-presets?limit=0" "$A_VIEW"
refused "a list limit of 0" 400 limit
call GET "/api/v1/audit-presets/patient-read/stats?limit=x" "$A_VIEW"
refused "a stats limit that is no number" 400 limit
call GET "/api/v1/audit-presets/patient-read?colour=red" "$A_VIEW"
refused "an unknown query parameter" 400 colour
expect_eq "none of it was written" "0 $((v0 + 9))" \
    "$(sql "SELECT (SELECT count(*) FROM audit_preset WHERE name IN ('dup-bad', 'twice')) || ' ' || (SELECT version FROM audit_preset WHERE organization_id = 'org-a' AND name = 'patient-read')")"

# ---- disable, delete --------------------------------------------------------------
call PUT /api/v1/audit-presets/patient-write "$A_ADMIN" '{"enabled":false,"lastModifiedBy":"alice"}'
expect_eq "a preset can be disabled" 200 "$HTTP_STATUS"
jexpect "…and says so" false 'd["enabled"]'
call POST /api/v1/audit-presets/patient-write/apply "$A_INGEST" '{"principalId":"x","organizationId":"org-a"}'
refused "a disabled preset is not applied" 409 enabled
call POST /api/v1/audit/events "$A_INGEST" "{\"eventData\":{\"timestamp\":\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\",\"status\":\"success\"},\"options\":{\"preset\":\"patient-write\"}}"
expect_eq "nor named by an event" 400 "$HTTP_STATUS"
call DELETE /api/v1/audit-presets/patient-write "$A_ADMIN"
expect_eq "an unused preset is deleted" 204 "$HTTP_STATUS"
call GET /api/v1/audit-presets/patient-write "$A_VIEW"
expect_eq "and is gone" 404 "$HTTP_STATUS"
call DELETE /api/v1/audit-presets/patient-read "$A_ADMIN"
refused "a used preset is kept without force" 409 name
call DELETE "/api/v1/audit-presets/patient-read?force=true" "$A_VIEW"
expect_eq "a viewer may not delete" 403 "$HTTP_STATUS"
call DELETE "/api/v1/audit-presets/patient-read?force=true" "$A_ADMIN"
expect_eq "with force it is deleted" 204 "$HTTP_STATUS"
expect_eq "with its versions and usage, org-b's copy kept" "0 0 1" \
    "$(sql "SELECT (SELECT count(*) FROM audit_preset_version WHERE organization_id = 'org-a' AND name = 'patient-read') || ' ' || (SELECT count(*) FROM audit_preset_usage WHERE organization_id = 'org-a' AND name = 'patient-read') || ' ' || (SELECT count(*) FROM audit_preset WHERE name = 'patient-read')")"
call DELETE "/api/v1/audit-presets/authentication?force=true" "$A_ADMIN"
refused "a shared preset cannot be deleted" 403 name

# counts still in memory at stop are written then
ev "$B_ADMIN" dr-last
expect_eq "org-b's copy applies to org-b's events" "201 org-b" "$HTTP_STATUS $(sql "SELECT organization_id FROM audit_log WHERE principal_id = 'dr-last'")"
expect_eq "(its use is not written yet)" 0 "$(sql "SELECT count(*) FROM audit_preset_usage WHERE organization_id = 'org-b'")"
stop_serve
expect_eq "serve stops cleanly" 0 "$?"
later_checks
expect_eq "stopping wrote the counts held in memory" "org-b patient-read dr-last 1" \
    "$(sql "SELECT concat_ws(' ', organization_id, name, principal_id, uses) FROM audit_preset_usage WHERE organization_id = 'org-b'")"
# the timer writes them too, every interval (1 s here), without stats or a stop
if AUDITDB_KEY_USAGE_FLUSH_S=1 start_serve "$TEST_TMP/serve2.log"; then
    ev "$B_ADMIN" dr-timer
    i=0
    while [ $i -lt 100 ] && [ "$(sql "SELECT count(*) FROM audit_preset_usage WHERE principal_id = 'dr-timer'")" = 0 ]; do
        sleep 0.1; i=$((i + 1))
    done
    expect_eq "the flusher wrote the use within 10 s" 1 "$(sql "SELECT uses FROM audit_preset_usage WHERE principal_id = 'dr-timer'")"
    stop_serve
else
    not_ok "serve starts again"
fi
if [ -f "$PGLOG" ]; then
    # (serve's start-up probe that the server cannot read the key files errs on purpose)
    pgerr=$(tail -c +"$PGLOG_FROM" "$PGLOG" | grep -E 'ERROR|WARNING|FATAL' |
            grep -v 'could not open file ".*\.key" for reading' | head -5)
    expect_eq "no error or warning in PostgreSQL's log from these requests" "" "$pgerr"
fi
if grep -q '"level":"error"\|runtime error\|Sanitizer' "$TEST_TMP/serve.log"; then not_ok "no error in the log"; diag "$(grep '"level":"error"\|runtime error\|Sanitizer' "$TEST_TMP/serve.log" | head -5)"; else ok "no error in the log"; fi
finish
