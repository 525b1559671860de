#!/bin/bash
# plugvm's ACPI tables judged by ACPICA's own tools (Debian's acpica-tools),
# for 0, 3, 32 (more than plugvm attaches: 19, IOAPIC pins 5..23) and 100 (X86_ACPI_MAX_VIRTIO_MMIO) virtio-mmio
# devices, as dump_tables writes them (2 vCPUs; device i at 0xd0000000 +
# i * 0x1000, 0x1000 bytes, GSI 5 + i):
# - the RSDP: signature, both checksums, revision 2, XSDT address (iasl
#   cannot load a binary RSDP: it has no 36-byte table header);
# - iasl -d disassembles the XSDT, FACP, APIC and DSDT with status 0 and no
#   error, warning or checksum complaint; the FADT is hardware-reduced and
#   points at the DSDT; the MADT has 2 LAPICs, the IOAPIC, the LINT1 NMI
#   and no interrupt source override;
# - recompiling the disassembled DSDT gives back the same AML, byte for
#   byte, and its Device blocks say what dump_tables asked for;
# - the FADT's SLEEP_CONTROL_REG and SLEEP_STATUS_REG are byte ports 0x600
#   and 0x601, and acpiexec's `sleep 5` finds \_S5 (SLP_TYPa 5) and enters
#   S5 through the hardware-reduced path Linux's poweroff takes;
# - acpiexec loads FACP, APIC and DSDT, evaluates each VRnn._HID to
#   "LNRO0005" and walks each _CRS through ACPICA's resource manager (the
#   code Linux uses) to the expected base, length and interrupt, with no
#   mismatch in its AML -> resource -> AML round trip;
# - the VM generation ID: VGEN's _HID, _CID (upper-cased by ACPICA to
#   VM_GEN_COUNTER, what Linux's vmgenid matches) and ADDR (0xef000 as two
#   32-bit halves); the GED's edge interrupt on GSI 3; its _EVT called with
#   4 does nothing and with 3 makes acpiexec's handler see Notify (VGEN, 0x80).
# Exits 77 (skip) when iasl or acpiexec is missing.
# usage: acpica.sh DUMP_TABLES
set -u
dump=$1
for tool in iasl acpiexec; do
    if ! command -v "$tool" >/dev/null; then
        echo "SKIP: $tool not found: install Debian's acpica-tools"; exit 77
    fi
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $n devices: $*"; exit 1; }

# Bytes of a file as decimal numbers, one per line.
bytes() { od -An -tu1 -v "$1" | tr -s ' ' '\n' | sed '/^$/d'; }
sum_first() { bytes "$1" | head -n "$2" | awk '{ s += $1 } END { print s % 256 }'; }
le64_at() { bytes "$1" | sed -n "$(($2 + 1)),$(($2 + 8))p" |
    awk '{ v += $1 * 256 ^ (NR - 1) } END { printf "%016X\n", v }'; }

# "NAME HID UID ACCESS BASE LENGTH INTERRUPT-FLAGS GSI" for each Device
# block of a disassembled DSDT (IO ranges give their minimum as BASE).
devices_from_dsl() {
    awk '
    /^ *Device \(/ { name = $0; sub(/.*Device \(/, "", name); sub(/\).*/, "", name)
                     hid = uid = acc = base = len = flags = gsi = "-"; st = "" }
    /Name \(_HID, / { hid = $0; sub(/.*_HID, (EisaId \()?"/, "", hid); sub(/".*/, "", hid) }
    /Name \(_UID, / { uid = $0; sub(/.*_UID, /, "", uid); sub(/\).*/, "", uid) }
    /Memory32Fixed \(/ { acc = $0; sub(/.*Memory32Fixed \(/, "", acc); sub(/,.*/, "", acc); st = "mem" }
    /^ *IO \(/ { acc = $0; sub(/.*IO \(/, "", acc); sub(/,.*/, "", acc); st = "io" }
    st == "mem" && /Address Base/ { base = $1; sub(/,$/, "", base) }
    st == "mem" && /Address Length/ { len = $1; sub(/,$/, "", len); st = "" }
    st == "io" && /Range Minimum/ { base = $1; sub(/,$/, "", base) }
    st == "io" && /Length/ && !/Range/ { len = $1; sub(/,$/, "", len); st = "" }
    /Interrupt \(/ { flags = $0; sub(/.*Interrupt \(/, "", flags); sub(/, ,,.*/, "", flags)
                     gsub(/ /, "", flags); st = "int" }
    st == "int" && /^ *0x[0-9A-F]+,?$/ { gsi = $1; sub(/,$/, "", gsi); st = ""
                                         print name, hid, uid, acc, base, len, flags, gsi }
    ' "$1"
}

# "NAME ADDRESS LENGTH TYPE TRIGGERING POLARITY SHARING GSI" for each
# `resources` dump in acpiexec's output, and "NAME HID" for each _HID.
resources_from_acpiexec() {
    awk '
    /^Device: / { name = $2; sub(/.*\./, "", name); addr = alen = typ = trig = pol = shr = gsi = "-"; on = 1 }
    on && $1 == "Address" && $2 == ":" { addr = $3 }
    on && $1 == "Address" && $2 == "Length" { alen = $4 }
    on && $1 == "Type" && $2 == ":" { typ = $3 }
    on && $1 == "Triggering" { trig = $3 }
    on && $1 == "Polarity" { pol = $3 }
    on && $1 == "Sharing" { shr = $3 }
    on && $1 == "Dword00" { gsi = $3 }
    on && /^Resource Conversion Comparison:/ { print name, addr, alen, typ, trig, pol, shr, gsi; on = 0 }
    /^Evaluation of .*\._HID returned/ { h = $3; sub(/^\\_SB\./, "", h); sub(/\._HID$/, "", h)
                                         getline; print h, $NF }
    ' "$1"
}

check() {
    n=$1
    local d=$tmp/$n
    "$dump" "$d" "$n" || fail "dump_tables exited $?"
    cd "$d" || fail "no $d"
    [ "$(ls ./*.dat | sort | tr '\n' ' ')" = "./apic.dat ./dsdt.dat ./facp.dat ./rsdp.dat ./xsdt.dat " ] ||
        fail "tables dumped: $(ls ./*.dat | tr '\n' ' ')"

    # RSDP
    [ "$(head -c 8 rsdp.dat)" = "RSD PTR " ] || fail "rsdp.dat: no 'RSD PTR ' signature"
    [ "$(stat -c %s rsdp.dat)" = 36 ] || fail "rsdp.dat is not 36 bytes"
    [ "$(sum_first rsdp.dat 20)" = 0 ] || fail "rsdp.dat: bad ACPI 1.0 checksum"
    [ "$(sum_first rsdp.dat 36)" = 0 ] || fail "rsdp.dat: bad extended checksum"
    [ "$(bytes rsdp.dat | sed -n 16p)" = 2 ] || fail "rsdp.dat: revision is not 2"
    local xsdt_at
    xsdt_at=$(le64_at rsdp.dat 24)

    # iasl -d
    local t
    for t in xsdt facp apic dsdt; do
        iasl -d "$t.dat" >"$t.log" 2>&1 || { cat "$t.log"; fail "iasl -d $t.dat exited $?"; }
        if grep -Eiq 'error|warning|incorrect|invalid' "$t.log"; then
            cat "$t.log"; fail "iasl -d $t.dat complained"
        fi
        [ -s "$t.dsl" ] || fail "iasl -d $t.dat wrote no $t.dsl"
    done
    grep -Eq "Signature : \"XSDT\"" xsdt.dsl || fail "xsdt.dsl: not an XSDT"
    [ "$(grep -c 'ACPI Table Address' xsdt.dsl)" = 2 ] || fail "the XSDT does not list 2 tables"
    [ "$xsdt_at" != 0000000000000000 ] || fail "the RSDP has no XSDT address"
    grep -Eq 'Hardware Reduced \(V5\) : 1' facp.dsl || fail "the FADT is not hardware-reduced"
    grep -Eq 'DSDT Address : 0000000000' facp.dsl || fail "the FADT has no X_DSDT"
    # ACPI 6.4 §4.8.3.7: the sleep registers, one byte each in I/O space.
    local reg port
    for reg in "Sleep Control Register:0600" "Sleep Status Register:0601"; do
        port=${reg#*:} reg=${reg%:*}
        [ "$(grep -A5 "$reg :" facp.dsl | grep -Ec "Space ID : 01 \[SystemIO\]|Bit Width : 08|Encoded Access Width : 01|Address : 000000000000$port")" = 4 ] ||
            { grep -A5 "$reg" facp.dsl; fail "the FADT's $reg is not byte port 0x$port"; }
    done
    [ "$(grep -c 'Subtable Type : 00 \[Processor Local APIC\]' apic.dsl)" = 2 ] || fail "MADT: not 2 LAPICs"
    grep -q 'Subtable Type : 01 \[I/O APIC\]' apic.dsl || fail "MADT: no IOAPIC"
    grep -q 'Address : FEC00000' apic.dsl || fail "MADT: IOAPIC not at 0xfec00000"
    grep -q 'Subtable Type : 04 \[Local APIC NMI\]' apic.dsl || fail "MADT: no LAPIC NMI"
    if grep -q 'Interrupt Source Override' apic.dsl; then fail "MADT: unexpected source override"; fi

    # Recompile: the same AML after the 36-byte header (iasl's compiler ID
    # and checksum differ).
    iasl -p recompiled dsdt.dsl >recompile.log 2>&1 || { cat recompile.log; fail "iasl dsdt.dsl exited $?"; }
    grep -q "Compilation successful. 0 Errors, 0 Warnings, 0 Remarks" recompile.log ||
        { cat recompile.log; fail "recompiling dsdt.dsl was not clean"; }
    cmp -s <(tail -c +37 dsdt.dat) <(tail -c +37 recompiled.aml) ||
        fail "recompiled DSDT differs from plugvm's (cmp dsdt.dat recompiled.aml in $d)"

    # The Device blocks.
    local i uid want_dsl="COM1 PNP0501 Zero Decode16 0x03F8 0x08 ResourceConsumer,Edge,ActiveHigh,Exclusive 0x00000004"
    local want_res="" want_hid=""
    for ((i = 0; i < n; i++)); do
        case $i in 0) uid=Zero ;; 1) uid=One ;; *) uid=$(printf '0x%02X' "$i") ;; esac
        want_dsl+=$'\n'$(printf 'VR%02d LNRO0005 %s ReadWrite 0x%08X 0x00001000 ResourceConsumer,Edge,ActiveHigh,Exclusive 0x%08X' \
            "$i" "$uid" $((0xd0000000 + i * 0x1000)) $((5 + i)))
        want_hid+=$(printf 'VR%02d "LNRO0005"' "$i")$'\n'
        want_res+=$(printf 'VR%02d %08X 00001000 ResourceConsumer Edge ActiveHigh Exclusive %08X' \
            "$i" $((0xd0000000 + i * 0x1000)) $((5 + i)))$'\n'
    done
    want_dsl+=$'\n'"GED ACPI0013 Zero - - - ResourceConsumer,Edge,ActiveHigh,Exclusive 0x00000003"
    local got
    got=$(devices_from_dsl dsdt.dsl)
    [ "$got" = "$want_dsl" ] || { diff <(echo "$want_dsl") <(echo "$got"); fail "dsdt.dsl Device blocks differ (want < > got)"; }

    # acpiexec: its batch command line holds at most 1023 characters, so
    # 16 devices per run.
    : >acpiexec.out
    local first cmds
    for ((first = 0; first < n || first == 0; first += 16)); do
        cmds=""
        for ((i = first; i < n && i < first + 16; i++)); do
            cmds+=$(printf 'evaluate \\_SB.VR%02d._HID; resources \\_SB.VR%02d; ' "$i" "$i")
        done
        # Nothing past the last device.
        [ $((first + 16)) -ge "$n" ] && [ "$n" -lt 100 ] && cmds+=$(printf 'evaluate \\_SB.VR%02d._HID' "$n")
        acpiexec -b "$cmds" facp.dat apic.dat dsdt.dat >acpiexec.log 2>&1 ||
            { cat acpiexec.log; fail "acpiexec exited $?"; }
        grep -q "1 ACPI AML tables successfully acquired and loaded" acpiexec.log ||
            { cat acpiexec.log; fail "acpiexec did not load the DSDT"; }
        if grep -Eq 'ACPI Error|ACPI Exception|Data mismatch|Mismatch at' acpiexec.log; then
            cat acpiexec.log; fail "acpiexec reported an error or a resource round-trip mismatch"
        fi
        cat acpiexec.log >>acpiexec.out
    done
    # S5 through ACPICA's own hardware-reduced path (HwExtendedSleep, what
    # Linux's poweroff runs): \_S5 found, SLP_TYPa 5, no error.
    acpiexec -b 'sleep 5' facp.dat apic.dat dsdt.dat >sleep.log 2>&1 ||
        { cat sleep.log; fail "acpiexec sleep 5 exited $?"; }
    grep -q "Register values for sleep state S5: Sleep-A: 05, Sleep-B: 00" sleep.log &&
        grep -q "HwExtendedSleep .*Entering sleep state \[S5\]" sleep.log &&
        ! grep -Eq 'ACPI Error|ACPI Exception' sleep.log ||
        { cat sleep.log; fail "acpiexec did not enter S5 through the sleep control register"; }
    # The VM generation ID (core/devices/vmgenid.h) as Linux's vmgenid
    # driver reads it: _CID upper-cased by ACPICA to VM_GEN_COUNTER (what
    # the driver matches), ADDR a package of the two 32-bit halves of
    # 0xef000; the GED's interrupt GSI 3, and its _EVT notifying VGEN with
    # 0x80 for GSI 3 and for nothing else.
    acpiexec -b 'evaluate \_SB.VGEN._HID; evaluate \_SB.VGEN._CID; evaluate \_SB.VGEN.ADDR; resources \_SB.GED_; evaluate \_SB.GED_._EVT 4; evaluate \_SB.GED_._EVT 3' \
        facp.dat apic.dat dsdt.dat >vmgenid.log 2>&1 || { cat vmgenid.log; fail "acpiexec (VGEN, GED) exited $?"; }
    if grep -Eq 'ACPI Error|ACPI Exception|Data mismatch|Mismatch at' vmgenid.log; then
        cat vmgenid.log; fail "acpiexec reported an error evaluating VGEN or GED"
    fi
    got=$(grep -E '^  \[String\]|^    \[Integer\]|Dword00 :|Triggering :|Received a .*Notify|^Evaluating \\_SB.GED_._EVT' vmgenid.log |
        sed 's/ 0x[0-9a-f]* Value/ Value/; s/^ *//' | tr -s ' ')
    local want_gen
    want_gen='[String] Length 08 = "PLVM0001"
[String] Length 0E = "VM_GEN_COUNTER"
[Integer] = 00000000000EF000
[Integer] = 0000000000000000
Triggering : Edge
Dword00 : 00000003
Evaluating \_SB.GED_._EVT
Evaluating \_SB.GED_._EVT
ACPI Exec: Global: Received a Device Notify on [VGEN] Value 0x80 (Status Change)'
    [ "$got" = "$want_gen" ] || { cat vmgenid.log; diff <(echo "$want_gen") <(echo "$got"); fail "VGEN or GED not as Linux's drivers want them (want < > got)"; }
    [ "$n" -ge 100 ] || grep -q "Evaluation of .*VR$(printf %02d "$n")._HID failed with status AE_NOT_FOUND" acpiexec.out ||
        fail "acpiexec found a device past the last one"
    got=$(resources_from_acpiexec acpiexec.out | grep -v '"' || true)
    want_res=${want_res%$'\n'} want_hid=${want_hid%$'\n'}
    [ "$got" = "$want_res" ] || { diff <(echo "$want_res") <(echo "$got"); fail "acpiexec _CRS resources differ"; }
    got=$(resources_from_acpiexec acpiexec.out | grep '"' || true)
    [ "$got" = "$want_hid" ] || { diff <(echo "$want_hid") <(echo "$got"); fail "acpiexec _HID values differ"; }
    echo "ok: $n devices: $(stat -c %s dsdt.dat)-byte DSDT; iasl -d clean, recompiles to identical AML; acpiexec _HID and _CRS as expected, S5 entered, VGEN's _CID and ADDR as vmgenid reads them, GED's _EVT 3 notifies VGEN"
}

for count in 0 3 32 100; do check "$count"; done
if [ -n "${ACPICA_SHOW:-}" ]; then sed -n '/^DefinitionBlock/,$p' "$tmp/3/dsdt.dsl"; fi
