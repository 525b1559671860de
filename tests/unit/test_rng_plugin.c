/* SPDX-License-Identifier: Apache-2.0 */
/* The example rng plugin (examples/plugins/rng/rng.c) driven through its
 * descriptor by a fake host: buffers filled and completed with their
 * length, and a reset while the guest keeps the avail ring full. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include <plugvm/device.h>
#include <plugvm/plugin.h>

#include "busy_guest.h"
#include "fake_host.h"

extern const struct plugvm_plugin plugvm_plugin;
#define OPS ((const struct plugvm_device_ops *)plugvm_plugin.ops)

struct dev {
    struct fake_host fh;
    struct fake_settings s;
    struct plugvm_device_info info;
    void *inst;
};

static void done(struct dev *d)
{
    OPS->reset(d->inst);
    OPS->destroy(d->inst);
    fake_host_fini(&d->fh);
}

static void fills_buffers(void **state)
{
    (void)state;
    struct dev d;
    fake_host_init(&d.fh);
    fake_settings_init(&d.s);
    assert_int_equal(OPS->create(&d.fh.host, &d.s.handle, &d.info, &d.inst), 0);
    assert_int_equal(d.info.device_id, 4);
    assert_int_equal(OPS->activate(d.inst, 0), 0);
    uint8_t a[32] = {0}, b[7] = {0}, zero[32] = {0};
    struct plugvm_iov iov[] = {{a, sizeof(a), true}, {b, sizeof(b), true}};
    struct plugvm_chain c;
    fake_chain(&c, iov, 2, 3);
    fake_host_offer(&d.fh, 0, &c);
    OPS->notify(d.inst, 0);
    assert_true(fake_host_wait_done(&d.fh, 0, 1, 5000));
    assert_int_equal(d.fh.q[0].done[0].used, sizeof(a) + sizeof(b));
    assert_memory_not_equal(a, zero, sizeof(a)); /* 2^-256 to be wrong */
    assert_false(d.fh.bad_push);
    done(&d);
}

/* The guest's second vCPU keeps the avail ring full while the first
 * resets the device: reset (a vCPU thread, the transport lock held)
 * returns between chains rather than when the guest stops refilling. */
static void reset_while_refilled(void **state)
{
    (void)state;
    struct dev d;
    fake_host_init(&d.fh);
    fake_settings_init(&d.s);
    struct busy_guest g;
    const struct busy_buf layout[] = {{0, 32, true}};
    busy_guest_init(&g, &d.fh, 0, layout, 1, NULL, 0);
    assert_int_equal(OPS->create(&g.host, &d.s.handle, &d.info, &d.inst), 0);
    busy_guest_start(&g);
    assert_int_equal(OPS->activate(d.inst, 0), 0);
    assert_true(busy_guest_wait_pushed(&g, 2000, 10000));
    if (!busy_guest_reset_within(&g, OPS->reset, d.inst, 2000))
        fail_msg("reset did not return within 2 s while the guest refilled the avail ring "
                 "(it returned once the guest stopped)");
    busy_guest_stop(&g);
    assert_true(g.popped == g.pushed);
    assert_false(g.bad_push);
    assert_int_equal(g.last_used, 32);
    busy_guest_fini(&g);
    done(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fills_buffers),
        cmocka_unit_test(reset_while_refilled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
