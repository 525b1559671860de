/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Guest RAM: one host mapping, laid out in guest-physical space around the
 * x86 MMIO hole below 4 GiB. RAM up to X86_MMIO_HOLE_START is low memory;
 * the rest starts at 4 GiB. Devices' MMIO windows live in the hole.
 */
#ifndef PLUGVM_CORE_GUEST_MEM_H
#define PLUGVM_CORE_GUEST_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The 32-bit MMIO hole: [3 GiB, 4 GiB). It holds the IOAPIC (0xfec00000),
 * the LAPIC (0xfee00000) and plugvm's virtio-mmio windows. */
#define X86_MMIO_HOLE_START 0xC0000000ull
#define X86_MMIO_HOLE_END 0x100000000ull

#define GUEST_MEM_MAX_REGIONS 2

/* One contiguous piece of RAM: guest-physical [gpa, gpa + size) backed by
 * host memory at hva. */
struct guest_mem_region {
    uint64_t gpa;
    uint64_t size; /* bytes */
    uint8_t *hva;
};

struct guest_mem {
    uint8_t *base;     /* the whole host mapping */
    uint64_t size;     /* bytes of RAM in all */
    unsigned nregions; /* 1, or 2 when RAM extends past the hole */
    struct guest_mem_region region[GUEST_MEM_MAX_REGIONS];
    int backing_fd;    /* the memory file a restore mapped, or -1 (anonymous) */
    /* One bit per 4 KiB page of the mapping: given back to the host with
     * guest_mem_discard since the mapping was made, so that a snapshot
     * leaves it out even where the page would read as the memory file's
     * (a restored VM's MAP_PRIVATE RAM). Set only; a page written since
     * is present again, and guest_mem_save checks presence first. */
    _Atomic uint64_t *discarded;
};

/* Computes the region layout for `size` bytes of RAM without allocating
 * (hva fields are NULL). Used by guest_mem_init and by the e820 tests. */
void guest_mem_layout(struct guest_mem *m, uint64_t size);

/* Maps `size` bytes (a multiple of 4 KiB, > 0) of anonymous zeroed memory
 * and lays it out. 0 or -errno. */
int guest_mem_init(struct guest_mem *m, uint64_t size);
void guest_mem_fini(struct guest_mem *m);
/* Points a laid-out m (guest_mem_layout) at its host mapping `base`: the
 * regions follow each other in it. */
void guest_mem_place(struct guest_mem *m, uint8_t *base);

/* Host pointer for guest-physical [gpa, gpa + len) when the whole range is
 * inside one RAM region, else NULL (also on overflow). len 0 is allowed
 * for a gpa inside RAM. */
void *guest_mem_ptr(const struct guest_mem *m, uint64_t gpa, uint64_t len);

/* Writes RAM to fd (a new, empty file named `path` in messages) as a
 * snapshot's memory file: byte for byte, zero pages left as holes. 0, or
 * -1 with err. (guest_mem_file.c) */
int guest_mem_save(const struct guest_mem *m, int fd, const char *path, char *err, size_t errlen);
/* Guest RAM of `size` bytes backed by memory file fd, mapped MAP_PRIVATE:
 * the guest's writes stay in this process, the file is never written,
 * and nothing is read before the guest touches it, so the time does not
 * grow with `size`. Refused, with err naming `path`, when the file is not
 * exactly `size` bytes. 0 or -1. Freed with guest_mem_fini. */
int guest_mem_init_file(struct guest_mem *m, uint64_t size, int fd, const char *path, char *err,
                        size_t errlen);

/* While m (mapped by guest_mem_init_file from `path`) lives: a SIGBUS on
 * an address inside it (its file was truncated under the VM) prints one
 * line naming `path` and ends plugvm with status 1, instead of a crash
 * without a word; any other SIGBUS keeps its previous disposition.
 * Up to 64 mappings at once, one per restored VM of the process; the
 * SIGBUS handler is installed while any is watched. 0, or -1 (table full,
 * sigaction). Any thread. (guest_mem_sigbus.c) */
int guest_mem_watch_sigbus(const struct guest_mem *m, const char *path);
void guest_mem_unwatch_sigbus(const struct guest_mem *m);

/* Gives the host memory behind [hva, hva + len) back to the host
 * (madvise MADV_DONTNEED) and marks its pages discarded: only the whole
 * 4 KiB pages inside the range. The range must lie inside the mapping.
 * 0, -EINVAL (outside or overflowing: nothing done), -errno of madvise.
 * Any thread. (guest_mem_discard.c) */
int guest_mem_discard(const struct guest_mem *m, void *hva, uint64_t len);
/* Whether the page at byte `off` of the mapping was discarded. */
bool guest_mem_discarded(const struct guest_mem *m, uint64_t off);

/* Bytes of RAM below the hole (the low region's size). */
uint64_t guest_mem_low_size(const struct guest_mem *m);

#endif
