/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test=snapshot: a guest for snapshot and restore tests. It counts in
 * guest RAM, without end; for each count it writes a 4 KiB block of a
 * pattern made from the count to a virtio-blk disk, reads it back, checks
 * it, checks that the block of the count before still holds its pattern
 * (what the disk kept must agree with what RAM remembers), and prints
 * `count N` on COM1. The host snapshots and restores it at any point:
 * after a restore the counting goes on from the saved count, with no
 * number missing. A failed check prints `not ok` and stops the VM.
 */
#include <stdbool.h>
#include <stdint.h>

#include "blk.h"
#include "blk_pattern.h"
#include "console.h"
#include "lib.h"
#include "machine.h"
#include "tap.h"
#include "tests.h"

#define BLOCK_SECTORS 8u  /* 4 KiB */
#define BLOCKS 256u       /* the loop's blocks, from sector 0 */

static struct blk dev;
static struct blk_req req;
static uint8_t wbuf[BLOCK_SECTORS * BLK_SECTOR] __attribute__((aligned(4096)));
static uint8_t rbuf[BLOCK_SECTORS * BLK_SECTOR] __attribute__((aligned(4096)));
/* The counter lives in guest RAM (it is a static): a snapshot keeps it. */
static volatile uint64_t counter;

static uint64_t block_of(uint64_t n)
{
    return (n % BLOCKS) * BLOCK_SECTORS;
}

static int io(uint32_t type, uint64_t sector, void *buf)
{
    blk_req_init(&req, type, sector);
    if (!blk_req_data(&req, buf, BLOCK_SECTORS * BLK_SECTOR))
        return -1;
    return blk_run(&dev, 0, &req);
}

/* Reads the block of count n and checks its pattern; false with a line
 * saying why. */
static bool check(uint64_t n, const char *what)
{
    memset(rbuf, 0xee, sizeof(rbuf));
    int s = io(VIRTIO_BLK_T_IN, block_of(n), rbuf);
    uint32_t bad = s == VIRTIO_BLK_S_OK ? blk_pattern_check(rbuf, block_of(n), BLOCK_SECTORS, n)
                                        : 0;
    if (s == VIRTIO_BLK_S_OK && bad == BLOCK_SECTORS)
        return true;
    tap_check(false, what, "count %lu: %s at sector %lu", n,
              s == VIRTIO_BLK_S_OK ? "wrong pattern" : blk_status_name(s), block_of(n) + bad);
    return false;
}

void test_snapshot(struct guest *g)
{
    struct virtio_dev *d = guest_need_device(g, VIRTIO_ID_BLOCK, "a virtio-blk device");
    if (!d)
        return;
    const char *why = blk_init(&dev, d, blk_wanted_features(), 1);
    if (why) {
        tap_plan(1);
        tap_check(false, "virtio-blk initialised", "%s", why);
        return;
    }
    if (dev.cfg.capacity < BLOCKS * BLOCK_SECTORS) {
        tap_plan(1);
        tap_check(false, "a disk of at least 1 MiB", "%lu sectors", dev.cfg.capacity);
        return;
    }
    tap_plan(1);
    tap_diag("snapshot loop: count, write block, read it back, check the one before");
    for (;;) {
        uint64_t n = ++counter;
        blk_pattern_fill(wbuf, block_of(n), BLOCK_SECTORS, n);
        int s = io(VIRTIO_BLK_T_OUT, block_of(n), wbuf);
        if (s != VIRTIO_BLK_S_OK) {
            tap_check(false, "block written", "count %lu: %s", n, blk_status_name(s));
            return;
        }
        if (!check(n, "block reads back") || (n > 1 && !check(n - 1, "previous block kept")))
            return;
        console_printf("count %lu\n", n);
    }
}
