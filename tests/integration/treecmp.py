#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Compares two directory trees the way a restore must reproduce them:
type, permission bits, ownership (when root), mtime to the nanosecond,
size and content, symlink targets, extended attributes, hard-link
structure, and holes (a sparse file must stay sparse).

  treecmp.py SRC DST [--no-owner] [--no-dir-mtime]
Prints every difference; exit 0 when none."""
import hashlib
import os
import stat
import sys

def walk(root):
    out = {}
    for dirpath, dirnames, filenames in os.walk(root.encode()):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            out[os.path.relpath(p, root.encode())] = os.lstat(p)
    return out

ZERO = bytes(1 << 20)

def digest(path):
    """Content hash that skips holes and all-zero blocks (hashing their
    offsets with the rest), so an 8 GiB sparse file costs its data only.
    Equal contents give equal digests whether or not zeros are holes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        fd = f.fileno()
        size = os.fstat(fd).st_size
        pos = 0
        while pos < size:
            try:
                data = os.lseek(fd, pos, os.SEEK_DATA)
            except OSError:
                break  # only a hole remains
            try:
                hole = os.lseek(fd, data, os.SEEK_HOLE)
            except OSError:
                hole = size
            off = data - data % (1 << 20)
            while off < hole:
                b = os.pread(fd, 1 << 20, off)
                if not b:
                    break
                if b != ZERO[:len(b)]:
                    h.update(off.to_bytes(8, "little") + b)
                off += len(b)
            pos = max(hole, off)
        h.update(size.to_bytes(8, "little"))
    return h.hexdigest()

def xattrs(path):
    try:
        return {k: os.getxattr(path, k, follow_symlinks=False)
                for k in os.listxattr(path, follow_symlinks=False)}
    except OSError:
        return {}

def main():
    src, dst = sys.argv[1], sys.argv[2]
    owner = "--no-owner" not in sys.argv and os.geteuid() == 0
    dir_mtime = "--no-dir-mtime" not in sys.argv
    a, b = walk(src), walk(dst)
    diffs = []
    for rel in sorted(set(a) | set(b)):
        show = rel.decode("utf-8", "backslashreplace").encode("unicode_escape").decode()
        if rel not in b:
            diffs.append("missing in restore: " + show); continue
        if rel not in a:
            diffs.append("extra in restore: " + show); continue
        x, y = a[rel], b[rel]
        if stat.S_IFMT(x.st_mode) != stat.S_IFMT(y.st_mode):
            diffs.append("type differs: " + show); continue
        is_link = stat.S_ISLNK(x.st_mode)
        if not is_link and stat.S_IMODE(x.st_mode) != stat.S_IMODE(y.st_mode):
            diffs.append("mode %o vs %o: %s" % (stat.S_IMODE(x.st_mode), stat.S_IMODE(y.st_mode), show))
        if owner and (x.st_uid, x.st_gid) != (y.st_uid, y.st_gid):
            diffs.append("owner %d:%d vs %d:%d: %s" % (x.st_uid, x.st_gid, y.st_uid, y.st_gid, show))
        if (dir_mtime or not stat.S_ISDIR(x.st_mode)) and x.st_mtime_ns != y.st_mtime_ns:
            diffs.append("mtime %d vs %d: %s" % (x.st_mtime_ns, y.st_mtime_ns, show))
        ps, pd = os.path.join(src.encode(), rel), os.path.join(dst.encode(), rel)
        if is_link and os.readlink(ps) != os.readlink(pd):
            diffs.append("symlink target differs: " + show)
        if stat.S_ISREG(x.st_mode):
            if x.st_size != y.st_size:
                diffs.append("size %d vs %d: %s" % (x.st_size, y.st_size, show))
            elif digest(ps) != digest(pd):
                diffs.append("content differs: " + show)
            if x.st_blocks * 512 < x.st_size // 2 and y.st_blocks > x.st_blocks * 2 + 64:
                diffs.append("not sparse: %d vs %d blocks: %s" % (x.st_blocks, y.st_blocks, show))
        if not is_link and xattrs(ps) != xattrs(pd):
            diffs.append("xattrs differ: " + show)
    # hard links: the same groups of paths share an inode
    def groups(t):
        g = {}
        for rel, s in t.items():
            if not stat.S_ISDIR(s.st_mode) and s.st_nlink > 1:
                g.setdefault((s.st_dev, s.st_ino), set()).add(rel)
        return sorted(sorted(v) for v in g.values())
    if groups(a) != groups(b):
        diffs.append("hard link structure differs: %r vs %r" % (groups(a), groups(b)))
    for d in diffs[:50]:
        print(d)
    print("%d entries compared, %d differences" % (len(a), len(diffs)))
    return 1 if diffs else 0

sys.exit(main())
