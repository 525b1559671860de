/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Boot: PVH entry to ring 3 in as few kernel-mode instructions as possible.
 *
 * The VMM enters _start in 32-bit protected mode, paging off, EBX = the
 * guest-physical address of struct hvm_start_info (Xen's
 * xen/include/public/arch-x86/hvm/start_info.h). On the build machines'
 * KVM (KVM over PVM) every kernel-mode instruction is emulated, about 1 us
 * each, while user-mode code runs natively: so the page tables, GDT, TSS
 * and IDT are prebuilt in the image's data (testguest.ld computes the
 * split-address fields), ring 0 only loads them, and everything else
 * (LAPIC, IOAPIC, drivers, tests) runs in ring 3 with IOPL 3. 22
 * instructions run in ring 0 from _start to the iretq.
 */
#include "layout.h"

/* XEN_ELFNOTE_PHYS32_ENTRY (xen/include/public/elfnote.h): the 32-bit
 * entry point of a PVH kernel. */
    .section .note.Xen, "a", @note
    .balign 4
    .long 4                 /* namesz: "Xen\0" */
    .long 4                 /* descsz */
    .long 18                /* XEN_ELFNOTE_PHYS32_ENTRY */
    .asciz "Xen"
    .balign 4
    .long _start

    .section .text.boot, "ax"
    .code32
    .globl _start
_start:
    lgdt gdt_ptr
    mov $pml4, %eax
    mov %eax, %cr3
    mov $CR4_PAE, %eax
    mov %eax, %cr4
    mov $MSR_EFER, %ecx
    mov $EFER_LME, %eax
    xor %edx, %edx
    wrmsr
    /* Paging on with EFER.LME set activates long mode (SDM vol. 3 §10.8.5);
     * the far jump then loads a 64-bit code segment. */
    mov $(CR0_PE | CR0_ET | CR0_PG), %eax
    mov %eax, %cr0
    ljmp $SEL_KCODE, $long_mode

    .code64
long_mode:
    mov $kstack_top, %esp
    mov $SEL_TSS, %eax
    ltr %ax
    lidt idt_ptr(%rip)
    /* iretq to ring 3: SS, RSP, RFLAGS (IF so device interrupts arrive,
     * IOPL 3 so ring 3 may use port I/O: COM1, the i8042), CS, RIP. The
     * data segment registers are left as they are: 64-bit mode ignores
     * them, and iretq to CPL 3 nulls those the user may not use. */
    push $(SEL_UDATA | 3)
    push $ustack_top
    push $(RFLAGS_IF | RFLAGS_IOPL3 | RFLAGS_FIXED)
    push $(SEL_UCODE | 3)
    push $user_start
    mov %ebx, %edi          /* zero-extends: hvm_start_info's address */
    iretq

/* Ring 3 from here on. The call aligns the stack as the SysV ABI wants at
 * a function's entry. tg_main does not return; if it ever did, ud2 ends
 * the VM through the exception handler. */
    .text
user_start:
    call tg_main
    ud2

    .section .rodata
    .balign 8
gdt:
    .quad 0                         /* null */
    .quad 0x00af9a000000ffff        /* 0x08: ring-0 64-bit code */
    .quad 0x00cf92000000ffff        /* 0x10: ring-0 data */
    .quad 0x00cff2000000ffff        /* 0x18: ring-3 data (the iretq's SS) */
    .quad 0x00affa000000ffff        /* 0x20: ring-3 64-bit code */
    .quad TSS_DESC_LO               /* 0x28: 64-bit TSS (16 bytes) */
    .quad 0                         /* TSS base 63:32: the image is below 4 GiB */
gdt_end:
    .balign 8
gdt_ptr:                            /* lgdt in 32-bit mode: limit, 32-bit base */
    .word gdt_end - gdt - 1
    .quad gdt                       /* 64-bit base for a later lgdt in long mode */

/* The 64-bit TSS (SDM vol. 3 §8.7): only RSP0 matters, the stack an
 * interrupt or exception from ring 3 switches to. The I/O map base lies
 * past the limit: no I/O bitmap, IOPL 3 alone grants ring 3 the ports. */
    .data
    .balign 16
    .globl tss64
tss64:
    .long 0
    .quad kstack_top                /* rsp0 */
    .quad 0, 0                      /* rsp1, rsp2 */
    .quad 0                         /* reserved */
    .quad 0, 0, 0, 0, 0, 0, 0       /* ist1-7: unused, every gate has IST 0 */
    .quad 0                         /* reserved */
    .word 0
    .word 0x68                      /* I/O map base = size: no bitmap */

/* Identity map of the first 4 GiB with 2 MiB pages (SDM vol. 3 §5.5):
 * PML4[0] -> PDPT, PDPT[0..3] -> four page directories. Every entry has
 * U/S set so ring 3 reaches all of it: the test drivers, their rings and
 * the devices' registers. The last GiB (0xc0000000-0xffffffff) is the
 * 32-bit MMIO hole: plugvm's virtio-mmio windows at 0xd0000000, QEMU
 * microvm's at 0xfeb00000, the IOAPIC at 0xfec00000 and the LAPIC at
 * 0xfee00000. It is mapped uncached (PCD|PWT, PAT entry 3 = UC) so that
 * every register access reaches the device, in order. */
    .section .data.pagetables, "aw"
    .balign 4096
pml4:
    .quad pdpt + PTE_P + PTE_W + PTE_U
    .fill 511, 8, 0
pdpt:
    .quad pd + 0x0000 + PTE_P + PTE_W + PTE_U
    .quad pd + 0x1000 + PTE_P + PTE_W + PTE_U
    .quad pd + 0x2000 + PTE_P + PTE_W + PTE_U
    .quad pd + 0x3000 + PTE_P + PTE_W + PTE_U
    .fill 508, 8, 0
pd:
    .set page, 0
    .rept 2048
    .if page < 1536
    .quad (page << 21) + PTE_P + PTE_W + PTE_U + PTE_PS
    .else
    .quad (page << 21) + PTE_P + PTE_W + PTE_U + PTE_PS + PTE_PWT + PTE_PCD
    .endif
    .set page, page + 1
    .endr

    .bss
    .balign 16
kstack:
    .skip KSTACK_SIZE
    .globl kstack_top
kstack_top:
ustack:
    .skip USTACK_SIZE
ustack_top:

    .section .note.GNU-stack, "", @progbits
