#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test_repo_fidelity.sh against S3: s3rver behind the SigV4 check (s3.sh).
ROOST_TEST_BACKEND=s3 exec bash "$(dirname "$0")/test_repo_fidelity.sh" "$@"
