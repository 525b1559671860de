#!/bin/bash
# Restore benchmark: plugvm against QEMU, both measured in this one run
# (bench/restore/README.md). For each guest RAM size (256 MiB and 2 GiB):
# N rounds per VMM, each:
#   1. a snapshot: a fresh VM of the test guest (test=snapshot: a counter
#      in RAM, a blk write-read-check loop, `count N` lines) is booted, left
#      to count to 50 and saved: plugvm pause + plugvm snapshot (timed),
#      QEMU a `migrate` to "exec:cat > FILE" over QMP (timed); the disk
#      image is copied while the VM is stopped, the VM killed;
#   2. at once, a restore of it (README.md, "The TSC", says why at once), on
#      a fresh copy of that disk made before the clock starts: `plugvm restore -v DIR` and QEMU with the boot command
#      line plus `-incoming "exec:cat FILE"`. firstbyte.c times each from
#      fork() to the first byte on the VMM's stdout (the guest's serial
#      console); plugvm also says when its vCPUs were started, timed from its
#      own start (a constructor). Each run must go on counting from the
#      snapshot's count (L+1, or L+2 after a half-printed line).
# Prints the commands, then a table. Exits 1 when any snapshot or restore
# failed. Without a usable KVM here it runs itself inside the nested VM
# host (bench/README.md).
# usage: run.sh BUILD_DIR        env: N (rounds per case, 20),
#                                SIZES (MiB, "256 2048"), KEEP=1 keeps the files
# QEMU's options hold commas, which shellcheck takes for array-syntax slips.
# shellcheck disable=SC2054
set -u
[ $# -eq 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
build=$(cd "$1" && pwd) || exit 2
here=$(cd "$(dirname "$0")" && pwd)
firstbyte=$build/bench/restore/firstbyte plugvm=$build/core/plugvm
guest=$build/images/testguest.elf
N=${N:-20} SIZES=${SIZES:-"256 2048"}
start=$(date +%s.%N)

skip() { echo "bench-restore: SKIP: $*"; exit 0; }
# Without a usable KVM here: again, inside the nested VM host.
. "$(cd "$(dirname "$0")" && pwd)/../lib.sh"
bench_vmhost "$build" "$0" "$build"
for f in "$firstbyte" "$plugvm" "$guest" "$build/plugins/plugvm-blk.so" "$build/plugins/plugvm-kvm.so"; do
    [ -e "$f" ] || { echo "bench-restore: $f missing: build bench_restore_firstbyte, plugvm, kvm, blk, guest_testguest" >&2; exit 1; }
done
qemu=$(command -v qemu-system-x86_64) || qemu=
python=$(command -v python3) || python=
[ -n "$qemu" ] && [ -z "$python" ] && { echo "bench-restore: QEMU is driven over QMP by qmp.py: python3 is needed" >&2; exit 1; }

tmp=$(mktemp -d /tmp/bench-restore.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
    if [ "${KEEP:-0}" = 1 ]; then echo "files kept in $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
failed=0
note_fail() { echo "bench-restore: FAILED: $*"; failed=1; }

now_ms() { local t; t=$(date +%s%N); printf '%d.%03d\n' $((t / 1000000)) $((t / 1000 % 1000)); }
# Kills a VM and reaps it quietly (no "Killed" job report).
stop() { kill -9 "$1" 2>/dev/null; { wait "$1"; } 2>/dev/null; }
# The counts in OUT, from whole lines only (a VM may be mid-line).
counts() {
    [ -e "$1" ] || return 0
    if [ -n "$(tail -c1 "$1")" ]; then head -n -1 "$1"; else cat "$1"; fi |
        tr -d '\r' | grep -aE '^count [0-9]+$' | cut -d' ' -f2
}
last_count() { counts "$1" | tail -n 1; }
# wait_count OUT N: until OUT has count >= N (30 s at most).
wait_count() {
    local c
    for _ in $(seq 600); do
        grep -aqs '^not ok' "$1" && return 1
        c=$(last_count "$1")
        [ -n "$c" ] && [ "$c" -ge "$2" ] && return 0
        sleep 0.05
    done
    return 1
}
# continues OUT L: OUT's first whole count is L+1 (or L+2 when the line of
# L+1 was half printed when the VM stopped), no `not ok`.
continues() {
    local first
    grep -aqs '^not ok' "$1" && return 1
    first=$(counts "$1" | head -n 1)
    [ "$first" = $(($2 + 1)) ] || [ "$first" = $(($2 + 2)) ]
}
# Nearest-rank percentiles of the numbers on stdin: "p50 p90 runs".
pcts() {
    sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "nan nan 0"; exit }
        i50 = int(NR * 0.5); if (i50 < NR * 0.5) i50++
        i90 = int(NR * 0.9); if (i90 < NR * 0.9) i90++
        printf "%.2f %.2f %d\n", v[i50], v[i90], NR }'
}

# --- The commands -----------------------------------------------------------
# Both VMMs: the same test guest, 1 vCPU, RAM of SIZE MiB, one virtio-blk
# disk on a 4 MiB raw image (the guest loops over its first 1 MiB).
# QEMU: microvm as in tests/qemu/testguest.sh ("-cpu host" alone aborts on
# this KVM, hence -arch-capabilities; force-legacy=false because the test
# guest drives virtio-mmio version 2 only).
plugvm_cfg() { # FILE SIZE IMAGE
    cat >"$1" <<CFG
vm = { vcpus = 1; memory_mib = $2; kernel = "$guest"; cmdline = "test=snapshot"; };
devices = ( { plugin = "blk"; path = "$3"; } );
CFG
}
qemu_cmd() { # SIZE IMAGE: into the array qc
    qc=("$qemu" -M microvm,acpi=off -enable-kvm -cpu host,-arch-capabilities -m "$1"
        -nodefaults -no-user-config -display none -serial stdio -no-reboot
        -global virtio-mmio.force-legacy=false
        -drive "id=d0,file=$2,format=raw,if=none" -device virtio-blk-device,drive=d0
        -kernel "$guest" -append "test=snapshot")
}

echo "== plugvm vs QEMU restore benchmark ($(date -u +%FT%TZ), $(uname -r), $(nproc) CPUs, load $(load))"
[ -e /sys/module/kvm_pvm ] &&
    echo "   /dev/kvm is KVM over PVM: guest kernel code is emulated (~1 us/instruction)"
bench_where
[ -n "$qemu" ] && echo "   QEMU: $("$qemu" --version | head -n 1)" || echo "   QEMU: not installed: plugvm only"
echo "   sizes: $SIZES MiB; $N rounds of snapshot + restore per VMM and size; files in $tmp"
echo "   guest: $guest, test=snapshot, 1 vCPU, one virtio-blk disk (4 MiB raw image)"
echo
echo "plugvm (SIZE in the config; IMG a fresh copy of the disk as it was at the snapshot):"
plugvm_cfg "$tmp/example.cfg" SIZE DISK
sed 's/^/   /' "$tmp/example.cfg"
echo "   run:      $(q "$plugvm" run -v --api SOCK CFG)"
echo "   save:     $(q "$plugvm" pause --api SOCK); $(q "$plugvm" snapshot --api SOCK --to SNAP)"
echo "   restore:  $(q "$plugvm" restore -v --set devices[0].path=IMG SNAP)"
if [ -n "$qemu" ]; then
    qemu_cmd SIZE DISK
    echo "QEMU:"
    echo "   run:      $(q "${qc[@]}" -qmp unix:SOCK,server=on,wait=off)"
    echo "   save:     QMP migrate-set-parameters max-bandwidth=1 TiB/s; migrate uri=exec:cat > FILE (VM running)"
    qemu_cmd SIZE IMG
    echo "   restore:  $(q "${qc[@]}" -incoming "exec:cat FILE")"
    echo "             (the migration stream says the VM was running, so QEMU starts it once loaded)"
fi
echo "timed by:    $(q "$firstbyte" -w "vCPUs running" -- CMD): fork() to the VMM's first stdout byte"
echo

# --- Measuring --------------------------------------------------------------
# One snapshot: boot a fresh VM of SIZE MiB in D, let it count to 50, save
# it to D/Xsnap (X: p for plugvm, q for QEMU) and its disk to D/Xsnap.img;
# the timings go to D/X_*; the last count before the stop to D/X_L. On
# failure, why in $why.
snap_p() { # D SIZE
    local d=$1 pid t0 t1 t2
    rm -rf "$d/psnap" "$d/psrc.img" "$d/p.sock"
    truncate -s 4M "$d/psrc.img"
    plugvm_cfg "$d/p.cfg" "$2" "$d/psrc.img"
    "$plugvm" run -v --api "$d/p.sock" --timeout 600 "$d/p.cfg" </dev/null >"$d/psrc.out" 2>"$d/psrc.err" &
    pid=$!; pids+=("$pid")
    if ! wait_count "$d/psrc.out" 50; then
        why="the source VM did not count to 50: $(tail -n 3 "$d/psrc.err" "$d/psrc.out")"
        stop "$pid"; return 1
    fi
    t0=$(now_ms)
    "$plugvm" pause --api "$d/p.sock" || { why="plugvm pause failed"; stop "$pid"; return 1; }
    t1=$(now_ms)
    "$plugvm" snapshot --api "$d/p.sock" --to "$d/psnap" ||
        { why="plugvm snapshot failed"; stop "$pid"; return 1; }
    t2=$(now_ms)
    last_count "$d/psrc.out" >"$d/p_L"
    cp --sparse=always "$d/psrc.img" "$d/psnap.img"
    stop "$pid"
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f\n", b - a }' >>"$d/p_pause_wall"
    awk -v a="$t1" -v b="$t2" 'BEGIN { printf "%.1f\n", b - a }' >>"$d/p_snap_wall"
    sed -n 's/.*snapshot written to .* in \([0-9.]*\) ms.*/\1/p' "$d/psrc.err" >>"$d/p_snap_api"
}
snap_q() { # D SIZE
    local d=$1 pid line
    rm -f "$d/qsnap" "$d/qsrc.img" "$d/q.sock"
    truncate -s 4M "$d/qsrc.img"
    qemu_cmd "$2" "$d/qsrc.img"
    "${qc[@]}" -qmp "unix:$d/q.sock,server=on,wait=off" </dev/null >"$d/qsrc.out" 2>"$d/qsrc.err" &
    pid=$!; pids+=("$pid")
    if ! wait_count "$d/qsrc.out" 50; then
        why="the source VM did not count to 50: $(tail -n 3 "$d/qsrc.err" "$d/qsrc.out")"
        stop "$pid"; return 1
    fi
    if ! line=$("$python" "$here/qmp.py" "$d/q.sock" migrate "exec:cat > $d/qsnap"); then
        why="migrate failed"; stop "$pid"; return 1
    fi
    last_count "$d/qsrc.out" >"$d/q_L"
    cp --sparse=always "$d/qsrc.img" "$d/qsnap.img"
    "$python" "$here/qmp.py" "$d/q.sock" quit
    stop "$pid"
    sed -n 's/.*wall_ms=\([0-9.]*\).*/\1/p' <<<"$line" >>"$d/q_snap_wall"
    sed -n 's/.*total_ms=\([0-9.]*\).*/\1/p' <<<"$line" >>"$d/q_snap_total"
    sed -n 's/.*downtime_ms=\([0-9.]*\).*/\1/p' <<<"$line" >>"$d/q_snap_down"
}
# One restore of D/Xsnap on a fresh copy of its disk, timed by firstbyte
# (its line on stdout); the guest's output in D/Xrun.out, the VMM's log in
# D/Xrun.err. Fails when the run fails or the guest does not count on.
restore_p() { # D SIZE
    local d=$1 line
    cp --sparse=always "$d/psnap.img" "$d/prun.img"
    line=$("$firstbyte" -t 30 -w "vCPUs running" -o "$d/prun.out" -e "$d/prun.err" -- \
        "$plugvm" restore -v --set "devices[0].path=$d/prun.img" "$d/psnap") || return 1
    continues "$d/prun.out" "$(cat "$d/p_L")" || return 1
    echo "$line"
}
restore_q() { # D SIZE
    local d=$1 line
    cp --sparse=always "$d/qsnap.img" "$d/qrun.img"
    qemu_cmd "$2" "$d/qrun.img"
    line=$("$firstbyte" -t 30 -o "$d/qrun.out" -e "$d/qrun.err" -- \
        "${qc[@]}" -incoming "exec:cat $d/qsnap") || return 1
    continues "$d/qrun.out" "$(cat "$d/q_L")" || return 1
    echo "$line"
}
why_restore() { # D X
    if [ -s "$1/${2}run.out" ]; then
        echo "the guest said: $(head -c 300 "$1/${2}run.out" | tr '\n' '|')"
    else
        echo "no guest output; the VMM said: $(grep -av 'KVM over PVM' "$1/${2}run.err" | tail -n 3 | tr '\n' '|')"
    fi
}

# measure X NAME SIZE: N rounds of a snapshot and, right after it, a
# restore of it, for one VMM. Each restore gets its own fresh snapshot
# because the guest's I/O timeout runs on the TSC, which on this host goes
# on across a snapshot with the host's time (README.md, "The TSC"): a
# restore made more than 3 s after its snapshot can fail its first blk wait.
measure() {
    local x=$1 name=$2 size=$3 d=$tmp/$3 k line own
    echo "[$size MiB] $name: $N snapshots, each restored at once (load $(load))"
    for k in $(seq "$N"); do
        "snap_$x" "$d" "$size" || { note_fail "$name $size MiB, snapshot $k: $why"; continue; }
        if ! line=$("restore_$x" "$d" "$size"); then
            note_fail "$name restore $size MiB, run $k: $(why_restore "$d" "$x")"
            continue
        fi
        sed -n 's/.*first_byte_ms=\([0-9.]*\).*/\1/p' <<<"$line" >>"$d/${x}_first"
        if [ "$x" = p ]; then
            own=$(sed -n 's/.*vCPUs running \([0-9.]*\) ms.*/\1/p' "$d/prun.err")
            echo "$own" >>"$d/p_vcpus"
            # Before plugvm's clock: firstbyte saw the "vCPUs running" line
            # (fork to the line) less plugvm's own figure (its constructor
            # to the line): fork, exec and the dynamic linker, plus the
            # pipe's wake-up (a few µs).
            sed -n 's/.*stderr_pattern_ms=\([0-9.]*\).*/\1/p' <<<"$line" |
                awk -v o="$own" '{ printf "%.2f\n", $1 - o }' >>"$d/p_prestart"
            # After: from that line seen to the guest's first byte (negative
            # when the byte came first).
            awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
                   printf "%.2f\n", v["first_byte_ms"] - v["stderr_pattern_ms"] }' \
                <<<"$line" >>"$d/p_after"
        fi
    done
}

declare -A res
for size in $SIZES; do
    d=$tmp/$size
    mkdir -p "$d"
    for f in p_snap_api p_snap_wall p_pause_wall p_vcpus p_prestart p_after p_first q_snap_wall q_snap_total q_snap_down q_first; do
        : >"$d/$f"
    done
    measure p plugvm "$size"
    for f in p_snap_api p_snap_wall p_pause_wall p_vcpus p_prestart p_after p_first; do res[${f}_$size]=$(pcts <"$d/$f"); done
    [ -e "$d/psnap/memory" ] &&
        res[p_files_$size]="memory $(stat -c %s "$d/psnap/memory") B ($(du -k "$d/psnap/memory" | cut -f1) KiB on disk), state $(stat -c %s "$d/psnap/state") B, vm.cfg $(stat -c %s "$d/psnap/vm.cfg") B"
    [ -n "$qemu" ] || continue
    measure q QEMU "$size"
    for f in q_snap_wall q_snap_total q_snap_down q_first; do res[${f}_$size]=$(pcts <"$d/$f"); done
    [ -e "$d/qsnap" ] &&
        res[q_files_$size]="migration stream $(stat -c %s "$d/qsnap") B ($(du -k "$d/qsnap" | cut -f1) KiB on disk)"
done

# --- The table --------------------------------------------------------------
# "p50/p90 (runs)" from a pcts result.
cell() {
    local v=${res[$1]:-}
    [ -n "$v" ] || { echo "-"; return; }
    read -r -a v <<<"$v"
    set -- "${v[@]}"
    [ "$3" -gt 0 ] || { echo "FAILED"; return; }
    echo "$1/$2 ($3)"
}
ratio() { # QEMU p50 / plugvm p50
    local p=${res[$1]:-} q=${res[$2]:-}
    if [ -z "$p" ] || [ -z "$q" ]; then echo "-"; return; fi
    awk -v p="${p%% *}" -v q="${q%% *}" 'BEGIN { if (p > 0 && q == q + 0) printf "%.1fx", q / p; else print "-" }'
}
row() { printf '%-9s %-17s %-17s %-17s %-17s %-17s %s\n' "$@"; }
echo
echo "Restore, ms, p50/p90 (successful runs); ratio = QEMU first-byte p50 / plugvm first-byte p50."
echo "vCPUs running: plugvm's own figure, from its constructor to its vCPU threads started."
echo "before: plugvm's fork, exec and dynamic linking, before its constructor ran (approx.)."
echo "after: from plugvm's \"vCPUs running\" line seen to the guest's first byte (approx.)."
echo "first byte: from fork() of the VMM to the guest's first serial byte after the resume."
row "case" "plugvm vCPUs run." "plugvm before" "plugvm after" "plugvm 1st byte" "QEMU 1st byte" "QEMU/plugvm"
for size in $SIZES; do
    row "$size MiB" "$(cell "p_vcpus_$size")" "$(cell "p_prestart_$size")" "$(cell "p_after_$size")" \
        "$(cell "p_first_$size")" "$(cell "q_first_$size")" \
        "$(ratio "p_first_$size" "q_first_$size")"
done
echo
echo "Snapshot, ms, p50/p90 (successful snapshots):"
echo "  plugvm: pause = \`plugvm pause\` (client process included); snapshot = \`plugvm snapshot\`"
echo "          (client included) and, in brackets, the API's own 'snapshot written in' figure"
echo "  QEMU:   migrate = from QMP \`migrate\` to query-migrate saying completed (QEMU stops the VM"
echo "          itself at the end); QEMU's total-time and downtime in brackets"
for size in $SIZES; do
    echo "  $size MiB plugvm: pause $(cell "p_pause_wall_$size"), snapshot $(cell "p_snap_wall_$size") [API $(cell "p_snap_api_$size")]"
    echo "  $size MiB plugvm files: ${res[p_files_$size]:-FAILED}"
    if [ -n "$qemu" ]; then
        echo "  $size MiB QEMU:   migrate $(cell "q_snap_wall_$size") [total-time $(cell "q_snap_total_$size"), downtime $(cell "q_snap_down_$size")]"
        echo "  $size MiB QEMU files:   ${res[q_files_$size]:-FAILED}"
    fi
done
awk -v s="$start" -v e="$(date +%s.%N)" -v l="$(load)" \
    'BEGIN { printf "total time: %.1f s (load average now %s)\n", e - s, l }'
[ $failed -eq 0 ] || { echo "bench-restore: FAILED: some runs failed (see above)"; exit 1; }
