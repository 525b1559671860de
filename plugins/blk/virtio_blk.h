/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-blk's wire format (virtio 1.2 §5.2): feature bits, request types
 * and statuses, the device configuration layout. Kept here rather than
 * taken from <linux/virtio_blk.h> so the plugin builds where that header
 * does not exist (macOS, Windows).
 */
#ifndef PLUGVM_BLK_VIRTIO_BLK_H
#define PLUGVM_BLK_VIRTIO_BLK_H

#include <stddef.h>
#include <stdint.h>

#define VIRTIO_ID_BLOCK 2

/* §5.2.3 */
#define VIRTIO_BLK_F_SIZE_MAX 1
#define VIRTIO_BLK_F_SEG_MAX 2
#define VIRTIO_BLK_F_RO 5
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH 9
#define VIRTIO_BLK_F_MQ 12
#define VIRTIO_BLK_F_DISCARD 13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

/* §5.2.6 */
#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8
#define VIRTIO_BLK_T_DISCARD 11
#define VIRTIO_BLK_T_WRITE_ZEROES 13

#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2

/* Sectors are 512 bytes whatever blk_size says (§5.2.6). */
#define VIRTIO_BLK_SECTOR_SHIFT 9
#define VIRTIO_BLK_SECTOR_SIZE 512u
/* GET_ID's answer: the serial, NUL-padded, no NUL when 20 bytes long. */
#define VIRTIO_BLK_ID_BYTES 20

/* The request header, device-readable, first in every chain. */
struct virtio_blk_outhdr {
    uint32_t type;
    uint32_t reserved;
    uint64_t sector;
};

/* One range of a DISCARD or WRITE_ZEROES request's data. */
struct virtio_blk_discard_write_zeroes {
    uint64_t sector;
    uint32_t num_sectors;
    uint32_t flags;
};
#define VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP 0x1u

/* §5.2.4: the configuration layout, little-endian, packed as the spec
 * lays it out (no padding arises with these widths). */
struct virtio_blk_config {
    uint64_t capacity; /* 512-byte sectors */
    uint32_t size_max; /* bytes in one segment */
    uint32_t seg_max;  /* segments in one request */
    struct {
        uint16_t cylinders;
        uint8_t heads;
        uint8_t sectors;
    } geometry;
    uint32_t blk_size; /* bytes */
    struct {
        uint8_t physical_block_exp;
        uint8_t alignment_offset;
        uint16_t min_io_size;
        uint32_t opt_io_size;
    } topology;
    uint8_t writeback;
    uint8_t unused0;
    uint16_t num_queues;
    uint32_t max_discard_sectors;
    uint32_t max_discard_seg;
    uint32_t discard_sector_alignment; /* sectors */
    uint32_t max_write_zeroes_sectors;
    uint32_t max_write_zeroes_seg;
    uint8_t write_zeroes_may_unmap;
    uint8_t unused1[3];
};

_Static_assert(sizeof(struct virtio_blk_outhdr) == 16, "virtio_blk_outhdr");
_Static_assert(sizeof(struct virtio_blk_discard_write_zeroes) == 16, "discard_write_zeroes");
/* The bytes the spec defines, up to unused1 (the struct itself is padded
 * to 64 by the alignment of capacity). */
#define VIRTIO_BLK_CONFIG_SIZE 60u
_Static_assert(offsetof(struct virtio_blk_config, unused1) + 3 == VIRTIO_BLK_CONFIG_SIZE,
               "virtio_blk_config layout");

#endif
