#!/bin/bash
# Boot benchmark: plugvm against QEMU, both measured in this one run, as the
# time from starting the VMM to a given line on the guest's serial console
# (firstline.c measures; it kills the VMM once the line is seen).
#   a. the hello guest (PVH ELF) to its line;
#   b. Debian's cloud kernel to "Linux version".
# Prints the commands, then a table; exits 0 (saying why) when there is no
# QEMU, 1 when any measurement failed. Without a usable KVM here it runs
# itself inside the nested VM host (bench/README.md).
# usage: run.sh BUILD_DIR
# QEMU's options hold commas, which shellcheck takes for array-syntax slips.
# shellcheck disable=SC2054
set -u
[ $# -eq 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
build=$(cd "$1" && pwd) || exit 2
firstline=$build/bench/boot/firstline plugvm=$build/core/plugvm img=$build/images
start=$(date +%s.%N)

skip() { echo "bench-boot: SKIP: $*"; exit 0; }
# Without a usable KVM here: again, inside the nested VM host.
. "$(cd "$(dirname "$0")" && pwd)/../lib.sh"
bench_vmhost "$build" "$0" "$build"
qemu=$(command -v qemu-system-x86_64) || skip "qemu-system-x86_64 is not installed"
for f in "$firstline" "$plugvm" "$img/hello.elf"; do
    [ -e "$f" ] || { echo "bench-boot: $f missing: build bench_boot_firstline, plugvm, kvm, guest_hello" >&2; exit 1; }
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# --- The commands -----------------------------------------------------------
# Both VMMs get the same guest, vCPUs, memory and kernel command line. QEMU:
# microvm (its smallest machine); "-cpu host" alone aborts on this KVM
# ("failed to set MSR 0x10a"), hence -arch-capabilities; -display none rather
# than -nographic, so that the serial port alone is on stdio.
qemu_base=("$qemu" -enable-kvm -nodefaults -no-user-config -display none -serial stdio -no-reboot)

cat >"$tmp/hello.cfg" <<CFG
vm = { vcpus = 1; memory_mib = 32; kernel = "$img/hello.elf"; };
CFG
hello_pat="hello from the plugvm hello guest"
hello_plugvm=("$plugvm" run "$tmp/hello.cfg")
hello_qemu=("${qemu_base[@]}" -M microvm,acpi=off -cpu host,-arch-capabilities -m 32
    -kernel "$img/hello.elf")

linux=1
kernel=$img/debian-cloud-vmlinuz initrd=$img/hello-initramfs.cpio.gz
[ -e "$kernel" ] && [ -e "$initrd" ] || linux=0
cmdline="earlyprintk=serial,ttyS0,115200 console=ttyS0 reboot=k panic=-1"
cat >"$tmp/linux.cfg" <<CFG
vm = {
  vcpus = 1;
  memory_mib = 256;
  kernel = "$kernel";
  initrd = "$initrd";
  cmdline = "$cmdline";
  cpuid_disable = ["cx16", "xsave"];
};
CFG
linux_pat="Linux version"
linux_plugvm=("$plugvm" run "$tmp/linux.cfg")
# The same CPU features hidden as in plugvm's config: this KVM cannot emulate
# cmpxchg16b or xrstor in guest kernel code.
linux_qemu=("${qemu_base[@]}" -M microvm -cpu host,-arch-capabilities,-cx16,-xsave -m 256
    -initrd "$initrd" -append "$cmdline")

# QEMU boots a bzImage by running its decompressor in the guest; plugvm
# decompresses on the host. For a like-for-like row, QEMU also boots the
# uncompressed vmlinux (its PVH entry), cut out of the bzImage the way the
# kernel's scripts/extract-vmlinux does: at the LZ4 legacy magic.
vmlinux=
if [ $linux -eq 1 ] && command -v lz4 >/dev/null; then
    for off in $(grep -obUaP '\x02\x21\x4c\x18' "$kernel" | cut -d: -f1); do
        # lz4 complains about the bzImage's bytes after the payload: judge the output.
        tail -c +$((off + 1)) "$kernel" | lz4 -dcq >"$tmp/vmlinux" 2>/dev/null
        if [ "$(head -c 4 "$tmp/vmlinux" | od -An -tx1 | tr -d ' ')" = 7f454c46 ]; then
            vmlinux=$tmp/vmlinux; break
        fi
    done
fi

echo "== plugvm vs QEMU boot benchmark ($(date -u +%FT%TZ), $(uname -r), $(nproc) CPUs, load $(load))"
[ -e /sys/module/kvm_pvm ] &&
    echo "   /dev/kvm is KVM over PVM: guest kernel code is emulated (~1 us/instruction)"
bench_where
echo "   QEMU: $("$qemu" --version | head -n 1)"
echo "   firstline: time from fork/exec to PATTERN in the VMM's stdout+stderr; then SIGKILL"
echo
echo "a. hello guest, pattern '$hello_pat', 10 runs each:"
echo "   plugvm: $(q "${hello_plugvm[@]}")"
sed 's/^/           /' "$tmp/hello.cfg"
echo "   QEMU:   $(q "${hello_qemu[@]}")"
if [ $linux -eq 1 ]; then
    echo "b. Debian kernel, pattern '$linux_pat' (timeout 240 s):"
    echo "   plugvm (3 runs): $(q "${linux_plugvm[@]}")"
    sed 's/^/           /' "$tmp/linux.cfg"
    echo "   QEMU bzImage (1 run: its in-guest decompression takes ~90 s here):"
    echo "           $(q "${linux_qemu[@]}" -kernel "$kernel")"
    if [ -n "$vmlinux" ]; then
        echo "   QEMU PVH vmlinux (3 runs; vmlinux = lz4 -dc of the bzImage's payload):"
        echo "           $(q "${linux_qemu[@]}" -kernel "$vmlinux")"
    else
        echo "   QEMU PVH vmlinux: not measured (no lz4, or no LZ4 payload found)"
    fi
else
    echo "b. Debian kernel: SKIPPED: $kernel or $initrd missing (scripts/images.sh $build)"
fi
echo

# --- Measuring --------------------------------------------------------------
# measure KEY RUNS TIMEOUT PATTERN CMD...: firstline's summary into res[KEY].
declare -A res
failed=0
measure() {
    local key=$1 runs=$2 timeout=$3 pat=$4 line
    shift 4
    echo "measuring $key ($runs run(s))..."
    line=$("$firstline" --quiet -n "$runs" -t "$timeout" -p "$pat" -- "$@" | tail -n 1)
    [ "${PIPESTATUS[0]}" -eq 0 ] || failed=1
    res[$key]=$line
}
measure hello_plugvm 10 10 "$hello_pat" "${hello_plugvm[@]}"
measure hello_qemu 10 10 "$hello_pat" "${hello_qemu[@]}"
if [ $linux -eq 1 ]; then
    measure linux_plugvm 3 240 "$linux_pat" "${linux_plugvm[@]}"
    measure linux_qemu_bz 1 240 "$linux_pat" "${linux_qemu[@]}" -kernel "$kernel"
    [ -n "$vmlinux" ] &&
        measure linux_qemu_pvh 3 240 "$linux_pat" "${linux_qemu[@]}" -kernel "$vmlinux"
fi

# --- The table --------------------------------------------------------------
field() { sed -n "s/.*\<$2=\([^ ]*\).*/\1/p" <<<"${res[$1]:-}"; }
# "min/median/max (runs)" in ms, or FAILED.
cell() {
    local f; f=$(field "$1" failed)
    if [ "${f:-1}" != 0 ]; then echo "FAILED"; return; fi
    echo "$(field "$1" min_ms)/$(field "$1" median_ms)/$(field "$1" max_ms) ($(field "$1" runs))"
}
rss() { local k; k=$(field "$1" rss_max_kib); [ -n "$k" ] && echo $((k / 1024)) || echo "?"; }
ratio() {
    local p q; p=$(field "$1" median_ms) q=$(field "$2" median_ms)
    if [ "$(cell "$1")" = FAILED ] || [ "$(cell "$2")" = FAILED ]; then echo "-"; return; fi
    awk -v p="$p" -v q="$q" 'BEGIN { printf "%.2fx", q / p }'
}
row() { printf '%-34s %-28s %-31s %-11s %s\n' "$@"; }
echo
echo "Time to the line, ms: min/median/max (successful runs); ratio = QEMU median / plugvm median"
echo "(how many times faster plugvm is); peak RSS of the VMM process up to that line."
row "case" "plugvm ms" "QEMU ms" "QEMU/plugvm" "peak RSS MiB plugvm/QEMU"
row "a. hello.elf -> hello line" "$(cell hello_plugvm)" "$(cell hello_qemu)" \
    "$(ratio hello_plugvm hello_qemu)" "$(rss hello_plugvm)/$(rss hello_qemu)"
if [ $linux -eq 1 ]; then
    row "b. Debian bzImage -> Linux version" "$(cell linux_plugvm)" "$(cell linux_qemu_bz)" \
        "$(ratio linux_plugvm linux_qemu_bz)" "$(rss linux_plugvm)/$(rss linux_qemu_bz)"
    [ -n "$vmlinux" ] &&
        row "b'. same; QEMU boots PVH vmlinux" "$(cell linux_plugvm)" "$(cell linux_qemu_pvh)" \
            "$(ratio linux_plugvm linux_qemu_pvh)" "$(rss linux_plugvm)/$(rss linux_qemu_pvh)"
    echo "b: plugvm decompresses the bzImage on the host; QEMU's bzImage row includes ~90 s of"
    echo "   in-guest decompression (guest kernel code is emulated here); b' is like for like."
fi
awk -v s="$start" -v e="$(date +%s.%N)" -v l="$(load)" \
    'BEGIN { printf "total time: %.1f s (load average now %s)\n", e - s, l }'
[ $failed -eq 0 ] || { echo "bench-boot: FAILED: some runs failed (see above)"; exit 1; }
