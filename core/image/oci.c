/* SPDX-License-Identifier: Apache-2.0 */
#include "image/oci.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

static const struct {
    const char *name;
    enum oci_kind kind;
} media_types[] = {
    {"application/vnd.oci.image.index.v1+json", OCI_KIND_INDEX},
    {"application/vnd.docker.distribution.manifest.list.v2+json", OCI_KIND_INDEX},
    {"application/vnd.oci.image.manifest.v1+json", OCI_KIND_MANIFEST},
    {"application/vnd.docker.distribution.manifest.v2+json", OCI_KIND_MANIFEST},
    {"application/vnd.oci.image.config.v1+json", OCI_KIND_CONFIG},
    {"application/vnd.docker.container.image.v1+json", OCI_KIND_CONFIG},
    {"application/vnd.oci.image.layer.v1.tar", OCI_KIND_LAYER_TAR},
    {"application/vnd.oci.image.layer.v1.tar+gzip", OCI_KIND_LAYER_GZIP},
    {"application/vnd.oci.image.layer.v1.tar+zstd", OCI_KIND_LAYER_ZSTD},
    /* Deprecated in image-spec 1.1 but still written by older tools. */
    {"application/vnd.oci.image.layer.nondistributable.v1.tar", OCI_KIND_LAYER_TAR},
    {"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", OCI_KIND_LAYER_GZIP},
    {"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd", OCI_KIND_LAYER_ZSTD},
    {"application/vnd.docker.image.rootfs.diff.tar.gzip", OCI_KIND_LAYER_GZIP},
    {"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", OCI_KIND_LAYER_GZIP},
};

enum oci_kind oci_media_type_kind(const char *media_type)
{
    for (size_t i = 0; i < sizeof(media_types) / sizeof(media_types[0]); i++)
        if (!strcmp(media_type, media_types[i].name))
            return media_types[i].kind;
    return OCI_KIND_UNKNOWN;
}

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

/* The JSON text at `len` bytes as an object: NULL with err on a parse
 * error (jansson's line and column), a non-object, or duplicate keys. */
static json_t *load_object(const void *json, size_t len, const char *what, char *err, size_t errlen)
{
    json_error_t e;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &e);
    if (!root) {
        fail(err, errlen, "%s is not valid JSON: line %d, column %d: %s", what, e.line, e.column, e.text);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        fail(err, errlen, "%s: expected a JSON object", what);
        return NULL;
    }
    return root;
}

static int schema_version_2(json_t *root, const char *what, char *err, size_t errlen)
{
    json_t *v = json_object_get(root, "schemaVersion");
    if (!json_is_integer(v) || json_integer_value(v) != 2)
        return fail(err, errlen, "%s: schemaVersion: expected 2", what);
    return 0;
}

/* A string member copied into buf[cap]; absent is "" unless required. */
static int get_string(json_t *obj, const char *key, char *buf, size_t cap, bool required, const char *where,
                      char *err, size_t errlen)
{
    json_t *v = json_object_get(obj, key);
    buf[0] = '\0';
    if (!v) {
        if (required)
            return fail(err, errlen, "%s.%s: missing", where, key);
        return 0;
    }
    if (!json_is_string(v))
        return fail(err, errlen, "%s.%s: expected a string", where, key);
    size_t n = json_string_length(v);
    if (n >= cap || memchr(json_string_value(v), '\0', n))
        return fail(err, errlen, "%s.%s: expected a string of at most %zu bytes without NUL", where, key,
                    cap - 1);
    memcpy(buf, json_string_value(v), n + 1);
    return 0;
}

static int parse_digest(json_t *v, struct image_digest *out, const char *where, char *err, size_t errlen)
{
    if (!json_is_string(v) || image_digest_parse(json_string_value(v), out))
        return fail(err, errlen, "%s: expected sha256:<64 hex> or sha512:<128 hex>, got %s%.80s%s", where,
                    json_is_string(v) ? "\"" : "", json_is_string(v) ? json_string_value(v) : "a non-string",
                    json_is_string(v) ? "\"" : "");
    return 0;
}

/* descriptor.md: mediaType, digest, size required; platform and
 * annotations read where present. */
static int parse_descriptor(json_t *v, struct oci_descriptor *d, const char *where, char *err, size_t errlen)
{
    char at[160];
    memset(d, 0, sizeof(*d));
    if (!json_is_object(v))
        return fail(err, errlen, "%s: expected a descriptor object", where);
    if (get_string(v, "mediaType", d->media_type, sizeof(d->media_type), true, where, err, errlen))
        return -EINVAL;
    d->kind = oci_media_type_kind(d->media_type);
    snprintf(at, sizeof(at), "%s.digest", where);
    if (parse_digest(json_object_get(v, "digest"), &d->digest, at, err, errlen))
        return -EINVAL;
    json_t *size = json_object_get(v, "size");
    if (!json_is_integer(size) || json_integer_value(size) < 0)
        return fail(err, errlen, "%s.size: expected a byte count (an integer, 0 or more)", where);
    d->size = (uint64_t)json_integer_value(size);
    json_t *p = json_object_get(v, "platform");
    if (p) {
        snprintf(at, sizeof(at), "%s.platform", where);
        if (!json_is_object(p))
            return fail(err, errlen, "%s: expected an object", at);
        if (get_string(p, "os", d->os, sizeof(d->os), true, at, err, errlen) ||
            get_string(p, "architecture", d->arch, sizeof(d->arch), true, at, err, errlen) ||
            get_string(p, "variant", d->variant, sizeof(d->variant), false, at, err, errlen))
            return -EINVAL;
    }
    json_t *a = json_object_get(v, "annotations");
    if (a) {
        snprintf(at, sizeof(at), "%s.annotations", where);
        if (!json_is_object(a))
            return fail(err, errlen, "%s: expected an object", at);
        if (get_string(a, "org.opencontainers.image.ref.name", d->ref_name, sizeof(d->ref_name), false, at,
                       err, errlen))
            return -EINVAL;
    }
    return 0;
}

/* An array member of at most OCI_MAX_ENTRIES: its size in *n. */
static json_t *get_array(json_t *root, const char *key, size_t *n, char *err, size_t errlen)
{
    json_t *a = json_object_get(root, key);
    if (!json_is_array(a)) {
        fail(err, errlen, "%s: expected an array", key);
        return NULL;
    }
    *n = json_array_size(a);
    if (*n > OCI_MAX_ENTRIES) {
        fail(err, errlen, "%s: %zu entries, more than the %d this reader takes", key, *n, OCI_MAX_ENTRIES);
        return NULL;
    }
    return a;
}

static bool kind_in(enum oci_kind k, const enum oci_kind *ok)
{
    for (; *ok != OCI_KIND_UNKNOWN; ok++)
        if (k == *ok)
            return true;
    return false;
}

/* root[key], an array of descriptors whose kinds are among `ok` (ended by
 * OCI_KIND_UNKNOWN), into *out (heap, *n of them); another kind is refused
 * as "KEY[i].mediaType: "TYPE" is not WHAT_OK". On failure *out holds the
 * entries parsed so far (the caller frees it). */
static int parse_descriptors(json_t *root, const char *key, const enum oci_kind *ok, const char *what_ok,
                             struct oci_descriptor **out, size_t *n, char *err, size_t errlen)
{
    size_t count = 0;
    json_t *a = get_array(root, key, &count, err, errlen);
    if (!a)
        return -EINVAL;
    if (!(*out = calloc(count ? count : 1, sizeof(**out))))
        return -ENOMEM;
    for (size_t i = 0; i < count; i++) {
        char where[32];
        snprintf(where, sizeof(where), "%s[%zu]", key, i);
        struct oci_descriptor *d = &(*out)[i];
        *n = i + 1;
        int rc = parse_descriptor(json_array_get(a, i), d, where, err, errlen);
        if (!rc && !kind_in(d->kind, ok))
            rc = fail(err, errlen, "%s.mediaType: \"%s\" is not %s", where, d->media_type, what_ok);
        if (rc)
            return rc;
    }
    return 0;
}

int oci_index_parse(const void *json, size_t len, struct oci_index *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    json_t *root = load_object(json, len, "the index", err, errlen);
    if (!root)
        return -EINVAL;
    static const enum oci_kind ok[] = {OCI_KIND_MANIFEST, OCI_KIND_INDEX, OCI_KIND_UNKNOWN};
    int rc = schema_version_2(root, "the index", err, errlen);
    if (!rc)
        rc = parse_descriptors(root, "manifests", ok, "an image manifest or index", &out->manifests, &out->n,
                               err, errlen);
    json_decref(root);
    if (rc)
        oci_index_free(out);
    return rc;
}

int oci_manifest_parse(const void *json, size_t len, struct oci_manifest *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    json_t *root = load_object(json, len, "the manifest", err, errlen);
    if (!root)
        return -EINVAL;
    static const enum oci_kind ok[] = {OCI_KIND_LAYER_TAR, OCI_KIND_LAYER_GZIP, OCI_KIND_LAYER_ZSTD,
                                       OCI_KIND_UNKNOWN};
    int rc = schema_version_2(root, "the manifest", err, errlen);
    if (!rc)
        rc = parse_descriptor(json_object_get(root, "config"), &out->config, "config", err, errlen);
    if (!rc && out->config.kind != OCI_KIND_CONFIG)
        rc = fail(err, errlen, "config.mediaType: \"%s\" is not an image config", out->config.media_type);
    if (!rc)
        rc = parse_descriptors(root, "layers", ok, "a layer this reader applies (a tar, gzip or zstd tar layer)",
                               &out->layers, &out->n, err, errlen);
    json_decref(root);
    if (rc)
        oci_manifest_free(out);
    return rc;
}

int oci_config_parse(const void *json, size_t len, struct oci_config *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    json_t *root = load_object(json, len, "the config", err, errlen);
    if (!root)
        return -EINVAL;
    int rc = get_string(root, "os", out->os, sizeof(out->os), false, "config", err, errlen);
    if (!rc)
        rc = get_string(root, "architecture", out->arch, sizeof(out->arch), false, "config", err, errlen);
    json_t *rootfs = json_object_get(root, "rootfs");
    char type[16];
    if (!rc && !json_is_object(rootfs))
        rc = fail(err, errlen, "config.rootfs: expected an object");
    if (!rc && (get_string(rootfs, "type", type, sizeof(type), true, "config.rootfs", err, errlen) ||
                strcmp(type, "layers")))
        rc = rc ? rc : fail(err, errlen, "config.rootfs.type: expected \"layers\", got \"%s\"", type);
    size_t n = 0;
    json_t *a = NULL;
    if (!rc && !(a = get_array(rootfs, "diff_ids", &n, err, errlen)))
        rc = -EINVAL;
    if (!rc && !(out->diff_ids = calloc(n ? n : 1, sizeof(*out->diff_ids))))
        rc = -ENOMEM;
    for (size_t i = 0; !rc && i < n; i++) {
        char where[48];
        snprintf(where, sizeof(where), "config.rootfs.diff_ids[%zu]", i);
        rc = parse_digest(json_array_get(a, i), &out->diff_ids[i], where, err, errlen);
        out->n = i + 1;
    }
    json_decref(root);
    if (rc)
        oci_config_free(out);
    return rc;
}

void oci_index_free(struct oci_index *x)
{
    free(x->manifests);
    memset(x, 0, sizeof(*x));
}

void oci_manifest_free(struct oci_manifest *x)
{
    free(x->layers);
    memset(x, 0, sizeof(*x));
}

void oci_config_free(struct oci_config *x)
{
    free(x->diff_ids);
    memset(x, 0, sizeof(*x));
}

static bool platform_ok(const struct oci_descriptor *d, const char *os, const char *arch)
{
    return !d->os[0] || (!strcmp(d->os, os) && !strcmp(d->arch, arch));
}

/* "tag (os/arch), ..." of the index's entries, for a refusal. */
static void list_entries(const struct oci_index *x, char *buf, size_t cap)
{
    size_t at = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < x->n && at + 1 < cap; i++) {
        const struct oci_descriptor *d = &x->manifests[i];
        int w = snprintf(buf + at, cap - at, "%s%s (%s/%s)", i ? ", " : "", d->ref_name[0] ? d->ref_name : "untagged",
                         d->os[0] ? d->os : "any", d->arch[0] ? d->arch : "any");
        if (w < 0)
            break;
        at += (size_t)w < cap - at ? (size_t)w : cap - at - 1;
    }
}

/* ref names the entry: its ref.name whole, or, where that is a full
 * "name:tag" (docker-archive's RepoTags, skopeo's layouts), its tag. */
static bool ref_matches(const char *ref_name, const char *ref)
{
    if (!strcmp(ref_name, ref))
        return true;
    const char *colon = strrchr(ref_name, ':'), *slash = strrchr(ref_name, '/');
    return colon && (!slash || colon > slash) && !strcmp(colon + 1, ref);
}

const struct oci_descriptor *oci_index_pick(const struct oci_index *x, const char *ref, const char *os,
                                            const char *arch, char *err, size_t errlen)
{
    const struct oci_descriptor *found = NULL;
    size_t matches = 0;
    for (size_t i = 0; i < x->n; i++) {
        const struct oci_descriptor *d = &x->manifests[i];
        if (ref && !ref_matches(d->ref_name, ref))
            continue;
        if (!platform_ok(d, os, arch))
            continue;
        if (!found)
            found = d;
        matches++;
    }
    char list[512];
    list_entries(x, list, sizeof(list));
    if (!found) {
        fail(err, errlen, "no manifest %s%s%sfor %s/%s; the index has: %s", ref ? "tagged \"" : "",
             ref ? ref : "", ref ? "\" " : "", os, arch, x->n ? list : "nothing");
        return NULL;
    }
    if (matches > 1) {
        fail(err, errlen, "%zu manifests %s%s%sfor %s/%s; name one with :TAG or @DIGEST; the index has: %s",
             matches, ref ? "tagged \"" : "", ref ? ref : "", ref ? "\" " : "", os, arch, list);
        return NULL;
    }
    return found;
}

int oci_check_layers(const struct oci_manifest *m, const struct oci_config *c, char *err, size_t errlen)
{
    if (m->n != c->n)
        return fail(err, errlen, "the manifest lists %zu layers, the config's rootfs.diff_ids %zu", m->n, c->n);
    return 0;
}
