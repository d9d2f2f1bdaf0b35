#!/usr/bin/env python3
"""breaker_receiver.py - the webhook receiver of tests/sh/delivery_breaker.sh: answers a
script of statuses (500, 429 with Retry-After, 410, ...) then 200, and records every request
with its webhook-id, the time it arrived on the real clock and on the test's moved delivery
clock (the real clock plus the offset in the clock file the server reads), and whether its
Standard Webhooks v1 signature verifies (HMAC-SHA256 over id.timestamp.body with the whsec_
secret, written here from the specification).

usage: breaker_receiver.py PORT_FILE CLOCK_FILE
control: POST /_script [{"status": 500}, {"status": 429, "retryAfter": 3600}, ...]
         POST /_secret whsec_...      GET /_log (JSON list of the requests)
"""
import base64, hashlib, hmac, json, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port_file, clock_file = sys.argv[1], sys.argv[2]
lock = threading.Lock()
script, log, secret = [], [], [None]


def offset_ms():
    try:
        with open(clock_file) as f:
            return int(f.read().strip() or 0)
    except (OSError, ValueError):
        return 0


def v1_ok(headers, body):
    if not secret[0]:
        return None
    key = base64.b64decode(secret[0][len("whsec_"):])
    signed = headers.get("webhook-id", "") + "." + headers.get("webhook-timestamp", "") + "."
    mac = base64.b64encode(hmac.new(key, signed.encode() + body, hashlib.sha256).digest()).decode()
    return any(s == "v1," + mac for s in headers.get("webhook-signature", "").split())


class H(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def answer(self, status, body=b"", extra=None):
        self.send_response(status)
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        with lock:
            data = json.dumps(log).encode()
        self.answer(200, data, {"Content-Type": "application/json"})

    def do_POST(self):
        real = int(time.time() * 1000)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == "/_script":
            with lock:
                script[:] = json.loads(body)
            return self.answer(204)
        if self.path == "/_secret":
            secret[0] = body.decode().strip()
            return self.answer(204)
        with lock:
            step = script.pop(0) if script else {"status": 200}
            rec = {"n": len(log) + 1, "webhookId": self.headers.get("webhook-id"),
                   "webhookTimestamp": self.headers.get("webhook-timestamp"),
                   "realMs": real, "clockMs": real + offset_ms(), "status": step["status"],
                   "v1": v1_ok(self.headers, body)}
            log.append(rec)
        extra = {"Retry-After": str(step["retryAfter"])} if "retryAfter" in step else {}
        self.answer(step["status"], b"{}", extra)


srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(port_file + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
import os
os.rename(port_file + ".tmp", port_file)
srv.serve_forever()
