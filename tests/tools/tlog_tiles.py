#!/usr/bin/env python3
"""tlog_tiles.py - a tlog-tiles client written from the specifications alone
(C2SP tlog-tiles, RFC 6962 / RFC 9162), to check auditdb's tree from outside:
it fetches the tiles and entry bundles of a tree size over HTTP, checks that
every entry hashes to its level-0 tile hash and every upper tile hash is the
Merkle Tree Hash of the full tile below, and prints the root (base64).

usage:
  tlog_tiles.py root BASE_URL API_KEY SIZE
      prints base64(root of the first SIZE leaves); exit 1 on any mismatch
  tlog_tiles.py consistency SIZE1 SIZE2 ROOT1_B64 ROOT2_B64 PROOF_JSON
      exit 0 when PROOF_JSON (a list of base64 hashes) proves that ROOT1 of
      SIZE1 is a prefix of ROOT2 of SIZE2 (RFC 9162 2.1.4.2), else 1

The entry of a leaf is 48 bytes (event id, content hash), the leaf hash
SHA-256(0x00 || entry) (docs/log.md); this script only checks what the spec
says: each bundle entry is length-prefixed (big-endian uint16).
"""
import base64
import hashlib
import json
import sys
import urllib.error
import urllib.request

W = 256


def leaf_hash(data):
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(l, r):
    return hashlib.sha256(b"\x01" + l + r).digest()


def mth(hashes):
    """RFC 6962 2.1 Merkle Tree Hash over leaf hashes."""
    n = len(hashes)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashes[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return node_hash(mth(hashes[:k]), mth(hashes[k:]))


def index_path(n):
    """tlog-tiles: zero-padded 3-digit elements, all but the last prefixed x."""
    parts = []
    while True:
        parts.append("%03d" % (n % 1000))
        n //= 1000
        if n == 0:
            break
    parts.reverse()
    return "/".join(["x" + p for p in parts[:-1]] + [parts[-1]])


def fail(msg):
    print("tlog_tiles: " + msg, file=sys.stderr)
    sys.exit(1)


def fetch(base, key, path):
    req = urllib.request.Request(base + "/api/v1/audit/log/tile/" + path,
                                 headers={"X-API-Key": key})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            if r.headers.get("Content-Type") != "application/octet-stream":
                fail("%s: Content-Type %s" % (path, r.headers.get("Content-Type")))
            if "immutable" not in (r.headers.get("Cache-Control") or ""):
                fail("%s: Cache-Control %s" % (path, r.headers.get("Cache-Control")))
            return r.read()
    except urllib.error.HTTPError as e:
        fail("%s: HTTP %d %s" % (path, e.code, e.read()[:200]))


def tile_path(level, n, width):
    p = "%d/%s" % (level, index_path(n))
    return p if width == W else p + ".p/%d" % width


def root(base, key, size):
    # level 0: the leaf hashes, each checked against its entry
    leaves = []
    for n in range((size + W - 1) // W):
        width = min(W, size - n * W)
        t = fetch(base, key, tile_path(0, n, width))
        if len(t) != 32 * width:
            fail("tile 0/%d: %d bytes for width %d" % (n, len(t), width))
        b = fetch(base, key, "entries/" + index_path(n) + ("" if width == W else ".p/%d" % width))
        off = 0
        for i in range(width):
            if off + 2 > len(b):
                fail("bundle %d: cut short at entry %d" % (n, i))
            ln = int.from_bytes(b[off:off + 2], "big")
            e = b[off + 2:off + 2 + ln]
            off += 2 + ln
            if len(e) != ln:
                fail("bundle %d: entry %d cut short" % (n, i))
            if leaf_hash(e) != t[32 * i:32 * i + 32]:
                fail("leaf %d: its entry does not hash to the tile's hash" % (n * W + i))
        if off != len(b):
            fail("bundle %d: %d bytes left over" % (n, len(b) - off))
        leaves += [t[32 * i:32 * i + 32] for i in range(width)]
    # upper levels: each hash is the MTH of a full tile below
    level, below = 1, leaves
    while size >> (8 * level) > 0:
        count = size >> (8 * level)
        for n in range((count + W - 1) // W):
            width = min(W, count - n * W)
            t = fetch(base, key, tile_path(level, n, width))
            for i in range(width):
                j = n * W + i
                if mth(below[j * W:(j + 1) * W]) != t[32 * i:32 * i + 32]:
                    fail("tile %d/%d hash %d is not the hash of the tile below" % (level, n, i))
        level += 1
    return mth(leaves)


def verify_consistency(size1, size2, root1, root2, proof):
    """RFC 9162 2.1.4.2."""
    if size1 > size2 or size1 == 0:
        return False
    if size1 == size2:
        return not proof and root1 == root2
    if size1 & (size1 - 1) == 0:  # a power of two: root1 is the first node
        proof = [root1] + proof
    if not proof:
        return False
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == root1 and sr == root2


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "root":
        print(base64.b64encode(root(sys.argv[2], sys.argv[3], int(sys.argv[4]))).decode())
        return 0
    if len(sys.argv) == 7 and sys.argv[1] == "consistency":
        s1, s2 = int(sys.argv[2]), int(sys.argv[3])
        r1, r2 = base64.b64decode(sys.argv[4]), base64.b64decode(sys.argv[5])
        proof = [base64.b64decode(p) for p in json.loads(sys.argv[6])]
        return 0 if verify_consistency(s1, s2, r1, r2, proof) else 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
