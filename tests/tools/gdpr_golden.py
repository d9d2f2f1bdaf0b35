#!/usr/bin/env python3
"""gdpr_golden.py - compares a GDPR export with its golden file, byte for byte once the volatile
parts are replaced (docs/gdpr.md, "Golden files"): random ids (UUIDs, the export's gdpr-<UUID>)
become <id-N> numbered in order of first appearance, 64-digit hex values (hashes, signatures,
chain hashes: they depend on the random ids and on the database's key) <hex-N>, the export's
timestamp <now>, and an NDJSON receipt <receipt> (its checkpoint depends on when it was signed;
tests/sh/gdpr_export.sh verifies every receipt instead).

usage: gdpr_golden.py check|update FORMAT FILE
check prints a unified diff (nothing when equal); update writes tests/golden/gdpr_export.FORMAT.
"""
import difflib
import os
import re
import sys

UUID = re.compile(r'[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}')
HEX = re.compile(r'(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])')
NOW = re.compile(r'(exportTimestamp(?:"?:"|,|>))\d{4}-\d\d-\d\dT[0-9:.]+Z')
RECEIPT = re.compile(r'"receipt":"(?:[^"\\]|\\.)*"')


def normalize(text):
    seen = {}

    def number(kind):
        def sub(m):
            key = (kind, m.group(0))
            if key not in seen:
                seen[key] = '<%s-%d>' % (kind, sum(1 for k in seen if k[0] == kind) + 1)
            return seen[key]
        return sub
    text = RECEIPT.sub('"receipt":"<receipt>"', text)
    text = NOW.sub(r'\1<now>', text)
    text = UUID.sub(number('id'), text)
    return HEX.sub(number('hex'), text)


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ('check', 'update'):
        sys.exit(__doc__)
    fmt, path = sys.argv[2], sys.argv[3]
    golden = os.path.join(os.path.dirname(__file__), '..', 'golden', 'gdpr_export.' + fmt)
    got = normalize(open(path, encoding='utf-8', newline='').read())
    if sys.argv[1] == 'update':
        open(golden, 'w', encoding='utf-8', newline='').write(got)
        return
    want = open(golden, encoding='utf-8', newline='').read() if os.path.exists(golden) else ''
    if got != want:
        sys.stdout.writelines(difflib.unified_diff(want.splitlines(True), got.splitlines(True),
                                                   'golden', 'got', n=1))
        print('(golden differs)')


main()
