#!/usr/bin/python3
"""s3_peer.py - an S3-compatible endpoint for the delivery tests that checks
every request's AWS Signature Version 4 independently of auditdb: the
signature is recomputed with Debian's python3-botocore (botocore.auth.
S3SigV4Auth over the request as received: method, raw path, the headers the
client says it signed, the body) and a mismatch is refused with 403
SignatureDoesNotMatch, as S3 does. The common local S3 servers skip this
check, so they could not catch a wrong signature.

usage: s3_peer.py PORT_FILE DATA_DIR ACCESS_KEY SECRET_KEY REGION BUCKET...

Buckets are addressed path style (HOST/BUCKET/KEY) or virtual-hosted style
(BUCKET.HOST/KEY, e.g. BUCKET.localhost:PORT, which curl resolves to loopback).
Objects are stored as DATA_DIR/BUCKET/KEY; every request is one JSON line in
DATA_DIR/requests.log ({method, path, status, reason, host}). Listens on 127.0.0.1.
"""
import datetime
import hashlib
import hmac
import json
import os
import re
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

PORT_FILE, DATA, ACCESS, SECRET, REGION = sys.argv[1:6]
BUCKETS = set(sys.argv[6:])
AUTH_RE = re.compile(r'^AWS4-HMAC-SHA256 Credential=([^/,]+)/(\d{8})/([^/,]+)/s3/aws4_request,'
                     r' ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$')


class Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, *args):
        pass

    def answer(self, status, code='', body=b'', etag=None):
        with open(os.path.join(DATA, 'requests.log'), 'a') as f:
            f.write(json.dumps({'method': self.command, 'path': self.path, 'status': status,
                                'reason': code, 'host': self.headers.get('Host', '')}) + '\n')
        if code and not body:
            body = ('<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code></Error>'
                    % code).encode()
        self.send_response(status)
        if etag:
            self.send_header('ETag', etag)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(body)

    def verify(self, body):
        """None when the request is signed right, else the S3 error code"""
        m = AUTH_RE.match(self.headers.get('Authorization', ''))
        if not m:
            return 'AuthorizationHeaderMalformed'
        key_id, date, region, signed, signature = m.groups()
        if key_id != ACCESS:
            return 'InvalidAccessKeyId'
        if region != REGION:
            return 'AuthorizationHeaderMalformed'
        names = signed.split(';')
        for need in ('host', 'x-amz-date', 'x-amz-content-sha256'):
            if need not in names:
                return 'AccessDenied'
        amz = self.headers.get('x-amz-date', '')
        try:
            when = datetime.datetime.strptime(amz, '%Y%m%dT%H%M%SZ')
        except ValueError:
            return 'AccessDenied'
        if amz[:8] != date or abs((datetime.datetime.utcnow() - when).total_seconds()) > 900:
            return 'RequestTimeTooSkewed'
        if self.headers.get('x-amz-content-sha256') != hashlib.sha256(body).hexdigest():
            return 'XAmzContentSHA256Mismatch'
        headers = {}
        for n in names:
            v = self.headers.get(n)
            if v is None:
                return 'AccessDenied'
            headers[n] = v
        req = AWSRequest(method=self.command, url='http://%s%s' % (headers['host'], self.path),
                         headers=headers, data=body)
        req.context['timestamp'] = amz
        auth = S3SigV4Auth(Credentials(ACCESS, SECRET), 's3', REGION)
        canonical = auth.canonical_request(req)
        expected = auth.signature(auth.string_to_sign(req, canonical), req)
        if not hmac.compare_digest(expected, signature):
            return 'SignatureDoesNotMatch'
        return None

    def target(self):
        path = urllib.parse.urlsplit(self.path).path
        # virtual-hosted style: a known bucket is the host name's first label(s)
        # (reports.localhost:PORT/key); else path style (HOST/bucket/key)
        host = self.headers.get('Host', '')
        name = host if host.startswith('[') else host.rsplit(':', 1)[0]
        for b in sorted(BUCKETS, key=len, reverse=True):
            if name.startswith(b + '.') and len(name) > len(b) + 1:
                return b, urllib.parse.unquote(path.lstrip('/'))
        parts = path.lstrip('/').split('/', 1)
        bucket = urllib.parse.unquote(parts[0])
        key = urllib.parse.unquote(parts[1]) if len(parts) > 1 else ''
        return bucket, key

    def body(self):
        if 'Transfer-Encoding' in self.headers:
            return None
        return self.rfile.read(int(self.headers.get('Content-Length', '0')))

    def do_PUT(self):
        body = self.body()
        if body is None:
            return self.answer(411, 'MissingContentLength')
        err = self.verify(body)
        if err:
            return self.answer(403 if err != 'XAmzContentSHA256Mismatch' else 400, err)
        bucket, key = self.target()
        if bucket not in BUCKETS:
            return self.answer(404, 'NoSuchBucket')
        if not key or '..' in key.split('/') or key.startswith('/'):
            return self.answer(400, 'InvalidArgument')
        path = os.path.join(DATA, bucket, key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'wb') as f:
            f.write(body)
        self.answer(200, etag='"%s"' % hashlib.md5(body).hexdigest())

    def do_HEAD(self):
        err = self.verify(b'')
        if err:
            return self.answer(403, err)
        bucket, key = self.target()
        if bucket not in BUCKETS or key:
            return self.answer(404, 'NoSuchBucket')
        self.answer(200)


def main():
    for b in BUCKETS:
        os.makedirs(os.path.join(DATA, b), exist_ok=True)
    srv = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    with open(PORT_FILE + '.tmp', 'w') as f:
        f.write(str(srv.server_address[1]))
    os.rename(PORT_FILE + '.tmp', PORT_FILE)
    srv.serve_forever()


if __name__ == '__main__':
    main()
