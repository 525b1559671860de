/* SPDX-License-Identifier: Apache-2.0 */
#include "iobus.h"

#include <string.h>

int iobus_add(struct iobus *b, const struct io_device *d)
{
    if (b->n == IOBUS_MAX_DEVICES || d->len == 0 || (uint32_t)d->base + d->len > 65536)
        return -1;
    for (unsigned i = 0; i < b->n; i++)
        if (d->base < b->dev[i].base + b->dev[i].len && b->dev[i].base < d->base + d->len)
            return -1;
    b->dev[b->n++] = *d;
    return 0;
}

void iobus_access(struct iobus *b, uint16_t port, uint8_t *data, uint8_t size, bool is_write)
{
    for (unsigned i = 0; i < b->n; i++) {
        struct io_device *d = &b->dev[i];
        if (port >= d->base && port - d->base < d->len) {
            if (is_write)
                d->write(d->opaque, port, data, size);
            else
                d->read(d->opaque, port, data, size);
            return;
        }
    }
    atomic_fetch_add_explicit(&b->unclaimed[port], 1, memory_order_relaxed);
    if (!is_write)
        memset(data, 0xff, size);
}

void iobus_each_unclaimed(struct iobus *b, void (*fn)(uint16_t port, unsigned count, void *arg),
                          void *arg)
{
    for (uint32_t p = 0; p < 65536; p++) {
        unsigned c = atomic_load_explicit(&b->unclaimed[p], memory_order_relaxed);
        if (c)
            fn((uint16_t)p, c, arg);
    }
}
