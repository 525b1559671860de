/* SPDX-License-Identifier: Apache-2.0 */
#include "acpi_sleep.h"

#include <string.h>

#define SLP_TYP_SHIFT 2
#define SLP_TYP_MASK 0x1c
#define SLP_EN 0x20

static void sleep_read(void *opaque, uint16_t port, uint8_t *data, uint8_t size)
{
    (void)opaque;
    (void)port;
    memset(data, 0, size);
}

static void sleep_write(void *opaque, uint16_t port, const uint8_t *data, uint8_t size)
{
    (void)size;
    struct acpi_sleep *s = opaque;
    /* A wider access starting at the status register must not count as a
     * control write; one starting at the control register carries it in
     * its first byte. */
    if (port != ACPI_SLEEP_CONTROL_PORT)
        return;
    uint8_t v = data[0];
    if ((v & SLP_EN) && ((v & SLP_TYP_MASK) >> SLP_TYP_SHIFT) == ACPI_SLP_TYP_S5)
        s->poweroff(s->arg);
}

struct io_device acpi_sleep_device(struct acpi_sleep *s)
{
    return (struct io_device){.name = "ACPI sleep registers", .base = ACPI_SLEEP_CONTROL_PORT,
                              .len = 2, .read = sleep_read, .write = sleep_write, .opaque = s};
}
