/* SPDX-License-Identifier: Apache-2.0 */
/* Snapshot records of COM1 and the i8042: round trips (unread input
 * included, across the FIFO's wrap) and refusals that leave the device
 * as it was. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "devices/devices_state.h"
#include "record/record.h"

static void no_irq(void *arg)
{
    (void)arg;
}

static void serial_round_trip(void **state)
{
    (void)state;
    struct serial a, b;
    serial_init(&a, -1, no_irq, NULL);
    serial_init(&b, -1, no_irq, NULL);
    a.ier = 0x05;
    a.lcr = 0x03;
    a.mcr = 0x0b;
    a.dll = 1;
    a.scr = 0x5a;
    a.rx_head = SERIAL_FIFO_SIZE - 2; /* unread input across the wrap */
    assert_int_equal(serial_input(&a, (const uint8_t *)"echo", 4), 4);
    struct record_buf_writer w;
    record_writer_init(&w);
    assert_int_equal(serial_save(&a, &w.handle), 0);
    struct record_buf_reader r;
    assert_int_equal(record_reader_init(&r, w.data, w.len), 0);
    assert_int_equal(serial_restore(&b, &r.handle), 0);
    assert_int_equal(b.ier, 0x05);
    assert_int_equal(b.lcr, 0x03);
    assert_int_equal(b.mcr, 0x0b);
    assert_int_equal(b.dll, 1);
    assert_int_equal(b.scr, 0x5a);
    assert_int_equal(b.rx_count, 4);
    assert_memory_equal(b.rx + b.rx_head, "echo", 4);
    /* Cut short: refused, b untouched. */
    struct serial c;
    serial_init(&c, -1, no_irq, NULL);
    uint8_t lcr0 = c.lcr;
    assert_int_equal(record_reader_init(&r, w.data, w.len - 1), -EBADMSG);
    w.data[8] = (uint8_t)(w.data[8] - 1);
    assert_int_equal(record_reader_init(&r, w.data, w.len - 1), 0);
    assert_int_equal(serial_restore(&c, &r.handle), -EBADMSG);
    assert_int_equal(c.rx_count, 0);
    assert_int_equal(c.lcr, lcr0);
    serial_fini(&a);
    serial_fini(&b);
    serial_fini(&c);
    record_writer_fini(&w);
}

static void i8042_round_trip(void **state)
{
    (void)state;
    struct i8042 a, b;
    i8042_init(&a, NULL, NULL);
    i8042_init(&b, NULL, NULL);
    a.ctr = 0x47;
    a.out = 0xfa;
    a.out_full = true;
    a.pending_cmd = 0x60;
    struct record_buf_writer w;
    record_writer_init(&w);
    assert_int_equal(i8042_save(&a, &w.handle), 0);
    struct record_buf_reader r;
    assert_int_equal(record_reader_init(&r, w.data, w.len), 0);
    assert_int_equal(i8042_restore(&b, &r.handle), 0);
    assert_int_equal(b.ctr, 0x47);
    assert_int_equal(b.out, 0xfa);
    assert_true(b.out_full);
    assert_int_equal(b.pending_cmd, 0x60);
    /* A newer version: not read. */
    w.data[4] = 2;
    assert_int_equal(record_reader_init(&r, w.data, w.len), 0);
    assert_int_equal(i8042_restore(&b, &r.handle), -EINVAL);
    /* No record at all. */
    assert_int_equal(record_reader_init(&r, w.data, 0), 0);
    assert_int_equal(i8042_restore(&b, &r.handle), -ENOENT);
    record_writer_fini(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(serial_round_trip),
        cmocka_unit_test(i8042_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
