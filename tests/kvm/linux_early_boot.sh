#!/bin/bash
# Debian's cloud kernel (a bzImage, LZ4 payload) booted by plugvm through the
# 64-bit boot protocol prints, on plugvm's serial console: its version, the
# exact command line plugvm passed, an e820 map matching memory_mib,
# plugvm's ACPI tables, and 2 CPUs counted from plugvm's ACPI MADT. On this
# workplace's KVM (over PVM) the kernel cannot finish booting, so the test
# stops plugvm (SIGTERM: status 143) once it has seen those lines; on hardware KVM the guest may finish
# first and reset (status 0). Also checks that --timeout ends a VM with 124.
# usage: linux_early_boot.sh PLUGVM SOURCE_DIR BUILD_DIR
set -u
plugvm=$1 build=$3
if [ ! -c /dev/kvm ] || [ ! -w /dev/kvm ]; then
    echo "SKIP: /dev/kvm is absent or not writable: in-VM tests need KVM"; exit 77
fi
kernel=$build/images/debian-cloud-vmlinuz initrd=$build/images/hello-initramfs.cpio.gz
if [ ! -e "$kernel" ] || [ ! -e "$initrd" ]; then
    echo "SKIP: $kernel or $initrd missing: run scripts/images.sh $build (the README's set-up does)"
    exit 77
fi
tmp=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

mem=256 cmdline="earlyprintk=serial,ttyS0,115200 console=ttyS0 reboot=k panic=-1"
cat >"$tmp/linux.cfg" <<CFG
vm = {
  vcpus = 2;
  memory_mib = $mem;
  kernel = "$kernel";
  initrd = "$initrd";
  cmdline = "$cmdline";
  cpuid_disable = ["cx16", "xsave"];
};
CFG
last=$(printf '0x%016x' $((mem * 1024 * 1024 - 1)))
patterns=(
    'Linux version 6\.1'
    "Command line: ${cmdline}\$"
    "BIOS-e820: \[mem 0x0000000000100000-${last}\] usable"
    'smpboot: Allowing 2 CPUs'
    'ACPI: RSDP 0x00000000000E0000 000024 \(v02 PLUGVM\)'
    'ACPI: DSDT 0x[0-9A-F]+ [0-9A-F]+ \(v02 PLUGVM PLUGVM'
    'ACPI: APIC 0x[0-9A-F]+ [0-9A-F]+ \(v05 PLUGVM PLUGVM'
    'ACPI: Using ACPI \(MADT\) for SMP configuration information'
)

"$plugvm" run "$tmp/linux.cfg" >"$tmp/out" 2>&1 </dev/null &
pid=$!
deadline=$((SECONDS + 240))
# The serial console ends lines with CR LF.
seen() { tr -d '\r' <"$tmp/out" | grep -E "\] $1"; }
while :; do
    missing=0
    for p in "${patterns[@]}"; do seen "$p" >/dev/null || missing=1; done
    [ $missing -eq 0 ] && break
    if ! kill -0 "$pid" 2>/dev/null || [ $SECONDS -ge $deadline ]; then
        echo "FAIL: not every expected line appeared; last lines:"; tail -n 30 "$tmp/out"
        for p in "${patterns[@]}"; do seen "$p" >/dev/null || echo "missing: $p"; done
        exit 1
    fi
    sleep 0.5
done
echo "seen after ${SECONDS}s:"; for p in "${patterns[@]}"; do seen "$p"; done
kill -TERM "$pid" 2>/dev/null
wait "$pid"; status=$?; pid=
if [ $status -ne 143 ] && [ $status -ne 0 ]; then
    echo "FAIL: plugvm exit status $status after SIGTERM (expected 143)"; tail -n 20 "$tmp/out"; exit 1
fi
# Exactly one "Command line:" and it is byte-for-byte the configured one.
got=$(grep -m1 '\] Command line: ' "$tmp/out" | sed 's/^.*\] Command line: //' | tr -d '\r')
[ "$got" = "$cmdline" ] || { echo "FAIL: command line '$got' != '$cmdline'"; exit 1; }

# --timeout: the same VM stopped after 2 s with status 124.
start=$SECONDS
"$plugvm" run --timeout 2 "$tmp/linux.cfg" >"$tmp/out2" 2>&1 </dev/null
status=$?
[ $status -eq 124 ] || { echo "FAIL: --timeout gave status $status"; tail -n 5 "$tmp/out2"; exit 1; }
grep -q "timeout of 2 s elapsed" "$tmp/out2" || { echo "FAIL: no --timeout message"; exit 1; }
[ $((SECONDS - start)) -le 10 ] || { echo "FAIL: --timeout 2 took $((SECONDS - start)) s"; exit 1; }
echo "ok: linux early boot"
