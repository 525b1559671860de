#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# debootstrap.sh SOURCE_DIR BUILD_DIR: the .deb on a fresh Debian 12. A
# minimal bookworm root made with debootstrap, where
# `apt-get install ./plugvm_*.deb` must resolve every dependency from
# Debian's archive (what dpkg-shlibdeps put in Depends, nothing from this
# machine), `plugvm plugins` must list every plugin from
# /usr/lib/plugvm/plugins, and the installed hello example must run:
# `plugvm run /usr/share/doc/plugvm/examples/hello.cfg` in that root, where
# a usable KVM is (tests/vmhost/run.sh: the nested VM host here).
# Skips, saying why, when not root (chroot, mounts), without debootstrap,
# or when Debian's archive cannot be reached. About 3 minutes, most of it
# downloading.
set -u
src=$1 build=$(cd "$2" && pwd) || exit 2
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
fail() { echo "FAIL: $*"; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "not root: debootstrap and chroot need it"
command -v debootstrap >/dev/null || skip "debootstrap is not installed (scripts/deps.sh installs it)"
host=${mirror#*://}; host=${host%%/*}
timeout 10 bash -c "exec 3<>/dev/tcp/$host/80" 2>/dev/null || skip "$host (Debian's archive) cannot be reached"

# In the build tree, not /tmp: the VM step may run in the nested VM host,
# which sees this host's files but has a /tmp of its own.
tmp=$(mktemp -d "$build/tests/debootstrap.XXXXXX")
root=$tmp/root
mounts=()
cleanup() {
    for m in "${mounts[@]}"; do umount -l "$m" 2>/dev/null; done
    rm -rf "$tmp"
}
trap cleanup EXIT
(cd "$build" && cpack -G DEB -B "$tmp/pkg" >"$tmp/cpack.log" 2>&1) || fail "cpack: $(tail -20 "$tmp/cpack.log")"
deb=$(ls "$tmp"/pkg/plugvm_*_amd64.deb 2>/dev/null) && [ -f "$deb" ] || fail "cpack made no .deb"

debootstrap --variant=minbase bookworm "$root" "$mirror" >"$tmp/debootstrap.log" 2>&1 ||
    fail "debootstrap: $(tail -5 "$tmp/debootstrap.log")"
cp "$deb" "$root/tmp/"
mount -t proc proc "$root/proc" && mounts+=("$root/proc")
chroot "$root" sh -c "apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends /tmp/$(basename "$deb")" \
    >"$tmp/apt.log" 2>&1 || fail "apt-get install ./$(basename "$deb") in a fresh bookworm root: $(tail -15 "$tmp/apt.log")"
installed=$(grep -c '^Setting up ' "$tmp/apt.log")

out=$(chroot "$root" plugvm plugins 2>&1) || fail "plugvm plugins in the root: $out"
for p in kvm blk fs vsock balloon; do
    grep -Eq "^$p +(backend|device) +[^ ]+ +/usr/lib/plugvm/plugins/plugvm-$p.so$" <<<"$out" ||
        fail "plugvm plugins in the root does not list /usr/lib/plugvm/plugins/plugvm-$p.so: $out"
done
umount "$root/proc" && mounts=()

# The installed hello example, where KVM is: the root's own plugvm, its
# plugins and its hello.elf, with /dev (for /dev/kvm) bound into it and
# /proc (plugvm finds its prefix through /proc/self/exe).
"$src/tests/vmhost/run.sh" --need kvm "$build" sh -c \
    'mount --bind /dev "$1/dev" && mount -t proc proc "$1/proc" || exit 1
     chroot "$1" plugvm run --timeout 60 /usr/share/doc/plugvm/examples/hello.cfg </dev/null
     st=$?; umount "$1/proc"; umount "$1/dev"; exit $st' \
    sh "$root" >"$tmp/hello.out" 2>"$tmp/hello.err"
st=$?
[ $st -eq 77 ] && { cat "$tmp/hello.out"; exit 77; }
[ $st -eq 0 ] || fail "the installed hello example: status $st: $(tail -5 "$tmp/hello.err")"
grep -q "hello from the plugvm hello guest" "$tmp/hello.out" || fail "the installed hello example printed: $(cat "$tmp/hello.out")"
echo "ok: $(basename "$deb") installed with apt-get in a fresh bookworm root ($installed packages set up, dependencies from $mirror); plugvm plugins lists the 5 plugins from /usr/lib/plugvm/plugins; the installed hello example ran (status 0)"
