/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An oci-archive (an OCI image layout in a tar, as `skopeo copy
 * oci-archive:` and `docker save` since Docker 25 write it, plain or
 * gzip-compressed) as an image source, read with libarchive. At open the
 * archive is walked once: oci-layout must say 1.0.0 and index.json is kept
 * (both small). A blob is found by walking again to blobs/ALG/HEX (a tar
 * has no index; libarchive skips the data of other entries, seeking where
 * the file allows), and read straight from the archive. Only regular
 * entries count: a blob that is a link or a device is refused.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/source.h"

#define ARCHIVE_JSON_MAX (4u << 20)
#define BLOCK (64u << 10)

#include "image/archive_int.h"

int tar_fail(const struct tarsrc *t, char *err, size_t errlen, int rc, const char *what, const char *why)
{
    snprintf(err, errlen, "%s: %s: %s", t->src.name, what, why);
    return rc;
}

static struct archive *open_tar(const struct tarsrc *t, char *err, size_t errlen)
{
    struct archive *a = archive_read_new();
    if (!a)
        return NULL;
    archive_read_support_format_tar(a);
    archive_read_support_filter_gzip(a);
    archive_read_support_filter_zstd(a);
    if (archive_read_open_filename(a, t->src.name, BLOCK) != ARCHIVE_OK) {
        tar_fail(t, err, errlen, -EINVAL, "not a tar archive (plain, gzip or zstd)", archive_error_string(a));
        archive_read_free(a);
        return NULL;
    }
    return a;
}

/* The entry's path without a leading "./". */
static const char *entry_path(struct archive_entry *e)
{
    const char *p = archive_entry_pathname(e);
    if (!p)
        return "";
    while (p[0] == '.' && p[1] == '/')
        p += 2;
    return p;
}

/* Walks a to `path`: 0 at it (a regular file), -ENOENT at the end, or
 * -EINVAL/-EBADMSG with err. */
static int seek_entry(const struct tarsrc *t, struct archive *a, const char *path, struct archive_entry **out,
                      char *err, size_t errlen)
{
    for (;;) {
        int r = archive_read_next_header(a, out);
        if (r == ARCHIVE_EOF)
            return -ENOENT;
        if (r < ARCHIVE_WARN)
            return tar_fail(t, err, errlen, -EBADMSG, "truncated or damaged archive", archive_error_string(a));
        if (strcmp(entry_path(*out), path))
            continue;
        if (archive_entry_filetype(*out) != AE_IFREG)
            return tar_fail(t, err, errlen, -EINVAL, path, "not a regular file in the archive");
        return 0;
    }
}

/* Opens the archive and walks to `path`: 0 with *a and *e there, or
 * -errno with err (`missing` saying what an absent entry means). */
static int open_at(const struct tarsrc *t, const char *path, const char *missing, struct archive **a,
                   struct archive_entry **e, char *err, size_t errlen)
{
    if (!(*a = open_tar(t, err, errlen)))
        return -EINVAL;
    int rc = seek_entry(t, *a, path, e, err, errlen);
    if (rc == -ENOENT)
        rc = tar_fail(t, err, errlen, -ENOENT, path, missing);
    if (rc) {
        archive_read_free(*a);
        *a = NULL;
    }
    return rc;
}

int tar_entry_size(const struct tarsrc *t, const char *path, uint64_t *size, char *err, size_t errlen)
{
    struct archive *a;
    struct archive_entry *e;
    int rc = open_at(t, path, "missing from the archive", &a, &e, err, errlen);
    if (rc)
        return rc;
    int64_t n = archive_entry_size(e);
    archive_read_free(a);
    if (n < 0)
        return tar_fail(t, err, errlen, -EBADMSG, path, "an entry without a size");
    *size = (uint64_t)n;
    return 0;
}

int tar_read_entry(const struct tarsrc *t, const char *path, char **buf, size_t *len, char *err,
                      size_t errlen)
{
    struct archive *a;
    struct archive_entry *e;
    int rc = open_at(t, path, "missing from the archive", &a, &e, err, errlen);
    if (rc)
        return rc;
    int64_t size = archive_entry_size(e);
    if (size < 0 || size > ARCHIVE_JSON_MAX)
        rc = tar_fail(t, err, errlen, -EFBIG, path, "larger than 4 MiB: not an image layout's file");
    char *p = rc ? NULL : malloc((size_t)size + 1);
    if (!rc && !p)
        rc = -ENOMEM;
    if (!rc) {
        la_ssize_t n = archive_read_data(a, p, (size_t)size);
        if (n != size)
            rc = tar_fail(t, err, errlen, -EBADMSG, path, "truncated or damaged archive");
    }
    archive_read_free(a);
    if (rc) {
        free(p);
        return rc;
    }
    p[size] = '\0';
    *buf = p;
    *len = (size_t)size;
    return 0;
}

static int tar_read_index(struct image_source *src, char **buf, size_t *len, char *err, size_t errlen)
{
    struct tarsrc *t = (struct tarsrc *)src;
    (void)err;
    (void)errlen;
    char *p = malloc(t->index_len + 1);
    if (!p)
        return -ENOMEM;
    memcpy(p, t->index, t->index_len + 1);
    *buf = p;
    *len = t->index_len;
    return 0;
}

static ssize_t tar_raw(void *ctx, void *buf, size_t n)
{
    la_ssize_t r = archive_read_data(ctx, buf, n);
    return r < 0 ? -EBADMSG : (ssize_t)r;
}

static void tar_raw_close(void *ctx)
{
    archive_read_free(ctx);
}

static int tar_open_blob(struct image_source *src, const struct image_digest *d, uint64_t size,
                         struct image_blob *b, char *err, size_t errlen)
{
    struct tarsrc *t = (struct tarsrc *)src;
    char path[16 + IMAGE_DIGEST_TEXT_MAX];
    snprintf(path, sizeof(path), "blobs/%.6s/%s", d->text, d->text + 7);
    const char *at = path;
    for (size_t i = 0; i < t->nmap; i++) {
        if (!image_digest_equal(&t->map[i].digest, d))
            continue;
        if (!t->map[i].path) {
            struct image_mem *m = calloc(1, sizeof(*m));
            if (!m)
                return -ENOMEM;
            *m = (struct image_mem){t->map[i].mem, t->map[i].len, 0};
            return image_blob_init(b, image_blob_mem_read, image_blob_mem_close, m, d, size);
        }
        at = t->map[i].path;
        break;
    }
    struct archive *a;
    struct archive_entry *e;
    int rc = open_at(t, at, "missing: the image lists a blob it does not hold", &a, &e, err, errlen);
    if (rc)
        return rc;
    if (archive_entry_size_is_set(e) && (uint64_t)archive_entry_size(e) != size) {
        char why[128];
        snprintf(why, sizeof(why), "%lld bytes, its descriptor says %llu (truncated or not this blob)",
                 (long long)archive_entry_size(e), (unsigned long long)size);
        rc = tar_fail(t, err, errlen, -EIO, at, why);
    }
    if (rc) {
        archive_read_free(a);
        return rc;
    }
    return image_blob_init(b, tar_raw, tar_raw_close, a, d, size);
}

static void tar_close(struct image_source *src)
{
    struct tarsrc *t = (struct tarsrc *)src;
    for (size_t i = 0; i < t->nmap; i++) {
        free(t->map[i].path);
        free(t->map[i].mem);
    }
    free(t->map);
    free(t->index);
    free(t);
}

static const struct image_source_ops tar_ops = {
    .read_index = tar_read_index,
    .open_blob = tar_open_blob,
    .close = tar_close,
};

int image_source_archive_open(const char *file, struct image_source **out, char *err, size_t errlen)
{
    struct tarsrc *t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    t->src.ops = &tar_ops;
    snprintf(t->src.name, sizeof(t->src.name), "%s", file);
    char *layout = NULL;
    size_t len = 0;
    int rc = tar_read_entry(t, "oci-layout", &layout, &len, err, errlen);
    if (rc == -ENOENT) {
        /* No layout: the older `docker save` form. */
        char first[1024];
        snprintf(first, sizeof(first), "%s", err);
        rc = docker_open(t, err, errlen);
        if (rc == -ENOENT)
            snprintf(err, errlen, "%s: neither an OCI image layout (no oci-layout) nor a docker-archive (no "
                     "manifest.json)", t->src.name);
        if (rc) {
            tar_close(&t->src);
            return rc;
        }
        *out = &t->src;
        return 0;
    }
    if (!rc)
        rc = image_layout_version_check(layout, len, t->src.name, err, errlen);
    free(layout);
    if (!rc)
        rc = tar_read_entry(t, "index.json", &t->index, &t->index_len, err, errlen);
    if (rc) {
        tar_close(&t->src);
        return rc;
    }
    *out = &t->src;
    return 0;
}
