#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# ctest-each.sh BUILD_DIR STATE_DIR
# ctest-batch.sh's command, run where run.sh put it: every test listed in
# STATE_DIR/tests ("NUMBER NAME") that has no line in STATE_DIR/verdicts
# yet runs alone (ctest -R ^NAME$) and gets one: "NUMBER passed|failed|skipped
# NAME[: why]", appended as soon as it is known.
set -u
build=$1 state=$2
while read -r num name; do
    grep -q "^$num " "$state/verdicts" && continue
    out=$(mktemp)
    # By exact name: ctest's numbers change with the selection (-E).
    ctest --test-dir "$build" -R "^${name//./\\.}\$" --output-on-failure </dev/null 2>&1 | tee "$out"
    line=$(grep -E "Test +#[0-9]+: $name " "$out" | tail -n 1)
    case $line in
        *"Not Run"*|*Skipped*)
            # ctest shows no output for a skip: its log has the reason.
            why=$(grep -m1 -oE 'SKIP:? .*' "$build/Testing/Temporary/LastTest.log" 2>/dev/null)
            echo "$num skipped $name: ${why:-no reason given}" ;;
        *Passed*) echo "$num passed $name" ;;
        *) echo "$num failed $name: ctest: $(tr -s ' .' ' ' <<<"${line#*"$name"}")" ;;
    esac >>"$state/verdicts"
    rm -f "$out"
done <"$state/tests"
