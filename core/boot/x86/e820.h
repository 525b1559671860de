/* SPDX-License-Identifier: Apache-2.0 */
/* The guest's physical memory map (e820, ACPI spec §15 "System Address Map
 * Interfaces"), shared by the Linux zero page and PVH's memmap. */
#ifndef PLUGVM_CORE_X86_E820_H
#define PLUGVM_CORE_X86_E820_H

#include <stddef.h>
#include <stdint.h>

#include "memory/guest_mem.h"

#define E820_RAM 1
#define E820_RESERVED 2
#define X86_E820_MAX 8

struct e820_entry {
    uint64_t addr;
    uint64_t size; /* bytes */
    uint32_t type;
};

/* Fills out (room for X86_E820_MAX) for `m`: base memory below the EBDA as
 * RAM, the EBDA and the BIOS area (ACPI and MP tables) reserved, RAM from 1 MiB to the end of low
 * memory, and RAM above 4 GiB when memory reaches past the MMIO hole.
 * Returns the number of entries. */
size_t x86_e820_build(const struct guest_mem *m, struct e820_entry *out);

#endif
