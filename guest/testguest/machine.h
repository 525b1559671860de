/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Ending the VM, from ring 3 (machine_exit) or from ring 0 (trap.c).
 */
#ifndef TESTGUEST_MACHINE_H
#define TESTGUEST_MACHINE_H

#include <stdint.h>

/* Set by ring 3 just before it ends the VM with ud2: the #UD that follows
 * is the way out, not a fault to report. */
extern volatile uint32_t machine_exiting;

/* Ring 3: asks the i8042 for a CPU reset (plugvm and Firecracker end the
 * VM there); where there is no i8042 (QEMU's microvm), traps to ring 0,
 * which triple-faults (QEMU with -no-reboot exits). */
__attribute__((noreturn)) void machine_exit(void);

/* Ring 0: the same, and the triple fault directly. */
__attribute__((noreturn)) void machine_exit_ring0(void);

/* Ring 0, from idt.S: every exception lands here. */
__attribute__((noreturn)) void trap_exception(uint32_t vector, uint64_t error, uint64_t rip,
                                              uint64_t cs, uint64_t cr2, uint64_t rflags);

#endif
