/* SPDX-License-Identifier: Apache-2.0 */
/* Directories: OPENDIR, READDIR, READDIRPLUS, RELEASEDIR, FSYNCDIR.
 *
 * A READDIR offset is the host's own telldir cookie: the d_off that
 * getdents64 gave the last entry the guest received. Each READDIR seeks
 * its handle's descriptor to the offset asked for and packs entries until
 * the next one does not fit; the guest's next READDIR starts there, so
 * nothing is skipped or repeated however the replies are sized. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ops.h"

/* Bytes of host directory entries read per getdents64() call. */
#define DIRBUF (32u << 10)

struct dirent64_raw {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

int fs_op_opendir(struct fs_req *r)
{
    if (r->ino->type != S_IFDIR)
        return -ENOTDIR;
    int fd = fs_reopen(r->ino->fd, O_RDONLY | O_DIRECTORY, r->ino->dev, r->ino->ino);
    if (fd < 0)
        return fd;
    struct fuse_open_out o = {0};
    if (r->s->cache == FS_CACHE_ALWAYS)
        o.open_flags = FOPEN_KEEP_CACHE | FOPEN_CACHE_DIR;
    int err = fs_handle_add(&r->s->handles, fd, true, &o.fh);
    return err ? err : fs_put(r, &o, sizeof(o));
}

/* One entry into the reply; false when it does not fit in `room` (nothing
 * written then, and for READDIRPLUS no reference taken). */
static bool put_entry(struct fs_req *r, int dirfd, const struct dirent64_raw *d, bool plus,
                      size_t *used, size_t room)
{
    size_t namelen = strnlen(d->d_name, d->d_reclen - offsetof(struct dirent64_raw, d_name));
    size_t head = plus ? offsetof(struct fuse_direntplus, dirent.name) : FUSE_NAME_OFFSET;
    size_t reclen = FUSE_DIRENT_ALIGN(head + namelen);
    if (namelen > 255 || reclen > room - *used)
        return false;
    uint64_t rec[(sizeof(struct fuse_direntplus) + 256 + 8) / 8] = {0};
    struct fuse_dirent *de = (struct fuse_dirent *)((uint8_t *)rec + head - FUSE_NAME_OFFSET);
    if (plus) {
        struct fuse_entry_out *e = (struct fuse_entry_out *)rec;
        /* Each entry but "." and ".." carries a lookup reference the
         * guest will FORGET; one that cannot be looked up (gone since
         * getdents64) goes out with nodeid 0, which tells the guest to
         * take it as a plain entry. */
        bool dot = !strcmp(d->d_name, ".") || !strcmp(d->d_name, "..");
        if (dot || fs_lookup_at(r->s, dirfd, d->d_name, e))
            memset(e, 0, sizeof(*e));
    }
    de->ino = d->d_ino;
    de->off = (uint64_t)d->d_off;
    de->namelen = (uint32_t)namelen;
    de->type = d->d_type;
    memcpy((uint8_t *)rec + head, d->d_name, namelen);
    fs_put(r, rec, reclen);
    *used += reclen;
    return true;
}

static int readdir_common(struct fs_req *r, bool plus)
{
    struct fuse_read_in in;
    memcpy(&in, r->arg, sizeof(in));
    if (in.offset > INT64_MAX)
        return -EINVAL;
    struct fs_handle *h = fs_handle_get(&r->s->handles, in.fh, true);
    if (!h)
        return -EBADF;
    size_t room = in.size;
    if (room > FS_MAX_WRITE)
        room = FS_MAX_WRITE;
    if (room > fs_room(r))
        room = fs_room(r);
    uint8_t *buf = malloc(DIRBUF);
    int err = buf ? 0 : -ENOMEM;
    pthread_mutex_lock(&h->lock);
    if (!err && lseek(h->fd, (off_t)in.offset, SEEK_SET) < 0)
        err = fs_errno();
    size_t used = 0;
    bool full = false;
    while (!err && !full) {
        long n = syscall(SYS_getdents64, h->fd, buf, DIRBUF);
        if (n <= 0) {
            if (n < 0 && !used)
                err = fs_errno();
            break;
        }
        for (long pos = 0; pos < n;) {
            const struct dirent64_raw *d = (const struct dirent64_raw *)(buf + pos);
            /* The kernel's records; a bad length would loop forever or
             * read past the buffer, so it ends the listing instead. */
            if (d->d_reclen < offsetof(struct dirent64_raw, d_name) + 1 ||
                d->d_reclen > n - pos) {
                full = true;
                break;
            }
            if (!put_entry(r, h->fd, d, plus, &used, room)) {
                full = true;
                break;
            }
            pos += d->d_reclen;
        }
    }
    pthread_mutex_unlock(&h->lock);
    free(buf);
    fs_handle_put(&r->s->handles, h);
    return err;
}

int fs_op_readdir(struct fs_req *r)
{
    return readdir_common(r, false);
}

int fs_op_readdirplus(struct fs_req *r)
{
    return readdir_common(r, true);
}

int fs_op_releasedir(struct fs_req *r)
{
    return fs_release_fh(r, true);
}

int fs_op_fsyncdir(struct fs_req *r)
{
    return fs_fsync_fh(r, true);
}
