/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuse_bridge SOURCE MNT: plugins/fs's FUSE server (server.h) behind the
 * host kernel's own FUSE client, through /dev/fuse instead of virtio: the
 * kernel sends the same requests (fuse_in_header and the op's arguments)
 * that the guest's virtiofs driver puts in a descriptor chain, and takes
 * the reply in one write. So tests/fs/host.sh runs guest/e2e/fs-posix's
 * POSIX groups against the server in seconds, with no VM, judged by the
 * kernel's FUSE code and the host's system calls (and under ASan in the
 * sanitizer build).
 *
 * Mounts MNT (fuse, default_permissions, allow_other), prints "mounted"
 * on stdout, and serves on two threads until MNT is unmounted (read
 * returns ENODEV). Exit status 0, or 1 with a message.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/uio.h>
#include <unistd.h>

#include "server.h"

/* A request: the largest WRITE and its headers. */
#define BUF_SIZE (FS_MAX_WRITE + 4096)

struct bridge {
    struct fs_server *s;
    int fd;
};

static void *serve(void *arg)
{
    struct bridge *b = arg;
    char *in = malloc(BUF_SIZE), *out = malloc(BUF_SIZE);
    if (!in || !out)
        abort();
    for (;;) {
        ssize_t n = read(b->fd, in, BUF_SIZE);
        if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == ENOENT))
            continue; /* ENOENT: a request interrupted before it was read */
        if (n <= 0)
            break; /* ENODEV: unmounted */
        struct iovec iv = {in, (size_t)n}, ov = {out, BUF_SIZE};
        size_t len = fs_server_handle(b->s, &iv, 1, &ov, 1);
        /* ENOENT: the request was interrupted and its reply is not wanted. */
        if (len && write(b->fd, out, len) < 0 && errno != ENOENT)
            fprintf(stderr, "fuse_bridge: writing a reply: %s\n", strerror(errno));
    }
    free(in);
    free(out);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: fuse_bridge SOURCE MNT\n");
        return 2;
    }
    char err[1024];
    struct fs_server_opts o = {.source = argv[1], .cache = FS_CACHE_AUTO, .xattr = true};
    struct bridge b = {fs_server_new(&o, err, sizeof(err)), open("/dev/fuse", O_RDWR | O_CLOEXEC)};
    if (!b.s) {
        fprintf(stderr, "fuse_bridge: %s\n", err);
        return 1;
    }
    if (b.fd < 0) {
        fprintf(stderr, "fuse_bridge: /dev/fuse: %s\n", strerror(errno));
        return 1;
    }
    char opts[256];
    snprintf(opts, sizeof(opts), "fd=%d,rootmode=40000,user_id=0,group_id=0,default_permissions,allow_other",
             b.fd);
    if (mount("plugvm-fs", argv[2], "fuse", MS_NOSUID | MS_NODEV, opts)) {
        fprintf(stderr, "fuse_bridge: mount -t fuse %s: %s\n", argv[2], strerror(errno));
        return 1;
    }
    printf("mounted\n");
    fflush(stdout);
    pthread_t t;
    if (pthread_create(&t, NULL, serve, &b)) {
        fprintf(stderr, "fuse_bridge: pthread_create failed\n");
        return 1;
    }
    serve(&b);
    pthread_join(t, NULL);
    fs_server_free(b.s);
    return 0;
}
