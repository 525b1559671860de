#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# make-initramfs.sh LINUX_DIR CACHE_DIR
# The nested VM host's initramfs: busybox-static, tests/vmhost/init, and
# the outer kernel's virtio_pci, virtiofs, virtio_blk, irqbypass, kvm and kvm-amd
# modules, and vhost_vsock (/dev/vhost-vsock, for bench/vsock's QEMU
# vhost-vsock-device baseline), from LINUX_DIR (scripts/fetch-kernel.sh's folder:
# root/lib/modules/VERSION, kernel-version). Everything else the command
# needs comes from the host through virtiofs, so this archive is small
# and changes only with these inputs. An uncompressed newc cpio (no gunzip
# under TCG), cached as CACHE_DIR/vmhost-KEY.cpio, KEY hashing every
# input; prints its path.
set -euo pipefail
die() { echo "vmhost: make-initramfs: error: $*" >&2; exit 1; }
[ $# -eq 2 ] || die "usage: $0 LINUX_DIR CACHE_DIR"
here=$(cd "$(dirname "$0")" && pwd)
linux=$1 cache=$2
bb=/bin/busybox
[ -x "$bb" ] || die "$bb missing (apt-get install busybox-static)"
command -v cpio >/dev/null || die "cpio missing (apt-get install cpio)"
ver=$(cat "$linux/kernel-version" 2>/dev/null) || die "$linux/kernel-version missing"
moddir=$linux/root/lib/modules/$ver
order=$("$here/../../guest/e2e/modorder.sh" "$moddir" virtio_pci virtiofs virtio_blk irqbypass kvm kvm_amd vhost_vsock)

key=$( { sha256sum <"$0"; sha256sum <"$here/init"; sha256sum <"$bb"; echo "$ver"
         for m in $order; do echo "$m $(sha256sum <"$moddir/$m")"; done; } | sha256sum | cut -c1-16)
mkdir -p "$cache"
out=$cache/vmhost-$key.cpio
[ -f "$out" ] && { echo "$out"; exit 0; }

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,dev,proc,sys,host,lib/modules}
cp "$bb" "$stage/bin/busybox"
cp "$here/init" "$stage/init"
chmod 0755 "$stage/init" "$stage/bin/busybox"
for m in $order; do
    mkdir -p "$stage/lib/modules/$(dirname "$m")"
    cp "$moddir/$m" "$stage/lib/modules/$m"
done
echo "$order" >"$stage/lib/modules/vmhost.order"
find "$stage" -exec touch -h -d @0 {} +
tmp=$(mktemp "$out.XXXXXX")
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0 --reproducible) >"$tmp"
chmod 0644 "$tmp"
mv "$tmp" "$out"
# Keep the three newest.
ls -t "$cache"/vmhost-*.cpio 2>/dev/null | tail -n +4 | xargs -r rm -f
echo "$out"
