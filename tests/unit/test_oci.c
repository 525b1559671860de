/* SPDX-License-Identifier: Apache-2.0 */
/* core/image: digests (against OpenSSL's known answers for "abc", FIPS
 * 180-2's test vectors) and the OCI/Docker JSON documents, good and bad. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "image/digest.h"
#include "image/oci.h"
#include "image/entry.h"

#include <sys/stat.h>

#define D1 "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define D2 "sha256:0000000000000000000000000000000000000000000000000000000000000002"
#define D3 "sha256:0000000000000000000000000000000000000000000000000000000000000003"

static void digests(void **state)
{
    (void)state;
    struct image_digest d, e;
    assert_int_equal(image_digest_parse(D1, &d), 0);
    assert_string_equal(d.text, D1);
    struct image_hasher h;
    assert_int_equal(image_hasher_init(&h, IMAGE_DIGEST_SHA256), 0);
    image_hasher_update(&h, "a", 1);
    image_hasher_update(&h, "bc", 2); /* streamed in pieces */
    image_hasher_final(&h, &e);
    assert_true(image_digest_equal(&d, &e));
    assert_int_equal(image_hasher_init(&h, IMAGE_DIGEST_SHA512), 0);
    image_hasher_update(&h, "abc", 3);
    image_hasher_final(&h, &e);
    assert_string_equal(e.text, "sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
                                "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
    assert_int_equal(image_digest_parse(e.text, &d), 0);
    assert_true(image_digest_equal(&d, &e));
    /* Refused: other algorithms, wrong lengths, uppercase, junk. */
    const char *bad[] = {"md5:d41d8cd98f00b204e9800998ecf8427e", "sha256:abc", "sha256:",
                         "SHA256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
                         "sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD",
                         "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad0",
                         "sha256:ga7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(image_digest_parse(bad[i], &d), -EINVAL);
}

static void media_types(void **state)
{
    (void)state;
    assert_int_equal(oci_media_type_kind("application/vnd.oci.image.index.v1+json"), OCI_KIND_INDEX);
    assert_int_equal(oci_media_type_kind("application/vnd.docker.distribution.manifest.list.v2+json"),
                     OCI_KIND_INDEX);
    assert_int_equal(oci_media_type_kind("application/vnd.docker.distribution.manifest.v2+json"),
                     OCI_KIND_MANIFEST);
    assert_int_equal(oci_media_type_kind("application/vnd.docker.container.image.v1+json"), OCI_KIND_CONFIG);
    assert_int_equal(oci_media_type_kind("application/vnd.oci.image.layer.v1.tar+zstd"), OCI_KIND_LAYER_ZSTD);
    assert_int_equal(oci_media_type_kind("application/vnd.docker.image.rootfs.diff.tar.gzip"),
                     OCI_KIND_LAYER_GZIP);
    assert_int_equal(oci_media_type_kind("application/vnd.oci.image.layer.v1.tar+bzip2"), OCI_KIND_UNKNOWN);
}

static const char index_json[] =
    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":["
    "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" D1 "\",\"size\":500,"
    " \"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"},"
    " \"annotations\":{\"org.opencontainers.image.ref.name\":\"latest\"}},"
    "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" D2 "\",\"size\":501,"
    " \"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\",\"variant\":\"v8\"},"
    " \"annotations\":{\"org.opencontainers.image.ref.name\":\"latest\"}},"
    "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" D3 "\",\"size\":502,"
    " \"annotations\":{\"org.opencontainers.image.ref.name\":\"v2\"}}]}";

static void index_and_pick(void **state)
{
    (void)state;
    struct oci_index x;
    char err[512];
    assert_int_equal(oci_index_parse(index_json, strlen(index_json), &x, err, sizeof(err)), 0);
    assert_int_equal(x.n, 3);
    assert_string_equal(x.manifests[1].variant, "v8");
    assert_int_equal(x.manifests[2].size, 502);
    const struct oci_descriptor *d = oci_index_pick(&x, "latest", "linux", "amd64", err, sizeof(err));
    assert_non_null(d);
    assert_string_equal(d->digest.text, D1);
    d = oci_index_pick(&x, "v2", "linux", "amd64", err, sizeof(err)); /* no platform: taken */
    assert_non_null(d);
    assert_string_equal(d->digest.text, D3);
    /* Untagged: latest/amd64 and v2 both fit. */
    assert_null(oci_index_pick(&x, NULL, "linux", "amd64", err, sizeof(err)));
    assert_non_null(strstr(err, "2 manifests"));
    assert_non_null(strstr(err, "latest (linux/arm64)"));
    assert_null(oci_index_pick(&x, "nope", "linux", "amd64", err, sizeof(err)));
    assert_non_null(strstr(err, "tagged \"nope\""));
    oci_index_free(&x);
}

static const char manifest_json[] =
    "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
    "\"digest\":\"" D1 "\",\"size\":7},\"layers\":["
    "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"" D2 "\",\"size\":10},"
    "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"" D3 "\",\"size\":0}]}";
static const char config_json[] =
    "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Cmd\":[\"/bin/sh\"]},"
    "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" D2 "\",\"" D3 "\"]}}";

static void manifest_and_config(void **state)
{
    (void)state;
    struct oci_manifest m;
    struct oci_config c;
    char err[512];
    assert_int_equal(oci_manifest_parse(manifest_json, strlen(manifest_json), &m, err, sizeof(err)), 0);
    assert_int_equal(m.n, 2);
    assert_int_equal(m.layers[0].kind, OCI_KIND_LAYER_GZIP);
    assert_int_equal(m.layers[1].kind, OCI_KIND_LAYER_TAR);
    assert_int_equal(m.config.size, 7);
    assert_int_equal(oci_config_parse(config_json, strlen(config_json), &c, err, sizeof(err)), 0);
    assert_string_equal(c.arch, "amd64");
    assert_int_equal(c.n, 2);
    assert_string_equal(c.diff_ids[1].text, D3);
    assert_int_equal(oci_check_layers(&m, &c, err, sizeof(err)), 0);
    c.n = 1;
    assert_int_equal(oci_check_layers(&m, &c, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "the manifest lists 2 layers, the config's rootfs.diff_ids 1");
    c.n = 2;
    oci_manifest_free(&m);
    oci_config_free(&c);
}

/* Each broken document, and the words its refusal must hold. */
static void refusals(void **state)
{
    (void)state;
    static const struct {
        int doc; /* 0 index, 1 manifest, 2 config */
        const char *json, *want;
    } cases[] = {
        {0, "{\"schemaVersion\":2,\"manifests\":[", "is not valid JSON"},
        {0, "[]", "expected a JSON object"},
        {0, "{\"schemaVersion\":1,\"manifests\":[]}", "schemaVersion: expected 2"},
        {0, "{\"schemaVersion\":2,\"schemaVersion\":2,\"manifests\":[]}", "is not valid JSON"},
        {0, "{\"schemaVersion\":2}", "manifests: expected an array"},
        {0, "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
            "\"digest\":\"md5:00\",\"size\":1}]}", "manifests[0].digest: expected sha256"},
        {0, "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
            "\"digest\":\"" D1 "\",\"size\":-1}]}", "manifests[0].size: expected a byte count"},
        {0, "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"text/plain\",\"digest\":\"" D1 "\",\"size\":1}]}",
         "manifests[0].mediaType: \"text/plain\" is not an image manifest"},
        {0, "{\"schemaVersion\":2,\"manifests\":[{\"digest\":\"" D1 "\",\"size\":1}]}",
         "manifests[0].mediaType: missing"},
        {1, "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\","
            "\"digest\":\"" D1 "\",\"size\":1},\"layers\":[]}", "config.mediaType"},
        {1, "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
            "\"digest\":\"" D1 "\",\"size\":1},\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+bzip2\","
            "\"digest\":\"" D2 "\",\"size\":1}]}", "layers[0].mediaType: \"application/vnd.oci.image.layer.v1.tar+bzip2\""},
        {1, "{\"schemaVersion\":2,\"layers\":[]}", "config: expected a descriptor object"},
        {2, "{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" D1 "\",7]}}",
         "config.rootfs.diff_ids[1]: expected sha256"},
        {2, "{\"rootfs\":{\"type\":\"overlay\",\"diff_ids\":[]}}", "config.rootfs.type: expected \"layers\""},
        {2, "{\"os\":7,\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}", "config.os: expected a string"},
        {2, "{}", "config.rootfs: expected an object"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char err[512] = "";
        int rc;
        const char *j = cases[i].json;
        if (cases[i].doc == 0) {
            struct oci_index x;
            rc = oci_index_parse(j, strlen(j), &x, err, sizeof(err));
        } else if (cases[i].doc == 1) {
            struct oci_manifest m;
            rc = oci_manifest_parse(j, strlen(j), &m, err, sizeof(err));
        } else {
            struct oci_config c;
            rc = oci_config_parse(j, strlen(j), &c, err, sizeof(err));
        }
        if (rc != -EINVAL || !strstr(err, cases[i].want))
            fail_msg("case %zu: rc %d, message \"%s\", wanted \"%s\"", i, rc, err, cases[i].want);
    }
}

/* Layer entries: cleaning, whiteouts, opaque directories, refusals. */
static void layer_entries(void **state)
{
    (void)state;
    static const struct {
        const char *path;
        mode_t type;
        const char *link;
        int op; /* -1: refused */
        const char *want;
    } cases[] = {
        {"./usr/bin/sh", S_IFREG, NULL, LAYER_ADD, "usr/bin/sh"},
        {"/etc//passwd", S_IFREG, NULL, LAYER_ADD, "etc/passwd"},
        {"a/./b/", S_IFDIR, NULL, LAYER_ADD, "a/b"},
        {"./", S_IFDIR, NULL, LAYER_ADD, ""},
        {"etc/.wh.motd", S_IFREG, NULL, LAYER_WHITEOUT, "etc/motd"},
        {".wh.top", S_IFREG, NULL, LAYER_WHITEOUT, "top"},
        {"var/cache/.wh..wh..opq", S_IFREG, NULL, LAYER_OPAQUE, "var/cache"},
        {".wh..wh..opq", S_IFREG, NULL, LAYER_OPAQUE, ""},
        {"x/.wh..wh.plnk", S_IFDIR, NULL, LAYER_SKIP, NULL},
        {"run/app.sock", S_IFSOCK, NULL, LAYER_SKIP, NULL},
        {"bin/ln", S_IFREG, "./bin/busybox", LAYER_ADD, "bin/ln"},
        {"../etc/passwd", S_IFREG, NULL, -1, "\"..\" component"},
        {"a/b/../../..", S_IFDIR, NULL, -1, "\"..\" component"},
        {"etc/.wh...", S_IFREG, NULL, -1, "a whiteout of \"..\""},
        {"etc/.wh..", S_IFREG, NULL, -1, "a whiteout of \".\""},
        {"etc/.wh.", S_IFREG, NULL, -1, "a whiteout of \"\""},
        {"bin/x", S_IFREG, "../../etc/shadow", -1, "\"..\" component"},
        {"bin/y", S_IFREG, "/", -1, "a hardlink to the image's root"},
        {"/", S_IFREG, NULL, -1, "the image's root as something other"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct layer_entry e;
        char err[512] = "";
        int rc = layer_entry_classify(cases[i].path, cases[i].type, cases[i].link, &e, err, sizeof(err));
        if (cases[i].op < 0) {
            if (rc != -EINVAL || !strstr(err, cases[i].want))
                fail_msg("case %zu (%s): rc %d, \"%s\", wanted a refusal with \"%s\"", i, cases[i].path, rc,
                         err, cases[i].want);
            continue;
        }
        if (rc || (int)e.op != cases[i].op || (cases[i].want && strcmp(e.path, cases[i].want)))
            fail_msg("case %zu (%s): rc %d op %d path \"%s\" (%s)", i, cases[i].path, rc, e.op, e.path, err);
    }
    struct layer_entry e;
    char err[256];
    assert_int_equal(layer_entry_classify("bin/ln", S_IFREG, "bin//busybox", &e, err, sizeof(err)), 0);
    assert_string_equal(e.link, "bin/busybox");
    char longname[300];
    memset(longname, 'n', 256);
    longname[256] = '\0';
    assert_int_equal(layer_entry_classify(longname, S_IFREG, NULL, &e, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "a name of 256 bytes"));
    memset(longname, 'n', 255);
    longname[255] = '\0';
    assert_int_equal(layer_entry_classify(longname, S_IFREG, NULL, &e, err, sizeof(err)), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(digests),         cmocka_unit_test(media_types),
        cmocka_unit_test(index_and_pick),  cmocka_unit_test(manifest_and_config),
        cmocka_unit_test(refusals),        cmocka_unit_test(layer_entries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
