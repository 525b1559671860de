/* SPDX-License-Identifier: Apache-2.0 */
/* The confinement primitives: every path the server hands the host is
 * either one guest name checked here, resolved beneath its parent's
 * descriptor without following any symlink, or /proc/self/fd/N of a
 * descriptor the server itself holds.
 *
 * Why reopening through /proc/self/fd/N is safe: N is our own O_PATH
 * descriptor of an inode already inside source. Opening the magic link
 * does not look a name up again: procfs hands the walk the descriptor's
 * own struct path (same mount, same dentry), so a rename of the file, or a
 * swap of a directory above it for a symlink to "/", changes nothing about
 * what is opened. The alternative, openat(parent, name), would resolve the
 * name a second time and could open whatever a concurrent rename put
 * there. The guest never names a /proc path: the server builds it from its
 * own descriptor numbers, and RESOLVE_NO_MAGICLINKS keeps any magic link
 * that might sit inside source (a bind-mounted /proc) from being followed
 * by a guest name. As defence in depth the reopened descriptor's
 * (st_dev, st_ino) must be the inode's. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#ifdef SYS_openat2
#include <linux/openat2.h>
#endif

#include "ops.h"

int fs_take_name(const uint8_t **p, size_t *left, const char **name)
{
    if (!*left)
        return -EINVAL;
    /* The NUL must be inside the request: a name running to the end of
     * the buffer would have the host read guest memory past it. */
    const uint8_t *nul = memchr(*p, 0, *left);
    if (!nul)
        return -EINVAL;
    size_t len = (size_t)(nul - *p);
    const char *n = (const char *)*p;
    *p = nul + 1;
    *left -= len + 1;
    /* An empty name is no entry (and, to a call with AT_EMPTY_PATH, the
     * parent itself); a '/' would make it a path that the parent's
     * descriptor no longer confines to one step. */
    if (len == 0 || memchr(n, '/', len))
        return -EINVAL;
    if (len > NAME_MAX)
        return -ENAMETOOLONG;
    *name = n;
    return 0;
}

int fs_take_new_name(const uint8_t **p, size_t *left, const char **name)
{
    int err = fs_take_name(p, left, name);
    if (err)
        return err;
    /* "." and ".." name the directory and its parent: UNLINK, RENAME or
     * MKDIR by those names would act on something other than a child. */
    if (!strcmp(*name, ".") || !strcmp(*name, ".."))
        return -EINVAL;
    return 0;
}

#ifdef SYS_openat2
static atomic_bool no_openat2;
#endif

int fs_open_beneath(int dirfd, const char *name, int flags, mode_t mode)
{
    flags |= O_NOFOLLOW | O_CLOEXEC;
    bool creat = (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
#ifdef SYS_openat2
    if (!atomic_load(&no_openat2)) {
        /* Single-component names already stay beneath dirfd; the resolve
         * flags are the kernel's word for it, should a check above ever
         * let a '/' or ".." through. */
        struct open_how how = {
            .flags = (uint64_t)(unsigned)flags,
            .mode = creat ? mode : 0,
            .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS,
        };
        long fd = syscall(SYS_openat2, dirfd, name, &how, sizeof(how));
        if (fd >= 0)
            return (int)fd;
        if (errno != ENOSYS)
            return -errno;
        atomic_store(&no_openat2, true);
    }
#endif
    int fd = openat(dirfd, name, flags, creat ? mode : 0);
    return fd < 0 ? -errno : fd;
}

void fs_proc_path(char buf[32], int fd)
{
    snprintf(buf, 32, "/proc/self/fd/%d", fd);
}

int fs_fstat(int fd, struct stat *st)
{
    return fstatat(fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) ? -errno : 0;
}

int fs_reopen(int opath, int flags, dev_t dev, ino_t ino)
{
    char p[32];
    fs_proc_path(p, opath);
    /* O_NOFOLLOW would refuse the magic link itself; O_CREAT could never
     * apply to an inode that exists; O_NOCTTY keeps a tty from becoming
     * plugvm's controlling terminal. */
    flags &= ~(O_CREAT | O_EXCL | O_NOFOLLOW | O_TMPFILE);
    int fd = open(p, flags | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) || st.st_dev != dev || st.st_ino != ino) {
        close(fd);
        return -EIO;
    }
    return fd;
}
