/* SPDX-License-Identifier: Apache-2.0 */
#include "acpi.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "devices/acpi_sleep.h"
#include "layout.h"
#include "util/error.h"

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

/* §5.2.3.2 Generic Address Structure. */
struct __attribute__((packed)) acpi_gas {
    uint8_t space_id, bit_width, bit_offset, access_size;
    uint64_t address;
};
#define GAS_SYSTEM_IO 1
#define GAS_ACCESS_BYTE 1

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
    uint8_t x_blocks[244 - 148];
    struct acpi_gas sleep_control_reg, sleep_status_reg;
    uint64_t hypervisor_vendor_id;
};
_Static_assert(sizeof(struct acpi_fadt) == 276, "FADT revision 6 is 276 bytes");

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

static void put_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_le64(const uint8_t *p)
{
    return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

/*
 * AML (ACPI 6.4 chapter 20), encoded by hand into a bounded buffer. A
 * package's PkgLength depends on the size of what follows it, so its
 * contents are written first and the PkgLength inserted in front of them
 * when the package closes (aml_pkg_end). Anything that does not fit, or a
 * malformed name, sets `bad` and every later call does nothing.
 */
struct aml {
    uint8_t *buf;
    size_t cap, len;
    bool bad;
};

/* Opcodes and prefixes, §20.2. */
#define AML_ZERO 0x00
#define AML_ONE 0x01
#define AML_NAME 0x08
#define AML_BYTE_PREFIX 0x0a
#define AML_WORD_PREFIX 0x0b
#define AML_DWORD_PREFIX 0x0c
#define AML_STRING_PREFIX 0x0d
#define AML_QWORD_PREFIX 0x0e
#define AML_SCOPE 0x10
#define AML_BUFFER 0x11
#define AML_PACKAGE 0x12
#define AML_METHOD 0x14
#define AML_DUAL_NAME_PREFIX 0x2e
#define AML_MULTI_NAME_PREFIX 0x2f
#define AML_EXT_PREFIX 0x5b
#define AML_DEVICE 0x82 /* after AML_EXT_PREFIX */
#define AML_ROOT_CHAR '\\'
#define AML_ARG0 0x68
#define AML_NOTIFY 0x86
#define AML_LEQUAL 0x93
#define AML_IF 0xa0

static void aml_put(struct aml *a, const void *p, size_t n)
{
    if (a->bad || n > a->cap - a->len) {
        a->bad = true;
        return;
    }
    memcpy(a->buf + a->len, p, n);
    a->len += n;
}

static void aml_byte(struct aml *a, uint8_t b)
{
    aml_put(a, &b, 1);
}

/* Inserts n bytes at offset `at` (<= len), moving what follows. */
static void aml_insert(struct aml *a, size_t at, const uint8_t *p, size_t n)
{
    if (a->bad || at > a->len || n > a->cap - a->len) {
        a->bad = true;
        return;
    }
    memmove(a->buf + at + n, a->buf + at, a->len - at);
    memcpy(a->buf + at, p, n);
    a->len += n;
}

/* §20.2.3 ComputationalData: the shortest of Zero, One, BytePrefix,
 * WordPrefix, DWordPrefix, QWordPrefix that holds v. Returns its size. */
static size_t aml_integer_encode(uint64_t v, uint8_t out[9])
{
    if (v <= 1) {
        out[0] = v ? AML_ONE : AML_ZERO;
        return 1;
    }
    size_t n = v <= 0xff ? 1 : v <= 0xffff ? 2 : v <= 0xffffffff ? 4 : 8;
    out[0] = n == 1 ? AML_BYTE_PREFIX : n == 2 ? AML_WORD_PREFIX : n == 4 ? AML_DWORD_PREFIX
                                                                          : AML_QWORD_PREFIX;
    for (size_t i = 0; i < n; i++)
        out[1 + i] = (uint8_t)(v >> (8 * i));
    return 1 + n;
}

static void aml_integer(struct aml *a, uint64_t v)
{
    uint8_t enc[9];
    aml_put(a, enc, aml_integer_encode(v, enc));
}

/* §20.2.3 String: AsciiCharList (0x01-0x7f) and a NUL. */
static void aml_string(struct aml *a, const char *s)
{
    for (const char *c = s; *c; c++)
        if ((unsigned char)*c > 0x7f)
            a->bad = true;
    aml_byte(a, AML_STRING_PREFIX);
    aml_put(a, s, strlen(s) + 1);
}

/* ASL's EisaId ("PNP0501"): three letters of 5 bits and four hex digits,
 * stored big-endian in a DWord. */
static void aml_eisaid(struct aml *a, const char *id)
{
    uint32_t v = 0;
    for (int i = 0; i < 3; i++) {
        if (id[i] < 'A' || id[i] > 'Z') {
            a->bad = true;
            return;
        }
        v |= (uint32_t)(id[i] - '@') << (26 - 5 * i);
    }
    for (int i = 3; i < 7; i++) {
        char c = id[i];
        unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0')
                     : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10) : 16;
        if (d > 15) {
            a->bad = true;
            return;
        }
        v |= d << (4 * (6 - i));
    }
    if (id[7]) {
        a->bad = true;
        return;
    }
    aml_integer(a, (v >> 24) | (v >> 8 & 0xff00) | (v << 8 & 0xff0000) | (v << 24));
}

/* §20.2.2 NameString from ASL text: an optional '\' (root), then NameSegs
 * separated by '.', each 1-4 characters of [A-Z0-9_] not starting with a
 * digit, padded with '_' as ASL does. */
static void aml_namestring(struct aml *a, const char *path)
{
    if (*path == AML_ROOT_CHAR)
        aml_byte(a, (uint8_t)*path++);
    char segs[255][4];
    size_t nsegs = 0;
    for (const char *p = path; *p;) {
        size_t n = strcspn(p, ".");
        if (n == 0 || n > 4 || nsegs == 255 || (p[0] >= '0' && p[0] <= '9')) {
            a->bad = true;
            return;
        }
        for (size_t i = 0; i < 4; i++) {
            char c = i < n ? p[i] : '_';
            if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) {
                a->bad = true;
                return;
            }
            segs[nsegs][i] = c;
        }
        nsegs++;
        p += n;
        if (*p == '.' && !*++p) {
            a->bad = true; /* trailing dot */
            return;
        }
    }
    if (nsegs == 0) {
        aml_byte(a, AML_ZERO); /* NullName */
        return;
    }
    if (nsegs == 2)
        aml_byte(a, AML_DUAL_NAME_PREFIX);
    else if (nsegs > 2) {
        aml_byte(a, AML_MULTI_NAME_PREFIX);
        aml_byte(a, (uint8_t)nsegs);
    }
    aml_put(a, segs, 4 * nsegs);
}

/* §20.2.4 PkgLength: a package's contents start at the offset
 * aml_pkg_begin returns; aml_pkg_end inserts the PkgLength there. It
 * counts its own 1-4 bytes: one byte holds up to 63; with n bytes the
 * lead byte's bits 7-6 say n - 1 and its bits 3-0 hold the low nibble,
 * the following bytes the rest (up to 2^28 - 1). */
static size_t aml_pkg_begin(struct aml *a)
{
    return a->len;
}

static void aml_pkg_end(struct aml *a, size_t start)
{
    if (a->bad || start > a->len)
        return;
    size_t body = a->len - start, n;
    if (body + 1 <= 0x3f)
        n = 1;
    else if (body + 2 <= 0xfff)
        n = 2;
    else if (body + 3 <= 0xfffff)
        n = 3;
    else if (body <= 0xfffffff - 4)
        n = 4;
    else {
        a->bad = true;
        return;
    }
    size_t v = body + n;
    uint8_t enc[4];
    if (n == 1)
        enc[0] = (uint8_t)v;
    else {
        enc[0] = (uint8_t)((n - 1) << 6 | (v & 0x0f));
        for (size_t i = 1; i < n; i++)
            enc[i] = (uint8_t)(v >> (4 + 8 * (i - 1)));
    }
    aml_insert(a, start, enc, n);
}

/* Scope (path) { ... } and Device (name) { ... }: return what to pass to
 * aml_pkg_end once the contents are written. */
static size_t aml_scope_begin(struct aml *a, const char *path)
{
    aml_byte(a, AML_SCOPE);
    size_t pkg = aml_pkg_begin(a);
    aml_namestring(a, path);
    return pkg;
}

static size_t aml_device_begin(struct aml *a, const char *name)
{
    aml_byte(a, AML_EXT_PREFIX);
    aml_byte(a, AML_DEVICE);
    size_t pkg = aml_pkg_begin(a);
    aml_namestring(a, name);
    return pkg;
}

/* Method (name, nargs, NotSerialized) { ... } (§20.2.5.2 DefMethod:
 * MethodFlags bits 2-0 are ArgCount, bit 3 SerializeFlag, 7-4 SyncLevel 0),
 * and If (predicate) { ... } (§20.2.5.3 DefIfElse, the predicate first):
 * return what to pass to aml_pkg_end. */
static size_t aml_method_begin(struct aml *a, const char *name, uint8_t nargs)
{
    aml_byte(a, AML_METHOD);
    size_t pkg = aml_pkg_begin(a);
    aml_namestring(a, name);
    if (nargs > 7)
        a->bad = true;
    aml_byte(a, nargs & 7);
    return pkg;
}

static size_t aml_if_begin(struct aml *a)
{
    aml_byte(a, AML_IF);
    return aml_pkg_begin(a);
}

/* Name (name, object): the object follows. */
static void aml_name(struct aml *a, const char *name)
{
    aml_byte(a, AML_NAME);
    aml_namestring(a, name);
}

/* ResourceTemplate () { ... }: a Buffer (§20.2.5.4, BufferSize then the
 * bytes) of resource descriptors (§6.4) closed by an End Tag. */
static size_t aml_restemplate_begin(struct aml *a)
{
    aml_byte(a, AML_BUFFER);
    return aml_pkg_begin(a);
}

static void aml_restemplate_end(struct aml *a, size_t pkg)
{
    /* §6.4.2.9 End Tag, small item 0x79. Its checksum byte is 0, which
     * the spec defines as "treat the checksum as correct": what iasl, QEMU
     * and ACPICA's own resource encoder write, so acpiexec's AML ->
     * resource -> AML round trip gives back exactly these bytes. */
    static const uint8_t end[2] = {0x79, 0};
    aml_put(a, end, sizeof(end));
    if (a->bad)
        return;
    uint8_t size[9];
    aml_insert(a, pkg, size, aml_integer_encode(a->len - pkg, size));
    aml_pkg_end(a, pkg);
}

/* Name (name, Package () { v0, v1, ... }): §20.2.5.4 DefPackage,
 * PkgLength, NumElements (a byte), then the elements. */
static void aml_name_package(struct aml *a, const char *name, const uint64_t *v, uint8_t n)
{
    aml_name(a, name);
    aml_byte(a, AML_PACKAGE);
    size_t pkg = aml_pkg_begin(a);
    aml_byte(a, n);
    for (uint8_t i = 0; i < n; i++)
        aml_integer(a, v[i]);
    aml_pkg_end(a, pkg);
}

/* §6.4.2.5 I/O Port descriptor, small item 0x47: IO (Decode16, ...). */
static void res_io(struct aml *a, uint16_t min, uint16_t max, uint8_t align, uint8_t len)
{
    uint8_t d[8] = {0x47, 1 /* 16-bit decode */};
    put_le16(d + 2, min);
    put_le16(d + 4, max);
    d[6] = align;
    d[7] = len;
    aml_put(a, d, sizeof(d));
}

/* §6.4.3.4 32-Bit Fixed Memory Range descriptor, large item 0x86. */
static void res_memory32_fixed(struct aml *a, bool writable, uint32_t base, uint32_t len)
{
    uint8_t d[12] = {0x86, 9, 0, writable ? 1 : 0};
    put_le32(d + 4, base);
    put_le32(d + 8, len);
    aml_put(a, d, sizeof(d));
}

/* §6.4.3.6 Extended Interrupt descriptor, large item 0x89, one interrupt:
 * Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive) { gsi }. */
#define INT_CONSUMER (1u << 0)
#define INT_EDGE (1u << 1)
static void res_interrupt_edge_high(struct aml *a, uint32_t gsi)
{
    uint8_t d[9] = {0x89, 6, 0, INT_CONSUMER | INT_EDGE, 1};
    put_le32(d + 5, gsi);
    aml_put(a, d, sizeof(d));
}

#define COM1_PORT 0x3f8
#define COM1_GSI 4

/*
 * The DSDT's AML:
 *
 *   Name (\_S5, Package () { 5, 0 })
 *   Scope (\_SB) {
 *     Device (COM1) { _HID EisaId ("PNP0501"), _UID 0,
 *                     _CRS IO 0x3f8-0x3ff, Interrupt (Edge, ActiveHigh) {4} }
 *     Device (VRnn) { _HID "LNRO0005", _UID nn, _CCA One,
 *                     _CRS Memory32Fixed (ReadWrite, base, size),
 *                          Interrupt (Edge, ActiveHigh, Exclusive) {gsi} }
 *     ...
 *     Device (VGEN) { _HID "PLVM0001", _CID "VM_Gen_Counter",
 *                     _DDN "VM_Gen_Counter",
 *                     ADDR Package { low 32 bits, high 32 bits } }
 *     Device (GED_) { _HID "ACPI0013", _UID 0,
 *                     _CRS Interrupt (Edge, ActiveHigh, Exclusive) {3},
 *                     Method (_EVT, 1) { If (Arg0 == 3) { Notify (VGEN, 0x80) } } }
 *   }
 *
 * COM1 is there because a hardware-reduced FADT makes Linux drop the
 * legacy PIC (null_legacy_pic, so no ISA IRQs 0-15 are set up from the
 * MADT) and hand out IRQ numbers from 1 up to whatever registers a GSI
 * first: the 8250's built-in ISA port table says IRQ 4, which then is no
 * interrupt at all or another device's. Described here, 8250_pnp maps GSI
 * 4 properly and takes the port over, as on QEMU microvm and Firecracker.
 * Virtio-mmio follows Firecracker (edge-triggered, as irqfd injects them)
 * and QEMU's naming (VR%02u, _CCA One).
 *
 * \_S5 (§7.4.2.6) gives SLP_TYPa and SLP_TYPb for soft off; with it and
 * the FADT's sleep registers Linux sets pm_power_off to ACPI's, and its
 * `poweroff` writes SLP_TYPa | SLP_EN to SLEEP_CONTROL_REG
 * (devices/acpi_sleep.h). Without it, poweroff on a hardware-reduced
 * platform ends in a halted CPU and a VM that never stops. No other
 * sleep state is named: nothing here could wake the guest.
 *
 * VGEN is the VM generation ID (devices/vmgenid.h) at X86_VMGENID_ADDR,
 * described as QEMU and Firecracker describe theirs, but with a _HID of
 * the form iasl accepts (4 characters and 4 hex digits; QEMU's
 * "QEMUVGID" is not): PLVM0001, plugvm's own. Linux's vmgenid
 * driver matches _CID "VM_GEN_COUNTER" (ACPICA upper-cases _CID strings,
 * nsrepair2.c), reads ADDR as a package of two 32-bit halves, and reseeds
 * the guest's RNG on Notify (VGEN, 0x80). A hardware-reduced platform
 * has no GPE block to raise that notification from, so a Generic Event
 * Device (§5.6.9, Linux's drivers/acpi/evged.c, built into every x86
 * kernel with ACPI) owns GSI X86_GED_GSI and its _EVT, called with the
 * GSI that fired, does the Notify; plugvm raises that GSI after a restore.
 * VGEN is named relatively in the Notify, as iasl's name optimisation
 * writes it, so that the disassembled DSDT recompiles to the same bytes.
 */
static void dsdt_aml(struct aml *a, const struct acpi_virtio_mmio *devs, size_t ndevs)
{
    static const uint64_t s5[] = {ACPI_SLP_TYP_S5, 0};
    aml_name_package(a, "_S5", s5, 2);

    /* _SB rather than \_SB: the DSDT is parsed at the root scope, and
     * this is the encoding iasl chooses for Scope (\_SB). */
    size_t sb = aml_scope_begin(a, "_SB");

    size_t dev = aml_device_begin(a, "COM1");
    aml_name(a, "_HID");
    aml_eisaid(a, "PNP0501");
    aml_name(a, "_UID");
    aml_integer(a, 0);
    aml_name(a, "_CRS");
    size_t crs = aml_restemplate_begin(a);
    res_io(a, COM1_PORT, COM1_PORT, 1, 8);
    res_interrupt_edge_high(a, COM1_GSI);
    aml_restemplate_end(a, crs);
    aml_pkg_end(a, dev);

    for (size_t i = 0; i < ndevs; i++) {
        char name[5];
        snprintf(name, sizeof(name), "VR%02u", (unsigned)(i % 100));
        dev = aml_device_begin(a, name);
        aml_name(a, "_HID");
        aml_string(a, "LNRO0005");
        aml_name(a, "_UID");
        aml_integer(a, i);
        aml_name(a, "_CCA"); /* DMA is cache-coherent */
        aml_integer(a, 1);
        aml_name(a, "_CRS");
        crs = aml_restemplate_begin(a);
        res_memory32_fixed(a, true, (uint32_t)devs[i].base, devs[i].size);
        res_interrupt_edge_high(a, devs[i].gsi);
        aml_restemplate_end(a, crs);
        aml_pkg_end(a, dev);
    }

    dev = aml_device_begin(a, "VGEN");
    aml_name(a, "_HID");
    aml_string(a, "PLVM0001");
    aml_name(a, "_CID");
    aml_string(a, "VM_Gen_Counter");
    aml_name(a, "_DDN");
    aml_string(a, "VM_Gen_Counter");
    static const uint64_t addr[] = {X86_VMGENID_ADDR & 0xffffffff, X86_VMGENID_ADDR >> 32};
    aml_name_package(a, "ADDR", addr, 2);
    aml_pkg_end(a, dev);

    dev = aml_device_begin(a, "GED_");
    aml_name(a, "_HID");
    aml_string(a, "ACPI0013");
    aml_name(a, "_UID");
    aml_integer(a, 0);
    aml_name(a, "_CRS");
    crs = aml_restemplate_begin(a);
    res_interrupt_edge_high(a, X86_GED_GSI);
    aml_restemplate_end(a, crs);
    size_t evt = aml_method_begin(a, "_EVT", 1);
    size_t cond = aml_if_begin(a);
    aml_byte(a, AML_LEQUAL);
    aml_byte(a, AML_ARG0);
    aml_integer(a, X86_GED_GSI);
    aml_byte(a, AML_NOTIFY);
    aml_namestring(a, "VGEN");
    aml_integer(a, 0x80); /* device-specific: "the ID changed" */
    aml_pkg_end(a, cond);
    aml_pkg_end(a, evt);
    aml_pkg_end(a, dev);
    aml_pkg_end(a, sb);
}

#define ALIGN16(x) (((x) + 15) & ~(uint64_t)15)

uint64_t x86_acpi_write(const struct guest_mem *m, uint32_t vcpus,
                        const struct acpi_virtio_mmio *devs, size_t ndevs)
{
    /* APIC IDs, ACPI processor UIDs and the IOAPIC ID (= vcpus) are one
     * byte each in these MADT entries. */
    if (vcpus == 0 || vcpus > 255 || ndevs > X86_ACPI_MAX_VIRTIO_MMIO || (ndevs && !devs))
        return 0;
    for (size_t i = 0; i < ndevs; i++)
        if (devs[i].size == 0 || devs[i].base > UINT32_MAX ||
            devs[i].size - 1 > UINT32_MAX - devs[i].base)
            return 0;

    /* Fixed-size tables first, the DSDT (whose size depends on ndevs) last,
     * so that it may use the rest of the area. Every offset here is below
     * 64 KiB + 255 * 8: no overflow. */
    uint64_t rsdp_at = X86_ACPI_ADDR;
    uint64_t xsdt_at = ALIGN16(rsdp_at + sizeof(struct acpi_rsdp));
    uint64_t xsdt_len = sizeof(struct acpi_header) + 2 * 8;
    uint64_t fadt_at = ALIGN16(xsdt_at + xsdt_len);
    uint64_t madt_at = ALIGN16(fadt_at + sizeof(struct acpi_fadt));
    uint64_t madt_len = sizeof(struct acpi_madt) + vcpus * sizeof(struct madt_lapic) +
                        sizeof(struct madt_ioapic) + sizeof(struct madt_lapic_nmi);
    uint64_t dsdt_at = ALIGN16(madt_at + madt_len);
    if (dsdt_at + sizeof(struct acpi_header) > X86_ACPI_END)
        return 0;
    uint8_t *base = guest_mem_ptr(m, rsdp_at, X86_ACPI_END - rsdp_at);
    if (!base)
        return 0;
#define AT(gpa) (base + ((gpa) - rsdp_at))

    struct aml a = {.buf = AT(dsdt_at) + sizeof(struct acpi_header),
                    .cap = X86_ACPI_END - dsdt_at - sizeof(struct acpi_header)};
    dsdt_aml(&a, devs, ndevs);
    if (a.bad)
        return 0;
    memset(base, 0, dsdt_at + sizeof(struct acpi_header) - rsdp_at);

    struct acpi_header *dsdt = (struct acpi_header *)AT(dsdt_at);
    /* Revision 2: AML integers are 64-bit. */
    header(dsdt, "DSDT", (uint32_t)(sizeof(*dsdt) + a.len), 2);
    seal(dsdt);

    struct acpi_fadt *fadt = (struct acpi_fadt *)AT(fadt_at);
    header(&fadt->h, "FACP", sizeof(*fadt), 6);
    fadt->flags = FADT_HW_REDUCED_ACPI;
    fadt->iapc_boot_arch = IAPC_VGA_NOT_PRESENT | IAPC_CMOS_RTC_NOT_PRESENT;
    fadt->minor_version = 4;
    fadt->x_dsdt = dsdt_at;
    /* §4.8.3.7: where a hardware-reduced guest asks for S5. */
    fadt->sleep_control_reg = (struct acpi_gas){GAS_SYSTEM_IO, 8, 0, GAS_ACCESS_BYTE,
                                                ACPI_SLEEP_CONTROL_PORT};
    fadt->sleep_status_reg = (struct acpi_gas){GAS_SYSTEM_IO, 8, 0, GAS_ACCESS_BYTE,
                                               ACPI_SLEEP_STATUS_PORT};
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
    /* No Interrupt Source Overrides: without them Linux maps ISA IRQ n to
     * GSI n, which is KVM's default routing (GSI n -> IOAPIC pin n, the
     * PIT on GSI 0). QEMU's IRQ0 -> GSI2 override matches the routing
     * table QEMU installs, not KVM's default. And a hardware-reduced FADT
     * has Linux skip the legacy PIC and the PIT altogether. */
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

/* --- x86_acpi_dump --- */

#define DUMP_MAX_TABLES 256

struct dumper {
    const struct guest_mem *m;
    const char *dir;
    char seen[DUMP_MAX_TABLES][4];
    unsigned nseen;
    char *err;
    size_t errlen;
};

/* Writes len bytes at p to DIR/<sig>.dat, or <sig>N.dat for the Nth table
 * with the same signature. */
static int dump_write(struct dumper *d, const char sig[4], const uint8_t *p, size_t len)
{
    if (d->nseen == DUMP_MAX_TABLES)
        return pv_fail(d->err, d->errlen, "more than %d ACPI tables", DUMP_MAX_TABLES);
    unsigned same = 1;
    for (unsigned i = 0; i < d->nseen; i++)
        same += memcmp(d->seen[i], sig, 4) == 0;
    memcpy(d->seen[d->nseen++], sig, 4);
    char name[5];
    for (int i = 0; i < 4; i++) {
        char c = sig[i];
        name[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a')
                  : (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ? c : '_';
    }
    name[4] = 0;
    char path[4096], num[16] = "";
    if (same > 1)
        snprintf(num, sizeof(num), "%u", same);
    int n = snprintf(path, sizeof(path), "%s/%s%s.dat", d->dir, name, num);
    if (n < 0 || (size_t)n >= sizeof(path))
        return pv_fail(d->err, d->errlen, "%s: path too long", d->dir);
    FILE *f = fopen(path, "wb");
    if (!f)
        return pv_fail(d->err, d->errlen, "%s: %s", path, strerror(errno));
    size_t w = fwrite(p, 1, len, f);
    int werr = ferror(f) ? errno : 0;
    if (fclose(f) != 0 && !werr)
        werr = errno ? errno : EIO;
    if (w != len || werr)
        return pv_fail(d->err, d->errlen, "%s: %s", path, strerror(werr ? werr : EIO));
    return 0;
}

/* The table at gpa: its signature and length from its first 8 bytes, the
 * whole of it inside guest RAM and at least min_len long. NULL with a
 * message otherwise; `what` names it in the message. */
static const uint8_t *dump_table(struct dumper *d, uint64_t gpa, uint32_t min_len,
                                 const char *what, uint32_t *len)
{
    const uint8_t *h = guest_mem_ptr(d->m, gpa, 8);
    if (!h) {
        pv_fail(d->err, d->errlen, "%s at 0x%llx is outside guest RAM", what,
                (unsigned long long)gpa);
        return NULL;
    }
    *len = get_le32(h + 4);
    if (*len < min_len) {
        pv_fail(d->err, d->errlen, "%s at 0x%llx ('%.4s') is %u bytes, less than %u", what,
                (unsigned long long)gpa, (const char *)h, *len, min_len);
        return NULL;
    }
    const uint8_t *t = guest_mem_ptr(d->m, gpa, *len);
    if (!t) {
        pv_fail(d->err, d->errlen, "%s at 0x%llx ('%.4s', %u bytes) runs past guest RAM", what,
                (unsigned long long)gpa, (const char *)h, *len);
        return NULL;
    }
    if (dump_write(d, (const char *)t, t, *len))
        return NULL;
    return t;
}

/* The FADT's DSDT and FACS: the 64-bit X_ fields where the table is long
 * enough to have them and they are non-zero, else the 32-bit ones. */
static int dump_fadt_children(struct dumper *d, const uint8_t *fadt, uint32_t len)
{
    uint32_t tlen;
    uint64_t facs = len >= 140 ? get_le64(fadt + 132) : 0;
    if (!facs && len >= 40)
        facs = get_le32(fadt + 36);
    if (facs && !dump_table(d, facs, 8, "FACS", &tlen))
        return -1;
    uint64_t dsdt = len >= 148 ? get_le64(fadt + 140) : 0;
    if (!dsdt && len >= 44)
        dsdt = get_le32(fadt + 40);
    if (dsdt && !dump_table(d, dsdt, sizeof(struct acpi_header), "DSDT", &tlen))
        return -1;
    return 0;
}

int x86_acpi_dump(const struct guest_mem *m, uint64_t rsdp, const char *dir, char *err,
                  size_t errlen)
{
    struct dumper d = {.m = m, .dir = dir, .err = err, .errlen = errlen};

    const uint8_t *r = guest_mem_ptr(m, rsdp, 20);
    if (!r)
        return pv_fail(err, errlen, "RSDP at 0x%llx is outside guest RAM",
                       (unsigned long long)rsdp);
    if (memcmp(r, "RSD PTR ", 8) != 0)
        return pv_fail(err, errlen, "no RSDP at 0x%llx: signature is not 'RSD PTR '",
                       (unsigned long long)rsdp);
    uint8_t revision = r[15];
    uint32_t rlen = 20;
    if (revision >= 2) {
        r = guest_mem_ptr(m, rsdp, 36);
        if (!r)
            return pv_fail(err, errlen, "RSDP at 0x%llx runs past guest RAM",
                           (unsigned long long)rsdp);
        rlen = get_le32(r + 20);
        if (rlen < 36 || !(r = guest_mem_ptr(m, rsdp, rlen)))
            return pv_fail(err, errlen, "RSDP at 0x%llx has a bad length (%u)",
                           (unsigned long long)rsdp, rlen);
    }
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return pv_fail(err, errlen, "%s: %s", dir, strerror(errno));
    if (dump_write(&d, "RSDP", r, rlen))
        return -1;

    /* The XSDT lists 64-bit addresses; a revision-0 RSDP has only the RSDT,
     * whose entries are 32-bit. */
    uint64_t root = revision >= 2 ? get_le64(r + 24) : 0;
    size_t entry = 8;
    if (!root) {
        root = get_le32(r + 16);
        entry = 4;
    }
    uint32_t len;
    const uint8_t *t = dump_table(&d, root, sizeof(struct acpi_header),
                                  entry == 8 ? "XSDT" : "RSDT", &len);
    if (!t)
        return -1;
    for (size_t off = sizeof(struct acpi_header); off + entry <= len; off += entry) {
        uint64_t at = entry == 8 ? get_le64(t + off) : get_le32(t + off);
        uint32_t tlen;
        const uint8_t *child = dump_table(&d, at, sizeof(struct acpi_header), "table", &tlen);
        if (!child)
            return -1;
        if (memcmp(child, "FACP", 4) == 0 && dump_fadt_children(&d, child, tlen))
            return -1;
    }
    return 0;
}
