/* SPDX-License-Identifier: Apache-2.0 */
/* What the two virtio-fs fuzzers (fuzz_fs_server.c, fuzz_fs_session.c)
 * share: a temporary base folder holding `source` and a canary beside
 * it, removed at exit, and the check that no descriptor the server holds
 * is the canary, the base folder or the host's "/" (a way out of
 * source). Included once by each fuzzer, so its statics are per program. */
#ifndef PLUGVM_TESTS_FS_FUZZ_TREE_H
#define PLUGVM_TESTS_FS_FUZZ_TREE_H

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ops.h"

static char base[64], src[96];
static struct stat forbidden[3]; /* the canary, base, "/" */

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    remove(p);
    return 0;
}

static void remove_base(void)
{
    nftw(base, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* Writes `content` to DIR/REL. */
static void put_file(const char *dir, const char *rel, const char *content)
{
    char p[160];
    snprintf(p, sizeof(p), "%s/%s", dir, rel);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, content, strlen(content)) < 0)
        abort();
    close(fd);
}

/* base (in /dev/shm when it can: the fuzzers write a lot) with the
 * canary in it; src is base/src, not made here. */
static void make_base(const char *name)
{
    const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(base, sizeof(base), "%s/plugvm-%s-XXXXXX", dir, name);
    if (!mkdtemp(base))
        abort();
    snprintf(src, sizeof(src), "%s/src", base);
    put_file(base, "canary", "CANARY");
    char p[160];
    snprintf(p, sizeof(p), "%s/canary", base);
    if (stat(p, &forbidden[0]) || stat(base, &forbidden[1]) || stat("/", &forbidden[2]))
        abort();
    atexit(remove_base);
}

static void check_fd(int fd)
{
    struct stat st;
    if (fstat(fd, &st))
        abort();
    for (int i = 0; i < 3; i++)
        if (st.st_dev == forbidden[i].st_dev && st.st_ino == forbidden[i].st_ino)
            abort(); /* escaped source */
}

static void check_confined(struct fs_server *s)
{
    for (uint32_t k = 1; k < s->inodes.nslots; k++)
        if (s->inodes.slots[k].ino)
            check_fd(s->inodes.slots[k].ino->fd);
    for (uint32_t k = 1; k < s->handles.nslots; k++)
        if (s->handles.slots[k].h)
            check_fd(s->handles.slots[k].h->fd);
}

#endif
