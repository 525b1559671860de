/* SPDX-License-Identifier: Apache-2.0 */
/* An image into the cache as a root disk (core/image/import.h). */
#include "image/import.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "image/cache.h"
#include "util/fileio.h"
#include "image/quick.h"
#include "image/layer.h"
#include "image/resolve.h"
#include "image/rootfs.h"

void image_tag_name(const char *path, const char *ref, char *out, size_t outlen)
{
    out[0] = '\0';
    if (!ref[0])
        return;
    if (strpbrk(ref, ":/")) {
        snprintf(out, outlen, "%s", ref); /* already a name:tag (docker-archive's RepoTags, skopeo's) */
        return;
    }
    /* The file or folder's name without its extensions, then the tag. */
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/')
        n--;
    const char *base = path;
    for (size_t i = 0; i < n; i++)
        if (path[i] == '/' && i + 1 < n)
            base = path + i + 1;
    size_t bl = (size_t)(path + n - base);
    const char *dot = memchr(base, '.', bl);
    if (dot && dot > base)
        bl = (size_t)(dot - base);
    snprintf(out, outlen, "%.*s:%s", (int)bl, base, ref);
}

/* One layer's whiteouts and opaque folders, kept from the first pass. */
struct hide {
    enum layer_op op;
    char *path;
};

struct layer_hides {
    struct hide *v;
    size_t n, cap;
};

struct scan {
    struct layer_hides *cur;
    uint64_t blocks;  /* 4 KiB blocks of data, folders, long symlinks, xattr blocks */
    uint64_t entries; /* inodes at most */
    uint64_t names;   /* bytes of directory entries */
};

static int scan_visit(void *priv, const struct layer_entry *e, const struct rootfs_meta *m, rootfs_data_fn data,
                      struct layer_data *d, char *err, size_t errlen)
{
    (void)data;
    (void)d;
    struct scan *s = priv;
    if (e->op == LAYER_WHITEOUT || e->op == LAYER_OPAQUE) {
        struct layer_hides *h = s->cur;
        if (h->n == h->cap) {
            size_t cap = h->cap ? 2 * h->cap : 16;
            void *p = realloc(h->v, cap * sizeof(*h->v));
            if (!p)
                return -ENOMEM;
            h->v = p;
            h->cap = cap;
        }
        if (!(h->v[h->n].path = strdup(e->path)))
            return -ENOMEM;
        h->v[h->n++].op = e->op;
        return 0;
    }
    if (e->op != LAYER_ADD)
        return 0;
    if (++s->entries > UINT32_MAX / 2) {
        snprintf(err, errlen, "more entries than an ext4 file system holds");
        return -E2BIG;
    }
    s->names += strlen(e->path) + 12;
    if (e->link[0])
        return 0;
    if (S_ISREG(m->mode))
        /* data blocks, and an extent block for every 340 extents of at most 128 MiB */
        s->blocks += (m->size + 4095) / 4096 + m->size / (340ull << 27) + 1;
    else if (S_ISDIR(m->mode) || (S_ISLNK(m->mode) && m->symlink && strlen(m->symlink) >= 60))
        s->blocks++;
    if (m->nxattrs)
        s->blocks++;
    return 0;
}

static int apply_visit(void *priv, const struct layer_entry *e, const struct rootfs_meta *m, rootfs_data_fn data,
                       struct layer_data *d, char *err, size_t errlen)
{
    /* Whiteouts went first, before the layer's other entries. */
    if (e->op != LAYER_ADD)
        return 0;
    return rootfs_apply(priv, e, m, data, d, err, errlen);
}

struct progress {
    const struct image_import_opts *o;
    const char *phase;
    uint64_t done, total;
};

static void report(struct progress *p)
{
    if (p->o && p->o->progress)
        p->o->progress(p->o->priv, p->phase, p->done, p->total);
}

/* err = "IMAGE: " + err. */
static int named(const char *image, int rc, char *err, size_t errlen)
{
    char inner[2048];
    snprintf(inner, sizeof(inner), "%s", err);
    snprintf(err, errlen, "%s: %s", image, inner);
    return rc;
}

static int write_file(const char *dir, const char *name, const char *buf, size_t len)
{
    char path[IMAGE_CACHE_PATH_MAX * 2];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    int rc = write_all(fd, buf, len) || fsync(fd) ? -errno : 0;
    close(fd);
    return rc;
}

static int fsync_path(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = fsync(fd) ? -errno : 0;
    close(fd);
    return rc;
}

/* Both passes and the cache's folder, once the documents are resolved. */
static int build(struct image_source *src, const struct image_resolved *r, const char *tmp,
                 const char *source, const char *tag, const struct image_import_opts *o, char *err, size_t errlen)
{
    const struct oci_manifest *man = &r->manifest;
    struct layer_hides *hides = calloc(man->n ? man->n : 1, sizeof(*hides));
    if (!hides)
        return -ENOMEM;
    struct scan s = {0};
    struct progress p = {o, "checking", 0, 0};
    for (size_t i = 0; i < man->n; i++)
        p.total += man->layers[i].size;
    int rc = 0;
    /* Pass 1: every digest checked and the file system measured. */
    for (size_t i = 0; !rc && i < man->n; i++) {
        s.cur = &hides[i];
        report(&p);
        rc = layer_walk(src, &man->layers[i], &r->config.diff_ids[i], scan_visit, &s, &p.done, err, errlen);
    }
    report(&p);
    char disk[IMAGE_CACHE_PATH_MAX * 2];
    snprintf(disk, sizeof(disk), "%s/rootfs.ext4", tmp);
    struct rootfs *fs = NULL;
    if (!rc) {
        /* The image is sparse on the host: room to spare costs no disk. */
        uint64_t inodes = s.entries + 64;
        uint64_t bytes = (s.blocks + s.names / 4096 + 1) * 4096 + inodes * 256;
        bytes = (bytes + bytes / 10 + (64ull << 20) + 4095) & ~4095ull;
        rc = rootfs_create(disk, bytes, (uint32_t)inodes, &fs, err, errlen);
    }
    /* Pass 2: each layer's whiteouts, then its entries. */
    p.phase = "applying";
    p.done = 0;
    for (size_t i = 0; !rc && i < man->n; i++) {
        for (size_t k = 0; !rc && k < hides[i].n; k++) {
            struct layer_entry e = {.op = hides[i].v[k].op};
            snprintf(e.path, sizeof(e.path), "%s", hides[i].v[k].path);
            rc = rootfs_apply(fs, &e, NULL, NULL, NULL, err, errlen);
        }
        report(&p);
        if (!rc)
            rc = layer_walk(src, &man->layers[i], &r->config.diff_ids[i], apply_visit, fs, &p.done, err, errlen);
    }
    report(&p);
    if (fs) {
        char cerr[512];
        int crc = rootfs_close(fs, cerr, sizeof(cerr));
        if (!rc && crc) {
            snprintf(err, errlen, "%s", cerr);
            rc = crc;
        }
    }
    for (size_t i = 0; i < man->n; i++) {
        for (size_t k = 0; k < hides[i].n; k++)
            free(hides[i].v[k].path);
        free(hides[i].v);
    }
    free(hides);
    if (rc)
        return rc;
    json_t *info = json_pack("{s:s, s:s, s:s, s:I, s:I}", "digest", r->manifest_desc.digest.text, "source", source,
                             "tag", tag, "imported", (json_int_t)time(NULL), "layers", (json_int_t)man->n);
    char *text = info ? json_dumps(info, JSON_INDENT(2)) : NULL;
    json_decref(info);
    if (!text)
        return -ENOMEM;
    rc = fsync_path(disk);
    if (!rc)
        rc = write_file(tmp, "config.json", r->config_json, r->config_len);
    if (!rc)
        rc = write_file(tmp, "info.json", text, strlen(text));
    free(text);
    if (!rc)
        rc = fsync_path(tmp);
    if (rc)
        snprintf(err, errlen, "%s: cannot write the cache entry: %s", tmp, strerror(-rc));
    return rc;
}

int image_import(const char *arg, const struct image_import_opts *o, struct image_import_result *res, char *err,
                 size_t errlen)
{
    memset(res, 0, sizeof(*res));
    char path[4096], ref[OCI_REF_NAME_MAX], root[IMAGE_CACHE_PATH_MAX];
    if (image_ref_split(arg, path, sizeof(path), ref, sizeof(ref))) {
        snprintf(err, errlen, "%.200s...: the image's name is too long", arg);
        return -ENAMETOOLONG;
    }
    int rc = image_cache_root(o ? o->cache : NULL, root, err, errlen);
    if (rc)
        return rc;
    struct image_quick q;
    if (!image_quick_find(root, arg, &q)) {
        snprintf(res->digest, sizeof(res->digest), "%s", q.digest);
        snprintf(res->tag, sizeof(res->tag), "%s", q.tag);
        if (snprintf(res->dir, sizeof(res->dir), "%s/%s", root, q.dirname) >= (int)sizeof(res->dir))
            return -ENAMETOOLONG; /* image_cache_root keeps root far shorter */
        res->cached = true;
        return q.tag[0] ? image_cache_tag(root, q.tag, q.dirname, err, errlen) : 0;
    }
    char stamp[IMAGE_QUICK_STAMP_MAX];
    image_quick_stamp(arg, stamp);
    image_cache_sweep(root);
    struct image_source *src;
    if ((rc = image_source_open(path, &src, err, errlen)))
        return rc;
    struct image_resolved r;
    rc = image_resolve(src, ref[0] ? ref : NULL, &r, err, errlen);
    if (rc) {
        src->ops->close(src);
        return rc;
    }
    snprintf(res->digest, sizeof(res->digest), "%s", r.manifest_desc.digest.text);
    /* The picked entry's own name (a full name:tag where it has one), else
     * the tag asked for (an entry of a nested index carries none). */
    image_tag_name(path, r.manifest_desc.ref_name[0] ? r.manifest_desc.ref_name : ref[0] != '@' ? ref : "", res->tag,
                   sizeof(res->tag));
    char dirname[IMAGE_DIGEST_TEXT_MAX];
    image_cache_dirname(&r.manifest_desc.digest, dirname);
    snprintf(res->dir, sizeof(res->dir), "%s/%s", root, dirname);
    struct stat st;
    if (!stat(res->dir, &st)) {
        res->cached = true;
    } else {
        char tmp[IMAGE_CACHE_PATH_MAX + 64];
        image_cache_tmpname(root, tmp, sizeof(tmp));
        if (mkdir(tmp, 0755)) {
            rc = -errno;
            snprintf(err, errlen, "%s: cannot make a folder in the image cache: %s", tmp, strerror(errno));
        } else {
            rc = build(src, &r, tmp, path, res->tag, o, err, errlen);
            if (rc)
                rc = named(path, rc, err, errlen);
            /* Into place whole; a concurrent import that got there first
             * made the same bytes, and its folder stays. */
            if (!rc && rename(tmp, res->dir)) {
                if (errno == ENOTEMPTY || errno == EEXIST) {
                    res->cached = true;
                } else {
                    rc = -errno;
                    snprintf(err, errlen, "%s: cannot move into place: %s", res->dir, strerror(errno));
                }
            }
            if (rc || res->cached)
                image_cache_rmdir(tmp);
        }
    }
    if (!rc && res->tag[0])
        rc = image_cache_tag(root, res->tag, dirname, err, errlen);
    if (!rc)
        image_quick_record(root, arg, stamp, res->digest, res->tag);
    image_resolved_free(&r);
    src->ops->close(src);
    return rc;
}
