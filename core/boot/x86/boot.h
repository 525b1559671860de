/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Boots an x86_64 guest: loads the kernel and initrd, writes the zero page
 * (Linux boot protocol) or hvm_start_info (PVH), the e820 map, the MP
 * table, the GDT and identity page tables, and computes the boot vCPU's
 * registers.
 */
#ifndef PLUGVM_CORE_X86_BOOT_H
#define PLUGVM_CORE_X86_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include <plugvm/backend.h>

#include "acpi.h"
#include "memory/guest_mem.h"

struct x86_boot_config {
    const char *kernel;  /* path */
    const char *initrd;  /* path or NULL */
    const char *cmdline; /* NUL-terminated, < X86_CMDLINE_MAX bytes */
    uint32_t vcpus;
    bool acpi;                           /* write ACPI tables */
    const struct acpi_virtio_mmio *devs; /* virtio-mmio windows for the DSDT */
    size_t ndevs;
};

/* How the kernel was entered, for logs and tests. */
enum x86_boot_entry { X86_ENTRY_LINUX64 = 1, X86_ENTRY_PVH = 2 };

struct x86_boot_result {
    enum x86_boot_entry entry;
    struct plugvm_x86_regs regs; /* the boot vCPU's registers */
    uint64_t initrd_addr, initrd_size;
};

/* Does the whole boot setup into `m`. 0, or -1 with a message in err that
 * names the file and what is wrong (kernel refused, initrd too large for
 * RAM, command line longer than the kernel accepts). */
int x86_boot_setup(const struct x86_boot_config *bc, const struct guest_mem *m,
                   struct x86_boot_result *out, char *err, size_t errlen);

#endif
