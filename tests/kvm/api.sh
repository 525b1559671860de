#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The control socket (plugvm run --api PATH): mode 0600; pause stops the
# guest (its disk stops changing) and resume lets it go on; a second VM
# cannot take a live socket; the socket file goes when the VM ends. A
# VM whose stdout nobody reads: the pause fails after 5 s and SIGTERM ends
# it within 10 s. The
# guest is the test guest writing to a blk disk without end
# (test=blk blk_phase=write).
# usage: api.sh PLUGVM SOURCE_DIR BUILD_DIR
set -u
plugvm=$1 src=$2 build=$3
. "$src/tests/kvm/blk-lib.sh"
blk_need

blk_workdir
fail() {
    echo "FAIL: $*"
    [ -s "$tmp/err" ] && { echo "plugvm's stderr:"; sed 's/^/  /' "$tmp/err"; }
    exit 1
}
img=$tmp/disk.img sock=$tmp/api.sock
truncate -s $((16384 * 512)) "$img"
blk_config "$tmp/vm.cfg" "test=blk blk_sectors=16384 blk_seed=7 blk_count=1024 blk_phase=write" \
    "path = \"$img\"; queues = 2;"
# --timeout: a bound, not a step; in the nested VM host the whole test takes
# ~70 s, and the VM must still be running for the SIGTERM at its end.
"$plugvm" run --api "$sock" --timeout 300 "$tmp/vm.cfg" </dev/null >"$tmp/out" 2>"$tmp/err" &
pid=$!
for _ in $(seq 100); do
    grep -q 'unflushed writes under way' "$tmp/out" 2>/dev/null && break
    sleep 0.1
done
grep -q 'unflushed writes under way' "$tmp/out" || fail "the guest did not start writing"
[ "$(stat -c %a "$sock")" = 600 ] || fail "socket mode $(stat -c %a "$sock"), expected 600"
echo "ok: $sock is mode 0600"

# The guest rewrites its disk's tail without end: each write moves the
# file's modification time (nanoseconds), even where the bytes repeat.
mtime() { stat -c %.9Y "$img"; }
"$plugvm" pause --api "$sock" || fail "pause"
a=$(mtime); sleep 0.5; b=$(mtime)
[ "$a" = "$b" ] || fail "the disk was written while the VM was paused ($a, then $b)"
echo "ok: paused, the guest's disk is not written"
"$plugvm" run --api "$sock" --timeout 5 "$src/etc/examples/hello.cfg" </dev/null >/dev/null 2>"$tmp/err2" &&
    fail "a second VM took the live socket"
grep -q "another VM's control socket" "$tmp/err2" || fail "second VM: $(cat "$tmp/err2")"
echo "ok: a second VM is refused the socket"
"$plugvm" resume --api "$sock" || fail "resume"
changed=
for _ in $(seq 50); do
    sleep 0.1
    [ "$(mtime)" != "$b" ] && { changed=1; break; }
done
[ -n "$changed" ] || fail "the disk was not written after resume"
echo "ok: resumed, the guest writes again"
"$plugvm" pause --api "$tmp/nope.sock" 2>"$tmp/err3" && fail "pause on no socket succeeded"
grep -q "cannot connect" "$tmp/err3" || fail "no socket: $(cat "$tmp/err3")"
# Now, not at the end: the guest stops writing (and ends) 120 s by its
# own clock, which in the nested VM host runs fast enough to come first.
kill -TERM "$pid"
status=0; wait "$pid" || status=$?
pid=
[ "$status" -eq 143 ] || fail "plugvm ended with $status after SIGTERM, expected 143"
[ ! -e "$sock" ] || fail "the socket file is still there after the VM ended"
echo "ok: the socket file is gone with the VM"

# A vCPU that cannot stop (blocked writing to a stdout nobody reads): the
# pause gives up after its timeout, says why, and leaves the VM running.
mkfifo "$tmp/fifo"
exec 3<>"$tmp/fifo" # a reader that never reads: the pipe fills
# One page of pipe (F_SETPIPE_SZ), not 64 KiB: the guest prints ~15 KB/s on
# KVM over PVM but ~1.3 KB/s in the nested VM host, where 64 KiB took 50 s.
python3 -c 'import fcntl, os, sys; fcntl.fcntl(os.open(sys.argv[1], os.O_RDWR), 1031, 4096)' \
    "$tmp/fifo" || fail "F_SETPIPE_SZ on the FIFO"
truncate -s 4M "$tmp/disk2.img"
blk_config "$tmp/stuck.cfg" "test=snapshot" "path = \"$tmp/disk2.img\";"
"$plugvm" run --api "$tmp/stuck.sock" --timeout 120 "$tmp/stuck.cfg" </dev/null >"$tmp/fifo" 2>"$tmp/err4" &
stuck=$!
for _ in $(seq 100); do [ -S "$tmp/stuck.sock" ] && break; sleep 0.1; done
# Wait until its vCPU thread waits for room in the pipe (the page is
# full; serial.c polls the fd before each byte): bounded by time, as a
# loop's count is not where processes start slowly (TCG).
vcpu_waits() {
    local t
    for t in /proc/$stuck/task/*; do
        [ "$(cat "$t/comm" 2>/dev/null)" = vcpu0 ] && grep -qsE 'poll|pipe_write' "$t/wchan" && return 0
    done
    return 1
}
blocked= until=$((SECONDS + 60))
while [ $SECONDS -lt $until ]; do
    vcpu_waits && { blocked=1; break; }
    sleep 0.1
done
[ -n "$blocked" ] || fail "the guest's console never filled the pipe"
"$plugvm" pause --api "$tmp/stuck.sock" 2>"$tmp/err5" && fail "a pause with a vCPU stuck in write() succeeded"
grep -q "vCPUs stopped within 5 s" "$tmp/err5" || fail "stuck pause: $(cat "$tmp/err5")"
echo "ok: a vCPU that cannot stop makes the pause fail after 5 s, not hang"
# And SIGTERM still ends it, the pipe still full: teardown frees the
# vCPU from its wait (it used to sit in write() for good, and plugvm with it).
kill -TERM "$stuck"
until=$((SECONDS + 10))
while kill -0 "$stuck" 2>/dev/null && [ $SECONDS -lt $until ]; do sleep 0.1; done
if kill -0 "$stuck" 2>/dev/null; then
    kill -KILL "$stuck"; exec 3<&-
    fail "SIGTERM did not end a VM whose stdout nobody reads within 10 s"
fi
status=0; wait "$stuck" || status=$?
exec 3<&-
[ "$status" -eq 143 ] || fail "the stuck VM ended with $status after SIGTERM, expected 143"
echo "ok: SIGTERM ends a VM whose stdout nobody reads (status 143), its pipe still full"

echo PASS
