# log_tiles.sh - each organization's Merkle tree over HTTP as a tlog-tiles
# client reads it (docs/log.md): events ingested through `auditdb serve` are in
# the tree within a second; the tiles and entry bundles fetched one by one
# give, recomputed from the specification alone (tests/tools/tlog_tiles.py),
# the root the consistency route states; its consistency proof verifies; the
# entries are the events' ids and content hashes; another organization's key
# sees only its own tree; 400 naming the field, 401, 403 and 404 answers.
. tests/lib.sh

fresh_db t_log_tiles
"$AUDITDB_BIN" migrate >/dev/null
A_INGEST=$(newkey org-a ingest)
A_VIEW=$(newkey org-a viewer)
A_AUDIT=$(newkey org-a auditor)
B_INGEST=$(newkey org-b ingest)
B_VIEW=$(newkey org-b viewer)
if ! start_serve "$TEST_TMP/serve.log"; then
    not_ok "serve starts"; diag "$(cat "$TEST_TMP/serve.log")"; finish
fi
ok "serve starts"

now=$(date -u -d '-10 minutes' +%Y-%m-%dT%H:%M:%S.000Z)
bulk() { # ORG_KEY N FIRST: N events in one bulk request
    python3 -c 'import json,sys
n, first, now = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
print(json.dumps({"events": [{"eventData": {"timestamp": now, "action": "record.read", "status": "success",
    "principalId": "p%d" % (first + i), "targetResourceType": "Patient", "targetResourceId": "r-%d" % i,
    "dataClassification": "PHI"}} for i in range(n)]}))' "$2" "$3" "$now" >"$TEST_TMP/bulk.json"
    http POST /api/v1/audit/events/bulk -H "X-API-Key: $1" -H 'Content-Type: application/json' \
        --data-binary "@$TEST_TMP/bulk.json"
}
for i in 0 1 2 3 4 5; do
    bulk "$A_INGEST" 100 $((i * 100))
    [ "$HTTP_STATUS" = 201 ] || { not_ok "bulk $i: 201 (got $HTTP_STATUS)"; diag "$HTTP_BODY"; }
done
bulk "$B_INGEST" 5 0
expect_eq "600 events of org-a, 5 of org-b stored" "600|5" \
    "$(sql "SELECT count(*) FILTER (WHERE organization_id = 'org-a'), count(*) FILTER (WHERE organization_id = 'org-b') FROM audit_log")"

# in the tree within a second of the last acknowledgement (the integrator's goal)
t0=$(date +%s%N); size=0
while :; do
    http GET "/api/v1/audit/log/consistency?from=0&to=600" -H "X-API-Key: $A_VIEW"
    [ "$HTTP_STATUS" = 200 ] && break
    [ $(( ($(date +%s%N) - t0) / 1000000 )) -gt 5000 ] && break
    sleep 0.05
done
waited=$(( ($(date +%s%N) - t0) / 1000000 ))
expect_eq "org-a's tree reaches 600 leaves" 200 "$HTTP_STATUS"
check "…within a second of the last acknowledgement (${waited} ms)" test "$waited" -lt 1000
expect_eq "the answer states the tree" "0 600 600" "$(jbody '"%d %d %d" % (d["from"], d["to"], d["treeSize"])')"
tree_root=$(jbody 'd["treeRoot"]')

# a tlog-tiles client: every tile and bundle of size 600 (two full, a partial of 88 and a
# level-1 partial of 2), recomputed from the spec alone
root600=$(python3 tests/tools/tlog_tiles.py root "$BASE_URL" "$A_VIEW" 600 2>"$TEST_TMP/client.err")
expect_eq "the root recomputed from the tiles is the tree's" "$tree_root" "$root600"
[ -s "$TEST_TMP/client.err" ] && diag "$(cat "$TEST_TMP/client.err")"
root300=$(python3 tests/tools/tlog_tiles.py root "$BASE_URL" "$A_AUDIT" 300 2>&1)
http GET "/api/v1/audit/log/consistency?from=300&to=600" -H "X-API-Key: $A_AUDIT"
expect_eq "consistency 300 -> 600: 200 (auditor inherits viewer's audit.log:read)" 200 "$HTTP_STATUS"
expect_eq "…its roots are those the tiles give" "$root300 $root600" "$(jbody 'd["fromRoot"] + " " + d["toRoot"]')"
check "…its proof verifies (RFC 9162, Python)" python3 tests/tools/tlog_tiles.py consistency 300 600 \
    "$root300" "$root600" "$(jbody 'd["proof"]')"
root299=$(python3 tests/tools/tlog_tiles.py root "$BASE_URL" "$A_VIEW" 299 2>&1)
check "…and not for another size's root" sh -c "! python3 tests/tools/tlog_tiles.py consistency 300 600 '$root299' '$root600' '$(jbody 'd["proof"]')'"

# entries: the event's public id and content hash; leaf i is chain position i+1
curl -s -H "X-API-Key: $A_VIEW" "$BASE_URL/api/v1/audit/log/tile/entries/000" -o "$TEST_TMP/b0"
want=$(sql "SELECT '0030' || replace(event_id::text, '-', '') || hash FROM audit_log WHERE organization_id = 'org-a' AND chain_seq = 8")
expect_eq "entry 7 of bundle 0: length 48, event id, content hash of chain position 8" "$want" \
    "$(od -An -tx1 -v -j 350 -N 50 "$TEST_TMP/b0" | tr -d ' \n')"

# tiles as served
hdr=$(curl -s -D - -o "$TEST_TMP/t" -H "X-API-Key: $A_VIEW" "$BASE_URL/api/v1/audit/log/tile/0/001")
expect_match "a full tile: 200, octet-stream" "HTTP/1.1 200.*Content-Type: application/octet-stream" "$(printf '%s' "$hdr" | tr -d '\r' | tr '\n' ' ')"
expect_match "…cached for good, privately (it answers a key)" "Cache-Control: private, max-age=31536000, immutable" "$hdr"
expect_eq "…8,192 bytes" 8192 "$(wc -c <"$TEST_TMP/t" | tr -d ' ')"
http GET /api/v1/audit/log/tile/0/002.p/88 -H "X-API-Key: $A_VIEW"
expect_eq "the partial tile of 88: 200" 200 "$HTTP_STATUS"
curl -s -H "X-API-Key: $A_VIEW" "$BASE_URL/api/v1/audit/log/tile/0/002.p/40" -o "$TEST_TMP/p40"
curl -s -H "X-API-Key: $A_VIEW" "$BASE_URL/api/v1/audit/log/tile/0/002.p/88" -o "$TEST_TMP/p88"
expect_eq "a narrower partial tile (an older tree size) is the wider one's prefix" \
    "$(head -c 1280 "$TEST_TMP/p88" | od -An -tx1 | tr -d ' \n')" "$(od -An -tx1 <"$TEST_TMP/p40" | tr -d ' \n')"
http GET /api/v1/audit/log/tile/0/002.p/89 -H "X-API-Key: $A_VIEW"
expect_eq "a width beyond the tree: 404" 404 "$HTTP_STATUS"
expect_eq "…JSON error" "NOT_FOUND 89" "$(jbody 'd["error"]["code"] + " " + str(d["error"]["details"]["width"])')"
http GET /api/v1/audit/log/tile/0/002 -H "X-API-Key: $A_VIEW"
expect_eq "the full tile of a partial one: 404" 404 "$HTTP_STATUS"
# (counted in a file: a shell variable drops NUL bytes and trailing newlines of a binary body)
code=$(curl -s -o "$TEST_TMP/l1" -w '%{http_code}' -H "X-API-Key: $A_VIEW" "$BASE_URL/api/v1/audit/log/tile/1/000.p/2")
expect_eq "level 1, width 2: 200, 64 bytes" "200 64" "$code $(wc -c <"$TEST_TMP/l1" | tr -d ' ')"

# another organization sees its own tree only
http GET "/api/v1/audit/log/consistency?from=0&to=600" -H "X-API-Key: $B_VIEW"
expect_eq "org-b's key: org-a's size 600 is not there" "404 5" "$HTTP_STATUS $(jbody 'd["error"]["details"]["treeSize"]')"
http GET /api/v1/audit/log/tile/0/000 -H "X-API-Key: $B_VIEW"
expect_eq "org-b's key: org-a's full tile 0 is not there" 404 "$HTTP_STATUS"
rootb=$(python3 tests/tools/tlog_tiles.py root "$BASE_URL" "$B_VIEW" 5 2>&1)
http GET "/api/v1/audit/log/consistency?from=5&to=5" -H "X-API-Key: $B_VIEW"
expect_eq "org-b's own tree of 5, recomputed from its tiles" "$rootb 5" "$(jbody 'd["treeRoot"] + " " + str(d["treeSize"])')"
check "org-b's root is not org-a's" test "$rootb" != "$root600"

# refusals
http GET /api/v1/audit/log/tile/0/000
expect_eq "no key: 401" "401 UNAUTHORIZED" "$HTTP_STATUS $(jbody 'd["error"]["code"]')"
http GET /api/v1/audit/log/tile/0/000 -H "X-API-Key: $A_INGEST"
expect_eq "an ingest key: 403 naming the permission" "403 audit.log read" \
    "$HTTP_STATUS $(jbody 'd["error"]["details"]["resource"] + " " + d["error"]["details"]["action"]')"
field() { jbody 'str(d["error"]["details"]["errors"][0]["field"])'; }
for case in "64/000 level" "01/000 level" "x/000 level" "0/0001 index" "0/x000/001 index" \
    "0/001/ index" "0/000.p/0 width" "0/000.p/256 width" "0/000.p/07 width" "entries/1 index" \
    "entries/000.p/300 width"; do
    set -- $case
    http GET "/api/v1/audit/log/tile/$1" -H "X-API-Key: $A_VIEW"
    expect_eq "tile/$1: 400 naming $2" "400 $2" "$HTTP_STATUS $(field)"
done
for case in "to=5 from" "from=1 to" "from=x&to=5 from" "from=1&to=-5 to" \
    "from=6&to=5 from" "from=1&to=99999999999999999999 to"; do
    set -- $case
    http GET "/api/v1/audit/log/consistency?$1" -H "X-API-Key: $A_VIEW"
    expect_eq "consistency?$1: 400 naming $2" "400 $2" "$HTTP_STATUS $(field)"
done
http GET "/api/v1/audit/log/consistency?from=1&to=601" -H "X-API-Key: $A_VIEW"
expect_eq "consistency beyond the tree: 404 with its size" "404 600" "$HTTP_STATUS $(jbody 'd["error"]["details"]["treeSize"]')"
http GET "/api/v1/audit/log/consistency?from=1&to=2&size=3" -H "X-API-Key: $A_VIEW"
expect_eq "an unknown parameter: 400 naming it" "400 size" "$HTTP_STATUS $(field)"

stop_serve
finish
