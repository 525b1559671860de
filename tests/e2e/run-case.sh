#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# run-case.sh BUILD_DIR CASE [CASE...]
# plugvm boots Debian's cloud kernel to userspace and the e2e guest
# (guest/e2e/init) checks one thing per CASE: boot, smp, acpi, rng, blk,
# blk_ro, snapshot (tests/e2e/README.md; host.sh does the blk cases' host
# side, snapshot.sh the snapshot case's).
# Prints TAP; exit status 0 when every case passed, 1 when one failed, 77
# (ctest's skip) when something the test needs is missing.
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
all_cases="boot smp acpi rng blk blk_ro snapshot"

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
case " ${cases[*]} " in *" blk "*|*" blk_ro "*)
    [ -f "$build/plugins/plugvm-blk.so" ] || skip "$build/plugins/plugvm-blk.so is not built (target blk)"
    for t in mke2fs e2fsck debugfs; do
        PATH=/usr/sbin:/sbin:$PATH command -v $t >/dev/null ||
            skip "$t is not installed (e2fsprogs; scripts/deps.sh installs it)"
    done ;;
esac

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
export E2E_TIER=$tier   # snapshot.sh: the nested tier has known failures of its own

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

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
attempts=${E2E_ATTEMPTS:-3}
# The outer VM prints a line at least once per case, each bounded by its
# limit (case.sh: plugvm's --timeout, then timeout(1) 15 s later; the blk
# cases' host steps, 30 s each, come before and after): silence much
# longer than that means it hung.
silence=$((limit + 60))

# run_outer ATTEMPT CASE...: one outer VM; its console (CRs dropped) in
# $tmp/outer.ATTEMPT, echoed as "# | " comments as it comes; sets $why when
# the outer VM itself failed (then it gave no E2E-OUTER-DONE).
run_outer() {
    local n=$1; shift
    local log=$tmp/outer.$n serial=$tmp/serial.$n d=$tmp/cpu_reset.$n
    local list; list=$(IFS=,; echo "$*")
    local cap=$(($# * (limit + 25) + 120))
    : >"$serial"
    echo "# outer VM, attempt $n: cases $list"
    # The outer machine: QEMU's default pc (its i8042 resets it when the outer
    # init runs `reboot -f` with reboot=k; -no-reboot turns that reset into
    # QEMU's exit), 2 vCPUs (with 1 the inner guest stalls now and then), no
    # default devices. softlockup_panic: an outer kernel that locks up resets
    # at once. -d cpu_reset logs a triple fault of the outer machine.
    timeout -k 10 "$cap" "$qemu" -accel tcg -cpu EPYC,+svm -m 2048 -smp 2 -machine pc \
        -nodefaults -no-user-config -display none -serial "file:$serial" -no-reboot \
        -d cpu_reset -D "$d" -kernel "$kernel" -initrd "$outer" \
        -append "console=ttyS0 quiet panic=-1 softlockup_panic=1 reboot=k $tsc_arg e2e_cases=$list e2e_limit=$limit e2e_verbose=$verbose" \
        </dev/null >"$tmp/qemu.out" 2>&1 &
    local qpid=$! seen=0 size shown=0 lines last=$SECONDS hung=0
    while kill -0 $qpid 2>/dev/null; do
        sleep 1
        size=$(stat -c %s "$serial")
        if [ "$size" -gt "$seen" ]; then
            seen=$size last=$SECONDS
            lines=$(wc -l <"$serial")     # complete lines only
            [ "$lines" -gt "$shown" ] && sed -n "$((shown + 1)),${lines}p" "$serial" | tr -d '\r' | sed 's/^/# | /'
            shown=$lines
        elif [ $((SECONDS - last)) -ge $silence ]; then
            hung=1
            kill $qpid 2>/dev/null
        fi
    done
    wait $qpid
    local st=$?
    tail -n +$((shown + 1)) "$serial" | tr -d '\r' | sed 's/^/# | /'
    tr -d '\r' <"$serial" >"$log"
    # QEMU's own messages: TCG's warnings about CPUID bits it does not emulate are expected.
    grep -v "TCG doesn't support requested feature" "$tmp/qemu.out" | sed 's/^/# qemu: /'
    why=
    grep -q '^E2E-OUTER-DONE' "$log" && { [ $st -eq 0 ] || echo "# note: QEMU exit status $st after the outer VM finished"; return; }
    if [ $hung = 1 ]; then why="no output for ${silence}s: the outer VM hung (QEMU killed)"
    elif grep -q '^Triple fault' "$d" 2>/dev/null; then why="the outer machine triple-faulted (QEMU's -d cpu_reset log)"
    elif grep -q 'soft lockup' "$log"; then why="the outer kernel locked up (softlockup_panic reset it)"
    elif grep -q 'Kernel panic' "$log"; then why="the outer kernel panicked"
    elif [ $st -eq 124 ]; then why="QEMU killed after ${cap}s"
    else why="the outer VM ended (QEMU status $st) without E2E-OUTER-DONE"
    fi
}

# Each case's verdict comes from the TAP line the outer VM printed for it.
# When the outer VM itself fails (hangs, triple-faults, locks up: failures of
# nested SVM under TCG, README "Known failures"), the cases it gave no verdict
# for run again in a new outer VM, up to E2E_ATTEMPTS times in all. A case
# that ran and failed is never retried.
declare -a verdict vdetail
pending=($(seq 0 $((${#cases[@]} - 1))))
attempt=0 envfail=
while [ ${#pending[@]} -gt 0 ] && [ $attempt -lt "$attempts" ]; do
    attempt=$((attempt + 1))
    names=(); for i in "${pending[@]}"; do names+=("${cases[$i]}"); done
    run_outer $attempt "${names[@]}"
    if grep -q '^Bail out!' "$tmp/outer.$attempt"; then
        grep '^Bail out!' "$tmp/outer.$attempt"
        exit 1
    fi
    # The j-th TAP line of this attempt is pending[j].
    j=0 left=()
    while IFS= read -r line; do
        i=${pending[$j]}
        case $line in
            "ok $((j + 1)) - ${cases[$i]}"*) verdict[$i]=ok ;;
            *) verdict[$i]="not ok" ;;
        esac
        vdetail[$i]=${line#*" - ${cases[$i]}"}
        j=$((j + 1))
    done < <(grep -E '^(ok|not ok) [0-9]+ - ' "$tmp/outer.$attempt")
    for i in "${pending[@]}"; do [ -n "${verdict[$i]:-}" ] || left+=("$i"); done
    pending=("${left[@]}")
    if [ -n "$why" ]; then
        envfail+="attempt $attempt: $why; "
        echo "# outer VM failed (attempt $attempt of $attempts): $why"
        [ ${#pending[@]} -gt 0 ] && echo "# its last lines:" && tail -n 15 "$tmp/outer.$attempt" | sed 's/^/#   /'
    fi
done

failed=0
echo "1..${#cases[@]}"
for i in $(seq 0 $((${#cases[@]} - 1))); do
    n=$((i + 1))
    if [ -z "${verdict[$i]:-}" ]; then
        echo "not ok $n - ${cases[$i]} # no verdict: the outer VM failed $attempts times (${envfail% ; })"
        failed=1
    else
        echo "${verdict[$i]} $n - ${cases[$i]}${vdetail[$i]}"
        [ "${verdict[$i]}" = ok ] || failed=1
    fi
done
[ -n "$envfail" ] && echo "# outer VM failures (retried): ${envfail%; }"
echo "# total $(elapsed "$t_start") s, $attempt outer VM(s)"
exit $failed
