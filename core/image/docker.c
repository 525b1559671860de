/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The older `docker save` archive (before Docker 25 wrote an OCI layout
 * into it): manifest.json lists, per image, its Config file, RepoTags and
 * Layers (uncompressed tars, each the layer whose sha256 is the config's
 * diff_id at its index). It carries no descriptors, so this file writes
 * the OCI documents it stands for: a manifest per image (config: the
 * config file's own sha256 and size; layers: diff_ids and the tar
 * entries' sizes, media type ...layer.v1.tar) and an index with one entry
 * per RepoTag (ref.name: the RepoTag, "name:tag"). resolve.c then
 * reads them like any OCI image, and every blob is still checked: the
 * config against the digest taken here, each layer against its diff_id.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "image/archive_int.h"
#include "image/oci.h"

#define DOCKER_IMAGES_MAX 64

static int map_add(struct tarsrc *t, const struct image_digest *d, const char *path, char *mem, size_t len)
{
    struct dmap *m = realloc(t->map, (t->nmap + 1) * sizeof(*m));
    if (!m)
        return -ENOMEM;
    t->map = m;
    m[t->nmap] = (struct dmap){*d, path ? strdup(path) : NULL, mem, len};
    if (path && !m[t->nmap].path)
        return -ENOMEM;
    t->nmap++;
    return 0;
}

static void sha256_of(const char *p, size_t len, struct image_digest *d)
{
    struct image_hasher h;
    if (image_hasher_init(&h, IMAGE_DIGEST_SHA256)) {
        memset(d, 0, sizeof(*d));
        return;
    }
    image_hasher_update(&h, p, len);
    image_hasher_final(&h, d);
}

static json_t *descriptor(const char *media_type, const struct image_digest *d, uint64_t size)
{
    return json_pack("{s:s, s:s, s:I}", "mediaType", media_type, "digest", d->text, "size", (json_int_t)size);
}

/* One manifest.json entry: its manifest synthesized and mapped, its index
 * entries (one per RepoTag) appended to `manifests`. */
static int one_image(struct tarsrc *t, json_t *img, size_t i, json_t *manifests, char *err, size_t errlen)
{
    char where[64];
    snprintf(where, sizeof(where), "manifest.json[%zu]", i);
    json_t *cfg = json_object_get(img, "Config"), *layers = json_object_get(img, "Layers");
    json_t *tags = json_object_get(img, "RepoTags");
    if (!json_is_string(cfg) || !json_is_array(layers) || (tags && !json_is_null(tags) && !json_is_array(tags)))
        return tar_fail(t, err, errlen, -EINVAL, where, "expected Config (a string), Layers (an array of "
                        "strings) and RepoTags (an array or null)");
    char *cbuf = NULL;
    size_t clen = 0;
    int rc = tar_read_entry(t, json_string_value(cfg), &cbuf, &clen, err, errlen);
    if (rc)
        return rc == -ENOENT ? -EINVAL : rc; /* -ENOENT means no manifest.json */
    struct image_digest cd;
    sha256_of(cbuf, clen, &cd);
    struct oci_config c;
    char inner[512];
    rc = oci_config_parse(cbuf, clen, &c, inner, sizeof(inner));
    free(cbuf);
    if (rc)
        return tar_fail(t, err, errlen, rc, json_string_value(cfg), inner);
    if (c.n != json_array_size(layers)) {
        snprintf(inner, sizeof(inner), "%zu Layers, but its config has %zu diff_ids", json_array_size(layers), c.n);
        oci_config_free(&c);
        return tar_fail(t, err, errlen, -EINVAL, where, inner);
    }
    json_t *ldescs = json_array();
    rc = ldescs ? map_add(t, &cd, json_string_value(cfg), NULL, 0) : -ENOMEM;
    for (size_t k = 0; !rc && k < c.n; k++) {
        json_t *lp = json_array_get(layers, k);
        uint64_t size = 0;
        if (!json_is_string(lp)) {
            rc = tar_fail(t, err, errlen, -EINVAL, where, "Layers: expected strings");
            break;
        }
        rc = tar_entry_size(t, json_string_value(lp), &size, err, errlen);
        rc = rc == -ENOENT ? -EINVAL : rc;
        if (!rc)
            rc = json_array_append_new(ldescs, descriptor("application/vnd.oci.image.layer.v1.tar",
                                                          &c.diff_ids[k], size)) ? -ENOMEM : 0;
        if (!rc)
            rc = map_add(t, &c.diff_ids[k], json_string_value(lp), NULL, 0);
    }
    oci_config_free(&c);
    json_t *m = rc ? NULL
                   : json_pack("{s:i, s:s, s:o, s:O}", "schemaVersion", 2, "mediaType",
                               "application/vnd.oci.image.manifest.v1+json", "config",
                               descriptor("application/vnd.oci.image.config.v1+json", &cd, clen), "layers", ldescs);
    json_decref(ldescs);
    if (rc)
        return rc;
    char *mtext = m ? json_dumps(m, JSON_COMPACT) : NULL;
    json_decref(m);
    if (!mtext)
        return -ENOMEM;
    struct image_digest md;
    size_t mlen = strlen(mtext);
    sha256_of(mtext, mlen, &md);
    if ((rc = map_add(t, &md, NULL, mtext, mlen))) {
        free(mtext);
        return rc;
    }
    size_t ntags = json_is_array(tags) ? json_array_size(tags) : 0;
    for (size_t k = 0; k < (ntags ? ntags : 1); k++) {
        json_t *e = descriptor("application/vnd.oci.image.manifest.v1+json", &md, mlen);
        json_t *tag = ntags ? json_array_get(tags, k) : NULL;
        if (e && json_is_string(tag)) {
            /* The whole RepoTag: oci_index_pick matches its tag too. */
            json_object_set_new(e, "annotations",
                                json_pack("{s:s}", "org.opencontainers.image.ref.name", json_string_value(tag)));
        }
        if (!e || json_array_append_new(manifests, e))
            return -ENOMEM;
    }
    return 0;
}

int docker_open(struct tarsrc *t, char *err, size_t errlen)
{
    char *buf = NULL;
    size_t len = 0;
    int rc = tar_read_entry(t, "manifest.json", &buf, &len, err, errlen);
    if (rc)
        return rc;
    json_error_t je;
    json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
    free(buf);
    if (!json_is_array(root) || json_array_size(root) == 0 || json_array_size(root) > DOCKER_IMAGES_MAX) {
        json_decref(root);
        return tar_fail(t, err, errlen, -EINVAL, "manifest.json",
                        "expected a JSON array of 1 to 64 images (Config, RepoTags, Layers)");
    }
    json_t *manifests = json_array();
    rc = manifests ? 0 : -ENOMEM;
    for (size_t i = 0; !rc && i < json_array_size(root); i++) {
        json_t *img = json_array_get(root, i);
        rc = json_is_object(img) ? one_image(t, img, i, manifests, err, errlen)
                                 : tar_fail(t, err, errlen, -EINVAL, "manifest.json", "expected objects");
    }
    json_decref(root);
    json_t *index = rc ? NULL : json_pack("{s:i, s:o}", "schemaVersion", 2, "manifests", manifests);
    if (rc)
        json_decref(manifests);
    if (!rc && !index)
        rc = -ENOMEM;
    if (!rc) {
        t->index = json_dumps(index, JSON_COMPACT);
        t->index_len = t->index ? strlen(t->index) : 0;
        rc = t->index ? 0 : -ENOMEM;
    }
    json_decref(index);
    return rc;
}
