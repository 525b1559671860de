/* SPDX-License-Identifier: Apache-2.0 */
/*
 * exit-port STATUS: write the byte STATUS (decimal, 0-255) to I/O port 0xf4,
 * plugvm's exit status port (vm.exit_port = true; QEMU's isa-debug-exit
 * sits at the same port).
 *
 * Why a program: Debian's cloud kernel is built without CONFIG_DEVPORT, so
 * the e2e guest has no /dev/port to `dd` into, and busybox has no outb
 * applet. ioperm(2) (CONFIG_X86_IOPL_IOPERM=y there) opens the one port to
 * this process, which runs as root (CAP_SYS_RAWIO). No libc: a static
 * ELF of a few hundred bytes, built with `cc -nostdlib -static`.
 *
 * Before the write it waits until the console has sent everything queued
 * for it: ioctl(1, TCSBRK, 1) is tcdrain(3) on stdout. The 8250 driver
 * sends from a buffer on transmit interrupts, so a result line that `echo`
 * has just written may not have reached the UART yet, and the port write
 * ends the VM at once. (Without a terminal on stdout the ioctl fails and
 * is ignored.)
 *
 * Exit status: 0 after the write (the VM normally ends before this process
 * does), 2 if STATUS is missing or not a number below 256, 3 if ioperm
 * failed (then the port was not written).
 */
        .globl _start
        .text
_start:
        cmpq    $2, (%rsp)              /* argc */
        jne     usage
        movq    16(%rsp), %rsi          /* argv[1] */
        xorl    %ebx, %ebx              /* the status */
        xorl    %ecx, %ecx              /* digits seen */
1:      movzbl  (%rsi), %eax
        testl   %eax, %eax
        jz      2f
        subl    $'0', %eax
        cmpl    $9, %eax
        ja      usage
        imull   $10, %ebx, %ebx
        addl    %eax, %ebx
        cmpl    $255, %ebx
        ja      usage
        incq    %rsi
        incl    %ecx
        jmp     1b
2:      testl   %ecx, %ecx
        jz      usage

        movl    $16, %eax               /* ioctl(1, TCSBRK, 1): tcdrain */
        movl    $1, %edi
        movl    $0x5409, %esi
        movl    $1, %edx
        syscall

        movl    $173, %eax              /* ioperm(0xf4, 1, 1) */
        movl    $0xf4, %edi
        movl    $1, %esi
        movl    $1, %edx
        syscall
        testq   %rax, %rax
        jnz     denied

        movl    %ebx, %eax
        outb    %al, $0xf4
        xorl    %edi, %edi
        jmp     exit
usage:  movl    $2, %edi
        jmp     exit
denied: movl    $3, %edi
exit:   movl    $231, %eax              /* exit_group */
        syscall
        hlt                             /* not reached */

        .section .note.GNU-stack, "", @progbits
