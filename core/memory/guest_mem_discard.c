/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Guest RAM given back to the host (include/plugvm/host.h discard_ram):
 * what a virtio-balloon inflates and what the guest's free page reporting
 * hands over. The range is checked against the mapping, not trusted: the
 * plugin got it from a guest.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>

#include "memory/guest_mem.h"

#define PAGE 4096u

int guest_mem_discard(const struct guest_mem *m, void *hva, uint64_t len)
{
    uintptr_t start = (uintptr_t)hva, base = (uintptr_t)m->base;
    if (!m->base || start < base || len > m->size || start - base > m->size - len)
        return -EINVAL;
    /* Whole pages inside the range only: a partial page may hold data the
     * guest did not give up. */
    uint64_t first = (start - base + PAGE - 1) / PAGE, end = (start - base + len) / PAGE;
    if (first >= end)
        return 0;
    /* MADV_DONTNEED, not MADV_REMOVE: anonymous RAM is freed by it, and a
     * restored VM's RAM is a MAP_PRIVATE mapping of the snapshot's memory
     * file, where it frees the process's private copy (its RSS) and the
     * page reads as the file's again; the file's page-cache copy is clean
     * and shared by every VM restored from it, for the host's reclaim to
     * take, and is never punched (a restore never writes its snapshot).
     * Under a transparent huge page it splits the huge page's mapping: the
     * 4 KiB pages leave the RSS at once, and the kernel frees them from
     * the huge page when it splits it (deferred, under memory pressure). */
    if (madvise(m->base + first * PAGE, (size_t)((end - first) * PAGE), MADV_DONTNEED))
        return -errno;
    if (m->discarded)
        for (uint64_t p = first; p < end; p++)
            atomic_fetch_or_explicit(&m->discarded[p / 64], 1ull << (p % 64), memory_order_relaxed);
    return 0;
}

bool guest_mem_discarded(const struct guest_mem *m, uint64_t off)
{
    uint64_t p = off / PAGE;
    return m->discarded && off < m->size &&
           (atomic_load_explicit(&m->discarded[p / 64], memory_order_relaxed) >> (p % 64)) & 1;
}
