#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# virtio-fs benchmark (bench/fs/README.md): guest/e2e/fs-bench's workload
#   meta    create + stat + unlink of 10,000 files (operations/s)
#   write   MIB MiB in 1 MiB writes and fsync (MiB/s)
#   read    the file back in 1 MiB reads (MiB/s)
#   rand    4 KiB reads at random offsets (MiB/s)
# run three ways in one go: on a host directory (the ceiling), and in one
# guest (Debian's kernel, the e2e initramfs) on a virtio-fs share of that
# kind of directory (plugvm's fs plugin) and on ext4 on a raw image through
# plugvm's blk plugin; printed with the ratios fs/host and fs/blk. The
# guest drops its page cache before each read phase; the host never does,
# so every figure is the path to the host's memory, not a disk's speed.
# usage: run.sh BUILD_DIR     environment: RUNS (3), MIB (256; 16 in the
#   nested host)
# Without a usable KVM here it runs itself inside the nested VM host
# (bench/README.md): compare ratios only there.
set -u
export LC_ALL=C
. "$(dirname "$0")/../lib.sh"
# The guest's metadata run keeps the nested host's one CPU busy for
# minutes, starving its heartbeat: a longer silence before it counts as hung.
export VMHOST_QUIET=1 VMHOST_SILENCE=${VMHOST_SILENCE:-600}
bench_start "$@"
# In the nested host the guest gets 256 MiB: with 544 MiB there the outer
# machine stopped (no heartbeat, its console silent) just after the guest
# mounted the share, twice in two tries; at 256 MiB it runs (README.md).
if [ "${PLUGVM_VMHOST:-}" = nested ]; then mib=${MIB:-16} mem=256; else mib=${MIB:-256} mem=$((${MIB:-256} * 2 + 512)); fi
runs=${RUNS:-3}
plugvm=$build/core/plugvm fsb=$build/bench/fs/fs-bench
kernel=$build/images/debian-cloud-vmlinuz initrd=$build/e2e/e2e-initramfs.cpio.gz
for f in "$plugvm" "$fsb" "$build/plugins/plugvm-fs.so" "$build/plugins/plugvm-blk.so" "$kernel" "$initrd"; do
    [ -e "$f" ] || { echo "bench-fs: $f missing: cmake --build $build --target bench-fs; scripts/images.sh $build" >&2
        exit 1; }
done
command -v mke2fs >/dev/null || { echo "bench-fs: mke2fs missing (apt-get install e2fsprogs)" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-fs.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/share" "$tmp/host"
mke2fs -q -F -t ext4 -E nodiscard,lazy_itable_init=0,lazy_journal_init=0 "$tmp/disk.img" $((mib * 2 + 256))M ||
    exit 1
cat >"$tmp/vm.cfg" <<CFG
vm = {
  vcpus = 1;
  memory_mib = $mem;
  kernel = "$kernel";
  initrd = "$initrd";
  cmdline = "console=ttyS0 quiet reboot=k panic=-1 e2e=fsbench e2e_mib=$mib e2e_disk_sectors=$(($(stat -c %s "$tmp/disk.img") / 512))";
  exit_port = true;
};
devices = (
  { plugin = "blk"; path = "$tmp/disk.img"; serial = "plugvm-e2e-fsbench"; },
  { plugin = "fs"; source = "$tmp/share"; tag = "bench"; }
);
CFG
echo "bench/fs: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, load $(load)"
bench_where
echo "   $runs runs; $mib MiB files; host:  $(q "$fsb" "$tmp/host" "$mib")"
echo "   guest: $(q "$plugvm" run "$tmp/vm.cfg") (fs-bench in the guest on /mnt/fs and /mnt/blk)"

for r in $(seq "$runs"); do
    "$fsb" "$tmp/host" "$mib" | sed 's/^/host /' >>"$tmp/all" || { echo "bench-fs: fs-bench on the host failed" >&2; exit 1; }
    "$plugvm" run --timeout 900 "$tmp/vm.cfg" </dev/null >"$tmp/console.$r" 2>"$tmp/err.$r" ||
        { echo "bench-fs: the guest run failed (status $?):" >&2; tail -n 20 "$tmp/console.$r" "$tmp/err.$r" >&2; exit 1; }
    tr -d '\r' <"$tmp/console.$r" | sed -n 's/^E2E-FSBENCH //p' >>"$tmp/all"
done
med() { awk -v w="$1" -v n="$2" '$1 == w && $2 == n { print $3 }' "$tmp/all" | sort -n |
    awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)]; else print "-" }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f", a / b }'; }
echo
printf '%-22s %12s %12s %12s %9s %9s\n' "figure (median)" "host" "virtio-fs" "virtio-blk" "fs/host" "fs/blk"
for n in meta write read rand; do
    h=$(med host $n) f=$(med fs $n) b=$(med blk $n)
    case $n in meta) label="metadata (ops/s)" ;; write) label="1 MiB seq write (MiB/s)" ;;
        read) label="1 MiB seq read (MiB/s)" ;; rand) label="4 KiB rand read (MiB/s)" ;; esac
    printf '%-22s %12s %12s %12s %9s %9s\n' "$label" "$h" "$f" "$b" "$(ratio "$f" "$h")" "$(ratio "$f" "$b")"
done
