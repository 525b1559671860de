/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A virtio-blk driver (virtio 1.2 §5.2: device id 2): feature negotiation,
 * the configuration space, 1 to BLK_MAX_QUEUES request queues, and
 * requests kept in flight, many per queue and on several queues at once.
 * Completions are found by polling the used rings; a request's buffers
 * (header, data, status) are the caller's, in identity-mapped guest RAM,
 * and stay untouched until the request completes.
 */
#ifndef TESTGUEST_BLK_H
#define TESTGUEST_BLK_H

#include <stdbool.h>
#include <stdint.h>

#include "virtio_mmio.h"
#include "virtqueue.h"

#define VIRTIO_ID_BLOCK 2

/* Feature bits (§5.2.3). */
#define VIRTIO_BLK_F_SIZE_MAX 1
#define VIRTIO_BLK_F_SEG_MAX 2
#define VIRTIO_BLK_F_RO 5
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH 9
#define VIRTIO_BLK_F_MQ 12
#define VIRTIO_BLK_F_DISCARD 13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

/* Request types and statuses (§5.2.6). */
#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8
#define VIRTIO_BLK_T_DISCARD 11
#define VIRTIO_BLK_T_WRITE_ZEROES 13

#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2
/* Not a device status: what the status byte holds until the device writes
 * it, so an unanswered request shows. */
#define BLK_STATUS_UNWRITTEN 0xff

#define BLK_SECTOR 512u
#define BLK_ID_BYTES 20
#define VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP 1u

/* Limits of this driver: queues (the ring pool in virtqueue.c holds 8),
 * data segments per request. */
#define BLK_MAX_QUEUES 4
#define BLK_MAX_SEGS 16
#define BLK_MAX_DESC (BLK_MAX_SEGS + 2)

/* The configuration space (§5.2.4), as read; fields whose feature was
 * not offered are read anyway and mean nothing. */
struct blk_config {
    uint64_t capacity;           /* 512-byte sectors */
    uint32_t size_max, seg_max;
    uint32_t blk_size;
    uint8_t writeback;
    uint16_t num_queues;
    uint32_t max_discard_sectors, max_discard_seg, discard_sector_alignment;
    uint32_t max_write_zeroes_sectors, max_write_zeroes_seg;
    uint8_t write_zeroes_may_unmap;
    uint32_t generation;         /* ConfigGeneration the fields were read under */
};

/* The header (§5.2.6), device-readable, first in every chain. */
struct blk_outhdr {
    uint32_t type;
    uint32_t reserved;
    uint64_t sector;
};

/* One range of DISCARD or WRITE_ZEROES data (§5.2.6). */
struct blk_range {
    uint64_t sector;
    uint32_t num_sectors;
    uint32_t flags;
};

/* One request. The header and status byte live here, so a blk_req must
 * sit in guest RAM (a static) and stay put while in flight. seg[] are the
 * data buffers between them, each with its own direction, so a test can
 * also build requests a driver should not send. */
struct blk_req {
    struct blk_outhdr hdr;
    struct virtq_buf seg[BLK_MAX_SEGS];
    unsigned nseg;
    bool indirect;               /* one indirect table rather than a chain */
    /* seg[] is the whole chain, header and status included, laid out by
     * the caller (to test how a device takes other framings, §2.6.4);
     * the status is then wherever the caller put it. */
    bool raw;
    volatile uint8_t status;
    /* Filled on completion. */
    volatile bool done;
    uint32_t used_len;           /* what the device said it wrote */
    struct virtq_desc table[BLK_MAX_DESC] __attribute__((aligned(16)));
};

struct blk {
    struct virtio_dev *dev;
    struct blk_config cfg;
    unsigned nq;
    struct virtq vq[BLK_MAX_QUEUES];
    /* The request in flight at each head, per queue. */
    struct blk_req *inflight[BLK_MAX_QUEUES][VIRTQ_MAX_SIZE];
    unsigned ninflight[BLK_MAX_QUEUES];
    /* Set when the device answered with a head we did not give it or
     * did not answer in time: no request may be trusted after that. */
    const char *broken;
};

/* The features this driver understands: the blk ones above, and
 * VERSION_1, INDIRECT_DESC and EVENT_IDX. */
uint64_t blk_wanted_features(void);

/* Negotiates `wanted` (blk_wanted_features() or fewer), reads the
 * configuration space, sets up min(queues, num_queues when MQ was
 * negotiated, else 1, BLK_MAX_QUEUES) queues, sets DRIVER_OK. NULL on
 * success, else a reason. */
const char *blk_init(struct blk *b, struct virtio_dev *d, uint64_t wanted, unsigned queues);

/* Rereads the configuration space until ConfigGeneration holds still
 * (§2.5.1). */
void blk_read_config(struct blk *b);

/* Starts a request: header for `type` at `sector`, no data yet, status
 * unwritten, direct chain. */
void blk_req_init(struct blk_req *r, uint32_t type, uint64_t sector);
/* Appends a data buffer; device_writes as given. False when full. */
bool blk_req_add(struct blk_req *r, const void *buf, uint32_t len, bool device_writes);
/* Appends a data buffer in the direction `type` calls for: device-writable
 * for IN and GET_ID, device-readable for the rest. */
bool blk_req_data(struct blk_req *r, const void *buf, uint32_t len);

/* Appends len bytes at buf as blk_req_data() does, cut into segments no
 * longer than size_max when SIZE_MAX was negotiated; false when that
 * needs more segments than BLK_MAX_SEGS or, with SEG_MAX, seg_max. */
bool blk_req_data_split(const struct blk *b, struct blk_req *r, const void *buf, uint32_t len);

/* Puts r on queue q (not yet notified). False when the queue has no room
 * for it or the driver is broken. */
bool blk_submit(struct blk *b, unsigned q, struct blk_req *r);
/* Notifies queue q about what was submitted, unless suppressed. */
void blk_kick(struct blk *b, unsigned q);
/* Takes queue q's used buffers, marking their requests done. Returns how
 * many. */
unsigned blk_poll(struct blk *b, unsigned q);
/* Polls every queue until each of the n requests is done, or the I/O
 * timeout passes (then b->broken is set). Returns whether all are done. */
bool blk_wait(struct blk *b, struct blk_req *const *reqs, unsigned n);

/* Submits, notifies and waits for one request. Returns its status byte
 * (BLK_STATUS_UNWRITTEN when the device left it alone), or -1 when it
 * could not be submitted or did not complete. */
int blk_run(struct blk *b, unsigned q, struct blk_req *r);

/* Short names for statuses in TAP output. */
const char *blk_status_name(int status);

#endif
