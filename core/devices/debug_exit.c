/* SPDX-License-Identifier: Apache-2.0 */
#include "debug_exit.h"

#include <string.h>

static void de_read(void *opaque, uint16_t port, uint8_t *data, uint8_t size)
{
    (void)opaque;
    (void)port;
    memset(data, 0xff, size);
}

static void de_write(void *opaque, uint16_t port, const uint8_t *data, uint8_t size)
{
    (void)port;
    (void)size;
    struct debug_exit *d = opaque;
    d->exit(d->arg, data[0]);
}

struct io_device debug_exit_device(struct debug_exit *d)
{
    return (struct io_device){.name = "exit port", .base = DEBUG_EXIT_PORT, .len = 1,
                              .read = de_read, .write = de_write, .opaque = d};
}
