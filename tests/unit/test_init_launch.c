/* SPDX-License-Identifier: Apache-2.0 */
/* guest/init/launch.c: the launch record plugvm hands plugvm-init, encoded
 * and decoded back whole, and each malformed record refused with its
 * reason (cut short, a field past the end, a field twice, a NUL inside a
 * string, no argv or cwd, a volume without "ro:"/"rw:" and an absolute
 * path, limits), an unknown field skipped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "launch.h"

static char *argv0[] = {"/bin/sh", "-c", "echo \"hi\"", "", NULL};
static char *env0[] = {"PATH=/bin", "A=", NULL};
static char *vol0[] = {"rw:/data", "ro:fs:/etc/app", NULL};

static struct launch sample(void)
{
    struct launch l = {.flags = LAUNCH_F_TTY, .argv = argv0, .argc = 4, .env = env0, .nenv = 2,
                       .volumes = vol0, .nvolumes = 2, .cwd = "/srv",
                       .user = "www-data:adm", .hostname = "box", .rows = 50, .cols = 132, .entropy_len = 3,
                       .clock_ns = 1796483704123456789ull};
    memcpy(l.entropy, "\x01\x00\xff", 3);
    return l;
}

static void round_trip(void **state)
{
    (void)state;
    struct launch l = sample(), d;
    uint8_t *buf;
    size_t len;
    char err[256];
    assert_int_equal(launch_encode(&l, &buf, &len), 0);
    assert_int_equal(launch_size(buf, LAUNCH_HEADER), len);
    if (launch_decode(buf, len, &d, err, sizeof(err)))
        fail_msg("%s", err);
    assert_int_equal(d.argc, 4);
    for (size_t i = 0; i < 4; i++)
        assert_string_equal(d.argv[i], argv0[i]);
    assert_null(d.argv[4]);
    assert_int_equal(d.nenv, 2);
    assert_string_equal(d.env[1], "A=");
    assert_null(d.env[2]);
    assert_int_equal(d.nvolumes, 2);
    assert_string_equal(d.volumes[0], "rw:/data");
    assert_string_equal(d.volumes[1], "ro:fs:/etc/app");
    assert_false(LAUNCH_VOLUME_IS_FS(d.volumes[0]));
    assert_string_equal(LAUNCH_VOLUME_PATH(d.volumes[0]), "/data");
    assert_true(LAUNCH_VOLUME_IS_FS(d.volumes[1]));
    assert_string_equal(LAUNCH_VOLUME_PATH(d.volumes[1]), "/etc/app");
    assert_null(d.volumes[2]);
    assert_string_equal(d.cwd, "/srv");
    assert_string_equal(d.user, "www-data:adm");
    assert_string_equal(d.hostname, "box");
    assert_int_equal(d.flags, LAUNCH_F_TTY);
    assert_int_equal(d.rows, 50);
    assert_int_equal(d.cols, 132);
    assert_int_equal(d.entropy_len, 3);
    assert_memory_equal(d.entropy, "\x01\x00\xff", 3);
    assert_true(d.clock_ns == 1796483704123456789ull);
    launch_free(&d);
    free(buf);
    /* The least: argv, cwd, user "" (root); no hostname means "". */
    struct launch m = {.argv = argv0, .argc = 1, .cwd = "/", .user = ""};
    assert_int_equal(launch_encode(&m, &buf, &len), 0);
    assert_int_equal(launch_decode(buf, len, &d, err, sizeof(err)), 0);
    assert_string_equal(d.hostname, "");
    assert_string_equal(d.argv[0], "/bin/sh");
    assert_string_equal(d.user, "");
    assert_int_equal(d.nenv, 0);
    assert_int_equal(d.nvolumes, 0);
    assert_null(d.volumes[0]);
    launch_free(&d);
    free(buf);
}

/* A record with the given fields after a right header. */
static size_t build(uint8_t *buf, const void *fields, size_t flen)
{
    memcpy(buf, "PVML\x01\x00\x00\x00", 8);
    buf[8] = (uint8_t)flen;
    buf[9] = (uint8_t)(flen >> 8);
    buf[10] = buf[11] = 0;
    memcpy(buf + 12, fields, flen);
    return 12 + flen;
}

#define F(tag, len) tag, 0, len, 0, 0, 0

static void refuse(const void *fields, size_t flen, const char *want)
{
    uint8_t buf[256];
    size_t len = build(buf, fields, flen);
    struct launch d;
    char err[256] = "";
    assert_int_equal(launch_decode(buf, len, &d, err, sizeof(err)), -1);
    if (!strstr(err, want))
        fail_msg("wanted \"%s\" in \"%s\"", want, err);
}

static void refusals(void **state)
{
    (void)state;
    const uint8_t ok[] = {F(1, 1), 'x', F(3, 1), '/', F(4, 0)};
    uint8_t buf[256];
    struct launch d;
    char err[256];
    size_t len = build(buf, ok, sizeof(ok));
    assert_int_equal(launch_decode(buf, len, &d, err, sizeof(err)), 0);
    launch_free(&d);
    assert_int_equal(launch_decode(buf, len - 1, &d, err, sizeof(err)), -1); /* shorter than its length */
    buf[0] = 'X';
    assert_int_equal(launch_size(buf, len), 0);
    const uint8_t unknown[] = {F(1, 1), 'x', F(3, 1), '/', F(4, 0), F(99, 2), 'z', 'z'};
    len = build(buf, unknown, sizeof(unknown));
    assert_int_equal(launch_decode(buf, len, &d, err, sizeof(err)), 0); /* skipped */
    launch_free(&d);
    const uint8_t cut[] = {F(1, 1), 'x', F(3, 1), '/', F(4, 0), 7};
    refuse(cut, sizeof(cut), "a field header cut short");
    const uint8_t longer[] = {F(1, 1), 'x', F(3, 1), '/', F(4, 9), 'a'};
    refuse(longer, sizeof(longer), "a field longer than the record");
    const uint8_t twice[] = {F(1, 1), 'x', F(3, 1), '/', F(3, 1), '/', F(4, 0)};
    refuse(twice, sizeof(twice), "a field given twice");
    const uint8_t nul[] = {F(1, 2), 'x', 0, F(3, 1), '/', F(4, 0)};
    refuse(nul, sizeof(nul), "a NUL inside a string");
    const uint8_t noargv[] = {F(3, 1), '/', F(4, 0)};
    refuse(noargv, sizeof(noargv), "no argv");
    const uint8_t nocwd[] = {F(1, 1), 'x', F(4, 0)};
    refuse(nocwd, sizeof(nocwd), "no working directory or no user");
    const uint8_t rel[] = {F(1, 1), 'x', F(3, 1), 'a', F(4, 0)};
    refuse(rel, sizeof(rel), "not an absolute path");
    const uint8_t ws[] = {F(1, 1), 'x', F(3, 1), '/', F(4, 0), F(6, 3), 1, 2, 3};
    refuse(ws, sizeof(ws), "a window size not of 4 bytes");
    const uint8_t ent[] = {F(1, 1), 'x', F(3, 1), '/', F(4, 0), F(7, 0)};
    refuse(ent, sizeof(ent), "entropy not of 1 to 256 bytes");
    const uint8_t clk[] = {F(1, 1), 'x', F(3, 1), '/', F(4, 0), F(8, 4), 1, 2, 3, 4};
    refuse(clk, sizeof(clk), "a clock not of 8 bytes");
    const uint8_t vol[] = {F(1, 1), 'x', F(3, 1), '/', F(4, 0), F(9, 5), 'x', 'x', ':', '/', 'a'};
    refuse(vol, sizeof(vol), "a volume not");
    const uint8_t volrel[] = {F(1, 1), 'x', F(3, 1), '/', F(4, 0), F(9, 4), 'r', 'o', ':', 'a'};
    refuse(volrel, sizeof(volrel), "a volume not");
    /* A share's spec is "ro:fs:/PATH": nothing else after the mode. */
    const uint8_t volfs[] = {F(1, 1), 'x', F(3, 1), '/', F(4, 0), F(9, 6), 'r', 'o', ':', 'f', 's', '/'};
    refuse(volfs, sizeof(volfs), "a volume not");
    const uint8_t volfx[] = {F(1, 1), 'x', F(3, 1), '/', F(4, 0), F(9, 7), 'r', 'w', ':', 'f', 'x', ':', '/'};
    refuse(volfx, sizeof(volfx), "a volume not");
    const uint8_t volfs6[] = {F(1, 1), 'x', F(3, 1), '/', F(4, 0), F(9, 6), 'r', 'w', ':', 'f', 's', ':'};
    refuse(volfs6, sizeof(volfs6), "a volume not");
    /* Limits the encoder keeps too. */
    struct launch l = sample();
    uint8_t *out;
    size_t olen;
    l.argc = 0;
    assert_int_equal(launch_encode(&l, &out, &olen), -1);
    l = sample();
    l.entropy_len = LAUNCH_ENTROPY_MAX + 1;
    assert_int_equal(launch_encode(&l, &out, &olen), -1);
    l = sample();
    l.nvolumes = LAUNCH_VOLUMES_MAX + 1;
    assert_int_equal(launch_encode(&l, &out, &olen), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),
        cmocka_unit_test(refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
