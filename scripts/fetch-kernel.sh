#!/bin/bash
# fetch-kernel.sh CACHE_DIR [cloud|generic]
# Fetch Debian 12's cloud kernel (a small, virtio-oriented config; the
# default) or its generic amd64 kernel as a .deb with `apt-get download`
# and unpack it without installing it: the host's /boot and dpkg database
# stay untouched. Result:
#   CACHE_DIR/vmlinuz        -> root/boot/vmlinuz-<release>   (bzImage)
#   CACHE_DIR/kernel-version    "<release>" (uname -r of the guest kernel)
# The cloud kernel comes with its modules (root/lib/modules: the
# initramfs scripts take theirs from there); of the generic one only
# root/boot is kept (its modules are 400 MiB) and its .deb is removed: the
# e2e case `vmgenid` boots it for the vmgenid driver the cloud kernel
# lacks (CONFIG_VIRT_DRIVERS unset).
set -euo pipefail

die() { echo "fetch-kernel: error: $*" >&2; exit 1; }

[ $# -eq 1 ] || [ $# -eq 2 ] || die "usage: $0 CACHE_DIR [cloud|generic]"
cache=$1 flavour=${2:-cloud}
case $flavour in
    cloud) meta=linux-image-cloud-amd64 ;;
    generic) meta=linux-image-amd64 ;;
    *) die "unknown flavour '$flavour': cloud or generic" ;;
esac

# Fast path: -e follows the symlink, so a dangling link triggers a re-fetch.
if [ -e "$cache/vmlinuz" ]; then
    echo "fetch-kernel: $cache/vmlinuz already present ($(cat "$cache/kernel-version" 2>/dev/null || echo '?')), nothing to do"
    exit 0
fi

command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null ||
    die "needs apt-get and dpkg-deb (Debian host)"
mkdir -p "$cache/debs" "$cache/root"
cache=$(cd "$cache" && pwd)     # absolute: apt-get download runs in debs/

# The metapackage only depends on the versioned image package
# (linux-image-6.1.0-N-cloud-amd64); resolving it here keeps us on whatever
# Debian ships now. `apt-cache depends` reports the candidate version only.
resolve() {
    apt-cache depends "$meta" 2>/dev/null |
        awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }'
}
fetch() {
    pkg=$(resolve) && [ -n "$pkg" ] &&
        (cd "$cache/debs" && apt-get download -qq "$pkg" >&2)
}

# Missing or stale package lists show up as an unresolvable metapackage or a
# failed download (404 on a superseded version): refresh once and retry.
if ! fetch; then
    echo "fetch-kernel: resolve or download failed (package lists missing or stale?), running apt-get update and retrying" >&2
    apt-get update -q >&2 || die "apt-get update failed"
    fetch || die "could not resolve/download $meta (check apt sources)"
fi

deb=$(ls -t "$cache/debs/${pkg}"_*.deb 2>/dev/null | head -n1)
[ -n "$deb" ] || die "downloaded .deb for $pkg not found in $cache/debs"
if [ "$flavour" = generic ]; then
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$cache/root" --wildcards './boot/*' ||
        die "unpacking ./boot of $deb failed"
    rm -f "$deb"
else
    dpkg-deb -x "$deb" "$cache/root" || die "dpkg-deb -x $deb failed"
fi

# Package linux-image-<release> ships boot/vmlinuz-<release>.
release=${pkg#linux-image-}
img=$cache/root/boot/vmlinuz-$release
[ -f "$img" ] || die "$img not found in $deb"

echo "$release" > "$cache/kernel-version"
ln -sfn "root/boot/vmlinuz-$release" "$cache/vmlinuz"   # relative: cache dir can move
echo "fetch-kernel: unpacked $(basename "$deb") -> $cache/vmlinuz ($release)"
