# SPDX-License-Identifier: MIT
# Helpers for S3 tests (sourced after lib.sh): s3rver from npm (pinned by
# tests/s3/package-lock.json, installed by scripts/s3-deps.sh) on a free
# 127.0.0.1 port with one bucket, and sigv4proxy.py in front of it, which
# recomputes every request's SigV4 signature with botocore's signer and
# refuses mismatches as S3 does (s3rver 3.7 checks the access key id but
# not V4 signatures). After s3_start: S3EP is s3rver itself, EP the
# signature-checking endpoint, AWS_* are exported.
s3_start() { # BUCKET
  local bucket=$1 py=/usr/bin/python3
  if ! "$ROOST_SRC/scripts/s3-deps.sh"; then
    bad "tests/s3's packages could not be installed (scripts/s3-deps.sh)"
    return 1
  fi
  local s3rver=$ROOST_SRC/tests/s3/node_modules/.bin/s3rver
  mkdir -p "$TMP/s3data"
  # s3rver 3.7 makes continuation tokens with DES, which Node 20's OpenSSL 3
  # only has in its legacy provider
  NODE_OPTIONS=--openssl-legacy-provider "$s3rver" -d "$TMP/s3data" -a 127.0.0.1 -p 0 \
    --configure-bucket "$bucket" > "$TMP/s3rver.log" 2>&1 &
  S3PID=$!
  cleanup_hooks+=("kill $S3PID 2>/dev/null; wait $S3PID 2>/dev/null")
  S3PORT=
  for _ in $(seq 1 100); do
    S3PORT=$(sed -n 's/.*S3rver listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$TMP/s3rver.log" | head -1)
    [[ -n $S3PORT ]] && break
    sleep 0.1
  done
  [[ -n $S3PORT ]] || { bad "s3rver did not start: $(cat "$TMP/s3rver.log")"; return 1; }
  ok "s3rver listens on $S3PORT"
  export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_DEFAULT_REGION=us-east-1
  S3EP=http://127.0.0.1:$S3PORT
  $py "$ROOST_SRC/tests/integration/sigv4proxy.py" --upstream 127.0.0.1:$S3PORT \
    --access-key S3RVER --secret S3RVER --log "$TMP/sig.log" ${S3_PROXY_ARGS:-} > "$TMP/sig.port" &
  SIGPID=$!
  cleanup_hooks+=("kill $SIGPID 2>/dev/null")
  for _ in $(seq 1 300); do [[ -s $TMP/sig.port ]] && break; sleep 0.1; done
  SIGPORT=$(cat "$TMP/sig.port")
  [[ -n $SIGPORT ]] || { bad "sigv4proxy did not start"; return 1; }
  ok "sigv4proxy listens on $SIGPORT"
  EP=http://127.0.0.1:$SIGPORT
}

# The tests of the engine that run on either backend (test_repo_fidelity,
# test_repo_corruption): with ROOST_TEST_BACKEND=s3 they call repo_backend_setup
# and name repositories through repo_loc, and find an object's bytes (to
# damage them) through obj_files, which on S3 are s3rver's files.
repo_backend_setup() {
  if [[ ${ROOST_TEST_BACKEND:-local} == s3 ]]; then
    s3_start roost-test || { finish; exit; }
    ok "running against S3 (s3rver behind the SigV4 check)"
    finish_hooks+=(s3_signatures_ok)
  fi
}
repo_loc() { # NAME -> a location for repository NAME
  if [[ ${ROOST_TEST_BACKEND:-local} == s3 ]]; then echo "s3:$EP/roost-test/$1"; else echo "$TMP/$1"; fi
}
obj_files() { # NAME TYPE -> the files holding repository NAME's objects of TYPE
  if [[ ${ROOST_TEST_BACKEND:-local} == s3 ]]; then
    [[ -d $TMP/s3data/roost-test/$1/$2 ]] || return 0   # S3 has no empty folders
    find "$TMP/s3data/roost-test/$1/$2" -type f -name '*._S3rver_object'
  else
    find "$TMP/$1/$2" -type f
  fi
}
obj_name() { basename "${1%._S3rver_object}"; } # FILE -> the object's id
s3_signatures_ok() {
  [[ ! -s $TMP/sig.log ]] && ok "every request carried a valid SigV4 signature" \
    || bad "signatures refused: $(head -3 "$TMP/sig.log")"
}
