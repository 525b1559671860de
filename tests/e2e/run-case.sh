#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# run-case.sh BUILD_DIR CASE [CASE...]
# plugvm boots Debian's cloud kernel to userspace and the e2e guest
# (guest/e2e/init) checks one thing per CASE: boot, smp, acpi, rng
# (tests/e2e/README.md). Prints TAP; exit status 0 when every case
# passed, 1 when one failed, 77 (ctest's skip) when something the test
# needs is missing.
#
# Two tiers, chosen here (E2E_TIER=direct|nested overrides):
#   direct  the host's KVM runs guest kernel code in hardware (vmx or svm in
#           /proc/cpuinfo, no kvm_pvm module): plugvm runs each case here.
#   nested  otherwise (KVM over PVM emulates guest kernel code, and Linux
#           cannot boot on it; or no usable /dev/kvm at all): QEMU emulates
#           (TCG) an AMD machine with SVM, whose kernel loads kvm_amd; plugvm
#           runs each case in there, on that real, nested /dev/kvm. The outer
#           VM's initramfs is built by make-outer.sh and cached in BUILD_DIR/e2e.
#
# Environment:
#   E2E_TIER=direct|nested  force a tier
#   E2E_LIMIT=SECONDS       each case's time limit (default 120)
#   E2E_VERBOSE=1           print each case's whole guest console and plugvm's stderr
#   QEMU=PATH               the outer QEMU (default: qemu-system-x86_64 on PATH)
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
all_cases="boot smp acpi rng"

usage() { echo "usage: $0 BUILD_DIR CASE [CASE...]   (CASE: $all_cases)" >&2; exit 2; }
[ $# -ge 2 ] || usage
build=$1; shift
[ -d "$build" ] || { echo "run-case: error: $build is not a folder" >&2; exit 2; }
build=$(cd "$build" && pwd)
cases=("$@")
for c in "${cases[@]}"; do
    [ -f "$here/$c.cfg" ] || { echo "run-case: error: unknown case '$c' (no $here/$c.cfg)" >&2; usage; }
done
limit=${E2E_LIMIT:-120}
verbose=${E2E_VERBOSE:-0}
skip() { echo "SKIP: $*"; exit 77; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
t_start=$(now)

# --- What every tier needs ---
kernel=$build/images/debian-cloud-vmlinuz
[ -e "$kernel" ] || skip "$kernel missing: run scripts/images.sh $build"
ver=$(cat "$build/cache/linux/kernel-version" 2>/dev/null) && [ -d "$build/cache/linux/root/lib/modules/$ver/kernel" ] ||
    skip "the kernel's modules are missing under $build/cache/linux/root/lib/modules: run scripts/images.sh $build"
[ -x "$build/core/plugvm" ] || skip "$build/core/plugvm is not built"
[ -f "$build/plugins/plugvm-kvm.so" ] || skip "$build/plugins/plugvm-kvm.so is not built"
[ -f "$build/tests/devices/plugvm-rng.so" ] || skip "$build/tests/devices/plugvm-rng.so is not built (target testdev_rng)"
[ -x /bin/busybox ] && command -v cpio >/dev/null ||
    skip "busybox-static or cpio is not installed (scripts/deps.sh installs them)"

# --- Which tier ---
tier=${E2E_TIER:-}
if [ -z "$tier" ]; then
    if [ -d /sys/module/kvm_pvm ]; then
        tier=nested why="the host's KVM is KVM over PVM (/sys/module/kvm_pvm): it emulates guest kernel code"
    elif ! grep -qwE 'vmx|svm' /proc/cpuinfo; then
        tier=nested why="no vmx or svm in /proc/cpuinfo: no hardware virtualization for guest kernel code"
    elif [ ! -c /dev/kvm ] || [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
        tier=nested why="/dev/kvm is absent or not usable"
    else
        tier=direct why="hardware KVM (vmx/svm, /dev/kvm usable)"
    fi
else
    why="E2E_TIER=$tier"
fi
case $tier in direct|nested) ;; *) echo "run-case: error: E2E_TIER must be direct or nested" >&2; exit 2 ;; esac
echo "# tier: $tier ($why)"

# The guest's initramfs, rebuilt only when its bytes change.
mkdir -p "$build/e2e"
"$repo/guest/e2e/make-initramfs.sh" "$build" "$build/e2e/e2e-initramfs.cpio.gz" >&2 ||
    { echo "Bail out! cannot build the e2e initramfs"; exit 1; }

# --- direct: plugvm on this host ---
if [ $tier = direct ]; then
    out=$(mktemp -d)
    trap 'rm -rf "$out"' EXIT
    echo "1..${#cases[@]}"
    n=0 failed=0
    for c in "${cases[@]}"; do
        n=$((n + 1))
        res=$(sh "$here/case.sh" "$build/core/plugvm" "$c" "$here" "$build/e2e:$build/images" \
              "$build/tests/devices" "$limit" "$out/$c")
        st=$?
        first=$(head -n 1 <<<"$res")      # E2E-CASE CASE ok|fail SECONDS DETAIL
        detail="$(cut -d' ' -f4 <<<"$first") s: $(cut -d' ' -f5- <<<"$first")"
        if [ $st -eq 0 ]; then echo "ok $n - $c # $detail"; else echo "not ok $n - $c # $detail"; failed=1; fi
        [ $st -eq 0 ] || tail -n +2 <<<"$res"
        if [ "$verbose" = 1 ]; then
            tr -d '\r' <"$out/$c/console" | sed 's/^/# console: /'
            sed 's/^/# stderr: /' "$out/$c/stderr"
        fi
    done
    echo "# total $(elapsed "$t_start") s"
    exit $failed
fi

# --- nested: the cases inside a QEMU (TCG) machine with SVM ---
qemu=${QEMU:-$(command -v qemu-system-x86_64)} ||
    skip "qemu-system-x86_64 is not installed (the nested tier needs it; scripts/deps.sh installs it)"
[ -x "$qemu" ] || skip "QEMU=$qemu is not executable"
outer=$("$here/make-outer.sh" "$build") || { echo "Bail out! cannot build the outer initramfs"; exit 1; }

# Under TCG the outer kernel reads the host's TSC; told its rate, it skips a
# calibration that can hang there. The host kernel's own figure when it can
# be read, else /proc/cpuinfo's (right on VMs, where it is the TSC's rate).
tsc_khz=$( (dmesg 2>/dev/null | grep -oE 'tsc: Refined TSC clocksource calibration: [0-9.]+ MHz|tsc: Detected [0-9.]+ MHz' |
            tail -n 1 | grep -oE '[0-9.]+ MHz'
            grep -m1 '^cpu MHz' /proc/cpuinfo | grep -oE '[0-9.]+') | head -n 1 | awk '{ printf "%d", $1 * 1000 }')
tsc_arg=; [ -n "$tsc_khz" ] && [ "$tsc_khz" -gt 0 ] && tsc_arg="tsc_early_khz=$tsc_khz"

# The outer machine: QEMU's default pc (its i8042 resets it when the outer init
# runs `reboot -f` with reboot=k; -no-reboot turns that reset into QEMU's exit),
# 2 vCPUs (with 1 the inner guest stalls now and then), no default devices.
total=$((${#cases[@]} * (limit + 25) + 120))
log=$(mktemp)
trap 'rm -f "$log" "$log.err" "$log.d"' EXIT
casearg=$(IFS=,; echo "${cases[*]}")
echo "# outer: $(basename "$qemu") -accel tcg -cpu EPYC,+svm -smp 2 -m 2048, initramfs $(basename "$outer"), limit ${total}s"
# softlockup_panic: should the outer kernel lock up (seen, rarely, with QEMU as
# well as plugvm as the inner VMM), it panics and resets at once instead of
# holding the run until the time limit. -d cpu_reset logs a triple fault.
timeout -k 10 "$total" "$qemu" -accel tcg -cpu EPYC,+svm -m 2048 -smp 2 -machine pc \
    -nodefaults -no-user-config -display none -serial stdio -no-reboot \
    -d cpu_reset -D "$log.d" -kernel "$kernel" -initrd "$outer" \
    -append "console=ttyS0 quiet panic=-1 softlockup_panic=1 reboot=k $tsc_arg e2e_cases=$casearg e2e_limit=$limit e2e_verbose=$verbose" \
    </dev/null 2>"$log.err" | tr -d '\r' | tee "$log"
qst=${PIPESTATUS[0]}
# QEMU's own stderr: TCG's warnings about CPUID bits it does not emulate are expected.
grep -v "TCG doesn't support requested feature" "$log.err" | sed 's/^/# qemu: /'
triple=$(grep -c '^Triple fault' "$log.d" 2>/dev/null)
rm -f "$log.err" "$log.d"

failed=0
plan=$(grep -m1 -oE '^1\.\.[0-9]+' "$log")
[ "$plan" = "1..${#cases[@]}" ] || { echo "# FAIL: the outer VM printed no plan 1..${#cases[@]} (got '${plan}')"; failed=1; }
n=0
for c in "${cases[@]}"; do
    n=$((n + 1))
    grep -qE "^ok $n - $c( |$)" "$log" || { echo "# FAIL: no 'ok $n - $c'"; failed=1; }
done
grep -q '^Bail out!' "$log" && failed=1
if ! grep -q '^E2E-OUTER-DONE' "$log"; then
    echo "# FAIL: the outer VM did not finish (QEMU status $qst$([ $qst -eq 124 ] && echo ", killed after ${total}s")); its last lines:"
    tail -n 30 "$log" | sed 's/^/#   /'
    [ "${triple:-0}" -gt 0 ] &&
        echo "# the outer machine triple-faulted (QEMU's cpu_reset log): the outer kernel, not the inner guest, died (README: Known failures)"
    grep -q 'soft lockup' "$log" &&
        echo "# the outer kernel locked up (softlockup_panic reset it) (README: Known failures)"
    failed=1
elif [ $qst -ne 0 ]; then
    echo "# FAIL: QEMU exit status $qst after the outer VM finished (expected 0: a reset with -no-reboot)"
    failed=1
fi
echo "# total $(elapsed "$t_start") s (outer VM and $n case(s))"
exit $failed
