/* SPDX-License-Identifier: Apache-2.0 */
/*
 * MP spec 1.4 chapter 4. Linux scans the last KiB of base memory for the
 * floating pointer ("_MP_") when no ACPI MADT is found
 * (arch/x86/kernel/mpparse.c), and from the processor entries counts CPUs.
 */
#include "mptable.h"

#include <string.h>

#include "layout.h"

#define MPC_SPEC_REV 4 /* 1.4 */
#define MP_PROCESSOR 0
#define MP_BUS 1
#define MP_IOAPIC 2
#define MP_INTSRC 3
#define MP_LINTSRC 4
#define CPU_ENABLED 1
#define CPU_BOOTPROCESSOR 2
#define MP_IRQTYPE_INT 0
#define MP_IRQTYPE_NMI 1
#define MP_IRQTYPE_EXTINT 3
#define APIC_VERSION 0x14 /* an integrated APIC */
#define IOAPIC_VERSION 0x11
#define IRQ_PINS 24       /* the IOAPIC KVM emulates has 24 pins */

struct __attribute__((packed)) mpf_intel {
    char signature[4]; /* "_MP_" */
    uint32_t physptr;
    uint8_t length; /* in 16-byte units: 1 */
    uint8_t specification;
    uint8_t checksum;
    uint8_t feature[5];
};

struct __attribute__((packed)) mpc_table {
    char signature[4]; /* "PCMP" */
    uint16_t length;
    uint8_t spec;
    uint8_t checksum;
    char oem[8];
    char productid[12];
    uint32_t oemptr;
    uint16_t oemsize;
    uint16_t oemcount;
    uint32_t lapic;
    uint32_t reserved;
};

struct __attribute__((packed)) mpc_cpu {
    uint8_t type, apicid, apicver, cpuflag;
    uint32_t cpufeature, featureflag, reserved[2];
};

struct __attribute__((packed)) mpc_bus {
    uint8_t type, busid;
    char bustype[6];
};

struct __attribute__((packed)) mpc_ioapic {
    uint8_t type, apicid, apicver, flags;
    uint32_t apicaddr;
};

struct __attribute__((packed)) mpc_intsrc {
    uint8_t type, irqtype;
    uint16_t irqflag;
    uint8_t srcbus, srcbusirq, dstapic, dstirq;
};

static uint8_t checksum(const void *p, size_t len)
{
    uint8_t sum = 0;
    for (size_t i = 0; i < len; i++)
        sum += ((const uint8_t *)p)[i];
    return (uint8_t)-sum;
}

int x86_mptable_write(const struct guest_mem *m, uint32_t vcpus)
{
    /* The floating pointer must be in the EBDA's first KiB; the table it
     * points to may be anywhere, and with 64 processor entries it is larger
     * than a KiB, so it goes to the reserved BIOS area. */
    size_t size = sizeof(struct mpc_table) + vcpus * sizeof(struct mpc_cpu) +
                  sizeof(struct mpc_bus) + sizeof(struct mpc_ioapic) +
                  (IRQ_PINS + 2) * sizeof(struct mpc_intsrc);
    if (vcpus == 0 || vcpus > 254)
        return -1;
    struct mpf_intel *mpf = guest_mem_ptr(m, X86_EBDA_START, sizeof(*mpf));
    uint8_t *p = guest_mem_ptr(m, X86_BIOS_START, size);
    if (!mpf || !p)
        return -1;
    memset(mpf, 0, sizeof(*mpf));
    memset(p, 0, size);
    struct mpc_table *mpc = (struct mpc_table *)p;
    p += sizeof(*mpc);

    for (uint32_t i = 0; i < vcpus; i++, p += sizeof(struct mpc_cpu)) {
        struct mpc_cpu cpu = {
            .type = MP_PROCESSOR, .apicid = (uint8_t)i, .apicver = APIC_VERSION,
            .cpuflag = CPU_ENABLED | (i == 0 ? CPU_BOOTPROCESSOR : 0),
            .cpufeature = 0x600, /* family 6: the value is informational */
            .featureflag = 0x201, /* FPU, APIC */
        };
        memcpy(p, &cpu, sizeof(cpu));
    }
    struct mpc_bus bus = {.type = MP_BUS, .busid = 0, .bustype = "ISA   "};
    memcpy(p, &bus, sizeof(bus));
    p += sizeof(bus);
    uint8_t ioapic_id = (uint8_t)vcpus;
    struct mpc_ioapic io = {.type = MP_IOAPIC, .apicid = ioapic_id, .apicver = IOAPIC_VERSION,
                            .flags = 1, .apicaddr = (uint32_t)X86_IOAPIC_ADDR};
    memcpy(p, &io, sizeof(io));
    p += sizeof(io);
    /* ISA IRQ n -> IOAPIC pin n, as KVM's default GSI routing wires them
     * (GSI n is IOAPIC pin n), conforming polarity and trigger. */
    for (uint8_t irq = 0; irq < IRQ_PINS; irq++, p += sizeof(struct mpc_intsrc)) {
        struct mpc_intsrc s = {.type = MP_INTSRC, .irqtype = MP_IRQTYPE_INT, .srcbus = 0,
                               .srcbusirq = irq, .dstapic = ioapic_id, .dstirq = irq};
        memcpy(p, &s, sizeof(s));
    }
    /* LINT0: ExtINT from the 8259; LINT1: NMI, to every LAPIC (0xff). */
    struct mpc_intsrc lint0 = {.type = MP_LINTSRC, .irqtype = MP_IRQTYPE_EXTINT, .dstapic = 0xff,
                               .dstirq = 0};
    struct mpc_intsrc lint1 = {.type = MP_LINTSRC, .irqtype = MP_IRQTYPE_NMI, .dstapic = 0xff,
                               .dstirq = 1};
    memcpy(p, &lint0, sizeof(lint0));
    p += sizeof(lint0);
    memcpy(p, &lint1, sizeof(lint1));
    p += sizeof(lint1);

    memcpy(mpc->signature, "PCMP", 4);
    mpc->length = (uint16_t)(p - (uint8_t *)mpc);
    mpc->spec = MPC_SPEC_REV;
    memcpy(mpc->oem, "PLUGVM  ", 8);
    memcpy(mpc->productid, "000000000000", 12);
    mpc->lapic = (uint32_t)X86_LAPIC_ADDR;
    mpc->oemcount = (uint16_t)(vcpus + 1 + 1 + IRQ_PINS + 2);
    mpc->checksum = checksum(mpc, mpc->length);

    memcpy(mpf->signature, "_MP_", 4);
    mpf->physptr = (uint32_t)X86_BIOS_START;
    mpf->length = 1;
    mpf->specification = MPC_SPEC_REV;
    mpf->checksum = checksum(mpf, sizeof(*mpf));
    return 0;
}
