/* SPDX-License-Identifier: Apache-2.0 */
/* The FUSE server's front: one request read out of its iovecs and judged
 * (header, lengths, INIT state, read-only, argument and reply sizes), the
 * op dispatched, the reply header written; INIT's negotiation; the
 * server's life. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ops.h"

/* The op needs h.nodeid's inode record (r->ino): an unknown nodeid is
 * ESTALE before the op runs. Ops on an fh do not: RELEASE may arrive after
 * FORGET, which virtio-fs sends on the other (hiprio) queue. */
#define FS_OP_NODE 1u
/* The op changes source: EROFS when read-only. */
#define FS_OP_WRITES 2u
/* No reply at all (FORGET, BATCH_FORGET, INTERRUPT). */
#define FS_OP_NOREPLY 4u
/* Only the fixed arguments are copied; the rest stays in the guest's
 * buffers (WRITE's data). */
#define FS_OP_DATA 8u

struct fs_op {
    int (*fn)(struct fs_req *r);
    uint32_t in_min;  /* fixed argument bytes */
    uint32_t out_min; /* reply bytes a success needs, checked before acting */
    uint32_t flags;
};

static int op_init(struct fs_req *r);
static int op_destroy(struct fs_req *r);
static int op_interrupt(struct fs_req *r);

#define ENTRY sizeof(struct fuse_entry_out)
#define OPENO sizeof(struct fuse_open_out)

static const struct fs_op ops[] = {
    [FUSE_LOOKUP] = {fs_op_lookup, 0, ENTRY, FS_OP_NODE},
    [FUSE_FORGET] = {fs_op_forget, sizeof(struct fuse_forget_in), 0, FS_OP_NOREPLY},
    [FUSE_GETATTR] = {fs_op_getattr, sizeof(struct fuse_getattr_in), sizeof(struct fuse_attr_out),
                      FS_OP_NODE},
    [FUSE_SETATTR] = {fs_op_setattr, sizeof(struct fuse_setattr_in), sizeof(struct fuse_attr_out),
                      FS_OP_NODE | FS_OP_WRITES},
    [FUSE_READLINK] = {fs_op_readlink, 0, 0, FS_OP_NODE},
    [FUSE_SYMLINK] = {fs_op_symlink, 0, ENTRY, FS_OP_NODE | FS_OP_WRITES},
    [FUSE_MKNOD] = {fs_op_mknod, sizeof(struct fuse_mknod_in), ENTRY, FS_OP_NODE | FS_OP_WRITES},
    [FUSE_MKDIR] = {fs_op_mkdir, sizeof(struct fuse_mkdir_in), ENTRY, FS_OP_NODE | FS_OP_WRITES},
    [FUSE_UNLINK] = {fs_op_unlink, 0, 0, FS_OP_NODE | FS_OP_WRITES},
    [FUSE_RMDIR] = {fs_op_rmdir, 0, 0, FS_OP_NODE | FS_OP_WRITES},
    [FUSE_RENAME] = {fs_op_rename, sizeof(struct fuse_rename_in), 0, FS_OP_NODE | FS_OP_WRITES},
    [FUSE_RENAME2] = {fs_op_rename2, sizeof(struct fuse_rename2_in), 0, FS_OP_NODE | FS_OP_WRITES},
    [FUSE_LINK] = {fs_op_link, sizeof(struct fuse_link_in), ENTRY, FS_OP_NODE | FS_OP_WRITES},
    [FUSE_OPEN] = {fs_op_open, sizeof(struct fuse_open_in), OPENO, FS_OP_NODE},
    [FUSE_READ] = {fs_op_read, sizeof(struct fuse_read_in), 0, 0},
    [FUSE_WRITE] = {fs_op_write, sizeof(struct fuse_write_in), sizeof(struct fuse_write_out),
                    FS_OP_WRITES | FS_OP_DATA},
    [FUSE_STATFS] = {fs_op_statfs, 0, sizeof(struct fuse_statfs_out), FS_OP_NODE},
    [FUSE_RELEASE] = {fs_op_release, sizeof(struct fuse_release_in), 0, 0},
    [FUSE_FSYNC] = {fs_op_fsync, sizeof(struct fuse_fsync_in), 0, 0},
    /* SETXATTR and REMOVEXATTR check read_only themselves, after xattr=off's
     * ENOSYS, which is what makes the guest stop asking. */
    [FUSE_SETXATTR] = {fs_op_setxattr, FUSE_COMPAT_SETXATTR_IN_SIZE, 0, FS_OP_NODE},
    [FUSE_GETXATTR] = {fs_op_getxattr, sizeof(struct fuse_getxattr_in), 0, FS_OP_NODE},
    [FUSE_LISTXATTR] = {fs_op_listxattr, sizeof(struct fuse_getxattr_in), 0, FS_OP_NODE},
    [FUSE_REMOVEXATTR] = {fs_op_removexattr, 0, 0, FS_OP_NODE},
    [FUSE_FLUSH] = {fs_op_flush, sizeof(struct fuse_flush_in), 0, 0},
    [FUSE_INIT] = {op_init, 16, sizeof(struct fuse_init_out), 0},
    [FUSE_OPENDIR] = {fs_op_opendir, sizeof(struct fuse_open_in), OPENO, FS_OP_NODE},
    [FUSE_READDIR] = {fs_op_readdir, sizeof(struct fuse_read_in), 0, 0},
    [FUSE_RELEASEDIR] = {fs_op_releasedir, sizeof(struct fuse_release_in), 0, 0},
    [FUSE_FSYNCDIR] = {fs_op_fsyncdir, sizeof(struct fuse_fsync_in), 0, 0},
    [FUSE_GETLK] = {fs_op_getlk, sizeof(struct fuse_lk_in), sizeof(struct fuse_lk_out), 0},
    [FUSE_SETLK] = {fs_op_setlk, sizeof(struct fuse_lk_in), 0, 0},
    [FUSE_SETLKW] = {fs_op_setlk, sizeof(struct fuse_lk_in), 0, 0},
    [FUSE_ACCESS] = {fs_op_access, sizeof(struct fuse_access_in), 0, FS_OP_NODE},
    [FUSE_CREATE] = {fs_op_create, sizeof(struct fuse_create_in), ENTRY + OPENO,
                     FS_OP_NODE | FS_OP_WRITES},
    [FUSE_INTERRUPT] = {op_interrupt, sizeof(struct fuse_interrupt_in), 0, FS_OP_NOREPLY},
    [FUSE_DESTROY] = {op_destroy, 0, 0, 0},
    [FUSE_BATCH_FORGET] = {fs_op_batch_forget, sizeof(struct fuse_batch_forget_in), 0,
                           FS_OP_NOREPLY},
    [FUSE_FALLOCATE] = {fs_op_fallocate, sizeof(struct fuse_fallocate_in), 0, FS_OP_WRITES},
    [FUSE_READDIRPLUS] = {fs_op_readdirplus, sizeof(struct fuse_read_in), 0, 0},
    [FUSE_LSEEK] = {fs_op_lseek, sizeof(struct fuse_lseek_in), sizeof(struct fuse_lseek_out), 0},
    [FUSE_COPY_FILE_RANGE] = {fs_op_copy_file_range, sizeof(struct fuse_copy_file_range_in),
                              sizeof(struct fuse_write_out), FS_OP_WRITES},
    [FUSE_SYNCFS] = {fs_op_syncfs, 0, 0, 0},
};

static const struct fs_op *find_op(uint32_t opcode)
{
    if (opcode >= sizeof(ops) / sizeof(ops[0]) || !ops[opcode].fn)
        return NULL;
    return &ops[opcode];
}

/* The INIT flags we support, and why each:
 *  ASYNC_READ      reads are independent preadv()s; several may be in flight.
 *  POSIX_LOCKS     GETLK/SETLK on OFD locks (ops_lock.c), so guests sharing
 *                  source with host programs see their locks.
 *  ATOMIC_O_TRUNC  OPEN passes O_TRUNC to the host open: one step, no
 *                  separate SETATTR racing another opener.
 *  EXPORT_SUPPORT  LOOKUP of "." and ".." is answered (ops_entry.c), so the
 *                  guest can re-export the mount over NFS.
 *  BIG_WRITES      writes up to max_write (older kernels want it said).
 *  AUTO_INVAL_DATA the guest drops cached data when the mtime moves: host
 *                  changes show up (not with cache=never, which has no
 *                  cache to drop).
 *  ASYNC_DIO       direct I/O requests are independent too.
 *  PARALLEL_DIROPS every op is one *at() call; the tables have their own
 *                  locks, so the guest need not serialize LOOKUPs and
 *                  READDIRs of one directory.
 *  MAX_PAGES       1 MiB requests (max_pages 256) rather than 128 KiB.
 *  DO_READDIRPLUS, READDIRPLUS_AUTO, CACHE_SYMLINKS: only where entries
 *                  and attributes may be cached (not cache=never, where
 *                  READDIRPLUS's attributes would expire at once).
 *  WRITEBACK_CACHE only with cache=always and writable: the guest then owns
 *                  mtime and size, which is right only when nothing else
 *                  changes source.
 * Not offered: DONT_MASK and POSIX_ACL (the server would have to apply the
 * guest's umask and default ACLs with a per-thread umask on threads it
 * does not own; without them the guest kernel applies its umask and ACL
 * xattrs still pass through as xattrs); FLOCK_LOCKS (the guest kernel then
 * keeps flock() locks itself, right within the guest); HANDLE_KILLPRIV (the
 * guest kernel clears S_ISUID/S_ISGID itself with a SETATTR, where the
 * host would not when plugvm is root); SPLICE_*, IOCTL_DIR, NO_OPEN_SUPPORT,
 * SUBMOUNTS, SETXATTR_EXT, INIT_EXT and the other later ones (nothing here
 * uses them). */
uint32_t fs_supported_flags(const struct fs_server *s)
{
    uint32_t f = FUSE_ASYNC_READ | FUSE_POSIX_LOCKS | FUSE_ATOMIC_O_TRUNC | FUSE_EXPORT_SUPPORT |
                 FUSE_BIG_WRITES | FUSE_ASYNC_DIO | FUSE_PARALLEL_DIROPS | FUSE_MAX_PAGES;
    if (s->cache != FS_CACHE_NEVER)
        f |= FUSE_AUTO_INVAL_DATA | FUSE_DO_READDIRPLUS | FUSE_READDIRPLUS_AUTO |
             FUSE_CACHE_SYMLINKS;
    if (s->cache == FS_CACHE_ALWAYS && !s->read_only)
        f |= FUSE_WRITEBACK_CACHE;
    return f;
}

static int op_init(struct fs_req *r)
{
    struct fuse_init_in in = {0};
    memcpy(&in, r->arg, r->arglen < sizeof(in) ? r->arglen : sizeof(in));
    struct fuse_init_out o = {.major = FUSE_KERNEL_VERSION, .minor = FS_PROTO_MINOR};
    if (in.major < FUSE_KERNEL_VERSION)
        return -EPROTO;
    /* A newer major: we answer ours alone and the guest sends INIT again
     * in our major, as the protocol has it. Nothing is agreed yet. */
    if (in.major > FUSE_KERNEL_VERSION)
        return fs_put(r, &o, sizeof(o));
    if (in.minor < FS_MIN_GUEST_MINOR)
        return -EPROTO;
    o.minor = in.minor < FS_PROTO_MINOR ? in.minor : FS_PROTO_MINOR;
    o.flags = in.flags & fs_supported_flags(r->s);
    o.max_readahead = in.max_readahead < FS_MAX_WRITE ? in.max_readahead : FS_MAX_WRITE;
    o.max_write = FS_MAX_WRITE;
    o.time_gran = 1; /* the host's timestamps are nanoseconds */
    if (o.flags & FUSE_MAX_PAGES)
        o.max_pages = FS_MAX_PAGES;
    struct fs_server *s = r->s;
    pthread_mutex_lock(&s->conn_lock);
    /* Two INITs racing on two queues: only the first agrees. */
    bool again = s->conn.ready;
    if (!again)
        s->conn = (struct fs_conn){.ready = true, .minor = o.minor, .flags = o.flags};
    pthread_mutex_unlock(&s->conn_lock);
    if (again)
        return -EPROTO;
    return fs_put(r, &o, sizeof(o));
}

static int op_destroy(struct fs_req *r)
{
    fs_server_reset(r->s);
    return 0;
}

/* Every request is answered before fs_server_handle() returns, so there
 * is never one in flight to interrupt. */
static int op_interrupt(struct fs_req *r)
{
    (void)r;
    return 0;
}

/* The request judged and its op run; 0 or -errno. buf/heap: where the
 * arguments are copied. */
static int serve(struct fs_req *r, const struct fs_op *op, struct fs_iov_cur *in, size_t in_total,
                 size_t room, uint64_t *stackbuf, size_t stackbytes, void **heap)
{
    /* A header len that is not the chain's length means the driver and
     * this device disagree about where the request ends: trusting either
     * would read arguments from the wrong bytes. */
    if (in_total == SIZE_MAX || r->h.len != in_total)
        return -EINVAL;
    /* Extensions (security context, supplementary groups) come only when
     * INIT agreed to them, which it never does. */
    if (r->h.total_extlen)
        return -EINVAL;
    pthread_mutex_lock(&r->s->conn_lock);
    r->conn = r->s->conn;
    pthread_mutex_unlock(&r->s->conn_lock);
    if (r->h.opcode == FUSE_INIT) {
        if (r->conn.ready)
            return -EPROTO;
    } else if (!r->conn.ready) {
        return -EIO;
    }
    if (!op)
        return -ENOSYS;
    if ((op->flags & FS_OP_WRITES) && r->s->read_only)
        return -EROFS;
    size_t arglen = in_total - sizeof(r->h);
    if (arglen < op->in_min || room < op->out_min)
        return -EINVAL;
    if (op->flags & FS_OP_DATA)
        arglen = op->in_min;
    else if (arglen > FS_MAX_ARGS)
        return -EINVAL;
    void *buf = stackbuf;
    if (arglen > stackbytes) {
        /* Bounded by FS_MAX_ARGS above; + 1 keeps malloc(0) out. */
        buf = *heap = malloc(arglen + 1);
        if (!buf)
            return -ENOMEM;
    }
    if (fs_iov_read(in, buf, arglen) != arglen)
        return -EINVAL;
    r->arg = buf;
    r->arglen = arglen;
    r->data = *in;
    if (op->flags & FS_OP_NODE) {
        r->ino = fs_inode_get(&r->s->inodes, r->h.nodeid);
        if (!r->ino)
            return -ESTALE;
    }
    int err = op->fn(r);
    fs_inode_put(&r->s->inodes, r->ino);
    r->ino = NULL;
    return err;
}

size_t fs_server_handle(struct fs_server *s, const struct iovec *in, int nin,
                        const struct iovec *out, int nout)
{
    size_t in_total = fs_iov_total(in, nin);
    size_t out_total = fs_iov_total(out, nout);
    if (out_total == SIZE_MAX)
        out_total = 0;
    struct fs_req r = {.s = s};
    struct fs_iov_cur ic;
    fs_iov_init(&ic, in, nin, in_total == SIZE_MAX ? 0 : in_total);
    bool have_header = fs_iov_read(&ic, &r.h, sizeof(r.h)) == sizeof(r.h);
    if (!have_header)
        r.h = (struct fuse_in_header){0}; /* no unique to echo, not a part of one */
    const struct fs_op *op = have_header ? find_op(r.h.opcode) : NULL;
    bool noreply = op && (op->flags & FS_OP_NOREPLY);
    const size_t oh = sizeof(struct fuse_out_header);
    /* No room for even the header: the guest gets no answer, so it must
     * not get an effect either. */
    if (!noreply && out_total < oh)
        return 0;
    fs_iov_init(&r.out, out, nout, out_total);
    fs_iov_skip(&r.out, oh);
    uint64_t stackbuf[128];
    void *heap = NULL;
    int err = have_header ? serve(&r, op, &ic, in_total, out_total - (noreply ? 0 : oh), stackbuf,
                                  sizeof(stackbuf), &heap)
                          : -EINVAL;
    free(heap);
    if (noreply)
        return 0;
    size_t payload = err ? 0 : out_total - oh - r.out.left;
    struct fuse_out_header h = {.len = (uint32_t)(oh + payload), .error = err,
                                .unique = r.h.unique};
    struct fs_iov_cur hc;
    fs_iov_init(&hc, out, nout, out_total);
    fs_iov_write(&hc, &h, sizeof(h));
    return oh + payload;
}

static struct fs_server *fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static struct fs_server *fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return NULL;
}

struct fs_server *fs_server_new(const struct fs_server_opts *o, char *err, size_t errlen)
{
    if (!o || !o->source || !*o->source)
        return fail(err, errlen, "fs: source: no host directory given");
    if (o->cache != FS_CACHE_AUTO && o->cache != FS_CACHE_ALWAYS && o->cache != FS_CACHE_NEVER)
        return fail(err, errlen, "fs: cache: unknown mode %d", (int)o->cache);
    int fd = open(o->source, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return fail(err, errlen, "fs: source %s: %s", o->source, strerror(errno));
    struct stat st;
    if (fstat(fd, &st)) {
        int e = errno;
        close(fd);
        return fail(err, errlen, "fs: source %s: %s", o->source, strerror(e));
    }
    /* Every OPEN goes through /proc/self/fd: find out now, not at the
     * guest's first open, when /proc is missing. */
    int probe = fs_reopen(fd, O_RDONLY | O_DIRECTORY, st.st_dev, st.st_ino);
    if (probe < 0) {
        close(fd);
        return fail(err, errlen,
                    "fs: source %s: cannot be opened through /proc/self/fd (%s); the fs device "
                    "needs /proc mounted",
                    o->source, strerror(-probe));
    }
    close(probe);
    struct fs_server *s = calloc(1, sizeof(*s));
    if (!s || fs_inodes_init(&s->inodes, fd, &st)) {
        free(s);
        close(fd);
        return fail(err, errlen, "fs: source %s: out of memory", o->source);
    }
    s->root_fd = fd;
    s->read_only = o->read_only;
    s->xattr = o->xattr;
    s->cache = o->cache;
    s->as_root = geteuid() == 0;
    fs_handles_init(&s->handles);
    pthread_mutex_init(&s->conn_lock, NULL);
    return s;
}

void fs_server_reset(struct fs_server *s)
{
    pthread_mutex_lock(&s->conn_lock);
    s->conn = (struct fs_conn){0};
    pthread_mutex_unlock(&s->conn_lock);
    fs_handles_drop_all(&s->handles);
    fs_inodes_drop_all(&s->inodes);
}

void fs_server_free(struct fs_server *s)
{
    if (!s)
        return;
    fs_handles_fini(&s->handles);
    fs_inodes_fini(&s->inodes); /* closes root_fd, the root record's */
    pthread_mutex_destroy(&s->conn_lock);
    free(s);
}
