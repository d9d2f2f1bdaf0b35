# client_events_shapes.sh - the events list and get answers held against the shapes
# smart-logs' client (@smedrec/audit-client) checks, written here in our own words
# (docs/api.md, "Times", "Sorting", "Offsets"): times with 0 or 3 fraction digits and the
# exact stored time beside them (enough to recompute the hash), the pagination object of
# its PaginationMetadataSchema, every sortField it offers in both directions in the order
# documented, and offsets at any depth equal to the page a keyset cursor reaches.
. tests/lib.sh

fresh_db t_shapes
"$AUDITDB_BIN" migrate >/dev/null
S=$(newkey org-s viewer)
D=$(newkey org-d viewer)
O=$(newkey org-o viewer)
T=$(newkey org-t admin)

# events: N for ORG, SEED; three share each instant (ties go to the id), six fraction
# digits, a tenth without a principal, mixed statuses and actions, over two days
events() {
    python3 - "$@" <<'EOF' | "$AUDITDB_BIN" import --quiet - >/dev/null
import datetime, json, random, sys
n, org, seed = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
r = random.Random(seed)
base = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=2)
for i in range(n):
    t = base + datetime.timedelta(microseconds=(i // 3) * 7919123 % (86400 * 10**6) + i // 3)
    ev = {"timestamp": t.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "organizationId": org,
          "action": r.choice(["record.read", "record.write", "auth.login", "Zeta.op", "a"]),
          "status": r.choice(["attempt", "success", "success", "failure"])}
    if r.random() < 0.9:
        ev["principalId"] = r.choice(["doc-1", "doc-2", "nurse-7", "Admin", "z"])
    print(json.dumps(ev))
EOF
}
events 400 org-s 1
events 100600 org-d 2
events 5 org-o 3
# every stored row of an organization as the test's own expectation reads it
rows() { sql "SELECT json_build_object('id', id, 'eid', event_id, 'ts', to_char(\"timestamp\" AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US'), 'status', status, 'action', action, 'principalId', principal_id) FROM audit_log WHERE organization_id = '$1'" >"$TEST_TMP/$1.rows"; }
rows org-s; rows org-d
sql "VACUUM ANALYZE audit_log" >/dev/null

if ! start_serve "$TEST_TMP/serve.log"; then
    not_ok "serve starts"; diag "$(cat "$TEST_TMP/serve.log")"; finish
fi
ok "serve starts"
get() { http GET "/api/v1/audit/events$1" -H "X-API-Key: $2"; }

# The client's checks, restated: isISODateTime (0 or 3 fraction digits, a Date it can
# parse), PaginationMetadataSchema (total/offset integers >= 0, limit >= 1, booleans,
# cursors strings when present; totalExact is our documented addition).
cat >"$TEST_TMP/shapes.py" <<'EOF'
import datetime, json, re, sys

CLIENT_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z?$")
STORED_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")


def time_problems(e):
    bad = []
    ts, st = e.get("timestamp"), e.get("storedTimestamp")
    if not isinstance(ts, str) or not CLIENT_TIME.match(ts):
        bad.append("timestamp %r is not the client's form" % (ts,))
    else:
        try:
            datetime.datetime.strptime(ts.rstrip("Z"), "%Y-%m-%dT%H:%M:%S.%f")
        except ValueError:
            bad.append("timestamp %r is no date" % ts)
    if not isinstance(st, str) or not STORED_TIME.match(st):
        bad.append("storedTimestamp %r is not six digits" % (st,))
    elif isinstance(ts, str) and st[:23] + "Z" != ts:
        bad.append("timestamp %r is not storedTimestamp %r cut to milliseconds" % (ts, st))
    return bad


def int_at_least(v, low):
    return isinstance(v, int) and not isinstance(v, bool) and v >= low


def pagination_problems(p):
    if not isinstance(p, dict):
        return ["pagination is not an object"]
    bad = []
    allowed = {"total", "limit", "offset", "hasNext", "hasPrevious", "nextCursor",
               "previousCursor", "totalExact"}
    bad += ["unexpected member %s" % k for k in p if k not in allowed]
    for k, low in (("total", 0), ("limit", 1), ("offset", 0)):
        if not int_at_least(p.get(k), low):
            bad.append("%s=%r" % (k, p.get(k)))
    for k in ("hasNext", "hasPrevious", "totalExact"):
        if not isinstance(p.get(k), bool):
            bad.append("%s=%r" % (k, p.get(k)))
    for k in ("nextCursor", "previousCursor"):
        if k in p and not isinstance(p[k], str):
            bad.append("%s=%r" % (k, p[k]))
    return bad


def page_problems(d):
    if not isinstance(d.get("events"), list):
        return ["no events array"]
    bad = pagination_problems(d.get("pagination"))
    for e in d["events"]:
        bad += time_problems(e)
    return bad


if __name__ == "__main__":
    what = sys.argv[1]
    d = json.load(sys.stdin)
    bad = time_problems(d) if what == "event" else page_problems(d)
    print("ok" if not bad else "; ".join(bad[:5]))
EOF
shape() { printf '%s' "$HTTP_BODY" | python3 "$TEST_TMP/shapes.py" "$1"; }

# ---- times -----------------------------------------------------------------------------
# an event sent with nine fraction digits reads back cut to milliseconds; storedTimestamp
# is the stored instant, the canonical form's text
sent=$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%S.987654321Z)
http POST /api/v1/audit/events -H "X-API-Key: $T" -H 'Content-Type: application/json' --data-binary \
    "{\"eventData\":{\"timestamp\":\"$sent\",\"action\":\"chart.open\",\"status\":\"success\",\"principalId\":\"doc-1\",\"targetResourceType\":\"Patient\",\"targetResourceId\":\"p-1\",\"correlationId\":\"c-1\",\"outcomeDescription\":\"opened\",\"details\":{\"reason\":\"treatment\",\"n\":2}}}"
expect_eq "create: 201" 201 "$HTTP_STATUS"
id=$(jbody 'd["id"]')
ms=$(printf '%s' "$sent" | cut -c1-23)Z
exact=$(printf '%s' "$sent" | cut -c1-26)Z
expect_eq "create: timestamp cut to milliseconds, storedTimestamp exact" "$ms $exact" "$(jbody '"%s %s" % (d["timestamp"], d["storedTimestamp"])')"
expect_eq "create: the client's time checks hold" ok "$(shape event)"
http GET "/api/v1/audit/events/$id" -H "X-API-Key: $T"
expect_eq "get: the same two times" "$ms $exact" "$(jbody '"%s %s" % (d["timestamp"], d["storedTimestamp"])')"
printf '%s' "$HTTP_BODY" >"$TEST_TMP/got.json"
# an auditor recomputes the hash from the answer alone (docs/integrity.md): with
# storedTimestamp it matches, with the millisecond timestamp it cannot
recompute() {
    python3 -c 'import json, sys
e = json.load(open(sys.argv[1]))
cols = {"action": "action", "correlationId": "correlation_id", "dataClassification": "data_classification",
        "eventVersion": "event_version", "hashAlgorithm": "hash_algorithm", "organizationId": "organization_id",
        "outcomeDescription": "outcome_description", "principalId": "principal_id", "retentionPolicy": "retention_policy",
        "status": "status", "targetResourceId": "target_resource_id", "targetResourceType": "target_resource_type",
        "ttl": "ttl", "hash": "hash", "id": "event_id", "commitKey": "commit_key"}
row = {c: e[m] for m, c in cols.items() if m in e}
row["timestamp"] = e[sys.argv[2]]
row["details"] = json.dumps(e["details"]) if "details" in e else None
print(json.dumps(row))' "$TEST_TMP/got.json" "$1" | python3 tests/tools/adb_recompute.py | cut -d' ' -f2
}
expect_eq "get: the hash recomputes from storedTimestamp" ok "$(recompute storedTimestamp)"
expect_eq "get: ...and not from the millisecond timestamp" MISMATCH "$(recompute timestamp)"
get "?correlationId=c-1" "$T"
expect_eq "list: the same two times" "$ms $exact" "$(jbody '"%s %s" % (d["events"][0]["timestamp"], d["events"][0]["storedTimestamp"])')"
expect_eq "list: the client's page checks hold" ok "$(shape page)"
# a bound to the millisecond takes in the millisecond the event reads as
n_in() { get "?$1" "$T"; jbody 'len(d["events"])'; }
expect_eq "endDate at the millisecond the event reads as: included" 1 "$(n_in "endDate=$ms")"
# (the event's own correlation id: the organization's key was created, an event of it, later)
expect_eq "startDate at that millisecond: included" 1 "$(n_in "startDate=$ms&correlationId=c-1")"
expect_eq "endDate one microsecond before the stored instant: excluded" 0 "$(n_in "endDate=$(printf '%s' "$sent" | cut -c1-25)3Z")"
get "?startDate=$ms&endDate=$(printf '%s' "$sent" | cut -c1-19)Z" "$T"
expect_eq "endDate before startDate: 400 naming endDate" "400 endDate" "$HTTP_STATUS $(jbody 'd["error"]["details"]["errors"][0]["field"]')"
http POST "/api/v1/audit/events/$id/verify" -H "X-API-Key: $T"
expect_eq "verify: its times in the client's form" "True True" \
    "$(jbody 'str(bool(__import__("re").match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$", d["verificationTimestamp"]))) + " " + str(bool(__import__("re").match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$", d["timestamp"])))')"

# ---- sorting: every sortField the client offers, both directions, walked by offset ------
# expected, from the stored rows: by time (timestamp, id) in the direction asked; by
# organizationId (one per list) newest first either way; by another field ascending the
# field (absent last) then newest first (by status: then by action, then newest first),
# descending exactly the reverse
cat >"$TEST_TMP/expect.py" <<'EOF'
import json, sys


def load(path):
    return [json.loads(l) for l in open(path) if l.strip()]


def order(rows, field, direction):
    newest = sorted(rows, key=lambda r: (r["ts"], r["id"]), reverse=True)
    if field == "timestamp":
        return newest if direction == "desc" else newest[::-1]
    if field == "organizationId":
        return newest
    # stable sorts: newest first within a value, values ascending, absent ones last; by
    # status, ties by action first (the one index of both, migration 0023)
    if field == "status":
        newest = sorted(newest, key=lambda r: r["action"])
    asc = sorted(newest, key=lambda r: (r[field] is None, r[field] or ""))
    return asc if direction == "asc" else asc[::-1]


if __name__ == "__main__":
    rows = load(sys.argv[1])
    field, direction = sys.argv[2], sys.argv[3]
    start, count = int(sys.argv[4]), int(sys.argv[5])
    print(",".join(r["eid"] for r in order(rows, field, direction)[start:start + count]))
EOF
# each walk's pages are kept as files and checked by one python run: status, the client's
# shapes, the pagination of each page, and the events of all pages against the order
cat >"$TEST_TMP/walk.py" <<'EOF'
import json, os, sys
sys.path.insert(0, os.path.dirname(sys.argv[0]))
from shapes import page_problems
from expect import load, order

rows, field, direction, folder = load(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
n, limit, got, bad = len(rows), 37, [], []
for off in range(0, n, limit):
    status, body = open(os.path.join(folder, "%d" % off)).read().split("\n", 1)
    if status != "200":
        bad.append("offset %d: status %s" % (off, status))
        break
    d = json.loads(body)
    bad += ["offset %d: %s" % (off, b) for b in page_problems(d)]
    p = d["pagination"]
    want = (n, True, off, off > 0, off + limit < n)
    have = (p["total"], p["totalExact"], p["offset"], p["hasPrevious"], p["hasNext"])
    if have != want:
        bad.append("offset %d: pagination %r, not %r" % (off, have, want))
    got += [e["id"] for e in d["events"]]
print("ok" if not bad else "; ".join(bad[:3]))
want = [r["eid"] for r in order(rows, field, direction)]
print("in order" if got == want else "got %s... want %s..." % (got[:8], want[:8]))
EOF
for field in timestamp status action principalId organizationId; do
    for dir in asc desc; do
        w="$TEST_TMP/walk-$field-$dir"; mkdir -p "$w"; off=0
        while [ $off -lt 400 ]; do
            curl -s -w '%{http_code}\n' -o "$w/body" -H "X-API-Key: $S" \
                "$BASE_URL/api/v1/audit/events?sortField=$field&sortDirection=$dir&limit=37&offset=$off" >"$w/$off"
            cat "$w/body" >>"$w/$off"
            off=$((off + 37))
        done
        out=$(python3 "$TEST_TMP/walk.py" "$TEST_TMP/org-s.rows" "$field" "$dir" "$w")
        expect_eq "sortField=$field sortDirection=$dir: every page 200, in the client's shapes, paginated right" ok "$(printf '%s\n' "$out" | sed -n 1p)"
        expect_eq "sortField=$field sortDirection=$dir: every event once, in the documented order" "in order" "$(printf '%s\n' "$out" | sed -n 2p)"
    done
done
get "?sortField=hash" "$S"
expect_eq "a sortField the client does not offer: 400 naming it" "400 sortField" "$HTTP_STATUS $(jbody 'd["error"]["details"]["errors"][0]["field"]')"
get "?sortField=organizationId&limit=3" "$O"
expect_eq "sorted by organizationId: only the caller's organization" org-o "$(jbody '",".join(sorted(set(e["organizationId"] for e in d["events"])))')"

# ---- offsets at any depth ------------------------------------------------------------
# the stored order's pages, computed once: "field direction offset limit [status]" per line
grep '"failure"' "$TEST_TMP/org-d.rows" >"$TEST_TMP/fail.rows"
python3 - "$TEST_TMP" >"$TEST_TMP/deep.expected" <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
from expect import load, order
rows = load(sys.argv[1] + "/org-d.rows")
fail = load(sys.argv[1] + "/fail.rows")
for q, rs in (("timestamp desc 100500 50", rows), ("timestamp asc 100550 50", rows),
              ("status desc 100000 40", rows), ("principalId asc 99990 30", rows),
              ("action asc 100580 50", rows), ("timestamp desc 20000 25 failure", fail)):
    f, d, o, n = q.split()[:4]
    print("%s=%s" % (q.replace(" ", "_"), ",".join(r["eid"] for r in order(rs, f, d)[int(o):int(o) + int(n)])))
EOF
deep() { sed -n "s/^$(printf '%s' "$*" | tr ' ' _)=//p" "$TEST_TMP/deep.expected"; }
# the keyset cursor to position 100,500 (100 pages of 1,000, 5 of 100), then one page
walk=""; pos=0; limit=1000
while [ $pos -lt 100500 ]; do
    [ $pos -ge 100000 ] && limit=100
    get "?limit=$limit${walk:+&cursor=$walk}" "$D"
    walk=$(printf '%s' "$HTTP_BODY" | grep -o '"nextCursor":"[^"]*"' | head -1 | cut -d'"' -f4)
    [ -n "$walk" ] || break
    pos=$((pos + limit))
done
expect_eq "a cursor walk reaches position 100,500" 100500 "$pos"
get "?limit=50&cursor=$walk" "$D"
by_cursor=$(printf '%s' "$HTTP_BODY" | python3 -c 'import json, sys; d = json.load(sys.stdin); print(json.dumps({"ids": [e["id"] for e in d["events"]], "pagination": d["pagination"]}, sort_keys=True))')
get "?limit=50&offset=100500" "$D"
expect_eq "offset 100,500: 200 in the client's shapes" "200 ok" "$HTTP_STATUS $(shape page)"
by_offset=$(printf '%s' "$HTTP_BODY" | python3 -c 'import json, sys; d = json.load(sys.stdin); print(json.dumps({"ids": [e["id"] for e in d["events"]], "pagination": d["pagination"]}, sort_keys=True))')
expect_eq "offset 100,500: the very page (events and pagination) the cursor reaches" "$by_cursor" "$by_offset"
expect_eq "...and the stored order's" "$(deep timestamp desc 100500 50)" "$(jbody '",".join(e["id"] for e in d["events"])')"
for q in "timestamp asc 100550 50" "status desc 100000 40" "principalId asc 99990 30" "action asc 100580 50"; do
    set -- $q
    get "?sortField=$1&sortDirection=$2&offset=$3&limit=$4" "$D"
    expect_eq "sortField=$1 $2, offset $3: the stored order's page" "200 $(deep "$1" "$2" "$3" "$4")" \
        "$HTTP_STATUS $(jbody '",".join(e["id"] for e in d["events"])')"
done
get "?statuses=failure&offset=20000&limit=25" "$D"
expect_eq "a filter and offset 20,000: the stored order's page" \
    "$(deep timestamp desc 20000 25 failure)" \
    "$(jbody '",".join(e["id"] for e in d["events"])')"
get "?offset=200000" "$D"
expect_eq "past the end: no events, the exact total, hasPrevious" "200 0 100600 True 200000 False True" \
    "$HTTP_STATUS $(jbody '"%d %s %s %s %s %s" % (len(d["events"]), d["pagination"]["total"], d["pagination"]["totalExact"], d["pagination"]["offset"], d["pagination"]["hasNext"], d["pagination"]["hasPrevious"])')"
get "?statuses=success&limit=1" "$D" # a filtered total above 1,000: an estimate, kept
get "?statuses=success&offset=200000" "$D"
expect_eq "past the end of a filtered list: no events, the estimate (not the offset) as total" "200 0 yes false" \
    "$HTTP_STATUS $(jbody 'len(d["events"])') $(jbody '"yes" if 40000 <= d["pagination"]["total"] <= 70000 else d["pagination"]["total"]') $(jbody 'd["pagination"]["totalExact"]')"
get "?offset=9007199254740991&limit=1" "$D"
expect_eq "offset 2^53 - 1 (the client's largest exact integer): answered" "200 0" "$HTTP_STATUS $(jbody 'len(d["events"])')"
get "?offset=9007199254740992" "$D"
expect_eq "offset above it: 400 naming offset" "400 offset" "$HTTP_STATUS $(jbody 'd["error"]["details"]["errors"][0]["field"]')"
get "?offset=150000&sortField=principalId" "$O"
expect_eq "another organization's deep offset: none of these events" "200 0 5" "$HTTP_STATUS $(jbody 'len(d["events"])') $(jbody 'd["pagination"]["total"]')"

stop_serve TERM
finish
