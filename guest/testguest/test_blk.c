/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test=blk: a virtio-blk device (virtio 1.2 §5.2), driven by blk.c. This
 * file sets the device up, checks its features and configuration against
 * what the command line says the host gave it, runs the groups of checks
 * (test_blk_data.c, test_blk_proto.c, test_blk_frame.c, test_blk_extent.c)
 * and ends with the device's status and a reset. With blk_phase= it runs test_blk_phase.c's
 * modes instead, for the host's durability scripts.
 *
 * The command line's keys (cmdline.h): blk_sectors, blk_serial, blk_ro,
 * blk_queues, blk_host_seed, blk_seed, blk_count, blk_phase.
 */
#include <stddef.h>

#include "console.h"
#include "lib.h"
#include "tap.h"
#include "test_blk.h"

#define SETUP_CHECKS 6
#define END_CHECKS 2

uint8_t bt_wbuf[BT_BUF_BYTES] __attribute__((aligned(4096)));
uint8_t bt_rbuf[BT_BUF_BYTES] __attribute__((aligned(4096)));

static struct blk_test test;
static struct blk_req io_req;

int bt_io(struct blk_test *t, uint32_t type, uint64_t sector, void *buf, uint32_t len)
{
    blk_req_init(&io_req, type, sector);
    if (len && !blk_req_data_split(&t->b, &io_req, buf, len))
        return -1;
    return blk_run(&t->b, 0, &io_req);
}

int bt_read(struct blk_test *t, uint64_t sector, uint32_t n)
{
    memset(bt_rbuf, 0xee, n * BLK_SECTOR);
    return bt_io(t, VIRTIO_BLK_T_IN, sector, bt_rbuf, n * BLK_SECTOR);
}

bool bt_accept(struct blk_test *t, bool spec_ok, bool qemu_ok, const char *difference)
{
    if (spec_ok)
        return true;
    if (t->qemu && qemu_ok) {
        tap_diag("QEMU (vendor id 0x%08x) differs from virtio 1.2 here, accepted: %s",
                 VIRTIO_MMIO_VENDOR_QEMU, difference);
        return true;
    }
    return false;
}

bool bt_skip_ro(struct blk_test *t, const char *desc)
{
    if (!t->ro)
        return false;
    tap_skip(desc, "the device is read-only");
    return true;
}

bool bt_all(const uint8_t *p, uint32_t n, uint8_t byte)
{
    for (uint32_t i = 0; i < n; i++)
        if (p[i] != byte)
            return false;
    return true;
}

static bool is_pow2(uint32_t v)
{
    return v && !(v & (v - 1));
}

/* What is wrong in the configuration space, field by field, only for
 * fields whose feature was negotiated; "" when nothing. */
static void config_problems(struct blk_test *t, char *out, size_t size)
{
    const struct blk_config *c = &t->b.cfg;
    uint64_t f = t->d->features;
    size_t n = 0;
    out[0] = '\0';
    if (virtio_has(f, VIRTIO_BLK_F_BLK_SIZE) && (c->blk_size < BLK_SECTOR || !is_pow2(c->blk_size)))
        n += str_format(out + n, size - n, "blk_size %u not a power of 2 >= 512; ", c->blk_size);
    if (virtio_has(f, VIRTIO_BLK_F_SEG_MAX) && c->seg_max == 0)
        n += str_format(out + n, size - n, "seg_max 0; ");
    if (virtio_has(f, VIRTIO_BLK_F_SIZE_MAX) && c->size_max < BLK_SECTOR)
        n += str_format(out + n, size - n, "size_max %u < 512; ", c->size_max);
    if (virtio_has(f, VIRTIO_BLK_F_MQ) && c->num_queues == 0)
        n += str_format(out + n, size - n, "num_queues 0; ");
    if (virtio_has(f, VIRTIO_BLK_F_DISCARD) &&
        (!c->max_discard_sectors || !c->max_discard_seg || !c->discard_sector_alignment))
        n += str_format(out + n, size - n, "discard limits %u sectors, %u segments, alignment %u; ",
                        c->max_discard_sectors, c->max_discard_seg, c->discard_sector_alignment);
    if (virtio_has(f, VIRTIO_BLK_F_WRITE_ZEROES) &&
        (!c->max_write_zeroes_sectors || !c->max_write_zeroes_seg || c->write_zeroes_may_unmap > 1))
        n += str_format(out + n, size - n, "write zeroes limits %u sectors, %u segments, may_unmap %u; ",
                        c->max_write_zeroes_sectors, c->max_write_zeroes_seg,
                        c->write_zeroes_may_unmap);
    /* The configuration must read the same twice when nothing changed it. */
    struct blk_config first = *c;
    blk_read_config(&t->b);
    if (memcmp(&first, c, sizeof(first)) != 0)
        str_format(out + n, size - n, "two reads of the configuration differ");
}

static void describe(struct blk_test *t)
{
    const struct blk_config *c = &t->b.cfg;
    uint64_t f = t->d->features;
    tap_diag("features offered 0x%lx, negotiated 0x%lx:%s%s%s%s%s%s%s%s%s%s", t->d->offered, f,
             virtio_has(f, VIRTIO_BLK_F_SIZE_MAX) ? " SIZE_MAX" : "",
             virtio_has(f, VIRTIO_BLK_F_SEG_MAX) ? " SEG_MAX" : "",
             virtio_has(f, VIRTIO_BLK_F_RO) ? " RO" : "",
             virtio_has(f, VIRTIO_BLK_F_BLK_SIZE) ? " BLK_SIZE" : "",
             virtio_has(f, VIRTIO_BLK_F_FLUSH) ? " FLUSH" : "",
             virtio_has(f, VIRTIO_BLK_F_MQ) ? " MQ" : "",
             virtio_has(f, VIRTIO_BLK_F_DISCARD) ? " DISCARD" : "",
             virtio_has(f, VIRTIO_BLK_F_WRITE_ZEROES) ? " WRITE_ZEROES" : "",
             virtio_has(f, VIRTIO_F_INDIRECT_DESC) ? " INDIRECT_DESC" : "",
             virtio_has(f, VIRTIO_F_EVENT_IDX) ? " EVENT_IDX" : "");
    tap_diag("capacity %lu sectors, size_max %u, seg_max %u, blk_size %u, num_queues %u, "
             "discard %u/%u/%u, write zeroes %u/%u/%u; %u queues of %u used",
             c->capacity, c->size_max, c->seg_max, c->blk_size, c->num_queues,
             c->max_discard_sectors, c->max_discard_seg, c->discard_sector_alignment,
             c->max_write_zeroes_sectors, c->max_write_zeroes_seg, c->write_zeroes_may_unmap,
             t->b.nq, t->b.vq[0].num);
}

/* Returns whether the rest can run. */
static bool setup_checks(struct blk_test *t)
{
    const struct cmdline_blk *k = &t->g->cmd.blk;
    const char *err = blk_init(&t->b, t->d, blk_wanted_features(), BLK_MAX_QUEUES);
    if (!tap_check(!err, "virtio-blk: features negotiated, queues set up, DRIVER_OK", "%s", err))
        return false;
    describe(t);
    uint64_t f = t->d->features;
    t->ro = virtio_has(f, VIRTIO_BLK_F_RO);
    t->cap = t->b.cfg.capacity;

    if (k->has_ro)
        tap_check(t->ro == k->ro,
                  k->ro ? "VIRTIO_BLK_F_RO offered (blk_ro=1)" : "VIRTIO_BLK_F_RO not offered (blk_ro=0)",
                  "RO is%s offered", t->ro ? "" : " not");
    else
        tap_skip("VIRTIO_BLK_F_RO as blk_ro= says", "no blk_ro= on the command line");

    if (k->has_queues) {
        bool mq = virtio_has(f, VIRTIO_BLK_F_MQ);
        uint64_t have = mq ? t->b.cfg.num_queues : 1;
        unsigned use = k->queues < BLK_MAX_QUEUES ? (unsigned)k->queues : BLK_MAX_QUEUES;
        tap_check(have == k->queues && t->b.nq == use && (mq || k->queues == 1),
                  "the device has the queues blk_queues= says, all set up",
                  "blk_queues=%lu; MQ %s, num_queues %u, %u set up", k->queues,
                  mq ? "negotiated" : "not offered", t->b.cfg.num_queues, t->b.nq);
    } else {
        tap_skip("the device has the queues blk_queues= says", "no blk_queues= on the command line");
    }

    if (k->has_sectors)
        tap_check(t->cap == k->sectors, "capacity is blk_sectors=", "capacity %lu, blk_sectors=%lu",
                  t->cap, k->sectors);
    else
        tap_check(t->cap > 0, "capacity is not 0 (no blk_sectors= to compare)", "capacity 0");

    char why[256];
    config_problems(t, why, sizeof(why));
    tap_check(why[0] == '\0', "configuration fields of the negotiated features are sane", "%s", why);

    uint64_t count = k->has_count ? k->count : BT_DEFAULT_COUNT;
    return tap_check(t->cap >= BT_MIN_CAPACITY && count >= 1 && count <= BT_SCRATCH,
                     "the disk has room for the checks",
                     "capacity %lu sectors (need %u), blk_count=%lu (1 to %u)",
                     t->cap, BT_MIN_CAPACITY, count, BT_SCRATCH);
}

static void end_checks(struct blk_test *t)
{
    uint32_t s = virtio_mmio_status(t->d);
    tap_check(!t->b.broken && !(s & (VIRTIO_STATUS_DEVICE_NEEDS_RESET | VIRTIO_STATUS_FAILED)),
              "after all requests: every one answered, no DEVICE_NEEDS_RESET",
              "Status 0x%x%s%s", s, t->b.broken ? "; driver: " : "", t->b.broken ? t->b.broken : "");
    tap_check(virtio_mmio_reset(t->d), "reset: Status reads 0 after writing 0", "Status 0x%x",
              virtio_mmio_status(t->d));
}

void test_blk(struct guest *g)
{
    struct blk_test *t = &test;
    t->g = g;
    t->d = guest_need_device(g, VIRTIO_ID_BLOCK, "a virtio-blk device (device id 2)");
    if (!t->d)
        return;
    t->qemu = t->d->vendor_id == VIRTIO_MMIO_VENDOR_QEMU;
    tap_diag("virtio-blk at 0x%lx, GSI %u -> vector 0x%x, vendor id 0x%08x%s", t->d->base, t->d->irq,
             t->d->vector, t->d->vendor_id,
             t->qemu ? " (QEMU: known differences accepted with a diagnostic)" : "");
    if (g->cmd.blk.phase) {
        bt_phase(t);
        return;
    }
    tap_plan(SETUP_CHECKS + BT_DATA_CHECKS + BT_PROTO_CHECKS + BT_FRAME_CHECKS + BT_EXTENT_CHECKS +
             END_CHECKS);
    if (!setup_checks(t)) {
        tap_bail_out("the device cannot be tested");
        return;
    }
    bt_data_checks(t);
    bt_proto_checks(t);
    bt_frame_checks(t);
    bt_extent_checks(t);
    end_checks(t);
}
