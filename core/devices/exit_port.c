/* SPDX-License-Identifier: Apache-2.0 */
#include "exit_port.h"

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
    struct exit_port *d = opaque;
    d->exit(d->arg, data[0]);
}

struct io_device exit_port_device(struct exit_port *d)
{
    return (struct io_device){.name = "exit port", .base = EXIT_PORT_NUMBER, .len = 1,
                              .read = de_read, .write = de_write, .opaque = d};
}
