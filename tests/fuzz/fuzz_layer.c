/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: a layer as an image file holds it, applied to a root
 * disk (core/image/layer.c, entry.c, rootfs.c). The first input byte picks
 * the media type (tar, gzip, zstd); the rest is the blob, whose digest is
 * taken here so that it passes and the tar inside is what gets exercised
 * (its diff_id is the same digest: a compressed blob fails that check only
 * at the end, after every entry was applied). Each input starts from a
 * fresh copy of one small empty file system (4 MiB, 64 inodes: running
 * out of room is part of what is fuzzed). Whatever the input: no crash,
 * no out-of-bounds access, no leak, every failure an -errno with a
 * message that names the layer. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "image/layer.h"
#include "image/rootfs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char disk[64];
static char *template_bytes;
static size_t template_len;

static struct image_mem blob_bytes;

static int open_blob(struct image_source *src, const struct image_digest *d, uint64_t size, struct image_blob *b,
                     char *err, size_t errlen)
{
    (void)src;
    (void)err;
    (void)errlen;
    struct image_mem *m = malloc(sizeof(*m));
    if (!m)
        return -ENOMEM;
    *m = blob_bytes;
    return image_blob_init(b, image_blob_mem_read, image_blob_mem_close, m, d, size);
}

static const struct image_source_ops ops = {.open_blob = open_blob};

static int apply(void *priv, const struct layer_entry *e, const struct rootfs_meta *m, rootfs_data_fn data,
                 struct layer_data *d, char *err, size_t errlen)
{
    return rootfs_apply(priv, e, m, data, d, err, errlen);
}

static void remove_disk(void)
{
    unlink(disk);
}

/* The empty file system, made once with mke2fs and kept in memory. */
static void make_template(void)
{
    atexit(remove_disk);
    snprintf(disk, sizeof(disk), "/tmp/plugvm-fuzz-layer-%d.ext4", (int)getpid());
    struct rootfs *fs;
    char err[512];
    if (rootfs_create(disk, 4 << 20, 64, &fs, err, sizeof(err)) || rootfs_close(fs, err, sizeof(err))) {
        fprintf(stderr, "fuzz_layer: %s\n", err);
        abort();
    }
    FILE *f = fopen(disk, "rb");
    if (!f)
        abort();
    template_bytes = malloc(4 << 20);
    template_len = fread(template_bytes, 1, 4 << 20, f);
    fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (!template_bytes)
        make_template();
    int fd = open(disk, O_WRONLY | O_TRUNC);
    if (fd < 0 || write(fd, template_bytes, template_len) != (ssize_t)template_len)
        abort();
    close(fd);

    static const enum oci_kind kinds[] = {OCI_KIND_LAYER_TAR, OCI_KIND_LAYER_GZIP, OCI_KIND_LAYER_ZSTD};
    struct oci_descriptor desc = {.kind = kinds[data[0] % 3], .size = size - 1};
    snprintf(desc.media_type, sizeof(desc.media_type), "fuzz");
    struct image_hasher h;
    if (image_hasher_init(&h, IMAGE_DIGEST_SHA256))
        return 0;
    image_hasher_update(&h, data + 1, size - 1);
    image_hasher_final(&h, &desc.digest);
    blob_bytes = (struct image_mem){(const char *)data + 1, size - 1, 0};

    struct image_source src = {.ops = &ops};
    struct rootfs *fs;
    char err[2048];
    if (rootfs_open(disk, &fs, err, sizeof(err)))
        abort();
    err[0] = '\0';
    int rc = layer_walk(&src, &desc, &desc.digest, apply, fs, NULL, err, sizeof(err));
    if (rc > 0 || (rc < 0 && rc != -ENOMEM && !strstr(err, "layer sha256:")))
        abort(); /* a failure always says what it was */
    char cerr[512];
    rootfs_close(fs, cerr, sizeof(cerr));
    return 0;
}
