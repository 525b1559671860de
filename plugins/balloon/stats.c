/* SPDX-License-Identifier: Apache-2.0 */
#include "stats.h"

#include <string.h>

#define ENTRY 10 /* sizeof(struct virtio_balloon_stat): packed */

void balloon_stats_read(struct balloon_stats *s, const struct plugvm_chain *c)
{
    uint8_t e[ENTRY];
    unsigned have = 0;
    s->partial = 0;
    for (uint16_t i = 0; i < c->niov; i++) {
        const struct plugvm_iov *v = &c->iov[i];
        if (v->writable)
            break;
        const uint8_t *b = v->addr;
        for (uint32_t k = 0; k < v->len; k++) {
            e[have++] = b[k];
            if (have < ENTRY)
                continue;
            have = 0;
            unsigned tag = (unsigned)e[0] | (unsigned)e[1] << 8;
            uint64_t val = 0;
            for (int j = 7; j >= 0; j--)
                val = val << 8 | e[2 + j];
            if (tag >= BALLOON_STATS_TAGS) {
                s->unknown++;
                continue;
            }
            s->value[tag] = val;
            s->have |= 1u << tag;
        }
    }
    s->partial = have;
    s->updates++;
}

const char *balloon_stats_name(unsigned t)
{
    /* Firecracker's GET /balloon/statistics members, then Linux's later
     * tags as its virtio_balloon.h spells them. */
    static const char *const names[BALLOON_STATS_TAGS] = {
        "swap_in", "swap_out", "major_faults", "minor_faults", "free_memory", "total_memory",
        "available_memory", "disk_caches", "hugetlb_allocations", "hugetlb_failures",
        "oom_kills", "alloc_stalls", "async_scans", "direct_scans", "async_reclaims",
        "direct_reclaims",
    };
    return t < BALLOON_STATS_TAGS ? names[t] : NULL;
}
