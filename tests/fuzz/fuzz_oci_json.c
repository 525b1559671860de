/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: an OCI image's JSON documents (core/image/oci.c) as a
 * user's image file holds them: the input is parsed as an index, a
 * manifest and a config, and an index that parses is asked for a manifest.
 * Whatever the input: every refusal is -EINVAL with a message, or -ENOMEM;
 * what parses keeps its bounds (at most OCI_MAX_ENTRIES entries, strings
 * NUL-terminated inside their buffers, digests canonical); nothing leaks.
 * The same bytes, split at the first newline, are also a layer entry's
 * path and hardlink target: a cleaned path never holds a ".." component
 * or an empty one, and never starts with '/'. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image/entry.h"
#include "image/oci.h"

#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_desc(const struct oci_descriptor *d)
{
    if (!memchr(d->media_type, 0, sizeof(d->media_type)) || !memchr(d->ref_name, 0, sizeof(d->ref_name)) ||
        !memchr(d->os, 0, sizeof(d->os)) || strlen(d->digest.text) < 7 + 64)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    struct oci_index x;
    int rc = oci_index_parse(data, size, &x, err, sizeof(err));
    if (rc == 0) {
        if (x.n > OCI_MAX_ENTRIES)
            abort();
        for (size_t i = 0; i < x.n; i++)
            check_desc(&x.manifests[i]);
        if (!oci_index_pick(&x, NULL, "linux", "amd64", err, sizeof(err)) && !err[0])
            abort();
        oci_index_free(&x);
    } else if ((rc != -EINVAL && rc != -ENOMEM) || (rc == -EINVAL && !err[0])) {
        abort();
    }
    struct oci_manifest m;
    err[0] = '\0';
    rc = oci_manifest_parse(data, size, &m, err, sizeof(err));
    if (rc == 0) {
        check_desc(&m.config);
        for (size_t i = 0; i < m.n; i++)
            check_desc(&m.layers[i]);
        oci_manifest_free(&m);
    } else if ((rc != -EINVAL && rc != -ENOMEM) || (rc == -EINVAL && !err[0])) {
        abort();
    }
    struct oci_config c;
    err[0] = '\0';
    rc = oci_config_parse(data, size, &c, err, sizeof(err));
    if (rc == 0) {
        if (c.n > OCI_MAX_ENTRIES)
            abort();
        oci_config_free(&c);
    } else if ((rc != -EINVAL && rc != -ENOMEM) || (rc == -EINVAL && !err[0])) {
        abort();
    }
    char text[2 * LAYER_PATH_MAX];
    size_t n = size < sizeof(text) - 1 ? size : sizeof(text) - 1;
    memcpy(text, data, n);
    text[n] = '\0';
    char *nl = strchr(text, '\n');
    if (nl)
        *nl = '\0';
    struct layer_entry e;
    if (layer_entry_classify(text, n & 1 ? S_IFREG : S_IFDIR, nl ? nl + 1 : NULL, &e, err, sizeof(err)) == 0) {
        const char *paths[2] = {e.path, e.link};
        for (int k = 0; k < 2; k++) {
            const char *p = paths[k];
            if (p[0] == '/' || strstr(p, "//") || !strcmp(p, "..") || !strncmp(p, "../", 3) ||
                strstr(p, "/../") || (strlen(p) >= 3 && !strcmp(p + strlen(p) - 3, "/..")))
                abort();
        }
    }
    return 0;
}
