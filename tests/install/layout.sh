#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# layout.sh BUILD_DIR: the installed tree (issue 18, docs/ARCHITECTURE.md),
# checked against a DESTDIR install with another prefix than the build's:
# every file where GNUInstallDirs puts it, plugvm finding its plugins from
# its own location with no environment variable (`plugvm plugins` lists
# every one, none refused), the man pages rendering with no warning from
# groff (a formatter no one here wrote), and pkg-config's plugindir
# pointing at the plugins.
set -u
build=$(cd "$1" && pwd) || exit 2
fail() { echo "FAIL: $*"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
DESTDIR=$tmp cmake --install "$build" --prefix /opt/plugvm >"$tmp/install.log" 2>&1 ||
    fail "cmake --install: $(tail -5 "$tmp/install.log")"
root=$tmp/opt/plugvm
libdir=$(sed -n 's/^CMAKE_INSTALL_LIBDIR:[A-Z]*=//p' "$build/CMakeCache.txt")
plugins="kvm blk fs vsock balloon"
want="bin/plugvm libexec/plugvm/plugvm-image libexec/plugvm/plugvm-init
      include/plugvm/plugin.h include/plugvm/device.h include/plugvm/host.h include/plugvm/backend.h
      $libdir/pkgconfig/plugvm.pc $libdir/cmake/plugvm/plugvmConfig.cmake $libdir/libplugvm.so.0 include/plugvm/vm.h
      share/doc/plugvm/README.md share/doc/plugvm/CONFIG.md share/doc/plugvm/PLUGINS.md
      share/doc/plugvm/API.md share/doc/plugvm/examples/hello.cfg share/plugvm/images/hello.elf
      share/man/man1/plugvm.1.gz share/man/man5/plugvm.cfg.5.gz share/man/man7/plugvm-plugin.7.gz
      share/doc/plugvm/copyright share/doc/plugvm/changelog.gz"
for p in $plugins; do want="$want $libdir/plugvm/plugins/plugvm-$p.so"; done
for f in $want; do
    [ -e "$root/$f" ] || fail "$f is not installed (under $root)"
done

# Found from the installed tree itself: no PLUGVM_PLUGIN_PATH, and a
# prefix (/opt/plugvm, under a DESTDIR) that is not the one plugvm was
# built for.
out=$(cd / && env -u PLUGVM_PLUGIN_PATH -u PLUGVM_IMAGE_PATH "$root/bin/plugvm" plugins 2>&1) ||
    fail "installed plugvm plugins: status $?: $out"
for p in $plugins; do
    grep -Eq "^$p +(backend|device) +[^ ]+ +$root/$libdir/plugvm/plugins/plugvm-$p.so$" <<<"$out" ||
        fail "installed plugvm plugins does not list $root/$libdir/plugvm/plugins/plugvm-$p.so: $out"
done
grep -q refused <<<"$out" && fail "installed plugvm plugins refused a plugin: $out"
"$root/bin/plugvm" --version | grep -q "^plugvm .* (plugin ABI 1\.[0-9]*)$" || fail "installed plugvm --version"
# Its images too: a config naming hello.elf without a folder finds the
# installed one (plugvm acpi reads the config and its files, no VM).
out=$(cd "$tmp" && env -u PLUGVM_IMAGE_PATH "$root/bin/plugvm" acpi "$root/share/doc/plugvm/examples/hello.cfg" "$tmp/acpi" 2>&1) ||
    fail "installed plugvm acpi of the installed hello.cfg: $out"

for m in man1/plugvm.1.gz man5/plugvm.cfg.5.gz man7/plugvm-plugin.7.gz; do
    warn=$(zcat "$root/share/man/$m" | LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -z 2>&1)
    [ -z "$warn" ] || fail "groff warns about $m: $warn"
    lines=$(zcat "$root/share/man/$m" | LC_ALL=C.UTF-8 groff -man -Tutf8 2>/dev/null | grep -c .)
    [ "$lines" -gt 40 ] || fail "$m renders to $lines lines"
done
pd=$(PKG_CONFIG_PATH=$root/$libdir/pkgconfig pkg-config --variable=plugindir plugvm)
[ "$(cd "$pd" 2>/dev/null && pwd)" = "$root/$libdir/plugvm/plugins" ] ||
    fail "pkg-config's plugindir is $pd, not $root/$libdir/plugvm/plugins"
echo "ok: $(echo $want | wc -w) files installed under a DESTDIR with prefix /opt/plugvm;" \
    "plugvm finds its $(echo $plugins | wc -w) plugins and hello.elf there; 3 man pages clean under groff -ww"
