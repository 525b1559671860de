/* SPDX-License-Identifier: Apache-2.0 */
/*
 * plugvm-init's user resolution (issue 15): the OCI image config's User
 * ("", "name", "uid", "name:group", "uid:gid", "name:gid", ...) against the
 * image's own /etc/passwd and /etc/group, as runc and docker resolve it:
 *   - "" is root (uid 0, gid 0);
 *   - a name must be in /etc/passwd; a number need not be (then gid 0 and
 *     home "/", unless passwd lists that uid);
 *   - ":group" by name must be in /etc/group; a number need not be; without
 *     it the gid is passwd's;
 *   - supplementary groups: every /etc/group entry listing the user's
 *     name, and the primary gid, each once (at most INIT_GROUPS_MAX);
 *   - home: passwd's, else "/".
 * Inputs are the files' bytes (a guest's image is hostile to the
 * init only in its own VM, but a malformed line is still skipped, not
 * trusted: fields are split exactly, numbers must be whole decimals below
 * 2^32 - 1). Pure functions; thread-safe; plain libc, built for the guest.
 */
#ifndef PLUGVM_GUEST_INIT_USER_H
#define PLUGVM_GUEST_INIT_USER_H

#include <stddef.h>
#include <stdint.h>

#define INIT_GROUPS_MAX 64

struct init_user {
    uint32_t uid, gid;
    uint32_t groups[INIT_GROUPS_MAX]; /* supplementary, for setgroups() */
    size_t ngroups;
    char home[256];
};

/* 0 with *out, or -1 with err saying what was not found ("user \"x\": no
 * such user in the image's /etc/passwd"). passwd or group may be NULL
 * (the image has no such file). */
int init_user_resolve(const char *spec, const char *passwd, size_t plen, const char *group, size_t glen,
                      struct init_user *out, char *err, size_t errlen);

#endif
