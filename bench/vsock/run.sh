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
# close). QEMU's vhost-vsock-device is measured only where /dev/vhost-vsock
# exists; it is not yet, so the line says so.
#
# usage: run.sh BUILD_DIR
# environment: RUNS (3), MIB (256; 16 in the nested host), CONNS (500; 50
#   in the nested host)
# Prints the commands, then a table of medians and ratios; exits 1 when a
# run failed (never on ratios). Without a usable KVM here it runs itself
# inside the nested VM host (bench/README.md).
set -u
export LC_ALL=C
[ $# -eq 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
build=$(cd "$1" && pwd) || exit 2
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
. "$here/../lib.sh"
bench_vmhost "$build" "$0" "$build"
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
pid= acc=
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
echo "commands:"
echo "  plugvm:   $(q "$plugvm" run --timeout 1800 "$tmp/vm.cfg"), config:"
sed 's/^/            /' "$tmp/vm.cfg"
echo "  g -> h:   host $(q "$vb" sink "${uds}_5001"); guest vsock-tool blast 2 5001 $bytes"
echo "  h -> g:   guest vsock-tool sink 5002; host $(q "$vb" source "$uds" 5002 $bytes)"
echo "  conn h-g: guest vsock-tool acceptor 5004; host $(q "$vb" conns "$uds" 5004 $conns)"
echo "  conn g-h: host $(q "$vb" acceptor "${uds}_5005"); guest vsock-tool conns 2 5005 $conns"
echo "  AF_UNIX:  $(q "$vb" pair $bytes); $(q "$vb" unix-conns $conns)"
echo

# --- The VM ---
mkfifo "$tmp/in"
exec 5<>"$tmp/in"
"$plugvm" run --timeout 1800 "$tmp/vm.cfg" <"$tmp/in" >"$tmp/console" 2>"$tmp/stderr" 5>&- &
pid=$!
fail() { echo "bench-vsock: $*"; tail -n 20 "$tmp/console" "$tmp/stderr"; exit 1; }
wait_line "$tmp/console" $pid 300 '^E2E-VSOCK-READY cid ' || { why_not $? $pid 300; fail "no READY line: $why"; }
k=0
# guest CMD: the guest's init runs CMD; its output in $res, status in $st.
guest() {
    k=$((k + 1))
    echo "$1" >&5
    wait_line "$tmp/console" $pid 900 "^E2E-VSOCK-DONE $k " || { why_not $? $pid 900; fail "'$1': $why"; }
    line=$(con "$tmp/console" | grep "^E2E-VSOCK-DONE $k " | head -n 1)
    st=$(echo "$line" | cut -d' ' -f3) res=$(echo "$line" | cut -d' ' -f4-)
}
guest "vsock-tool sink 5002 >/dev/null 2>&1 &"
guest "vsock-tool acceptor 5004 >/dev/null 2>&1 &"
"$vb" acceptor "${uds}_5005" &
acc=$!
value() { sed -n "s/^RESULT $1 \([0-9.]*\) .*/\1/p"; }

for r in $(seq "$runs"); do
    v=$("$vb" pair $bytes | value pair) && [ -n "$v" ] || fail "vsockbench pair failed"
    echo "$v" >>"$tmp/pair"
    v=$("$vb" unix-conns $conns | value unix-conns) && [ -n "$v" ] || fail "vsockbench unix-conns failed"
    echo "$v" >>"$tmp/unix-conns"

    rm -f "${uds}_5001"
    "$vb" sink "${uds}_5001" >"$tmp/sink.out" &
    sp=$!
    for _ in $(seq 100); do [ -S "${uds}_5001" ] && break; sleep 0.05; done
    guest "vsock-tool blast 2 5001 $bytes"
    wait $sp
    [ "$st" = 0 ] || fail "guest blast: status $st: $res"
    grep -q "^RESULT sink-bytes $bytes " "$tmp/sink.out" || fail "the host's sink got $(cat "$tmp/sink.out")"
    value sink <"$tmp/sink.out" >>"$tmp/g2h"

    v=$(timeout 900 "$vb" source "$uds" 5002 $bytes | value source) && [ -n "$v" ] || fail "host -> guest failed"
    echo "$v" >>"$tmp/h2g"
    v=$(timeout 900 "$vb" conns "$uds" 5004 $conns | value conns) && [ -n "$v" ] || fail "host -> guest connections failed"
    echo "$v" >>"$tmp/c_h2g"
    guest "vsock-tool conns 2 5005 $conns"
    [ "$st" = 0 ] || fail "guest connections: status $st: $res"
    set -- $res
    awk -v n="$1" -v ms="$2" 'BEGIN { printf "%.1f\n", n * 1000 / (ms > 0 ? ms : 1) }' >>"$tmp/c_g2h"
    echo "run $r: g->h $(tail -n 1 "$tmp/g2h") MiB/s, h->g $(tail -n 1 "$tmp/h2g") MiB/s," \
        "conn/s h->g $(tail -n 1 "$tmp/c_h2g"), g->h $(tail -n 1 "$tmp/c_g2h");" \
        "AF_UNIX $(tail -n 1 "$tmp/pair") MiB/s, $(tail -n 1 "$tmp/unix-conns") conn/s"
done
echo quit >&5
wait_end $pid 30 || kill -9 $pid
pid=

median() { sort -n "$1" | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
row() { # NAME FILE BASE_FILE UNIT
    awk -v n="$1" -v a="$(median "$2")" -v b="$(median "$3")" -v u="$4" \
        'BEGIN { printf "  %-22s %10.1f %10.1f   %-6s %6.3f\n", n, a, b, u, (b > 0 ? a / b : 0) }'
}
echo
echo "medians of $runs runs         plugvm    AF_UNIX   unit   plugvm/AF_UNIX"
row "guest -> host" "$tmp/g2h" "$tmp/pair" "MiB/s"
row "host -> guest" "$tmp/h2g" "$tmp/pair" "MiB/s"
row "connections h -> g" "$tmp/c_h2g" "$tmp/unix-conns" "conn/s"
row "connections g -> h" "$tmp/c_g2h" "$tmp/unix-conns" "conn/s"
if [ -c /dev/vhost-vsock ]; then
    echo "  QEMU vhost-vsock-device: /dev/vhost-vsock exists, but this benchmark does not run QEMU yet"
else
    echo "  QEMU vhost-vsock-device: not measured (no /dev/vhost-vsock on this host)"
fi
