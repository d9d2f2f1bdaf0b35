#!/usr/bin/env python3
"""Recompute auditdb event hashes from docs/integrity.md alone (a third party's view).

Reads NDJSON rows on stdin, one per event, as produced by the query in
tests/sh/verify.sh (columns of audit_log; "timestamp" already in UTC text,
"details" as PostgreSQL's jsonb text). Prints "id ok" or "id MISMATCH" lines
and exits 1 if any hash differs. Stock Python only.
"""
import hashlib
import json
import sys

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


def canonical_form(row):
    obj = {}
    for member, col in MEMBERS.items():
        val = row.get(col)
        if val is None:
            continue
        if member == 'details':
            val = json.loads(val, parse_float=Num, parse_int=Num)
        obj[member] = val
    return canon(obj)


def main():
    bad = 0
    for line in sys.stdin:
        if not line.strip():
            continue
        row = json.loads(line)
        if row.get('hash_algorithm') != 'sha256-c14n-v1':
            continue
        h = hashlib.sha256(canonical_form(row).encode('utf-8')).hexdigest()
        ok = h == row['hash']
        bad += not ok
        print(row['id'], 'ok' if ok else 'MISMATCH ' + h)
    sys.exit(1 if bad else 0)


if __name__ == '__main__':
    main()
