#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A scripted WebSocket client for roostd's tests (RFC 6455, written here).

  wsclient.py probe    HOST PORT AUTH PATH   prints the upgrade's HTTP status
  wsclient.py bigframe HOST PORT AUTH N      hello, then one N-byte text frame;
                                             prints "closed CODE" (0: dropped without
                                             a close frame) or "open"
  wsclient.py garbage  HOST PORT AUTH [N]    hello, then malformed messages (N
                                             rounds); prints "open" if still served
  wsclient.py replace  HOST PORT AUTH        two connections for one host: prints
                                             how the first ended and if the second lives
AUTH is the Authorization header value or "-" for none. TLS is not verified
(the tests pin nothing here; they test the server's behaviour).
"""
import base64
import json
import os
import socket
import ssl
import struct
import sys


def connect(host, port, auth, path="/v1/agent"):
    raw = socket.create_connection((host, int(port)), timeout=10)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    s = ctx.wrap_socket(raw, server_hostname=host)
    key = base64.b64encode(os.urandom(16)).decode()
    req = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n")
    if auth != "-":
        req += f"Authorization: {auth}\r\n"
    s.sendall((req + "\r\n").encode())
    head = b""
    try:
        while b"\r\n\r\n" not in head:
            chunk = s.recv(4096)
            if not chunk:
                break
            head += chunk
    except (ConnectionError, ssl.SSLError, socket.timeout):
        pass
    line = head.split(b"\r\n", 1)[0].decode(errors="replace")
    parts = line.split()
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    return s, status


def send_frame(s, payload, opcode=1):
    mask = os.urandom(4)
    n = len(payload)
    hdr = bytes([0x80 | opcode])
    if n < 126:
        hdr += bytes([0x80 | n])
    elif n < 65536:
        hdr += bytes([0x80 | 126]) + struct.pack(">H", n)
    else:
        hdr += bytes([0x80 | 127]) + struct.pack(">Q", n)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload)) if n < 65536 else \
        (int.from_bytes(payload, "big") ^ int.from_bytes((mask * (n // 4 + 1))[:n], "big")).to_bytes(n, "big")
    s.sendall(hdr + mask + masked)


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise ConnectionError("closed")
        b += c
    return b


def recv_frame(s):
    h = recv_exact(s, 2)
    op = h[0] & 0x0F
    n = h[1] & 0x7F
    if n == 126:
        n = struct.unpack(">H", recv_exact(s, 2))[0]
    elif n == 127:
        n = struct.unpack(">Q", recv_exact(s, 8))[0]
    return op, recv_exact(s, n)


def hello(s):
    send_frame(s, json.dumps({"type": "hello", "protocol": 1, "agent_version": "test",
                              "hostname": "ws", "os": "test", "tz": "UTC",
                              "jobs": [], "fires": []}).encode())


def until_close(s):
    """Reads frames until a close frame, EOF or the socket's timeout.
    Returns the close code, 0 when the connection ended without a close
    frame, or None when it is still open at the timeout."""
    try:
        while True:
            op, data = recv_frame(s)
            if op == 8:
                return struct.unpack(">H", data[:2])[0] if len(data) >= 2 else 1005
    except socket.timeout:
        return None
    except (ConnectionError, ssl.SSLError, OSError):
        return 0


def main():
    cmd, host, port, auth = sys.argv[1:5]
    if cmd == "probe":
        s, status = connect(host, port, auth, sys.argv[5] if len(sys.argv) > 5 else "/v1/agent")
        print(status)
        return
    s, status = connect(host, port, auth)
    if status != 101:
        print(f"refused {status}")
        return
    hello(s)
    if cmd == "bigframe":
        n = int(sys.argv[5])
        try:
            send_frame(s, b'{"type":"fire","pad":"' + b"x" * n + b'"}')
        except (ConnectionError, ssl.SSLError, OSError):
            pass
        s.settimeout(5)
        code = until_close(s)
        print("open" if code is None else f"closed {code}")
    elif cmd == "replace":
        s.settimeout(5)
        op, data = recv_frame(s)  # the config
        s2, status2 = connect(host, port, auth)
        hello(s2)
        code = until_close(s)
        s2.settimeout(5)
        op2, data2 = recv_frame(s2)
        kind = json.loads(data2).get("type") if op2 == 1 else op2
        print(f"first closed {code}, second got {kind}")
    elif cmd == "garbage":
        rounds = int(sys.argv[5]) if len(sys.argv) > 5 else 1
        bad = [b"{", b"[]", b'{"type":"nope"}', b'{"type":"fire","schedule_id":-1}',
               b'{"type":"job.finished","job_id":99999,"status":"succeeded"}',
               b'{"type":"hello","protocol":"x"}']
        try:
            for _ in range(rounds):
                for m in bad:
                    send_frame(s, m)
        except OSError:
            pass
        # still served: a ping gets a pong
        s.settimeout(5)
        try:
            send_frame(s, b"alive?", opcode=9)
            while True:
                op, data = recv_frame(s)
                if op == 10:
                    print("open")
                    return
                if op == 8:
                    print("closed")
                    return
        except (ConnectionError, ssl.SSLError, socket.timeout, OSError):
            print("closed")


if __name__ == "__main__":
    main()
