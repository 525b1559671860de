/* SPDX-License-Identifier: Apache-2.0 */
#include "fileio.h"

#include <errno.h>
#include <stdint.h>
#include <unistd.h>

static int all(int fd, const uint8_t *p, size_t n, off_t off, int positioned)
{
    while (n) {
        ssize_t w = positioned ? pwrite(fd, p, n, off) : write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = EIO;
            return -1;
        }
        p += w;
        n -= (size_t)w;
        off += w;
    }
    return 0;
}

int write_all(int fd, const void *p, size_t n)
{
    return all(fd, p, n, 0, 0);
}

int pwrite_all(int fd, const void *p, size_t n, off_t off)
{
    return all(fd, p, n, off, 1);
}
