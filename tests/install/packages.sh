#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# packages.sh BUILD_DIR: the .deb, .rpm and .tar.gz `cpack` makes
# (cmake/Packaging.cmake), judged by tools no one here wrote: lintian
# (Debian's policy checker) must report nothing beyond the overrides the
# package carries and explains (packaging/lintian-overrides); dpkg-deb,
# rpm and tar must list plugvm, every plugin and the man pages where
# they belong; the .deb's Depends must hold what dpkg-shlibdeps found
# (libconfig9, libevent, libjansson4, ...) and libarchive13, which plugvm
# dlopen()s. Prints the file names and sizes. Skips, saying which, where
# cpack's tools (dpkg-deb, rpmbuild) or lintian are not installed.
set -u
build=$(cd "$1" && pwd) || exit 2
fail() { echo "FAIL: $*"; exit 1; }
for t in dpkg-deb dpkg-shlibdeps rpmbuild rpm lintian; do
    command -v $t >/dev/null || { echo "SKIP: $t is not installed (scripts/deps.sh installs it)"; exit 77; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$build" && cpack -B "$tmp" >"$tmp/cpack.log" 2>&1) || fail "cpack: $(tail -20 "$tmp/cpack.log")"
deb=$(ls "$tmp"/plugvm_*_amd64.deb 2>/dev/null) rpm=$(ls "$tmp"/plugvm-*.rpm 2>/dev/null)
tgz=$(ls "$tmp"/plugvm-*.tar.gz 2>/dev/null)
[ -f "$deb" ] && [ -f "$rpm" ] && [ -f "$tgz" ] || fail "cpack made: $(ls "$tmp")"

want="usr/bin/plugvm usr/libexec/plugvm/plugvm-image usr/share/man/man1/plugvm.1.gz
      usr/share/man/man5/plugvm.cfg.5.gz usr/share/man/man7/plugvm-plugin.7.gz
      usr/share/doc/plugvm/copyright usr/share/plugvm/images/hello.elf usr/include/plugvm/device.h"
for p in kvm blk fs vsock balloon; do want="$want usr/lib/plugvm/plugins/plugvm-$p.so"; done
dpkg-deb -c "$deb" | awk '{ print $6 }' | sed 's|^\./||' >"$tmp/deb.list"
rpm -qpl "$rpm" 2>/dev/null | sed 's|^/||' >"$tmp/rpm.list"
tar -tzf "$tgz" | sed 's|^[^/]*/||' >"$tmp/tgz.list"
for f in $want; do
    grep -qx "$f" "$tmp/deb.list" || fail "the .deb lacks /$f"
    grep -qx "$f" "$tmp/rpm.list" || fail "the .rpm lacks /$f"
    grep -qx "${f#usr/}" "$tmp/tgz.list" || fail "the .tar.gz lacks ${f#usr/}"
done

deps=$(dpkg-deb -f "$deb" Depends)
for d in libarchive13 libconfig9 libevent-2.1-7 libjansson4 libext2fs2 libc6; do
    grep -q "\b$d\b" <<<"$deps" || fail "the .deb does not depend on $d: $deps"
done
rpm -qpR "$rpm" 2>/dev/null | grep -q '^libarchive' || fail "the .rpm does not require libarchive"

# lintian: nothing but what the package's overrides explain. Run as
# root it says so on stderr; that is not a finding.
lintian --tag-display-limit 0 --fail-on error,warning "$deb" >"$tmp/lintian.out" 2>"$tmp/lintian.err"
st=$?
grep -v '^running with root privileges' "$tmp/lintian.err" >&2
[ $st -eq 0 ] && [ ! -s "$tmp/lintian.out" ] || fail "lintian (status $st): $(cat "$tmp/lintian.out")"
lintian --tag-display-limit 0 --show-overrides "$deb" 2>/dev/null | grep '^O:' | sed 's/^/  overridden: /'

for f in "$deb" "$rpm" "$tgz"; do
    echo "  $(basename "$f"): $(stat -c %s "$f") bytes"
done
echo "ok: .deb (lintian clean but its explained overrides), .rpm and .tar.gz, $(echo $want | wc -w) files checked in each"
