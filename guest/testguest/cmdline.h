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

struct cmdline {
    struct cmdline_device dev[CMDLINE_MAX_DEVICES];
    unsigned ndev;
    unsigned dropped;          /* devices beyond CMDLINE_MAX_DEVICES */
    const char *test;          /* test=NAME: points into the command line */
    unsigned test_len;
    bool has_expect_id;        /* expect_id=N */
    uint32_t expect_id;
    /* Tokens that could not be parsed, for a TAP diagnostic. */
    const char *error[CMDLINE_MAX_ERRORS];
    unsigned error_len[CMDLINE_MAX_ERRORS];
    unsigned nerror;
};

/* Parses a NUL-terminated command line into *out. Malformed
 * virtio_mmio.device= and expect_id= tokens are listed in out->error and
 * otherwise ignored, as Linux ignores them. */
void cmdline_parse(const char *s, struct cmdline *out);

#endif
