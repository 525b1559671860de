/* SPDX-License-Identifier: Apache-2.0 */
/* core/run/image_config.c: a config file with vm.image read into run
 * --image's options (names relative to the file, env_file before env),
 * an ordinary config left to the ordinary loader, and each mistake
 * refused with FILE:LINE and the setting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "run/image_config.h"

static char dir[] = "/tmp/plugvm-imgcfg-XXXXXX";

static void put(const char *name, const char *text)
{
    char p[256];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int load(const char *name, struct image_config *st, struct image_run_opts *o, char *err, size_t errlen)
{
    char p[256];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    memset(o, 0, sizeof(*o));
    return image_config_load(p, st, o, err, errlen);
}

static void reads(void **state)
{
    (void)state;
    assert_non_null(mkdtemp(dir));
    put("app.env", "A=1\nB=file\n");
    put("k", "kernel");
    put("good.cfg", "vm = { image = \"alpine:3\"; vcpus = 2; memory_mib = 300; kernel = \"k\"; };\n"
                    "process = { args = [\"sh\", \"-c\", \"x\"]; env = [\"B=cfg\"]; env_file = \"app.env\";\n"
                    "  workdir = \"/w\"; user = \"app\"; tty = true; interactive = true; no_snapshot = true;\n"
                    "  volumes = [\"d.ext4:/data:ro\"]; entrypoint = \"/e\"; };\n");
    struct image_config st;
    struct image_run_opts o;
    char err[2048];
    if (load("good.cfg", &st, &o, err, sizeof(err)) != 1)
        fail_msg("%s", err);
    assert_string_equal(o.image, "alpine:3"); /* no such file beside it: a cached name */
    assert_int_equal(o.vcpus, 2);
    assert_int_equal(o.memory_mib, 300);
    char want[300];
    snprintf(want, sizeof(want), "%s/k", dir);
    assert_string_equal(o.kernel, want);
    assert_int_equal(o.proc.nargs, 3);
    assert_string_equal(o.proc.args[2], "x");
    assert_int_equal(o.proc.nenv, 3);
    assert_string_equal(o.proc.env[0], "A=1");
    assert_string_equal(o.proc.env[2], "B=cfg"); /* after env_file's, so it wins */
    assert_string_equal(o.proc.workdir, "/w");
    assert_string_equal(o.proc.user, "app");
    assert_string_equal(o.proc.entrypoint, "/e");
    assert_true(o.tty && o.interactive && o.no_snapshot);
    assert_int_equal(o.nvolumes, 1);
    snprintf(want, sizeof(want), "%s/d.ext4:/data:ro", dir);
    assert_string_equal(o.volumes[0], want);
    image_config_free(&st);
    /* An image path beside the file, with its tag. */
    char img[300];
    snprintf(img, sizeof(img), "%s/img", dir);
    assert_int_equal(mkdir(img, 0755), 0);
    put("path.cfg", "vm = { image = \"img:box\"; };\n");
    assert_int_equal(load("path.cfg", &st, &o, err, sizeof(err)), 1);
    snprintf(want, sizeof(want), "%s/img:box", dir);
    assert_string_equal(o.image, want);
    image_config_free(&st);
    /* Not an image config: left alone. */
    put("plain.cfg", "vm = { kernel = \"k\"; };\n");
    assert_int_equal(load("plain.cfg", &st, &o, err, sizeof(err)), 0);
}

static void refuse(const char *text, const char *want)
{
    struct image_config st;
    struct image_run_opts o;
    char err[2048] = "";
    put("bad.cfg", text);
    assert_int_equal(load("bad.cfg", &st, &o, err, sizeof(err)), -1);
    if (!strstr(err, want))
        fail_msg("wanted \"%s\" in \"%s\"", want, err);
}

static void refusals(void **state)
{
    (void)state;
    refuse("vm = { image = \"x\"; cmdline = \"q\"; };", "bad.cfg:1: setting 'vm.cmdline': not with vm.image");
    refuse("vm = { image = \"\"; };", "setting 'vm.image': expected a non-empty string");
    refuse("vm = { image = \"x\"; vcpus = 0; };", "setting 'vm.vcpus': expected a number from 1 to 64");
    refuse("vm = { image = \"x\"; };\ndevices = ();", "bad.cfg:2: unknown top-level setting 'devices'");
    refuse("vm = { image = \"x\"; };\nprocess = { argz = 1; };", "unknown setting 'process.argz'");
    refuse("vm = { image = \"x\"; };\nprocess = { args = [1]; };", "setting 'process.args'");
    refuse("vm = { image = \"x\"; };\nprocess = { tty = 1; };", "setting 'process.tty': expected true or false");
    refuse("vm = { image = \"x\"; };\nprocess = { env_file = \"none\"; };", "setting 'process.env_file'");
    refuse("vm = { image = \"x\"; };\nprocess = { user = 3; };", "setting 'process.user': expected a string");
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reads),
        cmocka_unit_test(refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
