/* SPDX-License-Identifier: Apache-2.0 */
#include "image/entry.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define WH ".wh."
#define OPQ ".wh..wh..opq"
#define NAME_MAX_BYTES 255

int layer_path_clean(const char *in, char *out, char *err, size_t errlen)
{
    size_t o = 0;
    const char *p = in;
    while (*p) {
        while (*p == '/')
            p++;
        const char *c = p;
        while (*p && *p != '/')
            p++;
        size_t n = (size_t)(p - c);
        if (n == 0 || (n == 1 && c[0] == '.'))
            continue;
        if (n == 2 && c[0] == '.' && c[1] == '.') {
            snprintf(err, errlen, "\"%.200s\": a \"..\" component (refused: it could leave the image's root)", in);
            return -EINVAL;
        }
        if (n > NAME_MAX_BYTES) {
            snprintf(err, errlen, "\"%.200s...\": a name of %zu bytes (at most %d)", in, n, NAME_MAX_BYTES);
            return -EINVAL;
        }
        if (o + (o ? 1 : 0) + n >= LAYER_PATH_MAX) {
            snprintf(err, errlen, "\"%.200s...\": longer than %d bytes", in, LAYER_PATH_MAX - 1);
            return -EINVAL;
        }
        if (o)
            out[o++] = '/';
        memcpy(out + o, c, n);
        o += n;
    }
    out[o] = '\0';
    return 0;
}

int layer_entry_classify(const char *tar_path, mode_t type, const char *hardlink, struct layer_entry *out,
                         char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    out->op = LAYER_ADD;
    if (layer_path_clean(tar_path, out->path, err, errlen))
        return -EINVAL;
    char *slash = strrchr(out->path, '/');
    char *base = slash ? slash + 1 : out->path;
    if (!strcmp(base, OPQ)) {
        out->op = LAYER_OPAQUE;
        *(slash ? slash : out->path) = '\0';
        return 0;
    }
    if (!strncmp(base, ".wh..wh.", 8)) {
        out->op = LAYER_SKIP;
        out->why = "aufs metadata (.wh..wh.*)";
        return 0;
    }
    if (!strncmp(base, WH, 4)) {
        const char *name = base + 4;
        if (!*name || !strcmp(name, ".") || !strcmp(name, "..")) {
            snprintf(err, errlen, "\"%.200s\": a whiteout of \"%s\" (refused: it names no file)", tar_path, name);
            return -EINVAL;
        }
        out->op = LAYER_WHITEOUT;
        memmove(base, name, strlen(name) + 1);
        return 0;
    }
    if (!out->path[0] && type != S_IFDIR) {
        snprintf(err, errlen, "\"%.200s\": the image's root as something other than a directory", tar_path);
        return -EINVAL;
    }
    if (type == S_IFSOCK) {
        out->op = LAYER_SKIP;
        out->why = "a socket (image-spec layer.md: not carried in layers)";
        return 0;
    }
    if (hardlink) {
        if (layer_path_clean(hardlink, out->link, err, errlen))
            return -EINVAL;
        if (!out->link[0]) {
            snprintf(err, errlen, "\"%.200s\": a hardlink to the image's root", tar_path);
            return -EINVAL;
        }
    }
    return 0;
}
