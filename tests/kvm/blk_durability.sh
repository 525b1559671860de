#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# What a FLUSH promises survives the VMM's death. The test guest
# (test=blk blk_phase=write) writes pattern SEED over the first COUNT
# sectors on two queues, FLUSHes, prints "flush completed", then keeps
# writing unflushed data after them. On that line the host kills plugvm
# with SIGKILL, so no teardown runs, and then checks that every sector
# written before the flush holds the pattern: in the file itself (awk
# computes the bytes), and through a second plugvm run whose guest reads
# them back (blk_phase=verify).
# usage: blk_durability.sh PLUGVM SOURCE_DIR BUILD_DIR
set -u
plugvm=$1 src=$2 build=$3
. "$src/tests/kvm/blk-lib.sh"
blk_need

blk_workdir
img=$tmp/disk.img sectors=16384 count=4096 seed=42
truncate -s $((sectors * 512)) "$img"
keys="test=blk blk_sectors=$sectors blk_seed=$seed blk_count=$count"
blk_config "$tmp/write.cfg" "$keys blk_phase=write" "path = \"$img\"; queues = 2;"
blk_config "$tmp/verify.cfg" "$keys blk_phase=verify" "path = \"$img\"; queues = 2;"

fail() {
    echo "FAIL: $*"
    echo "the write run's console:"; tr -d '\r' <"$tmp/write.out" | sed 's/^/  /'
    [ -s "$tmp/write.err" ] && { echo "its stderr:"; sed 's/^/  /' "$tmp/write.err"; }
    exit 1
}

# plugvm itself in the background (no wrapper), so $! is the process to kill.
"$plugvm" run --timeout 120 "$tmp/write.cfg" </dev/null >"$tmp/write.out" 2>"$tmp/write.err" &
pid=$!
seen=
for _ in $(seq 600); do
    if tr -d '\r' <"$tmp/write.out" | grep -q -E '^ok [0-9]+ - flush completed'; then seen=1; break; fi
    tr -d '\r' <"$tmp/write.out" | grep -q -E '^(not ok|Bail out!)' && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
[ -n "$seen" ] || fail "no \"flush completed\" line within 60 s"
# Then the guest says its unflushed writes have begun: kill among them.
for _ in $(seq 100); do
    grep -q 'unflushed writes under way' "$tmp/write.out" && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
grep -q 'unflushed writes under way' "$tmp/write.out" || fail "no unflushed writes within 10 s of the flush"
kill -0 "$pid" 2>/dev/null || fail "plugvm had already exited when it was to be killed"
kill -9 "$pid"
# (The braces keep bash's own "Killed" job report off the output.)
status=0; { wait "$pid"; } 2>/dev/null || status=$?
pid=
[ "$status" -eq 137 ] || fail "plugvm exited with status $status, not 137 (SIGKILL)"
tr -d '\r' <"$tmp/write.out"
echo "killed plugvm with SIGKILL after the flush"

if ! cmp <(blk_pattern $seed 0 $count) <(blk_extract "$img" 0 $count); then
    fail "the file's first $count sectors do not hold pattern $seed after the kill"
fi
echo "PASS (host): sectors 0-$((count - 1)) of the file hold pattern $seed"
# The first unflushed write completed before the guest said so; the
# file has it (the VMM died, the host's page cache did not).
cmp -s <(blk_pattern $((seed + 1)) $count 1) <(blk_extract "$img" $count 1) ||
    echo "# note: sector $count does not hold the unflushed pattern $((seed + 1))"

"$src/guest/testguest/run-tap.sh" "$plugvm" "$tmp/verify.cfg" 60
