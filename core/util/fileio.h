/* SPDX-License-Identifier: Apache-2.0 */
/* Whole writes: write(2) and pwrite(2) resumed after short writes and
 * EINTR, as snapshot files need. */
#ifndef PLUGVM_CORE_FILEIO_H
#define PLUGVM_CORE_FILEIO_H

#include <stddef.h>
#include <sys/types.h>

/* 0, or -1 with errno (EIO for a write that made no progress). */
int write_all(int fd, const void *p, size_t n);
int pwrite_all(int fd, const void *p, size_t n, off_t off);

#endif
