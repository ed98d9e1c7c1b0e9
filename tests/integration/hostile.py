#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Hostile HTTP clients for roostd's tests (127.0.0.1 only, TLS not verified).

  hostile.py request  PORT FILE            sends FILE's bytes as one request,
                                           prints the response's status code
                                           (or "closed"), then its body on line 2
  hostile.py slowbody PORT N SECS          N connections each sending a body of
                                           1000 declared bytes at 1 byte a second
                                           for up to SECS; prints "closed=K
                                           max_s=T" (K cut off by the server, the
                                           last after T seconds)
  hostile.py probe    PORT SECS            GET /v1/health on a new connection
                                           every 0.2 s for SECS; prints "ok=N
                                           fail=M max_ms=L"
  hostile.py keepalive PORT SECS           one connection asking /v1/health every
                                           0.5 s for SECS; prints "ok=N fail=M"
  hostile.py flood    PORT N SECS          N plain TCP connections held SECS
                                           (they never start TLS); prints
                                           "opened=N"
  hostile.py peraddr  PORT N               N TLS connections at once, held 2 s;
                                           prints "refused=K" (those the
                                           server closed at once)
  hostile.py hammer   PORT TOKEN SECS      valid and invalid REST requests, about
                                           20 a second, for SECS; prints
                                           "valid=N invalid=M 5xx=K other=L"
                                           (5xx: answers that were server errors;
                                           other: a valid request not 200, or an
                                           invalid one answered 2xx)
"""
import socket
import ssl
import sys
import threading
import time

HOST = "127.0.0.1"


def tls(port, timeout=10):
    raw = socket.create_connection((HOST, int(port)), timeout=timeout)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx.wrap_socket(raw, server_hostname=HOST)


def read_response(s):
    """(status, body) of one response; status "closed" when none came."""
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            b = s.recv(65536)
            if not b:
                break
            data += b
    except (OSError, ssl.SSLError):
        pass
    if b"\r\n\r\n" not in data:
        return "closed", b""
    head, body = data.split(b"\r\n\r\n", 1)
    status = head.split(b"\r\n")[0].split(b" ")[1].decode()
    clen = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            clen = int(v.strip())
    try:
        while len(body) < clen:
            b = s.recv(65536)
            if not b:
                break
            body += b
    except (OSError, ssl.SSLError):
        pass
    return status, body


def cmd_request(port, path):
    with open(path, "rb") as f:
        data = f.read()
    s = tls(port)
    s.sendall(data)
    status, body = read_response(s)
    print(status)
    print(body.decode(errors="replace").strip())


def cmd_slowbody(port, n, secs):
    closed = []
    lock = threading.Lock()
    start = time.time()

    def one():
        try:
            s = tls(port)
            s.sendall(b"POST /v1/enroll-tokens HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Length: 1000\r\n\r\n{")
            while time.time() - start < secs:
                time.sleep(1)
                s.sendall(b" ")
        except (OSError, ssl.SSLError):
            with lock:
                closed.append(time.time() - start)

    ts = [threading.Thread(target=one) for _ in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print(f"closed={len(closed)} max_s={max(closed) if closed else 0:.1f}")


def health(port, s=None):
    own = s is None
    if own:
        s = tls(port, timeout=5)
    s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
    status, _ = read_response(s)
    if own:
        s.close()
    return status == "200"


def cmd_probe(port, secs):
    ok = fail = 0
    worst = 0.0
    end = time.time() + secs
    while time.time() < end:
        t = time.time()
        try:
            good = health(port)
        except (OSError, ssl.SSLError):
            good = False
        worst = max(worst, time.time() - t)
        if good:
            ok += 1
        else:
            fail += 1
        time.sleep(0.2)
    print(f"ok={ok} fail={fail} max_ms={int(worst * 1000)}")


def cmd_keepalive(port, secs):
    ok = fail = 0
    s = tls(port)
    end = time.time() + secs
    while time.time() < end:
        try:
            if health(port, s):
                ok += 1
            else:
                fail += 1
        except (OSError, ssl.SSLError):
            fail += 1
        time.sleep(0.5)
    print(f"ok={ok} fail={fail}")


def cmd_flood(port, n, secs):
    socks = []
    for _ in range(n):
        try:
            socks.append(socket.create_connection((HOST, int(port)), timeout=2))
        except OSError:
            break
    print(f"opened={len(socks)}", flush=True)
    time.sleep(secs)
    for s in socks:
        s.close()


def cmd_peraddr(port, n):
    socks = []
    refused = 0
    for _ in range(n):
        try:
            socks.append(tls(port, timeout=3))
        except (OSError, ssl.SSLError):
            refused += 1
    time.sleep(2)
    for s in socks:
        s.close()
    print(f"refused={refused}")


def cmd_hammer(port, token, secs):
    auth = f"Authorization: Bearer {token}\r\n"
    valid = [f"GET /v1/hosts HTTP/1.1\r\nHost: x\r\n{auth}\r\n",
             f"GET /v1/jobs?limit=20 HTTP/1.1\r\nHost: x\r\n{auth}\r\n",
             "GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n"]
    invalid = [
        "GET /v1/hosts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer nope\r\n\r\n",
        f"POST /v1/enroll-tokens HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: 5\r\n\r\n{{nope",
        f"POST /v1/enroll-tokens HTTP/1.1\r\nHost: x\r\n{auth}"
        "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
        f"POST /v1/enroll-tokens HTTP/1.1\r\nHost: x\r\n{auth}"
        "Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n{}",
        f"POST /v1/enroll-tokens HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: 2x\r\n\r\n{{}}",
        f"GET /v1/nope HTTP/1.1\r\nHost: x\r\n{auth}\r\n",
        f"DELETE /v1/jobs HTTP/1.1\r\nHost: x\r\n{auth}\r\n",
        "PUT /v1/repo/packs/" + "0" * 64 + " HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
    ]
    counts = {"valid": 0, "invalid": 0, "5xx": 0, "other": 0}
    end = time.time() + secs
    i = 0
    while time.time() < end:
        i += 1
        good = i % 2 == 0
        text = (valid if good else invalid)[i % (len(valid) if good else len(invalid))]
        try:
            s = tls(port, timeout=10)
            s.sendall(text.encode())
            status, _ = read_response(s)
            s.close()
        except (OSError, ssl.SSLError):
            status = "closed"
        counts["valid" if good else "invalid"] += 1
        if status.startswith("5") and status != "501":
            counts["5xx"] += 1
        elif good and status != "200":
            counts["other"] += 1
        elif not good and status.startswith("2"):
            counts["other"] += 1
        time.sleep(0.05)
    print(" ".join(f"{k}={v}" for k, v in counts.items()))


def main():
    a = sys.argv[1:]
    if a[0] == "request":
        cmd_request(a[1], a[2])
    elif a[0] == "slowbody":
        cmd_slowbody(a[1], int(a[2]), float(a[3]))
    elif a[0] == "probe":
        cmd_probe(a[1], float(a[2]))
    elif a[0] == "keepalive":
        cmd_keepalive(a[1], float(a[2]))
    elif a[0] == "flood":
        cmd_flood(a[1], int(a[2]), float(a[3]))
    elif a[0] == "hammer":
        cmd_hammer(a[1], a[2], float(a[3]))
    elif a[0] == "peraddr":
        cmd_peraddr(a[1], int(a[2]))
    else:
        sys.exit(f"unknown command {a[0]}")


if __name__ == "__main__":
    main()
