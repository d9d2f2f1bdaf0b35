# protocol.sh - malformed requests get an immediate, precise answer in the
# API's JSON shape (issue 14, items 5, 6, 7): invalid UTF-8 and NUL in query
# values and path segments, repeated and unknown query parameters, error
# field paths cut inside a UTF-8 sequence, unsupported Transfer-Encoding,
# request lines and heads around 64 KiB.
. tests/lib.sh

fresh_db t_protocol
"$AUDITDB_BIN" migrate >/dev/null
key=$("$AUDITDB_BIN" keys create --org org-a --role admin | sed -n 's/^key (shown once, store it now): //p')
if ! start_serve "$TEST_TMP/serve.log"; then not_ok "serve starts"; diag "$(cat "$TEST_TMP/serve.log")"; finish; fi
ok "serve starts"
port=${BASE_URL##*:}

# expect_400 NAME PATH FIELD CODE: GET PATH answers 400 VALIDATION_ERROR
# naming FIELD with CODE
expect_400() {
    http GET "$2" -H "X-API-Key: $key"
    got=$(printf '%s' "$HTTP_BODY" | json '[d["error"]["code"], d["error"]["details"]["errors"][0]["field"], d["error"]["details"]["errors"][0]["code"]]' 2>/dev/null)
    expect_eq "$1" "400 [\"VALIDATION_ERROR\", \"$3\", \"$4\"]" "$HTTP_STATUS $got"
}

# item 5: invalid UTF-8 is the client's error, never a 503
expect_400 "invalid UTF-8 in a filter value: 400 naming it" '/api/v1/audit/events?actions=%ff%fe' actions INVALID_ENCODING
expect_400 "invalid UTF-8 in a date value: 400 naming it" '/api/v1/audit/events?startDate=2026%c3' startDate INVALID_ENCODING
expect_400 "invalid UTF-8 in an archive id: 400 naming id" '/api/v1/archives/%ff%fe/events' id INVALID_ENCODING

out=$(python3 - "$port" "$key" <<'PY'
import socket, sys
body = (b'{"eventData":{"action":"a.b","status":"success","principalId":"u",'
        b'"targetResourceType":"t","targetResourceId":"r"}}')
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"POST /api/v1/audit/events HTTP/1.1\r\nHost: x\r\nX-API-Key: %s\r\n"
          b"Idempotency-Key: k\xff\xfe\r\nContent-Type: application/json\r\n"
          b"Content-Length: %d\r\n\r\n" % (sys.argv[2].encode(), len(body)) + body)
print(s.recv(200).split(b" ")[1].decode())
PY
)
expect_eq "invalid UTF-8 in Idempotency-Key: 400, not 503" 400 "$out"

# item 5: every answer is valid UTF-8 JSON, also when an error's field path
# (64 bytes) or message ("%.40s") cuts a name inside a UTF-8 sequence
out=$(python3 - "$BASE_URL" "$key" <<'PY'
import json, sys, urllib.request, urllib.error
base, key = sys.argv[1], sys.argv[2]
deep = {"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}}
ev = {"action": "a.b", "status": "success", "principalId": "u", "targetResourceType": "t",
      "targetResourceId": "r"}
bad = dict(ev, details={"é" * 40: deep})
for body in ({"events": [ev, bad], "continueOnError": True}, {"events": [bad]}):
    req = urllib.request.Request(base + "/api/v1/audit/events/bulk", data=json.dumps(body).encode(),
                                 headers={"X-API-Key": key, "Content-Type": "application/json"})
    try:
        r = urllib.request.urlopen(req); status, raw = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    try:
        d = json.loads(raw.decode("utf-8"))
        errs = [r for r in d["results"] if not r["success"]][0]["errors"] if status == 201 else d["error"]["details"]["errors"]
        print(status, "valid", len(errs) > 0 and errs[0]["field"].startswith(("details.é", "events[0].details.é")))
    except Exception as e:
        print(status, "invalid", type(e).__name__)
PY
)
expect_eq "201 bulk with a cut field path: valid UTF-8 JSON naming the field" "201 valid True" "$(echo "$out" | sed -n 1p)"
expect_eq "400 bulk with a cut field path: valid UTF-8 JSON naming the field" "400 valid True" "$(echo "$out" | sed -n 2p)"

# item 6: a NUL routes nowhere: 400 naming the path (it was served as a create)
before=$(sql 'SELECT count(*) FROM audit_log')
http POST '/api/v1/audit/events%00/bulk' -H "X-API-Key: $key" -H 'Content-Type: application/json' \
    --data '{"events":[{"action":"a.b","status":"success","principalId":"u","targetResourceType":"t","targetResourceId":"r"}]}'
expect_eq "%00 in the path: 400 naming path" "400 path INVALID_CHARACTER" \
    "$HTTP_STATUS $(jbody 'd["error"]["details"]["errors"][0]["field"]') $(jbody 'd["error"]["details"]["errors"][0]["code"]')"
expect_eq "%00 in the path: nothing stored" "$before" "$(sql 'SELECT count(*) FROM audit_log')"
sleep 0.2
expect_match "%00 in the path: the access log has the whole path" '"path":"/api/v1/audit/events%00/bulk"' "$(cat "$TEST_TMP/serve.log")"
expect_400 "NUL in a filter value: 400 naming it" '/api/v1/audit/events?principalIds=u%00x' principalIds INVALID_CHARACTER
expect_400 "a repeated query parameter: 400 naming it" '/api/v1/audit/events?limit=1&limit=500' limit DUPLICATE_PARAMETER
expect_400 "a repeated filter: 400 naming it" '/api/v1/audit/events?actions=a&actions=b' actions DUPLICATE_PARAMETER
expect_400 "an unknown query parameter: 400 naming it" '/api/v1/audit/events?action=a.b' action UNKNOWN_PARAMETER
expect_400 "an unknown parameter of the archives list: 400 naming it" '/api/v1/archives?page=2' page UNKNOWN_PARAMETER
http GET '/api/v1/audit/events?actions=a.b&limit=5&verifiedOnly=true' -H "X-API-Key: $key"
expect_eq "known parameters still work" 200 "$HTTP_STATUS"

# item 7: raw requests; each must be answered (not closed, not left waiting)
# within 3 s, with the API's JSON error shape
raw() {
    python3 - "$port" "$1" <<'PY'
import json, socket, sys, time
port, kind = int(sys.argv[1]), sys.argv[2]
if kind.startswith("te:"):
    req = ("POST /api/v1/audit/events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: %s\r\n"
           "Content-Type: application/json\r\n\r\n" % kind[3:]).encode()
elif kind.startswith("line:"):
    n = int(kind[5:])
    req = b"GET /live?" + b"a" * (n - len(b"GET /live? HTTP/1.1\r\n")) + b" HTTP/1.1\r\nHost: x\r\n\r\n"
elif kind.startswith("head:"):
    n = int(kind[5:])
    base = b"GET /live HTTP/1.1\r\nHost: x\r\nX-A: \r\n\r\n"
    req = base.replace(b"X-A: ", b"X-A: " + b"a" * (n - len(base)))
elif kind.startswith("bytes:"):
    req = kind[6:].encode().decode("unicode_escape").encode("latin-1")
elif kind == "te+cl":
    req = (b"POST /api/v1/audit/events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
           b"Content-Length: 5\r\n\r\n0\r\n\r\n")
s = socket.create_connection(("127.0.0.1", port), timeout=3)
t = time.time()
try:
    s.sendall(req)
    d = b""
    while b"\r\n\r\n" not in d or len(d) < d.index(b"\r\n\r\n") + 4 + int(
            d.split(b"ontent-Length: ")[1].split(b"\r\n")[0] if b"ontent-Length: " in d else 0):
        x = s.recv(65536)
        if not x:
            break
        d += x
    head, _, body = d.partition(b"\r\n\r\n")
    status = head.split(b" ")[1].decode() if head else "closed"
    try:
        code = json.loads(body)["error"]["code"]
    except Exception:
        code = "not-json"
    print(status, code)
except socket.timeout:
    print("no-answer", "after-3s")
PY
}
for te in identity gzip 'chunked, gzip' 'gzip, chunked'; do
    expect_eq "Transfer-Encoding: $te: 501 in JSON at once" "501 UNSUPPORTED_TRANSFER_ENCODING" "$(raw "te:$te")"
done
expect_eq "Transfer-Encoding with Content-Length: 400 in JSON" "400 BAD_REQUEST" "$(raw te+cl)"
# the two bands that closed or hung, their edges, and sizes around them
for n in 65153 65250 65333 65400 65473 65500 65553 70000 131000 131100 200000; do
    expect_eq "request line of $n bytes: 414 in JSON at once" "414 URI_TOO_LONG" "$(raw "line:$n")"
    expect_eq "request head of $n bytes: 431 in JSON at once" "431 HEADERS_TOO_LARGE" "$(raw "head:$n")"
done
# what libmicrohttpd answered itself in HTML, or by closing, before any
# callback: the first head of a connection is now checked before it has it
expect_eq "HTTP/2.0 request line: 505 in JSON" "505 HTTP_VERSION_NOT_SUPPORTED" \
    "$(raw 'bytes:GET /live HTTP/2.0\r\nHost: x\r\n\r\n')"
expect_eq "a request line without a version: 400 in JSON (was: closed)" "400 BAD_REQUEST" \
    "$(raw 'bytes:GARBAGE\r\n\r\n')"
expect_eq "a header line without a colon: 400 in JSON" "400 BAD_REQUEST" \
    "$(raw 'bytes:GET /live HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n')"
expect_eq "Content-Length not a number: 400 in JSON" "400 BAD_REQUEST" \
    "$(raw 'bytes:POST /api/v1/audit/events HTTP/1.1\r\nHost: x\r\nContent-Length: 12abc\r\n\r\n')"
expect_eq "Content-Length above 2^64: 413 in JSON" "413 PAYLOAD_TOO_LARGE" \
    "$(raw 'bytes:POST /api/v1/audit/events HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n')"
expect_eq "150 header fields: 431 in JSON" "431 HEADERS_TOO_LARGE" \
    "$(raw "bytes:GET /live HTTP/1.1\\r\\nHost: x\\r\\n$(printf 'a:b\\r\\n%.0s' $(seq 150))\\r\\n")"
expect_eq "blank lines before the request line are tolerated" "200 not-json" \
    "$(raw 'bytes:\r\nGET /live HTTP/1.1\r\nHost: x\r\n\r\n' | sed 's/^200 .*/200 not-json/')"
expect_eq "still serving" 200 "$(curl -s -o /dev/null -w '%{http_code}' "$BASE_URL/live")"

stop_serve
finish
