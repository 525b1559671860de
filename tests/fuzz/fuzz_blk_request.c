/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: virtio-blk requests (plugins/blk/request.c) as a
 * hostile guest lays them out. The input's first byte picks the device's
 * mode (read-only, negotiated features, O_DIRECT alignment); then
 * each buffer of the chain is a length byte and a direction bit followed
 * by its contents. The image is a 64-sector file in /dev/shm; whatever the
 * request, the status must be a valid one, the used length no more than
 * the chain's writable bytes (and only the status byte for UNSUPP), and no
 * access may leave the buffers. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SECTORS 64
#define MAX_IOV 16

static struct blk_disk disks[3]; /* writable, read-only, "O_DIRECT" */
static struct blk_io io;

static void open_disks(void)
{
    char path[64];
    snprintf(path, sizeof(path), "/dev/shm/plugvm-fuzz-blk-%d", (int)getpid());
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || ftruncate(fd, SECTORS * 512) < 0)
        abort();
    close(fd);
    char err[256];
    struct blk_disk_options o = {.path = path};
    if (blk_disk_open(&disks[0], &o, err, sizeof(err)))
        abort();
    /* A second open of the same file read-only would conflict with the
     * writable one's lock; a copy of the descriptor with the flag set
     * serves: request.c must refuse writes itself. */
    disks[1] = disks[0];
    disks[1].read_only = true;
    /* The alignment checks and the bounce buffer run whether or not the
     * fd really has O_DIRECT. */
    disks[2] = disks[0];
    disks[2].direct = true;
    disks[2].dio_align = 512;
    unlink(path);
    if (blk_io_init(&io, MAX_IOV))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!io.iov)
        open_disks();
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    struct blk_req_ctx ctx = {
        .disk = &disks[mode & 16 ? 2 : mode & 1],
        .write_through = mode & 2,
        .discard = mode & 4,
        .write_zeroes = mode & 8,
    };
    data++;
    size--;

    static uint8_t bufs[MAX_IOV][255 * 4 + 16];
    struct plugvm_iov iov[MAX_IOV];
    struct plugvm_chain c = {.iov = iov};
    bool seen_writable = false;
    while (size >= 2 && c.niov < MAX_IOV) {
        uint32_t len = data[0];
        bool w = data[1] & 1;
        /* Bit 1 makes the length byte count 4 bytes (plus 16): whole sectors
         * and a header with data in one buffer are reachable. */
        if (data[1] & 2)
            len = len * 4 + 16;
        data += 2;
        size -= 2;
        if (seen_writable && !w)
            break; /* the core hands out readable buffers first */
        seen_writable |= w;
        uint8_t *b = bufs[c.niov];
        size_t take = size < len ? size : len;
        memset(b, 0, len);
        memcpy(b, data, take);
        data += take;
        size -= take;
        /* A heap copy of exactly len bytes, so ASan catches any overrun. */
        uint8_t *exact = malloc(len ? len : 1);
        memcpy(exact, b, len);
        iov[c.niov] = (struct plugvm_iov){exact, len, w};
        if (w)
            c.writable_bytes += len;
        else
            c.readable_bytes += len;
        c.niov++;
    }
    uint8_t status;
    uint32_t used = blk_request_serve(&ctx, &io, &c, &status);
    if (used > c.writable_bytes)
        abort();
    if (used ? status > VIRTIO_BLK_S_UNSUPP : status != 0xff)
        abort();
    if (status == VIRTIO_BLK_S_UNSUPP && used != 1)
        abort();
    for (uint16_t i = 0; i < c.niov; i++)
        free(iov[i].addr);
    return 0;
}
