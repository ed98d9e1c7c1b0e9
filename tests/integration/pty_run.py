#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Runs a command on a pseudo-terminal, answering its prompts in turn.

    pty_run.py PROMPT ANSWER [PROMPT ANSWER]... -- CMD [ARG]...

Prints what the terminal showed, then exits with the command's exit status
(124 if a prompt did not come within 20 s). What the tests check: which
prompts a command shows on a terminal, and that the answers are not echoed.
"""
import os
import pty
import select
import sys
import time


def main():
    argv = sys.argv[1:]
    sep = argv.index("--")
    pairs, cmd = argv[:sep], argv[sep + 1:]
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(cmd[0], cmd)
    seen = b""

    def read_some(deadline):
        nonlocal seen
        r, _, _ = select.select([fd], [], [], max(0, deadline - time.time()))
        if not r:
            return False
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            return False
        if not chunk:
            return False
        seen += chunk
        return True

    pos = 0
    for prompt, answer in zip(pairs[0::2], pairs[1::2]):
        deadline = time.time() + 20
        while seen.find(prompt.encode(), pos) < 0:
            if not read_some(deadline):
                sys.stdout.write(seen.decode(errors="replace"))
                os.kill(pid, 9)
                os.waitpid(pid, 0)
                return 124
        pos = seen.find(prompt.encode(), pos) + len(prompt)
        time.sleep(0.1)  # the command turns echo off after printing its prompt
        os.write(fd, answer.encode() + b"\n")
    deadline = time.time() + 20
    while read_some(deadline):
        pass
    _, status = os.waitpid(pid, 0)
    sys.stdout.write(seen.decode(errors="replace"))
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main())
