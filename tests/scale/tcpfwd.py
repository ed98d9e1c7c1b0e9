#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A plain TCP forwarder on a free 127.0.0.1 port: every connection is
passed to --upstream untouched. It prints its port on stdout. Killing it
closes every connection it carries at once, which is how the scale tests
cut one agent's path to one roostd instance (the agent then moves to its
next --server) without touching the instance itself.

    tcpfwd.py --upstream 127.0.0.1:PORT
"""
import argparse
import socket
import sys
import threading


def pump(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", required=True)
    args = ap.parse_args()
    host, port = args.upstream.rsplit(":", 1)
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(64)
    print(ls.getsockname()[1], flush=True)
    sys.stdout.close()
    while True:
        c, _ = ls.accept()
        try:
            u = socket.create_connection((host, int(port)))
        except OSError:
            c.close()
            continue
        for a, b in ((c, u), (u, c)):
            threading.Thread(target=pump, args=(a, b), daemon=True).start()


if __name__ == "__main__":
    main()
