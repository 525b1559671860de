#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# balloon.sh PLUGVM CFG LIMIT OUT_DIR
# The host's side of the e2e case `balloon` (tests/e2e/README.md), run by
# case.sh in place of its one plugvm run. The guest (guest/e2e/init, case
# balloon) runs the console lines it gets, with Linux's virtio_balloon
# bound to plugins/balloon; this script sets the balloon through the
# control socket (`plugvm balloon --api`) and reads plugvm's RSS from
# /proc/PID/smaps_rollup, the host memory the VM really holds.
#
# VM 1, 1 GiB, deflate_on_oom = true, stats_interval_s = 1:
#   1. the guest touches 768 MiB and frees it (resident on the host);
#   2. balloon set 768 (the guest keeps 256 MiB): the driver's actual
#      reaches 768 MiB and the RSS drops by at least 90% of that;
#      plugvm snapshot: the memory file holds at most 324 MiB of data
#      (du), the balloon's pages being holes; SIGKILL, plugvm restore:
#      the restored balloon holds 768 MiB, and steps 3 to 5 run on the
#      restored VM;
#   3. the statistics arrive (free_memory, total_memory); a target above
#      guest RAM is refused with a message;
#   4. balloon set 0: actual returns to 0, and the guest touches 768 MiB
#      again;
#   5. balloon set 768 again, then the guest touches 640 MiB, more than
#      it has: it succeeds with no OOM kill, the driver deflating instead
#      (actual falls below 768 MiB).
# VM 2, 1 GiB, free_page_reporting = true: the guest holds 512 MiB, then
#   frees it; within 10 s the RSS falls by at least 400 MiB.
#
# Prints one line: the figures, or what went wrong. Exit status 0 when
# every step worked and both VMs passed, else 1. Every wait is bounded.
# POSIX sh and busybox applets: in the nested tier this runs under
# busybox sh inside the outer VM.
set -u
[ $# -eq 4 ] || { echo "usage: $0 PLUGVM CFG LIMIT OUT_DIR" >&2; exit 2; }
plugvm=$1 cfg=$2 limit=$3 out=$4

sock=$out/api.sock
rm -rf "$out"/console* "$out"/stderr* "$out/in."* "$sock" "$out/snap"
mkfifo "$out/in.oom" "$out/in.restore" "$out/in.report" || { echo "cannot make FIFOs in $out"; exit 1; }
sed 's|@BALLOON@|deflate_on_oom = true; stats_interval_s = 1;|' "$cfg" >"$out/oom.cfg"
sed 's|@BALLOON@|free_page_reporting = true;|' "$cfg" >"$out/report.cfg"

. "$(dirname "$0")/lib.sh"
pids=
finish() {
    for p in $pids; do kill -9 "$p" 2>/dev/null; done
    for v in oom restore report; do
        [ -f "$out/console.$v" ] && { echo "--- (balloon.sh) VM $v ---"; cat "$out/console.$v"; }
    done >"$out/console"
    for v in oom restore report; do [ -f "$out/stderr.$v" ] && sed "s/^/$v: /" "$out/stderr.$v"; done >"$out/stderr"
}
trap finish EXIT
fail() { echo "$*"; exit 1; }
rss_mib() { awk '/^Rss:/ { printf "%d\n", $2 / 1024 }' "/proc/$1/smaps_rollup"; }
api() { timeout 20 "$plugvm" balloon --api "$sock" "$@"; }
num() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"; } # NAME: the integer member NAME of stdin's JSON

k=0
step() { # SECONDS COMMAND: runs COMMAND in the guest; sets $st and $res
    k=$((k + 1))
    echo "$2" >&5
    wait_line "$c" $run "$1" "^E2E-BALLOON-DONE $k " ||
        { why_not $? $run "$1"; fail "the guest did not finish '$2': $why"; }
    line=$(con "$c" | grep "^E2E-BALLOON-DONE $k " | head -n 1)
    st=$(echo "$line" | cut -d' ' -f3)
    res=$(echo "$line" | cut -d' ' -f4-)
}
boot() { # NAME: starts VM NAME (OUT/NAME.cfg), its stdin the FIFO on fd 5
    c=$out/console.$1 k=0
    : >"$c"
    exec 5<>"$out/in.$1"
    "$plugvm" run -v --api "$sock" --timeout "$vm_limit" "$out/$1.cfg" <"$out/in.$1" >"$c" 2>"$out/stderr.$1" 5>&- &
    run=$!
    pids="$pids $run"
    wait_line "$c" $run "$limit" '^E2E-BALLOON-READY ' ||
        { why_not $? $run "$limit"; fail "VM $1: no E2E-BALLOON-READY line: $why"; }
}
# until_actual MIB SECONDS: until the driver's actual is MIB MiB; sets
# $secs to how long it took (1 when it did not get there).
until_actual() {
    t=$(uptime_cs)
    while :; do
        a=$(api get | num actual_mib)
        [ "$a" = "$1" ] && { secs=$(awk -v d=$(($(uptime_cs) - t)) 'BEGIN { printf "%.1f", d / 100 }'); return 0; }
        [ $(($(uptime_cs) - t)) -lt $(($2 * 100)) ] || return 1
        sleep 0.2
    done
}
quit() { # the guest passes and its VM exits 0
    echo quit >&5
    wait_end $run 60 || fail "VM $1 did not end within 60 s of 'quit'"
    wait $run
    s=$?
    [ $s -eq 0 ] || fail "VM $1 ended with status $s after 'quit'"
    exec 5>&-
}
vm_limit=$((limit * 4))

# --- VM 1: inflate, statistics, deflate, deflate_on_oom ---
boot oom
step 300 "mem-tool touch 768"
[ "$st" = 0 ] || fail "the guest could not touch 768 MiB: status $st: $res"
rss0=$(rss_mib $run)
msg=$(api set 768 2>&1) || fail "plugvm balloon set 768: $msg"
until_actual 768 300 || fail "the driver's actual is $(api get | num actual_mib) MiB 300 s after the target became 768 MiB"
t_inflate=$secs
rss1=$(rss_mib $run)
drop=$((rss0 - rss1))
[ $((drop * 100)) -ge $((768 * 90)) ] ||
    fail "inflating 768 MiB took the RSS from $rss0 to $rss1 MiB: $drop MiB, less than 90% of 768"

# A snapshot of the inflated VM leaves the balloon out of its memory
# file; the restored VM goes on with the same balloon.
msg=$(timeout 120 "$plugvm" snapshot --api "$sock" --to "$out/snap" 2>&1) || fail "plugvm snapshot: $msg"
mem_mib=$(($(du -k "$out/snap/memory" | cut -f1) / 1024))
[ "$mem_mib" -le $((1024 - 700)) ] ||
    fail "the snapshot's memory file holds $mem_mib MiB of data with 768 MiB of 1024 in the balloon"
kill -9 $run
wait $run 2>/dev/null
exec 5>&-
c=$out/console.restore
: >"$c"
exec 5<>"$out/in.restore"
"$plugvm" restore -v --api "$sock" --timeout "$vm_limit" "$out/snap" <"$out/in.restore" >"$c" 2>"$out/stderr.restore" 5>&- &
run=$!
pids="$pids $run"
n=0
until got=$(api get 2>/dev/null); do
    n=$((n + 1))
    alive $run && [ $n -lt 150 ] || fail "the restored VM's control socket did not answer: $(tail -n 3 "$out/stderr.restore")"
    sleep 0.2
done
[ "$(echo "$got" | num actual_mib)" = 768 ] && [ "$(echo "$got" | num inflated_pages)" = $((768 * 256)) ] ||
    fail "the restored balloon is not the one snapshotted (768 MiB, $((768 * 256)) pages): $got"
rss_restored=$(rss_mib $run)

n=0
until stats=$(api stats 2>&1) && echo "$stats" | grep -q '"total_memory":' && [ "$(echo "$stats" | num updates)" -ge 2 ]; do
    n=$((n + 1))
    [ $n -lt 50 ] || fail "no statistics from the guest after 10 s: $stats"
    sleep 0.2
done
free=$(echo "$stats" | num free_memory) total=$(echo "$stats" | num total_memory)
[ -n "$free" ] && [ "$free" -gt 0 ] || fail "the statistics have no free_memory: $stats"
msg=$(api set 2048 2>&1) && fail "a target of 2048 MiB in a 1024 MiB guest was accepted"
echo "$msg" | grep -q "more than guest RAM (1024 MiB)" || fail "a target above guest RAM was refused without saying why: $msg"

msg=$(api set 0 2>&1) || fail "plugvm balloon set 0: $msg"
until_actual 0 300 || fail "the driver's actual is $(api get | num actual_mib) MiB 300 s after the target became 0"
t_deflate=$secs
step 300 "mem-tool touch 768"
[ "$st" = 0 ] || fail "after the deflate the guest could not touch 768 MiB again: status $st: $res"
rss2=$(rss_mib $run)

msg=$(api set 768 2>&1) || fail "plugvm balloon set 768 (again): $msg"
until_actual 768 300 || fail "the driver's actual is $(api get | num actual_mib) MiB 300 s after the target became 768 MiB again"
step 300 "mem-tool touch 640"
[ "$st" = 0 ] || fail "with deflate_on_oom the guest could not touch 640 MiB of its 256: status $st: $res"
step 20 "oom_kills"
[ "$res" = "0 " ] || [ "$res" = 0 ] || fail "the OOM killer ran ($res kills) though the balloon could deflate"
oom_actual=$(api get | num actual_mib)
[ "$oom_actual" -lt 768 ] || fail "the guest touched 640 MiB with the balloon at 768 MiB, and actual is still $oom_actual MiB"
quit "oom (restored)"

# --- VM 2: free page reporting ---
boot report
step 20 "bg_mem_hold 512"
wait_line "$c" $run 300 "^E2E-BALLOON-HOLD 512" || { why_not $? $run 300; fail "the guest did not hold 512 MiB: $why"; }
rss_held=$(rss_mib $run)
step 20 '$bb killall mem-tool'
t=$(uptime_cs)
while :; do
    rss_freed=$(rss_mib $run)
    [ $((rss_held - rss_freed)) -ge 400 ] && break
    [ $(($(uptime_cs) - t)) -lt 1000 ] || fail "10 s after the guest freed 512 MiB the RSS went from $rss_held to $rss_freed MiB: not 400 MiB less"
    sleep 0.2
done
t_report=$(awk -v d=$(($(uptime_cs) - t)) 'BEGIN { printf "%.1f", d / 100 }')
reported=$(api get | num reported_mib)
quit report

echo "inflate 768 MiB in $t_inflate s: RSS $rss0 -> $rss1 MiB ($drop MiB, $((drop * 100 / 768))% of it); snapshot memory file $mem_mib MiB of data, restored with the balloon at 768 MiB (RSS $rss_restored MiB); then on the restored VM: stats free_memory $((free >> 20)) MiB of $((total >> 20)); 2048 MiB refused; deflate to 0 in $t_deflate s, RSS $rss2 MiB after the guest touched 768 MiB again; deflate_on_oom: 640 MiB touched at a 768 MiB balloon, actual now $oom_actual MiB, 0 OOM kills; free page reporting: RSS $rss_held -> $rss_freed MiB $t_report s after the guest freed 512 MiB ($reported MiB reported)"
