/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ACPI tables (ACPI 6.4 chapter 5): RSDP, XSDT, FADT (hardware-reduced),
 * an empty DSDT and the MADT listing every vCPU's LAPIC and the IOAPIC.
 * Stock distribution kernels (Debian's cloud kernel has no MP-table
 * parser, CONFIG_X86_MPPARSE unset) count CPUs only from the MADT.
 */
#ifndef PLUGVM_CORE_X86_ACPI_H
#define PLUGVM_CORE_X86_ACPI_H

#include <stddef.h>
#include <stdint.h>

#include "memory/guest_mem.h"

/* A virtio-mmio device window (virtio 1.2 §4.2.2) for the DSDT: one
 * LNRO0005 device whose _CRS gives [base, base + size) and edge-triggered,
 * active-high interrupt `gsi`. */
struct acpi_virtio_mmio {
    uint64_t base; /* guest-physical, 4 KiB aligned */
    uint32_t size; /* bytes */
    uint32_t gsi;
};

/* Writes the tables into the BIOS area starting at X86_ACPI_ADDR, the RSDP
 * first (Linux scans 0xe0000-0xfffff for it on 16-byte boundaries, and
 * takes boot_params.acpi_rsdp_addr or PVH's rsdp_paddr where given), with
 * one DSDT device per entry of `devs` (ndevs of them). Returns the RSDP's
 * guest-physical address, or 0 when they do not fit. */
uint64_t x86_acpi_write(const struct guest_mem *m, uint32_t vcpus,
                        const struct acpi_virtio_mmio *devs, size_t ndevs);

#endif
