/* SPDX-License-Identifier: Apache-2.0 */
#include "request.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* The wire format is little-endian and read in place. */
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "virtio-blk fields are read in place: a big-endian host needs conversions"
#endif

int blk_io_init(struct blk_io *io, uint32_t max_segments)
{
    memset(io, 0, sizeof(*io));
    io->iov = calloc(max_segments ? max_segments : 1, sizeof(*io->iov));
    if (!io->iov)
        return -ENOMEM;
    io->iov_cap = max_segments;
    return 0;
}

void blk_io_fini(struct blk_io *io)
{
    free(io->iov);
    free(io->bounce);
    memset(io, 0, sizeof(*io));
}

static void *bounce(struct blk_io *io)
{
    if (!io->bounce && posix_memalign(&io->bounce, 4096, BLK_BOUNCE_BYTES))
        io->bounce = NULL;
    return io->bounce;
}

/* The bytes [skip, skip + len) of one direction of a chain: its readable
 * buffers, or its writable ones up to (not including) the status byte. */
struct span {
    const struct plugvm_iov *iov;
    unsigned n;
    uint64_t skip;
    uint64_t len;
};

/* Copies len bytes at offset `at` of the span between guest memory and
 * buf. The guest may rewrite its buffers meanwhile; what was copied is
 * what counts. Returns the bytes copied. */
static size_t span_copy(const struct span *s, uint64_t at, void *buf, size_t len, bool to_guest)
{
    uint64_t pos = s->skip + at;
    size_t done = 0;
    for (unsigned i = 0; i < s->n && done < len; i++) {
        uint64_t l = s->iov[i].len;
        if (pos >= l) {
            pos -= l;
            continue;
        }
        size_t take = l - pos < len - done ? (size_t)(l - pos) : len - done;
        uint8_t *g = (uint8_t *)s->iov[i].addr + pos;
        if (to_guest)
            memcpy(g, (const uint8_t *)buf + done, take);
        else
            memcpy((uint8_t *)buf + done, g, take);
        done += take;
        pos = 0;
    }
    return done;
}

/* The span as an iovec list (empty buffers left out); -1 when it needs
 * more than cap entries. With `align`, also says whether every entry's
 * address and length are multiples of it. */
static int span_iovec(const struct span *s, struct iovec *out, uint32_t cap, uint32_t align,
                      bool *aligned)
{
    uint64_t pos = s->skip, left = s->len;
    int cnt = 0;
    *aligned = true;
    for (unsigned i = 0; i < s->n && left; i++) {
        uint64_t l = s->iov[i].len;
        if (pos >= l) {
            pos -= l;
            continue;
        }
        uint64_t take = l - pos < left ? l - pos : left;
        if ((uint32_t)cnt == cap)
            return -1;
        out[cnt].iov_base = (uint8_t *)s->iov[i].addr + pos;
        out[cnt].iov_len = take;
        if (align > 1 && (((uintptr_t)out[cnt].iov_base | take) & (align - 1)))
            *aligned = false;
        cnt++;
        left -= take;
        pos = 0;
    }
    return cnt;
}

/* Adds the span's data segments (its non-empty buffers, or the parts of
 * them it covers) to *segs; false when one is longer than BLK_SIZE_MAX or
 * *segs passes BLK_SEG_MAX. The driver must keep to the size_max and
 * seg_max it was offered (§5.2.6.1 via §5.2.4), and Linux does; a chain
 * that does not is a hostile driver's, which would otherwise have one
 * request move up to 4 GiB each way in one preadv/pwritev. */
static bool span_within_limits(const struct span *s, uint32_t *segs)
{
    uint64_t pos = s->skip, left = s->len;
    for (unsigned i = 0; i < s->n && left; i++) {
        uint64_t l = s->iov[i].len;
        if (pos >= l) {
            pos -= l;
            continue;
        }
        uint64_t take = l - pos < left ? l - pos : left;
        if (take > BLK_SIZE_MAX || ++*segs > BLK_SEG_MAX)
            return false;
        left -= take;
        pos = 0;
    }
    return true;
}

/* Moves len bytes between the file at `off` and iov, resuming after short
 * transfers; *moved gets the bytes moved, also on failure (a read that
 * ends early has still written them into the guest). 0, or a negative
 * errno (-EIO for end of file: the image shrank under the VM). */
static int vec_io(int fd, bool write, int wflags, struct iovec *iov, int cnt, uint64_t off,
                  uint64_t len, uint64_t *moved)
{
    *moved = 0;
    while (len) {
        int batch = cnt < IOV_MAX ? cnt : IOV_MAX;
        ssize_t n = write ? pwritev2(fd, iov, batch, (off_t)off, wflags)
                          : preadv(fd, iov, batch, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            return -EIO;
        off += (uint64_t)n;
        len -= (uint64_t)n;
        *moved += (uint64_t)n;
        while (n > 0 && cnt > 0) {
            if ((size_t)n >= iov->iov_len) {
                n -= (ssize_t)iov->iov_len;
                iov++;
                cnt--;
            } else {
                iov->iov_base = (uint8_t *)iov->iov_base + n;
                iov->iov_len -= (size_t)n;
                n = 0;
            }
        }
    }
    return 0;
}

static uint8_t host_failed(const struct blk_req_ctx *ctx, const char *op, uint64_t off, int err)
{
    if (ctx->host_error)
        ctx->host_error(ctx->host_error_arg, op, off, err);
    return VIRTIO_BLK_S_IOERR;
}

static bool sync_data(const struct blk_disk *d)
{
    /* fdatasync reaches stable storage on Linux for files and block
     * devices alike (macOS would need F_FULLFSYNC). */
    while (fdatasync(d->fd) < 0)
        if (errno != EINTR)
            return false;
    return true;
}

/* Whether [sector, sector + bytes / 512) lies in the disk; *off gets the
 * byte offset. Overflow-safe for any sector and length. */
static bool in_range(const struct blk_disk *d, uint64_t sector, uint64_t bytes, uint64_t *off)
{
    if (sector > (UINT64_MAX >> VIRTIO_BLK_SECTOR_SHIFT))
        return false;
    uint64_t cap = d->capacity << VIRTIO_BLK_SECTOR_SHIFT; /* fits: it came from a byte size */
    uint64_t o = sector << VIRTIO_BLK_SECTOR_SHIFT;
    if (o > cap || bytes > cap - o)
        return false;
    *off = o;
    return true;
}

/* IN and OUT: data straight between guest memory and the file, through
 * the bounce buffer only when O_DIRECT cannot take the guest's buffers.
 * *to_guest gets the bytes written into guest memory (a read's, whole or
 * up to where it failed; 0 for a write). */
static uint8_t rw(const struct blk_req_ctx *ctx, struct blk_io *io, bool write,
                  const struct span *data, uint64_t sector, uint64_t *to_guest)
{
    *to_guest = 0;
    const struct blk_disk *d = ctx->disk;
    const char *op = write ? "write" : "read";
    uint64_t off;
    if (data->len % VIRTIO_BLK_SECTOR_SIZE || !in_range(d, sector, data->len, &off))
        return VIRTIO_BLK_S_IOERR;
    if (data->len == 0)
        return VIRTIO_BLK_S_OK;
    if (d->direct && ((off | data->len) & (d->dio_align - 1)))
        return host_failed(ctx, write ? "write (not aligned for O_DIRECT)"
                                      : "read (not aligned for O_DIRECT)", off, EINVAL);
    int wflags = write && ctx->write_through ? RWF_DSYNC : 0;
    bool aligned;
    int cnt = span_iovec(data, io->iov, io->iov_cap, d->direct ? d->dio_align : 1, &aligned);
    if (cnt < 0)
        return VIRTIO_BLK_S_IOERR;
    int rc;
    uint64_t moved;
    if (!d->direct || aligned) {
        rc = vec_io(d->fd, write, wflags, io->iov, cnt, off, data->len, &moved);
        if (!write)
            *to_guest = moved;
    } else {
        uint8_t *b = bounce(io);
        if (!b)
            return host_failed(ctx, op, off, ENOMEM);
        rc = 0;
        for (uint64_t done = 0; done < data->len && !rc; done += BLK_BOUNCE_BYTES) {
            size_t chunk = data->len - done < BLK_BOUNCE_BYTES ? (size_t)(data->len - done)
                                                               : BLK_BOUNCE_BYTES;
            struct iovec one = {b, chunk};
            if (write)
                span_copy(data, done, b, chunk, false);
            rc = vec_io(d->fd, write, wflags, &one, 1, off + done, chunk, &moved);
            if (!rc && !write)
                *to_guest += span_copy(data, done, b, chunk, true);
        }
    }
    return rc ? host_failed(ctx, op, off, -rc) : VIRTIO_BLK_S_OK;
}

static uint8_t flush(const struct blk_req_ctx *ctx)
{
    if (ctx->disk->read_only)
        return VIRTIO_BLK_S_OK; /* nothing of ours to make durable */
    return sync_data(ctx->disk) ? VIRTIO_BLK_S_OK : host_failed(ctx, "flush", 0, errno);
}

/* The serial, 20 bytes whatever the buffer's length; *to_guest gets them. */
static uint8_t get_id(const struct blk_req_ctx *ctx, const struct span *data, uint64_t *to_guest)
{
    if (data->len < VIRTIO_BLK_ID_BYTES)
        return VIRTIO_BLK_S_IOERR;
    *to_guest = span_copy(data, 0, (void *)ctx->disk->serial, VIRTIO_BLK_ID_BYTES, true);
    return VIRTIO_BLK_S_OK;
}

/* Writes zeros over [off, off + len) with plain writes: the fallback when
 * the filesystem or device cannot zero a range itself. */
static int write_zeros(const struct blk_req_ctx *ctx, struct blk_io *io, uint64_t off,
                       uint64_t len)
{
    uint8_t *b = bounce(io);
    if (!b)
        return -ENOMEM;
    memset(b, 0, BLK_BOUNCE_BYTES);
    for (uint64_t done = 0; done < len; done += BLK_BOUNCE_BYTES) {
        size_t chunk = len - done < BLK_BOUNCE_BYTES ? (size_t)(len - done) : BLK_BOUNCE_BYTES;
        struct iovec one = {b, chunk};
        uint64_t moved;
        int rc = vec_io(ctx->disk->fd, true, 0, &one, 1, off + done, chunk, &moved);
        if (rc)
            return rc;
    }
    return 0;
}

static int retry_fallocate(int fd, int mode, uint64_t off, uint64_t len)
{
    int rc;
    while ((rc = fallocate(fd, mode, (off_t)off, (off_t)len)) < 0 && errno == EINTR)
        ;
    return rc < 0 ? -errno : 0;
}

static int discard_range(const struct blk_disk *d, uint64_t off, uint64_t len)
{
    int rc;
    if (d->is_blockdev) {
        uint64_t r[2] = {off, len};
        rc = ioctl(d->fd, BLKDISCARD, r) < 0 ? -errno : 0;
    } else {
        rc = retry_fallocate(d->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len);
    }
    /* A discard is a hint (§5.2.6.2: the device MAY deallocate): where
     * the host cannot, it is done by doing nothing. */
    return rc == -EOPNOTSUPP || rc == -ENOTTY ? 0 : rc;
}

static int zero_range(const struct blk_req_ctx *ctx, struct blk_io *io, uint64_t off,
                      uint64_t len, bool unmap)
{
    const struct blk_disk *d = ctx->disk;
    int rc;
    if (d->is_blockdev) {
        uint64_t r[2] = {off, len};
        rc = ioctl(d->fd, BLKZEROOUT, r) < 0 ? -errno : 0;
    } else {
        /* Punched holes read back as zeros, so "may unmap" is honoured
         * by punching; otherwise the blocks stay allocated. */
        rc = retry_fallocate(d->fd, (unmap ? FALLOC_FL_PUNCH_HOLE : FALLOC_FL_ZERO_RANGE) |
                                        FALLOC_FL_KEEP_SIZE, off, len);
    }
    if (rc == -EOPNOTSUPP || rc == -ENOTTY || rc == -EINVAL)
        rc = write_zeros(ctx, io, off, len);
    return rc;
}

/* DISCARD and WRITE_ZEROES: an array of ranges in the readable data. All
 * are read once and checked before any is acted on. */
static uint8_t ranges(const struct blk_req_ctx *ctx, struct blk_io *io, const struct span *rd,
                      bool wz)
{
    const struct blk_disk *d = ctx->disk;
    uint32_t max_seg = wz ? BLK_MAX_WRITE_ZEROES_SEG : BLK_MAX_DISCARD_SEG;
    uint32_t max_sectors = wz ? BLK_MAX_WRITE_ZEROES_SECTORS : BLK_MAX_DISCARD_SECTORS;
    struct virtio_blk_discard_write_zeroes r[BLK_MAX_DISCARD_SEG];
    if (rd->len == 0 || rd->len % sizeof(r[0]) || rd->len / sizeof(r[0]) > max_seg)
        return VIRTIO_BLK_S_IOERR;
    size_t n = (size_t)(rd->len / sizeof(r[0]));
    span_copy(rd, 0, r, n * sizeof(r[0]), false);
    uint32_t allowed = wz ? VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP : 0;
    for (size_t i = 0; i < n; i++)
        if (r[i].flags & ~allowed)
            return VIRTIO_BLK_S_UNSUPP;
    if (d->read_only)
        return VIRTIO_BLK_S_IOERR;
    uint64_t off[BLK_MAX_DISCARD_SEG];
    for (size_t i = 0; i < n; i++)
        if (r[i].num_sectors > max_sectors ||
            !in_range(d, r[i].sector, (uint64_t)r[i].num_sectors << VIRTIO_BLK_SECTOR_SHIFT,
                      &off[i]))
            return VIRTIO_BLK_S_IOERR;
    for (size_t i = 0; i < n; i++) {
        uint64_t len = (uint64_t)r[i].num_sectors << VIRTIO_BLK_SECTOR_SHIFT;
        if (!len)
            continue;
        int rc = wz ? zero_range(ctx, io, off[i], len, r[i].flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP)
                    : discard_range(d, off[i], len);
        if (rc)
            return host_failed(ctx, wz ? "write zeroes" : "discard", off[i], -rc);
    }
    if (wz && ctx->write_through && !sync_data(d))
        return host_failed(ctx, "write zeroes", off[0], errno);
    return VIRTIO_BLK_S_OK;
}

/* The last writable byte of the chain, where the status goes. */
static uint8_t *status_byte(const struct plugvm_chain *c)
{
    for (unsigned i = c->niov; i-- > 0;) {
        if (!c->iov[i].writable)
            return NULL;
        if (c->iov[i].len)
            return (uint8_t *)c->iov[i].addr + c->iov[i].len - 1;
    }
    return NULL;
}

uint32_t blk_request_serve(const struct blk_req_ctx *ctx, struct blk_io *io,
                           const struct plugvm_chain *c, uint8_t *status_out)
{
    uint8_t *st = status_byte(c);
    if (!st || c->writable_bytes == 0) {
        if (status_out)
            *status_out = 0xff;
        return 0;
    }
    unsigned nr = 0;
    while (nr < c->niov && !c->iov[nr].writable)
        nr++;
    bool ordered = true;
    for (unsigned i = nr; i < c->niov; i++)
        ordered &= c->iov[i].writable;

    uint8_t status = VIRTIO_BLK_S_IOERR;
    uint64_t data_out = 0; /* bytes written into the data buffers */
    uint32_t segs = 0;
    struct virtio_blk_outhdr h;
    struct span rd = {c->iov, nr, 0, c->readable_bytes};
    struct span wr = {c->iov + nr, c->niov - nr, 0, c->writable_bytes - 1u};
    if (ordered && c->readable_bytes >= sizeof(h)) {
        span_copy(&rd, 0, &h, sizeof(h), false); /* one fetch of the header */
        rd.skip = sizeof(h);
        rd.len = c->readable_bytes - sizeof(h);
    }
    /* Whatever the type: the limits bound the data the switch below may
     * move or look at. The total follows from the two; it is checked on
     * its own too, so that it stays a bound if segments are ever counted
     * otherwise (the iovec array and the I/O size rely on it). */
    bool within = span_within_limits(&rd, &segs) && span_within_limits(&wr, &segs) &&
                  rd.len + wr.len <= BLK_MAX_REQUEST_BYTES;
    if (ordered && c->readable_bytes >= sizeof(h) && within) {
        const struct blk_disk *d = ctx->disk;
        switch (h.type) {
        case VIRTIO_BLK_T_IN:
            status = rd.len ? VIRTIO_BLK_S_IOERR : rw(ctx, io, false, &wr, h.sector, &data_out);
            break;
        case VIRTIO_BLK_T_OUT:
            status = wr.len || d->read_only ? VIRTIO_BLK_S_IOERR
                                            : rw(ctx, io, true, &rd, h.sector, &data_out);
            break;
        case VIRTIO_BLK_T_FLUSH:
            status = flush(ctx);
            break;
        case VIRTIO_BLK_T_GET_ID:
            status = rd.len ? VIRTIO_BLK_S_IOERR : get_id(ctx, &wr, &data_out);
            break;
        case VIRTIO_BLK_T_DISCARD:
        case VIRTIO_BLK_T_WRITE_ZEROES: {
            bool wz = h.type == VIRTIO_BLK_T_WRITE_ZEROES;
            if (!(wz ? ctx->write_zeroes : ctx->discard))
                status = VIRTIO_BLK_S_UNSUPP;
            else
                status = wr.len ? VIRTIO_BLK_S_IOERR : ranges(ctx, io, &rd, wz);
            break;
        }
        default:
            status = VIRTIO_BLK_S_UNSUPP;
        }
    }
    *st = status;
    if (status_out)
        *status_out = status;
    /* §2.7.8.2: the used length is what the device wrote, not the
     * writable length: a driver may trust that many bytes. data_out is
     * at most wr.len, so this is at most writable_bytes. */
    return (uint32_t)data_out + 1u;
}
