/* SPDX-License-Identifier: Apache-2.0 */
/* Guest RAM layout around the MMIO hole, the e820 map, and the MP and ACPI
 * tables' checksums and CPU counts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

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

static void acpi_madt_counts_cpus(void **state)
{
    (void)state;
    struct guest_mem m;
    assert_int_equal(guest_mem_init(&m, 16 * MiB), 0);
    for (uint32_t cpus = 1; cpus <= 64; cpus++) {
        uint64_t rsdp = x86_acpi_write(&m, cpus, NULL, 0);
        assert_int_equal(rsdp, X86_ACPI_ADDR);
        uint8_t *r = guest_mem_ptr(&m, rsdp, 36);
        assert_memory_equal(r, "RSD PTR ", 8);
        assert_int_equal(sum(r, 20), 0);
        assert_int_equal(sum(r, 36), 0);
        uint64_t xsdt_at;
        memcpy(&xsdt_at, r + 24, 8);
        uint8_t *x = guest_mem_ptr(&m, xsdt_at, 36);
        assert_memory_equal(x, "XSDT", 4);
        uint32_t xlen;
        memcpy(&xlen, x + 4, 4);
        assert_int_equal(sum(x, xlen), 0);
        int found_madt = 0;
        for (uint32_t off = 36; off < xlen; off += 8) {
            uint64_t t;
            memcpy(&t, x + off, 8);
            uint8_t *h = guest_mem_ptr(&m, t, 36);
            uint32_t len;
            memcpy(&len, h + 4, 4);
            assert_int_equal(sum(h, len), 0);
            if (memcmp(h, "APIC", 4) == 0) {
                found_madt = 1;
                uint32_t lapics = 0;
                for (uint32_t o = 44; o < len; o += h[o + 1])
                    if (h[o] == 0 && (h[o + 4] & 1))
                        lapics++;
                assert_int_equal(lapics, cpus);
            }
        }
        assert_true(found_madt);
    }
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
