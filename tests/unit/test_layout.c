/* SPDX-License-Identifier: Apache-2.0 */
/* Guest RAM layout around the MMIO hole, the e820 map, and the MP and ACPI
 * tables' checksums and CPU counts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boot/x86/acpi.h"
#include "boot/x86/e820.h"
#include "boot/x86/layout.h"
#include "boot/x86/mptable.h"
#include "memory/guest_mem.h"

#define MiB (1ull << 20)
#define GiB (1ull << 30)

static void small_memory_is_one_region(void **state)
{
    (void)state;
    struct guest_mem m;
    guest_mem_layout(&m, 256 * MiB);
    assert_int_equal(m.nregions, 1);
    struct e820_entry e[X86_E820_MAX];
    size_t n = x86_e820_build(&m, e);
    assert_int_equal(n, 4);
    assert_int_equal(e[0].addr, 0);
    assert_int_equal(e[0].size, X86_EBDA_START);
    assert_int_equal(e[0].type, E820_RAM);
    assert_int_equal(e[1].type, E820_RESERVED);
    assert_int_equal(e[2].addr, 0xe0000);
    assert_int_equal(e[2].addr + e[2].size, MiB);
    assert_int_equal(e[2].type, E820_RESERVED);
    assert_int_equal(e[3].addr, MiB);
    assert_int_equal(e[3].addr + e[3].size, 256 * MiB);
    assert_int_equal(e[3].type, E820_RAM);
}

static void large_memory_splits_around_hole(void **state)
{
    (void)state;
    struct guest_mem m;
    guest_mem_layout(&m, 5 * GiB);
    assert_int_equal(m.nregions, 2);
    assert_int_equal(m.region[0].size, X86_MMIO_HOLE_START);
    assert_int_equal(m.region[1].gpa, 4 * GiB);
    assert_int_equal(m.region[1].size, 5 * GiB - X86_MMIO_HOLE_START);
    struct e820_entry e[X86_E820_MAX];
    size_t n = x86_e820_build(&m, e);
    assert_int_equal(n, 5);
    assert_int_equal(e[3].addr + e[3].size, X86_MMIO_HOLE_START);
    assert_int_equal(e[4].addr, 4 * GiB);
    uint64_t ram = 0;
    for (size_t i = 0; i < n; i++) {
        if (e[i].type == E820_RAM)
            ram += e[i].size;
        /* Nothing the map calls RAM lies in the hole. */
        if (e[i].type == E820_RAM)
            assert_true(e[i].addr + e[i].size <= X86_MMIO_HOLE_START || e[i].addr >= 4 * GiB);
    }
    /* All RAM but the EBDA and BIOS area is usable. */
    assert_int_equal(ram, 5 * GiB - (MiB - X86_EBDA_START));
}

static void exactly_hole_sized(void **state)
{
    (void)state;
    struct guest_mem m;
    guest_mem_layout(&m, X86_MMIO_HOLE_START);
    assert_int_equal(m.nregions, 1);
    guest_mem_layout(&m, X86_MMIO_HOLE_START + 4096);
    assert_int_equal(m.nregions, 2);
    assert_int_equal(m.region[1].size, 4096);
}

static void ptr_bounds(void **state)
{
    (void)state;
    struct guest_mem m;
    assert_int_equal(guest_mem_init(&m, 16 * MiB), 0);
    /* 2 MiB aligned, so huge pages can back RAM from guest-physical 0. */
    assert_int_equal((uintptr_t)m.base & (2 * MiB - 1), 0);
    assert_non_null(guest_mem_ptr(&m, 0, 16 * MiB));
    assert_non_null(guest_mem_ptr(&m, 16 * MiB - 1, 1));
    assert_null(guest_mem_ptr(&m, 16 * MiB - 1, 2));
    assert_null(guest_mem_ptr(&m, 16 * MiB, 1));
    assert_null(guest_mem_ptr(&m, UINT64_MAX, 2));
    assert_null(guest_mem_ptr(&m, 4096, UINT64_MAX));
    guest_mem_fini(&m);
    assert_int_equal(guest_mem_init(&m, 0), -EINVAL);
    assert_int_equal(guest_mem_init(&m, 4097), -EINVAL);
}

static uint8_t sum(const uint8_t *p, size_t n)
{
    uint8_t s = 0;
    while (n--)
        s += *p++;
    return s;
}

static void mptable_counts_cpus(void **state)
{
    (void)state;
    struct guest_mem m;
    assert_int_equal(guest_mem_init(&m, 16 * MiB), 0);
    for (uint32_t cpus = 1; cpus <= 64; cpus *= 2) {
        assert_int_equal(x86_mptable_write(&m, cpus), 0);
        uint8_t *mpf = guest_mem_ptr(&m, X86_EBDA_START, 16);
        assert_memory_equal(mpf, "_MP_", 4);
        assert_int_equal(sum(mpf, 16), 0);
        uint32_t physptr;
        memcpy(&physptr, mpf + 4, 4);
        uint8_t *mpc = guest_mem_ptr(&m, physptr, 44);
        assert_memory_equal(mpc, "PCMP", 4);
        uint16_t len;
        memcpy(&len, mpc + 4, 2);
        assert_int_equal(sum(mpc, len), 0);
        /* Processor entries (type 0) follow the header. */
        uint32_t n = 0;
        for (uint8_t *p = mpc + 44; *p == 0; p += 20)
            n++;
        assert_int_equal(n, cpus);
    }
    assert_int_equal(x86_mptable_write(&m, 0), -1);
    guest_mem_fini(&m);
}

/* The table with signature `sig` among the XSDT's entries, or for "DSDT"
 * the FADT's X_DSDT; checks every checksum on the way. NULL if absent. */
static const uint8_t *acpi_find(const struct guest_mem *m, uint64_t rsdp, const char *sig,
                                uint32_t *len_out)
{
    uint8_t *r = guest_mem_ptr(m, rsdp, 36);
    assert_non_null(r);
    assert_memory_equal(r, "RSD PTR ", 8);
    assert_int_equal(sum(r, 20), 0);
    assert_int_equal(sum(r, 36), 0);
    uint64_t xsdt_at;
    memcpy(&xsdt_at, r + 24, 8);
    uint8_t *x = guest_mem_ptr(m, xsdt_at, 36);
    assert_non_null(x);
    assert_memory_equal(x, "XSDT", 4);
    uint32_t xlen;
    memcpy(&xlen, x + 4, 4);
    assert_int_equal(sum(x, xlen), 0);
    for (uint32_t off = 36; off < xlen; off += 8) {
        uint64_t t;
        memcpy(&t, x + off, 8);
        uint8_t *h = guest_mem_ptr(m, t, 36);
        assert_non_null(h);
        uint32_t len;
        memcpy(&len, h + 4, 4);
        assert_true(t + len <= X86_ACPI_END);
        assert_int_equal(sum(h, len), 0);
        if (strcmp(sig, "DSDT") == 0 && memcmp(h, "FACP", 4) == 0) {
            uint64_t dsdt_at;
            memcpy(&dsdt_at, h + 140, 8);
            h = guest_mem_ptr(m, dsdt_at, 36);
            assert_non_null(h);
            assert_memory_equal(h, "DSDT", 4);
            memcpy(&len, h + 4, 4);
            assert_true(dsdt_at + len <= X86_ACPI_END);
            assert_int_equal(sum(h, len), 0);
            *len_out = len;
            return h;
        }
        if (memcmp(h, sig, 4) == 0) {
            *len_out = len;
            return h;
        }
    }
    return NULL;
}

static void acpi_madt_counts_cpus(void **state)
{
    (void)state;
    struct guest_mem m;
    assert_int_equal(guest_mem_init(&m, 16 * MiB), 0);
    struct acpi_virtio_mmio dev = {.base = 0xd0000000, .size = 0x1000, .gsi = 5};
    for (uint32_t cpus = 1; cpus <= 64; cpus++) {
        uint64_t rsdp = x86_acpi_write(&m, cpus, &dev, cpus % 2);
        assert_int_equal(rsdp, X86_ACPI_ADDR);
        uint32_t len;
        const uint8_t *h = acpi_find(&m, rsdp, "APIC", &len);
        assert_non_null(h);
        uint32_t lapics = 0;
        for (uint32_t o = 44; o < len; o += h[o + 1])
            if (h[o] == 0 && (h[o + 4] & 1))
                lapics++;
        assert_int_equal(lapics, cpus);
        assert_non_null(acpi_find(&m, rsdp, "DSDT", &len));
    }
    assert_int_equal(x86_acpi_write(&m, 0, NULL, 0), 0);
    assert_int_equal(x86_acpi_write(&m, 256, NULL, 0), 0);
    assert_int_equal(x86_acpi_write(&m, 255, NULL, 0), X86_ACPI_ADDR);
    guest_mem_fini(&m);
}

static size_t count(const uint8_t *p, size_t len, const void *what, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i + n <= len; i++)
        c += memcmp(p + i, what, n) == 0;
    return c;
}

/* One LNRO0005 device per window, each _CRS holding its Memory32Fixed
 * (§6.4.3.4) and Extended Interrupt (§6.4.3.6: consumer, edge, active
 * high, exclusive) descriptors, for up to X86_ACPI_MAX_VIRTIO_MMIO devices
 * with the most vCPUs the MADT can list. */
static void acpi_dsdt_lists_devices(void **state)
{
    (void)state;
    struct guest_mem m;
    assert_int_equal(guest_mem_init(&m, 16 * MiB), 0);
    static struct acpi_virtio_mmio devs[X86_ACPI_MAX_VIRTIO_MMIO + 1];
    for (size_t i = 0; i < X86_ACPI_MAX_VIRTIO_MMIO + 1; i++)
        devs[i] = (struct acpi_virtio_mmio){.base = 0xd0000000 + i * 0x1000, .size = 0x1000,
                                            .gsi = (uint32_t)(5 + i)};
    const size_t sizes[] = {0, 1, 3, 32, X86_ACPI_MAX_VIRTIO_MMIO};
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        size_t n = sizes[s];
        for (uint32_t cpus = 1; cpus <= 255; cpus += 254) {
            uint64_t rsdp = x86_acpi_write(&m, cpus, devs, n);
            assert_int_equal(rsdp, X86_ACPI_ADDR);
            uint32_t len;
            const uint8_t *d = acpi_find(&m, rsdp, "DSDT", &len);
            assert_non_null(d);
            assert_int_equal(count(d, len, "LNRO0005", 9), n); /* with its NUL */
            assert_int_equal(count(d, len, "COM1", 4), 1);
            for (size_t i = 0; i < n; i++) {
                uint8_t mem[12] = {0x86, 9, 0, 1}, irq[9] = {0x89, 6, 0, 3, 1};
                uint32_t base = (uint32_t)devs[i].base, size = devs[i].size, gsi = devs[i].gsi;
                memcpy(mem + 4, &base, 4);
                memcpy(mem + 8, &size, 4);
                memcpy(irq + 5, &gsi, 4);
                assert_int_equal(count(d, len, mem, sizeof(mem)), 1);
                assert_int_equal(count(d, len, irq, sizeof(irq)), 1);
                char name[24];
                snprintf(name, sizeof(name), "VR%02zu", i);
                assert_int_equal(count(d, len, name, 4), 1);
            }
        }
    }
    assert_int_equal(x86_acpi_write(&m, 1, devs, X86_ACPI_MAX_VIRTIO_MMIO + 1), 0);
    assert_int_equal(x86_acpi_write(&m, 1, NULL, 1), 0);
    /* Windows Memory32Fixed cannot describe. */
    struct acpi_virtio_mmio bad[] = {
        {.base = 0xd0000000, .size = 0, .gsi = 5},
        {.base = 0x100000000ull, .size = 0x1000, .gsi = 5},
        {.base = 0xfffff000, .size = 0x1001, .gsi = 5},
        {.base = UINT64_MAX - 0xfff, .size = 0x1000, .gsi = 5},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(x86_acpi_write(&m, 1, &bad[i], 1), 0);
    struct acpi_virtio_mmio top = {.base = 0xfffff000, .size = 0x1000, .gsi = 5};
    assert_int_equal(x86_acpi_write(&m, 1, &top, 1), X86_ACPI_ADDR);
    guest_mem_fini(&m);

    /* RAM that ends inside the ACPI area. */
    struct guest_mem small;
    assert_int_equal(guest_mem_init(&small, X86_ACPI_END - 0x1000), 0);
    assert_int_equal(x86_acpi_write(&small, 1, NULL, 0), 0);
    guest_mem_fini(&small);
}

/* The file DIR/NAME holds exactly len bytes equal to p. */
static void assert_file(const char *dir, const char *name, const uint8_t *p, size_t len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static uint8_t buf[X86_ACPI_END - X86_ACPI_ADDR + 1];
    size_t n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    assert_int_equal(n, len);
    assert_memory_equal(buf, p, len);
}

static void acpi_dump_writes_tables(void **state)
{
    (void)state;
    struct guest_mem m;
    assert_int_equal(guest_mem_init(&m, 16 * MiB), 0);
    struct acpi_virtio_mmio devs[3];
    for (size_t i = 0; i < 3; i++)
        devs[i] = (struct acpi_virtio_mmio){.base = 0xd0000000 + i * 0x1000, .size = 0x1000,
                                            .gsi = (uint32_t)(5 + i)};
    uint64_t rsdp = x86_acpi_write(&m, 2, devs, 3);
    assert_int_equal(rsdp, X86_ACPI_ADDR);
    char tmpl[] = "/tmp/plugvm-acpi-XXXXXX";
    char *top = mkdtemp(tmpl);
    assert_non_null(top);
    char dir[256];
    snprintf(dir, sizeof(dir), "%s/tables", top); /* created by the dump */
    char err[256] = "";
    for (int round = 0; round < 2; round++) /* the second overwrites */
        assert_int_equal(x86_acpi_dump(&m, rsdp, dir, err, sizeof(err)), 0);

    const char *files[] = {"rsdp.dat", "xsdt.dat", "facp.dat", "apic.dat", "dsdt.dat"};
    const char *sigs[] = {NULL, "XSDT", "FACP", "APIC", "DSDT"};
    assert_file(dir, files[0], guest_mem_ptr(&m, rsdp, 36), 36);
    for (size_t i = 1; i < 5; i++) {
        uint32_t len;
        const uint8_t *t = strcmp(sigs[i], "XSDT") == 0 ? NULL : acpi_find(&m, rsdp, sigs[i], &len);
        if (!t) {
            uint64_t xsdt_at;
            memcpy(&xsdt_at, guest_mem_ptr(&m, rsdp, 36) + 24, 8);
            t = guest_mem_ptr(&m, xsdt_at, 36);
            memcpy(&len, t + 4, 4);
        }
        assert_file(dir, files[i], t, len);
    }
    for (size_t i = 0; i < 5; i++) {
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
        assert_int_equal(unlink(path), 0);
    }
    assert_int_equal(rmdir(dir), 0); /* nothing else was written */

    /* No RSDP there, RSDP outside RAM, a directory that cannot be made. */
    assert_int_equal(x86_acpi_dump(&m, 0x1000, dir, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "no RSDP at 0x1000"));
    assert_int_equal(x86_acpi_dump(&m, 0xfffffff0, dir, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "outside guest RAM"));
    snprintf(dir, sizeof(dir), "%s/no/such", top);
    assert_int_equal(x86_acpi_dump(&m, rsdp, dir, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "No such file or directory"));
    /* An XSDT entry pointing outside RAM. */
    uint64_t xsdt_at;
    memcpy(&xsdt_at, guest_mem_ptr(&m, rsdp, 36) + 24, 8);
    uint64_t bogus = 0x200000000ull;
    memcpy(guest_mem_ptr(&m, xsdt_at + 36, 8), &bogus, 8);
    assert_int_equal(x86_acpi_dump(&m, rsdp, top, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "table at 0x200000000 is outside guest RAM"));
    snprintf(dir, sizeof(dir), "%s/rsdp.dat", top);
    unlink(dir);
    snprintf(dir, sizeof(dir), "%s/xsdt.dat", top);
    unlink(dir);
    assert_int_equal(rmdir(top), 0);
    guest_mem_fini(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(small_memory_is_one_region),
        cmocka_unit_test(large_memory_splits_around_hole),
        cmocka_unit_test(exactly_hole_sized),
        cmocka_unit_test(ptr_bounds),
        cmocka_unit_test(mptable_counts_cpus),
        cmocka_unit_test(acpi_madt_counts_cpus),
        cmocka_unit_test(acpi_dsdt_lists_devices),
        cmocka_unit_test(acpi_dump_writes_tables),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
