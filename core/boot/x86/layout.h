/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Where the boot puts things in low guest memory (guest-physical
 * addresses). Below 1 MiB, clear of the kernel (loaded at 1 MiB or, for
 * Linux, 16 MiB) and of the legacy areas the e820 map reserves.
 */
#ifndef PLUGVM_CORE_X86_LAYOUT_H
#define PLUGVM_CORE_X86_LAYOUT_H

#define X86_GDT_ADDR 0x500ull        /* boot GDT, 5 entries */
#define X86_IDT_ADDR 0x520ull        /* empty IDT (limit 0): any exception triple-faults */
#define X86_PVH_INFO_ADDR 0x6000ull  /* hvm_start_info, memmap, modlist */
#define X86_ZERO_PAGE_ADDR 0x7000ull /* boot_params */
#define X86_BOOT_STACK_ADDR 0x8ff0ull
#define X86_PML4_ADDR 0x9000ull      /* identity page tables: PML4, PDPT, 4 PDs */
#define X86_PDPT_ADDR 0xa000ull
#define X86_PD_ADDR 0xb000ull        /* 4 pages: 0xb000..0xefff map 4 GiB in 2 MiB pages */
#define X86_CMDLINE_ADDR 0x20000ull
#define X86_CMDLINE_MAX 2048ull      /* bytes including the NUL */
#define X86_EBDA_START 0x9fc00ull    /* MP table lives here (MP spec §4: last KiB of base memory) */
#define X86_EBDA_END 0xa0000ull
#define X86_ACPI_ADDR 0xe0000ull     /* ACPI tables, RSDP first */
#define X86_ACPI_END 0xef000ull
#define X86_VMGENID_ADDR 0xef000ull /* the VM generation ID's 16 bytes, a page of their own (devices/vmgenid.h) */
#define X86_BIOS_START 0xf0000ull    /* MP configuration table */
#define X86_RESERVED_START X86_ACPI_ADDR /* 0xe0000-0xfffff reserved in e820 */
#define X86_HIGH_MEMORY 0x100000ull  /* 1 MiB */

/* The ACPI Generic Event Device's interrupt (acpi.c): ISA IRQ 3, COM2's,
 * which plugvm does not have; virtio-mmio takes IOAPIC pins 5..23. */
#define X86_GED_GSI 3

#define X86_IOAPIC_ADDR 0xfec00000ull
#define X86_LAPIC_ADDR 0xfee00000ull

/* Segment selectors of the boot GDT. The Linux boot protocol wants
 * __BOOT_CS = 0x10 and __BOOT_DS = 0x18 (Documentation/arch/x86/boot.rst);
 * PVH wants a 32-bit code segment, here 0x08. */
#define X86_SEL_CODE32 0x08
#define X86_SEL_CODE64 0x10
#define X86_SEL_DATA 0x18
#define X86_SEL_TSS 0x20

#endif
