/* SPDX-License-Identifier: Apache-2.0 */
/* Every config mistake is refused with FILE:LINE, the setting, and what
 * was expected. */
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

#include "config/config.h"

static char dir[] = "/tmp/plugvm-config-XXXXXX";

static char *write_cfg(const char *name, const char *text)
{
    static char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static int setup(void **state)
{
    (void)state;
    assert_non_null(mkdtemp(dir));
    write_cfg("vmlinuz", "not really a kernel");
    write_cfg("initrd.img", "x");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd);
}

/* Loads `text`; expects failure whose message contains every one of the
 * NULL-terminated needles. */
static void expect_error(const char *text, ...)
{
    struct vm_config c;
    char err[2048];
    char *path = write_cfg("vm.cfg", text);
    int rc = config_load(&c, path, err, sizeof(err));
    if (rc == 0)
        fail_msg("accepted a bad config:\n%s", text);
    va_list ap;
    va_start(ap, text);
    for (const char *n = va_arg(ap, const char *); n; n = va_arg(ap, const char *))
        if (!strstr(err, n))
            fail_msg("message '%s' lacks '%s'", err, n);
    va_end(ap);
}

#define GOOD_VM "vm = { memory_mib = 64; kernel = \"vmlinuz\"; };\n"

static void accepts_minimal(void **state)
{
    (void)state;
    struct vm_config c;
    char err[1024] = "";
    assert_int_equal(config_load(&c, write_cfg("vm.cfg", GOOD_VM), err, sizeof(err)), 0);
    assert_int_equal(c.vcpus, 1);
    assert_int_equal(c.memory_mib, 64);
    assert_string_equal(c.backend, "kvm");
    assert_string_equal(c.cmdline, "console=ttyS0");
    assert_non_null(strstr(c.kernel, "/vmlinuz"));
    assert_null(c.initrd);
    config_free(&c);
}

static void accepts_full(void **state)
{
    (void)state;
    struct vm_config c;
    char err[1024] = "";
    const char *text = "vm = { backend = \"kvm\"; vcpus = 4; memory_mib = 5000; kernel = \"vmlinuz\";\n"
                       "  initrd = \"initrd.img\"; cmdline = \"console=ttyS0 quiet\";\n"
                       "  cpuid_disable = [\"cx16\", \"0x7:0:edx:29\"]; };\n"
                       "devices = ( { plugin = \"blk\"; path = \"x\"; } );\n";
    assert_int_equal(config_load(&c, write_cfg("vm.cfg", text), err, sizeof(err)), 0);
    assert_int_equal(c.vcpus, 4);
    assert_int_equal(c.memory_mib, 5000);
    assert_string_equal(c.cmdline, "console=ttyS0 quiet");
    assert_int_equal(c.ncpuid_masks, 2);
    assert_int_equal(c.cpuid_masks[0].leaf, 1);
    assert_int_equal(c.cpuid_masks[0].reg, PLUGVM_CPUID_ECX);
    assert_int_equal(c.cpuid_masks[0].bit, 13);
    assert_int_equal(c.cpuid_masks[1].leaf, 7);
    assert_int_equal(c.cpuid_masks[1].reg, PLUGVM_CPUID_EDX);
    assert_int_equal(c.cpuid_masks[1].bit, 29);
    assert_int_equal(c.ndevices, 1);
    assert_string_equal(c.devices[0].plugin, "blk");
    config_free(&c);
}

static void missing_file(void **state)
{
    (void)state;
    struct vm_config c;
    char err[1024];
    assert_int_equal(config_load(&c, "/nonexistent/vm.cfg", err, sizeof(err)), -ENOENT);
    assert_non_null(strstr(err, "/nonexistent/vm.cfg"));
    assert_non_null(strstr(err, "No such file"));
}

static void syntax_error(void **state)
{
    (void)state;
    expect_error("vm = {\n memory_mib = 64;\n kernel = ; };\n", "vm.cfg:3:", "syntax error",
                 NULL);
}

static void unknown_setting(void **state)
{
    (void)state;
    expect_error("vm = { memory_mib = 64;\n kernel = \"vmlinuz\";\n memry = 3; };\n", "vm.cfg:3:",
                 "unknown setting 'vm.memry'", "memory_mib", NULL);
}

static void unknown_top_level(void **state)
{
    (void)state;
    expect_error(GOOD_VM "machine = 1;\n", "vm.cfg:2:", "unknown top-level setting 'machine'", NULL);
}

static void wrong_type(void **state)
{
    (void)state;
    expect_error("vm = { memory_mib = \"64\"; kernel = \"vmlinuz\"; };\n", "vm.cfg:1:",
                 "'vm.memory_mib' must be an integer", NULL);
    expect_error("vm = { memory_mib = 64; kernel = 5; };\n", "'vm.kernel' must be a string", NULL);
    expect_error("vm = { memory_mib = 64; kernel = \"vmlinuz\"; cpuid_disable = [1]; };\n",
                 "'vm.cpuid_disable' must be a list of strings", NULL);
}

static void out_of_range(void **state)
{
    (void)state;
    expect_error("vm = { memory_mib = 0; kernel = \"vmlinuz\"; };\n", "vm.cfg:1:",
                 "'vm.memory_mib' = 0 is out of range", "from 16 to", NULL);
    expect_error("vm = { memory_mib = 64; vcpus = 1000; kernel = \"vmlinuz\"; };\n",
                 "'vm.vcpus' = 1000 is out of range", "from 1 to 64", NULL);
    expect_error("vm = { memory_mib = 64; vcpus = 0; kernel = \"vmlinuz\"; };\n",
                 "'vm.vcpus' = 0 is out of range", NULL);
    expect_error("vm = { memory_mib = 64; vcpus = -1; kernel = \"vmlinuz\"; };\n",
                 "'vm.vcpus' = -1 is out of range", NULL);
}

static void missing_required(void **state)
{
    (void)state;
    expect_error("vm = { kernel = \"vmlinuz\"; };\n", "missing setting 'vm.memory_mib'", NULL);
    expect_error("vm = { memory_mib = 64; };\n", "missing setting 'vm.kernel'", NULL);
    expect_error("devices = ();\n", "missing group 'vm'", NULL);
}

static void kernel_missing(void **state)
{
    (void)state;
    expect_error("vm = { memory_mib = 64;\n kernel = \"no-such-kernel\"; };\n", "vm.cfg:2:",
                 "'vm.kernel'", "'no-such-kernel' not found", NULL);
    expect_error("vm = { memory_mib = 64; kernel = \"vmlinuz\";\n initrd = \"nope.img\"; };\n",
                 "vm.cfg:2:", "'vm.initrd'", "'nope.img' not found", NULL);
    expect_error("vm = { memory_mib = 64; kernel = \"/tmp\"; };\n", "'vm.kernel'",
                 "not a regular file", NULL);
}

static void bad_cpuid_name(void **state)
{
    (void)state;
    expect_error("vm = { memory_mib = 64; kernel = \"vmlinuz\";\n cpuid_disable = [\"cx17\"]; };\n",
                 "vm.cfg:2:", "unknown CPUID feature 'cx17'", "cx16", NULL);
    expect_error("vm = { memory_mib = 64; kernel = \"vmlinuz\"; cpuid_disable = [\"1:0:ecx:32\"]; };\n",
                 "unknown CPUID feature '1:0:ecx:32'", NULL);
}

static void bad_devices(void **state)
{
    (void)state;
    expect_error(GOOD_VM "devices = ( { path = \"x\"; } );\n", "vm.cfg:2:", "devices[0]",
                 "'plugin'", NULL);
    expect_error(GOOD_VM "devices = 3;\n", "'devices' must be a list", NULL);
    expect_error(GOOD_VM "devices = ( 3 );\n", "'devices[0]' must be a group", NULL);
}

static void cmdline_too_long(void **state)
{
    (void)state;
    char text[4096];
    char longline[2100];
    memset(longline, 'a', sizeof(longline) - 1);
    longline[sizeof(longline) - 1] = 0;
    snprintf(text, sizeof(text), "vm = { memory_mib = 64; kernel = \"vmlinuz\"; cmdline = \"%s\"; };\n",
             longline);
    expect_error(text, "'vm.cmdline' is 2099 bytes", "at most 2047", NULL);
}

/* config_load_string (the fuzz target's entry): the same checks as from a
 * file, relative names beside the given folder, messages under the given
 * name. */
static void from_memory(void **state)
{
    (void)state;
    struct vm_config c;
    char err[1024] = "";
    assert_int_equal(config_load_string(&c, "mem.cfg", GOOD_VM, dir, err, sizeof(err)), 0);
    assert_int_equal(c.memory_mib, 64);
    assert_non_null(strstr(c.kernel, dir));
    config_free(&c);
    assert_int_equal(config_load_string(&c, "mem.cfg", "vm = {\n kernel = ; };\n", dir, err,
                                        sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "mem.cfg:2: syntax error"));
    assert_int_equal(config_load_string(&c, "mem.cfg", "vm = { memory_mib = 64; kernel = "
                                        "\"nosuch\"; };\nfoo = 1;\n", dir, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "mem.cfg:2: unknown top-level setting 'foo'"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accepts_minimal),  cmocka_unit_test(accepts_full),
        cmocka_unit_test(missing_file),     cmocka_unit_test(syntax_error),
        cmocka_unit_test(unknown_setting),  cmocka_unit_test(unknown_top_level),
        cmocka_unit_test(wrong_type),       cmocka_unit_test(out_of_range),
        cmocka_unit_test(missing_required), cmocka_unit_test(kernel_missing),
        cmocka_unit_test(bad_cpuid_name),   cmocka_unit_test(bad_devices),
        cmocka_unit_test(cmdline_too_long), cmocka_unit_test(from_memory),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
