#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The soak of issue 16, scaled down for make check: agents backing up,
# killed and restarted at random, while the REST API is hammered with valid
# and invalid requests; afterwards no job stuck, descriptors and memory
# within bounds, the repository clean. Full length: bench/soak.
source "$ROOST_SRC/tests/integration/lib.sh"
source "$ROOST_SRC/tests/integration/fleet.sh"
source "$ROOST_SRC/tests/integration/soak.sh"
# a small ASan quarantine, so that RSS measures roostd, not the sanitizer's holding pen
export ASAN_OPTIONS="${ASAN_OPTIONS:-}:quarantine_size_mb=8"
run_soak "${SOAK_AGENTS:-8}" "${SOAK_SECONDS:-60}"
finish
