/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The OCI image spec's JSON documents (github.com/opencontainers/image-spec,
 * v1.1: descriptor.md, image-index.md, manifest.md, config.md) and Docker's
 * image manifest v2 schema 2 equivalents, parsed with jansson into what an
 * import needs: descriptors (mediaType, digest, size, platform, the
 * org.opencontainers.image.ref.name annotation), a manifest's config and
 * layers, a config's rootfs.diff_ids. Everything here is input from a file
 * a user gave: each refusal says which field and what was expected, in
 * `err` (the caller names the image and blob). Pure functions, no I/O;
 * thread-safe.
 */
#ifndef PLUGVM_IMAGE_OCI_H
#define PLUGVM_IMAGE_OCI_H

#include <stddef.h>
#include <stdint.h>

#include "image/digest.h"

/* What a media type is, OCI's and Docker's names alike. */
enum oci_kind {
    OCI_KIND_UNKNOWN = 0,
    OCI_KIND_INDEX,       /* image index / Docker manifest list */
    OCI_KIND_MANIFEST,    /* image manifest / Docker manifest v2 schema 2 */
    OCI_KIND_CONFIG,      /* image config / Docker container image v1 */
    OCI_KIND_LAYER_TAR,   /* an uncompressed tar layer */
    OCI_KIND_LAYER_GZIP,
    OCI_KIND_LAYER_ZSTD,
};

enum oci_kind oci_media_type_kind(const char *media_type);

/* A string field too long for these buffers is refused, not cut. */
#define OCI_MEDIA_TYPE_MAX 128
#define OCI_PLATFORM_MAX 32
#define OCI_REF_NAME_MAX 256
/* Bounds on what one document may list; real images are far below. */
#define OCI_MAX_ENTRIES 4096

struct oci_descriptor {
    char media_type[OCI_MEDIA_TYPE_MAX];
    enum oci_kind kind;
    struct image_digest digest;
    uint64_t size;                  /* bytes of the blob */
    /* Index entries only; "" when absent. */
    char os[OCI_PLATFORM_MAX], arch[OCI_PLATFORM_MAX], variant[OCI_PLATFORM_MAX];
    char ref_name[OCI_REF_NAME_MAX]; /* org.opencontainers.image.ref.name */
};

struct oci_index {
    struct oci_descriptor *manifests; /* heap; n of them */
    size_t n;
};

struct oci_manifest {
    struct oci_descriptor config;
    struct oci_descriptor *layers;    /* heap; n, bottom layer first */
    size_t n;
};

struct oci_config {
    char os[OCI_PLATFORM_MAX], arch[OCI_PLATFORM_MAX];
    struct image_digest *diff_ids;    /* heap; n, the uncompressed layers' digests */
    size_t n;
};

/* Each parses `len` bytes of JSON at `json` (no NUL needed) into *out:
 * 0, or -EINVAL with err set (a message such as "manifests[1].digest:
 * expected sha256:<64 hex> or sha512:<128 hex>, got \"md5:...\""), or
 * -ENOMEM. On success the caller frees *out with the matching _free.
 *   index:    schemaVersion 2; manifests[] of descriptors whose media type
 *             is a manifest or an index (anything else is refused).
 *   manifest: schemaVersion 2; config a config descriptor; layers[] layer
 *             descriptors (tar, gzip or zstd; others refused by name).
 *   config:   rootfs.type "layers" and rootfs.diff_ids[] digests; os and
 *             architecture as strings when present. */
int oci_index_parse(const void *json, size_t len, struct oci_index *out, char *err, size_t errlen);
int oci_manifest_parse(const void *json, size_t len, struct oci_manifest *out, char *err, size_t errlen);
int oci_config_parse(const void *json, size_t len, struct oci_config *out, char *err, size_t errlen);
void oci_index_free(struct oci_index *x);
void oci_manifest_free(struct oci_manifest *x);
void oci_config_free(struct oci_config *x);

/* The index entry to import: with `ref` (a tag, or NULL), the entries whose
 * ref.name annotation is it (or ends in ":" and it, for a full
 * "name:tag"); then those for platform os/arch (an entry
 * with no platform counts as matching: a single-platform image), or with
 * ref == NULL, exactly one candidate. NULL with err set when none or
 * several remain (the message lists what the index offers). */
const struct oci_descriptor *oci_index_pick(const struct oci_index *x, const char *ref, const char *os,
                                            const char *arch, char *err, size_t errlen);

/* 0 when the config's diff_ids match the manifest's layers one for one
 * in number; -EINVAL with err otherwise. */
int oci_check_layers(const struct oci_manifest *m, const struct oci_config *c, char *err, size_t errlen);

#endif
