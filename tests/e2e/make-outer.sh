#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# make-outer.sh BUILD_DIR
# The nested tier's outer initramfs (an uncompressed newc cpio: the outer
# VM runs under TCG, where gunzip of ~60 MB would cost seconds of boot),
# cached as BUILD_DIR/e2e/outer-KEY.cpio. KEY hashes every input's bytes
# and place in the archive, so any change to plugvm, a plugin, a shared
# library, a kernel module, the inner kernel or initramfs, a config or the
# scripts gives a new archive. Prints the archive's path on stdout.
#
# What goes in:
#   /init                        tests/e2e/outer-init
#   /bin/busybox                 busybox-static
#   /lib/modules/...             irqbypass, kvm, kvm-amd of the outer kernel (the same
#                                Debian cloud kernel as the inner one), with
#                                /lib/modules/outer.order (guest/e2e/modorder.sh)
#   /e2e/plugvm                  BUILD_DIR/core/plugvm
#   /e2e/plugins/                plugvm-kvm.so, the rng example plugin, and
#                                plugvm-blk.so when it is built
#   /e2e/bin/                    mke2fs, e2fsck, debugfs (e2fsprogs, when
#                                installed; the blk cases' host side), with
#                                /etc/mke2fs.conf
#   /lib*/...                    their shared libraries (ldd) and the dynamic loader,
#                                at the paths ldd names
#   /e2e/images/                 the inner kernel and guest/e2e's initramfs
#   /e2e/cfg/*.cfg, /e2e/case.sh, /e2e/host.sh, /e2e/snapshot.sh
#                                the cases and their runner
set -euo pipefail

die() { echo "make-outer: error: $*" >&2; exit 1; }
[ $# -eq 1 ] || die "usage: $0 BUILD_DIR"
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=$(cd "$1" && pwd)
bb=/bin/busybox
cache=$build/e2e
mkdir -p "$cache"

ver=$(cat "$build/cache/linux/kernel-version" 2>/dev/null) ||
    die "$build/cache/linux/kernel-version missing: run scripts/images.sh $build"
moddir=$build/cache/linux/root/lib/modules/$ver
kernel=$build/images/debian-cloud-vmlinuz
inner_initrd=$cache/e2e-initramfs.cpio.gz
plugvm=$build/core/plugvm
plugins=("$build/plugins/plugvm-kvm.so" "$build/tests/devices/plugvm-rng.so")
for f in "$kernel" "$inner_initrd" "$plugvm" "${plugins[@]}" "$bb"; do
    [ -e "$f" ] || die "$f missing"
done
# Optional: without them the blk cases cannot run (run-case.sh skips them
# before it gets here), the others still can.
[ -f "$build/plugins/plugvm-blk.so" ] && plugins+=("$build/plugins/plugvm-blk.so")
e2fs=()
for t in mke2fs e2fsck debugfs; do
    p=$(PATH=/usr/sbin:/sbin:$PATH command -v $t) && e2fs+=("$p")
done
[ ${#e2fs[@]} -eq 3 ] || e2fs=()

# src<TAB>dest lines: every file of the archive.
list=$(mktemp)
trap 'rm -f "$list"' EXIT
add() { printf '%s\t%s\n' "$(readlink -f "$1")" "$2" >>"$list"; }
add "$here/outer-init" /init
add "$bb" /bin/busybox
add "$here/case.sh" /e2e/case.sh
add "$here/host.sh" /e2e/host.sh
add "$here/snapshot.sh" /e2e/snapshot.sh
for c in "$here"/*.cfg; do add "$c" "/e2e/cfg/$(basename "$c")"; done
add "$kernel" /e2e/images/debian-cloud-vmlinuz
add "$inner_initrd" /e2e/images/e2e-initramfs.cpio.gz
add "$plugvm" /e2e/plugvm
for p in "${plugins[@]}"; do add "$p" "/e2e/plugins/$(basename "$p")"; done
for t in "${e2fs[@]}"; do add "$t" "/e2e/bin/$(basename "$t")"; done
[ ${#e2fs[@]} -eq 0 ] || [ ! -f /etc/mke2fs.conf ] || add /etc/mke2fs.conf /etc/mke2fs.conf
# plugvm dlopen()s libarchive (core/boot/x86/archive_lazy.c), so ldd does
# not list it: it goes in with its own libraries.
# (awk reads to the end: an early exit would SIGPIPE ldconfig, and with
# pipefail that fails the whole script now and then.)
archive=$(ldconfig -p | awk '/libarchive\.so\.[0-9]+ .*x86-64/ && !n++ { print $NF }')
[ -n "$archive" ] || die "libarchive not found (ldconfig -p)"
add "$archive" "$archive"
# Shared libraries and the loader, at the paths the binaries will ask for.
libs=$(for b in "$plugvm" "$archive" "${plugins[@]}" "${e2fs[@]}"; do
    ldd "$b" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'
done | sort -u)
[ -n "$libs" ] || die "ldd found no libraries for $plugvm"
for l in $libs; do add "$l" "$l"; done
order=$("$repo/guest/e2e/modorder.sh" "$moddir" irqbypass kvm kvm_amd)
for m in $order; do add "$moddir/$m" "/lib/modules/$m"; done

# The key: this script, the module order, and each file's place and bytes.
key=$( { sha256sum <"$0"; echo "$order";
         while IFS=$'\t' read -r src dest; do echo "$dest $(sha256sum <"$src" | cut -d' ' -f1)"; done <"$list"
       } | sha256sum | cut -c1-16)
out=$cache/outer-$key.cpio
if [ -f "$out" ]; then
    echo "make-outer: $out is up to date (cached)" >&2
    echo "$out"
    exit 0
fi

stage=$(mktemp -d)
trap 'rm -f "$list"; rm -rf "$stage"' EXIT
mkdir -p "$stage"/{dev,proc,sys,tmp,bin,lib/modules}
while IFS=$'\t' read -r src dest; do
    mkdir -p "$stage$(dirname "$dest")"
    cp -L "$src" "$stage$dest"
done <"$list"
chmod 0755 "$stage/init" "$stage/bin/busybox" "$stage/e2e/plugvm" "$stage/e2e/case.sh" "$stage/e2e/host.sh" "$stage/e2e/snapshot.sh"
echo "$order" >"$stage/lib/modules/outer.order"
mknod -m 600 "$stage/dev/console" c 5 1 2>/dev/null || true
find "$stage" -exec touch -h -d @0 {} +
tmp=$(mktemp "$out.XXXXXX")
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort |
    cpio --quiet -o -H newc -R 0:0 --reproducible) >"$tmp"
chmod 0644 "$tmp"
mv "$tmp" "$out"
echo "make-outer: wrote $out ($(($(stat -c %s "$out") / 1048576)) MiB)" >&2
# Keep the three newest archives.
ls -t "$cache"/outer-*.cpio 2>/dev/null | tail -n +4 | xargs -r rm -f
echo "$out"
