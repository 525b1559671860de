/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A layer read in one pass through two libarchive readers: `raw` (the
 * declared filter and the raw format) turns the verified blob into the
 * uncompressed tar stream, which is hashed for the diff_id on its way into
 * `tar` (the tar format, no filter). So the blob is read once and
 * decompressed once, and both digests cover every byte, the tar's padding
 * and whatever follows its end-of-archive blocks included.
 */
#include "image/layer.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK (64u << 10)

struct layer_data {
    const struct oci_descriptor *desc;
    struct image_blob blob;
    struct archive *raw, *tar;
    bool raw_eof;
    struct image_hasher diff;
    uint64_t *done;
    int brc;            /* the blob's own error, which outranks libarchive's view of it */
    char berr[1024];
    struct rootfs_xattr xattrs[LAYER_XATTR_MAX];
    char blobbuf[BLOCK], rawbuf[BLOCK];
};

static la_ssize_t blob_cb(struct archive *a, void *ctx, const void **buf)
{
    struct layer_data *d = ctx;
    ssize_t n = image_blob_read(&d->blob, d->blobbuf, BLOCK, d->berr, sizeof(d->berr));
    if (n < 0) {
        d->brc = (int)n;
        archive_set_error(a, EIO, "%s", d->berr);
        return -1;
    }
    if (d->done)
        *d->done += (uint64_t)n;
    *buf = d->blobbuf;
    return n;
}

/* The next piece of the uncompressed stream, hashed: bytes, 0 at its end,
 * or -1 (d->berr set). */
static la_ssize_t next_raw(struct layer_data *d, const void **buf)
{
    if (d->raw_eof)
        return 0;
    la_ssize_t n = archive_read_data(d->raw, d->rawbuf, BLOCK);
    if (n < 0) {
        if (!d->brc)
            snprintf(d->berr, sizeof(d->berr), "cannot decompress it (%s): %s", d->desc->media_type,
                     archive_error_string(d->raw));
        return -1;
    }
    if (n == 0)
        d->raw_eof = true;
    image_hasher_update(&d->diff, d->rawbuf, (size_t)n);
    *buf = d->rawbuf;
    return n;
}

static la_ssize_t raw_cb(struct archive *a, void *ctx, const void **buf)
{
    struct layer_data *d = ctx;
    la_ssize_t n = next_raw(d, buf);
    if (n < 0)
        archive_set_error(a, EIO, "%s", d->berr);
    return n;
}

static int data_block(void *ctx, const void **buf, size_t *len, uint64_t *off)
{
    struct layer_data *d = ctx;
    la_int64_t o;
    int r = archive_read_data_block(d->tar, buf, len, &o);
    if (r == ARCHIVE_EOF)
        return 0;
    if (r < ARCHIVE_WARN || o < 0)
        return -EIO;
    *off = (uint64_t)o;
    return 1;
}

/* err = "layer DIGEST: " + what was in it. */
static int fail(struct layer_data *d, char *err, size_t errlen, int rc, const char *fmt, const char *a,
                const char *b)
{
    char inner[2048];
    /* Cut, when it must be, at the end: the path comes first. */
    if (snprintf(inner, sizeof(inner), fmt, a, b) < 0)
        inner[0] = '\0';
    snprintf(err, errlen, "layer %s: %s", d->desc->digest.text, inner);
    return rc;
}

/* What the header of `ae` says, into m (pointing into ae and d). */
static int header(struct layer_data *d, struct archive_entry *ae, const char *path, struct rootfs_meta *m,
                  char *err, size_t errlen)
{
    memset(m, 0, sizeof(*m));
    la_int64_t uid = archive_entry_uid(ae), gid = archive_entry_gid(ae), size = archive_entry_size(ae);
    if (uid < 0 || uid > UINT32_MAX || gid < 0 || gid > UINT32_MAX)
        return fail(d, err, errlen, -EINVAL, "%s: an owner outside 0..4294967295%s", path, "");
    if (size < 0)
        return fail(d, err, errlen, -EINVAL, "%s: a negative size%s", path, "");
    m->mode = archive_entry_mode(ae);
    m->uid = (uint32_t)uid;
    m->gid = (uint32_t)gid;
    m->size = (uint64_t)size;
    /* ext4 stores -2^31 .. 2^34 - 2^31 - 1: later or earlier times are
     * pinned to its ends rather than wrapped. */
    int64_t t = archive_entry_mtime(ae);
    const int64_t lo = INT32_MIN, hi = (INT64_C(1) << 34) + INT32_MIN - 1;
    m->mtime = t < lo ? lo : t > hi ? hi : t;
    long ns = archive_entry_mtime_nsec(ae);
    m->mtime_nsec = ns > 0 && ns < 1000000000 ? (uint32_t)ns : 0;
    m->rdev_major = (uint32_t)archive_entry_rdevmajor(ae);
    m->rdev_minor = (uint32_t)archive_entry_rdevminor(ae);
    m->symlink = archive_entry_symlink(ae);
    int n = archive_entry_xattr_reset(ae);
    if (n > LAYER_XATTR_MAX)
        return fail(d, err, errlen, -E2BIG, "%s: more than 64 extended attributes%s", path, "");
    const char *name;
    const void *value;
    size_t len;
    while (archive_entry_xattr_next(ae, &name, &value, &len) == ARCHIVE_OK) {
        if (!name || !name[0] || strlen(name) > 255 || len > LAYER_XATTR_VALUE_MAX)
            return fail(d, err, errlen, -E2BIG,
                        "%s: extended attribute \"%s\": expected a name of 1 to 255 bytes and at most 4000 bytes of value",
                        path, name ? name : "");
        d->xattrs[m->nxattrs++] = (struct rootfs_xattr){name, value, len};
    }
    m->xattrs = d->xattrs;
    return 0;
}

static int walk(struct layer_data *d, layer_visit_fn visit, void *priv, char *err, size_t errlen)
{
    struct archive_entry *ae;
    for (;;) {
        int r = archive_read_next_header(d->tar, &ae);
        if (r == ARCHIVE_EOF)
            return 0;
        if (r < ARCHIVE_WARN)
            return -EIO;
        const char *path = archive_entry_pathname(ae);
        if (!path)
            return fail(d, err, errlen, -EINVAL, "an entry with no path it can read%s%s", "", "");
        struct layer_entry e;
        char why[LAYER_PATH_MAX + 256];
        if (layer_entry_classify(path, archive_entry_filetype(ae), archive_entry_hardlink(ae), &e, why,
                                 sizeof(why)))
            return fail(d, err, errlen, -EINVAL, "%s%s", why, "");
        struct rootfs_meta m;
        int rc = header(d, ae, e.path, &m, err, errlen);
        if (rc)
            return rc;
        if ((rc = visit(priv, &e, &m, data_block, d, err, errlen))) {
            char inner[2048];
            snprintf(inner, sizeof(inner), "%s", err);
            return fail(d, err, errlen, rc, "%s%s", inner, "");
        }
    }
}

int layer_walk(struct image_source *src, const struct oci_descriptor *desc, const struct image_digest *diff_id,
               layer_visit_fn visit, void *priv, uint64_t *done, char *err, size_t errlen)
{
    struct layer_data *d = calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    d->desc = desc;
    d->done = done;
    int rc = src->ops->open_blob(src, &desc->digest, desc->size, &d->blob, err, errlen);
    if (rc) {
        free(d);
        return rc;
    }
    if (image_hasher_init(&d->diff, diff_id->alg)) {
        image_blob_close(&d->blob);
        free(d);
        return -ENOMEM;
    }
    d->raw = archive_read_new();
    d->tar = archive_read_new();
    if (!d->raw || !d->tar) {
        rc = -ENOMEM;
        goto out;
    }
    /* Only the filter the media type declares: a gzip blob labelled as a
     * plain tar fails as a tar, and then its diff_id. */
    if (desc->kind == OCI_KIND_LAYER_GZIP)
        archive_read_support_filter_gzip(d->raw);
    else if (desc->kind == OCI_KIND_LAYER_ZSTD)
        archive_read_support_filter_zstd(d->raw);
    archive_read_support_format_raw(d->raw);
    archive_read_support_format_tar(d->tar);
    struct archive_entry *ae;
    int r = archive_read_open(d->raw, d, NULL, blob_cb, NULL);
    if (r == ARCHIVE_OK)
        r = archive_read_next_header(d->raw, &ae);
    if (r == ARCHIVE_EOF) {
        d->raw_eof = true; /* an empty blob: the tar reader says what that is */
    } else if (r != ARCHIVE_OK) {
        rc = d->brc ? fail(d, err, errlen, -EIO, "%s%s", d->berr, "")
                    : fail(d, err, errlen, -EINVAL, "not %s: %s", desc->media_type, archive_error_string(d->raw));
        goto out;
    }
    if (archive_read_open(d->tar, d, NULL, raw_cb, NULL) != ARCHIVE_OK) {
        rc = fail(d, err, errlen, -EINVAL, "not a tar archive: %s%s", archive_error_string(d->tar), "");
        goto out;
    }
    rc = walk(d, visit, priv, err, errlen);
    if (rc == -EIO && !d->brc && !d->berr[0])
        rc = fail(d, err, errlen, -EIO, "a damaged or truncated tar: %s%s", archive_error_string(d->tar), "");
    /* The rest of the stream after the end-of-archive blocks counts for
     * the diff_id, and the rest of the blob for its digest. */
    const void *buf;
    la_ssize_t n;
    while (!rc && (n = next_raw(d, &buf)) != 0)
        if (n < 0)
            rc = -EIO;
    char tail[512];
    ssize_t k;
    while (!rc && (k = image_blob_read(&d->blob, tail, sizeof(tail), d->berr, sizeof(d->berr))) != 0)
        if (k < 0)
            rc = d->brc = -EIO;
    if (d->brc || (rc == -EIO && d->berr[0]))
        rc = fail(d, err, errlen, -EIO, "%s%s", d->berr, ""); /* the blob's or the filter's own words */
    if (!rc) {
        struct image_digest got;
        image_hasher_final(&d->diff, &got);
        d->diff.ctx = NULL;
        if (!image_digest_equal(&got, diff_id))
            rc = fail(d, err, errlen, -EIO, "its uncompressed tar is %s, but the config's diff_id says %s", got.text,
                      diff_id->text);
    }
out:
    if (d->diff.ctx)
        image_hasher_abort(&d->diff);
    if (d->tar)
        archive_read_free(d->tar);
    if (d->raw)
        archive_read_free(d->raw);
    image_blob_close(&d->blob);
    free(d);
    return rc;
}
