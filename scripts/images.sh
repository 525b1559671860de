#!/bin/bash
# images.sh BUILD_DIR
# Guest images the examples and tests boot, in BUILD_DIR/images (where
# plugvm looks for a config's relative kernel and initrd names):
#   debian-cloud-vmlinuz       Debian 12's cloud kernel (fetched, cached)
#   debian-generic-vmlinuz     Debian 12's generic kernel (fetched, cached;
#                              its vmgenid driver, for the e2e case vmgenid)
#   hello-initramfs.cpio.gz    busybox initramfs printing "hello from plugvm"
# and the e2e tests' initramfs, BUILD_DIR/e2e/e2e-initramfs.cpio.gz (made
# here, on the host: in the nested VM host it would take ~25 s of TCG), and
#   plugvm-init.cpio.gz        `plugvm run --image`'s initramfs (guest/init)
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
build=$(mkdir -p "$1" && cd "$1" && pwd)
mkdir -p "$build/images"
"$here/fetch-kernel.sh" "$build/cache/linux"
ln -sfn "$build/cache/linux/vmlinuz" "$build/images/debian-cloud-vmlinuz"
# Debian's generic kernel: the e2e case `vmgenid` needs its vmgenid driver.
"$here/fetch-kernel.sh" "$build/cache/linux-generic" generic
ln -sfn "$build/cache/linux-generic/vmlinuz" "$build/images/debian-generic-vmlinuz"
"$here/make-initramfs.sh" "$build/images/hello-initramfs.cpio.gz" "$here/../guest/linux/init"
mkdir -p "$build/e2e"
"$here/../guest/e2e/make-initramfs.sh" "$build" "$build/e2e/e2e-initramfs.cpio.gz"
touch "$build/e2e/e2e-initramfs.cpio.gz"
# `plugvm run --image`'s initramfs: plugvm-init and the modules it needs.
"$here/../guest/init/make-initramfs.sh" "$build" "$build/images/plugvm-init.cpio.gz"
