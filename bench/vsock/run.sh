#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# virtio-vsock benchmark (bench/vsock/README.md): Debian's kernel with the
# e2e initramfs (Linux's own vmw_vsock_virtio_transport, guest/e2e/vsock-tool)
# under plugvm's vsock plugin, against the same transfers over a plain
# AF_UNIX socket pair on this host, the ceiling any Unix-socket backend
# (Firecracker's scheme, plugvm's) has. Measured in one boot, RUNS times:
#
#   guest -> host   the guest writes MIB MiB in 64 KiB writes to CID 2 port
#                   5001; timed on the host from accept to EOF at <uds>_5001
#   host -> guest   the host writes MIB MiB in 64 KiB writes through
#                   "CONNECT 5002"; timed from OK to the guest's close after EOF
#   conn/s h -> g   CONNS times: connect uds_path, CONNECT 5004, read OK, close
#   conn/s g -> h   CONNS guest connects to <uds>_5005, each closed at once
#                   (timed by the guest's clock, which kvmclock keeps true)
#
# and, as baselines, `vsockbench pair` (the same bytes through a socketpair
# between two processes) and `vsockbench unix-conns` (connect, accept,
# close); and QEMU microvm's vhost-vsock-device, with the same guest, where
# this host has /dev/vhost-vsock (the nested VM host loads vhost_vsock).
#
# usage: run.sh BUILD_DIR
# environment: RUNS (3), MIB (256; 16 in the nested host), CONNS (500; 50
#   in the nested host)
# Prints the commands, then a table of medians and ratios; exits 1 when a
# run failed (never on ratios). Without a usable KVM here it runs itself
# inside the nested VM host (bench/README.md).
# QEMU's options hold commas, which shellcheck takes for array-syntax slips.
# shellcheck disable=SC2054
set -u
export LC_ALL=C
. "$(dirname "$0")/../lib.sh"
bench_start "$@"
if [ "${PLUGVM_VMHOST:-}" = nested ]; then
    mib=${MIB:-16} conns=${CONNS:-50}
else
    mib=${MIB:-256} conns=${CONNS:-500}
fi
runs=${RUNS:-3} bytes=$((mib * 1048576))
plugvm=$build/core/plugvm vb=$build/bench/vsock/vsockbench
kernel=$build/images/debian-cloud-vmlinuz initrd=$build/e2e/e2e-initramfs.cpio.gz
for f in "$plugvm" "$vb" "$build/plugins/plugvm-kvm.so" "$build/plugins/plugvm-vsock.so" "$kernel" "$initrd"; do
    [ -e "$f" ] || { echo "bench-vsock: $f missing: build plugvm kvm vsock bench_vsock_vsockbench;" \
        "scripts/images.sh $build; guest/e2e/make-initramfs.sh $build $initrd" >&2; exit 1; }
done
. "$repo/tests/e2e/lib.sh"

tmp=$(mktemp -d)
pid='' acc='' vmm=plugvm
trap '[ -n "$pid" ] && kill -9 $pid 2>/dev/null; [ -n "$acc" ] && kill $acc 2>/dev/null; rm -rf "$tmp"' EXIT
uds=$tmp/v.sock
cat >"$tmp/vm.cfg" <<CFG
vm = {
  vcpus = 2;
  memory_mib = 512;
  kernel = "$kernel";
  initrd = "$initrd";
  cmdline = "console=ttyS0 quiet reboot=k panic=-1 e2e=vsock";
  exit_port = true;
};
devices = ( { plugin = "vsock"; guest_cid = 42; uds_path = "$uds"; } );
CFG

echo "bench/vsock: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, load $(load)"
bench_where
echo "   $runs runs; $mib MiB each way in 64 KiB writes; $conns connections each way"
qemu=$(command -v qemu-system-x86_64) || qemu=
qemu_why=
if [ -z "$qemu" ]; then
    qemu_why="qemu-system-x86_64 is not installed"
elif [ ! -c /dev/vhost-vsock ] || [ ! -w /dev/vhost-vsock ]; then
    qemu_why="no /dev/vhost-vsock on this host (modprobe vhost_vsock)"
fi
# QEMU: microvm with the same kernel, initramfs, vCPUs, memory and command
# line, and vhost-vsock-device (the kernel's vhost_vsock serves the queues;
# the host side is AF_VSOCK to the guest's CID, 43 here). "-cpu host" alone
# aborts on some KVMs ("failed to set MSR 0x10a"), hence -arch-capabilities.
qcmd=("$qemu" -M microvm -enable-kvm -cpu host,-arch-capabilities -smp 2 -m 512
      -nodefaults -no-user-config -display none -serial stdio -no-reboot
      -global virtio-mmio.force-legacy=false -kernel "$kernel" -initrd "$initrd"
      -append "console=ttyS0 quiet reboot=k panic=-1 e2e=vsock"
      -device vhost-vsock-device,guest-cid=43)

echo "commands:"
echo "  plugvm:   $(q "$plugvm" run --timeout 1800 "$tmp/vm.cfg"), config:"
sed 's/^/            /' "$tmp/vm.cfg"
echo "  g -> h:   host $(q "$vb" sink "${uds}_5001"); guest vsock-tool blast 2 5001 $bytes"
echo "  h -> g:   guest vsock-tool sink 5002; host $(q "$vb" source "$uds" 5002 $bytes)"
echo "  conn h-g: guest vsock-tool acceptor 5004; host $(q "$vb" conns "$uds" 5004 $conns)"
echo "  conn g-h: host $(q "$vb" acceptor "${uds}_5005"); guest vsock-tool conns 2 5005 $conns"
echo "  AF_UNIX:  $(q "$vb" pair $bytes); $(q "$vb" unix-conns $conns)"
if [ -z "$qemu_why" ]; then
    echo "  QEMU:     $(q "${qcmd[@]}")"
    echo "            the same guest commands; host: $vb sink vsock:5001, vsource 43 5002 $bytes,"
    echo "            vconns 43 5004 $conns, acceptor vsock:5005"
else
    echo "  QEMU vhost-vsock-device: not measured: $qemu_why"
fi
echo

fail() { echo "bench-vsock: $*"; tail -n 20 "$tmp/$vmm.console" "$tmp/$vmm.stderr"; exit 1; }
# boot NAME CMD...: a VM with its console on a FIFO, up to the e2e init's
# READY line; sets pid and k.
boot() {
    vmm=$1
    shift
    mkfifo "$tmp/$vmm.in"
    exec 5<>"$tmp/$vmm.in"
    "$@" <"$tmp/$vmm.in" >"$tmp/$vmm.console" 2>"$tmp/$vmm.stderr" 5>&- &
    pid=$!
    k=0
    wait_line "$tmp/$vmm.console" $pid 300 '^E2E-VSOCK-READY cid ' ||
        { why_not $? $pid 300; fail "$vmm: no READY line: $why"; }
}
# guest CMD: the guest's init runs CMD; its output in $res, status in $st.
guest() {
    k=$((k + 1))
    echo "$1" >&5
    wait_line "$tmp/$vmm.console" $pid 900 "^E2E-VSOCK-DONE $k " ||
        { why_not $? $pid 900; fail "$vmm: '$1': $why"; }
    line=$(con "$tmp/$vmm.console" | grep "^E2E-VSOCK-DONE $k " | head -n 1)
    st=$(echo "$line" | cut -d' ' -f3) res=$(echo "$line" | cut -d' ' -f4-)
}
shutdown_vm() {
    echo quit >&5
    wait_end $pid 30 || kill -9 $pid
    wait $pid 2>/dev/null
    pid=
    exec 5>&-
}
value() { sed -n "s/^RESULT $1 \([0-9.]*\) .*/\1/p"; }

# measure: RUNS rounds against the booted VM ($vmm: plugvm or qemu; how the
# host reaches it differs), each figure appended to $tmp/$vmm.*.
measure() {
    local r sink_at acc_at
    if [ "$vmm" = plugvm ]; then sink_at=${uds}_5001 acc_at=${uds}_5005
    else sink_at=vsock:5001 acc_at=vsock:5005
    fi
    guest "vsock-tool sink 5002 >/dev/null 2>&1 &"
    guest "vsock-tool acceptor 5004 >/dev/null 2>&1 &"
    "$vb" acceptor "$acc_at" &
    acc=$!
    for r in $(seq "$runs"); do
        if [ "$vmm" = plugvm ]; then
            v=$("$vb" pair $bytes | value pair) && [ -n "$v" ] || fail "vsockbench pair failed"
            echo "$v" >>"$tmp/unix.g2h"
            echo "$v" >>"$tmp/unix.h2g"
            v=$("$vb" unix-conns $conns | value unix-conns) && [ -n "$v" ] || fail "vsockbench unix-conns failed"
            echo "$v" >>"$tmp/unix.c_h2g"
            echo "$v" >>"$tmp/unix.c_g2h"
        fi

        rm -f "${uds}_5001"
        "$vb" sink "$sink_at" >"$tmp/sink.out" &
        local sp=$!
        sleep 0.2
        [ "$vmm" = plugvm ] && for _ in $(seq 100); do [ -S "${uds}_5001" ] && break; sleep 0.05; done
        guest "vsock-tool blast 2 5001 $bytes"
        wait $sp
        [ "$st" = 0 ] || fail "$vmm: guest blast: status $st: $res"
        grep -q "^RESULT sink-bytes $bytes " "$tmp/sink.out" || fail "$vmm: the host's sink got $(cat "$tmp/sink.out")"
        value sink <"$tmp/sink.out" >>"$tmp/$vmm.g2h"

        if [ "$vmm" = plugvm ]; then
            v=$(timeout 900 "$vb" source "$uds" 5002 $bytes | value source)
        else
            v=$(timeout 900 "$vb" vsource 43 5002 $bytes | value source)
        fi
        [ -n "$v" ] || fail "$vmm: host -> guest failed"
        echo "$v" >>"$tmp/$vmm.h2g"
        if [ "$vmm" = plugvm ]; then
            v=$(timeout 900 "$vb" conns "$uds" 5004 $conns | value conns)
        else
            v=$(timeout 900 "$vb" vconns 43 5004 $conns | value conns)
        fi
        [ -n "$v" ] || fail "$vmm: host -> guest connections failed"
        echo "$v" >>"$tmp/$vmm.c_h2g"
        guest "vsock-tool conns 2 5005 $conns"
        [ "$st" = 0 ] || fail "$vmm: guest connections: status $st: $res"
        # shellcheck disable=SC2086 # "N MS"
        set -- $res
        awk -v n="$1" -v ms="$2" 'BEGIN { printf "%.1f\n", n * 1000 / (ms > 0 ? ms : 1) }' >>"$tmp/$vmm.c_g2h"
        local base=
        [ "$vmm" = plugvm ] &&
            base="; AF_UNIX $(tail -n 1 "$tmp/unix.g2h") MiB/s, $(tail -n 1 "$tmp/unix.c_g2h") conn/s"
        echo "$vmm run $r: g->h $(tail -n 1 "$tmp/$vmm.g2h") MiB/s, h->g $(tail -n 1 "$tmp/$vmm.h2g") MiB/s," \
            "conn/s h->g $(tail -n 1 "$tmp/$vmm.c_h2g"), g->h $(tail -n 1 "$tmp/$vmm.c_g2h")$base"
    done
    kill $acc 2>/dev/null
    wait $acc 2>/dev/null
    acc=
}


median() { sort -n "$1" | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
row() { # NAME UNIT KEY: plugvm, AF_UNIX, QEMU and the ratios
    local p u qv=- qr=-
    p=$(median "$tmp/plugvm.$3") u=$(median "$tmp/unix.$3")
    if [ -s "$tmp/qemu.$3" ]; then
        qv=$(median "$tmp/qemu.$3")
        qr=$(awk -v a="$p" -v b="$qv" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }')
    fi
    awk -v n="$1" -v a="$p" -v b="$u" -v c="$qv" -v u="$2" -v qr="$qr" \
        'BEGIN { printf "  %-20s %-6s %9.1f %9.1f %9s %9.3f %9s\n", n, u, a, b, c, (b > 0 ? a / b : 0), qr }'
}
table() {
    echo
    echo "medians of $runs runs       unit      plugvm   AF_UNIX      QEMU  /AF_UNIX     /QEMU"
    row "guest -> host" "MiB/s" g2h
    row "host -> guest" "MiB/s" h2g
    row "connections h -> g" "conn/s" c_h2g
    row "connections g -> h" "conn/s" c_g2h
}

boot plugvm "$plugvm" run --timeout 1800 "$tmp/vm.cfg"
measure
shutdown_vm
if [ -n "$qemu_why" ]; then
    table
    echo "  QEMU vhost-vsock-device: not measured: $qemu_why"
    exit 0
fi
# plugvm's figures first: the nested host has been seen to hang with QEMU
# and vhost-vsock running in it, and then there is no later table.
table
echo "  (QEMU's column follows)"
boot qemu "${qcmd[@]}"
measure
kill -9 $pid # its figures are in; no guest shutdown to wait on
wait $pid 2>/dev/null
pid=
table
