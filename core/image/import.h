/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `plugvm image import`: an image (OCI layout folder, oci-archive or
 * docker-archive, with :TAG or @DIGEST) into the cache as a root disk.
 * Two passes over the layers: the first checks every blob and diff_id and
 * measures what the file system must hold, before anything is written;
 * the second applies the layers into a new ext4 image in a temporary
 * folder of the cache, which is renamed into place when whole. A layer's
 * whiteouts (.wh.NAME, .wh..wh..opq) are applied before its other entries
 * so that, as layer.md says, they only ever hide what lower layers made,
 * whatever the order inside the tar. Not thread-safe within one call;
 * separate calls (and processes) may import into one cache at once.
 */
#ifndef PLUGVM_IMAGE_IMPORT_H
#define PLUGVM_IMAGE_IMPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "image/digest.h"
#include "image/oci.h"

struct image_import_opts {
    const char *cache;  /* the cache folder, NULL for the default (image_cache_root) */
    /* Progress, when not NULL: phase "checking" (first pass) or "applying",
     * done and total in bytes of layer blobs. */
    void (*progress)(void *priv, const char *phase, uint64_t done, uint64_t total);
    void *priv;
};

struct image_import_result {
    char digest[IMAGE_DIGEST_TEXT_MAX]; /* the manifest's: the cache key */
    char tag[OCI_REF_NAME_MAX];         /* the tag it got, "" if none */
    char dir[4096 + IMAGE_DIGEST_TEXT_MAX]; /* its folder in the cache */
    bool cached;                        /* it was there already: nothing was read but documents */
};

/* Imports `arg`: PATH, PATH:TAG or PATH@sha256:HEX (a PATH that exists
 * as given is taken whole, colons and all). 0 with *res, or -errno with
 * err naming the image, and the blob, layer entry or setting at fault. */
int image_import(const char *arg, const struct image_import_opts *o, struct image_import_result *res, char *err,
                 size_t errlen);

/* The tag an import gives: `ref` itself when it is already a name:tag
 * ("busybox:latest", "reg.io/x/y:1"), else the base name of `path`
 * without extensions, a colon and ref ("img.tar" and "latest" give
 * "img:latest"); "" when ref is "". */
void image_tag_name(const char *path, const char *ref, char *out, size_t outlen);

#endif
