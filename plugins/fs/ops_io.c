/* SPDX-License-Identifier: Apache-2.0 */
/* Open files: OPEN, CREATE, READ, WRITE, FLUSH, RELEASE, FSYNC,
 * FALLOCATE, LSEEK, COPY_FILE_RANGE, SYNCFS. Data moves with preadv() and
 * pwritev() straight between the host file and the guest's buffers. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "ops.h"

/* iovecs per preadv()/pwritev() call; a longer chain takes more calls. */
#define IOV_BATCH 64
/* The most COPY_FILE_RANGE copies in one request, bytes: a copy the host
 * does by reading and writing keeps a worker (and its queue) busy, and a
 * short count is a valid answer the guest's caller loops on. */
#define FS_MAX_COPY (64u << 20)

/* The host open(2) flags for the guest's OPEN/CREATE flags. */
static int host_flags(const struct fs_req *r, uint32_t guest, int *out)
{
    int acc = (int)guest & O_ACCMODE;
    if (acc != O_RDONLY && acc != O_WRONLY && acc != O_RDWR)
        return -EINVAL;
    if (r->s->read_only && (acc != O_RDONLY || (guest & O_TRUNC)))
        return -EROFS;
    /* What an open file may carry over; O_DIRECT is not among them: it
     * means "bypass the guest's cache" (FOPEN_DIRECT_IO's job) and on the
     * host would demand an alignment of the guest's buffers that they need
     * not have. O_CREAT and O_EXCL are CREATE's alone. */
    int f = (int)guest & (O_ACCMODE | O_APPEND | O_TRUNC | O_SYNC | O_DSYNC | O_NONBLOCK |
                          O_NOATIME);
    if (r->conn.flags & FUSE_WRITEBACK_CACHE) {
        /* The guest's page cache reads around partial writes through any
         * fh, and places appends itself at its cached size. */
        if (acc == O_WRONLY)
            f = (f & ~O_ACCMODE) | O_RDWR;
        f &= ~O_APPEND;
    }
    *out = f;
    return 0;
}

static uint32_t fopen_flags(const struct fs_server *s)
{
    if (s->cache == FS_CACHE_ALWAYS)
        return FOPEN_KEEP_CACHE;
    if (s->cache == FS_CACHE_NEVER)
        return FOPEN_DIRECT_IO;
    return 0;
}

/* A regular file's descriptor from its O_PATH one, opened with the host
 * flags for the guest's. Anything else is refused: a symlink would be
 * followed (ELOOP), and a FIFO or device node would block a worker or
 * open a host device (the guest opens those in its own kernel and never
 * sends OPEN for them). */
static int open_regular(const struct fs_req *r, int opath, const struct stat *st, uint32_t guest)
{
    mode_t type = st->st_mode & S_IFMT;
    if (type == S_IFLNK)
        return -ELOOP;
    if (type == S_IFDIR)
        return -EISDIR;
    if (type != S_IFREG)
        return -ENXIO;
    int flags;
    int err = host_flags(r, guest & ~(uint32_t)(O_CREAT | O_EXCL), &flags);
    if (err)
        return err;
    int fd = fs_reopen(opath, flags, st->st_dev, st->st_ino);
    /* The writeback cache's O_RDWR for an O_WRONLY open can meet a file
     * plugvm may write but not read: then the guest's own flags. */
    if (fd == -EACCES && (guest & O_ACCMODE) == O_WRONLY && (flags & O_ACCMODE) == O_RDWR)
        fd = fs_reopen(opath, (flags & ~O_ACCMODE) | O_WRONLY, st->st_dev, st->st_ino);
    return fd;
}

int fs_op_open(struct fs_req *r)
{
    struct fuse_open_in in;
    memcpy(&in, r->arg, sizeof(in));
    struct stat st = {.st_mode = r->ino->type, .st_dev = r->ino->dev, .st_ino = r->ino->ino};
    int fd = open_regular(r, r->ino->fd, &st, in.flags);
    if (fd < 0)
        return fd;
    struct fuse_open_out o = {.open_flags = fopen_flags(r->s)};
    int err = fs_handle_add(&r->s->handles, fd, false, &o.fh);
    return err ? err : fs_put(r, &o, sizeof(o));
}

int fs_op_create(struct fs_req *r)
{
    struct fuse_create_in in;
    memcpy(&in, r->arg, sizeof(in));
    const uint8_t *p = r->arg + sizeof(in);
    size_t left = r->arglen - sizeof(in);
    const char *name;
    int err = fs_take_new_name(&p, &left, &name);
    int flags = 0;
    if (!err)
        err = host_flags(r, in.flags, &flags);
    if (err)
        return err;
    int dirfd = r->ino->fd;
    /* O_EXCL first: the descriptor is then the new file itself, and we
     * know we made it (and so give it to the caller). */
    int fd = fs_open_beneath(dirfd, name, flags | O_CREAT | O_EXCL, in.mode & 07777);
    int opath = -1;
    struct stat st;
    bool made = fd >= 0;
    if (fd == -EEXIST && !(in.flags & O_EXCL)) {
        /* It exists: open it as OPEN would, through an O_PATH descriptor
         * whose type is checked first, so a name that is a FIFO or device
         * node never reaches a real open. */
        opath = fs_open_beneath(dirfd, name, O_PATH, 0);
        if (opath < 0)
            return opath;
        err = fs_fstat(opath, &st);
        fd = err ? err : open_regular(r, opath, &st, in.flags);
    }
    if (fd < 0) {
        if (opath >= 0)
            close(opath);
        return fd;
    }
    if (made) {
        err = fs_settle_new(r, dirfd, fd, S_IFREG, in.mode);
        if (!err)
            err = fs_fstat(fd, &st);
        if (!err) {
            opath = fs_reopen(fd, O_PATH, st.st_dev, st.st_ino);
            err = opath < 0 ? opath : 0;
        }
    } else {
        err = fs_fstat(opath, &st);
    }
    if (err) {
        close(fd);
        if (opath >= 0)
            close(opath);
        return err;
    }
    struct fuse_open_out o = {.open_flags = fopen_flags(r->s)};
    err = fs_handle_add(&r->s->handles, fd, false, &o.fh);
    if (err) {
        close(opath);
        return err;
    }
    uint64_t nodeid;
    err = fs_inode_add(&r->s->inodes, opath, &st, false, &nodeid);
    if (err) {
        fs_handle_remove(&r->s->handles, o.fh, false);
        return err;
    }
    struct fuse_entry_out e;
    fs_fill_entry(r->s, &e, nodeid, &st);
    err = fs_put(r, &e, sizeof(e));
    return err ? err : fs_put(r, &o, sizeof(o));
}

int fs_op_read(struct fs_req *r)
{
    struct fuse_read_in in;
    memcpy(&in, r->arg, sizeof(in));
    if (in.offset > INT64_MAX)
        return -EINVAL;
    struct fs_handle *h = fs_handle_get(&r->s->handles, in.fh, false);
    if (!h)
        return -EBADF;
    size_t want = in.size;
    if (want > FS_MAX_WRITE)
        want = FS_MAX_WRITE;
    if (want > fs_room(r))
        want = fs_room(r);
    if (want > INT64_MAX - in.offset)
        want = (size_t)(INT64_MAX - in.offset);
    off_t off = (off_t)in.offset;
    size_t done = 0;
    int err = 0;
    while (done < want) {
        struct iovec v[IOV_BATCH];
        size_t got;
        int k = fs_iov_slice(&r->out, want - done, v, IOV_BATCH, &got);
        ssize_t n = preadv(h->fd, v, k, off);
        if (n < 0) {
            err = done ? 0 : fs_errno();
            break;
        }
        fs_iov_skip(&r->out, (size_t)n);
        done += (size_t)n;
        off += n;
        /* Short: the end of the file (FUSE reads a short reply as EOF). */
        if ((size_t)n < got || n == 0)
            break;
    }
    fs_handle_put(&r->s->handles, h);
    return err;
}

int fs_op_write(struct fs_req *r)
{
    struct fuse_write_in in;
    memcpy(&in, r->arg, sizeof(in));
    /* The data is what follows the arguments, all of it: a size that says
     * otherwise is a request the driver and we read differently. */
    if (in.size != r->data.left || in.size > FS_MAX_WRITE)
        return -EINVAL;
    if (in.offset > INT64_MAX || in.size > INT64_MAX - in.offset)
        return -EFBIG;
    struct fs_handle *h = fs_handle_get(&r->s->handles, in.fh, false);
    if (!h)
        return -EBADF;
    off_t off = (off_t)in.offset;
    size_t done = 0;
    int err = 0;
    while (done < in.size) {
        struct iovec v[IOV_BATCH];
        size_t got;
        int k = fs_iov_slice(&r->data, in.size - done, v, IOV_BATCH, &got);
        ssize_t n = pwritev(h->fd, v, k, off);
        if (n <= 0) {
            err = done ? 0 : (n < 0 ? fs_errno() : -EIO);
            break;
        }
        fs_iov_skip(&r->data, (size_t)n);
        done += (size_t)n;
        off += n;
    }
    fs_handle_put(&r->s->handles, h);
    if (err)
        return err;
    struct fuse_write_out o = {.size = (uint32_t)done};
    return fs_put(r, &o, sizeof(o));
}

int fs_op_flush(struct fs_req *r)
{
    struct fuse_flush_in in;
    memcpy(&in, r->arg, sizeof(in));
    struct fs_handle *h = fs_handle_get(&r->s->handles, in.fh, false);
    if (!h)
        return -EBADF;
    /* A close() in the guest ends its caller's POSIX locks on the file;
     * see ops_lock.c for what that means with OFD locks. */
    fs_unlock_all(h);
    fs_handle_put(&r->s->handles, h);
    return 0;
}

/* RELEASE and RELEASEDIR, FSYNC and FSYNCDIR: the same but for the kind
 * of fh they take (a file's for one, a directory's for the other). */
int fs_release_fh(struct fs_req *r, bool dir)
{
    struct fuse_release_in in;
    memcpy(&in, r->arg, sizeof(in));
    return fs_handle_remove(&r->s->handles, in.fh, dir);
}

int fs_fsync_fh(struct fs_req *r, bool dir)
{
    struct fuse_fsync_in in;
    memcpy(&in, r->arg, sizeof(in));
    struct fs_handle *h = fs_handle_get(&r->s->handles, in.fh, dir);
    if (!h)
        return -EBADF;
    int rc = (in.fsync_flags & FUSE_FSYNC_FDATASYNC) ? fdatasync(h->fd) : fsync(h->fd);
    int err = rc ? fs_errno() : 0;
    fs_handle_put(&r->s->handles, h);
    return err;
}

int fs_op_release(struct fs_req *r)
{
    return fs_release_fh(r, false);
}

int fs_op_fsync(struct fs_req *r)
{
    return fs_fsync_fh(r, false);
}

int fs_op_fallocate(struct fs_req *r)
{
    struct fuse_fallocate_in in;
    memcpy(&in, r->arg, sizeof(in));
    const uint32_t known = FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE |
                           FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_INSERT_RANGE;
    if (in.mode & ~known)
        return -EOPNOTSUPP;
    /* Guest values become off_t: a value past INT64_MAX would turn
     * negative on the way. */
    if (in.offset > INT64_MAX || in.length > INT64_MAX - in.offset)
        return -EFBIG;
    struct fs_handle *h = fs_handle_get(&r->s->handles, in.fh, false);
    if (!h)
        return -EBADF;
    int err = fallocate(h->fd, (int)in.mode, (off_t)in.offset, (off_t)in.length) ? fs_errno() : 0;
    fs_handle_put(&r->s->handles, h);
    return err;
}

int fs_op_lseek(struct fs_req *r)
{
    struct fuse_lseek_in in;
    memcpy(&in, r->arg, sizeof(in));
    /* The guest keeps file positions itself and asks only for data and
     * holes; the host descriptor's own position means nothing to it. */
    if ((in.whence != SEEK_DATA && in.whence != SEEK_HOLE) || in.offset > INT64_MAX)
        return -EINVAL;
    struct fs_handle *h = fs_handle_get(&r->s->handles, in.fh, false);
    if (!h)
        return -EBADF;
    off_t o = lseek(h->fd, (off_t)in.offset, (int)in.whence);
    int err = o < 0 ? fs_errno() : 0;
    fs_handle_put(&r->s->handles, h);
    if (err)
        return err;
    struct fuse_lseek_out out = {.offset = (uint64_t)o};
    return fs_put(r, &out, sizeof(out));
}

int fs_op_copy_file_range(struct fs_req *r)
{
    struct fuse_copy_file_range_in in;
    memcpy(&in, r->arg, sizeof(in));
    if (in.flags)
        return -EINVAL;
    if (in.off_in > INT64_MAX || in.off_out > INT64_MAX)
        return -EINVAL;
    uint64_t len = in.len < FS_MAX_COPY ? in.len : FS_MAX_COPY;
    struct fs_handle *hi = fs_handle_get(&r->s->handles, in.fh_in, false);
    struct fs_handle *ho = fs_handle_get(&r->s->handles, in.fh_out, false);
    int err = 0;
    ssize_t n = 0;
    if (!hi || !ho) {
        err = -EBADF;
    } else {
        off_t oi = (off_t)in.off_in, oo = (off_t)in.off_out;
        n = copy_file_range(hi->fd, &oi, ho->fd, &oo, (size_t)len, 0);
        if (n < 0)
            err = fs_errno();
    }
    fs_handle_put(&r->s->handles, hi);
    fs_handle_put(&r->s->handles, ho);
    if (err)
        return err;
    struct fuse_write_out o = {.size = (uint32_t)n};
    return fs_put(r, &o, sizeof(o));
}

int fs_op_syncfs(struct fs_req *r)
{
    /* syncfs() wants a real descriptor; "." of the root is the root. */
    int fd = openat(r->s->root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return fs_errno();
    int err = syncfs(fd) ? fs_errno() : 0;
    close(fd);
    return err;
}
