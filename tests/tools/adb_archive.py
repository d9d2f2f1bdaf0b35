#!/usr/bin/env python3
"""Read auditdb archives from docs/archive.md alone (a third party's view).

Input on stdin: one JSON object per archive_storage row, as printed by
  psql -AtX -c "SELECT json_build_object('id', id, 'metadata', metadata,
      'payload', encode(payload, 'hex'))
      FROM archive_storage WHERE payload IS NOT NULL"

  adb_archive.py check        checks both checksums, sizes and counts of each archive;
                              prints "ID ok" or "ID BAD: why"; exit 1 if any is bad
  adb_archive.py rows         prints "event_id hash chain_seq" for every archived event
                              (a stub prints "- - chain_seq" per position)
  adb_archive.py tamper OLD NEW [--fix-checksums]
                              rewrites the first archive: replaces the first OLD by NEW in
                              its JSON Lines, recompresses; prints the new payload (hex)
                              and, with --fix-checksums, the metadata with matching checksums
  adb_archive.py strip-ids    rewrites the first archive as one written before migration 0017:
                              event_id (and the commitment keys after it) left out of every
                              line (21 members),
                              recompressed; prints the new payload (hex) and the metadata with
                              the checksums, sizes and ratio that the format says
Stock Python plus the zstd command.
"""
import hashlib
import json
import re
import subprocess
import sys

# members read without parsing each line (fast for large archives): their values are
# digits or hex, never escaped
SEQ = re.compile(rb'"chain_seq":"(\d+)"')


def member(line, name):
    """The string value of member name in one JSON line, or b'-' when absent or null."""
    key = b'"' + name + b'":"'
    i = line.find(key)
    if i < 0:
        return b'-'
    i += len(key)
    return line[i:line.index(b'"', i)]


def zstd(data, decompress):
    args = ['zstd', '-q', '-c'] + (['-d'] if decompress else ['-3'])
    return subprocess.run(args, input=data, stdout=subprocess.PIPE, check=True).stdout


def archives():
    for line in sys.stdin:
        if line.strip():
            a = json.loads(line)
            a['bytes'] = bytes.fromhex(a['payload'])
            yield a


def check(a):
    m = a['metadata']
    if hashlib.sha256(a['bytes']).hexdigest() != m['checksums']['compressedSha256']:
        return 'compressed checksum differs'
    if len(a['bytes']) != m['compressedSize']:
        return 'compressed size differs'
    raw = zstd(a['bytes'], True)
    if hashlib.sha256(raw).hexdigest() != m['checksums']['originalSha256']:
        return 'original checksum differs'
    if len(raw) != m['originalSize']:
        return 'original size differs'
    if raw.count(b'\n') != m['recordCount'] or not raw.endswith(b'\n'):
        return 'record count differs'
    seqs = [int(x) for x in SEQ.findall(raw)]
    if len(seqs) != m['recordCount'] or seqs != sorted(set(seqs)) or \
            seqs[0] != m['chain']['firstSeq'] or seqs[-1] != m['chain']['lastSeq']:
        return 'chain positions differ'
    json.loads(raw[:raw.index(b'\n')])  # the first line at least is JSON
    return None


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else ''
    bad = 0
    if mode == 'check':
        for a in archives():
            why = check(a)
            bad += why is not None
            print(a['id'], 'ok' if why is None else 'BAD: ' + why)
    elif mode == 'rows':
        out = sys.stdout.buffer
        for a in archives():
            raw = zstd(a['bytes'], True)
            out.write(b''.join(b'%s %s %s\n' % (member(x, b'event_id'), member(x, b'hash'), member(x, b'chain_seq'))
                               for x in raw.split(b'\n')[:-1]))
    elif mode == 'tamper' and len(sys.argv) >= 4:
        a = next(archives())
        raw = zstd(a['bytes'], True)
        old, new = sys.argv[2].encode(), sys.argv[3].encode()
        if old not in raw:
            sys.exit('tamper: "%s" not found' % sys.argv[2])
        raw = raw.replace(old, new, 1)
        packed = zstd(raw, False)
        print(packed.hex())
        if '--fix-checksums' in sys.argv:
            m = a['metadata']
            m['checksums'] = {'originalSha256': hashlib.sha256(raw).hexdigest(),
                              'compressedSha256': hashlib.sha256(packed).hexdigest()}
            m['originalSize'], m['compressedSize'] = len(raw), len(packed)
            print(json.dumps(m))
    elif mode == 'strip-ids':
        a = next(archives())
        raw = zstd(a['bytes'], True)
        # a line before 0017 had neither event_id nor 0022's commitment keys after it
        raw, n = re.subn(rb',"event_id":"[0-9a-f-]{36}"(,"commit_key":(null|"[0-9a-f]{64}"),'
                         rb'"commit_field_keys":(null|"(?:[^"\\]|\\.)*"))?}\n', b'}\n', raw)
        if n != a['metadata']['recordCount']:
            sys.exit('strip-ids: %d event_id members for %d records' % (n, a['metadata']['recordCount']))
        packed = zstd(raw, False)
        print(packed.hex())
        m = a['metadata']
        m['checksums'] = {'originalSha256': hashlib.sha256(raw).hexdigest(),
                          'compressedSha256': hashlib.sha256(packed).hexdigest()}
        m['originalSize'], m['compressedSize'] = len(raw), len(packed)
        m['compressionRatio'] = round(len(packed) / len(raw), 4)
        print(json.dumps(m))
    else:
        sys.exit(__doc__)
    sys.exit(1 if bad else 0)


if __name__ == '__main__':
    main()
