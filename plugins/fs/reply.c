/* SPDX-License-Identifier: Apache-2.0 */
/* Reply payloads: attributes and entries as FUSE wants them, lookups that
 * take a reference, and the settling of a newly created node's owner and
 * mode. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "ops.h"

int fs_put(struct fs_req *r, const void *p, size_t len)
{
    return fs_iov_write(&r->out, p, len) == len ? 0 : -EINVAL;
}

size_t fs_room(const struct fs_req *r)
{
    return r->out.left;
}

int fs_errno(void)
{
    return errno ? -errno : -EIO;
}

uint32_t fs_encode_dev(dev_t d)
{
    uint32_t ma = major(d), mi = minor(d);
    return (mi & 0xff) | (ma << 8) | ((mi & ~0xffu) << 12);
}

dev_t fs_decode_dev(uint32_t v)
{
    return makedev((v & 0xfff00) >> 8, (v & 0xff) | ((v >> 12) & 0xfff00));
}

void fs_fill_attr(struct fuse_attr *a, const struct stat *st)
{
    *a = (struct fuse_attr){
        .ino = st->st_ino,
        .size = (uint64_t)st->st_size,
        .blocks = (uint64_t)st->st_blocks,
        .atime = (uint64_t)st->st_atim.tv_sec,
        .mtime = (uint64_t)st->st_mtim.tv_sec,
        .ctime = (uint64_t)st->st_ctim.tv_sec,
        .atimensec = (uint32_t)st->st_atim.tv_nsec,
        .mtimensec = (uint32_t)st->st_mtim.tv_nsec,
        .ctimensec = (uint32_t)st->st_ctim.tv_nsec,
        .mode = st->st_mode,
        .nlink = (uint32_t)st->st_nlink,
        .uid = st->st_uid,
        .gid = st->st_gid,
        .rdev = fs_encode_dev(st->st_rdev),
        .blksize = (uint32_t)st->st_blksize,
    };
}

uint64_t fs_timeout(const struct fs_server *s)
{
    switch (s->cache) {
    case FS_CACHE_ALWAYS:
        return 86400;
    case FS_CACHE_NEVER:
        return 0;
    default:
        return 1;
    }
}

void fs_fill_entry(const struct fs_server *s, struct fuse_entry_out *e, uint64_t nodeid,
                   const struct stat *st)
{
    memset(e, 0, sizeof(*e));
    e->nodeid = nodeid;
    /* The generation is already in the nodeid; repeating it keeps the
     * (nodeid, generation) pair unique as FUSE asks, for the guest's NFS
     * export file handles too. */
    e->generation = nodeid >> 32;
    e->entry_valid = e->attr_valid = fs_timeout(s);
    fs_fill_attr(&e->attr, st);
}

int fs_lookup_at(struct fs_server *s, int dirfd, const char *name, struct fuse_entry_out *e)
{
    int fd = fs_open_beneath(dirfd, name, O_PATH, 0);
    if (fd < 0)
        return fd;
    struct stat st;
    int err = fs_fstat(fd, &st);
    if (err) {
        close(fd);
        return err;
    }
    uint64_t nodeid;
    err = fs_inode_add(&s->inodes, fd, &st, false, &nodeid);
    if (err)
        return err;
    fs_fill_entry(s, e, nodeid, &st);
    return 0;
}

int fs_settle_new(struct fs_req *r, int dirfd, int fd, mode_t type, mode_t mode)
{
    struct stat dir;
    if (fstat(dirfd, &dir))
        return fs_errno();
    mode_t want = mode & 07777;
    /* A directory made in a set-group-ID directory inherits the bit (the
     * host sets it, the guest's mode does not carry it). */
    if (type == S_IFDIR && (dir.st_mode & S_ISGID))
        want |= S_ISGID;
    if (r->s->as_root) {
        gid_t gid = (dir.st_mode & S_ISGID) ? (gid_t)-1 : (gid_t)r->h.gid;
        if (fchownat(fd, "", (uid_t)r->h.uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
            return fs_errno();
    }
    /* Symlinks have no mode of their own on Linux. */
    if (type == S_IFLNK)
        return 0;
    struct stat st;
    int err = fs_fstat(fd, &st);
    if (err)
        return err;
    /* plugvm's umask is the host process's, not the guest's (whose umask
     * the guest kernel applied already); and a chown by root drops
     * S_ISUID/S_ISGID. Either would leave the guest a mode it did not ask
     * for. */
    if ((st.st_mode & 07777) != want) {
        char p[32];
        fs_proc_path(p, fd);
        if (chmod(p, want))
            return fs_errno();
    }
    return 0;
}
