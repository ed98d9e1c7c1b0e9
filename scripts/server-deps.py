#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The call graph among roostd's source files, and its loops.

Reads the object files of roostd (a built tree's server/ objects) with nm:
file A depends on file B when A uses a symbol that B defines. Prints each
file's dependencies, then every cycle (strongly connected component of more
than one file). Exit status 1 when there is a cycle, so `make check` can
hold the line (docs/architecture.md: no server file takes part in a loop).

    scripts/server-deps.py BUILD_DIR
"""
import glob
import os
import subprocess
import sys


def symbols(obj):
    out = subprocess.run(["nm", "--defined-only", "-g", obj], capture_output=True, text=True,
                         check=True).stdout
    defined = {l.split()[-1] for l in out.splitlines() if len(l.split()) == 3}
    out = subprocess.run(["nm", "-u", obj], capture_output=True, text=True, check=True).stdout
    used = {l.split()[-1] for l in out.splitlines() if l.strip()}
    return defined, used


def sccs(graph):
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    objs = sorted(glob.glob(os.path.join(sys.argv[1], "server", "CMakeFiles", "*.dir", "*.c.o")))
    if not objs:
        print(f"no server objects under {sys.argv[1]}/server: build first", file=sys.stderr)
        return 2
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "server")
    files = {}
    for o in objs:
        name = os.path.basename(o)[:-2]
        if os.path.exists(os.path.join(src, name)):  # not a stale object of a removed file
            files[name] = symbols(o)
    owner = {}
    for name, (defined, _) in files.items():
        for s in defined:
            owner[s] = name
    graph = {name: set() for name in files}
    for name, (_, used) in files.items():
        for s in used:
            if s in owner and owner[s] != name:
                graph[name].add(owner[s])
    for name in sorted(graph):
        print(f"{name:16} -> {' '.join(sorted(graph[name])) or '-'}")
    loops = [c for c in sccs(graph) if len(c) > 1]
    for c in loops:
        print("loop: " + " <-> ".join(c))
    print(f"{len(loops)} loop(s) among {len(graph)} server files")
    return 1 if loops else 0


if __name__ == "__main__":
    sys.exit(main())
