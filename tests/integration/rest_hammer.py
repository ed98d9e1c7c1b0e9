#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Hammers roostd's REST API with valid and invalid requests for a while.

    rest_hammer.py URL TOKEN SECONDS [--rate N] [--clients N]

Each client thread sends about N requests a second (half valid, half
hostile: malformed JSON, wrong tokens, invalid cron, oversized bodies,
unknown routes, wrong methods) on fresh and kept-alive connections, and
checks every answer: a valid request gets its 2xx, an invalid one its
4xx with an error object; a 5xx or a failed connection is a failure. The
last line is a JSON summary; exit 1 if anything failed.
"""
import http.client
import json
import random
import ssl
import sys
import threading
import time


def conn(host, port):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return http.client.HTTPSConnection(host, port, context=ctx, timeout=15)


class Client(threading.Thread):
    def __init__(self, host, port, token, until, rate, seed):
        super().__init__(daemon=True)
        self.host, self.port, self.token, self.until, self.rate = host, port, token, until, rate
        self.rng = random.Random(seed)
        self.stats = {"requests": 0, "valid": 0, "invalid": 0, "failures": 0}
        self.errors = []
        self.c = None
        self.hosts = []

    def request(self, method, path, body=None, token=None, headers=None):
        h = {"Authorization": "Bearer " + (token if token is not None else self.token)}
        if body is not None:
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        for attempt in (0, 1):
            if self.c is None or self.rng.random() < 0.2:  # fresh connections too
                if self.c:
                    self.c.close()
                self.c = conn(self.host, self.port)
            try:
                self.c.request(method, path, body=body, headers=h)
                r = self.c.getresponse()
                data = r.read()
                if r.getheader("Connection", "").lower() == "close":
                    self.c.close()
                    self.c = None
                return r.status, data
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # a kept-alive connection the server closed between requests: retry once, fresh
                self.c.close()
                self.c = None
                if attempt:
                    raise
        raise RuntimeError("unreachable")

    def check(self, what, status, data, want):
        ok = status in want
        if ok and status >= 400:
            try:
                ok = "error" in json.loads(data)
            except ValueError:
                ok = False
        if not ok:
            self.stats["failures"] += 1
            if len(self.errors) < 20:
                self.errors.append(f"{what}: {status} {data[:200]!r}")

    def valid(self):
        k = self.rng.randrange(5)
        if k == 0:
            s, d = self.request("GET", "/v1/health")
            self.check("health", s, d, {200})
        elif k == 1:
            s, d = self.request("GET", "/v1/hosts")
            self.check("hosts", s, d, {200})
            if s == 200:
                self.hosts = [h["id"] for h in json.loads(d)]
        elif k == 2:
            s, d = self.request("GET", "/v1/jobs?limit=20")
            self.check("jobs", s, d, {200})
        elif k == 3 and self.hosts:
            s, d = self.request("GET", f"/v1/hosts/{self.rng.choice(self.hosts)}")
            self.check("host", s, d, {200, 404})
        else:
            s, d = self.request("GET", "/v1/snapshots")
            self.check("snapshots", s, d, {200})
        self.stats["valid"] += 1

    def invalid(self):
        k = self.rng.randrange(8)
        if k == 0:
            s, d = self.request("POST", "/v1/enroll-tokens", body=b'{"ttl": 5,')
            self.check("malformed json", s, d, {400})
        elif k == 1:
            s, d = self.request("GET", "/v1/hosts", token="x" * 64)
            self.check("wrong token", s, d, {401})
        elif k == 2 and self.hosts:
            body = json.dumps({"name": "bad", "cron": "61 * * * *", "group_ids": []}).encode()
            s, d = self.request("POST", f"/v1/hosts/{self.rng.choice(self.hosts)}/schedules",
                                body=body)
            self.check("invalid cron", s, d, {400, 404})
        elif k == 3:
            s, d = self.request("POST", "/v1/enroll-tokens", body=b"[" * 5000 + b"]" * 5000)
            self.check("deep nesting", s, d, {400, 413})
        elif k == 4:
            s, d = self.request("GET", "/v1/nothing/here")
            self.check("unknown route", s, d, {404})
        elif k == 5:
            s, d = self.request("PUT", "/v1/hosts")
            self.check("wrong method", s, d, {404, 405})
        elif k == 6:
            s, d = self.request("POST", "/v1/enroll", body=b'{"token": "nope", "hostname": "x"}',
                                token="")
            self.check("bad enrollment", s, d, {400, 401})
        else:
            s, d = self.request("POST", "/v1/enroll-tokens", body=json.dumps({"ttl": -4}).encode())
            self.check("bad field", s, d, {400})
        self.stats["invalid"] += 1

    def run(self):
        gap = 1.0 / self.rate
        while time.monotonic() < self.until:
            t0 = time.monotonic()
            try:
                (self.valid if self.rng.random() < 0.5 else self.invalid)()
            except Exception as e:  # a refused or dropped connection is a failure
                self.stats["failures"] += 1
                if len(self.errors) < 20:
                    self.errors.append(f"{type(e).__name__}: {e}")
                self.c = None
            self.stats["requests"] += 1
            time.sleep(max(0.0, gap - (time.monotonic() - t0)))


def main():
    args = sys.argv[1:]
    if len(args) < 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    url, token, seconds = args[0], args[1], float(args[2])
    rate = float(args[args.index("--rate") + 1]) if "--rate" in args else 10
    nclients = int(args[args.index("--clients") + 1]) if "--clients" in args else 2
    hostport = url.split("://", 1)[1].rstrip("/")
    host, port = hostport.rsplit(":", 1)
    until = time.monotonic() + seconds
    clients = [Client(host, int(port), token, until, rate, i) for i in range(nclients)]
    for c in clients:
        c.start()
    for c in clients:
        c.join()
    total = {k: sum(c.stats[k] for c in clients) for k in clients[0].stats}
    for c in clients:
        for e in c.errors:
            print("error:", e)
    print(json.dumps(total))
    return 1 if total["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
