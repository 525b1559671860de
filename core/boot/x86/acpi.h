/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ACPI tables (ACPI 6.4 chapter 5): RSDP, XSDT, FADT (hardware-reduced),
 * the MADT listing every vCPU's LAPIC and the IOAPIC, and a DSDT (AML,
 * chapter 20) that describes COM1, each virtio-mmio window, the VM
 * generation ID (VGEN, at X86_VMGENID_ADDR; devices/vmgenid.h) and the
 * Generic Event Device whose interrupt (X86_GED_GSI) notifies it.
 * Stock distribution kernels (Debian's cloud kernel has no MP-table
 * parser, CONFIG_X86_MPPARSE unset) count CPUs only from the MADT, and
 * find virtio-mmio devices from the DSDT (virtio_mmio matches _HID
 * "LNRO0005") without any virtio_mmio.device= on the command line.
 */
#ifndef PLUGVM_CORE_X86_ACPI_H
#define PLUGVM_CORE_X86_ACPI_H

#include <stddef.h>
#include <stdint.h>

#include "memory/guest_mem.h"

/* A virtio-mmio device window (virtio 1.2 §4.2.2) for the DSDT: one
 * LNRO0005 device whose _CRS gives [base, base + size) and edge-triggered,
 * active-high interrupt `gsi`. The window must lie below 4 GiB (the DSDT
 * describes it with Memory32Fixed) and size must be > 0. */
struct acpi_virtio_mmio {
    uint64_t base; /* guest-physical, 4 KiB aligned */
    uint32_t size; /* bytes */
    uint32_t gsi;
};

/* Most virtio-mmio devices the DSDT can name: devices are VR00..VR99, as
 * in QEMU. All of them, with 255 vCPUs, take well under the 64 KiB at
 * X86_ACPI_ADDR (about 7 KiB of DSDT for 100 devices). */
#define X86_ACPI_MAX_VIRTIO_MMIO 100

/* Writes the tables into the BIOS area starting at X86_ACPI_ADDR, the RSDP
 * first (Linux scans 0xe0000-0xfffff for it on 16-byte boundaries, and
 * takes boot_params.acpi_rsdp_addr or PVH's rsdp_paddr where given), with
 * one DSDT device per entry of `devs` (ndevs of them, named VR00, VR01...
 * in order, _UID = index). Returns the RSDP's guest-physical address, or 0
 * when they do not fit below X86_ACPI_END or an argument is out of range
 * (vcpus not in 1..255, ndevs > X86_ACPI_MAX_VIRTIO_MMIO, a window of size
 * 0 or reaching past 4 GiB). */
uint64_t x86_acpi_write(const struct guest_mem *m, uint32_t vcpus,
                        const struct acpi_virtio_mmio *devs, size_t ndevs);

/* Writes each table reachable from the RSDP at guest-physical `rsdp` to
 * DIR/<signature in lower case>.dat: rsdp.dat, the XSDT (or the RSDT of a
 * revision-0 RSDP), every table it lists, and the FADT's DSDT (X_DSDT, or
 * DSDT when that is 0) and FACS when present; a signature seen again gets
 * a number (ssdt.dat, ssdt2.dat). DIR is created if missing. Tables are
 * copied as they are, checksums unchecked, for `iasl -d` to judge.
 * 0, or -1 with a message in err. */
int x86_acpi_dump(const struct guest_mem *m, uint64_t rsdp, const char *dir, char *err,
                  size_t errlen);

#endif
