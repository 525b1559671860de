/* SPDX-License-Identifier: Apache-2.0 */
#include "image/resolve.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NEST_MAX 4

/* err = "SOURCE: WHAT: " + err. */
static int prefix(const struct image_source *src, const char *what, int rc, char *err, size_t errlen)
{
    char inner[1024];
    snprintf(inner, sizeof(inner), "%s", err);
    snprintf(err, errlen, "%s: %s: %s", src->name, what, inner);
    return rc;
}

/* The entry with digest d in index x; NULL with err when there is none. */
static const struct oci_descriptor *by_digest(const struct oci_index *x, const struct image_digest *d, char *err,
                                              size_t errlen)
{
    for (size_t i = 0; i < x->n; i++)
        if (image_digest_equal(&x->manifests[i].digest, d))
            return &x->manifests[i];
    snprintf(err, errlen, "no manifest %s in the index", d->text);
    return NULL;
}

int image_resolve(struct image_source *src, const char *ref, struct image_resolved *out, char *err,
                  size_t errlen)
{
    memset(out, 0, sizeof(*out));
    struct image_digest want;
    bool by_dig = ref && ref[0] == '@';
    if (by_dig && image_digest_parse(ref + 1, &want)) {
        snprintf(err, errlen, "%s: \"%s\": expected @sha256:<64 hex> or @sha512:<128 hex>", src->name, ref);
        return -EINVAL;
    }
    char *buf = NULL;
    size_t len = 0;
    int rc = src->ops->read_index(src, &buf, &len, err, errlen);
    if (rc)
        return rc;
    struct oci_index x;
    rc = oci_index_parse(buf, len, &x, err, errlen);
    free(buf);
    buf = NULL;
    if (rc)
        return prefix(src, "index.json", rc, err, errlen);
    char where[32 + IMAGE_DIGEST_TEXT_MAX] = "index.json";
    struct oci_descriptor pick;
    for (int depth = 0;; depth++) {
        const struct oci_descriptor *d = by_dig ? by_digest(&x, &want, err, errlen)
                                                : oci_index_pick(&x, depth ? NULL : ref, "linux", "amd64",
                                                                 err, errlen);
        if (!d) {
            oci_index_free(&x);
            return prefix(src, where, -ENOENT, err, errlen);
        }
        pick = *d;
        oci_index_free(&x);
        if (pick.kind == OCI_KIND_MANIFEST)
            break;
        /* A nested index (image-index.md allows it): follow it. */
        if (depth + 1 == NEST_MAX) {
            snprintf(err, errlen, "%s: indexes nested more than %d deep", src->name, NEST_MAX);
            return -ELOOP;
        }
        snprintf(where, sizeof(where), "index %s", pick.digest.text);
        rc = image_blob_read_all(src, &pick.digest, pick.size, IMAGE_JSON_MAX, &buf, &len, err, errlen);
        if (!rc)
            rc = oci_index_parse(buf, len, &x, err, errlen);
        free(buf);
        buf = NULL;
        if (rc)
            return prefix(src, where, rc, err, errlen);
        by_dig = false; /* the digest named the top entry */
    }
    out->manifest_desc = pick;
    snprintf(where, sizeof(where), "manifest %s", pick.digest.text);
    rc = image_blob_read_all(src, &pick.digest, pick.size, IMAGE_JSON_MAX, &buf, &len, err, errlen);
    if (!rc)
        rc = oci_manifest_parse(buf, len, &out->manifest, err, errlen);
    free(buf);
    buf = NULL;
    if (rc)
        return prefix(src, where, rc, err, errlen);
    const struct oci_descriptor *c = &out->manifest.config;
    snprintf(where, sizeof(where), "config %s", c->digest.text);
    rc = image_blob_read_all(src, &c->digest, c->size, IMAGE_JSON_MAX, &out->config_json, &out->config_len, err,
                             errlen);
    if (!rc)
        rc = oci_config_parse(out->config_json, out->config_len, &out->config, err, errlen);
    if (!rc && out->config.os[0] &&
        (strcmp(out->config.os, "linux") || strcmp(out->config.arch, "amd64"))) {
        snprintf(err, errlen, "the image is for %s/%s; plugvm runs linux/amd64 images", out->config.os,
                 out->config.arch);
        rc = -EINVAL;
    }
    if (!rc)
        rc = oci_check_layers(&out->manifest, &out->config, err, errlen);
    if (rc) {
        image_resolved_free(out);
        return prefix(src, where, rc, err, errlen);
    }
    return 0;
}

void image_resolved_free(struct image_resolved *r)
{
    oci_manifest_free(&r->manifest);
    oci_config_free(&r->config);
    free(r->config_json);
    memset(r, 0, sizeof(*r));
}
