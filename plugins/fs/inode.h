/* SPDX-License-Identifier: Apache-2.0 */
/* The inode table: every host inode the guest holds a nodeid for.
 *
 * A record holds the inode as an O_PATH|O_NOFOLLOW descriptor, so the host
 * inode stays pinned (its (st_dev, st_ino) cannot be reused while the guest
 * knows it) and every operation on it is an *at() call on that descriptor,
 * never a path. Records are found by nodeid and by (st_dev, st_ino).
 *
 * A nodeid is (generation << 32) | slot index: an index into this table and
 * the generation the slot had when the record went in, never a host
 * pointer. A slot's generation changes when its record leaves the table,
 * so a forgotten or forged nodeid finds nothing (ESTALE) even after the
 * slot is reused. The root is slot 1 with generation 0: FUSE_ROOT_ID.
 *
 * Counting: nlookup is FUSE's lookup count (one per entry reply, minus
 * what FORGET says); refs counts the table itself (while nlookup > 0) and
 * each request using the record, so a FORGET racing a request on another
 * queue never closes a descriptor that request is using: the record leaves
 * the table at once and is freed by the last fs_inode_put().
 *
 * Snapshots (session.c) need no field here: how to find an inode again (a
 * file handle, a path) is read from its descriptor when the session is
 * saved, and fs_inodes_seed() rebuilds a table with the same nodeids.
 *
 * Threading: one mutex guards the table; every function may be called from
 * any thread. */
#ifndef PLUGVM_FS_INODE_H
#define PLUGVM_FS_INODE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

/* The most inodes the guest may hold at once: each is one host
 * descriptor, so the process's RLIMIT_NOFILE usually binds first. */
#define FS_MAX_INODES (1u << 20)

struct fs_inode {
    int fd;           /* O_PATH|O_NOFOLLOW, owned by the record */
    dev_t dev;        /* the key, with ino */
    ino_t ino;
    mode_t type;      /* S_IFMT bits: an inode never changes type */
    uint64_t nodeid;
    /* Guarded by the table's lock: */
    uint64_t nlookup;
    unsigned refs;
    bool hashed;      /* findable by nodeid and (dev, ino) */
    struct fs_inode *hnext;
};

struct fs_inode_slot {
    struct fs_inode *ino;
    uint32_t gen;
    uint32_t next_free;
};

struct fs_inodes {
    pthread_mutex_t lock;
    struct fs_inode_slot *slots; /* [0] unused, [1] the root */
    uint32_t nslots, cap, free_head;
    struct fs_inode **buckets;
    uint32_t nbuckets; /* a power of two */
    uint32_t count;
};

/* The table with the root in slot 1; takes root_fd. 0 or -ENOMEM. */
int fs_inodes_init(struct fs_inodes *t, int root_fd, const struct stat *st);
/* Closes every descriptor; no request may be running. */
void fs_inodes_fini(struct fs_inodes *t);

/* The record of nodeid with one more ref, or NULL when nodeid is not in
 * the table (never issued, forgotten, or forged). */
struct fs_inode *fs_inode_get(struct fs_inodes *t, uint64_t nodeid);
/* Drops a ref from fs_inode_get()/fs_inode_add(); frees a record that has
 * left the table when it was the last. NULL is ignored. */
void fs_inode_put(struct fs_inodes *t, struct fs_inode *i);

/* One lookup reference on the inode fd refers to (st its fstat): an
 * existing record of (st_dev, st_ino) gets nlookup + 1 and fd is closed,
 * otherwise a new record takes fd. With must_exist, a missing record is
 * -ENOENT instead (fd closed): how LOOKUP of ".." never issues a nodeid
 * for a directory the guest did not reach from the root. On success
 * *nodeid is the record's nodeid; on any failure fd is closed. Errors:
 * -ENOENT, -ENFILE (table full), -ENOMEM. */
int fs_inode_add(struct fs_inodes *t, int fd, const struct stat *st, bool must_exist,
                 uint64_t *nodeid);

/* One more lookup reference on a record the caller holds (LOOKUP of ".").
 * -ESTALE when it left the table meanwhile. */
int fs_inode_ref(struct fs_inodes *t, struct fs_inode *i);

/* FORGET: nlookup minus n (to zero at least); at zero the record leaves the
 * table. Unknown nodeids and the root are ignored. */
void fs_inode_forget(struct fs_inodes *t, uint64_t nodeid, uint64_t n);

/* Every record but the root leaves the table (DESTROY, device reset);
 * records a request is using are freed by its fs_inode_put(). */
void fs_inodes_drop_all(struct fs_inodes *t);

/* The nodeid of the record of (dev, ino), or 0 when there is none. */
uint64_t fs_inode_find(struct fs_inodes *t, dev_t dev, ino_t ino);

/* One record for fs_inodes_seed(). */
struct fs_inode_seed {
    int fd;           /* O_PATH|O_NOFOLLOW descriptor, or -1: not found again */
    dev_t dev;
    ino_t ino;
    mode_t type;
    uint64_t nodeid;  /* slot 2 .. FS_MAX_INODES - 1, generation not 0 */
    uint64_t nlookup; /* at least 1 */
};

/* Snapshot restore: a table that holds only the root gets the records of
 * v[0..n) with exactly their nodeids and nlookup. A seed with fd -1 (an
 * inode the guest knows but that was not found again) leaves its slot
 * free with the generation moved on, so the guest's nodeid for it stays
 * ESTALE and is never issued again. All or nothing: on error the table is
 * unchanged and the descriptors are still the caller's; on success the
 * records own them. Errors: -EBUSY the table holds more than the root;
 * -EINVAL a nodeid that is the root's, out of range, generation 0, or a
 * slot twice; -EEXIST two records (or one and the root) with the same
 * (dev, ino); *bad is then the index in v. -ENOMEM. */
int fs_inodes_seed(struct fs_inodes *t, const struct fs_inode_seed *v, uint32_t n, uint32_t *bad);

/* Records in the table, the root included (tests). */
uint32_t fs_inodes_count(struct fs_inodes *t);

#endif
