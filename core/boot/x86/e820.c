/* SPDX-License-Identifier: Apache-2.0 */
#include "e820.h"

#include "layout.h"

size_t x86_e820_build(const struct guest_mem *m, struct e820_entry *out)
{
    size_t n = 0;
    uint64_t low = guest_mem_low_size(m);
    out[n++] = (struct e820_entry){0, X86_EBDA_START, E820_RAM};
    out[n++] = (struct e820_entry){X86_EBDA_START, X86_EBDA_END - X86_EBDA_START, E820_RESERVED};
    out[n++] = (struct e820_entry){X86_RESERVED_START, X86_HIGH_MEMORY - X86_RESERVED_START,
                                   E820_RESERVED};
    if (low > X86_HIGH_MEMORY)
        out[n++] = (struct e820_entry){X86_HIGH_MEMORY, low - X86_HIGH_MEMORY, E820_RAM};
    for (unsigned i = 1; i < m->nregions; i++)
        out[n++] = (struct e820_entry){m->region[i].gpa, m->region[i].size, E820_RAM};
    return n;
}
