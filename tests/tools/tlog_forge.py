#!/usr/bin/env python3
"""The attacker's side of tests/sh/tamper_log.sh: someone who stole the log's key signs
checkpoints of a rewritten tree and pushes them to witnesses (c2sp.org/signed-note,
tlog-checkpoint, tlog-witness), written from the specifications alone.

usage:
  tlog_forge.py sign SEED_HEX KEY_NAME ORIGIN SIZE ROOT_B64      prints the signed note
  tlog_forge.py push URL OLD_SIZE NOTE_FILE [PROOF_B64...]        prints the HTTP status and body
"""
import base64
import hashlib
import sys
import urllib.error
import urllib.request

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat


def sign(seed_hex, name, origin, size, root_b64):
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(seed_hex))
    pub = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    key_id = hashlib.sha256(name.encode() + b"\n" + b"\x01" + pub).digest()[:4]
    text = "%s\n%d\n%s\n" % (origin, int(size), root_b64)
    sig = base64.b64encode(key_id + key.sign(text.encode())).decode()
    return text + "\n\u2014 %s %s\n" % (name, sig)


def push(url, old, note, proof):
    body = ("old %d\n" % int(old)) + "".join(p + "\n" for p in proof) + "\n" + note
    req = urllib.request.Request(url.rstrip("/") + "/add-checkpoint", data=body.encode(),
                                 method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def main(argv):
    if len(argv) == 7 and argv[1] == "sign":
        sys.stdout.write(sign(*argv[2:7]))
        return 0
    if len(argv) >= 5 and argv[1] == "push":
        with open(argv[4], encoding="utf-8") as f:
            note = f.read()
        code, body = push(argv[2], argv[3], note, argv[5:])
        print(code, body.strip().replace("\n", " "))
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
