/* SPDX-License-Identifier: Apache-2.0 */
/* The ACPI sleep registers on the port bus: only SLP_TYPx = S5 with SLP_EN
 * on the control register powers off; everything else a guest may write
 * there (other sleep types, SLP_EN alone, WAK_STS to the status register,
 * wider accesses) does nothing, and both registers read 0. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "devices/acpi_sleep.h"

static void count_poweroff(void *arg)
{
    (*(int *)arg)++;
}

struct bus {
    struct iobus *io;
    struct acpi_sleep dev;
    int poweroffs;
};

static int setup(void **state)
{
    struct bus *b = calloc(1, sizeof(*b));
    b->io = calloc(1, sizeof(*b->io));
    b->dev = (struct acpi_sleep){count_poweroff, &b->poweroffs};
    struct io_device d = acpi_sleep_device(&b->dev);
    assert_int_equal(iobus_add(b->io, &d), 0);
    *state = b;
    return 0;
}

static int teardown(void **state)
{
    struct bus *b = *state;
    free(b->io);
    free(b);
    return 0;
}

static void out8(struct bus *b, uint16_t port, uint8_t v)
{
    iobus_access(b->io, port, &v, 1, true);
}

static void s5_powers_off(void **state)
{
    struct bus *b = *state;
    out8(b, ACPI_SLEEP_STATUS_PORT, 0x80); /* Linux clears WAK_STS first */
    assert_int_equal(b->poweroffs, 0);
    out8(b, ACPI_SLEEP_CONTROL_PORT, ACPI_SLP_TYP_S5 << 2 | 0x20);
    assert_int_equal(b->poweroffs, 1);
}

static void other_writes_do_nothing(void **state)
{
    struct bus *b = *state;
    out8(b, ACPI_SLEEP_CONTROL_PORT, ACPI_SLP_TYP_S5 << 2); /* no SLP_EN */
    out8(b, ACPI_SLEEP_CONTROL_PORT, 0x20);                  /* S0 */
    out8(b, ACPI_SLEEP_CONTROL_PORT, 3 << 2 | 0x20);         /* S3: not offered */
    out8(b, ACPI_SLEEP_STATUS_PORT, ACPI_SLP_TYP_S5 << 2 | 0x20);
    uint8_t wide[2] = {0x80, ACPI_SLP_TYP_S5 << 2 | 0x20}; /* from 0x601 onto 0x602 */
    iobus_access(b->io, ACPI_SLEEP_STATUS_PORT, wide, 2, true);
    assert_int_equal(b->poweroffs, 0);
}

static void registers_read_zero(void **state)
{
    struct bus *b = *state;
    uint8_t v[2] = {0xff, 0xff};
    iobus_access(b->io, ACPI_SLEEP_CONTROL_PORT, v, 1, false);
    iobus_access(b->io, ACPI_SLEEP_STATUS_PORT, v + 1, 1, false);
    assert_int_equal(v[0], 0);
    assert_int_equal(v[1], 0); /* WAK_STS clear */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(s5_powers_off, setup, teardown),
        cmocka_unit_test_setup_teardown(other_writes_do_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(registers_read_zero, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
