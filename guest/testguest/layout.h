/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Constants shared by the assembly (boot.S, idt.S) and the C code: segment
 * selectors, control-register bits, vectors. No C declarations here, so
 * the assembler can include it.
 */
#ifndef TESTGUEST_LAYOUT_H
#define TESTGUEST_LAYOUT_H

/* GDT selectors (boot.S). */
#define SEL_KCODE 0x08
#define SEL_KDATA 0x10
#define SEL_UDATA 0x18
#define SEL_UCODE 0x20
#define SEL_TSS 0x28

#define CR0_PE 0x00000001
#define CR0_ET 0x00000010
#define CR0_PG 0x80000000
#define CR4_PAE 0x00000020
#define MSR_EFER 0xc0000080
#define EFER_LME 0x00000100

#define RFLAGS_FIXED 0x0002 /* bit 1 always reads 1 */
#define RFLAGS_IF 0x0200
#define RFLAGS_IOPL3 0x3000

/* Page-table entry bits (SDM vol. 3 §5.5). */
#define PTE_P 0x001
#define PTE_W 0x002
#define PTE_U 0x004
#define PTE_PWT 0x008
#define PTE_PCD 0x010
#define PTE_PS 0x080

#define KSTACK_SIZE 8192
#define USTACK_SIZE 65536

/* Vectors. 0-31 are exceptions. Device interrupts take VEC_DEVICE_BASE + n
 * for the n-th device found (at most 16: CMDLINE_MAX_DEVICES); the LAPIC's spurious vector is VEC_SPURIOUS,
 * whose handler must not EOI (SDM vol. 3 §12.9). */
#define VEC_DEVICE_BASE 0x30
#define VEC_SELF_TEST 0x40 /* test_boot.c's self-IPIs */
#define VEC_SPURIOUS 0xff

/* xAPIC registers (SDM vol. 3 §12.4.1): the kernel-mode handler writes EOI. */
#define LAPIC_BASE 0xfee00000
#define LAPIC_EOI 0xb0

#endif
