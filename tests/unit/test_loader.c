/* SPDX-License-Identifier: Apache-2.0 */
/* The loader refuses, naming the file, every object it must not load. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "loader/loader.h"

#define P(name) TEST_PLUGIN_DIR "/plugvm-" name ".so"

static void refused(const char *path, const char *needle)
{
    struct plugin_set set = {0};
    char err[1024] = "";
    assert_null(loader_load_path(&set, path, err, sizeof(err)));
    if (!strstr(err, path))
        fail_msg("message '%s' does not name the file", err);
    if (!strstr(err, needle))
        fail_msg("message '%s' lacks '%s'", err, needle);
    assert_int_equal(set.n, 0);
}

static void loads_good(void **state)
{
    (void)state;
    struct plugin_set set = {0};
    char err[1024] = "";
    const struct loaded_plugin *p = loader_load_path(&set, P("good"), err, sizeof(err));
    assert_non_null(p);
    assert_string_equal(p->desc->name, "testdev");
    assert_int_equal(p->desc->kind, PLUGVM_KIND_DEVICE);
    assert_int_equal(set.n, 1);
    loader_unload_all(&set);
}

static void refuses_major(void **state)
{
    (void)state;
    refused(P("bad_major"), "major versions differ");
}

static void refuses_newer_minor(void **state)
{
    (void)state;
    refused(P("newer_minor"), "newer than this plugvm");
}

static void refuses_kind(void **state)
{
    (void)state;
    refused(P("bad_kind"), "unknown plugin kind 99");
}

static void refuses_no_symbol(void **state)
{
    (void)state;
    refused(P("no_symbol"), "no 'plugvm_plugin' symbol");
}

static void refuses_missing_op(void **state)
{
    (void)state;
    refused(P("missing_op"), "lacks the mandatory op 'activate'");
}

static void refuses_bad_name(void **state)
{
    (void)state;
    refused(P("bad_name"), "invalid plugin name");
}

static void refuses_missing_file(void **state)
{
    (void)state;
    refused(TEST_PLUGIN_DIR "/plugvm-nope.so", "No such file");
}

static void refuses_duplicate(void **state)
{
    (void)state;
    struct plugin_set set = {0};
    char err[1024] = "";
    assert_non_null(loader_load_path(&set, P("good"), err, sizeof(err)));
    assert_null(loader_load_path(&set, P("dup_name"), err, sizeof(err)));
    assert_non_null(strstr(err, P("dup_name")));
    assert_non_null(strstr(err, "duplicate plugin name 'testdev'"));
    assert_non_null(strstr(err, P("good")));
    assert_int_equal(set.n, 1);
    loader_unload_all(&set);
}

static void get_by_path_checks_kind(void **state)
{
    (void)state;
    struct plugin_set set = {0};
    char err[1024] = "";
    assert_null(loader_get(&set, P("good"), PLUGVM_KIND_BACKEND, err, sizeof(err)));
    assert_non_null(strstr(err, "is a device plugin; a backend plugin is needed"));
    assert_non_null(loader_get(&set, P("good"), PLUGVM_KIND_DEVICE, err, sizeof(err)));
    loader_unload_all(&set);
}

static void get_by_name_searches_path(void **state)
{
    (void)state;
    struct plugin_set set = {0};
    char err[1024] = "";
    setenv("PLUGVM_PLUGIN_PATH", "/nonexistent:" TEST_PLUGIN_DIR, 1);
    /* plugvm-good.so declares "testdev", not "good": refused by name. */
    assert_null(loader_get(&set, "good", PLUGVM_KIND_DEVICE, err, sizeof(err)));
    assert_non_null(strstr(err, "declares the name 'testdev', expected 'good'"));
    assert_null(loader_get(&set, "absent", PLUGVM_KIND_DEVICE, err, sizeof(err)));
    assert_non_null(strstr(err, "plugin 'absent' not found"));
    /* The build tree's real backend is found by name. */
    unsetenv("PLUGVM_PLUGIN_PATH");
    loader_unload_all(&set);
}

struct scan_count {
    int loaded, refused;
};

static void count(const char *path, const struct loaded_plugin *p, const char *why, void *arg)
{
    (void)path;
    struct scan_count *c = arg;
    assert_true((p == NULL) != (why == NULL));
    if (p)
        c->loaded++;
    else
        c->refused++;
}

static void scan_lists_every_object(void **state)
{
    (void)state;
    struct plugin_set set = {0};
    struct scan_count c = {0};
    setenv("PLUGVM_PLUGIN_PATH", TEST_PLUGIN_DIR, 1);
    loader_scan(&set, count, &c);
    unsetenv("PLUGVM_PLUGIN_PATH");
    /* From the test folder: bad_kind bad_major bad_name dup_name good
     * missing_op newer_minor no_symbol, in name order, so dup_name loads
     * ("testdev") and good is the duplicate. Plus the build tree's kvm
     * and blk. */
    assert_int_equal(c.loaded, 3);
    assert_int_equal(c.refused, 7);
    loader_unload_all(&set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(loads_good),           cmocka_unit_test(refuses_major),
        cmocka_unit_test(refuses_newer_minor),  cmocka_unit_test(refuses_kind),
        cmocka_unit_test(refuses_no_symbol),    cmocka_unit_test(refuses_missing_op),
        cmocka_unit_test(refuses_bad_name),     cmocka_unit_test(refuses_missing_file),
        cmocka_unit_test(refuses_duplicate),    cmocka_unit_test(get_by_path_checks_kind),
        cmocka_unit_test(get_by_name_searches_path), cmocka_unit_test(scan_lists_every_object),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
