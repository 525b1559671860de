#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# snapshot.sh PLUGVM CFG LIMIT OUT_DIR
# The host's side of the e2e case `snapshot` (tests/e2e/README.md), run by
# case.sh in place of its one plugvm run (PLUGVM_IMAGE_PATH and
# PLUGVM_PLUGIN_PATH come from there). The guest (guest/e2e/init, case
# snapshot) is an echo server on its console that answers with a token it
# picked at boot and a line count.
#
#   1. plugvm run --api OUT_DIR/api.sock CFG, its stdin a FIFO this script
#      holds open (plugvm never sees EOF); wait for E2E-SNAPSHOT-READY.
#   2. One line, answered: the console works before the snapshot.
#   3. plugvm snapshot --to OUT_DIR/snap (pause, write, resume), then the
#      VM is killed (SIGKILL).
#   4. plugvm restore -v OUT_DIR/snap, stdin another FIFO: two lines, each
#      answered with the same token and the next counts (2 and 3), the
#      first sent at once, the second after the first answer; the restored
#      console must not show the guest booting again; the VM generation
#      ID (gen) differs from the one before and the GED took one more
#      interrupt (with E2E_VMGENID_DRIVER=1, as vmgenid.sh sets it, the
#      kernel also logged its crng reseed for a VM fork). Then "quit": the
#      guest passes through the exit port, and the restore exits 0. With
#      E2E_TIER=nested, init's fallback (the i8042 reset, also status 0)
#      is accepted when exit-port died of SIGSEGV: the nested tier's
#      known failure (README); the result line says which way it ended.
#
# The two VMs' consoles and stderr are in OUT_DIR/{console,stderr}.{run,restore};
# at the end OUT_DIR/console and OUT_DIR/stderr hold both, one after the
# other, for case.sh (which finds the guest's E2E-RESULT line there).
# Prints one line: the snapshot's and the restore's times and what the
# guest answered, or what went wrong. Exit status 0 when every step
# worked and the restored VM exited 0, else 1.
#
# Every wait after the boot is bounded: 10 s for an answer, 20 s for the
# snapshot, 20 s for the end after "quit" (20 s more to tell a late end
# from none before failing): 70 s at most, 90 s on that failure, well
# within run-case.sh's allowance for a silent outer VM (the case's limit
# plus 60 s, while the boot takes a few seconds).
#
# POSIX sh and busybox applets: in the nested tier this runs under busybox
# sh inside the outer VM.
set -u
[ $# -eq 4 ] || { echo "usage: $0 PLUGVM CFG LIMIT OUT_DIR" >&2; exit 2; }
plugvm=$1 cfg=$2 limit=$3 out=$4

sock=$out/api.sock snap=$out/snap
rm -rf "$snap" "$out/in.run" "$out/in.restore" "$sock"
rm -f "$out"/console* "$out"/stderr*
mkfifo "$out/in.run" "$out/in.restore" || { echo "cannot make FIFOs in $out"; exit 1; }
: >"$out/console.run"; : >"$out/stderr.run"

. "$(dirname "$0")/lib.sh"
pids=
finish() {
    for p in $pids; do kill -9 "$p" 2>/dev/null; done
    { cat "$out/console.run"; [ -f "$out/console.restore" ] &&
        { echo "--- (snapshot.sh) the restored VM's console from here ---"; cat "$out/console.restore"; }; } >"$out/console"
    { sed 's/^/run: /' "$out/stderr.run"; [ -f "$out/stderr.restore" ] &&
        sed 's/^/restore: /' "$out/stderr.restore"; } >"$out/stderr"
}
trap finish EXIT
fail() { echo "$*"; exit 1; }

# The answer the guest gives to line N, TEXT:
# "E2E-SNAPSHOT-ECHO TOKEN N TEXT up UPTIME gen ID ged COUNT fork COUNT".
answer() { echo "^E2E-SNAPSHOT-ECHO $token $1 $2 up [0-9.]* gen [0-9a-z]* ged [0-9a-z]* fork [0-9]*\( fs .*\)\?\$"; }
field() { # FILE N NAME: the word after NAME in the answer to line N
    con "$1" | grep "^E2E-SNAPSHOT-ECHO $token $2 .* up [0-9.]* gen " | head -n 1 |
        awk -v k="$3" '{ for (i = 6; i < NF; i++) if ($i == k) { print $(i + 1); exit } }'
}
guest_up() { field "$1" "$2" up; } # FILE N: the guest's uptime in its answer to line N

# --- 1. boot, with the control socket ---
exec 3<>"$out/in.run"
"$plugvm" run -v --api "$sock" --timeout "$limit" "$cfg" <"$out/in.run" >"$out/console.run" 2>"$out/stderr.run" 3>&- &
run=$!
pids=$run
wait_line "$out/console.run" $run "$limit" '^E2E-SNAPSHOT-READY [0-9a-f]\{16\} ' ||
    { why_not $? $run "$limit"; fail "no E2E-SNAPSHOT-READY line: $why"; }
token=$(con "$out/console.run" | sed -n 's/^E2E-SNAPSHOT-READY \([0-9a-f]*\) .*/\1/p' | head -n 1)

# --- 2. the console before the snapshot ---
echo before >&3
wait_line "$out/console.run" $run 10 "$(answer 1 before)" ||
    { why_not $? $run 10; fail "the booted guest did not answer a console line: $why"; }
up1=$(guest_up "$out/console.run" 1)

# --- 3. snapshot, then kill ---
t0=$(uptime_cs)
msg=$(timeout 20 "$plugvm" snapshot --api "$sock" --to "$snap" 2>&1) ||
    fail "plugvm snapshot failed (status $?): $msg"
t1=$(uptime_cs)
for f in memory state vm.cfg; do
    [ -s "$snap/$f" ] || fail "the snapshot has no $f: $(ls -l "$snap" 2>&1 | tr '\n' ' ')"
done
written=$(sed -n 's/.*snapshot written to .* in \([0-9.]*\) ms.*/\1/p' "$out/stderr.run" | tail -n 1)
mem_mib=$(($(stat -c %s "$snap/memory") / 1048576))
mem_alloc=$(($(stat -c %b "$snap/memory") * $(stat -c %B "$snap/memory") / 1048576))
# The VM resumed after the snapshot; it still runs until killed.
alive $run || { wait $run; fail "the VM ended after the snapshot (plugvm status $?)"; }
kill -9 $run
wait $run 2>/dev/null
exec 3>&-
pids=

# --- 4. restore and talk to it ---
: >"$out/console.restore"; : >"$out/stderr.restore"
exec 4<>"$out/in.restore"
"$plugvm" restore -v --timeout "$limit" "$snap" <"$out/in.restore" >"$out/console.restore" 2>"$out/stderr.restore" 4>&- &
rst=$!
pids=$rst
# At once: this line may reach COM1 before the restored vCPU first runs.
echo after-1 >&4
wait_line "$out/console.restore" $rst 10 "$(answer 2 after-1)" || {
    why_not $? $rst 10
    got=$(con "$out/console.restore" | grep '^E2E-SNAPSHOT' | head -n 3 | tr '\n' ' ')
    fail "the restored guest did not answer its first line (wanted token $token, count 2): $why${got:+; it printed: $got}"
}
echo after-2 >&4
wait_line "$out/console.restore" $rst 10 "$(answer 3 after-2)" ||
    { why_not $? $rst 10; fail "the restored guest answered one line but not a second: $why"; }
up2=$(guest_up "$out/console.restore" 2)
up3=$(guest_up "$out/console.restore" 3)
# The VM generation ID (core/devices/vmgenid.h): a new one in the restored
# guest's memory before its vCPU ran, and one GED interrupt more by its
# second answer (the Notify runs from a workqueue, so not the first).
gen1=$(field "$out/console.run" 1 gen) gen2=$(field "$out/console.restore" 2 gen)
ged1=$(field "$out/console.run" 1 ged) ged3=$(field "$out/console.restore" 3 ged)
fork1=$(field "$out/console.run" 1 fork) fork3=$(field "$out/console.restore" 3 fork)
case $gen1$gen2 in *[!0-9a-f]*|"") fail "the guest could not read the VM generation ID at 0xef000 (before: '$gen1', after: '$gen2')" ;; esac
[ ${#gen1} -eq 32 ] && [ "$gen1" != "$gen2" ] ||
    fail "the VM generation ID did not change on restore ($gen1 before, $gen2 after)"
[ "$ged1" != none ] && [ "$ged3" = $((ged1 + 1)) ] ||
    fail "the GED's interrupt (ACPI:Ged in /proc/interrupts) went from $ged1 to $ged3 on restore, not up by one"
# fs_snapshot.sh: the share's open file and current directory go on
# through the restore: each answer read the next line of lines.txt on the
# descriptor opened before the snapshot, and listed the directory it was in.
if [ "${E2E_FS_SNAPSHOT:-0}" = 1 ]; then
    for a in run:1 restore:2 restore:3; do
        f=$(con "$out/console.${a%:*}" | grep "^E2E-SNAPSHOT-ECHO $token ${a#*:} " | head -n 1 | sed -n 's/.* fs //p')
        [ "$f" = "line-${a#*:} a.txt," ] ||
            fail "answer ${a#*:} (${a%:*}): the share's open file and directory gave '$f', not 'line-${a#*:} a.txt,'"
    done
fi
if [ "${E2E_VMGENID_DRIVER:-0}" = 1 ]; then
    [ "$fork1" = 0 ] && [ "$fork3" -ge 1 ] ||
        fail "the kernel's vmgenid driver did not reseed on restore: 'virtual machine fork' logged $fork1 times before, $fork3 after"
fi
con "$out/console.restore" | grep -q -e '^E2E-SNAPSHOT-READY' -e '^e2e: case' &&
    fail "the restored console shows the guest starting again"
vcpus=$(sed -n 's/.*vCPUs running \([0-9.]*\) ms after plugvm started.*/\1/p' "$out/stderr.restore" | head -n 1)
[ -n "$vcpus" ] || fail "restore -v printed no 'vCPUs running' line"

echo quit >&4
tq=$(uptime_cs)
end=$(($(secs) + 20))
while alive $rst && [ "$(secs)" -lt $end ]; do sleep 0.05; done
if alive $rst; then
    # Late or stuck? 20 s more to tell, then fail either way.
    end=$(($(secs) + 20))
    while alive $rst && [ "$(secs)" -lt $end ]; do sleep 0.1; done
    alive $rst && fail "the restored VM did not end within 40 s of 'quit'"
    wait $rst
    st=$?
    fail "the restored VM did not end within 20 s of 'quit' (it did $((($(uptime_cs) - tq) * 10)) ms after, status $st)"
fi
wait $rst
st=$?
tend=$(uptime_cs)
exec 4>&-
pids=
detail="snapshot ${written:-?} ms written by plugvm ($(((t1 - t0) * 10)) ms the client's round trip; memory $mem_alloc of $mem_mib MiB allocated), restore: vCPUs running $vcpus ms after plugvm started; VM generation ID ${gen1%????????????????????????}... then ${gen2%????????????????????????}..., GED interrupts $ged1 then $ged3, crng reseeds for a VM fork $fork1 then $fork3; guest up $up1 s at the last answer before, $up2 s and $up3 s at the 2 after (token $token)"
[ $st -eq 0 ] || fail "the restored VM ended with status $st after 'quit'; $detail"
# How it ended: the exit port, or init's fallback, the i8042 reset (also
# status 0). In the nested tier exit-port's outb faults in a restored
# guest (README, Known failures: QEMU's TCG refuses user-mode port I/O
# once TR's type reads busy, as KVM on SVM saves and restores it).
xp=$(con "$out/console.restore" | sed -n 's/^e2e: exit port write did not end the VM (exit-port status \([0-9]*\)).*/\1/p' | head -n 1)
if [ -z "$xp" ]; then
    detail="$detail; ended through the exit port $(((tend - tq) * 10)) ms after 'quit'"
elif [ "$xp" = 139 ] && [ "${E2E_TIER:-}" = nested ]; then
    detail="$detail; ended by init's reset $(((tend - tq) * 10)) ms after 'quit': exit-port died of SIGSEGV (nested tier's known failure, README)"
else
    fail "the exit port did not end the restored VM (exit-port status $xp; tier ${E2E_TIER:-unknown}), init reset it; $detail"
fi
echo "$detail"
