/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: any sequence of register reads and writes, of any
 * width at any offset, against the virtio-mmio transport with a device
 * that pops and pushes whatever its queue holds on every notify. Input:
 * records of {offset u16, width u8, write u8, value u64}; RAM starts
 * zeroed and the driver's writes point the queues anywhere. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "virtio/mmio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct virtio_mmio t;
static bool active;

/* Refuses a driver that accepted device feature 0, so that inputs reach
 * a failed activate too. */
static int f_activate(void *d, uint64_t f)
{
    (void)d;
    if (f & 1)
        return -5;
    active = true;
    return 0;
}
static void f_reset(void *d)
{
    (void)d;
    active = false;
}
static void f_notify(void *d, uint32_t q)
{
    (void)d;
    /* A notify for a device that was never activated, or whose activate
     * failed (it used to get through with DRIVER_OK left standing). */
    if (!active)
        abort();
    struct plugvm_chain c;
    while (virtq_pop(&t.vq[q], &c) == 1)
        virtq_push(&t.vq[q], &c, c.writable_bytes);
    if (virtq_should_interrupt(&t.vq[q]))
        virtio_mmio_interrupt(&t, VIRTIO_MMIO_INT_VRING);
}
static void f_cfg_read(void *d, uint32_t off, void *data, uint32_t len)
{
    (void)d;
    if (off + len > 16)
        abort();
    memset(data, 0x42, len);
}
static void f_cfg_write(void *d, uint32_t off, const void *data, uint32_t len)
{
    (void)d;
    (void)data;
    if (off + len > 16)
        abort();
}
static void f_irq(void *d) { (void)d; }

static const struct virtio_mmio_backend be = {f_activate, f_reset, f_notify, f_cfg_read,
                                              f_cfg_write, f_irq};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct guest_mem mem;
    if (!mem.base && guest_mem_init(&mem, 1u << 20))
        abort();
    memset(mem.base, 0, 1u << 20);
    if (virtio_mmio_init(&t, &mem, &be, NULL, 2, 0xffff, 2, 256, 16))
        abort();
    active = false;
    static const uint32_t widths[] = {1, 2, 4, 8};
    for (size_t i = 0; i + 12 <= size; i += 12) {
        uint16_t off;
        uint64_t v;
        memcpy(&off, data + i, 2);
        memcpy(&v, data + i + 4, 8);
        uint32_t w = widths[data[i + 2] & 3];
        off %= VIRTIO_MMIO_WINDOW + 16;
        if (data[i + 3] & 1)
            virtio_mmio_write(&t, off, (uint8_t *)&v, w);
        else
            virtio_mmio_read(&t, off, (uint8_t *)&v, w);
        if (data[i + 3] & 2) /* the guest scribbles on its rings meanwhile */
            memcpy(mem.base + (v % ((1u << 20) - 8)), &v, 8);
    }
    f_reset(NULL);
    virtio_mmio_destroy(&t);
    return 0;
}
