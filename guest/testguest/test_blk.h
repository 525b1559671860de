/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What test=blk's files share (test_blk.c runs them in turn): the device
 * under test, the data buffers, small request helpers, the sector layout.
 */
#ifndef TESTGUEST_TEST_BLK_H
#define TESTGUEST_TEST_BLK_H

#include <stdbool.h>
#include <stdint.h>

#include "blk.h"
#include "tests.h"

/* Sectors [0, blk_count) are the host's region (blk_host_seed=,
 * blk_seed=); the checks' own writes go from BT_SCRATCH up, within
 * BT_SCRATCH_LEN sectors; the last sector is used too. */
#define BT_SCRATCH 1024u
#define BT_SCRATCH_LEN 2048u
#define BT_MIN_CAPACITY (BT_SCRATCH + BT_SCRATCH_LEN + 1)
#define BT_DEFAULT_COUNT 64u
#define BT_BUF_BYTES (64u * 1024)
#define BT_BUF_SECTORS (BT_BUF_BYTES / BLK_SECTOR)

struct blk_test {
    struct guest *g;
    struct virtio_dev *d;
    struct blk b;
    /* VendorID says QEMU: where QEMU's virtio-blk is known to answer
     * otherwise than virtio 1.2, its answer passes with a diagnostic. */
    bool qemu;
    bool ro;            /* VIRTIO_BLK_F_RO negotiated */
    uint64_t cap;       /* capacity, sectors */
};

/* Data to write and room to read into, in guest RAM. */
extern uint8_t bt_wbuf[BT_BUF_BYTES];
extern uint8_t bt_rbuf[BT_BUF_BYTES];

/* One request of `type` at `sector` on queue 0 with len bytes at buf in
 * the direction the type calls for (none when len is 0). Returns the
 * status byte, or -1 (no completion). */
int bt_io(struct blk_test *t, uint32_t type, uint64_t sector, void *buf, uint32_t len);
/* Reads n sectors at `sector` into bt_rbuf, which is filled with 0xee
 * first so that bytes the device did not write show. */
int bt_read(struct blk_test *t, uint64_t sector, uint32_t n);

/* spec_ok, or on QEMU qemu_ok with a diagnostic naming the difference. */
bool bt_accept(struct blk_test *t, bool spec_ok, bool qemu_ok, const char *difference);
/* On a read-only device: skips the check `desc` (which needs writes) and
 * returns true. */
bool bt_skip_ro(struct blk_test *t, const char *desc);
/* Whether n bytes at p are all `byte`. */
bool bt_all(const uint8_t *p, uint32_t n, uint8_t byte);

/* The groups of checks, each printing exactly its count of TAP lines. */
#define BT_DATA_CHECKS 20
void bt_data_checks(struct blk_test *t);
#define BT_PROTO_CHECKS 14
void bt_proto_checks(struct blk_test *t);
#define BT_EXTENT_CHECKS 9
void bt_extent_checks(struct blk_test *t);
#define BT_FRAME_CHECKS 3
void bt_frame_checks(struct blk_test *t);

/* blk_phase=write|verify (test_blk_phase.c), instead of the checks. */
void bt_phase(struct blk_test *t);

#endif
