#!/bin/bash
# virtio-blk benchmark: the test guest's test=blkbench (sequential 1 MiB and
# random 4 KiB reads and writes at queue depth QD) under plugvm's blk plugin
# and under QEMU microvm's virtio-blk-device (aio=threads, QEMU's default, and
# aio=io_uring), on the same raw image, and fio on a host file of the same
# size with the same patterns (psync at iodepth 1, the way plugvm's worker
# does I/O, and io_uring at iodepth QD). Twice: with the host page cache
# (hot) and with O_DIRECT. bench/blk/README.md says more.
#
# Guest-side time cannot be trusted (the TSC rate is unknown in the guest),
# so each phase is timed here, from the arrival of its "BENCH <phase> begin"
# line on the VMM's stdout to its "BENCH <phase> end ops=N bytes=M" line.
# Each VM runs one phase, sized from a short calibration run so that it lasts
# about TARGET_S seconds; fio runs TARGET_S seconds per phase.
#
# usage: run.sh BUILD_DIR
# environment: RUNS (3), TARGET_S (2), QD (8), IMG_MIB (512),
#   MODES ("writeback none"), PHASES ("seq_read seq_write rand_read rand_write")
# Prints the commands, then a table of medians and ratios; exits 1 when any
# run failed (never on ratios). Without a usable KVM here it runs itself
# inside the nested VM host (bench/README.md).
# QEMU's options hold commas, which shellcheck takes for array-syntax slips.
# shellcheck disable=SC2054
set -u
export LC_ALL=C # EPOCHREALTIME and awk with a '.' decimal point
[ $# -eq 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
build=$(cd "$1" && pwd) || exit 2
runs=${RUNS:-3} target_s=${TARGET_S:-2} qd=${QD:-8} img_mib=${IMG_MIB:-512}
modes=${MODES:-writeback none} phases=${PHASES:-seq_read seq_write rand_read rand_write}
plugvm=$build/core/plugvm guest=$build/images/testguest.elf mkimage=$build/bench/blk/mkimage
dir=$build/bench/blk # the images: on the build tree's filesystem
start=$(date +%s.%N)

skip() { echo "bench-blk: SKIP: $*"; exit 0; }
# Without a usable KVM here: again, inside the nested VM host.
. "$(cd "$(dirname "$0")" && pwd)/../lib.sh"
bench_vmhost "$build" "$0" "$build"
for f in "$plugvm" "$guest" "$mkimage" "$build/plugins/plugvm-blk.so"; do
    [ -e "$f" ] || { echo "bench-blk: $f missing: build plugvm, kvm, blk, guest_testguest, bench_blk_mkimage" >&2; exit 1; }
done
qemu=$(command -v qemu-system-x86_64) || qemu=
fio=$(command -v fio) || fio=

tmp=$(mktemp -d)
mkdir -p "$dir"
img=$dir/guest.img fioimg=$dir/fio.img
# The images are made anew by every run: 2 x IMG_MIB of disk not kept.
trap 'rm -rf "$tmp" "$img" "$fioimg"' EXIT


# guest_cmdline PHASE SEQ_MIB RAND_OPS
guest_cmdline() {
    echo "test=blkbench bench_qd=$qd bench_phases=$1 bench_seq_mib=$2 bench_rand_ops=$3"
}
# plugvm_cmd MODE CMDLINE: writes the config, prints nothing; the command is
# "$plugvm" run --timeout T "$tmp/plugvm-MODE.cfg".
plugvm_cfg() {
    cat >"$tmp/plugvm-$1.cfg" <<CFG
vm = {
  vcpus = 1;
  memory_mib = 256;
  kernel = "$guest";
  cmdline = "$2";
};
devices = ( { plugin = "blk"; path = "$img"; cache = "$1"; } );
CFG
}
# QEMU: aio=threads (its thread pool: preadv/pwritev on up to 64 threads) as
# the baseline, and aio=io_uring, to show what io_uring does in a VMM.
qemu_cmd() { # MODE AIO CMDLINE
    qcmd=("$qemu" -M microvm,acpi=off -enable-kvm -cpu host,-arch-capabilities -m 256
          -nodefaults -no-user-config -display none -serial stdio -no-reboot
          -global virtio-mmio.force-legacy=false
          -drive "id=d0,file=$img,format=raw,if=none,cache=$1,aio=$2"
          -device virtio-blk-device,drive=d0 -kernel "$guest" -append "$3")
}
fio_rw() {
    case $1 in seq_read) echo read ;; seq_write) echo write ;; rand_read) echo randread ;;
        rand_write) echo randwrite ;; *) echo RW ;; esac
}
fio_bs() { case $1 in seq_*) echo 1m ;; *) echo 4k ;; esac; }
fio_cmd() { # MODE ENGINE PHASE
    local direct=0 depth=1
    [ "$1" = none ] && direct=1
    [ "$2" = io_uring ] && depth=$qd
    fcmd=("$fio" --name="$3" --filename="$fioimg" --size="${img_mib}m" --rw="$(fio_rw "$3")"
          --bs="$(fio_bs "$3")" --ioengine="$2" --iodepth="$depth" --direct="$direct"
          --invalidate=0 --fadvise_hint=0 --norandommap --randrepeat=1
          --time_based --runtime="$target_s" --output-format=terse --terse-version=3)
}

echo "== plugvm vs QEMU vs host fio: virtio-blk ($(date -u +%FT%TZ), $(uname -r), $(nproc) CPUs, load $(load))"
[ -e /sys/module/kvm_pvm ] &&
    echo "   /dev/kvm is KVM over PVM (the test guest's drivers run in ring 3, natively)"
bench_where
echo "   images: $img and $fioimg, ${img_mib} MiB each, $(df -T "$dir" | awk 'NR == 2 { print $2 " on " $1 }')"
echo "   QEMU: ${qemu:+$("$qemu" --version | head -n 1)}${qemu:-not installed: its columns are empty}"
echo "   fio: ${fio:+$("$fio" --version)}${fio:-not installed: its columns are empty (apt-get install fio)}"
echo "   $runs runs of each; each VM runs one phase for ~${target_s} s (sized by a calibration run),"
echo "   timed here from its BENCH begin line to its end line; fio runs ${target_s} s per phase."
echo "   modes: writeback = host page cache, hot (the image was just written and is re-read"
echo "          before each run; nothing is dropped); none = O_DIRECT in plugvm, QEMU and fio."
echo "commands (PHASE, SEQ_MIB, RAND_OPS filled in per run):"
for mode in $modes; do
    cl=$(guest_cmdline PHASE SEQ_MIB RAND_OPS)
    plugvm_cfg "$mode" "$cl"
    echo "  [$mode] plugvm: $(q "$plugvm" run --timeout 300 CONFIG), CONFIG:"
    sed 's/^/           /' "$tmp/plugvm-$mode.cfg"
    if [ -n "$qemu" ]; then
        for aio in threads io_uring; do
            qemu_cmd "$mode" $aio "$cl"; echo "  [$mode] QEMU:   $(q "${qcmd[@]}")"
        done
    fi
    if [ -n "$fio" ]; then
        for e in psync io_uring; do
            fio_cmd "$mode" $e PHASE; echo "  [$mode] fio:    $(q "${fcmd[@]}")"
        done
        echo "          (RW: read|write|randread|randwrite for seq_read|seq_write|rand_read|rand_write;
           --bs=1m for seq_*)"
    fi
done
echo

# --- Measuring --------------------------------------------------------------
failed=0
mkdir -p "$tmp/res"

# timed KEY CMD...: runs a VMM with stdin from /dev/null, its stdout lines
# stamped with their arrival time into $tmp/KEY.log; sets vm_status.
timed() {
    local key=$1
    shift
    "$@" </dev/null 2>"$tmp/$key.err" | while IFS= read -r l; do
        printf '%s %s\n' "$EPOCHREALTIME" "${l%$'\r'}"
    done >"$tmp/$key.log"
    vm_status=${PIPESTATUS[0]}
}

# phase_result KEY PHASE: "seconds ops bytes" from the log, or nothing when
# the phase did not run to its end with an ok.
phase_result() {
    awk -v p="$2" '
        $3 == "BENCH" && $4 == p && $5 == "begin" { b = $1 }
        $3 == "BENCH" && $4 == p && $5 == "end" { e = $1; split($6, o, "="); split($7, y, "=") }
        $2 == "not" || $2 == "Bail" { bad = 1 }
        END { if (b != "" && e != "" && !bad) printf "%.6f %s %s\n", e - b, o[2], y[2] }
    ' "$tmp/$1.log"
}

# vm_run KEY WHICH MODE PHASE SEQ_MIB RAND_OPS: one VM; prints "seconds ops
# bytes" or nothing (and says why on stderr) on failure.
vm_run() {
    local key=$1 which=$2 mode=$3 cl
    cl=$(guest_cmdline "$4" "$5" "$6")
    if [ "$which" = plugvm ]; then
        plugvm_cfg "$mode" "$cl"
        timed "$key" "$plugvm" run --timeout 300 "$tmp/plugvm-$mode.cfg"
    else
        local aio=threads
        [ "$which" = qemu_uring ] && aio=io_uring
        qemu_cmd "$mode" $aio "$cl"
        timed "$key" timeout 300 "${qcmd[@]}"
    fi
    local r
    r=$(phase_result "$key" "$4")
    if [ "$vm_status" -ne 0 ] || [ -z "$r" ] || grep -q ' not ok' "$tmp/$key.log"; then
        {
            echo "bench-blk: FAILED: $which $mode $4: exit status $vm_status; the end of its output:"
            tail -n 8 "$tmp/$key.log" "$tmp/$key.err" | sed 's/^/    /'
        } >&2
        return 1
    fi
    echo "$r"
}

warm() { [ "$1" = writeback ] && cat "$img" "$fioimg" >/dev/null; }

record() { # FILE seconds ops bytes: appends "MiB/s IOPS"
    awk -v s="$2" -v o="$3" -v b="$4" 'BEGIN { printf "%.1f %.0f\n", b / 1048576 / s, o / s }' >>"$1"
}

echo "making the images (mkimage: a tag in every 4 KiB block, the test guest checks it)..."
if ! "$mkimage" "$img" "$img_mib" || ! "$mkimage" "$fioimg" "$img_mib"; then
    echo "bench-blk: mkimage failed" >&2; exit 1
fi

declare -A seq_count rand_count
vmms="plugvm${qemu:+ qemu qemu_uring}"
for mode in $modes; do
    echo "[$mode] load $(load)"
    # Calibration: every phase once, small, to size the timed runs.
    for which in $vmms; do
        warm "$mode"
        cl_seq=1024 cl_rand=20000
        for p in $phases; do
            r=$(vm_run "cal-$which-$mode-$p" "$which" "$mode" "$p" $cl_seq $cl_rand) || {
                failed=1; continue; }
            read -r s o _ <<<"$r"
            n=$(awk -v o="$o" -v s="$s" -v t="$target_s" 'BEGIN { n = o / s * t; printf "%.0f", n }')
            case $p in
                seq_*) [ "$n" -lt 64 ] && n=64; seq_count[$which-$mode-$p]=$n ;;
                *) [ "$n" -lt 1000 ] && n=1000; rand_count[$which-$mode-$p]=$n ;;
            esac
            echo "  calibration $which $p: $o ops in $s s -> $n ops per run"
        done
    done
    for ((run = 1; run <= runs; run++)); do
        echo "  run $run/$runs (load $(load))"
        for which in $vmms; do
            for p in $phases; do
                sm=${seq_count[$which-$mode-$p]:-} ro=${rand_count[$which-$mode-$p]:-}
                [ -n "$sm$ro" ] || continue # its calibration failed
                warm "$mode"
                r=$(vm_run "$which-$mode-$p-$run" "$which" "$mode" "$p" "${sm:-64}" "${ro:-1000}") ||
                    { failed=1; continue; }
                # shellcheck disable=SC2086
                record "$tmp/res/$mode.$which.$p" $r
            done
        done
        if [ -n "$fio" ]; then
            for e in psync io_uring; do
                for p in $phases; do
                    warm "$mode"
                    fio_cmd "$mode" $e "$p"
                    if ! "${fcmd[@]}" >"$tmp/fio.out" 2>"$tmp/fio.err"; then
                        echo "bench-blk: FAILED: fio $e $mode $p: $(tail -n 3 "$tmp/fio.err")" >&2
                        failed=1
                        continue
                    fi
                    # Terse version 3: read KiB and runtime (ms) are fields 6 and 9,
                    # written KiB and runtime fields 47 and 50.
                    awk -F';' -v bs="$(fio_bs "$p")" 'NR == 1 {
                        k = $6 > 0 ? $6 : $47; ms = $6 > 0 ? $9 : $50
                        if (k > 0 && ms > 0) printf "%.3f %.0f %.0f\n", ms / 1000, k * 1024 / (bs == "1m" ? 1048576 : 4096), k * 1024
                    }' "$tmp/fio.out" >"$tmp/fio.r"
                    [ -s "$tmp/fio.r" ] || { echo "bench-blk: FAILED: fio $e $mode $p: no result" >&2; failed=1; continue; }
                    # shellcheck disable=SC2046
                    record "$tmp/res/$mode.fio-$e.$p" $(cat "$tmp/fio.r")
                done
            done
        fi
    done
done

# --- The table --------------------------------------------------------------
median() { # FILE COLUMN: MiB/s with one decimal (column 1), IOPS whole (2)
    [ -s "$1" ] || return
    awk -v c="$2" '{ print $c }' "$1" | sort -g | awk -v f="$([ "$2" = 1 ] && echo %.1f || echo %.0f)" '
        { v[NR] = $1 }
        END { printf f "\n", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
cell() { # MODE WHICH PHASE
    local f=$tmp/res/$1.$2.$3 m i
    m=$(median "$f" 1) i=$(median "$f" 2)
    [ -n "$m" ] && printf '%s/%s (%s)' "$m" "$i" "$(wc -l <"$f")" || echo "-"
}
ratio() { # MODE A B PHASE: median MiB/s of A / of B
    local a b
    a=$(median "$tmp/res/$1.$2.$4" 1) b=$(median "$tmp/res/$1.$3.$4" 1)
    [ -n "$a" ] && [ -n "$b" ] && awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", a / b }' || echo "-"
}
row() { printf '%-10s %-19s %-19s %-19s %-19s %-19s %-7s %-8s %s\n' "$@"; }
echo
echo "Medians, MiB/s / IOPS (runs); ratios of median MiB/s. QD $qd in the guest and for"
echo "fio io_uring; fio psync is iodepth 1 (one blocking call at a time, as plugvm's worker)."
for mode in $modes; do
    case $mode in
        writeback) echo "mode writeback: plugvm cache=\"writeback\", QEMU cache=writeback (aio=threads, aio=io_uring), fio buffered; page cache hot" ;;
        none) echo "mode none: plugvm cache=\"none\", QEMU cache=none (aio=threads, aio=io_uring), fio direct=1 (O_DIRECT)" ;;
    esac
    row phase plugvm QEMU "QEMU io_uring" "fio psync" "fio io_uring qd$qd" pv/QEMU pv/psync pv/io_uring
    for p in $phases; do
        row "$p" "$(cell "$mode" plugvm "$p")" "$(cell "$mode" qemu "$p")" "$(cell "$mode" qemu_uring "$p")" \
            "$(cell "$mode" fio-psync "$p")" "$(cell "$mode" fio-io_uring "$p")" \
            "$(ratio "$mode" plugvm qemu "$p")" "$(ratio "$mode" plugvm fio-psync "$p")" \
            "$(ratio "$mode" plugvm fio-io_uring "$p")"
    done
done
echo "Every run's MiB/s, in order (the spread shows how noisy the machine was):"
for mode in $modes; do
    for which in $vmms fio-psync fio-io_uring; do
        for p in $phases; do
            f=$tmp/res/$mode.$which.$p
            [ -s "$f" ] && printf '  %-9s %-12s %-10s %s\n' "$mode" "$which" "$p" "$(cut -d' ' -f1 "$f" | tr '\n' ' ')"
        done
    done
done
awk -v s="$start" -v e="$(date +%s.%N)" -v l="$(load)" \
    'BEGIN { printf "total time: %.0f s (load average now %s)\n", e - s, l }'
[ $failed -eq 0 ] || { echo "bench-blk: FAILED: some runs failed (see above)"; exit 1; }
