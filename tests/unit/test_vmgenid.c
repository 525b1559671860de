/* SPDX-License-Identifier: Apache-2.0 */
/* The VM generation ID (core/devices/vmgenid.h): each renewal writes 16
 * fresh bytes at the address the DSDT's ADDR names and nowhere else, two
 * renewals (two clones of one snapshot) never agree, an address outside
 * guest RAM is refused with the memory untouched, and the notification is
 * one edge, high then low, on the GED's GSI. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "boot/x86/layout.h"
#include "devices/vmgenid.h"
#include "memory/guest_mem.h"

#define RAM (2u << 20)

static void renew_writes_16_fresh_bytes_in_place(void **state)
{
    (void)state;
    struct guest_mem m;
    assert_int_equal(guest_mem_init(&m, RAM), 0);
    uint8_t *page = guest_mem_ptr(&m, X86_VMGENID_ADDR, 4096);
    assert_non_null(page);
    memset(page, 0xa5, 4096);

    uint8_t a[VMGENID_SIZE], b[VMGENID_SIZE];
    assert_int_equal(vmgenid_renew(&m, X86_VMGENID_ADDR, a), 0);
    assert_memory_equal(page, a, VMGENID_SIZE);
    for (size_t i = VMGENID_SIZE; i < 4096; i++)
        assert_int_equal(page[i], 0xa5); /* nothing past the 16 bytes */
    assert_int_equal(vmgenid_renew(&m, X86_VMGENID_ADDR, b), 0);
    assert_memory_equal(page, b, VMGENID_SIZE);
    assert_memory_not_equal(a, b, VMGENID_SIZE);
    static const uint8_t zero[VMGENID_SIZE];
    assert_memory_not_equal(b, zero, VMGENID_SIZE);
    assert_int_equal(vmgenid_renew(&m, X86_VMGENID_ADDR, NULL), 0);
    assert_memory_not_equal(page, b, VMGENID_SIZE);
    guest_mem_fini(&m);
}

static void renew_outside_ram_is_refused(void **state)
{
    (void)state;
    struct guest_mem m;
    assert_int_equal(guest_mem_init(&m, RAM), 0);
    uint8_t *end = guest_mem_ptr(&m, RAM - VMGENID_SIZE, VMGENID_SIZE);
    memset(end, 0x5a, VMGENID_SIZE);
    uint8_t id[VMGENID_SIZE];
    memset(id, 0x33, sizeof(id));
    assert_int_equal(vmgenid_renew(&m, RAM, id), -EFAULT);
    assert_int_equal(vmgenid_renew(&m, RAM - VMGENID_SIZE + 1, id), -EFAULT); /* straddles the end */
    assert_int_equal(vmgenid_renew(&m, UINT64_MAX - 4, id), -EFAULT);         /* wraps */
    for (size_t i = 0; i < VMGENID_SIZE; i++) {
        assert_int_equal(end[i], 0x5a);
        assert_int_equal(id[i], 0x33);
    }
    guest_mem_fini(&m);
}

/* A backend whose irq_line records each call. */
static struct {
    uint32_t gsi[4];
    int level[4];
    int n, fail_at;
} lines;

static int record_irq_line(struct plugvm_vm *vm, uint32_t gsi, int level)
{
    (void)vm;
    if (lines.n == lines.fail_at)
        return -EINVAL;
    if (lines.n < 4) {
        lines.gsi[lines.n] = gsi;
        lines.level[lines.n] = level;
    }
    lines.n++;
    return 0;
}

static void notify_is_one_edge_on_the_ged_gsi(void **state)
{
    (void)state;
    struct plugvm_backend_ops be = {.irq_line = record_irq_line};
    memset(&lines, 0, sizeof(lines));
    lines.fail_at = -1;
    assert_int_equal(vmgenid_notify(&be, NULL, X86_GED_GSI), 0);
    assert_int_equal(lines.n, 2);
    assert_int_equal(lines.gsi[0], X86_GED_GSI);
    assert_int_equal(lines.level[0], 1);
    assert_int_equal(lines.gsi[1], X86_GED_GSI);
    assert_int_equal(lines.level[1], 0);
    /* The backend's error comes back, and nothing is raised after it. */
    memset(&lines, 0, sizeof(lines));
    lines.fail_at = 0;
    assert_int_equal(vmgenid_notify(&be, NULL, X86_GED_GSI), -EINVAL);
    assert_int_equal(lines.n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(renew_writes_16_fresh_bytes_in_place),
        cmocka_unit_test(renew_outside_ram_is_refused),
        cmocka_unit_test(notify_is_one_edge_on_the_ged_gsi),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
