/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Device interrupts, from ring 3: the LAPIC and IOAPIC are programmed
 * through their MMIO registers (mapped user-accessible, uncached), and the
 * kernel-mode stubs in idt.S count each interrupt in irq_count[vector].
 */
#ifndef TESTGUEST_IRQ_H
#define TESTGUEST_IRQ_H

#include <stdbool.h>
#include <stdint.h>

extern volatile uint32_t irq_count[256];

/* Enables the local APIC (xAPIC mode, SVR with the spurious vector) and
 * masks LINT0, so an unprogrammed 8259 PIC behind it cannot inject
 * vectors. Returns the LAPIC's ID. */
uint32_t lapic_init(void);

/* Routes GSI `gsi` to `vector` on the LAPIC whose ID is `apic_id` (0 on
 * the boot vCPU): fixed delivery, physical destination, edge-triggered,
 * active high (as virtio-mmio interrupts are described to Linux). Returns
 * false, with a reason in *why, when no IOAPIC has the pin. */
bool ioapic_route(uint32_t gsi, uint8_t vector, uint32_t apic_id, const char **why);

/* Waits, spinning with `pause`, until irq_count[vector] differs from
 * `seen` or `timeout_us` passes. Returns the count then. */
uint32_t irq_wait(uint8_t vector, uint32_t seen, uint64_t timeout_us);

#endif
