#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# make-initramfs.sh BUILD_DIR OUT.cpio.gz
# The end-to-end guest's initramfs (gzip'd newc cpio): /bin/busybox
# (busybox-static), /init (guest/e2e/init), /bin/exit-port (the port 0xf4
# writer, guest/e2e/exit-port.S), and the virtio (and, where they are
# modules, ext4's) modules of the kernel in
# BUILD_DIR/cache/linux (scripts/fetch-kernel.sh put it there) with
# /lib/modules/e2e.order, the order init loads them in (modorder.sh).
# Same inputs, same bytes; OUT is replaced atomically (parallel runs are
# safe) and only when its content changes.
set -euo pipefail

die() { echo "make-initramfs(e2e): error: $*" >&2; exit 1; }

[ $# -eq 2 ] || die "usage: $0 BUILD_DIR OUT.cpio.gz"
here=$(cd "$(dirname "$0")" && pwd)
build=$1 out=$2
bb=/bin/busybox
cc=${CC:-cc}

ver=$(cat "$build/cache/linux/kernel-version" 2>/dev/null) ||
    die "$build/cache/linux/kernel-version missing: run scripts/images.sh $build"
moddir=$build/cache/linux/root/lib/modules/$ver
[ -d "$moddir/kernel" ] || die "$moddir: no modules of the kernel (scripts/images.sh $build)"
[ "$(dpkg-query -W -f='${Status}' busybox-static 2>/dev/null)" = "install ok installed" ] &&
    [ -x "$bb" ] || die "$bb from busybox-static is missing (apt-get install busybox-static)"
command -v cpio >/dev/null || die "cpio not found (apt-get install cpio)"
command -v "$cc" >/dev/null || die "no C compiler '$cc' to assemble exit-port.S"

# Modules the cases need, dependencies first. rng-core is built into
# Debian's kernel (CONFIG_HW_RANDOM=y), and so are ext4 and its helpers
# (jbd2, mbcache, crc16, crc32c); listed in case a kernel has them as modules.
modules="virtio virtio_ring virtio_mmio rng-core virtio-rng virtio_blk crc16 crc32c_generic mbcache jbd2 ext4
         vsock vmw_vsock_virtio_transport_common vmw_vsock_virtio_transport fuse virtiofs virtio_balloon"

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,dev,etc,proc,sys,tmp,lib/modules}
chmod 1777 "$stage/tmp"
cp "$bb" "$stage/bin/busybox"
install -m 0755 "$here/init" "$stage/init"
"$cc" -nostdlib -static -s -Wl,--build-id=none -Wl,-n -o "$stage/bin/exit-port" "$here/exit-port.S" ||
    die "cannot build exit-port from $here/exit-port.S"
"$cc" -static -O2 -s -Wall -Wextra -Werror -Wl,--build-id=none -o "$stage/bin/vsock-tool" "$here/vsock-tool.c" ||
    die "cannot build vsock-tool from $here/vsock-tool.c (static: libc6-dev's libc.a)"
"$cc" -static -O2 -s -Wall -Wextra -Werror -Wl,--build-id=none -o "$stage/bin/fs-posix" "$here/fs-posix.c" ||
    die "cannot build fs-posix from $here/fs-posix.c (static: libc6-dev's libc.a)"
for tool in fs-bench mem-tool; do
    "$cc" -static -O2 -s -Wall -Wextra -Werror -Wl,--build-id=none -o "$stage/bin/$tool" "$here/$tool.c" ||
        die "cannot build $tool from $here/$tool.c (static: libc6-dev's libc.a)"
done

"$here/modorder.sh" "$moddir" $modules 2>/dev/null >"$stage/lib/modules/e2e.order" ||
    die "cannot work out the module order: $("$here/modorder.sh" "$moddir" $modules 2>&1 >/dev/null)"
while read -r m; do
    mkdir -p "$stage/lib/modules/$(dirname "$m")"
    cp "$moddir/$m" "$stage/lib/modules/$m"
done <"$stage/lib/modules/e2e.order"

# /dev/console for the kernel to open before /init runs; without root the
# node is skipped and the kernel's built-in initramfs provides it (see
# scripts/make-initramfs.sh).
mknod -m 600 "$stage/dev/console" c 5 1 2>/dev/null ||
    echo "make-initramfs(e2e): note: not root, no /dev/console node (kernel's built-in one is used)" >&2

find "$stage" -exec touch -h -d @0 {} +
mkdir -p "$(dirname "$out")"
tmp=$(mktemp "$out.XXXXXX")
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort |
    cpio --quiet -o -H newc -R 0:0 --reproducible) | gzip -9n >"$tmp"
tool=$(dirname "$out")/vsock-tool
cmp -s "$stage/bin/vsock-tool" "$tool" 2>/dev/null || install -m 0755 "$stage/bin/vsock-tool" "$tool"
if [ -f "$out" ] && cmp -s "$tmp" "$out"; then
    rm -f "$tmp"
    echo "make-initramfs(e2e): $out is up to date"
else
    chmod 0644 "$tmp"
    mv "$tmp" "$out"
    echo "make-initramfs(e2e): wrote $out ($(stat -c %s "$out") bytes; modules: $(xargs -n1 basename <"$stage/lib/modules/e2e.order" | tr '\n' ' '))"
fi
