#!/bin/bash
# Image import benchmark: `plugvm image import` of an image with one
# 100 MiB file and of one with 10,000 small files (make-images.py), cold
# (an empty cache) and as a cache hit, beside the way to the same root disk
# without plugvm: `umoci unpack` (extracts to a folder; needs root) and then
# `mke2fs -d` of that folder, with the same ext4 features and size. Both
# run here, in the same run, on the build tree's file system; no VM, so
# no KVM is needed. Prints the commands, then medians and ratios.
# usage: run.sh BUILD_DIR
# environment: RUNS (3, cold imports and baselines), HITS (20)
set -u
export LC_ALL=C
[ $# -eq 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
build=$(cd "$1" && pwd) || exit 2
here=$(cd "$(dirname "$0")" && pwd)
runs=${RUNS:-3} hits=${HITS:-20}
plugvm=$build/core/plugvm
export PATH=/usr/sbin:/sbin:$PATH
[ -x "$build/core/plugvm-image" ] || { echo "bench-image: build plugvm first" >&2; exit 1; }
baseline=1
[ "$(id -u)" = 0 ] && command -v umoci >/dev/null || baseline=0
mkdir -p "$build/bench"
dir=$(mktemp -d -p "$build/bench" image.XXXXXX)
trap 'rm -rf "$dir"' EXIT
python3 "$here/make-images.py" "$dir" || exit 1
features=none,ext_attr,dir_index,filetype,extent,flex_bg,sparse_super,large_file,huge_file,dir_nlink,extra_isize,64bit,metadata_csum
echo "plugvm:   $plugvm image --cache CACHE import -q IMAGE   (cold: CACHE emptied first)"
echo "baseline: umoci unpack --image IMAGE:latest B && mke2fs -q -F -t ext4 -b 4096 -I 256 -O $features -m 0 -N INODES -d B/rootfs DISK BLOCKS"
now() { echo "${EPOCHREALTIME/./}"; } # microseconds
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
declare -A res
for img in big small; do
    for r in $(seq 1 "$runs"); do
        rm -rf "$dir/cache"
        t0=$(now)
        d=$("$plugvm" image --cache "$dir/cache" import -q "$dir/$img") || exit 1
        t1=$(now)
        echo $((t1 - t0)) >>"$dir/$img.cold"
        if [ $baseline = 1 ]; then
            rm -rf "$dir/bundle" "$dir/disk"
            disk=$dir/cache/sha256-${d#sha256:}/rootfs.ext4
            blocks=$(($(stat -c %s "$disk") / 4096))
            inodes=$(dumpe2fs -h "$disk" 2>/dev/null | awk -F: '/^Inode count/ {print $2+0}')
            t0=$(now)
            umoci unpack --image "$dir/$img:latest" "$dir/bundle" >/dev/null 2>&1 || { echo "umoci failed" >&2; exit 1; }
            t1=$(now)
            mke2fs -q -F -t ext4 -b 4096 -I 256 -O "$features" -m 0 -N "$inodes" -d "$dir/bundle/rootfs" "$dir/disk" "$blocks" >/dev/null ||
                exit 1
            t2=$(now)
            echo $((t1 - t0)) >>"$dir/$img.umoci"
            echo $((t2 - t1)) >>"$dir/$img.mke2fs"
            echo $((t2 - t0)) >>"$dir/$img.base"
        fi
    done
    for _ in $(seq 1 "$hits"); do
        t0=$(now)
        "$plugvm" image --cache "$dir/cache" import -q "$dir/$img" >/dev/null || exit 1
        t1=$(now)
        echo $((t1 - t0)) >>"$dir/$img.hit"
    done
    for _ in $(seq 1 "$hits"); do
        t0=$(now)
        /bin/true
        t1=$(now)
        echo $((t1 - t0)) >>"$dir/true"
    done
    for k in cold hit umoci mke2fs base; do
        [ -s "$dir/$img.$k" ] && res[$img.$k]=$(median <"$dir/$img.$k")
    done
done
ms() { awk -v u="${1:-}" 'BEGIN { if (u == "") print "-"; else printf "%.1f", u / 1000 }'; }
ratio() { awk -v a="${1:-}" -v b="${2:-}" 'BEGIN { if (a == "" || b == "") print "-"; else printf "%.2f", a / b }'; }
echo
echo "medians, ms ($runs cold runs, $hits cache hits; $(nproc) CPUs)"
printf "%-30s %10s %10s %10s %12s %10s %14s\n" image "cold" "hit" "umoci" "mke2fs -d" "umoci+mke2fs" "cold/(u+m)"
for img in big small; do
    label=$([ $img = big ] && echo "one 100 MiB file (gzip)" || echo "10,000 files of 1-4 KiB (gzip)")
    printf "%-30s %10s %10s %10s %12s %10s %14s\n" "$label" "$(ms "${res[$img.cold]}")" "$(ms "${res[$img.hit]}")" \
        "$(ms "${res[$img.umoci]:-}")" "$(ms "${res[$img.mke2fs]:-}")" "$(ms "${res[$img.base]:-}")" \
        "$(ratio "${res[$img.cold]}" "${res[$img.base]:-}")"
done
echo "the floor: starting a process, timed the same way (/bin/true): $(ms "$(median <"$dir/true")") ms"
[ $baseline = 1 ] || echo "(no baseline: umoci unpack needs root and umoci installed)"
