#!/usr/bin/env python3
"""Recompute auditdb event hashes from docs/integrity.md alone (a third party's view).

Reads NDJSON rows on stdin, one per event, as produced by the query in
tests/sh/ingest.sh or by `auditdb archive export` (columns of audit_log;
"timestamp" already in UTC text, "details" as PostgreSQL's jsonb text).
sha256-c14n-v2 and v3 rows hash their "event_id" as the member "id"; for
sha256-c14n-v1 rows that carry "event_id" and "chain_hash", the id must be the
one derived from the chain link. sha256-c14n-v3 rows replace personal data by
commitments made with the row's "commit_key" (or, after an erasure, its
"commit_field_keys"); the commitments of erased fields come from the row's
optional member "erased_commitments" (field -> hex, from audit_erasure).
Prints "id ok" or "id MISMATCH" lines and exits 1 if any hash or id differs.
Stock Python only.
"""
import calendar
import hashlib
import hmac
import json
import sys
from datetime import datetime

MEMBERS = {  # canonical member -> column
    "action": "action", "correlationId": "correlation_id",
    "dataClassification": "data_classification", "details": "details",
    "eventVersion": "event_version", "hashAlgorithm": "hash_algorithm",
    "organizationId": "organization_id", "outcomeDescription": "outcome_description",
    "principalId": "principal_id", "retentionPolicy": "retention_policy", "status": "status",
    "targetResourceId": "target_resource_id", "targetResourceType": "target_resource_type",
    "timestamp": "timestamp", "ttl": "ttl",
}


class Num(str):
    """A number kept as the text PostgreSQL printed."""


def esc(s):
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == '\\':
            out.append('\\\\')
        elif ch in '\b\f\n\r\t':
            out.append({'\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t'}[ch])
        elif o < 0x20:
            out.append('\\u%04x' % o)
        else:
            out.append(ch)
    out.append('"')
    return ''.join(out)


def canon(v):
    if isinstance(v, Num):
        return str(v)
    if v is True:
        return 'true'
    if v is False:
        return 'false'
    if v is None:
        return 'null'
    if isinstance(v, str):
        return esc(v)
    if isinstance(v, list):
        return '[' + ','.join(canon(x) for x in v) + ']'
    keys = sorted(v, key=lambda k: k.encode('utf-8'))
    return '{' + ','.join(esc(k) + ':' + canon(v[k]) for k in keys) + '}'


def derived_id(ts, chain_hash):
    """docs/integrity.md, "Event id": version 1 at the event's time, clock
    sequence and node from SHA-256("adb-event-id-v1\\n" + chain_hash)."""
    d = datetime.strptime(ts, '%Y-%m-%dT%H:%M:%S.%fZ')
    us = calendar.timegm(d.timetuple()) * 1000000 + d.microsecond
    md = bytearray(hashlib.sha256(b'adb-event-id-v1\n' + (chain_hash or '').encode()).digest())
    t = us * 10 + 0x01B21DD213814000
    if 0 <= t < 1 << 60:
        u = bytearray(t.to_bytes(8, 'big'))
        u = u[4:8] + u[2:4] + bytes([0x10 | (u[0] & 0x0f), u[1]]) + md[8:16]
        u[10] |= 0x01
    else:
        u = md[:16]
        u[6] = 0x40 | (u[6] & 0x0f)
    u[8] = 0x80 | (u[8] & 0x3f)
    h = bytes(u).hex()
    return '%s-%s-%s-%s-%s' % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])


COMMITTED = {"outcomeDescription": "outcome_description", "principalId": "principal_id",
             "targetResourceId": "target_resource_id"}  # and every top-level member of details


def commitments(row):
    """docs/integrity.md 2b: field key = HMAC(commit key, "adb-commit-key-v1\\n" id "\\n"
    field), commitment = HMAC(field key, "adb-commit-v1\\n" id "\\n" field "\\n" value)."""
    eid = row['event_id']
    ck = row.get('commit_key')
    fks = row.get('commit_field_keys')
    if isinstance(fks, str):
        fks = json.loads(fks)
    values = {}
    for member, col in COMMITTED.items():
        if row.get(col) is not None:
            values[member] = canon(row[col])
    if row.get('details') is not None:
        for k, v in json.loads(row['details'], parse_float=Num, parse_int=Num).items():
            values['details.' + k] = canon(v)
    out = {}
    for f, value in values.items():
        if ck:
            fk = hmac.new(bytes.fromhex(ck), ('adb-commit-key-v1\n%s\n%s' % (eid, f)).encode(),
                          hashlib.sha256).digest()
        elif fks and f in fks:
            fk = bytes.fromhex(fks[f])
        else:
            continue  # a value without its key: left out, the hash cannot match
        msg = ('adb-commit-v1\n%s\n%s\n%s' % (eid, f, value)).encode('utf-8')
        out[f] = hmac.new(fk, msg, hashlib.sha256).hexdigest()
    for f, c in (row.get('erased_commitments') or {}).items():
        out.setdefault(f, c)
    return out


def canonical_form(row):
    obj = {}
    alg = row.get('hash_algorithm')
    if alg in ('sha256-c14n-v2', 'sha256-c14n-v3'):
        obj['id'] = row.get('event_id')
    for member, col in MEMBERS.items():
        val = row.get(col)
        if val is None:
            continue
        if alg == 'sha256-c14n-v3' and (member in COMMITTED or member == 'details'):
            continue
        if member == 'details':
            val = json.loads(val, parse_float=Num, parse_int=Num)
        obj[member] = val
    if alg == 'sha256-c14n-v3':
        obj['commitments'] = commitments(row)
    return canon(obj)


def main():
    bad = 0
    for line in sys.stdin:
        if not line.strip():
            continue
        row = json.loads(line)
        alg = row.get('hash_algorithm')
        if alg not in ('sha256-c14n-v1', 'sha256-c14n-v2', 'sha256-c14n-v3'):
            continue
        h = hashlib.sha256(canonical_form(row).encode('utf-8')).hexdigest()
        ok = h == row['hash']
        why = 'MISMATCH ' + h
        if ok and alg == 'sha256-c14n-v1' and row.get('event_id') and 'chain_hash' in row:
            want = derived_id(row['timestamp'], row['chain_hash'])
            ok = want == row['event_id']
            why = 'MISMATCH id ' + want
        bad += not ok
        print(row.get('event_id') or row['id'], 'ok' if ok else why)
    sys.exit(1 if bad else 0)


if __name__ == '__main__':
    main()
