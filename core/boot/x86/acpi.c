/* SPDX-License-Identifier: Apache-2.0 */
#include "acpi.h"

#include <string.h>

#include "layout.h"

#define OEM_ID "PLUGVM"
#define OEM_TABLE_ID "PLUGVM  "
#define CREATOR_ID "PLVM"

/* ACPI 6.4 §5.2.6: the header every description table starts with. */
struct __attribute__((packed)) acpi_header {
    char signature[4];
    uint32_t length;
    uint8_t revision;
    uint8_t checksum;
    char oem_id[6];
    char oem_table_id[8];
    uint32_t oem_revision;
    char creator_id[4];
    uint32_t creator_revision;
};

/* §5.2.5.3 */
struct __attribute__((packed)) acpi_rsdp {
    char signature[8];
    uint8_t checksum;
    char oem_id[6];
    uint8_t revision;
    uint32_t rsdt_address;
    uint32_t length;
    uint64_t xsdt_address;
    uint8_t extended_checksum;
    uint8_t reserved[3];
};

/* §5.2.9, revision 6: 276 bytes. Only what a hardware-reduced platform
 * sets is named; the rest stays zero. */
struct __attribute__((packed)) acpi_fadt {
    struct acpi_header h;
    uint32_t firmware_ctrl, dsdt;
    uint8_t reserved0[109 - 44];
    uint16_t iapc_boot_arch;
    uint8_t reserved1;
    uint32_t flags;
    uint8_t reset_reg[12];
    uint8_t reset_value;
    uint16_t arm_boot_arch;
    uint8_t minor_version;
    uint64_t x_firmware_ctrl, x_dsdt;
    uint8_t x_blocks[276 - 148];
};

#define FADT_HW_REDUCED_ACPI (1u << 20)
#define IAPC_VGA_NOT_PRESENT (1u << 2)
#define IAPC_CMOS_RTC_NOT_PRESENT (1u << 5)

/* §5.2.12: MADT and its interrupt controller structures. */
struct __attribute__((packed)) acpi_madt {
    struct acpi_header h;
    uint32_t lapic_address;
    uint32_t flags;
};
#define MADT_PCAT_COMPAT 1
struct __attribute__((packed)) madt_lapic {
    uint8_t type, length, uid, apic_id;
    uint32_t flags; /* bit 0: enabled */
};
struct __attribute__((packed)) madt_ioapic {
    uint8_t type, length, id, reserved;
    uint32_t address, gsi_base;
};
struct __attribute__((packed)) madt_lapic_nmi {
    uint8_t type, length, uid;
    uint16_t flags;
    uint8_t lint;
};

static uint8_t checksum(const void *p, size_t len)
{
    uint8_t sum = 0;
    for (size_t i = 0; i < len; i++)
        sum += ((const uint8_t *)p)[i];
    return (uint8_t)-sum;
}

static void header(struct acpi_header *h, const char *sig, uint32_t length, uint8_t revision)
{
    memcpy(h->signature, sig, 4);
    h->length = length;
    h->revision = revision;
    memcpy(h->oem_id, OEM_ID, 6);
    memcpy(h->oem_table_id, OEM_TABLE_ID, 8);
    h->oem_revision = 1;
    memcpy(h->creator_id, CREATOR_ID, 4);
    h->creator_revision = 1;
}

static void seal(struct acpi_header *h)
{
    h->checksum = 0;
    h->checksum = checksum(h, h->length);
}

#define ALIGN16(x) (((x) + 15) & ~(uint64_t)15)

uint64_t x86_acpi_write(const struct guest_mem *m, uint32_t vcpus,
                        const struct acpi_virtio_mmio *devs, size_t ndevs)
{
    (void)devs;
    (void)ndevs;
    uint64_t rsdp_at = X86_ACPI_ADDR;
    uint64_t xsdt_at = ALIGN16(rsdp_at + sizeof(struct acpi_rsdp));
    uint64_t xsdt_len = sizeof(struct acpi_header) + 2 * 8;
    uint64_t fadt_at = ALIGN16(xsdt_at + xsdt_len);
    uint64_t dsdt_at = ALIGN16(fadt_at + sizeof(struct acpi_fadt));
    uint64_t madt_at = ALIGN16(dsdt_at + sizeof(struct acpi_header));
    uint64_t madt_len = sizeof(struct acpi_madt) + vcpus * sizeof(struct madt_lapic) +
                        sizeof(struct madt_ioapic) + sizeof(struct madt_lapic_nmi);
    uint64_t end = madt_at + madt_len;
    if (end > X86_ACPI_END)
        return 0;
    uint8_t *base = guest_mem_ptr(m, rsdp_at, end - rsdp_at);
    if (!base)
        return 0;
    memset(base, 0, end - rsdp_at);
#define AT(gpa) (base + ((gpa) - rsdp_at))

    struct acpi_header *dsdt = (struct acpi_header *)AT(dsdt_at);
    header(dsdt, "DSDT", sizeof(*dsdt), 2);
    seal(dsdt);

    struct acpi_fadt *fadt = (struct acpi_fadt *)AT(fadt_at);
    header(&fadt->h, "FACP", sizeof(*fadt), 6);
    fadt->flags = FADT_HW_REDUCED_ACPI;
    fadt->iapc_boot_arch = IAPC_VGA_NOT_PRESENT | IAPC_CMOS_RTC_NOT_PRESENT;
    fadt->minor_version = 4;
    fadt->x_dsdt = dsdt_at;
    seal(&fadt->h);

    struct acpi_madt *madt = (struct acpi_madt *)AT(madt_at);
    header(&madt->h, "APIC", (uint32_t)madt_len, 5);
    madt->lapic_address = (uint32_t)X86_LAPIC_ADDR;
    madt->flags = MADT_PCAT_COMPAT;
    uint8_t *p = (uint8_t *)(madt + 1);
    for (uint32_t i = 0; i < vcpus; i++, p += sizeof(struct madt_lapic)) {
        struct madt_lapic l = {.type = 0, .length = sizeof(l), .uid = (uint8_t)i,
                               .apic_id = (uint8_t)i, .flags = 1};
        memcpy(p, &l, sizeof(l));
    }
    struct madt_ioapic io = {.type = 1, .length = sizeof(io), .id = (uint8_t)vcpus,
                             .address = (uint32_t)X86_IOAPIC_ADDR, .gsi_base = 0};
    memcpy(p, &io, sizeof(io));
    p += sizeof(io);
    /* LINT1 of every processor (uid 0xff) is the NMI, as the LAPIC's LVT1
     * is programmed by the backend. */
    struct madt_lapic_nmi nmi = {.type = 4, .length = sizeof(nmi), .uid = 0xff, .flags = 0, .lint = 1};
    memcpy(p, &nmi, sizeof(nmi));
    seal(&madt->h);

    struct acpi_header *xsdt = (struct acpi_header *)AT(xsdt_at);
    header(xsdt, "XSDT", (uint32_t)xsdt_len, 1);
    uint64_t entries[2] = {fadt_at, madt_at};
    memcpy(xsdt + 1, entries, sizeof(entries));
    seal(xsdt);

    struct acpi_rsdp *rsdp = (struct acpi_rsdp *)AT(rsdp_at);
    memcpy(rsdp->signature, "RSD PTR ", 8);
    memcpy(rsdp->oem_id, OEM_ID, 6);
    rsdp->revision = 2;
    rsdp->length = sizeof(*rsdp);
    rsdp->xsdt_address = xsdt_at;
    rsdp->checksum = checksum(rsdp, 20); /* the ACPI 1.0 part */
    rsdp->extended_checksum = checksum(rsdp, sizeof(*rsdp));
#undef AT
    return rsdp_at;
}
