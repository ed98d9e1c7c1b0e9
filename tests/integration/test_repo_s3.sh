#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The S3 backend against a real S3 server started here (s3rver from npm,
# pinned by tests/s3/package-lock.json, installed by scripts/s3-deps.sh):
# init, backup of a varied tree, restore identical, check --read-data,
# forget/prune, listings paged by continuation tokens (more than 1000
# objects, and a tiny page size), every request's SigV4 signature verified
# (sigv4proxy.py), credentials refused with a clear message,
# a missing bucket named, and a connection dropped mid-upload retried.
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
export ROOST_PASSWORD=s3test ROOST_CACHE_DIR=$TMP/cache
source "$(dirname "$0")/s3.sh"
s3_start roost-test || { finish; exit; }
PORT=$S3PORT
R=s3:$EP/roost-test/main S=$TMP/src

# a varied tree (what the local backend's fidelity test covers, smaller)
mkdir -p "$S/dir/sub" "$S/empty-dir"
printf 'hello\n' > "$S/dir/small"
: > "$S/dir/empty"
head -c 3000000 /dev/urandom > "$S/dir/random-3M"
seq 1 300000 > "$S/dir/text"
cp "$S/dir/text" "$S/dir/sub/text-copy"
head -c 200000 /dev/urandom > "$S/dir/sub/tail-hole"
truncate -s 1248576 "$S/dir/sub/tail-hole"
ln "$S/dir/small" "$S/dir/sub/hardlink"
ln -s small "$S/dir/symlink"
mkfifo "$S/fifo"
chmod 0750 "$S/dir/sub"; chmod 0604 "$S/dir/small"
touch "$S/$(printf 'new\nline')" "$S/$(printf 'bad\xff\xfeutf8')" "$S/-dash" "$S/with space"
touch -d '2021-03-04 05:06:07.123456789' "$S/dir/small"

expect_rc 0 "$ROOST" repo init -r "$R"
expect_contains "$OUT" "created roost repository at $R" "init names the s3: location"
expect_rc 2 "$ROOST" repo init -r "$R"
expect_contains "$ERR" "already a roost repository" "a second init is refused"
expect_rc 0 "$ROOST" repo backup -r "$R" --tag t1 "$S"
head -c 500000 /dev/urandom > "$S/dir/added"
expect_rc 0 "$ROOST" repo backup -r "$R" --tag t2 "$S"
expect_rc 0 "$ROOST" repo snapshots -r "$R" --json
n=$($PY -c 'import json,sys; print(len(json.load(sys.stdin)))' <<< "$OUT")
expect_eq "$n" 2 "two snapshots listed"
expect_rc 0 "$ROOST" repo ls -r "$R" latest
expect_contains "$OUT" "random-3M" "ls lists the tree"
expect_rc 0 "$ROOST" repo restore -r "$R" latest --target "$TMP/out"
expect_rc 0 $PY "$ROOST_SRC/tests/integration/treecmp.py" "$S" "$TMP/out$S"
# a restore reads a pack's blobs through a read-ahead window: 400 small
# files cost a few ranged GETs (trailers, windows, two threads missing at
# once), not one per file
mkdir -p "$TMP/many"
for i in $(seq 1 400); do head -c 700 /dev/urandom > "$TMP/many/f$i"; done
expect_rc 0 "$ROOST" repo init -r "$R-many"
expect_rc 0 "$ROOST" repo backup -r "$R-many" "$TMP/many"
mark=$(wc -l < "$TMP/s3rver.log")
expect_rc 0 "$ROOST" repo restore -r "$R-many" latest --target "$TMP/many-out"
expect_rc 0 $PY "$ROOST_SRC/tests/integration/treecmp.py" "$TMP/many" "$TMP/many-out$TMP/many"
ranged=$(tail -n +$((mark + 1)) "$TMP/s3rver.log" | grep -c "main-many/packs/[0-9a-f]* 206 " || true)
(( ranged > 0 && ranged <= 40 )) && ok "400 files restored with $ranged ranged GETs of packs" \
  || bad "$ranged ranged GETs of packs for 400 small files"
expect_rc 0 "$ROOST" repo check -r "$R" --read-data
expect_contains "$OUT$ERR" "no errors were found" "check --read-data passes"
# every listing paged by continuation tokens, 2 keys a page
ROOST_S3_MAX_KEYS=2 expect_rc 0 "$ROOST" repo check -r "$R" --read-data
expect_contains "$OUT$ERR" "no errors were found" "check --read-data passes with 2-key pages"
# (s3rver's log may trail its answers by a moment)
for _ in $(seq 1 50); do grep -aq 'continuation-token=' "$TMP/s3rver.log" && break; sleep 0.1; done
grep -aq 'continuation-token=' "$TMP/s3rver.log" && ok "listings sent continuation tokens" \
  || bad "no continuation-token request in s3rver's log"
expect_rc 0 "$ROOST" repo forget -r "$R" --keep-last 1 --prune
expect_rc 0 "$ROOST" repo prune -r "$R" --grace 0
expect_rc 0 "$ROOST" repo snapshots -r "$R" --json
n=$($PY -c 'import json,sys; print(len(json.load(sys.stdin)))' <<< "$OUT")
expect_eq "$n" 1 "forget kept one snapshot"
expect_rc 0 "$ROOST" repo check -r "$R" --read-data
expect_contains "$OUT$ERR" "no errors were found" "check --read-data passes after forget/prune"
rm -rf "$TMP/out"
expect_rc 0 "$ROOST" repo restore -r "$R" latest --target "$TMP/out"
expect_rc 0 $PY "$ROOST_SRC/tests/integration/treecmp.py" "$S" "$TMP/out$S"

# more than 1000 objects: one pack per file, listed with S3's own 1000-key pages
# (straight to s3rver: through the signature check this takes minutes)
M=$TMP/many RM=s3:$S3EP/roost-test/many/deeper
mkdir -p "$M"
for i in $(seq 1 1010); do head -c 5000 /dev/urandom > "$M/f$i"; done
expect_rc 0 "$ROOST" repo init -r "$RM" --pack-size 4096
expect_rc 0 "$ROOST" repo backup -r "$RM" "$M"
expect_rc 0 "$ROOST" repo check -r "$RM" --read-data
packs=$(sed -n 's/.*checked [0-9]* snapshots, \([0-9]*\) packs.*/\1/p' <<< "$OUT$ERR")
[[ ${packs:-0} -gt 1000 ]] && ok "$packs packs listed (more than one 1000-key page)" \
  || bad "check saw ${packs:-no} packs: $OUT$ERR"
expect_contains "$OUT$ERR" "no errors were found" "check --read-data of >1000 packs passes"
expect_rc 0 "$ROOST" repo restore -r "$RM" latest --target "$TMP/mout"
expect_rc 0 $PY "$ROOST_SRC/tests/integration/treecmp.py" "$M" "$TMP/mout$M" --no-dir-mtime

[[ ! -s $TMP/sig.log ]] && ok "every request so far carried a valid SigV4 signature" \
  || bad "signatures refused: $(head -5 "$TMP/sig.log")"
# credentials: an unknown access key is refused by s3rver itself, clearly
AWS_ACCESS_KEY_ID=NOBODY expect_rc 1 "$ROOST" repo snapshots -r "s3:$S3EP/roost-test/main"
expect_contains "$ERR" "S3 refused the credentials: InvalidAccessKeyId" "unknown access key refused"
# a wrong secret: refused by the signature check
AWS_SECRET_ACCESS_KEY=wrong-secret expect_rc 1 "$ROOST" repo snapshots -r "$R"
expect_contains "$ERR" "S3 refused the credentials: SignatureDoesNotMatch" "wrong secret refused"
grep -q SignatureDoesNotMatch "$TMP/sig.log" && ok "the signature check refused it" \
  || bad "no refusal in sigv4proxy's log"
: > "$TMP/sig.log"
# a missing bucket is named (s3rver's own answer)
expect_rc 1 "$ROOST" repo init -r "s3:$S3EP/no-such-bucket/x"
expect_contains "$ERR" "no such bucket no-such-bucket" "missing bucket named (init)"
expect_rc 1 "$ROOST" repo snapshots -r "s3:$S3EP/no-such-bucket"
expect_contains "$ERR" "no such bucket no-such-bucket" "missing bucket named (open)"
# bad locations and missing credentials are usage errors
expect_rc 2 "$ROOST" repo snapshots -r "s3:ftp://127.0.0.1/b"
env -u AWS_SECRET_ACCESS_KEY "$ROOST" repo snapshots -r "$R" > /dev/null 2> "$TMP/e" && bad "no secret accepted" \
  || expect_contains "$(cat "$TMP/e")" "AWS_SECRET_ACCESS_KEY" "missing secret named"

# a connection dropped mid-upload is retried: the proxy cuts the first
# connection that has sent 1 MB (inside the first pack's PUT)
$PY "$ROOST_SRC/tests/integration/dropproxy.py" --upstream 127.0.0.1:$SIGPORT --drop-after 1000000 \
  --log "$TMP/drop.log" > "$TMP/proxy.port" &
PXPID=$!
cleanup_hooks+=("kill $PXPID 2>/dev/null")
for _ in $(seq 1 300); do [[ -s $TMP/proxy.port ]] && break; sleep 0.1; done
PP=$(cat "$TMP/proxy.port")
RD=s3:http://127.0.0.1:$PP/roost-test/dropped
D=$TMP/dsrc
mkdir -p "$D"; head -c 6000000 /dev/urandom > "$D/big"; seq 1 100000 > "$D/text"
expect_rc 0 "$ROOST" repo init -r "$RD"
expect_rc 0 "$ROOST" repo backup -r "$RD" "$D"
grep -q dropped "$TMP/drop.log" 2>/dev/null && ok "the proxy dropped a connection mid-upload" \
  || bad "the proxy dropped nothing"
expect_rc 0 "$ROOST" repo check -r "$RD" --read-data
expect_contains "$OUT$ERR" "no errors were found" "check --read-data passes after the dropped upload"
expect_rc 0 "$ROOST" repo restore -r "$RD" latest --target "$TMP/dout"
expect_rc 0 $PY "$ROOST_SRC/tests/integration/treecmp.py" "$D" "$TMP/dout$D" --no-dir-mtime
[[ ! -s $TMP/sig.log ]] && ok "retried requests carried valid signatures too" \
  || bad "signatures refused: $(head -5 "$TMP/sig.log")"

# throttling is retried; clock skew is named
start_refuser() { # REFUSE: sets RP to a sigv4proxy that answers the first requests so
  rm -f "$TMP/ref.port"
  $PY "$ROOST_SRC/tests/integration/sigv4proxy.py" --upstream 127.0.0.1:$PORT --access-key S3RVER \
    --secret S3RVER --log "$TMP/ref.log" --refuse "$1" > "$TMP/ref.port" &
  cleanup_hooks+=("kill $! 2>/dev/null")
  for _ in $(seq 1 300); do [[ -s $TMP/ref.port ]] && break; sleep 0.1; done
  RP=$(cat "$TMP/ref.port")
}
start_refuser SlowDown:503:3
expect_rc 0 "$ROOST" repo snapshots -r "s3:http://127.0.0.1:$RP/roost-test/main"
expect_eq "$(grep -c SlowDown "$TMP/ref.log")" 3 "three SlowDown answers retried"
start_refuser InternalError:500:100
expect_rc 1 "$ROOST" repo snapshots -r "s3:http://127.0.0.1:$RP/roost-test/main"
expect_contains "$ERR" "HTTP 500: InternalError" "a server that keeps failing: the error after the retries"
start_refuser RequestTimeTooSkewed:403:100
expect_rc 1 "$ROOST" repo snapshots -r "s3:http://127.0.0.1:$RP/roost-test/main"
expect_contains "$ERR" "clock skew" "clock skew named"
finish
