/* SPDX-License-Identifier: Apache-2.0 */
/*
 * From an image source and what the user named (nothing, a tag, or
 * @DIGEST) to the verified manifest and config of the linux/amd64 image:
 * the index read and parsed, the entry picked (a nested index followed,
 * at most 4 deep), the manifest and config blobs read through
 * image_blob (size and digest checked) and parsed, the config's diff_ids
 * matched to the layers in number, its platform checked. Every refusal
 * names the source, the document or blob, and what was expected.
 */
#ifndef PLUGVM_IMAGE_RESOLVE_H
#define PLUGVM_IMAGE_RESOLVE_H

#include "image/oci.h"
#include "image/source.h"

/* A manifest or config larger than this is refused unread. */
#define IMAGE_JSON_MAX (4u << 20)

struct image_resolved {
    struct oci_descriptor manifest_desc; /* its digest keys the cache */
    struct oci_manifest manifest;
    struct oci_config config;
    char *config_json;                   /* the config blob's bytes, verified */
    size_t config_len;
};

/* ref: NULL (the index must name one linux/amd64 manifest), "TAG" (its
 * org.opencontainers.image.ref.name), or "@sha256:HEX" (an index entry with
 * that digest). 0 with *out filled (free with image_resolved_free), or
 * -errno with err set. */
int image_resolve(struct image_source *src, const char *ref, struct image_resolved *out, char *err,
                  size_t errlen);
void image_resolved_free(struct image_resolved *r);

#endif
