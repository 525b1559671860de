/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An OCI image layout folder as an image source (image-spec
 * image-layout.md): `oci-layout` ({"imageLayoutVersion": "1.0.0"}),
 * `index.json`, and each blob at blobs/<alg>/<encoded>. Files are opened
 * relative to the folder's fd with O_NOFOLLOW and must be regular: a
 * layout whose blob is a symlink or a FIFO is refused, not followed or
 * waited on.
 */
#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/source.h"

/* index.json and oci-layout are small; a bigger one is not a layout. */
#define LAYOUT_JSON_MAX (4u << 20)

struct layout {
    struct image_source src;
    int dirfd;
};

static int fail(const struct layout *l, char *err, size_t errlen, int rc, const char *what, const char *why)
{
    snprintf(err, errlen, "%s: %s: %s", l->src.name, what, why);
    return rc;
}

/* Opens `path` under the folder: a regular file, no symlink followed. */
static int open_regular(const struct layout *l, const char *path, struct stat *st, char *err, size_t errlen)
{
    int fd = openat(l->dirfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0)
        return fail(l, err, errlen, -errno, path,
                    errno == ELOOP ? "a symbolic link (refused: blobs are files)" : strerror(errno));
    if (fstat(fd, st) || !S_ISREG(st->st_mode)) {
        close(fd);
        return fail(l, err, errlen, -EINVAL, path, "not a regular file");
    }
    /* Blocking again for reads: regular files never block anyway. */
    fcntl(fd, F_SETFL, 0);
    return fd;
}

static int read_small(const struct layout *l, const char *path, char **buf, size_t *len, char *err,
                      size_t errlen)
{
    struct stat st;
    int fd = open_regular(l, path, &st, err, errlen);
    if (fd < 0)
        return fd;
    if ((uint64_t)st.st_size > LAYOUT_JSON_MAX) {
        close(fd);
        return fail(l, err, errlen, -EFBIG, path, "larger than 4 MiB: not an image layout's file");
    }
    char *p = malloc((size_t)st.st_size + 1);
    size_t at = 0;
    while (p && at < (size_t)st.st_size) {
        ssize_t r = read(fd, p + at, (size_t)st.st_size - at);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        at += (size_t)r;
    }
    close(fd);
    if (!p)
        return -ENOMEM;
    if (at != (size_t)st.st_size) {
        free(p);
        return fail(l, err, errlen, -EIO, path, "could not be read whole");
    }
    p[at] = '\0';
    *buf = p;
    *len = at;
    return 0;
}

static int layout_read_index(struct image_source *src, char **buf, size_t *len, char *err, size_t errlen)
{
    return read_small((struct layout *)src, "index.json", buf, len, err, errlen);
}

static int layout_open_blob(struct image_source *src, const struct image_digest *d, uint64_t size,
                            struct image_blob *b, char *err, size_t errlen)
{
    struct layout *l = (struct layout *)src;
    char path[16 + IMAGE_DIGEST_TEXT_MAX];
    /* d->text is canonical "alg:hex": blobs/alg/hex. */
    snprintf(path, sizeof(path), "blobs/%.6s/%s", d->text, d->text + 7);
    struct stat st;
    int fd = open_regular(l, path, &st, err, errlen);
    if (fd < 0)
        return fd == -ENOENT ? fail(l, err, errlen, -ENOENT, path, "missing: the image lists a blob it does not hold")
                             : fd;
    if ((uint64_t)st.st_size != size) {
        close(fd);
        char why[128];
        snprintf(why, sizeof(why), "%llu bytes, its descriptor says %llu (truncated or not this blob)",
                 (unsigned long long)st.st_size, (unsigned long long)size);
        return fail(l, err, errlen, -EIO, path, why);
    }
    return image_blob_init(b, image_blob_fd_read, image_blob_fd_close, (void *)(intptr_t)fd, d, size);
}

static void layout_close(struct image_source *src)
{
    struct layout *l = (struct layout *)src;
    if (l->dirfd >= 0)
        close(l->dirfd);
    free(l);
}

static const struct image_source_ops layout_ops = {
    .read_index = layout_read_index,
    .open_blob = layout_open_blob,
    .close = layout_close,
};

int image_source_layout_open(const char *dir, struct image_source **out, char *err, size_t errlen)
{
    struct layout *l = calloc(1, sizeof(*l));
    if (!l)
        return -ENOMEM;
    l->src.ops = &layout_ops;
    snprintf(l->src.name, sizeof(l->src.name), "%s", dir);
    l->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (l->dirfd < 0) {
        int rc = fail(l, err, errlen, -errno, "the image", strerror(errno));
        layout_close(&l->src);
        return rc;
    }
    char *buf = NULL;
    size_t len = 0;
    int rc = read_small(l, "oci-layout", &buf, &len, err, errlen);
    if (rc == -ENOENT)
        fail(l, err, errlen, rc, "oci-layout", "missing: not an OCI image layout");
    if (!rc)
        rc = image_layout_version_check(buf, len, l->src.name, err, errlen);
    free(buf);
    if (rc) {
        layout_close(&l->src);
        return rc;
    }
    *out = &l->src;
    return 0;
}
