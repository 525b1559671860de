#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Runs the test guest under plugvm and judges its TAP (COM1 is plugvm's
# stdout). Passes when the output holds one plan 1..N (N > 0), N `ok`
# lines, no `not ok` and no `Bail out!`, and plugvm ended with status 0
# (the guest resets when done). Prints the guest's output either way, and
# plugvm's stderr when it fails.
#
# usage: run-tap.sh PLUGVM CONFIG [TIMEOUT_SECONDS]
# exit: 0 pass, 1 fail, 77 skip (no usable /dev/kvm, or the guest's plan
# says `1..0 # SKIP`), as ctest's SKIP_RETURN_CODE expects.
set -u
if [ $# -lt 2 ]; then
    echo "usage: $0 PLUGVM CONFIG [TIMEOUT_SECONDS]" >&2
    exit 2
fi
plugvm=$1 config=$2 limit=${3:-60}

if [ ! -c /dev/kvm ] || [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
    echo "SKIP: /dev/kvm is absent or not readable and writable: the test guest needs KVM"
    exit 77
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# plugvm's --timeout stops the VM with status 124; the outer timeout is for
# a plugvm that does not stop at all.
status=0
timeout --kill-after=5 $((limit + 10)) "$plugvm" run --timeout "$limit" "$config" \
    </dev/null >"$tmp/out" 2>"$tmp/err" || status=$?

cat "$tmp/out"

fail() {
    echo "FAIL: $*"
    if [ -s "$tmp/err" ]; then
        echo "plugvm's stderr:"
        sed 's/^/  /' "$tmp/err"
    fi
    exit 1
}

# A guest that declares it has nothing to run: skip, with its reason.
skip=$(grep -m1 -E '^1\.\.0[[:space:]]*#[[:space:]]*SKIP' "$tmp/out")
if [ -n "$skip" ] && [ "$status" -eq 0 ]; then
    echo "SKIP: the guest says: ${skip#*SKIP}"
    exit 77
fi

plans=$(grep -c -E '^1\.\.[0-9]+' "$tmp/out")
planned=$(grep -m1 -E '^1\.\.[0-9]+' "$tmp/out" | sed -E 's/^1\.\.([0-9]+).*/\1/')
oks=$(grep -c -E '^ok [0-9]+' "$tmp/out")
not_oks=$(grep -c -E '^not ok [0-9]+' "$tmp/out")

case $status in
    0) ;;
    124) fail "plugvm stopped the VM after the ${limit} s timeout" ;;
    *) fail "plugvm exited with status $status" ;;
esac
grep -q -E '^Bail out!' "$tmp/out" && fail "the guest bailed out"
[ "$plans" -eq 1 ] || fail "expected one TAP plan (1..N), found $plans"
[ "$planned" -gt 0 ] || fail "the plan is 1..0"
[ "$not_oks" -eq 0 ] || fail "$not_oks of $planned checks not ok"
[ "$oks" -eq "$planned" ] || fail "planned $planned checks, $oks ok"
echo "PASS: $oks of $planned ok"
