# events_export.sh - the export, stream and statistics routes as @smedrec/audit-client calls
# them (docs/exports.md, docs/api.md): each answer held against the client's shapes
# (tests/tools/client_shapes.py), organization scoping, cancel, CSV formula injection, XML
# escaping, gzip, and a large export and stream in bounded server memory.
. tests/lib.sh

fresh_db t_exports
"$AUDITDB_BIN" migrate >/dev/null
key() { "$AUDITDB_BIN" keys create --org "$1" --role "$2" | sed -n 's/^key (shown once, store it now): //p'; }
KA=$(key org-a auditor); KB=$(key org-b auditor); KC=$(key org-c auditor); KV=$(key org-a viewer)
shapes() { python3 tests/tools/client_shapes.py "$@"; }

# org-a: 40 events over two days, some with what spreadsheets and XML parsers trip on
python3 -c '
import json
odd = {0: ("action", "=HYPERLINK(\"http://evil\",\"x\")"), 1: ("outcomeDescription", "+1+cmd|calc"),
       2: ("principalId", "@SUM(A1)"), 3: ("targetResourceId", "-2+3"),
       4: ("outcomeDescription", "\tTAB"), 5: ("outcomeDescription", "<a b=\"c\">&amp; \u0001 \u00e9\u20ac</a>")}
for i in range(40):
    e = {"timestamp": "2026-12-0%dT%02d:00:00.000Z" % (1 + i // 20, i % 20), "action": "record.read" if i % 2 else "record.update",
         "status": ["success", "failure", "attempt"][i % 3], "organizationId": "org-a", "principalId": "p-%d" % (i % 4),
         "targetResourceType": "Patient", "dataClassification": ["PHI", "INTERNAL"][i % 2]}
    if i in odd:
        e[odd[i][0]] = odd[i][1]
    print(json.dumps(e))' | "$AUDITDB_BIN" import --quiet - >/dev/null
python3 -c '
import json
for i in range(5):
    print(json.dumps({"timestamp": "2026-12-01T0%d:30:00.000Z" % i, "action": "b.secret", "status": "success",
                      "organizationId": "org-b", "principalId": "b-1", "targetResourceType": "Doc"}))' |
    "$AUDITDB_BIN" import --quiet - >/dev/null
# org-c: 8,000 events of about 5 KB each (some 45 MB written out), for the bounded-memory checks
python3 -c '
import json
pad = "x" * 5000
for i in range(8000):
    print(json.dumps({"timestamp": "2026-11-%02dT%02d:%02d:%02d.000Z" % (1 + i // 3600, i // 60 % 60 % 24, i // 60 % 60, i % 60),
                      "action": "bulk.read", "status": "success", "organizationId": "org-c",
                      "principalId": "c-%d" % (i % 7), "targetResourceType": "Row", "details": {"pad": pad, "n": i}}))' |
    "$AUDITDB_BIN" import --quiet - >/dev/null

# ASan keeps freed memory in quarantine (256 MB by default): a small one, so that RSS shows use
export ASAN_OPTIONS="${ASAN_OPTIONS:-}:quarantine_size_mb=4"
if ! start_serve "$TEST_TMP/serve.log"; then
    not_ok "serve starts"; diag "$(cat "$TEST_TMP/serve.log")"; finish
fi
ok "serve starts"
H="X-API-Key: $KA"
E=/api/v1/audit/events
get() { curl -s -o "$TEST_TMP/$1" -w '%{http_code}' "$BASE_URL$2" -H "X-API-Key: $3"; }
post() { curl -s -o "$TEST_TMP/$1" -w '%{http_code}' -X POST "$BASE_URL$2" -H "X-API-Key: $3" -H 'Content-Type: application/json' ${4:+-d "$4"}; }
jf() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); v=eval(sys.argv[2],{"d":d}); print(json.dumps(v) if isinstance(v,(dict,list,bool)) or v is None else v)' "$TEST_TMP/$1" "$2"; }
rss_kb() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$SERVE_PID/status"; }

# ---- stream --------------------------------------------------------------------------------
expect_eq "stream: 200 (was parsed as {id} and answered 400)" 200 "$(get s.ndjson "$E/stream?batchSize=100&format=ndjson" "$KA")"
expect_eq "stream: org-a's 40 events, each the client's event shape, none of another organization" "count 40" \
    "$(shapes events-ndjson "$TEST_TMP/s.ndjson" org-a)"
expect_eq "stream: content type NDJSON" "application/x-ndjson" \
    "$(curl -s -o /dev/null -w '%{content_type}' "$BASE_URL$E/stream" -H "$H")"
get page.json "$E?limit=40&sortDirection=asc" "$KA" >/dev/null
expect_eq "stream: the same ids and times, oldest first, as the list writes them" \
    "$(jf page.json '[[e["id"], e["timestamp"]] for e in d["events"]]')" \
    "$(python3 -c 'import json,sys; print(json.dumps([[json.loads(l)["id"], json.loads(l)["timestamp"]] for l in open(sys.argv[1])]))' "$TEST_TMP/s.ndjson")"
get s2.ndjson "$E/stream?actions=record.read&statuses=success,failure&startDate=2026-12-01T00:00:00Z&endDate=2026-12-01T23:59:59Z" "$KA" >/dev/null
expect_eq "stream: filters as the list takes them" "count 7" "$(shapes events-ndjson "$TEST_TMP/s2.ndjson" org-a)"
get sb.ndjson "$E/stream" "$KB" >/dev/null
expect_eq "stream: org-b's key sees org-b's 5 events only" "count 5" "$(shapes events-ndjson "$TEST_TMP/sb.ndjson" org-b)"
expect_eq "stream: naming another organization is 403" 403 "$(get x.json "$E/stream?organizationIds=org-b" "$KA")"
expect_eq "stream: a bad batchSize is 400 naming it" "400 batchSize" \
    "$(get x.json "$E/stream?batchSize=0" "$KA") $(jf x.json 'd["error"]["details"]["errors"][0]["field"]')"
get s.csv "$E/stream?format=csv" "$KA" >/dev/null
expect_eq "stream: format=csv, every cell safe from formula injection" "count 40" "$(shapes csv "$TEST_TMP/s.csv" org-a)"

# ---- statistics ------------------------------------------------------------------------------
R="startDate=2026-11-30T00:00:00.000Z&endDate=2026-12-03T00:00:00.000Z"
expect_eq "statistics: 200 (was parsed as {id} and answered 400)" 200 "$(get st.json "$E/statistics?$R&groupBy=day" "$KA")"
expect_eq "statistics: the client's shape, every breakdown adding up" "" "$(shapes statistics "$TEST_TMP/st.json")"
expect_eq "statistics: the counts" '40 {"attempt": 13, "success": 14, "failure": 13} {"PUBLIC": 0, "INTERNAL": 20, "CONFIDENTIAL": 0, "PHI": 20} 2' \
    "$(jf st.json '"%d %s %s %d" % (d["totalEvents"], json.dumps(d["eventsByStatus"]) if False else __import__("json").dumps(d["eventsByStatus"]), __import__("json").dumps(d["eventsByDataClassification"]), len(d["timeline"]))')"
expect_eq "statistics: eventsByResourceType (the client's schema requires it)" '{"Patient": 40}' \
    "$(jf st.json '__import__("json").dumps(d["eventsByResourceType"])')"
get stb.json "$E/statistics?$R&actions=b.secret" "$KA" >/dev/null
expect_eq "statistics: org-a's key counts none of org-b's events" 0 "$(jf stb.json 'd["totalEvents"]')"
get stb.json "$E/statistics?$R" "$KB" >/dev/null
expect_eq "statistics: org-b's key counts its own 5" 5 "$(jf stb.json 'd["totalEvents"]')"
expect_eq "statistics: without a range, 400 naming startDate" "400 startDate" \
    "$(get x.json "$E/statistics" "$KA") $(jf x.json 'd["error"]["details"]["errors"][0]["field"]')"
expect_eq "statistics: an hourly timeline of ten years is refused, 400 naming groupBy" "400 groupBy" \
    "$(get x.json "$E/statistics?startDate=2016-01-01T00:00:00Z&endDate=2026-01-01T00:00:00Z&groupBy=hour" "$KA") $(jf x.json 'd["error"]["details"]["errors"][0]["field"]')"

# ---- export: csv ------------------------------------------------------------------------------
expect_eq "export: a viewer key (no audit.events:export) is 403" 403 "$(post x.json "$E/export" "$KV" '{"format":"csv"}')"
expect_eq "export: a small one is written at once: 200" 200 "$(post x1.json "$E/export" "$KA" '{"format":"csv","compression":"none","includeMetadata":true,"chunkSize":10000,"includeHeaders":true}')"
expect_eq "export: the answer is the client's ExportResult, completed" "completed" \
    "$(shapes export-result "$TEST_TMP/x1.json")$(jf x1.json 'd["status"]')"
X1=$(jf x1.json 'd["exportId"]')
wait_done() { # wait_done ID KEY: polls the status until it has finished (at most 60 s)
    i=0
    while [ $i -lt 600 ]; do
        [ "$(get wd.json "$E/exports/$1/status" "$2")" = 200 ] || return 1
        case $(jf wd.json 'd.get("status")') in completed|failed) return 0 ;; esac
        sleep 0.1; i=$((i + 1))
    done
    return 1
}
check "export: completed" wait_done "$X1" "$KA"
get st1.json "$E/exports/$X1/status" "$KA" >/dev/null
expect_eq "export status: the client's shape" "" "$(shapes export-status "$TEST_TMP/st1.json")"
expect_eq "export status: completed, 40 records, 100 %" "completed 40 100" \
    "$(jf st1.json '"%s %d %d" % (d["status"], d["recordCount"], d["progress"])')"
hdr=$(curl -s -D - -o "$TEST_TMP/x1.csv" "$BASE_URL$E/exports/$X1/download?format=csv" -H "$H" | tr -d '\r')
expect_match "download: 200, text/csv, as an attachment" 'Content-Type: text/csv' "$hdr"
expect_match "download: its length said" "Content-Length: $(jf st1.json 'd["dataSize"]')" "$hdr"
expect_eq "download: the checksum the status gives" "$(jf st1.json 'd["checksum"]')" \
    "$(sha256sum "$TEST_TMP/x1.csv" | cut -d' ' -f1)"
expect_eq "download: 40 rows of org-a, every cell safe from formula injection" "count 40" \
    "$(shapes csv "$TEST_TMP/x1.csv" org-a)"
expect_eq "download: the formulas kept as text (quote-prefixed)" \
    "'=HYPERLINK(\"http://evil\",\"x\") '+1+cmd|calc '@SUM(A1) '-2+3 '	TAB" \
    "$(python3 -c '
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
by = {r["id"]: r for r in rows}
first = rows[0]
print(" ".join([rows[0]["action"], rows[1]["outcomeDescription"], rows[2]["principalId"], rows[3]["targetResourceId"], rows[4]["outcomeDescription"]]))' "$TEST_TMP/x1.csv")"
expect_eq "download: asking for another format than written is 400 naming format" "400 format" \
    "$(get x.json "$E/exports/$X1/download?format=json" "$KA") $(jf x.json 'd["error"]["details"]["errors"][0]["field"]')"
expect_eq "…FORMAT_MISMATCH, the export's own format in details.exportFormat, named in the message" \
    "FORMAT_MISMATCH csv True" \
    "$(jf x.json '"%s %s %s" % (d["error"]["details"]["errors"][0]["code"], d["error"]["details"]["exportFormat"], "format=csv" in d["error"]["message"])')"
# without format (what a caller who did not name one means): the export's own, CSV here
hdr=$(curl -s -D - -o "$TEST_TMP/x1b.csv" "$BASE_URL$E/exports/$X1/download" -H "$H" | tr -d '\r')
expect_match "download without format: 200, the export's own format (text/csv)" 'Content-Type: text/csv' "$hdr"
expect_eq "download without format: the same bytes as with format=csv" "$(sha256sum <"$TEST_TMP/x1.csv")" \
    "$(sha256sum <"$TEST_TMP/x1b.csv")"

# ---- export: org scoping --------------------------------------------------------------------
expect_eq "org-b's key: org-a's export status is 404" 404 "$(get x.json "$E/exports/$X1/status" "$KB")"
expect_eq "org-b's key: org-a's export download is 404" 404 "$(get x.json "$E/exports/$X1/download" "$KB")"
expect_eq "org-b's key: org-a's export cancel is 404" 404 "$(post x.json "$E/exports/$X1/cancel" "$KB")"
expect_eq "an export filter naming another organization is 403" 403 \
    "$(post x.json "$E/export" "$KA" '{"format":"json","filter":{"organizationIds":["org-b"]}}')"
post xb.json "$E/export" "$KB" '{"format":"json","compression":"none"}' >/dev/null
XB=$(jf xb.json 'd["exportId"]')
wait_done "$XB" "$KB"
get xb.out "$E/exports/$XB/download" "$KB" >/dev/null
expect_eq "org-b's export holds org-b's 5 events only" "count 5" "$(shapes events-json "$TEST_TMP/xb.out" org-b)"

# ---- export: json + gzip (the client's defaults), xml ---------------------------------------
post x2.json "$E/export" "$KA" '{"format":"json","filter":{"dataClassifications":["PHI"],"dateRange":{"startDate":"2026-12-01T00:00:00.000Z","endDate":"2026-12-02T23:00:00.000Z"}},"includeMetadata":true,"compression":"gzip","chunkSize":10000,"includeHeaders":true}' >/dev/null
X2=$(jf x2.json 'd["exportId"]')
wait_done "$X2" "$KA"
expect_eq "json export: gzip-compressed" "application/gzip" \
    "$(curl -s -o "$TEST_TMP/x2.gz" -w '%{content_type}' "$BASE_URL$E/exports/$X2/download" -H "$H")"
gunzip -c "$TEST_TMP/x2.gz" >"$TEST_TMP/x2.out" 2>/dev/null
expect_eq "json export: valid UTF-8 JSON, the 20 PHI events in the client's event shape" "count 20" \
    "$(shapes events-json "$TEST_TMP/x2.out" org-a)"
post x3.json "$E/export" "$KA" '{"format":"xml","compression":"none","includeMetadata":false}' >/dev/null
X3=$(jf x3.json 'd["exportId"]')
wait_done "$X3" "$KA"
get x3.xml "$E/exports/$X3/download" "$KA" >/dev/null
expect_eq "xml export: well-formed, 40 events" "count 40" "$(shapes xml "$TEST_TMP/x3.xml" org-a)"
expect_eq "xml export: markup in values escaped, a control character replaced" \
    "$(printf '<a b="c">&amp; \357\277\275 \303\251\342\202\254</a>')" \
    "$(python3 -c '
import sys, xml.etree.ElementTree as ET
for e in ET.parse(sys.argv[1]).getroot():
    if e.findtext("outcomeDescription", "").startswith("<a"):
        print(e.findtext("outcomeDescription"))' "$TEST_TMP/x3.xml")"
expect_eq "xml export: includeMetadata false leaves the hashes out" 0 "$(grep -c '<hash>' "$TEST_TMP/x3.xml")"

# ---- refusals -------------------------------------------------------------------------------
for c in 'pdf:{"format":"pdf"}:format' 'zip:{"format":"csv","compression":"zip"}:compression' \
         'encrypted:{"format":"csv","encryption":{"enabled":true}}:encryption.enabled' \
         'unknown member:{"format":"csv","colour":1}:colour' 'no format:{}:format' \
         'a bad date:{"format":"csv","filter":{"dateRange":{"startDate":"yesterday","endDate":"2026-12-01T00:00:00Z"}}}:filter.dateRange.startDate'; do
    name=${c%%:*}; rest=${c#*:}; field=${rest##*:}; body=${rest%:*}
    expect_eq "export refused, 400 naming the field: $name" "400 $field" \
        "$(post x.json "$E/export" "$KA" "$body") $(jf x.json 'd["error"]["details"]["errors"][0]["field"]')"
done

# ---- cancel ---------------------------------------------------------------------------------
# the peak memory of the server from here on: the big exports, download and stream
echo 5 >"/proc/$SERVE_PID/clear_refs" 2>/dev/null || echo "skip - could not reset the peak RSS"
before=$(rss_kb)
# A session holding a SHARE lock on the chunks stops the worker at its first chunk: the job it
# writes stays processing and every later one pending, whatever the machine's speed.
psql "$AUDIT_DB_URL application_name=export_test_lock" -qAtX -c BEGIN \
    -c "LOCK TABLE audit_export_chunk IN SHARE MODE" -c "SELECT pg_sleep(60)" >/dev/null 2>&1 &
LOCKER=$!
i=0
while [ $i -lt 100 ] && [ "$(sql "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'export_test_lock' AND l.mode = 'ShareLock' AND l.granted")" != 1 ]; do
    sleep 0.05; i=$((i + 1))
done
expect_eq "an export not written within the POST's second: answered 202, pending" "202 pending" \
    "$(post run.json "$E/export" "$KC" '{"format":"json","compression":"gzip"}') $(jf run.json 'd["status"]')"
expect_eq "…the client's ExportResult" "" "$(shapes export-result "$TEST_TMP/run.json")"
expect_eq "…and the next one waits, 202 pending" "202 pending" \
    "$(post pend.json "$E/export" "$KC" '{"format":"csv","compression":"none"}') $(jf pend.json 'd["status"]')"
RUN=$(jf run.json 'd["exportId"]'); PEND=$(jf pend.json 'd["exportId"]')
expect_eq "cancel of a pending export: 200, failed and cancelled at once" "200 failed true" \
    "$(post c.json "$E/exports/$PEND/cancel" "$KC") $(jf c.json 'd["status"]') $(jf c.json 'd.get("cancelled")')"
expect_eq "cancel of a running export: 202, cancel requested" "202 processing true" \
    "$(post c.json "$E/exports/$RUN/cancel" "$KC") $(jf c.json 'd["status"]') $(jf c.json 'd.get("cancelRequested")')"
sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'export_test_lock'" >/dev/null
wait "$LOCKER" 2>/dev/null
check "…the running export stops" wait_done "$RUN" "$KC"
expect_eq "…failed and cancelled, its chunks removed" "failed true 0" \
    "$(jf wd.json 'd["status"]') $(jf wd.json 'd.get("cancelled")') $(sql "SELECT count(*) FROM audit_export_chunk WHERE export_id = '$RUN'")"
expect_eq "…the pending one stayed cancelled: never written" "cancelled 0" \
    "$(sql "SELECT state, chunk_count FROM audit_export WHERE id = '$PEND'" | tr '|' ' ')"
expect_eq "…its download is 409 EXPORT_FAILED" "409 EXPORT_FAILED" \
    "$(get x.json "$E/exports/$PEND/download" "$KC") $(jf x.json 'd["error"]["code"]')"
post x4.json "$E/export" "$KA" '{"format":"json"}' >/dev/null
X4=$(jf x4.json 'd["exportId"]')
wait_done "$X4" "$KA"
expect_eq "cancel of a completed export: 200, its file discarded before it expires" "200 true 0" \
    "$(post c.json "$E/exports/$X4/cancel" "$KA") $(jf c.json 'd.get("cancelled")') $(sql "SELECT count(*) FROM audit_export_chunk WHERE export_id = '$X4'")"
expect_eq "…its download is then 409, the ledger row kept" "409 1" \
    "$(get x.json "$E/exports/$X4/download" "$KA") $(sql "SELECT count(*) FROM audit_export WHERE id = '$X4'")"
expect_eq "…and cancelling again changes nothing: 200" "200 failed" \
    "$(post c.json "$E/exports/$X4/cancel" "$KA") $(jf c.json 'd["status"]')"

# ---- bounded memory: 45 MB exported, downloaded and streamed (read slowly) ------------------
post big2.json "$E/export" "$KC" '{"format":"json","compression":"none"}' >/dev/null
BIG=$(jf big2.json 'd["exportId"]')
wait_done "$BIG" "$KC"
sz=$(curl -s --limit-rate 20M "$BASE_URL$E/exports/$BIG/download" -H "X-API-Key: $KC" | wc -c)
expect_eq "big export: the whole file downloaded" "$(sql "SELECT data_size FROM audit_export WHERE id = '$BIG'")" "$sz"
expect_match "big export: more than 40 MB" '^[4-9][0-9]{7}$' "$sz"
curl -s --limit-rate 20M "$BASE_URL$E/stream" -H "X-API-Key: $KC" >"$TEST_TMP/big.ndjson"
expect_eq "big stream: every one of the 8,000 events" "count 8000" "$(shapes events-ndjson "$TEST_TMP/big.ndjson" org-c)"
after=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$SERVE_PID/status")
grow=$(( (after - before) / 1024 ))
expect_eq "server memory: the peak grew by less than 32 MB while 45 MB were exported, downloaded and streamed (grew ${grow} MB)" \
    yes "$([ "$grow" -lt 32 ] && echo yes || echo no)"

# ---- self-audit ---------------------------------------------------------------------------------
sleep 0.5
expect_eq "self-audit: each export request, download and cancel is a security event of its organization" "yes yes yes" \
    "$([ "$(sql "SELECT count(*) FROM security_events WHERE event_type = 'audit_export_requested' AND organization_id = 'org-a'")" -ge 3 ] && echo yes) $([ "$(sql "SELECT count(*) FROM security_events WHERE event_type = 'audit_export_downloaded' AND organization_id = 'org-a'")" -ge 2 ] && echo yes) $([ "$(sql "SELECT count(*) FROM security_events WHERE event_type = 'audit_export_cancelled' AND organization_id = 'org-c'")" -ge 2 ] && echo yes)"
expect_eq "self-audit: the ledger keeps who asked" "$(sql "SELECT count(*) FROM audit_export WHERE organization_id = 'org-a'")" \
    "$(sql "SELECT count(*) FROM audit_export WHERE organization_id = 'org-a' AND requested_by <> '' AND request_id IS NOT NULL")"
expect_eq "self-audit: a tenant session may not delete the ledger or a file" "f f" \
    "$(sql "SELECT has_table_privilege('auditdb_app', 'audit_export', 'DELETE'), has_table_privilege('auditdb_app', 'audit_export_chunk', 'DELETE')" | tr '|' ' ')"
expect_match "self-audit: org-b asking for org-a's export is a cross-tenant probe" '^[1-9]' \
    "$(sql "SELECT count(*) FROM security_events WHERE event_type = 'cross_tenant_probe' AND organization_id = 'org-b'")"

# at most 32 streams and downloads at once: each holds a page or a chunk
pids=""
for n in $(seq 1 32); do
    curl -s --limit-rate 1K "$BASE_URL$E/stream" -H "X-API-Key: $KC" -o "$TEST_TMP/slow.$n" &
    pids="$pids $!"
done
i=0
while [ $i -lt 200 ] && [ "$(for n in $(seq 1 32); do [ -s "$TEST_TMP/slow.$n" ] && echo x; done | wc -l)" -lt 32 ]; do
    sleep 0.05; i=$((i + 1))
done
expect_eq "a 33rd stream while 32 are read: 503 SERVER_BUSY with Retry-After" "503 SERVER_BUSY" \
    "$(get x.json "$E/stream" "$KA") $(jf x.json 'd["error"]["code"]')"
kill $pids 2>/dev/null
wait $pids 2>/dev/null
i=0
while [ $i -lt 100 ] && [ "$(get x.json "$E/stream" "$KA")" != 200 ]; do sleep 0.05; i=$((i + 1)); done
expect_eq "…and once they are gone, streams are served again" 200 "$(get x.json "$E/stream" "$KA")"

# readers that go away mid-answer, and one still reading at shutdown
curl -s --limit-rate 200K --max-time 1 "$BASE_URL$E/stream" -H "X-API-Key: $KC" >/dev/null
curl -s --limit-rate 200K --max-time 1 "$BASE_URL$E/exports/$BIG/download" -H "X-API-Key: $KC" >/dev/null
expect_eq "readers that went away mid-answer: the server still answers" 200 \
    "$(get x.json "$E/statistics?$R" "$KA")"
curl -s --limit-rate 100K "$BASE_URL$E/stream" -H "X-API-Key: $KC" >/dev/null 2>&1 &
slow=$!
sleep 0.5
stop_serve TERM; rc=$?
wait "$slow" 2>/dev/null
expect_eq "SIGTERM with a stream being read: exit 0 (no sanitizer report)" 0 "$rc"
finish
