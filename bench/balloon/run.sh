#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# virtio-balloon benchmark (bench/balloon/README.md): one guest (Debian's
# kernel, the e2e initramfs, its `balloon` case; 1 GiB of RAM) under
# plugvm's balloon plugin and under QEMU microvm's virtio-balloon-device,
# the same kernel, initramfs and memory. In each, every run:
#   the guest touches 768 MiB and frees it (the VMM's RSS holds it);
#   the balloon's target becomes 768 MiB (plugvm balloon set 768; QEMU's
#   QMP `balloon` to 256 MiB of guest RAM): time until the guest's driver
#   reports it holds 768 MiB, and the VMM's RSS then (smaps_rollup);
#   the target goes back to 0: time until the driver holds nothing.
# Times are the host's, from the request to the first poll (every 50 ms)
# that sees the driver's figure reach the target. Printed with the ratios
# plugvm/QEMU (lower is better for all three).
#
# usage: run.sh BUILD_DIR     environment: RUNS (3)
# Without a usable KVM here it runs itself inside the nested VM host
# (bench/README.md): compare ratios only there.
# QEMU's options hold commas, which shellcheck takes for array-syntax slips.
# shellcheck disable=SC2054
set -u
export LC_ALL=C
. "$(dirname "$0")/../lib.sh"
bench_start "$@"
runs=${RUNS:-3}
plugvm=$build/core/plugvm
kernel=$build/images/debian-cloud-vmlinuz initrd=$build/e2e/e2e-initramfs.cpio.gz
for f in "$plugvm" "$build/plugins/plugvm-kvm.so" "$build/plugins/plugvm-balloon.so" "$kernel" "$initrd"; do
    [ -e "$f" ] || { echo "bench-balloon: $f missing: build plugvm kvm balloon; scripts/images.sh $build" >&2
        exit 1; }
done
command -v socat >/dev/null || { echo "bench-balloon: socat is not installed (scripts/deps.sh)" >&2; exit 1; }
. "$repo/tests/e2e/lib.sh"

tmp=$(mktemp -d)
pid='' vmm=plugvm
trap '[ -n "$pid" ] && kill -9 $pid 2>/dev/null; rm -rf "$tmp"' EXIT
cmdline="console=ttyS0 quiet reboot=k panic=-1 e2e=balloon"
cat >"$tmp/vm.cfg" <<CFG
vm = {
  vcpus = 1;
  memory_mib = 1024;
  kernel = "$kernel";
  initrd = "$initrd";
  cmdline = "$cmdline";
  exit_port = true;
};
devices = ( { plugin = "balloon"; } );
CFG
qemu=$(command -v qemu-system-x86_64) || qemu=
qcmd=("$qemu" -M microvm -enable-kvm -cpu host,-arch-capabilities -m 1024
      -nodefaults -no-user-config -display none -serial stdio -no-reboot
      -global virtio-mmio.force-legacy=false -kernel "$kernel" -initrd "$initrd"
      -append "$cmdline" -device virtio-balloon-device -qmp "unix:$tmp/qmp.sock,server=on,wait=off")

echo "bench/balloon: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, load $(load)"
bench_where
echo "   $runs runs: inflate 768 MiB of a 1 GiB guest that touched 768 MiB, then deflate"
echo "commands:"
echo "  plugvm: $(q "$plugvm" run --api "$tmp/api.sock" "$tmp/vm.cfg"), config:"
sed 's/^/          /' "$tmp/vm.cfg"
echo "          $(q "$plugvm" balloon --api "$tmp/api.sock") set 768 | set 0 | get"
if [ -n "$qemu" ]; then
    echo "  QEMU:   $(q "${qcmd[@]}")"
    echo "          QMP: balloon {\"value\": 268435456 | 1073741824}, query-balloon"
else
    echo "  QEMU: not installed: its column is empty"
fi
echo

fail() { echo "bench-balloon: $*"; tail -n 20 "$tmp/$vmm.console" "$tmp/$vmm.stderr"; exit 1; }
boot() { # NAME CMD...: a VM with its console on a FIFO, up to init's READY line
    vmm=$1
    shift
    rm -f "$tmp/$vmm.in"
    mkfifo "$tmp/$vmm.in"
    exec 5<>"$tmp/$vmm.in"
    "$@" <"$tmp/$vmm.in" >"$tmp/$vmm.console" 2>"$tmp/$vmm.stderr" 5>&- &
    pid=$!
    k=0
    wait_line "$tmp/$vmm.console" $pid 300 '^E2E-BALLOON-READY ' ||
        { why_not $? $pid 300; fail "$vmm: no READY line: $why"; }
}
guest() { # CMD: the guest's init runs CMD; status in $st
    k=$((k + 1))
    echo "$1" >&5
    wait_line "$tmp/$vmm.console" $pid 900 "^E2E-BALLOON-DONE $k " ||
        { why_not $? $pid 900; fail "$vmm: '$1': $why"; }
    st=$(con "$tmp/$vmm.console" | grep "^E2E-BALLOON-DONE $k " | head -n 1 | cut -d' ' -f3)
}
shutdown_vm() {
    echo quit >&5
    wait_end $pid 30 || kill -9 $pid
    wait $pid 2>/dev/null
    pid=
    exec 5>&-
}
rss_mib() { awk '/^Rss:/ { printf "%d\n", $2 / 1024 }' "/proc/$1/smaps_rollup"; }
qmp() { # COMMAND-JSON: its answer line
    printf '{"execute":"qmp_capabilities"}\n%s\n' "$1" |
        timeout 10 socat -t 2 - "UNIX-CONNECT:$tmp/qmp.sock" | grep '"return"' | tail -n 1
}
# The driver's balloon size in MiB: plugvm's actual; QEMU's actual is the
# guest RAM left (bytes).
held_mib() {
    if [ "$vmm" = plugvm ]; then
        "$plugvm" balloon --api "$tmp/api.sock" get | sed -n 's/.*"actual_mib":\([0-9]*\).*/\1/p'
    else
        qmp '{"execute":"query-balloon"}' | sed -n 's/.*"actual": *\([0-9]*\).*/\1/p' |
            awk '{ printf "%d\n", 1024 - $1 / 1048576 }'
    fi
}
set_balloon() { # MIB: the balloon's target size
    if [ "$vmm" = plugvm ]; then
        "$plugvm" balloon --api "$tmp/api.sock" set "$1" >/dev/null || fail "plugvm balloon set $1 failed"
    else
        qmp "{\"execute\":\"balloon\",\"arguments\":{\"value\":$(((1024 - $1) * 1048576))}}" | grep -q return ||
            fail "QMP balloon failed"
    fi
}
timed_to() { # MIB: sets the target, prints seconds until the driver holds MIB
    local t0 h
    t0=$EPOCHREALTIME
    set_balloon "$1"
    for _ in $(seq 12000); do
        h=$(held_mib)
        [ "$h" = "$1" ] && { awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f\n", b - a }'; return 0; }
        sleep 0.05
    done
    fail "$vmm: the driver holds ${h:-?} MiB 600 s after the target became $1 MiB"
}
measure() {
    for r in $(seq "$runs"); do
        guest "mem-tool touch 768"
        [ "$st" = 0 ] || fail "$vmm: the guest could not touch 768 MiB (status $st)"
        rss0=$(rss_mib $pid)
        timed_to 768 >>"$tmp/$vmm.inflate"
        rss1=$(rss_mib $pid)
        echo "$rss1" >>"$tmp/$vmm.rss"
        timed_to 0 >>"$tmp/$vmm.deflate"
        echo "$vmm run $r: RSS $rss0 MiB after the touch, $rss1 MiB inflated (in $(tail -n 1 "$tmp/$vmm.inflate") s);" \
            "deflated in $(tail -n 1 "$tmp/$vmm.deflate") s"
    done
}

boot plugvm "$plugvm" run --api "$tmp/api.sock" --timeout 3600 "$tmp/vm.cfg"
measure
shutdown_vm
if [ -n "$qemu" ]; then
    boot qemu "${qcmd[@]}"
    measure
    shutdown_vm
fi

median() { [ -s "$1" ] || { echo -; return; }
    sort -n "$1" | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f", a / b }'; }
echo
printf '%-34s %10s %10s %14s\n' "figure (median)" "plugvm" "QEMU" "plugvm/QEMU"
for f in inflate deflate rss; do
    case $f in inflate) label="inflate 768 MiB (s)" ;; deflate) label="deflate 768 MiB (s)" ;;
        rss) label="RSS inflated (MiB)" ;; esac
    p=$(median "$tmp/plugvm.$f") qv=$(median "$tmp/qemu.$f")
    printf '%-34s %10s %10s %14s\n' "$label" "$p" "$qv" "$(ratio "$p" "$qv")"
done
