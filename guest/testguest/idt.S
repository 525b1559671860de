/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The IDT and its 256 stubs, all prebuilt (testguest.ld computes the gate
 * fields from isr_stubs).
 *
 * - Vectors 0-31 (exceptions): push a zero error code where the CPU pushes
 *   none, push the vector, and call trap_exception() (trap.c), which
 *   prints the vector and RIP on COM1 and ends the VM.
 * - Vectors 32-254 (device interrupts): the least kernel-mode work there
 *   is, since every instruction here is emulated on the build machines'
 *   KVM: count the interrupt in irq_count[vector], which ring 3 reads, and
 *   EOI the LAPIC. Ring 3 reads and acknowledges the device's
 *   InterruptStatus itself. Seven instructions from gate to iretq.
 * - Vector 255, the LAPIC's spurious vector: iretq, no EOI (SDM vol. 3
 *   §12.9: a spurious interrupt does not set an ISR bit).
 */
#include "layout.h"

#define STUB_SIZE 16

    .section .text.isr_stubs, "ax"
    .code64
    .balign 4096
    .globl isr_stubs
isr_stubs:
    .set vector, 0
    .rept 256
    .org isr_stubs + STUB_SIZE * vector, 0xcc
    .if vector == 13
      jmp gp_trap             /* the CPU pushed an error code */
    .elseif vector < 32
      /* The CPU pushes an error code for #DF, #TS, #NP, #SS, #GP, #PF,
       * #AC, #CP, #VC, #SX (SDM vol. 3 §6.15). */
      .if !(vector == 8 || (vector >= 10 && vector <= 14) || vector == 17 || vector == 21 || vector == 29 || vector == 30)
        pushq $0
      .endif
      pushq $vector
      jmp exception_common
    .elseif vector == VEC_SPURIOUS
      iretq
    .else
      incl irq_count + 4 * vector(%rip)
      jmp irq_common
    .endif
    .set vector, vector + 1
    .endr
    .org isr_stubs + STUB_SIZE * 256, 0xcc

    .text
irq_common:
    push %rax
    mov $(LAPIC_BASE + LAPIC_EOI), %eax
    movl $0, (%rax)
    pop %rax
    iretq

/*
 * #GP. On the build machines' KVM (KVM over PVM) ring 3 never gets IOPL 3:
 * the emulated iretq clears RFLAGS.IOPL, so every port access from ring 3
 * raises #GP. This handler performs the access in ring 0 and resumes after
 * it, for exactly the forms the guest uses: `out %al,%dx`, `in %dx,%al`,
 * `out %al,$imm8`, `in $imm8,%al` and `rep outsb` (console.c writes 16
 * bytes of the UART's FIFO in one trap). Any other #GP, or one from ring
 * 0, is reported. On a host with VT-x or AMD-V, IOPL 3 holds and ring 3
 * does its port I/O directly, without coming here.
 *
 * Stack after the four pushes: RCX, RSI, RDX, RAX, error code, then the
 * CPU's frame: RIP at 40, CS at 48.
 */
gp_trap:
    testb $3, 16(%rsp)          /* the frame's CS: from ring 3? */
    jz 9f
    push %rax
    push %rdx
    push %rsi
    push %rcx
    mov 40(%rsp), %rsi
    movzbl (%rsi), %ecx
    cmp $0xee, %cl
    je 1f
    cmp $0xec, %cl
    je 2f
    cmp $0xe6, %cl
    je 3f
    cmp $0xe4, %cl
    je 4f
    cmp $0xf3, %cl
    jne 8f
    cmpb $0x6e, 1(%rsi)
    jne 8f
    mov 8(%rsp), %rsi           /* rep outsb with the user's RSI, RCX, DX */
    mov (%rsp), %rcx
    rep outsb
    mov %rsi, 8(%rsp)
    mov %rcx, (%rsp)
    addq $2, 40(%rsp)
    jmp 7f
1:  out %al, %dx                /* out %al,%dx */
    incq 40(%rsp)
    jmp 7f
2:  in %dx, %al                 /* in %dx,%al */
    mov %al, 24(%rsp)
    incq 40(%rsp)
    jmp 7f
3:  movzbl 1(%rsi), %edx        /* out %al,$imm8 */
    out %al, %dx
    addq $2, 40(%rsp)
    jmp 7f
4:  movzbl 1(%rsi), %edx        /* in $imm8,%al */
    in %dx, %al
    mov %al, 24(%rsp)
    addq $2, 40(%rsp)
7:  pop %rcx
    pop %rsi
    pop %rdx
    pop %rax
    add $8, %rsp                /* the error code */
    iretq
8:  pop %rcx
    pop %rsi
    pop %rdx
    pop %rax
9:  pushq $13
    jmp exception_common

/* Stack: vector, error code, then the CPU's frame: RIP, CS, RFLAGS, RSP,
 * SS. trap_exception does not return. */
exception_common:
    mov (%rsp), %edi
    mov 8(%rsp), %rsi
    mov 16(%rsp), %rdx
    mov 24(%rsp), %rcx
    mov %cr2, %r8
    mov 32(%rsp), %r9
    and $-16, %rsp
    call trap_exception
    ud2

    .section .rodata
    .balign 16
idt:
    .set vector, 0
    .rept 256
    .quad IDT_GATE0_LO + STUB_SIZE * vector
    .quad 0                 /* offset 63:32: the image is below 4 GiB */
    .set vector, vector + 1
    .endr
idt_end:
    .balign 8
    .word 0, 0, 0
    .globl idt_ptr
idt_ptr:                    /* lidt in 64-bit mode: limit, 64-bit base */
    .word idt_end - idt - 1
    .quad idt
    .globl idt_empty
    .word 0, 0, 0
idt_empty:                  /* limit 0: the next exception triple-faults */
    .word 0
    .quad 0

/* Interrupts counted per vector; ring 3 waits on these (irq.c). */
    .bss
    .balign 64
    .globl irq_count
irq_count:
    .skip 4 * 256

    .section .note.GNU-stack, "", @progbits
