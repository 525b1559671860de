#!/bin/bash
# images.sh BUILD_DIR
# Guest images the examples and tests boot, in BUILD_DIR/images (where
# plugvm looks for a config's relative kernel and initrd names):
#   debian-cloud-vmlinuz       Debian 12's cloud kernel (fetched, cached)
#   hello-initramfs.cpio.gz    busybox initramfs printing "hello from plugvm"
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
build=$(mkdir -p "$1" && cd "$1" && pwd)
mkdir -p "$build/images"
"$here/fetch-kernel.sh" "$build/cache/linux"
ln -sfn "$build/cache/linux/vmlinuz" "$build/images/debian-cloud-vmlinuz"
"$here/make-initramfs.sh" "$build/images/hello-initramfs.cpio.gz" "$here/../guest/linux/init"
