#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# make-initramfs.sh BUILD_DIR OUT.cpio.gz
# The initramfs of `plugvm run --image` (gzip'd newc cpio): /init is
# plugvm-init (BUILD_DIR/guest/plugvm-init, built by cmake), and
# /lib/modules holds only the modules it needs from the kernel in
# BUILD_DIR/cache/linux (scripts/fetch-kernel.sh put it there): virtio-mmio
# and virtio_blk for the root disk, overlay for its writable layer, vsock
# for the host's connections, fuse and virtiofs for directory volumes
# (ext4 is built into Debian's kernel; listed in
# case a kernel has it as a module), with /lib/modules/plugvm.order, the
# order init loads them in (guest/e2e/modorder.sh). Same inputs, same
# bytes; OUT is replaced atomically and only when its content changes.
set -euo pipefail

die() { echo "make-initramfs(init): error: $*" >&2; exit 1; }

[ $# -eq 2 ] || die "usage: $0 BUILD_DIR OUT.cpio.gz"
here=$(cd "$(dirname "$0")" && pwd)
build=$1 out=$2
init=$build/guest/plugvm-init
[ -x "$init" ] || die "$init missing: build first (cmake --build $build)"
ver=$(cat "$build/cache/linux/kernel-version" 2>/dev/null) ||
    die "$build/cache/linux/kernel-version missing: run scripts/images.sh $build"
moddir=$build/cache/linux/root/lib/modules/$ver
[ -d "$moddir/kernel" ] || die "$moddir: no modules of the kernel (scripts/images.sh $build)"
command -v cpio >/dev/null || die "cpio not found (apt-get install cpio)"

modules="virtio virtio_ring virtio_mmio virtio_blk crc16 crc32c_generic mbcache jbd2 ext4 overlay
         vsock vmw_vsock_virtio_transport_common vmw_vsock_virtio_transport fuse virtiofs"

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{dev,proc,sys,lower,rw,newroot,lib/modules}
install -m 0755 "$init" "$stage/init"
"$here/../e2e/modorder.sh" "$moddir" $modules 2>/dev/null >"$stage/lib/modules/plugvm.order" ||
    die "cannot work out the module order: $("$here/../e2e/modorder.sh" "$moddir" $modules 2>&1 >/dev/null)"
while read -r m; do
    mkdir -p "$stage/lib/modules/$(dirname "$m")"
    cp "$moddir/$m" "$stage/lib/modules/$m"
done <"$stage/lib/modules/plugvm.order"
# /dev/console for the kernel to open before /init runs (root only; else
# the kernel's built-in initramfs provides it).
mknod -m 600 "$stage/dev/console" c 5 1 2>/dev/null || true

find "$stage" -exec touch -h -d @0 {} +
mkdir -p "$(dirname "$out")"
tmp=$(mktemp "$out.XXXXXX")
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort |
    cpio --quiet -o -H newc -R 0:0 --reproducible) | gzip -9n >"$tmp"
if [ -f "$out" ] && cmp -s "$tmp" "$out"; then
    rm -f "$tmp"
else
    chmod 0644 "$tmp"
    mv "$tmp" "$out"
    echo "make-initramfs(init): wrote $out ($(stat -c %s "$out") bytes; modules: $(xargs -n1 basename <"$stage/lib/modules/plugvm.order" | tr '\n' ' '))"
fi
