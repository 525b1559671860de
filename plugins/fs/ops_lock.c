/* SPDX-License-Identifier: Apache-2.0 */
/* POSIX record locks: GETLK, SETLK, SETLKW, as open file description (OFD)
 * locks on the fh's host descriptor.
 *
 * Why OFD locks: classic POSIX locks belong to a process, and plugvm is one
 * process for all the guest's, so every guest lock would be plugvm's and
 * none would ever conflict with another. OFD locks belong to the open
 * file: each guest open() is its own fh and its own host descriptor, so
 * two guest processes' opens conflict as they should, and host programs
 * using locks on source see the guest's.
 *
 * lock_owner: the guest sends its owner (the POSIX owner: its files
 * table) with each request, and we do not use it. What differs from POSIX
 * in the guest therefore: opens shared across fork() (one fh) share their
 * locks, as OFD locks do; locks taken through two opens of one process
 * conflict with each other; and a close() in the guest, which sends FLUSH,
 * drops every lock taken through that fh, not only its caller's (POSIX
 * drops the caller's locks on the file through any descriptor).
 * GETLK reports a conflicting lock's pid as 0: the holder is a host open
 * file description, not a guest pid.
 *
 * SETLKW does not wait: a worker waiting for a lock holds up every later
 * request on its queue, and the unlock that would end the wait may be one
 * of them (virtio-fs guests commonly have a single request queue), which
 * would hang the filesystem. A conflict is EAGAIN, for SETLKW as for
 * SETLK; a guest program that must wait retries. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>

#include "ops.h"

static int to_flock(const struct fuse_file_lock *lk, struct flock *fl)
{
    if (lk->type != F_RDLCK && lk->type != F_WRLCK && lk->type != F_UNLCK)
        return -EINVAL;
    /* end is inclusive, INT64_MAX (the kernel's OFFSET_MAX) meaning "to
     * the end of the file"; anything past it or before start would make a
     * negative off_t or length. */
    if (lk->start > INT64_MAX || lk->end > INT64_MAX || lk->end < lk->start)
        return -EINVAL;
    *fl = (struct flock){
        .l_type = (short)lk->type,
        .l_whence = SEEK_SET,
        .l_start = (off_t)lk->start,
        .l_len = lk->end == INT64_MAX ? 0 : (off_t)(lk->end - lk->start + 1),
        .l_pid = 0, /* OFD locks require it */
    };
    return 0;
}

int fs_op_getlk(struct fs_req *r)
{
    struct fuse_lk_in in;
    memcpy(&in, r->arg, sizeof(in));
    struct flock fl;
    int err = to_flock(&in.lk, &fl);
    if (err)
        return err;
    struct fs_handle *h = fs_handle_get(&r->s->handles, in.fh, false);
    if (!h)
        return -EBADF;
    err = fcntl(h->fd, F_OFD_GETLK, &fl) ? fs_errno() : 0;
    fs_handle_put(&r->s->handles, h);
    if (err)
        return err;
    struct fuse_lk_out o = {.lk = {.type = (uint32_t)fl.l_type}};
    if (fl.l_type != F_UNLCK) {
        o.lk.start = (uint64_t)fl.l_start;
        o.lk.end = fl.l_len ? (uint64_t)(fl.l_start + fl.l_len - 1) : (uint64_t)INT64_MAX;
    }
    return fs_put(r, &o, sizeof(o));
}

int fs_op_setlk(struct fs_req *r)
{
    struct fuse_lk_in in;
    memcpy(&in, r->arg, sizeof(in));
    /* flock() locks come only with FUSE_FLOCK_LOCKS, never agreed. */
    if (in.lk_flags & FUSE_LK_FLOCK)
        return -EINVAL;
    struct flock fl;
    int err = to_flock(&in.lk, &fl);
    if (err)
        return err;
    struct fs_handle *h = fs_handle_get(&r->s->handles, in.fh, false);
    if (!h)
        return -EBADF;
    if (fcntl(h->fd, F_OFD_SETLK, &fl)) {
        err = fs_errno();
        if (err == -EACCES)
            err = -EAGAIN;
    } else if (fl.l_type != F_UNLCK) {
        pthread_mutex_lock(&h->lock);
        h->locked = true;
        pthread_mutex_unlock(&h->lock);
    }
    fs_handle_put(&r->s->handles, h);
    return err;
}

void fs_unlock_all(struct fs_handle *h)
{
    struct flock fl = {.l_type = F_UNLCK, .l_whence = SEEK_SET};
    pthread_mutex_lock(&h->lock);
    if (h->locked && !fcntl(h->fd, F_OFD_SETLK, &fl))
        h->locked = false;
    pthread_mutex_unlock(&h->lock);
}
