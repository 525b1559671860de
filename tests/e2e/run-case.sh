#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# run-case.sh BUILD_DIR CASE [CASE...]
# plugvm boots Debian's cloud kernel to userspace and the e2e guest
# (guest/e2e/init) checks one thing per CASE: boot, smp, acpi, rng, blk,
# blk_ro, snapshot, power, vsock (tests/e2e/README.md; host.sh does the blk
# cases' host side, snapshot.sh, power.sh and vsock.sh those cases' runs).
# Prints TAP; exit status 0 when every case passed, 1 when one failed, 77
# (ctest's skip) when something the test needs is missing.
#
# The cases need KVM that runs guest kernel code in hardware. Called
# outside tests/vmhost/run.sh (which sets PLUGVM_VMHOST), this script goes
# through it: on a host without such KVM all the cases then share one
# nested VM host (QEMU TCG with SVM), where plugvm runs on a real, nested
# /dev/kvm (tests/vmhost/README.md).
#
# Environment:
#   E2E_LIMIT=SECONDS       each case's time limit (default 120; fs gets 3.5 times it)
#   E2E_VERBOSE=1           print each case's whole guest console and plugvm's stderr
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
all_cases="boot smp acpi rng blk blk_ro fs fs_snapshot snapshot vmgenid power vsock balloon"

usage() { echo "usage: $0 BUILD_DIR CASE [CASE...]   (CASE: $all_cases)" >&2; exit 2; }
[ $# -ge 2 ] || usage
build=$1; shift
[ -d "$build" ] || { echo "run-case: error: $build is not a folder" >&2; exit 2; }
build=$(cd "$build" && pwd)
cases=("$@")
for c in "${cases[@]}"; do
    [ -f "$here/$c.cfg" ] || { echo "run-case: error: unknown case '$c' (no $here/$c.cfg)" >&2; usage; }
done
[ -n "${PLUGVM_VMHOST:-}" ] || exec "$repo/tests/vmhost/run.sh" --need hw "$build" "$0" "$build" "$@"
limit=${E2E_LIMIT:-120}
verbose=${E2E_VERBOSE:-0}
skip() { echo "SKIP: $*"; exit 77; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
t_start=$(now)

# --- What the cases need ---
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

case " ${cases[*]} " in *" balloon "*)
    [ -f "$build/plugins/plugvm-balloon.so" ] || skip "$build/plugins/plugvm-balloon.so is not built (target balloon)" ;;
esac
case " ${cases[*]} " in *" vsock "*)
    [ -f "$build/plugins/plugvm-vsock.so" ] || skip "$build/plugins/plugvm-vsock.so is not built (target vsock)"
    command -v socat >/dev/null || skip "socat is not installed (scripts/deps.sh installs it)" ;;
esac

# snapshot.sh accepts a known failure of the nested host's emulation there.
E2E_TIER=$PLUGVM_VMHOST
echo "# tier: $E2E_TIER"
export E2E_TIER

# The guest's initramfs, rebuilt only when its bytes change (and then
# touched, so that its time says it is current). Inside the nested host,
# where making it takes ~25 s of TCG, only when an input is newer:
# scripts/images.sh makes it on the host before a batch.
initramfs=$build/e2e/e2e-initramfs.cpio.gz
if [ "$E2E_TIER" = nested ] && [ -f "$initramfs" ] &&
    [ -z "$(find "$repo/guest/e2e" /bin/busybox "$build/cache/linux/kernel-version" \
            -newer "$initramfs" -print -quit)" ]; then
    echo "# $initramfs is current (not remade in the nested host)"
else
    mkdir -p "$build/e2e"
    "$repo/guest/e2e/make-initramfs.sh" "$build" "$initramfs" >&2 && touch "$initramfs" ||
        { echo "Bail out! cannot build the e2e initramfs"; exit 1; }
fi

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "1..${#cases[@]}"
n=0 failed=0
for c in "${cases[@]}"; do
    n=$((n + 1))
    # fs: 10,000 files created, stat'ed and removed one FUSE request
    # at a time take minutes in the nested tier's TCG.
    climit=$limit
    [ "$c" = fs ] && climit=$((limit * 7 / 2))
    res=$(sh "$here/case.sh" "$build/core/plugvm" "$c" "$here" "$build/e2e:$build/images" \
          "$build/tests/devices" "$climit" "$out/$c")
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
