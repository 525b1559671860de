/* SPDX-License-Identifier: Apache-2.0 */
/* The cache hit from a record of the import (core/image/quick.h). */
#include "image/quick.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "image/cache.h"

int image_ref_split(const char *arg, char *path, size_t pathlen, char *ref, size_t reflen)
{
    struct stat st;
    size_t n = strlen(arg), cut = n;
    if (stat(arg, &st)) {
        const char *at = strrchr(arg, '@'), *colon = strrchr(arg, ':'), *slash = strrchr(arg, '/');
        if (at && (!strncmp(at + 1, "sha256:", 7) || !strncmp(at + 1, "sha512:", 7)))
            cut = (size_t)(at - arg);
        else if (colon && (!slash || colon > slash) && colon[1])
            cut = (size_t)(colon - arg);
    }
    if (cut >= pathlen)
        return -ENAMETOOLONG;
    memcpy(path, arg, cut);
    path[cut] = '\0';
    const char *r = arg + cut + (cut < n && arg[cut] == ':');
    if ((size_t)snprintf(ref, reflen, "%s", r) >= reflen)
        return -ENAMETOOLONG;
    return 0;
}

/* The absolute path and ref of arg, as the record's key "PATH\nREF". */
static int key_of(const char *arg, char *key, size_t keylen, char *decider, size_t declen)
{
    char path[PATH_MAX], ref[OCI_REF_NAME_MAX], abs[PATH_MAX];
    if (image_ref_split(arg, path, sizeof(path), ref, sizeof(ref)) || !realpath(path, abs))
        return -ENOENT;
    struct stat st;
    if (stat(abs, &st))
        return -ENOENT;
    int n = S_ISDIR(st.st_mode) ? snprintf(decider, declen, "%s/index.json", abs)
                                : snprintf(decider, declen, "%s", abs);
    if (n < 0 || (size_t)n >= declen)
        return -ENAMETOOLONG;
    n = snprintf(key, keylen, "%s\n%s", abs, ref);
    return n < 0 || (size_t)n >= keylen ? -ENAMETOOLONG : 0;
}

/* The record's file: sources/FNV-1a-64 of the key (the key itself is
 * inside and compared, so a collision is only a miss). */
static void record_path(const char *root, const char *key, char *out, size_t outlen)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 0x100000001b3ull;
    snprintf(out, outlen, "%s/sources/%016llx.json", root, (unsigned long long)h);
}

static void stamp_of(const char *decider, char *stamp)
{
    struct stat st;
    stamp[0] = '\0';
    if (!stat(decider, &st))
        snprintf(stamp, IMAGE_QUICK_STAMP_MAX, "%llu:%llu:%lld:%lld.%09ld:%lld.%09ld",
                 (unsigned long long)st.st_dev, (unsigned long long)st.st_ino, (long long)st.st_size,
                 (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec, (long long)st.st_ctim.tv_sec,
                 st.st_ctim.tv_nsec);
}

void image_quick_stamp(const char *arg, char *stamp)
{
    char key[2 * PATH_MAX], decider[PATH_MAX + 16];
    stamp[0] = '\0';
    if (!key_of(arg, key, sizeof(key), decider, sizeof(decider)))
        stamp_of(decider, stamp);
}

int image_quick_find(const char *root, const char *arg, struct image_quick *out)
{
    char key[2 * PATH_MAX], decider[PATH_MAX + 16], file[IMAGE_CACHE_PATH_MAX + 64], stamp[IMAGE_QUICK_STAMP_MAX];
    if (key_of(arg, key, sizeof(key), decider, sizeof(decider)))
        return -ENOENT;
    record_path(root, key, file, sizeof(file));
    json_t *r = json_load_file(file, 0, NULL);
    if (!r)
        return -ENOENT;
    stamp_of(decider, stamp);
    const char *k = json_string_value(json_object_get(r, "key")), *s = json_string_value(json_object_get(r, "stamp")),
               *d = json_string_value(json_object_get(r, "digest")), *t = json_string_value(json_object_get(r, "tag"));
    int rc = -ENOENT;
    if (k && s && d && t && stamp[0] && !strcmp(k, key) && !strcmp(s, stamp) && strlen(d) < sizeof(out->digest) &&
        strlen(t) < sizeof(out->tag) && !strncmp(d, "sha256:", 7)) {
        char dir[IMAGE_CACHE_PATH_MAX + IMAGE_DIGEST_TEXT_MAX + 16];
        struct stat st;
        snprintf(dir, sizeof(dir), "%s/sha256-%s/rootfs.ext4", root, d + 7);
        if (!strchr(d + 7, '/') && !stat(dir, &st)) {
            strcpy(out->digest, d);
            strcpy(out->tag, t);
            memcpy(out->dirname, "sha256-", 7);
            strcpy(out->dirname + 7, d + 7); /* d is shorter than digest[], as is this */
            rc = 0;
        }
    }
    json_decref(r);
    return rc;
}

void image_quick_record(const char *root, const char *arg, const char *stamp, const char *digest, const char *tag)
{
    char key[2 * PATH_MAX], decider[PATH_MAX + 16], file[IMAGE_CACHE_PATH_MAX + 64], tmp[IMAGE_CACHE_PATH_MAX + 96];
    if (!stamp[0] || key_of(arg, key, sizeof(key), decider, sizeof(decider)))
        return;
    snprintf(tmp, sizeof(tmp), "%s/sources", root);
    if (mkdir(tmp, 0755) && errno != EEXIST)
        return;
    record_path(root, key, file, sizeof(file));
    snprintf(tmp, sizeof(tmp), "%s.tmp-%d", file, (int)getpid());
    json_t *r = json_pack("{s:s, s:s, s:s, s:s}", "key", key, "stamp", stamp, "digest", digest, "tag", tag);
    /* Into place whole: a reader sees the old record or the new one. */
    if (r && !json_dump_file(r, tmp, 0) && rename(tmp, file))
        unlink(tmp);
    json_decref(r);
}
