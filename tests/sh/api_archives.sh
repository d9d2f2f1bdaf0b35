# api_archives.sh - the archive routes over HTTP as a client drives them
# (docs/api.md "GET /api/v1/archives, GET /api/v1/archives/{id}/events"):
# events posted through the API are archived by maintenance rounds at a
# chosen clock; the list (shape, order, pagination, limits), the events of
# one archive (equal to what was archived, chain order, pages), retrievals
# counted, isolation between organizations, 401/403/404, a stub (410) and
# an archive whose bytes were changed (500 ARCHIVE_CORRUPT, no event).
. tests/lib.sh

# at DAYS: the real clock moved by DAYS (may be negative), RFC 3339 with seconds
at() { date -u -d "@$(($(date -u +%s) + $1 * 86400))" +%Y-%m-%dT%H:%M:%SZ; }
# maint T [ARGS]: one maintenance round at clock T; output in $MOUT, exit code in $MRC
maint() { MOUT=$("$AUDITDB_BIN" maintenance run --now "$@" 2>&1); MRC=$?; }
# get PATH KEY: GET with a key
get() { http GET "$1" -H "X-API-Key: $2"; }
# field of every archive in the last list, space separated
archives_field() { jbody "\" \".join(str($1) for a in d[\"archives\"])"; }

fresh_db t_api_archives
"$AUDITDB_BIN" migrate >/dev/null
A_VIEW=$(newkey org-a viewer)
A_INGEST=$(newkey org-a ingest)
B_VIEW=$(newkey org-b viewer)
B_INGEST=$(newkey org-b ingest)
C_VIEW=$(newkey org-c viewer)
if ! start_serve "$TEST_TMP/serve.log"; then
    not_ok "serve starts"; diag "$(cat "$TEST_TMP/serve.log")"; finish
fi
ok "serve starts"

# org-a: 5 PUBLIC events 20 days old (chain positions 1-5), 3 recent PUBLIC
# ones (6-8), one INTERNAL (9, kept live); org-b: 2 old PUBLIC events.
# PUBLIC's policy (minimal) archives after 30 days and deletes after 90.
OLD=$(at -20); NEW=$(date -u -d '-5 minutes' +%Y-%m-%dT%H:%M:%SZ)
post() { http POST /api/v1/audit/events -H "X-API-Key: $1" -H 'Content-Type: application/json' --data-binary "$2"; }
posted=0
for i in 1 2 3 4 5; do
    post "$A_INGEST" "{\"eventData\":{\"timestamp\":\"$OLD\",\"action\":\"record.read\",\"status\":\"success\",\"principalId\":\"old-$i\",\"dataClassification\":\"PUBLIC\",\"targetResourceType\":\"Record\",\"targetResourceId\":\"r-$i\",\"outcomeDescription\":\"é \\\" \\\\ tab\\there\",\"details\":{\"n\":1.50,\"i\":$i,\"nested\":{\"a\":[1,\"x\"],\"sessionContext\":\"inner\"}},\"sessionContext\":{\"sessionId\":\"s-$i\",\"ipAddress\":\"10.0.0.$i\",\"userAgent\":\"ua {\\\"x\\\"}\"}}}"
    [ "$HTTP_STATUS" = 201 ] && posted=$((posted + 1))
done
for i in 6 7 8; do
    post "$A_INGEST" "{\"eventData\":{\"timestamp\":\"$NEW\",\"action\":\"record.write\",\"status\":\"failure\",\"principalId\":\"new-$i\",\"dataClassification\":\"PUBLIC\",\"correlationId\":\"corr-$i\"}}"
    [ "$HTTP_STATUS" = 201 ] && posted=$((posted + 1))
done
post "$A_INGEST" "{\"eventData\":{\"timestamp\":\"$NEW\",\"action\":\"record.read\",\"status\":\"success\",\"dataClassification\":\"INTERNAL\"}}"
[ "$HTTP_STATUS" = 201 ] && posted=$((posted + 1))
for i in 1 2; do
    post "$B_INGEST" "{\"eventData\":{\"timestamp\":\"$OLD\",\"action\":\"record.read\",\"status\":\"success\",\"principalId\":\"b-$i\",\"dataClassification\":\"PUBLIC\"}}"
    [ "$HTTP_STATUS" = 201 ] && posted=$((posted + 1))
done
expect_eq "11 events posted" 11 "$posted"
# every org-a event as GET /api/v1/audit/events/{id} sends it before archival, by chain position
: >"$TEST_TMP/live.ndjson"
for id in $(sql "SELECT id FROM audit_log WHERE organization_id = 'org-a' ORDER BY chain_seq"); do
    http GET "/api/v1/audit/events/$id" -H "X-API-Key: $A_VIEW"
    printf '%s\n' "$HTTP_BODY" >>"$TEST_TMP/live.ndjson"
done
expect_eq "the live events read back before archival" "1 2 3 4 5 6 7 8 9" \
    "$(python3 -c 'import json, sys; print(" ".join(str(json.loads(l)["chainSeq"]) for l in open(sys.argv[1])))' "$TEST_TMP/live.ndjson")"

# no archive yet: an empty page
get /api/v1/archives "$A_VIEW"
expect_eq "no archive yet: 200, empty, total 0" "200 [] 0" "$HTTP_STATUS $(jbody 'd["archives"]') $(jbody 'd["pagination"]["total"]')"

# round 1 (in 11 days): the old events, in chunks of 2 -> org-a 3 archives
# (positions 1-2, 3-4, 5), org-b 1; round 2 (in 31 days): the recent ones -> 1
T1=$(at 11); T2=$(at 31)
maint "$T1" --max-rows 2
expect_eq "round 1: exit 0" 0 "$MRC"
maint "$T2"
expect_eq "round 2: exit 0" 0 "$MRC"
expect_eq "archived: org-a 4 archives (8 events), org-b 1, the INTERNAL event live" "4 8|1|1" \
    "$(sql "SELECT count(*) || ' ' || sum((metadata->>'recordCount')::int) FROM archive_storage WHERE organization_id = 'org-a'")|$(sql "SELECT count(*) FROM archive_storage WHERE organization_id = 'org-b'")|$(sql "SELECT count(*) FROM audit_log WHERE organization_id = 'org-a'")"
for i in 1 2 3; do
    post "$A_INGEST" "{\"eventData\":{\"action\":\"record.read\",\"status\":\"success\",\"dataClassification\":\"INTERNAL\"}}"
done
get "/api/v1/audit/events?limit=2" "$A_VIEW"
expect_eq "the events list's total: the 4 live events, exactly (chain head 12 less 8 archived)" "4 true 2" \
    "$(jbody 'd["pagination"]["total"]') $(jbody 'd["pagination"]["totalExact"]') $(jbody 'len(d["events"])')"

# ---- the list ----------------------------------------------------------------
get /api/v1/archives "$A_VIEW"
expect_eq "list: 200" 200 "$HTTP_STATUS"
expect_eq "list: org-a's 4 archives, newest round first, then later chain positions first" "6 5 3 1" \
    "$(archives_field 'a["chainRange"]["firstSeq"]')"
expect_eq "list: record counts" "3 1 2 2" "$(archives_field 'a["recordCount"]')"
expect_eq "list: pagination" '{"hasNext": false, "hasPrevious": false, "limit": 50, "offset": 0, "total": 4, "totalExact": true}' \
    "$(jbody 'dict(sorted(d["pagination"].items()))')"
expect_eq "list: createdAt is the round's clock" "$(printf '%s' "$T2" | sed 's/Z$/.000000Z/') $(printf '%s' "$T1" | sed 's/Z$/.000000Z/')" \
    "$(jbody 'd["archives"][0]["createdAt"] + " " + d["archives"][3]["createdAt"]')"
printf '%s' "$HTTP_BODY" >"$TEST_TMP/list.json"
printf '%s' "$HTTP_BODY" >"$TEST_TMP/resp.ArchivePage.list.json"
# each object against the stored metadata, mapped here from docs/archive.md "Metadata"
sql "SELECT json_build_object('id', id, 'org', organization_id, 'm', metadata) FROM archive_storage
     WHERE organization_id = 'org-a'" >"$TEST_TMP/meta.ndjson"
out=$(python3 - "$TEST_TMP/list.json" "$TEST_TMP/meta.ndjson" <<'EOF'
import json, sys
served = {a["id"]: a for a in json.load(open(sys.argv[1]))["archives"]}
bad = []
for line in open(sys.argv[2]):
    r = json.loads(line); m = r["m"]; a = served.get(r["id"])
    want = {"id": r["id"], "organizationId": r["org"], "createdAt": m["createdAt"],
            "recordCount": m["recordCount"], "originalSize": m["originalSize"],
            "compressedSize": m["compressedSize"], "compressionRatio": m["compressionRatio"],
            "checksumOriginal": m["checksums"]["originalSha256"],
            "checksumCompressed": m["checksums"]["compressedSha256"],
            "compressionAlgorithm": "zstd", "format": "jsonl",
            "retentionPolicy": m["retentionPolicy"], "dataClassification": m["dataClassification"],
            "dateRange": m["dateRange"],
            "chainRange": {k: m["chain"][k] for k in ("firstSeq", "lastSeq", "firstPrevChainHash", "lastChainHash")},
            "retrievedCount": 0, "deleted": False}
    if a != want:
        bad.append("%s: served %s, want %s" % (r["id"], a, want))
print("\n".join(bad) if bad else "all equal")
EOF
)
expect_eq "list: every archive object is its metadata under the API's names (no lastRetrievedAt, no deletedAt yet)" "all equal" "$out"
expect_eq "list: the chain ranges join up (each firstPrevChainHash is the previous lastChainHash)" true \
    "$(jbody 'all(d["archives"][i]["chainRange"]["firstPrevChainHash"] == d["archives"][i + 1]["chainRange"]["lastChainHash"] for i in range(3))')"
ID_NEW=$(jbody 'd["archives"][0]["id"]')   # positions 6-8
ID_5=$(jbody 'd["archives"][1]["id"]')     # position 5
ID_12=$(jbody 'd["archives"][3]["id"]')    # positions 1-2

get "/api/v1/archives?limit=2" "$A_VIEW"
expect_eq "list limit=2: the first two, hasNext" "6 5|4 2 0 True False" \
    "$(archives_field 'a["chainRange"]["firstSeq"]')|$(jbody '"%s %s %s %s %s" % (d["pagination"]["total"], d["pagination"]["limit"], d["pagination"]["offset"], d["pagination"]["hasNext"], d["pagination"]["hasPrevious"])')"
get "/api/v1/archives?limit=2&offset=2" "$A_VIEW"
expect_eq "list limit=2 offset=2: the other two, no next, a previous" "3 1|4 False True" \
    "$(archives_field 'a["chainRange"]["firstSeq"]')|$(jbody '"%s %s %s" % (d["pagination"]["total"], d["pagination"]["hasNext"], d["pagination"]["hasPrevious"])')"
get "/api/v1/archives?limit=3&offset=1" "$A_VIEW"
expect_eq "list limit=3 offset=1" "5 3 1|false" "$(archives_field 'a["chainRange"]["firstSeq"]')|$(jbody 'd["pagination"]["hasNext"]')"
get "/api/v1/archives?offset=4" "$A_VIEW"
expect_eq "list past the end: empty, total still 4" "[] 4 false" "$(jbody 'd["archives"]') $(jbody 'd["pagination"]["total"]') $(jbody 'd["pagination"]["hasNext"]')"

for q in limit=0 limit=1001 limit=abc limit=2x offset=-1 offset=100001 offset=x; do
    get "/api/v1/archives?$q" "$A_VIEW"
    expect_eq "list $q: 400 VALIDATION_ERROR naming ${q%%=*}" "400 VALIDATION_ERROR INVALID_VALUE ${q%%=*}" \
        "$HTTP_STATUS $(jbody 'd["error"]["code"]') $(jbody 'd["error"]["details"]["errors"][0]["code"]') $(jbody 'd["error"]["details"]["errors"][0]["field"]')"
done
expect_match "list limit: the message says the range" "1 to 1000" "$(get '/api/v1/archives?limit=0' "$A_VIEW"; jbody 'd["error"]["message"]')"

# ---- the events of one archive ----------------------------------------------
get "/api/v1/archives/$ID_12/events" "$A_VIEW"
expect_eq "events: 200" 200 "$HTTP_STATUS"
expect_eq "events: archiveId" "$ID_12" "$(jbody 'd["archiveId"]')"
printf '%s' "$HTTP_BODY" >"$TEST_TMP/resp.ArchiveEventsPage.events.json"
expect_eq "events: positions 1 and 2 in chain order" "1 2" "$(jbody '" ".join(str(e["chainSeq"]) for e in d["events"])')"
expect_eq "events: pagination" '{"hasNext": false, "hasPrevious": false, "limit": 50, "offset": 0, "total": 2, "totalExact": true}' \
    "$(jbody 'dict(sorted(d["pagination"].items()))')"
# byte for byte: without archivedAt, each event is the text the live route sent
out=$(printf '%s' "$HTTP_BODY" | python3 -c 'import json, sys
body = sys.stdin.read()
created = json.loads(body)["events"][0]["archivedAt"]
body = body.replace(",\"archivedAt\":\"%s\"" % created, "")
live = open(sys.argv[1]).read().split("\n")[:2]
print(" ".join("same" if l and l in body else "differs" for l in live))' "$TEST_TMP/live.ndjson")
expect_eq "events: without archivedAt, each event is byte for byte what GET /api/v1/audit/events/{id} sent (details keep 1.50)" "same same" "$out"
# the whole walk: every archived org-a event, archive by archive (oldest first)
: >"$TEST_TMP/archived.ndjson"
for id in $(get /api/v1/archives "$A_VIEW"; jbody '" ".join(a["id"] for a in reversed(d["archives"]))'); do
    get "/api/v1/archives/$id/events" "$A_VIEW"
    created=$(sql "SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM archive_storage WHERE id = '$id'")
    printf '%s' "$HTTP_BODY" | python3 -c 'import json, sys
created = sys.argv[1]
for e in json.load(sys.stdin)["events"]:
    print(json.dumps({"archivedAtIsCreatedAt": e.pop("archivedAt", None) == created, "event": e}, sort_keys=True))' "$created" >>"$TEST_TMP/archived.ndjson"
done
out=$(python3 - "$TEST_TMP/live.ndjson" "$TEST_TMP/archived.ndjson" <<'EOF'
import json, sys
live = [json.loads(l) for l in open(sys.argv[1])][:8]
got = [json.loads(l) for l in open(sys.argv[2])]
bad = []
if len(got) != len(live):
    bad.append("%d events served, %d archived" % (len(got), len(live)))
for want, g in zip(live, got):
    if not g["archivedAtIsCreatedAt"]:
        bad.append("event %s: archivedAt is not its archive's createdAt" % want["id"])
    if g["event"] != want:
        bad.append("event %s: served %s, before archival %s" % (want["id"], g["event"], want))
print("\n".join(bad) if bad else "all equal")
EOF
)
expect_eq "events: all 8 archived events, each exactly as GET /api/v1/audit/events/{id} sent it before archival, plus archivedAt = the archive's createdAt" "all equal" "$out"
expect_eq "events: sessionContext lifted from details, as the live route does" s-1 \
    "$(sed -n 1p "$TEST_TMP/archived.ndjson" | json 'd["event"]["sessionContext"]["sessionId"]')"
# a third party's reading of the stored archive (docs/archive.md alone)
get "/api/v1/archives/$ID_NEW/events" "$A_VIEW"
expect_eq "events: ids, hashes and positions as tests/tools/adb_archive.py reads the payload" \
    "$(sql "SELECT json_build_object('id', id, 'metadata', metadata, 'payload', encode(payload, 'hex')) FROM archive_storage WHERE id = '$ID_NEW'" | python3 tests/tools/adb_archive.py rows)" \
    "$(jbody '"\n".join("%s %s %s" % (e["id"], e["hash"], e["chainSeq"]) for e in d["events"])')"

get "/api/v1/archives/$ID_NEW/events?limit=2" "$A_VIEW"
expect_eq "events limit=2: positions 6 7, hasNext, total 3" "6 7|3 2 0 True False" \
    "$(jbody '" ".join(str(e["chainSeq"]) for e in d["events"])')|$(jbody '"%s %s %s %s %s" % (d["pagination"]["total"], d["pagination"]["limit"], d["pagination"]["offset"], d["pagination"]["hasNext"], d["pagination"]["hasPrevious"])')"
get "/api/v1/archives/$ID_NEW/events?limit=2&offset=2" "$A_VIEW"
expect_eq "events limit=2 offset=2: position 8, no next, a previous" "8|3 False True" \
    "$(jbody '" ".join(str(e["chainSeq"]) for e in d["events"])')|$(jbody '"%s %s %s" % (d["pagination"]["total"], d["pagination"]["hasNext"], d["pagination"]["hasPrevious"])')"
get "/api/v1/archives/$ID_NEW/events?offset=3" "$A_VIEW"
expect_eq "events past the end: empty" "200 [] 3" "$HTTP_STATUS $(jbody 'd["events"]') $(jbody 'd["pagination"]["total"]')"

# retrievals: ID_NEW was read 5 times above (walk, adb_archive comparison, 3 pages)
count_of() { sql "SELECT retrieved_count || ' ' || (last_retrieved_at IS NOT NULL) FROM archive_storage WHERE id = '$1'"; }
expect_eq "retrievals counted: one per successful request" "5 true" "$(count_of "$ID_NEW")"
for q in limit=0 limit=1001 offset=-1 offset=100001; do
    get "/api/v1/archives/$ID_NEW/events?$q" "$A_VIEW"
    expect_eq "events $q: 400 naming ${q%%=*}" "400 VALIDATION_ERROR ${q%%=*}" \
        "$HTTP_STATUS $(jbody 'd["error"]["code"]') $(jbody 'd["error"]["details"]["errors"][0]["field"]')"
done
expect_eq "a refused request is not a retrieval" "5 true" "$(count_of "$ID_NEW")"
head=$(curl -s -o /dev/null -w '%{http_code}' -I -H "X-API-Key: $A_VIEW" "$BASE_URL/api/v1/archives/$ID_NEW/events")
expect_eq "HEAD: 200, and not a retrieval (no event delivered)" "200 5 true" "$head $(count_of "$ID_NEW")"
get /api/v1/archives "$A_VIEW"
expect_eq "the list shows the retrieval count and time" \
    "5 $(sql "SELECT to_char(last_retrieved_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM archive_storage WHERE id = '$ID_NEW'")" \
    "$(jbody '" ".join("%s %s" % (a["retrievedCount"], a.get("lastRetrievedAt")) for a in d["archives"] if a["chainRange"]["firstSeq"] == 6)')"

# ---- isolation, keys, unknown ids --------------------------------------------
get /api/v1/archives "$B_VIEW"
expect_eq "org-b lists only its own archive" "org-b 1 1" \
    "$(jbody '",".join(sorted(set(a["organizationId"] for a in d["archives"])))') $(jbody 'len(d["archives"])') $(jbody 'd["pagination"]["total"]')"
get /api/v1/archives "$C_VIEW"
expect_eq "an organization without archives: 200, empty list, total 0" "200 [] 0" \
    "$HTTP_STATUS $(jbody 'd["archives"]') $(jbody 'd["pagination"]["total"]')"
get "/api/v1/archives/$ID_12/events" "$B_VIEW"
expect_eq "org-a's archive to org-b: 404 NOT_FOUND, no events" "404 NOT_FOUND false" \
    "$HTTP_STATUS $(jbody 'd["error"]["code"]') $(jbody '"events" in d')"
B_ID=$(sql "SELECT id FROM archive_storage WHERE organization_id = 'org-b'")
get "/api/v1/archives/$B_ID/events" "$A_VIEW"
expect_eq "org-b's archive to org-a: 404" 404 "$HTTP_STATUS"
get "/api/v1/archives/$B_ID/events" "$B_VIEW"
expect_eq "…while org-b reads it (the check above can fail)" "200 b-1,b-2" "$HTTP_STATUS $(jbody '",".join(e["principalId"] for e in d["events"])')"
get "/api/v1/archives/archive-00000000000000000000000000000000/events" "$A_VIEW"
expect_eq "an unknown archive: 404 NOT_FOUND" "404 NOT_FOUND" "$HTTP_STATUS $(jbody 'd["error"]["code"]')"
get "/api/v1/archives/$(python3 -c 'print("a" * 256)')/events" "$A_VIEW"
expect_eq "an id longer than 255: 400 INVALID_FORMAT on id" "400 INVALID_FORMAT id" \
    "$HTTP_STATUS $(jbody 'd["error"]["details"]["errors"][0]["code"]') $(jbody 'd["error"]["details"]["errors"][0]["field"]')"
expect_eq "org-a's archive counted twice (org-a's two reads), org-b's 404 not at all" "2 true" "$(count_of "$ID_12")"
for path in /api/v1/archives "/api/v1/archives/$ID_12/events"; do
    get "$path" "$A_INGEST"
    expect_eq "$path without archives:read: 403 FORBIDDEN archives:read" "403 FORBIDDEN archives read" \
        "$HTTP_STATUS $(jbody 'd["error"]["code"]') $(jbody 'd["error"]["details"]["resource"]') $(jbody 'd["error"]["details"]["action"]')"
    http GET "$path"
    expect_eq "$path without a key: 401 UNAUTHORIZED" "401 UNAUTHORIZED" "$HTTP_STATUS $(jbody 'd["error"]["code"]')"
    http GET "$path" -H "Authorization: Bearer $A_VIEW"
    expect_eq "$path with a Bearer key: 200" 200 "$HTTP_STATUS"
done
http POST /api/v1/archives -H "X-API-Key: $A_VIEW"
expect_eq "POST /api/v1/archives: 405" 405 "$HTTP_STATUS"
# what the routes rely on, in the database itself: as auditdb_app with org-b's
# setting, org-a's archive is invisible and cannot be counted; its own can
as_tenant() { psql "$AUDIT_DB_URL" -qAtX -v ON_ERROR_STOP=1 -c 'BEGIN' -c "$(tenant_setting "$1")" \
    -c 'SET LOCAL ROLE auditdb_app' -c "$2" -c 'ROLLBACK' 2>&1 | sed -n 2p; }
expect_eq "row-level security: org-b's session sees none of org-a's archives, org-a's sees its 4" "0 4" \
    "$(as_tenant org-b "SELECT count(*) FROM archive_storage WHERE organization_id = 'org-a'") $(as_tenant org-a "SELECT count(*) FROM archive_storage")"
expect_eq "row-level security: org-b's session counts no retrieval of org-a's archive, org-a's can" "0 1" \
    "$(as_tenant org-b "WITH u AS (UPDATE archive_storage SET retrieved_count = retrieved_count + 1 WHERE id = '$ID_12' RETURNING 1) SELECT count(*) FROM u") $(as_tenant org-a "WITH u AS (UPDATE archive_storage SET retrieved_count = retrieved_count + 1 WHERE id = '$ID_12' RETURNING 1) SELECT count(*) FROM u")"
expect_match "auditdb_app may update the retrieval columns only, not the payload" "permission denied" \
    "$(as_tenant org-a "UPDATE archive_storage SET payload = NULL WHERE id = '$ID_12'")"

# ---- a changed archive: 500 ARCHIVE_CORRUPT and not one event -----------------
sql "CREATE TABLE saved AS SELECT * FROM archive_storage WHERE id = '$ID_NEW'" >/dev/null
put_back() { sql "UPDATE archive_storage a SET payload = s.payload, metadata = s.metadata FROM saved s WHERE a.id = s.id" >/dev/null; }
before=$(count_of "$ID_NEW")
# a byte of one row changed (principal_id new-7 -> new-9); the checksums no longer match
payload=$(sql "SELECT json_build_object('id', id, 'metadata', metadata, 'payload', encode(payload, 'hex')) FROM archive_storage WHERE id = '$ID_NEW'" |
    python3 tests/tools/adb_archive.py tamper '"principal_id":"new-7"' '"principal_id":"new-9"')
sql "UPDATE archive_storage SET payload = decode('$payload', 'hex') WHERE id = '$ID_NEW'" >/dev/null
get "/api/v1/archives/$ID_NEW/events" "$A_VIEW"
expect_eq "an edited payload: 500 ARCHIVE_CORRUPT without events" "500 ARCHIVE_CORRUPT false" \
    "$HTTP_STATUS $(jbody 'd["error"]["code"]') $(jbody '"events" in d')"
expect_match "…the reason names the checksum" "checksum" "$(jbody 'd["error"]["details"]["reason"]')"
printf '%s' "$HTTP_BODY" >"$TEST_TMP/resp.ErrorBody.corrupt.json"
expect_eq "…the edited value is nowhere in the answer" "" "$(printf '%s' "$HTTP_BODY" | grep -o 'new-9')"
put_back
# only the decompressed checksum is wrong: found after the last row was read
sql "UPDATE archive_storage SET metadata = jsonb_set(metadata, '{checksums,originalSha256}', to_jsonb(repeat('0', 64))) WHERE id = '$ID_NEW'" >/dev/null
get "/api/v1/archives/$ID_NEW/events?limit=1" "$A_VIEW"
expect_eq "a wrong checksum found only at the end of the rows: 500 ARCHIVE_CORRUPT without events" "500 ARCHIVE_CORRUPT false" \
    "$HTTP_STATUS $(jbody 'd["error"]["code"]') $(jbody '"events" in d')"
expect_match "…the reason names the decompressed checksum" "decompressed JSON Lines' checksum" "$(jbody 'd["error"]["details"]["reason"]')"
expect_eq "…no row of it in the answer" "" "$(printf '%s' "$HTTP_BODY" | grep -o 'new-[0-9]')"
put_back
# a flipped byte of the stored zstd frame
sql "UPDATE archive_storage SET payload = overlay(payload PLACING '\\x00'::bytea FROM 30 FOR 1) WHERE id = '$ID_NEW'" >/dev/null
get "/api/v1/archives/$ID_NEW/events" "$A_VIEW"
expect_eq "a flipped byte of the frame: 500 ARCHIVE_CORRUPT" "500 ARCHIVE_CORRUPT" "$HTTP_STATUS $(jbody 'd["error"]["code"]')"
expect_eq "a corrupt archive's reads are not retrievals" "$before" "$(count_of "$ID_NEW")"
put_back
get "/api/v1/archives/$ID_NEW/events" "$A_VIEW"
expect_eq "the original put back: 200 with its 3 events (the checks above can pass)" "200 6 7 8" \
    "$HTTP_STATUS $(jbody '" ".join(str(e["chainSeq"]) for e in d["events"])')"
sql "DROP TABLE saved" >/dev/null

# ---- stubs: 410 ARCHIVE_DELETED ----------------------------------------------
# in 80 days the old events (100 days old then) have passed PUBLIC's 90 days:
# their archives become stubs; the recent ones (80 days old) stay
T3=$(at 80)
maint "$T3"
expect_eq "retention round: exit 0" 0 "$MRC"
expect_eq "org-a: 3 stubs, 1 archive" "3 1" \
    "$(sql "SELECT count(*) FILTER (WHERE deleted_at IS NOT NULL) || ' ' || count(*) FILTER (WHERE deleted_at IS NULL) FROM archive_storage WHERE organization_id = 'org-a'")"
before=$(count_of "$ID_12")
get "/api/v1/archives/$ID_12/events" "$A_VIEW"
expect_eq "a stub's events: 410 ARCHIVE_DELETED, no events" "410 ARCHIVE_DELETED false" \
    "$HTTP_STATUS $(jbody 'd["error"]["code"]') $(jbody '"events" in d')"
expect_eq "…details: the id and when the events were deleted" "$ID_12 $(sql "SELECT to_char(deleted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM archive_storage WHERE id = '$ID_12'")" \
    "$(jbody 'd["error"]["details"]["id"]') $(jbody 'd["error"]["details"]["deletedAt"]')"
printf '%s' "$HTTP_BODY" >"$TEST_TMP/resp.ErrorBody.stub.json"
expect_eq "…not a retrieval" "$before" "$(count_of "$ID_12")"
get "/api/v1/archives/$ID_5/events" "$B_VIEW"
expect_eq "another organization's stub: 404, not 410" 404 "$HTTP_STATUS"
get /api/v1/archives "$A_VIEW"
expect_eq "the list still shows the stubs, marked deleted with deletedAt" "6:False:- 5:True:$(printf '%s' "$T3" | sed 's/Z$/.000000Z/') 3:True:$(printf '%s' "$T3" | sed 's/Z$/.000000Z/') 1:True:$(printf '%s' "$T3" | sed 's/Z$/.000000Z/')" \
    "$(archives_field '"%s:%s:%s" % (a["chainRange"]["firstSeq"], a["deleted"], a.get("deletedAt", "-"))')"
printf '%s' "$HTTP_BODY" >"$TEST_TMP/resp.ArchivePage.stubs.json"
expect_eq "…with their original createdAt" "$(printf '%s' "$T1" | sed 's/Z$/.000000Z/')" "$(jbody 'd["archives"][3]["createdAt"]')"
get "/api/v1/archives/$ID_NEW/events" "$A_VIEW"
expect_eq "the archive kept is still served" "200 3" "$HTTP_STATUS $(jbody 'len(d["events"])')"

stop_serve TERM; rc=$?
expect_eq "SIGTERM: exit 0" 0 "$rc"
expect_eq "recorded as security events: 3 archive integrity failures (org-a), the probes of org-a's archives by org-b" "3 2" \
    "$(sql "SELECT count(*) FILTER (WHERE event_type = 'archive_integrity_failure' AND organization_id = 'org-a' AND severity = 'HIGH') || ' ' || count(*) FILTER (WHERE event_type = 'cross_tenant_probe' AND organization_id = 'org-b') FROM security_events")"

# ---- the answers against api/openapi.json's schemas --------------------------
# (Ajv, JSON Schema 2020-12 with formats: the validator package tests/sh/openapi.sh installs)
mods="$PWD/build/node"
if [ ! -d "$mods/node_modules/@seriousme/openapi-schema-validator" ]; then
    npm install --silent --no-audit --no-fund --prefix "$mods" @seriousme/openapi-schema-validator@2.11.0 \
        >"$TEST_TMP/npm.log" 2>&1 || { not_ok "install the OpenAPI validator"; diag "$(tail -5 "$TEST_TMP/npm.log")"; finish; }
fi
# a copy with an undocumented member: the check below must be able to fail
python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); d["archives"][0]["extra"] = 1; print(json.dumps(d))' \
    "$TEST_TMP/resp.ArchivePage.list.json" >"$TEST_TMP/bad.ArchivePage.extra.json"
out=$(NODE_PATH="$mods/node_modules" node - api/openapi.json "$TEST_TMP"/resp.*.json "$TEST_TMP"/bad.*.json <<'EOF'
const fs = require('fs');
const path = require('path');
const entry = require.resolve('@seriousme/openapi-schema-validator');
const opts = { paths: [path.dirname(entry), ...(require.resolve.paths('ajv') || [])] };
const Ajv2020 = require(require.resolve('ajv/dist/2020', opts)).default;
const addFormats = require(require.resolve('ajv-formats', opts)).default;
const [doc, ...files] = process.argv.slice(2);
const BASE = 'urn:auditdb:openapi:schemas';
const text = fs.readFileSync(doc, 'utf8').split('"#/components/schemas/').join(`"${BASE}#/$defs/`);
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema({ $id: BASE, $defs: JSON.parse(text).components.schemas });
for (const f of files) {
    const name = path.basename(f).split('.')[1];
    const validate = ajv.getSchema(`${BASE}#/$defs/${name}`);
    const ok = validate(JSON.parse(fs.readFileSync(f, 'utf8')));
    console.log(`${path.basename(f)} ${ok ? 'valid' : 'INVALID ' + ajv.errorsText(validate.errors)}`);
}
EOF
)
expect_eq "every answer saved above matches its schema in api/openapi.json; an undocumented member does not" \
    "bad.ArchivePage.extra.json INVALID
resp.ArchiveEventsPage.events.json valid
resp.ArchivePage.list.json valid
resp.ArchivePage.stubs.json valid
resp.ErrorBody.corrupt.json valid
resp.ErrorBody.stub.json valid" "$(printf '%s\n' "$out" | sed 's/ INVALID.*/ INVALID/' | sort)"
finish
