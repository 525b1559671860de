#!/bin/bash
# The hello guest boots (PVH), prints its line on COM1 and resets: exit 0.
# usage: hello.sh PLUGVM SOURCE_DIR BUILD_DIR
set -u
plugvm=$1 src=$2
if [ ! -c /dev/kvm ] || [ ! -w /dev/kvm ]; then
    echo "SKIP: /dev/kvm is absent or not writable: in-VM tests need KVM"; exit 77
fi
out=$(timeout 20 "$plugvm" run "$src/etc/examples/hello.cfg" 2>/tmp/hello.err.$$)
status=$?
err=$(cat /tmp/hello.err.$$); rm -f /tmp/hello.err.$$
[ "$status" -eq 0 ] || { echo "FAIL: exit status $status; stderr: $err"; exit 1; }
[ "$out" = "hello from the plugvm hello guest" ] || { echo "FAIL: stdout was '$out'"; exit 1; }
echo "ok: hello guest"
