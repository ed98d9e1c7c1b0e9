#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A TCP proxy that drops connections mid-upload: the first connection
(the first --drops, default 1) whose client has sent more than --drop-after
bytes is cut (both sides closed) right there; every other connection is
forwarded untouched. Prints its port on stdout; writes "dropped" lines to
--log.

    dropproxy.py --upstream 127.0.0.1:PORT --drop-after N [--drops K] --log FILE
"""
import argparse
import socket
import sys
import threading

lock = threading.Lock()
dropped = [0]


def pump(src, dst, count_up, args, conns):
    sent = 0
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            if count_up:
                with lock:
                    cut = dropped[0] < args.drops and sent + len(data) > args.drop_after
                    if cut:
                        dropped[0] += 1
                if cut:
                    keep = args.drop_after - sent
                    dst.sendall(data[:keep])
                    with open(args.log, "a") as f:
                        f.write("dropped a connection after %d bytes\n" % args.drop_after)
                    for c in conns:
                        try:
                            c.shutdown(socket.SHUT_RDWR)
                        except OSError:
                            pass
                        c.close()
                    return
                sent += len(data)
            dst.sendall(data)
    except OSError:
        pass
    for c in conns:
        try:
            c.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--drop-after", type=int, required=True)
    ap.add_argument("--drops", type=int, default=1)
    ap.add_argument("--log", required=True)
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
        u = socket.create_connection((host, int(port)))
        conns = (c, u)
        threading.Thread(target=pump, args=(c, u, True, args, conns), daemon=True).start()
        threading.Thread(target=pump, args=(u, c, False, args, conns), daemon=True).start()


if __name__ == "__main__":
    main()
