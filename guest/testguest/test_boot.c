/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test=boot: the guest's own machinery, no device needed. It proves on a
 * VMM what every other test relies on: boot.S reached ring 3 with
 * interrupts on, port I/O works (this output), the LAPIC is enabled, and
 * an interrupt goes through the IDT stub, is counted, and is EOIed (a
 * second self-IPI on the same vector is only delivered after the first's
 * EOI, SDM vol. 3 §12.8.4).
 */
#include <stdint.h>

#include "clock.h"
#include "io.h"
#include "irq.h"
#include "layout.h"
#include "tap.h"
#include "tests.h"

#define BOOT_TESTS 7
#define SELF_IPI_TIMEOUT_US 1000000u

#define LAPIC_VERSION 0x030
#define LAPIC_SVR 0x0f0
#define LAPIC_ICR_LOW 0x300
#define ICR_LEVEL_ASSERT (1u << 14)
#define ICR_DEST_SELF (1u << 18)

static uint64_t read_rflags(void)
{
    uint64_t f;
    __asm__ volatile("pushfq; pop %0" : "=r"(f));
    return f;
}

static uint16_t read_cs(void)
{
    uint16_t cs;
    __asm__ volatile("mov %%cs, %0" : "=r"(cs));
    return cs;
}

static bool self_ipi(uint8_t vector, uint32_t *before, uint32_t *after)
{
    *before = irq_count[vector];
    mmio_write32(LAPIC_BASE + LAPIC_ICR_LOW, ICR_DEST_SELF | ICR_LEVEL_ASSERT | vector);
    *after = irq_wait(vector, *before, SELF_IPI_TIMEOUT_US);
    return *after == *before + 1;
}

void test_boot(struct guest *g)
{
    (void)g;
    tap_plan(BOOT_TESTS);
    uint16_t cs = read_cs();
    tap_check((cs & 3) == 3, "main() runs in ring 3", "CS 0x%x", cs);
    uint64_t rflags = read_rflags();
    /* IOPL 3 is asked for; where the VMM's CPU emulation drops it (KVM
     * over PVM), idt.S's #GP handler performs ring 3's port I/O. */
    tap_diag("RFLAGS 0x%lx: IOPL %lu%s", rflags, (rflags >> 12) & 3,
             ((rflags >> 12) & 3) == 3 ? "" : ", port I/O goes through the #GP handler");
    tap_check(rflags & 0x200, "interrupts are enabled (RFLAGS.IF) in ring 3", "RFLAGS 0x%lx",
              rflags);

    uint64_t t0 = rdtsc(), t1 = rdtsc();
    tap_check(t1 > t0, "ring 3 reads a running TSC", "rdtsc 0x%lx then 0x%lx", t0, t1);

    uint32_t ver = mmio_read32(LAPIC_BASE + LAPIC_VERSION);
    uint32_t svr = mmio_read32(LAPIC_BASE + LAPIC_SVR);
    tap_diag("LAPIC version 0x%x, SVR 0x%x", ver, svr);
    tap_check(ver != 0 && ver != 0xffffffff, "the LAPIC answers at 0xfee00000 (version register)",
              "read 0x%x", ver);
    tap_check((svr & 0x1ff) == (0x100 | VEC_SPURIOUS),
              "the LAPIC is software-enabled with the spurious vector 0xff", "SVR 0x%x", svr);

    uint32_t before, after;
    uint64_t start = clock_us();
    bool ok = self_ipi(VEC_SELF_TEST, &before, &after);
    uint64_t took = clock_us() - start;
    tap_check(ok, "a self-IPI reaches the IDT stub and is counted", "irq_count[0x%x] %u -> %u",
              VEC_SELF_TEST, before, after);
    tap_diag("self-IPI delivered after %lu us", took);
    ok = self_ipi(VEC_SELF_TEST, &before, &after);
    tap_check(ok, "a second self-IPI on the same vector arrives (the first was EOIed)",
              "irq_count[0x%x] %u -> %u", VEC_SELF_TEST, before, after);
}
