#!/usr/bin/env python3
"""witness_client.py - a tlog-witness client for the tests, written from the C2SP
specifications alone (signed-note, tlog-checkpoint, tlog-witness,
tlog-cosignature) and RFC 9162, sharing no code with auditdb.

A "log" here is a list of leaves drawn from a seed: leaf i is the bytes
"<seed> <i>", except that --rewrite-at K switches leaves K and later to another
seed (a rewritten history). Its checkpoints are signed with an Ed25519 key
kept as 64 hex digits (the seed) in a file.

usage:
  witness_client.py keygen FILE NAME        make a log key, print its vkey
  witness_client.py vkey FILE NAME          print the vkey of a log key
  witness_client.py add URL [options]       one add-checkpoint; prints the
        status line "STATUS", then "type: CONTENT-TYPE", then the body; with
        --witness-vkey a 200's cosignatures are verified ("cosig ok N" or
        "cosig BAD ...") and the note with them written to --save
  witness_client.py race URL N [options]    N add-checkpoints at once, each for
        a different new size (size, size+1, ...) from the same old size;
        prints each status on its own line
  witness_client.py body [options]          print the request body only
  witness_client.py steps URL WITNESS_VKEY  reads steps from stdin, one a line:
        "NAME STATUS BODY OPTIONS..." (shell words; BODY is the exact answer
        expected, "-" for any, "cosig" for a 200 whose cosignature must
        verify against WITNESS_VKEY); prints "ok - NAME" / "not ok - NAME"

  --mutate KIND            spoil the body (steps, add): no-old, old-zero-pad,
        old-negative, old-huge, proof-not-b64, proof-31-bytes, proof-64-lines,
        no-blank-line, no-signature, unsigned-text, control-char, empty,
        crlf, old0-with-proof, tamper (the size changed after signing)

add/race/body options:
  --key FILE --name NAME   the log key and its key name (default: origin)
  --origin O --old M --size N
  --seed S                 leaves' seed (default "h")
  --rewrite-at K           leaves K.. from seed S+"'" instead
  --proof good|bad|short|long|none  (default good)
  --root-from-rewrite      sign the rewritten tree's root but prove from the
                           original (a fork the proof cannot hide)
"""
import base64
import hashlib
import http.client
import struct
import sys
import threading
import urllib.parse

from cryptography.hazmat.primitives.asymmetric.ed25519 import (Ed25519PrivateKey,
                                                               Ed25519PublicKey)
from cryptography.hazmat.primitives import serialization

EM_DASH = "\u2014"


# --- RFC 9162 Merkle tree ---------------------------------------------------

def leaf_hash(data):
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def largest_pow2_below(n):
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(leaves):
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaves[0]
    k = largest_pow2_below(n)
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


def subproof(m, leaves, complete):
    n = len(leaves)
    if m == n:
        return [] if complete else [mth(leaves)]
    k = largest_pow2_below(n)
    if m <= k:
        return subproof(m, leaves[:k], complete) + [mth(leaves[k:])]
    return subproof(m - k, leaves[k:], False) + [mth(leaves[:k])]


def consistency_proof(m, leaves):
    if m == 0 or m >= len(leaves):
        return []
    return subproof(m, leaves, True)


def make_leaves(n, seed, rewrite_at=None):
    out = []
    for i in range(n):
        s = seed + "'" if rewrite_at is not None and i >= rewrite_at else seed
        out.append(leaf_hash(("%s %d" % (s, i)).encode()))
    return out


# --- signed notes ------------------------------------------------------------

def load_key(path):
    with open(path) as f:
        return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(f.read().strip()))


def pub_bytes(key):
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(name, typ, pub):
    return hashlib.sha256(name.encode() + b"\n" + bytes([typ]) + pub).digest()[:4]


def vkey(name, typ, pub):
    return "%s+%s+%s" % (name, key_id(name, typ, pub).hex(),
                         base64.b64encode(bytes([typ]) + pub).decode())


def parse_vkey(text):
    name, kid, b64 = text.split("+", 2)
    raw = base64.b64decode(b64, validate=True)
    if key_id(name, raw[0], raw[1:]).hex() != kid:
        raise ValueError("vkey key id does not match")
    return name, raw[0], raw[1:]


def sign_note(text, name, key):
    sig = key.sign(text.encode())
    return "%s %s %s\n" % (EM_DASH, name, base64.b64encode(key_id(name, 1, pub_bytes(key)) + sig).decode())


def checkpoint_text(origin, size, root):
    return "%s\n%d\n%s\n" % (origin, size, base64.b64encode(root).decode())


def verify_cosignatures(note_text, sig_lines, witness_vkey):
    """Counts the lines that are valid tlog-cosignature/v1 Ed25519
    cosignatures of note_text by witness_vkey; raises on a line of that key
    that fails (the note spec: a known key's bad signature rejects)."""
    name, typ, pub = parse_vkey(witness_vkey)
    if typ != 4:
        raise ValueError("witness vkey is not of type 0x04")
    kid = key_id(name, 4, pub)
    good = 0
    for line in sig_lines:
        if not line.startswith(EM_DASH + " "):
            raise ValueError("not a signature line: %r" % line)
        lname, b64 = line[2:].split(" ")
        raw = base64.b64decode(b64, validate=True)
        if lname != name or raw[:4] != kid:
            continue
        if len(raw) != 4 + 8 + 64:
            raise ValueError("cosignature of %d bytes" % len(raw))
        (ts,) = struct.unpack(">Q", raw[4:12])
        msg = ("cosignature/v1\ntime %d\n" % ts).encode() + note_text.encode()
        Ed25519PublicKey.from_public_bytes(pub).verify(raw[12:], msg)  # raises
        good += 1
    return good


# --- requests ----------------------------------------------------------------

def request_body(a, size=None):
    size = a["size"] if size is None else size
    key = load_key(a["key"])
    name = a["name"] or a["origin"]
    new = make_leaves(size, a["seed"], a["rewrite_at"])
    root = mth(new)
    if a["root_from_rewrite"]:
        proof_leaves = make_leaves(size, a["seed"])
    else:
        proof_leaves = new
    proof = consistency_proof(a["old"], proof_leaves)
    mode = a["proof"]
    if mode == "bad" and proof:
        proof[-1] = bytes([proof[-1][0] ^ 1]) + proof[-1][1:]
    elif mode == "short" and proof:
        proof = proof[:-1]
    elif mode == "long":
        proof = proof + [hashlib.sha256(b"extra").digest()]
    elif mode == "none":
        proof = []
    text = checkpoint_text(a["origin"], size, root)
    old = "old %d\n" % a["old"]
    plines = "".join(base64.b64encode(h).decode() + "\n" for h in proof)
    note = text + "\n" + sign_note(text, name, key)
    m = a.get("mutate")
    if m == "no-old":
        old = ""
    elif m == "old-zero-pad":
        old = "old 0%d\n" % a["old"]
    elif m == "old-negative":
        old = "old -%d\n" % a["old"]
    elif m == "old-huge":
        old = "old 99999999999999999999\n"
    elif m == "proof-not-b64":
        plines = "not base64!\n" + plines
    elif m == "proof-31-bytes":
        plines = base64.b64encode(b"\x01" * 31).decode() + "\n" + plines
    elif m == "proof-64-lines":
        plines = (base64.b64encode(b"\x02" * 32).decode() + "\n") * 64
    elif m == "no-blank-line":
        return old + plines + note, text
    elif m == "no-signature":
        note = text
    elif m == "unsigned-text":
        note = text + "\n"
    elif m == "control-char":
        note = note.replace("\n", "\n\x01", 1)
    elif m == "tamper":
        note = note.replace("\n%d\n" % size, "\n%d\n" % (size + 1), 1)
    elif m == "empty":
        return "", text
    elif m == "crlf":
        return (old + plines + "\n" + note).replace("\n", "\r\n"), text
    elif m == "old0-with-proof":
        plines = base64.b64encode(b"\x03" * 32).decode() + "\n"
    elif m:
        sys.exit("witness_client.py: unknown --mutate %s" % m)
    return old + plines + "\n" + note, text


def post(url, body):
    u = urllib.parse.urlsplit(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    c.request("POST", u.path.rstrip("/") + "/add-checkpoint", body=body.encode(),
              headers={"Content-Type": "text/plain"})
    r = c.getresponse()
    data = r.read().decode("utf-8", "replace")
    c.close()
    return r.status, r.getheader("Content-Type") or "", data


def options(argv):
    a = {"key": None, "name": None, "origin": None, "old": 0, "size": 0, "seed": "h",
         "rewrite_at": None, "proof": "good", "root_from_rewrite": False,
         "witness_vkey": None, "save": None, "mutate": None}
    i = 0
    while i < len(argv):
        opt = argv[i]
        if opt == "--root-from-rewrite":
            a["root_from_rewrite"] = True
            i += 1
            continue
        k = opt[2:].replace("-", "_")
        if not opt.startswith("--") or k not in a or i + 1 >= len(argv):
            sys.exit("witness_client.py: bad option %s" % opt)
        v = argv[i + 1]
        a[k] = int(v) if k in ("old", "size", "rewrite_at") else v
        i += 2
    return a


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cmd = sys.argv[1]
    if cmd in ("keygen", "vkey"):
        path, name = sys.argv[2], sys.argv[3]
        if cmd == "keygen":
            seed = Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                serialization.NoEncryption())
            with open(path, "w") as f:
                f.write(seed.hex() + "\n")
        print(vkey(name, 1, pub_bytes(load_key(path))))
    elif cmd == "body":
        sys.stdout.write(request_body(options(sys.argv[2:]))[0])
    elif cmd == "add":
        url = sys.argv[2]
        a = options(sys.argv[3:])
        body, text = request_body(a)
        status, ctype, data = post(url, body)
        print(status)
        print("type: " + ctype)
        sys.stdout.write(data)
        if status == 200 and a["witness_vkey"]:
            lines = data.split("\n")
            if lines[-1] != "" or len(lines) < 2:
                print("cosig BAD: the answer does not end in a newline")
                return
            try:
                n = verify_cosignatures(text, lines[:-1], a["witness_vkey"])
                print("cosig ok %d" % n if n > 0 else "cosig BAD: none by the witness key")
            except Exception as e:  # noqa: BLE001 - reported to the test
                print("cosig BAD: %s" % e)
                return
            if a["save"]:
                with open(a["save"], "w") as f:
                    f.write(body.split("\n\n", 1)[1] + data)
    elif cmd == "steps":
        import shlex
        url, wvkey = sys.argv[2], sys.argv[3]
        for raw in sys.stdin:
            words = shlex.split(raw, comments=True)
            if not words:
                continue
            name, want, want_body = words[0], int(words[1]), words[2]
            a = options(words[3:])
            body, text = request_body(a)
            status, ctype, data = post(url, body)
            good = status == want
            why = "status %d, body %r" % (status, data)
            if good and want == 409 and ctype != "text/x.tlog.size":
                good, why = False, "409 with Content-Type %r" % ctype
            if good and want_body == "cosig":
                try:
                    lines = data.split("\n")
                    good = lines[-1] == "" and verify_cosignatures(text, lines[:-1], wvkey) == 1
                    why = "no cosignature by the witness in %r" % data
                except Exception as e:  # noqa: BLE001 - reported to the test
                    good, why = False, "cosignature: %s" % e
            elif good and want_body != "-" and data != want_body.encode().decode("unicode_escape"):
                good, why = False, "body %r, expected %r" % (data, want_body)
            print(("ok - " if good else "not ok - ") + name)
            if not good:
                print("#   " + why)
            sys.stdout.flush()
    elif cmd == "race":
        url, n = sys.argv[2], int(sys.argv[3])
        a = options(sys.argv[4:])
        bodies = [request_body(a, a["size"] + i)[0] for i in range(n)]
        results = [None] * n
        barrier = threading.Barrier(n)

        def one(i):
            barrier.wait()
            results[i] = post(url, bodies[i])

        threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for i, r in enumerate(results):
            print("%d %d %s" % (a["size"] + i, r[0], r[2].strip().replace("\n", " | ")))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
