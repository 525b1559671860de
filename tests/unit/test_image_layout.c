/* SPDX-License-Identifier: Apache-2.0 */
/* core/image: an OCI image layout folder written here, blob by blob, then
 * resolved (index, manifest, config, each verified), and each way it can
 * be broken refused with a message naming the folder, the blob and what
 * was expected. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/resolve.h"
#include "image/source.h"

struct img {
    char dir[64];
    char manifest[IMAGE_DIGEST_TEXT_MAX], config[IMAGE_DIGEST_TEXT_MAX], layer[IMAGE_DIGEST_TEXT_MAX];
    size_t manifest_len, config_len;
};

static void put(const char *dir, const char *name, const void *data, size_t len)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

/* Writes a blob; its digest text into d. */
static void blob(const char *dir, const void *data, size_t len, char *d)
{
    struct image_hasher h;
    struct image_digest g;
    assert_int_equal(image_hasher_init(&h, IMAGE_DIGEST_SHA256), 0);
    image_hasher_update(&h, data, len);
    image_hasher_final(&h, &g);
    strcpy(d, g.text);
    char name[16 + IMAGE_DIGEST_TEXT_MAX];
    snprintf(name, sizeof(name), "blobs/sha256/%s", g.text + 7);
    put(dir, name, data, len);
}

/* A one-layer linux/amd64 image tagged `tag`; with docker, Docker's media
 * types. */
static void make_image(struct img *m, const char *tag, bool docker)
{
    strcpy(m->dir, "/tmp/plugvm-layout-XXXXXX");
    assert_non_null(mkdtemp(m->dir));
    char p[256];
    snprintf(p, sizeof(p), "%s/blobs", m->dir);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof(p), "%s/blobs/sha256", m->dir);
    assert_int_equal(mkdir(p, 0755), 0);
    put(m->dir, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}", 30);
    blob(m->dir, "layer bytes", 11, m->layer);
    char config[1024];
    m->config_len = (size_t)snprintf(config, sizeof(config),
        "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"%s\"]}}",
        m->layer);
    blob(m->dir, config, m->config_len, m->config);
    char manifest[2048];
    m->manifest_len = (size_t)snprintf(manifest, sizeof(manifest),
        "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu},"
        "\"layers\":[{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":11}]}",
        docker ? "application/vnd.docker.distribution.manifest.v2+json" : "application/vnd.oci.image.manifest.v1+json",
        docker ? "application/vnd.docker.container.image.v1+json" : "application/vnd.oci.image.config.v1+json",
        m->config, m->config_len,
        docker ? "application/vnd.docker.image.rootfs.diff.tar.gzip" : "application/vnd.oci.image.layer.v1.tar",
        m->layer);
    blob(m->dir, manifest, m->manifest_len, m->manifest);
    char index[2048];
    int n = snprintf(index, sizeof(index),
        "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu,"
        "\"annotations\":{\"org.opencontainers.image.ref.name\":\"%s\"}}]}",
        docker ? "application/vnd.docker.distribution.manifest.v2+json" : "application/vnd.oci.image.manifest.v1+json",
        m->manifest, m->manifest_len, tag);
    put(m->dir, "index.json", index, (size_t)n);
}

static void remove_image(struct img *m)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", m->dir);
    assert_int_equal(system(cmd), 0);
}

/* Resolves m's folder with ref: 0 or the error, message in err. */
static int resolve(struct img *m, const char *ref, struct image_resolved *r, char *err, size_t errlen)
{
    struct image_source *src;
    int rc = image_source_layout_open(m->dir, &src, err, errlen);
    if (rc)
        return rc;
    rc = image_resolve(src, ref, r, err, errlen);
    src->ops->close(src);
    return rc;
}

static void resolves(void **state)
{
    (void)state;
    for (int docker = 0; docker < 2; docker++) {
        struct img m;
        make_image(&m, "v1", docker);
        struct image_resolved r;
        char err[1024] = "";
        const char *refs[] = {NULL, "v1", NULL};
        char at[IMAGE_DIGEST_TEXT_MAX + 1];
        snprintf(at, sizeof(at), "@%s", m.manifest);
        refs[2] = at;
        for (int i = 0; i < 3; i++) {
            if (resolve(&m, refs[i], &r, err, sizeof(err)))
                fail_msg("ref %s: %s", refs[i] ? refs[i] : "(none)", err);
            assert_string_equal(r.manifest_desc.digest.text, m.manifest);
            assert_int_equal(r.manifest.n, 1);
            assert_string_equal(r.manifest.layers[0].digest.text, m.layer);
            assert_string_equal(r.config.diff_ids[0].text, m.layer);
            assert_int_equal(r.config_len, m.config_len);
            image_resolved_free(&r);
        }
        assert_int_equal(resolve(&m, "v2", &r, err, sizeof(err)), -ENOENT);
        assert_non_null(strstr(err, "tagged \"v2\""));
        assert_non_null(strstr(err, "v1 (any/any)"));
        remove_image(&m);
    }
}

static void expect(struct img *m, const char *ref, const char *want1, const char *want2)
{
    struct image_resolved r;
    char err[1024] = "";
    int rc = resolve(m, ref, &r, err, sizeof(err));
    if (rc == 0)
        fail_msg("resolved, wanted a refusal with \"%s\"", want1);
    if (!strstr(err, want1) || (want2 && !strstr(err, want2)) || !strstr(err, m->dir))
        fail_msg("message \"%s\" lacks \"%s\"/\"%s\" or the folder", err, want1, want2 ? want2 : "");
}

static void blob_path(struct img *m, const char *digest, char *path, size_t n)
{
    snprintf(path, n, "%s/blobs/sha256/%s", m->dir, digest + 7);
}

static void refusals(void **state)
{
    (void)state;
    struct img m;
    char path[512];

    /* A manifest blob whose bytes changed (same size). */
    make_image(&m, "v1", false);
    blob_path(&m, m.manifest, path, sizeof(path));
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "X", 1, 5), 1);
    close(fd);
    expect(&m, NULL, m.manifest, "its content has digest");
    remove_image(&m);

    /* A truncated config blob. */
    make_image(&m, "v1", false);
    blob_path(&m, m.config, path, sizeof(path));
    assert_int_equal(truncate(path, 10), 0);
    expect(&m, NULL, m.config, "10 bytes, its descriptor says");
    remove_image(&m);

    /* A missing config blob. */
    make_image(&m, "v1", false);
    blob_path(&m, m.config, path, sizeof(path));
    assert_int_equal(unlink(path), 0);
    expect(&m, NULL, m.config, "missing");
    remove_image(&m);

    /* A blob that is a symlink (to the right bytes, even). */
    make_image(&m, "v1", false);
    blob_path(&m, m.config, path, sizeof(path));
    char moved[128];
    snprintf(moved, sizeof(moved), "%s/elsewhere", m.dir);
    assert_int_equal(rename(path, moved), 0);
    assert_int_equal(symlink(moved, path), 0);
    expect(&m, NULL, "symbolic link", NULL);
    remove_image(&m);

    /* No oci-layout; a wrong version; index.json not JSON. */
    make_image(&m, "v1", false);
    snprintf(path, sizeof(path), "%s/oci-layout", m.dir);
    assert_int_equal(unlink(path), 0);
    expect(&m, NULL, "oci-layout", "not an OCI image layout");
    put(m.dir, "oci-layout", "{\"imageLayoutVersion\":\"2.0.0\"}", 30);
    expect(&m, NULL, "oci-layout", "1.0.0");
    put(m.dir, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}", 30);
    put(m.dir, "index.json", "{\"schemaVersion\":2,", 19);
    expect(&m, NULL, "index.json", "is not valid JSON");
    remove_image(&m);

    /* A digest ref that is not one; one the index lacks. */
    make_image(&m, "v1", false);
    expect(&m, "@sha256:1234", "expected @sha256", NULL);
    expect(&m, "@sha256:0000000000000000000000000000000000000000000000000000000000000000",
           "no manifest sha256:0000", NULL);
    remove_image(&m);

    /* Not a folder at all. */
    struct image_source *src;
    char err[512];
    assert_int_equal(image_source_layout_open("/nonexistent/plugvm-image", &src, err, sizeof(err)), -ENOENT);
    assert_non_null(strstr(err, "/nonexistent/plugvm-image"));
}

/* The same layout as an oci-archive: tar, tar.gz; then damaged. */
static void archives(void **state)
{
    (void)state;
    struct img m;
    make_image(&m, "v1", false);
    char tar[128], cmd[512], err[1024] = "";
    snprintf(tar, sizeof(tar), "%s.tar", m.dir);
    for (int gz = 0; gz < 2; gz++) {
        snprintf(cmd, sizeof(cmd), "tar -C %s -c%sf %s .", m.dir, gz ? "z" : "", tar);
        assert_int_equal(system(cmd), 0);
        struct image_source *src;
        if (image_source_open(tar, &src, err, sizeof(err)))
            fail_msg("%s", err);
        struct image_resolved r;
        if (image_resolve(src, "v1", &r, err, sizeof(err)))
            fail_msg("%s", err);
        assert_string_equal(r.manifest_desc.digest.text, m.manifest);
        assert_string_equal(r.config.diff_ids[0].text, m.layer);
        /* The layer, read through the archive and checked at its end. */
        struct image_blob b;
        assert_int_equal(src->ops->open_blob(src, &r.manifest.layers[0].digest, 11, &b, err, sizeof(err)), 0);
        char buf[32];
        assert_int_equal(image_blob_read(&b, buf, sizeof(buf), err, sizeof(err)), 11);
        assert_int_equal(image_blob_read(&b, buf, sizeof(buf), err, sizeof(err)), 0);
        assert_memory_equal(buf, "layer bytes", 11);
        image_blob_close(&b);
        image_resolved_free(&r);
        src->ops->close(src);
    }
    /* Truncated: cut in the middle of the archive (the blobs come first,
     * then oci-layout and index.json, in tar's order here: any cut fails). */
    snprintf(cmd, sizeof(cmd), "tar -C %s -cf %s . && truncate -s 1536 %s", m.dir, tar, tar);
    assert_int_equal(system(cmd), 0);
    struct image_source *src = NULL;
    struct image_resolved r;
    int rc = image_source_open(tar, &src, err, sizeof(err));
    if (!rc) {
        rc = image_resolve(src, NULL, &r, err, sizeof(err));
        src->ops->close(src);
    }
    assert_int_not_equal(rc, 0);
    assert_non_null(strstr(err, tar));
    /* Not a tar at all. */
    FILE *f = fopen(tar, "w");
    fputs("hello, not a tar\n", f);
    fclose(f);
    assert_int_not_equal(image_source_open(tar, &src, err, sizeof(err)), 0);
    assert_non_null(strstr(err, "not a tar archive"));
    unlink(tar);
    remove_image(&m);
}

/* The older docker-archive: manifest.json, CONFIG.json, LAYER/layer.tar. */
static void docker_archive(void **state)
{
    (void)state;
    char dir[] = "/tmp/plugvm-docker-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char layer[IMAGE_DIGEST_TEXT_MAX], config[IMAGE_DIGEST_TEXT_MAX], p[256];
    struct image_hasher h;
    struct image_digest d;
    const char lbytes[] = "not really a tar, but bytes with a digest";
    assert_int_equal(image_hasher_init(&h, IMAGE_DIGEST_SHA256), 0);
    image_hasher_update(&h, lbytes, sizeof(lbytes) - 1);
    image_hasher_final(&h, &d);
    strcpy(layer, d.text);
    snprintf(p, sizeof(p), "%s/aaaa", dir);
    assert_int_equal(mkdir(p, 0755), 0);
    put(dir, "aaaa/layer.tar", lbytes, sizeof(lbytes) - 1);
    char cfg[512];
    int n = snprintf(cfg, sizeof(cfg),
                     "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\","
                     "\"diff_ids\":[\"%s\"]}}", layer);
    assert_int_equal(image_hasher_init(&h, IMAGE_DIGEST_SHA256), 0);
    image_hasher_update(&h, cfg, (size_t)n);
    image_hasher_final(&h, &d);
    strcpy(config, d.text);
    char cname[IMAGE_DIGEST_TEXT_MAX + 8];
    snprintf(cname, sizeof(cname), "%s.json", config + 7);
    put(dir, cname, cfg, (size_t)n);
    char man[512];
    n = snprintf(man, sizeof(man), "[{\"Config\":\"%s\",\"RepoTags\":[\"example/app:1.0\"],"
                 "\"Layers\":[\"aaaa/layer.tar\"]}]", cname);
    put(dir, "manifest.json", man, (size_t)n);
    const char repos[] = "{\"example/app\":{\"1.0\":\"aaaa\"}}";
    put(dir, "repositories", repos, sizeof(repos) - 1);
    char tar[64], cmd[256], err[1024] = "";
    snprintf(tar, sizeof(tar), "%s.tar", dir);
    snprintf(cmd, sizeof(cmd), "tar -C %s -cf %s .", dir, tar);
    assert_int_equal(system(cmd), 0);

    struct image_source *src;
    if (image_source_open(tar, &src, err, sizeof(err)))
        fail_msg("%s", err);
    struct image_resolved r;
    if (image_resolve(src, "1.0", &r, err, sizeof(err)))
        fail_msg("%s", err);
    assert_string_equal(r.manifest.config.digest.text, config);
    assert_string_equal(r.manifest.layers[0].digest.text, layer);
    assert_int_equal(r.manifest.layers[0].size, sizeof(lbytes) - 1);
    struct image_blob b;
    char buf[64];
    assert_int_equal(src->ops->open_blob(src, &r.manifest.layers[0].digest, r.manifest.layers[0].size, &b, err,
                                         sizeof(err)), 0);
    assert_int_equal(image_blob_read(&b, buf, sizeof(buf), err, sizeof(err)), (ssize_t)sizeof(lbytes) - 1);
    assert_int_equal(image_blob_read(&b, buf, sizeof(buf), err, sizeof(err)), 0);
    image_blob_close(&b);
    image_resolved_free(&r);
    assert_int_equal(image_resolve(src, "2.0", &r, err, sizeof(err)), -ENOENT);
    src->ops->close(src);

    /* A layer whose bytes are not its diff_id's: found when read. */
    put(dir, "aaaa/layer.tar", "NOT really a tar, but bytes with a digest", sizeof(lbytes) - 1);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(image_source_open(tar, &src, err, sizeof(err)), 0);
    assert_int_equal(image_resolve(src, NULL, &r, err, sizeof(err)), 0);
    assert_int_equal(src->ops->open_blob(src, &r.manifest.layers[0].digest, r.manifest.layers[0].size, &b, err,
                                         sizeof(err)), 0);
    ssize_t got;
    while ((got = image_blob_read(&b, buf, sizeof(buf), err, sizeof(err))) > 0)
        ;
    assert_int_equal(got, -EIO);
    assert_non_null(strstr(err, "its content has digest"));
    image_blob_close(&b);
    image_resolved_free(&r);
    src->ops->close(src);

    /* No manifest.json and no oci-layout. */
    snprintf(p, sizeof(p), "%s/manifest.json", dir);
    unlink(p);
    assert_int_equal(system(cmd), 0);
    assert_int_not_equal(image_source_open(tar, &src, err, sizeof(err)), 0);
    assert_non_null(strstr(err, "neither an OCI image layout"));
    unlink(tar);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(resolves),
        cmocka_unit_test(refusals),
        cmocka_unit_test(archives),
        cmocka_unit_test(docker_archive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
