/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Guest RAM to and from a snapshot's memory file (docs/SNAPSHOT.md): the
 * file is RAM as it is, byte for byte, with holes where RAM is zero; a
 * restore maps it copy-on-write, so nothing is read until the guest
 * touches it and no restore writes to the snapshot.
 */
#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "memory/guest_mem.h"
#include "util/error.h"
#include "util/fileio.h"

#define PAGE 4096u

static bool page_is_zero(const uint8_t *p)
{
    const uint64_t *w = (const uint64_t *)p;
    for (unsigned i = 0; i < PAGE / 8; i++)
        if (w[i])
            return false;
    return true;
}

/* Which pages may hold data, without touching them: reading every page of
 * a large, mostly untouched guest faulted each one in (84 ms at 2 GiB for
 * 164 KiB of data). /proc/self/pagemap says which pages are present or
 * swapped; any other page of anonymous RAM was never written and reads as
 * zero. Under a restored VM's copy-on-write mapping an absent page holds
 * the memory file's bytes, which are data only inside the file's data
 * extents (SEEK_DATA). Without pagemap every page is a candidate. */
struct page_scan {
    int pagemap;            /* or -1 */
    uint64_t entries[512];  /* pagemap entries of the 2 MiB at `first` */
    uint64_t first;         /* guest offset of entries[0], or UINT64_MAX */
    uint64_t data_start, data_end; /* the backing file's current data extent */
    bool no_more_data;
};

#define PM_PRESENT (1ull << 63)
#define PM_SWAPPED (1ull << 62)

static bool may_hold_data(const struct guest_mem *m, struct page_scan *s, uint64_t off)
{
    if (s->pagemap < 0)
        return true;
    if (s->first == UINT64_MAX || off < s->first || off >= s->first + 512ull * PAGE) {
        s->first = off;
        off_t at = (off_t)(((uintptr_t)(m->base + off) / PAGE) * 8);
        ssize_t n = pread(s->pagemap, s->entries, sizeof(s->entries), at);
        if (n != (ssize_t)sizeof(s->entries) && off + 512ull * PAGE <= m->size) {
            close(s->pagemap); /* unreadable: look at every page */
            s->pagemap = -1;
            return true;
        }
    }
    uint64_t e = s->entries[(off - s->first) / PAGE];
    if (e & (PM_PRESENT | PM_SWAPPED))
        return true;
    /* Given back to the host (a balloon's page) and not written since:
     * its contents are gone, whatever the memory file under it holds. */
    if (m->backing_fd < 0 || guest_mem_discarded(m, off))
        return false;
    if (s->no_more_data)
        return false;
    if (off >= s->data_end || off < s->data_start) {
        off_t d = lseek(m->backing_fd, (off_t)off, SEEK_DATA);
        if (d < 0) {
            s->no_more_data = true;
            return false;
        }
        off_t h = lseek(m->backing_fd, d, SEEK_HOLE);
        s->data_start = (uint64_t)d;
        s->data_end = h < 0 ? m->size : (uint64_t)h;
    }
    return off >= s->data_start && off < s->data_end;
}

int guest_mem_save(const struct guest_mem *m, int fd, const char *path, char *err, size_t errlen)
{
    /* Runs of non-zero pages, written as they are; zero pages become
     * holes by skipping them and setting the size at the end. */
    struct page_scan scan = {.first = UINT64_MAX};
    scan.pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    uint64_t run = 0;
    bool in_run = false;
    int e = 0;
    for (uint64_t off = 0; off <= m->size && !e; off += PAGE) {
        bool data = off < m->size && may_hold_data(m, &scan, off) &&
                    !page_is_zero(m->base + off);
        if (data && !in_run) {
            run = off;
            in_run = true;
        } else if (!data && in_run) {
            if (pwrite_all(fd, m->base + run, (size_t)(off - run), (off_t)run))
                e = errno;
            in_run = false;
        }
    }
    if (scan.pagemap >= 0)
        close(scan.pagemap);
    if (e)
        return pv_fail(err, errlen, "%s: write: %s", path, strerror(e));
    if (ftruncate(fd, (off_t)m->size))
        return pv_fail(err, errlen, "%s: cannot set its size: %s", path, strerror(errno));
    return 0;
}

int guest_mem_init_file(struct guest_mem *m, uint64_t size, int fd, const char *path, char *err,
                        size_t errlen)
{
    struct stat st;
    if (fstat(fd, &st))
        return pv_fail(err, errlen, "%s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != size)
        return pv_fail(err, errlen, "%s: %llu bytes; the state file says guest RAM is %llu bytes",
                       path, (unsigned long long)st.st_size, (unsigned long long)size);
    if (size == 0 || (size & (PAGE - 1)))
        return pv_fail(err, errlen, "%s: guest RAM of %llu bytes is not whole pages", path,
                       (unsigned long long)size);
    guest_mem_layout(m, size);
    /* The same 2 MiB alignment as fresh RAM (guest_mem_init): a
     * reservation, then the file mapped over its aligned start. */
    const uint64_t huge = 2ull << 20;
    uint8_t *p = mmap(NULL, size + huge, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                      -1, 0);
    if (p == MAP_FAILED)
        return pv_fail(err, errlen, "cannot reserve %llu bytes for guest RAM: %s",
                       (unsigned long long)size, strerror(errno));
    uint8_t *start = (uint8_t *)(((uintptr_t)p + huge - 1) & ~(uintptr_t)(huge - 1));
    if (mmap(start, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED | MAP_NORESERVE, fd, 0) ==
        MAP_FAILED) {
        int e = errno;
        munmap(p, size + huge);
        return pv_fail(err, errlen, "%s: cannot map it: %s", path, strerror(e));
    }
    if (start > p)
        munmap(p, (size_t)(start - p));
    if (start + size < p + size + huge)
        munmap(start + size, (size_t)((p + size + huge) - (start + size)));
    guest_mem_place(m, start);
    m->backing_fd = fd;
    guest_mem_watch_sigbus(m, path);
    return 0;
}
