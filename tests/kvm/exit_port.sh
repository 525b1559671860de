#!/bin/bash
# vm.exit_port: the guest's status reaches plugvm's exit status. The test
# guest writes its failure count to port 0xf4 before it resets; with
# exit_port on, plugvm exits with that count (0 when all passed), with it
# off the write is ignored and the reset gives 0.
# usage: exit_port.sh PLUGVM SOURCE_DIR BUILD_DIR
set -u
plugvm=$1
if [ ! -c /dev/kvm ] || [ ! -w /dev/kvm ]; then
    echo "SKIP: /dev/kvm is absent or not writable: in-VM tests need KVM"; exit 77
fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
run() { # EXIT_PORT EXPECT_ID -> prints plugvm's exit status
    printf 'vm = { memory_mib = 64; kernel = "testguest.elf"; exit_port = %s;\n  cmdline = "test=transport expect_id=%s"; };\ndevices = ( { plugin = "rng"; } );\n' "$1" "$2" >"$tmp/vm.cfg"
    timeout 60 "$plugvm" run "$tmp/vm.cfg" >"$tmp/out" 2>&1 </dev/null
    echo $?
}
s=$(run true 4);  [ "$s" -eq 0 ] || { echo "FAIL: all passed, status $s"; cat "$tmp/out"; exit 1; }
s=$(run true 9);  fails=$(tr -d '\r' <"$tmp/out" | grep -c '^not ok')
[ "$fails" -ge 1 ] && [ "$s" -eq "$fails" ] || { echo "FAIL: $fails failed, status $s"; cat "$tmp/out"; exit 1; }
s=$(run false 9); [ "$s" -eq 0 ] || { echo "FAIL: exit_port off, status $s"; exit 1; }
echo "ok: the guest's failure count ($fails) became plugvm's exit status"
