/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Where an image's blobs come from, behind one interface, so that an OCI
 * image layout folder, an oci-archive tar, a docker-archive and (later) a
 * registry pull all feed the same import. Every blob is read through
 * image_blob, which hashes what passes and, at its end, checks the size
 * and digest its descriptor promised: no byte reaches the importer
 * unchecked past the end of a blob. Not thread-safe: one source, one
 * thread.
 */
#ifndef PLUGVM_IMAGE_SOURCE_H
#define PLUGVM_IMAGE_SOURCE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "image/digest.h"

struct image_source;

/* A blob being read from its source (`raw`, which returns bytes as they
 * are stored, -errno on an error), `size` bytes, checked against `want`. */
struct image_blob {
    ssize_t (*raw)(void *ctx, void *buf, size_t n);
    void (*raw_close)(void *ctx);
    void *ctx;
    uint64_t size, done;      /* bytes promised, bytes read so far */
    struct image_digest want;
    struct image_hasher hash;
    char what[IMAGE_DIGEST_TEXT_MAX + 64]; /* "blob sha256:..." for messages */
};

struct image_source_ops {
    /* The image's top document: its index (an OCI layout's index.json)
     * as a heap buffer of *len bytes. 0, or -errno with err set. */
    int (*read_index)(struct image_source *src, char **buf, size_t *len, char *err, size_t errlen);
    /* Opens the blob with digest d, which its descriptor says is `size`
     * bytes: 0 with *b ready, or -errno with err set (-ENOENT: no such
     * blob). */
    int (*open_blob)(struct image_source *src, const struct image_digest *d, uint64_t size,
                     struct image_blob *b, char *err, size_t errlen);
    void (*close)(struct image_source *src);
};

struct image_source {
    const struct image_source_ops *ops;
    char name[4096]; /* what the user gave, for messages */
};

/* An OCI image layout folder (image-spec image-layout.md): `oci-layout`
 * with imageLayoutVersion "1.0.0", index.json, blobs/ALG/HEX. 0 with *out
 * (free it with close), or -errno with err naming the folder and what is
 * wrong. */
int image_source_layout_open(const char *dir, struct image_source **out, char *err, size_t errlen);

/* An oci-archive: the same layout in a tar file (plain, gzip or zstd).
 * Same results as image_source_layout_open; a file that is no tar, or is
 * truncated, is refused naming it. */
int image_source_archive_open(const char *file, struct image_source **out, char *err, size_t errlen);

/* Either of the above, by what `path` is: a folder or a file. */
int image_source_open(const char *path, struct image_source **out, char *err, size_t errlen);

/* For sources: whether an oci-layout file's `len` bytes say
 * {"imageLayoutVersion": "1.0.0"}; -EINVAL with err naming `where` if not. */
int image_layout_version_check(const char *buf, size_t len, const char *where, char *err, size_t errlen);

/* For sources: b reads through raw(ctx) (raw_close(ctx) at
 * image_blob_close, and on failure here), which must yield `size` bytes
 * with digest d. 0, or -ENOMEM. */
int image_blob_init(struct image_blob *b, ssize_t (*raw)(void *ctx, void *buf, size_t n),
                    void (*raw_close)(void *ctx), void *ctx, const struct image_digest *d, uint64_t size);
/* raw and raw_close for bytes in memory: ctx a heap struct image_mem,
 * which raw_close frees (the bytes stay the caller's). */
struct image_mem {
    const char *p;
    size_t len, off;
};
ssize_t image_blob_mem_read(void *ctx, void *buf, size_t n);
void image_blob_mem_close(void *ctx);
/* raw and raw_close for a file descriptor passed as ctx (intptr_t). */
ssize_t image_blob_fd_read(void *ctx, void *buf, size_t n);
void image_blob_fd_close(void *ctx);

/* Reads up to n bytes of b into buf: >0 bytes, 0 at the end (after the
 * size and digest were found right), or -EIO with err set (a read error,
 * a blob shorter or longer than its descriptor says, a wrong digest). */
ssize_t image_blob_read(struct image_blob *b, void *buf, size_t n, char *err, size_t errlen);
void image_blob_close(struct image_blob *b);

/* The whole blob d (a JSON document) into a heap buffer, verified; at most
 * `max` bytes (a descriptor claiming more is refused before reading). */
int image_blob_read_all(struct image_source *src, const struct image_digest *d, uint64_t size, size_t max,
                        char **buf, size_t *len, char *err, size_t errlen);

#endif
