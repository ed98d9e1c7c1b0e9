#!/bin/bash
# SPDX-License-Identifier: MIT
# roostd with its repository on S3 (issue 14): `roostd --repo s3:...` against
# s3rver, every request's SigV4 signature checked (sigv4proxy.py, see s3.sh).
# The first start makes the repository in the bucket; an agent's backup goes
# through roostd into S3 and is restored identical through roostd;
# maintenance (retention, prune, check) works on S3; a restart opens the
# existing repository; a forgotten snapshot's packs are deleted from the
# bucket by prune and the rest still restores; wrong credentials and a
# missing bucket stop roostd with a message that says so. A slow S3 (the
# proxy holds some requests 3 s) does not stall roostd: the object API's
# reads wait on a serving thread while other requests are answered.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fleet.sh"
source "$(dirname "$0")/s3.sh"
S3_PROXY_ARGS="--delay $TMP/slow:/config,list-type:3" s3_start roost-fleet || { finish; exit; }
LOC=s3:$EP/roost-fleet/repo

# refused at start: the bucket is missing; the secret is wrong
expect_rc 1 "$ROOST_BIN/roostd" --data "$TMP/nobucket" --listen 127.0.0.1:1 --repo "s3:$EP/nosuch/repo"
expect_contains "$ERR" "no such bucket nosuch" "a missing bucket is named"
expect_rc 1 env AWS_SECRET_ACCESS_KEY=wrong "$ROOST_BIN/roostd" --data "$TMP/badsecret" \
  --listen 127.0.0.1:1 --repo "$LOC"
expect_contains "$ERR" "S3 refused the credentials" "a wrong secret is named"
grep -q SignatureDoesNotMatch "$TMP/sig.log" && ok "the signature check refused the wrong secret" \
  || bad "the wrong secret was not refused by the signature check"
: > "$TMP/sig.log"

start_server 2 --repo "$LOC" --prune-grace 0 --maintenance-cron off
grep -q "event=repo.created location=\"\?$LOC" "$TMP/server.log" && ok "roostd made the repository in the bucket" \
  || bad "no repo.created for $LOC"
[[ -n $(find "$TMP/s3data/roost-fleet" -path '*repo/config*' | head -1) ]] && ok "the config object is in the bucket" \
  || bad "no config object in s3rver's bucket"
[[ ! -e $SDATA/repo ]] && ok "nothing written to a local repository" || bad "$SDATA/repo exists"
expect_rc 0 "$ROOST" repository show --json
expect_eq "$(json_get 'd["location"]' <<< "$OUT")" "$LOC" "repository show names the S3 location"

S=$TMP/src
mkdir -p "$S/sub"
head -c 3000000 /dev/urandom > "$S/big"
seq 1 200000 > "$S/sub/text"
for i in $(seq 1 30); do echo "file $i" > "$S/sub/f$i"; done
ln -s sub/f1 "$S/link"
enroll alpha always-on
start_agent alpha
wait_until 10 host_online alpha && ok "agent online" || bad "agent offline"
expect_rc 0 "$ROOST" group add alpha data --path "$S"
J1=$("$ROOST" backup alpha --group data)
expect_rc 0 "$ROOST" job wait "$J1" --timeout 120
S1=$("$ROOST" job show "$J1" --json | json_get 'd["snapshot_id"]')
npacks=$(find "$TMP/s3data/roost-fleet" -path '*repo/packs/*' -name '*._S3rver_object' | wc -l)
(( npacks > 0 )) && ok "the backup's packs are in the bucket ($npacks)" || bad "no packs in the bucket"

J=$("$ROOST" restore alpha "$S1" --target "$TMP/out1")
expect_rc 0 "$ROOST" job wait "$J" --timeout 120
expect_rc 0 $PY "$ROOST_SRC/tests/integration/treecmp.py" "$S" "$TMP/out1$S"

# a restart opens the repository that is there
stop_server
start_server 2 --repo "$LOC" --prune-grace 0 --maintenance-cron off
[[ $(grep -c "event=repo.created" "$TMP/server.log") == 1 ]] && ok "the restart did not make a second repository" \
  || bad "repo.created twice"
wait_until 15 host_online alpha && ok "agent back online" || bad "agent offline after the restart"
head -c 2000000 /dev/urandom > "$S/big"   # the first snapshot's big file is now only in S1
J2=$("$ROOST" backup alpha --group data)
expect_rc 0 "$ROOST" job wait "$J2" --timeout 120
S2=$("$ROOST" job show "$J2" --json | json_get 'd["snapshot_id"]')

# forget the first snapshot: prune on S3 deletes what only it used (two runs:
# the first marks, the second deletes; grace 0)
expect_rc 0 "$ROOST" snapshot forget alpha "$S1"
before=$(find "$TMP/s3data/roost-fleet" -path '*repo/packs/*' -name '*._S3rver_object' | wc -l)
expect_rc 0 "$ROOST" maintenance run --wait --json
marked=$(json_get 'd["packs_marked"]' <<< "$OUT")
(( marked > 0 )) && ok "prune marked the forgotten snapshot's packs ($marked)" || bad "nothing marked: $OUT"
echo "# first run: $(json_get '{k: d[k] for k in ("packs_removed", "packs_marked", "packs_repacked")}' <<< "$OUT")"
before=$(find "$TMP/s3data/roost-fleet" -path '*repo/packs/*' -name '*._S3rver_object' | wc -l)
expect_rc 0 "$ROOST" maintenance run --wait --json
expect_eq "$(json_get 'd["check"]["status"]' <<< "$OUT")" ok "maintenance's check passes on S3"
removed=$(json_get 'd["packs_removed"]' <<< "$OUT")
after=$(find "$TMP/s3data/roost-fleet" -path '*repo/packs/*' -name '*._S3rver_object' | wc -l)
(( removed > 0 && after == before - removed )) && ok "the next run deleted $removed packs from the bucket ($before -> $after)" \
  || bad "packs removed $removed, bucket $before -> $after"
J=$("$ROOST" restore alpha "$S2" --target "$TMP/out2")
expect_rc 0 "$ROOST" job wait "$J" --timeout 120
expect_rc 0 $PY "$ROOST_SRC/tests/integration/treecmp.py" "$S" "$TMP/out2$S"

# a slow S3: an object's GET and a listing through the object API wait off
# the event loop; /v1/health is answered meanwhile
ms() { echo $(( $(date +%s%N) / 1000000 )); }
slow_get() { # PATH OUTFILE
  local t0=$(ms)
  curl -skf -H "Authorization: Bearer $ROOST_TOKEN" "$ROOST_SERVER$1" -o "$2" \
    && echo "$(( $(ms) - t0 ))" > "$2.ms"
}
touch "$TMP/slow"
slow_get /v1/repo/config "$TMP/config.got" & g1=$!
slow_get /v1/repo/snapshots/ "$TMP/list.got" & g2=$!
sleep 0.5
t0=$(ms)
curl -skf "$ROOST_SERVER/v1/health" >/dev/null
t1=$(ms)
wait $g1 $g2 || true
rm -f "$TMP/slow"
(( t1 - t0 < 1500 )) && ok "roostd answered /v1/health in $(( t1 - t0 )) ms while S3 was slow" \
  || bad "/v1/health took $(( t1 - t0 )) ms behind a slow S3 request"
(( $(cat "$TMP/config.got.ms" 2>/dev/null || echo 0) >= 2500 )) && [[ -s $TMP/config.got ]] \
  && ok "the slow GET of config still answered ($(cat "$TMP/config.got.ms") ms)" || bad "GET config through the slow S3 failed"
n=$(json_get 'len(d)' < "$TMP/list.got" 2>/dev/null || echo -1)
(( n >= 1 )) && ok "the slow listing still answered ($n snapshots, $(cat "$TMP/list.got.ms") ms)" \
  || bad "listing through the slow S3: $(head -c 300 "$TMP/list.got" 2>/dev/null)"
# a ranged GET and a HEAD off the loop answer as before
cfgsize=$(stat -c %s "$TMP/config.got")
curl -skf -H "Authorization: Bearer $ROOST_TOKEN" -H "Range: bytes=2-9" "$ROOST_SERVER/v1/repo/config" -o "$TMP/range.got" \
  -w '%{http_code}' > "$TMP/range.code"
expect_eq "$(cat "$TMP/range.code")" 206 "a ranged GET is a 206"
cmp -s "$TMP/range.got" <(tail -c +3 "$TMP/config.got" | head -c 8) && ok "the range's bytes are the object's" \
  || bad "ranged bytes differ"
h=$(curl -skI -H "Authorization: Bearer $ROOST_TOKEN" "$ROOST_SERVER/v1/repo/config" | tr -d '\r' | sed -n 's/^content-length: //Ip')
expect_eq "$h" "$cfgsize" "HEAD gives the object's size"
code=$(curl -sk -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ROOST_TOKEN" "$ROOST_SERVER/v1/repo/snapshots/0000000000000000000000000000000000000000000000000000000000000000")
expect_eq "$code" 404 "a missing object is a 404"
[[ ! -s $TMP/sig.log ]] && ok "every request of roostd carried a valid SigV4 signature" \
  || bad "signatures refused: $(head -5 "$TMP/sig.log")"
finish
