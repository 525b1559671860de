# shellcheck shell=bash
# SPDX-License-Identifier: Apache-2.0
# Sourced by the blk scripts (blk.sh, blk_durability.sh, api.sh): what they
# need to run, a work folder, the pattern the test guest writes (guest/testguest/blk_pattern.h),
# and a config for one blk device. Expects plugvm, src and build set.

# Exits 77 (ctest's skip) when the VM cannot run or the plugin is missing.
# shellcheck disable=SC2154 # build is the sourcing script's
blk_need() {
    if [ ! -c /dev/kvm ] || [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
        echo "SKIP: /dev/kvm is absent or not readable and writable: in-VM tests need KVM"
        exit 77
    fi
    if [ ! -f "$build/plugins/plugvm-blk.so" ]; then
        echo "SKIP: the blk plugin is not built ($build/plugins/plugvm-blk.so)"
        exit 77
    fi
    if [ ! -f "$build/images/testguest.elf" ]; then
        echo "SKIP: the test guest is not built ($build/images/testguest.elf)"
        exit 77
    fi
}

# blk_workdir: sets tmp to a new folder, removed at exit, when the VM
# whose PID the script keeps in $pid (if any) is killed first.
blk_workdir() {
    tmp=$(mktemp -d)
    pid=
    trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
}

# blk_pattern SEED FIRST COUNT: the bytes the guest writes over sectors
# [FIRST, FIRST + COUNT) with pattern SEED: 32 records of 16 bytes per
# sector, "%03x%010x%02x\n" (seed mod 4096, sector, record).
blk_pattern() {
    awk -v seed="$1" -v first="$2" -v n="$3" 'BEGIN {
        for (s = first; s < first + n; s++)
            for (r = 0; r < 32; r++)
                printf "%03x%010x%02x\n", seed % 4096, s, r
    }'
}

# blk_extract IMAGE FIRST COUNT: those sectors of the image, on stdout.
blk_extract() {
    dd if="$1" bs=512 skip="$2" count="$3" status=none
}

# blk_config FILE CMDLINE DEVICE_SETTINGS [VM_SETTINGS]: a VM with the
# test guest and one blk device; the settings are libconfig text inside the
# device's group and the vm group.
blk_config() {
    cat >"$1" <<CFG
vm = {
  memory_mib = 64;
  kernel = "testguest.elf";
  cmdline = "$2";
  ${4:-}
};
devices = ( { plugin = "blk"; $3 } );
CFG
}
