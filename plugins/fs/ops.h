/* SPDX-License-Identifier: Apache-2.0 */
/* What the FUSE server's files share: the server, one request in flight,
 * the confinement primitives (confine.c), the reply helpers (reply.c) and
 * the op handlers (ops_*.c), which server.c dispatches to. */
#ifndef PLUGVM_FS_OPS_H
#define PLUGVM_FS_OPS_H

#include <linux/fuse.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "handle.h"
#include "inode.h"
#include "iov.h"
#include "server.h"

/* The protocol minor we speak (see server.h). */
#define FS_PROTO_MINOR 31u
#define FS_MIN_GUEST_MINOR 31u

/* The biggest argument block copied out of a request: SETXATTR's
 * fuse_setxattr_in, a name and a value of XATTR_SIZE_MAX, with room to
 * spare; a bigger request is EINVAL before anything is allocated. */
#define FS_MAX_ARGS (8u + 256u + 65536u + 64u)
/* The biggest xattr value or list handled, bytes (XATTR_SIZE_MAX). */
#define FS_MAX_XATTR 65536u

/* What INIT agreed; read by every op. */
struct fs_conn {
    bool ready;        /* INIT done, no DESTROY since */
    uint32_t minor;
    uint32_t flags;    /* the INIT flags both sides have */
};

struct fs_server {
    int root_fd;
    bool read_only, xattr, as_root;
    enum fs_cache cache;
    struct fs_inodes inodes;
    struct fs_handles handles;
    pthread_mutex_t conn_lock;
    struct fs_conn conn;
    bool no_handles; /* tests: fs_server_restore() finds inodes by path alone */
};

/* server.c: the INIT flags this server offers (its options decide some). */
uint32_t fs_supported_flags(const struct fs_server *s);

/* One request, as server.c hands it to an op. */
struct fs_req {
    struct fs_server *s;
    struct fuse_in_header h;
    struct fs_conn conn;     /* a copy taken when the request began */
    struct fs_inode *ino;    /* h.nodeid's record, for ops flagged FS_OP_NODE */
    const uint8_t *arg;      /* the op's arguments (8-byte aligned) */
    size_t arglen;
    struct fs_iov_cur data;  /* what follows arg in `in` (WRITE's data) */
    struct fs_iov_cur out;   /* the reply payload, after fuse_out_header */
};

/* ---- confine.c: names and descriptors ---- */

/* Takes the NUL-terminated name at *p (at most *left bytes there) and
 * moves past it. Errors: -EINVAL when no NUL is within the buffer (a name
 * must never be read past its request), the name is empty or has a '/';
 * -ENAMETOOLONG past NAME_MAX. "." and ".." pass: callers decide. */
int fs_take_name(const uint8_t **p, size_t *left, const char **name);
/* A name that creates, removes or renames: fs_take_name's checks plus "."
 * and ".." refused (-EINVAL), so no op ever acts on a parent or on the
 * directory itself by name. */
int fs_take_new_name(const uint8_t **p, size_t *left, const char **name);

/* openat2(dirfd, name, flags, mode) with RESOLVE_BENEATH |
 * RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS, falling back to openat()
 * with O_NOFOLLOW where openat2 is ENOSYS. name is one checked component;
 * O_NOFOLLOW and O_CLOEXEC are always added. A descriptor or -errno. */
int fs_open_beneath(int dirfd, const char *name, int flags, mode_t mode);

/* A descriptor of the inode behind the O_PATH descriptor `opath`, with
 * open(2) flags `flags` (O_CREAT and O_NOFOLLOW dropped; O_PATH gives
 * another O_PATH descriptor), through /proc/self/fd/N. The
 * result is checked to be the same (st_dev, st_ino). A descriptor or
 * -errno. */
int fs_reopen(int opath, int flags, dev_t dev, ino_t ino);

/* "/proc/self/fd/N" for our own descriptor fd. */
void fs_proc_path(char buf[32], int fd);

/* fstatat(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW): 0 or -errno. */
int fs_fstat(int fd, struct stat *st);

/* ---- reply.c: writing the reply payload ---- */

/* Appends len bytes to the reply; -EINVAL when the out buffers are full
 * (server.c checks the fixed sizes first, so only variable replies meet
 * it). */
int fs_put(struct fs_req *r, const void *p, size_t len);
/* Reply bytes still free. */
size_t fs_room(const struct fs_req *r);

void fs_fill_attr(struct fuse_attr *a, const struct stat *st);
/* Entry and attribute timeouts, seconds, for the cache mode. */
uint64_t fs_timeout(const struct fs_server *s);
void fs_fill_entry(const struct fs_server *s, struct fuse_entry_out *e, uint64_t nodeid,
                   const struct stat *st);

/* LOOKUP of one name under dirfd: the inode opened O_PATH, a lookup
 * reference taken, e filled. 0 or -errno. */
int fs_lookup_at(struct fs_server *s, int dirfd, const char *name, struct fuse_entry_out *e);

/* A node just created (descriptor fd, of type `type`) made the guest's:
 * as root, handed to the request's uid/gid (the group left as the host
 * chose when the parent directory `dirfd` has S_ISGID); then its
 * permission bits set to mode & 07777 where plugvm's umask or the chown
 * took some away. 0 or -errno. */
int fs_settle_new(struct fs_req *r, int dirfd, int fd, mode_t type, mode_t mode);

/* Host errno to the reply's: errno itself, or EIO for 0. */
int fs_errno(void);

/* Linux's dev_t encoding in fuse_attr.rdev and MKNOD's rdev. */
uint32_t fs_encode_dev(dev_t d);
dev_t fs_decode_dev(uint32_t v);

/* ---- the ops: 0 or -errno; a reply payload goes through fs_put() ---- */

int fs_op_lookup(struct fs_req *r);
int fs_op_forget(struct fs_req *r);
int fs_op_batch_forget(struct fs_req *r);
int fs_op_mknod(struct fs_req *r);
int fs_op_mkdir(struct fs_req *r);
int fs_op_symlink(struct fs_req *r);
int fs_op_link(struct fs_req *r);
int fs_op_unlink(struct fs_req *r);
int fs_op_rmdir(struct fs_req *r);
int fs_op_rename(struct fs_req *r);
int fs_op_rename2(struct fs_req *r);

int fs_op_getattr(struct fs_req *r);
int fs_op_setattr(struct fs_req *r);
int fs_op_readlink(struct fs_req *r);
int fs_op_statfs(struct fs_req *r);
int fs_op_access(struct fs_req *r);

int fs_op_open(struct fs_req *r);
int fs_op_create(struct fs_req *r);
int fs_op_read(struct fs_req *r);
int fs_op_write(struct fs_req *r);
int fs_op_flush(struct fs_req *r);
int fs_op_release(struct fs_req *r);
int fs_op_fsync(struct fs_req *r);
/* The bodies RELEASE/RELEASEDIR and FSYNC/FSYNCDIR share (ops_io.c). */
int fs_release_fh(struct fs_req *r, bool dir);
int fs_fsync_fh(struct fs_req *r, bool dir);
int fs_op_fallocate(struct fs_req *r);
int fs_op_lseek(struct fs_req *r);
int fs_op_copy_file_range(struct fs_req *r);
int fs_op_syncfs(struct fs_req *r);

int fs_op_opendir(struct fs_req *r);
int fs_op_readdir(struct fs_req *r);
int fs_op_readdirplus(struct fs_req *r);
int fs_op_releasedir(struct fs_req *r);
int fs_op_fsyncdir(struct fs_req *r);

int fs_op_getxattr(struct fs_req *r);
int fs_op_listxattr(struct fs_req *r);
int fs_op_setxattr(struct fs_req *r);
int fs_op_removexattr(struct fs_req *r);

int fs_op_getlk(struct fs_req *r);
int fs_op_setlk(struct fs_req *r);

/* ops_lock.c: FLUSH's part: the OFD locks taken through h dropped. */
void fs_unlock_all(struct fs_handle *h);

#endif
