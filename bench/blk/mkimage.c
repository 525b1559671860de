/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mkimage FILE MIB: writes the blk benchmark's raw image, MIB MiB of data
 * (no holes, so every read hits a real block). The first 8 bytes of each
 * 4 KiB block b hold 0x626c6b62656e6368 ^ b, little-endian: the tag the
 * test guest (guest/testguest/test_blkbench.c) checks on reads and writes
 * back on writes. The rest of each block is a xorshift stream.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BLOCK 4096u
#define CHUNK (1u << 20)
#define TAG 0x626c6b62656e6368ull

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s FILE MIB\n", argv[0]);
        return 2;
    }
    char *end;
    unsigned long long mib = strtoull(argv[2], &end, 10);
    if (*end || mib == 0) {
        fprintf(stderr, "mkimage: MIB must be a positive number, not '%s'\n", argv[2]);
        return 2;
    }
    int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        fprintf(stderr, "mkimage: %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    static uint64_t buf[CHUNK / 8];
    uint64_t x = 0x9e3779b97f4a7c15ull, block = 0;
    for (unsigned long long m = 0; m < mib; m++) {
        for (size_t i = 0; i < CHUNK / 8; i++) {
            if (i % (BLOCK / 8) == 0) {
                buf[i] = TAG ^ block++; /* x86 is little-endian */
                continue;
            }
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            buf[i] = x * 0x2545f4914f6cdd1dull;
        }
        for (size_t off = 0; off < CHUNK;) {
            ssize_t n = write(fd, (char *)buf + off, CHUNK - off);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                fprintf(stderr, "mkimage: %s: %s\n", argv[1], n < 0 ? strerror(errno) : "short write");
                return 1;
            }
            off += (size_t)n;
        }
    }
    if (fsync(fd) || close(fd)) {
        fprintf(stderr, "mkimage: %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    return 0;
}
