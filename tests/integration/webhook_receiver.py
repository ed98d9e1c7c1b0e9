#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A webhook receiver on 127.0.0.1 for the tests and the bench: verifies every
delivery's Standard Webhooks signature with the secret, refuses stale or future
timestamps (more than 5 minutes off) and bad signatures with 401, and appends
each accepted delivery to LOG as a JSON line {id, timestamp, event}.

    webhook_receiver.py --port-file F --log LOG --secret-file S [--hang]

--hang accepts connections and never answers (a dead receiver that holds the
socket). The port it listens on is written to --port-file (0: any free port,
or --port P).
"""
import argparse
import base64
import hashlib
import hmac
import json
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOLERANCE = 300


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", default="/dev/null")
    ap.add_argument("--secret-file")
    ap.add_argument("--hang", action="store_true")
    a = ap.parse_args()
    lock = threading.Lock()

    def key():
        if not a.secret_file:
            return None
        with open(a.secret_file) as f:
            s = f.read().strip()
        return base64.b64decode(s[len("whsec_"):]) if s.startswith("whsec_") else None

    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def answer(self, code, text):
            b = text.encode()
            self.send_response(code)
            self.send_header("Content-Length", str(len(b)))
            self.end_headers()
            self.wfile.write(b)

        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(n)
            if a.hang:
                time.sleep(3600)
                return
            wid = self.headers.get("webhook-id", "")
            ts = self.headers.get("webhook-timestamp", "")
            sig = self.headers.get("webhook-signature", "")
            k = key()
            if k is None:
                return self.answer(500, "no secret yet")
            try:
                t = int(ts)
            except ValueError:
                return self.answer(400, "bad timestamp")
            if abs(time.time() - t) > TOLERANCE:
                return self.answer(401, "stale timestamp")
            mac = hmac.new(k, f"{wid}.{ts}.".encode() + body, hashlib.sha256).digest()
            want = "v1," + base64.b64encode(mac).decode()
            if not any(hmac.compare_digest(want, s) for s in sig.split(" ")):
                return self.answer(401, "bad signature")
            with lock, open(a.log, "a") as f:
                f.write(json.dumps({"id": wid, "timestamp": t, "event": json.loads(body)}) + "\n")
            self.answer(200, "ok")

    srv = ThreadingHTTPServer(("127.0.0.1", a.port), H)
    srv.daemon_threads = True
    with open(a.port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.rename(a.port_file + ".tmp", a.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
