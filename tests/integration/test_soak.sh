#!/bin/bash
# SPDX-License-Identifier: MIT
# bench/soak scaled down for make check: 6 agents killed and restarted at
# random for 40 s under a REST hammer; no job stuck, descriptors and memory
# bounded, no 5xx, check --read-data clean. The full run: bench/soak
# (200 agents, 30 minutes).
exec bash "$ROOST_SRC/bench/soak" --agents 6 --seconds 40
