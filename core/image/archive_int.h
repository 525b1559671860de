/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What archive.c (an image in a tar) shares with docker.c (the older
 * docker-archive form inside such a tar): the source's state and the tar
 * walks. Internal to core/image.
 */
#ifndef PLUGVM_IMAGE_ARCHIVE_INT_H
#define PLUGVM_IMAGE_ARCHIVE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "image/source.h"

/* docker-archive: where each blob the synthesized documents name lies. */
struct dmap {
    struct image_digest digest;
    char *path; /* an entry of the tar, or NULL: `mem` */
    char *mem;  /* a synthesized manifest */
    size_t len;
};

struct tarsrc {
    struct image_source src;
    char *index;
    size_t index_len;
    struct dmap *map; /* docker-archive only */
    size_t nmap;
};

/* err = "ARCHIVE: WHAT: WHY"; returns rc. */
int tar_fail(const struct tarsrc *t, char *err, size_t errlen, int rc, const char *what, const char *why);
/* The regular entry `path` (at most 4 MiB) into a heap buffer, NUL-terminated:
 * 0, -ENOENT when absent (err set), or another -errno with err. */
int tar_read_entry(const struct tarsrc *t, const char *path, char **buf, size_t *len, char *err, size_t errlen);
/* The size in bytes of the regular entry `path`. */
int tar_entry_size(const struct tarsrc *t, const char *path, uint64_t *size, char *err, size_t errlen);
/* docker.c: the older docker-archive (manifest.json, no oci-layout) as OCI
 * documents: t->index and t->map filled. -ENOENT when there is no
 * manifest.json; other -errno with err. */
int docker_open(struct tarsrc *t, char *err, size_t errlen);

#endif
