#!/bin/bash
# make-initramfs.sh OUT.cpio.gz [INIT]
# Build a gzip'd newc cpio initramfs: /bin/busybox (busybox-static), /init,
# dev proc sys tmp, and /dev/console when we can create it.
set -euo pipefail

die() { echo "make-initramfs: error: $*" >&2; exit 1; }

[ $# -ge 1 ] && [ $# -le 2 ] || die "usage: $0 OUT.cpio.gz [INIT]"
repo=$(cd "$(dirname "$0")/.." && pwd)
out=$1
init=${2:-$repo/guest/linux/init}
bb=/bin/busybox

[ -f "$init" ] || die "init script $init not found"
# The initramfs has no libc, so busybox must be the static build; the dynamic
# `busybox` package installs the same path, hence the package check.
[ "$(dpkg-query -W -f='${Status}' busybox-static 2>/dev/null)" = "install ok installed" ] &&
    [ -x "$bb" ] || die "$bb from busybox-static is missing (apt-get install busybox-static)"
command -v cpio >/dev/null || die "cpio not found (apt-get install cpio)"

# Rebuild only when an input (init, busybox, this script) is newer than OUT.
if [ -f "$out" ] && [ "$out" -nt "$init" ] && [ "$out" -nt "$bb" ] && [ "$out" -nt "$0" ]; then
    echo "make-initramfs: $out is up to date"
    exit 0
fi

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,dev,proc,sys,tmp}
chmod 1777 "$stage/tmp"
cp "$bb" "$stage/bin/busybox"
install -m 0755 "$init" "$stage/init"

# /dev/console: the kernel opens it as init's stdin/stdout/stderr *before*
# /init runs, so init's own devtmpfs mount comes too late for that. GNU cpio
# only archives nodes that exist, so we mknod one (works as root, which is how
# we run). Without root it is skipped: kernels built with an empty
# CONFIG_INITRAMFS_SOURCE (Debian's) carry a built-in default initramfs that
# already holds /dev/console c 5 1, and ours is unpacked on top of it.
if ! mknod -m 600 "$stage/dev/console" c 5 1 2>/dev/null; then
    echo "make-initramfs: note: not root, no /dev/console node (kernel's built-in one is used)" >&2
fi

# -R 0:0: files owned by root in the guest whoever builds; fixed mtimes,
# --reproducible (no inode numbers) and gzip -n: same inputs, same bytes.
find "$stage" -exec touch -h -d @0 {} +
mkdir -p "$(dirname "$out")"
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort |
    cpio --quiet -o -H newc -R 0:0 --reproducible) | gzip -9n > "$out.tmp"
mv "$out.tmp" "$out"
echo "make-initramfs: wrote $out ($(stat -c %s "$out") bytes, init=$init)"
