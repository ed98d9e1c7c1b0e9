#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Compares roostd's snapshot browsing with the source tree it backed up.

    browse_check.py SERVER TOKEN SNAPSHOT SRC [--skip-files DIR]...

For every directory under SRC, GET /v1/snapshots/SNAPSHOT/tree?path=... must
list exactly its entries, in byte order of their names, with the same type,
size (files), mode bits, mtime (to the second) and symlink target; for every
regular file (but those under a --skip-files directory, whose first 20 only
are read), GET .../file?path=... must give the same bytes (SHA-256) with a
matching Content-Length and Content-Disposition. Prints "ok - ..." / "not ok
- ..." lines; exit status 1 on any mismatch.
"""
import hashlib
import http.client
import json
import os
import ssl
import stat
import sys
import urllib.parse
from datetime import datetime, timezone

server, token, snap, src = sys.argv[1:5]
skip = [os.fsencode(os.path.abspath(a)) for i, a in enumerate(sys.argv) if i > 5 and sys.argv[i - 1] == "--skip-files"]
u = urllib.parse.urlsplit(server)
ctx = ssl._create_unverified_context()
conn = http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=60)
fails = 0


def bad(msg):
    global fails
    fails += 1
    print("not ok - " + msg)


def get(route, path):
    # a line break can not come through ?path= (libwebsockets cuts the
    # decoded argument there): such paths come as ?path_hex=
    if any(c < 0x20 for c in path):
        arg = "path_hex=" + path.hex()
    else:
        arg = "path=" + urllib.parse.quote(path, safe="/")
    url = f"/v1/snapshots/{snap}/{route}?{arg}"
    hdrs = {"Authorization": "Bearer " + token}
    try:
        conn.request("GET", url, headers=hdrs)
        r = conn.getresponse()
    except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
        # roostd closes a keep-alive connection idle for --header-timeout
        # (10 s; comparing a directory of 20,000 entries can take that on a
        # loaded machine): a GET is repeated on a new connection, as any
        # HTTP client does
        conn.close()
        conn.request("GET", url, headers=hdrs)
        r = conn.getresponse()
    return r, r.read()


def kind(m):
    return "file" if stat.S_ISREG(m) else "dir" if stat.S_ISDIR(m) else \
        "symlink" if stat.S_ISLNK(m) else "other"


def rfc(ts):
    return datetime.fromtimestamp(int(ts), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def name_bytes(e, key="name"):
    raw = e.get(key + "_raw")
    return urllib.parse.unquote_to_bytes(raw) if raw is not None else e[key].encode()


srcb = os.fsencode(os.path.abspath(src))
dirs = files = 0
for dirpath, dirnames, filenames in os.walk(srcb):
    rel = dirpath[len(srcb):] or b"/"
    snap_path = srcb + (b"" if rel == b"/" else rel)  # the snapshot holds absolute paths
    r, body = get("tree", snap_path)
    if r.status != 200:
        bad(f"tree {snap_path!r}: status {r.status} {body[:200]!r}")
        continue
    got = json.loads(body)
    names = [name_bytes(e) for e in got]
    want = sorted(os.listdir(dirpath))
    if names != want:
        bad(f"tree {snap_path!r}: names {names[:5]!r}... differ from {want[:5]!r}... "
            f"({len(names)} vs {len(want)})")
        continue
    dirs += 1
    for e, n in zip(got, names):
        p = os.path.join(dirpath, n)
        st = os.lstat(p)
        exp = {"type": kind(st.st_mode), "mode": stat.S_IMODE(st.st_mode), "mtime": rfc(st.st_mtime)}
        if stat.S_ISREG(st.st_mode):
            exp["size"] = st.st_size
        for k, v in exp.items():
            if e.get(k) != v:
                bad(f"{p!r}: {k} is {e.get(k)!r}, want {v!r}")
        if stat.S_ISLNK(st.st_mode) and name_bytes(e, "target") != os.readlink(p):
            bad(f"{p!r}: target {e.get('target')!r} differs")
        if not stat.S_ISREG(st.st_mode):
            continue
        skipped = any(dirpath == s or dirpath.startswith(s + b"/") for s in skip)
        if skipped and names.index(n) >= 20:
            continue
        r, data = get("file", srcb + (b"" if rel == b"/" else rel) + b"/" + n)
        with open(p, "rb") as f:
            want_sum = hashlib.sha256(f.read()).hexdigest()
        if r.status != 200 or hashlib.sha256(data).hexdigest() != want_sum:
            bad(f"file {p!r}: status {r.status}, {len(data)} bytes, content differs"
                + (f": {data[:200]!r}" if r.status != 200 else ""))
            continue
        if r.getheader("Content-Length") != str(st.st_size):
            bad(f"file {p!r}: Content-Length {r.getheader('Content-Length')}")
        cd = r.getheader("Content-Disposition") or ""
        if cd != "attachment; filename*=UTF-8''" + urllib.parse.quote(n, safe=""):
            bad(f"file {p!r}: Content-Disposition {cd!r}")
        files += 1
print(f"ok - {dirs} directories listed like the source, {files} files read back identical")
sys.exit(1 if fails else 0)
