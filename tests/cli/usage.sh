#!/bin/bash
# The CLI's help, version, exit statuses and error messages.
# usage: usage.sh PLUGVM SOURCE_DIR BUILD_DIR
set -u
plugvm=$1 src=$2
fail() { echo "FAIL: $*"; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

out=$("$plugvm" --help) || fail "--help exited $?"
grep -q "usage: plugvm" <<<"$out" || fail "--help: no usage line"
grep -q "run FILE" <<<"$out" || fail "--help does not list run"
out=$("$plugvm" run --help) || fail "run --help exited $?"
grep -q -- "--timeout SECONDS" <<<"$out" || fail "run --help lacks --timeout"
out=$("$plugvm" --version) || fail "--version exited $?"
grep -Eq "^plugvm [0-9]+\.[0-9]+\.[0-9]+ \(plugin ABI 1\.[0-9]+\)$" <<<"$out" || fail "--version: '$out'"

"$plugvm" frobnicate 2>"$tmp/err"; [ $? -eq 2 ] || fail "unknown command: status not 2"
grep -q "unknown command 'frobnicate'" "$tmp/err" || fail "unknown command: no message"
"$plugvm" run 2>/dev/null; [ $? -eq 2 ] || fail "run without FILE: status not 2"
"$plugvm" run --timeout abc x.cfg 2>"$tmp/err"; [ $? -eq 2 ] || fail "bad --timeout: status not 2"
grep -q "expected a number of seconds" "$tmp/err" || fail "bad --timeout: no message"

# A config mistake stops plugvm before anything starts, naming file and line.
printf 'vm = {\n  memory_mib = 64;\n  vcpus = 1000;\n  kernel = "hello.elf";\n};\n' >"$tmp/bad.cfg"
"$plugvm" run "$tmp/bad.cfg" 2>"$tmp/err"; [ $? -eq 1 ] || fail "bad config: status not 1"
grep -q "$tmp/bad.cfg:3: setting 'vm.vcpus' = 1000 is out of range" "$tmp/err" ||
    fail "bad config message: $(cat "$tmp/err")"

# A missing backend plugin is named.
printf 'vm = { backend = "nosuch"; memory_mib = 64; kernel = "hello.elf"; };\n' >"$tmp/nb.cfg"
"$plugvm" run "$tmp/nb.cfg" 2>"$tmp/err"; [ $? -eq 1 ] || fail "missing backend: status not 1"
grep -q "plugin 'nosuch' not found" "$tmp/err" || fail "missing backend: $(cat "$tmp/err")"

# A corrupt kernel is refused with its name, never a crash.
head -c 700 /dev/urandom >"$tmp/junk"
printf 'vm = { memory_mib = 64; kernel = "junk"; };\n' >"$tmp/junk.cfg"
"$plugvm" run "$tmp/junk.cfg" 2>"$tmp/err"; [ $? -eq 1 ] || fail "junk kernel: status not 1"
grep -q "$tmp/junk" "$tmp/err" || fail "junk kernel: $(cat "$tmp/err")"

# A device's settings are checked against its plugin's own table.
build=$3 good=$3/tests/plugins/plugvm-good.so
printf 'vm = { memory_mib = 64; kernel = "hello.elf"; };\ndevices = (\n { plugin = "%s"; path = "x";\n  bogus = 1; }\n);\n' "$good" >"$tmp/dev.cfg"
"$plugvm" run "$tmp/dev.cfg" 2>"$tmp/err"; [ $? -eq 1 ] || fail "bad device setting: status not 1"
grep -q "$tmp/dev.cfg:4: unknown setting 'devices\[0\].bogus'; expected one of: path queues" "$tmp/err" ||
    fail "bad device setting: $(cat "$tmp/err")"
printf 'vm = { memory_mib = 64; kernel = "hello.elf"; };\ndevices = ( { plugin = "%s"; queues = 9; } );\n' "$good" >"$tmp/dev.cfg"
"$plugvm" run "$tmp/dev.cfg" 2>"$tmp/err"; [ $? -eq 1 ] || fail "device range: status not 1"
grep -q "setting 'devices\[0\].queues' = 9 is out of range" "$tmp/err" || fail "device range: $(cat "$tmp/err")"
printf 'vm = { memory_mib = 64; kernel = "hello.elf"; };\ndevices = ( { plugin = "%s"; } );\n' "$good" >"$tmp/dev.cfg"
"$plugvm" run "$tmp/dev.cfg" 2>"$tmp/err"; [ $? -eq 1 ] || fail "device required: status not 1"
grep -q "missing setting 'devices\[0\].path'" "$tmp/err" || fail "device required: $(cat "$tmp/err")"
printf 'vm = { memory_mib = 64; kernel = "hello.elf"; };\ndevices = ( { plugin = "%s"; } );\n' "$build/plugins/plugvm-kvm.so" >"$tmp/dev.cfg"
"$plugvm" run "$tmp/dev.cfg" 2>"$tmp/err"; [ $? -eq 1 ] || fail "backend as device: status not 1"
grep -q "is a backend plugin; a device plugin is needed" "$tmp/err" || fail "backend as device: $(cat "$tmp/err")"

# plugvm acpi writes the tables a VM would get, one file each.
printf 'vm = { vcpus = 3; memory_mib = 64; kernel = "hello.elf"; };\ndevices = ( { plugin = "%s"; path = "x"; } );\n' "$good" >"$tmp/acpi.cfg"
"$plugvm" acpi "$tmp/acpi.cfg" "$tmp/acpi" || fail "plugvm acpi exited $?"
for t in rsdp xsdt facp apic dsdt; do [ -s "$tmp/acpi/$t.dat" ] || fail "plugvm acpi wrote no $t.dat"; done
grep -q LNRO0005 "$tmp/acpi/dsdt.dat" || fail "the DSDT lacks the device"
"$plugvm" acpi "$tmp/acpi.cfg" 2>/dev/null; [ $? -eq 2 ] || fail "plugvm acpi without DIR: status not 2"

# The longest command line with the most devices: refused by length, never
# written past its buffer (the ASan build checks that). Checked before the
# backend is probed, so this holds on a host without KVM too.
long=$(head -c 2040 /dev/zero | tr '\0' a)
devs=$(for i in $(seq 19); do printf '{ plugin = "%s"; path = "x"; },' "$good"; done)
printf 'vm = { memory_mib = 64; kernel = "hello.elf"; cmdline = "%s"; };\ndevices = (%s);\n' \
    "$long" "${devs%,}" >"$tmp/long.cfg"
"$plugvm" run "$tmp/long.cfg" 2>"$tmp/err"; [ $? -eq 1 ] || fail "long command line: status not 1"
grep -q "with 19 virtio_mmio.device= entries is .* bytes; at most 2047 fit" "$tmp/err" ||
    fail "long command line: $(cat "$tmp/err")"

# Snapshot commands: usage errors are status 2, a missing snapshot or
# socket status 1, each said plainly.
"$plugvm" restore 2>/dev/null; [ $? -eq 2 ] || fail "restore without DIR: status not 2"
"$plugvm" restore "$tmp/nosnap" 2>"$tmp/err"; [ $? -eq 1 ] || fail "restore of nothing: status not 1"
grep -q "$tmp/nosnap/vm.cfg" "$tmp/err" || fail "restore of nothing: $(cat "$tmp/err")"
"$plugvm" snapshot --api "$tmp/sock" 2>"$tmp/err"; [ $? -eq 2 ] || fail "snapshot without --to: status not 2"
grep -q -- "--to DIR is required" "$tmp/err" || fail "snapshot without --to: $(cat "$tmp/err")"
"$plugvm" pause --api "$tmp/sock" 2>"$tmp/err"; [ $? -eq 1 ] || fail "pause, no VM: status not 1"
grep -q "cannot connect" "$tmp/err" || fail "pause, no VM: $(cat "$tmp/err")"
# balloon: usage errors are 2 (a set without a whole number of MiB named),
# no VM at the socket 1.
"$plugvm" balloon --api "$tmp/sock" 2>/dev/null; [ $? -eq 2 ] || fail "balloon without a verb: status not 2"
"$plugvm" balloon --api "$tmp/sock" set 1.5 2>"$tmp/err"; [ $? -eq 2 ] || fail "balloon set 1.5: status not 2"
grep -q "expected a whole number of MiB, got '1.5'" "$tmp/err" || fail "balloon set 1.5: $(cat "$tmp/err")"
"$plugvm" balloon --api "$tmp/sock" set -4 2>/dev/null; [ $? -eq 2 ] || fail "balloon set -4: status not 2"
"$plugvm" balloon get 2>/dev/null; [ $? -eq 2 ] || fail "balloon without --api: status not 2"
"$plugvm" balloon --api "$tmp/sock" stats 2>"$tmp/err"; [ $? -eq 1 ] || fail "balloon stats, no VM: status not 1"
grep -q "cannot connect" "$tmp/err" || fail "balloon stats, no VM: $(cat "$tmp/err")"
out=$("$plugvm" balloon --help) || fail "balloon --help exited $?"
grep -q "set MIB | get | stats" <<<"$out" || fail "balloon --help: $out"
out=$("$plugvm" restore --help) || fail "restore --help exited $?"
grep -q -- "--set devices\[N\].SETTING=VALUE" <<<"$out" || fail "restore --help lacks --set"
"$plugvm" restore --set frob "$tmp/nosnap" 2>/dev/null; [ $? -ne 0 ] || fail "restore --set frob succeeded"

# Every file of a snapshot folder is judged before the backend is probed,
# and opened without blocking: a FIFO as `state` or `memory` hung restore
# in open() (issue 12). Each case must end at once, status 1, naming the
# file and what it should be, never the backend's message.
le() { local i; for ((i = 0; i < $2; i++)); do printf "\\x$(printf %02x $((($1 >> (8 * i)) & 255)))"; done; }
# A state file of no records (docs/SNAPSHOT.md), its header's CRC32 taken
# from gzip's trailer (the same CRC).
state_file() {
    { printf PLUGVMST; le 1 4; le 64 4; printf 'x86_64'; le 0 10; printf kvm; le 0 13
      le $((16 << 20)) 8; le 0 4; } >"$tmp/hdr"
    { cat "$tmp/hdr"; gzip -c <"$tmp/hdr" | tail -c 8 | head -c 4; } >"$1"
}
: >"$tmp/kernel"
mksnap() {
    rm -rf "$tmp/$1"; mkdir "$tmp/$1"
    printf 'vm = { memory_mib = 16; kernel = "%s"; };\n' "$tmp/kernel" >"$tmp/$1/vm.cfg"
    state_file "$tmp/$1/state"
    truncate -s 16M "$tmp/$1/memory"
}
restore_refused() { # NAME PATTERN: restore of $tmp/NAME ends, status 1, with PATTERN
    timeout 10 "$plugvm" restore "$tmp/$1" 2>"$tmp/err"; local st=$?
    [ $st -ne 124 ] || fail "restore $1: hung (killed after 10 s)"
    [ $st -eq 1 ] || fail "restore $1: status $st, not 1: $(cat "$tmp/err")"
    grep -q -- "$2" "$tmp/err" || fail "restore $1: expected '$2': $(cat "$tmp/err")"
    ! grep -q "cannot run here" "$tmp/err" || fail "restore $1: judged only after the probe: $(cat "$tmp/err")"
}
mksnap snap_ok  # sound files, but no records: refused once the VM's devices exist
restore_refused snap_ok "snap_ok/state: the core's machine record (tag 16) is missing"
mksnap fifo_state; rm "$tmp/fifo_state/state"; mkfifo "$tmp/fifo_state/state"
restore_refused fifo_state "fifo_state/state: a FIFO; a snapshot's state must be a regular file"
mksnap fifo_mem; rm "$tmp/fifo_mem/memory"; mkfifo "$tmp/fifo_mem/memory"
restore_refused fifo_mem "fifo_mem/memory: a FIFO; a snapshot's memory must be a regular file"
mksnap zero_mem; ln -sf /dev/zero "$tmp/zero_mem/memory"
restore_refused zero_mem "zero_mem/memory: a character device; a snapshot's memory must be a regular file"
mksnap short_mem; truncate -s 8M "$tmp/short_mem/memory"
restore_refused short_mem "short_mem/memory: 8388608 bytes; expected 16777216, the guest RAM $tmp/short_mem/state says it holds"
mksnap fifo_cfg; rm "$tmp/fifo_cfg/vm.cfg"; mkfifo "$tmp/fifo_cfg/vm.cfg"
restore_refused fifo_cfg "fifo_cfg/vm.cfg: not a regular file"

# plugvm check: the backend's probe, as run uses it. Without a usable KVM,
# run refuses with the same reason (status 1, nothing started) only after
# the config and its files were checked (the cases above pass either way).
out=$("$plugvm" check); st=$?
case $st in
    0) grep -qx "kvm: can run VMs here" <<<"$(head -n 1 <<<"$out")" || fail "check, status 0: '$out'" ;;
    1) grep -Eq "^kvm: cannot run VMs here: /dev/kvm.*: .+" <<<"$out" || fail "check, status 1: '$out'"
       why=${out#kvm: cannot run VMs here: }
       "$plugvm" run "$src/etc/examples/hello.cfg" >/dev/null 2>"$tmp/err"; [ $? -eq 1 ] || fail "run without KVM: status not 1"
       grep -qF "backend 'kvm' cannot run here: $why" "$tmp/err" || fail "run without KVM: $(cat "$tmp/err")"
       if [ ! -e /dev/kvm ]; then
           grep -q "load the kvm_intel or kvm_amd module" <<<"$why" || fail "check, no /dev/kvm: '$why'"
       fi ;;
    *) fail "check: status $st" ;;
esac
"$plugvm" check nosuch 2>"$tmp/err"; [ $? -eq 1 ] || fail "check nosuch: status not 1"
grep -q "plugin 'nosuch' not found" "$tmp/err" || fail "check nosuch: $(cat "$tmp/err")"
"$plugvm" check a b 2>/dev/null; [ $? -eq 2 ] || fail "check a b: status not 2"

out=$("$plugvm" plugins) || fail "plugins exited $?"
grep -Eq "^kvm +backend +[0-9.]+ +.*plugvm-kvm\.so$" <<<"$out" || fail "plugins does not list kvm: $out"
# run --image: its help lists every flag, and docs/IMAGES.md names each;
# plugvm's own mistakes are status 125, as docker's are.
out=$("$plugvm" run --image x --help) || fail "run --image --help exited $?"
for f in $(grep -oE -- '--[a-z][a-z-]+' <<<"$out" | sort -u); do
    grep -qF -- "$f" "$src/docs/IMAGES.md" || fail "run --image --help's $f is not in docs/IMAGES.md"
done
grep -q -- "--volume FILE:PATH" <<<"$out" || fail "run --image --help lacks --volume"
"$plugvm" run --image x --memory 0 -- true 2>"$tmp/err"; [ $? -eq 125 ] || fail "run --image --memory 0: status not 125"
grep -q -- "--memory: expected a number from 1" "$tmp/err" || fail "run --image --memory 0: $(cat "$tmp/err")"
"$plugvm" run --cache "$tmp/cache" --image "$tmp/none" -- true 2>"$tmp/err"; [ $? -eq 125 ] || fail "run --image none: status not 125"
grep -q "image $tmp/none: not in the image cache" "$tmp/err" || fail "run --image none: $(cat "$tmp/err")"
"$plugvm" run --image x --volume nocolon -- true 2>"$tmp/err"; [ $? -eq 125 ] || fail "--volume nocolon: status not 125"

echo "ok: cli"
