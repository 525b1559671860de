#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Snapshot and restore of a running test guest (test=snapshot: a counter
# in guest RAM and a write-read-check loop on a blk disk, printing
# `count N`). A chain of 20 generations, each restored from a snapshot of
# the one before, counts on with no number lost and every block check
# passing; 4 VMs restored at once from one snapshot each go on alone; no
# restore writes to the snapshot; a damaged snapshot is refused before a
# vCPU runs, naming the file.
# usage: snapshot.sh PLUGVM SOURCE_DIR BUILD_DIR
set -u
plugvm=$1 src=$2 build=$3
. "$src/tests/kvm/blk-lib.sh"
blk_need

tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
    rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*"
    for f in "$tmp"/*.err; do
        grep -v "KVM over PVM" "$f" | sed "s|^|  $(basename "$f"): |"
    done
    exit 1
}
# Kills a VM and reaps it quietly (no "Killed" job report).
stop() { kill -9 "$1" 2>/dev/null; { wait "$1"; } 2>/dev/null; }
# The counts in OUT, from whole lines only (the VM may be mid-line).
# One read of the file (it grows meanwhile, a byte at a time where port
# I/O traps), then its last line dropped unless it ends in a newline.
counts() {
    [ -e "$1" ] || return 0
    cp "$1" "$tmp/read.txt"
    if [ -n "$(tail -c1 "$tmp/read.txt")" ]; then head -n -1 "$tmp/read.txt"; else cat "$tmp/read.txt"; fi |
        tr -d '\r' | grep -E '^count [0-9]+$' | cut -d' ' -f2
}
# The last whole count line, with shell builtins only: wait_count polls
# it every 50 ms, and in the nested VM host (TCG) each of counts()'s seven
# processes costs milliseconds.
last_count() {
    local data= line
    [ -e "$1" ] || return 0
    IFS= read -r -d '' data <"$1"
    [[ $data == *$'\n'* ]] || return 0
    data=${data%$'\n'*}          # whole lines only
    line=${data##*$'\n'}
    line=${line%$'\r'}
    [[ $line =~ ^count\ ([0-9]+)$ ]] && echo "${BASH_REMATCH[1]}"
}
# wait_count OUT N: until OUT has count >= N (10 s at most).
wait_count() {
    local polls=0
    for _ in $(seq 200); do
        local c; c=$(last_count "$1")
        if [ -n "$c" ] && [ "$c" -ge "$2" ] || [ $((++polls % 10)) = 0 ]; then
            grep -qs '^not ok' "$1" && fail "$1: $(grep -m1 '^not ok' "$1")"
        fi
        [ -n "$c" ] && [ "$c" -ge "$2" ] && return 0
        sleep 0.05
    done
    fail "$1: no count $2 within 10 s (last: $(last_count "$1"))"
}
# check_continues OUT L: OUT's counts start right after L (L+1, or L+2 when
# the line of L+1 was half printed at the pause) and have no gap.
check_continues() {
    local first prev n
    first=$(counts "$1" | head -n 1)
    [ "$first" = $(($2 + 1)) ] || [ "$first" = $(($2 + 2)) ] ||
        fail "$1: counting went on at $first after $2 was the last count before the snapshot"
    prev=$((first - 1))
    while read -r n; do
        [ "$n" -eq $((prev + 1)) ] || fail "$1: count $n after $prev"
        prev=$n
    done < <(counts "$1")
}

truncate -s 4M "$tmp/disk0.img"
blk_config "$tmp/gen0.cfg" "test=snapshot" "path = \"$tmp/disk0.img\";"
"$plugvm" run --api "$tmp/gen0.sock" --timeout 120 "$tmp/gen0.cfg" </dev/null >"$tmp/gen0.out" 2>"$tmp/gen0.err" &
pids+=($!)
wait_count "$tmp/gen0.out" 50

# A chain: each generation is paused, snapshotted with a copy of its disk
# made while paused, killed, and restored as the next.
gens=20
for i in $(seq 1 $gens); do
    prev=$((i - 1))
    "$plugvm" pause --api "$tmp/gen$prev.sock" || fail "pause of generation $prev"
    L=$(last_count "$tmp/gen$prev.out")
    "$plugvm" snapshot --api "$tmp/gen$prev.sock" --to "$tmp/snap$i" || fail "snapshot $i"
    cp --sparse=always "$tmp/disk$prev.img" "$tmp/disk$i.img"
    stop "${pids[-1]}"
    "$plugvm" restore --api "$tmp/gen$i.sock" --timeout 120 --set "devices[0].path=$tmp/disk$i.img" \
        "$tmp/snap$i" </dev/null >"$tmp/gen$i.out" 2>"$tmp/gen$i.err" &
    pids+=($!)
    wait_count "$tmp/gen$i.out" $((L + 30))
    check_continues "$tmp/gen$i.out" "$L"
    [ "$i" -gt 1 ] && rm -rf "$tmp/snap$((i - 1))"
done
echo "ok: $gens generations, each restored from a snapshot of the one before, counted on from where it was"

# Four at once from one snapshot (the chain's last), each on its own copy
# of the disk; the snapshot must come out unchanged.
snap=$tmp/snap$gens
"$plugvm" pause --api "$tmp/gen$gens.sock" || fail "pause"
L=$(last_count "$tmp/gen$gens.out")
rm -rf "$snap"
"$plugvm" snapshot --api "$tmp/gen$gens.sock" --to "$snap" || fail "snapshot for the 4"
sum=$(cat "$snap/state" "$snap/memory" "$snap/vm.cfg" | md5sum)
stop "${pids[-1]}"
for k in 1 2 3 4; do
    cp --sparse=always "$tmp/disk$gens.img" "$tmp/four$k.img"
    "$plugvm" restore --timeout 120 --set "devices[0].path=$tmp/four$k.img" "$snap" </dev/null \
        >"$tmp/four$k.out" 2>"$tmp/four$k.err" &
    pids+=($!)
done
for k in 1 2 3 4; do
    wait_count "$tmp/four$k.out" $((L + 200))
    check_continues "$tmp/four$k.out" "$L"
done
[ "$(cat "$snap/state" "$snap/memory" "$snap/vm.cfg" | md5sum)" = "$sum" ] ||
    fail "a restore wrote to the snapshot"
echo "ok: 4 VMs restored at once from one snapshot each counted on alone; the snapshot is unchanged"
for p in "${pids[@]}"; do stop "$p"; done
pids=()

# Damage: each refused with the file named, no guest output.
refused() { # DIR WHAT-THE-MESSAGE-SAYS
    "$plugvm" restore --timeout 10 --set "devices[0].path=$tmp/four1.img" "$1" </dev/null \
        >"$tmp/bad.out" 2>"$tmp/bad.err"
    local st=$?
    [ $st -eq 1 ] || fail "restore of $1 ended with $st, expected 1"
    grep -q "$2" "$tmp/bad.err" || fail "restore of $1: expected '$2' in: $(cat "$tmp/bad.err")"
    [ -z "$(counts "$tmp/bad.out")" ] || fail "restore of $1 ran the guest"
}
cp -r "$snap" "$tmp/cut"; truncate -s -1 "$tmp/cut/state"
refused "$tmp/cut" "cut/state: truncated"
cp -r "$snap" "$tmp/flip"; printf '\xff' | dd of="$tmp/flip/state" bs=1 seek=100 conv=notrunc status=none
refused "$tmp/flip" "CRC32 does not match"
cp -r "$snap" "$tmp/mem"; truncate -s -4096 "$tmp/mem/memory"
refused "$tmp/mem" "mem/memory: .* bytes; expected .*, the guest RAM"
cp -r "$snap" "$tmp/nodev"; sed -i '/^devices/,$d' "$tmp/nodev/vm.cfg"
"$plugvm" restore --timeout 10 "$tmp/nodev" </dev/null >"$tmp/bad.out" 2>"$tmp/bad.err"
grep -q "does not have" "$tmp/bad.err" || fail "a config without the device: $(cat "$tmp/bad.err")"
# The state file's CPUID is held to the config: cx16, which the guest saw,
# turned off in the snapshot's vm.cfg must refuse the restore, not hand
# the guest a CPUID the config forbids.
cp -r "$snap" "$tmp/cpuid"
# (libconfig writes the group as "vm :" with its "{" on the next line.)
awk '/^vm[ :=]/ { v = 1 } { print } v && /\{/ { print "  cpuid_disable = [\"cx16\"];"; v = 0 }' \
    "$snap/vm.cfg" >"$tmp/cpuid/vm.cfg"
grep -q 'cpuid_disable = \["cx16"\]' "$tmp/cpuid/vm.cfg" || fail "could not edit $tmp/cpuid/vm.cfg: $(head -5 "$tmp/cpuid/vm.cfg")"
refused "$tmp/cpuid" "CPUID leaf 0x1.0 ECX bit 13 is on, and the config's vm.cpuid_disable turns it off"
echo "ok: a cut or damaged state file, a short memory file, a config lacking the device, a CPUID the config forbids: refused"
echo PASS
