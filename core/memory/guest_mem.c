/* SPDX-License-Identifier: Apache-2.0 */
#include "guest_mem.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

void guest_mem_layout(struct guest_mem *m, uint64_t size)
{
    memset(m, 0, sizeof(*m));
    m->backing_fd = -1;
    m->size = size;
    uint64_t low = size < X86_MMIO_HOLE_START ? size : X86_MMIO_HOLE_START;
    m->region[0] = (struct guest_mem_region){.gpa = 0, .size = low};
    m->nregions = 1;
    if (size > low) {
        m->region[1] = (struct guest_mem_region){.gpa = X86_MMIO_HOLE_END, .size = size - low};
        m->nregions = 2;
    }
}

int guest_mem_init(struct guest_mem *m, uint64_t size)
{
    if (size == 0 || (size & 0xfff))
        return -EINVAL;
    guest_mem_layout(m, size);
    /* A 2 MiB-aligned start, so that transparent huge pages can back guest
     * RAM from its first byte: KVM maps a guest 2 MiB page with one NPT/EPT
     * entry only when the host page under it is huge and the guest-physical
     * and host addresses agree modulo 2 MiB. Over-allocate, then trim. */
    const uint64_t huge = 2ull << 20;
    if (size > UINT64_MAX - huge)
        return -EINVAL;
    uint8_t *p = mmap(NULL, size + huge, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return -errno;
    uint8_t *start = (uint8_t *)(((uintptr_t)p + huge - 1) & ~(uintptr_t)(huge - 1));
    if (start > p)
        munmap(p, (size_t)(start - p));
    if (start + size < p + size + huge)
        munmap(start + size, (size_t)((p + size + huge) - (start + size)));
    /* Harmless where THP is off. */
    (void)madvise(start, size, MADV_HUGEPAGE);
    guest_mem_place(m, start);
    return 0;
}

void guest_mem_place(struct guest_mem *m, uint8_t *base)
{
    m->base = base;
    /* 32 KiB per GiB of RAM; NULL (no bitmap) only costs a snapshot the
     * discarded pages of a restored VM being written out. */
    m->discarded = calloc((m->size / 4096 + 63) / 64, sizeof(uint64_t));
    uint64_t off = 0;
    for (unsigned i = 0; i < m->nregions; i++) {
        m->region[i].hva = m->base + off;
        off += m->region[i].size;
    }
}

void guest_mem_fini(struct guest_mem *m)
{
    if (m->base && m->backing_fd >= 0)
        guest_mem_unwatch_sigbus(m);
    if (m->base)
        munmap(m->base, m->size);
    m->base = NULL;
    free((void *)m->discarded);
    m->discarded = NULL;
}

void *guest_mem_ptr(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
    for (unsigned i = 0; i < m->nregions; i++) {
        const struct guest_mem_region *r = &m->region[i];
        if (gpa < r->gpa)
            continue;
        uint64_t off = gpa - r->gpa;
        if (off >= r->size && !(off == r->size && len == 0 && r->size == 0))
            continue;
        if (len > r->size - off)
            return NULL;
        return r->hva ? r->hva + off : NULL;
    }
    return NULL;
}

uint64_t guest_mem_low_size(const struct guest_mem *m)
{
    return m->region[0].size;
}
