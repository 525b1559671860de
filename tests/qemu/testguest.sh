#!/bin/bash
# The test guest's drivers proven against devices that are not ours: the
# same guest, under QEMU's microvm with its own virtio-mmio transport and
# virtio-rng-device, must pass the same in-VM tests.
# usage: testguest.sh BUILD_DIR TEST
set -u
build=$1 test=$2
qemu=$(command -v qemu-system-x86_64) || { echo "SKIP: qemu-system-x86_64 is not installed"; exit 77; }
if [ ! -c /dev/kvm ] || [ ! -w /dev/kvm ]; then
    echo "SKIP: /dev/kvm is absent or not writable"; exit 77
fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
# force-legacy=false: QEMU's virtio-mmio speaks version 1 (legacy) unless
# told otherwise; the test guest drives version 2 only, as plugvm offers.
timeout 60 "$qemu" -M microvm,acpi=off -enable-kvm -cpu host,-arch-capabilities -m 64 \
    -nodefaults -no-user-config -display none -serial stdio -no-reboot \
    -global virtio-mmio.force-legacy=false -device virtio-rng-device \
    -kernel "$build/images/testguest.elf" -append "test=$test expect_id=4" \
    </dev/null >"$tmp/out" 2>"$tmp/err"
status=$?
tr -d '\r' <"$tmp/out" >"$tmp/tap"
cat "$tmp/tap"
[ $status -eq 0 ] || { echo "FAIL: QEMU exit status $status: $(cat "$tmp/err")"; exit 1; }
plan=$(grep -Eo '^1\.\.[0-9]+' "$tmp/tap" | head -1 | cut -d. -f3)
oks=$(grep -Ec '^ok [0-9]+' "$tmp/tap")
[ -n "$plan" ] && [ "$plan" -gt 0 ] || { echo "FAIL: no TAP plan"; exit 1; }
grep -Eq '^(not ok|Bail out!)' "$tmp/tap" && { echo "FAIL: a test failed"; exit 1; }
[ "$oks" -eq "$plan" ] || { echo "FAIL: $oks of $plan"; exit 1; }
echo "ok: test=$test under QEMU microvm, $oks checks"
