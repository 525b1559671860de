#!/bin/bash
# The test guest's drivers proven against devices that are not ours: the
# same guest, under QEMU's microvm with its own virtio-mmio transport and
# virtio-rng-device or virtio-blk-device, must pass the same in-VM tests.
# usage: testguest.sh BUILD_DIR TEST   (transport, rng, blk, blk_ro)
set -u
build=$1 test=$2
qemu=$(command -v qemu-system-x86_64) || { echo "SKIP: qemu-system-x86_64 is not installed"; exit 77; }
if [ ! -c /dev/kvm ] || [ ! -w /dev/kvm ]; then
    echo "SKIP: /dev/kvm is absent or not writable"; exit 77
fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
# The device: virtio-rng for transport and rng; for blk (and blk_ro, the
# same test on a read-only drive) virtio-blk-device over a temporary raw
# image whose first sectors hold a pattern the guest checks, and which the
# guest overwrites with another that is checked here afterwards (the
# pattern: tests/kvm/blk-lib.sh).
device=(-device virtio-rng-device)
append="test=$test expect_id=4"
case $test in
    blk|blk_ro)
        . "$(dirname "$0")/../kvm/blk-lib.sh"
        img=$tmp/disk.img sectors=16384 count=64 host_seed=5 seed=13
        truncate -s $((sectors * 512)) "$img"
        blk_pattern $host_seed 0 $count | dd of="$img" conv=notrunc status=none
        cp "$img" "$tmp/before"
        ro=0 queues=2 readonly=
        [ "$test" = blk_ro ] && ro=1 queues=1 readonly=,readonly=on
        device=(-drive "id=d0,file=$img,format=raw,if=none$readonly"
                -device "virtio-blk-device,drive=d0,num-queues=$queues,serial=qemu-blk")
        append="test=blk blk_sectors=$sectors blk_serial=qemu-blk blk_queues=$queues blk_ro=$ro"
        append+=" blk_host_seed=$host_seed blk_seed=$seed blk_count=$count"
        ;;
esac
# force-legacy=false: QEMU's virtio-mmio speaks version 1 (legacy) unless
# told otherwise; the test guest drives version 2 only, as plugvm offers.
timeout 60 "$qemu" -M microvm,acpi=off -enable-kvm -cpu host,-arch-capabilities -m 64 \
    -nodefaults -no-user-config -display none -serial stdio -no-reboot \
    -global virtio-mmio.force-legacy=false "${device[@]}" \
    -kernel "$build/images/testguest.elf" -append "$append" \
    </dev/null >"$tmp/out" 2>"$tmp/err"
status=$?
tr -d '\r' <"$tmp/out" >"$tmp/tap"
cat "$tmp/tap"
[ $status -eq 0 ] || { echo "FAIL: QEMU exit status $status: $(cat "$tmp/err")"; exit 1; }
case $test in
    blk) cmp <(blk_pattern "$seed" 0 "$count") <(blk_extract "$img" 0 "$count") ||
             { echo "FAIL: the image's first $count sectors do not hold the guest's pattern $seed"; exit 1; } ;;
    blk_ro) cmp "$tmp/before" "$img" || { echo "FAIL: the read-only image changed"; exit 1; } ;;
esac
plan=$(grep -Eo '^1\.\.[0-9]+' "$tmp/tap" | head -1 | cut -d. -f3)
oks=$(grep -Ec '^ok [0-9]+' "$tmp/tap")
[ -n "$plan" ] && [ "$plan" -gt 0 ] || { echo "FAIL: no TAP plan"; exit 1; }
grep -Eq '^(not ok|Bail out!)' "$tmp/tap" && { echo "FAIL: a test failed"; exit 1; }
[ "$oks" -eq "$plan" ] || { echo "FAIL: $oks of $plan"; exit 1; }
echo "ok: test=$test under QEMU microvm, $oks checks"
