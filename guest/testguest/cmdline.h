/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The kernel command line (hvm_start_info.cmdline_paddr): the virtio-mmio
 * devices, in Linux's syntax, and what the test guest is asked to do.
 */
#ifndef TESTGUEST_CMDLINE_H
#define TESTGUEST_CMDLINE_H

#include <stdbool.h>
#include <stdint.h>

#define CMDLINE_MAX_DEVICES 16
#define CMDLINE_MAX_ERRORS 4

struct cmdline_device {
    uint64_t size;
    uint64_t base;
    uint32_t irq;
};

/* test=blk (test_blk.c): what the host knows about the disk it gave, so
 * the guest can compare, and what the host's scripts ask it to do. */
struct cmdline_blk {
    bool has_sectors;          /* blk_sectors=N: the capacity, in sectors */
    uint64_t sectors;
    const char *serial;        /* blk_serial=S: GET_ID's answer (no blanks) */
    unsigned serial_len;
    bool has_ro;               /* blk_ro=0|1: whether VIRTIO_BLK_F_RO must be offered */
    bool ro;
    bool has_queues;           /* blk_queues=N: how many queues the device must have */
    uint64_t queues;
    bool has_host_seed;        /* blk_host_seed=K: the host wrote pattern K over */
    uint64_t host_seed;        /*   the first blk_count sectors before the run */
    bool has_seed;             /* blk_seed=K: the pattern the guest writes there */
    uint64_t seed;
    bool has_count;            /* blk_count=N: that region's length, in sectors */
    uint64_t count;
    const char *phase;         /* blk_phase=write|verify: the host scripts' modes */
    unsigned phase_len;
};

/* test=vsock (test_vsock.c): what the host's script set up. */
struct cmdline_vsock {
    bool has_cid;              /* vsock_cid=N: the guest_cid the device must report */
    uint64_t cid;
    bool has_port;             /* vsock_port=P: a host echo listener at <uds_path>_P */
    uint64_t port;
    bool has_refused;          /* vsock_refused=P: a port nobody listens on */
    uint64_t refused;
};

struct cmdline {
    /* The whole command line, NUL-terminated, for tests that parse keys
     * of their own (test_blkbench.c's bench_*=). */
    const char *line;
    struct cmdline_device dev[CMDLINE_MAX_DEVICES];
    unsigned ndev;
    unsigned dropped;          /* devices beyond CMDLINE_MAX_DEVICES */
    const char *test;          /* test=NAME: points into the command line */
    unsigned test_len;
    bool has_expect_id;        /* expect_id=N */
    uint32_t expect_id;
    struct cmdline_blk blk;    /* test=blk's keys */
    struct cmdline_vsock vsock; /* test=vsock's keys */
    /* Tokens that could not be parsed, for a TAP diagnostic. */
    const char *error[CMDLINE_MAX_ERRORS];
    unsigned error_len[CMDLINE_MAX_ERRORS];
    unsigned nerror;
};

/* Parses a NUL-terminated command line into *out. Malformed
 * virtio_mmio.device=, expect_id= and numeric blk_*= and vsock_*= tokens are listed in
 * out->error and otherwise ignored, as Linux ignores them. */
void cmdline_parse(const char *s, struct cmdline *out);

#endif
