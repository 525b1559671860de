#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# test=vsock under plugvm with the vsock plugin: the test guest's own
# virtio-vsock driver (guest/testguest/test_vsock.c) connects to CID 2
# port 5000, which Firecracker's scheme maps to the Unix socket
# <uds_path>_5000; there socat (Debian's, not ours) echoes. Port 5999 has
# no listener: the guest must get RST. After plugvm exits, the listener
# socket plugvm made at uds_path must be gone.
# usage: vsock.sh PLUGVM SOURCE_DIR BUILD_DIR
set -u
plugvm=$1 src=$2 build=$3
if [ ! -c /dev/kvm ] || [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
    echo "SKIP: /dev/kvm is absent or not readable and writable: in-VM tests need KVM"
    exit 77
fi
for f in "$build/plugins/plugvm-vsock.so" "$build/images/testguest.elf"; do
    [ -f "$f" ] || { echo "SKIP: $f is not built"; exit 77; }
done
command -v socat >/dev/null || { echo "SKIP: socat is not installed (scripts/deps.sh installs it)"; exit 77; }

tmp=$(mktemp -d)
echo_pid=
trap '[ -n "$echo_pid" ] && kill "$echo_pid" 2>/dev/null; rm -rf "$tmp"' EXIT
uds=$tmp/v.sock cid=77
socat UNIX-LISTEN:"${uds}_5000",fork,backlog=128 EXEC:cat,nofork 2>"$tmp/socat.err" &
echo_pid=$!
for _ in $(seq 50); do [ -S "${uds}_5000" ] && break; sleep 0.1; done
[ -S "${uds}_5000" ] || { echo "FAIL: socat did not listen at ${uds}_5000"; cat "$tmp/socat.err"; exit 1; }

cat >"$tmp/vm.cfg" <<CFG
vm = {
  memory_mib = 64;
  kernel = "testguest.elf";
  cmdline = "test=vsock vsock_cid=$cid vsock_port=5000 vsock_refused=5999";
};
devices = ( { plugin = "vsock"; guest_cid = $cid; uds_path = "$uds"; } );
CFG
"$src/guest/testguest/run-tap.sh" "$plugvm" "$tmp/vm.cfg" 60 || exit $?
if [ -e "$uds" ]; then
    echo "FAIL: plugvm left its uds_path socket $uds behind"
    exit 1
fi
echo "PASS (host): $uds removed at exit"
