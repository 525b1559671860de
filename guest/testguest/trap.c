/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Exceptions and the way out of the VM. trap_exception runs in ring 0,
 * where every instruction is emulated on the build machines' KVM: it only
 * prints and ends the VM.
 */
#include "machine.h"
#include "tap.h"

#include "console.h"
#include "io.h"

#define I8042_CMD 0x64
#define I8042_RESET 0xfe
#define VEC_UD 6
#define VEC_PF 14

volatile uint32_t machine_exiting;

static const char *const exception_names[32] = {
    "#DE divide error", "#DB debug", "NMI", "#BP breakpoint", "#OF overflow",
    "#BR bound range", "#UD invalid opcode", "#NM device not available",
    "#DF double fault", "coprocessor segment overrun", "#TS invalid TSS",
    "#NP segment not present", "#SS stack fault", "#GP general protection",
    "#PF page fault", "reserved", "#MF x87 error", "#AC alignment check",
    "#MC machine check", "#XM SIMD error", "#VE virtualization", "#CP control protection",
};

#define EXIT_PORT 0xf4

__attribute__((noreturn)) void machine_exit_ring0(void)
{
    static const struct __attribute__((packed)) {
        uint16_t limit;
        uint64_t base;
    } empty_idt = {0, 0};

    outb(I8042_CMD, I8042_RESET);
    /* Still running: no i8042. With an IDT of limit 0 the next exception
     * cannot be delivered: #GP, then #DF, then a triple fault, which ends
     * the VM (a reset; QEMU's -no-reboot turns it into an exit). */
    __asm__ volatile("lidt %0\n\tud2" : : "m"(empty_idt));
    __builtin_unreachable();
}

__attribute__((noreturn)) void machine_exit(void)
{
    /* The failure count on the exit port first (0xf4: plugvm's exit_port,
     * QEMU's isa-debug-exit), so a VMM that has one ends with it as its
     * status; elsewhere the port is unclaimed and the write is dropped. */
    unsigned failed = tap_failures();
    outb(EXIT_PORT, (uint8_t)(failed > 255 ? 255 : failed));
    outb(I8042_CMD, I8042_RESET);
    machine_exiting = 1;
    __asm__ volatile("ud2" : : : "memory");
    __builtin_unreachable();
}

__attribute__((noreturn)) void trap_exception(uint32_t vector, uint64_t error, uint64_t rip,
                                              uint64_t cs, uint64_t cr2, uint64_t rflags)
{
    if (vector == VEC_UD && machine_exiting)
        machine_exit_ring0();
    const char *name = vector < 32 && exception_names[vector] ? exception_names[vector] : "?";
    console_printf("\n# exception %u (%s) at rip %p, cs 0x%lx (ring %u), rflags 0x%lx, error code 0x%lx",
                   vector, name, (void *)rip, cs, (unsigned)(cs & 3), rflags, error);
    if (vector == VEC_PF)
        console_printf(", cr2 %p", (void *)cr2);
    console_puts("\nBail out! the guest took an exception\n");
    machine_exit_ring0();
}
