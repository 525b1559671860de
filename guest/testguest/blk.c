/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-blk device setup (virtio 1.2 §5.2.5): features, the
 * configuration space, the request queues, DRIVER_OK. Requests are
 * blk_req.c's.
 */
#include "blk.h"

#include <stddef.h>

#include "io.h"
#include "lib.h"

/* Offsets in struct virtio_blk_config (§5.2.4). */
#define CFG_CAPACITY 0
#define CFG_SIZE_MAX 8
#define CFG_SEG_MAX 12
#define CFG_BLK_SIZE 20
#define CFG_WRITEBACK 32
#define CFG_NUM_QUEUES 34
#define CFG_MAX_DISCARD_SECTORS 36
#define CFG_MAX_DISCARD_SEG 40
#define CFG_DISCARD_SECTOR_ALIGNMENT 44
#define CFG_MAX_WRITE_ZEROES_SECTORS 48
#define CFG_MAX_WRITE_ZEROES_SEG 52
#define CFG_WRITE_ZEROES_MAY_UNMAP 56

#define STATUS_ALL_OK (VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | \
                       VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK)

/* How often to reread a configuration that keeps changing under us. */
#define CONFIG_TRIES 16

uint64_t blk_wanted_features(void)
{
    return 1ull << VIRTIO_BLK_F_SIZE_MAX | 1ull << VIRTIO_BLK_F_SEG_MAX |
           1ull << VIRTIO_BLK_F_RO | 1ull << VIRTIO_BLK_F_BLK_SIZE | 1ull << VIRTIO_BLK_F_FLUSH |
           1ull << VIRTIO_BLK_F_MQ | 1ull << VIRTIO_BLK_F_DISCARD |
           1ull << VIRTIO_BLK_F_WRITE_ZEROES | 1ull << VIRTIO_F_INDIRECT_DESC |
           1ull << VIRTIO_F_EVENT_IDX | 1ull << VIRTIO_F_VERSION_1;
}

/* §4.2.2.2: configuration fields are read with accesses of their own
 * width (64-bit ones as two 32-bit halves), so a device that serves only
 * those widths, as the spec lets it, answers each. io.h has no 16-bit
 * access; num_queues is the only field that needs one. */
static uint8_t cfg8(const struct virtio_dev *d, uint32_t off)
{
    return mmio_read8(d->base + VIRTIO_MMIO_CONFIG + off);
}

static uint16_t cfg16(const struct virtio_dev *d, uint32_t off)
{
    uint16_t v;
    __asm__ volatile("movw (%1), %0" : "=r"(v) : "r"(d->base + VIRTIO_MMIO_CONFIG + off) : "memory");
    return v;
}

static uint32_t cfg32(const struct virtio_dev *d, uint32_t off)
{
    return virtio_mmio_read(d, VIRTIO_MMIO_CONFIG + off);
}

static void read_config_once(const struct virtio_dev *d, struct blk_config *c)
{
    c->capacity = (uint64_t)cfg32(d, CFG_CAPACITY + 4) << 32 | cfg32(d, CFG_CAPACITY);
    c->size_max = cfg32(d, CFG_SIZE_MAX);
    c->seg_max = cfg32(d, CFG_SEG_MAX);
    c->blk_size = cfg32(d, CFG_BLK_SIZE);
    c->writeback = cfg8(d, CFG_WRITEBACK);
    c->num_queues = cfg16(d, CFG_NUM_QUEUES);
    c->max_discard_sectors = cfg32(d, CFG_MAX_DISCARD_SECTORS);
    c->max_discard_seg = cfg32(d, CFG_MAX_DISCARD_SEG);
    c->discard_sector_alignment = cfg32(d, CFG_DISCARD_SECTOR_ALIGNMENT);
    c->max_write_zeroes_sectors = cfg32(d, CFG_MAX_WRITE_ZEROES_SECTORS);
    c->max_write_zeroes_seg = cfg32(d, CFG_MAX_WRITE_ZEROES_SEG);
    c->write_zeroes_may_unmap = cfg8(d, CFG_WRITE_ZEROES_MAY_UNMAP);
}

void blk_read_config(struct blk *b)
{
    /* §2.5.1 / §4.2.3.1: the fields are consistent when ConfigGeneration
     * reads the same before and after them (capacity is two reads). */
    for (unsigned i = 0; i < CONFIG_TRIES; i++) {
        uint32_t before = virtio_mmio_read(b->dev, VIRTIO_MMIO_CONFIG_GENERATION);
        read_config_once(b->dev, &b->cfg);
        uint32_t after = virtio_mmio_read(b->dev, VIRTIO_MMIO_CONFIG_GENERATION);
        b->cfg.generation = after;
        if (before == after)
            return;
    }
}

const char *blk_init(struct blk *b, struct virtio_dev *d, uint64_t wanted, unsigned queues)
{
    /* Only the queue memory survives: virtq_setup reuses it on a second
     * initialisation of the same struct blk. */
    for (unsigned q = 0; q < BLK_MAX_QUEUES; q++) {
        b->ninflight[q] = 0;
        for (unsigned i = 0; i < VIRTQ_MAX_SIZE; i++)
            b->inflight[q][i] = NULL;
    }
    b->dev = d;
    b->broken = NULL;
    b->nq = 0;
    const char *err = virtio_mmio_init(d, wanted);
    if (err)
        return err;
    /* §5.2.5: read the configuration after FEATURES_OK (num_queues
     * exists only with MQ). */
    blk_read_config(b);
    unsigned n = 1;
    if (virtio_has(d->features, VIRTIO_BLK_F_MQ))
        n = b->cfg.num_queues;
    if (n > queues)
        n = queues;
    if (n > BLK_MAX_QUEUES)
        n = BLK_MAX_QUEUES;
    if (n == 0) {
        virtio_mmio_set_status(d, virtio_mmio_status(d) | VIRTIO_STATUS_FAILED);
        return "MQ negotiated with num_queues 0";
    }
    for (unsigned q = 0; q < n; q++) {
        err = virtq_setup(&b->vq[q], d, (uint16_t)q);
        if (err) {
            virtio_mmio_set_status(d, virtio_mmio_status(d) | VIRTIO_STATUS_FAILED);
            return err;
        }
        /* The driver polls: no interrupts unless a test asks for one. */
        virtq_want_interrupt(&b->vq[q], false);
    }
    b->nq = n;
    virtio_mmio_set_status(d, STATUS_ALL_OK);
    if (virtio_mmio_status(d) != STATUS_ALL_OK)
        return "DRIVER_OK did not read back (NEEDS_RESET or FAILED set?)";
    return NULL;
}
