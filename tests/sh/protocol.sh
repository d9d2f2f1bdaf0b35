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

# item 7, every request: later requests of a kept-alive connection (read by
# libmicrohttpd alone before, which answered in HTML, closed, or waited) and
# broken chunked framing on any request. Each case: the answers before it
# intact and in order, then the JSON error with its status, then the
# connection closed cleanly (end of stream, not a reset), within 3 s.
head_status=$(curl -s -o /dev/null -I -w '%{http_code}' "$BASE_URL/live")
python3 - "$port" "$key" "$TEST_TMP/serve.log" "$head_status" >"$TEST_TMP/later.out" <<'PY'
import json, socket, sys, time
port, key, logf = int(sys.argv[1]), sys.argv[2].encode(), sys.argv[3]
LIVE = b"GET /live HTTP/1.1\r\nHost: x\r\n\r\n"
HEAD_STATUS = int(sys.argv[4])
EV = (b'{"action":"a.b","status":"success","principalId":"u",'
      b'"targetResourceType":"t","targetResourceId":"r"}')
def chunked(body, half_close=False):
    return (b"POST /api/v1/audit/events HTTP/1.1\r\nHost: x\r\nX-API-Key: " + key +
            b"\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" + body)

def answers(s, want, head_first=False):
    """reads want answers, then what follows: [(status, head, body)], end"""
    d, out = b"", []
    while True:
        while len(out) < want:
            if b"\r\n\r\n" not in d:
                break
            head, _, rest = d.partition(b"\r\n\r\n")
            st = int(head.split(b" ")[1])
            n = 0
            for l in head.split(b"\r\n")[1:]:
                if l.lower().startswith(b"content-length:"):
                    n = int(l.split(b":")[1])
            if (head_first and not out) or st == 100:  # the answer to a HEAD: no body
                n = 0
            if len(rest) < n:
                break
            if st != 100:
                out.append((st, head, rest[:n], False))
            d = rest[n:]
        if len(out) == want:
            break
        x = s.recv(65536)
        if not x:
            return out, "closed-early:" + repr(d[:80])
        d += x
    try:
        x = s.recv(65536)
        end = "closed" if not x and not d else "more:" + repr((d + x)[:80])
    except ConnectionResetError:
        end = "reset"
    return out, end

def case(name, first, bad, status, code, half_close=False, pipelined=False, first_status=200, head_first=False):
    rid = None
    s = socket.create_connection(("127.0.0.1", port), timeout=3)
    try:
        if pipelined:
            s.sendall(first + bad)
        else:
            if first:
                s.sendall(first)
                got, _ = answers_n(s, 1)
            s.sendall(bad)
        if half_close:
            s.shutdown(socket.SHUT_WR)
        want = 2 if pipelined else 1
        out, end = answers(s, want, head_first)
        res = []
        if pipelined:
            res.append(str(out[0][0]) if out else "none")
            out = out[1:]
        if not out:
            res.append("no-answer")
        else:
            st, head, body, _ = out[-1]
            try:
                e = json.loads(body)["error"]
                shape = sorted(e) == ["code", "details", "message", "requestId"] and e["message"] != ""
                res.append("%d %s%s" % (st, e["code"], "" if shape else " bad-shape"))
                rid = e["requestId"]
            except Exception as x:
                res.append("%d not-json" % st)
        res.append(end)
    except socket.timeout:
        res = ["no-answer-within-3s"]
    want = ([str(first_status)] if pipelined else []) + ["%d %s" % (status, code), "closed"]
    results.append((name, " ".join(want), res, rid, status))
    s.close()

results = []
def report():
    """each answer also has its access log line: the status, with the answer's request id"""
    time.sleep(0.5)
    log = [l for l in open(logf).read().splitlines() if l.startswith("{")]
    for name, want, res, rid, status in results:
        if rid and not any(('"requestId":"%s"' % rid) in l and ('"status":%d' % status) in l for l in log):
            res.append("no-log-line")
        got = " ".join(res)
        if got == want:
            print("ok - " + name)
        else:
            print("not ok - " + name)
            print("#   want: " + want)
            print("#   got:  " + got)

def answers_n(s, n):
    # the first answer, of a keep-alive request: read exactly it
    d = b""
    while b"\r\n\r\n" not in d:
        d += s.recv(65536)
    head, _, rest = d.partition(b"\r\n\r\n")
    n = int([l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0].split(b":")[1])
    while len(rest) < n:
        rest += s.recv(65536)
    return head, rest

big = lambda n: b"GET /live HTTP/1.1\r\nHost: x\r\nX-A: " + b"a" * n + b"\r\n\r\n"
longline = lambda n: b"GET /live?" + b"a" * n + b" HTTP/1.1\r\nHost: x\r\n\r\n"
later = [
    ("HTTP/2.0", b"GET /live HTTP/2.0\r\nHost: x\r\n\r\n", 505, "HTTP_VERSION_NOT_SUPPORTED"),
    ("a request line without target or version", b"GET\r\n\r\n", 400, "BAD_REQUEST"),
    ("a request line without a version", b"GET /live\r\nHost: x\r\n\r\n", 400, "BAD_REQUEST"),
    ("a header line without a colon", b"GET /live HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n", 400, "BAD_REQUEST"),
    ("Content-Length not a number", b"POST /api/v1/audit/events HTTP/1.1\r\nHost: x\r\nContent-Length: 12abc\r\n\r\n", 400, "BAD_REQUEST"),
    ("Content-Length above 2^64", b"POST /api/v1/audit/events HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n", 413, "PAYLOAD_TOO_LARGE"),
    ("150 header fields", b"GET /live HTTP/1.1\r\nHost: x\r\n" + b"a:b\r\n" * 150 + b"\r\n", 431, "HEADERS_TOO_LARGE"),
] + [("a head of %d bytes" % n, big(n), 431, "HEADERS_TOO_LARGE") for n in (40000, 65300, 65500, 131000, 131100, 140000, 200000)] \
  + [("a request line of %d bytes" % n, longline(n), 414, "URI_TOO_LONG") for n in (65300, 131000, 131100, 200000)]
for name, bad, st, code in later:
    case("later request on a kept-alive connection, " + name + ": %d in JSON, then closed" % st, LIVE, bad, st, code)
case("pipelined after GET /live, HTTP/2.0: 200 first, then 505 in JSON, then closed", LIVE,
     b"GET /live HTTP/2.0\r\n\r\n", 505, "HTTP_VERSION_NOT_SUPPORTED", pipelined=True)
case("pipelined after a HEAD request (no body), a bad header line: the HEAD answer, then 400 in JSON", b"HEAD /live HTTP/1.1\r\nHost: x\r\n\r\n",
     b"GET /live HTTP/1.1\r\nBad\r\n\r\n", 400, "BAD_REQUEST", pipelined=True, first_status=HEAD_STATUS,
     head_first=True)
ok_chunked = chunked(b"5;ext=1\r\n" + EV[:5] + b"\r\n%x\r\n" % (len(EV) - 5) + EV[5:] + b"\r\n0\r\nX-Sum: 1\r\n\r\n")
chunk_cases = [
    ("a chunk size that is not hexadecimal", b"zz\r\n" + EV + b"\r\n0\r\n\r\n", 400, "BAD_REQUEST", False),
    ("a bad chunk size after a good chunk", b"5\r\n" + EV[:5] + b"\r\nq1\r\n", 400, "BAD_REQUEST", False),
    ("chunk data not followed by CRLF", b"5\r\n" + EV[:5] + b"XX\r\n0\r\n\r\n", 400, "BAD_REQUEST", False),
    ("a chunk size of 17 hex digits (overflow)", b"1" + b"0" * 16 + b"\r\n" + EV, 413, "PAYLOAD_TOO_LARGE", False),
    ("a chunk size above the body limit", b"10000000\r\n" + EV, 413, "PAYLOAD_TOO_LARGE", False),
    ("a trailer field without a colon", b"%x\r\n" % len(EV) + EV + b"\r\n0\r\nX-Sum\r\n\r\n", 400, "BAD_REQUEST", False),
    ("a truncated trailer (the client stops sending)", b"%x\r\n" % len(EV) + EV + b"\r\n0\r\nX-Sum: 1", 400, "BAD_REQUEST", True),
]
for name, body, st, code, hc in chunk_cases:
    case("chunked body, first request, " + name + ": %d in JSON, then closed" % st, b"", chunked(body), st, code, half_close=hc)
    case("chunked body, later request, " + name + ": %d in JSON, then closed" % st, ok_chunked, chunked(body), st, code,
         half_close=hc, first_status=201)
case("pipelined after a good chunked create, a bad chunk size: 201 first, then 400 in JSON", ok_chunked,
     chunked(b"zz\r\n"), 400, "BAD_REQUEST", pipelined=True, first_status=201)
report()
# a well-formed chunked body with an extension and a trailer is stored, twice on one connection
s = socket.create_connection(("127.0.0.1", port), timeout=3)
s.sendall(ok_chunked + ok_chunked)
d = b""
t = time.time()
while d.count(b"HTTP/1.1 201") < 2 and time.time() - t < 3:
    d += s.recv(65536)
print(("ok - " if d.count(b"HTTP/1.1 201") == 2 else "not ok - ") +
      "two good chunked creates, extension and trailer, pipelined: 201 and 201")
PY
[ $? -eq 0 ] || not_ok "the keep-alive and chunked cases ran to the end"
cat "$TEST_TMP/later.out"
FAILED=$((FAILED + $(grep -c '^not ok' "$TEST_TMP/later.out")))
expect_eq "still serving after them" 200 "$(curl -s -o /dev/null -w '%{http_code}' "$BASE_URL/live")"

stop_serve
finish
