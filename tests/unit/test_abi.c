/* SPDX-License-Identifier: Apache-2.0 */
/* The plugin ABI's layouts as they stand for 1.0 on x86_64: sizes and the
 * offsets a plugin of another build relies on, and the room each struct
 * passed by pointer keeps for a later 1.x minor (docs/PLUGINS.md, "ABI
 * versions"). A change here is an ABI change: it fails this test first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <plugvm/backend.h>
#include <plugvm/device.h>
#include <plugvm/host.h>
#include <plugvm/plugin.h>
#include <plugvm/settings.h>

#define ROOM(type, member) (sizeof(type) - offsetof(type, member))

static void layouts(void **state)
{
    (void)state;
    /* The descriptor: the ABI numbers first, where any core reads them. */
    assert_int_equal(offsetof(struct plugvm_plugin, abi_major), 0);
    assert_int_equal(offsetof(struct plugvm_plugin, abi_minor), 4);
    assert_int_equal(offsetof(struct plugvm_plugin, ops), 40);
    assert_int_equal(ROOM(struct plugvm_plugin, reserved), 32);

    /* Arrays the core hands out or reads: their stride is fixed. */
    assert_int_equal(sizeof(struct plugvm_iov), 16);
    assert_int_equal(offsetof(struct plugvm_iov, writable), 12); /* 3 bytes of room after it */
    assert_int_equal(sizeof(struct plugvm_setting_spec), 56);
    assert_int_equal(ROOM(struct plugvm_setting_spec, reserved), 16);

    /* Filled by one side in the other's memory. */
    assert_int_equal(sizeof(struct plugvm_chain), 40);
    assert_int_equal(offsetof(struct plugvm_chain, iov), 16);
    assert_int_equal(ROOM(struct plugvm_chain, reserved), 16);
    assert_int_equal(sizeof(struct plugvm_device_info), 56);
    assert_int_equal(ROOM(struct plugvm_device_info, reserved), 28);
    assert_int_equal(sizeof(struct plugvm_exit), 72);
    assert_int_equal(offsetof(struct plugvm_exit, io), 8);
    assert_int_equal(sizeof(struct plugvm_x86_regs), 480);
    assert_int_equal(ROOM(struct plugvm_x86_regs, reserved), 64);
    assert_int_equal(ROOM(struct plugvm_vm_params, reserved), 32);

    /* Tables carry their size first: PLUGVM_HAS reads it. */
    assert_int_equal(offsetof(struct plugvm_device_ops, size), 0);
    assert_int_equal(offsetof(struct plugvm_backend_ops, size), 0);
    assert_int_equal(offsetof(struct plugvm_host, size), 0);
    assert_int_equal(offsetof(struct plugvm_settings_ops, size), 0);
}

/* PLUGVM_HAS: a member past the table's size is absent, so is a NULL one. */
static void has(void **state)
{
    (void)state;
    struct plugvm_host h = {.size = offsetof(struct plugvm_host, vq_unpop)};
    h.vq_avail = (uint32_t (*)(const struct plugvm_host *, uint32_t))1;
    h.vq_unpop = (int (*)(const struct plugvm_host *, uint32_t, const struct plugvm_chain *))1;
    assert_true(PLUGVM_HAS(&h, struct plugvm_host, vq_avail));
    assert_false(PLUGVM_HAS(&h, struct plugvm_host, vq_unpop)); /* an older core's table */
    h.size = sizeof(h);
    assert_true(PLUGVM_HAS(&h, struct plugvm_host, vq_unpop));
    assert_false(PLUGVM_HAS(&h, struct plugvm_host, vq_set_notify)); /* NULL */
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(layouts), cmocka_unit_test(has)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
