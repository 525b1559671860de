/* SPDX-License-Identifier: Apache-2.0 */
#include "irq.h"

#include "clock.h"
#include "io.h"
#include "layout.h"

/* xAPIC registers (Intel SDM vol. 3 §12.4-12.9). */
#define LAPIC_ID 0x020
#define LAPIC_TPR 0x080
#define LAPIC_SVR 0x0f0
#define LAPIC_LVT_LINT0 0x350
#define LAPIC_SVR_ENABLE 0x100
#define LAPIC_LVT_MASKED 0x10000

/* IOAPIC (82093AA datasheet): an index register and a data window. */
#define IOAPIC_REGSEL 0x00
#define IOAPIC_WIN 0x10
#define IOAPIC_REG_VER 0x01
#define IOAPIC_REG_REDTBL 0x10
#define IOAPIC_REDIR_MASKED 0x10000

/* The IOAPICs a VMM may give us: plugvm's and QEMU's at 0xfec00000 with
 * GSIs 0-23, and QEMU microvm's second one (ioapic2=on) at 0xfec10000 with
 * GSIs 24-47. Each one's size comes from its version register. */
static const uint64_t ioapic_bases[] = {0xfec00000, 0xfec10000};

static uint32_t lapic_read(uint32_t reg)
{
    return mmio_read32(LAPIC_BASE + reg);
}

static void lapic_write(uint32_t reg, uint32_t v)
{
    mmio_write32(LAPIC_BASE + reg, v);
}

uint32_t lapic_init(void)
{
    lapic_write(LAPIC_LVT_LINT0, LAPIC_LVT_MASKED);
    lapic_write(LAPIC_TPR, 0);
    lapic_write(LAPIC_SVR, LAPIC_SVR_ENABLE | VEC_SPURIOUS);
    return lapic_read(LAPIC_ID) >> 24;
}

static uint32_t ioapic_read(uint64_t base, uint32_t reg)
{
    mmio_write32(base + IOAPIC_REGSEL, reg);
    return mmio_read32(base + IOAPIC_WIN);
}

static void ioapic_write(uint64_t base, uint32_t reg, uint32_t v)
{
    mmio_write32(base + IOAPIC_REGSEL, reg);
    mmio_write32(base + IOAPIC_WIN, v);
}

bool ioapic_route(uint32_t gsi, uint8_t vector, uint32_t apic_id, const char **why)
{
    uint32_t gsi_base = 0;
    for (unsigned i = 0; i < sizeof(ioapic_bases) / sizeof(ioapic_bases[0]); i++) {
        uint64_t base = ioapic_bases[i];
        uint32_t ver = ioapic_read(base, IOAPIC_REG_VER);
        if (ver == 0xffffffff || ver == 0) {
            *why = "no IOAPIC has this GSI";
            return false;
        }
        uint32_t pins = ((ver >> 16) & 0xff) + 1;
        if (gsi < gsi_base + pins) {
            uint32_t pin = gsi - gsi_base;
            /* Masked first, then the high word (destination APIC ID in
             * bits 63:56), then the low word, which unmasks: the entry is
             * never live half-written. */
            ioapic_write(base, IOAPIC_REG_REDTBL + 2 * pin, IOAPIC_REDIR_MASKED);
            ioapic_write(base, IOAPIC_REG_REDTBL + 2 * pin + 1, apic_id << 24);
            ioapic_write(base, IOAPIC_REG_REDTBL + 2 * pin, vector);
            return true;
        }
        gsi_base += pins;
    }
    *why = "GSI beyond the IOAPICs' pins";
    return false;
}

uint32_t irq_wait(uint8_t vector, uint32_t seen, uint64_t timeout_us)
{
    uint64_t start = clock_us();
    uint32_t n;
    while ((n = irq_count[vector]) == seen && clock_us() - start < timeout_us)
        cpu_relax();
    return n;
}
