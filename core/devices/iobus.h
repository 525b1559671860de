/* SPDX-License-Identifier: Apache-2.0 */
/*
 * x86 port I/O bus: dispatches a vCPU's IN/OUT to the device that claims
 * the port. Unclaimed ports read as all ones (a floating ISA bus) and
 * ignore writes; each is counted so `--verbose` can list them.
 */
#ifndef PLUGVM_CORE_IOBUS_H
#define PLUGVM_CORE_IOBUS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct io_device {
    const char *name;
    uint16_t base, len; /* ports [base, base + len) */
    /* size: 1, 2 or 4 bytes; data little-endian. Called on vCPU threads. */
    void (*read)(void *opaque, uint16_t port, uint8_t *data, uint8_t size);
    void (*write)(void *opaque, uint16_t port, const uint8_t *data, uint8_t size);
    void *opaque;
};

#define IOBUS_MAX_DEVICES 16

struct iobus {
    unsigned n;
    struct io_device dev[IOBUS_MAX_DEVICES];
    atomic_uint unclaimed[65536]; /* accesses per unclaimed port */
};

/* Claims a port range; -1 when it overlaps another or the bus is full. */
int iobus_add(struct iobus *b, const struct io_device *d);
/* One IN or OUT of `size` bytes at `port`. */
void iobus_access(struct iobus *b, uint16_t port, uint8_t *data, uint8_t size, bool is_write);
/* Calls fn for every unclaimed port that was accessed, in port order. */
void iobus_each_unclaimed(struct iobus *b, void (*fn)(uint16_t port, unsigned count, void *arg),
                          void *arg);

#endif
