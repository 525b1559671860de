/* SPDX-License-Identifier: Apache-2.0 */
/* Names: LOOKUP, FORGET, BATCH_FORGET, MKNOD, MKDIR, SYMLINK, LINK,
 * UNLINK, RMDIR, RENAME, RENAME2. Each acts on one checked name relative
 * to its parent's O_PATH descriptor. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ops.h"

/* The fixed argument struct at the start of r->arg, and the names after. */
#define ARGS(r, type, var)                                                                         \
    type var;                                                                                      \
    memcpy(&var, (r)->arg, sizeof(var));                                                           \
    const uint8_t *p = (r)->arg + sizeof(var);                                                     \
    size_t left = (r)->arglen - sizeof(var)

/* LOOKUP of "..": the parent, but never above source and never an inode
 * the guest has not reached from the root (only records already in the
 * table are returned). A directory moved out of source by the host can
 * thus never lead the guest to its new surroundings. */
/* LOOKUP of "." (FUSE_EXPORT_SUPPORT: the guest turning an NFS file
 * handle back into an inode) and of ".." on the root: the node itself,
 * one more reference. */
static int lookup_self(struct fs_req *r, struct fuse_entry_out *e)
{
    struct stat st;
    int err = fs_fstat(r->ino->fd, &st);
    if (!err)
        err = fs_inode_ref(&r->s->inodes, r->ino);
    if (!err)
        fs_fill_entry(r->s, e, r->ino->nodeid, &st);
    return err;
}

/* LOOKUP of "..": the parent, but never above source (the root's ".." is
 * the root) and never an inode the guest has not reached from the root:
 * only records already in the table are returned, so a directory the
 * host moved out of source cannot lead the guest into its new
 * surroundings. */
static int lookup_parent(struct fs_req *r, struct fuse_entry_out *e)
{
    if (r->ino->nodeid == FUSE_ROOT_ID)
        return lookup_self(r, e);
    if (r->ino->type != S_IFDIR)
        return -ENOTDIR;
    int fd = openat(r->ino->fd, "..", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return fs_errno();
    struct stat st;
    int err = fs_fstat(fd, &st);
    if (err) {
        close(fd);
        return err;
    }
    uint64_t nodeid;
    err = fs_inode_add(&r->s->inodes, fd, &st, true, &nodeid);
    if (err)
        return err;
    fs_fill_entry(r->s, e, nodeid, &st);
    return 0;
}

int fs_op_lookup(struct fs_req *r)
{
    const uint8_t *p = r->arg;
    size_t left = r->arglen;
    const char *name;
    int err = fs_take_name(&p, &left, &name);
    if (err)
        return err;
    struct fuse_entry_out e;
    if (!strcmp(name, "."))
        err = lookup_self(r, &e);
    else if (!strcmp(name, ".."))
        err = lookup_parent(r, &e);
    else
        err = fs_lookup_at(r->s, r->ino->fd, name, &e);
    return err ? err : fs_put(r, &e, sizeof(e));
}

int fs_op_forget(struct fs_req *r)
{
    struct fuse_forget_in in;
    memcpy(&in, r->arg, sizeof(in));
    fs_inode_forget(&r->s->inodes, r->h.nodeid, in.nlookup);
    return 0;
}

int fs_op_batch_forget(struct fs_req *r)
{
    ARGS(r, struct fuse_batch_forget_in, in);
    /* A count that is not what the buffer holds is a malformed request;
     * acting on part of it would forget references the guest still
     * counts. (No reply either way.) */
    if (left % sizeof(struct fuse_forget_one) || in.count != left / sizeof(struct fuse_forget_one))
        return -EINVAL;
    for (uint32_t i = 0; i < in.count; i++) {
        struct fuse_forget_one one;
        memcpy(&one, p + (size_t)i * sizeof(one), sizeof(one));
        fs_inode_forget(&r->s->inodes, one.nodeid, one.nlookup);
    }
    return 0;
}

/* The entry reply for a node just made under r->ino: fd is its O_PATH
 * descriptor (owned). The node was found by name after it was made, so a
 * concurrent rename could have put another one there: the type must be
 * the one made and, for non-directories, the link count 1 — a hard link
 * to some other file moved in would otherwise be chowned to the caller.
 * (Moving an existing node in takes rename rights over it, which already
 * let the guest replace it.) */
static int entry_of_new(struct fs_req *r, int fd, mode_t type, mode_t mode)
{
    struct stat st;
    int err = fs_fstat(fd, &st);
    if (!err && ((st.st_mode & S_IFMT) != type || (type != S_IFDIR && st.st_nlink != 1)))
        err = -EIO;
    if (!err)
        err = fs_settle_new(r, r->ino->fd, fd, type, mode);
    if (!err)
        err = fs_fstat(fd, &st);
    if (err) {
        close(fd);
        return err;
    }
    uint64_t nodeid;
    err = fs_inode_add(&r->s->inodes, fd, &st, false, &nodeid);
    if (err)
        return err;
    struct fuse_entry_out e;
    fs_fill_entry(r->s, &e, nodeid, &st);
    return fs_put(r, &e, sizeof(e));
}

/* After mkdirat()/mknodat()/symlinkat(): the new name's O_PATH descriptor
 * and its entry. */
static int entry_by_name(struct fs_req *r, const char *name, mode_t type, mode_t mode)
{
    int fd = fs_open_beneath(r->ino->fd, name, O_PATH, 0);
    return fd < 0 ? fd : entry_of_new(r, fd, type, mode);
}

int fs_op_mknod(struct fs_req *r)
{
    ARGS(r, struct fuse_mknod_in, in);
    const char *name;
    int err = fs_take_new_name(&p, &left, &name);
    if (err)
        return err;
    mode_t type = in.mode & S_IFMT, perm = in.mode & 07777;
    switch (type) {
    case S_IFREG: {
        /* Made with O_EXCL, so the descriptor is the new file's: no name
         * lookup after the fact for a rename to race. */
        int fd = fs_open_beneath(r->ino->fd, name, O_CREAT | O_EXCL | O_RDONLY, perm);
        if (fd < 0)
            return fd;
        struct stat st;
        err = fs_fstat(fd, &st);
        int opath = err ? err : fs_reopen(fd, O_PATH, st.st_dev, st.st_ino);
        close(fd);
        return opath < 0 ? opath : entry_of_new(r, opath, type, in.mode);
    }
    case S_IFCHR:
        /* Only overlayfs' whiteout, 0:0, which no driver answers to; a real
         * device node in source would open a host device to whoever on the
         * host can reach it (the guest opens device nodes in its own
         * kernel, never through us). */
        if (in.rdev != 0)
            return -EPERM;
        break;
    case S_IFBLK:
        return -EPERM;
    case S_IFIFO:
    case S_IFSOCK:
        break;
    default:
        return -EINVAL;
    }
    if (mknodat(r->ino->fd, name, type | perm, type == S_IFCHR ? fs_decode_dev(in.rdev) : 0))
        return fs_errno();
    return entry_by_name(r, name, type, in.mode);
}

int fs_op_mkdir(struct fs_req *r)
{
    ARGS(r, struct fuse_mkdir_in, in);
    const char *name;
    int err = fs_take_new_name(&p, &left, &name);
    if (err)
        return err;
    if (mkdirat(r->ino->fd, name, in.mode & 07777))
        return fs_errno();
    return entry_by_name(r, name, S_IFDIR, in.mode);
}

int fs_op_symlink(struct fs_req *r)
{
    const uint8_t *p = r->arg;
    size_t left = r->arglen;
    const char *name, *target;
    int err = fs_take_new_name(&p, &left, &name);
    if (err)
        return err;
    /* The target is any string (the host never follows it); it only has
     * to end inside the request and fit a host symlink. */
    const uint8_t *nul = left ? memchr(p, 0, left) : NULL;
    if (!nul)
        return -EINVAL;
    if ((size_t)(nul - p) >= PATH_MAX)
        return -ENAMETOOLONG;
    target = (const char *)p;
    if (symlinkat(target, r->ino->fd, name))
        return fs_errno();
    return entry_by_name(r, name, S_IFLNK, 0777);
}

int fs_op_link(struct fs_req *r)
{
    ARGS(r, struct fuse_link_in, in);
    const char *name;
    int err = fs_take_new_name(&p, &left, &name);
    if (err)
        return err;
    /* Only a nodeid we issued can be linked, so no host file from outside
     * source can be pulled in. */
    struct fs_inode *old = fs_inode_get(&r->s->inodes, in.oldnodeid);
    if (!old)
        return -ESTALE;
    if (old->type == S_IFDIR) {
        fs_inode_put(&r->s->inodes, old);
        return -EPERM;
    }
    /* AT_EMPTY_PATH links the descriptor's inode itself but needs
     * CAP_DAC_READ_SEARCH; without it, the /proc/self/fd magic link
     * reaches the same inode (AT_SYMLINK_FOLLOW follows only that link,
     * which walks no name). */
    if (linkat(old->fd, "", r->ino->fd, name, AT_EMPTY_PATH)) {
        char path[32];
        fs_proc_path(path, old->fd);
        if ((errno != ENOENT && errno != EPERM) ||
            linkat(AT_FDCWD, path, r->ino->fd, name, AT_SYMLINK_FOLLOW))
            err = fs_errno();
    }
    struct stat st;
    if (!err)
        err = fs_fstat(old->fd, &st);
    if (!err)
        err = fs_inode_ref(&r->s->inodes, old);
    struct fuse_entry_out e;
    if (!err)
        fs_fill_entry(r->s, &e, old->nodeid, &st);
    fs_inode_put(&r->s->inodes, old);
    return err ? err : fs_put(r, &e, sizeof(e));
}

static int remove_name(struct fs_req *r, int flags)
{
    const uint8_t *p = r->arg;
    size_t left = r->arglen;
    const char *name;
    int err = fs_take_new_name(&p, &left, &name);
    if (err)
        return err;
    return unlinkat(r->ino->fd, name, flags) ? fs_errno() : 0;
}

int fs_op_unlink(struct fs_req *r)
{
    return remove_name(r, 0);
}

int fs_op_rmdir(struct fs_req *r)
{
    return remove_name(r, AT_REMOVEDIR);
}

static int do_rename(struct fs_req *r, uint64_t newdir, unsigned flags, const uint8_t *p,
                     size_t left)
{
    const char *oldname, *newname;
    int err = fs_take_new_name(&p, &left, &oldname);
    if (!err)
        err = fs_take_new_name(&p, &left, &newname);
    if (err)
        return err;
    struct fs_inode *nd = fs_inode_get(&r->s->inodes, newdir);
    if (!nd)
        return -ESTALE;
    if (renameat2(r->ino->fd, oldname, nd->fd, newname, flags))
        err = fs_errno();
    fs_inode_put(&r->s->inodes, nd);
    return err;
}

int fs_op_rename(struct fs_req *r)
{
    ARGS(r, struct fuse_rename_in, in);
    return do_rename(r, in.newdir, 0, p, left);
}

int fs_op_rename2(struct fs_req *r)
{
    ARGS(r, struct fuse_rename2_in, in);
    /* RENAME_WHITEOUT would need CAP_MKNOD on the host and makes a device
     * node; anything else is unknown. */
    if (in.flags != 0 && in.flags != RENAME_NOREPLACE && in.flags != RENAME_EXCHANGE)
        return -EINVAL;
    return do_rename(r, in.newdir, in.flags, p, left);
}
