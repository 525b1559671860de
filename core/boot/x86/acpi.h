/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ACPI tables (ACPI 6.4 chapter 5): RSDP, XSDT, FADT (hardware-reduced),
 * an empty DSDT and the MADT listing every vCPU's LAPIC and the IOAPIC.
 * Stock distribution kernels (Debian's cloud kernel has no MP-table
 * parser, CONFIG_X86_MPPARSE unset) count CPUs only from the MADT.
 */
#ifndef PLUGVM_CORE_X86_ACPI_H
#define PLUGVM_CORE_X86_ACPI_H

#include <stdint.h>

#include "memory/guest_mem.h"

/* Writes the tables into the BIOS area starting at X86_ACPI_ADDR, the RSDP
 * first (Linux scans 0xe0000-0xfffff for it on 16-byte boundaries, and
 * takes boot_params.acpi_rsdp_addr or PVH's rsdp_paddr where given).
 * Returns the RSDP's guest-physical address, or 0 when they do not fit. */
uint64_t x86_acpi_write(const struct guest_mem *m, uint32_t vcpus);

#endif
