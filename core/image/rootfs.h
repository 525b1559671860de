/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The image's root file system, written as an ext4 image file through
 * libext2fs (e2fsprogs' library, the one behind `mke2fs -d`): never
 * mounted, never a temporary tree on the host, and every owner, mode,
 * device number and time exactly as the layers say although plugvm runs
 * unprivileged. The empty file system comes from mke2fs (no journal: the
 * guest mounts it read-only); layer entries (core/image/entry.h) are
 * applied in order, a later one replacing what an earlier one put at the
 * same path. Paths are walked one component at a time from the root with
 * no symbolic link followed: an entry under a path that is a symlink is
 * refused. Not thread-safe: one writer per image.
 */
#ifndef PLUGVM_IMAGE_ROOTFS_H
#define PLUGVM_IMAGE_ROOTFS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "image/entry.h"

struct rootfs;

/* An extended attribute, as the layer's PAX header carries it
 * (SCHILY.xattr.NAME): "security.capability", "user.x", ... */
struct rootfs_xattr {
    const char *name;
    const void *value;
    size_t len;           /* bytes of value */
};

/* What a tar header says of an entry. */
struct rootfs_meta {
    mode_t mode;          /* file type and permission bits (S_IFREG | 04755, ...) */
    uint32_t uid, gid;
    int64_t mtime;        /* seconds since the epoch (ext4's 34-bit range) */
    uint32_t mtime_nsec;
    uint64_t size;        /* S_IFREG: bytes, holes included (a sparse file's tail may be one) */
    uint32_t rdev_major, rdev_minor; /* character and block devices */
    const char *symlink;  /* S_IFLNK: the target, verbatim */
    const struct rootfs_xattr *xattrs;
    size_t nxattrs;
};

/* A regular file's data, one block at a time: 1 with *buf holding *len
 * bytes that belong at byte *off of the file (blocks come in increasing
 * order; what lies between is a hole and stays unallocated), 0 at the
 * end, or -errno. */
typedef int (*rootfs_data_fn)(void *ctx, const void **buf, size_t *len, uint64_t *off);

/* Makes `path` an empty ext4 file system of `size` bytes with room for
 * `inodes` inodes (mke2fs -t ext4 with its features named, no journal, -m 0, root owned by
 * 0:0) and opens it. 0, or -errno with err naming the file. */
int rootfs_create(const char *path, uint64_t size, uint32_t inodes, struct rootfs **out, char *err,
                  size_t errlen);

/* Opens the file system rootfs_create made at `path` (and removes
 * mke2fs's lost+found, which is no layer's), to apply entries to it. 0,
 * or -errno with err naming the file. */
int rootfs_open(const char *path, struct rootfs **out, char *err, size_t errlen);

/* Applies entry e (LAYER_ADD with meta m, whose file data `data` yields
 * for a regular file, NULL for none; LAYER_WHITEOUT; LAYER_OPAQUE;
 * LAYER_SKIP does nothing). Parent folders missing are made (0755, 0:0).
 * A folder over a folder keeps what it holds and takes the new owner,
 * mode, times and xattrs. 0, or -errno with err naming the path (-ENOSPC:
 * the image is full). */
int rootfs_apply(struct rootfs *fs, const struct layer_entry *e, const struct rootfs_meta *m,
                 rootfs_data_fn data, void *ctx, char *err, size_t errlen);

/* Writes everything out and closes: 0, or -errno with err. fs is freed
 * either way. */
int rootfs_close(struct rootfs *fs, char *err, size_t errlen);

#endif
