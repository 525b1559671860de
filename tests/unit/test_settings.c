/* SPDX-License-Identifier: Apache-2.0 */
/* The typed settings accessor plugins read their settings through. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "config/settings_check.h"

static const char text[] = "dev = {\n"
                           "  path = \"disk.img\";\n"
                           "  queues = 4;\n"
                           "  big = 5000000000L;\n"
                           "  read_only = true;\n"
                           "  tags = [\"a\", \"b\"];\n"
                           "};\n";

static void accessor(void **state)
{
    (void)state;
    config_t cfg;
    config_init(&cfg);
    assert_true(config_read_string(&cfg, text));
    struct libconfig_settings ls;
    libconfig_settings_init(&ls, "vm.cfg", config_lookup(&cfg, "dev"));
    const struct plugvm_settings *s = &ls.handle;

    const char *str = NULL;
    int64_t i = 0;
    bool b = false;
    size_t n = 0;
    assert_int_equal(s->ops->get_string(s, "path", &str), 0);
    assert_string_equal(str, "disk.img");
    assert_int_equal(s->ops->get_int(s, "queues", &i), 0);
    assert_int_equal(i, 4);
    assert_int_equal(s->ops->get_int(s, "big", &i), 0);
    assert_true(i == 5000000000LL);
    assert_int_equal(s->ops->get_bool(s, "read_only", &b), 0);
    assert_true(b);
    assert_int_equal(s->ops->list_length(s, "tags", &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(s->ops->list_string(s, "tags", 1, &str), 0);
    assert_string_equal(str, "b");
    assert_int_equal(s->ops->list_string(s, "tags", 2, &str), -ERANGE);

    /* Absent and wrongly typed settings. */
    assert_int_equal(s->ops->get_string(s, "nope", &str), -ENOENT);
    assert_int_equal(s->ops->get_string(s, "queues", &str), -EINVAL);
    assert_int_equal(s->ops->get_int(s, "path", &i), -EINVAL);
    assert_int_equal(s->ops->get_bool(s, "queues", &b), -EINVAL);
    assert_int_equal(s->ops->list_length(s, "path", &n), -EINVAL);

    char where[64];
    assert_string_equal(s->ops->where(s, "queues", where, sizeof(where)), "vm.cfg:3");
    assert_string_equal(s->ops->where(s, NULL, where, sizeof(where)), "vm.cfg:1");

    /* Paths: relative ones against the config file's folder. */
    char path[64];
    assert_int_equal(s->ops->get_path(s, "path", path, sizeof(path)), 0);
    assert_string_equal(path, "disk.img"); /* vm.cfg has no folder part */
    libconfig_settings_init(&ls, "/etc/vms/vm.cfg", config_lookup(&cfg, "dev"));
    assert_int_equal(s->ops->get_path(s, "path", path, sizeof(path)), 0);
    assert_string_equal(path, "/etc/vms/disk.img");
    assert_int_equal(s->ops->get_path(s, "path", path, 12), -ENAMETOOLONG);
    assert_int_equal(s->ops->get_path(s, "queues", path, sizeof(path)), -EINVAL);
    assert_int_equal(s->ops->get_path(s, "nope", path, sizeof(path)), -ENOENT);
    config_destroy(&cfg);
}

static void check_against_spec(void **state)
{
    (void)state;
    static const struct plugvm_setting_spec spec[] = {
        PLUGVM_SETTING("path", PLUGVM_SETTING_STRING, PLUGVM_SETTING_REQUIRED, 0, -1, "a file"),
        PLUGVM_SETTING("queues", PLUGVM_SETTING_INT, 0, 1, 8, "a queue count"),
        PLUGVM_SETTING("big", PLUGVM_SETTING_INT, 0, 0, -1, "anything"),
        PLUGVM_SETTING("read_only", PLUGVM_SETTING_BOOL, 0, 0, 0, NULL),
        PLUGVM_SETTING("tags", PLUGVM_SETTING_STRING_LIST, 0, 0, 0, NULL),
        PLUGVM_SETTINGS_END,
    };
    config_t cfg;
    config_init(&cfg);
    assert_true(config_read_string(&cfg, text));
    char err[512];
    const config_setting_t *g = config_lookup(&cfg, "dev");
    assert_int_equal(settings_check("vm.cfg", g, "dev", spec, NULL, err, sizeof(err)), 0);
    /* Without "tags" in the table it is unknown; listed as extra it passes. */
    static const struct plugvm_setting_spec narrow[] = {
        PLUGVM_SETTING("path", PLUGVM_SETTING_STRING, 0, 0, -1, NULL),
        PLUGVM_SETTING("queues", PLUGVM_SETTING_INT, 0, 1, 8, "a queue count"),
        PLUGVM_SETTINGS_END,
    };
    static const struct plugvm_setting_spec tight[] = {
        PLUGVM_SETTING("path", PLUGVM_SETTING_STRING, 0, 0, -1, NULL),
        PLUGVM_SETTING("queues", PLUGVM_SETTING_INT, 0, 1, 2, "a queue count"),
        PLUGVM_SETTINGS_END,
    };
    static const char *const extra[] = {"big", "read_only", "tags", NULL};
    assert_int_equal(settings_check("vm.cfg", g, "dev", narrow, NULL, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "vm.cfg:4: unknown setting 'dev.big'"));
    assert_int_equal(settings_check("vm.cfg", g, "dev", narrow, extra, err, sizeof(err)), 0);
    assert_int_equal(settings_check("vm.cfg", g, "dev", tight, extra, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "vm.cfg:3: setting 'dev.queues' = 4 is out of range"));
    config_destroy(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accessor),
        cmocka_unit_test(check_against_spec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
