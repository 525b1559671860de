/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fs-bench: bench/fs's workload (bench/fs/README.md), the same program on
 * the host (the ceiling) and in the guest (on a virtio-fs mount and on an
 * ext4 disk through virtio-blk):
 *
 *   fs-bench DIR MIB [drop]
 *
 * prints one line per figure:
 *   meta OPS      create + stat + unlink of 10,000 empty files: operations/s
 *   write MIBS    MIB MiB written in 1 MiB writes, then fsync: MiB/s
 *   read MIBS     the same file read in 1 MiB reads: MiB/s
 *   rand MIBS     4 KiB reads at random 4 KiB-aligned offsets, as many as
 *                 the file has blocks: MiB/s
 * With "drop" (the guest only) the guest's page cache is dropped before
 * each read phase (/proc/sys/vm/drop_caches), so the reads cross the
 * device; the host's page cache is left alone everywhere, so what is
 * measured is the path to the host's memory, not a disk.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define META_FILES 10000
#define CHUNK (1 << 20)
#define BLOCK 4096

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void die(const char *what)
{
    perror(what);
    exit(1);
}

static void drop_caches(int drop)
{
    if (!drop)
        return;
    sync();
    int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
    if (fd < 0 || write(fd, "3", 1) != 1)
        die("drop_caches");
    close(fd);
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: fs-bench DIR MIB [drop]\n");
        return 2;
    }
    if (chdir(argv[1]))
        die(argv[1]);
    long mib = atol(argv[2]);
    int drop = argc == 4 && !strcmp(argv[3], "drop");
    if (mib < 1 || mib > 65536)
        return 2;
    setvbuf(stdout, NULL, _IOLBF, 0);

    char name[32];
    struct stat st;
    if (mkdir("fs-bench.meta", 0755))
        die("mkdir fs-bench.meta");
    double t0 = now();
    for (int i = 0; i < META_FILES; i++) {
        snprintf(name, sizeof(name), "fs-bench.meta/%d", i);
        int fd = open(name, O_WRONLY | O_CREAT | O_EXCL, 0644);
        if (fd < 0)
            die("create");
        close(fd);
    }
    for (int i = 0; i < META_FILES; i++) {
        snprintf(name, sizeof(name), "fs-bench.meta/%d", i);
        if (stat(name, &st))
            die("stat");
    }
    for (int i = 0; i < META_FILES; i++) {
        snprintf(name, sizeof(name), "fs-bench.meta/%d", i);
        if (unlink(name))
            die("unlink");
    }
    printf("meta %.0f\n", 3.0 * META_FILES / (now() - t0));
    rmdir("fs-bench.meta");

    char *buf = aligned_alloc(BLOCK, CHUNK);
    if (!buf)
        die("malloc");
    for (size_t i = 0; i < CHUNK; i++)
        buf[i] = (char)(i * 7 + 1);
    int fd = open("fs-bench.data", O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        die("create fs-bench.data");
    t0 = now();
    for (long i = 0; i < mib; i++)
        if (write(fd, buf, CHUNK) != CHUNK)
            die("write");
    if (fsync(fd))
        die("fsync");
    printf("write %.1f\n", (double)mib / (now() - t0));

    drop_caches(drop);
    t0 = now();
    for (long i = 0; i < mib; i++)
        if (pread(fd, buf, CHUNK, (off_t)i * CHUNK) != CHUNK)
            die("read");
    printf("read %.1f\n", (double)mib / (now() - t0));

    drop_caches(drop);
    long blocks = mib * (CHUNK / BLOCK);
    unsigned long x = 88172645463325252ul; /* xorshift: the same offsets every run */
    t0 = now();
    for (long i = 0; i < blocks; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if (pread(fd, buf, BLOCK, (off_t)(x % (unsigned long)blocks) * BLOCK) != BLOCK)
            die("random read");
    }
    printf("rand %.1f\n", (double)blocks * BLOCK / 1048576.0 / (now() - t0));
    close(fd);
    unlink("fs-bench.data");
    free(buf);
    return 0;
}
