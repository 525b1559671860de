/* SPDX-License-Identifier: Apache-2.0 */
/* guest/init/user.c: an image's User resolved in its /etc/passwd and
 * /etc/group the way runc's user.GetExecUser does (name, number, :group,
 * supplementary groups from group membership, a numeric uid passwd does
 * not list), and refused with a message where runc refuses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "user.h"

static const char passwd[] = "root:x:0:0:root:/root:/bin/sh\n"
                             "# a comment\n"
                             "broken line\n"
                             "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
                             "www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n"
                             "big:x:4000000000:4000000001::/home/big:/bin/sh\n"
                             "toobig:x:4294967295:0::/x:/bin/sh"; /* no final newline; -1 is not an id */
static const char group[] = "root:x:0:\n"
                            "adm:x:4:www-data,daemon\n"
                            "www-data:x:33:\n"
                            "video:x:44:www-data\n"
                            "staff:x:50:\n";

static struct init_user resolve(const char *spec)
{
    struct init_user u;
    char err[256];
    if (init_user_resolve(spec, passwd, strlen(passwd), group, strlen(group), &u, err, sizeof(err)))
        fail_msg("%s: %s", spec, err);
    return u;
}

static void names_and_numbers(void **state)
{
    (void)state;
    struct init_user u = resolve("");
    assert_int_equal(u.uid, 0);
    assert_int_equal(u.gid, 0);
    assert_string_equal(u.home, "/root");
    u = resolve("www-data");
    assert_int_equal(u.uid, 33);
    assert_int_equal(u.gid, 33);
    assert_string_equal(u.home, "/var/www");
    assert_int_equal(u.ngroups, 3); /* 33, then adm and video, which list it */
    assert_int_equal(u.groups[0], 33);
    assert_int_equal(u.groups[1], 4);
    assert_int_equal(u.groups[2], 44);
    u = resolve("33"); /* a number passwd lists: its gid and home */
    assert_int_equal(u.gid, 33);
    assert_string_equal(u.home, "/var/www");
    u = resolve("1234"); /* one it does not: gid 0, home / */
    assert_int_equal(u.uid, 1234);
    assert_int_equal(u.gid, 0);
    assert_string_equal(u.home, "/");
    assert_int_equal(u.ngroups, 1);
    u = resolve("big");
    assert_int_equal(u.uid, 4000000000u);
    assert_int_equal(u.gid, 4000000001u);
}

static void groups(void **state)
{
    (void)state;
    struct init_user u = resolve("www-data:staff");
    assert_int_equal(u.uid, 33);
    assert_int_equal(u.gid, 50);
    assert_int_equal(u.groups[0], 50);
    u = resolve("daemon:777");
    assert_int_equal(u.uid, 1);
    assert_int_equal(u.gid, 777);
    assert_int_equal(u.ngroups, 2); /* 777 and adm */
    u = resolve("1234:44");
    assert_int_equal(u.gid, 44);
}

static void refuse(const char *spec, const char *want)
{
    struct init_user u;
    char err[256] = "";
    assert_int_equal(init_user_resolve(spec, passwd, strlen(passwd), group, strlen(group), &u, err, sizeof(err)), -1);
    if (!strstr(err, want))
        fail_msg("%s: wanted \"%s\" in \"%s\"", spec, want, err);
}

static void refusals(void **state)
{
    (void)state;
    refuse("nobody", "user \"nobody\": no such user in the image's /etc/passwd");
    refuse("toobig", "no such user"); /* its uid is not one */
    refuse("root:wheel", "group \"wheel\": no such group in the image's /etc/group");
    refuse("root:", "expected USER[:GROUP]");
    refuse("root:a:b", "expected USER[:GROUP]");
    refuse("4294967295", "no such user"); /* (uid_t)-1 is not a number here: a name, and absent */
    /* No /etc/passwd at all (a scratch image): numbers only. */
    struct init_user u;
    char err[256];
    assert_int_equal(init_user_resolve("1000:1000", NULL, 0, NULL, 0, &u, err, sizeof(err)), 0);
    assert_int_equal(u.uid, 1000);
    assert_int_equal(u.gid, 1000);
    assert_int_equal(init_user_resolve("app", NULL, 0, NULL, 0, &u, err, sizeof(err)), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names_and_numbers),
        cmocka_unit_test(groups),
        cmocka_unit_test(refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
