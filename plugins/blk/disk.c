/* SPDX-License-Identifier: Apache-2.0 */
#include "disk.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return rc;
}

void blk_default_serial(const char *path, char out[VIRTIO_BLK_ID_BYTES])
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    memset(out, 0, VIRTIO_BLK_ID_BYTES);
    if (n <= VIRTIO_BLK_ID_BYTES) {
        memcpy(out, base, n);
        return;
    }
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)base[i]) * 16777619u;
    char tail[10];
    snprintf(tail, sizeof(tail), "-%08x", h);
    memcpy(out, base, 11);
    memcpy(out + 11, tail, 9);
}

/* The alignment O_DIRECT needs here. statx's STATX_DIOALIGN (Linux 6.1)
 * says it for files; a block device's is its logical block size; failing
 * both, a read of the first block at 512 and then 4096 bytes finds it. */
static uint32_t dio_alignment(int fd, bool blockdev)
{
    uint32_t align = 0;
#ifdef STATX_DIOALIGN
    struct statx sx;
    if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx) == 0 && (sx.stx_mask & STATX_DIOALIGN)) {
        align = sx.stx_dio_offset_align > sx.stx_dio_mem_align ? sx.stx_dio_offset_align
                                                               : sx.stx_dio_mem_align;
    }
#endif
    int lbs;
    if (!align && blockdev && ioctl(fd, BLKSSZGET, &lbs) == 0 && lbs > 0)
        align = (uint32_t)lbs;
    if (align >= 512 && align <= 65536 && !(align & (align - 1)))
        return align;
    for (uint32_t a = 512; a <= 4096; a *= 8) {
        void *buf;
        if (posix_memalign(&buf, 4096, 4096))
            break;
        ssize_t n = pread(fd, buf, a, 0);
        free(buf);
        if (n >= 0)
            return a;
    }
    return 4096;
}

static int open_disk(struct blk_disk *d, const struct blk_disk_options *o, char *err, size_t errlen)
{
    memset(d, 0, sizeof(*d));
    d->fd = -1;
    d->path = strdup(o->path);
    if (!d->path)
        return fail(err, errlen, -ENOMEM, "%s: out of memory", o->path);
    d->read_only = o->read_only;
    d->direct = o->direct;
    d->dio_align = 1;

    int flags = (o->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC | (o->direct ? O_DIRECT : 0);
    int fd = open(o->path, flags);
    if (fd < 0 && errno == EINVAL && o->direct)
        return fail(err, errlen, -EINVAL,
                    "%s: cache = \"none\" needs O_DIRECT, which this file's filesystem does not "
                    "offer (tmpfs does not); use cache = \"writeback\"", o->path);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT)
            return fail(err, errlen, -e, "%s: no such file (path should name a raw disk image "
                                         "or a block device)", o->path);
        if (e == EISDIR)
            return fail(err, errlen, -e, "%s: is a directory, not a disk image", o->path);
        return fail(err, errlen, -e, "%s: cannot open %s: %s", o->path,
                    o->read_only ? "for reading" : "for reading and writing", strerror(e));
    }
    d->fd = fd;

    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        blk_disk_close(d);
        return fail(err, errlen, -e, "%s: stat: %s", o->path, strerror(e));
    }
    uint64_t bytes;
    if (S_ISREG(st.st_mode)) {
        bytes = (uint64_t)st.st_size;
    } else if (S_ISBLK(st.st_mode)) {
        d->is_blockdev = true;
        if (ioctl(fd, BLKGETSIZE64, &bytes) < 0) {
            int e = errno;
            blk_disk_close(d);
            return fail(err, errlen, -e, "%s: cannot read the block device's size: %s", o->path,
                        strerror(e));
        }
    } else {
        blk_disk_close(d);
        return fail(err, errlen, -EINVAL, "%s: is %s, not a disk image (a regular file) or a "
                    "block device", o->path, S_ISDIR(st.st_mode) ? "a directory" : "a special file");
    }
    if (bytes == 0 || bytes % VIRTIO_BLK_SECTOR_SIZE) {
        blk_disk_close(d);
        return fail(err, errlen, -EINVAL, "%s: its size, %llu bytes, is %s", o->path,
                    (unsigned long long)bytes,
                    bytes ? "not a multiple of the 512-byte sector" : "zero: nothing to attach");
    }
    d->capacity = bytes >> VIRTIO_BLK_SECTOR_SHIFT;

    /* OFD locks belong to the open file description, so two devices of
     * one VM conflict exactly as two VMs do; they go when the fd closes,
     * even when plugvm is killed. */
    struct flock fl = {.l_type = o->read_only ? F_RDLCK : F_WRLCK, .l_whence = SEEK_SET};
    if (fcntl(fd, F_OFD_SETLK, &fl) < 0) {
        int e = errno;
        blk_disk_close(d);
        if (e == EAGAIN || e == EACCES)
            return fail(err, errlen, -EBUSY,
                        "%s: the image is in use: another VM or another device of this one has "
                        "it open%s (a writable image has one user; read-only users share it)",
                        o->path, o->read_only ? " writable" : "");
        return fail(err, errlen, -e, "%s: cannot lock the image: %s", o->path, strerror(e));
    }

    if (o->direct)
        d->dio_align = dio_alignment(fd, d->is_blockdev);
    if (o->serial) {
        size_t n = strlen(o->serial);
        memcpy(d->serial, o->serial, n < VIRTIO_BLK_ID_BYTES ? n : VIRTIO_BLK_ID_BYTES);
    } else {
        blk_default_serial(o->path, d->serial);
    }
    return 0;
}

int blk_disk_open(struct blk_disk *d, const struct blk_disk_options *o, char *err, size_t errlen)
{
    int rc = open_disk(d, o, err, errlen);
    if (rc)
        blk_disk_close(d);
    return rc;
}

void blk_disk_close(struct blk_disk *d)
{
    if (d->fd >= 0)
        close(d->fd);
    d->fd = -1;
    free(d->path);
    d->path = NULL;
}
