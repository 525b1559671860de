/* SPDX-License-Identifier: Apache-2.0 */
/* Intel MultiProcessor Specification 1.4 tables: how a kernel without ACPI
 * tables learns every vCPU, the IOAPIC and the ISA interrupt wiring. */
#ifndef PLUGVM_CORE_X86_MPTABLE_H
#define PLUGVM_CORE_X86_MPTABLE_H

#include <stdint.h>

#include "memory/guest_mem.h"

/* Writes the MP floating pointer at the EBDA (X86_EBDA_START) and the
 * configuration table in the BIOS area (X86_BIOS_START) for `vcpus` processors (APIC IDs 0..vcpus-1, the IOAPIC
 * taking ID vcpus). 0, or -1 when it does not fit (vcpus too large). */
int x86_mptable_write(const struct guest_mem *m, uint32_t vcpus);

#endif
