/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One virtio-blk request (virtio 1.2 §5.2.6): parse a descriptor chain the
 * core has already validated, check everything the guest controls, do the
 * I/O between the backing file and guest memory, write the status byte.
 * No threads and no plugvm host services here, so unit tests and the
 * fuzzer drive it with a chain of plain buffers.
 */
#ifndef PLUGVM_BLK_REQUEST_H
#define PLUGVM_BLK_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <plugvm/host.h>

#include "disk.h"

/* Limits offered in the config space (§5.2.4) and enforced per request. */
/* Bytes of one data segment (size_max): a buffer, or the part of one
 * that carries data. */
#define BLK_SIZE_MAX (1u << 20)
/* Data segments of one request (seg_max), header and status not counted
 * (as Linux counts them). At most the queue size - 2, so that a request
 * fits a ring without indirect descriptors. */
#define BLK_SEG_MAX 254u
/* Bytes of one request's data: what the two limits above allow, no more,
 * so no request is larger whatever the chain (up to 4 GiB each way). */
#define BLK_MAX_REQUEST_BYTES (BLK_SEG_MAX * BLK_SIZE_MAX)
_Static_assert((uint64_t)BLK_SEG_MAX * BLK_SIZE_MAX < UINT32_MAX, "request bytes fit 32 bits");
#define BLK_MAX_DISCARD_SECTORS (1u << 22)      /* 2 GiB per range */
#define BLK_MAX_DISCARD_SEG 32u
#define BLK_MAX_WRITE_ZEROES_SECTORS (1u << 22)
#define BLK_MAX_WRITE_ZEROES_SEG 1u
/* Bytes moved through the bounce buffer at once (O_DIRECT with guest
 * buffers that are not aligned for it). */
#define BLK_BOUNCE_BYTES (1u << 20)

/* What a request sees of its device; fixed while the device is active. */
struct blk_req_ctx {
    const struct blk_disk *disk;
    /* FLUSH was not negotiated: every write is durable when it completes
     * (§5.2.6.3 "write-through"). */
    bool write_through;
    bool discard;      /* VIRTIO_BLK_F_DISCARD negotiated */
    bool write_zeroes; /* VIRTIO_BLK_F_WRITE_ZEROES negotiated */
    /* Called once per failed host I/O (op: "read", "write", "flush",
     * "discard", "write zeroes"; offset in bytes; err a positive errno).
     * May be NULL. */
    void (*host_error)(void *arg, const char *op, uint64_t offset, int err);
    void *host_error_arg;
};

/* Scratch space of one worker: an iovec array as long as the queue (the
 * longest chain) and, when O_DIRECT needs it, a bounce buffer. */
struct blk_io {
    struct iovec *iov;
    uint32_t iov_cap;
    void *bounce; /* BLK_BOUNCE_BYTES, aligned to 4096; allocated on first use */
};

int blk_io_init(struct blk_io *io, uint32_t max_segments);
void blk_io_fini(struct blk_io *io);

/*
 * Serves the request in chain `c` and writes its status byte (the last
 * device-writable byte of the chain). Returns the used length to push: the
 * bytes written into the chain's writable buffers (§2.7.8.2), in bytes:
 * the data written plus the status byte. That is the data read plus 1
 * for IN (a read that fails part way: what reached guest memory, plus
 * 1), 20 + 1 for GET_ID whatever its buffer's length, and 1 for every
 * other type and for every IOERR or UNSUPP found before any I/O. 0 when
 * the chain has no writable byte and so cannot carry a status (§5.2.6:
 * every request ends with one; such a chain is completed, unanswered, so
 * it is not lost). Never more than c->writable_bytes. *status_out, when
 * not NULL, gets the status written, or 0xff for none.
 *
 * Statuses (§5.2.6.1): IOERR for a header shorter than 16 bytes, a data
 * segment (a non-empty buffer, or the data part of one) longer than
 * BLK_SIZE_MAX, more than BLK_SEG_MAX data segments, data whose direction
 * does not fit the type, IN/OUT data not a multiple of 512 bytes, a
 * sector whose byte offset overflows, a range past the capacity, any
 * write (OUT, DISCARD, WRITE_ZEROES) to a read-only device, a host I/O
 * error, GET_ID with fewer than 20 writable bytes, more
 * DISCARD/WRITE_ZEROES ranges or sectors than the config space offers;
 * UNSUPP for an unknown or unnegotiated type, a DISCARD with any flag,
 * a WRITE_ZEROES with an unknown flag. The segment limits come first, for
 * every type.
 *
 * Threads: any; calls on one `io` one at a time, `ctx` only read.
 */
uint32_t blk_request_serve(const struct blk_req_ctx *ctx, struct blk_io *io,
                           const struct plugvm_chain *c, uint8_t *status_out);

#endif
