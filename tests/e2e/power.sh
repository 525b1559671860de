#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# power.sh PLUGVM CFG LIMIT OUT_DIR
# The host's side of the e2e case `power` (tests/e2e/README.md), run by
# case.sh in place of its one plugvm run. The guest (guest/e2e/init, case
# power) prints E2E-POWER-READY and then does what the first console line
# says: `poweroff-f` (busybox poweroff -f: the kernel's power-off, ACPI
# S5 through the FADT's sleep control register), `poweroff` (busybox init
# takes over as PID 1 and powers off after its shutdown actions), `reboot-f`
# (reboot=k: the i8042 reset) or `halt-f` (the CPUs halt; nothing ends
# the VM but plugvm's --timeout).
#
# Each action is run on a booted VM and again on one restored from a
# snapshot taken at E2E-POWER-READY (the first boot's, taken before it
# powers off). Each must end as docs/CONFIG.md says:
#   poweroff-f, poweroff  status 0, plugvm -v says "VM stopped: the guest powered off"
#   reboot-f              status 0, "VM stopped: the guest reset"
#   halt-f                the console shows "reboot: System halted"; plugvm
#                         still runs 2 s later and ends at its --timeout
#                         (status 124, "VM stopped: --timeout")
# within 20 s of the action (halt: of its --timeout, HALT_LIMIT s for a boot,
# 10 s for a restore).
#
# Every run's console and stderr are in OUT_DIR/{console,stderr}.NAME; at the
# end OUT_DIR/console and OUT_DIR/stderr hold them all, for case.sh.
# Prints one line: each action's time from the line sent to plugvm's exit,
# or what went wrong. Exit status 0 when every action ended as it should.
set -u
[ $# -eq 4 ] || { echo "usage: $0 PLUGVM CFG LIMIT OUT_DIR" >&2; exit 2; }
plugvm=$1 cfg=$2 limit=$3 out=$4
. "$(dirname "$0")/lib.sh"
HALT_LIMIT=${HALT_LIMIT:-40}

snap=$out/snap sock=$out/api.sock
rm -rf "$snap" "$sock" "$out"/in.* "$out"/console* "$out"/stderr*
runs=
pids=
finish() {
    for p in $pids; do kill -9 "$p" 2>/dev/null; done
    : >"$out/console"; : >"$out/stderr"
    for r in $runs; do
        { echo "--- (power.sh) $r ---"; cat "$out/console.$r"; } >>"$out/console"
        sed "s/^/$r: /" "$out/stderr.$r" >>"$out/stderr"
    done
}
trap finish EXIT
fail() { echo "$*"; exit 1; }

# start NAME TIMEOUT run|restore: plugvm in the background, its stdin a
# FIFO held open on fd 3; sets $pid.
start() {
    name=$1
    runs="$runs $name"
    mkfifo "$out/in.$name" || fail "cannot make a FIFO in $out"
    : >"$out/console.$name"; : >"$out/stderr.$name"
    exec 3<>"$out/in.$name"
    if [ "$3" = run ]; then
        "$plugvm" run -v --api "$sock" --timeout "$2" "$cfg" \
            <"$out/in.$name" >"$out/console.$name" 2>"$out/stderr.$name" 3>&- &
    else
        "$plugvm" restore -v --timeout "$2" "$snap" \
            <"$out/in.$name" >"$out/console.$name" 2>"$out/stderr.$name" 3>&- &
    fi
    pid=$!
    pids=$pid
}

# act NAME ACTION: sends ACTION and checks that the VM ends as it should.
# Appends "NAME X ms" to $detail.
act() {
    name=$1 action=$2 c=$out/console.$1 e=$out/stderr.$1
    t0=$(uptime_cs)
    echo "$action" >&3
    case $action in
        halt-f)
            wait_line "$c" $pid 20 'reboot: System halted$' ||
                { why_not $? $pid 20; fail "$name: no 'reboot: System halted' line after halt -f: $why"; }
            sleep 2
            alive $pid || { wait $pid; fail "$name: the halted VM ended by itself (status $?)"; }
            wait_end $pid $((HALT_LIMIT + 10)) || fail "$name: the halted VM outlived its --timeout"
            want_status=124 want_stop="--timeout" ;;
        *)
            wait_end $pid 20 || fail "$name: the VM did not end within 20 s of '$action'"
            want_status=0 want_stop="the guest powered off"
            [ "$action" = reboot-f ] && want_stop="the guest reset" ;;
    esac
    wait $pid
    st=$?
    t1=$(uptime_cs)
    exec 3>&-
    pids=
    [ $st -eq $want_status ] || fail "$name: '$action' ended plugvm with status $st, not $want_status"
    grep -q "VM stopped: $want_stop\$" "$e" ||
        fail "$name: '$action': plugvm did not say 'VM stopped: $want_stop' ($(grep 'VM stopped' "$e"))"
    if [ "$action" = poweroff ]; then
        con "$c" | grep -q '^E2E-POWER busybox init shutdown actions$' ||
            fail "$name: busybox init did not run its shutdown actions before the power-off"
    fi
    detail="$detail $name $(((t1 - t0) * 10)) ms;"
}

# boot NAME ACTION [SNAPSHOT]: a fresh boot; with SNAPSHOT, a snapshot is
# written at E2E-POWER-READY, before the action.
boot() {
    lim=$limit
    [ "$2" = halt-f ] && lim=$HALT_LIMIT
    start "$1" "$lim" run
    wait_line "$out/console.$1" $pid "$lim" '^E2E-POWER-READY' ||
        { why_not $? $pid "$lim"; fail "$1: no E2E-POWER-READY line: $why"; }
    if [ $# -eq 3 ]; then
        msg=$(timeout 20 "$plugvm" snapshot --api "$sock" --to "$snap" 2>&1) ||
            fail "$1: plugvm snapshot failed (status $?): $msg"
    fi
    act "$1" "$2"
}

restored() {
    lim=$limit
    [ "$2" = halt-f ] && lim=10
    start "$1" "$lim" restore
    act "$1" "$2"
}

detail=
boot boot-poweroff-f poweroff-f snapshot
boot boot-poweroff poweroff
boot boot-reboot-f reboot-f
boot boot-halt-f halt-f
for a in poweroff-f poweroff reboot-f halt-f; do
    restored "restore-$a" "$a"
done
echo "ended as documented:${detail%;}"
