/* SPDX-License-Identifier: Apache-2.0 */
/* A cursor over an iovec array: the FUSE server reads a request and writes
 * its reply through one, so a structure split across the guest's buffers
 * at any byte is read whole, and nothing is read or written past the
 * array or past the limit the request's header sets. */
#ifndef PLUGVM_FS_IOV_H
#define PLUGVM_FS_IOV_H

#include <stddef.h>
#include <sys/uio.h>

struct fs_iov_cur {
    const struct iovec *iov; /* the current buffer */
    int n;                   /* buffers left, the current one included */
    size_t off;              /* bytes of the current buffer already consumed */
    size_t left;             /* bytes the cursor may still consume */
};

/* The bytes of iov[0..n), or SIZE_MAX when n is negative, iov is NULL with
 * n > 0, or the sum overflows (a chain no request can be). */
size_t fs_iov_total(const struct iovec *iov, int n);

/* A cursor at the start of iov[0..n) that consumes at most `limit` bytes
 * (and never more than the buffers hold). */
void fs_iov_init(struct fs_iov_cur *c, const struct iovec *iov, int n, size_t limit);

/* Copy up to len bytes out of (read) or into (write) the buffers and move
 * on; skip moves on without copying. Each returns the bytes it moved, less
 * than len only when the cursor ran out. */
size_t fs_iov_read(struct fs_iov_cur *c, void *dst, size_t len);
size_t fs_iov_write(struct fs_iov_cur *c, const void *src, size_t len);
size_t fs_iov_skip(struct fs_iov_cur *c, size_t len);

/* The next len bytes as at most max iovecs in v, for preadv()/pwritev()
 * straight into or out of the guest's buffers; the cursor does not move.
 * Returns the iovecs filled; *got says how many bytes they cover (less than
 * len when the cursor ran out or max pieces were not enough). */
int fs_iov_slice(const struct fs_iov_cur *c, size_t len, struct iovec *v, int max, size_t *got);

#endif
