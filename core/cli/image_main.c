/* SPDX-License-Identifier: Apache-2.0 */
/*
 * plugvm-image: the `plugvm image` commands (import, ls, rm, inspect). A
 * program of its own, which `plugvm image` runs, so that libarchive,
 * libext2fs and libcrypto are loaded only here and never add to the start
 * of `plugvm run` and `plugvm restore`.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "image/cache.h"
#include "image/import.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: plugvm image [--cache DIR] COMMAND [ARGS]\n"
               "\n"
               "OCI and Docker images as root disks, kept in $XDG_CACHE_HOME/plugvm/images\n"
               "(~/.cache/plugvm/images; --cache DIR picks another folder).\n"
               "\n"
               "commands:\n"
               "  import [-q] PATH[:TAG|@sha256:HEX]\n"
               "                 import an OCI image layout folder, an oci-archive or a docker-archive\n"
               "                 (docker save) tar; prints the manifest digest that names it. A\n"
               "                 progress bar on a terminal; -q: none\n"
               "  ls [--no-trunc] list cached images: digest, tag, disk used, when imported\n"
               "  rm NAME...     remove cached images (NAME: a tag, a digest, or 12+ hex digits of one)\n"
               "  inspect NAME   print the image's config (its JSON, as the image holds it)\n");
}

struct bar {
    bool on;
    const char *phase;
    int last;
};

static void progress(void *priv, const char *phase, uint64_t done, uint64_t total)
{
    struct bar *b = priv;
    if (!b->on)
        return;
    int pct = total ? (int)(done * 100 / total) : 100;
    if (b->phase == phase && pct == b->last && done != total)
        return;
    if (b->phase && b->phase != phase)
        fputc('\n', stderr);
    b->phase = phase;
    b->last = pct;
    int fill = pct * 30 / 100;
    fprintf(stderr, "\r%-9s [%.*s%*s] %3d%%  %.1f of %.1f MiB", phase, fill, "==============================",
            30 - fill, "", pct, (double)done / (1 << 20), (double)total / (1 << 20));
    fflush(stderr);
}

static int cmd_import(const char *cache, int argc, char **argv)
{
    bool quiet = false;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "-q") || !strcmp(argv[i], "--quiet"))
            quiet = true;
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "plugvm image import: unknown option '%s'\n", argv[i]);
            return 2;
        }
    }
    if (i + 1 != argc) {
        fprintf(stderr, "usage: plugvm image import [-q] PATH[:TAG|@sha256:HEX]\n");
        return 2;
    }
    struct bar b = {.on = !quiet && isatty(2), .last = -1};
    struct image_import_opts o = {.cache = cache, .progress = progress, .priv = &b};
    struct image_import_result res;
    char err[4096];
    int rc = image_import(argv[i], &o, &res, err, sizeof(err));
    if (b.phase)
        fputc('\n', stderr);
    if (rc) {
        fprintf(stderr, "plugvm image import: %s\n", err);
        return 1;
    }
    printf("%s\n", res.digest);
    return 0;
}

struct ls_opts {
    bool full;
};

static int print_entry(void *priv, const struct image_cache_entry *e)
{
    const struct ls_opts *o = priv;
    char when[32] = "-";
    struct tm tm;
    if (e->imported && localtime_r(&e->imported, &tm))
        strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
    /* "sha256:" and 12 hex digits, as docker shortens IDs, unless --no-trunc. */
    printf("%-*.*s  %-24s %9.1f MiB  %s\n", o->full ? 71 : 19, o->full ? 200 : 19, e->digest,
           e->tags[0] ? e->tags : "<none>", (double)e->disk_bytes / (1 << 20), when);
    return 0;
}

static int cmd_ls(const char *root, int argc, char **argv)
{
    struct ls_opts o = {0};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--no-trunc"))
            o.full = true;
        else {
            fprintf(stderr, "usage: plugvm image ls [--no-trunc]\n");
            return 2;
        }
    }
    char err[1024];
    printf("%-*s  %-24s %13s  %s\n", o.full ? 71 : 19, "DIGEST", "TAG", "DISK", "IMPORTED");
    if (image_cache_list(root, print_entry, &o, err, sizeof(err))) {
        fprintf(stderr, "plugvm image ls: %s\n", err);
        return 1;
    }
    return 0;
}

static int cmd_rm(const char *root, int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: plugvm image rm NAME...\n");
        return 2;
    }
    int status = 0;
    for (int i = 1; i < argc; i++) {
        char err[1024], removed[IMAGE_DIGEST_TEXT_MAX];
        if (image_cache_remove(root, argv[i], removed, err, sizeof(err))) {
            fprintf(stderr, "plugvm image rm: %s\n", err);
            status = 1;
        } else {
            printf("removed %s\n", removed);
        }
    }
    return status;
}

static int cmd_inspect(const char *root, int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: plugvm image inspect NAME\n");
        return 2;
    }
    char err[1024], dirname[IMAGE_DIGEST_TEXT_MAX], path[IMAGE_CACHE_PATH_MAX * 2];
    if (image_cache_find(root, argv[1], dirname, err, sizeof(err))) {
        fprintf(stderr, "plugvm image inspect: %s\n", err);
        return 1;
    }
    snprintf(path, sizeof(path), "%s/%s/config.json", root, dirname);
    json_error_t je;
    json_t *cfg = json_load_file(path, 0, &je);
    if (!cfg) {
        fprintf(stderr, "plugvm image inspect: %s: %s\n", path, je.text);
        return 1;
    }
    json_dumpf(cfg, stdout, JSON_INDENT(2));
    putchar('\n');
    json_decref(cfg);
    return 0;
}

int main(int argc, char **argv)
{
    const char *cache = NULL;
    int i = 1;
    if (i < argc && !strcmp(argv[i], "image"))
        i++; /* run as `plugvm image ...` */
    if (i + 1 < argc && !strcmp(argv[i], "--cache")) {
        cache = argv[i + 1];
        i += 2;
    }
    if (i >= argc || !strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
        usage(i >= argc ? stderr : stdout);
        return i >= argc ? 2 : 0;
    }
    const char *cmd = argv[i];
    argc -= i;
    argv += i;
    if (!strcmp(cmd, "import"))
        return cmd_import(cache, argc, argv);
    char root[IMAGE_CACHE_PATH_MAX], err[1024];
    if (image_cache_root(cache, root, err, sizeof(err))) {
        fprintf(stderr, "plugvm image: %s\n", err);
        return 1;
    }
    if (!strcmp(cmd, "ls"))
        return cmd_ls(root, argc, argv);
    if (!strcmp(cmd, "rm"))
        return cmd_rm(root, argc, argv);
    if (!strcmp(cmd, "inspect"))
        return cmd_inspect(root, argc, argv);
    fprintf(stderr, "plugvm image: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 2;
}
