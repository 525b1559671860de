/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The smallest guest: a PVH kernel (entered in 32-bit protected mode with
 * paging off, xen/include/public/arch-x86/hvm/start_info.h) that prints one
 * line on COM1 and ends the VM. It asks the i8042 for a CPU reset (plugvm,
 * Firecracker); where there is no i8042 (QEMU's microvm) it triple-faults,
 * which `-no-reboot` turns into an exit. No stack, no memory writes: it runs
 * unchanged on any VMM that boots PVH.
 */
#define COM1 0x3f8
#define I8042_CMD 0x64
#define I8042_RESET 0xfe

    .section .note.Xen, "a", @note
    .balign 4
    .long 4                 /* namesz: "Xen\0" */
    .long 4                 /* descsz */
    .long 18                /* XEN_ELFNOTE_PHYS32_ENTRY */
    .asciz "Xen"
    .balign 4
    .long _start

    .text
    .code32
    .globl _start
_start:
    mov $msg, %esi
    mov $COM1, %dx
1:  lodsb
    test %al, %al
    jz 2f
    out %al, %dx
    jmp 1b
2:  mov $I8042_RESET, %al
    out %al, $I8042_CMD
    /* Still running: no i8042. An empty IDT makes the next exception a
     * triple fault. */
    lidt idt_empty
    ud2

    .section .rodata
msg:
    .asciz "hello from the plugvm hello guest\n"
    .balign 8
idt_empty:
    .word 0
    .long 0
