#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# ctest-batch.sh BUILD_DIR [CTEST_SELECTION...]
# Runs the ctest tests CTEST_SELECTION picks (-L, -LE, -R, -E as ctest
# takes them) through one call of run.sh, so that where this host has no
# usable KVM they all share one nested VM host and its boot is paid once.
# Each test runs as its own `ctest -R ^NAME$` inside, and its verdict is
# written to a state folder on this host as it comes; when the outer
# machine fails (run.sh starts it again once), the next call carries on
# with the tests that have no verdict yet. A test that was running when
# outer machines failed twice is reported failed, with why; a test that ran
# and failed is never rerun. Ends with one line per test that did not pass
# and a count; exit status 0 when none failed, 1 otherwise.
#
# Where a usable KVM is here, run.sh runs the batch directly and each
# test's own run.sh call decides for it (Linux guests nested on KVM over
# PVM, as before).
set -u
here=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR [CTEST_SELECTION...]" >&2; exit 2; }
build=$(cd "$1" && pwd) || exit 2
shift
t0=$SECONDS

# In /var/tmp: the nested host's /tmp is its own.
state=$(mktemp -d /var/tmp/vmhost-batch.XXXXXX)
trap 'rm -rf "$state"' EXIT
# "NUMBER NAME" per selected test.
ctest --test-dir "$build" -N "$@" | sed -nE 's/^ *Test +#([0-9]+): (.*)$/\1 \2/p' >"$state/tests"
total=$(wc -l <"$state/tests")
[ "$total" -gt 0 ] || { echo "ctest-batch: no tests match: $*"; exit 0; }
: >"$state/verdicts"

verdicts() { wc -l <"$state/verdicts"; }
while [ "$(verdicts)" -lt "$total" ]; do
    before=$(verdicts)
    "$here/run.sh" --need kvm "$build" "$here/ctest-each.sh" "$build" "$state"
    st=$?
    [ "$(verdicts)" -lt "$total" ] || break
    if [ $st -ne 125 ]; then
        echo "ctest-batch: the batch ended (status $st) with $(( total - $(verdicts) )) tests not run"
        break
    fi
    if [ "$(verdicts)" -eq "$before" ]; then
        # Two outer machines failed on the same test: it gets no third.
        read -r num name < <(awk 'NR == FNR { done[$1] = 1; next } !($1 in done)' \
                                 "$state/verdicts" "$state/tests" | head -n 1)
        echo "$num failed $name: the nested host's outer machine failed twice while it ran" >>"$state/verdicts"
    fi
done

echo "== ctest-batch: $total tests in $((SECONDS - t0)) s"
awk 'NR == FNR { v[$1] = $0; next }
     !($1 in v) { printf "  not run: %s\n", $2; bad++; next }
     { split(v[$1], f, " "); if (f[2] != "passed") { sub(/^[0-9]+ /, "", v[$1]); printf "  %s\n", v[$1] } }
     END { exit bad > 0 }' "$state/verdicts" "$state/tests"
notrun=$?
passed=$(grep -c '^[0-9]* passed ' "$state/verdicts")
skipped=$(grep -c '^[0-9]* skipped ' "$state/verdicts")
failed=$(grep -c '^[0-9]* failed ' "$state/verdicts")
echo "== ctest-batch: $passed passed, $failed failed, $skipped skipped, of $total"
[ "$failed" -eq 0 ] && [ $notrun -eq 0 ]
