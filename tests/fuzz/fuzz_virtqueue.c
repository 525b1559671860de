/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: the split-virtqueue walker over rings a guest filled
 * with anything. The input's first bytes pick the queue size and features;
 * the rest becomes guest RAM holding the descriptor table, the rings and
 * the buffers. Every chain handed out must lie in RAM and be pushed back. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "virtio/virtqueue.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RAM (64u << 10)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct guest_mem mem;
    if (!mem.base && guest_mem_init(&mem, RAM))
        abort();
    if (size < 2)
        return 0;
    uint16_t num = (uint16_t)(1u << (data[0] % 8)); /* 1..128 */
    bool event_idx = data[1] & 1, indirect = data[1] & 2;
    memset(mem.base, 0, RAM);
    memcpy(mem.base, data + 2, size - 2 < RAM ? size - 2 : RAM);
    struct virtq q;
    virtq_init(&q);
    /* Table at 0, avail ring at 0x1000, used ring at 0x2000. */
    if (virtq_setup(&q, &mem, num, 0, 0x1000, 0x2000, event_idx, indirect))
        abort();
    struct plugvm_chain c;
    for (int i = 0; i < 2 * num + 2; i++) {
        int rc = virtq_pop(&q, &c);
        if (rc != 1)
            break;
        for (uint16_t k = 0; k < c.niov; k++) {
            uint8_t *p = c.iov[k].addr;
            if (p < mem.base || p + c.iov[k].len > mem.base + RAM)
                abort();
            if (c.iov[k].writable && c.iov[k].len)
                p[c.iov[k].len - 1] ^= 1; /* touch: ASan checks the bound */
        }
        if (virtq_push(&q, &c, c.writable_bytes))
            abort();
        virtq_should_interrupt(&q);
    }
    virtq_destroy(&q);
    return 0;
}
