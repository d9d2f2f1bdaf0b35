#!/usr/bin/env python3
"""Verify auditdb receipts (c2sp.org/tlog-proof@v1) from the specifications alone.

A second, independent implementation of docs/proofs.md, written from C2SP tlog-proof,
signed-note, tlog-checkpoint, tlog-cosignature and RFC 9162 (not from auditdb's C code):

  adb_proof.py verify RECEIPT... --vkey VKEY [--witness VKEY]... [--quorum N]
               [--event EVENT.json] [--org ORG]
      prints "RECEIPT ok" or "RECEIPT INVALID: reason" per receipt; exit 0 when all are
      valid, 1 otherwise, 2 on usage errors.
  adb_proof.py vectors DIR
      runs the RFC 6962 vectors of tests/vectors/merkle (inclusion/ and consistency/):
      "ok FILE" when a proof is accepted exactly when its file says, exit 1 otherwise.
  adb_proof.py note VKEY NOTEFILE
      verifies a signed note against one verifier key (exit 0 valid, 1 not).
  adb_proof.py vkey NAME HEXSEED [TYPE]
      prints the verifier key of the Ed25519 key with that 32-byte seed (RFC 8032), type 1
      (a log key, default) or 4 (a witness's cosignature key).

An entry (the leaf data) is 48 bytes: the event's UUID (16 raw bytes) || the SHA-256 of its
canonical form (32 raw bytes); auditdb puts it in the receipt's `extra` line. With --event
(the event object GET /api/v1/audit/events/{id} answers) the entry must name that event: its
id and hash, and for sha256-c14n-v1/v2 events the hash recomputed from the canonical form
(docs/integrity.md; the same rules as tests/tools/adb_recompute.py).

Ed25519 through the `cryptography` package when it is installed, else a plain-Python RFC 8032
verifier (set ADB_PROOF_PURE=1 to force it).
"""
import base64
import binascii
import hashlib
import hmac
import json
import os
import sys

HEADER = 'c2sp.org/tlog-proof@v1'
MAX_SIGS = 64            # signature lines accepted in a note (spec: at least 16)
MAX_PROOF = 64           # hashes in an inclusion proof (a tree of up to 2^64 leaves)


class Invalid(Exception):
    pass


# ---------------------------------------------------------------- base64, decimals

def b64(s, what):
    """Standard base64 (RFC 4648 section 4), padding required, nothing else."""
    try:
        raw = base64.b64decode(s.encode('ascii'), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise Invalid('%s: not base64' % what)
    if base64.b64encode(raw).decode('ascii') != s:  # non-canonical trailing bits
        raise Invalid('%s: not canonical base64' % what)
    return raw


def decimal(s, what, limit=(1 << 64) - 1):
    if not s or not s.isascii() or not s.isdigit() or (len(s) > 1 and s[0] == '0'):
        raise Invalid('%s: not a decimal without leading zeroes: %r' % (what, s))
    v = int(s)
    if v > limit:
        raise Invalid('%s: out of range' % what)
    return v


# ---------------------------------------------------------------- Ed25519

P = 2 ** 255 - 19
L = 2 ** 252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)
BY = 4 * pow(5, P - 2, P) % P


def _recover_x(y, sign):
    if y >= P:
        return None
    x2 = (y * y - 1) * pow(D * y * y + 1, P - 2, P) % P
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P:
        x = x * SQRT_M1 % P
    if (x * x - x2) % P:
        return None
    if x & 1 != sign:
        x = P - x
    return x


def _add(a, b):
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    A = (y1 - x1) * (y2 - x2) % P
    B = (y1 + x1) * (y2 + x2) % P
    C = 2 * t1 * t2 * D % P
    Dd = 2 * z1 * z2 % P
    E, F, G, H = B - A, Dd - C, Dd + C, B + A
    return (E * F % P, G * H % P, F * G % P, E * H % P)


def _mul(s, pt):
    q = (0, 1, 1, 0)
    while s:
        if s & 1:
            q = _add(q, pt)
        pt = _add(pt, pt)
        s >>= 1
    return q


def _decode_point(b):
    y = int.from_bytes(b, 'little')
    sign = y >> 255
    y &= (1 << 255) - 1
    x = _recover_x(y, sign)
    if x is None:
        return None
    return (x, y, 1, x * y % P)


def _equal(a, b):
    return (a[0] * b[2] - b[0] * a[2]) % P == 0 and (a[1] * b[2] - b[1] * a[2]) % P == 0


_BASE = (_recover_x(BY, 0), BY, 1, _recover_x(BY, 0) * BY % P)


def ed25519_public(seed):
    """RFC 8032 5.1.5: the public key of a 32-byte seed."""
    h = hashlib.sha512(seed).digest()
    a = int.from_bytes(h[:32], 'little')
    a &= (1 << 254) - 8
    a |= 1 << 254
    x, y, z, _ = _mul(a, _BASE)
    zi = pow(z, P - 2, P)
    x, y = x * zi % P, y * zi % P
    return (y | (x & 1) << 255).to_bytes(32, 'little')


def _ed25519_pure(pub, sig, msg):
    """RFC 8032 section 5.1.7, the unbatched check [S]B = R + [k]A."""
    if len(pub) != 32 or len(sig) != 64:
        return False
    a = _decode_point(pub)
    r = _decode_point(sig[:32])
    if a is None or r is None:
        return False
    s = int.from_bytes(sig[32:], 'little')
    if s >= L:
        return False
    k = int.from_bytes(hashlib.sha512(sig[:32] + pub + msg).digest(), 'little') % L
    return _equal(_mul(s, _BASE), _add(r, _mul(k, a)))


def _ed25519_lib():
    if os.environ.get('ADB_PROOF_PURE'):
        return None
    try:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
        from cryptography.exceptions import InvalidSignature
    except ImportError:
        return None

    def verify(pub, sig, msg):
        try:
            Ed25519PublicKey.from_public_bytes(pub).verify(sig, msg)
            return True
        except (InvalidSignature, ValueError):
            return False
    return verify


ed25519_verify = _ed25519_lib() or _ed25519_pure


# ---------------------------------------------------------------- keys and notes

def key_id(name, typ, pub):
    return hashlib.sha256(name.encode('utf-8') + b'\n' + bytes([typ]) + pub).digest()[:4]


def bad_key_name(name):
    return not name or '+' in name or any(c.isspace() for c in name)


class VKey:
    """A verifier key `name+hex(key id)+base64(type || public key)`."""

    def __init__(self, text, want_type):
        parts = text.strip().split('+', 2)
        if len(parts) != 3:
            raise Invalid('verifier key: expected name+keyid+key')
        name, hid, key = parts
        if bad_key_name(name):
            raise Invalid('verifier key: bad key name')
        if len(hid) != 8 or any(c not in '0123456789abcdef' for c in hid):
            raise Invalid('verifier key: key id is not 8 lowercase hex digits')
        raw = b64(key, 'verifier key')
        if len(raw) != 33 or raw[0] != want_type:
            raise Invalid('verifier key: expected type 0x%02x and a 32-byte Ed25519 key' % want_type)
        self.name, self.type, self.pub = name, raw[0], raw[1:]
        self.id = bytes.fromhex(hid)
        if key_id(name, self.type, self.pub) != self.id:
            raise Invalid('verifier key: key id does not match the key')


def parse_note(data):
    """(text, [(name, key id, signature bytes)]) of a signed note (bytes)."""
    try:
        s = data.decode('utf-8')
    except UnicodeDecodeError:
        raise Invalid('note: not UTF-8')
    if any(ord(c) < 0x20 and c != '\n' for c in s):
        raise Invalid('note: control character')
    cut = s.rfind('\n\n')
    if cut < 0:
        raise Invalid('note: no blank line before the signatures')
    text, sigs = s[:cut + 1], s[cut + 2:]
    if not sigs.endswith('\n'):
        raise Invalid('note: signature lines must end in a newline')
    out = []
    for line in sigs[:-1].split('\n'):
        if not line.startswith('\u2014 '):
            raise Invalid('note: malformed signature line')
        name, sp, sig = line[2:].rpartition(' ')
        if not sp or bad_key_name(name):
            raise Invalid('note: malformed signature line')
        raw = b64(sig, 'note signature')
        if len(raw) < 5:
            raise Invalid('note: signature too short')
        out.append((name, raw[:4], raw[4:]))
    if not out:
        raise Invalid('note: no signature')
    if len(out) > MAX_SIGS:
        raise Invalid('note: too many signatures')
    return text, out


def verify_note(text, sigs, key):
    """True when a signature of key (type 0x01) verifies; Invalid when one of it fails."""
    good = False
    for name, kid, sig in sigs:
        if name == key.name and kid == key.id:
            if not ed25519_verify(key.pub, sig, text.encode('utf-8')):
                raise Invalid('signature of %s does not verify' % name)
            good = True
    return good


def verify_cosignature(text, sigs, key):
    """True when a tlog-cosignature/v1 of key (type 0x04) verifies over the checkpoint."""
    good = False
    for name, kid, sig in sigs:
        if name != key.name or kid != key.id:
            continue
        if len(sig) != 72:
            raise Invalid('cosignature of %s: not 8 + 64 bytes' % name)
        ts = int.from_bytes(sig[:8], 'big')
        if ts >= 1 << 63:
            raise Invalid('cosignature of %s: timestamp out of range' % name)
        msg = ('cosignature/v1\ntime %d\n' % ts + text).encode('utf-8')
        if not ed25519_verify(key.pub, sig[8:], msg):
            raise Invalid('cosignature of %s does not verify' % name)
        good = True
    return good


def parse_checkpoint(text):
    lines = text[:-1].split('\n')
    if len(lines) < 3 or any(not x for x in lines):
        raise Invalid('checkpoint: expected origin, size and root lines')
    root = b64(lines[2], 'checkpoint root')
    if len(root) != 32:
        raise Invalid('checkpoint: root is not 32 bytes')
    return lines[0], decimal(lines[1], 'checkpoint size'), root


# ---------------------------------------------------------------- Merkle (RFC 9162)

def leaf_hash(data):
    return hashlib.sha256(b'\x00' + data).digest()


def node_hash(l, r):
    return hashlib.sha256(b'\x01' + l + r).digest()


def verify_inclusion(index, size, leaf, proof, root):
    """RFC 9162 2.1.3.2, every node used; a proof of the wrong length fails."""
    if index >= size or len(leaf) != 32 or len(root) != 32:
        return False
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(size1, size2, root1, proof, root2):
    """RFC 9162 2.1.4.2; size1 == 0 fails (a proof from the empty tree proves nothing)."""
    if size1 == 0 or size1 > size2:
        return False
    if size1 == size2:  # the roots compared as given, whatever their length
        return not proof and root1 == root2
    if len(root1) != 32 or len(root2) != 32:
        return False
    if not proof:
        return False
    if size1 & (size1 - 1) == 0:  # a power of two: the first tree is a node of the second
        proof = [root1] + list(proof)
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
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == root1 and sr == root2


# ---------------------------------------------------------------- receipts

def parse_receipt(data):
    """(extra bytes or None, index, [proof hashes], checkpoint note bytes)."""
    head, sep, note = data.partition(b'\n\n')
    if not sep:
        raise Invalid('receipt: no blank line before the checkpoint')
    try:
        lines = head.decode('ascii').split('\n')
    except UnicodeDecodeError:
        raise Invalid('receipt: proof lines are not ASCII')
    if lines[0] != HEADER:
        raise Invalid('receipt: first line is not %s' % HEADER)
    i, extra = 1, None
    if i < len(lines) and lines[i].startswith('extra '):
        extra = b64(lines[i][6:], 'receipt extra')
        i += 1
    if i >= len(lines) or not lines[i].startswith('index '):
        raise Invalid('receipt: no index line')
    index = decimal(lines[i][6:], 'receipt index')
    proof = []
    for x in lines[i + 1:]:
        h = b64(x, 'receipt proof hash')
        if len(h) != 32:
            raise Invalid('receipt: a proof hash is not 32 bytes')
        proof.append(h)
    if len(proof) > MAX_PROOF:
        raise Invalid('receipt: inclusion proof too long')
    return extra, index, proof, note


def pct(org):
    ok = set(b'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~')
    return ''.join(chr(b) if b in ok else '%%%02X' % b for b in org.encode('utf-8'))


def verify_receipt(data, vkey, witnesses=(), quorum=0, org=None, event=None):
    """Returns a dict of what the receipt proves; raises Invalid with the reason."""
    extra, index, proof, note = parse_receipt(data)
    text, sigs = parse_note(note)
    origin, size, root = parse_checkpoint(text)
    if not verify_note(text, sigs, vkey):
        raise Invalid('checkpoint: no signature of the log key %s' % vkey.name)
    if not origin.startswith(vkey.name + '/'):
        raise Invalid('checkpoint: origin %r is not a log of %s' % (origin, vkey.name))
    if org is not None and origin != vkey.name + '/' + pct(org):
        raise Invalid('checkpoint: origin %r is not organization %r' % (origin, org))
    cosigned = sum(1 for w in witnesses if verify_cosignature(text, sigs, w))
    if cosigned < quorum:
        raise Invalid('cosignatures: %d of quorum %d' % (cosigned, quorum))
    if extra is None or len(extra) != 48:
        raise Invalid('receipt: extra is not a 48-byte entry')
    if not verify_inclusion(index, size, leaf_hash(extra), proof, root):
        raise Invalid('inclusion proof does not lead to the checkpoint root')
    h = extra[:16].hex()
    out = {'id': '%s-%s-%s-%s-%s' % (h[:8], h[8:12], h[12:16], h[16:20], h[20:]),
           'hash': extra[16:].hex(), 'index': index, 'size': size, 'origin': origin,
           'cosigned': cosigned}
    if event is not None:
        check_event(event, out)
    return out


# ---------------------------------------------------------------- the event

class Num(str):
    """A number kept as the text of the answer (PostgreSQL's numeric text)."""


MEMBERS = ('action', 'correlationId', 'dataClassification', 'details', 'eventVersion',
           'hashAlgorithm', 'organizationId', 'outcomeDescription', 'principalId',
           'retentionPolicy', 'status', 'targetResourceId', 'targetResourceType', 'ttl')


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


COMMITTED = ('outcomeDescription', 'principalId', 'targetResourceId')


def commitments(ev):
    """docs/integrity.md 2b, from the API's event object and its commitKey:
    field key = HMAC(event key, "adb-commit-key-v1\n" id "\n" field),
    commitment = HMAC(field key, "adb-commit-v1\n" id "\n" field "\n" canonical value)."""
    key = bytes.fromhex(ev['commitKey'])
    eid = ev['id']
    fields = {m: ev[m] for m in COMMITTED if ev.get(m) is not None}
    for name, value in (ev.get('details') or {}).items():
        fields['details.' + name] = value
    out = {}
    for f, value in fields.items():
        fk = hmac.new(key, ('adb-commit-key-v1\n%s\n%s' % (eid, f)).encode('utf-8'),
                      hashlib.sha256).digest()
        msg = ('adb-commit-v1\n%s\n%s\n%s' % (eid, f, canon(value))).encode('utf-8')
        out[f] = hmac.new(fk, msg, hashlib.sha256).hexdigest()
    return out


def canonical_form(ev):
    """docs/integrity.md section 1 from the API's event object: storedTimestamp is the
    stored instant with six fraction digits; details as stored (numbers' text kept);
    sha256-c14n-v3: personal-data members replaced by their commitments (section 2b)."""
    v3 = ev.get('hashAlgorithm') == 'sha256-c14n-v3'
    obj = {m: ev[m] for m in MEMBERS if ev.get(m) is not None
           and not (v3 and (m in COMMITTED or m == 'details'))}
    obj['timestamp'] = ev['storedTimestamp']
    if ev.get('hashAlgorithm') in ('sha256-c14n-v2', 'sha256-c14n-v3'):
        obj['id'] = ev['id']
    if v3:
        obj['commitments'] = commitments(ev)
    return canon(obj)


def check_event(ev, got):
    if str(ev.get('id', '')).lower() != got['id']:
        raise Invalid('event: id %s is not the entry\'s %s' % (ev.get('id'), got['id']))
    alg = ev.get('hashAlgorithm')
    content = ev.get('hash')
    recompute = alg in ('sha256-c14n-v1', 'sha256-c14n-v2', 'SHA-256') or (
        alg == 'sha256-c14n-v3' and isinstance(ev.get('commitKey'), str)
        and len(ev['commitKey']) == 64)
    if recompute:
        content = hashlib.sha256(canonical_form(ev).encode('utf-8')).hexdigest()
        # a legacy (SHA-256) event's hash is its import's 8-field hash; the chain and the
        # tree use the canonical form's
        if alg != 'SHA-256' and content != ev.get('hash'):
            raise Invalid('event: its canonical form hashes to %s, not its hash' % content)
    if content != got['hash']:
        raise Invalid('event: content hash %s is not the entry\'s %s' % (content, got['hash']))


# ---------------------------------------------------------------- commands

def run_vectors(top):
    bad = n = 0
    for kind in ('inclusion', 'consistency'):
        base = os.path.join(top, kind)
        for dirpath, _, files in sorted(os.walk(base)):
            for f in sorted(files):
                if not f.endswith('.json'):
                    continue
                path = os.path.join(dirpath, f)
                with open(path) as fh:
                    v = json.load(fh)
                dec = lambda s: base64.b64decode(s) if s else b''
                proof = [dec(x) for x in v.get('proof') or []]
                if any(len(x) != 32 for x in proof):
                    accepted = False
                elif kind == 'inclusion':
                    accepted = verify_inclusion(v['leafIdx'], v['treeSize'], dec(v['leafHash']),
                                                proof, dec(v['root']))
                else:
                    accepted = verify_consistency(v['size1'], v['size2'], dec(v['root1']),
                                                  proof, dec(v['root2']))
                n += 1
                good = accepted == (not v['wantErr'])
                bad += not good
                print('%s %s' % ('ok' if good else 'WRONG', os.path.relpath(path, top)))
    print('%d vectors, %d wrong' % (n, bad))
    return 1 if bad or n == 0 else 0


def usage():
    sys.stderr.write(__doc__)
    return 2


def main(argv):
    if len(argv) < 2:
        return usage()
    if argv[1] == 'vectors' and len(argv) == 3:
        return run_vectors(argv[2])
    if argv[1] == 'note' and len(argv) == 4:
        try:
            key = VKey(argv[2], 1)
            with open(argv[3], 'rb') as fh:
                text, sigs = parse_note(fh.read())
            ok = verify_note(text, sigs, key)
        except Invalid as e:
            print('INVALID: %s' % e)
            return 1
        print('ok' if ok else 'INVALID: no signature of the key')
        return 0 if ok else 1
    if argv[1] == 'vkey' and len(argv) in (4, 5):
        name, typ = argv[2], int(argv[4]) if len(argv) == 5 else 1
        pub = ed25519_public(bytes.fromhex(argv[3]))
        print('%s+%s+%s' % (name, key_id(name, typ, pub).hex(),
                            base64.b64encode(bytes([typ]) + pub).decode()))
        return 0
    if argv[1] != 'verify':
        return usage()
    files, vkey, wit, quorum, org, event = [], None, [], None, None, None
    args = argv[2:]
    try:
        while args:
            a = args.pop(0)
            if a in ('--vkey', '--witness', '--quorum', '--event', '--org'):
                if not args:
                    return usage()
                v = args.pop(0)
                if a == '--vkey':
                    vkey = VKey(v, 1)
                elif a == '--witness':
                    wit.append(VKey(v, 4))
                elif a == '--quorum':
                    quorum = decimal(v, 'quorum', 1 << 16)
                elif a == '--event':
                    with open(v, 'rb') as fh:
                        event = json.loads(fh.read(), parse_float=Num, parse_int=Num)
                else:
                    org = v
            elif a.startswith('--'):
                return usage()
            else:
                files.append(a)
    except Invalid as e:
        sys.stderr.write('adb_proof.py: %s\n' % e)
        return 2
    if not files or vkey is None or (event is not None and len(files) != 1):
        return usage()
    if quorum is None:
        quorum = len(wit)
    if quorum > len(wit):
        sys.stderr.write('adb_proof.py: quorum %d of %d witnesses\n' % (quorum, len(wit)))
        return 2
    bad = 0
    for f in files:
        try:
            with open(f, 'rb') as fh:
                got = verify_receipt(fh.read(), vkey, wit, quorum, org, event)
            print('%s ok %s %s index %d size %d cosigned %d' % (
                f, got['id'], got['hash'], got['index'], got['size'], got['cosigned']))
        except Invalid as e:
            bad += 1
            print('%s INVALID: %s' % (f, e))
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
