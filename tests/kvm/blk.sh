#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# test=blk under plugvm with the blk plugin over a temporary raw image,
# judged by run-tap.sh, then checked from the host side:
#   rw  two queues. The host writes pattern HOST_SEED over the first
#       COUNT sectors before the run, the guest checks it reads that, then
#       writes pattern SEED there; after plugvm exits the file must hold it.
#   ro  read_only = true, one queue: the guest reads the host's pattern,
#       its writes fail, and the file must be byte for byte as before.
#   direct  rw with cache = "none" (O_DIRECT): guest buffers that are not
#       aligned for it go through the plugin's bounce buffer. Skipped where
#       the filesystem of $TMPDIR has no O_DIRECT.
#   exits   rw with vm.eventfds = false: doorbells are MMIO exits served on
#       the vCPU thread, interrupts irq_line pulses.
# usage: blk.sh PLUGVM SOURCE_DIR BUILD_DIR [rw|ro|direct|exits]
set -u
plugvm=$1 src=$2 build=$3 mode=${4:-rw}
. "$src/tests/kvm/blk-lib.sh"
blk_need

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
# A 20-byte serial (GET_ID's whole answer, no NUL) read-write, a short
# one (NUL-padded) read-only.
img=$tmp/disk.img sectors=16384 count=64 host_seed=3 seed=11 serial=plugvm-blk-serial-20
[ "$mode" = ro ] && serial=ro-disk
truncate -s $((sectors * 512)) "$img"
blk_pattern $host_seed 0 $count | dd of="$img" conv=notrunc status=none
cp "$img" "$tmp/before"

cmdline="test=blk blk_sectors=$sectors blk_serial=$serial blk_host_seed=$host_seed blk_count=$count"
rw="$cmdline blk_ro=0 blk_queues=2 blk_seed=$seed"
dev="path = \"$img\"; queues = 2; serial = \"$serial\";"
case $mode in
    rw) blk_config "$tmp/vm.cfg" "$rw" "$dev" ;;
    ro) blk_config "$tmp/vm.cfg" "$cmdline blk_ro=1 blk_queues=1 blk_seed=$seed" \
            "path = \"$img\"; queues = 1; serial = \"$serial\"; read_only = true;" ;;
    direct)
        if ! dd if=/dev/zero of="$tmp/probe" bs=4096 count=1 oflag=direct status=none 2>/dev/null; then
            echo "SKIP: $tmp's filesystem does not take O_DIRECT (cache = \"none\")"
            exit 77
        fi
        blk_config "$tmp/vm.cfg" "$rw" "$dev cache = \"none\";" ;;
    exits) blk_config "$tmp/vm.cfg" "$rw" "$dev" "eventfds = false;" ;;
    *) echo "usage: $0 PLUGVM SOURCE_DIR BUILD_DIR [rw|ro|direct|exits]" >&2; exit 2 ;;
esac

"$src/guest/testguest/run-tap.sh" "$plugvm" "$tmp/vm.cfg" 60 || exit $?

# The guest passed; now what it left in the file, seen from the host.
size=$(stat -c %s "$img")
[ "$size" -eq $((sectors * 512)) ] || { echo "FAIL: the image is $size bytes, was $((sectors * 512))"; exit 1; }
if [ "$mode" != ro ]; then
    if ! cmp <(blk_pattern $seed 0 $count) <(blk_extract "$img" 0 $count); then
        echo "FAIL: the file's first $count sectors do not hold pattern $seed the guest wrote"
        exit 1
    fi
    echo "PASS (host): sectors 0-$((count - 1)) of the file hold the guest's pattern $seed"
else
    cmp "$tmp/before" "$img" || { echo "FAIL: the read-only image changed"; exit 1; }
    echo "PASS (host): the read-only image is unchanged"
fi
