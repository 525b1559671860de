/* SPDX-License-Identifier: Apache-2.0 */
/* core/image/process.c: an image's argv, env, cwd and user from its config
 * and the run's overrides, checked case by case against what `docker run`
 * does with the same image and flags (docker's documented rules for
 * --entrypoint, -e NAME, -w, -u, and its default PATH). */
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

#include "image/process.h"

static const char cfg[] = "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{"
                          "\"Entrypoint\":[\"/bin/tini\",\"--\"],\"Cmd\":[\"nginx\",\"-g\",\"daemon off;\"],"
                          "\"Env\":[\"PATH=/opt/bin:/bin\",\"LANG=C.UTF-8\",\"MODE=prod\"],"
                          "\"WorkingDir\":\"/srv\",\"User\":\"www-data\"}}";

static char *joined(char **v, size_t n)
{
    static char buf[1024];
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++)
        snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%s", i ? "|" : "", v[i]);
    return buf;
}

static void make_ok(const char *json, const struct image_process_opts *o, struct image_process *p)
{
    char err[512];
    if (image_process_make(json, strlen(json), o, p, err, sizeof(err)))
        fail_msg("%s", err);
    assert_null(p->argv[p->argc]);
    assert_null(p->env[p->nenv]);
}

static void image_defaults(void **state)
{
    (void)state;
    struct image_process p;
    make_ok(cfg, NULL, &p);
    assert_string_equal(joined(p.argv, p.argc), "/bin/tini|--|nginx|-g|daemon off;");
    assert_string_equal(joined(p.env, p.nenv), "PATH=/opt/bin:/bin|LANG=C.UTF-8|MODE=prod");
    assert_string_equal(p.cwd, "/srv");
    assert_string_equal(p.user, "www-data");
    image_process_free(&p);
}

static void overrides(void **state)
{
    (void)state;
    struct image_process p;
    /* Arguments replace Cmd, after the Entrypoint. */
    const char *args[] = {"sh", "-c", "echo hi"};
    struct image_process_opts o = {.args = args, .nargs = 3, .workdir = "/tmp", .user = "1000:1000"};
    make_ok(cfg, &o, &p);
    assert_string_equal(joined(p.argv, p.argc), "/bin/tini|--|sh|-c|echo hi");
    assert_string_equal(p.cwd, "/tmp");
    assert_string_equal(p.user, "1000:1000");
    image_process_free(&p);
    /* --entrypoint drops the image's Cmd... */
    o = (struct image_process_opts){.entrypoint = "/bin/date"};
    make_ok(cfg, &o, &p);
    assert_string_equal(joined(p.argv, p.argc), "/bin/date");
    image_process_free(&p);
    /* ...and takes the arguments given; "" leaves no entrypoint. */
    o = (struct image_process_opts){.entrypoint = "", .args = args, .nargs = 1};
    make_ok(cfg, &o, &p);
    assert_string_equal(joined(p.argv, p.argc), "sh");
    image_process_free(&p);
}

static void environment(void **state)
{
    (void)state;
    struct image_process p;
    setenv("PLUGVM_TEST_HOSTVAR", "from host", 1);
    unsetenv("PLUGVM_TEST_UNSET");
    const char *env[] = {"MODE=dev", "NEW=1", "PLUGVM_TEST_HOSTVAR", "LANG", "EMPTY="};
    struct image_process_opts o = {.env = env, .nenv = 5};
    unsetenv("LANG"); /* a bare name the host lacks removes the image's value */
    make_ok(cfg, &o, &p);
    assert_string_equal(joined(p.env, p.nenv),
                        "PATH=/opt/bin:/bin|MODE=dev|NEW=1|PLUGVM_TEST_HOSTVAR=from host|EMPTY=");
    image_process_free(&p);
    /* No PATH from the image or -e: docker's default. */
    make_ok("{\"config\":{\"Cmd\":[\"/hello\"],\"Env\":[\"A=b=c\"]}}", NULL, &p);
    assert_string_equal(joined(p.env, p.nenv), "A=b=c|" IMAGE_DEFAULT_PATH);
    assert_string_equal(p.cwd, "/");
    assert_string_equal(p.user, "");
    image_process_free(&p);
}

static void scratch(void **state)
{
    (void)state;
    struct image_process p;
    const char *args[] = {"/hello", "world"};
    struct image_process_opts o = {.args = args, .nargs = 2};
    make_ok("{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{}}", &o, &p);
    assert_string_equal(joined(p.argv, p.argc), "/hello|world");
    image_process_free(&p);
    make_ok("{\"config\":null}", &o, &p);
    image_process_free(&p);
}

static void refuse(const char *json, const struct image_process_opts *o, const char *want)
{
    struct image_process p;
    char err[512] = "";
    assert_int_equal(image_process_make(json, strlen(json), o, &p, err, sizeof(err)), -EINVAL);
    if (!strstr(err, want))
        fail_msg("wanted \"%s\" in \"%s\"", want, err);
    assert_null(p.argv);
}

static void refusals(void **state)
{
    (void)state;
    refuse("{\"config\":{}}", NULL, "gives no command (no Entrypoint or Cmd): give one after --");
    struct image_process_opts o = {.entrypoint = ""};
    refuse(cfg, &o, "gives no command");
    refuse("{\"config\":{\"Cmd\":[\"x\"],\"Env\":[\"OK=1\",\"=nokey\"]}}", NULL, "config.Env[1]: expected \"NAME=VALUE\"");
    refuse("{\"config\":{\"Cmd\":[\"x\"],\"Env\":[\"NOEQUALS\"]}}", NULL, "config.Env[0]");
    refuse("{\"config\":{\"Cmd\":\"x\"}}", NULL, "config.Cmd: expected an array of strings or null");
    refuse("{\"config\":{\"Cmd\":[\"x\",3]}}", NULL, "config.Cmd[1]: expected a string");
    refuse("{\"config\":{\"Cmd\":[\"x\"],\"WorkingDir\":\"srv\"}}", NULL,
           "config.WorkingDir: expected an absolute path");
    o = (struct image_process_opts){.workdir = "rel"};
    refuse(cfg, &o, "-w: expected an absolute path");
    const char *bad_env[] = {"=x"};
    o = (struct image_process_opts){.env = bad_env, .nenv = 1};
    refuse(cfg, &o, "-e: expected NAME=VALUE or NAME");
    refuse("{\"config\":[]}", NULL, "config: expected an object or null");
    refuse("{\"config\":{\"Cmd\":[\"x\"],\"User\":7}}", NULL, "config.User: expected a string");
    refuse("not json", NULL, "the image config is not a JSON object");
    refuse("{\"config\":{\"Cmd\":[\"a\"],\"Cmd\":[\"b\"]}}", NULL, "not a JSON object"); /* duplicate keys */
}

static void env_file(void **state)
{
    (void)state;
    static const char f[] = "# settings\n\n  A=1\nB= spaced value \nC=\"quoted\"\r\nHOSTONLY\nD=x=y";
    char **env, err[256];
    size_t n;
    if (image_env_file_parse(f, strlen(f), "app.env", &env, &n, err, sizeof(err)))
        fail_msg("%s", err);
    assert_string_equal(joined(env, n), "A=1|B= spaced value |C=\"quoted\"|HOSTONLY|D=x=y");
    assert_null(env[n]);
    image_env_free(env, n);
    assert_int_equal(image_env_file_parse("", 0, "e", &env, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 0);
    image_env_free(env, n);
    assert_int_equal(image_env_file_parse("A=1\n=2\n", 6, "bad.env", &env, &n, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "bad.env:2: expected NAME=VALUE or NAME, got an empty NAME");
    assert_int_equal(image_env_file_parse("A B=1", 5, "bad.env", &env, &n, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "bad.env:1: the NAME holds blanks");
    assert_int_equal(image_env_file_parse("A=\0", 3, "bad.env", &env, &n, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "bad.env:1: a NUL byte");
}

/* The whole file is read, however it is cut into reads (the config
 * file's env_file once stopped at 1 MiB); too large or missing is an
 * error naming the file. */
static void env_file_read(void **state)
{
    (void)state;
    char path[] = "/tmp/plugvm-envfile-XXXXXX", err[256], **env;
    size_t n;
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    for (int i = 0; i < 120000; i++) /* 1.4 MB */
        fprintf(f, "# padding line %06d\n", i);
    fputs("LAST=after the first MiB\n", f);
    fclose(f);
    if (image_env_file_read(path, &env, &n, err, sizeof(err)))
        fail_msg("%s", err);
    assert_int_equal(n, 1);
    assert_string_equal(env[0], "LAST=after the first MiB");
    image_env_free(env, n);

    assert_int_equal(truncate(path, IMAGE_ENV_FILE_MAX + 1), 0);
    assert_int_equal(image_env_file_read(path, &env, &n, err, sizeof(err)), -EFBIG);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "larger than 16 MiB"));
    unlink(path);
    assert_int_equal(image_env_file_read(path, &env, &n, err, sizeof(err)), -ENOENT);
    assert_non_null(strstr(err, "No such file"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(image_defaults), cmocka_unit_test(overrides), cmocka_unit_test(environment),
        cmocka_unit_test(scratch),        cmocka_unit_test(refusals),    cmocka_unit_test(env_file),
        cmocka_unit_test(env_file_read),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
