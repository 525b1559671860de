#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# check.sh plugin|libplugvm SO RECORD_XML [--update]
# An ABI against its record (docs/ABI.md): abidw (abigail-tools)
# describes it, abidiff compares that with RECORD_XML, the ABI as last
# released or agreed. Any difference fails, with abidiff's report: a
# change on purpose goes with the version bump docs/ABI.md asks for, and
# --update (scripts/abi-update.sh) writes the new record. Skips without
# abigail-tools.
#   plugin:    SO is tests/abi/abi_probe.c's probe: every type of the
#              plugin headers, reachable from one function each.
#   libplugvm: SO is libplugvm.so: its exported functions (plugvm/vm.h)
#              and the types they reach, nothing internal.
set -u
kind=$1 so=$2 record=$3
for t in abidw abidiff; do
    command -v $t >/dev/null || { echo "SKIP: $t is not installed (abigail-tools; scripts/deps.sh)"; exit 77; }
done
here=$(cd "$(dirname "$0")" && pwd)
case $kind in
plugin) what="the plugin ABI" opts=() ;;
libplugvm) what="libplugvm's ABI"
    opts=(--exported-interfaces-only --headers-dir "$here/../../include/plugvm" --drop-private-types) ;;
*) echo "usage: $0 plugin|libplugvm SO RECORD_XML [--update]"; exit 2 ;;
esac
readelf -S "$so" | grep -q '\.debug_info' ||
    { echo "SKIP: $so has no debug info for abidw (a build type without -g)"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
abidw --no-corpus-path --no-comp-dir-path --no-show-locs "${opts[@]}" "$so" >"$tmp/now.xml" ||
    { echo "FAIL: abidw $so"; exit 1; }
if [ "${4:-}" = --update ]; then
    cp "$tmp/now.xml" "$record" && echo "wrote $record"
    exit
fi
[ -f "$record" ] || { echo "FAIL: no record $record (run scripts/abi-update.sh)"; exit 1; }
abidiff "$record" "$tmp/now.xml" >"$tmp/diff"
st=$?
if [ $st -ne 0 ]; then
    echo "FAIL: $what differs from $record (abidiff status $st: $( (( st & 8 )) && echo incompatible || echo a change)):"
    cat "$tmp/diff"
    echo "If this is meant: bump the version docs/ABI.md says (PLUGVM_ABI_MINOR or _MAJOR for" \
        "the plugin ABI, a new symbol version or PLUGVM_SOVERSION for libplugvm), then scripts/abi-update.sh BUILD_DIR."
    exit 1
fi
if [ "$kind" = plugin ]; then
    n=$(grep -c '<function-decl name=.plugvm_abi_' "$record")
    echo "ok: $what matches $(basename "$record") ($n public types, every member, offset and signature)"
else
    n=$(grep -c '<elf-symbol name=.plugvm_' "$record")
    echo "ok: $what matches $(basename "$record") ($n exported functions, their signatures and every type they reach)"
fi
