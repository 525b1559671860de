#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The runner itself (tests/vmhost/run.sh), where this host puts it: the
# command's stdout and stderr come back apart and whole, its exit status
# (77 too) is the runner's, it runs in the same folder with the same
# environment, and /dev/kvm is usable there. In the nested host also: an
# outer machine that dies under the command (its kernel made to crash with
# sysrq) is started again once, the retry is reported, and the command's
# second run gives the verdict.
# usage: selftest.sh SOURCE_DIR BUILD_DIR
set -u
src=$1 build=$2
run=$src/tests/vmhost/run.sh
fail() { echo "FAIL: $*"; exit 1; }
work=$(mktemp -d "$build/tests/vmhost-selftest.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1

where=$("$run" --why "$build") || fail "--why exited $?"
[[ $where =~ ^(direct|nested):\ .+ ]] || fail "--why said '$where'"
echo "# runs: $where"

export SELFTEST_VALUE="a b  'c'"
"$run" "$build" bash -c 'printf "out\n"; printf "err\n" >&2; echo "$PWD|$SELFTEST_VALUE|$PLUGVM_VMHOST";
    "$1" check >/dev/null || exit 9; exit 7' x "$build/core/plugvm" >"$work/out" 2>"$work/err"
st=$?
[ $st -eq 7 ] || fail "status $st, expected 7 (9: plugvm check found no usable KVM there); stderr: $(cat "$work/err")"
[ "$(head -n 1 "$work/out")" = out ] || fail "stdout: $(cat "$work/out")"
grep -qx err "$work/err" || fail "stderr lacks the command's line: $(cat "$work/err")"
grep -q '^out$' "$work/err" && fail "stdout's line came back on stderr"
[ "$(sed -n 2p "$work/out")" = "$work|$SELFTEST_VALUE|${where%%:*}" ] ||
    fail "folder, environment or PLUGVM_VMHOST not as here: '$(sed -n 2p "$work/out")'"
echo "ok: stdout and stderr apart, status 7, same folder and environment, KVM usable there"

"$run" "$build" bash -c 'echo "SKIP: nothing"; exit 77' >/dev/null 2>&1
[ $? -eq 77 ] || fail "a skip (77) did not come back as 77"
echo "ok: 77 comes back"

if [ "${where%%:*}" = nested ]; then
    # First run: crash the outer kernel (never on this host: only where
    # PLUGVM_VMHOST says nested). Second: pass.
    "$run" "$build" bash -c '[ "$PLUGVM_VMHOST" = nested ] || exit 3
        if [ -e crashed ]; then echo second; exit 0; fi
        touch crashed; sync; echo c >/proc/sysrq-trigger; sleep 60' >"$work/out" 2>"$work/err"
    st=$?
    [ $st -eq 0 ] || fail "after a crashed outer machine: status $st; $(cat "$work/err")"
    grep -qx second "$work/out" || fail "the second run did not print: $(cat "$work/out")"
    grep -q "outer machine 1 failed: the outer kernel panicked" "$work/err" || fail "no report of the crash: $(cat "$work/err")"
    grep -q "the command ran in a second outer machine" "$work/err" || fail "no report of the retry: $(cat "$work/err")"
    echo "ok: a crashed outer machine is reported and started again once; the second run's status counts"
fi
echo PASS
