/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The backing store of one virtio-blk device: a raw image file or a block
 * device, opened, checked and locked once at start. Nothing here talks to
 * the guest; request.c does, through this struct.
 */
#ifndef PLUGVM_BLK_DISK_H
#define PLUGVM_BLK_DISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "virtio_blk.h"

struct blk_disk {
    int fd;
    char *path;           /* the file opened (a copy); for messages */
    uint64_t capacity;    /* 512-byte sectors */
    bool read_only;
    bool direct;          /* opened O_DIRECT (cache = "none") */
    bool is_blockdev;
    /* Bytes to which O_DIRECT needs buffer addresses, file offsets and
     * lengths aligned; 1 when not direct. */
    uint32_t dio_align;
    char serial[VIRTIO_BLK_ID_BYTES]; /* NUL-padded, no NUL when full */
};

struct blk_disk_options {
    const char *path;
    bool read_only;
    bool direct;
    const char *serial; /* NULL: derived from the file name */
};

/* Opens o->path and fills *d. Refuses, with a message in err naming the
 * file: a missing file, a directory or anything but a regular file or
 * block device, a size that is 0 or not a multiple of 512 bytes, O_DIRECT
 * where the filesystem lacks it, and an image another open file
 * description holds locked (OFD lock over the whole file: write-locked
 * when writable, read-locked when read-only, so writers exclude everyone
 * and readers share). Returns 0 or a negative errno. */
int blk_disk_open(struct blk_disk *d, const struct blk_disk_options *o, char *err, size_t errlen);
void blk_disk_close(struct blk_disk *d);

/* The default serial: the file's base name when it fits in 20 bytes,
 * else its first 11 bytes, '-' and 8 hex digits of a hash of the whole
 * name, so that long names sharing a prefix still differ. */
void blk_default_serial(const char *path, char out[VIRTIO_BLK_ID_BYTES]);

#endif
