/* SPDX-License-Identifier: Apache-2.0 */
/* Reading a blob while checking it (core/image/source.h). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "image/source.h"

ssize_t image_blob_mem_read(void *ctx, void *buf, size_t n)
{
    struct image_mem *m = ctx;
    size_t k = m->len - m->off < n ? m->len - m->off : n;
    memcpy(buf, m->p + m->off, k);
    m->off += k;
    return (ssize_t)k;
}

void image_blob_mem_close(void *ctx)
{
    free(ctx);
}

ssize_t image_blob_fd_read(void *ctx, void *buf, size_t n)
{
    ssize_t r;
    do
        r = read((int)(intptr_t)ctx, buf, n);
    while (r < 0 && errno == EINTR);
    return r < 0 ? -errno : r;
}

void image_blob_fd_close(void *ctx)
{
    close((int)(intptr_t)ctx);
}

int image_blob_init(struct image_blob *b, ssize_t (*raw)(void *ctx, void *buf, size_t n),
                    void (*raw_close)(void *ctx), void *ctx, const struct image_digest *d, uint64_t size)
{
    memset(b, 0, sizeof(*b));
    b->raw = raw;
    b->raw_close = raw_close;
    b->ctx = ctx;
    b->size = size;
    b->want = *d;
    snprintf(b->what, sizeof(b->what), "blob %s", d->text);
    if (image_hasher_init(&b->hash, d->alg)) {
        raw_close(ctx);
        b->raw_close = NULL;
        return -ENOMEM;
    }
    return 0;
}

static ssize_t bad(struct image_blob *b, char *err, size_t errlen, const char *fmt, const char *detail)
{
    char msg[256];
    snprintf(msg, sizeof(msg), fmt, detail);
    snprintf(err, errlen, "%s: %s", b->what, msg);
    return -EIO;
}

ssize_t image_blob_read(struct image_blob *b, void *buf, size_t n, char *err, size_t errlen)
{
    if (b->done == b->size) {
        /* The end: nothing more may follow, and the digest must match. */
        char extra;
        if (b->raw(b->ctx, &extra, 1) > 0)
            return bad(b, err, errlen, "longer than the %s its descriptor gives", "size");
        if (!b->hash.ctx)
            return 0; /* already checked */
        struct image_digest got;
        image_hasher_final(&b->hash, &got);
        if (!image_digest_equal(&got, &b->want))
            return bad(b, err, errlen, "its content has digest %s: damaged or not this blob", got.text);
        return 0;
    }
    if (n > b->size - b->done)
        n = (size_t)(b->size - b->done);
    ssize_t r = b->raw(b->ctx, buf, n);
    if (r < 0)
        return bad(b, err, errlen, "read: %s",
                   r == -EBADMSG ? "the archive is truncated or damaged" : strerror((int)-r));
    if (r == 0) {
        char at[64];
        snprintf(at, sizeof(at), "%llu bytes", (unsigned long long)b->done);
        return bad(b, err, errlen, "ends after %s, before the size its descriptor gives (truncated)", at);
    }
    image_hasher_update(&b->hash, buf, (size_t)r);
    b->done += (uint64_t)r;
    return r;
}

void image_blob_close(struct image_blob *b)
{
    if (b->hash.ctx)
        image_hasher_abort(&b->hash);
    if (b->raw_close)
        b->raw_close(b->ctx);
    b->raw_close = NULL;
}

int image_blob_read_all(struct image_source *src, const struct image_digest *d, uint64_t size, size_t max,
                        char **buf, size_t *len, char *err, size_t errlen)
{
    if (size > max) {
        snprintf(err, errlen, "blob %s: %llu bytes, more than the %zu a JSON document may have here", d->text,
                 (unsigned long long)size, max);
        return -EFBIG;
    }
    struct image_blob b;
    int rc = src->ops->open_blob(src, d, size, &b, err, errlen);
    if (rc)
        return rc;
    char *p = malloc(size ? (size_t)size : 1);
    if (!p) {
        image_blob_close(&b);
        return -ENOMEM;
    }
    size_t at = 0;
    for (;;) {
        ssize_t r = image_blob_read(&b, p + at, (size_t)size - at, err, errlen);
        if (r < 0) {
            free(p);
            image_blob_close(&b);
            return (int)r;
        }
        if (r == 0)
            break;
        at += (size_t)r;
    }
    image_blob_close(&b);
    *buf = p;
    *len = at;
    return 0;
}

int image_source_open(const char *path, struct image_source **out, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st)) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -errno;
    }
    if (S_ISDIR(st.st_mode))
        return image_source_layout_open(path, out, err, errlen);
    if (S_ISREG(st.st_mode))
        return image_source_archive_open(path, out, err, errlen);
    snprintf(err, errlen, "%s: expected an OCI image layout folder or an image archive file", path);
    return -EINVAL;
}

int image_layout_version_check(const char *buf, size_t len, const char *where, char *err, size_t errlen)
{
    json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
    json_t *v = json_object_get(root, "imageLayoutVersion");
    int ok = json_is_string(v) && !strcmp(json_string_value(v), "1.0.0");
    json_decref(root);
    if (ok)
        return 0;
    snprintf(err, errlen, "%s: oci-layout: expected {\"imageLayoutVersion\": \"1.0.0\"}", where);
    return -EINVAL;
}
