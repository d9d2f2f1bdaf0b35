#!/usr/bin/env python3
"""tlog_witness.py - a small C2SP tlog-witness for the tests, written from the
specifications alone (c2sp.org/tlog-witness, signed-note, tlog-checkpoint,
tlog-cosignature, RFC 9162 2.1.4.2), independent of auditdb's C code.

A real HTTP server on loopback: POST /add-checkpoint verifies the log's
signature (403 when no known key signed, 404 for an unknown origin), the old
size against the size it last cosigned (409 with text/x.tlog.size), the
consistency proof against both roots (422), persists its state atomically,
then answers an Ed25519 cosignature/v1 line.

usage: tlog_witness.py --log-vkey VKEY --state DIR [--name NAME] [--seed HEX]
                       [--listen HOST:PORT]
The first line it prints is "listening PORT VKEY" (its cosignature vkey).
Origins it accepts: the log vkey's name followed by "/" and anything.
"""
import argparse
import base64
import binascii
import hashlib
import http.server
import json
import os
import sys
import threading
import time

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

EM = "\u2014"


def key_id(name, typ, pub):
    return hashlib.sha256(name.encode() + b"\n" + bytes([typ]) + pub).digest()[:4]


def b64d(s):
    """strict standard base64"""
    raw = base64.b64decode(s, validate=True)
    if base64.b64encode(raw).decode() != s:
        raise ValueError("not canonical base64")
    return raw


def parse_vkey(text):
    name, kid, key = text.split("+", 2)
    raw = b64d(key)
    if len(kid) != 8 or len(raw) != 33 or key_id(name, raw[0], raw[1:]) != bytes.fromhex(kid):
        raise ValueError("bad vkey")
    return name, raw[0], raw[1:]


def node(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def verify_consistency(size1, size2, root1, root2, proof):
    """RFC 9162 2.1.4.2, step by step."""
    if size1 == 0 or size1 > size2:
        return False  # a proof from the empty tree proves nothing
    if size1 == size2:
        return not proof and root1 == root2
    if not proof:
        return False
    if (size1 & (size1 - 1)) == 0:  # a power of two: root1 is the first node
        proof = [root1] + proof
    fn, sn = size1 - 1, size2 - 1
    while (fn & 1) == 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if (fn & 1) == 1 or fn == sn:
            fr = node(c, fr)
            sr = node(c, sr)
            while (fn & 1) == 0 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == root1 and sr == root2


class Witness:
    def __init__(self, args):
        self.lock = threading.Lock()
        self.log_name, typ, self.log_pub = parse_vkey(args.log_vkey)
        if typ != 1:
            raise SystemExit("the log vkey must be of type 0x01")
        self.log_id = key_id(self.log_name, 1, self.log_pub)
        seed = bytes.fromhex(args.seed) if args.seed else os.urandom(32)
        self.key = Ed25519PrivateKey.from_private_bytes(seed)
        pub = self.key.public_key().public_bytes(serialization.Encoding.Raw,
                                                 serialization.PublicFormat.Raw)
        self.name = args.name
        self.id = key_id(self.name, 4, pub)
        self.vkey = "%s+%s+%s" % (self.name, self.id.hex(), base64.b64encode(b"\x04" + pub).decode())
        self.state_path = os.path.join(args.state, "state.json")
        os.makedirs(args.state, exist_ok=True)
        try:
            with open(self.state_path) as f:
                self.state = json.load(f)
        except FileNotFoundError:
            self.state = {}

    def persist(self):
        tmp = self.state_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.state, f)
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, self.state_path)

    def add_checkpoint(self, body):
        """(status, content type, answer bytes)"""
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return 400, "text/plain", b"not UTF-8\n"
        head, sep, note = text.partition("\n\n")
        if not sep:
            return 400, "text/plain", b"no blank line\n"
        lines = head.split("\n")
        if not lines[0].startswith("old "):
            return 400, "text/plain", b"no old line\n"
        try:
            old = int(lines[0][4:])
            if str(old) != lines[0][4:] or old < 0:
                raise ValueError
            proof = [b64d(l) for l in lines[1:]]
            if any(len(p) != 32 for p in proof) or len(proof) > 63:
                raise ValueError
        except (ValueError, binascii.Error):
            return 400, "text/plain", b"bad old line or proof\n"
        # the note: its text ends at the last blank line
        cut = note.rfind("\n\n")
        if cut < 0 or not note.endswith("\n"):
            return 400, "text/plain", b"not a signed note\n"
        ntext, sigs = note[:cut + 1], note[cut + 2:]
        cp = ntext.split("\n")[:-1]
        if len(cp) < 3:
            return 400, "text/plain", b"not a checkpoint\n"
        origin = cp[0]
        try:
            size = int(cp[1])
            root = b64d(cp[2])
            if str(size) != cp[1] or len(root) != 32:
                raise ValueError
        except (ValueError, binascii.Error):
            return 400, "text/plain", b"not a checkpoint\n"
        if not origin.startswith(self.log_name + "/"):
            return 404, "text/plain", b"unknown log\n"
        ok = False
        for line in sigs.split("\n")[:-1]:
            if not line.startswith(EM + " "):
                return 400, "text/plain", b"bad signature line\n"
            name, _, sig64 = line[2:].partition(" ")
            try:
                sig = b64d(sig64)
            except (ValueError, binascii.Error):
                return 400, "text/plain", b"bad signature\n"
            if name != self.log_name or sig[:4] != self.log_id:
                continue
            try:
                Ed25519PublicKey.from_public_bytes(self.log_pub).verify(sig[4:], ntext.encode())
                ok = True
            except InvalidSignature:
                return 403, "text/plain", b"bad log signature\n"
        if not ok:
            return 403, "text/plain", b"no signature by a known log key\n"
        if old > size:
            return 400, "text/plain", b"old size beyond the checkpoint\n"
        with self.lock:
            have = self.state.get(origin)
            have_size = have["size"] if have else 0
            if old != have_size:
                return 409, "text/x.tlog.size", b"%d\n" % have_size
            if old == 0:
                if proof:
                    return 400, "text/plain", b"a proof from size 0\n"
            elif old == size:
                if proof or base64.b64decode(have["root"]) != root:
                    return 409, "text/x.tlog.size", b"%d\n" % have_size
            elif not verify_consistency(old, size, base64.b64decode(have["root"]), root, proof):
                return 422, "text/plain", b"the consistency proof does not verify\n"
            self.state[origin] = {"size": size, "root": base64.b64encode(root).decode()}
            self.persist()
        ts = int(time.time())
        msg = ("cosignature/v1\ntime %d\n" % ts).encode() + ntext.encode()
        line = "%s %s %s\n" % (EM, self.name, base64.b64encode(
            self.id + ts.to_bytes(8, "big") + self.key.sign(msg)).decode())
        return 200, "text/plain; charset=utf-8", line.encode()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--log-vkey", required=True)
    ap.add_argument("--state", required=True)
    ap.add_argument("--name", default="witness.test/w1")
    ap.add_argument("--seed")
    ap.add_argument("--listen", default="127.0.0.1:0")
    args = ap.parse_args()
    w = Witness(args)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *a):
            if os.environ.get("TLOG_WITNESS_VERBOSE"):
                sys.stderr.write("witness: " + (fmt % a) + "\n")

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(min(n, 1 << 20))
            if self.path.rstrip("/").endswith("/add-checkpoint") or self.path == "/add-checkpoint":
                status, ctype, answer = w.add_checkpoint(body)
            else:
                status, ctype, answer = 404, "text/plain", b"not found\n"
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

    host, port = args.listen.rsplit(":", 1)
    srv = http.server.ThreadingHTTPServer((host, int(port)), Handler)
    print("listening %d %s" % (srv.server_address[1], w.vkey), flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
