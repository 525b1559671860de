/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-blk requests (virtio 1.2 §5.2.6): a chain of header, data
 * buffers and status byte, put on a queue, found again in its used ring.
 * Many may be in flight: each queue maps a used head back to its request.
 */
#include "blk.h"

#include <stddef.h>

#include "clock.h"
#include "io.h"
#include "lib.h"

void blk_req_init(struct blk_req *r, uint32_t type, uint64_t sector)
{
    r->hdr.type = type;
    r->hdr.reserved = 0;
    r->hdr.sector = sector;
    r->nseg = 0;
    r->indirect = false;
    r->raw = false;
    r->status = BLK_STATUS_UNWRITTEN;
    r->done = false;
    r->used_len = 0;
}

bool blk_req_add(struct blk_req *r, const void *buf, uint32_t len, bool device_writes)
{
    if (r->nseg == BLK_MAX_SEGS)
        return false;
    r->seg[r->nseg].addr = (uintptr_t)buf;
    r->seg[r->nseg].len = len;
    r->seg[r->nseg].device_writes = device_writes;
    r->nseg++;
    return true;
}

bool blk_req_data(struct blk_req *r, const void *buf, uint32_t len)
{
    bool writes = r->hdr.type == VIRTIO_BLK_T_IN || r->hdr.type == VIRTIO_BLK_T_GET_ID;
    return blk_req_add(r, buf, len, writes);
}

bool blk_req_data_split(const struct blk *b, struct blk_req *r, const void *buf, uint32_t len)
{
    const uint8_t *p = buf;
    uint32_t max = UINT32_MAX;
    if (virtio_has(b->dev->features, VIRTIO_BLK_F_SIZE_MAX) && b->cfg.size_max)
        max = b->cfg.size_max;
    unsigned limit = BLK_MAX_SEGS;
    if (virtio_has(b->dev->features, VIRTIO_BLK_F_SEG_MAX) && b->cfg.seg_max < limit)
        limit = b->cfg.seg_max;
    do {
        uint32_t n = len < max ? len : max;
        if (r->nseg >= limit || !blk_req_data(r, p, n))
            return false;
        p += n;
        len -= n;
    } while (len);
    return true;
}

bool blk_submit(struct blk *b, unsigned q, struct blk_req *r)
{
    if (b->broken || q >= b->nq)
        return false;
    /* The chain as §5.2.6 lays it out: header (device-readable), the
     * data, the status byte (device-writable) last. */
    struct virtq_buf bufs[BLK_MAX_DESC];
    unsigned n = 0;
    if (!r->raw)
        bufs[n++] = (struct virtq_buf){(uintptr_t)&r->hdr, sizeof(r->hdr), false};
    for (unsigned i = 0; i < r->nseg; i++)
        bufs[n++] = r->seg[i];
    if (!r->raw)
        bufs[n++] = (struct virtq_buf){(uintptr_t)&r->status, 1, true};
    r->status = BLK_STATUS_UNWRITTEN;
    r->done = false;
    r->used_len = 0;
    struct virtq *vq = &b->vq[q];
    int head = r->indirect ? virtq_add_indirect(vq, r->table, bufs, n)
                           : virtq_add_chain(vq, bufs, n);
    if (head < 0)
        return false;
    b->inflight[q][head] = r;
    b->ninflight[q]++;
    virtq_publish(vq, (uint16_t)head);
    return true;
}

void blk_kick(struct blk *b, unsigned q)
{
    if (q < b->nq)
        virtq_kick(&b->vq[q]);
}

unsigned blk_poll(struct blk *b, unsigned q)
{
    unsigned n = 0;
    struct virtq *vq = &b->vq[q];
    while (virtq_has_used(vq)) {
        uint32_t len;
        int head = virtq_get_used(vq, &len);
        struct blk_req *r = head >= 0 ? b->inflight[q][head] : NULL;
        if (!r) {
            /* A head out of range or not in flight: the device is
             * confused, and the descriptors we would free are not ours
             * to reuse. */
            b->broken = "the device returned a used head that was not in flight";
            return n;
        }
        b->inflight[q][head] = NULL;
        b->ninflight[q]--;
        r->used_len = len;
        /* virtq_get_used read the used entry after the used index; the
         * status byte is read by the caller after done. */
        barrier();
        r->done = true;
        n++;
    }
    return n;
}

bool blk_wait(struct blk *b, struct blk_req *const *reqs, unsigned n)
{
    /* The timeout runs from the last completion: a long batch on a slow
     * host is fine as long as it keeps moving. */
    uint64_t last = clock_us();
    for (;;) {
        bool all = true;
        for (unsigned i = 0; i < n && all; i++)
            all = reqs[i]->done;
        if (all)
            return true;
        if (b->broken)
            return false;
        unsigned got = 0;
        for (unsigned q = 0; q < b->nq; q++)
            got += blk_poll(b, q);
        if (got) {
            last = clock_us();
        } else if (clock_us() - last > VIRTIO_IO_TIMEOUT_US) {
            b->broken = "no request completed within the I/O timeout";
            return false;
        } else {
            cpu_relax();
        }
    }
}

int blk_run(struct blk *b, unsigned q, struct blk_req *r)
{
    if (!blk_submit(b, q, r))
        return -1;
    blk_kick(b, q);
    if (!blk_wait(b, &r, 1))
        return -1;
    return r->status;
}

const char *blk_status_name(int status)
{
    switch (status) {
    case VIRTIO_BLK_S_OK: return "OK";
    case VIRTIO_BLK_S_IOERR: return "IOERR";
    case VIRTIO_BLK_S_UNSUPP: return "UNSUPP";
    case BLK_STATUS_UNWRITTEN: return "unwritten (0xff)";
    case -1: return "no completion";
    default: return "unknown status";
    }
}
