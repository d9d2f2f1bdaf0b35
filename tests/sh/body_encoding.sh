# body_encoding.sh - request bodies with a Content-Encoding, as smart-logs'
# client sends them (docs/http.md, "Compressed request bodies"): gzip and
# deflate bodies stored exactly as the plain one; the client's own form (the
# gzip bytes written as a JSON object of bytes); the limits on the decoded
# size (a decompression bomb gets 413 without inflating it, RSS bounded);
# corrupt data 400; an unsupported coding 415 naming it.
. tests/lib.sh

fresh_db t_body_encoding
"$AUDITDB_BIN" migrate >/dev/null
KEY=$(newkey org-a admin)
export AUDITDB_MAX_BODY_BYTES=1048576
if ! start_serve "$TEST_TMP/serve.log"; then
    not_ok "serve starts"; diag "$(cat "$TEST_TMP/serve.log")"; finish
fi
ok "serve starts"

# an event of about 2 KiB (the client compresses from 1 KiB), marked by its action
now=$(date -u -d '-5 minutes' +%Y-%m-%dT%H:%M:%S.000Z)
event() {
    python3 -c 'import json,sys
pad = "".join(chr(97 + (i * 7) % 26) for i in range(1800))
print(json.dumps({"eventData": {"timestamp": sys.argv[1], "action": sys.argv[2], "status": "success",
      "principalId": "doc-1", "targetResourceType": "Patient", "targetResourceId": "p-1",
      "dataClassification": "PHI", "details": {"note": pad, "n": 1.50, "why": "treatment é"}}},
      ensure_ascii=False, separators=(",", ":")), end="")' "$now" "$1"
}
# encode MODE < plain > encoded: gzip, deflate (zlib), client (the client's byte object)
encode() {
    python3 -c 'import sys, zlib, gzip, json
data = sys.stdin.buffer.read()
m = sys.argv[1]
if m == "gzip": out = gzip.compress(data)
elif m == "gzip2": out = gzip.compress(data[:100]) + gzip.compress(data[100:])
elif m == "deflate": out = zlib.compress(data)
elif m == "client": out = json.dumps({str(i): b for i, b in enumerate(gzip.compress(data))}, separators=(",", ":")).encode()
sys.stdout.buffer.write(out)' "$1"
}
send() { # send FILE [CURL ARGS...]
    f=$1; shift
    http POST /api/v1/audit/events -H "X-API-Key: $KEY" -H 'Content-Type: application/json' "$@" --data-binary "@$f"
}
# the stored event, everything but what the chain and the server add
stored() {
    sql "SELECT \"timestamp\", principal_id, action, target_resource_type, target_resource_id, status,
                data_classification, details::text FROM audit_log WHERE action = '$1'"
}

event enc.plain >"$TEST_TMP/plain.json"
send "$TEST_TMP/plain.json"
expect_eq "plain body: 201" 201 "$HTTP_STATUS"
want=$(stored enc.plain)
for mode in gzip gzip2 deflate client; do
    event "enc.$mode" | encode "$mode" >"$TEST_TMP/$mode.bin"
    case $mode in deflate) ce=deflate ;; *) ce=gzip ;; esac
    send "$TEST_TMP/$mode.bin" -H "Content-Encoding: $ce"
    expect_eq "$mode body: 201" 201 "$HTTP_STATUS"
    expect_eq "$mode body: stored exactly as the plain one" \
        "$want" "$(stored "enc.$mode" | sed "s/enc\.$mode/enc.plain/")"
done
check "the client's form is larger than the plain body (it is what the client really sends)" \
    test "$(wc -c <"$TEST_TMP/client.bin")" -gt "$(wc -c <"$TEST_TMP/gzip.bin")"

# chunked too (the decoded body grows as it is decoded)
event enc.chunked | encode gzip >"$TEST_TMP/chunked.bin"
send "$TEST_TMP/chunked.bin" -H 'Content-Encoding: gzip' -H 'Transfer-Encoding: chunked'
expect_eq "gzip body, chunked: 201" 201 "$HTTP_STATUS"
expect_eq "gzip body, chunked: stored as the plain one" "$want" "$(stored enc.chunked | sed 's/enc\.chunked/enc.plain/')"

# bulk, compressed
python3 -c 'import json,gzip,sys
ev = lambda i: {"timestamp": sys.argv[1], "action": "enc.bulk", "status": "success", "principalId": "u-%d" % i,
                "details": {"pad": "x" * 200}}
sys.stdout.buffer.write(gzip.compress(json.dumps({"events": [ev(i) for i in range(20)]}).encode()))' "$now" >"$TEST_TMP/bulk.bin"
http POST /api/v1/audit/events/bulk -H "X-API-Key: $KEY" -H 'Content-Type: application/json' \
    -H 'Content-Encoding: gzip' --data-binary "@$TEST_TMP/bulk.bin"
expect_eq "gzip bulk: 201" 201 "$HTTP_STATUS"
expect_eq "gzip bulk: 20 events stored" 20 "$(sql "SELECT count(*) FROM audit_log WHERE action = 'enc.bulk'")"

# corrupt data: 400 INVALID_CONTENT_ENCODING, nothing stored
head -c 200 "$TEST_TMP/gzip.bin" >"$TEST_TMP/cut.bin"
python3 -c 'import sys; d = bytearray(open(sys.argv[1], "rb").read()); d[40] ^= 0xff; d[41] ^= 0x55
sys.stdout.buffer.write(bytes(d))' "$TEST_TMP/gzip.bin" >"$TEST_TMP/flipped.bin"
printf '%s' '{"0":31,"2":139}' >"$TEST_TMP/badobject.bin"
cp "$TEST_TMP/plain.json" "$TEST_TMP/notgzip.json"
for bad in cut flipped badobject; do
    send "$TEST_TMP/$bad.bin" -H 'Content-Encoding: gzip'
    expect_eq "corrupt gzip ($bad): 400" 400 "$HTTP_STATUS"
    expect_eq "corrupt gzip ($bad): INVALID_CONTENT_ENCODING" INVALID_CONTENT_ENCODING "$(jbody 'd["error"]["code"]')"
done
expect_match "corrupt gzip: the message says why" 'not valid gzip|neither gzip' "$(jbody 'd["error"]["message"]')"
send "$TEST_TMP/plain.json" -H 'Content-Encoding: deflate'
expect_eq "plain JSON labelled deflate: 400 INVALID_CONTENT_ENCODING" "400 INVALID_CONTENT_ENCODING" "$HTTP_STATUS $(jbody 'd["error"]["code"]')"
expect_eq "nothing stored by the refusals" 0 "$(sql "SELECT count(*) FROM audit_log WHERE action NOT IN ('enc.plain','enc.gzip','enc.gzip2','enc.deflate','enc.client','enc.chunked','enc.bulk')")"

# an unsupported coding: 415 naming it, and which ones are accepted
hdr=$(curl -s -D - -o "$TEST_TMP/415.json" -H "X-API-Key: $KEY" -H 'Content-Type: application/json' \
    -H 'Content-Encoding: br' --data-binary "@$TEST_TMP/plain.json" "$BASE_URL/api/v1/audit/events")
expect_match "br: 415" '^HTTP/1.1 415' "$hdr"
expect_eq "br: UNSUPPORTED_CONTENT_ENCODING naming br" "UNSUPPORTED_CONTENT_ENCODING br" \
    "$(json 'd["error"]["code"] + " " + d["error"]["details"]["contentEncoding"]' <"$TEST_TMP/415.json")"
expect_match "br: Accept-Encoding says what is accepted" 'Accept-Encoding: gzip, deflate' "$hdr"
send "$TEST_TMP/gzip.bin" -H 'Content-Encoding: gzip, gzip'
expect_eq "two codings: 415" 415 "$HTTP_STATUS"
send "$TEST_TMP/plain.json" -H 'Content-Encoding: identity'
expect_eq "identity: taken as plain" 201 "$HTTP_STATUS"
http POST /api/v1/audit/events -H 'Content-Encoding: br' --data-binary "@$TEST_TMP/plain.json"
expect_eq "no key: 401 before the coding is looked at" 401 "$HTTP_STATUS"

# a decompression bomb: 512 MiB of zeros in about 500 KiB of gzip, under the
# 1 MiB body limit on the wire: refused with 413 once the decoded body
# passes 1 MiB, never inflated further; RSS stays bounded
python3 -c 'import zlib,sys
c = zlib.compressobj(9, zlib.DEFLATED, 31); z = bytes(1 << 20)
sys.stdout.buffer.write(b"".join([c.compress(z) for _ in range(512)]) + c.flush())' >"$TEST_TMP/bomb.bin"
check "the bomb fits the 1 MiB body limit on the wire" test "$(wc -c <"$TEST_TMP/bomb.bin")" -lt 1048576
rss() { awk '/^VmRSS/ {print $2}' "/proc/$SERVE_PID/status"; }
before=$(rss)
peak=$before
(
    for i in 1 2 3 4; do send "$TEST_TMP/bomb.bin" -H 'Content-Encoding: gzip' & done
    wait; touch "$TEST_TMP/bombs.done"
) &
bombs=$!
n=0
while [ ! -e "$TEST_TMP/bombs.done" ] && [ $n -lt 600 ]; do
    r=$(rss); [ "$r" -gt "$peak" ] && peak=$r; sleep 0.05; n=$((n + 1))
done
wait "$bombs" # not a bare wait: serve is a child too
send "$TEST_TMP/bomb.bin" -H 'Content-Encoding: gzip'
expect_eq "bomb: 413 PAYLOAD_TOO_LARGE" "413 PAYLOAD_TOO_LARGE" "$HTTP_STATUS $(jbody 'd["error"]["code"]')"
grew=$(( (peak - before) / 1024 ))
check "bomb: RSS grew by at most 64 MB while 4 were refused (grew $grew MB)" test "$grew" -le 64
send "$TEST_TMP/gzip.bin" -H 'Content-Encoding: gzip'
expect_eq "after the bombs: a gzip body is still taken" 201 "$HTTP_STATUS"

stop_serve
finish
