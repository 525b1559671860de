/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mem-tool: guest memory for the balloon's e2e case (guest/e2e/init,
 * case balloon; tests/e2e/balloon.sh):
 *
 *   mem-tool touch MIB   allocates MIB MiB, writes every 4 KiB page, frees
 *                        them and exits 0: the host's copy of those pages
 *                        is then resident, the guest's free.
 *   mem-tool hold MIB    the same, then prints "E2E-BALLOON-HOLD MIB" and
 *                        keeps them until killed.
 *
 * Pages are written with a non-zero pattern so that neither the guest's
 * nor the host's zero-page tricks leave them out. Exits 1 when an
 * allocation fails; a process the OOM killer ends dies of SIGKILL.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 3 || (strcmp(argv[1], "touch") && strcmp(argv[1], "hold"))) {
        fprintf(stderr, "usage: mem-tool touch|hold MIB\n");
        return 2;
    }
    long mib = atol(argv[2]);
    if (mib < 1 || mib > 1 << 20)
        return 2;
    size_t len = (size_t)mib << 20;
    /* mmap, not malloc: munmap gives the pages back to the guest kernel
     * at once, where free() might keep them. */
    unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    for (size_t off = 0; off < len; off += 4096)
        memset(p + off, 0x5a, 4096);
    if (!strcmp(argv[1], "hold")) {
        printf("E2E-BALLOON-HOLD %ld\n", mib);
        fflush(stdout);
        for (;;)
            pause();
    }
    munmap(p, len);
    printf("touched %ld MiB\n", mib);
    return 0;
}
