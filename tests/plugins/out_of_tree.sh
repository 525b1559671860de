#!/bin/bash
# The ABI's proof: examples/plugins/rng is built as a separate CMake project
# against plugvm's *installed* headers (cmake --install into a temporary
# DESTDIR, then find_package(plugvm); and once more with pkg-config), loaded
# by path from a config, and read from inside the test guest.
# usage: out_of_tree.sh PLUGVM SOURCE_DIR BUILD_DIR
set -u
plugvm=$1 src=$2 build=$3
fail() { echo "FAIL: $*"; exit 1; }
. "$src/tests/install/staged.sh"
staged_install out_of_tree
[ -f "$prefix/include/plugvm/device.h" ] || fail "headers not installed"
cmake -S "$src/examples/plugins/rng" -B "$tmp/rng" -DCMAKE_PREFIX_PATH="$prefix" \
    >"$tmp/cfg.log" 2>&1 || fail "configuring rng: $(tail -5 "$tmp/cfg.log")"
cmake --build "$tmp/rng" >"$tmp/build.log" 2>&1 || fail "building rng: $(tail -20 "$tmp/build.log")"
so=$tmp/rng/plugvm-rng.so
[ -f "$so" ] || fail "no $so"
# It must not have been built against the source tree's headers.
grep -q -- "-I$src/include" "$tmp/rng/CMakeFiles/rng.dir/flags.make" && fail "built against the source tree"

# The same source builds with nothing but pkg-config's flags.
PKG_CONFIG_PATH=$prefix/$libdir/pkgconfig cc -shared -fPIC -fvisibility=hidden -D_GNU_SOURCE -DRNG_VERSION='"1"' \
    -Wall -Wextra -Werror $(PKG_CONFIG_PATH=$prefix/$libdir/pkgconfig pkg-config --cflags plugvm) \
    -o "$tmp/plugvm-rng-pc.so" "$src/examples/plugins/rng/rng.c" -lpthread ||
    fail "pkg-config build"

PLUGVM_PLUGIN_PATH=$tmp/rng "$plugvm" plugins | grep -Eq "^rng +device +1\.0\.0 +$so$" ||
    fail "plugvm plugins does not list $so"

# The builds above ran here; only the VM goes where a usable KVM is
# (tests/vmhost/run.sh: the nested VM host when this host has none), so
# this test is not in the `vm` batch and its compiles never run under TCG.
guest=$build/images/testguest.elf
[ -f "$guest" ] || fail "$guest missing"
cat >"$tmp/rng.cfg" <<CFG
vm = { memory_mib = 64; kernel = "$guest"; cmdline = "test=rng"; };
devices = ( { plugin = "$so"; } );
CFG
"$src/tests/vmhost/run.sh" --need kvm "$build" \
    timeout 60 "$plugvm" run "$tmp/rng.cfg" >"$tmp/out" 2>"$tmp/err" </dev/null
status=$?
[ $status -eq 77 ] && { cat "$tmp/out"; exit 77; }
tr -d '\r' <"$tmp/out" >"$tmp/tap"
cat "$tmp/tap"
[ $status -eq 0 ] || fail "plugvm exit status $status: $(cat "$tmp/err")"
plan=$(grep -Eo '^1\.\.[0-9]+' "$tmp/tap" | head -1 | cut -d. -f3)
[ -n "$plan" ] && [ "$plan" -gt 0 ] || fail "no TAP plan"
oks=$(grep -Ec '^ok [0-9]+' "$tmp/tap")
grep -q '^not ok' "$tmp/tap" && fail "a test failed"
[ "$oks" -eq "$plan" ] || fail "$oks of $plan tests passed"
echo "ok: out-of-tree rng plugin, $oks in-VM checks"
