#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# S3 Object Lock and Content-MD5 (lib/net/backend_s3.c), against s3rver
# behind sigv4proxy.py. s3rver knows nothing of Object Lock, so the proxy
# records every PUT's headers (--put-log) and answers as AWS does for a
# bucket with Object Lock enabled (a retention PUT without Content-MD5 is
# refused) or without it (a retention PUT is refused): what is checked is
# what roost sends and how it takes a refusal, not that s3rver keeps a lock.
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
export ROOST_PASSWORD=s3test ROOST_CACHE_DIR=$TMP/cache
source "$(dirname "$0")/s3.sh"
s3_start roost-test || { finish; exit; }

lock_proxy() { # MODE PUTLOG: LP = the port of a proxy that logs PUTs and plays that bucket
  rm -f "$TMP/lp.port"
  $PY "$ROOST_SRC/tests/integration/sigv4proxy.py" --upstream 127.0.0.1:$S3PORT --access-key S3RVER \
    --secret S3RVER --log "$TMP/lock-sig.log" --object-lock "$1" --put-log "$2" > "$TMP/lp.port" &
  cleanup_hooks+=("kill $! 2>/dev/null")
  for _ in $(seq 1 300); do [[ -s $TMP/lp.port ]] && break; sleep 0.1; done
  LP=$(cat "$TMP/lp.port")
}
S=$TMP/src
mkdir -p "$S/d"
head -c 3000000 /dev/urandom > "$S/d/random"
seq 1 200000 > "$S/d/text"

# 1. with ROOST_S3_OBJECT_LOCK every PUT asks for retention, with Content-MD5, all signed
lock_proxy enabled "$TMP/puts.jsonl"
R=s3:http://127.0.0.1:$LP/roost-test/locked
T0=$(date +%s)
ROOST_S3_OBJECT_LOCK=COMPLIANCE:30 expect_rc 0 "$ROOST" repo init -r "$R"
ROOST_S3_OBJECT_LOCK=COMPLIANCE:30 expect_rc 0 "$ROOST" repo backup -r "$R" "$S"
T1=$(date +%s)
expect_rc 0 "$ROOST" repo check -r "$R" --read-data
expect_contains "$OUT$ERR" "no errors were found" "the locked repository checks with --read-data"
expect_rc 0 "$ROOST" repo restore -r "$R" latest --target "$TMP/out"
expect_rc 0 $PY "$ROOST_SRC/tests/integration/treecmp.py" "$S" "$TMP/out$S" --no-dir-mtime
NOBJ=$(find "$TMP/s3data/roost-test/locked" -type f -name '*._S3rver_object' | wc -l)
RES=$($PY - "$TMP/puts.jsonl" "$T0" "$T1" <<'PY'
import json, sys, datetime
puts = [json.loads(l) for l in open(sys.argv[1])]
t0, t1 = int(sys.argv[2]), int(sys.argv[3])
bad = []
for p in puts:
    until = datetime.datetime.strptime(p["until"] or "1970-01-01T00:00:00Z",
                                       "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    u = int(until.timestamp())
    need = {"content-md5", "x-amz-object-lock-mode", "x-amz-object-lock-retain-until-date"}
    if (p["mode"] != "COMPLIANCE" or not p["md5_ok"] or not need <= set(p["signed"])
            or not (t0 + 30 * 86400 - 2 <= u <= t1 + 30 * 86400 + 2)):
        bad.append(p)
print(len(puts), len(bad), json.dumps(bad[:1]))
PY
)
read -r NPUT NBAD FIRSTBAD <<<"$RES"
(( NPUT >= NOBJ && NOBJ >= 5 )) && ok "$NPUT PUTs for $NOBJ objects were logged" \
  || bad "$NPUT PUTs logged for $NOBJ objects"
expect_eq "$NBAD" 0 "every PUT: COMPLIANCE until now + 30 days, a matching Content-MD5, all signed ($FIRSTBAD)"
[[ ! -s $TMP/lock-sig.log ]] && ok "no request refused" || bad "refused: $(head -3 "$TMP/lock-sig.log")"

# 2. without the setting: Content-MD5 still, no retention asked
: > "$TMP/lock-sig.log"
lock_proxy enabled "$TMP/puts2.jsonl"
expect_rc 0 "$ROOST" repo init -r "s3:http://127.0.0.1:$LP/roost-test/plain"
RES=$($PY -c '
import json, sys
p = [json.loads(l) for l in open(sys.argv[1])]
print(len(p), sum(1 for x in p if x["md5_ok"] and "content-md5" in x["signed"]),
      sum(1 for x in p if x["mode"] or x["until"]))' "$TMP/puts2.jsonl")
read -r N MD5 LOCKED <<<"$RES"
(( N > 0 )) && expect_eq "$MD5" "$N" "without the setting every PUT still carries a signed, matching Content-MD5" \
  || bad "no PUT logged"
expect_eq "$LOCKED" 0 "without the setting no PUT asks for retention"

# 3. a bucket without Object Lock: the refusal is named with what to do
lock_proxy missing "$TMP/puts3.jsonl"
ROOST_S3_OBJECT_LOCK=GOVERNANCE:7 expect_rc 2 "$ROOST" repo init -r "s3:http://127.0.0.1:$LP/roost-test/nolock"
expect_contains "$ERR" "the bucket refused Object Lock retention" "a bucket without Object Lock: refusal named"
expect_contains "$ERR" "Bucket is missing Object Lock Configuration" "S3's own words given"
expect_contains "$ERR" "docs/s3.md" "the error says where to read more"
[[ -z $(find "$TMP/s3data/roost-test/nolock" -type f -name 'config*' 2>/dev/null) ]] \
  && ok "no config written in a bucket that refused" || bad "a config was written"

# 4. a malformed setting is a usage error naming the expected form
for v in LEGAL:30 COMPLIANCE:0 COMPLIANCE COMPLIANCE:99999999; do
  ROOST_S3_OBJECT_LOCK=$v expect_rc 2 "$ROOST" repo snapshots -r "$R"
  expect_contains "$ERR" "ROOST_S3_OBJECT_LOCK=$v: expected MODE:DAYS" "ROOST_S3_OBJECT_LOCK=$v refused"
done
s3_signatures_ok
finish
