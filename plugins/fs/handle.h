/* SPDX-License-Identifier: Apache-2.0 */
/* The file-handle table: what OPEN, CREATE and OPENDIR hand the guest as
 * fh. An fh is (generation << 32) | slot index, never a host pointer or a
 * host descriptor number; a slot's generation moves on when RELEASE takes
 * its handle out, so a released or forged fh finds nothing (EBADF).
 *
 * A handle owns one real (not O_PATH) descriptor. refs counts the table
 * (until RELEASE) and each request using the handle, so a RELEASE racing a
 * READ on another queue closes the descriptor only after that READ.
 *
 * Threading: one mutex guards the table; a directory handle's own mutex
 * serializes the lseek() + getdents64() pairs of READDIR on its
 * descriptor, whose position is shared. */
#ifndef PLUGVM_FS_HANDLE_H
#define PLUGVM_FS_HANDLE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* The most handles open at once (one host descriptor each). */
#define FS_MAX_HANDLES (1u << 16)

struct fs_handle {
    int fd;
    bool dir;
    pthread_mutex_t lock;   /* dir handles: READDIR's position; files: locked */
    bool locked;            /* took an OFD lock (ops_lock.c): FLUSH drops them */
    uint64_t fh;
    unsigned refs;          /* guarded by the table's lock */
    struct fs_handle *next; /* fs_handles_drop_all()'s list */
};

struct fs_handle_slot {
    struct fs_handle *h;
    uint32_t gen;
    uint32_t next_free;
};

struct fs_handles {
    pthread_mutex_t lock;
    struct fs_handle_slot *slots; /* [0] unused: fh 0 is never issued */
    uint32_t nslots, cap, free_head, count;
};

void fs_handles_init(struct fs_handles *t);
/* Closes every descriptor; no request may be running. */
void fs_handles_fini(struct fs_handles *t);

/* A new handle owning fd; *fh its number. On failure (-ENFILE at
 * FS_MAX_HANDLES, -ENOMEM) fd is closed. */
int fs_handle_add(struct fs_handles *t, int fd, bool dir, uint64_t *fh);

/* The handle fh with one more ref, or NULL when fh is unknown or is a
 * directory handle where a file's is wanted (or the other way round). */
struct fs_handle *fs_handle_get(struct fs_handles *t, uint64_t fh, bool dir);
void fs_handle_put(struct fs_handles *t, struct fs_handle *h);

/* RELEASE/RELEASEDIR: fh leaves the table. 0 or -EBADF. */
int fs_handle_remove(struct fs_handles *t, uint64_t fh, bool dir);

/* Every handle leaves the table (DESTROY, device reset). */
void fs_handles_drop_all(struct fs_handles *t);

uint32_t fs_handles_count(struct fs_handles *t);

/* One handle for fs_handles_seed(). */
struct fs_handle_seed {
    int fd;      /* the reopened descriptor, or -1: not reopened (lost) */
    bool dir;
    uint64_t fh; /* slot 1 .. FS_MAX_HANDLES - 1, generation not 0 */
};

/* Snapshot restore: an empty table gets the handles of v[0..n) with
 * exactly their fh values. A seed with fd -1 leaves its slot free with the
 * generation moved on, so the guest's fh stays EBADF and is never issued
 * again. All or nothing: on error the table is unchanged and the
 * descriptors are still the caller's. Errors: -EBUSY the table is not
 * empty; -EINVAL an fh out of range, generation 0, or a slot twice;
 * -ENOMEM. */
int fs_handles_seed(struct fs_handles *t, const struct fs_handle_seed *v, uint32_t n);

#endif
