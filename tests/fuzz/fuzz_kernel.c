/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: any file given as a kernel. Loading must fail cleanly
 * or load inside guest RAM; never read or write out of bounds. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "boot/x86/kernel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct guest_mem mem;
    if (!mem.base && guest_mem_init(&mem, 64ull << 20))
        abort();
    struct x86_kernel_image k;
    char err[512];
    if (x86_kernel_load_buffer("fuzz", data, size, &mem, &k, err, sizeof(err)) == 0 &&
        (k.end > mem.size || k.start > k.end))
        abort();
    return 0;
}
