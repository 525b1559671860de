#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The C API's proof (issue 18, item 5): examples/embed is built as a
# separate CMake project against plugvm's *installed* tree (cmake
# --install into a DESTDIR, find_package(plugvm)), and once more
# with nothing but pkg-config's flags; both binaries must take libplugvm
# from that prefix, which exports the plugvm_* functions and nothing else;
# then one boots the installed hello guest, finding libplugvm's plugins and
# images from the library's own place (no PLUGVM_* variable).
# usage: out_of_tree.sh SOURCE_DIR BUILD_DIR
set -u
src=$1 build=$2
fail() { echo "FAIL: $*"; exit 1; }
. "$src/tests/install/staged.sh"
staged_install embed
lib=$prefix/$libdir/libplugvm.so.0
[ -f "$lib" ] || fail "$lib not installed"
[ -f "$prefix/include/plugvm/vm.h" ] || fail "plugvm/vm.h not installed"

# Exported: the API's functions, all of them plugvm_*, one version node.
nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVW]$/ {print $3}' | sort >"$tmp/exported"
bad=$(grep -Ev '^plugvm_[a-z_]+@@PLUGVM_0$' "$tmp/exported")
[ -z "$bad" ] || fail "libplugvm exports more than its API: $bad"
n=$(wc -l <"$tmp/exported")
declared=$(grep '^PLUGVM_API ' "$src/include/plugvm/vm.h" | grep -Eo 'plugvm_[a-z_]+\(' | tr -d '(' | sort)
for f in $declared; do
    grep -q "^$f@@" "$tmp/exported" || fail "plugvm/vm.h declares $f, libplugvm does not export it"
done
[ "$n" -eq "$(wc -w <<<"$declared")" ] || fail "$n exported, $(wc -w <<<"$declared") declared"
readelf -d "$lib" | grep -q 'Library soname: \[libplugvm.so.0\]' || fail "no SONAME libplugvm.so.0"

cmake -S "$src/examples/embed" -B "$tmp/cm" -DCMAKE_PREFIX_PATH="$prefix" >"$tmp/cfg.log" 2>&1 ||
    fail "configuring examples/embed: $(tail -5 "$tmp/cfg.log")"
cmake --build "$tmp/cm" >"$tmp/build.log" 2>&1 || fail "building examples/embed: $(tail -20 "$tmp/build.log")"
grep -q -- "-I$src/include" "$tmp/cm/CMakeFiles/embed-hello.dir/flags.make" && fail "built against the source tree"
pc="$prefix/$libdir/pkgconfig"
cc -Wall -Wextra -Werror -o "$tmp/embed-hello-pc" "$src/examples/embed/hello.c" \
    $(PKG_CONFIG_PATH=$pc pkg-config --cflags --libs plugvm) -Wl,-rpath,"$prefix/$libdir" ||
    fail "pkg-config build"
for b in "$tmp/cm/embed-hello" "$tmp/embed-hello-pc"; do
    got=$(ldd "$b" | awk '$1 == "libplugvm.so.0" {print $3}')
    [ "$(readlink -f "$got")" = "$(readlink -f "$lib")" ] || fail "$b takes libplugvm from '$got', not $lib"
done

# Only the VM goes where a usable KVM is (tests/vmhost/run.sh), as in
# plugin.out_of_tree. The kernel is named without a folder: libplugvm finds
# the installed hello.elf from its own place.
(cd "$tmp" && env -u PLUGVM_PLUGIN_PATH -u PLUGVM_IMAGE_PATH \
    "$src/tests/vmhost/run.sh" --need kvm "$build" timeout 60 "$tmp/cm/embed-hello") \
    >"$tmp/out" 2>"$tmp/err" </dev/null
status=$?
[ $status -eq 77 ] && { cat "$tmp/out"; exit 77; }
cat "$tmp/out"
[ $status -eq 0 ] || fail "embed-hello exit status $status: $(cat "$tmp/err")"
grep -q "^libplugvm 0\.[0-9]*\.[0-9]*" "$tmp/out" || fail "no version line"
grep -q "hello from the plugvm hello guest" "$tmp/out" || fail "the guest's line is missing"
grep -q "^the VM ended: status 0, reason 1$" "$tmp/out" || fail "not ended by the guest's reset"
echo "ok: examples/embed built with find_package and pkg-config against an installed tree;" \
    "libplugvm exports $n functions, all declared in plugvm/vm.h; the hello guest ran through it"
