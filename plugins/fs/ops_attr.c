/* SPDX-License-Identifier: Apache-2.0 */
/* Attributes of one inode: GETATTR, SETATTR, READLINK, STATFS, ACCESS.
 * All act on the inode's O_PATH descriptor (AT_EMPTY_PATH) or, where the
 * host call has no such form, on /proc/self/fd/N of it (confine.c says
 * why that walks no guest-controlled name). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "ops.h"

static int reply_attr(struct fs_req *r, int fd)
{
    struct stat st;
    int err = fs_fstat(fd, &st);
    if (err)
        return err;
    struct fuse_attr_out o = {.attr_valid = fs_timeout(r->s)};
    fs_fill_attr(&o.attr, &st);
    return fs_put(r, &o, sizeof(o));
}

int fs_op_getattr(struct fs_req *r)
{
    return reply_attr(r, r->ino->fd);
}

/* A SETATTR timestamp: UTIME_NOW, UTIME_OMIT or the guest's. */
static int set_time(struct timespec *ts, uint32_t valid, uint32_t bit, uint32_t now_bit,
                    uint64_t sec, uint32_t nsec)
{
    if (!(valid & bit)) {
        *ts = (struct timespec){.tv_nsec = UTIME_OMIT};
    } else if (valid & now_bit) {
        *ts = (struct timespec){.tv_nsec = UTIME_NOW};
    } else {
        /* A nanosecond count of 1e9 or more is no time; passed on, it
         * could also alias UTIME_NOW or UTIME_OMIT. */
        if (nsec >= 1000000000u || sec > INT64_MAX)
            return -EINVAL;
        *ts = (struct timespec){.tv_sec = (time_t)sec, .tv_nsec = nsec};
    }
    return 0;
}

static int do_setattr(struct fs_req *r, const struct fuse_setattr_in *in, struct fs_handle *h)
{
    struct fs_inode *ino = r->ino;
    char path[32];
    fs_proc_path(path, ino->fd);
    /* Owner before mode: a chown drops S_ISUID/S_ISGID, which a mode set
     * in the same request must keep. */
    if (in->valid & (FATTR_UID | FATTR_GID)) {
        uid_t uid = (in->valid & FATTR_UID) ? (uid_t)in->uid : (uid_t)-1;
        gid_t gid = (in->valid & FATTR_GID) ? (gid_t)in->gid : (gid_t)-1;
        if (fchownat(ino->fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
            return fs_errno();
    }
    if (in->valid & FATTR_MODE) {
        if (ino->type == S_IFLNK)
            return -EOPNOTSUPP; /* Linux symlinks have no mode */
        if (h ? fchmod(h->fd, in->mode & 07777) : chmod(path, in->mode & 07777))
            return fs_errno();
    }
    if (in->valid & FATTR_SIZE) {
        if (ino->type == S_IFDIR)
            return -EISDIR;
        if (ino->type != S_IFREG)
            return -EINVAL;
        if (in->size > INT64_MAX)
            return -EFBIG;
        /* Through the guest's fh where it sent one: the open file may be
         * writable where the path's mode no longer is. */
        if (h ? ftruncate(h->fd, (off_t)in->size) : truncate(path, (off_t)in->size))
            return fs_errno();
    }
    if (in->valid & (FATTR_ATIME | FATTR_MTIME)) {
        struct timespec ts[2];
        int err = set_time(&ts[0], in->valid, FATTR_ATIME, FATTR_ATIME_NOW, in->atime,
                           in->atimensec);
        if (!err)
            err = set_time(&ts[1], in->valid, FATTR_MTIME, FATTR_MTIME_NOW, in->mtime,
                           in->mtimensec);
        if (err)
            return err;
        if (h) {
            if (futimens(h->fd, ts))
                return fs_errno();
        } else if (utimensat(ino->fd, "", ts, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)) {
            /* Kernels before AT_EMPTY_PATH in utimensat: the magic link,
             * which for a symlink would reach the link's target no more
             * than it does for chmod; symlinks then keep their times. */
            if (errno != EINVAL || ino->type == S_IFLNK || utimensat(AT_FDCWD, path, ts, 0))
                return fs_errno();
        }
    }
    return 0;
}

int fs_op_setattr(struct fs_req *r)
{
    struct fuse_setattr_in in;
    memcpy(&in, r->arg, sizeof(in));
    struct fs_handle *h = NULL;
    if (in.valid & FATTR_FH) {
        /* The kernel sends the fh of an fchmod/ftruncate/futimens on an
         * open file or directory. */
        h = fs_handle_get(&r->s->handles, in.fh, false);
        if (!h)
            h = fs_handle_get(&r->s->handles, in.fh, true);
        if (!h)
            return -EBADF;
    }
    int err = do_setattr(r, &in, h);
    fs_handle_put(&r->s->handles, h);
    return err ? err : reply_attr(r, r->ino->fd);
}

int fs_op_readlink(struct fs_req *r)
{
    if (r->ino->type != S_IFLNK)
        return -EINVAL;
    char buf[PATH_MAX];
    ssize_t n = readlinkat(r->ino->fd, "", buf, sizeof(buf));
    if (n < 0)
        return fs_errno();
    /* A target the reply cannot hold whole would read back as another
     * path. */
    if ((size_t)n >= sizeof(buf) || (size_t)n > fs_room(r))
        return -ENAMETOOLONG;
    return fs_put(r, buf, (size_t)n);
}

int fs_op_statfs(struct fs_req *r)
{
    struct statvfs v;
    if (fstatvfs(r->ino->fd, &v))
        return fs_errno();
    struct fuse_statfs_out o = {.st = {
        .blocks = v.f_blocks,
        .bfree = v.f_bfree,
        .bavail = v.f_bavail,
        .files = v.f_files,
        .ffree = v.f_ffree,
        .bsize = (uint32_t)v.f_bsize,
        .namelen = (uint32_t)v.f_namemax,
        .frsize = (uint32_t)v.f_frsize,
    }};
    return fs_put(r, &o, sizeof(o));
}

/* ACCESS answers what the host lets plugvm do with the inode, by plugvm's
 * effective ids (AT_EACCESS), not the request's uid: the guest kernel has
 * already judged its caller by the owners and modes we show (virtio-fs
 * mounts with default_permissions, which also means the kernel rarely
 * sends ACCESS at all). */
int fs_op_access(struct fs_req *r)
{
    struct fuse_access_in in;
    memcpy(&in, r->arg, sizeof(in));
    if (in.mask & ~(uint32_t)(R_OK | W_OK | X_OK))
        return -EINVAL;
    if ((in.mask & W_OK) && r->s->read_only)
        return -EROFS;
    char path[32];
    fs_proc_path(path, r->ino->fd);
    return faccessat(AT_FDCWD, path, (int)in.mask, AT_EACCESS) ? fs_errno() : 0;
}
