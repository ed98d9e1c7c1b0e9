#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs the Debian packages roost needs to build and test, asking apt only
# for what is missing. Idempotent: a second run does nothing and prints nothing
# but a one-line summary. Usage: scripts/deps.sh [--bench]
set -euo pipefail

pkgs=(build-essential cmake pkg-config clang
      libwebsockets-dev libssl-dev
      libjansson-dev libsqlite3-dev
      libuv1-dev libwebsockets-evlib-uv   # roostd's event loop (server/evloop.c)
      libzstd-dev libsodium-dev libcmocka-dev tzdata python3 python3-croniter
      attr psmisc procps bsdutils curl iproute2 ca-certificates
      strace    # test_repo_syscalls counts a backup's system calls per file
      systemd   # systemd-analyze verify checks packaging/systemd in make check
      libcurl4-openssl-dev  # roostd's webhook and email deliveries, the S3 backend
      libpq-dev postgresql-15   # the PostgreSQL store; its tests start a throwaway cluster (tests/pg)
      python3-aiosmtpd prometheus   # the email and /metrics tests: an SMTP sink, promtool
      python3-botocore   # test_repo_s3: AWS's SigV4 signer checks what the S3 backend signs
      chromium)   # the dashboard's browser tests (driven by playwright-core, tests/browser)
# node and npm run playwright-core and s3rver (scripts/s3-deps.sh); Debian's unless the machine has its own
# (NodeSource's nodejs bundles npm and conflicts with Debian's npm package)
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  pkgs+=(nodejs npm)
fi
if [[ "${1:-}" == "--bench" ]]; then
  pkgs+=(restic borgbackup time)
fi

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "deps: all ${#pkgs[@]} packages present"
  exit 0
fi

echo "deps: installing ${missing[*]}"
sudo=()
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null; then sudo=(sudo); else
    echo "deps: missing packages and not root (no sudo): ${missing[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
