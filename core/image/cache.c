/* SPDX-License-Identifier: Apache-2.0 */
/* The image cache's folders and tags (core/image/cache.h). */
#include "image/cache.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

/* src into dst[n], whole or not at all: false when it does not fit. */
static bool cpy(char *dst, size_t n, const char *src)
{
    size_t l = strlen(src);
    if (l >= n)
        return false;
    memcpy(dst, src, l + 1);
    return true;
}

static int mkdir_one(const char *p)
{
    return mkdir(p, 0755) && errno != EEXIST ? -errno : 0;
}

int image_cache_root(const char *override, char out[IMAGE_CACHE_PATH_MAX], char *err, size_t errlen)
{
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    int n;
    if (override)
        n = snprintf(out, IMAGE_CACHE_PATH_MAX, "%s", override);
    else if (xdg && xdg[0] == '/') /* the XDG spec: a relative value is to be ignored */
        n = snprintf(out, IMAGE_CACHE_PATH_MAX, "%s/plugvm/images", xdg);
    else if (home && home[0])
        n = snprintf(out, IMAGE_CACHE_PATH_MAX, "%s/.cache/plugvm/images", home);
    else {
        snprintf(err, errlen, "no image cache: neither XDG_CACHE_HOME nor HOME is set");
        return -ENOENT;
    }
    if (n < 0 || n >= IMAGE_CACHE_PATH_MAX - 64) {
        snprintf(err, errlen, "the image cache's path is too long");
        return -ENAMETOOLONG;
    }
    /* Each level, as mkdir -p: the cache's parents may not exist yet. */
    for (char *s = out + 1; (s = strchr(s, '/')); s++) {
        *s = '\0';
        int rc = mkdir_one(out);
        *s = '/';
        if (rc) {
            snprintf(err, errlen, "%s: cannot make the image cache: %s", out, strerror(-rc));
            return rc;
        }
    }
    char tags[IMAGE_CACHE_PATH_MAX + 8];
    snprintf(tags, sizeof(tags), "%s/tags", out);
    int rc = mkdir_one(out);
    if (!rc)
        rc = mkdir_one(tags);
    if (rc)
        snprintf(err, errlen, "%s: cannot make the image cache: %s", out, strerror(-rc));
    return rc;
}

void image_cache_dirname(const struct image_digest *d, char out[IMAGE_DIGEST_TEXT_MAX])
{
    snprintf(out, IMAGE_DIGEST_TEXT_MAX, "%s", d->text);
    char *colon = strchr(out, ':');
    if (colon)
        *colon = '-';
}

/* A tag as one file name: bytes other than [A-Za-z0-9_.:-] (and a
 * leading '.') as %XX, so "reg.io/a/b:1" cannot name a path. */
static void tag_file(const char *tag, char *out, size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; tag[i] && o + 4 < outlen; i++) {
        unsigned char c = (unsigned char)tag[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                  c == '-' || c == ':' || (c == '.' && i > 0);
        if (ok)
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, outlen - o, "%%%02X", c);
    }
    out[o] = '\0';
}

static void tag_unfile(const char *file, char *out, size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; file[i] && o + 1 < outlen; i++) {
        unsigned v;
        if (file[i] == '%' && sscanf(file + i + 1, "%2x", &v) == 1) {
            out[o++] = (char)v;
            i += 2;
        } else {
            out[o++] = file[i];
        }
    }
    out[o] = '\0';
}

static bool is_image_dir(const char *name)
{
    /* "sha256-" and 64 lowercase hex digits (sha512 images are keyed the
     * same way, 128). Checked here, not with digest.c, so that plugvm's
     * quick path links no libcrypto. */
    size_t hex = !strncmp(name, "sha256-", 7) ? 64 : !strncmp(name, "sha512-", 7) ? 128 : 0;
    return hex && strlen(name) == 7 + hex && strspn(name + 7, "0123456789abcdef") == hex;
}

int image_cache_find(const char *root, const char *name, char dirname[IMAGE_DIGEST_TEXT_MAX], char *err,
                     size_t errlen)
{
    char path[IMAGE_CACHE_PATH_MAX * 2];
    struct stat st;
    /* A tag first: the link's target names the folder. */
    char file[1024];
    tag_file(name, file, sizeof(file));
    snprintf(path, sizeof(path), "%s/tags/%s", root, file);
    char target[256];
    ssize_t n = readlink(path, target, sizeof(target) - 1);
    if (n > 3 && !strncmp(target, "../", 3)) {
        target[n] = '\0';
        snprintf(path, sizeof(path), "%s/%s", root, target + 3);
        if (is_image_dir(target + 3) && !stat(path, &st) && cpy(dirname, IMAGE_DIGEST_TEXT_MAX, target + 3))
            return 0;
    }
    /* A digest or a prefix of one. */
    const char *hex = !strncmp(name, "sha256:", 7) ? name + 7 : name;
    size_t hl = strlen(hex);
    bool all_hex = hl >= 12 && hl <= 64 && strspn(hex, "0123456789abcdef") == hl;
    int found = 0;
    if (all_hex) {
        DIR *dir = opendir(root);
        struct dirent *de;
        while (dir && (de = readdir(dir))) {
            if (!strncmp(de->d_name, "sha256-", 7) && !strncmp(de->d_name + 7, hex, hl) && is_image_dir(de->d_name)) {
                if (found++ == 0)
                    cpy(dirname, IMAGE_DIGEST_TEXT_MAX, de->d_name);
            }
        }
        if (dir)
            closedir(dir);
    }
    if (found == 1)
        return 0;
    if (found > 1) {
        snprintf(err, errlen, "\"%s\" is the start of %d cached images' digests: give more of it", name, found);
        return -EINVAL;
    }
    snprintf(err, errlen, "no cached image \"%s\" in %s: expected a tag, a digest sha256:HEX, or 12 or more of its hex digits (plugvm image ls)",
             name, root);
    return -ENOENT;
}

int image_cache_tmpname(const char *dir, char *out, size_t outlen)
{
    static unsigned seq;
    int n = snprintf(out, outlen, "%s/.tmp-%d-%u", dir, (int)getpid(), __atomic_fetch_add(&seq, 1, __ATOMIC_RELAXED));
    return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

int image_cache_tag(const char *root, const char *tag, const char *dirname, char *err, size_t errlen)
{
    char file[1024], path[IMAGE_CACHE_PATH_MAX * 2], tmp[IMAGE_CACHE_PATH_MAX * 2], target[IMAGE_DIGEST_TEXT_MAX + 4];
    tag_file(tag, file, sizeof(file));
    snprintf(path, sizeof(path), "%s/tags", root);
    image_cache_tmpname(path, tmp, sizeof(tmp));
    snprintf(path, sizeof(path), "%s/tags/%s", root, file);
    snprintf(target, sizeof(target), "../%s", dirname);
    unlink(tmp);
    if (symlink(target, tmp) || rename(tmp, path)) {
        int rc = -errno;
        unlink(tmp);
        snprintf(err, errlen, "%s: cannot tag the image: %s", path, strerror(-rc));
        return rc;
    }
    return 0;
}

int image_cache_rmdir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -errno;
    struct dirent *de;
    char path[IMAGE_CACHE_PATH_MAX * 2];
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        /* An image's folder holds its run snapshots (snapshots/KEY/). */
        if (unlink(path) && errno == EISDIR)
            image_cache_rmdir(path);
    }
    closedir(d);
    return rmdir(dir) ? -errno : 0;
}

/* Calls fn(priv, tag) for each tag naming `dirname`. */
static void tags_of(const char *root, const char *dirname, void (*fn)(void *priv, const char *file), void *priv)
{
    char path[IMAGE_CACHE_PATH_MAX * 2], target[256];
    snprintf(path, sizeof(path), "%s/tags", root);
    DIR *d = opendir(path);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/tags/%s", root, de->d_name);
        ssize_t n = readlink(path, target, sizeof(target) - 1);
        if (n > 3) {
            target[n] = '\0';
            if (!strcmp(target + 3, dirname))
                fn(priv, de->d_name);
        }
    }
    closedir(d);
}

struct unlink_ctx {
    const char *root;
};

static void unlink_tag(void *priv, const char *file)
{
    struct unlink_ctx *u = priv;
    char path[IMAGE_CACHE_PATH_MAX * 2];
    snprintf(path, sizeof(path), "%s/tags/%s", u->root, file);
    unlink(path);
}

int image_cache_remove(const char *root, const char *name, char removed[IMAGE_DIGEST_TEXT_MAX], char *err,
                       size_t errlen)
{
    char dirname[IMAGE_DIGEST_TEXT_MAX];
    int rc = image_cache_find(root, name, dirname, err, errlen);
    if (rc)
        return rc;
    struct unlink_ctx u = {root};
    tags_of(root, dirname, unlink_tag, &u);
    /* Out of sight in one rename, then emptied: no one finds half an image. */
    char path[IMAGE_CACHE_PATH_MAX * 2], gone[IMAGE_CACHE_PATH_MAX * 2];
    snprintf(path, sizeof(path), "%s/%s", root, dirname);
    image_cache_tmpname(root, gone, sizeof(gone));
    if (rename(path, gone)) {
        rc = -errno;
        snprintf(err, errlen, "%s: cannot remove: %s", path, strerror(errno));
        return rc;
    }
    image_cache_rmdir(gone);
    snprintf(removed, IMAGE_DIGEST_TEXT_MAX, "%s", dirname);
    char *dash = strchr(removed, '-');
    if (dash)
        *dash = ':';
    return 0;
}

struct tag_list {
    char *buf;
    size_t len;
};

static void add_tag(void *priv, const char *file)
{
    struct tag_list *t = priv;
    char tag[1024];
    tag_unfile(file, tag, sizeof(tag));
    size_t have = strlen(t->buf);
    snprintf(t->buf + have, t->len - have, "%s%s", have ? "," : "", tag);
}

int image_cache_list(const char *root, int (*fn)(void *priv, const struct image_cache_entry *e), void *priv,
                     char *err, size_t errlen)
{
    DIR *d = opendir(root);
    if (!d) {
        int rc = -errno;
        snprintf(err, errlen, "%s: %s", root, strerror(errno));
        return rc;
    }
    struct dirent *de;
    int rc = 0;
    while (!rc && (de = readdir(d))) {
        if (!is_image_dir(de->d_name))
            continue;
        struct image_cache_entry e = {0};
        cpy(e.dirname, sizeof(e.dirname), de->d_name); /* is_image_dir: it fits */
        cpy(e.digest, sizeof(e.digest), de->d_name);
        *strchr(e.digest, '-') = ':';
        char path[IMAGE_CACHE_PATH_MAX * 2];
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s/rootfs.ext4", root, de->d_name);
        if (!stat(path, &st)) {
            e.disk_bytes = (uint64_t)st.st_blocks * 512;
            e.fs_bytes = (uint64_t)st.st_size;
        }
        snprintf(path, sizeof(path), "%s/%s/info.json", root, de->d_name);
        json_t *info = json_load_file(path, 0, NULL);
        e.imported = (time_t)json_integer_value(json_object_get(info, "imported"));
        json_decref(info);
        struct tag_list t = {e.tags, sizeof(e.tags)};
        tags_of(root, de->d_name, add_tag, &t);
        rc = fn(priv, &e);
    }
    closedir(d);
    return rc;
}

void image_cache_sweep(const char *root)
{
    DIR *d = opendir(root);
    if (!d)
        return;
    struct dirent *de;
    char path[IMAGE_CACHE_PATH_MAX * 2];
    while ((de = readdir(d))) {
        int pid;
        if (sscanf(de->d_name, ".tmp-%d-", &pid) != 1 || pid <= 0)
            continue;
        if (kill(pid, 0) == 0 || errno != ESRCH)
            continue; /* its import may still be running */
        snprintf(path, sizeof(path), "%s/%s", root, de->d_name);
        image_cache_rmdir(path);
    }
    closedir(d);
}
