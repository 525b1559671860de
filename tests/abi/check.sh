#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# check.sh PROBE_SO RECORD_XML [--update]
# The plugin ABI against its record (docs/ABI.md): abidw (abigail-tools)
# describes what include/plugvm/ compiles to in PROBE_SO (tests/abi/
# abi_probe.c); abidiff compares it with RECORD_XML, the ABI as last
# released or agreed. Any difference fails, with abidiff's report: a
# change on purpose goes with the version bump docs/ABI.md asks for, and
# `check.sh PROBE_SO RECORD_XML --update` (scripts/abi-update.sh) to
# write the new record. Skips without abigail-tools.
set -u
probe=$1 record=$2
for t in abidw abidiff; do
    command -v $t >/dev/null || { echo "SKIP: $t is not installed (abigail-tools; scripts/deps.sh)"; exit 77; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
abidw --no-corpus-path --no-comp-dir-path --no-show-locs "$probe" >"$tmp/now.xml" ||
    { echo "FAIL: abidw $probe"; exit 1; }
if [ "${3:-}" = --update ]; then
    cp "$tmp/now.xml" "$record" && echo "wrote $record"
    exit
fi
[ -f "$record" ] || { echo "FAIL: no record $record (run scripts/abi-update.sh)"; exit 1; }
abidiff "$record" "$tmp/now.xml" >"$tmp/diff"
st=$?
if [ $st -ne 0 ]; then
    echo "FAIL: the plugin ABI differs from $record (abidiff status $st: $( (( st & 8 )) && echo incompatible || echo a change)):"
    cat "$tmp/diff"
    echo "If this is meant: bump PLUGVM_ABI_MINOR (members appended) or PLUGVM_ABI_MAJOR (anything else) as docs/ABI.md says, then scripts/abi-update.sh BUILD_DIR."
    exit 1
fi
n=$(grep -c '<function-decl name=.plugvm_abi_' "$record")
echo "ok: the plugin ABI matches $(basename "$record") ($n public types, every member, offset and signature)"
