/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the tests share: the command line and the devices found on it. Each
 * test prints its own TAP plan and lines; main.c prints the version line
 * before and ends the VM after.
 */
#ifndef TESTGUEST_TESTS_H
#define TESTGUEST_TESTS_H

#include "cmdline.h"
#include "virtio_mmio.h"

struct guest {
    struct cmdline cmd;
    /* The command line's transports with a device behind them (DeviceID
     * not 0), in command-line order, each with its GSI routed. */
    struct virtio_dev dev[CMDLINE_MAX_DEVICES];
    unsigned ndev;
};

/* The first device, or with id != 0 the first of that device id; NULL
 * after printing `1..1` and a `not ok` saying why there is none. */
struct virtio_dev *guest_need_device(struct guest *g, uint32_t id, const char *what);

void test_boot(struct guest *g);
void test_transport(struct guest *g);
void test_rng(struct guest *g);
/* test=snapshot (test_snapshot.c): counts and checks a disk without end,
 * for snapshot and restore tests. */
void test_snapshot(struct guest *g);
void test_blk(struct guest *g);
void test_blkbench(struct guest *g);
/* test=vsock (test_vsock.c): the vsock device against a host echo listener. */
void test_vsock(struct guest *g);

#endif
