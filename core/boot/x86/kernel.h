/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kernel images for x86_64 guests: reading and loading into guest RAM.
 *
 * Accepted:
 *  - bzImage (Documentation/arch/x86/boot.rst): "HdrS" setup header,
 *    protocol >= 2.08 (payload_offset/payload_length). The compressed
 *    payload (gzip, bzip2, lzma, xz, lz4, zstd) is decompressed on the host
 *    with libarchive's raw format, and the ELF inside is loaded directly, so
 *    no guest time is spent decompressing.
 *  - ELF64 x86_64 executables (vmlinux, or any freestanding kernel).
 * Either kind may carry a PVH entry (ELF note XEN_ELFNOTE_PHYS32_ENTRY, type
 * 18, in a PT_NOTE segment): its 32-bit physical entry is reported.
 */
#ifndef PLUGVM_CORE_X86_KERNEL_H
#define PLUGVM_CORE_X86_KERNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <asm/bootparam.h>

#include "memory/guest_mem.h"

enum x86_kernel_format {
    X86_KERNEL_BZIMAGE = 1, /* bzImage: setup header + compressed ELF */
    X86_KERNEL_ELF = 2,     /* plain ELF64 */
};

struct x86_kernel_image {
    enum x86_kernel_format format;
    /* Physical address of the 64-bit entry (for vmlinux: startup_64, the
     * ELF entry translated through its PT_LOAD's p_vaddr -> p_paddr). */
    uint64_t entry64;
    /* Physical 32-bit PVH entry from XEN_ELFNOTE_PHYS32_ENTRY, 0 if none. */
    uint64_t pvh_entry;
    /* Guest-physical range the PT_LOAD segments occupy: [start, end). */
    uint64_t start, end;
    /* bzImage only: the setup header as read from the file (offset 0x1f1),
     * to be copied into boot_params.hdr. has_setup_header false for ELF. */
    bool has_setup_header;
    struct setup_header hdr;
    /* bzImage only: the payload's compression as libarchive names its
     * filter ("gzip", "xz", "lz4", "zstd", ...); "" for ELF. */
    char compression[16];
};

/*
 * Reads the kernel at `path` and loads its PT_LOAD segments into guest RAM
 * at their physical addresses (p_paddr), zero-filling p_memsz beyond
 * p_filesz. Returns 0, or -1 with a message in err (errlen bytes, always
 * NUL-terminated) that names the file and what is wrong: missing or
 * unreadable file, truncated file, bad magic, setup header protocol too old,
 * payload outside the file, unknown or corrupt compression, ELF that is not
 * x86_64 executable, a segment outside guest RAM, an overflowing segment
 * size. Never reads outside the file's bytes nor writes outside RAM.
 */
int x86_kernel_load(const char *path, const struct guest_mem *mem, struct x86_kernel_image *out,
                    char *err, size_t errlen);

/* The same on a file's contents already in memory (for tests and fuzzing);
 * `name` is used in messages. */
int x86_kernel_load_buffer(const char *name, const uint8_t *data, size_t size,
                           const struct guest_mem *mem, struct x86_kernel_image *out, char *err,
                           size_t errlen);

#endif
